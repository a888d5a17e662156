//! The suite for banks that move money between accounts: [`Suite::check_bank`], graded on the
//! book's deadlock and actor exercises. Two reference banks pass it: [`OrderedBank`] (one lock
//! per account, taken in a global order) and [`ActorBank`] (one actor owns every balance).

use std::sync::Arc;

use super::{Failure, Report, Suite};
use crate::actor::{self, Addr, Reply};
use crate::check::Rng;
use crate::lock_order::{lock_all, lock_ordered};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{thread, Barrier, Mutex};

/// A bank the suite can test: accounts `0..accounts`, each starting with the same balance.
/// The suite only names accounts that exist.
pub trait Bank: Send + Sync + 'static {
    /// Moves `amount` from `from` to `to` as one indivisible step, if `from` holds at least
    /// `amount`; returns whether it did (`false`: insufficient funds, nothing changed). A
    /// transfer from an account to itself changes nothing and succeeds if the balance covers it.
    fn transfer(&self, from: usize, to: usize, amount: u64) -> bool;
    /// The balance of `account`.
    fn balance(&self, account: usize) -> u64;
    /// The sum of all balances at one instant: a consistent snapshot, never a sum of balances
    /// read at different times while transfers run.
    fn total(&self) -> u64;
}

/// At most this many sequential operations: an actor bank pays two thread hand-offs per
/// operation, which on a loaded machine can take a millisecond each.
const SEQUENTIAL_MAX: usize = 1_000;
/// At most this many transfers per thread in the concurrent phases, for the same reason.
const TRANSFERS_MAX: usize = 1_000;

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Property {
        suite: "bank",
        check,
        detail,
    }
}

/// Any phase that outlives the stall timeout is reported as the `deadlock` property.
fn stalled_is_deadlock(failure: Failure) -> Failure {
    match failure {
        Failure::Stalled { phase, after } => fail(
            "deadlock",
            format!(
                "the {phase} phase was still running after {after:?}: threads are waiting for \
                 each other (their threads are left blocked; the process exits normally)"
            ),
        ),
        other => other,
    }
}

impl Suite {
    /// Runs the bank suite on banks made by `new(accounts, initial_balance)`. Each phase runs
    /// under the [`stall_timeout`](Self::stall_timeout) watchdog (60 s by default); a phase
    /// still running then is reported as the `deadlock` property, and its threads, blocked for
    /// good, are left behind (they end with the process). The phases, in order:
    /// 1. **sequential** (4 accounts of 100): `sequential_ops` (at most 1,000) seeded random
    ///    transfers (some too large), balances and totals on one thread, against a model;
    /// 2. **overdraft** (accounts of 1,000: one source, one more per thread): threads race to
    ///    drain the source one unit at a time until refused; exactly 1,000 transfers must succeed, and every
    ///    balance must match the transfers that returned `true`;
    /// 3. **deadlock** (2 accounts): half the threads move money 0 → 1, the other half 1 → 0,
    ///    all at once; then transfers from an account to itself;
    /// 4. **conservation** (4 accounts of 1,000): threads make random transfers while one more
    ///    thread keeps calling `total()`, which must always be 4,000; afterwards each balance
    ///    must match the transfers that returned `true`.
    ///
    /// `stress(threads, ops)` sets the threads (at least 2; 4 by default) and the transfers per
    /// thread in phases 3 and 4 (at most 1,000 each: an actor bank pays two thread hand-offs
    /// per transfer). Failures are [`Failure::Property`] with
    /// suite `bank` and check `sequential`, `overdraft`, `deadlock` or `conservation`.
    ///
    /// ```
    /// use threadsmith::check::conformance::{OrderedBank, Suite};
    ///
    /// Suite::new()
    ///     .sequential_ops(1_000)
    ///     .stress(4, 2_000)
    ///     .check_bank(OrderedBank::new)
    ///     .expect("the lock-ordered bank conforms");
    /// ```
    pub fn check_bank<B: Bank>(&self, new: impl Fn(usize, u64) -> B) -> Result<Report, Failure> {
        let threads = self.stress_threads.max(2);
        let transfers = if self.stress_ops == 0 {
            TRANSFERS_MAX
        } else {
            self.stress_ops.min(TRANSFERS_MAX)
        };
        let bank = Arc::new(new(4, 100));
        let (ops, seed) = (self.sequential_ops.min(SEQUENTIAL_MAX), self.seed);
        self.watched("sequential", move || sequential(&*bank, ops, seed))
            .map_err(stalled_is_deadlock)??;

        let bank = Arc::new(new(threads + 1, 1_000));
        self.watched("overdraft", move || overdraft(&*bank, threads))
            .map_err(stalled_is_deadlock)??;

        let bank = Arc::new(new(2, 1_000_000));
        self.watched("deadlock", move || {
            opposite_directions(&*bank, threads, transfers)
        })
        .map_err(stalled_is_deadlock)??;

        let bank = Arc::new(new(4, 1_000));
        let seed = self.seed;
        self.watched("conservation", move || {
            conservation(&*bank, threads, transfers, seed)
        })
        .map_err(stalled_is_deadlock)??;

        Ok(Report {
            sequential_ops: self.sequential_ops.min(SEQUENTIAL_MAX),
            histories: 0,
            stress_values: threads * transfers * 2,
        })
    }
}

