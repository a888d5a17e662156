//! The book's exercise for "Race conditions (Q2)": an account whose `withdraw` never
//! overdraws, however many threads withdraw at once. This file is the solution; the chapter
//! `book/src/races.md` shows the starter and includes the parts between the `ANCHOR` marks.
//!
//! Check your own version with `cargo test --test exercise_races`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: solution
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use threadsmith::check::conformance::{ConcurrentAccount, Suite};

/// Fix 1: one lock held across the check and the act.
pub struct LockedAccount {
    balance: Mutex<u64>,
}

impl LockedAccount {
    pub fn new(balance: u64) -> Self {
        Self {
            balance: Mutex::new(balance),
        }
    }
}

impl ConcurrentAccount for LockedAccount {
    fn deposit(&self, amount: u64) {
        *self.balance.lock().unwrap() += amount;
    }

    fn withdraw(&self, amount: u64) -> bool {
        let mut balance = self.balance.lock().unwrap();
        // The guard lives until the end of the function: nobody can change the balance
        // between this check and the subtraction.
        if *balance < amount {
            return false;
        }
        *balance -= amount;
        true
    }

    fn balance(&self) -> u64 {
        *self.balance.lock().unwrap()
    }
}

/// Fix 2: no lock; the check is re-done inside one atomic read-modify-write.
pub struct AtomicAccount {
    balance: AtomicU64,
}

impl AtomicAccount {
    pub fn new(balance: u64) -> Self {
        Self {
            balance: AtomicU64::new(balance),
        }
    }
}

impl ConcurrentAccount for AtomicAccount {
    fn deposit(&self, amount: u64) {
        // Relaxed: the balance publishes no other data.
        self.balance.fetch_add(amount, Relaxed);
    }

    fn withdraw(&self, amount: u64) -> bool {
        // `fetch_update` is a CAS loop: the closure sees the current balance and the update
        // lands only if the balance is still that value; `None` (not enough) stops the loop.
        // Relaxed: as in `deposit`.
        self.balance
            .fetch_update(Relaxed, Relaxed, |balance| balance.checked_sub(amount))
            .is_ok()
    }

    fn balance(&self) -> u64 {
        // Relaxed: one location; coherence orders this read with every update.
        self.balance.load(Relaxed)
    }
}
// ANCHOR_END: solution

// ANCHOR: tests
#[test]
fn locked_account_conforms() {
    let report = Suite::new()
        .check_account(LockedAccount::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}

#[test]
fn atomic_account_conforms() {
    let report = Suite::new()
        .check_account(AtomicAccount::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: tests
