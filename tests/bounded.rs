//! The bounded blocking queue: sequential model, linearizability, blocking stress, the close
//! race, wake-ups, timeouts and drop accounting, and the lost-wake-up mutant the suite must
//! reject.
#![cfg(not(loom))] // real threads: the loom models are in loom_bounded.rs

mod common;

use std::collections::VecDeque;
use std::time::Duration;

use common::{stress_ops, DropLedger};
use proptest::prelude::*;
use threadsmith::bounded::{BoundedQueue, Closed, TryPopError, TryPushError};
use threadsmith::check::conformance::Suite;
use threadsmith::check::reference::CondvarQueue;

#[test]
fn holds_up_to_capacity_in_fifo_order() {
    let queue = BoundedQueue::new(3);
    assert_eq!(
        (queue.capacity(), queue.len(), queue.is_empty()),
        (3, 0, true)
    );
    for i in 0..3 {
        queue.try_push(i).unwrap();
    }
    assert_eq!(queue.len(), 3);
    assert_eq!(queue.try_push(9), Err(TryPushError::Full(9)));
    assert_eq!(queue.try_pop(), Ok(0));
    queue.try_push(3).unwrap(); // wraps around the ring
    let all: Vec<_> = std::iter::from_fn(|| queue.try_pop().ok()).collect();
    assert_eq!(all, [1, 2, 3]);
    assert_eq!(queue.try_pop(), Err(TryPopError::Empty));
}

