//! Q8, "Producer–consumer and bounded queues": `cargo test --test exercise_bounded` runs
//! `Suite::check_bounded` on the reader's queue. (The full-size run on `BoundedQueue`, also
//! under valgrind, is `conforms_to_the_suite` in `tests/bounded.rs`.)

use std::time::Duration;

use threadsmith::bounded::BoundedQueue;
use threadsmith::check::conformance::Suite;
use threadsmith::check::mutants::LostWakeupQueue;

#[test]
fn the_crates_queue_passes() {
    Suite::new()
        .rounds(200)
        .stress(4, 20_000)
        .check_bounded(BoundedQueue::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn a_lost_wake_up_is_rejected_as_a_stall() {
    // The mutant's blocking pop sleeps through a push that lands between its check and its
    // wait; with capacity 1 the producer then waits for it too, and nothing moves again.
    super::assert_rejected(
        Suite::new()
            .rounds(0)
            .stress(2, 20_000)
            .stall_timeout(Duration::from_secs(5))
            .check_bounded(LostWakeupQueue::new),
        "stalled",
    );
}
