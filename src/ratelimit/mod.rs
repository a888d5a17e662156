//! Rate limiters: token bucket, leaky bucket, sliding-window log and counter, and a keyed
//! limiter with bounded memory.
//!
//! | limiter | state | exact? | memory | progress |
//! | --- | --- | --- | --- | --- |
//! | [`TokenBucket`] | one `AtomicU64`: the GCRA "theoretical arrival time" | yes | O(1) | lock-free |
//! | [`LeakyBucket`] | the same word, read as "when the bucket will be empty" | yes | O(1) | lock-free |
//! | [`SlidingWindowLog`] | the last admissions, with their times | yes, in every window `(t - w, t]` | O(limit) | blocking (short lock) |
//! | [`SlidingWindowCounter`] | two fixed-window counts | approximate (see its docs) | O(1) | blocking (short lock) |
//! | [`Keyed`] | one limiter per key in a striped map | as its limiter | at most `max_keys` limiters | blocking per stripe |
//!
//! Every limiter reads time only from its [`Clock`](crate::clock::Clock) (`with_clock`), so a
//! [`ManualClock`](crate::clock::ManualClock) makes tests exact, and does its arithmetic in
//! integer nanoseconds since its creation: no floating point, so nothing drifts over long runs.
//!
//! **Why one atomic step.** A limiter that reads its state, decides, and then writes the new
//! state in a separate step admits too much under contention: two threads read "one token
//! left", both decide yes, both write. [`check::mutants::CheckThenActBucket`] is that bug;
//! the loom model in `tests/loom_ratelimit.rs` and the contention tests catch it. The buckets
//! here decide and update with one compare-and-swap; the windows, under one lock.
//!
//! [`check::mutants::CheckThenActBucket`]: crate::check::mutants::CheckThenActBucket
//!
//! ```
//! use std::time::Duration;
//! use threadsmith::clock::ManualClock;
//! use threadsmith::ratelimit::{Rate, RateLimiter, TokenBucket};
//!
//! let clock = ManualClock::new();
//! let bucket = TokenBucket::with_clock(3, Rate::per_second(1), clock.clone());
//! assert!((0..3).all(|_| bucket.try_acquire())); // starts full: a burst of 3
//! assert!(!bucket.try_acquire());                 // then empty
//! clock.advance(Duration::from_secs(1));
//! assert!(bucket.try_acquire());                  // one token per second
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use crate::clock::saturating_nanos;
use crate::sync::atomic::{AtomicU64, Ordering::Relaxed};

mod keyed;
mod leaky_bucket;
mod sliding_counter;
mod sliding_log;
mod token_bucket;

pub use keyed::Keyed;
pub use leaky_bucket::LeakyBucket;
pub use sliding_counter::SlidingWindowCounter;
pub use sliding_log::SlidingWindowLog;
pub use token_bucket::TokenBucket;

/// Something that admits or refuses requests.
pub trait RateLimiter: Send + Sync {
    /// Takes `n` permits if they are available now; never waits. `n == 0` is always admitted.
    fn try_acquire_n(&self, n: u64) -> bool;

    /// Takes one permit if available now.
    fn try_acquire(&self) -> bool {
        self.try_acquire_n(1)
    }

    /// [`try_acquire_n`](Self::try_acquire_n) with the time already read from *this limiter's
    /// clock*, so that a caller that needs the time anyway ([`Keyed`]) reads the clock once
    /// per request instead of twice. The crate's limiters use `now`; the default ignores it.
    fn try_acquire_n_at(&self, n: u64, now: Instant) -> bool {
        let _ = now;
        self.try_acquire_n(n)
    }
}

/// A rate: `tokens` every `per`. Fractional rates are fine: `Rate::new(1, 60 s)` is one token a
/// minute.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::ratelimit::Rate;
///
/// let rate = Rate::new(1, Duration::from_secs(60));
/// assert_eq!(rate, Rate::per_minute(1));
/// assert_eq!(Rate::per_second(4).interval(), Duration::from_millis(250));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    tokens: u64,
    per: Duration,
}

