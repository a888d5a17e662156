//! A lock-free LIFO stack: Treiber's algorithm with epoch-based reclamation.
//!
//! **Algorithm.** R. K. Treiber, *Systems Programming: Coping with Parallelism* (IBM RJ 5118,
//! 1986). The stack is a singly linked list whose `head` is one atomic pointer; `push` and `pop`
//! each read `head`, prepare the new value, and swing `head` with one compare-and-swap, retrying
//! if another thread moved it first.
//!
//! **Progress.** Lock-free: a CAS fails only because another thread's CAS succeeded, so some
//! thread always completes. Not wait-free: one unlucky thread can retry forever while others
//! win. Each retry spins with exponential [`Backoff`] to take pressure off the contended line.
//!
//! **Linearization points.** `push`: its successful CAS on `head`. `pop` that returns a value: its
//! successful CAS on `head`. `pop` that returns `None`: its load of `head` that saw null.
//!
//! **Why epochs.** A popping thread reads `head` and then `head.next`; between the two, another
//! thread may pop that node and free it (a use-after-free), or pop it, free it, and push a *new*
//! node that the allocator placed at the same address, so the first thread's CAS succeeds
//! against a pointer that merely looks unchanged and installs a stale `next` (the ABA problem).
//! With [`crossbeam_epoch`], a popped node is retired with `defer_destroy` and freed only once
//! every thread that was pinned when it was unlinked has unpinned. While our thread holds its
//! guard, the node it read cannot be freed, so its address cannot be reused: both bugs are gone.
//! `push` needs no guard at all: it never dereferences a shared node, and ABA is harmless to it
//! (its CAS succeeds only if `head` is, right now, the address its new node points to).
//! The other classic answers are hazard pointers (per-node protection, bounded garbage) and
//! tagged pointers (a version counter beside the pointer in one double-width CAS, which stops
//! ABA but not use-after-free, so the nodes must never go back to the allocator).
//!
//! **Cost.** `push` allocates one node; `pop` retires one. Both are O(1) plus retries.
//!
//! ```
//! use threadsmith::stack::TreiberStack;
//!
//! let stack = TreiberStack::new();
//! std::thread::scope(|s| {
//!     for t in 0..4 {
//!         let stack = &stack;
//!         s.spawn(move || (0..100).for_each(|i| stack.push(t * 100 + i)));
//!     }
//! });
//! let mut all: Vec<_> = std::iter::from_fn(|| stack.pop()).collect();
//! all.sort();
//! assert_eq!(all, (0..400).collect::<Vec<_>>());
//! ```

use std::fmt;
use std::mem::ManuallyDrop;

use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::sync::epoch::{self, Atomic, Owned, Shared};
use crate::sync::{Backoff, UnsafeCell};

// ANCHOR: node
/// A list node. The value is moved out exactly once, by the thread whose CAS unlinked the node;
/// after that the node is only memory waiting for its epoch, so it must never drop the value.
struct Node<T> {
    value: UnsafeCell<ManuallyDrop<T>>,
    next: Atomic<Node<T>>,
}
// ANCHOR_END: node

/// A lock-free LIFO stack (Treiber, 1986) with epoch-based memory reclamation.
///
/// See the [module docs](self) for the algorithm, its linearization points and why epochs make
/// it safe. Every remaining element is dropped exactly once when the stack is dropped.
///
/// ```
/// use threadsmith::stack::TreiberStack;
///
/// let stack = TreiberStack::new();
/// stack.push(1);
/// stack.push(2);
/// assert_eq!(stack.pop(), Some(2));
/// assert_eq!(stack.pop(), Some(1));
/// assert_eq!(stack.pop(), None);
/// ```
pub struct TreiberStack<T> {
    head: Atomic<Node<T>>,
}

// SAFETY: the stack owns its `T`s and hands each to exactly one thread (the one whose CAS
// unlinked it), so sending or sharing the stack only ever moves `T`s between threads: `T: Send`
// is all it needs, as for `Mutex<Vec<T>>`. No `&T` is ever given out, so `T: Sync` is not needed.
unsafe impl<T: Send> Send for TreiberStack<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for TreiberStack<T> {}

impl<T> TreiberStack<T> {
    /// An empty stack.
    ///
    /// ```
    /// let stack = threadsmith::stack::TreiberStack::<u32>::new();
    /// assert!(stack.is_empty());
    /// ```
    pub fn new() -> Self {
        Self {
            head: Atomic::null(),
        }
    }

