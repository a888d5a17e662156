//! The book's exercise for "Connection pooling (Q13)": a bounded pool whose waiters are served
//! first come, first served, graded by the pool conformance suite (the size bound, fairness,
//! and timeouts that never swallow a connection). The solution is the crate's reference answer,
//! `threadsmith::check::reference::TicketPool`; the chapter `book/src/pool.md` shows the
//! starter that replaces the `use` line below.
//!
//! Check your own version with `cargo test --test exercise_pool`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: harness
use std::time::Duration;

use threadsmith::check::conformance::Suite;

#[test]
fn my_pool_conforms() {
    // Basics at max_size 2, 8 threads x 2,000 checkouts at max_size 3, 6 waiters in line at
    // max_size 1, and 4 threads timing out at max_size 2, each phase under a 60-second watchdog.
    let report = Suite::new()
        .stall_timeout(Duration::from_secs(60))
        .check_pool(MyPool::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: harness

// The solution. Replace this line with your `MyPool` (see the starter in the chapter).
type MyPool = threadsmith::check::reference::TicketPool;
