//! Time as a dependency: every time-dependent component reads a [`Clock`].
//!
//! Production code uses [`SystemClock`] (`Instant::now()`). Tests use [`ManualClock`], whose time
//! moves only when [`ManualClock::advance`] is called, so expiry, refill and lifetimes are tested
//! exactly, without sleeping (sleep-based tests flake on a loaded two-core machine). The fake
//! clock is public so that you can test *your* code the same way.
//!
//! ```
//! use std::time::Duration;
//! use threadsmith::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new();
//! let other = clock.clone(); // clones share one time
//! let t0 = clock.now();
//! other.advance(Duration::from_secs(90));
//! assert_eq!(clock.now() - t0, Duration::from_secs(90));
//! ```
//!
//! Blocking waits with a timeout (`Shutdown::wait`, `BoundedQueue::push_timeout`, ...) measure
//! real time, whatever clock a component was given: a fake clock cannot wake a sleeping thread.

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;

/// A source of monotonic time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant. Never goes backwards.
    fn now(&self) -> Instant;
}

/// The real clock: [`Instant::now()`].
///
/// ```
/// use threadsmith::clock::{Clock, SystemClock};
/// let a = SystemClock.now();
/// assert!(SystemClock.now() >= a);
/// ```
#[derive(Clone, Copy, Default, Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until [`advance`](Self::advance)d. Clones share one time: an
/// advance through any clone is seen at once by all of them, from any thread.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// assert_eq!(clock.now(), start); // no time passes by itself
/// clock.advance(Duration::from_millis(250));
/// assert_eq!(clock.elapsed(), Duration::from_millis(250));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    shared: Arc<ManualTime>,
}

struct ManualTime {
    origin: Instant,
    /// Nanoseconds advanced since `origin`; saturates at `u64::MAX` (about 584 years).
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A new clock, standing at the real time of its creation.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(ManualTime {
                origin: Instant::now(),
                offset_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// Moves time forward by `by`, for every clone. Saturates after about 584 years in total.
    pub fn advance(&self, by: Duration) {
        let by = saturating_nanos(by);
        // Release: a thread that reads the new time (Acquire in `elapsed`) also sees what this
        // thread wrote before advancing, so a test can advance, then hand work to another thread.
        // `fetch_update` never fails here because the closure always returns `Some`.
        let _ = self
            .shared
            .offset_nanos
            .fetch_update(Ordering::Release, Ordering::Relaxed, |t| {
                Some(t.saturating_add(by))
            });
    }

    /// Total time advanced since this clock (or the clone it came from) was created.
    pub fn elapsed(&self) -> Duration {
        // Acquire: pairs with the Release in `advance`.
        Duration::from_nanos(self.shared.offset_nanos.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let origin = self.shared.origin;
        // `Instant` cannot represent every offset on every platform; stand still rather than
        // panic if an absurd advance overflows it.
        origin
            .checked_add(self.elapsed())
            .unwrap_or(origin + Duration::from_secs(u32::MAX as u64))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &'static C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn advance_is_seen_by_every_clone_from_any_thread() {
        let clock = ManualClock::new();
        let t0 = clock.now();
        let clones: Vec<ManualClock> = (0..4).map(|_| clock.clone()).collect();
        std::thread::spawn({
            let c = clones[3].clone();
            move || c.advance(Duration::from_secs(5))
        })
        .join()
        .unwrap();
        for c in &clones {
            assert_eq!(c.now() - t0, Duration::from_secs(5));
        }
    }

    #[test]
    fn a_fresh_clock_does_not_share_time_with_another() {
        let a = ManualClock::new();
        let b = ManualClock::new();
        a.advance(Duration::from_secs(1));
        assert_eq!(b.elapsed(), Duration::ZERO);
    }

    #[test]
    fn advancing_by_centuries_saturates_instead_of_panicking() {
        let clock = ManualClock::new();
        let t0 = clock.now();
        clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
        clock.advance(Duration::MAX);
        assert!(clock.now() > t0);
        assert_eq!(clock.elapsed(), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn clocks_work_behind_pointers() {
        let manual = ManualClock::new();
        let shared: std::sync::Arc<dyn Clock> = std::sync::Arc::new(manual.clone());
        let t0 = shared.now();
        manual.advance(Duration::from_millis(3));
        assert_eq!(shared.now() - t0, Duration::from_millis(3));
    }
}

/// `d` in whole nanoseconds, saturating at `u64::MAX` (about 584 years). The crate's
/// time-dependent components keep their times as nanoseconds since an origin `Instant`, so
/// their state fits in one `u64` and their arithmetic is integer.
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds from `origin` to `now`, saturating (0 if `now` is earlier).
pub(crate) fn nanos_between(origin: Instant, now: Instant) -> u64 {
    saturating_nanos(now.saturating_duration_since(origin))
}

/// Nanoseconds from `origin` to `clock`'s now.
pub(crate) fn nanos_since<C: Clock>(clock: &C, origin: Instant) -> u64 {
    nanos_between(origin, clock.now())
}
