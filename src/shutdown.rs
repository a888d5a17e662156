//! Graceful drain: stop admitting work, wait for in-flight work to finish, report how it went.
//!
//! A [`Shutdown`] counts in-flight work. Each unit of work calls [`enter`](Shutdown::enter) and
//! holds the returned [`InFlight`] guard until it is done. [`begin`](Shutdown::begin) starts
//! draining: from the moment it returns, every `enter` returns `None`.
//! [`wait`](Shutdown::wait) blocks until the count reaches zero or a timeout passes.
//!
//! # Algorithm
//! The whole admission state is one atomic word: bit 0 is the *draining* flag and the rest is
//! the in-flight count (`state = count << 1 | draining`). `enter` is a CAS loop that increments
//! the count only if the flag is clear; `begin` is a single `fetch_or` of the flag. Both are
//! read-modify-writes of the same word, so they are totally ordered: an `enter` whose CAS lands
//! after `begin`'s `fetch_or` sees the flag and fails, and the count `begin` returns is exact.
//! (The classic bug is a separate flag and counter — check the flag, then increment — which lets
//! a request slip in after `begin` counted; `check::mutants::RacyShutdown` is that bug, and the
//! loom model in `tests/loom_shutdown.rs` catches it.)
//!
//! The guard that takes the count to zero while draining records the time and wakes the waiters
//! through a mutex and condition variable: no polling, no sleeps.
//!
//! * Progress: `enter`, `begin`, `is_draining`, `in_flight` and dropping an [`InFlight`] are
//!   lock-free (the last guard out takes a short lock to wake waiters); `wait` blocks.
//! * Linearization points: the successful CAS in `enter`, the `fetch_or` in `begin`, the
//!   `fetch_sub` in `InFlight::drop`.
//! * Memory ordering: leaving is a Release decrement and `wait` reads the count with Acquire,
//!   so once `wait` reports `drained`, everything the in-flight work wrote is visible to the
//!   waiter (the decrements form one release sequence, so the last one carries all the others).
//!
//! ```
//! use std::time::Duration;
//! use threadsmith::shutdown::Shutdown;
//!
//! let shutdown = Shutdown::new();
//! let request = shutdown.enter().expect("not draining yet");
//! let worker = std::thread::spawn(move || {
//!     // ... serve the request ...
//!     drop(request); // leaving is dropping the guard
//! });
//! assert!(shutdown.begin() <= 1); // no new work from here on
//! assert!(shutdown.enter().is_none());
//! let report = shutdown.wait(Duration::from_secs(5));
//! assert!(report.drained);
//! assert_eq!(report.remaining, 0);
//! worker.join().unwrap();
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Condvar, Mutex};

/// Bit 0 of the state word: set once draining has begun.
const DRAINING: usize = 1;
/// One unit of in-flight work in the state word.
const ONE: usize = 2;

/// A drain coordinator; clones are handles to the same one.
///
/// See the [module docs](self) for the algorithm and an example.
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

struct Inner {
    /// `in_flight << 1 | DRAINING`.
    state: AtomicUsize,
    times: Mutex<Times>,
    drained: Condvar,
}

/// When the drain began and when the last in-flight unit left after that.
#[derive(Default)]
struct Times {
    begun: Option<Instant>,
    finished: Option<Instant>,
}

/// Proof that one unit of work is in flight; it leaves when dropped.
#[must_use = "the work leaves the in-flight count as soon as the guard is dropped"]
pub struct InFlight {
    inner: Arc<Inner>,
}

/// What [`Shutdown::wait`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainReport {
    /// True if the in-flight count reached zero before the timeout.
    pub drained: bool,
    /// In-flight units still running when `wait` returned (0 when `drained`).
    pub remaining: usize,
    /// From [`Shutdown::begin`] to the moment the last unit left, if drained; otherwise from
    /// `begin` to the moment `wait` gave up.
    pub took: Duration,
}

