//! The connection pool: the size bound under contention, fairness, validation, a dead backend,
//! lifetimes and idle timeouts on a `ManualClock`, leaks, panics, close, and the maintenance
//! thread's lifetime.
#![cfg(not(loom))] // real threads: not a loom model

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use threadsmith::clock::ManualClock;
use threadsmith::pool::{LeakReport, Manager, Pool, PoolError, State};

/// A connect error for the tests' managers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Down;
impl fmt::Display for Down {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("backend down")
    }
}
impl std::error::Error for Down {}

/// Shared between a manager and its test: what exists, what happened.
#[derive(Default, Debug)]
struct Backend {
    live: AtomicUsize,
    max_live: AtomicUsize,
    connects: AtomicUsize,
    down: AtomicBool,
    /// Every connection whose id is a multiple of this (when non-zero) turns invalid after
    /// its first use.
    spoil_every: AtomicUsize,
    /// `has_broken` says yes for connections whose id is a multiple of this (when non-zero).
    break_every: AtomicUsize,
    dropped_manager: AtomicBool,
}

/// A connection that counts itself in and out of existence.
#[derive(Debug)]
struct Conn {
    id: usize,
    uses: usize,
    valid: bool,
    backend: Arc<Backend>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.backend.live.fetch_sub(1, SeqCst);
    }
}

struct Counting(Arc<Backend>);

impl Manager for Counting {
    type Connection = Conn;
    type Error = Down;

    fn connect(&self) -> Result<Conn, Down> {
        let backend = &self.0;
        if backend.down.load(SeqCst) {
            return Err(Down);
        }
        thread::yield_now(); // a connect takes a while: widen the window for races
        let id = backend.connects.fetch_add(1, SeqCst);
        let live = backend.live.fetch_add(1, SeqCst) + 1;
        backend.max_live.fetch_max(live, SeqCst);
        Ok(Conn {
            id,
            uses: 0,
            valid: true,
            backend: Arc::clone(backend),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> bool {
        let spoil = self.0.spoil_every.load(SeqCst);
        if spoil != 0 && conn.id % spoil == 0 && conn.uses > 0 {
            conn.valid = false;
        }
        conn.valid
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        let every = self.0.break_every.load(SeqCst);
        every != 0 && conn.id % every == 0
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.0.dropped_manager.store(true, SeqCst);
    }
}

fn backend() -> Arc<Backend> {
    Arc::new(Backend::default())
}

/// A builder with no time-based maintenance, so only what a test does happens.
fn quiet() -> threadsmith::pool::PoolBuilder<Counting> {
    Pool::builder()
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(Duration::from_secs(30))
}

fn use_conn(conn: &mut Conn) {
    assert!(
        conn.valid,
        "the pool handed out a connection that failed is_valid"
    );
    conn.uses += 1;
}

#[test]
fn never_exceeds_max_size_with_sixteen_threads() {
    let backend = backend();
    // Some connections go bad and some break, so replacements race with checkouts too.
    backend.spoil_every.store(3, SeqCst);
    backend.break_every.store(4, SeqCst);
    let pool = quiet().max_size(4).build(Counting(Arc::clone(&backend)));
    let holding = AtomicUsize::new(0);
    let max_holding = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                for _ in 0..200 {
                    let mut conn = pool.get().expect("a connection within 30 s");
                    let now = holding.fetch_add(1, SeqCst) + 1;
                    max_holding.fetch_max(now, SeqCst);
                    use_conn(&mut conn);
                    thread::yield_now();
                    holding.fetch_sub(1, SeqCst);
                }
            });
        }
    });
    assert!(
        backend.max_live.load(SeqCst) <= 4,
        "more than max_size connections existed"
    );
    assert!(max_holding.load(SeqCst) <= 4);
    let state = pool.state();
    assert_eq!(state.in_use, 0);
    assert_eq!(state.waiting, 0);
    assert_eq!(state.connections, backend.live.load(SeqCst));
    assert_eq!(state.connections, state.idle);
    let stats = pool.stats();
    assert_eq!(stats.gets, 16 * 200);
    assert_eq!(stats.created - stats.closed, state.connections);
    assert!(
        stats.invalid > 0 && stats.broken > 0,
        "the replacement paths ran: {stats:?}"
    );
}

