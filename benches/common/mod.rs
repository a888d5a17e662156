//! The shared workloads of the stack and queue benches.
#![allow(dead_code)] // each bench uses its own subset

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Throughput};

/// Thread counts to run: `THREADSMITH_BENCH_THREADS=1,2,4,8,16`, or 1, 2 and 4.
pub fn thread_counts() -> Vec<usize> {
    std::env::var("THREADSMITH_BENCH_THREADS")
        .ok()
        .map(|s| s.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1, 2, 4])
}

/// Short runs: these benches are many and the machines are small.
pub fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
}

/// Runs `work(thread, iters)` on `threads` threads started together; returns the wall time
/// from the start until the last one finished.
fn timed(threads: usize, iters: u64, work: &(dyn Fn(usize, u64) + Sync)) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                work(t, iters);
            });
        }
        barrier.wait();
        let start = Instant::now();
        // Leaving the scope joins every thread.
        start
    })
    .elapsed()
}

/// A structure under test: the stack, the queue, or a peer.
pub trait Subject: Default + Sync {
    fn put(&self, value: u64);
    fn take(&self) -> Option<u64>;
}

macro_rules! subject {
    ($ty:ty, $put:ident, $take:ident) => {
        impl Subject for $ty {
            fn put(&self, value: u64) {
                self.$put(value)
            }
            fn take(&self) -> Option<u64> {
                self.$take()
            }
        }
    };
}
subject!(threadsmith::stack::TreiberStack<u64>, push, pop);
subject!(threadsmith::queue::MsQueue<u64>, push, pop);
subject!(crossbeam_queue::SegQueue<u64>, push, pop);

impl Subject for parking_lot::Mutex<Vec<u64>> {
    fn put(&self, value: u64) {
        self.lock().push(value)
    }
    fn take(&self) -> Option<u64> {
        self.lock().pop()
    }
}

impl Subject for parking_lot::Mutex<std::collections::VecDeque<u64>> {
    fn put(&self, value: u64) {
        self.lock().push_back(value)
    }
    fn take(&self) -> Option<u64> {
        self.lock().pop_front()
    }
}

/// The two workloads.
#[derive(Clone, Copy, Debug)]
pub enum Workload {
    /// Every thread does `iters` push+pop pairs on one shared structure. Reported time is wall
    /// time divided by all pairs done, i.e. the inverse of throughput, per pair.
    Pairs,
    /// `threads / 2` producers push `iters` values each while `threads / 2` consumers pop them
    /// all. Reported time is wall time divided by the values moved, per value.
    Split,
}

/// Runs `workload` on a fresh `S` with `threads` threads, as benchmark `name/threads`.
pub fn run<S: Subject>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    workload: Workload,
    name: &str,
    threads: usize,
) {
    let workers = match workload {
        Workload::Pairs => threads,
        Workload::Split => (threads / 2).max(1) * 2,
    };
    group.bench_function(BenchmarkId::new(name, workers), |b| {
        b.iter_custom(|iters| {
            let s = S::default();
            match workload {
                Workload::Pairs => {
                    let elapsed = timed(workers, iters, &|t, iters| {
                        for i in 0..iters {
                            s.put((t as u64) << 32 | i);
                            std::hint::black_box(s.take());
                        }
                    });
                    elapsed / workers as u32
                }
                Workload::Split => {
                    let producers = workers / 2;
                    let consumed = AtomicU64::new(0);
                    let total = iters * producers as u64;
                    let elapsed = timed(workers, iters, &|t, iters| {
                        if t < producers {
                            (0..iters).for_each(|i| s.put(i));
                            return;
                        }
                        // Relaxed: a counter; the values themselves come through `s`.
                        while consumed.load(Relaxed) < total {
                            match s.take() {
                                Some(v) => {
                                    std::hint::black_box(v);
                                    consumed.fetch_add(1, Relaxed);
                                }
                                None => std::hint::spin_loop(),
                            }
                        }
                    });
                    elapsed / producers as u32
                }
            }
        })
    });
}
