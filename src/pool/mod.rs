//! A connection pool: bounded, first come first served, validated on checkout, self-maintaining,
//! with leak detection.
//!
//! **Data structure.** One mutex guards a small state machine (`core.rs`): a count of open
//! connections (`open`, which includes connections *being opened*), a deque of idle
//! connections used as a stack, and a queue of blocked `get`s. `open` works as a counting
//! semaphore: a `get` that finds no idle connection reserves a place (`open += 1`) before it
//! connects, so at most `max_size` connections exist at any instant, creations included.
//! Connecting, validating and closing happen outside the lock; the lock is held for a few
//! pointer moves.
//!
//! **LIFO reuse.** A `get` takes the most recently returned connection. Under light load the
//! same few connections stay warm (server-side caches, TCP windows, prepared statements) and the
//! rest go idle long enough for the reaper to close them; a FIFO idle queue would rotate through
//! every connection and keep them all alive.
//!
//! **Fairness.** A returned connection is handed to the oldest blocked `get` directly, and only
//! that thread is woken (each waiter sleeps on its own condition variable); a `get` that arrives
//! while others wait queues behind them. So waiters are served first come, first served, and no
//! return causes a thundering herd.
//!
//! **Validation.** An idle connection is checked with [`Manager::is_valid`] when it is checked
//! out (test-on-borrow) and against `max_lifetime`; a bad one is closed and replaced with a new
//! connection, transparently. On return, [`Manager::has_broken`] is asked; a broken
//! connection, one past its lifetime, and one whose holder panicked are closed, not reused.
//!
//! **Timeouts and a dead backend.** [`Pool::get`] waits up to `connection_timeout` (real time).
//! A failed connect is retried with exponential backoff (from `retry_backoff`, capped at 1 s),
//! and the timeout error carries the last connect error. `get` gives up *before* the timeout
//! when the backend is clearly down: the pool has seen `fail_fast_after` failed connects in a
//! row (default 3) and holds no connection at all — none idle, none in use, so none can be
//! returned to rescue the wait. A single success resets the count.
//!
//! **Maintenance.** A background thread (only when there is something to maintain) runs a pass
//! every `maintenance_interval`: it closes idle connections past `max_lifetime` or idle longer
//! than `idle_timeout` (the longest idle first, never going below `min_idle` by reaping), opens
//! connections up to `min_idle`, and reports leases held longer than `leak_threshold`, once
//! each. These decisions use the pool's [`Clock`], so tests drive them with a
//! [`ManualClock`](crate::clock::ManualClock) and [`Pool::run_maintenance`]. The thread stops
//! when the last `Pool` handle is dropped.
//!
//! **Progress.** Blocking. Every operation holds the lock for O(1) work, except a waiter that
//! gives up (O(waiters)) and a maintenance pass (O(connections)).
//!
//! ```
//! use std::convert::Infallible;
//! use threadsmith::pool::{Manager, Pool};
//!
//! /// A "connection" that counts the queries it ran.
//! struct Counter;
//! impl Manager for Counter {
//!     type Connection = u64;
//!     type Error = Infallible;
//!     fn connect(&self) -> Result<u64, Infallible> { Ok(0) }
//!     fn is_valid(&self, _conn: &mut u64) -> bool { true }
//! }
//!
//! let pool = Pool::builder().max_size(2).build(Counter);
//! {
//!     let mut conn = pool.get().expect("a connection");
//!     *conn += 1; // use it through Deref/DerefMut
//! } // returned to the pool here
//! let again = pool.get().unwrap();
//! assert_eq!(*again, 1, "the warm connection was reused");
//! assert_eq!(pool.state().in_use, 1);
//! ```

mod core;

use std::error::Error;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::time::{Duration, Instant};

use self::core::{Conn, Core, Grant, Idle};
use crate::clock::{Clock, SystemClock};
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Opens, checks and (by dropping) closes connections for a [`Pool`].
///
/// ```
/// use threadsmith::pool::Manager;
///
/// struct Tcp { addr: std::net::SocketAddr }
/// impl Manager for Tcp {
///     type Connection = std::net::TcpStream;
///     type Error = std::io::Error;
///     fn connect(&self) -> std::io::Result<std::net::TcpStream> {
///         std::net::TcpStream::connect(self.addr)
///     }
///     fn is_valid(&self, conn: &mut std::net::TcpStream) -> bool {
///         conn.take_error().map_or(false, |e| e.is_none())
///     }
/// }
/// ```
pub trait Manager: Send + Sync + 'static {
    /// The connection type. Dropping it closes it.
    type Connection: Send + 'static;
    /// What a failed connect returns.
    type Error: Error + Send + Sync + 'static;
    /// Opens a new connection.
    fn connect(&self) -> Result<Self::Connection, Self::Error>;
    /// Checked when an idle connection is checked out; `false` closes it and the pool opens
    /// another. A real check costs a round trip (`SELECT 1`); keep it cheap.
    fn is_valid(&self, conn: &mut Self::Connection) -> bool;
    /// Checked when a connection is returned; `true` closes it instead of keeping it. Must be
    /// quick and must not block (no round trip): look at state the connection already has.
    fn has_broken(&self, _conn: &mut Self::Connection) -> bool {
        false
    }
}

