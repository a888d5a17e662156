//! The linearizability checker: what it must accept, what it must reject, and that every order
//! it returns really is a linearization.
#![cfg(not(loom))] // real threads and real time: not a loom model

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;
use threadsmith::check::models::{
    Counter, CounterOp, FifoQueue, LifoStack, QueueOp, Register, RegisterOp,
};
use threadsmith::check::{linearizable, Checker, Event, Model, Verdict};

fn ev<Op, Ret>(thread: usize, op: Op, ret: Ret, start: u64, end: u64) -> Event<Op, Ret> {
    Event {
        thread,
        op,
        ret,
        start,
        end,
    }
}

/// Asserts that `order` is a linearization of `history`: a permutation that respects real time
/// and that the model replays with the recorded results.
fn assert_valid_linearization<M: Model>(
    init: &M,
    history: &[Event<M::Op, M::Ret>],
    order: &[usize],
) {
    let mut seen = HashSet::new();
    assert_eq!(order.len(), history.len(), "every event exactly once");
    for &i in order {
        assert!(seen.insert(i), "event {i} appears twice");
    }
    for (pos, &a) in order.iter().enumerate() {
        for &b in &order[pos + 1..] {
            assert!(
                history[b].end >= history[a].start,
                "event {b} precedes {a} in real time but comes after it"
            );
        }
    }
    let mut model = init.clone();
    for &i in order {
        assert_eq!(
            model.apply(&history[i].op),
            history[i].ret,
            "model disagrees at event {i}"
        );
    }
}

#[test]
fn empty_history_is_linearizable() {
    let h: Vec<Event<RegisterOp<u8>, Option<u8>>> = vec![];
    assert_eq!(
        linearizable(&Register::new(0), &h).unwrap(),
        Vec::<usize>::new()
    );
}

#[test]
fn accepts_a_read_that_overlaps_the_write_it_sees_or_misses() {
    for seen in [0, 1] {
        let h = vec![
            ev(0, RegisterOp::Write(1), None, 0, 10),
            ev(1, RegisterOp::Read, Some(seen), 2, 8),
        ];
        let order = linearizable(&Register::new(0), &h).unwrap();
        assert_valid_linearization(&Register::new(0), &h, &order);
    }
}

#[test]
fn rejects_a_read_of_a_value_never_written() {
    let h = vec![
        ev(0, RegisterOp::Write(1), None, 0, 10),
        ev(1, RegisterOp::Read, Some(7), 2, 8),
    ];
    let err = linearizable(&Register::new(0), &h).unwrap_err();
    assert_eq!(err.stuck(), 1, "the read is what cannot be placed");
    assert_eq!(
        err.events(),
        &[0, 1],
        "the write overlaps it, so it is in the window"
    );
}

#[test]
fn rejects_a_stale_read_after_a_completed_write() {
    let h = vec![
        ev(0, RegisterOp::Write(1), None, 0, 1),
        ev(1, RegisterOp::Read, Some(0), 2, 3),
    ];
    let err = linearizable(&Register::new(0), &h).unwrap_err();
    assert_eq!((err.stuck(), err.placed()), (1, 1));
    assert_eq!(
        err.events(),
        &[0, 1],
        "the write is the reading thread's context"
    );
}

#[test]
fn equal_timestamps_overlap_rather_than_order() {
    // The write returns at t=5 and the read is called at t=5: they overlap, so reading the old
    // value is allowed. One tick later it is not.
    let overlapping = vec![
        ev(0, RegisterOp::Write(1), None, 0, 5),
        ev(1, RegisterOp::Read, Some(0), 5, 6),
    ];
    assert!(linearizable(&Register::new(0), &overlapping).is_ok());
    let ordered = vec![
        ev(0, RegisterOp::Write(1), None, 0, 5),
        ev(1, RegisterOp::Read, Some(0), 6, 7),
    ];
    assert!(linearizable(&Register::new(0), &ordered).is_err());
}

#[test]
fn rejects_a_fifo_queue_that_dequeues_in_the_wrong_order() {
    let h = vec![
        ev(0, QueueOp::Push(1), None, 0, 1),
        ev(0, QueueOp::Push(2), None, 2, 3),
        ev(1, QueueOp::Pop, Some(2), 4, 5),
    ];
    assert!(linearizable(&FifoQueue::new(), &h).is_err());
    // The same pop is fine for a stack, and fine for a queue if the pushes overlapped.
    assert!(linearizable(&LifoStack::new(), &h).is_ok());
    let concurrent_pushes = vec![
        ev(0, QueueOp::Push(1), None, 0, 3),
        ev(2, QueueOp::Push(2), None, 1, 2),
        ev(1, QueueOp::Pop, Some(2), 4, 5),
    ];
    assert!(linearizable(&FifoQueue::new(), &concurrent_pushes).is_ok());
}

