//! Known-buggy variants: small, deliberately wrong implementations that the proofs must reject.
//!
//! Each is the classic mistake for its kind of object, written the way it is usually written.
//! The crate's tests run the same checks on the mutant as on the real thing and assert that the
//! mutant is caught; interviewers can hand them out as "find the bug" exercises.
//!
//! | mutant | bug | caught by |
//! | --- | --- | --- |
//! | [`LostUpdateCounter`] | `fetch_add` as a load then a store | [`linearizable`](super::linearizable) on histories from real threads |
//! | [`RacyShutdown`] | admission as check-the-flag-then-count | the loom model in `tests/loom_shutdown.rs` |
//! | [`RacyPopStack`] | Treiber `pop` that *stores* `next` instead of a CAS | [`linearizable`](super::linearizable), the conformance suite and `tests/loom_stack.rs` |
//! | [`AbaStack`] | Treiber stack that recycles nodes without epochs: ABA | [`linearizable`](super::linearizable), the conformance suite and `tests/loom_stack.rs` |
//! | [`LostWakeupQueue`] | blocking `pop` that checks, lets go of the lock, then waits without re-checking | `tests/loom_bounded.rs` (a deadlock) and the bounded conformance suite (a stall) |
//! | [`CheckThenActBucket`] | token bucket that loads, checks, then stores | `tests/loom_ratelimit.rs` and the contention test in `tests/ratelimit.rs` |
//! | [`OvercommitPool`] | a pool that checks "fewer than `max_size` open?", then connects, then counts | the pool conformance suite (`bound`) |
//! | [`NewestFirstPool`] | a pool whose waiters line up in a `Vec` and are served from its end | the pool conformance suite (`fairness`) |
//! | [`FlappingQueue`] | scheduler backpressure without hysteresis: refuses `Low` exactly while the length is at or above `high_water` | [`Suite::check_backpressure`](super::conformance::Suite::check_backpressure) (`hysteresis`) |
//! | [`RacyBitsBloom`] | Bloom filter that sets a bit by load, OR, store instead of `fetch_or` | [`Suite::check_bloom`](super::conformance::Suite::check_bloom) (`false negative`) |
//! | [`InclusiveExpiryMap`] | TTL map that still shows an entry at exactly its deadline (`<=` for `<`) | [`Suite::check_ttl_map`](super::conformance::Suite::check_ttl_map) (`expiry`) |
//! | [`CheckThenActTokenBucket`] | refilling token bucket that stores its new state instead of a CAS | [`Suite::check_token_bucket`](super::conformance::Suite::check_token_bucket) (`contention`) |
//! | [`NaiveOrderBank`] | a transfer locks the debited account, then the credited one: opposite transfers deadlock | [`Suite::check_bank`](super::conformance::Suite::check_bank) (`deadlock`) |
//! | [`TornTransferBank`] | debit and credit in two separate critical sections | [`Suite::check_bank`](super::conformance::Suite::check_bank) (`conservation`) |
//! | [`AccountActorsBank`] | one actor per account: debit by ask, credit by tell, no atomic pair | [`Suite::check_bank`](super::conformance::Suite::check_bank) (`conservation`) |
//! | [`VersionlessStore`] | optimistic write whose `WHERE` forgot `AND version = ?` | [`Suite::check_versioned_store`](super::conformance::Suite::check_versioned_store) (`lost update`) |
//! | [`CheckThenWriteStore`] | optimistic compare-and-set as two statements: check the version, then write | [`Suite::check_versioned_store`](super::conformance::Suite::check_versioned_store) (`lost update`, concurrent phase) |
//! | [`FrozenVersionStore`] | optimistic write that checks the version but never bumps it | [`Suite::check_versioned_store`](super::conformance::Suite::check_versioned_store) (`version`) |
//! | [`add_retry_stale`] | retry loop that reads once, outside the loop, and retries with a stale version | [`Suite::check_versioned_store`](super::conformance::Suite::check_versioned_store) (`retry`) |
//! | [`add_retry_forever`] | retry loop without a bound | [`Suite::check_versioned_store`](super::conformance::Suite::check_versioned_store) (`retry`) |
//! | [`EagerExitService`] | graceful shutdown that stops admitting and reports at once, without waiting | [`Suite::check_drain`](super::conformance::Suite::check_drain) (`dropped in-flight`) |
//! | [`ReadinessOnlyService`] | drain that fails `/readyz` but keeps admitting | [`Suite::check_drain`](super::conformance::Suite::check_drain) (`admitted after drain`) |
//! | [`OneProbeService`] | liveness answered from the draining flag | [`Suite::check_drain`](super::conformance::Suite::check_drain) (`liveness`) |
//! | [`AlwaysReadyService`] | readiness that stays true while draining | [`Suite::check_drain`](super::conformance::Suite::check_drain) (`readiness`) |
//! | [`PatientService`] | drain that waits for in-flight work with no deadline | [`Suite::check_drain`](super::conformance::Suite::check_drain) (`drain deadline`) |
//! | `CheckThenActAccount` | account `withdraw` that checks the balance, then subtracts (TOCTOU) | [`Suite::check_account`](super::conformance::Suite::check_account) (`overdraft`) |
//! | `ReadModifyWriteAccount` | account `withdraw` as load, check, store | [`Suite::check_account`](super::conformance::Suite::check_account) (`lost update`) |
//! | [`RelaxedSlot`] | one-shot publication with a Relaxed flag instead of Release/Acquire | [`check_publication`](super::check_publication) under loom (`publication`), `tests/loom_memory_model.rs` |
//! | [`drop_remainder_sum`] | parallel map that splits into `len / threads` chunks, rounding down: the remainder is never mapped | [`Suite::check_parallel_map`](super::conformance::Suite::check_parallel_map) (`result`) |
//! | [`one_thread_sum`] | parallel map that joins each chunk's thread before spawning the next: right answer, no parallelism | [`Suite::check_parallel_map`](super::conformance::Suite::check_parallel_map) (`parallelism`) |
//! | [`thread_per_item_sum`] | parallel map that spawns a thread per item, ignoring the thread count | [`Suite::check_parallel_map`](super::conformance::Suite::check_parallel_map) (`parallelism`) |
//! | [`notify_without_flag_block_on`] | `block_on` that sleeps on a condition variable with no "woken" flag: a notification sent before the wait is lost | [`Suite::check_block_on`](super::conformance::Suite::check_block_on) (`wake before park`) |
//! | [`noop_waker_block_on`] | `block_on` that polls with a no-op waker and parks: nothing ever unparks it | [`Suite::check_block_on`](super::conformance::Suite::check_block_on) (`wake before park`) |
//! | [`thread_local_flag_block_on`] | `block_on` whose "woken" flag is a `thread_local!`: a wake from another thread sets the wrong thread's flag | [`Suite::check_block_on`](super::conformance::Suite::check_block_on) (`wake from another thread`) |
//! | [`one_wake_block_on`] | `block_on` that treats "woken" as "ready" and never polls a third time | [`Suite::check_block_on`](super::conformance::Suite::check_block_on) (`many wakes`) |
//! | [`blocking_send_block_on`] | `block_on` whose waker does a blocking `send` into a channel of capacity 1: two wakes in one poll deadlock | [`Suite::check_block_on`](super::conformance::Suite::check_block_on) (`spurious`) |
//! | `EarlyPublishQueue` (loom builds only) | Michael–Scott queue linking nodes with a Relaxed CAS | `tests/loom_queue.rs` (a data race) |