    // ANCHOR: push
    /// Pushes `value` on top of the stack.
    ///
    /// ```
    /// let stack = threadsmith::stack::TreiberStack::new();
    /// stack.push("a");
    /// assert_eq!(stack.pop(), Some("a"));
    /// ```
    pub fn push(&self, value: T) {
        let mut node = Owned::new(Node {
            value: UnsafeCell::new(ManuallyDrop::new(value)),
            next: Atomic::null(),
        });
        // No pin: `push` never dereferences a shared node, and its CAS is right even if the
        // node it read was popped, freed and its address reused meanwhile: the CAS succeeds
        // only if `head` *is* that address now, which is what our `next` says.
        // SAFETY: nothing loaded through this guard is dereferenced or retired.
        let guard = unsafe { epoch::unprotected() };
        let backoff = Backoff::new();
        // Relaxed: we only store this pointer as our node's `next`, never dereference it.
        let mut head = self.head.load(Relaxed, guard);
        loop {
            // Relaxed: the node is still private; the Release CAS below publishes this store.
            node.next.store(head, Relaxed);
            // Release: publishes the node's value and `next` to the Acquire load in `pop`.
            // Relaxed on failure: as for the first load, the fresh head is only stored.
            match self
                .head
                .compare_exchange(head, node, Release, Relaxed, guard)
            {
                Ok(_) => return,
                Err(e) => {
                    head = e.current;
                    node = e.new;
                    backoff.spin();
                }
            }
        }
    }
    // ANCHOR_END: push

    // ANCHOR: pop
    /// Pops the value on top of the stack, or returns `None` if it is empty.
    ///
    /// ```
    /// let stack = threadsmith::stack::TreiberStack::new();
    /// assert_eq!(stack.pop(), None::<u8>);
    /// stack.push(7);
    /// assert_eq!(stack.pop(), Some(7));
    /// ```
    pub fn pop(&self) -> Option<T> {
        let guard = epoch::pin();
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release CAS in `push` (every later change of `head` is a
            // CAS, so it continues that release sequence): the node's value and `next` are
            // visible. The guard keeps the node alive, and its address unreused, until we unpin.
            let head = self.head.load(Acquire, &guard);
            // SAFETY: a non-null `head` was pushed and is protected by `guard` (see above).
            let node = unsafe { head.as_ref() }?;
            // Relaxed: a node's `next` is written once, before the push that the load above
            // synchronised with.
            let next = node.next.load(Relaxed, &guard);
            // Relaxed: winning only transfers ownership of the node to us; its contents were
            // made visible by the Acquire load above.
            if self
                .head
                .compare_exchange(head, next, Relaxed, Relaxed, &guard)
                .is_ok()
            {
                // SAFETY: our CAS unlinked `head`, so no other thread will read or free its
                // value (readers only read `next`); we move the value out once, and the node's
                // destructor never drops it (`ManuallyDrop`). It is retired once, by us, and
                // freed only after every guard that could still see it is gone.
                unsafe {
                    let value = node.value.with(|v| std::ptr::read(v));
                    guard.defer_destroy(head);
                    return Some(ManuallyDrop::into_inner(value));
                }
            }
            backoff.spin();
        }
    }
    // ANCHOR_END: pop

    /// Returns `true` if the stack held no elements at the instant it was read. Other threads
    /// may change that immediately; use the answer as a hint, not a promise.
    ///
    /// ```
    /// let stack = threadsmith::stack::TreiberStack::new();
    /// assert!(stack.is_empty());
    /// stack.push(());
    /// assert!(!stack.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        let guard = epoch::pin();
        // Relaxed: the pointer is compared with null, never dereferenced.
        self.head.load(Relaxed, &guard).is_null()
    }
}

impl<T> Default for TreiberStack<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for TreiberStack<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` means no other thread can reach the stack, so no guard is needed
        // and every node still linked is owned by us alone.
        unsafe {
            let guard = epoch::unprotected();
            let mut current: Shared<'_, Node<T>> = self.head.load(Relaxed, guard);
            while !current.is_null() {
                let next = current.deref().next.load(Relaxed, guard);
                let node = current.into_owned();
                // Still linked, so its value was never moved out: drop it, exactly once.
                node.value.with_mut(|v| ManuallyDrop::drop(&mut *v));
                drop(node);
                current = next;
            }
        }
    }
}

impl<T> fmt::Debug for TreiberStack<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreiberStack")
            .field("is_empty", &self.is_empty())
            .finish_non_exhaustive()
    }
}