impl Shutdown {
    /// A coordinator that admits work and has nothing in flight.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(0),
                times: Mutex::new(Times::default()),
                drained: Condvar::new(),
            }),
        }
    }

    /// Admits one unit of work, or returns `None` once draining has begun.
    ///
    /// ```
    /// let shutdown = threadsmith::shutdown::Shutdown::new();
    /// let guard = shutdown.enter().unwrap();
    /// assert_eq!(shutdown.in_flight(), 1);
    /// drop(guard);
    /// assert_eq!(shutdown.in_flight(), 0);
    /// ```
    // ANCHOR: enter
    pub fn enter(&self) -> Option<InFlight> {
        let state = &self.inner.state;
        // Relaxed everywhere: the decision depends only on this one word, whose modification
        // order already totally orders `enter` against `begin`; nothing is published here.
        let mut current = state.load(Ordering::Relaxed);
        loop {
            if current & DRAINING != 0 {
                return None;
            }
            let next = current
                .checked_add(ONE)
                .expect("in-flight count overflowed usize");
            match state.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    return Some(InFlight {
                        inner: Arc::clone(&self.inner),
                    })
                }
                Err(actual) => current = actual,
            }
        }
    }
    // ANCHOR_END: enter

    /// Starts draining (idempotent) and returns how many units are in flight at this instant.
    /// Once it has returned, no `enter` succeeds.
    ///
    /// ```
    /// let shutdown = threadsmith::shutdown::Shutdown::new();
    /// let _a = shutdown.enter().unwrap();
    /// assert_eq!(shutdown.begin(), 1);
    /// assert_eq!(shutdown.begin(), 1); // idempotent
    /// assert!(shutdown.is_draining());
    /// ```
    // ANCHOR: begin
    pub fn begin(&self) -> usize {
        let mut times = self.inner.times.lock();
        // AcqRel: Acquire so that when the count is already zero, this thread sees the work of
        // every unit that left (pairs with the Release `fetch_sub` in `InFlight::drop`); Release
        // is not needed by anyone but costs nothing on an RMW we make once.
        let before = self.inner.state.fetch_or(DRAINING, Ordering::AcqRel);
        if before & DRAINING == 0 {
            let now = Instant::now();
            times.begun = Some(now);
            if before == 0 {
                times.finished = Some(now);
            }
        }
        before >> 1
    }
    // ANCHOR_END: begin

    /// True once [`begin`](Self::begin) has been called.
    pub fn is_draining(&self) -> bool {
        // Relaxed: a snapshot of the flag; it publishes nothing.
        self.inner.state.load(Ordering::Relaxed) & DRAINING != 0
    }

    /// Units in flight right now.
    pub fn in_flight(&self) -> usize {
        // Relaxed: a snapshot of the count; it publishes nothing.
        self.inner.state.load(Ordering::Relaxed) >> 1
    }

    /// Starts draining if it has not started, then blocks until nothing is in flight or
    /// `timeout` (real time) has passed, and reports which.
    ///
    /// It returns as soon as the count reaches zero: the last unit to leave wakes it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let shutdown = threadsmith::shutdown::Shutdown::new();
    /// let stuck = shutdown.enter().unwrap();
    /// let report = shutdown.wait(Duration::from_millis(10));
    /// assert!(!report.drained);
    /// assert_eq!(report.remaining, 1);
    /// drop(stuck);
    /// assert!(shutdown.wait(Duration::ZERO).drained);
    /// ```
    pub fn wait(&self, timeout: Duration) -> DrainReport {
        self.begin();
        let deadline = Instant::now().checked_add(timeout);
        let mut times = self.inner.times.lock();
        let begun = times
            .begun
            .expect("begin() records the time before wait() can lock");
        loop {
            // Acquire: pairs with the Release `fetch_sub` of every unit that left, so a
            // `drained` report comes with the visibility of their work.
            let remaining = self.inner.state.load(Ordering::Acquire) >> 1;
            if remaining == 0 {
                if let Some(finished) = times.finished {
                    return DrainReport {
                        drained: true,
                        remaining: 0,
                        took: finished.saturating_duration_since(begun),
                    };
                }
                // The last unit has left but not yet recorded the time: it is waiting for this
                // lock and will notify as soon as it has it.
                self.inner.drained.wait(&mut times);
                continue;
            }
            let timed_out = match deadline {
                Some(deadline) => {
                    Instant::now() >= deadline
                        || self.inner.drained.wait_until(&mut times, deadline)
                }
                None => {
                    self.inner.drained.wait(&mut times);
                    false
                }
            };
            if timed_out {
                // Acquire: as above.
                let remaining = self.inner.state.load(Ordering::Acquire) >> 1;
                if remaining > 0 {
                    return DrainReport {
                        drained: false,
                        remaining,
                        took: Instant::now().saturating_duration_since(begun),
                    };
                }
                // It reached zero as the wait timed out: report the drain.
            }
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

// ANCHOR: leave
impl Drop for InFlight {
    fn drop(&mut self) {
        // Release: publishes this unit's work to the Acquire load in `wait` (and to `begin`).
        let before = self.inner.state.fetch_sub(ONE, Ordering::Release);
        if before == ONE | DRAINING {
            // The last unit out of a drain. Taking the lock before notifying closes the lost
            // wake-up window: a waiter is either before its check (and will see zero) or
            // already asleep on the condvar (and gets this notification).
            let mut times = self.inner.times.lock();
            times.finished = Some(Instant::now());
            self.inner.drained.notify_all();
        }
    }
}
// ANCHOR_END: leave

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("draining", &self.is_draining())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight").finish_non_exhaustive()
    }
}
