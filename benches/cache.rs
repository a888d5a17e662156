//! `TtlCache` (with a TTL) vs moka (with `time_to_live`), quick_cache and dashmap (no TTL: the
//! ceiling), on 100,000 keys, all prefilled: 90% get / 10% insert, keys uniform or Zipf(1.0),
//! 2 and 4 threads; and a `get_or_insert_with` storm (every thread asks for the same missing
//! keys, whose loader takes about 2 µs). Time is per operation: wall time over all operations.
//!
//! `cargo bench --bench cache`

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use threadsmith::cache::TtlCache;
use threadsmith::check::Rng;

const KEYS: u64 = 100_000;
const TTL: Duration = Duration::from_secs(3600);

/// What the workload needs from a cache.
trait Subject: Sync {
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
}

impl Subject for TtlCache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        TtlCache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        TtlCache::insert(self, key, value)
    }
}

impl Subject for moka::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        moka::sync::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        moka::sync::Cache::insert(self, key, value)
    }
}

impl Subject for quick_cache::sync::Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        quick_cache::sync::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        quick_cache::sync::Cache::insert(self, key, value)
    }
}

impl Subject for dashmap::DashMap<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        dashmap::DashMap::get(self, &key).map(|v| *v)
    }
    fn insert(&self, key: u64, value: u64) {
        dashmap::DashMap::insert(self, key, value);
    }
}

/// 65,536 operations per thread: (key, is_insert).
fn operations(thread: usize, zipf: Option<&[f64]>) -> Vec<(u64, bool)> {
    let mut rng = Rng::new(thread as u64 + 1);
    (0..1 << 16)
        .map(|_| {
            let key = match zipf {
                None => rng.below(KEYS as usize) as u64,
                Some(cdf) => {
                    let u = rng.next_u64() as f64 / u64::MAX as f64;
                    cdf.partition_point(|&c| c < u) as u64
                }
            };
            (key, rng.percent(10))
        })
        .collect()
}

/// The cumulative distribution of Zipf(1.0) over `KEYS` ranks.
fn zipf_cdf() -> Vec<f64> {
    let weights: Vec<f64> = (1..=KEYS).map(|k| 1.0 / k as f64).collect();
    let total: f64 = weights.iter().sum();
    weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect()
}

fn run<S: Subject>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    threads: usize,
    cache: &S,
    ops: &[Vec<(u64, bool)>],
) {
    (0..KEYS).for_each(|k| cache.insert(k, k));
    group.bench_function(BenchmarkId::new(name, threads), |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(threads + 1);
            let elapsed = std::thread::scope(|s| {
                for t in 0..threads {
                    let (barrier, ops) = (&barrier, &ops[t]);
                    s.spawn(move || {
                        barrier.wait();
                        for i in 0..iters as usize {
                            let (key, insert) = ops[i & 0xFFFF];
                            if insert {
                                cache.insert(key, i as u64);
                            } else {
                                std::hint::black_box(cache.get(key));
                            }
                        }
                    });
                }
                barrier.wait();
                Instant::now()
            })
            .elapsed();
            elapsed / threads as u32
        })
    });
}

fn mixed(c: &mut Criterion) {
    let cdf = zipf_cdf();
    for (group_name, zipf) in [
        ("cache_uniform", None),
        ("cache_zipf", Some(cdf.as_slice())),
    ] {
        let mut group = c.benchmark_group(group_name);
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2));
        group.throughput(Throughput::Elements(1));
        for threads in [2, 4] {
            let ops: Vec<_> = (0..threads).map(|t| operations(t, zipf)).collect();
            run(
                &mut group,
                "threadsmith_ttl",
                threads,
                &TtlCache::<u64, u64>::new(TTL),
                &ops,
            );
            let moka = moka::sync::Cache::builder()
                .max_capacity(2 * KEYS)
                .time_to_live(TTL)
                .build();
            run(&mut group, "moka_ttl", threads, &moka, &ops);
            run(
                &mut group,
                "quick_cache",
                threads,
                &quick_cache::sync::Cache::new(2 * KEYS as usize),
                &ops,
            );
            run(
                &mut group,
                "dashmap",
                threads,
                &dashmap::DashMap::new(),
                &ops,
            );
        }
        group.finish();
    }
}

/// A loader that takes about 2 µs, and counts its calls.
fn load(calls: &AtomicUsize, key: u64) -> u64 {
    calls.fetch_add(1, Relaxed);
    let until = Instant::now() + Duration::from_micros(2);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    key
}

/// Runs `work` on `threads` threads at once; wall time divided by the threads.
fn timed(threads: usize, work: &(dyn Fn() + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        (0..threads).for_each(|_| {
            s.spawn(work);
        })
    });
    start.elapsed() / threads as u32
}

fn storm(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_storm");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));
    let threads = 4;
    // Each sample starts from an empty cache, so the first caller of each of the 1,000 keys
    // loads it while the other threads ask for the same key.
    let keys = |iters: u64| (0..iters).map(|i| i % 1_000);
    let (calls, ops) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let report = |name: &str| {
        eprintln!(
            "{name}: {} loads for {} calls",
            calls.swap(0, Relaxed),
            ops.swap(0, Relaxed)
        );
    };
    group.bench_function("threadsmith_ttl", |b| {
        b.iter_custom(|iters| {
            let cache = TtlCache::<u64, u64>::new(TTL);
            ops.fetch_add(iters as usize * threads, Relaxed);
            timed(threads, &|| {
                keys(iters).for_each(|k| {
                    std::hint::black_box(cache.get_or_insert_with(k, || load(&calls, k)));
                })
            })
        })
    });
    report("threadsmith_ttl");
    group.bench_function("moka_ttl", |b| {
        b.iter_custom(|iters| {
            let cache = moka::sync::Cache::<u64, u64>::builder()
                .time_to_live(TTL)
                .build();
            ops.fetch_add(iters as usize * threads, Relaxed);
            timed(threads, &|| {
                keys(iters).for_each(|k| {
                    std::hint::black_box(cache.get_with(k, || load(&calls, k)));
                })
            })
        })
    });
    report("moka_ttl");
    group.bench_function("quick_cache", |b| {
        b.iter_custom(|iters| {
            let cache = quick_cache::sync::Cache::<u64, u64>::new(10_000);
            ops.fetch_add(iters as usize * threads, Relaxed);
            timed(threads, &|| {
                keys(iters).for_each(|k| {
                    let v = cache.get_or_insert_with(&k, || Ok::<_, ()>(load(&calls, k)));
                    std::hint::black_box(v.unwrap());
                })
            })
        })
    });
    report("quick_cache");
    group.bench_function("dashmap", |b| {
        b.iter_custom(|iters| {
            let map = dashmap::DashMap::<u64, u64>::new();
            ops.fetch_add(iters as usize * threads, Relaxed);
            timed(threads, &|| {
                keys(iters).for_each(|k| {
                    // The shard lock is held while the loader runs: single flight by serialising.
                    std::hint::black_box(*map.entry(k).or_insert_with(|| load(&calls, k)));
                })
            })
        })
    });
    report("dashmap");
    group.finish();
}

criterion_group!(benches, mixed, storm);
criterion_main!(benches);
