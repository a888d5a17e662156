//! Conformance suites: the proofs this crate runs on its own stack, queues and rate limiters,
//! packaged so you can run them on yours: [`Suite::check_stack`], [`Suite::check_queue`],
//! [`Suite::check_bounded`], [`Suite::check_token_bucket`], [`Suite::check_bloom`],
//! [`Suite::check_ttl_map`] and [`Suite::check_backpressure`].
//!
//! Implement [`ConcurrentStack`] or [`ConcurrentQueue`] for your type (two methods), then:
//!
//! ```
//! use std::sync::Mutex;
//! use threadsmith::check::conformance::{ConcurrentStack, Suite};
//!
//! struct MyStack(Mutex<Vec<u64>>);
//!
//! impl ConcurrentStack for MyStack {
//!     fn push(&self, value: u64) { self.0.lock().unwrap().push(value) }
//!     fn pop(&self) -> Option<u64> { self.0.lock().unwrap().pop() }
//! }
//!
//! let report = Suite::new()
//!     .rounds(50)
//!     .stress(2, 1_000)
//!     .check_stack(|| MyStack(Mutex::new(Vec::new())))
//!     .expect("a stack behind a mutex conforms");
//! assert_eq!(report.histories, 50);
//! ```
//!
//! A suite runs three phases on fresh instances from your constructor and stops at the first
//! failure:
//! 1. **sequential**: seeded random pushes and pops on one thread, against
//!    [`LifoStack`] or [`FifoQueue`];
//! 2. **linearizability**: `rounds` histories of 2, 3 or 4 threads doing `ops_per_thread`
//!    random operations each, recorded by [`Stress`] and checked by [`linearizable`];
//! 3. **stress**: `threads` threads each pushing unique values in bursts of four, each burst
//!    followed by four pops, then a drain: every value must come out exactly once, and for a
//!    queue each consumer must see each producer's values in the order they were pushed.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use super::models::{BoundedOp, BoundedRet, FifoQueue, LifoStack, QueueOp};
use super::{linearizable, Model, Rng, Stress, Violation};

mod account;
mod bank;
mod block_on;
mod bloom;
mod bounded;
mod cache;
mod database;
mod drain;
mod parallel;
mod pool;
mod ratelimit;
mod scheduler;
pub use account::{
    apply_to, no_pause, AccountModel, AccountOp, AccountRet, CasAccount, ConcurrentAccount, Pause,
};
pub use bank::{ActorBank, Bank, BankMsg, OrderedBank};
pub use block_on::{BlockOnReport, TestFuture};
pub use bloom::ConcurrentBloom;
pub use bounded::ConcurrentBoundedQueue;
pub use cache::ConcurrentTtlMap;
pub use database::{Conflict, StoreReport, Versioned, VersionedStore};
pub use drain::{DrainOutcome, DrainService, Request, RequestHandle};
pub use parallel::{MapFn, ParallelReport};
pub use pool::{ConcurrentPool, Connector};
pub use scheduler::BackpressureQueue;

/// A stack the suite can test: `push` and `pop` of `u64`s, callable from many threads.
pub trait ConcurrentStack: Sync {
    /// Pushes `value` on top.
    fn push(&self, value: u64);
    /// Pops the top value, `None` when empty.
    fn pop(&self) -> Option<u64>;
}

/// A FIFO queue the suite can test: `push` and `pop` of `u64`s, callable from many threads.
pub trait ConcurrentQueue: Sync {
    /// Appends `value` at the back.
    fn push(&self, value: u64);
    /// Removes the front value, `None` when empty.
    fn pop(&self) -> Option<u64>;
}

/// Which end `pop` takes from; selects the model and the order check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Lifo,
    Fifo,
}

/// What a passing suite ran.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Operations in the sequential phase.
    pub sequential_ops: usize,
    /// Histories checked for linearizability.
    pub histories: usize,
    /// Values pushed (and each popped exactly once) in the stress phase.
    pub stress_values: usize,
}

