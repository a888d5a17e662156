//! The suite for connection pools: [`Suite::check_pool`].

use std::collections::HashSet;
use std::time::Duration;

use super::{Failure, Report, Suite};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::sync::{thread, Arc, Barrier, Mutex};

/// A pool of numbered connections the suite can test.
pub trait ConcurrentPool: Send + Sync + 'static {
    /// Checks out a connection: an idle one, a new one from the [`Connector`] while fewer than
    /// the pool's `max_size` exist, or the next one returned, waiting up to `timeout` in line.
    /// `None` when none came in time.
    fn get(&self, timeout: Duration) -> Option<u64>;
    /// Returns a connection that `get` handed out.
    fn put(&self, conn: u64);
    /// How many `get` calls are blocked right now.
    fn waiting(&self) -> usize;
}

/// Opens the suite's connections, numbered 0, 1, 2, … and counted. Your pool calls
/// [`connect`](Self::connect) whenever it opens a connection.
#[derive(Clone, Debug, Default)]
pub struct Connector {
    opened: Arc<AtomicUsize>,
}

impl Connector {
    /// A connector that has opened nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a connection. It takes a moment (the thread yields), as a real connect does, so
    /// races around it show.
    pub fn connect(&self) -> u64 {
        thread::yield_now();
        // Relaxed: a counter whose value is the connection's name; nothing else is published.
        self.opened.fetch_add(1, Ordering::Relaxed) as u64
    }

    /// How many connections were opened.
    pub fn opened(&self) -> usize {
        // Relaxed: read after the threads that connected were joined (join synchronizes).
        self.opened.load(Ordering::Relaxed)
    }
}

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Pool { check, detail }
}

/// Patience for a `get` that must succeed: long, so a slow machine never fails a good pool.
const PATIENT: Duration = Duration::from_secs(20);
/// Fresh pools in the `bound` phase.
const BOUND_ROUNDS: usize = 5;
/// A `get` that must time out.
const SHORT: Duration = Duration::from_millis(20);

impl Suite {
    /// Runs the pool suite on pools made by `new(max_size, connector)`, each phase under the
    /// [`stall_timeout`](Self::stall_timeout) watchdog:
    /// 1. **basics** (`max_size` 2): two `get`s give two different connections, a third times
    ///    out, and a returned connection is reused rather than a new one opened;
    /// 2. **bound** (`max_size` 3, five fresh pools): 8 threads start together and check out
    ///    and return connections (`stress(_, ops)` sets how many each, over the five pools;
    ///    2,000 by default); no connection is ever held by two threads, never more than 3 are
    ///    held, and at most 3 are ever opened;
    /// 3. **fairness** (`max_size` 1): while one holder keeps the only connection, 6 threads
    ///    queue in a known order; they must be served in that order;
    /// 4. **timeouts** (`max_size` 2): 4 threads hammer the pool with 100 µs timeouts; then
    ///    both connections must still be there: a waiter that gave up must not have swallowed
    ///    one.
    ///
    /// Failures are [`Failure::Pool`] naming the check (`basics`, `bound`, `fairness`,
    /// `timeouts`), or [`Failure::Stalled`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadsmith::check::conformance::{Connector, Suite};
    /// use threadsmith::check::reference::TicketPool;
    ///
    /// Suite::new()
    ///     .stress(8, 200)
    ///     .check_pool(TicketPool::new)
    ///     .expect("the reference pool conforms");
    /// ```
    pub fn check_pool<P: ConcurrentPool>(
        &self,
        new: impl Fn(usize, Connector) -> P,
    ) -> Result<Report, Failure> {
        let connector = Connector::new();
        let pool = Arc::new(new(2, connector.clone()));
        self.watched("basics", move || basics(&*pool, &connector))??;

        let ops = if self.stress_ops == 0 {
            2_000
        } else {
            self.stress_ops.min(2_000)
        };
        // Five fresh pools: the race to open the first connections happens once per pool.
        let mut checkouts = 0;
        for _ in 0..BOUND_ROUNDS {
            let connector = Connector::new();
            let pool = Arc::new(new(3, connector.clone()));
            let per_thread = ops.div_ceil(BOUND_ROUNDS);
            checkouts +=
                self.watched("bound", move || bound(pool, &connector, 3, 8, per_thread))??;
        }

        let pool = Arc::new(new(1, Connector::new()));
        self.watched("fairness", move || fairness(pool, 6))??;

        let pool = Arc::new(new(2, Connector::new()));
        self.watched("timeouts", move || timeouts(pool, 2))??;

        Ok(Report {
            sequential_ops: 6,
            histories: 0,
            stress_values: checkouts,
        })
    }
}

