//! Rate limiters: exact arithmetic with a manual clock, exactness under contention, proptest
//! against sequential reference models, the sliding-window counter's error, the keyed
//! limiter's memory bound, and the check-then-act mutant.
#![cfg(not(loom))] // real threads: the loom model is in loom_ratelimit.rs

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use proptest::prelude::*;
use threadsmith::check::models::{BucketOp, TokenBucketModel};
use threadsmith::check::mutants::CheckThenActBucket;
use threadsmith::check::Model;
use threadsmith::clock::ManualClock;
use threadsmith::ratelimit::{
    Keyed, LeakyBucket, Rate, RateLimiter, SlidingWindowCounter, SlidingWindowLog, TokenBucket,
};

const SECOND: Duration = Duration::from_secs(1);

fn admitted(limiter: &impl RateLimiter, attempts: usize) -> usize {
    (0..attempts).filter(|_| limiter.try_acquire()).count()
}

#[test]
fn token_bucket_bursts_to_capacity_then_refuses() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::with_clock(5, Rate::per_second(1), clock.clone());
    assert_eq!(bucket.available(), 5);
    assert_eq!(admitted(&bucket, 10), 5);
    assert_eq!(bucket.available(), 0);
}

#[test]
fn token_bucket_refills_continuously_and_caps_at_capacity() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::with_clock(4, Rate::per_second(2), clock.clone());
    assert!(bucket.try_acquire_n(4));
    clock.advance(Duration::from_millis(499));
    assert!(
        !bucket.try_acquire(),
        "499 ms is not quite one token at 2/s"
    );
    clock.advance(Duration::from_millis(1));
    assert!(bucket.try_acquire());
    clock.advance(Duration::from_secs(3600)); // a long idle: capped at capacity, not 7,200
    assert_eq!(bucket.available(), 4);
    assert_eq!(admitted(&bucket, 100), 4);
}

#[test]
fn fractional_rates_carry_the_fraction_over() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::with_clock(1, Rate::new(1, Duration::from_secs(60)), clock.clone());
    assert!(bucket.try_acquire());
    for _ in 0..59 {
        clock.advance(SECOND);
        assert!(!bucket.try_acquire(), "one per minute");
    }
    clock.advance(SECOND);
    assert!(bucket.try_acquire());
    // 3 per second, 3,000 seconds: exactly 9,000 tokens, no drift.
    let bucket = TokenBucket::with_clock(1, Rate::per_second(3), clock.clone());
    let mut total = u64::from(bucket.try_acquire());
    for _ in 0..9_000 {
        clock.advance(Duration::from_nanos(333_333_334));
        total += u64::from(bucket.try_acquire());
    }
    assert_eq!(total, 9_001);
}

#[test]
fn more_than_capacity_is_never_admitted() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::with_clock(3, Rate::per_second(1), clock.clone());
    let leaky = LeakyBucket::with_clock(3, Rate::per_second(1), clock.clone());
    let log = SlidingWindowLog::with_clock(3, SECOND, clock.clone());
    let counter = SlidingWindowCounter::with_clock(3, SECOND, clock.clone());
    clock.advance(Duration::from_secs(1_000_000));
    for limiter in [&bucket as &dyn RateLimiter, &leaky, &log, &counter] {
        assert!(!limiter.try_acquire_n(4));
        assert!(limiter.try_acquire_n(0), "zero permits are always there");
        assert!(limiter.try_acquire_n(3));
    }
}

#[test]
fn years_of_time_do_not_overflow() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::with_clock(
        u64::MAX,
        Rate::new(u64::MAX, Duration::from_nanos(1)),
        clock.clone(),
    );
    assert!(bucket.try_acquire_n(u64::MAX));
    let slow = TokenBucket::with_clock(
        2,
        Rate::new(1, Duration::from_secs(86_400 * 365)),
        clock.clone(),
    );
    assert!(slow.try_acquire_n(2));
    clock.advance(Duration::from_secs(86_400 * 365 * 300)); // 300 years
    assert!(slow.try_acquire_n(2));
    assert!(!slow.try_acquire());
    let log = SlidingWindowLog::with_clock(1, Duration::MAX, clock.clone());
    assert!(log.try_acquire());
    clock.advance(Duration::MAX); // saturates: time stops, nothing panics
    assert!(!log.try_acquire());
}