/// Why [`Pool::get`] returned no connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError<E> {
    /// No connection within `connection_timeout` (or the backend is down and nothing can be
    /// returned: see the module docs). `last_error` is the last error *this call's* own connect
    /// attempts got; `None` when it only waited for other connections.
    Timeout {
        /// The last connect error this call saw.
        last_error: Option<E>,
    },
    /// The pool was [`close`](Pool::close)d.
    Closed,
}

impl<E: fmt::Display> fmt::Display for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Timeout {
                last_error: Some(e),
            } => write!(f, "timed out getting a connection; last connect error: {e}"),
            PoolError::Timeout { last_error: None } => {
                f.write_str("timed out waiting for a connection")
            }
            PoolError::Closed => f.write_str("the pool is closed"),
        }
    }
}

impl<E: Error + 'static> Error for PoolError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PoolError::Timeout {
                last_error: Some(e),
            } => Some(e),
            _ => None,
        }
    }
}

/// A snapshot of the pool: [`Pool::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct State {
    /// Connections that exist, including those being opened right now (at most `max_size`).
    pub connections: usize,
    /// Connections resting in the pool.
    pub idle: usize,
    /// Connections checked out.
    pub in_use: usize,
    /// `get` calls blocked right now.
    pub waiting: usize,
}

/// Counters since the pool was built: [`Pool::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// `get` calls.
    pub gets: usize,
    /// `get` calls that had to wait in the queue.
    pub waits: usize,
    /// `get` calls that returned [`PoolError::Timeout`].
    pub timeouts: usize,
    /// Connections opened.
    pub created: usize,
    /// Connections closed by the pool (invalid, broken, expired, idle, panicked holder, close).
    pub closed: usize,
    /// Failed connect attempts.
    pub connect_errors: usize,
    /// Idle connections that failed [`Manager::is_valid`] on checkout.
    pub invalid: usize,
    /// Returned connections that [`Manager::has_broken`] rejected.
    pub broken: usize,
    /// Leases reported as leaked (held longer than `leak_threshold`).
    pub leaks: usize,
    /// Time spent waiting in the queue, all `get`s together (real time).
    pub total_wait: Duration,
    /// The longest single wait in the queue.
    pub max_wait: Duration,
}

/// A connection held longer than `leak_threshold`: what a leak callback receives.
#[derive(Debug, Clone, Copy)]
pub struct LeakReport {
    /// How long it has been held (by the pool's clock).
    pub held_for: Duration,
    /// The `get` call that checked it out.
    pub taken_at: &'static Location<'static>,
}

type LeakCallback = Box<dyn Fn(&LeakReport) + Send + Sync>;

/// The longest pause between two connect attempts of one `get`.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

struct Config {
    max_size: usize,
    min_idle: usize,
    connection_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    leak_threshold: Option<Duration>,
    maintenance_interval: Duration,
    retry_backoff: Duration,
    fail_fast_after: Option<u32>,
}

/// Configures and builds a [`Pool`]: [`Pool::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder<M: Manager> {
    config: Config,
    clock: Box<dyn Clock>,
    on_leak: LeakCallback,
    _manager: std::marker::PhantomData<fn() -> M>,
}

struct Inner<M: Manager> {
    manager: M,
    config: Config,
    clock: Box<dyn Clock>,
    on_leak: LeakCallback,
    core: Mutex<Core<M::Connection>>,
    /// Set when the last `Pool` handle drops (or on `close`), so the maintenance thread stops.
    stop: Mutex<bool>,
    stop_wake: Condvar,
}

/// A connection pool. Clones are handles to one pool; see the [module docs](self).
pub struct Pool<M: Manager> {
    handle: Arc<Handle<M>>,
}

