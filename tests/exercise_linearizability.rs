//! The book's exercise for "Linearizability (Q14)": write a `Model` for a register and catch a
//! lost update. This file is the solution; the chapter `book/src/linearizability.md` shows the
//! starter and includes the parts between the `ANCHOR` marks.
//!
//! Check your own version with `cargo test --test exercise_linearizability`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: imports
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use threadsmith::check::mutants::LostUpdateCounter;
use threadsmith::check::{linearizable, Checker, Event, Model, Rng, Stress, Verdict};
// ANCHOR_END: imports

// ANCHOR: ops
/// An operation on a 64-bit register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MyOp {
    /// Returns the value.
    Read,
    /// Stores the value.
    Write(u64),
    /// Adds (wrapping) and returns the value before.
    FetchAdd(u64),
    /// Stores `new` if the value is `expected`; says whether it did.
    CompareAndSet { expected: u64, new: u64 },
}

/// What an operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MyRet {
    /// `Read` and `FetchAdd`: the value (before the add, for `FetchAdd`).
    Value(u64),
    /// `Write`.
    Written,
    /// `CompareAndSet`: whether it stored.
    Set(bool),
}
// ANCHOR_END: ops

// ANCHOR: model
/// The sequential specification: one value, one operation at a time.
/// `Hash + Eq` let the checker remember which (operations done, state) pairs it has tried.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MyRegister {
    value: u64,
}

impl Model for MyRegister {
    type Op = MyOp;
    type Ret = MyRet;

    fn apply(&mut self, op: &MyOp) -> MyRet {
        match *op {
            MyOp::Read => MyRet::Value(self.value),
            MyOp::Write(v) => {
                self.value = v;
                MyRet::Written
            }
            MyOp::FetchAdd(n) => {
                let before = self.value;
                self.value = before.wrapping_add(n);
                MyRet::Value(before)
            }
            MyOp::CompareAndSet { expected, new } => {
                let matched = self.value == expected;
                if matched {
                    self.value = new;
                }
                MyRet::Set(matched)
            }
        }
    }
}
// ANCHOR_END: model

// ANCHOR: harness
/// A random operation. Values stay small so that reads often see the same value twice and
/// compare-and-set succeeds now and then: that is where the search has real choices to make.
fn any_op(rng: &mut Rng) -> MyOp {
    let small = |rng: &mut Rng| rng.below(4) as u64;
    match rng.below(10) {
        0..=3 => MyOp::Read,
        4..=5 => MyOp::Write(small(rng)),
        6..=7 => MyOp::FetchAdd(1),
        _ => MyOp::CompareAndSet {
            expected: small(rng),
            new: small(rng),
        },
    }
}

/// Records 4 threads × 50 operations on `target` from real threads; the seed picks the
/// operations (the interleaving is up to the OS).
fn record<T: Sync>(
    seed: u64,
    target: &T,
    generate: impl Fn(&mut Rng) -> MyOp + Sync,
    execute: impl Fn(&T, &MyOp) -> MyRet + Sync,
) -> Vec<Event<MyOp, MyRet>> {
    Stress::new(4, 50)
        .seed(seed)
        .run(target, |_thread, rng| generate(rng), execute)
}
// ANCHOR_END: harness

// ANCHOR: correct
/// A correct register: every operation is one critical section.
fn on_mutex(register: &Mutex<u64>, op: &MyOp) -> MyRet {
    let mut value = register.lock().unwrap();
    match *op {
        MyOp::Read => MyRet::Value(*value),
        MyOp::Write(v) => {
            *value = v;
            MyRet::Written
        }
        MyOp::FetchAdd(n) => {
            let before = *value;
            *value = before.wrapping_add(n);
            MyRet::Value(before)
        }
        MyOp::CompareAndSet { expected, new } => {
            let matched = *value == expected;
            if matched {
                *value = new;
            }
            MyRet::Set(matched)
        }
    }
}

