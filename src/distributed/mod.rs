//! Beyond one process: leader election, a dedupe store and a shared token bucket on Redis
//! (cargo feature `redis`).
//!
//! Every operation is one atomic step on the server: a `SET NX PX`, or a Lua script, which Redis
//! runs without interleaving anything else. So many processes can share a lease, a dedupe claim
//! or a quota without a race between a read and a write: the race of the naive
//! `GET`-then-`SET` limiter, or of a `DEL` that removes a lease someone else acquired since.
//!
//! **Time.** Leases and claims expire on the server (`PX`), and the token bucket refills from
//! the server's `TIME`. No client clock is trusted, so clients with skewed clocks still agree.
//! A paused client can still act on a lease that has already expired, though: see
//! [`LeaderElection`] for fencing tokens, the defence against that.
//!
//! **Connections.** Each object keeps its own small [`Pool`] of
//! connections (8 by default), with connect, read and write timeouts (2 s by default; see
//! [`RedisOptions`]). When a command fails on a connection, that connection is closed. Every
//! other connection opened before the failure is checked with a `PING` before its next use, and
//! so is any connection idle for more than a second. After a Redis restart, the first call
//! therefore finds a fresh connection instead of a dead one. While Redis is down, calls return
//! [`DistributedError::Unavailable`] within the timeout (sooner once several connects in a row
//! have been refused), never panic, and work again once it is back.
//!
//! Why the crate's own pool rather than the `redis` crate's connection manager: that one is
//! async (tokio), and these objects are synchronous. The pool gives bounded connections,
//! timeouts with the last connect error, and fail-fast when Redis is down. Its checks are the
//! same ones the pool's tests prove.

mod election;
mod store;
mod token_bucket;

use std::fmt;
use std::time::{Duration, Instant};

pub use election::{LeaderElection, Renewer};
pub use store::RedisStore;
pub use token_bucket::{OnError, RedisTokenBucket};

use redis::ConnectionLike;

use crate::pool::{Manager, Pool, PoolError};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;

/// What went wrong talking to Redis.
#[derive(Debug)]
#[non_exhaustive]
pub enum DistributedError {
    /// No connection within the timeout: Redis is down, unreachable or too slow. `source` is
    /// the last connect error, if a connect was tried.
    Unavailable {
        /// The last connect error.
        source: Option<redis::RedisError>,
    },
    /// Redis answered with an error, or the connection failed during the command. The command
    /// may or may not have run.
    Redis(redis::RedisError),
    /// An argument that can never work: a bad URL, an empty key, a zero TTL.
    Invalid(String),
}

impl fmt::Display for DistributedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistributedError::Unavailable { source: Some(e) } => {
                write!(f, "Redis is unavailable: {e}")
            }
            DistributedError::Unavailable { source: None } => {
                f.write_str("Redis is unavailable: no connection within the timeout")
            }
            DistributedError::Redis(e) => write!(f, "Redis command failed: {e}"),
            DistributedError::Invalid(why) => write!(f, "invalid argument: {why}"),
        }
    }
}

impl std::error::Error for DistributedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DistributedError::Unavailable { source: Some(e) } | DistributedError::Redis(e) => {
                Some(e)
            }
            _ => None,
        }
    }
}

impl From<DistributedError> for crate::dedupe::StoreError {
    fn from(e: DistributedError) -> Self {
        crate::dedupe::StoreError::new("Redis dedupe store", Some(Box::new(e)))
    }
}

/// Connection settings shared by the Redis-backed objects.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::distributed::RedisOptions;
///
/// let options = RedisOptions::default().timeout(Duration::from_millis(500)).max_connections(4);
/// assert_eq!(options.timeout_value(), Duration::from_millis(500));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    timeout: Duration,
    max_connections: usize,
}

impl Default for RedisOptions {
    /// A 2-second timeout and up to 8 connections.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            max_connections: 8,
        }
    }
}