#[test]
fn rejects_a_stack_that_pops_the_same_element_twice() {
    let h = vec![
        ev(0, QueueOp::Push(7), None, 0, 1),
        ev(1, QueueOp::Pop, Some(7), 2, 6),
        ev(2, QueueOp::Pop, Some(7), 3, 5),
    ];
    let err = linearizable(&LifoStack::new(), &h).unwrap_err();
    assert_eq!(
        err.stuck(),
        2,
        "the inner pop returns first and cannot be placed"
    );
    assert_eq!(err.events(), &[0, 1, 2]);
}

#[test]
fn rejects_a_lost_update_in_a_counter_history() {
    // Two increments both saw 0: one of them was lost.
    let h = vec![
        ev(0, CounterOp::FetchAdd(1), 0, 0, 4),
        ev(1, CounterOp::FetchAdd(1), 0, 1, 3),
        ev(0, CounterOp::Get, 1, 5, 6),
    ];
    assert!(linearizable(&Counter::default(), &h).is_err());
}

#[test]
fn violation_shows_the_window_where_the_search_got_stuck() {
    // A long correct prefix, then one stale read: the report must show just the end of it.
    let mut h = Vec::new();
    let mut t = 0;
    for i in 0..50 {
        h.push(ev(i % 3, RegisterOp::Write(i), None, t, t + 1));
        h.push(ev((i + 1) % 3, RegisterOp::Read, Some(i), t + 2, t + 3));
        t += 4;
    }
    h.push(ev(2, RegisterOp::Read, Some(48), t, t + 1));
    let err = linearizable(&Register::new(0), &h).unwrap_err();
    assert_eq!(err.history_len(), 101);
    assert_eq!((err.stuck(), err.placed()), (100, 100));
    // Each thread's last placed operation before the stale read, and the stale read.
    assert_eq!(err.events(), &[96, 98, 99, 100]);
    let report = err.to_string();
    println!("{report}");
    assert!(
        report.contains("100 of the 101 operations fit a valid order"),
        "{report}"
    );
    assert!(report.contains("thread 1"), "{report}");
    assert!(report.contains("[Write(49) -> None--"), "{report}");
    assert!(report.contains("[Read -> Some(48)!!"), "{report}");
    assert!(report.contains("#100"), "{report}");
}

#[test]
fn a_malformed_event_is_reported_not_a_panic() {
    let h = vec![ev(0, RegisterOp::Write(1), None, 5, 2)];
    let err = linearizable(&Register::new(0), &h).unwrap_err();
    assert!(err.to_string().contains("before it is called"), "{err}");
}

/// A single register, keyed: the model ignores the key because each part holds one key.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Keyed(Register<u32>);

impl Model for Keyed {
    type Op = (char, RegisterOp<u32>);
    type Ret = Option<u32>;
    fn apply(&mut self, (_, op): &Self::Op) -> Option<u32> {
        self.0.apply(op)
    }
}

#[test]
fn checks_each_key_on_its_own_and_merges_a_valid_order() {
    let h = vec![
        ev(0, ('a', RegisterOp::Write(1)), None, 0, 3),
        ev(1, ('b', RegisterOp::Write(2)), None, 1, 2),
        ev(2, ('a', RegisterOp::Read), Some(1), 4, 5),
        ev(0, ('b', RegisterOp::Read), Some(2), 4, 6),
        ev(1, ('a', RegisterOp::Read), Some(1), 7, 8),
    ];
    let init = Keyed(Register::new(0));
    let Verdict::Linearizable(order) = Checker::new(&init).check_by_key(&h, |(k, _)| *k) else {
        panic!("per-key histories are linearizable");
    };
    // A whole-history replay with a real two-register model must accept the merged order.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, Default)]
    struct Two(u32, u32);
    impl Model for Two {
        type Op = (char, RegisterOp<u32>);
        type Ret = Option<u32>;
        fn apply(&mut self, (k, op): &Self::Op) -> Option<u32> {
            let slot = if *k == 'a' { &mut self.0 } else { &mut self.1 };
            match op {
                RegisterOp::Read => Some(*slot),
                RegisterOp::Write(v) => {
                    *slot = *v;
                    None
                }
            }
        }
    }
    assert_valid_linearization(&Two::default(), &h, &order);
    // Without partitioning the single-register model wrongly mixes keys, and says so.
    assert!(linearizable(&init, &h).is_err());
}

