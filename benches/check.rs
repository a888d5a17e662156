//! How fast is the linearizability checker on the histories the test suites produce?
//!
//! There is no maintained Rust peer to run side by side (see the `check` module docs); the
//! figures are the checker's own, recorded in `book/src/benchmarks.md`.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Mutex;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use threadsmith::check::models::{FifoQueue, QueueOp};
use threadsmith::check::{linearizable, Event, Stress};

type QueueEvent = Event<QueueOp<usize>, Option<usize>>;

/// A history of a mutex-protected queue: `threads` threads × `ops` operations, half pushes.
fn queue_history(threads: usize, ops: usize) -> Vec<QueueEvent> {
    let queue = Mutex::new(VecDeque::new());
    Stress::new(threads, ops).seed(42).run(
        &queue,
        |thread, rng| {
            if rng.percent(50) {
                QueueOp::Push(thread * 1_000_000 + rng.below(1_000_000))
            } else {
                QueueOp::Pop
            }
        },
        |q, op| match op {
            QueueOp::Push(v) => {
                q.lock().unwrap().push_back(*v);
                None
            }
            QueueOp::Pop => q.lock().unwrap().pop_front(),
        },
    )
}

fn checker(c: &mut Criterion) {
    let mut group = c.benchmark_group("check/linearizable_queue");
    for (threads, ops) in [(2, 50), (4, 50), (8, 50)] {
        let history = queue_history(threads, ops);
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{threads}x{ops}")),
            &history,
            |b, h| b.iter(|| linearizable(&FifoQueue::new(), black_box(h)).is_ok()),
        );
    }
    group.finish();
}

criterion_group!(benches, checker);
criterion_main!(benches);
