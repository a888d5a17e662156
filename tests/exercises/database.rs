//! Grading for the database chapter's exercise (`book/src/database.md`):
//! `Suite::check_versioned_store` must pass the reference store and retry loop, and reject each
//! optimistic-concurrency mutant naming the property it breaks.

use threadsmith::check::conformance::{Failure, Suite};
use threadsmith::check::mutants::{
    add_retry_forever, add_retry_stale, CheckThenWriteStore, FrozenVersionStore, VersionlessStore,
};
use threadsmith::check::reference::{add_with_retry, MemoryVersionedStore};

/// 4 threads x 200 increments on one row: enough contention that the concurrent mutants'
/// yields lose updates on every run.
fn suite() -> Suite {
    Suite::new().stress(4, 200)
}

fn expect_rejected(result: Result<impl std::fmt::Debug, Failure>, property: &str) {
    match result {
        Ok(report) => panic!("the suite passed a mutant it must reject: {report:?}"),
        Err(failure) => assert_eq!(failure.property(), property, "{failure}"),
    }
}

#[test]
fn the_reference_store_and_retry_loop_pass() {
    let report = suite()
        .check_versioned_store(MemoryVersionedStore::new, add_with_retry)
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.increments + report.gave_up, 800);
}

#[test]
fn a_write_without_the_version_check_loses_updates() {
    expect_rejected(
        suite().check_versioned_store(VersionlessStore::new, add_with_retry),
        "lost update",
    );
}

#[test]
fn a_check_then_write_in_two_steps_loses_updates_under_contention() {
    expect_rejected(
        suite().check_versioned_store(CheckThenWriteStore::new, add_with_retry),
        "lost update",
    );
}

#[test]
fn a_write_that_never_bumps_the_version_fails_version() {
    expect_rejected(
        suite().check_versioned_store(FrozenVersionStore::new, add_with_retry),
        "version",
    );
}

#[test]
fn a_retry_with_the_stale_version_fails_retry() {
    expect_rejected(
        suite().check_versioned_store(MemoryVersionedStore::new, add_retry_stale),
        "retry",
    );
}

#[test]
fn a_retry_loop_without_a_bound_fails_retry() {
    expect_rejected(
        suite().check_versioned_store(MemoryVersionedStore::new, add_retry_forever),
        "retry",
    );
}
