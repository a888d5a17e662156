//! Q15/S1, "A concurrent task scheduler, with backpressure": `cargo test --test
//! exercise_scheduler` runs `Suite::check_backpressure` on the reader's queue.

use std::sync::Mutex;

use threadsmith::check::conformance::Suite;
use threadsmith::check::mutants::FlappingQueue;
use threadsmith::scheduler::WaterMarkQueue;

#[test]
fn the_schedulers_queue_conforms_to_the_backpressure_suite() {
    let report = Suite::new()
        .check_backpressure(|marks| Mutex::new(WaterMarkQueue::<u64>::new(marks)))
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(report.sequential_ops > 0);
}

#[test]
fn the_suite_rejects_a_queue_without_hysteresis() {
    super::assert_rejected(
        Suite::new().check_backpressure(FlappingQueue::new),
        "hysteresis",
    );
}