/// Why a suite rejected an implementation.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// One thread alone saw a result the sequential model does not allow.
    Sequential {
        /// Index of the operation in the sequential run.
        step: usize,
        /// The operation.
        op: QueueOp<u64>,
        /// What the model returned.
        expected: Option<u64>,
        /// What the implementation returned.
        actual: Option<u64>,
    },
    /// One thread alone saw a bounded-queue result the sequential model does not allow.
    BoundedSequential {
        /// Index of the operation in the sequential run.
        step: usize,
        /// The operation.
        op: BoundedOp<u64>,
        /// What the model returned.
        expected: BoundedRet<u64>,
        /// What the implementation returned.
        actual: BoundedRet<u64>,
    },
    /// A blocking phase did not finish in time: most likely a lost wake-up (a thread asleep
    /// while what it waits for is already there) or a deadlock.
    Stalled {
        /// Which phase.
        phase: &'static str,
        /// How long the suite waited.
        after: Duration,
    },
    /// A rate limiter broke one of the token-bucket checks.
    Limiter {
        /// Which check: `burst`, `refill`, `cap`, `oversized`, `reference` or `contention`.
        check: &'static str,
        /// What happened.
        detail: String,
    },
    /// A Bloom filter lost an inserted key or answered "possibly" too often, or a TTL map got
    /// expiry wrong or lost an update.
    Filter {
        /// Which check: `false negative`, `false-positive rate`, `expiry` or `lost update`.
        check: &'static str,
        /// What happened.
        detail: String,
    },
    /// A pool broke its size bound, served waiters out of order, or lost a connection.
    Pool {
        /// Which check: `basics`, `bound`, `fairness` or `timeouts`.
        check: &'static str,
        /// What happened.
        detail: String,
    },
    /// A scheduler's queue broke a backpressure rule ([`Suite::check_backpressure`]).
    Backpressure {
        /// Which check: `priority order`, `overload`, `hysteresis`, `recovery`, `shed`,
        /// `model` or `concurrency`.
        check: &'static str,
        /// What happened.
        detail: String,
    },
    /// A recorded concurrent history has no valid sequential order.
    NotLinearizable {
        /// Which round (0-based) produced the history.
        round: usize,
        /// The checker's report.
        violation: Violation,
    },
    /// A value pushed in the stress phase never came out.
    Lost {
        /// The value (`thread << 32 | sequence`).
        value: u64,
    },
    /// A value came out more than once in the stress phase (or one that was never pushed).
    Duplicated {
        /// The value (`thread << 32 | sequence`).
        value: u64,
    },
    /// One of the book's exercise suites (race, deadlock, actor, database, shutdown, …) found
    /// a broken property.
    Property {
        /// Which suite: `counter`, `bank`, `actor`, …
        suite: &'static str,
        /// Which property it broke, e.g. `lost update`, `conservation`, `deadlock`.
        check: &'static str,
        /// What happened.
        detail: String,
    },
    /// A consumer saw two values of one producer out of push order (queues only).
    OutOfOrder {
        /// The consumer thread (the drain after the threads joined is `threads`).
        consumer: usize,
        /// The value it saw first.
        first: u64,
        /// The value it saw second, pushed before `first`.
        second: u64,
    },
}

fn describe(value: u64) -> String {
    format!(
        "{value:#x} (thread {}'s push #{})",
        value >> 32,
        value & 0xFFFF_FFFF
    )
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Sequential {
                step,
                op,
                expected,
                actual,
            } => write!(
                f,
                "sequential run, step {step}: {op:?} returned {actual:?}, the model says {expected:?}"
            ),
            Failure::BoundedSequential {
                step,
                op,
                expected,
                actual,
            } => write!(
                f,
                "sequential run, step {step}: {op:?} returned {actual:?}, the model says {expected:?}"
            ),
            Failure::Stalled { phase, after } => write!(
                f,
                "{phase}: still blocked after {after:?}: a lost wake-up or a deadlock"
            ),
            Failure::Limiter { check, detail }
            | Failure::Filter { check, detail }
            | Failure::Pool { check, detail }
            | Failure::Backpressure { check, detail } => {
                write!(f, "{check}: {detail}")
            }
            Failure::Property {
                suite,
                check,
                detail,
            } => write!(f, "{suite}: {check}: {detail}"),
            Failure::NotLinearizable { round, violation } => {
                write!(f, "round {round}: history is not linearizable\n{violation}")
            }
            Failure::Lost { value } => write!(f, "stress: value {} was lost", describe(*value)),
            Failure::Duplicated { value } => write!(
                f,
                "stress: value {} came out twice (or was never pushed)",
                describe(*value)
            ),
            Failure::OutOfOrder {
                consumer,
                first,
                second,
            } => write!(
                f,
                "stress: consumer {consumer} popped {} before {}, which its producer pushed first",
                describe(*first),
                describe(*second)
            ),
        }
    }
}

