//! The book's exercise for "Producer–consumer and bounded queues (Q8)": a bounded blocking
//! queue on a lock and condition variables, graded by the bounded conformance suite (including
//! its lost-wake-up check). The solution is the crate's reference answer,
//! `threadsmith::check::reference::CondvarQueue`; the chapter `book/src/producer-consumer.md`
//! shows the starter that replaces the `use` line below.
//!
//! Check your own version with `cargo test --test exercise_bounded`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: harness
use std::time::Duration;

use threadsmith::check::conformance::Suite;

#[test]
fn my_queue_conforms() {
    // A sequential run, 300 histories, 2 producers x 2 consumers x 50,000 values, the close
    // race, and 5,000 capacity-1 hand-offs under a 30-second watchdog.
    let report = Suite::new()
        .rounds(300)
        .stress(4, 50_000)
        .stall_timeout(Duration::from_secs(30))
        .check_bounded(MyQueue::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: harness

// The solution. Replace this line with your `MyQueue` (see the starter in the chapter).
type MyQueue = threadsmith::check::reference::CondvarQueue<u64>;
