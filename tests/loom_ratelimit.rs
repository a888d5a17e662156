//! Loom model of the token bucket's compare-and-swap loop, run with `RUSTFLAGS="--cfg loom"`
//! (see `.ci/run`): whatever the interleaving, threads racing for a bucket's tokens are admitted
//! exactly as many times as it holds. The check-then-act mutant must fail the same model.
#![cfg(loom)]

use std::collections::BTreeSet;
use std::sync::Mutex as StdMutex;

use threadsmith::check::mutants::CheckThenActBucket;
use threadsmith::clock::ManualClock;
use threadsmith::ratelimit::{Rate, RateLimiter, TokenBucket};
use threadsmith::sync::{model, thread, Arc};

/// Three threads each try twice on a bucket of `capacity`; returns every per-thread split of
/// the admissions seen, after asserting the total.
fn race<B: Send + Sync + 'static>(
    capacity: u64,
    make: impl Fn() -> B + Send + Sync + 'static,
    acquire: fn(&B) -> bool,
) -> BTreeSet<Vec<u64>> {
    let seen = std::sync::Arc::new(StdMutex::new(BTreeSet::new()));
    let sink = seen.clone();
    model(move || {
        let bucket = Arc::new(make());
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let b = bucket.clone();
                thread::spawn(move || (0..2).filter(|_| acquire(&b)).count() as u64)
            })
            .collect();
        let split: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let total: u64 = split.iter().sum();
        assert_eq!(
            total, capacity,
            "admitted {total} of a bucket of {capacity}: {split:?}"
        );
        sink.lock().unwrap().insert(split);
    });
    let seen = seen.lock().unwrap().clone();
    seen
}

#[test]
fn loom_token_bucket_admits_exactly_its_capacity() {
    let splits = race(
        2,
        || TokenBucket::with_clock(2, Rate::per_second(1), ManualClock::new()),
        |b| b.try_acquire(),
    );
    // Any two of the six attempts may win: the same thread twice, or two different threads.
    assert!(
        splits.contains(&vec![2, 0, 0]) && splits.contains(&vec![1, 1, 0]),
        "{splits:?}"
    );
    assert!(
        splits.contains(&vec![0, 1, 1]) && splits.contains(&vec![0, 0, 2]),
        "{splits:?}"
    );
}

#[test]
#[should_panic(expected = "of a bucket of 2")] // more than 2, in some interleaving
fn loom_catches_check_then_act() {
    race(2, || CheckThenActBucket::new(2), |b| b.try_acquire());
}