#[test]
fn leaky_bucket_drains_at_the_leak_rate() {
    let clock = ManualClock::new();
    let bucket = LeakyBucket::with_clock(10, Rate::per_second(5), clock.clone());
    assert_eq!(bucket.level(), 0);
    assert!(bucket.try_acquire_n(10));
    assert!(!bucket.try_acquire());
    clock.advance(Duration::from_millis(200));
    assert_eq!(bucket.level(), 9);
    assert!(bucket.try_acquire());
    assert!(!bucket.try_acquire());
}

#[test]
fn sliding_log_admission_leaves_exactly_one_window_later() {
    let clock = ManualClock::new();
    let log = SlidingWindowLog::with_clock(3, Duration::from_secs(10), clock.clone());
    assert!(log.try_acquire_n(2)); // t = 0
    clock.advance(Duration::from_secs(4));
    assert!(log.try_acquire()); // t = 4
    assert!(!log.try_acquire());
    clock.advance(Duration::from_nanos(5_999_999_999)); // t = 10 s - 1 ns
    assert!(
        !log.try_acquire(),
        "the t=0 admissions are still in (t - 10 s, t]"
    );
    clock.advance(Duration::from_nanos(1)); // t = 10 s: they leave now
    assert_eq!(log.in_window(), 1);
    assert!(log.try_acquire_n(2));
    assert!(!log.try_acquire());
}

#[test]
fn sliding_counter_weights_the_previous_window() {
    let clock = ManualClock::new();
    let counter = SlidingWindowCounter::with_clock(100, SECOND, clock.clone());
    assert!(counter.try_acquire_n(100));
    clock.advance(Duration::from_millis(1_250)); // a quarter into the next window: 75% of 100
    assert_eq!(counter.estimate(), 75);
    assert_eq!(admitted(&counter, 100), 25);
    clock.advance(Duration::from_secs(2)); // two empty windows: all forgotten
    assert_eq!(counter.estimate(), 0);
}

/// The documented error bound, reached: the previous window's admissions bunched at its end
/// let a sliding window straddling the boundary hold up to `2 × limit - 1`, while no fixed
/// window ever holds more than `limit`.
#[test]
fn sliding_counter_error_bound_is_reached_and_never_exceeded() {
    let clock = ManualClock::new();
    let limit = 10;
    let counter = SlidingWindowCounter::with_clock(limit, SECOND, clock.clone());
    clock.advance(Duration::from_millis(999));
    assert_eq!(admitted(&counter, 20), 10); // all at the end of fixed window 0
    let mut later = 0;
    for _ in 0..99 {
        clock.advance(Duration::from_millis(10)); // through fixed window 1
        later += admitted(&counter, 20);
    }
    assert!(later <= limit as usize, "fixed window 1 holds {later}");
    // The sliding window (0.999 s, 1.989 s] holds window 0's 10 and all of window 1's.
    assert_eq!(10 + later, 19, "2 × limit - 1 at worst, reached here");
}

/// On steady random traffic the approximation is close to the exact log.
#[test]
fn sliding_counter_is_close_to_the_log_on_random_traffic() {
    let clock = ManualClock::new();
    let log = SlidingWindowLog::with_clock(100, SECOND, clock.clone());
    let counter = SlidingWindowCounter::with_clock(100, SECOND, clock.clone());
    let mut rng = threadsmith::check::Rng::new(7);
    let (mut by_log, mut by_counter) = (0u64, 0u64);
    for _ in 0..200_000 {
        clock.advance(Duration::from_micros(rng.below(200) as u64)); // ~10,000 requests/s
        by_log += u64::from(log.try_acquire());
        by_counter += u64::from(counter.try_acquire());
    }
    let error = by_counter.abs_diff(by_log) as f64 / by_log as f64;
    println!(
        "log admitted {by_log}, counter {by_counter}: {:.2}% apart",
        error * 100.0
    );
    assert!(error < 0.05, "log {by_log} vs counter {by_counter}");
}

/// With the clock standing still, N threads x M attempts get exactly `capacity` admissions.
fn exact_under_contention(limiter: &(impl RateLimiter + ?Sized), capacity: u64) {
    let total = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mine = (0..5_000).filter(|_| limiter.try_acquire()).count() as u64;
                total.fetch_add(mine, Relaxed);
            });
        }
    });
    assert_eq!(total.into_inner(), capacity);
}