use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::sync::{thread, Arc, Mutex};

// ANCHOR: lost_update
/// A counter whose `fetch_add` reads, then writes: two threads can read the same value and one
/// increment is lost. The yield between the two steps stands in for a preemption, so the race
/// shows up in seconds rather than hours on a two-core machine.
///
/// ```
/// use threadsmith::check::mutants::LostUpdateCounter;
/// let c = LostUpdateCounter::new();
/// assert_eq!(c.fetch_add(1), 0);
/// assert_eq!(c.get(), 1); // correct when alone; wrong under contention
/// ```
#[derive(Debug, Default)]
pub struct LostUpdateCounter {
    value: AtomicU64,
}

impl LostUpdateCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` and returns the value before — not atomically.
    pub fn fetch_add(&self, n: u64) -> u64 {
        let before = self.value.load(Ordering::SeqCst);
        thread::yield_now();
        self.value.store(before.wrapping_add(n), Ordering::SeqCst); // BUG: should be one RMW
        before
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
    }
}
// ANCHOR_END: lost_update

// ANCHOR: racy_shutdown
/// A drain coordinator with the draining flag and the in-flight count in two atomics: `enter`
/// checks the flag, then counts. A request can check the flag just before `begin` sets it and
/// count itself just after `begin` read the count: it is admitted after `begin` returned, and
/// `begin` under-reports the work in flight. Compare [`crate::shutdown::Shutdown`], which keeps
/// both in one word. Clones are handles to one coordinator.
#[derive(Clone, Debug, Default)]
pub struct RacyShutdown {
    inner: Arc<RacyState>,
}

#[derive(Debug, Default)]
struct RacyState {
    draining: AtomicBool,
    in_flight: AtomicUsize,
}

/// The guard of [`RacyShutdown::enter`]; leaves on drop.
#[derive(Debug)]
pub struct RacyInFlight {
    inner: Arc<RacyState>,
}

impl RacyShutdown {
    /// A coordinator that admits work.
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits one unit of work unless draining — with a window between check and count.
    pub fn enter(&self) -> Option<RacyInFlight> {
        if self.inner.draining.load(Ordering::SeqCst) {
            return None;
        }
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst); // BUG: `begin` may have run in between
        Some(RacyInFlight {
            inner: Arc::clone(&self.inner),
        })
    }

    /// Starts draining and returns the in-flight count.
    pub fn begin(&self) -> usize {
        self.inner.draining.store(true, Ordering::SeqCst);
        self.inner.in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for RacyInFlight {
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
// ANCHOR_END: racy_shutdown

/// The two stack mutants: a Treiber stack over an arena of slots, so that their bugs corrupt
/// the *stack* (lost and duplicated values) and never memory. `head` is a slot index plus one
/// (0 is empty); values are cloned out, so a slot read twice is harmless.
#[derive(Debug)]
struct ArenaStack<T> {
    head: AtomicUsize,
    arena: Mutex<Arena<T>>,
    bug: StackBug,
}

#[derive(Debug)]
struct Arena<T> {
    slots: Vec<Slot<T>>,
    /// Slots given back by `pop`, most recent last: reused first, like a real allocator's.
    free: Vec<usize>,
}

#[derive(Debug)]
struct Slot<T> {
    value: T,
    next: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StackBug {
    /// `pop` stores `next` into `head` instead of a CAS from the `head` it read.
    StoreInsteadOfCas,
    /// `pop` uses a CAS, but popped slots are reused at once: no epochs, no tags.
    RecycleWithoutEpochs,
}

impl<T: Clone> ArenaStack<T> {
    fn new(bug: StackBug) -> Self {
        Self {
            head: AtomicUsize::new(0),
            arena: Mutex::new(Arena {
                slots: Vec::new(),
                free: Vec::new(),
            }),
            bug,
        }
    }

    fn push(&self, value: T) {
        let slot = {
            let mut arena = self.arena.lock();
            let slot = Slot { value, next: 0 };
            match arena.free.pop() {
                Some(index) => {
                    arena.slots[index] = slot;
                    index + 1
                }
                None => {
                    arena.slots.push(slot);
                    arena.slots.len()
                }
            }
        };
        loop {
            let head = self.head.load(Ordering::SeqCst);
            self.arena.lock().slots[slot - 1].next = head;
            if self
                .head
                .compare_exchange(head, slot, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
        }
    }

    fn pop(&self) -> Option<T> {
        loop {
            let head = self.head.load(Ordering::SeqCst);
            if head == 0 {
                return None;
            }
            let (value, next) = {
                let arena = self.arena.lock();
                let slot = &arena.slots[head - 1];
                (slot.value.clone(), slot.next)
            };
            // A preemption here is all either bug needs; the yield makes it likely.
            thread::yield_now();
            match self.bug {
                StackBug::StoreInsteadOfCas => {
                    self.head.store(next, Ordering::SeqCst); // BUG: `head` may have moved
                    return Some(value);
                }
                StackBug::RecycleWithoutEpochs => {
                    // BUG: `head` may be a *new* node in a recycled slot, with another `next`.
                    if self
                        .head
                        .compare_exchange(head, next, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        self.arena.lock().free.push(head - 1);
                        return Some(value);
                    }
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.head.load(Ordering::SeqCst) == 0
    }
}

/// The public face of an [`ArenaStack`] mutant: `new`, `push`, `pop`, `is_empty`, `Default`.
macro_rules! arena_mutant {
    ($name:ident, $bug:expr, $push_doc:literal, $pop_doc:literal) => {
        impl<T: Clone> $name<T> {
            /// An empty stack.
            pub fn new() -> Self {
                Self {
                    inner: ArenaStack::new($bug),
                }
            }

            #[doc = $push_doc]
            pub fn push(&self, value: T) {
                self.inner.push(value)
            }

            #[doc = $pop_doc]
            pub fn pop(&self) -> Option<T> {
                self.inner.pop()
            }

            /// Whether the stack is empty.
            pub fn is_empty(&self) -> bool {
                self.inner.is_empty()
            }
        }

        impl<T: Clone> Default for $name<T> {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}

// ANCHOR: racy_pop
/// A Treiber stack whose `pop` reads `head` and `head.next`, then *stores* `next` into `head`
/// instead of swinging it with a CAS. A `push` or `pop` that lands between the read and the
/// store is undone: pushed values vanish and popped ones come back. (Memory stays safe: nodes
/// live in an arena until the stack is dropped, and values are cloned out.)
///
/// ```
/// use threadsmith::check::mutants::RacyPopStack;
/// let stack = RacyPopStack::new();
/// stack.push(1);
/// stack.push(2);
/// assert_eq!(stack.pop(), Some(2)); // correct when alone; wrong under contention
/// ```
#[derive(Debug)]
pub struct RacyPopStack<T> {
    inner: ArenaStack<T>,
}
// ANCHOR_END: racy_pop