#[test]
fn names_the_key_of_the_failing_part() {
    let h = vec![
        ev(0, ('a', RegisterOp::Write(1)), None, 0, 1),
        ev(1, ('b', RegisterOp::Read), Some(9), 2, 3),
    ];
    let init = Keyed(Register::new(0));
    let Verdict::Violation(v) = Checker::new(&init).check_by_key(&h, |(k, _)| *k) else {
        panic!("key b reads a value never written");
    };
    assert_eq!(v.partition(), Some("'b'"));
    assert_eq!(v.events(), &[1]);
    assert!(v.to_string().contains("with key 'b'"), "{v}");
}

#[test]
fn gives_up_with_unknown_at_the_time_limit() {
    // 40 fully concurrent writes of distinct values and a concurrent read of a value nobody
    // wrote: refuting it means trying ~2^40 subsets, far beyond any time limit.
    let mut h: Vec<_> = (0..40)
        .map(|i| ev(i, RegisterOp::Write(i as u32 + 1), None, 0, 100))
        .collect();
    h.push(ev(40, RegisterOp::Read, Some(999), 0, 100));
    h.push(ev(41, RegisterOp::Read, Some(1000), 101, 102));
    let verdict = Checker::new(&Register::new(0))
        .time_limit(Duration::from_millis(50))
        .check(&h);
    let Verdict::Unknown(unknown) = verdict else {
        panic!("expected Unknown, got {verdict:?}");
    };
    assert!(unknown.steps > 0);
}

// ---- Property tests: the checker agrees with brute force on small random histories. ----

/// Decides linearizability by trying every permutation (small histories only).
fn brute_force<M: Model>(init: &M, h: &[Event<M::Op, M::Ret>]) -> bool {
    fn go<M: Model>(model: &M, h: &[Event<M::Op, M::Ret>], used: &mut Vec<bool>) -> bool {
        if used.iter().all(|&u| u) {
            return true;
        }
        for i in 0..h.len() {
            if used[i] {
                continue;
            }
            // i may go next only if no unused event precedes it in real time.
            if (0..h.len()).any(|j| !used[j] && j != i && h[j].end < h[i].start) {
                continue;
            }
            let mut next = model.clone();
            if next.apply(&h[i].op) == h[i].ret {
                used[i] = true;
                if go(&next, h, used) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    go(init, h, &mut vec![false; h.len()])
}

fn register_event() -> impl Strategy<Value = Event<RegisterOp<u8>, Option<u8>>> {
    (0usize..3, any::<bool>(), 0u8..3, 0u64..12, 0u64..6).prop_map(
        |(thread, write, v, start, len)| {
            let (op, ret) = if write {
                (RegisterOp::Write(v), None)
            } else {
                (RegisterOp::Read, Some(v))
            };
            ev(thread, op, ret, start, start + len)
        },
    )
}

fn queue_event() -> impl Strategy<Value = Event<QueueOp<u8>, Option<u8>>> {
    (
        0usize..3,
        any::<bool>(),
        0u8..3,
        proptest::option::of(0u8..3),
        0u64..12,
        0u64..6,
    )
        .prop_map(|(thread, push, v, popped, start, len)| {
            let (op, ret) = if push {
                (QueueOp::Push(v), None)
            } else {
                (QueueOp::Pop, popped)
            };
            ev(thread, op, ret, start, start + len)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn register_verdicts_match_brute_force(h in proptest::collection::vec(register_event(), 0..7)) {
        let init = Register::new(0u8);
        match linearizable(&init, &h) {
            Ok(order) => {
                prop_assert!(brute_force(&init, &h));
                assert_valid_linearization(&init, &h, &order);
            }
            Err(v) => {
                prop_assert!(!brute_force(&init, &h));
                // The report names a real operation that was not placed, inside its window.
                prop_assert!(v.events().contains(&v.stuck()));
                prop_assert!(v.placed() < h.len());
            }
        }
    }

    #[test]
    fn queue_and_stack_verdicts_match_brute_force(h in proptest::collection::vec(queue_event(), 0..7)) {
        let fifo = FifoQueue::new();
        prop_assert_eq!(linearizable(&fifo, &h).is_ok(), brute_force(&fifo, &h));
        let lifo = LifoStack::new();
        prop_assert_eq!(linearizable(&lifo, &h).is_ok(), brute_force(&lifo, &h));
        if let Ok(order) = linearizable(&fifo, &h) {
            assert_valid_linearization(&fifo, &h, &order);
        }
    }
}
