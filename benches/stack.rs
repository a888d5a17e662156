//! Treiber stack vs `parking_lot::Mutex<Vec>` (what most code uses) and crossbeam's lock-free
//! `SegQueue` (a lock-free peer; it is FIFO, but the pair workload does not care). Every thread
//! does push+pop pairs on one shared structure; the time reported is per pair (wall time over
//! all pairs), so lower is better and a perfectly scaling structure halves it with 2 threads.
//!
//! `cargo bench --bench stack`; `THREADSMITH_BENCH_THREADS=1,2,4,8,16` picks thread counts.

mod common;

use common::Workload;
use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_queue::SegQueue;
use parking_lot::Mutex;
use threadsmith::stack::TreiberStack;

fn push_pop_pairs(c: &mut Criterion) {
    let mut group = c.benchmark_group("stack_pairs");
    common::configure(&mut group);
    for threads in common::thread_counts() {
        common::run::<TreiberStack<u64>>(&mut group, Workload::Pairs, "treiber", threads);
        common::run::<Mutex<Vec<u64>>>(&mut group, Workload::Pairs, "mutex_vec", threads);
        common::run::<SegQueue<u64>>(&mut group, Workload::Pairs, "segqueue", threads);
    }
    group.finish();
}

criterion_group!(benches, push_pop_pairs);
criterion_main!(benches);
