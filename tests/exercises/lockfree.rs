//! Q4, "Lock-free stack and queue": `cargo test --test exercise_lockfree` runs
//! `Suite::check_stack` on the reader's stack. (The full-size run on `TreiberStack`, also under
//! valgrind, is `conforms_to_the_suite` in `tests/stack.rs`.)

use threadsmith::check::conformance::Suite;
use threadsmith::check::mutants::{AbaStack, RacyPopStack};
use threadsmith::stack::TreiberStack;

#[test]
fn the_crates_stack_passes() {
    Suite::new()
        .stress(4, 20_000)
        .check_stack(TreiberStack::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
}

/// Both bugs break linearizability first: the 1,000 recorded histories catch them before the
/// stress phase runs (`tests/stack.rs` shows that phase catching them on its own).
#[test]
fn a_pop_without_cas_is_rejected_as_not_linearizable() {
    super::assert_rejected(
        Suite::new().check_stack(RacyPopStack::new),
        "linearizability",
    );
}

#[test]
fn node_reuse_without_epochs_is_rejected_as_not_linearizable() {
    super::assert_rejected(Suite::new().check_stack(AbaStack::new), "linearizability");
}