impl Failure {
    /// The name of the property that failed, stable enough to assert on: `sequential`,
    /// `stalled`, `linearizability`, `lost`, `duplicated`, `fifo`, or the `check` of the
    /// variants that carry one (`burst`, `bound`, `fairness`, `hysteresis`, `lost update`, …).
    ///
    /// ```
    /// use threadsmith::check::conformance::Suite;
    /// use threadsmith::check::mutants::RacyPopStack;
    ///
    /// let failure = Suite::new().check_stack(RacyPopStack::<u64>::new).unwrap_err();
    /// assert!(["linearizability", "duplicated", "lost"].contains(&failure.property()));
    /// ```
    pub fn property(&self) -> &'static str {
        match self {
            Failure::Sequential { .. } | Failure::BoundedSequential { .. } => "sequential",
            Failure::Stalled { .. } => "stalled",
            Failure::Limiter { check, .. }
            | Failure::Filter { check, .. }
            | Failure::Pool { check, .. }
            | Failure::Backpressure { check, .. }
            | Failure::Property { check, .. } => check,
            Failure::NotLinearizable { .. } => "linearizability",
            Failure::Lost { .. } => "lost",
            Failure::Duplicated { .. } => "duplicated",
            Failure::OutOfOrder { .. } => "fifo",
        }
    }
}

impl std::error::Error for Failure {}

/// The suite's settings; [`check_stack`](Self::check_stack) or
/// [`check_queue`](Self::check_queue) runs it.
#[derive(Clone, Debug)]
#[must_use = "a suite does nothing until `check_stack` or `check_queue` is called"]
pub struct Suite {
    sequential_ops: usize,
    rounds: usize,
    ops_per_thread: usize,
    stress_threads: usize,
    stress_ops: usize,
    seed: u64,
    stall_timeout: Duration,
}

impl Default for Suite {
    fn default() -> Self {
        Self::new()
    }
}

impl Suite {
    /// The defaults: 10,000 sequential operations, 1,000 histories of 2–4 threads × 8
    /// operations, and a stress phase of 4 threads × 100,000 operations.
    pub fn new() -> Self {
        Self {
            sequential_ops: 10_000,
            rounds: 1_000,
            ops_per_thread: 8,
            stress_threads: 4,
            stress_ops: 100_000,
            seed: 0x5EED_5A17,
            stall_timeout: bounded::STALL_TIMEOUT,
        }
    }

    /// How many operations the sequential phase runs (0 skips it).
    pub fn sequential_ops(mut self, ops: usize) -> Self {
        self.sequential_ops = ops;
        self
    }

    /// How many concurrent histories to record and check (0 skips the phase).
    pub fn rounds(mut self, rounds: usize) -> Self {
        self.rounds = rounds;
        self
    }

    /// Operations per thread in each history. Keep it small (≤ 10): histories with many
    /// overlapping operations are expensive to check.
    pub fn ops_per_thread(mut self, ops: usize) -> Self {
        self.ops_per_thread = ops;
        self
    }

    /// The stress phase: `threads` threads, each doing `ops_per_thread` operations (half
    /// pushes, half pops, in bursts of four). `threads == 0` or `ops_per_thread == 0` skips it.
    pub fn stress(mut self, threads: usize, ops_per_thread: usize) -> Self {
        self.stress_threads = threads;
        self.stress_ops = ops_per_thread;
        self
    }