arena_mutant!(
    RacyPopStack,
    StackBug::StoreInsteadOfCas,
    "Pushes `value` (correctly, with a CAS).",
    "Pops the top value — with a load and a store instead of a CAS."
);

// ANCHOR: aba
/// A Treiber stack with a correct CAS but no safe memory reclamation: a popped node's slot is
/// reused by the very next `push`, as a real allocator would reuse a freed address. A `pop` that
/// read `head = A` and `next = B`, then paused while others popped A and pushed a new node into
/// A's slot, finds `head == A` again; its CAS succeeds and installs the stale `B`, so the new
/// node is lost (or a popped one revived). This is the ABA problem that epochs, hazard pointers
/// or tagged pointers exist to prevent.
///
/// ```
/// use threadsmith::check::mutants::AbaStack;
/// let stack = AbaStack::new();
/// stack.push("a");
/// assert_eq!(stack.pop(), Some("a")); // correct when alone; wrong under contention
/// ```
#[derive(Debug)]
pub struct AbaStack<T> {
    inner: ArenaStack<T>,
}
// ANCHOR_END: aba

arena_mutant!(
    AbaStack,
    StackBug::RecycleWithoutEpochs,
    "Pushes `value`, reusing the most recently popped slot if there is one.",
    "Pops the top value with a CAS that cannot tell a recycled slot from the one it read."
);

