//! `Pool` vs `r2d2`: get + drop of a trivial connection, both with their default settings
//! (validation on checkout, lifetimes and idle timeouts on), at max_size 4 and 8 with 1, 2, 4
//! and 16 threads. Time is per get+drop: wall time over all checkouts of all threads.
//!
//! `cargo bench --bench pool` (`THREADSMITH_BENCH_THREADS=1,2,4,8,16` to pick thread counts)

mod common;

use std::convert::Infallible;
use std::sync::Barrier;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// A connection that costs nothing: what is measured is the pool.
struct Trivial;

impl threadsmith::pool::Manager for Trivial {
    type Connection = u64;
    type Error = Infallible;
    fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
    fn is_valid(&self, _conn: &mut u64) -> bool {
        true
    }
}

impl r2d2::ManageConnection for Trivial {
    type Connection = u64;
    type Error = Infallible;
    fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
    fn is_valid(&self, _conn: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }
    fn has_broken(&self, _conn: &mut u64) -> bool {
        false
    }
}

/// What the workload needs from a pool.
trait Subject: Sync {
    fn checkout(&self);
}

impl Subject for threadsmith::pool::Pool<Trivial> {
    fn checkout(&self) {
        let mut conn = self.get().expect("trivial connections never fail");
        *conn += 1;
        std::hint::black_box(&conn);
    }
}

impl Subject for r2d2::Pool<Trivial> {
    fn checkout(&self) {
        let mut conn = self.get().expect("trivial connections never fail");
        *conn += 1;
        std::hint::black_box(&conn);
    }
}

/// Wall time for `threads` threads doing `iters` checkouts each, per checkout.
fn per_checkout(pool: &impl Subject, threads: usize, iters: u64) -> std::time::Duration {
    let barrier = Barrier::new(threads + 1);
    let elapsed = std::thread::scope(|s| {
        for _ in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for _ in 0..iters {
                    pool.checkout();
                }
            });
        }
        barrier.wait();
        Instant::now()
    })
    .elapsed();
    elapsed / threads as u32
}

fn bench(c: &mut Criterion) {
    let threads = match std::env::var("THREADSMITH_BENCH_THREADS") {
        Ok(_) => common::thread_counts(),
        Err(_) => vec![1, 2, 4, 16],
    };
    for max_size in [4u32, 8] {
        let mut group = c.benchmark_group(format!("pool/get_drop/max{max_size}"));
        common::configure(&mut group);
        for &t in &threads {
            let ours = threadsmith::pool::Pool::builder()
                .max_size(max_size as usize)
                .build(Trivial);
            group.bench_function(BenchmarkId::new("threadsmith", t), |b| {
                b.iter_custom(|iters| per_checkout(&ours, t, iters))
            });
            let theirs = r2d2::Pool::builder()
                .max_size(max_size)
                .build(Trivial)
                .expect("trivial connections never fail");
            group.bench_function(BenchmarkId::new("r2d2", t), |b| {
                b.iter_custom(|iters| per_checkout(&theirs, t, iters))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
