//! Grading for the race-conditions chapter (`book/src/races.md`): `Suite::check_account`
//! must pass the reference account and reject both check-then-act mutants, naming the property
//! each breaks.

use threadsmith::check::conformance::{CasAccount, ConcurrentAccount, Suite};
use threadsmith::check::mutants::{CheckThenActAccount, ReadModifyWriteAccount};

fn suite() -> Suite {
    Suite::new().rounds(100).stress(4, 2_000)
}

#[test]
fn account_suite_passes_the_reference_account() {
    let report = suite()
        .check_account(CasAccount::new)
        .unwrap_or_else(|f| panic!("the reference account was rejected: {f}"));
    assert_eq!(report.histories, 100);
}

#[test]
fn account_suite_passes_an_account_behind_a_lock() {
    struct Locked(std::sync::Mutex<u64>);
    impl ConcurrentAccount for Locked {
        fn deposit(&self, amount: u64) {
            *self.0.lock().unwrap() += amount;
        }
        fn withdraw(&self, amount: u64) -> bool {
            let mut balance = self.0.lock().unwrap();
            let enough = *balance >= amount;
            if enough {
                *balance -= amount;
            }
            enough
        }
        fn balance(&self) -> u64 {
            *self.0.lock().unwrap()
        }
    }
    suite()
        .check_account(|b| Locked(std::sync::Mutex::new(b)))
        .unwrap_or_else(|f| panic!("a locked account was rejected: {f}"));
}

#[test]
fn account_suite_rejects_check_then_act_as_overdraft() {
    let failure = suite()
        .check_account(CheckThenActAccount::new)
        .expect_err("withdraw that checks, then subtracts, must be caught");
    println!("{failure}");
    assert_eq!(failure.property(), "overdraft", "{failure}");
}

#[test]
fn account_suite_rejects_load_check_store_as_lost_update() {
    let failure = suite()
        .check_account(ReadModifyWriteAccount::new)
        .expect_err("withdraw as load, check, store must be caught");
    println!("{failure}");
    assert_eq!(failure.property(), "lost update", "{failure}");
}
