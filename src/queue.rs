//! A lock-free FIFO queue: Michael and Scott's algorithm with epoch-based reclamation.
//!
//! **Algorithm.** M. M. Michael and M. L. Scott, *Simple, Fast, and Practical Non-Blocking and
//! Blocking Concurrent Queue Algorithms* (PODC 1996). A singly linked list with a *sentinel*:
//! `head` points at a dummy node whose successor holds the first value, so the queue is never
//! structurally empty and `push` and `pop` touch different ends. `push` links its node after the
//! last node with a CAS on that node's `next`, then swings `tail` to it. Because those are two
//! steps, `tail` may lag one node behind; any thread that sees a lagging `tail` swings it forward
//! itself (*helping*) instead of waiting, which is what makes the queue lock-free.
//!
//! **Progress.** Lock-free: every failed CAS means another thread made progress. Not wait-free.
//!
//! **Linearization points.** `push`: its successful CAS on the last node's `next`. `pop` that
//! returns a value: its successful CAS on `head`. `pop` that returns `None`: its load of the
//! sentinel's `next` that saw null.
//!
//! **Reclamation.** A popped sentinel is retired with crossbeam-epoch's `defer_destroy`, so a
//! thread still reading it (or about to CAS against its address) is never left with freed or
//! recycled memory; see [`crate::stack`] for the ABA story. One more rule is specific to this
//! queue: `tail` must never point at a retired node, so `pop` first swings a lagging `tail` past
//! the node it is about to retire.
//!
//! **Cost.** `push` allocates one node, `pop` retires one; both are O(1) plus retries. `head`
//! and `tail` sit on separate cache lines so producers and consumers do not false-share.
//!
//! ```
//! use threadsmith::queue::MsQueue;
//!
//! let queue = MsQueue::new();
//! std::thread::scope(|s| {
//!     s.spawn(|| (0..100).for_each(|i| queue.push(i)));
//! });
//! let all: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
//! assert_eq!(all, (0..100).collect::<Vec<_>>());
//! ```

use std::fmt;
use std::mem::MaybeUninit;

use crate::sync::atomic::Ordering::{self, Acquire, Relaxed, Release};
use crate::sync::epoch::{self, Atomic, Owned, Shared};
use crate::sync::{Backoff, CachePadded, UnsafeCell};

/// A list node. The sentinel's value is uninitialised (or already moved out); every node after
/// it holds a value that the thread whose CAS makes it the new sentinel moves out, once.
struct Node<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    next: Atomic<Node<T>>,
}

impl<T> Node<T> {
    fn new(value: MaybeUninit<T>) -> Owned<Self> {
        Owned::new(Node {
            value: UnsafeCell::new(value),
            next: Atomic::null(),
        })
    }
}

/// A lock-free FIFO queue (Michael & Scott, 1996) with epoch-based memory reclamation.
///
/// See the [module docs](self) for the algorithm, its linearization points and helping. Values
/// pushed by one thread are popped in the order they were pushed. Every remaining element is
/// dropped exactly once when the queue is dropped.
///
/// ```
/// use threadsmith::queue::MsQueue;
///
/// let queue = MsQueue::new();
/// queue.push("first");
/// queue.push("second");
/// assert_eq!(queue.pop(), Some("first"));
/// assert_eq!(queue.pop(), Some("second"));
/// assert_eq!(queue.pop(), None);
/// ```
pub struct MsQueue<T> {
    raw: RawQueue<T, false>,
}

impl<T> MsQueue<T> {
    /// An empty queue (one sentinel node is allocated).
    ///
    /// ```
    /// let queue = threadsmith::queue::MsQueue::<u32>::new();
    /// assert!(queue.is_empty());
    /// ```
    pub fn new() -> Self {
        Self {
            raw: RawQueue::new(),
        }
    }