fn basics<P: ConcurrentPool>(pool: &P, connector: &Connector) -> Result<(), Failure> {
    let (Some(a), Some(b)) = (pool.get(PATIENT), pool.get(PATIENT)) else {
        return Err(fail(
            "basics",
            "an empty pool of 2 refused a checkout".into(),
        ));
    };
    if a == b {
        return Err(fail("basics", format!("connection {a} handed out twice")));
    }
    if let Some(c) = pool.get(SHORT) {
        return Err(fail(
            "basics",
            format!("a third connection ({c}) from a pool of 2 with both in use"),
        ));
    }
    pool.put(a);
    if pool.get(PATIENT) != Some(a) {
        return Err(fail(
            "basics",
            "the one idle connection was not the one handed out".into(),
        ));
    }
    if connector.opened() != 2 {
        return Err(fail(
            "basics",
            format!("{} connections opened where 2 do", connector.opened()),
        ));
    }
    pool.put(a);
    pool.put(b);
    Ok(())
}

fn bound<P: ConcurrentPool>(
    pool: Arc<P>,
    connector: &Connector,
    max_size: usize,
    threads: usize,
    ops: usize,
) -> Result<usize, Failure> {
    let held = Mutex::new(HashSet::new());
    // Set at the first failure, so the other threads stop instead of waiting on a pool that
    // may now be broken.
    let failed = AtomicBool::new(false);
    let checkout = || {
        let Some(conn) = pool.get(PATIENT) else {
            return Err(fail("bound", "a get timed out under load".into()));
        };
        let mut now_held = held.lock();
        let verdict = if !now_held.insert(conn) {
            Err(fail(
                "bound",
                format!("connection {conn} held by two threads at once"),
            ))
        } else if now_held.len() > max_size {
            Err(fail(
                "bound",
                format!(
                    "{} connections held at once, max_size {max_size}",
                    now_held.len()
                ),
            ))
        } else {
            Ok(())
        };
        drop(now_held);
        thread::yield_now();
        held.lock().remove(&conn);
        pool.put(conn);
        verdict
    };
    // All threads start together, so they meet the empty pool at once.
    let start = Barrier::new(threads);
    let result = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..ops {
                        // Relaxed: a hint to stop early; the verdicts travel through `join`.
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Err(failure) = checkout() {
                            failed.store(true, Ordering::Relaxed);
                            return Err(failure);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    result?;
    if connector.opened() > max_size {
        return Err(fail(
            "bound",
            format!(
                "{} connections opened, max_size {max_size}",
                connector.opened()
            ),
        ));
    }
    Ok(threads * ops)
}

fn fairness<P: ConcurrentPool>(pool: Arc<P>, waiters: usize) -> Result<(), Failure> {
    let Some(only) = pool.get(PATIENT) else {
        return Err(fail("fairness", "an empty pool refused a checkout".into()));
    };
    let served = Mutex::new(Vec::new());
    thread::scope(|s| {
        for i in 0..waiters {
            let (pool, served) = (&pool, &served);
            s.spawn(move || {
                if let Some(conn) = pool.get(PATIENT) {
                    served.lock().push(i);
                    pool.put(conn);
                }
            });
            // The next one starts only once this one is in line (the watchdog bounds this).
            while pool.waiting() <= i {
                thread::yield_now();
            }
        }
        pool.put(only);
    });
    let served = served.into_inner();
    if served != (0..waiters).collect::<Vec<_>>() {
        return Err(fail(
            "fairness",
            format!("waiters queued as 0..{waiters} were served as {served:?}"),
        ));
    }
    Ok(())
}

fn timeouts<P: ConcurrentPool>(pool: Arc<P>, max_size: usize) -> Result<(), Failure> {
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..500 {
                    if let Some(conn) = pool.get(Duration::from_micros(100)) {
                        thread::yield_now();
                        pool.put(conn);
                    }
                }
            });
        }
    });
    let mut back = Vec::new();
    for _ in 0..max_size {
        match pool.get(PATIENT) {
            Some(conn) => back.push(conn),
            None => {
                return Err(fail(
                    "timeouts",
                    format!(
                        "only {} of {max_size} connections came back: one went to a waiter that had given up",
                        back.len()
                    ),
                ))
            }
        }
    }
    for conn in back {
        pool.put(conn);
    }
    Ok(())
}

macro_rules! pool_impl {
    ($($ty:ty),+) => {$(
        impl ConcurrentPool for $ty {
            fn get(&self, timeout: Duration) -> Option<u64> { <$ty>::get(self, timeout) }
            fn put(&self, conn: u64) { <$ty>::put(self, conn) }
            fn waiting(&self) -> usize { <$ty>::waiting(self) }
        }
    )+};
}
pool_impl!(
    crate::check::reference::TicketPool,
    crate::check::mutants::OvercommitPool,
    crate::check::mutants::NewestFirstPool
);
