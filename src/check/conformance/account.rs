//! The suite for a shared account whose withdrawals must check and act as one step:
//! [`Suite::check_account`], with its sequential model [`AccountModel`] and a reference
//! implementation, [`CasAccount`].

use std::sync::Arc as StdArc;

use super::{Failure, Report, Suite};
use crate::check::{linearizable, Model, Rng, Stress};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{thread, Barrier};

/// An account the suite can test: a balance that never goes below zero.
pub trait ConcurrentAccount: Send + Sync {
    /// Adds `amount` to the balance.
    fn deposit(&self, amount: u64);
    /// Takes `amount` out if the balance covers it, as one indivisible step; says whether it did.
    fn withdraw(&self, amount: u64) -> bool;
    /// The balance now.
    fn balance(&self) -> u64;
}

/// A fail point: code under test calls it with the name of a point in an operation (for
/// example `"withdraw: checked"`, between the check and the act), and a test decides what
/// happens there — nothing, a yield, or a wait that forces one interleaving.
pub type Pause = StdArc<dyn Fn(&'static str) + Send + Sync>;

/// A [`Pause`] that does nothing.
pub fn no_pause() -> Pause {
    StdArc::new(|_| {})
}

/// An operation on an account, for histories and the sequential model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountOp {
    /// `deposit(amount)`.
    Deposit(u64),
    /// `withdraw(amount)`.
    Withdraw(u64),
    /// `balance()`.
    Balance,
}

/// What an account operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountRet {
    /// A deposit returns nothing.
    Deposited,
    /// Whether a withdrawal took the money.
    Withdrew(bool),
    /// The balance read.
    Balance(u64),
}

/// The sequential specification of an account: one balance, one operation at a time.
///
/// ```
/// use threadsmith::check::conformance::{AccountModel, AccountOp, AccountRet};
/// use threadsmith::check::Model;
///
/// let mut account = AccountModel::new(5);
/// assert_eq!(account.apply(&AccountOp::Withdraw(7)), AccountRet::Withdrew(false));
/// assert_eq!(account.apply(&AccountOp::Withdraw(5)), AccountRet::Withdrew(true));
/// assert_eq!(account.apply(&AccountOp::Balance), AccountRet::Balance(0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AccountModel {
    balance: u64,
}

impl AccountModel {
    /// An account holding `balance`.
    pub fn new(balance: u64) -> Self {
        Self { balance }
    }
}

impl Model for AccountModel {
    type Op = AccountOp;
    type Ret = AccountRet;

    fn apply(&mut self, op: &AccountOp) -> AccountRet {
        match *op {
            AccountOp::Deposit(n) => {
                self.balance = self.balance.saturating_add(n);
                AccountRet::Deposited
            }
            AccountOp::Withdraw(n) if n <= self.balance => {
                self.balance -= n;
                AccountRet::Withdrew(true)
            }
            AccountOp::Withdraw(_) => AccountRet::Withdrew(false),
            AccountOp::Balance => AccountRet::Balance(self.balance),
        }
    }
}

/// Runs `op` on `account` and returns what it returned, as an [`AccountRet`].
pub fn apply_to<A: ConcurrentAccount + ?Sized>(account: &A, op: &AccountOp) -> AccountRet {
    match *op {
        AccountOp::Deposit(n) => {
            account.deposit(n);
            AccountRet::Deposited
        }
        AccountOp::Withdraw(n) => AccountRet::Withdrew(account.withdraw(n)),
        AccountOp::Balance => AccountRet::Balance(account.balance()),
    }
}

// ANCHOR: cas_account
/// The reference account: the balance is one atomic word, and `withdraw` checks and subtracts
/// in one compare-and-swap, retried if another thread changed the balance in between.
///
/// ```
/// use threadsmith::check::conformance::{CasAccount, ConcurrentAccount};
///
/// let account = CasAccount::new(10);
/// assert!(account.withdraw(7));
/// assert!(!account.withdraw(7), "only 3 left");
/// assert_eq!(account.balance(), 3);
/// ```
pub struct CasAccount {
    balance: AtomicU64,
    pause: Pause,
}

