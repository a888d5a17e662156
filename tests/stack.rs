//! The Treiber stack: sequential model, linearizability, stress, drop accounting, and the
//! mutants the same proofs must reject.
#![cfg(not(loom))] // real threads: the loom models are in loom_stack.rs

mod common;

use common::{stress_ops, DropLedger};
use proptest::prelude::*;
use threadsmith::check::conformance::{Failure, Suite};
use threadsmith::check::mutants::{AbaStack, RacyPopStack};
use threadsmith::stack::TreiberStack;

#[test]
fn pops_in_reverse_push_order() {
    let stack = TreiberStack::new();
    assert!(stack.is_empty());
    for i in 0..10 {
        stack.push(i);
    }
    assert!(!stack.is_empty());
    let popped: Vec<_> = std::iter::from_fn(|| stack.pop()).collect();
    assert_eq!(popped, (0..10).rev().collect::<Vec<_>>());
    assert!(stack.is_empty());
    assert_eq!(stack.pop(), None);
}

#[test]
fn is_send_sync_and_debug() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TreiberStack<String>>();
    send_sync::<TreiberStack<std::cell::Cell<u8>>>(); // `T: Send` is enough, as for a Mutex
    let stack = TreiberStack::default();
    stack.push(1);
    assert_eq!(format!("{stack:?}"), "TreiberStack { is_empty: false, .. }");
}

proptest! {
    #[test]
    fn matches_a_vec(ops in prop::collection::vec(prop::option::of(any::<u16>()), 0..300)) {
        let stack = TreiberStack::new();
        let mut model = Vec::new();
        for op in ops {
            match op {
                Some(v) => { stack.push(v); model.push(v); }
                None => prop_assert_eq!(stack.pop(), model.pop()),
            }
            prop_assert_eq!(stack.is_empty(), model.is_empty());
        }
    }
}

#[test]
fn conforms_to_the_suite() {
    // 10,000 sequential ops, 1,000 histories of 2-4 threads x 8 ops, 4 threads x 100,000 ops.
    let report = Suite::new()
        .stress(4, stress_ops())
        .check_stack(TreiberStack::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.histories, 1_000);
}

#[test]
fn drops_every_value_exactly_once() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 5_000;
    let ledger = DropLedger::new(THREADS * PER_THREAD);
    let stack = TreiberStack::new();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (stack, ledger) = (&stack, &ledger);
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    stack.push(ledger.value(t * PER_THREAD + i));
                    if i % 2 == 0 {
                        drop(stack.pop()); // popped values are dropped by their new owner
                    }
                }
            });
        }
    });
    drop(stack); // about half the values are still inside: the stack drops them
    ledger.assert_each_dropped_once();
}

/// The linearizability phase alone catches both mutants: the stress phase is switched off.
#[test]
fn linearizability_alone_rejects_the_mutants() {
    let suite = Suite::new().rounds(5_000).stress(0, 0);
    for (name, result) in [
        ("racy pop", suite.check_stack(RacyPopStack::new)),
        ("aba", suite.check_stack(AbaStack::new)),
    ] {
        match result {
            Err(Failure::NotLinearizable { round, violation }) => {
                println!("{name}: caught in round {round}\n{violation}")
            }
            other => panic!("{name}: expected a linearizability violation, got {other:?}"),
        }
    }
}
