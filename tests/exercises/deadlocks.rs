//! Grading the deadlock chapter's exercise: `Suite::check_bank` passes the crate's lock-ordered
//! bank, and rejects the naive-order bank (`deadlock`) and the torn-transfer bank
//! (`conservation`).

use std::time::Duration;

use threadsmith::check::conformance::{OrderedBank, Suite};
use threadsmith::check::mutants::{NaiveOrderBank, TornTransferBank};

#[test]
fn bank_suite_passes_the_lock_ordered_bank() {
    Suite::new()
        .check_bank(OrderedBank::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn bank_suite_rejects_the_naive_lock_order_as_deadlock() {
    // The mutant deadlocks within a few transfers and stays deadlocked, so a short watchdog is
    // enough; its blocked threads are left behind until this test process exits.
    let failure = Suite::new()
        .stall_timeout(Duration::from_secs(5))
        .check_bank(NaiveOrderBank::new)
        .expect_err("transfers in opposite directions must deadlock the naive order");
    println!("{failure}");
    assert_eq!(failure.property(), "deadlock", "{failure}");
}

#[test]
fn bank_suite_rejects_the_torn_transfer_as_conservation() {
    let failure = Suite::new()
        .check_bank(TornTransferBank::new)
        .expect_err("a total() between the debit and the credit must see money missing");
    println!("{failure}");
    assert_eq!(failure.property(), "conservation", "{failure}");
}
