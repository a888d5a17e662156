//! Loom model for the race-conditions chapter (`book/src/races.md`): the lost-update counter,
//! caught by exploring every interleaving of two increments. Run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_races`.
#![cfg(loom)]

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use threadsmith::sync::model_outcomes;

// ANCHOR: model
use threadsmith::check::mutants::LostUpdateCounter;
use threadsmith::sync::atomic::{AtomicU64, Ordering};
use threadsmith::sync::{thread, Arc};

/// What the model needs from a counter.
trait Counter: Default + Send + Sync + 'static {
    fn increment(&self);
    fn get(&self) -> u64;
}

impl Counter for LostUpdateCounter {
    fn increment(&self) {
        self.fetch_add(1);
    }
    fn get(&self) -> u64 {
        LostUpdateCounter::get(self)
    }
}

/// The fix: one read-modify-write instruction.
#[derive(Default)]
struct AtomicCounter(AtomicU64);

impl Counter for AtomicCounter {
    fn increment(&self) {
        // Relaxed: a counter publishes nothing; the RMW alone makes the increment indivisible.
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        // Relaxed: read after both threads were joined; the joins order their increments first.
        self.0.load(Ordering::Relaxed)
    }
}

/// Two threads increment once each; afterwards the counter must read 2.
fn two_increments<C: Counter>() -> u64 {
    let counter = Arc::new(C::default());
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn(move || counter.increment())
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let total = counter.get();
    assert_eq!(
        total, 2,
        "lost update: two increments left the counter at {total}"
    );
    total
}
// ANCHOR_END: model

fn finals<C: Counter>() -> BTreeSet<u64> {
    model_outcomes(two_increments::<C>)
}

#[test]
fn loom_atomic_counter_never_loses_an_update() {
    assert_eq!(finals::<AtomicCounter>(), BTreeSet::from([2]));
}

#[test]
fn loom_catches_the_lost_update_counter() {
    let panic = catch_unwind(AssertUnwindSafe(finals::<LostUpdateCounter>))
        .expect_err("loom must find the interleaving that loses an update");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("lost update: two increments left the counter at 1"),
        "unexpected failure: {message}"
    );
}