/// What the `Pool` clones share: when the last one goes, the maintenance thread is stopped.
/// (Checked-out connections keep `Inner` alive, not this.)
struct Handle<M: Manager> {
    inner: Arc<Inner<M>>,
    maintenance: Option<JoinHandle<()>>,
}

/// A checked-out connection: [`Deref`]/[`DerefMut`] to `M::Connection`, returned to the pool
/// when dropped.
///
/// ```
/// # use std::convert::Infallible;
/// # use threadsmith::pool::{Manager, Pool};
/// # struct Numbers;
/// # impl Manager for Numbers {
/// #     type Connection = Vec<u8>;
/// #     type Error = Infallible;
/// #     fn connect(&self) -> Result<Vec<u8>, Infallible> { Ok(Vec::new()) }
/// #     fn is_valid(&self, _: &mut Vec<u8>) -> bool { true }
/// # }
/// let pool = Pool::builder().max_size(1).build(Numbers);
/// let mut conn = pool.get().unwrap();
/// conn.push(7);                       // DerefMut
/// assert_eq!(conn.len(), 1);          // Deref
/// let raw: Vec<u8> = conn.detach();   // taken out for good: the pool may open another
/// assert_eq!(pool.state().connections, 0);
/// # drop(raw);
/// ```
pub struct PooledConnection<M: Manager> {
    inner: Arc<Inner<M>>,
    /// `Some` until the connection is returned, detached or discarded.
    conn: Option<Conn<M::Connection>>,
    lease: Option<usize>,
}

impl<M: Manager> Pool<M> {
    /// A builder with the defaults: `max_size` 10, `min_idle` 0, `connection_timeout` 30 s,
    /// `idle_timeout` 10 min, `max_lifetime` 30 min, no leak detection, maintenance every
    /// second, retries from 10 ms, fail fast after 3 failed connects in a row, the system
    /// clock, leaks reported through the `log` crate.
    pub fn builder() -> PoolBuilder<M> {
        PoolBuilder {
            config: Config {
                max_size: 10,
                min_idle: 0,
                connection_timeout: Duration::from_secs(30),
                idle_timeout: Some(Duration::from_secs(600)),
                max_lifetime: Some(Duration::from_secs(1800)),
                leak_threshold: None,
                maintenance_interval: Duration::from_secs(1),
                retry_backoff: Duration::from_millis(10),
                fail_fast_after: Some(3),
            },
            clock: Box::new(SystemClock),
            on_leak: Box::new(|leak| {
                log::warn!(
                    "threadsmith::pool: a connection taken at {} has been held for {:?}",
                    leak.taken_at,
                    leak.held_for
                )
            }),
            _manager: std::marker::PhantomData,
        }
    }

    // ANCHOR: get
    /// Checks out a connection: an idle one (validated), a new one while fewer than `max_size`
    /// exist, or the next one returned, waiting in line up to `connection_timeout`.
    ///
    /// # Errors
    /// [`PoolError::Timeout`] when none came in time, or the backend is down (see the module
    /// docs); [`PoolError::Closed`] after [`close`](Self::close).
    #[track_caller]
    pub fn get(&self) -> Result<PooledConnection<M>, PoolError<M::Error>> {
        let timeout = self.handle.inner.config.connection_timeout;
        Inner::get(&self.handle.inner, timeout, Location::caller())
    }
    // ANCHOR_END: get

    /// [`get`](Self::get) with its own timeout instead of `connection_timeout`.
    ///
    /// # Errors
    /// As for [`get`](Self::get).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use std::time::Duration;
    /// # use threadsmith::pool::{Manager, Pool, PoolError};
    /// # struct Unit;
    /// # impl Manager for Unit {
    /// #     type Connection = ();
    /// #     type Error = Infallible;
    /// #     fn connect(&self) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> bool { true }
    /// # }
    /// let pool = Pool::builder().max_size(1).build(Unit);
    /// let _held = pool.get().unwrap();
    /// let err = pool.get_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert!(matches!(err, PoolError::Timeout { last_error: None }));
    /// ```
    #[track_caller]
    pub fn get_timeout(
        &self,
        timeout: Duration,
    ) -> Result<PooledConnection<M>, PoolError<M::Error>> {
        Inner::get(&self.handle.inner, timeout, Location::caller())
    }

