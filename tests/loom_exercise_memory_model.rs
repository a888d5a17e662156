//! The book's exercise for "Memory models (Q5)": a one-shot publication slot with the right
//! orderings, model-checked by loom. This file is the solution; the chapter
//! `book/src/memory-model.md` shows the starter and includes the parts between the `ANCHOR`
//! marks.
//!
//! Check your own version with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom cargo test --release --test loom_exercise_memory_model`.
#![cfg(loom)]

// ANCHOR: solution
use threadsmith::check::{check_publication, Publish};
use threadsmith::sync::atomic::{AtomicBool, Ordering};
use threadsmith::sync::UnsafeCell;

#[derive(Default)]
pub struct MySlot {
    value: UnsafeCell<u64>,
    ready: AtomicBool,
}

// SAFETY: the one publisher writes `value` before its Release store of `ready`; a reader
// touches `value` only after an Acquire load of `ready` returned true, so the write
// happens-before every read.
unsafe impl Sync for MySlot {}

impl Publish for MySlot {
    fn publish(&self, value: u64) {
        // SAFETY: nobody reads `value` before `ready` is raised below.
        self.value.with_mut(|p| unsafe { *p = value });
        // Release: pairs with the Acquire load in `read`, carrying the write above with it.
        self.ready.store(true, Ordering::Release);
    }

    fn read(&self) -> Option<u64> {
        // Acquire: pairs with the Release store in `publish`.
        if self.ready.load(Ordering::Acquire) {
            // SAFETY: the Acquire load saw `ready`: the write to `value` happened before.
            Some(self.value.with(|p| unsafe { *p }))
        } else {
            None
        }
    }
}
// ANCHOR_END: solution

// ANCHOR: test
#[test]
fn my_slot_publishes_safely() {
    match check_publication::<MySlot>() {
        Ok(executions) => println!("loom explored {executions} executions"),
        Err(failure) => panic!("{failure}"),
    }
}
// ANCHOR_END: test
