//! Grading the actor chapter's exercise: `Suite::check_bank` passes the crate's actor bank, and
//! rejects the bank of one actor per account (`conservation`: a credit in flight is in no
//! account).

use threadsmith::check::conformance::{ActorBank, Suite};
use threadsmith::check::mutants::AccountActorsBank;

#[test]
fn bank_suite_passes_the_actor_bank() {
    Suite::new()
        .check_bank(ActorBank::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn bank_suite_rejects_one_actor_per_account_as_conservation() {
    let failure = Suite::new()
        .check_bank(AccountActorsBank::new)
        .expect_err("a total() asked while a credit is in flight must come up short");
    println!("{failure}");
    assert_eq!(failure.property(), "conservation", "{failure}");
}