    /// Appends `value` at the back of the queue.
    ///
    /// ```
    /// let queue = threadsmith::queue::MsQueue::new();
    /// queue.push(1);
    /// assert_eq!(queue.pop(), Some(1));
    /// ```
    pub fn push(&self, value: T) {
        self.raw.push(value)
    }

    /// Removes the value at the front of the queue, or returns `None` if it is empty.
    ///
    /// ```
    /// let queue = threadsmith::queue::MsQueue::new();
    /// assert_eq!(queue.pop(), None::<u8>);
    /// queue.push(3);
    /// assert_eq!(queue.pop(), Some(3));
    /// ```
    pub fn pop(&self) -> Option<T> {
        self.raw.pop()
    }

    /// Returns `true` if the queue held no elements at the instant it was read. Other threads
    /// may change that immediately; use the answer as a hint, not a promise.
    ///
    /// ```
    /// let queue = threadsmith::queue::MsQueue::new();
    /// assert!(queue.is_empty());
    /// queue.push(());
    /// assert!(!queue.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

impl<T> Default for MsQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for MsQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsQueue")
            .field("is_empty", &self.is_empty())
            .finish_non_exhaustive()
    }
}

/// The queue itself. `RELAXED_LINK` is `false` for [`MsQueue`]; `true` builds the loom-only
/// mutant `check::mutants::EarlyPublishQueue`, which links new nodes with a Relaxed CAS and so
/// publishes them before their value is visible. Nothing else differs.
pub(crate) struct RawQueue<T, const RELAXED_LINK: bool> {
    head: CachePadded<Atomic<Node<T>>>,
    tail: CachePadded<Atomic<Node<T>>>,
}

// SAFETY: the queue owns its `T`s and hands each to exactly one popping thread, so sharing it
// only moves `T`s between threads: `T: Send` suffices, as for `Mutex<VecDeque<T>>`.
unsafe impl<T: Send, const R: bool> Send for RawQueue<T, R> {}
// SAFETY: as above; no `&T` is ever handed out.
unsafe impl<T: Send, const R: bool> Sync for RawQueue<T, R> {}

impl<T, const RELAXED_LINK: bool> RawQueue<T, RELAXED_LINK> {
    /// The ordering of the CAS that links a new node: what publishes its value.
    const LINK: Ordering = if RELAXED_LINK { Relaxed } else { Release };

    pub(crate) fn new() -> Self {
        // SAFETY: nothing can reach the queue yet, so no guard is needed.
        let sentinel =
            Node::new(MaybeUninit::uninit()).into_shared(unsafe { epoch::unprotected() });
        let queue = Self {
            head: CachePadded::new(Atomic::null()),
            tail: CachePadded::new(Atomic::null()),
        };
        // Relaxed: the queue is not shared yet; whoever receives it synchronises with us then.
        queue.head.store(sentinel, Relaxed);
        queue.tail.store(sentinel, Relaxed);
        queue
    }