/// [`MsQueue`](crate::queue::MsQueue) with one ordering weakened: the CAS that links a new node
/// is Relaxed instead of Release, so a consumer can reach the node before the value written
/// into it is visible. That is a data race — undefined behaviour — so this mutant exists only in
/// `--cfg loom` builds, where loom reports the race instead of running it (`tests/loom_queue.rs`).
/// On x86 the hardware would hide the bug; on ARM it would not, and the compiler may exploit it
/// anywhere.
#[cfg(loom)]
#[derive(Debug)]
pub struct EarlyPublishQueue<T> {
    raw: crate::queue::RawQueue<T, true>,
}

#[cfg(loom)]
impl<T> EarlyPublishQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            raw: crate::queue::RawQueue::new(),
        }
    }

    /// Appends `value`, publishing its node with a Relaxed CAS.
    pub fn push(&self, value: T) {
        self.raw.push(value)
    }

    /// Removes the front value.
    pub fn pop(&self) -> Option<T> {
        self.raw.pop()
    }
}

#[cfg(loom)]
impl<T> Default for EarlyPublishQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

// ANCHOR: lost_wakeup
/// [`CondvarQueue`](super::reference::CondvarQueue) with a broken blocking `pop`: it checks for a
/// value (taking and releasing the lock), then takes the lock again and waits, *without
/// checking again*. A push that lands in the gap notifies nobody, because no one is waiting
/// yet, and the consumer then sleeps with a value in the queue. If no other push comes, it
/// sleeps forever. This is the lost wake-up, and it is why a wait must re-check its condition
/// under the same lock acquisition that it sleeps in.
///
/// ```
/// use threadsmith::check::mutants::LostWakeupQueue;
/// let queue = LostWakeupQueue::new(1);
/// queue.push(1).unwrap();
/// assert_eq!(queue.pop(), Some(1)); // fine when a value is already there
/// ```
#[derive(Debug)]
pub struct LostWakeupQueue<T> {
    inner: super::reference::CondvarQueue<T>,
}

impl<T> LostWakeupQueue<T> {
    /// A queue holding at most `capacity` values.
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: super::reference::CondvarQueue::new(capacity),
        }
    }

    /// Pops, waiting while empty — with the check and the wait under different locks.
    pub fn pop(&self) -> Option<T> {
        loop {
            match self.inner.try_pop() {
                Ok(value) => return Some(value),
                Err(crate::bounded::TryPopError::Closed) => return None,
                Err(crate::bounded::TryPopError::Empty) => {}
            }
            // The gap: a push here finds no waiter to notify. The yield makes it likely.
            thread::yield_now();
            let mut state = self.inner.state.lock();
            self.inner.not_empty.wait(&mut state); // BUG: no re-check of the queue first
        }
    }
}
// ANCHOR_END: lost_wakeup

/// Every other operation is the correct one from `CondvarQueue`.
impl<T> LostWakeupQueue<T> {
    /// Pushes, waiting while full (correct).
    pub fn push(&self, value: T) -> Result<(), crate::bounded::Closed<T>> {
        self.inner.push(value)
    }

    /// Pushes if there is room (correct).
    pub fn try_push(&self, value: T) -> Result<(), crate::bounded::TryPushError<T>> {
        self.inner.try_push(value)
    }

    /// Pops if there is a value (correct).
    pub fn try_pop(&self) -> Result<T, crate::bounded::TryPopError> {
        self.inner.try_pop()
    }

    /// Closes the queue (correct).
    pub fn close(&self) {
        self.inner.close()
    }
}

// ANCHOR: check_then_act
/// A token bucket that reads its state, decides, and then *stores* the new state, instead of
/// doing both in one compare-and-swap. Two threads that read "one token left" both decide yes,
/// and both write: the bucket admits more than it holds. Time stands still here (the bucket
/// never refills), because the bug is about contention, not time.
///
/// ```
/// use threadsmith::check::mutants::CheckThenActBucket;
/// let bucket = CheckThenActBucket::new(2);
/// assert!(bucket.try_acquire() && bucket.try_acquire());
/// assert!(!bucket.try_acquire()); // correct when alone; admits too much under contention
/// ```
#[derive(Debug)]
pub struct CheckThenActBucket {
    /// Tokens spent; the bucket never refills (time stands still).
    spent: AtomicU64,
    capacity: u64,
}

impl CheckThenActBucket {
    /// A full bucket of `capacity` tokens that never refills.
    pub fn new(capacity: u64) -> Self {
        Self {
            spent: AtomicU64::new(0),
            capacity,
        }
    }

    /// Takes a token if one seems to be left — in two steps.
    pub fn try_acquire(&self) -> bool {
        let spent = self.spent.load(Ordering::SeqCst);
        if spent >= self.capacity {
            return false;
        }
        thread::yield_now(); // the window between the check and the act
        self.spent.store(spent + 1, Ordering::SeqCst); // BUG: another thread may have taken it
        true
    }
}
// ANCHOR_END: check_then_act