    /// The number of connections, idle, in use, and waiting `get`s, right now.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use threadsmith::pool::{Manager, Pool, State};
    /// # struct Unit;
    /// # impl Manager for Unit {
    /// #     type Connection = ();
    /// #     type Error = Infallible;
    /// #     fn connect(&self) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> bool { true }
    /// # }
    /// let pool = Pool::builder().max_size(4).build(Unit);
    /// let held = pool.get().unwrap();
    /// assert_eq!(pool.state(), State { connections: 1, idle: 0, in_use: 1, waiting: 0 });
    /// drop(held);
    /// assert_eq!(pool.state(), State { connections: 1, idle: 1, in_use: 0, waiting: 0 });
    /// ```
    pub fn state(&self) -> State {
        let core = self.handle.inner.core.lock();
        State {
            connections: core.open,
            idle: core.idle.len(),
            in_use: core.in_use,
            waiting: core.waiting(),
        }
    }

    /// Counters since the pool was built.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use threadsmith::pool::{Manager, Pool};
    /// # struct Unit;
    /// # impl Manager for Unit {
    /// #     type Connection = ();
    /// #     type Error = Infallible;
    /// #     fn connect(&self) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> bool { true }
    /// # }
    /// let pool = Pool::builder().build(Unit);
    /// drop(pool.get().unwrap());
    /// drop(pool.get().unwrap());
    /// let stats = pool.stats();
    /// assert_eq!((stats.gets, stats.created), (2, 1));
    /// ```
    pub fn stats(&self) -> Stats {
        let c = &self.handle.inner.core.lock().counters;
        Stats {
            gets: c.gets,
            waits: c.waits,
            timeouts: c.timeouts,
            created: c.created,
            closed: c.closed,
            connect_errors: c.connect_errors,
            invalid: c.invalid,
            broken: c.broken,
            leaks: c.leaks,
            total_wait: c.total_wait,
            max_wait: c.max_wait,
        }
    }

    /// Closes the pool: every `get` from now on, and every one waiting, returns
    /// [`PoolError::Closed`]; idle connections are closed now, and connections in use are
    /// closed when they are returned. Idempotent.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use threadsmith::pool::{Manager, Pool, PoolError};
    /// # struct Unit;
    /// # impl Manager for Unit {
    /// #     type Connection = ();
    /// #     type Error = Infallible;
    /// #     fn connect(&self) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> bool { true }
    /// # }
    /// let pool = Pool::builder().build(Unit);
    /// let held = pool.get().unwrap();
    /// pool.close();
    /// assert!(matches!(pool.get(), Err(PoolError::Closed)));
    /// drop(held); // closed, not kept
    /// assert_eq!(pool.state().connections, 0);
    /// ```
    pub fn close(&self) {
        let inner = &self.handle.inner;
        let idle = inner.core.lock().close();
        drop(idle); // outside the lock: closing a connection may take a round trip
        *inner.stop.lock() = true;
        inner.stop_wake.notify_all();
    }

    /// Runs one maintenance pass now, on this thread: what the background thread does every
    /// `maintenance_interval`. Useful with a [`ManualClock`](crate::clock::ManualClock).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use std::time::Duration;
    /// # use threadsmith::clock::ManualClock;
    /// # use threadsmith::pool::{Manager, Pool};
    /// # struct Unit;
    /// # impl Manager for Unit {
    /// #     type Connection = ();
    /// #     type Error = Infallible;
    /// #     fn connect(&self) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> bool { true }
    /// # }
    /// let clock = ManualClock::new();
    /// let pool = Pool::builder()
    ///     .idle_timeout(Some(Duration::from_secs(60)))
    ///     .clock(clock.clone())
    ///     .build(Unit);
    /// drop(pool.get().unwrap());
    /// clock.advance(Duration::from_secs(61));
    /// pool.run_maintenance();
    /// assert_eq!(pool.state().idle, 0, "idle too long: closed");
    /// ```
    pub fn run_maintenance(&self) {
        self.handle.inner.maintain();
    }
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<M: Manager> Drop for Handle<M> {
    fn drop(&mut self) {
        if let Some(thread) = self.maintenance.take() {
            *self.inner.stop.lock() = true;
            self.inner.stop_wake.notify_all();
            // It wakes at once and finishes the pass in progress, if any; a panic in it (from
            // the manager) has nobody left to report to.
            let _ = thread.join();
        }
    }
}

impl<M: Manager> PoolBuilder<M> {
    /// The most connections that may exist at once, counting those being opened. At least 1.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.config.max_size = max_size;
        self
    }

