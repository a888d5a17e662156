//! The Michael–Scott queue: sequential model, linearizability, stress with per-producer order,
//! drop accounting. Its mutant (a Relaxed link) is a data race, so it lives in loom_queue.rs.
#![cfg(not(loom))] // real threads: the loom models are in loom_queue.rs

mod common;

use std::collections::VecDeque;
use std::sync::Mutex;

use common::{stress_ops, DropLedger};
use proptest::prelude::*;
use threadsmith::check::conformance::{ConcurrentQueue, Failure, Suite};
use threadsmith::queue::MsQueue;

#[test]
fn pops_in_push_order() {
    let queue = MsQueue::new();
    assert!(queue.is_empty());
    for i in 0..10 {
        queue.push(i);
    }
    assert!(!queue.is_empty());
    let popped: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
    assert_eq!(popped, (0..10).collect::<Vec<_>>());
    assert!(queue.is_empty());
    assert_eq!(queue.pop(), None);
}

#[test]
fn is_send_sync_and_debug() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<MsQueue<String>>();
    send_sync::<MsQueue<std::cell::Cell<u8>>>(); // `T: Send` is enough, as for a Mutex
    let queue = MsQueue::default();
    assert_eq!(format!("{queue:?}"), "MsQueue { is_empty: true, .. }");
    queue.push(());
}

proptest! {
    #[test]
    fn matches_a_vecdeque(ops in prop::collection::vec(prop::option::of(any::<u16>()), 0..300)) {
        let queue = MsQueue::new();
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                Some(v) => { queue.push(v); model.push_back(v); }
                None => prop_assert_eq!(queue.pop(), model.pop_front()),
            }
            prop_assert_eq!(queue.is_empty(), model.is_empty());
        }
    }
}

#[test]
fn conforms_to_the_suite() {
    // 10,000 sequential ops, 1,000 histories of 2-4 threads x 8 ops, and 4 threads x 100,000
    // ops with every value out exactly once and each producer's values in order.
    let report = Suite::new()
        .stress(4, stress_ops())
        .check_queue(MsQueue::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.histories, 1_000);
}

#[test]
fn keeps_each_producers_order_across_consumers() {
    const PRODUCERS: u64 = 2;
    const PER_PRODUCER: u64 = 50_000;
    let queue = MsQueue::new();
    let consumed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            let queue = &queue;
            s.spawn(move || (0..PER_PRODUCER).for_each(|i| queue.push((p, i))));
        }
        for _ in 0..2 {
            let (queue, consumed) = (&queue, &consumed);
            s.spawn(move || {
                let mut mine = Vec::new();
                let mut last = [None; PRODUCERS as usize];
                while mine.len() < PER_PRODUCER as usize {
                    if let Some((p, i)) = queue.pop() {
                        assert!(
                            last[p as usize] < Some(i),
                            "producer {p}: {i} after {last:?}"
                        );
                        last[p as usize] = Some(i);
                        mine.push((p, i));
                    }
                }
                consumed.lock().unwrap().extend(mine);
            });
        }
    });
    let mut all = consumed.into_inner().unwrap();
    all.sort_unstable();
    let expected: Vec<_> = (0..PRODUCERS)
        .flat_map(|p| (0..PER_PRODUCER).map(move |i| (p, i)))
        .collect();
    assert_eq!(all, expected);
    assert!(queue.is_empty());
}

#[test]
fn drops_every_value_exactly_once() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 5_000;
    let ledger = DropLedger::new(THREADS * PER_THREAD);
    let queue = MsQueue::new();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (queue, ledger) = (&queue, &ledger);
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    queue.push(ledger.value(t * PER_THREAD + i));
                    if i % 2 == 0 {
                        drop(queue.pop());
                    }
                }
            });
        }
    });
    drop(queue); // about half the values are still inside: the queue drops them
    ledger.assert_each_dropped_once();
}

/// A queue whose `pop` takes from the wrong end: the suite must say so, or it proves nothing.
struct BackwardsQueue(Mutex<VecDeque<u64>>);

impl ConcurrentQueue for BackwardsQueue {
    fn push(&self, value: u64) {
        self.0.lock().unwrap().push_back(value)
    }
    fn pop(&self) -> Option<u64> {
        self.0.lock().unwrap().pop_back()
    }
}

#[test]
fn the_suite_rejects_a_lifo_posing_as_a_queue() {
    let failure = Suite::new()
        .check_queue(|| BackwardsQueue(Mutex::new(VecDeque::new())))
        .expect_err("LIFO is not FIFO");
    assert!(matches!(failure, Failure::Sequential { .. }), "{failure}");
    // With the sequential phase passed over, the concurrent phases catch it too.
    let failure = Suite::new()
        .sequential_ops(0)
        .check_queue(|| BackwardsQueue(Mutex::new(VecDeque::new())))
        .expect_err("LIFO is not FIFO");
    assert!(
        matches!(failure, Failure::NotLinearizable { .. }),
        "{failure}"
    );
    let failure = Suite::new()
        .sequential_ops(0)
        .rounds(0)
        .check_queue(|| BackwardsQueue(Mutex::new(VecDeque::new())))
        .expect_err("LIFO is not FIFO");
    assert!(matches!(failure, Failure::OutOfOrder { .. }), "{failure}");
}

#[test]
fn a_mutex_queue_conforms() {
    Suite::new()
        .rounds(100)
        .stress(2, 10_000)
        .check_queue(|| Mutex::new(VecDeque::new()))
        .unwrap_or_else(|failure| panic!("{failure}"));
}
