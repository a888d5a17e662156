//! Ready-made sequential models for common objects.
//!
//! Each is a plain sequential implementation: the specification a concurrent version must be
//! linearizable to. They derive `Hash` and `Eq` for the checker's cache.

use std::collections::VecDeque;
use std::fmt::Debug;

use super::Model;

/// A read/write register.
///
/// ```
/// use threadsmith::check::{Model, models::{Register, RegisterOp}};
/// let mut r = Register::new(0);
/// assert_eq!(r.apply(&RegisterOp::Write(5)), None);
/// assert_eq!(r.apply(&RegisterOp::Read), Some(5));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Register<T> {
    value: T,
}

/// An operation on a [`Register`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp<T> {
    /// Returns `Some(value)`.
    Read,
    /// Stores the value; returns `None`.
    Write(T),
}

impl<T> Register<T> {
    /// A register holding `value`.
    pub fn new(value: T) -> Self {
        Self { value }
    }
}

impl<T: Clone + Debug + PartialEq> Model for Register<T> {
    type Op = RegisterOp<T>;
    type Ret = Option<T>;
    fn apply(&mut self, op: &RegisterOp<T>) -> Option<T> {
        match op {
            RegisterOp::Read => Some(self.value.clone()),
            RegisterOp::Write(v) => {
                self.value = v.clone();
                None
            }
        }
    }
}

/// A counter with `fetch_add` and `get`.
///
/// ```
/// use threadsmith::check::{Model, models::{Counter, CounterOp}};
/// let mut c = Counter::default();
/// assert_eq!(c.apply(&CounterOp::FetchAdd(2)), 0);
/// assert_eq!(c.apply(&CounterOp::Get), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counter {
    value: u64,
}

/// An operation on a [`Counter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterOp {
    /// Adds (wrapping) and returns the value before.
    FetchAdd(u64),
    /// Returns the value.
    Get,
}

impl Model for Counter {
    type Op = CounterOp;
    type Ret = u64;
    fn apply(&mut self, op: &CounterOp) -> u64 {
        let before = self.value;
        if let CounterOp::FetchAdd(n) = op {
            self.value = before.wrapping_add(*n);
        }
        before
    }
}

/// A FIFO queue.
///
/// ```
/// use threadsmith::check::{Model, models::{FifoQueue, QueueOp}};
/// let mut q = FifoQueue::new();
/// q.apply(&QueueOp::Push(1));
/// q.apply(&QueueOp::Push(2));
/// assert_eq!(q.apply(&QueueOp::Pop), Some(1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FifoQueue<T> {
    items: VecDeque<T>,
}

/// An operation on a [`FifoQueue`] or a [`LifoStack`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueueOp<T> {
    /// Adds the value; returns `None`.
    Push(T),
    /// Removes and returns the next value, `None` when empty.
    Pop,
}

impl<T> FifoQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            items: VecDeque::new(),
        }
    }
}

impl<T> Default for FifoQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Debug + PartialEq> Model for FifoQueue<T> {
    type Op = QueueOp<T>;
    type Ret = Option<T>;
    fn apply(&mut self, op: &QueueOp<T>) -> Option<T> {
        match op {
            QueueOp::Push(v) => {
                self.items.push_back(v.clone());
                None
            }
            QueueOp::Pop => self.items.pop_front(),
        }
    }
}

/// A LIFO stack (operations are [`QueueOp`]s: `Push` and `Pop`).
///
/// ```
/// use threadsmith::check::{Model, models::{LifoStack, QueueOp}};
/// let mut s = LifoStack::new();
/// s.apply(&QueueOp::Push(1));
/// s.apply(&QueueOp::Push(2));
/// assert_eq!(s.apply(&QueueOp::Pop), Some(2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LifoStack<T> {
    items: Vec<T>,
}

impl<T> LifoStack<T> {
    /// An empty stack.
    pub fn new() -> Self {
        Self { items: Vec::new() }
    }
}

impl<T> Default for LifoStack<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Debug + PartialEq> Model for LifoStack<T> {
    type Op = QueueOp<T>;
    type Ret = Option<T>;
    fn apply(&mut self, op: &QueueOp<T>) -> Option<T> {
        match op {
            QueueOp::Push(v) => {
                self.items.push(v.clone());
                None
            }
            QueueOp::Pop => self.items.pop(),
        }
    }
}