/// A correct register without a lock: every operation is one atomic instruction.
///
/// Relaxed is enough: the writes to one atomic location form a single modification order, and
/// coherence keeps every read and write consistent with it and with happens-before. That order,
/// with each read placed after the write it saw, is the linearization. Stronger orderings matter
/// only for *other* memory a register publishes, and this one publishes none.
fn on_atomic(register: &AtomicU64, op: &MyOp) -> MyRet {
    match *op {
        MyOp::Read => MyRet::Value(register.load(Relaxed)),
        MyOp::Write(v) => {
            register.store(v, Relaxed);
            MyRet::Written
        }
        MyOp::FetchAdd(n) => MyRet::Value(register.fetch_add(n, Relaxed)),
        MyOp::CompareAndSet { expected, new } => MyRet::Set(
            register
                .compare_exchange(expected, new, Relaxed, Relaxed)
                .is_ok(),
        ),
    }
}

#[test]
fn accepts_a_mutex_register_every_round() {
    for seed in 0..5 {
        let history = record(seed, &Mutex::new(0), any_op, on_mutex);
        if let Err(violation) = linearizable(&MyRegister::default(), &history) {
            panic!("seed {seed}: a correct register was rejected\n{violation}");
        }
    }
}

#[test]
fn accepts_an_atomic_register_every_round() {
    for seed in 0..5 {
        let history = record(seed, &AtomicU64::new(0), any_op, on_atomic);
        if let Err(violation) = linearizable(&MyRegister::default(), &history) {
            panic!("seed {seed}: a correct register was rejected\n{violation}");
        }
    }
}
// ANCHOR_END: correct

// ANCHOR: catch
/// A racy object misbehaves only when the OS interleaves its threads badly, so one clean run
/// proves little. Record up to this many rounds and fail if none is rejected: a check that
/// cannot fail proves nothing.
const MAX_ROUNDS: u64 = 200;

/// Records rounds on fresh targets until the checker rejects one; returns that round.
fn first_rejected_round<T: Sync>(
    new_target: impl Fn() -> T,
    generate: impl Fn(&mut Rng) -> MyOp + Sync + Copy,
    execute: impl Fn(&T, &MyOp) -> MyRet + Sync + Copy,
) -> Option<u64> {
    (0..MAX_ROUNDS).find(|&round| {
        let history = record(round, &new_target(), generate, execute);
        // A time limit keeps one pathological history from hanging the test.
        let init = MyRegister::default();
        match Checker::new(&init)
            .time_limit(Duration::from_secs(10))
            .check(&history)
        {
            Verdict::Violation(violation) => {
                println!("round {round} rejected:\n{violation}");
                true
            }
            Verdict::Linearizable(_) | Verdict::Unknown(_) => false,
        }
    })
}

/// The crate's mutant has only `fetch_add` and `get`: generate only those.
fn adds_and_reads(rng: &mut Rng) -> MyOp {
    if rng.percent(80) {
        MyOp::FetchAdd(1)
    } else {
        MyOp::Read
    }
}

fn on_lost_update_counter(counter: &LostUpdateCounter, op: &MyOp) -> MyRet {
    match *op {
        MyOp::FetchAdd(n) => MyRet::Value(counter.fetch_add(n)),
        MyOp::Read => MyRet::Value(counter.get()),
        _ => unreachable!("adds_and_reads makes only adds and reads"),
    }
}

#[test]
fn catches_the_lost_update_counter() {
    let caught = first_rejected_round(
        LostUpdateCounter::new,
        adds_and_reads,
        on_lost_update_counter,
    );
    assert!(
        caught.is_some(),
        "the lost update went unnoticed in {MAX_ROUNDS} rounds"
    );
}

/// The same mistake made *with* a lock: `fetch_add` reads in one critical section and writes in
/// another, so an update that lands in between is overwritten.
fn fetch_add_in_two_critical_sections(register: &Mutex<u64>, op: &MyOp) -> MyRet {
    match *op {
        MyOp::FetchAdd(n) => {
            let before = *register.lock().unwrap();
            std::thread::yield_now(); // widens the window, as a preemption would
            *register.lock().unwrap() = before.wrapping_add(n);
            MyRet::Value(before)
        }
        _ => on_mutex(register, op),
    }
}

#[test]
fn catches_a_read_modify_write_split_across_two_locks() {
    let caught = first_rejected_round(|| Mutex::new(0), any_op, fetch_add_in_two_critical_sections);
    assert!(
        caught.is_some(),
        "the lost update went unnoticed in {MAX_ROUNDS} rounds"
    );
}
// ANCHOR_END: catch