fn sequential<B: Bank>(bank: &B, ops: usize, seed: u64) -> Result<(), Failure> {
    let mut rng = Rng::new(seed);
    let mut model = [100u64; 4];
    for step in 0..ops {
        let roll = rng.below(10);
        if roll < 6 {
            let from = rng.below(4);
            let to = (from + 1 + rng.below(3)) % 4;
            let amount = rng.below(150) as u64;
            let expected = model[from] >= amount;
            if expected {
                model[from] -= amount;
                model[to] += amount;
            }
            let actual = bank.transfer(from, to, amount);
            if actual != expected {
                return Err(fail(
                    "sequential",
                    format!(
                        "step {step}: transfer({from}, {to}, {amount}) returned {actual}, but \
                         account {from} held {} before it",
                        model[from] + if expected { amount } else { 0 }
                    ),
                ));
            }
        } else if roll < 8 {
            let account = rng.below(4);
            let actual = bank.balance(account);
            if actual != model[account] {
                return Err(fail(
                    "sequential",
                    format!(
                        "step {step}: balance({account}) returned {actual}, the model says {}",
                        model[account]
                    ),
                ));
            }
        } else {
            let actual = bank.total();
            if actual != 400 {
                return Err(fail(
                    "sequential",
                    format!("step {step}: total() returned {actual}, not 400"),
                ));
            }
        }
    }
    Ok(())
}

/// Every account starts with 1,000 units; thread `t` moves one unit at a time from account 0
/// to account `t + 1` until it is refused (or has tried more often than could ever succeed).
fn overdraft<B: Bank>(bank: &B, threads: usize) -> Result<(), Failure> {
    const FUNDS: u64 = 1_000;
    let barrier = Barrier::new(threads);
    let moved: Vec<u64> = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let mut moved = 0;
                    // More than FUNDS successes alone would already be an overdraft.
                    while moved <= FUNDS && bank.transfer(0, t + 1, 1) {
                        moved += 1;
                    }
                    moved
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let succeeded: u64 = moved.iter().sum();
    if succeeded != FUNDS {
        return Err(fail(
            "overdraft",
            format!(
                "{threads} threads draining an account of {FUNDS} one unit at a time got \
                 {succeeded} transfers through (per thread: {moved:?})"
            ),
        ));
    }
    let source = bank.balance(0);
    if source != 0 {
        return Err(fail(
            "overdraft",
            format!("the drained account holds {source}, not 0, after every transfer was refused"),
        ));
    }
    for (t, &m) in moved.iter().enumerate() {
        let balance = bank.balance(t + 1);
        if balance != FUNDS + m {
            return Err(fail(
                "overdraft",
                format!(
                    "account {} holds {balance}, but {m} transfers of 1 to it returned true",
                    t + 1
                ),
            ));
        }
    }
    Ok(())
}