#[test]
fn exhausted_pool_times_out() {
    let backend = backend();
    let pool = quiet()
        .max_size(1)
        .connection_timeout(Duration::from_millis(50))
        .build(Counting(Arc::clone(&backend)));
    let held = pool.get().unwrap();
    match pool.get() {
        Err(PoolError::Timeout { last_error: None }) => {}
        other => panic!("expected a timeout without a connect error, got {other:?}"),
    }
    assert_eq!(pool.stats().timeouts, 1);
    drop(held);
    assert!(
        pool.get().is_ok(),
        "the pool recovers when the holder returns"
    );
}

#[test]
fn invalid_connections_are_never_handed_out() {
    let backend = backend();
    backend.spoil_every.store(2, SeqCst);
    let pool = quiet().max_size(3).build(Counting(Arc::clone(&backend)));
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..100 {
                    use_conn(&mut pool.get().unwrap());
                }
            });
        }
    });
    let stats = pool.stats();
    assert!(
        stats.invalid > 0,
        "some checkouts found a spoiled connection"
    );
    assert_eq!(stats.invalid, stats.closed, "each was closed");
}

#[test]
fn broken_connections_are_closed_on_return() {
    let backend = backend();
    backend.break_every.store(1, SeqCst);
    let pool = quiet().max_size(2).build(Counting(Arc::clone(&backend)));
    drop(pool.get().unwrap());
    assert_eq!(pool.state(), State::default());
    assert_eq!(backend.live.load(SeqCst), 0);
    assert_eq!(pool.stats().broken, 1);
}

#[test]
fn a_dead_backend_fails_fast_then_recovers() {
    let backend = backend();
    backend.down.store(true, SeqCst);
    // An hour's timeout: only failing fast can make this test finish.
    let pool = quiet()
        .connection_timeout(Duration::from_secs(3600))
        .retry_backoff(Duration::from_millis(1))
        .build(Counting(Arc::clone(&backend)));
    match pool.get() {
        Err(PoolError::Timeout {
            last_error: Some(Down),
        }) => {}
        other => panic!("expected a timeout carrying the connect error, got {other:?}"),
    }
    let stats = pool.stats();
    assert_eq!(
        stats.connect_errors, 3,
        "three tries, then the backend counts as down"
    );
    assert_eq!(pool.state(), State::default(), "no place is left reserved");

    backend.down.store(false, SeqCst);
    let conn = pool.get().expect("the backend is back");
    assert_eq!(conn.id, 0);
}

#[test]
fn without_fail_fast_a_dead_backend_is_retried_until_the_timeout() {
    let backend = backend();
    backend.down.store(true, SeqCst);
    let pool = quiet()
        .connection_timeout(Duration::from_millis(60))
        .retry_backoff(Duration::from_millis(1))
        .fail_fast_after(None)
        .build(Counting(Arc::clone(&backend)));
    let err = pool.get().unwrap_err();
    assert!(matches!(
        err,
        PoolError::Timeout {
            last_error: Some(Down)
        }
    ));
    assert_eq!(
        err.to_string(),
        "timed out getting a connection; last connect error: backend down"
    );
    assert!(pool.stats().connect_errors >= 2, "it retried");
}

#[test]
fn does_not_fail_fast_while_a_connection_could_come_back() {
    let backend = backend();
    let pool = quiet()
        .max_size(2)
        .connection_timeout(Duration::from_secs(30))
        .retry_backoff(Duration::from_millis(1))
        .build(Counting(Arc::clone(&backend)));
    let held = pool.get().unwrap();
    backend.down.store(true, SeqCst);
    thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().map(|c| c.id));
        // Let it fail several times: it must keep trying, since `held` can come back.
        while pool.stats().connect_errors < 5 {
            thread::yield_now();
        }
        drop(held);
        assert_eq!(
            waiter.join().unwrap().expect("got the returned connection"),
            0
        );
    });
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let backend = backend();
    let pool = quiet().max_size(1).build(Counting(Arc::clone(&backend)));
    let held = pool.get().unwrap();
    let order = Mutex::new(Vec::new());
    thread::scope(|s| {
        for i in 0..8 {
            let (pool, order) = (&pool, &order);
            s.spawn(move || {
                let conn = pool.get().unwrap();
                order.lock().unwrap().push(i);
                drop(conn);
            });
            // Each waiter is queued before the next one starts.
            while pool.state().waiting < i + 1 {
                thread::yield_now();
            }
        }
        // A newcomer arriving now must queue behind all eight, not barge in.
        assert_eq!(pool.state().waiting, 8);
        drop(held);
    });
    assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
    assert_eq!(pool.stats().waits, 8);
}

