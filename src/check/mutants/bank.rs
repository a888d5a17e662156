//! Banks with the classic bugs of the deadlock and actor chapters, for
//! [`Suite::check_bank`](crate::check::conformance::Suite::check_bank).

use crate::actor::{self, Addr, Reply};
use crate::check::conformance::Bank;
use crate::lock_order::lock_all;
use crate::sync::{thread, Mutex};

// ANCHOR: naive_order
/// A bank that locks the account it debits, then the one it credits: two transfers in
/// opposite directions each hold one lock and wait for the other. (The `yield_now` between the
/// two `lock`s stands for whatever work a real transfer does there; it makes the deadlock show
/// within a few transfers instead of a few million.) A transfer to the same account locks one
/// mutex twice and deadlocks on its own.
///
/// [`Suite::check_bank`](crate::check::conformance::Suite::check_bank) rejects it as
/// `deadlock`, and leaves its blocked threads behind.
#[derive(Debug)]
pub struct NaiveOrderBank {
    accounts: Vec<Mutex<u64>>,
}

impl Bank for NaiveOrderBank {
    fn transfer(&self, from: usize, to: usize, amount: u64) -> bool {
        let mut debit = self.accounts[from].lock();
        thread::yield_now(); // check the fraud rules, write the audit log, ...
        let mut credit = self.accounts[to].lock();
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
        let all: Vec<&Mutex<u64>> = self.accounts.iter().collect();
        lock_all(&all).map_or(0, |guards| guards.iter().map(|g| **g).sum())
    }
}
// ANCHOR_END: naive_order

impl NaiveOrderBank {
    /// `accounts` accounts holding `initial` each.
    pub fn new(accounts: usize, initial: u64) -> Self {
        Self {
            accounts: (0..accounts).map(|_| Mutex::new(initial)).collect(),
        }
    }
}

// ANCHOR: torn_transfer
/// A bank that "fixes" the deadlock by never holding two locks: it debits under one lock,
/// releases it, then credits under the other. No deadlock, but between the two steps the
/// money is in neither account, and a `total()` then sees it missing.
///
/// [`Suite::check_bank`](crate::check::conformance::Suite::check_bank) rejects it as
/// `conservation`.
#[derive(Debug)]
pub struct TornTransferBank {
    accounts: Vec<Mutex<u64>>,
}

impl Bank for TornTransferBank {
    fn transfer(&self, from: usize, to: usize, amount: u64) -> bool {
        {
            let mut debit = self.accounts[from].lock();
            if *debit < amount {
                return false;
            }
            *debit -= amount;
        } // the debit's lock is released here...
        thread::yield_now();
        *self.accounts[to].lock() += amount; // ...and the credit happens later
        true
    }

    fn balance(&self, account: usize) -> u64 {
        *self.accounts[account].lock()
    }

    fn total(&self) -> u64 {
        let all: Vec<&Mutex<u64>> = self.accounts.iter().collect();
        lock_all(&all).map_or(0, |guards| guards.iter().map(|g| **g).sum())
    }
}
// ANCHOR_END: torn_transfer

impl TornTransferBank {
    /// `accounts` accounts holding `initial` each.
    pub fn new(accounts: usize, initial: u64) -> Self {
        Self {
            accounts: (0..accounts).map(|_| Mutex::new(initial)).collect(),
        }
    }
}

/// A message to one account actor of [`AccountActorsBank`].
#[derive(Debug)]
pub enum AccountMsg {
    /// Take `amount` if the balance covers it; answer whether it did.
    Debit(u64, Reply<bool>),
    /// Add `amount` (a tell: nobody waits for it).
    Credit(u64),
    /// Answer the balance.
    Balance(Reply<u64>),
}

// ANCHOR: account_actors
/// The actor model taken one step too far: one actor per account. A transfer asks the source
/// actor to debit, then *tells* the destination actor to credit; `total()` asks each actor in
/// turn. Each actor is consistent on its own, but nothing makes the pair atomic: a credit in
/// flight is in no account, so a `total()` that overlaps a transfer comes up short.
///
/// [`Suite::check_bank`](crate::check::conformance::Suite::check_bank) rejects it as
/// `conservation`.
#[derive(Debug)]
pub struct AccountActorsBank {
    accounts: Vec<Addr<AccountMsg>>,
}

impl AccountActorsBank {
    /// `accounts` account actors holding `initial` each.
    pub fn new(accounts: usize, initial: u64) -> Self {
        let accounts = (0..accounts)
            .map(|_| {
                let (addr, _) = actor::spawn(64, initial, |balance: &mut u64, msg| match msg {
                    AccountMsg::Debit(amount, reply) => {
                        let ok = *balance >= amount;
                        if ok {
                            *balance -= amount;
                        }
                        reply.send(ok);
                    }
                    AccountMsg::Credit(amount) => *balance += amount,
                    AccountMsg::Balance(reply) => reply.send(*balance),
                });
                addr
            })
            .collect();
        Self { accounts }
    }
}

impl Bank for AccountActorsBank {
    fn transfer(&self, from: usize, to: usize, amount: u64) -> bool {
        let debited = self.accounts[from]
            .ask(|reply| AccountMsg::Debit(amount, reply))
            .unwrap_or(false);
        if debited {
            thread::yield_now(); // the credit message takes a while to arrive
            let _ = self.accounts[to].send(AccountMsg::Credit(amount));
        }
        debited
    }

    fn balance(&self, account: usize) -> u64 {
        self.accounts[account].ask(AccountMsg::Balance).unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.accounts
            .iter()
            .map(|a| a.ask(AccountMsg::Balance).unwrap_or(0))
            .sum()
    }
}
// ANCHOR_END: account_actors
