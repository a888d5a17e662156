//! Known-buggy variants: small, deliberately wrong implementations that the proofs must reject.
//!
//! Each is the classic mistake for its kind of object, written the way it is usually written.
//! The crate's tests run the same checks on the mutant as on the real thing and assert that the
//! mutant is caught; interviewers can hand them out as "find the bug" exercises.
//!
//! | mutant | bug | caught by |
//! | --- | --- | --- |
//! | [`LostUpdateCounter`] | `fetch_add` as a load then a store | [`linearizable`](super::linearizable) on histories from real threads |
//! | [`RacyShutdown`] | admission as check-the-flag-then-count | the loom model in `tests/loom_shutdown.rs` |

use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::sync::{thread, Arc};

// ANCHOR: lost_update
/// A counter whose `fetch_add` reads, then writes: two threads can read the same value and one
/// increment is lost. The yield between the two steps stands in for a preemption, so the race
/// shows up in seconds rather than hours on a two-core machine.
///
/// ```
/// use threadsmith::check::mutants::LostUpdateCounter;
/// let c = LostUpdateCounter::new();
/// assert_eq!(c.fetch_add(1), 0);
/// assert_eq!(c.get(), 1); // correct when alone; wrong under contention
/// ```
#[derive(Debug, Default)]
pub struct LostUpdateCounter {
    value: AtomicU64,
}

impl LostUpdateCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` and returns the value before — not atomically.
    pub fn fetch_add(&self, n: u64) -> u64 {
        let before = self.value.load(Ordering::SeqCst);
        thread::yield_now();
        self.value.store(before.wrapping_add(n), Ordering::SeqCst); // BUG: should be one RMW
        before
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
    }
}
// ANCHOR_END: lost_update

// ANCHOR: racy_shutdown
/// A drain coordinator with the draining flag and the in-flight count in two atomics: `enter`
/// checks the flag, then counts. A request can check the flag just before `begin` sets it and
/// count itself just after `begin` read the count: it is admitted after `begin` returned, and
/// `begin` under-reports the work in flight. Compare [`crate::shutdown::Shutdown`], which keeps
/// both in one word. Clones are handles to one coordinator.
#[derive(Clone, Debug, Default)]
pub struct RacyShutdown {
    inner: Arc<RacyState>,
}

#[derive(Debug, Default)]
struct RacyState {
    draining: AtomicBool,
    in_flight: AtomicUsize,
}

/// The guard of [`RacyShutdown::enter`]; leaves on drop.
#[derive(Debug)]
pub struct RacyInFlight {
    inner: Arc<RacyState>,
}

impl RacyShutdown {
    /// A coordinator that admits work.
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits one unit of work unless draining — with a window between check and count.
    pub fn enter(&self) -> Option<RacyInFlight> {
        if self.inner.draining.load(Ordering::SeqCst) {
            return None;
        }
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst); // BUG: `begin` may have run in between
        Some(RacyInFlight {
            inner: Arc::clone(&self.inner),
        })
    }

    /// Starts draining and returns the in-flight count.
    pub fn begin(&self) -> usize {
        self.inner.draining.store(true, Ordering::SeqCst);
        self.inner.in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for RacyInFlight {
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
// ANCHOR_END: racy_shutdown