#[test]
fn waiters_that_time_out_never_swallow_a_connection() {
    let backend = backend();
    let pool = quiet()
        .max_size(1)
        .connection_timeout(Duration::from_micros(200))
        .build(Counting(Arc::clone(&backend)));
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..300 {
                    if let Ok(mut conn) = pool.get() {
                        use_conn(&mut conn);
                    }
                }
            });
        }
    });
    assert_eq!(
        pool.state(),
        State {
            connections: 1,
            idle: 1,
            in_use: 0,
            waiting: 0
        },
        "the one connection is back in the pool, not lost to a waiter that gave up"
    );
    assert!(pool.get().is_ok());
}

#[test]
fn a_connection_whose_holder_panicked_is_discarded() {
    let backend = backend();
    let pool = quiet().build(Counting(Arc::clone(&backend)));
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let _conn = pool.get().unwrap();
        panic!("mid-transaction");
    }));
    assert!(result.is_err());
    assert_eq!(pool.state(), State::default(), "not returned to the pool");
    assert_eq!(backend.live.load(SeqCst), 0, "closed");
    assert_eq!(pool.get().unwrap().id, 1, "a fresh connection replaces it");
}

#[test]
fn max_lifetime_closes_old_connections_but_never_while_in_use() {
    let backend = backend();
    let clock = ManualClock::new();
    let pool = quiet()
        .max_lifetime(Some(Duration::from_secs(60)))
        .maintenance_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .build(Counting(Arc::clone(&backend)));
    drop(pool.get().unwrap());
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        pool.get().unwrap().id,
        1,
        "checkout replaced the expired connection"
    );

    let held = pool.get().unwrap();
    clock.advance(Duration::from_secs(61));
    pool.run_maintenance();
    assert_eq!(pool.state().in_use, 1, "in use: left alone");
    assert_eq!(backend.live.load(SeqCst), 1);
    drop(held);
    assert_eq!(
        pool.state().connections,
        0,
        "closed on return instead of reused"
    );

    drop(pool.get().unwrap()); // id 2, idle now
    clock.advance(Duration::from_secs(61));
    pool.run_maintenance();
    assert_eq!(
        pool.state().idle,
        0,
        "the reaper closes an expired idle connection"
    );
}

#[test]
fn idle_timeout_reaps_down_to_min_idle_and_no_further() {
    let backend = backend();
    let clock = ManualClock::new();
    let pool = quiet()
        .max_size(6)
        .min_idle(2)
        .idle_timeout(Some(Duration::from_secs(60)))
        .maintenance_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .build(Counting(Arc::clone(&backend)));
    assert_eq!(pool.state().idle, 2, "build opens min_idle connections");

    let held: Vec<_> = (0..5).map(|_| pool.get().unwrap()).collect();
    drop(held);
    assert_eq!(pool.state().idle, 5);
    clock.advance(Duration::from_secs(30));
    let touched = pool.get().unwrap(); // the warmest one: used again, fresh idle time
    drop(touched);
    clock.advance(Duration::from_secs(31));
    pool.run_maintenance();
    assert_eq!(pool.state().idle, 2, "reaped to min_idle");
    clock.advance(Duration::from_secs(3600));
    pool.run_maintenance();
    assert_eq!(pool.state().idle, 2, "never below min_idle by reaping");
    assert_eq!(backend.live.load(SeqCst), 2);
}

#[test]
fn maintenance_refills_min_idle_after_the_backend_recovers() {
    let backend = backend();
    backend.down.store(true, SeqCst);
    let pool = quiet()
        .max_size(4)
        .min_idle(3)
        .maintenance_interval(Duration::from_secs(3600))
        .build(Counting(Arc::clone(&backend)));
    assert_eq!(pool.state(), State::default(), "nothing could be opened");
    backend.down.store(false, SeqCst);
    pool.run_maintenance();
    assert_eq!(pool.state().idle, 3);
    let _a = pool.get().unwrap();
    let _b = pool.get().unwrap();
    pool.run_maintenance();
    assert_eq!(pool.state().connections, 4, "refilling stops at max_size");
}