    /// How many idle connections the maintenance thread keeps open (at most `max_size`).
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.config.min_idle = min_idle;
        self
    }

    /// How long [`Pool::get`] may wait (real time).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.config.connection_timeout = timeout;
        self
    }

    /// Idle connections older than this (by the clock) are closed, but never below `min_idle`.
    /// `None`: never.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Connections older than this (by the clock) are closed instead of reused, never while
    /// in use. `None`: never.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.config.max_lifetime = lifetime;
        self
    }

    /// A connection held longer than this (by the clock) is reported once, with where it was
    /// taken. `None` (the default): no leak detection, and no bookkeeping for it.
    pub fn leak_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.config.leak_threshold = threshold;
        self
    }

    /// Where leak reports go; by default a `log::warn!`.
    pub fn on_leak(mut self, callback: impl Fn(&LeakReport) + Send + Sync + 'static) -> Self {
        self.on_leak = Box::new(callback);
        self
    }

    /// How often (real time) the maintenance thread runs a pass. Must be non-zero.
    pub fn maintenance_interval(mut self, interval: Duration) -> Self {
        self.config.maintenance_interval = interval;
        self
    }

    /// The first pause between two connect attempts of one `get`; it doubles up to 1 s.
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.config.retry_backoff = backoff;
        self
    }

    /// `get` gives up before its timeout after this many failed connects in a row, pool-wide,
    /// while the pool holds no connection at all (see the module docs). `None`: always wait
    /// out the timeout.
    pub fn fail_fast_after(mut self, failures: Option<u32>) -> Self {
        self.config.fail_fast_after = failures;
        self
    }

    /// The clock for lifetimes, idle timeouts and leak thresholds (waits use real time).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Builds the pool, opens `min_idle` connections (a failure is left to the maintenance
    /// thread to retry), and starts the maintenance thread when anything needs maintaining.
    ///
    /// # Panics
    /// When `max_size` is 0, `min_idle` exceeds `max_size`, `maintenance_interval` is zero,
    /// or `fail_fast_after` is `Some(0)`: settings that can never work.
    pub fn build(self, manager: M) -> Pool<M> {
        let config = self.config;
        assert!(config.max_size > 0, "Pool: max_size must be at least 1");
        assert!(
            config.min_idle <= config.max_size,
            "Pool: min_idle ({}) cannot exceed max_size ({})",
            config.min_idle,
            config.max_size
        );
        assert!(
            !config.maintenance_interval.is_zero(),
            "Pool: maintenance_interval must be non-zero"
        );
        assert!(
            config.fail_fast_after != Some(0),
            "Pool: fail_fast_after must be at least 1 (or None to never fail fast)"
        );
        let needs_maintenance = config.min_idle > 0
            || config.idle_timeout.is_some()
            || config.max_lifetime.is_some()
            || config.leak_threshold.is_some();
        let interval = config.maintenance_interval;
        let inner = Arc::new(Inner {
            manager,
            config,
            clock: self.clock,
            on_leak: self.on_leak,
            core: Mutex::new(Core::new()),
            stop: Mutex::new(false),
            stop_wake: Condvar::new(),
        });
        inner.maintain();
        let maintenance = needs_maintenance.then(|| {
            let inner = Arc::clone(&inner);
            thread::Builder::new()
                .name("threadsmith-pool-maintenance".into())
                .spawn(move || inner.maintenance_loop(interval))
                .expect("spawning the pool's maintenance thread")
        });
        Pool {
            handle: Arc::new(Handle { inner, maintenance }),
        }
    }
}

/// `timeout` from now; a timeout too large to represent is as good as forever (a century).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// How a wait in the queue ended without a grant.
enum WaitEnd {
    Closed,
    TimedOut,
}

