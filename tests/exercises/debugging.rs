//! Grading for the debugging chapter (`book/src/debugging.md`): `check::grade_detector` must
//! accept a deterministic detector of the check-then-act overdraft (it rejects the mutant and
//! accepts the reference every time), and reject the two classic wrong detectors: one that
//! raises the alarm on everything, and one that "stress tests" without forcing the interleaving.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

use threadsmith::check::conformance::{CasAccount, ConcurrentAccount, Pause};
use threadsmith::check::grade_detector;
use threadsmith::check::mutants::CheckThenActAccount;

type NewAccount = fn(u64, Pause) -> Box<dyn ConcurrentAccount>;

const REFERENCE: NewAccount = |b, p| Box::new(CasAccount::with_pause(b, p));
const MUTANT: NewAccount = |b, p| Box::new(CheckThenActAccount::with_pause(b, p));

/// Stops the first withdrawal at its fail point until a second one has finished.
fn forced_interleaving(new: &NewAccount) -> Result<(), String> {
    let (arrived, go) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let first = Arc::new(AtomicBool::new(true));
    let pause: Pause = {
        let (arrived, go) = (arrived.clone(), go.clone());
        Arc::new(move |point| {
            if point == "withdraw: checked" && first.swap(false, SeqCst) {
                arrived.wait();
                go.wait();
            }
        })
    };
    let account = new(1, pause);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| account.withdraw(1));
        arrived.wait();
        let b = account.withdraw(1);
        go.wait();
        (a.join().unwrap(), b)
    });
    if a && b {
        Err("both withdrawals of 1 from an account of 1 succeeded".into())
    } else {
        Ok(())
    }
}

#[test]
fn grade_detector_passes_a_forced_interleaving() {
    assert_eq!(
        grade_detector(200, &REFERENCE, &MUTANT, forced_interleaving).unwrap(),
        200
    );
}

#[test]
fn grade_detector_rejects_a_detector_that_always_alarms() {
    let failure = grade_detector(10, &REFERENCE, &MUTANT, |_: &NewAccount| {
        Err("bug!".to_string())
    })
    .unwrap_err();
    assert_eq!(failure.property(), "false alarm", "{failure}");
}

#[test]
fn grade_detector_rejects_a_detector_that_does_not_force_the_race() {
    // Two withdrawals one after the other: the window between check and act is never hit.
    let sequential = |new: &NewAccount| {
        let account = new(1, Arc::new(|_| {}));
        if account.withdraw(1) && account.withdraw(1) {
            Err("overdraft".to_string())
        } else {
            Ok(())
        }
    };
    let failure = grade_detector(10, &REFERENCE, &MUTANT, sequential).unwrap_err();
    assert_eq!(failure.property(), "missed bug", "{failure}");
}