fn opposite_directions<B: Bank>(bank: &B, threads: usize, transfers: usize) -> Result<(), Failure> {
    let barrier = Barrier::new(threads);
    let refused = AtomicBool::new(false);
    thread::scope(|s| {
        for t in 0..threads {
            let (barrier, refused) = (&barrier, &refused);
            s.spawn(move || {
                let (from, to) = if t % 2 == 0 { (0, 1) } else { (1, 0) };
                barrier.wait();
                for _ in 0..transfers {
                    if !bank.transfer(from, to, 1) {
                        // Relaxed: read after the scope joins every thread.
                        refused.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    // Relaxed: the scope's join ordered the stores before this load.
    if refused.load(Ordering::Relaxed) {
        return Err(fail(
            "overdraft",
            "a transfer of 1 from an account holding about 1,000,000 was refused".into(),
        ));
    }
    let before = (bank.balance(0), bank.balance(1));
    if !bank.transfer(0, 0, 1) || bank.transfer(1, 1, u64::MAX) {
        return Err(fail(
            "sequential",
            "a transfer from an account to itself must succeed exactly when the balance covers it"
                .into(),
        ));
    }
    let after = (bank.balance(0), bank.balance(1));
    if before != after || bank.total() != 2_000_000 {
        return Err(fail(
            "conservation",
            format!(
                "balances {before:?} became {after:?} after transfers to self, total {}",
                bank.total()
            ),
        ));
    }
    Ok(())
}

fn conservation<B: Bank>(
    bank: &B,
    threads: usize,
    transfers: usize,
    seed: u64,
) -> Result<(), Failure> {
    const ACCOUNTS: usize = 4;
    const TOTAL: u64 = 4_000;
    let working = AtomicBool::new(true);
    let barrier = Barrier::new(threads + 1);
    let (nets, audit) = thread::scope(|s| {
        let auditor = s.spawn(|| {
            barrier.wait();
            let mut audits = 0usize;
            // SeqCst: only a loop condition; kept simple.
            while working.load(Ordering::SeqCst) {
                audits += 1;
                let total = bank.total();
                if total != TOTAL {
                    return Err(total);
                }
            }
            Ok(audits)
        });
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut rng = Rng::new(seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9));
                    let mut net = [0i64; ACCOUNTS];
                    barrier.wait();
                    for _ in 0..transfers {
                        let from = rng.below(ACCOUNTS);
                        let to = (from + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
                        let amount = 1 + rng.below(50) as u64;
                        if bank.transfer(from, to, amount) {
                            net[from] -= amount as i64;
                            net[to] += amount as i64;
                        }
                    }
                    net
                })
            })
            .collect();
        let nets: Vec<[i64; ACCOUNTS]> = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        working.store(false, Ordering::SeqCst);
        let audit = auditor
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (nets, audit)
    });
    if let Err(total) = audit {
        return Err(fail(
            "conservation",
            format!("total() returned {total} while transfers ran; the bank holds {TOTAL}"),
        ));
    }
    for account in 0..ACCOUNTS {
        let expected = 1_000 + nets.iter().map(|n| n[account]).sum::<i64>();
        let actual = bank.balance(account);
        if actual as i64 != expected {
            return Err(fail(
                "conservation",
                format!(
                    "account {account} holds {actual}, but the transfers that returned true \
                     leave it {expected}"
                ),
            ));
        }
    }
    Ok(())
}

// ANCHOR: ordered_bank
/// The reference bank: one lock per account, a transfer locks its two accounts with
/// [`lock_ordered`] (so transfers in opposite directions cannot deadlock), and `total` locks
/// them all in the same order with [`lock_all`] (so it sees no transfer half done).
///
/// ```
/// use threadsmith::check::conformance::{Bank, OrderedBank};
///
/// let bank = OrderedBank::new(2, 100);
/// assert!(bank.transfer(0, 1, 30));
/// assert!(!bank.transfer(0, 1, 71)); // only 70 left
/// assert_eq!((bank.balance(0), bank.balance(1), bank.total()), (70, 130, 200));
/// ```
#[derive(Debug)]
pub struct OrderedBank {
    accounts: Vec<Mutex<u64>>,
}

impl OrderedBank {
    /// `accounts` accounts holding `initial` each.
    pub fn new(accounts: usize, initial: u64) -> Self {
        Self {
            accounts: (0..accounts).map(|_| Mutex::new(initial)).collect(),
        }
    }
}

impl Bank for OrderedBank {
    fn transfer(&self, from: usize, to: usize, amount: u64) -> bool {
        let (from, to) = (&self.accounts[from], &self.accounts[to]);
        match lock_ordered(from, to) {
            Ok((mut from, mut to)) => {
                if *from < amount {
                    return false;
                }
                *from -= amount;
                *to += amount;
                true
            }
            // One account: nothing moves; the answer is whether it could have.
            Err(_same) => *from.lock() >= amount,
        }
    }

    fn balance(&self, account: usize) -> u64 {
        *self.accounts[account].lock()
    }

    fn total(&self) -> u64 {
        let all: Vec<&Mutex<u64>> = self.accounts.iter().collect();
        // Distinct accounts: `lock_all` cannot report the same lock twice.
        lock_all(&all).map_or(0, |guards| guards.iter().map(|g| **g).sum())
    }
}
// ANCHOR_END: ordered_bank

/// A message to [`ActorBank`]'s actor.
#[derive(Debug)]
pub enum BankMsg {
    /// Move `amount` from `from` to `to` if `from` covers it; answer whether it did.
    Transfer {
        /// Debited account.
        from: usize,
        /// Credited account.
        to: usize,
        /// How much.
        amount: u64,
        /// Where the answer goes.
        reply: Reply<bool>,
    },
    /// Answer one account's balance.
    Balance {
        /// Which account.
        account: usize,
        /// Where the answer goes.
        reply: Reply<u64>,
    },
    /// Answer the sum of all balances.
    Total {
        /// Where the answer goes.
        reply: Reply<u64>,
    },
}

/// The reference actor bank: one [`actor`](crate::actor) owns every balance, and each request
/// is an ask. No locks: the actor handles one message at a time, so a transfer is atomic and a
/// total is a snapshot for free.
///
/// ```
/// use threadsmith::check::conformance::{ActorBank, Bank};
///
/// let bank = ActorBank::new(3, 10);
/// assert!(bank.transfer(2, 0, 10));
/// assert_eq!((bank.balance(0), bank.balance(2), bank.total()), (20, 0, 30));
/// ```
#[derive(Debug)]
pub struct ActorBank {
    addr: Addr<BankMsg>,
}

impl ActorBank {
    /// `accounts` accounts holding `initial` each, owned by a new actor thread with a mailbox
    /// of 64 messages. The actor stops when the bank is dropped.
    pub fn new(accounts: usize, initial: u64) -> Self {
        let (addr, _handle) = actor::spawn(
            64,
            vec![initial; accounts],
            |balances: &mut Vec<u64>, msg| handle(balances, msg),
        );
        Self { addr }
    }
}

// ANCHOR: actor_handle
/// The actor's whole job: apply one message to the balances it owns.
fn handle(balances: &mut [u64], msg: BankMsg) {
    match msg {
        BankMsg::Transfer {
            from,
            to,
            amount,
            reply,
        } => {
            let ok = balances[from] >= amount;
            if ok {
                balances[from] -= amount;
                balances[to] += amount;
            }
            reply.send(ok);
        }
        BankMsg::Balance { account, reply } => reply.send(balances[account]),
        BankMsg::Total { reply } => reply.send(balances.iter().sum()),
    }
}
// ANCHOR_END: actor_handle

impl Bank for ActorBank {
    fn transfer(&self, from: usize, to: usize, amount: u64) -> bool {
        let ask = |reply| BankMsg::Transfer {
            from,
            to,
            amount,
            reply,
        };
        // A stopped actor moves no money.
        self.addr.ask(ask).unwrap_or(false)
    }

    fn balance(&self, account: usize) -> u64 {
        self.addr
            .ask(|reply| BankMsg::Balance { account, reply })
            .unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.addr.ask(|reply| BankMsg::Total { reply }).unwrap_or(0)
    }
}