impl<M: Manager> Inner<M> {
    fn get(
        this: &Arc<Self>,
        timeout: Duration,
        at: &'static Location<'static>,
    ) -> Result<PooledConnection<M>, PoolError<M::Error>> {
        let mut deadline = None; // read the real clock only if we have to wait
        let mut last_error = None;
        let mut backoff = this.config.retry_backoff;
        let mut counted = false;
        loop {
            let mut core = this.core.lock();
            if core.closed {
                return Err(PoolError::Closed);
            }
            if !counted {
                core.counters.gets += 1;
                counted = true;
            }
            let grant = match core.acquire(this.config.max_size) {
                Some(grant) => grant,
                None => {
                    let deadline = *deadline.get_or_insert_with(|| deadline_after(timeout));
                    match this.wait(&mut core, deadline) {
                        Ok(grant) => grant,
                        Err(WaitEnd::Closed) => return Err(PoolError::Closed),
                        Err(WaitEnd::TimedOut) => {
                            core.counters.timeouts += 1;
                            return Err(PoolError::Timeout { last_error });
                        }
                    }
                }
            };
            if core.closed {
                // Granted just as the pool closed: give it back (closing it) and say so.
                let doomed = this.release_grant(&mut core, grant);
                drop(core);
                drop(doomed);
                return Err(PoolError::Closed);
            }
            let lease = match (&grant, this.config.leak_threshold) {
                (Grant::Conn(_), Some(_)) => Some(core.lease(this.clock.now(), at)),
                _ => None,
            };
            drop(core);

            if let Grant::Conn(conn) = grant {
                if let Some(pooled) = Inner::check_out(this, conn, lease) {
                    return Ok(pooled);
                }
                // It was closed; its place is ours to open a new one.
            }

            // We hold a slot: `open` counts the connection we are about to open.
            match this.manager.connect() {
                Ok(raw) => return Inner::opened(this, raw, at),
                Err(error) => {
                    let now = Instant::now();
                    let deadline = *deadline.get_or_insert_with(|| deadline_after(timeout));
                    let mut core = this.core.lock();
                    core.counters.connect_errors += 1;
                    core.failures_in_a_row = core.failures_in_a_row.saturating_add(1);
                    let backend_down = this
                        .config
                        .fail_fast_after
                        .is_some_and(|n| core.failures_in_a_row >= n)
                        && core.in_use == 0
                        && core.idle.is_empty();
                    core.forget(); // the slot goes to the next waiter while we back off
                    last_error = Some(error);
                    if backend_down || now >= deadline {
                        core.counters.timeouts += 1;
                        return Err(PoolError::Timeout { last_error });
                    }
                    drop(core);
                    thread::sleep(backoff.min(deadline - now));
                    backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
                }
            }
        }
    }

    // ANCHOR: wait
    /// Queues this `get` and sleeps until it is handed a connection or a slot, the pool
    /// closes, or `deadline` passes.
    fn wait(
        &self,
        core: &mut MutexGuard<'_, Core<M::Connection>>,
        deadline: Instant,
    ) -> Result<Grant<M::Connection>, WaitEnd> {
        let started = Instant::now();
        let waiter = core.enqueue(started);
        core.counters.waits += 1;
        let mut timed_out = false;
        let end = loop {
            // A grant made just before the deadline still counts: check it first, so a
            // connection handed to us is never lost by our giving up.
            if let Some(grant) = core.take_handoff(waiter.ticket) {
                break Ok(grant);
            }
            if let Some(grant) = core.take_idle(waiter.ticket) {
                break Ok(grant);
            }
            if core.closed {
                core.leave(waiter.ticket);
                break Err(WaitEnd::Closed);
            }
            if timed_out {
                core.leave(waiter.ticket);
                break Err(WaitEnd::TimedOut);
            }
            timed_out = waiter.wake.wait_until(core, deadline);
        };
        let waited = started.elapsed();
        let counters = &mut core.counters;
        counters.total_wait = counters.total_wait.saturating_add(waited);
        counters.max_wait = counters.max_wait.max(waited);
        end
    }
    // ANCHOR_END: wait

    /// Gives back a grant that will not be used; returns the connection to drop, if any.
    fn release_grant(
        &self,
        core: &mut Core<M::Connection>,
        grant: Grant<M::Connection>,
    ) -> Option<Conn<M::Connection>> {
        core.forget();
        match grant {
            Grant::Conn(conn) => {
                core.in_use -= 1;
                core.counters.closed += 1;
                Some(conn)
            }
            Grant::Slot => None,
        }
    }

    fn expired(&self, conn: &Conn<M::Connection>, now: Instant) -> bool {
        match (self.config.max_lifetime, conn.born) {
            (Some(lifetime), Some(born)) => now.saturating_duration_since(born) >= lifetime,
            _ => false,
        }
    }

    // ANCHOR: check_out
    /// Test-on-borrow. A connection past its lifetime or failing `is_valid` is closed, and its
    /// place in `open` becomes the caller's slot (`None`).
    fn check_out(
        this: &Arc<Self>,
        mut conn: Conn<M::Connection>,
        lease: Option<usize>,
    ) -> Option<PooledConnection<M>> {
        let expired = conn.born.is_some() && this.expired(&conn, this.clock.now());
        if !expired && this.manager.is_valid(&mut conn.raw) {
            return Some(PooledConnection {
                inner: Arc::clone(this),
                conn: Some(conn),
                lease,
            });
        }
        let mut core = this.core.lock();
        if let Some(lease) = lease {
            core.end_lease(lease);
        }
        core.in_use -= 1; // `open` still counts it: that is the caller's slot now
        core.counters.closed += 1;
        if !expired {
            core.counters.invalid += 1;
        }
        drop(core);
        drop(conn);
        None
    }
    // ANCHOR_END: check_out

