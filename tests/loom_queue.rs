//! Loom models of the Michael–Scott queue and of its Relaxed-link mutant, run with
//! `RUSTFLAGS="--cfg loom"` (see `.ci/run`).
//!
//! Each model's main thread fills the queue, spawns, joins and drains; it asserts that every
//! value came out exactly once (`common::scripts::explore`), and the tests assert the set of
//! outcomes, including FIFO order. A value read before it was published is a data race on the
//! node's `UnsafeCell`, which loom reports; the mutant must trip it.
#![cfg(loom)]

mod common;

use std::collections::BTreeSet;

use common::scripts::{explore, Script};
use threadsmith::check::mutants::EarlyPublishQueue;
use threadsmith::queue::MsQueue;

type Outcomes = BTreeSet<Vec<Vec<u8>>>;

/// One producer pushes 1 then 2 while a consumer pops twice: the consumer sees a prefix of
/// [1, 2], never 2 before 1, and the drain gets the rest in order.
const PRODUCER_CONSUMER: &[Script] = &[&[Some(1), Some(2)], &[None, None]];

#[test]
fn loom_consumer_sees_a_prefix_in_order() {
    let outcomes = explore::<MsQueue<u8>>(&[], PRODUCER_CONSUMER);
    let expected: Outcomes = [
        vec![vec![], vec![], vec![1, 2]],
        vec![vec![], vec![1], vec![2]],
        vec![vec![], vec![1, 2], vec![]],
    ]
    .into();
    assert_eq!(outcomes, expected);
}

/// Two producers and one consumer: while one push has linked its node but not yet swung
/// `tail`, the other push (and the pop) must help it along rather than wait or lose a node.
#[test]
fn loom_two_producers_and_a_consumer_help_a_lagging_tail() {
    let outcomes = explore::<MsQueue<u8>>(&[], &[&[Some(1)], &[Some(2)], &[None]]);
    let consumer_saw: BTreeSet<Vec<u8>> = outcomes.iter().map(|o| o[2].clone()).collect();
    assert_eq!(consumer_saw, [vec![], vec![1], vec![2]].into());
}

/// Two consumers race for the one value while a producer adds another: each value goes to
/// exactly one consumer, and the queued value is always taken first.
#[test]
fn loom_two_consumers_split_the_values() {
    let outcomes = explore::<MsQueue<u8>>(&[1], &[&[None], &[None], &[Some(2)]]);
    for o in &outcomes {
        // The first pop finds 1 queued, and FIFO means it takes 1 whatever the producer does.
        assert!(o[0] == [1] || o[1] == [1], "1 was queued first: {o:?}");
    }
    let second: BTreeSet<(Vec<u8>, Vec<u8>)> = outcomes
        .iter()
        .map(|o| (o[0].clone(), o[1].clone()))
        .collect();
    assert!(second.contains(&(vec![1], vec![2])) && second.contains(&(vec![2], vec![1])));
    assert!(second.contains(&(vec![1], vec![])) && second.contains(&(vec![], vec![1])));
}

#[test]
#[should_panic(expected = "Causality violation")]
fn loom_catches_a_node_published_before_its_value() {
    explore::<EarlyPublishQueue<u8>>(&[], &[&[Some(1)], &[None]]);
}