impl Rate {
    /// `tokens` every `per`.
    ///
    /// # Panics
    /// If `tokens` is 0 or `per` is zero: such a rate never refills, or refills infinitely fast.
    pub fn new(tokens: u64, per: Duration) -> Self {
        assert!(
            tokens > 0,
            "Rate::new: tokens must be at least 1 (a rate of 0 never refills)"
        );
        assert!(
            !per.is_zero(),
            "Rate::new: the period must be longer than zero"
        );
        Self { tokens, per }
    }

    /// `tokens` every second.
    ///
    /// # Panics
    /// If `tokens` is 0.
    pub fn per_second(tokens: u64) -> Self {
        Self::new(tokens, Duration::from_secs(1))
    }

    /// `tokens` every minute.
    ///
    /// # Panics
    /// If `tokens` is 0.
    pub fn per_minute(tokens: u64) -> Self {
        Self::new(tokens, Duration::from_secs(60))
    }

    /// The time one token takes: `per / tokens`, rounded **up** to a whole nanosecond (and at
    /// least 1 ns), so a limiter never admits faster than the rate. The rounding costs at most
    /// 1 ns per token: 3 per second is enforced as one token every 333,333,334 ns.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos())
    }

    pub(crate) fn interval_nanos(&self) -> u64 {
        let per = self.per.as_nanos();
        let tokens = u128::from(self.tokens);
        u64::try_from(per.div_ceil(tokens))
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {:?}", self.tokens, self.per)
    }
}

/// Checks a sliding window's arguments and returns the window in nanoseconds (saturating).
///
/// # Panics
/// If `limit` is 0 or `window` is zero: such a window can never admit anything.
pub(crate) fn window_nanos(limiter: &str, limit: u64, window: Duration) -> u64 {
    assert!(limit > 0, "{limiter}: limit must be at least 1");
    assert!(
        !window.is_zero(),
        "{limiter}: window must be longer than zero"
    );
    saturating_nanos(window)
}

// ANCHOR: gcra
/// The Generic Cell Rate Algorithm, the lock-free core of [`TokenBucket`] and [`LeakyBucket`].
///
/// The state is one number, the *theoretical arrival time* `tat`: the time at which the bucket
/// would be completely full again (for a token bucket) or completely empty (for a leaky one).
/// Taking `n` tokens at time `now` pushes it to `max(tat, now) + n × interval`, and is allowed
/// while that stays within `capacity × interval` of `now`. Refill is implicit in the passing of
/// time: nothing runs in the background, and fractions of a token carry over exactly.
#[derive(Debug)]
pub(crate) struct Gcra {
    /// Nanoseconds since the limiter's origin.
    tat: AtomicU64,
    interval: u64,
    capacity: u64,
}

impl Gcra {
    pub(crate) fn new(capacity: u64, rate: Rate) -> Self {
        Self {
            tat: AtomicU64::new(0),
            interval: rate.interval_nanos(),
            capacity,
        }
    }

    pub(crate) fn try_acquire_n(&self, n: u64, now: u64) -> bool {
        if n == 0 {
            return true;
        }
        if n > self.capacity {
            return false; // could never fit, however long we waited
        }
        let cost = u128::from(n) * u128::from(self.interval);
        let tolerance = u128::from(self.capacity) * u128::from(self.interval);
        // Relaxed: the limiter's whole state is this one word and nothing else is published
        // with it; the compare-exchange alone makes each decision atomic.
        let mut tat = self.tat.load(Relaxed);
        loop {
            let next = u128::from(tat.max(now)) + cost;
            if next - u128::from(now) > tolerance {
                return false; // refused without writing anything
            }
            let next = u64::try_from(next).unwrap_or(u64::MAX);
            // Relaxed: as above. Weak: a spurious failure just goes round the loop again.
            match self.tat.compare_exchange_weak(tat, next, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(current) => tat = current,
            }
        }
    }

    /// Tokens available at `now` (for a token bucket; capacity minus level for a leaky one).
    pub(crate) fn available(&self, now: u64) -> u64 {
        // Relaxed: a snapshot of the one-word state.
        let tat = self.tat.load(Relaxed);
        let debt = tat.saturating_sub(now) / self.interval; // whole tokens still owed
        let owed = debt + u64::from(tat.saturating_sub(now) % self.interval != 0);
        self.capacity.saturating_sub(owed)
    }
}
// ANCHOR_END: gcra