impl CasAccount {
    /// An account holding `balance`.
    pub fn new(balance: u64) -> Self {
        Self::with_pause(balance, no_pause())
    }

    /// An account holding `balance` that calls `pause("withdraw: checked")` after it has
    /// checked the balance and before it tries to take the money.
    pub fn with_pause(balance: u64, pause: Pause) -> Self {
        Self {
            balance: AtomicU64::new(balance),
            pause,
        }
    }
}

impl ConcurrentAccount for CasAccount {
    fn deposit(&self, amount: u64) {
        // Relaxed: the balance publishes no other memory; its modification order is enough.
        self.balance.fetch_add(amount, Ordering::Relaxed);
    }

    fn withdraw(&self, amount: u64) -> bool {
        // Relaxed: as in `deposit`; the CAS below fails if anyone moved the balance.
        let mut seen = self.balance.load(Ordering::Relaxed);
        loop {
            if seen < amount {
                return false;
            }
            (self.pause)("withdraw: checked");
            // The check holds only for the value `seen`: the CAS subtracts only if the
            // balance is still `seen`, so check and act are one step.
            // Relaxed: no other memory is published (see `deposit`).
            match self.balance.compare_exchange_weak(
                seen,
                seen - amount,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => seen = now,
            }
        }
    }

    fn balance(&self) -> u64 {
        // Relaxed: a read of the one location; coherence orders it with every update.
        self.balance.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: cas_account

impl std::fmt::Debug for CasAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CasAccount")
            .field("balance", &self.balance())
            .finish_non_exhaustive()
    }
}

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Property {
        suite: "account",
        check,
        detail,
    }
}

/// Fresh accounts in the `lost update` phase.
const LOST_UPDATE_ROUNDS: usize = 5;
/// Fresh accounts in the `overdraft` phase.
const OVERDRAFT_ROUNDS: usize = 20;
/// What each `overdraft` account starts with (withdrawn 1 at a time by 4 threads).
const OVERDRAFT_BALANCE: u64 = 100;

impl Suite {
    /// Runs the account suite on accounts made by `new(initial_balance)`, stopping at the
    /// first failure:
    /// 1. **sequential**: seeded random deposits, withdrawals and reads on one thread,
    ///    against [`AccountModel`] (property `sequential`);
    /// 2. **lost update**: five fresh accounts with a large balance; 4 threads deposit and
    ///    withdraw small amounts (`stress(_, ops)` sets how many each; 2,000 by default); the
    ///    final balance must be the initial one plus every deposit minus every successful
    ///    withdrawal (property `lost update`);
    /// 3. **overdraft**: twenty fresh accounts of 100; 4 threads start together and withdraw 1
    ///    until refused; together they must get exactly 100 (property `overdraft` when they
    ///    got more, `lost update` when the books do not balance);
    /// 4. **linearizability**: `rounds` histories (at most 200) of 3 threads doing
    ///    `ops_per_thread` operations on an account of 2, checked by
    ///    [`linearizable`] against [`AccountModel`] (property
    ///    `linearizability`).
    ///
    /// Failures are [`Failure::Property`] with suite `account`, or
    /// [`Failure::NotLinearizable`].
    ///
    /// ```
    /// use threadsmith::check::conformance::{CasAccount, Suite};
    ///
    /// Suite::new()
    ///     .rounds(20)
    ///     .stress(4, 200)
    ///     .check_account(CasAccount::new)
    ///     .expect("the reference account conforms");
    /// ```
    pub fn check_account<A: ConcurrentAccount>(
        &self,
        new: impl Fn(u64) -> A,
    ) -> Result<Report, Failure> {
        let sequential_ops = self.sequential_ops.min(10_000);
        account_sequential(&new(50), self.seed, sequential_ops)?;

        let ops = if self.stress_ops == 0 {
            2_000
        } else {
            self.stress_ops.min(2_000)
        };
        for round in 0..LOST_UPDATE_ROUNDS {
            lost_update(
                &new(1_000_000),
                self.seed.wrapping_add(round as u64),
                4,
                ops,
            )?;
        }

        for _ in 0..OVERDRAFT_ROUNDS {
            overdraft(&new(OVERDRAFT_BALANCE), 4)?;
        }

        let rounds = self.rounds.min(200);
        for round in 0..rounds {
            let account = new(2);
            let history = Stress::new(3, self.ops_per_thread)
                .seed(self.seed.wrapping_add(round as u64))
                .run(&account, |_, rng| any_op(rng), |a, op| apply_to(a, op));
            linearizable(&AccountModel::new(2), &history)
                .map_err(|violation| Failure::NotLinearizable { round, violation })?;
        }

        Ok(Report {
            sequential_ops,
            histories: rounds,
            stress_values: LOST_UPDATE_ROUNDS * 4 * ops
                + OVERDRAFT_ROUNDS * OVERDRAFT_BALANCE as usize,
        })
    }
}

