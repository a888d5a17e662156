//! Loom models of the Treiber stack and of the two stack mutants, run with
//! `RUSTFLAGS="--cfg loom"` (see `.ci/run`).
//!
//! Each model's main thread fills the stack, spawns, joins and drains; it asserts that every
//! value pushed came out exactly once, and the tests assert the *set* of outcomes, so a model
//! that explored too little fails too. The mutants run the same models and must fail them.
#![cfg(loom)]

mod common;

use std::collections::BTreeSet;

use common::scripts::{explore, Script};
use threadsmith::check::mutants::{AbaStack, RacyPopStack};
use threadsmith::stack::TreiberStack;

/// Two threads each push then pop. Every pop follows a push, so no pop finds the stack empty:
/// each thread pops its own value or the other's, and nothing is left for the drain.
const PUSH_POP: &[Script] = &[&[Some(1), None], &[Some(2), None]];

#[test]
fn loom_push_pop_pairs_exchange_values() {
    let outcomes = explore::<TreiberStack<u8>>(&[], PUSH_POP);
    let expected: BTreeSet<Vec<Vec<u8>>> = [
        vec![vec![1], vec![2], vec![]],
        vec![vec![2], vec![1], vec![]],
    ]
    .into();
    assert_eq!(outcomes, expected);
}

/// The ABA schedule: thread 0 pops while thread 1 pops and pushes again, so a node can leave
/// and a new one take its place at the top between thread 0's read and its CAS.
const ABA: &[Script] = &[&[None], &[None, Some(3)]];

#[test]
fn loom_pop_survives_the_aba_schedule() {
    // The stack holds [1, 2] (2 on top).
    let outcomes = explore::<TreiberStack<u8>>(&[1, 2], ABA);
    let expected: BTreeSet<Vec<Vec<u8>>> = [
        vec![vec![2], vec![1], vec![3]],
        vec![vec![1], vec![2], vec![3]],
        vec![vec![3], vec![2], vec![1]],
    ]
    .into();
    assert_eq!(outcomes, expected);
}

#[test]
#[should_panic(expected = "values lost or duplicated")]
fn loom_catches_the_aba_problem() {
    explore::<AbaStack<u8>>(&[1, 2], ABA);
}

/// A pop races a push: the push must never be undone.
const POP_RACES_PUSH: &[Script] = &[&[None], &[Some(3)]];

#[test]
fn loom_pop_racing_push_loses_nothing() {
    let outcomes = explore::<TreiberStack<u8>>(&[1], POP_RACES_PUSH);
    let expected: BTreeSet<Vec<Vec<u8>>> = [
        vec![vec![1], vec![], vec![3]],
        vec![vec![3], vec![], vec![1]],
    ]
    .into();
    assert_eq!(outcomes, expected);
}

#[test]
#[should_panic(expected = "values lost or duplicated")]
fn loom_catches_a_pop_without_cas() {
    explore::<RacyPopStack<u8>>(&[1], POP_RACES_PUSH);
}

/// Three threads: two pushers and a popper. The popper may see nothing, either value, and the
/// drain returns the rest newest first.
#[test]
fn loom_three_threads_push_push_pop() {
    let outcomes = explore::<TreiberStack<u8>>(&[], &[&[Some(1)], &[Some(2)], &[None]]);
    let popper_saw: BTreeSet<Vec<u8>> = outcomes.iter().map(|o| o[2].clone()).collect();
    assert_eq!(popper_saw, [vec![], vec![1], vec![2]].into());
}
