//! Grading the graders: for every exercise in the book, the conformance suite the exercise runs
//! must pass on the crate's own implementation and reject every mutant written for it, and the
//! rejection must name the property the mutant breaks (`Failure::property`). A suite that let a
//! mutant through would grade readers' exercises wrongly, so CI runs this file on every change.
//!
//! One module per chapter, under `tests/exercises/`.
#![cfg(not(loom))] // real threads: not a loom model

#[path = "exercises/actors.rs"]
mod actors;
#[path = "exercises/async_tasks.rs"]
mod async_tasks;
#[path = "exercises/bloom.rs"]
mod bloom;
#[path = "exercises/bounded.rs"]
mod bounded;
#[path = "exercises/cache.rs"]
mod cache;
mod common;

use std::fmt::Debug;

use threadsmith::check::conformance::Failure;

/// Asserts that a suite rejected a mutant and that the failure names `property`.
#[track_caller]
fn assert_rejected<R: Debug>(result: Result<R, Failure>, property: &str) {
    match result {
        Ok(report) => panic!("the mutant passed ({report:?}); it breaks {property}"),
        Err(failure) => assert_eq!(failure.property(), property, "{failure}"),
    }
}
#[path = "exercises/concurrency_parallelism.rs"]
mod concurrency_parallelism;
#[path = "exercises/database.rs"]
mod database;
#[path = "exercises/deadlocks.rs"]
mod deadlocks;
#[path = "exercises/debugging.rs"]
mod debugging;
#[path = "exercises/linearizability.rs"]
mod linearizability;
#[path = "exercises/lockfree.rs"]
mod lockfree;
#[path = "exercises/memory_model.rs"]
mod memory_model;
#[path = "exercises/pool.rs"]
mod pool;
#[path = "exercises/races.rs"]
mod races;
#[path = "exercises/ratelimit.rs"]
mod ratelimit;
#[path = "exercises/scheduler.rs"]
mod scheduler;
#[path = "exercises/shutdown.rs"]
mod shutdown;