#[test]
fn a_leak_is_reported_once_with_where_it_was_taken() {
    let backend = backend();
    let clock = ManualClock::new();
    let reports: Arc<Mutex<Vec<LeakReport>>> = Arc::default();
    let sink = Arc::clone(&reports);
    let pool = quiet()
        .leak_threshold(Some(Duration::from_secs(10)))
        .on_leak(move |report| sink.lock().unwrap().push(*report))
        .maintenance_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .build(Counting(Arc::clone(&backend)));
    let line = line!() + 1;
    let leaked = pool.get().unwrap();
    drop(pool.get().unwrap()); // returned promptly: never reported
    clock.advance(Duration::from_secs(9));
    pool.run_maintenance();
    assert!(
        reports.lock().unwrap().is_empty(),
        "not yet past the threshold"
    );
    clock.advance(Duration::from_secs(2));
    pool.run_maintenance();
    pool.run_maintenance();
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "reported once");
    assert_eq!(reports[0].held_for, Duration::from_secs(11));
    assert_eq!(reports[0].taken_at.file(), file!());
    assert_eq!(reports[0].taken_at.line(), line);
    assert_eq!(pool.stats().leaks, 1);
    drop(leaked);
}

#[test]
fn close_wakes_waiters_and_closes_connections_as_they_return() {
    let backend = backend();
    let pool = quiet().max_size(1).build(Counting(Arc::clone(&backend)));
    let held = pool.get().unwrap();
    thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().map(|c| c.id));
        while pool.state().waiting == 0 {
            thread::yield_now();
        }
        pool.close();
        assert!(matches!(waiter.join().unwrap(), Err(PoolError::Closed)));
    });
    assert!(matches!(pool.get(), Err(PoolError::Closed)));
    assert_eq!(PoolError::<Down>::Closed.to_string(), "the pool is closed");
    drop(held);
    assert_eq!(pool.state(), State::default());
    assert_eq!(backend.live.load(SeqCst), 0);
}

#[test]
fn detach_and_discard_free_the_place() {
    let backend = backend();
    let pool = quiet().max_size(1).build(Counting(Arc::clone(&backend)));
    let raw = pool.get().unwrap().detach();
    assert_eq!(pool.state(), State::default());
    assert_eq!(pool.get().unwrap().id, 1, "a new one fits");
    pool.get().unwrap().discard();
    assert_eq!(pool.state(), State::default());
    assert_eq!(
        backend.live.load(SeqCst),
        1,
        "only the detached one lives on"
    );
    drop(raw);
}

#[test]
fn dropping_the_last_handle_stops_the_maintenance_thread() {
    let backend = backend();
    let pool = Pool::builder()
        .min_idle(1)
        .maintenance_interval(Duration::from_secs(3600))
        .build(Counting(Arc::clone(&backend)));
    let clone = pool.clone();
    drop(pool);
    assert!(clone.get().is_ok(), "a clone keeps the pool working");
    drop(clone);
    // The thread held the pool (and so the manager); it was joined, so all is gone now.
    assert!(backend.dropped_manager.load(SeqCst));
    assert_eq!(backend.live.load(SeqCst), 0);
}

#[test]
fn a_connection_outlives_its_pool_handles() {
    let backend = backend();
    let pool = quiet().build(Counting(Arc::clone(&backend)));
    let conn = pool.get().unwrap();
    drop(pool);
    assert!(
        !backend.dropped_manager.load(SeqCst),
        "the connection keeps it alive"
    );
    drop(conn);
    assert!(backend.dropped_manager.load(SeqCst));
    assert_eq!(backend.live.load(SeqCst), 0);
}

#[test]
#[should_panic(expected = "max_size must be at least 1")]
fn zero_max_size_is_refused() {
    let _ = Pool::builder().max_size(0).build(Counting(backend()));
}

#[test]
#[should_panic(expected = "min_idle (5) cannot exceed max_size (4)")]
fn min_idle_above_max_size_is_refused() {
    let _ = Pool::builder()
        .max_size(4)
        .min_idle(5)
        .build(Counting(backend()));
}

#[test]
fn pools_and_errors_are_send_sync_and_debug() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Pool<Counting>>();
    send_sync::<PoolError<Down>>();
    let pool = quiet().build(Counting(backend()));
    let conn = pool.get().unwrap();
    assert!(format!("{pool:?}").contains("in_use: 1"));
    assert!(format!("{conn:?}").starts_with("PooledConnection"));
    let err: Box<dyn std::error::Error> = Box::new(PoolError::Timeout {
        last_error: Some(Down),
    });
    assert_eq!(err.source().unwrap().to_string(), "backend down");
}
