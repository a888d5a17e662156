//! `/history`: messages persisted in SQLite through the crate's `Pool`, written off the hot path.
//!
//! The room hands each accepted message to [`History::record`], a `try_push` into a bounded
//! queue: never a disk write under the room's lock, never a block. One writer thread drains the
//! queue and commits batches in one transaction each (a burst of 500 messages is one fsync, not
//! 500). A full queue drops the record and counts it: history is best-effort, delivery is not.
//! `/history` reads run on the asking client's own reader thread with a pooled connection, so a
//! slow query delays only the client that asked.
//!
//! The scheduler (issue 9) plugs in here once it lands: `record` becomes
//! `scheduler.enqueue(Priority::Low, ..)` of a batch write, so persistence is the first thing shed
//! under overload, and `/history` a `Normal` task; the dedicated thread and queue go away.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{error, warn};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use threadsmith::bounded::{BoundedQueue, TryPushError};
use threadsmith::pool::{Manager, Pool, PoolError, State};

use crate::metrics::Metrics;

/// The longest `/history N`.
pub const MAX_HISTORY: usize = 100;
/// Records one transaction may carry.
const BATCH: usize = 256;

/// Opens SQLite connections to one database file.
pub struct Sqlite {
    path: PathBuf,
}

impl Manager for Sqlite {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        // The writer and readers queue inside SQLite instead of failing with SQLITE_BUSY.
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: `/history` readers never block the writer, nor it them.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> bool {
        conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
            .is_ok()
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        // Returned mid-transaction: whoever held it gave up half-way. Don't reuse it.
        !conn.is_autocommit()
    }
}

struct Record {
    at_ms: i64,
    nick: String,
    body: String,
}

pub struct History {
    pool: Pool<Sqlite>,
    queue: Arc<BoundedQueue<Record>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    metrics: Arc<Metrics>,
}

impl History {
    /// Opens (or creates) the database and starts the writer thread. Fails if the file cannot
    /// be opened: better to refuse to start than to lose every message silently.
    pub fn open(path: PathBuf, metrics: Arc<Metrics>) -> Result<Self, String> {
        let pool = Pool::builder()
            .max_size(4)
            .connection_timeout(Duration::from_secs(2))
            .build(Sqlite { path: path.clone() });
        pool.get()
            .map_err(|e| e.to_string())
            .and_then(|conn| {
                conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS messages (
                         id INTEGER PRIMARY KEY,
                         at_ms INTEGER NOT NULL,
                         nick TEXT NOT NULL,
                         body TEXT NOT NULL
                     )",
                )
                .map_err(|e| e.to_string())
            })
            .map_err(|e| format!("cannot open the history database {}: {e}", path.display()))?;
        let queue = Arc::new(BoundedQueue::new(8192));
        let writer = {
            let (pool, queue, metrics) = (pool.clone(), Arc::clone(&queue), Arc::clone(&metrics));
            thread::Builder::new()
                .name("chat-history".into())
                .spawn(move || write_loop(&pool, &queue, &metrics))
                .map_err(|e| format!("cannot start the history writer: {e}"))?
        };
        Ok(History {
            pool,
            queue,
            writer: Mutex::new(Some(writer)),
            metrics,
        })
    }

    /// Queues a message for the writer. Never blocks: it runs under the room's lock.
    pub fn record(&self, nick: &str, body: &str) {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let record = Record {
            at_ms,
            nick: nick.to_string(),
            body: body.to_string(),
        };
        match self.queue.try_push(record) {
            Ok(()) => {}
            Err(TryPushError::Full(_)) => Metrics::inc(&self.metrics.history_dropped),
            Err(TryPushError::Closed(_)) => {}
        }
    }

    /// The last `n` messages, oldest first, as `(nick, body)`.
    pub fn recent(&self, n: usize) -> Result<Vec<(String, String)>, String> {
        let conn = self.pool.get().map_err(|e: PoolError<_>| e.to_string())?;
        let limit = i64::try_from(n.min(MAX_HISTORY)).unwrap_or(0);
        let rows = conn
            .prepare_cached(
                "SELECT nick, body FROM
                   (SELECT id, nick, body FROM messages ORDER BY id DESC LIMIT ?1)
                 ORDER BY id ASC",
            )
            .and_then(|mut stmt| {
                stmt.query_map([limit], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| e.to_string())?;
        Ok(rows)
    }

    /// Stops taking records, lets the writer commit what is queued, and waits for it.
    pub fn close(&self) {
        self.queue.close();
        if let Some(writer) = self.writer.lock().take() {
            if writer.join().is_err() {
                error!("the history writer panicked");
            }
        }
    }

    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    pub fn pool_state(&self) -> State {
        self.pool.state()
    }
}

// ANCHOR: writer
/// Drains the queue in batches until it is closed and empty.
fn write_loop(pool: &Pool<Sqlite>, queue: &BoundedQueue<Record>, metrics: &Metrics) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = queue.pop() {
        batch.push(first);
        while batch.len() < BATCH {
            match queue.try_pop() {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
        match write_batch(pool, &batch) {
            Ok(()) => {
                let n = batch.len() as u64;
                metrics
                    .history_written
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                Metrics::inc(&metrics.history_errors);
                warn!("history: {} message(s) not persisted: {e}", batch.len());
            }
        }
        batch.clear();
    }
}

fn write_batch(pool: &Pool<Sqlite>, batch: &[Record]) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut insert = tx
            .prepare_cached("INSERT INTO messages (at_ms, nick, body) VALUES (?1, ?2, ?3)")
            .map_err(|e| e.to_string())?;
        for r in batch {
            insert
                .execute((r.at_ms, &r.nick, &r.body))
                .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())
}
// ANCHOR_END: writer
