//! The Bloom filter vs fastbloom (its plain filter and its atomic one) and bloomfilter, all
//! sized for 1,000,000 `u64`s at 1%: insert 1,000,000 into an empty filter, look up 1,000,000
//! inserted keys (hits) and 1,000,000 absent ones (misses), and insert from 2 threads at once
//! (the atomic filters only). Criterion reports time per batch of 1,000,000; the bench also
//! prints each filter's bits per item and measured false-positive rate.
//!
//! `cargo bench --bench bloom`

use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use threadsmith::bloom::BloomFilter;

const N: u64 = 1_000_000;
const P: f64 = 0.01;

fn inserted(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1 // odd
}

fn absent(i: u64) -> u64 {
    i.wrapping_mul(0xD6E8_FEB8_6659_FD93) & !1 // even
}

/// The shared shape of every measurement: a closure over 1,000,000 keys, timed per batch.
fn batch(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut run: impl FnMut() -> Duration) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run()).sum())
    });
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn report(name: &str, bits: u64, contains: impl Fn(u64) -> bool) {
    let fp = (0..N).filter(|&i| contains(absent(i))).count();
    eprintln!(
        "{name}: {:.2} bits per item, measured false-positive rate {:.3}%",
        bits as f64 / N as f64,
        fp as f64 / N as f64 * 100.0
    );
}

fn bloom(c: &mut Criterion) {
    let mut group = c.benchmark_group("bloom_1m_at_1pct");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(N));

    // threadsmith
    batch(&mut group, "threadsmith/insert", || {
        let f = BloomFilter::<u64>::with_false_positive_rate(N as usize, P);
        timed(|| (0..N).for_each(|i| f.insert(&inserted(i))))
    });
    let ours = BloomFilter::<u64>::with_false_positive_rate(N as usize, P);
    (0..N).for_each(|i| ours.insert(&inserted(i)));
    report("threadsmith", ours.bits() as u64, |k| {
        ours.possibly_contains(&k)
    });
    batch(&mut group, "threadsmith/hit", || {
        timed(|| assert!((0..N).all(|i| ours.possibly_contains(&inserted(i)))))
    });
    batch(&mut group, "threadsmith/miss", || {
        timed(|| {
            std::hint::black_box(
                (0..N)
                    .filter(|&i| ours.possibly_contains(&absent(i)))
                    .count(),
            );
        })
    });
    batch(&mut group, "threadsmith/insert_2_threads", || {
        let f = BloomFilter::<u64>::with_false_positive_rate(N as usize, P);
        timed(|| {
            std::thread::scope(|s| {
                for t in 0..2 {
                    let f = &f;
                    s.spawn(move || {
                        (t * N / 2..(t + 1) * N / 2).for_each(|i| f.insert(&inserted(i)))
                    });
                }
            })
        })
    });

    // fastbloom, plain (inserts need `&mut`)
    batch(&mut group, "fastbloom/insert", || {
        let mut f = fastbloom::BloomFilter::with_false_pos(P).expected_items(N as usize);
        timed(|| {
            (0..N).for_each(|i| {
                f.insert(&inserted(i));
            })
        })
    });
    let mut theirs = fastbloom::BloomFilter::with_false_pos(P).expected_items(N as usize);
    (0..N).for_each(|i| {
        theirs.insert(&inserted(i));
    });
    report("fastbloom", theirs.num_bits() as u64, |k| {
        theirs.contains(&k)
    });
    batch(&mut group, "fastbloom/hit", || {
        timed(|| assert!((0..N).all(|i| theirs.contains(&inserted(i)))))
    });
    batch(&mut group, "fastbloom/miss", || {
        timed(|| {
            std::hint::black_box((0..N).filter(|&i| theirs.contains(&absent(i))).count());
        })
    });

    // fastbloom, atomic
    batch(&mut group, "fastbloom_atomic/insert", || {
        let f = fastbloom::AtomicBloomFilter::with_false_pos(P).expected_items(N as usize);
        timed(|| {
            (0..N).for_each(|i| {
                f.insert(&inserted(i));
            })
        })
    });
    batch(&mut group, "fastbloom_atomic/insert_2_threads", || {
        let f = fastbloom::AtomicBloomFilter::with_false_pos(P).expected_items(N as usize);
        timed(|| {
            std::thread::scope(|s| {
                for t in 0..2 {
                    let f = &f;
                    s.spawn(move || {
                        (t * N / 2..(t + 1) * N / 2).for_each(|i| {
                            f.insert(&inserted(i));
                        })
                    });
                }
            })
        })
    });

    // bloomfilter
    batch(&mut group, "bloomfilter/insert", || {
        let mut f = bloomfilter::Bloom::new_for_fp_rate(N as usize, P).unwrap();
        timed(|| (0..N).for_each(|i| f.set(&inserted(i))))
    });
    let mut other = bloomfilter::Bloom::new_for_fp_rate(N as usize, P).unwrap();
    (0..N).for_each(|i| other.set(&inserted(i)));
    report("bloomfilter", other.len(), |k| other.check(&k));
    batch(&mut group, "bloomfilter/hit", || {
        timed(|| assert!((0..N).all(|i| other.check(&inserted(i)))))
    });
    batch(&mut group, "bloomfilter/miss", || {
        timed(|| {
            std::hint::black_box((0..N).filter(|&i| other.check(&absent(i))).count());
        })
    });
    group.finish();
}

criterion_group!(benches, bloom);
criterion_main!(benches);
