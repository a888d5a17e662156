//! The sliding-window counter.

use std::fmt;
use std::time::{Duration, Instant};

use super::{window_nanos, RateLimiter};
use crate::clock::{nanos_between, nanos_since};
use crate::clock::{Clock, SystemClock};
use crate::sync::Mutex;

/// An approximate sliding window in O(1) memory: it counts admissions in fixed windows of length
/// `window` and estimates the sliding window `(t - window, t]` as the current fixed window's
/// count plus the previous one's, weighted by how much of it the sliding window still covers.
///
/// **Error bound.** The estimate assumes the previous window's admissions were spread evenly.
/// It is exact when they were, and it never lets a *fixed* window hold more than `limit`.
/// When the previous window's admissions were bunched at its end, though, a sliding window
/// that straddles the boundary can hold up to `2 × limit - 1` admissions. When they were
/// bunched at its start, it admits fewer than the exact [`SlidingWindowLog`](super::SlidingWindowLog)
/// would. The weighted share is rounded up, so rounding never admits extra. On steady random
/// traffic the two differ by a few percent; `tests/ratelimit.rs` measures it.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::clock::ManualClock;
/// use threadsmith::ratelimit::{RateLimiter, SlidingWindowCounter};
///
/// let clock = ManualClock::new();
/// let counter = SlidingWindowCounter::with_clock(10, Duration::from_secs(1), clock.clone());
/// assert!(counter.try_acquire_n(10));
/// clock.advance(Duration::from_millis(1_500)); // halfway through the next window
/// // The estimate counts half of the previous window's 10: 5 more fit.
/// assert!(counter.try_acquire_n(5));
/// assert!(!counter.try_acquire());
/// ```
pub struct SlidingWindowCounter<C = SystemClock> {
    limit: u64,
    window: u64,
    state: Mutex<Windows>,
    clock: C,
    origin: Instant,
}

#[derive(Debug, Default)]
struct Windows {
    /// Which fixed window `current` counts: `now / window`.
    index: u64,
    previous: u64,
    current: u64,
}

impl SlidingWindowCounter {
    /// About `limit` admissions per sliding `window`, on the system clock.
    ///
    /// # Panics
    /// If `limit` is 0 or `window` is zero.
    pub fn new(limit: u64, window: Duration) -> Self {
        Self::with_clock(limit, window, SystemClock)
    }
}

impl<C: Clock> SlidingWindowCounter<C> {
    /// About `limit` admissions per sliding `window`, reading time from `clock`.
    ///
    /// # Panics
    /// If `limit` is 0 or `window` is zero.
    pub fn with_clock(limit: u64, window: Duration, clock: C) -> Self {
        let window = window_nanos("SlidingWindowCounter", limit, window);
        let origin = clock.now();
        Self {
            limit,
            window,
            state: Mutex::new(Windows::default()),
            clock,
            origin,
        }
    }

    /// The estimated admissions in the sliding window ending now.
    pub fn estimate(&self) -> u64 {
        let now = nanos_since(&self.clock, self.origin);
        let mut state = self.state.lock();
        self.estimate_at(&mut state, now)
    }

    /// Rolls the fixed windows forward to `now`, then returns the weighted estimate.
    fn estimate_at(&self, state: &mut Windows, now: u64) -> u64 {
        let index = now / self.window;
        if index != state.index {
            state.previous = if index == state.index + 1 {
                state.current
            } else {
                0 // a whole window (or more) went by with nothing
            };
            state.current = 0;
            state.index = index;
        }
        let elapsed = now - index * self.window;
        let remaining = u128::from(self.window - elapsed);
        let weighted = (u128::from(state.previous) * remaining).div_ceil(u128::from(self.window));
        // `weighted <= previous`, which fits in a u64.
        state.current.saturating_add(weighted as u64)
    }
}

impl<C: Clock> RateLimiter for SlidingWindowCounter<C> {
    fn try_acquire_n(&self, n: u64) -> bool {
        self.try_acquire_n_at(n, self.clock.now())
    }

    fn try_acquire_n_at(&self, n: u64, now: Instant) -> bool {
        if n == 0 {
            return true;
        }
        if n > self.limit {
            return false;
        }
        let now = nanos_between(self.origin, now);
        let mut state = self.state.lock();
        if self.estimate_at(&mut state, now).saturating_add(n) > self.limit {
            return false;
        }
        state.current += n;
        true
    }
}

impl<C: Clock> fmt::Debug for SlidingWindowCounter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowCounter")
            .field("limit", &self.limit)
            .field("window", &Duration::from_nanos(self.window))
            .field("estimate", &self.estimate())
            .finish_non_exhaustive()
    }
}
