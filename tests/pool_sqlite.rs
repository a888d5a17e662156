//! The pool in front of a real database: SQLite (bundled) on a file, with concurrent writers
//! and readers, validation by a query, and a connection left mid-transaction treated as broken.
#![cfg(not(loom))] // real threads: not a loom model

mod common;

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use threadsmith::pool::{Manager, Pool};

// ANCHOR: manager
/// Opens SQLite connections to one database file.
struct Sqlite {
    path: PathBuf,
}

impl Manager for Sqlite {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        // Writers queue inside SQLite for up to 5 s instead of failing with SQLITE_BUSY.
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers never block the writer, and the writer never blocks readers.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> bool {
        conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
            .is_ok()
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        // Returned inside a transaction: whoever held it gave up half-way. Don't reuse it.
        !conn.is_autocommit()
    }
}
// ANCHOR_END: manager

use common::TempDb;

fn pool(db: &TempDb, max_size: usize) -> Pool<Sqlite> {
    let pool = Pool::builder().max_size(max_size).build(Sqlite {
        path: db.path().to_owned(),
    });
    pool.get()
        .expect("open the database")
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
                 id INTEGER PRIMARY KEY,
                 writer INTEGER NOT NULL,
                 seq INTEGER NOT NULL
             )",
        )
        .expect("create the table");
    pool
}

#[test]
fn concurrent_writers_and_readers_share_a_small_pool() {
    const WRITERS: i64 = 4;
    const ROWS: i64 = 150;
    let db = TempDb::new("rw");
    let pool = pool(&db, 3);
    thread::scope(|s| {
        for writer in 0..WRITERS {
            let pool = &pool;
            s.spawn(move || {
                for seq in 0..ROWS {
                    let mut conn = pool.get().expect("a connection");
                    let tx = conn.transaction().expect("begin");
                    tx.execute(
                        "INSERT INTO messages (writer, seq) VALUES (?1, ?2)",
                        (writer, seq),
                    )
                    .expect("insert");
                    tx.commit().expect("commit");
                }
            });
        }
        for _ in 0..2 {
            let pool = &pool;
            s.spawn(move || {
                let mut last = 0;
                for _ in 0..100 {
                    let conn = pool.get().expect("a connection");
                    let count: i64 = conn
                        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
                        .expect("count");
                    assert!(count >= last, "a reader saw committed rows disappear");
                    last = count;
                }
            });
        }
    });
    let conn = pool.get().unwrap();
    let total: i64 = conn
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, WRITERS * ROWS, "every committed insert is there");
    // Each writer's rows went in in order.
    let out_of_order: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM messages a JOIN messages b
               ON a.writer = b.writer AND a.id < b.id AND a.seq > b.seq",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(out_of_order, 0);
    drop(conn);
    assert!(pool.state().connections <= 3);
    assert_eq!(pool.stats().timeouts, 0);
}

#[test]
fn a_connection_returned_mid_transaction_is_closed_not_reused() {
    let db = TempDb::new("tx");
    let pool = pool(&db, 2);
    let before = pool.stats().created;
    {
        let conn = pool.get().unwrap();
        conn.execute_batch("BEGIN; INSERT INTO messages (writer, seq) VALUES (9, 9);")
            .unwrap();
        // Dropped without COMMIT or ROLLBACK.
    }
    let stats = pool.stats();
    assert_eq!(stats.broken, 1, "has_broken saw the open transaction");
    assert_eq!(pool.state().connections, 0);
    let conn = pool.get().unwrap();
    assert_eq!(pool.stats().created, before + 1, "a fresh connection");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        rows, 0,
        "closing the connection rolled the transaction back"
    );
}

#[test]
fn a_database_that_cannot_be_opened_gives_the_error_back() {
    let pool = Pool::builder()
        .connection_timeout(Duration::from_secs(60))
        .build(Sqlite {
            path: PathBuf::from("/nonexistent-threadsmith-dir/db.sqlite"),
        });
    match pool.get() {
        Err(threadsmith::pool::PoolError::Timeout {
            last_error: Some(e),
        }) => assert!(e.to_string().contains("unable to open"), "{e}"),
        other => panic!("expected the open error, got {:?}", other.map(|_| ())),
    }
}