    /// A slot's connect succeeded: check the new connection out to the caller.
    fn opened(
        this: &Arc<Self>,
        raw: M::Connection,
        at: &'static Location<'static>,
    ) -> Result<PooledConnection<M>, PoolError<M::Error>> {
        let now = this.tracks_time().then(|| this.clock.now());
        let mut core = this.core.lock();
        if core.closed {
            core.counters.created += 1;
            core.counters.closed += 1;
            core.forget();
            drop(core);
            drop(raw);
            return Err(PoolError::Closed);
        }
        core.opened();
        let lease = match (this.config.leak_threshold, now) {
            (Some(_), Some(now)) => Some(core.lease(now, at)),
            _ => None,
        };
        drop(core);
        Ok(PooledConnection {
            inner: Arc::clone(this),
            conn: Some(Conn {
                raw,
                born: this.config.max_lifetime.and(now),
            }),
            lease,
        })
    }

    /// Whether connections need timestamps at all.
    fn tracks_time(&self) -> bool {
        let c = &self.config;
        c.max_lifetime.is_some() || c.idle_timeout.is_some() || c.leak_threshold.is_some()
    }

    // ANCHOR: check_in
    /// A connection comes back from its holder: kept for the next `get`, or closed when its
    /// holder panicked, it has broken, it is past its lifetime, or the pool is closed.
    fn check_in(&self, mut conn: Conn<M::Connection>, lease: Option<usize>) {
        // A panic may have left it mid-transaction; don't even ask the manager about it.
        let panicked = std::thread::panicking();
        let broken = !panicked && self.manager.has_broken(&mut conn.raw);
        let now = (self.config.max_lifetime.is_some() || self.config.idle_timeout.is_some())
            .then(|| self.clock.now());
        let expired = now.is_some_and(|now| self.expired(&conn, now));
        if panicked || broken || expired {
            drop(conn);
            return self.retire(lease, usize::from(broken));
        }
        let mut core = self.core.lock();
        if core.closed {
            drop(core);
            drop(conn);
            return self.retire(lease, 0);
        }
        if let Some(lease) = lease {
            core.end_lease(lease);
        }
        core.in_use -= 1;
        let since = self.config.idle_timeout.and(now);
        core.offer(Idle { conn, since });
    }

    /// A checked-out connection has been closed (dropped, outside the lock): its place goes
    /// to a waiter or is freed. Only now, so that a replacement never coexists with it.
    fn retire(&self, lease: Option<usize>, broken: usize) {
        self.release_place(lease, 1, broken);
    }
    // ANCHOR_END: check_in

    /// A checked-out connection stops counting: `closed` of them were closed by the pool
    /// (0 for a detached one, which lives on outside it).
    fn release_place(&self, lease: Option<usize>, closed: usize, broken: usize) {
        let mut core = self.core.lock();
        if let Some(lease) = lease {
            core.end_lease(lease);
        }
        core.in_use -= 1;
        core.counters.broken += broken;
        core.counters.closed += closed;
        core.forget();
    }

    fn maintenance_loop(&self, interval: Duration) {
        loop {
            {
                let mut stop = self.stop.lock();
                if *stop {
                    return;
                }
                self.stop_wake.wait_for(&mut stop, interval);
                if *stop {
                    return;
                }
            }
            self.maintain();
        }
    }

