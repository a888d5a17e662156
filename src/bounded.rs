//! A bounded blocking MPMC queue: a lock-free ring of stamped slots, with parking only when full
//! or empty, an explicit `close`, and timeouts.
//!
//! **Algorithm.** The ring is Dmitry Vyukov's bounded MPMC queue (2010), in the form
//! crossbeam's `ArrayQueue` uses: every slot carries a *stamp* saying which position it is ready
//! for. A push at position `p` may write the slot only when its stamp is `p` (free for this
//! lap), and then sets it to `p + 1` (full). A pop at `p` may read it only when the stamp is
//! `p + 1`, and then sets it to `p` plus one lap (free for the next lap). Producers claim
//! positions with a CAS on `tail`, consumers with a CAS on `head`. They meet only at the slot,
//! through its stamp. Positions are `lap | index` words, so they wrap around without ambiguity.
//!
//! **Blocking.** `push` and `pop` first try the ring, then spin briefly with [`Backoff`], and
//! only then park on a condition variable. A parking thread registers itself in a waiter count,
//! then *re-checks the ring* before it sleeps. A thread that completes an operation reads that
//! count; it takes the lock and notifies only when someone is registered, and the notified
//! waiter's registration ends there, so the next operations do not wake it again. The
//! registration and the operation's claim on the ring are both `SeqCst`: either the waker sees
//! the registration, or the waiter's re-check sees the new element or slot. So no wake-up is
//! lost, and the fast path never touches the lock. (`check::mutants::LostWakeupQueue` is what goes wrong without
//! the re-check; `tests/loom_bounded.rs` catches it.)
//!
//! **Close.** `close` sets a bit in `tail`. Every push claims its position with a CAS on `tail`,
//! so no push can succeed after `close` returns: a rejected value comes back inside the error,
//! and nothing is lost. Consumers keep popping what was queued, and see the queue as closed
//! only once it is closed *and* empty.
//!
//! **Progress.** `try_push` and `try_pop` never lock. They are lock-free except for one window:
//! a push that has claimed a slot but not yet written it holds up the pops of that slot, which
//! spin until it finishes (and likewise a half-finished pop holds up the next lap's push). That
//! is the price of exact `Full` and `Empty` answers: the operations are linearizable, and a
//! pop never says `Empty` while a completed push's value is in the ring.
//!
//! **Linearization points.** A successful push: its CAS on `tail`. A successful pop: its CAS
//! on `head`. `Full`, `Empty` and `Closed`: the load of `head` or `tail` that saw the ring
//! full, empty or closed. `close`: its `fetch_or` on `tail`.
//!
//! **Cost.** No allocation after `new`. An uncontended push or pop is one CAS, one store and
//! one load of the waiter count: no lock, no fence. Capacity 0 (a rendezvous channel) is not offered. There, `push` waits until a `pop`
//! takes the value, which is a different protocol (a hand-off, not a buffer);
//! `crossbeam_channel::bounded(0)` provides it.
//!
//! ```
//! use threadsmith::bounded::BoundedQueue;
//!
//! let queue = BoundedQueue::new(16);
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         for i in 0..100 {
//!             queue.push(i).expect("not closed yet");
//!         }
//!         queue.close(); // no more values: consumers drain, then see the end
//!     });
//!     let received: Vec<i32> = std::iter::from_fn(|| queue.pop()).collect();
//!     assert_eq!(received, (0..100).collect::<Vec<_>>());
//! });
//! ```

use std::fmt;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use crate::sync::atomic::{
    fence, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};
use crate::sync::{Backoff, CachePadded, Condvar, Mutex, UnsafeCell};

/// One place in the ring.
struct Slot<T> {
    /// `p` when the slot is free for the push at position `p`; `p + 1` when it holds that
    /// push's value, ready for the pop at `p`.
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded blocking multi-producer multi-consumer FIFO queue.
///
/// See the [module docs](self) for the algorithm. Values from one producer are popped in the
/// order they were pushed. Every value still queued when the queue is dropped is dropped
/// exactly once.
///
/// ```
/// use threadsmith::bounded::{BoundedQueue, TryPushError};
///
/// let queue = BoundedQueue::new(1);
/// queue.push("a").unwrap();
/// assert_eq!(queue.try_push("b"), Err(TryPushError::Full("b"))); // the value comes back
/// assert_eq!(queue.pop(), Some("a"));
/// ```
pub struct BoundedQueue<T> {
    /// The next position to pop.
    head: CachePadded<AtomicUsize>,
    /// The next position to push, with `closed_bit` set once the queue is closed.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    /// The bit above every index: set in `tail` by `close`, never part of a position.
    closed_bit: usize,
    /// What a position advances by when it wraps: positions are `lap | index`.
    one_lap: usize,
    /// On its own cache line: registrations and the lock write it, and every operation reads
    /// the fields above.
    waiters: CachePadded<Waiters>,
}

/// Where threads sleep when the ring is full or empty.
struct Waiters {
    lock: Mutex<()>,
    not_empty: Condvar,
    not_full: Condvar,
    /// Threads registered (under `lock`) to wait for a value / a free slot.
    poppers: AtomicUsize,
    pushers: AtomicUsize,
}

// SAFETY: values move between threads through the queue (`T: Send`), and no `&T` is ever
// shared: each value is written by one push and read by one pop, ordered by its slot's stamp.
unsafe impl<T: Send> Send for BoundedQueue<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for BoundedQueue<T> {}

impl<T> BoundedQueue<T> {
    /// A queue that holds at most `capacity` values.
    ///
    /// # Panics
    /// If `capacity` is 0: a queue that can hold nothing is a rendezvous channel, a different
    /// design (see the module docs). Also if the slots cannot be allocated.
    ///
    /// ```
    /// let queue = threadsmith::bounded::BoundedQueue::<u32>::new(8);
    /// assert_eq!(queue.capacity(), 8);
    /// assert!(queue.is_empty());
    /// ```
    pub fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "BoundedQueue::new: capacity must be at least 1 (a rendezvous channel, where push \
             waits for a pop, is a different design: see the bounded module docs)"
        );
        let closed_bit = capacity
            .checked_add(1)
            .and_then(usize::checked_next_power_of_two)
            .filter(|bit| bit.checked_mul(4).is_some())
            .expect("BoundedQueue::new: capacity is too large to index");
        let slots = (0..capacity)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots,
            closed_bit,
            one_lap: closed_bit * 2,
            waiters: CachePadded::new(Waiters {
                lock: Mutex::new(()),
                not_empty: Condvar::new(),
                not_full: Condvar::new(),
                poppers: AtomicUsize::new(0),
                pushers: AtomicUsize::new(0),
            }),
        }
    }

    /// The position after `pos`: the next index, or index 0 of the next lap.
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.closed_bit - 1);
        if index + 1 < self.slots.len() {
            pos + 1
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    // ANCHOR: try_push
    /// The lock-free push: `Full` only if the ring was full at some instant during the call.
    fn push_ring(&self, value: T) -> Result<(), TryPushError<T>> {
        let backoff = Backoff::new();
        // Relaxed: only a guess at the position; the CAS below validates it.
        let mut tail = self.tail.load(Relaxed);
        loop {
            if tail & self.closed_bit != 0 {
                return Err(TryPushError::Closed(value));
            }
            let slot = &self.slots[tail & (self.closed_bit - 1)];
            // Acquire: pairs with the Release stamp store of the pop that emptied this slot a
            // lap ago, so its read of the old value is done before we overwrite it.
            let stamp = slot.stamp.load(Acquire);
            if stamp == tail {
                // Free for this lap: claim the position. SeqCst: ordered with the fence in a
                // pop's empty check, so a pop that then reads `tail` sees our claim.
                match self
                    .tail
                    .compare_exchange_weak(tail, self.next(tail), SeqCst, Relaxed)
                {
                    Ok(_) => {
                        // SAFETY: the stamp said the slot is free for position `tail`, and our
                        // CAS made that position ours alone: no one else writes or reads the
                        // slot until we publish it below.
                        slot.value.with_mut(|v| unsafe { (*v).write(value) });
                        // Release: publishes the value to the Acquire stamp load in `pop_ring`.
                        slot.stamp.store(tail.wrapping_add(1), Release);
                        return Ok(());
                    }
                    Err(current) => {
                        tail = current;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail.wrapping_add(1) {
                // The slot still holds the value pushed a lap ago. Full, unless a pop has
                // claimed it since: SeqCst fence so that `head` is read after the stamp.
                fence(SeqCst);
                // Relaxed: ordered by the fence.
                let head = self.head.load(Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(TryPushError::Full(value));
                }
                backoff.spin();
                tail = self.tail.load(Relaxed);
            } else {
                // Another push claimed this position and has not written it yet.
                backoff.snooze();
                tail = self.tail.load(Relaxed);
            }
        }
    }
    // ANCHOR_END: try_push

    // ANCHOR: try_pop
    /// The lock-free pop: `Empty` only if the ring was empty at some instant during the call.
    fn pop_ring(&self) -> Result<T, TryPopError> {
        let backoff = Backoff::new();
        // Relaxed: only a guess at the position; the CAS below validates it.
        let mut head = self.head.load(Relaxed);
        loop {
            let slot = &self.slots[head & (self.closed_bit - 1)];
            // Acquire: pairs with the Release stamp store in `push_ring`: the value is visible.
            let stamp = slot.stamp.load(Acquire);
            if stamp == head.wrapping_add(1) {
                // Holds the value for this position: claim it. SeqCst: ordered with the fence
                // in a push's full check, as in `push_ring`.
                match self
                    .head
                    .compare_exchange_weak(head, self.next(head), SeqCst, Relaxed)
                {
                    Ok(_) => {
                        // SAFETY: the stamp said the slot holds the value pushed at `head`, and
                        // our CAS made that position ours alone; we read the value once, and the
                        // stamp store below hands the (now logically empty) slot to the next lap.
                        let value = slot.value.with(|v| unsafe { (*v).assume_init_read() });
                        // Release: tells the push one lap later that our read is done.
                        slot.stamp.store(head.wrapping_add(self.one_lap), Release);
                        return Ok(value);
                    }
                    Err(current) => {
                        head = current;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // Nothing written here for this lap. Empty, unless a push has claimed the
                // position and is writing it: SeqCst fence so that `tail` is read after the stamp.
                fence(SeqCst);
                // Relaxed: ordered by the fence.
                let tail = self.tail.load(Relaxed);
                if tail & !self.closed_bit == head {
                    return Err(if tail & self.closed_bit != 0 {
                        TryPopError::Closed
                    } else {
                        TryPopError::Empty
                    });
                }
                backoff.spin();
                head = self.head.load(Relaxed);
            } else {
                // Another pop claimed this position and has not finished reading it yet.
                backoff.snooze();
                head = self.head.load(Relaxed);
            }
        }
    }
    // ANCHOR_END: try_pop

    // ANCHOR: wake
    /// After a push or pop: wakes one thread waiting on `condvar`, if any is registered.
    fn wake_one(&self, registered: &AtomicUsize, condvar: &Condvar) {
        // SeqCst: this load and the SeqCst CAS that claimed our position (just before) are
        // in the single total order with a waiter's SeqCst registration and fence. Either
        // our CAS comes first, and the waiter's re-check sees our claim (and waits for it to
        // finish), or its registration comes first, and this load sees it.
        if registered.load(SeqCst) > 0 {
            // Under the lock a registered waiter is asleep, not half-way to sleeping.
            let _lock = self.waiters.lock.lock();
            if condvar.notify_one() {
                // The woken waiter's registration ends here, so the operations that follow
                // ours do not take the lock again to wake a thread that is already awake.
                registered.fetch_sub(1, SeqCst);
            }
        }
    }

    /// The slow path of a blocking operation: spin a little, then register, re-check with
    /// `attempt`, and sleep on `condvar` until woken or `deadline`. Returns `attempt`'s first
    /// definite answer (`Ok`, or `Err` for which `retry` is false), or its last answer at the
    /// deadline.
    fn wait_on<R, E>(
        &self,
        registered: &AtomicUsize,
        condvar: &Condvar,
        deadline: Option<Instant>,
        mut attempt: impl FnMut() -> Result<R, E>,
        retry: impl Fn(&E) -> bool,
    ) -> Result<R, E> {
        let backoff = Backoff::new();
        loop {
            match attempt() {
                Err(e) if retry(&e) => {
                    if !backoff.is_completed() {
                        backoff.snooze();
                        continue;
                    }
                }
                answer => return answer,
            }
            let mut lock = self.waiters.lock.lock();
            registered.fetch_add(1, SeqCst);
            // SeqCst: orders the re-check's loads after the registration (see `wake_one`).
            fence(SeqCst);
            let answer = attempt(); // the re-check: never sleep on a stale "full" or "empty"
            let notified = match &answer {
                Err(e) if retry(e) => match deadline {
                    None => {
                        condvar.wait(&mut lock);
                        true
                    }
                    Some(deadline) => !condvar.wait_until(&mut lock, deadline),
                },
                _ => false,
            };
            if !notified {
                // Nobody ended our registration for us: we did not sleep, or we timed out.
                registered.fetch_sub(1, SeqCst);
            }
            drop(lock);
            match answer {
                Err(e) if retry(&e) => {
                    if !notified {
                        return attempt(); // timed out: one last try, then the timeout stands
                    }
                }
                answer => return answer,
            }
        }
    }
    // ANCHOR_END: wake

    #[cold]
    fn push_until(&self, value: T, deadline: Option<Instant>) -> Result<(), TryPushError<T>> {
        // The value moves into each attempt and comes back inside `Full`.
        let mut value = Some(value);
        let outcome = self.wait_on(
            &self.waiters.pushers,
            &self.waiters.not_full,
            deadline,
            || {
                let v = value
                    .take()
                    .expect("the value is back after every failed attempt");
                self.push_ring(v).map_err(|e| match e {
                    TryPushError::Full(v) => {
                        value = Some(v);
                        None
                    }
                    closed => Some(closed),
                })
            },
            Option::is_none,
        );
        match outcome {
            Ok(()) => {
                self.wake_one(&self.waiters.poppers, &self.waiters.not_empty);
                Ok(())
            }
            Err(Some(closed)) => Err(closed),
            Err(None) => Err(TryPushError::Full(
                value.expect("a full queue hands the value back"),
            )),
        }
    }

    #[cold]
    fn pop_until(&self, deadline: Option<Instant>) -> Result<T, TryPopError> {
        let outcome = self.wait_on(
            &self.waiters.poppers,
            &self.waiters.not_empty,
            deadline,
            || self.pop_ring(),
            |e| *e == TryPopError::Empty,
        );
        if outcome.is_ok() {
            self.wake_one(&self.waiters.pushers, &self.waiters.not_full);
        }
        outcome
    }

    /// Pushes `value`, waiting while the queue is full. Returns the value inside `Closed` if the
    /// queue is closed, before or while waiting.
    ///
    /// ```
    /// use threadsmith::bounded::{BoundedQueue, Closed};
    ///
    /// let queue = BoundedQueue::new(2);
    /// assert_eq!(queue.push(1), Ok(()));
    /// queue.close();
    /// assert_eq!(queue.push(2), Err(Closed(2)));
    /// ```
    pub fn push(&self, value: T) -> Result<(), Closed<T>> {
        match self.push_ring(value) {
            Ok(()) => {
                self.wake_one(&self.waiters.poppers, &self.waiters.not_empty);
                Ok(())
            }
            Err(TryPushError::Full(value)) => self
                .push_until(value, None) // the slow path
                .map_err(|e| Closed(e.into_inner())),
            Err(TryPushError::Closed(value)) => Err(Closed(value)),
        }
    }

    /// Pushes `value` if there is room right now; never waits. The value comes back inside the
    /// error when the queue is full or closed.
    ///
    /// ```
    /// use threadsmith::bounded::{BoundedQueue, TryPushError};
    ///
    /// let queue = BoundedQueue::new(1);
    /// assert_eq!(queue.try_push('a'), Ok(()));
    /// assert_eq!(queue.try_push('b'), Err(TryPushError::Full('b')));
    /// ```
    pub fn try_push(&self, value: T) -> Result<(), TryPushError<T>> {
        self.push_ring(value)?;
        self.wake_one(&self.waiters.poppers, &self.waiters.not_empty);
        Ok(())
    }

    /// Pushes `value`, waiting at most `timeout` (measured with `Instant`, on a condition
    /// variable: no busy loop) for room. `Full(value)` when the time ran out.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadsmith::bounded::{BoundedQueue, TryPushError};
    ///
    /// let queue = BoundedQueue::new(1);
    /// queue.push(1).unwrap();
    /// let waited = queue.push_timeout(2, Duration::from_millis(1));
    /// assert_eq!(waited, Err(TryPushError::Full(2)));
    /// ```
    pub fn push_timeout(&self, value: T, timeout: Duration) -> Result<(), TryPushError<T>> {
        // A timeout too large for `Instant` means "no deadline".
        self.push_until(value, Instant::now().checked_add(timeout))
    }

    /// Pops the oldest value, waiting while the queue is empty. Returns `None` only once the
    /// queue is closed *and* empty: values queued before `close` are still delivered.
    ///
    /// ```
    /// let queue = threadsmith::bounded::BoundedQueue::new(2);
    /// queue.push(1).unwrap();
    /// queue.close();
    /// assert_eq!(queue.pop(), Some(1)); // queued before the close
    /// assert_eq!(queue.pop(), None);    // closed and empty
    /// ```
    pub fn pop(&self) -> Option<T> {
        match self.pop_ring() {
            Ok(value) => {
                self.wake_one(&self.waiters.pushers, &self.waiters.not_full);
                Some(value)
            }
            Err(TryPopError::Empty) => self.pop_until(None).ok(), // the slow path
            Err(TryPopError::Closed) => None,
        }
    }

    /// Pops the oldest value if there is one right now; never waits. `Empty` if the queue is
    /// empty and open, `Closed` once it is closed and empty.
    ///
    /// ```
    /// use threadsmith::bounded::{BoundedQueue, TryPopError};
    ///
    /// let queue = BoundedQueue::<u8>::new(1);
    /// assert_eq!(queue.try_pop(), Err(TryPopError::Empty));
    /// queue.close();
    /// assert_eq!(queue.try_pop(), Err(TryPopError::Closed));
    /// ```
    pub fn try_pop(&self) -> Result<T, TryPopError> {
        let value = self.pop_ring()?;
        self.wake_one(&self.waiters.pushers, &self.waiters.not_full);
        Ok(value)
    }

    /// Pops the oldest value, waiting at most `timeout` (real time, on a condition variable)
    /// for one. `Empty` when the time ran out, `Closed` once closed and empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadsmith::bounded::{BoundedQueue, TryPopError};
    ///
    /// let queue = BoundedQueue::<u8>::new(1);
    /// assert_eq!(queue.pop_timeout(Duration::from_millis(1)), Err(TryPopError::Empty));
    /// ```
    pub fn pop_timeout(&self, timeout: Duration) -> Result<T, TryPopError> {
        self.pop_until(Instant::now().checked_add(timeout))
    }

    // ANCHOR: close
    /// Closes the queue: from now on every push fails and hands its value back, and every
    /// waiting producer and consumer wakes. Consumers can still pop what is queued. Idempotent.
    ///
    /// ```
    /// let queue = threadsmith::bounded::BoundedQueue::<u8>::new(1);
    /// queue.close();
    /// queue.close(); // no effect the second time
    /// assert!(queue.is_closed());
    /// ```
    pub fn close(&self) {
        // SeqCst: the linearization point of `close`; every push's CAS on `tail` compares the
        // whole word, so none can succeed after this.
        let before = self.tail.fetch_or(self.closed_bit, SeqCst);
        if before & self.closed_bit == 0 {
            // A waiter holds the lock from its registration to its sleep, so it either sees
            // the closed bit in its re-check or is asleep when we notify.
            let _lock = self.waiters.lock.lock();
            // Every registered waiter is asleep (we hold the lock): all of them wake, and
            // their registrations end here, as in `wake_one`.
            let woken = self.waiters.not_empty.notify_all();
            self.waiters.poppers.fetch_sub(woken, SeqCst);
            let woken = self.waiters.not_full.notify_all();
            self.waiters.pushers.fetch_sub(woken, SeqCst);
        }
    }
    // ANCHOR_END: close

    /// Whether [`close`](Self::close) has been called.
    ///
    /// ```
    /// let queue = threadsmith::bounded::BoundedQueue::<u8>::new(1);
    /// assert!(!queue.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        // Relaxed: a snapshot; the bit is set once and never cleared.
        self.tail.load(Relaxed) & self.closed_bit != 0
    }

    /// The number of values queued at one instant during the call (other threads may change it
    /// right away).
    ///
    /// ```
    /// let queue = threadsmith::bounded::BoundedQueue::new(4);
    /// queue.push('x').unwrap();
    /// assert_eq!(queue.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        loop {
            // SeqCst: the three loads must be one consistent snapshot of two counters; if
            // `tail` did not move while we read `head`, the pair was current at that instant.
            let tail = self.tail.load(SeqCst);
            let head = self.head.load(SeqCst);
            if self.tail.load(SeqCst) == tail {
                return self.len_between(head, tail);
            }
        }
    }

    /// The number of values between positions `head` and `tail` (which may carry the closed bit).
    fn len_between(&self, head: usize, tail: usize) -> usize {
        let index_mask = self.closed_bit - 1;
        let (h, t) = (head & index_mask, tail & index_mask);
        if h < t {
            t - h
        } else if h > t {
            self.slots.len() - h + t
        } else if tail & !self.closed_bit == head {
            0
        } else {
            self.slots.len()
        }
    }

    /// Whether the queue held no values at one instant during the call.
    ///
    /// ```
    /// let queue = threadsmith::bounded::BoundedQueue::<u8>::new(4);
    /// assert!(queue.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most values the queue can hold.
    ///
    /// ```
    /// assert_eq!(threadsmith::bounded::BoundedQueue::<u8>::new(3).capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

impl<T> Drop for BoundedQueue<T> {
    fn drop(&mut self) {
        // Relaxed: `&mut self`, so no other thread is left to synchronise with.
        let head = self.head.load(Relaxed);
        let tail = self.tail.load(Relaxed);
        let first = head & (self.closed_bit - 1);
        for i in 0..self.len_between(head, tail) {
            let slot = &self.slots[(first + i) % self.slots.len()];
            // SAFETY: the slots between `head` and `tail` hold values that no pop took, and no
            // operation is in flight (`&mut self`): each is dropped exactly once, here.
            slot.value.with_mut(|v| unsafe { (*v).assume_init_drop() });
        }
    }
}

impl<T> fmt::Debug for BoundedQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("is_closed", &self.is_closed())
            .finish()
    }
}

/// The error of [`BoundedQueue::push`]: the queue is closed. The value is handed back.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Closed<T>(pub T);

impl<T> Closed<T> {
    /// The value that was not pushed.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

impl<T> fmt::Display for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is closed")
    }
}

