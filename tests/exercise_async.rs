//! The book's exercise for "Async/await, threads and green threads (Q6)": a minimal
//! `block_on` executor whose `Waker` unparks the blocked thread, graded by
//! `Suite::check_block_on` (ready futures, wakes that come before the executor sleeps, wakes
//! from other threads, many wakes, spurious wakes). The chapter `book/src/async.md` shows the
//! starter that replaces the solution below.
//!
//! Check your own version with `cargo test --test exercise_async`.
#![cfg(not(loom))] // real threads: not a loom model

use threadsmith::check::conformance::Suite;

#[test]
fn my_block_on_conforms() {
    let report = Suite::new()
        .check_block_on(block_on)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}

// ANCHOR: solution
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the task by unparking the thread that runs it.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // An unpark before the `park` is not lost: it leaves a token that makes the next
        // `park` return at once.
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread, sleeping while it is pending.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // Returns when a wake came since the last park (at once if it came during `poll`),
        // or spuriously; either way, polling again is right.
        thread::park();
    }
}
// ANCHOR_END: solution
