//! The leaky bucket, as a meter.

use std::fmt;
use std::time::Instant;

use super::{Gcra, Rate, RateLimiter};
use crate::clock::{nanos_between, nanos_since};
use crate::clock::{Clock, SystemClock};

/// A leaky bucket used as a meter: each admitted request pours `n` units in, the bucket leaks
/// continuously at `leak`, and a request is admitted while `level + n <= capacity`.
///
/// As a meter it is the same machine as [`TokenBucket`](super::TokenBucket) seen from the other
/// side: the bucket's free room is the token bucket's tokens. Both run on the same lock-free
/// GCRA core (one `AtomicU64`). The *queue* form of a leaky bucket, which delays requests and
/// releases them at a steady pace, is a bounded queue drained by a timer; see the Q11 chapter.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::clock::ManualClock;
/// use threadsmith::ratelimit::{LeakyBucket, Rate, RateLimiter};
///
/// let clock = ManualClock::new();
/// let bucket = LeakyBucket::with_clock(4, Rate::per_second(1), clock.clone());
/// assert!(bucket.try_acquire_n(4));   // level 4 of 4
/// assert!(!bucket.try_acquire());     // would overflow
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(bucket.level(), 2);      // leaked 2
/// assert!(bucket.try_acquire_n(2));
/// ```
pub struct LeakyBucket<C = SystemClock> {
    gcra: Gcra,
    clock: C,
    origin: Instant,
}

impl LeakyBucket {
    /// An empty bucket of `capacity` units leaking at `leak`, on the system clock.
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn new(capacity: u64, leak: Rate) -> Self {
        Self::with_clock(capacity, leak, SystemClock)
    }
}

impl<C: Clock> LeakyBucket<C> {
    /// An empty bucket that reads time from `clock`.
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn with_clock(capacity: u64, leak: Rate, clock: C) -> Self {
        assert!(capacity > 0, "LeakyBucket: capacity must be at least 1");
        let origin = clock.now();
        Self {
            gcra: Gcra::new(capacity, leak),
            clock,
            origin,
        }
    }

    /// The level now, rounded up to a whole unit (a snapshot).
    pub fn level(&self) -> u64 {
        let now = nanos_since(&self.clock, self.origin);
        self.gcra.capacity - self.gcra.available(now)
    }
}

impl<C: Clock> RateLimiter for LeakyBucket<C> {
    fn try_acquire_n(&self, n: u64) -> bool {
        self.gcra
            .try_acquire_n(n, nanos_since(&self.clock, self.origin))
    }

    fn try_acquire_n_at(&self, n: u64, now: Instant) -> bool {
        self.gcra.try_acquire_n(n, nanos_between(self.origin, now))
    }
}

impl<C: Clock> fmt::Debug for LeakyBucket<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakyBucket")
            .field("capacity", &self.gcra.capacity)
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}