    /// How long a blocking phase of [`check_bounded`](Self::check_bounded) may run before it
    /// is reported as [`Failure::Stalled`] (60 s by default: generous, because a slow machine
    /// must not fail a correct queue).
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Seeds the operation generators.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs the suite on stacks made by `new`, one per phase and round.
    pub fn check_stack<S: ConcurrentStack>(&self, new: impl Fn() -> S) -> Result<Report, Failure> {
        self.run(Kind::Lifo, new, S::push, S::pop)
    }

    /// Runs the suite on queues made by `new`, one per phase and round.
    pub fn check_queue<Q: ConcurrentQueue>(&self, new: impl Fn() -> Q) -> Result<Report, Failure> {
        self.run(Kind::Fifo, new, Q::push, Q::pop)
    }

    fn run<T: Sync>(
        &self,
        kind: Kind,
        new: impl Fn() -> T,
        push: fn(&T, u64),
        pop: fn(&T) -> Option<u64>,
    ) -> Result<Report, Failure> {
        let fresh = || Target {
            target: new(),
            push,
            pop,
        };
        self.sequential(kind, &fresh())?;
        for round in 0..self.rounds {
            self.history(kind, round, &fresh())?;
        }
        let stress_values = self.stress_run(kind, &fresh())?;
        Ok(Report {
            sequential_ops: self.sequential_ops,
            histories: self.rounds,
            stress_values,
        })
    }

    fn sequential<T: Sync>(&self, kind: Kind, target: &Target<T>) -> Result<(), Failure> {
        let mut rng = Rng::new(self.seed);
        let mut lifo = LifoStack::new();
        let mut fifo = FifoQueue::new();
        for step in 0..self.sequential_ops {
            // Pushes slightly more often than pops, so the structure grows and shrinks.
            let op = if rng.percent(55) {
                QueueOp::Push(step as u64)
            } else {
                QueueOp::Pop
            };
            let expected = match kind {
                Kind::Lifo => lifo.apply(&op),
                Kind::Fifo => fifo.apply(&op),
            };
            let actual = target.apply(Op::from(&op));
            if actual != expected {
                return Err(Failure::Sequential {
                    step,
                    op,
                    expected,
                    actual,
                });
            }
        }
        Ok(())
    }

    fn history<T: Sync>(
        &self,
        kind: Kind,
        round: usize,
        target: &Target<T>,
    ) -> Result<(), Failure> {
        let threads = 2 + round % 3;
        let history = Stress::new(threads, self.ops_per_thread)
            .seed(self.seed.wrapping_add(round as u64))
            .run(
                target,
                |thread, rng| {
                    if rng.percent(50) {
                        QueueOp::Push((thread * 1_000_000 + rng.below(1_000_000)) as u64)
                    } else {
                        QueueOp::Pop
                    }
                },
                |target, op| target.apply(Op::from(op)),
            );
        let verdict = match kind {
            Kind::Lifo => linearizable(&LifoStack::new(), &history),
            Kind::Fifo => linearizable(&FifoQueue::new(), &history),
        };
        verdict
            .map(|_| ())
            .map_err(|violation| Failure::NotLinearizable { round, violation })
    }

    fn stress_run<T: Sync>(&self, kind: Kind, target: &Target<T>) -> Result<usize, Failure> {
        let threads = self.stress_threads;
        let pushes = self.stress_ops.div_ceil(2);
        if threads == 0 || pushes == 0 {
            return Ok(0);
        }
        let barrier = crate::sync::Barrier::new(threads);
        let popped = StdMutex::new(Vec::new());
        crate::sync::thread::scope(|s| {
            for thread in 0..threads {
                let (barrier, popped) = (&barrier, &popped);
                s.spawn(move || {
                    let mut mine = Vec::with_capacity(pushes);
                    barrier.wait();
                    // Bursts of four pushes then four pops: the structure holds a few values
                    // from every thread, so order and exactly-once are both exercised.
                    for seq in 0..pushes as u64 {
                        target.apply(Op::Push((thread as u64) << 32 | seq));
                        if seq % 4 == 3 || seq + 1 == pushes as u64 {
                            let burst = seq % 4 + 1;
                            mine.extend((0..burst).filter_map(|_| target.apply(Op::Pop)));
                        }
                    }
                    popped
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((thread, mine));
                });
            }
        });
        let mut popped = popped.into_inner().unwrap_or_else(|e| e.into_inner());
        popped.push((
            threads,
            std::iter::from_fn(|| target.apply(Op::Pop)).collect(),
        ));

        audit(kind == Kind::Fifo, &vec![pushes; threads], &popped)?;
        Ok(threads * pushes)
    }
}

