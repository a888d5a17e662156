//! The book's exercise for "Debugging concurrency bugs (Q12)": turn the check-then-act
//! overdraft, a race that a stress test catches only sometimes, into a test that catches it
//! every time. This file is the solution; the chapter `book/src/debugging.md` shows the starter
//! and includes the parts between the `ANCHOR` marks.
//!
//! Check your own version with `cargo test --test exercise_debugging`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: types
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;

use threadsmith::check::conformance::{CasAccount, ConcurrentAccount, Pause};
use threadsmith::check::grade_detector;
use threadsmith::check::mutants::CheckThenActAccount;

/// Makes an account holding the given balance that calls the fail point.
type NewAccount = fn(u64, Pause) -> Box<dyn ConcurrentAccount>;
// ANCHOR_END: types

// ANCHOR: solution
/// Forces the one interleaving that breaks a check-then-act withdrawal: the first `withdraw`
/// stops at its fail point, after its check; a second `withdraw` runs to completion; then the
/// first goes on. Returns `Err` when both withdrawals of 1 from an account of 1 succeeded.
fn detect_overdraft(new: &NewAccount) -> Result<(), String> {
    let arrived = Arc::new(Barrier::new(2));
    let resume = Arc::new(Barrier::new(2));
    let first = Arc::new(AtomicBool::new(true));
    let pause: Pause = {
        let (arrived, resume) = (arrived.clone(), resume.clone());
        Arc::new(move |point| {
            // Only the first withdrawal to reach the point stops; a retry or the second
            // withdrawal must pass straight through, or the test would deadlock itself.
            if point == "withdraw: checked" && first.swap(false, SeqCst) {
                arrived.wait();
                resume.wait();
            }
        })
    };
    let account = new(1, pause);
    let (first_got, second_got) = thread::scope(|s| {
        let first = s.spawn(|| account.withdraw(1));
        arrived.wait(); // the first withdrawal has checked the balance and stopped
        let second = account.withdraw(1);
        resume.wait(); // let the first one act on what it checked
        (first.join().unwrap(), second)
    });
    if first_got && second_got {
        Err(format!(
            "both withdrawals of 1 from an account of 1 succeeded; balance now {}",
            account.balance()
        ))
    } else {
        Ok(())
    }
}
// ANCHOR_END: solution

// ANCHOR: test
#[test]
fn detector_is_deterministic() {
    let reference: NewAccount = |balance, pause| Box::new(CasAccount::with_pause(balance, pause));
    let mutant: NewAccount =
        |balance, pause| Box::new(CheckThenActAccount::with_pause(balance, pause));
    // 100 runs each way: the detector must reject the mutant and accept the reference every time.
    if let Err(failure) = grade_detector(100, &reference, &mutant, detect_overdraft) {
        panic!("{failure}");
    }
}
// ANCHOR_END: test
