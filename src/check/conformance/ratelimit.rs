//! The suite for token-bucket-shaped limiters: [`Suite::check_token_bucket`].

use std::time::Duration;

use super::{Failure, Report, Suite};
use crate::check::models::{BucketOp, TokenBucketModel};
use crate::check::{Model, Rng};
use crate::clock::ManualClock;
use crate::ratelimit::{Rate, RateLimiter};
use crate::sync::atomic::{AtomicU64, Ordering::Relaxed};
use crate::sync::thread;

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Limiter { check, detail }
}

impl Suite {
    /// Runs the token-bucket suite on limiters made by `new(capacity, refill, clock)`, which
    /// must start full, refill continuously at `refill` (one token per [`Rate::interval`]) and
    /// hold at most `capacity`, reading time only from `clock`:
    /// 1. exact arithmetic: a burst of `capacity`, then refusal; refill after the clock
    ///    advances; the cap after a long idle; more than `capacity` at once is never admitted;
    /// 2. `sequential_ops` random (advance, acquire `n`) steps against a reference model;
    /// 3. exactness under contention: `threads` threads racing on a bucket whose clock stands
    ///    still get exactly `capacity` admissions in total.
    ///
    /// ```
    /// use threadsmith::check::conformance::Suite;
    /// use threadsmith::ratelimit::TokenBucket;
    ///
    /// Suite::new()
    ///     .check_token_bucket(TokenBucket::with_clock)
    ///     .expect("the crate's bucket conforms");
    /// ```
    pub fn check_token_bucket<L: RateLimiter>(
        &self,
        new: impl Fn(u64, Rate, ManualClock) -> L,
    ) -> Result<Report, Failure> {
        let second = Duration::from_secs(1);
        // 1. Exact arithmetic.
        let clock = ManualClock::new();
        let bucket = new(5, Rate::per_second(2), clock.clone());
        let burst = (0..10).filter(|_| bucket.try_acquire()).count();
        if burst != 5 {
            return Err(fail(
                "burst",
                format!("a full bucket of 5 admitted {burst} of 10"),
            ));
        }
        clock.advance(Duration::from_millis(499));
        if bucket.try_acquire() {
            return Err(fail("refill", "admitted after 499 ms at 2/s".into()));
        }
        clock.advance(Duration::from_millis(1));
        if !bucket.try_acquire() {
            return Err(fail("refill", "refused after 500 ms at 2/s".into()));
        }
        clock.advance(second * 3600);
        let after_idle = (0..100).filter(|_| bucket.try_acquire()).count();
        if after_idle != 5 {
            return Err(fail(
                "cap",
                format!("after an hour idle, admitted {after_idle}, not 5"),
            ));
        }
        clock.advance(second * 3600);
        if bucket.try_acquire_n(6) {
            return Err(fail(
                "oversized",
                "admitted 6 at once from a bucket of 5".into(),
            ));
        }
        // 2. Random steps against the reference.
        let mut rng = Rng::new(self.seed);
        let clock = ManualClock::new();
        let (capacity, rate) = (7, Rate::new(3, Duration::from_millis(100)));
        let bucket = new(capacity, rate, clock.clone());
        let mut reference = TokenBucketModel::new(capacity, rate);
        for step in 0..self.sequential_ops {
            let advance = Duration::from_micros(rng.below(80_000) as u64);
            let n = rng.below(4) as u64;
            clock.advance(advance);
            reference.apply(&BucketOp::Advance(advance));
            let expected = reference.apply(&BucketOp::Acquire(n));
            let actual = bucket.try_acquire_n(n);
            if expected != actual {
                return Err(fail(
                    "reference",
                    format!(
                        "step {step}: acquire({n}) returned {actual}, the model says {expected}"
                    ),
                ));
            }
        }
        // 3. Contention with the clock standing still.
        let threads = self.stress_threads.max(2);
        let capacity = 10_000;
        let bucket = new(capacity, Rate::per_second(1), ManualClock::new());
        let total = AtomicU64::new(0);
        thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mine = (0..capacity).filter(|_| bucket.try_acquire()).count() as u64;
                    // Relaxed: summed after the threads are joined.
                    total.fetch_add(mine, Relaxed);
                });
            }
        });
        let total = total.into_inner();
        if total != capacity {
            return Err(fail(
                "contention",
                format!("{threads} threads admitted {total} from a bucket of {capacity}"),
            ));
        }
        Ok(Report {
            sequential_ops: self.sequential_ops,
            histories: 0,
            stress_values: total as usize,
        })
    }
}