/// Checks that every value `producer << 32 | seq` with `seq < attempted[producer]` appears
/// exactly once across `streams` (each a consumer's values, in the order it got them), that no
/// other value appears, and, if `fifo`, that each consumer saw each producer's values in order.
fn audit(fifo: bool, attempted: &[usize], streams: &[(usize, Vec<u64>)]) -> Result<(), Failure> {
    let offsets: Vec<usize> = attempted
        .iter()
        .scan(0, |total, &n| {
            let start = *total;
            *total += n;
            Some(start)
        })
        .collect();
    let mut seen = vec![false; attempted.iter().sum()];
    for (consumer, values) in streams {
        let mut last: Vec<Option<u64>> = vec![None; attempted.len()];
        for &value in values {
            let (producer, seq) = ((value >> 32) as usize, (value & 0xFFFF_FFFF) as usize);
            if producer >= attempted.len() || seq >= attempted[producer] {
                return Err(Failure::Duplicated { value });
            }
            let index = offsets[producer] + seq;
            if std::mem::replace(&mut seen[index], true) {
                return Err(Failure::Duplicated { value });
            }
            if fifo {
                if let Some(first) = last[producer].filter(|&first| first > value) {
                    return Err(Failure::OutOfOrder {
                        consumer: *consumer,
                        first,
                        second: value,
                    });
                }
                last[producer] = Some(value);
            }
        }
    }
    for (producer, (&start, &n)) in offsets.iter().zip(attempted).enumerate() {
        if let Some(seq) = seen[start..start + n].iter().position(|&s| !s) {
            return Err(Failure::Lost {
                value: (producer as u64) << 32 | seq as u64,
            });
        }
    }
    Ok(())
}

/// `QueueOp<u64>` by value, for the boxed operation closures.
#[derive(Clone, Copy, Debug)]
enum Op {
    Push(u64),
    Pop,
}

/// A stack or a queue with its two operations, seen as one thing that applies operations.
struct Target<T> {
    target: T,
    push: fn(&T, u64),
    pop: fn(&T) -> Option<u64>,
}

impl<T> Target<T> {
    fn apply(&self, op: Op) -> Option<u64> {
        match op {
            Op::Push(v) => {
                (self.push)(&self.target, v);
                None
            }
            Op::Pop => (self.pop)(&self.target),
        }
    }
}

impl From<&QueueOp<u64>> for Op {
    fn from(op: &QueueOp<u64>) -> Self {
        match op {
            QueueOp::Push(v) => Op::Push(*v),
            QueueOp::Pop => Op::Pop,
        }
    }
}

macro_rules! impl_for {
    ($trait:ident for $($ty:ty),+) => {$(
        impl $trait for $ty {
            fn push(&self, value: u64) {
                <$ty>::push(self, value)
            }
            fn pop(&self) -> Option<u64> {
                <$ty>::pop(self)
            }
        }
    )+};
}

impl_for!(ConcurrentStack for crate::stack::TreiberStack<u64>, super::mutants::RacyPopStack<u64>, super::mutants::AbaStack<u64>);
impl_for!(ConcurrentQueue for crate::queue::MsQueue<u64>);

/// The reference answer: a stack behind a lock.
impl ConcurrentStack for StdMutex<Vec<u64>> {
    fn push(&self, value: u64) {
        self.lock().unwrap_or_else(|e| e.into_inner()).push(value)
    }
    fn pop(&self) -> Option<u64> {
        self.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }
}

/// The reference answer: a queue behind a lock.
impl ConcurrentQueue for StdMutex<VecDeque<u64>> {
    fn push(&self, value: u64) {
        self.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(value)
    }
    fn pop(&self) -> Option<u64> {
        self.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }
}