    // ANCHOR: push
    pub(crate) fn push(&self, value: T) {
        let guard = epoch::pin();
        let node = Node::new(MaybeUninit::new(value)).into_shared(&guard);
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release CASes that swing `tail` (here and in `pop`): the
            // node it points at is initialised. The guard keeps it alive while we use it.
            let tail = self.tail.load(Acquire, &guard);
            // SAFETY: `tail` is never null (the sentinel, or a node after it) and never points
            // at a retired node (see `pop`); `guard` keeps it allocated.
            let last = unsafe { tail.deref() };
            // Acquire: pairs with the link CAS below in another `push`; we may swing `tail` to
            // this node, after which others dereference it.
            let next = last.next.load(Acquire, &guard);
            if !next.is_null() {
                // `tail` lags: help the other push finish by swinging it, then retry.
                // Release: pairs with the Acquire load of `tail` above (the node is ready).
                let _ = self
                    .tail
                    .compare_exchange(tail, next, Release, Relaxed, &guard);
                continue;
            }
            // The linearization point. Release: publishes our node's value and `next` to the
            // Acquire load of `next` in `pop` and above. Relaxed on failure: we retry anyway.
            if last
                .next
                .compare_exchange(Shared::null(), node, Self::LINK, Relaxed, &guard)
                .is_ok()
            {
                // Swing `tail` to our node; if this fails, someone helped us already.
                // Release: pairs with the Acquire load of `tail` above.
                let _ = self
                    .tail
                    .compare_exchange(tail, node, Release, Relaxed, &guard);
                return;
            }
            backoff.spin();
        }
    }
    // ANCHOR_END: push

    // ANCHOR: pop
    pub(crate) fn pop(&self) -> Option<T> {
        let guard = epoch::pin();
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release CAS on `head` below: the new sentinel is visible.
            let head = self.head.load(Acquire, &guard);
            // SAFETY: `head` is never null (there is always a sentinel); `guard` keeps it
            // allocated even if another thread retires it now.
            let sentinel = unsafe { head.deref() };
            // Acquire: pairs with the link CAS in `push`: the next node's value is visible.
            let next = sentinel.next.load(Acquire, &guard);
            // SAFETY: a non-null `next` was linked by `push` and is protected by `guard`.
            let first = unsafe { next.as_ref() }?;
            // `tail` must not be left pointing at the node we are about to retire: if it
            // still points at the sentinel, swing it forward first.
            // Relaxed: only compared; coherence with the `head` we acquired means we see
            // `tail` no older than when that `head` was installed.
            let tail = self.tail.load(Relaxed, &guard);
            if tail == head {
                // Release: pairs with the Acquire load of `tail` in `push`.
                let _ = self
                    .tail
                    .compare_exchange(tail, next, Release, Relaxed, &guard);
            }
            // The linearization point: `first` becomes the sentinel and its value is ours.
            // Release: pairs with the Acquire load of `head` above in other pops.
            if self
                .head
                .compare_exchange(head, next, Release, Relaxed, &guard)
                .is_ok()
            {
                // SAFETY: our CAS made `first` the sentinel, so no other thread will read its
                // value (the value of a sentinel is never read), and it was initialised by the
                // push whose link CAS our Acquire load of `next` synchronised with. The old
                // sentinel is unlinked, `tail` is past it, and only we retire it.
                unsafe {
                    let value = first.value.with(|v| std::ptr::read(v).assume_init());
                    guard.defer_destroy(head);
                    return Some(value);
                }
            }
            backoff.spin();
        }
    }
    // ANCHOR_END: pop

    pub(crate) fn is_empty(&self) -> bool {
        let guard = epoch::pin();
        // Acquire: as in `pop`, to dereference the sentinel.
        let head = self.head.load(Acquire, &guard);
        // SAFETY: as in `pop`.
        let sentinel = unsafe { head.deref() };
        // Relaxed: only compared with null.
        sentinel.next.load(Relaxed, &guard).is_null()
    }
}

impl<T, const R: bool> Drop for RawQueue<T, R> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` means no other thread can reach the queue, so no guard is needed
        // and every linked node is ours. The sentinel's value is uninitialised or moved out,
        // so it is freed without dropping a value; every node after it still holds one, which
        // is dropped exactly once here.
        unsafe {
            let guard = epoch::unprotected();
            let mut current = self.head.load(Relaxed, guard);
            let mut is_sentinel = true;
            while !current.is_null() {
                let next = current.deref().next.load(Relaxed, guard);
                let node = current.into_owned();
                if !is_sentinel {
                    node.value.with_mut(|v| (*v).assume_init_drop());
                }
                drop(node);
                is_sentinel = false;
                current = next;
            }
        }
    }
}

impl<T, const R: bool> fmt::Debug for RawQueue<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawQueue")
            .field("is_empty", &self.is_empty())
            .field("relaxed_link", &R)
            .finish_non_exhaustive()
    }
}
