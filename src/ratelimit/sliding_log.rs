//! The sliding-window log.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::{window_nanos, RateLimiter};
use crate::clock::{nanos_between, nanos_since};
use crate::clock::{Clock, SystemClock};
use crate::sync::Mutex;

/// An exact sliding window: never more than `limit` admissions in any window `(t - window, t]`.
/// An admission at time `s` leaves the window exactly `window` later.
///
/// It remembers the time of every admission still in the window (as `(time, count)` runs, so
/// memory is bounded by `limit` entries however many requests are refused), behind one lock.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::clock::ManualClock;
/// use threadsmith::ratelimit::{RateLimiter, SlidingWindowLog};
///
/// let clock = ManualClock::new();
/// let log = SlidingWindowLog::with_clock(2, Duration::from_secs(10), clock.clone());
/// assert!(log.try_acquire());
/// clock.advance(Duration::from_secs(5));
/// assert!(log.try_acquire());
/// assert!(!log.try_acquire());             // 2 in the last 10 s
/// clock.advance(Duration::from_secs(5));   // the first admission leaves the window now
/// assert!(log.try_acquire());
/// ```
pub struct SlidingWindowLog<C = SystemClock> {
    limit: u64,
    window: u64,
    log: Mutex<Log>,
    clock: C,
    origin: Instant,
}

#[derive(Debug, Default)]
struct Log {
    /// `(time, count)` of admissions in the window, oldest first.
    entries: VecDeque<(u64, u64)>,
    /// The sum of the counts.
    total: u64,
}

impl SlidingWindowLog {
    /// At most `limit` admissions per `window`, on the system clock.
    ///
    /// # Panics
    /// If `limit` is 0 or `window` is zero.
    pub fn new(limit: u64, window: Duration) -> Self {
        Self::with_clock(limit, window, SystemClock)
    }
}

impl<C: Clock> SlidingWindowLog<C> {
    /// At most `limit` admissions per `window`, reading time from `clock`.
    ///
    /// # Panics
    /// If `limit` is 0 or `window` is zero.
    pub fn with_clock(limit: u64, window: Duration, clock: C) -> Self {
        let window = window_nanos("SlidingWindowLog", limit, window);
        let origin = clock.now();
        Self {
            limit,
            window,
            log: Mutex::new(Log::default()),
            clock,
            origin,
        }
    }

    /// Admissions in the window ending now.
    pub fn in_window(&self) -> u64 {
        let now = nanos_since(&self.clock, self.origin);
        let mut log = self.log.lock();
        self.expire(&mut log, now);
        log.total
    }

    fn expire(&self, log: &mut Log, now: u64) {
        while let Some(&(time, count)) = log.entries.front() {
            if time.saturating_add(self.window) > now {
                break; // still inside (now - window, now]
            }
            log.entries.pop_front();
            log.total -= count;
        }
    }
}

impl<C: Clock> RateLimiter for SlidingWindowLog<C> {
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
        let mut log = self.log.lock();
        self.expire(&mut log, now);
        if log.total + n > self.limit {
            return false;
        }
        log.total += n;
        match log.entries.back_mut() {
            Some((time, count)) if *time == now => *count += n,
            _ => log.entries.push_back((now, n)),
        }
        true
    }
}

impl<C: Clock> fmt::Debug for SlidingWindowLog<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowLog")
            .field("limit", &self.limit)
            .field("window", &Duration::from_nanos(self.window))
            .field("in_window", &self.in_window())
            .finish_non_exhaustive()
    }
}