#[test]
fn every_limiter_is_exact_under_contention() {
    let clock = ManualClock::new();
    exact_under_contention(
        &TokenBucket::with_clock(7_777, Rate::per_second(1), clock.clone()),
        7_777,
    );
    exact_under_contention(
        &LeakyBucket::with_clock(7_777, Rate::per_second(1), clock.clone()),
        7_777,
    );
    exact_under_contention(
        &SlidingWindowLog::with_clock(7_777, SECOND, clock.clone()),
        7_777,
    );
    exact_under_contention(
        &SlidingWindowCounter::with_clock(7_777, SECOND, clock.clone()),
        7_777,
    );
}

#[test]
fn contention_with_a_moving_clock_stays_within_capacity_plus_refill() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::with_clock(100, Rate::per_second(1_000), clock.clone());
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..1_000 {
                clock.advance(Duration::from_micros(100)); // 0.1 token per step
                std::thread::yield_now();
            }
            stop.store(true, Relaxed);
        });
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(Relaxed) {
                    total.fetch_add(u64::from(bucket.try_acquire()), Relaxed);
                }
            });
        }
    });
    // 100 to start with, plus 1,000/s for 0.1 s = 100 more: at most 200 in all, counting what
    // is still in the bucket once the clock has stopped. (How many the threads got while it
    // moved depends on scheduling; the bound does not.)
    let during = total.into_inner();
    let left = admitted(&bucket, 1_000) as u64;
    assert!(during + left <= 200, "admitted {during}, then {left} more");
    assert!(during + left >= 100, "the bucket starts with 100");
}

#[test]
fn the_check_then_act_mutant_admits_too_much() {
    // Its window is a yield; with four threads it is caught in the first rounds.
    let caught = (0..200).any(|_| {
        let bucket = CheckThenActBucket::new(1_000);
        let total = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    total.fetch_add(
                        (0..1_000).filter(|_| bucket.try_acquire()).count() as u64,
                        Relaxed,
                    )
                });
            }
        });
        total.into_inner() > 1_000
    });
    assert!(
        caught,
        "4 threads x 1,000 attempts never admitted more than 1,000"
    );
}

/// A plain sequential reference for the log: every admission's time, in a list.
struct ModelLog {
    limit: u64,
    window: u64,
    times: VecDeque<u64>,
}

proptest! {
    #[test]
    fn token_and_leaky_buckets_match_a_reference(
        capacity in 1u64..20,
        per_ms in 1u64..2_000,
        steps in prop::collection::vec((0u64..3_000_000_000, 0u64..25), 1..60),
    ) {
        let clock = ManualClock::new();
        let rate = Rate::new(1, Duration::from_millis(per_ms));
        let bucket = TokenBucket::with_clock(capacity, rate, clock.clone());
        let leaky = LeakyBucket::with_clock(capacity, rate, clock.clone());
        let mut model = TokenBucketModel::new(capacity, rate);
        for (advance, n) in steps {
            clock.advance(Duration::from_nanos(advance));
            model.apply(&BucketOp::Advance(Duration::from_nanos(advance)));
            let expected = model.apply(&BucketOp::Acquire(n));
            prop_assert_eq!(bucket.try_acquire_n(n), expected);
            prop_assert_eq!(leaky.try_acquire_n(n), expected);
        }
    }

    /// The counter against its definition, computed from a plain list of admission times:
    /// the current fixed window's count plus the previous one's, weighted (rounded up) by the
    /// part of it the sliding window still covers.
    #[test]
    fn sliding_counter_matches_its_definition(
        limit in 1u64..10,
        window_ms in 1u64..1_000,
        steps in prop::collection::vec((0u64..400_000_000, 0u64..4), 1..80),
    ) {
        let clock = ManualClock::new();
        let counter = SlidingWindowCounter::with_clock(limit, Duration::from_millis(window_ms), clock.clone());
        let window = window_ms * 1_000_000;
        let mut admissions: Vec<(u64, u64)> = Vec::new();
        let mut now = 0u64;
        for (advance, n) in steps {
            clock.advance(Duration::from_nanos(advance));
            now += advance;
            let index = now / window;
            let in_window = |i: u64| admissions.iter().filter(|(t, _)| t / window == i).map(|(_, c)| c).sum::<u64>();
            let previous = if index == 0 { 0 } else { in_window(index - 1) };
            let remaining = window - (now - index * window);
            let estimate = in_window(index) + (previous * remaining).div_ceil(window);
            let expected = n == 0 || estimate + n <= limit;
            if expected && n > 0 {
                admissions.push((now, n));
            }
            prop_assert_eq!(counter.try_acquire_n(n), expected);
        }
    }

    #[test]
    fn sliding_log_matches_a_reference(
        limit in 1u64..10,
        window_ms in 1u64..1_000,
        steps in prop::collection::vec((0u64..500_000_000, 0u64..4), 1..80),
    ) {
        let clock = ManualClock::new();
        let log = SlidingWindowLog::with_clock(limit, Duration::from_millis(window_ms), clock.clone());
        let mut model = ModelLog { limit, window: window_ms * 1_000_000, times: VecDeque::new() };
        let mut now = 0u64;
        for (advance, n) in steps {
            clock.advance(Duration::from_nanos(advance));
            now += advance;
            model.times.retain(|&t| t + model.window > now);
            let expected = n == 0 || model.times.len() as u64 + n <= model.limit;
            if expected {
                model.times.extend(std::iter::repeat_n(now, n as usize));
            }
            prop_assert_eq!(log.try_acquire_n(n), expected);
        }
    }
}

