//! The checker on histories recorded from real threads: a correct object is accepted every time,
//! and a broken one is not (the counter cases are graded in `tests/exercises/linearizability.rs`).
#![cfg(not(loom))] // real threads and real time: not a loom model

use std::collections::VecDeque;
use std::sync::Mutex;

use threadsmith::check::models::{FifoQueue, QueueOp};
use threadsmith::check::{linearizable, Stress};

#[test]
fn eight_threads_of_a_correct_queue_are_accepted() {
    let queue = Mutex::new(VecDeque::new());
    let history = Stress::new(8, 50).seed(3).run(
        &queue,
        |thread, rng| {
            if rng.percent(50) {
                QueueOp::Push(thread * 1000 + rng.below(1000))
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
    );
    assert_eq!(history.len(), 400);
    let order = linearizable(&FifoQueue::new(), &history).expect("a mutex queue is linearizable");
    assert_eq!(order.len(), 400);
}
