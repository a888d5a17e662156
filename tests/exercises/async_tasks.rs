//! Grading for "Async/await, threads and green threads (Q6)": `Suite::check_block_on` passes
//! the chapter's solution (`tests/exercise_async.rs`) and rejects each mutant executor for the
//! property it breaks. A stalled mutant's thread is leaked by the suite, not joined.

use std::time::Duration;

use threadsmith::check::conformance::{Suite, TestFuture};
use threadsmith::check::mutants::{
    blocking_send_block_on, noop_waker_block_on, notify_without_flag_block_on, one_wake_block_on,
    thread_local_flag_block_on,
};

#[path = "../exercise_async.rs"]
mod solution;

/// A stalled mutant is certain to stay stalled: ten seconds only bound how long the test
/// waits to see it, while the phases before the stall finish in milliseconds.
fn rejected_for(block_on: fn(TestFuture) -> u64) -> &'static str {
    Suite::new()
        .stall_timeout(Duration::from_secs(10))
        .check_block_on(block_on)
        .expect_err("the suite must reject this mutant")
        .property()
}

#[test]
fn block_on_suite_passes_the_solution() {
    let report = Suite::new()
        .check_block_on(solution::block_on)
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.futures, 7, "{report:?}");
    assert!(report.polls > 200, "{report:?}");
}

#[test]
fn block_on_suite_rejects_a_noop_waker() {
    assert_eq!(rejected_for(noop_waker_block_on), "wake before park");
}

#[test]
fn block_on_suite_rejects_a_notification_without_a_flag() {
    assert_eq!(
        rejected_for(notify_without_flag_block_on),
        "wake before park"
    );
}

#[test]
fn block_on_suite_rejects_a_thread_local_woken_flag() {
    assert_eq!(
        rejected_for(thread_local_flag_block_on),
        "wake from another thread"
    );
}

#[test]
fn block_on_suite_rejects_woken_taken_for_ready() {
    assert_eq!(rejected_for(one_wake_block_on), "many wakes");
}

#[test]
fn block_on_suite_rejects_a_blocking_send_in_wake() {
    assert_eq!(rejected_for(blocking_send_block_on), "spurious");
}