    // ANCHOR: maintain
    /// One maintenance pass: reap expired and long-idle connections, report leaks, refill to
    /// `min_idle`.
    fn maintain(&self) {
        let config = &self.config;
        let now = self.clock.now();
        let mut doomed = Vec::new();
        let (leaks, to_open) = {
            let mut core = self.core.lock();
            if core.closed {
                return;
            }
            // Past their lifetime: closed even below `min_idle` (the refill replaces them).
            if config.max_lifetime.is_some() {
                let mut i = 0;
                while i < core.idle.len() {
                    if self.expired(&core.idle[i].conn, now) {
                        doomed.extend(core.idle.remove(i));
                    } else {
                        i += 1;
                    }
                }
            }
            // Idle too long: the longest idle sit at the front; stop at `min_idle`.
            if let Some(timeout) = config.idle_timeout {
                while core.idle.len() > config.min_idle {
                    let stale = core
                        .idle
                        .front()
                        .and_then(|idle| idle.since)
                        .is_some_and(|since| now.saturating_duration_since(since) >= timeout);
                    if !stale {
                        break;
                    }
                    doomed.extend(core.idle.pop_front());
                }
            }
            let leaks = match config.leak_threshold {
                Some(threshold) => core.new_leaks(now, threshold),
                None => Vec::new(),
            };
            // Refill, without taking places that waiters need (they open their own) and
            // without going past `max_size`: each place is reserved before connecting.
            let mut to_open = 0;
            if core.waiting() == 0 {
                let missing = config.min_idle.saturating_sub(core.idle.len());
                to_open = missing.min(config.max_size - core.open);
                core.open += to_open;
            }
            (leaks, to_open)
        };
        // Close them outside the lock, and only then free their places, so that a waiter's
        // replacement never coexists with them.
        if !doomed.is_empty() {
            let closed = doomed.len();
            drop(doomed);
            let mut core = self.core.lock();
            core.counters.closed += closed;
            for _ in 0..closed {
                core.forget();
            }
        }

        for (taken_at, held_for) in leaks {
            (self.on_leak)(&LeakReport { held_for, taken_at });
        }

        for opened in 0..to_open {
            match self.manager.connect() {
                Ok(raw) => {
                    let now = self.tracks_time().then(|| self.clock.now());
                    let mut core = self.core.lock();
                    core.counters.created += 1;
                    core.failures_in_a_row = 0;
                    if core.closed {
                        core.counters.closed += 1;
                        core.forget();
                        drop(core);
                        drop(raw);
                    } else {
                        let born = config.max_lifetime.and(now);
                        let conn = Conn { raw, born };
                        let since = config.idle_timeout.and(now);
                        core.offer(Idle { conn, since });
                    }
                }
                Err(_) => {
                    // The backend is not answering: give the places back and try next pass.
                    let mut core = self.core.lock();
                    core.counters.connect_errors += 1;
                    core.failures_in_a_row = core.failures_in_a_row.saturating_add(1);
                    for _ in opened..to_open {
                        core.forget();
                    }
                    break;
                }
            }
        }
    }
    // ANCHOR_END: maintain
}

impl<M: Manager> PooledConnection<M> {
    /// Takes the connection out of the pool for good. The pool no longer counts it, and may
    /// open another in its place.
    pub fn detach(mut self) -> M::Connection {
        let conn = self.conn.take().expect("present until dropped");
        self.inner.release_place(self.lease.take(), 0, 0);
        conn.raw
    }

    /// Closes the connection instead of returning it (for example after an error that left
    /// it in an unknown state).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use threadsmith::pool::{Manager, Pool};
    /// # struct Unit;
    /// # impl Manager for Unit {
    /// #     type Connection = ();
    /// #     type Error = Infallible;
    /// #     fn connect(&self) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> bool { true }
    /// # }
    /// let pool = Pool::builder().build(Unit);
    /// pool.get().unwrap().discard();
    /// assert_eq!(pool.state().connections, 0);
    /// assert_eq!(pool.stats().closed, 1);
    /// ```
    pub fn discard(mut self) {
        let conn = self.conn.take().expect("present until dropped");
        drop(conn);
        self.inner.retire(self.lease.take(), 0);
    }
}

impl<M: Manager> Deref for PooledConnection<M> {
    type Target = M::Connection;
    fn deref(&self) -> &M::Connection {
        &self.conn.as_ref().expect("present until dropped").raw
    }
}

impl<M: Manager> DerefMut for PooledConnection<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn.as_mut().expect("present until dropped").raw
    }
}

impl<M: Manager> Drop for PooledConnection<M> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.inner.check_in(conn, self.lease.take());
        }
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("max_size", &self.handle.inner.config.max_size)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<M: Manager> fmt::Debug for PoolBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("PoolBuilder")
            .field("max_size", &c.max_size)
            .field("min_idle", &c.min_idle)
            .field("connection_timeout", &c.connection_timeout)
            .field("idle_timeout", &c.idle_timeout)
            .field("max_lifetime", &c.max_lifetime)
            .field("leak_threshold", &c.leak_threshold)
            .field("maintenance_interval", &c.maintenance_interval)
            .field("retry_backoff", &c.retry_backoff)
            .field("fail_fast_after", &c.fail_fast_after)
            .finish_non_exhaustive()
    }
}

/// Shows the lease, not the connection (which need not be `Debug`).
impl<M: Manager> fmt::Debug for PooledConnection<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConnection")
            .field("born", &self.conn.as_ref().and_then(|c| c.born))
            .field("leak_tracked", &self.lease.is_some())
            .finish_non_exhaustive()
    }
}