#[test]
fn keyed_keeps_one_limiter_per_key() {
    let clock = ManualClock::new();
    let keyed = Keyed::with_clock(
        100,
        Duration::from_secs(60),
        clock.clone(),
        |c: &ManualClock| TokenBucket::with_clock(3, Rate::per_second(1), c.clone()),
    );
    for user in 0..10u32 {
        assert_eq!((0..5).filter(|_| keyed.try_acquire(&user)).count(), 3);
    }
    assert_eq!(keyed.len(), 10);
    clock.advance(SECOND);
    assert!(keyed.try_acquire(&3));
    assert!(!keyed.try_acquire(&3));
}

#[test]
fn keyed_memory_is_bounded_under_a_flood_of_new_keys() {
    let clock = ManualClock::new();
    let keyed = Keyed::with_clock(
        1_000,
        Duration::from_secs(60),
        clock.clone(),
        |c: &ManualClock| TokenBucket::with_clock(1, Rate::per_second(1), c.clone()),
    );
    for attacker_key in 0..100_000u64 {
        assert!(
            keyed.try_acquire(&attacker_key),
            "a fresh key gets a fresh bucket"
        );
        assert!(!keyed.try_acquire(&attacker_key), "and only that");
    }
    // At most one over the bound per stripe (when a new key lands in an empty stripe), and the
    // stripe count depends on the machine: far below the 100,000 keys sent, in any case.
    assert!(keyed.len() < 2_000, "{} limiters", keyed.len());
}

#[test]
fn keyed_evicts_idle_keys_first() {
    let clock = ManualClock::new();
    let keyed = Keyed::with_clock(
        8,
        Duration::from_secs(10),
        clock.clone(),
        |c: &ManualClock| TokenBucket::with_clock(1, Rate::per_minute(1), c.clone()),
    );
    for key in 0..8u8 {
        assert!(keyed.try_acquire(&key));
    }
    clock.advance(Duration::from_secs(11)); // all idle now
    keyed.evict_idle();
    assert!(keyed.is_empty());
    assert!(
        keyed.try_acquire(&0),
        "an evicted key starts over with a full bucket"
    );
}

/// A bucket whose refill is computed but never capped: the suite must notice.
#[test]
fn the_token_bucket_suite_rejects_an_uncapped_bucket() {
    use threadsmith::check::conformance::{Failure, Suite};
    struct Uncapped(TokenBucket<ManualClock>, SlidingWindowLog<ManualClock>);
    impl RateLimiter for Uncapped {
        // A sliding log with a huge limit admits everything a bucket admits, plus idle credit.
        fn try_acquire_n(&self, n: u64) -> bool {
            self.0.try_acquire_n(n) || self.1.try_acquire_n(n)
        }
    }
    let failure = Suite::new()
        .check_token_bucket(|capacity, rate, clock: ManualClock| {
            Uncapped(
                TokenBucket::with_clock(capacity, rate, clock.clone()),
                SlidingWindowLog::with_clock(1, Duration::from_secs(7200), clock),
            )
        })
        .expect_err("an extra token must be caught");
    assert!(matches!(failure, Failure::Limiter { .. }), "{failure}");
}

#[test]
#[should_panic(expected = "SlidingWindowLog: limit must be at least 1")]
fn a_window_that_admits_nothing_panics_with_a_reason() {
    let _ = SlidingWindowLog::new(0, SECOND);
}

#[test]
#[should_panic(expected = "SlidingWindowCounter: window must be longer than zero")]
fn a_zero_window_panics_with_a_reason() {
    let _ = SlidingWindowCounter::new(1, Duration::ZERO);
}