// ANCHOR: overcommit_pool
/// A pool that checks whether it may open another connection, connects, and only then counts
/// it: threads that check at the same moment all connect, and the pool goes past `max_size`.
/// (Waiting is a poll with a short sleep, to keep the mutant small; the bug is elsewhere.)
///
/// ```
/// use std::time::Duration;
/// use threadsmith::check::conformance::Connector;
/// use threadsmith::check::mutants::OvercommitPool;
///
/// let pool = OvercommitPool::new(1, Connector::new());
/// let conn = pool.get(Duration::from_secs(1)).unwrap();
/// assert_eq!(pool.get(Duration::from_millis(5)), None); // right when alone
/// pool.put(conn);
/// ```
#[cfg(not(loom))]
#[derive(Debug)]
pub struct OvercommitPool {
    max_size: usize,
    connector: crate::check::conformance::Connector,
    idle: Mutex<Vec<u64>>,
    opened: AtomicUsize,
    waiting: AtomicUsize,
}

#[cfg(not(loom))]
impl OvercommitPool {
    /// A pool meant to hold at most `max_size` connections.
    pub fn new(max_size: usize, connector: crate::check::conformance::Connector) -> Self {
        Self {
            max_size,
            connector,
            idle: Mutex::new(Vec::new()),
            opened: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Checks out a connection, polling until `timeout`.
    pub fn get(&self, timeout: std::time::Duration) -> Option<u64> {
        let deadline = std::time::Instant::now() + timeout;
        let mut waited = false;
        loop {
            if let Some(conn) = self.idle.lock().pop() {
                self.stop_waiting(waited);
                return Some(conn);
            }
            if self.opened.load(Ordering::SeqCst) < self.max_size {
                let conn = self.connector.connect(); // BUG: others pass the check meanwhile
                self.opened.fetch_add(1, Ordering::SeqCst);
                self.stop_waiting(waited);
                return Some(conn);
            }
            if std::time::Instant::now() >= deadline {
                self.stop_waiting(waited);
                return None;
            }
            if !waited {
                waited = true;
                self.waiting.fetch_add(1, Ordering::SeqCst);
            }
            thread::sleep(std::time::Duration::from_micros(50));
        }
    }

    fn stop_waiting(&self, waited: bool) {
        if waited {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Returns a connection.
    pub fn put(&self, conn: u64) {
        self.idle.lock().push(conn);
    }

    /// How many `get`s are polling.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}
// ANCHOR_END: overcommit_pool

/// The reference [`TicketPool`](super::reference::TicketPool) with one word changed: a
/// returned connection goes to `line.pop_back()`, the *newest* waiter, as when a `Vec` is used
/// for the line. The size bound holds and nothing is lost, but under steady load the oldest
/// waiter can wait forever.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::check::conformance::Connector;
/// use threadsmith::check::mutants::NewestFirstPool;
///
/// let pool = NewestFirstPool::new(1, Connector::new());
/// let conn = pool.get(Duration::from_secs(1)).unwrap();
/// pool.put(conn);
/// assert_eq!(pool.get(Duration::from_secs(1)), Some(conn));
/// ```
#[cfg(not(loom))]
#[derive(Debug)]
pub struct NewestFirstPool(super::reference::TicketPool);

#[cfg(not(loom))]
impl NewestFirstPool {
    /// A pool of at most `max_size` connections.
    pub fn new(max_size: usize, connector: crate::check::conformance::Connector) -> Self {
        Self(super::reference::TicketPool::serving_newest_first(
            max_size, connector,
        ))
    }

    /// Checks out a connection, waiting up to `timeout`.
    pub fn get(&self, timeout: std::time::Duration) -> Option<u64> {
        self.0.get(timeout)
    }

    /// Returns a connection — to the newest waiter.
    pub fn put(&self, conn: u64) {
        self.0.put(conn)
    }

    /// How many threads are waiting.
    pub fn waiting(&self) -> usize {
        self.0.waiting()
    }
}
// ANCHOR: flapping
/// A priority queue with water marks but no hysteresis: `Low` is refused while the length is
/// at or above `high_water` and accepted as soon as it dips below. Under steady load the
/// scheduler flips between accepting and refusing on every task started (it *flaps*); the
/// contract keeps refusing until the length is back at `low_water`.
///
/// ```
/// use threadsmith::check::conformance::BackpressureQueue;
/// use threadsmith::check::mutants::FlappingQueue;
/// use threadsmith::scheduler::{Overload, Priority, WaterMarks};
///
/// let q = FlappingQueue::new(WaterMarks { capacity: 4, high_water: 2, low_water: 0, overload: Overload::Reject });
/// q.submit(Priority::Low, 1).unwrap();
/// q.submit(Priority::Low, 2).unwrap();
/// assert!(q.submit(Priority::Low, 3).is_err());
/// q.start_next();
/// assert!(q.submit(Priority::Low, 4).is_ok()); // BUG: still above low_water
/// ```
#[derive(Debug)]
#[cfg_attr(loom, allow(dead_code))] // its only use, the suite's trait, is not built under loom
pub struct FlappingQueue {
    marks: crate::scheduler::WaterMarks,
    queues: Mutex<[std::collections::VecDeque<u64>; 3]>,
}

impl FlappingQueue {
    /// An empty queue enforcing `marks` (without hysteresis, and without shedding).
    pub fn new(marks: crate::scheduler::WaterMarks) -> Self {
        Self {
            marks,
            queues: Mutex::new(Default::default()),
        }
    }
}

#[cfg(not(loom))] // the conformance suites run real threads
impl super::conformance::BackpressureQueue for FlappingQueue {
    fn submit(
        &self,
        priority: crate::scheduler::Priority,
        id: u64,
    ) -> Result<Vec<u64>, crate::scheduler::Rejected> {
        use crate::scheduler::{Priority, Rejected};
        let mut queues = self.queues.lock();
        let len: usize = queues.iter().map(|q| q.len()).sum();
        if len >= self.marks.capacity {
            return Err(Rejected::Full);
        }
        if priority == Priority::Low && len >= self.marks.high_water {
            return Err(Rejected::Overloaded); // BUG: forgets it was overloaded once below
        }
        queues[priority as usize].push_back(id);
        Ok(Vec::new())
    }

    fn start_next(&self) -> Option<u64> {
        let mut queues = self.queues.lock();
        queues.iter_mut().rev().find_map(|q| q.pop_front())
    }
}
// ANCHOR_END: flapping

// ANCHOR: racy_bloom
/// A Bloom filter that sets a bit by reading its word, OR-ing the bit in and writing the word
/// back: two threads that set bits of the same word at once each write back their own copy, and
/// one bit is lost. An inserted key then reads "certainly absent": a false negative, the one
/// answer a Bloom filter must never give. (`fetch_or` is the fix.) The yield between the read
/// and the write stands in for a preemption.
///
/// ```
/// use threadsmith::check::mutants::RacyBitsBloom;
/// let filter = RacyBitsBloom::new(1 << 12, 3);
/// filter.insert(42);
/// assert!(filter.possibly_contains(42)); // right when alone
/// ```
#[derive(Debug)]
pub struct RacyBitsBloom {
    words: Vec<AtomicU64>,
    hashes: u32,
}

impl RacyBitsBloom {
    /// An empty filter of at least `bits` bits (at least 64) probed by `hashes` hashes.
    pub fn new(bits: usize, hashes: u32) -> Self {
        Self {
            words: (0..bits.div_ceil(64).max(1))
                .map(|_| AtomicU64::new(0))
                .collect(),
            hashes: hashes.max(1),
        }
    }

    /// Bit positions of `item`: double hashing over two halves of a 64-bit mix.
    fn bits(&self, item: u64) -> impl Iterator<Item = usize> + '_ {
        let mixed = super::Rng::new(item).next_u64();
        let (h1, h2) = (mixed >> 32, (mixed & 0xFFFF_FFFF) | 1);
        let len = self.words.len() as u64 * 64;
        (0..u64::from(self.hashes))
            .map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % len) as usize)
    }

    /// Adds `item`, one read-then-write per bit.
    pub fn insert(&self, item: u64) {
        for bit in self.bits(item) {
            let word = &self.words[bit / 64];
            let old = word.load(Ordering::SeqCst);
            thread::yield_now(); // the window between the read and the write
            word.store(old | 1 << (bit % 64), Ordering::SeqCst); // BUG: overwrites other bits
        }
    }

    /// `false` only if `item` was certainly never inserted (or its bit was lost).
    pub fn possibly_contains(&self, item: u64) -> bool {
        self.bits(item)
            .all(|bit| self.words[bit / 64].load(Ordering::SeqCst) & 1 << (bit % 64) != 0)
    }
}
// ANCHOR_END: racy_bloom

// ANCHOR: inclusive_expiry
/// A TTL map whose entries are still visible at the very instant they expire: it compares
/// `now <= deadline` where the contract says an entry is gone once `ttl` has passed. The
/// off-by-one matters when a caller refreshes at exactly the deadline and two readers disagree
/// about whether the entry exists.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::check::mutants::InclusiveExpiryMap;
/// use threadsmith::clock::ManualClock;
///
/// let clock = ManualClock::new();
/// let map = InclusiveExpiryMap::new(Duration::from_secs(1), clock.clone());
/// map.insert(1, 10);
/// assert_eq!(map.get(1), Some(10));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(map.get(1), Some(10)); // BUG: its TTL has passed
/// ```
#[derive(Debug)]
pub struct InclusiveExpiryMap {
    ttl: std::time::Duration,
    clock: crate::clock::ManualClock,
    entries: Mutex<std::collections::HashMap<u64, (u64, std::time::Instant)>>,
}

impl InclusiveExpiryMap {
    /// An empty map whose entries live `ttl` by `clock`.
    pub fn new(ttl: std::time::Duration, clock: crate::clock::ManualClock) -> Self {
        Self {
            ttl,
            clock,
            entries: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Stores `value` under `key` until `ttl` from now.
    pub fn insert(&self, key: u64, value: u64) {
        use crate::clock::Clock;
        let deadline = self.clock.now() + self.ttl;
        self.entries.lock().insert(key, (value, deadline));
    }

    /// The value under `key` if it has not expired — by an inclusive comparison.
    pub fn get(&self, key: u64) -> Option<u64> {
        use crate::clock::Clock;
        let now = self.clock.now();
        let entries = self.entries.lock();
        let &(value, deadline) = entries.get(&key)?;
        (now <= deadline).then_some(value) // BUG: expired at `deadline`, so `<`
    }
}
// ANCHOR_END: inclusive_expiry

// ANCHOR: check_then_act_refill
/// A refilling token bucket whose `try_acquire_n` reads the bucket, decides, and writes the new
/// state back with a plain store: threads that read the same state all spend the same tokens,
/// and the bucket admits more than its capacity. (A CAS loop on the state, or a lock around the
/// read and the write, is the fix.) Time comes from a [`ManualClock`](crate::clock::ManualClock).
///
/// ```
/// use threadsmith::check::mutants::CheckThenActTokenBucket;
/// use threadsmith::clock::ManualClock;
/// use threadsmith::ratelimit::{Rate, RateLimiter};
///
/// let bucket = CheckThenActTokenBucket::new(2, Rate::per_second(1), ManualClock::new());
/// assert!(bucket.try_acquire() && bucket.try_acquire());
/// assert!(!bucket.try_acquire()); // right when alone
/// ```
#[derive(Debug)]
pub struct CheckThenActTokenBucket {
    capacity: u64,
    rate: crate::ratelimit::Rate,
    clock: crate::clock::ManualClock,
    start: std::time::Instant,
    /// Nanoseconds (since `start`) at which the bucket will be full again: GCRA's "theoretical
    /// arrival time". Spending a token pushes it one emission interval later.
    full_at: AtomicU64,
}

impl CheckThenActTokenBucket {
    /// A full bucket of `capacity` tokens refilled at `rate` by `clock`.
    pub fn new(
        capacity: u64,
        rate: crate::ratelimit::Rate,
        clock: crate::clock::ManualClock,
    ) -> Self {
        use crate::clock::Clock;
        let start = clock.now();
        Self {
            capacity,
            rate,
            clock,
            start,
            full_at: AtomicU64::new(0),
        }
    }
}

impl crate::ratelimit::RateLimiter for CheckThenActTokenBucket {
    fn try_acquire_n(&self, n: u64) -> bool {
        use crate::clock::Clock;
        let interval = self.rate.interval().as_nanos() as u64;
        let now = self.clock.now().duration_since(self.start).as_nanos() as u64;
        let full_at = self.full_at.load(Ordering::SeqCst).max(now);
        let new_full_at = full_at.saturating_add(n.saturating_mul(interval));
        // Admit if, after spending `n`, the bucket would hold no more than `capacity` of debt.
        if n > self.capacity || new_full_at - now > self.capacity * interval {
            return false;
        }
        thread::yield_now(); // the window between the check and the act
        self.full_at.store(new_full_at, Ordering::SeqCst); // BUG: a plain store, not a CAS
        true
    }
}
// ANCHOR_END: check_then_act_refill

// Banks for the deadlock and actor chapters (`Suite::check_bank`).
#[cfg(not(loom))] // the conformance suites run real threads
mod bank;
#[cfg(not(loom))]
pub use bank::{AccountActorsBank, AccountMsg, NaiveOrderBank, TornTransferBank};

// The mutants of the book's database chapter (optimistic concurrency): see the table above.
#[cfg(not(loom))] // graded by a conformance suite, which runs real threads
mod database;
#[cfg(not(loom))]
pub use database::{
    add_retry_forever, add_retry_stale, CheckThenWriteStore, FrozenVersionStore, VersionlessStore,
};

// The mutants of the book's graceful-shutdown chapter: see the table above.
#[cfg(not(loom))] // graded by a conformance suite, which runs real threads
mod drain;
#[cfg(not(loom))]
pub use drain::{
    AlwaysReadyService, EagerExitService, OneProbeService, PatientService, ReadinessOnlyService,
};

// ANCHOR: check_then_act_account
/// An account whose `withdraw` checks the balance, then subtracts: time-of-check to
/// time-of-use. Each step is atomic, but the pair is not, so two threads can both see the last
/// unit, both pass the check, and both take it; the balance wraps below zero. The default
/// fail point yields between check and act, standing in for a preemption.
///
/// ```
/// use threadsmith::check::conformance::ConcurrentAccount;
/// use threadsmith::check::mutants::CheckThenActAccount;
///
/// let account = CheckThenActAccount::new(10);
/// assert!(account.withdraw(7));
/// assert!(!account.withdraw(7)); // right when alone; overdraws under contention
/// ```
#[cfg(not(loom))] // the account suite runs real threads
pub struct CheckThenActAccount {
    balance: AtomicU64,
    pause: super::conformance::Pause,
}

#[cfg(not(loom))]
impl CheckThenActAccount {
    /// An account holding `balance`; it yields between check and act.
    pub fn new(balance: u64) -> Self {
        Self::with_pause(balance, std::sync::Arc::new(|_| thread::yield_now()))
    }

    /// An account holding `balance` that calls `pause("withdraw: checked")` between the check
    /// and the act.
    pub fn with_pause(balance: u64, pause: super::conformance::Pause) -> Self {
        Self {
            balance: AtomicU64::new(balance),
            pause,
        }
    }
}

#[cfg(not(loom))]
impl super::conformance::ConcurrentAccount for CheckThenActAccount {
    fn deposit(&self, amount: u64) {
        self.balance.fetch_add(amount, Ordering::SeqCst);
    }

    fn withdraw(&self, amount: u64) -> bool {
        if self.balance.load(Ordering::SeqCst) < amount {
            return false;
        }
        (self.pause)("withdraw: checked");
        self.balance.fetch_sub(amount, Ordering::SeqCst); // BUG: the check may be stale by now
        true
    }

    fn balance(&self) -> u64 {
        self.balance.load(Ordering::SeqCst)
    }
}
// ANCHOR_END: check_then_act_account

#[cfg(not(loom))]
impl std::fmt::Debug for CheckThenActAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckThenActAccount")
            .field("balance", &self.balance.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

// ANCHOR: read_modify_write_account
/// An account whose `withdraw` reads the balance, checks it, and writes back the difference:
/// a read-modify-write in three steps. A deposit that lands between the read and the write is
/// overwritten, so money disappears. The yield between the steps stands in for a preemption.
///
/// ```
/// use threadsmith::check::conformance::ConcurrentAccount;
/// use threadsmith::check::mutants::ReadModifyWriteAccount;
///
/// let account = ReadModifyWriteAccount::new(10);
/// account.deposit(5);
/// assert!(account.withdraw(15));
/// assert_eq!(account.balance(), 0); // right when alone; loses deposits under contention
/// ```
#[cfg(not(loom))] // the account suite runs real threads
#[derive(Debug)]
pub struct ReadModifyWriteAccount {
    balance: AtomicU64,
}

#[cfg(not(loom))]
impl ReadModifyWriteAccount {
    /// An account holding `balance`.
    pub fn new(balance: u64) -> Self {
        Self {
            balance: AtomicU64::new(balance),
        }
    }
}

#[cfg(not(loom))]
impl super::conformance::ConcurrentAccount for ReadModifyWriteAccount {
    fn deposit(&self, amount: u64) {
        self.balance.fetch_add(amount, Ordering::SeqCst);
    }

    fn withdraw(&self, amount: u64) -> bool {
        let balance = self.balance.load(Ordering::SeqCst);
        if balance < amount {
            return false;
        }
        thread::yield_now();
        self.balance.store(balance - amount, Ordering::SeqCst); // BUG: overwrites other updates
        true
    }

    fn balance(&self) -> u64 {
        self.balance.load(Ordering::SeqCst)
    }
}
// ANCHOR_END: read_modify_write_account

// ANCHOR: relaxed_slot
/// A one-shot publication slot that raises its `ready` flag with a Relaxed store and reads it
/// with a Relaxed load. The flag's value travels, but nothing orders the payload's write before
/// the reader's read of it: on a weakly ordered CPU (ARM, POWER) or after a compiler reordering,
/// the reader can see `ready` and a payload that is not there yet. Loom reports the race on the
/// payload's `UnsafeCell`. Compare [`crate::check::RelAcqSlot`].
///
/// ```
/// use threadsmith::check::Publish;
/// use threadsmith::check::mutants::RelaxedSlot;
///
/// let slot = RelaxedSlot::default();
/// assert_eq!(slot.read(), None);
/// slot.publish(7);
/// assert_eq!(slot.read(), Some(7)); // right on one thread; a data race across two
/// ```
#[derive(Debug, Default)]
pub struct RelaxedSlot {
    value: crate::sync::UnsafeCell<u64>,
    ready: AtomicBool,
}

// SAFETY: claimed, like the correct slot, but the claim is the bug: the Relaxed flag does not
// order the payload's write before the reader's read, so the two race.
unsafe impl Sync for RelaxedSlot {}

impl super::Publish for RelaxedSlot {
    fn publish(&self, value: u64) {
        // SAFETY: the single publisher writes before raising the flag (but see the type's docs).
        self.value.with_mut(|p| unsafe { *p = value });
        self.ready.store(true, Ordering::Relaxed); // BUG: must be Release
    }

    fn read(&self) -> Option<u64> {
        // BUG: must be Acquire; Relaxed does not synchronize with the store.
        if self.ready.load(Ordering::Relaxed) {
            // SAFETY: intended to be ordered after the write by the flag; it is not.
            Some(self.value.with(|p| unsafe { *p }))
        } else {
            None
        }
    }
}
// ANCHOR_END: relaxed_slot

#[cfg(not(loom))]
mod block_on;
#[cfg(not(loom))]
mod parallel_map;
#[cfg(not(loom))]
pub use block_on::{
    blocking_send_block_on, noop_waker_block_on, notify_without_flag_block_on, one_wake_block_on,
    thread_local_flag_block_on,
};
#[cfg(not(loom))]
pub use parallel_map::{drop_remainder_sum, one_thread_sum, thread_per_item_sum};
