//! The book's exercise for "Deadlocks (Q3)": a bank whose transfers between any two of N
//! accounts never deadlock, never lose or create money, and never overdraw, graded by the bank
//! conformance suite. The solution is between the `solution` anchors; the chapter
//! `book/src/deadlocks.md` shows the starter that replaces it.
//!
//! Check your own version with `cargo test --test exercise_deadlocks`.
#![cfg(not(loom))] // real threads: not a loom model

use std::time::Duration;

use threadsmith::check::conformance::Suite;

#[test]
fn my_bank_conforms() {
    // A deadlocked bank never finishes: after 30 s without finishing a phase the suite reports `deadlock`
    // (and leaves the blocked threads behind until the test process exits).
    let report = Suite::new()
        .stall_timeout(Duration::from_secs(30))
        .check_bank(MyBank::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}

// ANCHOR: solution
use threadsmith::check::conformance::Bank;
use threadsmith::sync::Mutex;

/// One lock per account; every thread takes locks in increasing account number.
pub struct MyBank {
    accounts: Vec<Mutex<u64>>,
}

impl MyBank {
    pub fn new(accounts: usize, initial: u64) -> Self {
        Self {
            accounts: (0..accounts).map(|_| Mutex::new(initial)).collect(),
        }
    }
}

impl Bank for MyBank {
    fn transfer(&self, from: usize, to: usize, amount: u64) -> bool {
        if from == to {
            // Locking the same mutex twice would wait for ourselves.
            return *self.accounts[from].lock() >= amount;
        }
        // The global order: lower account number first, whichever way the money goes.
        let (low, high) = (from.min(to), from.max(to));
        let mut low = self.accounts[low].lock();
        let mut high = self.accounts[high].lock();
        let (debit, credit) = if from < to {
            (&mut *low, &mut *high)
        } else {
            (&mut *high, &mut *low)
        };
        if *debit < amount {
            return false;
        }
        *debit -= amount;
        *credit += amount;
        true
    }

    fn balance(&self, account: usize) -> u64 {
        *self.accounts[account].lock()
    }

    fn total(&self) -> u64 {
        // Hold every lock (taken in the same order) until the sum is done: a snapshot.
        let guards: Vec<_> = self.accounts.iter().map(|a| a.lock()).collect();
        guards.iter().map(|g| **g).sum()
    }
}
// ANCHOR_END: solution
