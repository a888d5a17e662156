//! Michael–Scott queue vs `parking_lot::Mutex<VecDeque>` and crossbeam's `SegQueue` (the
//! lock-free unbounded MPMC queue a user would otherwise pick). Two workloads:
//! - `queue_pairs`: every thread does push+pop pairs; time per pair (wall time over all pairs);
//! - `queue_split`: half the threads produce, half consume; time per value moved.
//!
//! `cargo bench --bench queue`; `THREADSMITH_BENCH_THREADS=1,2,4,8,16` picks thread counts.

mod common;

use std::collections::VecDeque;

use common::Workload;
use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_queue::SegQueue;
use parking_lot::Mutex;
use threadsmith::queue::MsQueue;

fn queues(c: &mut Criterion, group: &str, workload: Workload, min_threads: usize) {
    let mut group = c.benchmark_group(group);
    common::configure(&mut group);
    for threads in common::thread_counts()
        .into_iter()
        .filter(|&t| t >= min_threads)
    {
        common::run::<MsQueue<u64>>(&mut group, workload, "ms_queue", threads);
        common::run::<Mutex<VecDeque<u64>>>(&mut group, workload, "mutex_vecdeque", threads);
        common::run::<SegQueue<u64>>(&mut group, workload, "segqueue", threads);
    }
    group.finish();
}

fn push_pop_pairs(c: &mut Criterion) {
    queues(c, "queue_pairs", Workload::Pairs, 1);
}

fn producers_consumers(c: &mut Criterion) {
    queues(c, "queue_split", Workload::Split, 2);
}

criterion_group!(benches, push_pop_pairs, producers_consumers);
criterion_main!(benches);
