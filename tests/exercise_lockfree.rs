//! The book's exercise for "Lock-free stack and queue (Q4)": write `push` and `pop` of a
//! Treiber stack of `u64`s on crossbeam-epoch, then run the conformance suite on it. This file
//! is the solution; the chapter `book/src/lockfree.md` shows the starter and includes the parts
//! between the `ANCHOR` marks.
//!
//! Check your own version with `cargo test --test exercise_lockfree`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: types
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use threadsmith::check::conformance::{ConcurrentStack, Suite};
use threadsmith::sync::epoch::{self, Atomic, Owned};

/// One element and the node below it. `value` is a `u64`, which is `Copy`: reading it
/// twice is harmless, so unlike `TreiberStack` this stack needs no `ManuallyDrop`.
struct Node {
    value: u64,
    next: Atomic<Node>,
}

/// A lock-free stack of `u64`s. `Default` starts it empty (a null `head`).
#[derive(Default)]
pub struct MyStack {
    head: Atomic<Node>,
}
// ANCHOR_END: types

// ANCHOR: solution
impl ConcurrentStack for MyStack {
    fn push(&self, value: u64) {
        let mut node = Owned::new(Node {
            value,
            next: Atomic::null(),
        });
        let guard = epoch::pin();
        loop {
            // Relaxed: this pointer is stored in our node, never dereferenced by us.
            let head = self.head.load(Relaxed, &guard);
            node.next.store(head, Relaxed);
            // Release: makes `value` and `next` visible to the Acquire load in `pop`.
            match self
                .head
                .compare_exchange(head, node, Release, Relaxed, &guard)
            {
                Ok(_) => return,
                Err(e) => node = e.new, // someone else moved `head`: try again
            }
        }
    }

    fn pop(&self) -> Option<u64> {
        let guard = epoch::pin();
        loop {
            // Acquire: pairs with the Release CAS in `push`.
            let head = self.head.load(Acquire, &guard);
            // SAFETY: a non-null head was pushed, and `guard` keeps it from being freed.
            let node = unsafe { head.as_ref() }?;
            // Relaxed: `next` was written before the push that the load above synchronised with.
            let next = node.next.load(Relaxed, &guard);
            // Relaxed: winning only makes the node ours; its contents are already visible.
            if self
                .head
                .compare_exchange(head, next, Relaxed, Relaxed, &guard)
                .is_ok()
            {
                let value = node.value;
                // SAFETY: our CAS unlinked the node, so we are the only one to retire it; it
                // is freed once no pinned thread can still be reading it.
                unsafe { guard.defer_destroy(head) };
                return Some(value);
            }
        }
    }
}

impl Drop for MyStack {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can reach the nodes, so we free them directly.
        unsafe {
            let guard = epoch::unprotected();
            let mut current = self.head.load(Relaxed, guard);
            while let Some(node) = current.as_ref() {
                let next = node.next.load(Relaxed, guard);
                drop(current.into_owned());
                current = next;
            }
        }
    }
}
// ANCHOR_END: solution

// ANCHOR: tests
#[test]
fn my_stack_conforms() {
    // Sequential model, 1,000 linearizability histories, 4 threads x 100,000 operations.
    let report = Suite::new()
        .check_stack(MyStack::default)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: tests
