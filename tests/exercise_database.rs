//! The book's exercise for "Concurrency in database access (Q9)": an optimistic update with a
//! version column and a bounded retry, on SQLite through the crate's `Pool`, graded by
//! `Suite::check_versioned_store` (lost updates, versions, and retries that re-read and stop).
//! The chapter `book/src/database.md` shows the starter for the regions marked below.
//!
//! Check your own version with `cargo test --test exercise_database`.
#![cfg(not(loom))] // real threads and a real database: not a loom model

mod common;

// ANCHOR: imports
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use threadsmith::check::conformance::{Conflict, Suite, Versioned, VersionedStore};
use threadsmith::pool::{Manager, Pool};
use threadsmith::sync::Backoff;
// ANCHOR_END: imports

// ANCHOR: manager
/// Opens connections to one SQLite file, set up for several writers.
struct Sqlite {
    path: PathBuf,
}

impl Manager for Sqlite {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        // A writer that finds the database locked waits (up to 5 s) instead of failing at once.
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers do not block the writer or each other; NORMAL: no fsync per commit.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> bool {
        conn.execute_batch("SELECT 1").is_ok()
    }
}
// ANCHOR_END: manager

// ANCHOR: accounts
/// A table of accounts with a version column, behind a pool of 4 connections.
struct Accounts {
    pool: Pool<Sqlite>,
}

impl Accounts {
    /// (Re)creates the table with accounts 0 to 3, each with balance 0 at version 0.
    fn create(path: &Path) -> Accounts {
        let pool = Pool::builder().max_size(4).build(Sqlite {
            path: path.to_owned(),
        });
        pool.get()
            .expect("open the database")
            .execute_batch(
                "DROP TABLE IF EXISTS accounts;
                 CREATE TABLE accounts (
                     id      INTEGER PRIMARY KEY,
                     balance INTEGER NOT NULL,
                     version INTEGER NOT NULL
                 );
                 INSERT INTO accounts (id, balance, version)
                     VALUES (0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0);",
            )
            .expect("create the accounts");
        Accounts { pool }
    }
}
// ANCHOR_END: accounts

// ANCHOR: store
impl VersionedStore for Accounts {
    fn read(&self, key: u64) -> Versioned {
        let conn = self.pool.get().expect("a connection");
        conn.query_row(
            "SELECT balance, version FROM accounts WHERE id = ?1",
            [key as i64], // SQLite integers are i64; our keys and versions are small
            |row| {
                Ok(Versioned {
                    value: row.get(0)?,
                    version: row.get::<_, i64>(1)? as u64,
                })
            },
        )
        .expect("read an account")
    }

    fn compare_and_set(&self, key: u64, expected_version: u64, new_value: i64) -> bool {
        let conn = self.pool.get().expect("a connection");
        // One statement: the version check and the write are atomic inside SQLite.
        let changed = conn
            .execute(
                "UPDATE accounts SET balance = ?1, version = version + 1
                  WHERE id = ?2 AND version = ?3",
                (new_value, key as i64, expected_version as i64),
            )
            .expect("update an account");
        changed == 1
    }
}
// ANCHOR_END: store

// ANCHOR: add_with_retry
/// Adds `delta` to account `key`: read, write if the version has not moved, otherwise back off,
/// read again and retry; at most `max_attempts` attempts.
fn add_with_retry(
    store: &dyn VersionedStore,
    key: u64,
    delta: i64,
    max_attempts: u32,
) -> Result<Versioned, Conflict> {
    let backoff = Backoff::new();
    for attempt in 1..=max_attempts.max(1) {
        let seen = store.read(key); // a fresh read on every attempt
        let value = seen.value + delta;
        if store.compare_and_set(key, seen.version, value) {
            return Ok(Versioned {
                value,
                version: seen.version + 1,
            });
        }
        if attempt < max_attempts {
            backoff.snooze(); // let the writer that won finish before we try again
        }
    }
    Err(Conflict {
        attempts: max_attempts.max(1),
    })
}
// ANCHOR_END: add_with_retry

// ANCHOR: harness
#[test]
fn optimistic_add_on_sqlite_conforms() {
    let db = common::TempDb::new("exercise-database");
    // One thread: versions and bounded retries; then 4 threads x 100 add(+1) on one row.
    let report = Suite::new()
        .stress(4, 100)
        .check_versioned_store(|| Accounts::create(db.path()), add_with_retry)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: harness
