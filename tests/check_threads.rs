//! The checker on histories recorded from real threads: a correct object is accepted every time,
//! and a lost update is caught within a bounded number of rounds.
#![cfg(not(loom))] // real threads and real time: not a loom model

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use threadsmith::check::models::{Counter, CounterOp, FifoQueue, QueueOp};
use threadsmith::check::mutants::LostUpdateCounter;
use threadsmith::check::{linearizable, Rng, Stress};

fn counter_op(_thread: usize, rng: &mut Rng) -> CounterOp {
    if rng.percent(80) {
        CounterOp::FetchAdd(1)
    } else {
        CounterOp::Get
    }
}

#[test]
fn a_correct_counter_is_accepted_in_every_round() {
    for round in 0..20 {
        let counter = AtomicU64::new(0);
        let history = Stress::new(4, 50)
            .seed(round)
            .run(&counter, counter_op, |c, op| match op {
                CounterOp::FetchAdd(n) => c.fetch_add(*n, Ordering::SeqCst),
                CounterOp::Get => c.load(Ordering::SeqCst),
            });
        if let Err(v) = linearizable(&Counter::default(), &history) {
            panic!("round {round}: a fetch_add counter was rejected:\n{v}");
        }
    }
}

#[test]
fn a_lost_update_counter_is_caught_from_real_threads() {
    const ROUNDS: u64 = 200;
    for round in 0..ROUNDS {
        let counter = LostUpdateCounter::new();
        let history = Stress::new(4, 50)
            .seed(round)
            .run(&counter, counter_op, |c, op| match op {
                CounterOp::FetchAdd(n) => c.fetch_add(*n),
                CounterOp::Get => c.get(),
            });
        if let Err(violation) = linearizable(&Counter::default(), &history) {
            println!("caught in round {round}:\n{violation}");
            assert!(
                violation.events().len() < history.len(),
                "the report shows a window"
            );
            return;
        }
    }
    panic!("{ROUNDS} rounds of a load-then-store counter were all accepted: the checker is blind");
}

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
