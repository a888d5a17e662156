//! Lost updates, and three ways to avoid them, measured on SQLite through the crate's `Pool`.
//!
//! ```text
//! cargo run --release --example db_concurrency            # the full table
//! cargo run --release --example db_concurrency -- 2000    # increments per thread (default 1000)
//! ```
//!
//! Every run: `threads` threads (1, 2, 4) each add 1 to an account `ops` times, through a pool
//! of 4 connections to one SQLite file in WAL mode with `synchronous = NORMAL` and a 5 s busy
//! timeout. *High contention*: every thread updates account 0. *Low contention*: each thread
//! has its own account. Strategies:
//!
//! * `naive`: `SELECT balance`, then `UPDATE ... SET balance = ?` — the lost-update bug.
//! * `optimistic`: `SELECT balance, version`, then
//!   `UPDATE ... SET balance = ?, version = version + 1 WHERE id = ? AND version = ?`, retried
//!   (re-reading) when no row changed.
//! * `pessimistic`: `BEGIN IMMEDIATE` (the write lock up front), `SELECT`, `UPDATE`, `COMMIT`.
//! * `atomic`: one statement, `UPDATE ... SET balance = balance + 1`.
//!
//! It prints increments per second, lost updates (naive), and retries (optimistic).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use threadsmith::pool::{Manager, Pool};

struct Sqlite {
    path: PathBuf,
}

impl Manager for Sqlite {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> bool {
        conn.execute_batch("SELECT 1").is_ok()
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        !conn.is_autocommit()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    Naive,
    Optimistic,
    Pessimistic,
    Atomic,
}

type AnyResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One increment of `account`; returns how many attempts lost a race (optimistic only).
fn increment(pool: &Pool<Sqlite>, strategy: Strategy, account: i64) -> AnyResult<u64> {
    let mut conn = pool.get()?;
    match strategy {
        Strategy::Naive => {
            let balance: i64 = conn.query_row(
                "SELECT balance FROM accounts WHERE id = ?1",
                [account],
                |r| r.get(0),
            )?;
            conn.execute(
                "UPDATE accounts SET balance = ?1 WHERE id = ?2",
                (balance + 1, account),
            )?;
            Ok(0)
        }
        Strategy::Optimistic => {
            let mut lost = 0;
            loop {
                let (balance, version): (i64, i64) = conn.query_row(
                    "SELECT balance, version FROM accounts WHERE id = ?1",
                    [account],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let changed = conn.execute(
                    "UPDATE accounts SET balance = ?1, version = version + 1
                      WHERE id = ?2 AND version = ?3",
                    (balance + 1, account, version),
                )?;
                if changed == 1 {
                    return Ok(lost);
                }
                lost += 1;
                if lost >= 10_000 {
                    return Err("optimistic: 10,000 conflicts in a row".into());
                }
                std::thread::yield_now();
            }
        }
        Strategy::Pessimistic => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let balance: i64 = tx.query_row(
                "SELECT balance FROM accounts WHERE id = ?1",
                [account],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE accounts SET balance = ?1 WHERE id = ?2",
                (balance + 1, account),
            )?;
            tx.commit()?;
            Ok(0)
        }
        Strategy::Atomic => {
            conn.execute(
                "UPDATE accounts SET balance = balance + 1 WHERE id = ?1",
                [account],
            )?;
            Ok(0)
        }
    }
}

struct Run {
    per_second: f64,
    lost_updates: i64,
    retries: u64,
}

fn run(path: &Path, strategy: Strategy, threads: usize, ops: usize, high: bool) -> AnyResult<Run> {
    let pool = Pool::builder().max_size(4).build(Sqlite {
        path: path.to_owned(),
    });
    pool.get()?.execute_batch(
        "DROP TABLE IF EXISTS accounts;
         CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL,
                                version INTEGER NOT NULL);
         INSERT INTO accounts VALUES (0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0);",
    )?;
    let retries = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| -> AnyResult<()> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (pool, retries) = (&pool, &retries);
                s.spawn(move || -> AnyResult<()> {
                    let account = if high { 0 } else { t as i64 };
                    for _ in 0..ops {
                        let lost = increment(pool, strategy, account)?;
                        // Relaxed: a statistic, read after the threads are joined.
                        retries.fetch_add(lost, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker panicked")?;
        }
        Ok(())
    })?;
    let elapsed = start.elapsed();
    let total: i64 = pool
        .get()?
        .query_row("SELECT SUM(balance) FROM accounts", [], |r| r.get(0))?;
    let expected = (threads * ops) as i64;
    Ok(Run {
        per_second: expected as f64 / elapsed.as_secs_f64(),
        lost_updates: expected - total,
        // Relaxed: the threads that counted were joined by the scope.
        retries: retries.load(Ordering::Relaxed),
    })
}

fn main() -> AnyResult<()> {
    let ops: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000);
    let path = std::env::temp_dir().join(format!("db-concurrency-{}.sqlite", std::process::id()));
    println!("{ops} increments per thread; pool of 4; SQLite WAL, synchronous=NORMAL");
    println!(
        "{:<12} {:<11} {:>7} {:>12} {:>8} {:>8}",
        "strategy", "contention", "threads", "incr/s", "lost", "retries"
    );
    for high in [true, false] {
        for strategy in [
            Strategy::Naive,
            Strategy::Optimistic,
            Strategy::Pessimistic,
            Strategy::Atomic,
        ] {
            for threads in [1, 2, 4] {
                let r = run(&path, strategy, threads, ops, high)?;
                println!(
                    "{:<12} {:<11} {:>7} {:>12.0} {:>8} {:>8}",
                    format!("{strategy:?}").to_lowercase(),
                    if high { "high" } else { "low" },
                    threads,
                    r.per_second,
                    r.lost_updates,
                    r.retries
                );
            }
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
    Ok(())
}
