//! `TokenBucket` and `Keyed` vs governor (direct and keyed) on the same quotas: `try_acquire` on
//! a limiter that always admits (a huge quota) and on one that almost always refuses; 1, 2 and
//! 4 threads; keyed with 1,000 and 100,000 keys. Time is per check: wall time over all checks.
//!
//! Governor reads a TSC-based clock (quanta); `SystemClock` reads `Instant::now()`. To show
//! what the clock alone costs, the bucket also runs on `TscClock`, a `Clock` built on quanta
//! in this file: the limiter takes any `Clock`, so a user can make the same choice.
//!
//! `cargo bench --bench ratelimit`; `THREADSMITH_BENCH_THREADS=1,2,4,8,16` picks thread counts.

mod common;

use std::num::NonZeroU32;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use governor::{Quota, RateLimiter as Governor};
use threadsmith::clock::Clock;
use threadsmith::ratelimit::{Keyed, Rate, RateLimiter, TokenBucket};

/// A `Clock` on the CPU's time-stamp counter (through quanta), anchored to one `Instant`.
#[derive(Clone)]
struct TscClock {
    anchor: Instant,
    tsc: quanta::Clock,
    start: quanta::Instant,
}

impl TscClock {
    fn new() -> Self {
        let tsc = quanta::Clock::new();
        let start = tsc.now();
        Self {
            anchor: Instant::now(),
            tsc,
            start,
        }
    }
}

impl Clock for TscClock {
    fn now(&self) -> Instant {
        self.anchor + self.tsc.now().duration_since(self.start)
    }
}

/// Runs `check(thread, i)` `iters` times on each of `threads` threads; wall time per check.
fn per_check(threads: usize, iters: u64, check: &(dyn Fn(usize, u64) -> bool + Sync)) -> Duration {
    let barrier = Barrier::new(threads + 1);
    let elapsed = std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for i in 0..iters {
                    std::hint::black_box(check(t, i));
                }
            });
        }
        barrier.wait();
        Instant::now()
    })
    .elapsed();
    elapsed / threads as u32
}

fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    threads: usize,
    check: &(dyn Fn(usize, u64) -> bool + Sync),
) {
    group.bench_function(BenchmarkId::new(name, threads), |b| {
        b.iter_custom(|iters| per_check(threads, iters, check))
    });
}

fn direct(c: &mut Criterion) {
    // (name, threadsmith quota, governor quota): a huge quota always admits; 1 per hour, after
    // the first, always refuses.
    let huge = u32::MAX;
    for (name, rate, quota) in [
        (
            "ratelimit_admit",
            Rate::per_second(u64::from(huge)),
            Quota::per_second(NonZeroU32::new(huge).unwrap()),
        ),
        (
            "ratelimit_refuse",
            Rate::new(1, Duration::from_secs(3600)),
            Quota::per_hour(NonZeroU32::new(1).unwrap()),
        ),
    ] {
        let mut group = c.benchmark_group(name);
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2));
        group.throughput(Throughput::Elements(1));
        let capacity = if name == "ratelimit_admit" {
            u64::from(huge)
        } else {
            1
        };
        for t in common::thread_counts() {
            let ours = TokenBucket::new(capacity, rate);
            bench(&mut group, "token_bucket", t, &|_, _| ours.try_acquire());
            let ours_tsc = TokenBucket::with_clock(capacity, rate, TscClock::new());
            bench(&mut group, "token_bucket_tsc_clock", t, &|_, _| {
                ours_tsc.try_acquire()
            });
            let theirs = Governor::direct(quota);
            bench(&mut group, "governor", t, &|_, _| theirs.check().is_ok());
        }
        group.finish();
    }
}

fn keyed(c: &mut Criterion) {
    let mut group = c.benchmark_group("ratelimit_keyed");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));
    let quota = Quota::per_second(NonZeroU32::new(1_000).unwrap());
    for keys in [1_000u64, 100_000] {
        // A fixed pseudo-random key sequence, the same for both.
        let sequence: Vec<u64> = {
            let mut rng = threadsmith::check::Rng::new(keys);
            (0..1 << 16)
                .map(|_| rng.below(keys as usize) as u64)
                .collect()
        };
        let key = |t: usize, i: u64| sequence[(i as usize).wrapping_add(t * 7919) & 0xFFFF];
        for t in common::thread_counts() {
            let ours = Keyed::new(keys as usize * 2, Duration::from_secs(60), |_| {
                TokenBucket::new(1_000, Rate::per_second(1_000))
            });
            bench(&mut group, &format!("keyed_{keys}"), t, &|t, i| {
                ours.try_acquire(&key(t, i))
            });
            let ours_tsc = Keyed::with_clock(
                keys as usize * 2,
                Duration::from_secs(60),
                TscClock::new(),
                |clock: &TscClock| {
                    TokenBucket::with_clock(1_000, Rate::per_second(1_000), clock.clone())
                },
            );
            bench(
                &mut group,
                &format!("keyed_tsc_clock_{keys}"),
                t,
                &|t, i| ours_tsc.try_acquire(&key(t, i)),
            );
            let theirs = Governor::keyed(quota);
            bench(&mut group, &format!("governor_keyed_{keys}"), t, &|t, i| {
                theirs.check_key(&key(t, i)).is_ok()
            });
        }
    }
    group.finish();
}

criterion_group!(benches, direct, keyed);
criterion_main!(benches);
