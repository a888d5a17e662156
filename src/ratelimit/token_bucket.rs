//! The token bucket.

use std::fmt;
use std::time::Instant;

use super::{Gcra, Rate, RateLimiter};
use crate::clock::{nanos_between, nanos_since};
use crate::clock::{Clock, SystemClock};

/// A token bucket: holds up to `capacity` tokens, starts full, and refills continuously at
/// `refill`; a request takes tokens or is refused. Lock-free: the whole state is one `AtomicU64`
/// (the GCRA form, see the [module docs](super)), updated by one compare-and-swap per admission.
///
/// A burst of up to `capacity` is admitted at once; after that, requests are admitted at the
/// refill rate, with fractions of a token carried over. `try_acquire_n(n)` with `n > capacity`
/// is always refused.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::clock::ManualClock;
/// use threadsmith::ratelimit::{Rate, RateLimiter, TokenBucket};
///
/// let clock = ManualClock::new();
/// let bucket = TokenBucket::with_clock(10, Rate::per_second(2), clock.clone());
/// assert!(bucket.try_acquire_n(10));
/// assert!(!bucket.try_acquire());
/// clock.advance(Duration::from_millis(500)); // half a second: one token back
/// assert!(bucket.try_acquire());
/// assert!(!bucket.try_acquire_n(11)); // more than the bucket holds: never
/// ```
pub struct TokenBucket<C = SystemClock> {
    gcra: Gcra,
    clock: C,
    origin: Instant,
}

impl TokenBucket {
    /// A full bucket of `capacity` tokens refilled at `refill`, on the system clock.
    ///
    /// # Panics
    /// If `capacity` is 0: such a bucket can never admit anything.
    pub fn new(capacity: u64, refill: Rate) -> Self {
        Self::with_clock(capacity, refill, SystemClock)
    }
}

impl<C: Clock> TokenBucket<C> {
    /// A full bucket that reads time from `clock`.
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn with_clock(capacity: u64, refill: Rate, clock: C) -> Self {
        assert!(capacity > 0, "TokenBucket: capacity must be at least 1");
        let origin = clock.now();
        Self {
            gcra: Gcra::new(capacity, refill),
            clock,
            origin,
        }
    }

    /// Whole tokens in the bucket now (a snapshot).
    pub fn available(&self) -> u64 {
        self.gcra.available(nanos_since(&self.clock, self.origin))
    }
}

impl<C: Clock> RateLimiter for TokenBucket<C> {
    fn try_acquire_n(&self, n: u64) -> bool {
        self.gcra
            .try_acquire_n(n, nanos_since(&self.clock, self.origin))
    }

    fn try_acquire_n_at(&self, n: u64, now: Instant) -> bool {
        self.gcra.try_acquire_n(n, nanos_between(self.origin, now))
    }
}

impl<C: Clock> fmt::Debug for TokenBucket<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBucket")
            .field("capacity", &self.gcra.capacity)
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}