/// A bounded FIFO queue that can be closed: the specification of
/// [`BoundedQueue`](crate::bounded::BoundedQueue)'s non-blocking operations.
///
/// ```
/// use threadsmith::check::{Model, models::{BoundedFifo, BoundedOp, BoundedRet}};
/// let mut q = BoundedFifo::new(1);
/// assert_eq!(q.apply(&BoundedOp::TryPush(1)), BoundedRet::Pushed);
/// assert_eq!(q.apply(&BoundedOp::TryPush(2)), BoundedRet::Full);
/// assert_eq!(q.apply(&BoundedOp::Close), BoundedRet::Closed);
/// assert_eq!(q.apply(&BoundedOp::TryPop), BoundedRet::Popped(1));
/// assert_eq!(q.apply(&BoundedOp::TryPop), BoundedRet::Closed);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BoundedFifo<T> {
    capacity: usize,
    items: VecDeque<T>,
    closed: bool,
}

/// An operation on a [`BoundedFifo`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BoundedOp<T> {
    /// `try_push`: `Pushed`, `Full` or `Closed`.
    TryPush(T),
    /// `try_pop`: `Popped(v)`, `Empty`, or `Closed` once closed and empty.
    TryPop,
    /// `close`: returns `Closed`.
    Close,
}

/// What a [`BoundedOp`] returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BoundedRet<T> {
    /// The value was queued.
    Pushed,
    /// The oldest value.
    Popped(T),
    /// No room (the value was handed back).
    Full,
    /// Nothing queued, and the queue is open.
    Empty,
    /// Closed: a push was refused, a pop found it closed and empty, or `close` ran.
    Closed,
}

impl<T> BoundedFifo<T> {
    /// An open, empty queue holding at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            items: VecDeque::new(),
            closed: false,
        }
    }
}

impl<T: Clone + Debug + PartialEq> Model for BoundedFifo<T> {
    type Op = BoundedOp<T>;
    type Ret = BoundedRet<T>;
    fn apply(&mut self, op: &BoundedOp<T>) -> BoundedRet<T> {
        match op {
            BoundedOp::TryPush(_) if self.closed => BoundedRet::Closed,
            BoundedOp::TryPush(_) if self.items.len() >= self.capacity => BoundedRet::Full,
            BoundedOp::TryPush(v) => {
                self.items.push_back(v.clone());
                BoundedRet::Pushed
            }
            BoundedOp::TryPop => match self.items.pop_front() {
                Some(v) => BoundedRet::Popped(v),
                None if self.closed => BoundedRet::Closed,
                None => BoundedRet::Empty,
            },
            BoundedOp::Close => {
                self.closed = true;
                BoundedRet::Closed
            }
        }
    }
}

/// A token bucket, sequentially: the reference that `TokenBucket`, `LeakyBucket` and the
/// conformance suite's `check_token_bucket` are compared with. Credit is counted in nanoseconds
/// of refill (a full bucket holds `capacity × interval`), in `u128`, so fractions of a token
/// carry over exactly and nothing overflows.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::check::{Model, models::{BucketOp, TokenBucketModel}};
/// use threadsmith::ratelimit::Rate;
///
/// let mut bucket = TokenBucketModel::new(2, Rate::per_second(1));
/// assert!(bucket.apply(&BucketOp::Acquire(2)));
/// assert!(!bucket.apply(&BucketOp::Acquire(1)));
/// bucket.apply(&BucketOp::Advance(Duration::from_secs(1)));
/// assert!(bucket.apply(&BucketOp::Acquire(1)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenBucketModel {
    /// `capacity × interval`: a full bucket's credit.
    full: u128,
    interval: u128,
    credit: u128,
}

/// An operation on a [`TokenBucketModel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BucketOp {
    /// Time passes; returns `true`.
    Advance(std::time::Duration),
    /// Takes `n` tokens if they are there; returns whether it did.
    Acquire(u64),
}

impl TokenBucketModel {
    /// A full bucket of `capacity` tokens, refilled at `rate` (one token per
    /// [`Rate::interval`](crate::ratelimit::Rate::interval)).
    pub fn new(capacity: u64, rate: crate::ratelimit::Rate) -> Self {
        let interval = rate.interval().as_nanos();
        let full = u128::from(capacity) * interval;
        Self {
            full,
            interval,
            credit: full,
        }
    }
}

impl Model for TokenBucketModel {
    type Op = BucketOp;
    type Ret = bool;
    fn apply(&mut self, op: &BucketOp) -> bool {
        match *op {
            BucketOp::Advance(by) => {
                self.credit = (self.credit + by.as_nanos()).min(self.full);
                true
            }
            BucketOp::Acquire(n) => {
                let cost = u128::from(n) * self.interval;
                let ok = cost <= self.credit;
                if ok {
                    self.credit -= cost;
                }
                ok
            }
        }
    }
}