fn any_op(rng: &mut Rng) -> AccountOp {
    match rng.below(10) {
        0..=2 => AccountOp::Deposit(1 + rng.below(2) as u64),
        3..=7 => AccountOp::Withdraw(1 + rng.below(2) as u64),
        _ => AccountOp::Balance,
    }
}

fn account_sequential<A: ConcurrentAccount>(
    account: &A,
    seed: u64,
    ops: usize,
) -> Result<(), Failure> {
    let mut rng = Rng::new(seed);
    let mut model = AccountModel::new(50);
    for step in 0..ops {
        let op = match rng.below(10) {
            0..=3 => AccountOp::Deposit(rng.below(20) as u64),
            4..=8 => AccountOp::Withdraw(rng.below(30) as u64),
            _ => AccountOp::Balance,
        };
        let (expected, actual) = (model.apply(&op), apply_to(account, &op));
        if expected != actual {
            return Err(fail(
                "sequential",
                format!("step {step}: {op:?} returned {actual:?}, the model says {expected:?}"),
            ));
        }
    }
    Ok(())
}

fn lost_update<A: ConcurrentAccount>(
    account: &A,
    seed: u64,
    threads: usize,
    ops: usize,
) -> Result<(), Failure> {
    let initial = account.balance();
    let start = Barrier::new(threads);
    // Each thread returns (deposited, withdrawn).
    let totals: Vec<(u64, u64)> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = &start;
                s.spawn(move || {
                    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(t as u64));
                    let (mut deposited, mut withdrawn) = (0, 0);
                    start.wait();
                    for _ in 0..ops {
                        let amount = 1 + rng.below(3) as u64;
                        if rng.percent(50) {
                            account.deposit(amount);
                            deposited += amount;
                        } else if account.withdraw(amount) {
                            withdrawn += amount;
                        }
                    }
                    (deposited, withdrawn)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let deposited: u64 = totals.iter().map(|t| t.0).sum();
    let withdrawn: u64 = totals.iter().map(|t| t.1).sum();
    let expected = initial + deposited - withdrawn;
    let actual = account.balance();
    if actual != expected {
        return Err(fail(
            "lost update",
            format!(
                "started at {initial}, {threads} threads deposited {deposited} and withdrew \
                 {withdrawn}, so the balance should be {expected}; it is {actual}"
            ),
        ));
    }
    Ok(())
}

fn overdraft<A: ConcurrentAccount>(account: &A, threads: usize) -> Result<(), Failure> {
    let initial = account.balance();
    let start = Barrier::new(threads);
    let got: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    // Bounded: a broken account may never refuse.
                    let mut got = 0;
                    while got <= initial && account.withdraw(1) {
                        got += 1;
                    }
                    got
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let total: u64 = got.iter().sum();
    let left = account.balance();
    if total > initial {
        return Err(fail(
            "overdraft",
            format!(
                "an account of {initial} paid out {total} to {threads} threads withdrawing 1 at \
                 a time (per thread: {got:?}); the balance reads {left}"
            ),
        ));
    }
    if total.checked_add(left) != Some(initial) {
        return Err(fail(
            "lost update",
            format!("an account of {initial} paid out {total} and still holds {left}"),
        ));
    }
    Ok(())
}
