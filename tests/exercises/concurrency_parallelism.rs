//! Grading for "Concurrency vs parallelism (Q1)": `Suite::check_parallel_map` passes the
//! chapter's solution (`tests/exercise_concurrency_parallelism.rs`) and rejects each mutant for
//! the property it breaks.

use std::time::Duration;

use threadsmith::check::conformance::{MapFn, Suite};
use threadsmith::check::mutants::{drop_remainder_sum, one_thread_sum, thread_per_item_sum};

#[path = "../exercise_concurrency_parallelism.rs"]
mod solution;

/// The suite with a short wait for the second thread: the mutants that never overlap fail
/// after this long rather than after the 60-second default. No mutant reaches a case that
/// needs two threads to meet before the case that rejects it, so the short wait cannot turn a
/// slow start into a wrong verdict.
fn quick() -> Suite {
    Suite::new().stall_timeout(Duration::from_secs(1))
}

fn rejected_for(sum: fn(&[u64], usize, MapFn<'_>) -> Option<u64>) -> &'static str {
    quick()
        .check_parallel_map(sum)
        .expect_err("the suite must reject this mutant")
        .property()
}

#[test]
fn parallel_map_suite_passes_the_solution() {
    let report = Suite::new()
        .check_parallel_map(solution::parallel_sum)
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(report.most_threads >= 2, "{report:?}");
    assert!(report.most_threads <= 16, "{report:?}");
}

#[test]
fn parallel_map_suite_rejects_a_dropped_remainder() {
    assert_eq!(rejected_for(drop_remainder_sum), "result");
}

#[test]
fn parallel_map_suite_rejects_chunks_run_one_at_a_time() {
    assert_eq!(rejected_for(one_thread_sum), "parallelism");
}

#[test]
fn parallel_map_suite_rejects_a_thread_per_item() {
    assert_eq!(rejected_for(thread_per_item_sum), "parallelism");
}

#[test]
fn parallel_map_suite_rejects_a_panic_on_zero_threads() {
    // The solution without its `threads == 0` check: `div_ceil(0)` panics.
    fn no_zero_check(data: &[u64], threads: usize, f: MapFn<'_>) -> Option<u64> {
        let chunk = data.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let workers: Vec<_> = data
                .chunks(chunk)
                .map(|part| s.spawn(move || part.iter().map(|&x| f(x)).sum::<u64>()))
                .collect();
            Some(workers.into_iter().map(|w| w.join().unwrap()).sum())
        })
    }
    // Every other case passes, with its threads really overlapping: the default 60-second
    // patience, so that a slow start on a loaded machine is never mistaken for no parallelism.
    let failure = Suite::new()
        .check_parallel_map(no_zero_check)
        .expect_err("the suite must reject a panic on zero threads");
    assert_eq!(failure.property(), "zero threads");
}