impl<T> std::error::Error for Closed<T> {}

/// The error of [`BoundedQueue::try_push`] and [`BoundedQueue::push_timeout`]. The value is
/// handed back either way.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPushError<T> {
    /// The queue was full (for `push_timeout`: until the time ran out).
    Full(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> TryPushError<T> {
    /// The value that was not pushed.
    pub fn into_inner(self) -> T {
        match self {
            TryPushError::Full(v) | TryPushError::Closed(v) => v,
        }
    }

    /// Whether the queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TryPushError::Full(_))
    }

    /// Whether the queue is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TryPushError::Closed(_))
    }
}

impl<T> From<Closed<T>> for TryPushError<T> {
    fn from(Closed(v): Closed<T>) -> Self {
        TryPushError::Closed(v)
    }
}

impl<T> fmt::Debug for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPushError::Full(_) => "Full(..)",
            TryPushError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPushError::Full(_) => "the queue is full",
            TryPushError::Closed(_) => "the queue is closed",
        })
    }
}

impl<T> std::error::Error for TryPushError<T> {}

/// The error of [`BoundedQueue::try_pop`] and [`BoundedQueue::pop_timeout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryPopError {
    /// The queue was empty (for `pop_timeout`: until the time ran out) and is open.
    Empty,
    /// The queue is closed and empty: no value will ever come.
    Closed,
}

impl fmt::Display for TryPopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPopError::Empty => "the queue is empty",
            TryPopError::Closed => "the queue is closed and empty",
        })
    }
}

impl std::error::Error for TryPopError {}