impl RedisOptions {
    /// How long a call may wait for a connection, and for each read or write on it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most connections one object keeps open.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// The configured timeout.
    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }

    fn validate(&self) -> Result<(), DistributedError> {
        if self.timeout.is_zero() {
            return Err(DistributedError::Invalid(
                "the timeout must be non-zero".into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(DistributedError::Invalid(
                "max_connections must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A connection and what the manager knows about it.
struct Conn {
    raw: redis::Connection,
    /// The manager's failure count when it was opened: a failure since means "check me".
    generation: u64,
    last_ok: Instant,
}

/// Opens connections with timeouts; distrusts idle and pre-failure connections.
struct RedisManager {
    client: redis::Client,
    timeout: Duration,
    /// Bumped whenever a command fails on some connection (shared with [`Redis`]).
    failures: Arc<AtomicU64>,
}

/// A connection idle longer than this is pinged before use.
const IDLE_CHECK: Duration = Duration::from_secs(1);

impl Manager for RedisManager {
    type Connection = Conn;
    type Error = redis::RedisError;

    fn connect(&self) -> Result<Conn, redis::RedisError> {
        let raw = self.client.get_connection_with_timeout(self.timeout)?;
        raw.set_read_timeout(Some(self.timeout))?;
        raw.set_write_timeout(Some(self.timeout))?;
        Ok(Conn {
            raw,
            // Relaxed: a hint to re-check; the PING decides.
            generation: self.failures.load(Ordering::Relaxed),
            last_ok: Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> bool {
        // Relaxed: as in `connect`.
        let failed_since = conn.generation != self.failures.load(Ordering::Relaxed);
        if !failed_since && conn.last_ok.elapsed() < IDLE_CHECK {
            return conn.raw.is_open();
        }
        let alive = redis::cmd("PING").query::<String>(&mut conn.raw).is_ok();
        if alive {
            conn.generation = self.failures.load(Ordering::Relaxed);
            conn.last_ok = Instant::now();
        }
        alive
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        !conn.raw.is_open()
    }
}

/// The pool and the helper that runs one command on it.
struct Redis {
    pool: Pool<RedisManager>,
    failures: Arc<AtomicU64>,
}

impl Redis {
    fn open(url: &str, options: RedisOptions) -> Result<Self, DistributedError> {
        options.validate()?;
        let client = redis::Client::open(url)
            .map_err(|e| DistributedError::Invalid(format!("Redis URL {url:?}: {e}")))?;
        let failures = Arc::new(AtomicU64::new(0));
        let pool = Pool::builder()
            .max_size(options.max_connections)
            .connection_timeout(options.timeout)
            .idle_timeout(Some(Duration::from_secs(60)))
            .max_lifetime(None)
            .build(RedisManager {
                client,
                timeout: options.timeout,
                failures: Arc::clone(&failures),
            });
        Ok(Self { pool, failures })
    }

    /// Runs `command` on a pooled connection. A connection on which a command failed is
    /// closed, and every older connection will be checked before its next use.
    fn run<T>(
        &self,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, DistributedError> {
        let mut conn = self.pool.get().map_err(|e| match e {
            PoolError::Timeout { last_error } => {
                DistributedError::Unavailable { source: last_error }
            }
            PoolError::Closed => DistributedError::Unavailable { source: None },
        })?;
        match command(&mut conn.raw) {
            Ok(value) => {
                conn.last_ok = Instant::now();
                Ok(value)
            }
            Err(e) => {
                // An error *reply* (a script error, say) leaves the connection usable; anything
                // else (I/O, a timeout, a dropped connection) may have left it mid-reply.
                if e.is_io_error()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
                    || !conn.raw.is_open()
                {
                    // Relaxed: a hint that makes the other connections PING before their next
                    // use; the PING itself decides.
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    conn.discard();
                }
                Err(DistributedError::Redis(e))
            }
        }
    }
}

/// Checks a key and a TTL given to a constructor or a call.
fn check_key(key: &str) -> Result<(), DistributedError> {
    if key.is_empty() {
        return Err(DistributedError::Invalid(
            "the key must not be empty".into(),
        ));
    }
    Ok(())
}

/// A TTL in whole milliseconds, at least 1 (Redis rejects `PX 0`).
fn ttl_millis(ttl: Duration) -> Result<u64, DistributedError> {
    if ttl.is_zero() {
        return Err(DistributedError::Invalid("the TTL must be non-zero".into()));
    }
    Ok(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
}