#[test]
fn many_laps_around_a_small_ring_keep_order_and_len() {
    let queue = BoundedQueue::new(3);
    let mut expected = VecDeque::new();
    for i in 0..1_000u32 {
        queue.push(i).unwrap();
        expected.push_back(i);
        if i % 3 != 0 {
            assert_eq!(queue.pop(), expected.pop_front());
        }
        if expected.len() == 3 {
            assert_eq!(queue.try_push(u32::MAX), Err(TryPushError::Full(u32::MAX)));
            assert_eq!(queue.pop(), expected.pop_front());
        }
        assert_eq!(queue.len(), expected.len());
    }
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn capacity_zero_panics_with_a_reason() {
    let _ = BoundedQueue::<u8>::new(0);
}

#[test]
fn closing_refuses_pushes_but_delivers_what_is_queued() {
    let queue = BoundedQueue::new(4);
    queue.push("a").unwrap();
    queue.push("b").unwrap();
    assert!(!queue.is_closed());
    queue.close();
    queue.close(); // idempotent
    assert!(queue.is_closed());
    assert_eq!(queue.push("c"), Err(Closed("c")));
    assert_eq!(queue.try_push("d"), Err(TryPushError::Closed("d")));
    assert_eq!(
        queue
            .push_timeout("e", Duration::from_secs(5))
            .map_err(|e| e.into_inner()),
        Err("e")
    );
    assert_eq!(queue.pop(), Some("a"));
    assert_eq!(queue.try_pop(), Ok("b"));
    assert_eq!(queue.pop(), None);
    assert_eq!(queue.try_pop(), Err(TryPopError::Closed));
    assert_eq!(
        queue.pop_timeout(Duration::from_secs(5)),
        Err(TryPopError::Closed)
    );
}

#[test]
fn close_wakes_a_blocked_consumer_and_a_blocked_producer() {
    let empty = BoundedQueue::<u8>::new(1);
    let full = BoundedQueue::new(1);
    full.push(1).unwrap();
    std::thread::scope(|s| {
        let consumer = s.spawn(|| empty.pop());
        let producer = s.spawn(|| full.push(2));
        // Whether they are asleep yet or not, close must end both waits.
        empty.close();
        full.close();
        assert_eq!(consumer.join().unwrap(), None);
        assert_eq!(producer.join().unwrap(), Err(Closed(2)));
    });
    assert_eq!(full.pop(), Some(1));
}

#[test]
fn timeouts_hand_the_value_back() {
    let queue = BoundedQueue::new(1);
    queue.push(1).unwrap();
    assert_eq!(
        queue.push_timeout(2, Duration::from_millis(1)),
        Err(TryPushError::Full(2))
    );
    assert_eq!(queue.pop_timeout(Duration::MAX), Ok(1)); // a value is there: no wait at all
    assert_eq!(
        queue.pop_timeout(Duration::from_millis(1)),
        Err(TryPopError::Empty)
    );
    assert_eq!(queue.push_timeout(3, Duration::MAX), Ok(())); // "forever" is not an overflow
}

#[test]
fn a_timed_wait_succeeds_when_the_other_side_arrives() {
    let queue = BoundedQueue::new(1);
    std::thread::scope(|s| {
        let consumer = s.spawn(|| queue.pop_timeout(Duration::from_secs(60)));
        queue.push_timeout(7, Duration::from_secs(60)).unwrap();
        assert_eq!(consumer.join().unwrap(), Ok(7));
    });
}

#[test]
fn errors_display_and_debug_without_the_value() {
    let full = TryPushError::Full(vec![1u8]);
    assert_eq!(
        (full.to_string(), format!("{full:?}")),
        ("the queue is full".into(), "Full(..)".into())
    );
    assert!(full.is_full() && !full.is_closed());
    assert_eq!(Closed(3).to_string(), "the queue is closed");
    assert_eq!(
        TryPopError::Closed.to_string(),
        "the queue is closed and empty"
    );
    let as_error: Box<dyn std::error::Error> = Box::new(TryPushError::Closed(()));
    assert_eq!(as_error.to_string(), "the queue is closed");
    let queue = BoundedQueue::new(2);
    queue.push(()).unwrap();
    assert_eq!(
        format!("{queue:?}"),
        "BoundedQueue { len: 1, capacity: 2, is_closed: false }"
    );
    fn send_sync<T: Send + Sync>() {}
    send_sync::<BoundedQueue<std::cell::Cell<u8>>>();
}

proptest! {
    #[test]
    fn matches_a_bounded_vecdeque(
        capacity in 1usize..6,
        ops in prop::collection::vec(prop::option::of(any::<u16>()), 0..200),
    ) {
        let queue = BoundedQueue::new(capacity);
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                Some(v) if model.len() == capacity => {
                    prop_assert_eq!(queue.try_push(v), Err(TryPushError::Full(v)))
                }
                Some(v) => {
                    prop_assert_eq!(queue.try_push(v), Ok(()));
                    model.push_back(v);
                }
                None => prop_assert_eq!(queue.try_pop().ok(), model.pop_front()),
            }
            prop_assert_eq!(queue.len(), model.len());
        }
    }
}

#[test]
fn drops_every_value_exactly_once() {
    const PRODUCERS: usize = 2;
    const PER_PRODUCER: usize = 5_000;
    let ledger = DropLedger::new(PRODUCERS * PER_PRODUCER);
    let queue = BoundedQueue::new(64);
    std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            let (queue, ledger) = (&queue, &ledger);
            s.spawn(move || {
                for i in 0..PER_PRODUCER {
                    queue.push(ledger.value(p * PER_PRODUCER + i)).ok().unwrap();
                    if i % 2 == 0 || queue.len() == queue.capacity() {
                        drop(queue.try_pop());
                    }
                }
            });
        }
    });
    assert!(!queue.is_empty());
    drop(queue); // the values still queued are dropped by the queue
    ledger.assert_each_dropped_once();
}

#[test]
fn conforms_to_the_suite() {
    // 2 producers x 2 consumers x 200,000 values through blocking push/pop, the close race,
    // 20,000 capacity-1 hand-offs, 1,000 linearizability histories and a sequential run.
    let report = Suite::new()
        .stress(4, 2 * stress_ops())
        .check_bounded(BoundedQueue::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.histories, 1_000);
}

#[test]
fn the_textbook_condvar_queue_conforms() {
    Suite::new()
        .rounds(200)
        .stress(4, 20_000)
        .check_bounded(CondvarQueue::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
}
