//! Is this concurrent object correct? A linearizability checker, a stress runner that records
//! histories from real threads, ready-made sequential models, and known-buggy variants.
//!
//! `check` is a product of its own: it depends on nothing in this crate but [`crate::sync`], so
//! you can point it at *your* queue, stack, counter or cache.
//!
//! # Linearizability in one paragraph
//! A history is a list of completed operations, each with the time it was called (`start`) and
//! the time it returned (`end`). It is *linearizable* when there is one sequential order of all
//! operations that (1) respects real time — if A returned before B was called, A comes first —
//! and (2) is a legal run of the object's sequential specification, the [`Model`], returning
//! exactly what each operation really returned. Equivalently: each operation appears to take
//! effect at one instant between its call and its return.
//!
//! # The search
//! [`linearizable`] is Wing & Gong's backtracking search (1993) with Lowe's memoisation (2017),
//! the algorithm behind Jepsen's knossos and Go's porcupine. Calls and returns are laid out on one
//! time line. The search walks it, and at each call tries to linearize that operation *now*: apply
//! it to a copy of the model and compare the result. On a match it removes the operation from the
//! line and starts over from the front; when it reaches a return whose operation is still
//! pending, no order of what came before works, so it backtracks. Lowe's cache remembers every
//! (set of linearized operations, model state) pair already tried, which turns the exponential
//! search into one that is usually linear in practice. That cache is why the checker asks for
//! `M: Hash + Eq`: derive both on your model.
//!
//! Two extensions from porcupine: [`Checker::check_by_key`] splits a history by key and checks
//! each part on its own (linearizability is *local*, so a history is linearizable iff each
//! per-key part is), and [`Checker::time_limit`] returns [`Verdict::Unknown`] instead of hanging
//! on a pathological history.
//!
//! When a history is not linearizable, the [`Violation`] reports where every attempt gets stuck:
//! the largest set of operations that fit a valid order, the first leftover operation to return,
//! and the window of operations around that point, drawn as a per-thread timeline.
//!
//! ```
//! use threadsmith::check::{linearizable, models::{Register, RegisterOp}, Event};
//!
//! // Thread 0 writes 1 and returns at t=2; thread 1 then reads 0 (t=3..4): a stale read.
//! let history = vec![
//!     Event { thread: 0, op: RegisterOp::Write(1), ret: None, start: 1, end: 2 },
//!     Event { thread: 1, op: RegisterOp::Read, ret: Some(0), start: 3, end: 4 },
//! ];
//! let err = linearizable(&Register::new(0), &history).unwrap_err();
//! println!("{err}");
//!
//! // Had the read overlapped the write, reading 0 would have been fine.
//! let overlapping = vec![
//!     Event { thread: 0, op: RegisterOp::Write(1), ret: None, start: 1, end: 3 },
//!     Event { thread: 1, op: RegisterOp::Read, ret: Some(0), start: 2, end: 4 },
//! ];
//! assert_eq!(linearizable(&Register::new(0), &overlapping).unwrap(), vec![1, 0]);
//! ```
//!
//! # Recording histories
//! [`Stress`] runs generated operations on N real threads against one shared object and
//! returns the history; [`Recorder`] records operations from threads you manage yourself. Both
//! take `start` and `end` from one shared atomic tick, so real-time precedence in the history is
//! exactly happens-before between the operations.
//!
//! # Conformance suites
//! [`conformance`] packages the proofs the crate runs on its own stack and queue — a sequential
//! run against the model, a thousand checked histories and an exactly-once stress test — so one
//! call runs them on your implementation.
//!
//! # Known-buggy variants
//! [`mutants`] holds small, deliberately wrong implementations. The crate's own tests assert
//! that the proofs reject each one: a proof that cannot fail proves nothing.

// ANCHOR: model
/// The sequential specification of an object: its state, and what each operation does to it.
///
/// The checker clones states while it searches; derive `Hash` and `Eq` too, so it can remember
/// states it has already tried.
///
/// ```
/// use threadsmith::check::Model;
///
/// #[derive(Clone, Debug, Hash, PartialEq, Eq)]
/// struct Flag(bool);
///
/// impl Model for Flag {
///     type Op = bool;          // true: set it, false: just read it
///     type Ret = bool;         // the value before the operation
///     fn apply(&mut self, set: &bool) -> bool {
///         let before = self.0;
///         if *set { self.0 = true; }
///         before
///     }
/// }
/// ```
pub trait Model: Clone {
    /// An operation, with its arguments.
    type Op: Clone + std::fmt::Debug;
    /// What an operation returns.
    type Ret: Clone + std::fmt::Debug + PartialEq;
    /// Applies `op` to the state and returns what a sequential object would return.
    fn apply(&mut self, op: &Self::Op) -> Self::Ret;
}
// ANCHOR_END: model

// ANCHOR: event
/// One completed operation in a history: who ran it, what it was, what it returned, and when it
/// was called and returned, on one monotonic scale shared by every thread (`start <= end`).
/// Event A precedes event B when `A.end < B.start`; otherwise they overlap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<Op, Ret> {
    /// The thread (or client) that ran it; used only for display.
    pub thread: usize,
    /// The operation and its arguments.
    pub op: Op,
    /// What it returned.
    pub ret: Ret,
    /// When it was called.
    pub start: u64,
    /// When it returned.
    pub end: u64,
}
// ANCHOR_END: event

#[cfg(not(loom))]
pub mod conformance;
#[cfg(loom)]
#[path = "conformance_loom.rs"]
pub mod conformance;
mod detector;
mod linearizable;
pub mod models;
pub mod mutants;
mod publication;
mod record;
pub mod reference;
mod rng;
mod violation;

pub use detector::grade_detector;
pub use linearizable::{linearizable, Checker, Unknown, Verdict};
pub use publication::{check_publication, Publish, RelAcqSlot, PAYLOAD};
#[cfg(not(loom))]
pub use record::Stress;
pub use record::{Recorder, Ticks};
pub use rng::Rng;
pub use violation::Violation;
