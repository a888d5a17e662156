//! A minimal actor: one thread that owns its state and handles messages from a bounded mailbox,
//! one at a time, in the order they arrived.
//!
//! **Model.** [`spawn`] starts a thread that owns `state` and runs `handle(&mut state, msg)` for
//! each message popped from a [`BoundedQueue`] mailbox. Nothing else can touch the state, so the
//! handler needs no lock: each message is handled atomically with respect to every other.
//! Senders hold an [`Addr`]; [`Addr::send`] ("tell") waits while the mailbox is full, which is
//! the backpressure that keeps a slow actor from being buried. [`Addr::ask`] sends a message
//! carrying a one-shot [`Reply`] and waits for the answer (request/response).
//!
//! **Ordering.** The mailbox is FIFO and each sender's pushes are ordered, so two messages from
//! one thread are handled in the order that thread sent them. Messages from different senders
//! interleave in whatever order they reached the mailbox: there is no global order.
//!
//! **Life cycle.** The actor stops when its mailbox is closed and drained: when the last
//! [`Addr`] is dropped, or on [`Addr::close`]. [`ActorHandle::join`] then returns the final
//! state. If the handler panics, the mailbox is closed on the way out, so senders get an error
//! instead of waiting forever, every pending [`Reply`] is dropped (its asker gets
//! [`ActorGone`]), and `join` returns the panic: a supervisor can log it and start a fresh actor.
//!
//! **Progress.** Blocking: a send waits while the mailbox is full, an ask until the actor
//! answers. An actor that asks another actor which asks it back waits forever: a deadlock with
//! no lock in sight (see `book/src/actors.md`).
//!
//! ```
//! use threadsmith::actor::{self, Reply};
//!
//! enum Msg {
//!     Add(u64),
//!     Get(Reply<u64>),
//! }
//!
//! let (addr, handle) = actor::spawn(16, 0u64, |sum: &mut u64, msg| match msg {
//!     Msg::Add(n) => *sum += n,
//!     Msg::Get(reply) => reply.send(*sum),
//! });
//! for n in 1..=10 {
//!     addr.send(Msg::Add(n)).unwrap();
//! }
//! assert_eq!(addr.ask(Msg::Get).unwrap(), 55); // handled after every Add this thread sent
//! drop(addr); // the last address: the actor drains its mailbox and stops
//! assert_eq!(handle.join().unwrap(), 55);
//! ```

use std::fmt;

use crate::bounded::{BoundedQueue, Closed, TryPushError};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{thread, Arc};

struct Shared<M> {
    mailbox: BoundedQueue<M>,
    /// Live `Addr`s; the last one to go closes the mailbox.
    senders: AtomicUsize,
}

/// The address of an actor: cloneable, sendable, and the only way to reach its state.
pub struct Addr<M> {
    shared: Arc<Shared<M>>,
}

/// The actor's thread; [`join`](Self::join) returns its final state.
#[derive(Debug)]
pub struct ActorHandle<S> {
    thread: thread::JoinHandle<S>,
}

/// The answer slot of one [`Addr::ask`]: the handler calls [`send`](Self::send) once. Dropping
/// it unanswered (a handler that forgot, or panicked) tells the asker [`ActorGone`].
pub struct Reply<R> {
    slot: Arc<BoundedQueue<R>>,
}

/// An [`Addr::ask`] got no answer: the actor had stopped, or dropped the [`Reply`] unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActorGone;

impl fmt::Display for ActorGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the actor stopped or dropped the reply without answering")
    }
}

impl std::error::Error for ActorGone {}

/// Closes the mailbox when the actor's thread leaves its loop, normally or by a panic.
struct CloseOnExit<M>(Arc<Shared<M>>);

impl<M> Drop for CloseOnExit<M> {
    fn drop(&mut self) {
        self.0.mailbox.close();
    }
}

// ANCHOR: spawn
/// Starts an actor on a new thread: it owns `state` and calls `handle(&mut state, msg)` for
/// every message, one at a time, in mailbox order. The mailbox holds at most `capacity`
/// messages; a send to a full mailbox waits.
///
/// # Panics
/// If `capacity` is 0 (as [`BoundedQueue::new`]) or the thread cannot be spawned.
///
/// ```
/// let (addr, handle) = threadsmith::actor::spawn(4, Vec::new(), |log: &mut Vec<u32>, n| log.push(n));
/// addr.send(1).unwrap();
/// addr.send(2).unwrap();
/// drop(addr);
/// assert_eq!(handle.join().unwrap(), vec![1, 2]); // one sender: its order is kept
/// ```
pub fn spawn<S, M, F>(capacity: usize, state: S, mut handle: F) -> (Addr<M>, ActorHandle<S>)
where
    S: Send + 'static,
    M: Send + 'static,
    F: FnMut(&mut S, M) + Send + 'static,
{
    let shared = Arc::new(Shared {
        mailbox: BoundedQueue::new(capacity),
        senders: AtomicUsize::new(1),
    });
    let guard = CloseOnExit(Arc::clone(&shared));
    let thread = thread::spawn(move || {
        let guard = guard;
        let mut state = state;
        // One message at a time: the handler is the only code that ever touches `state`.
        while let Some(msg) = guard.0.mailbox.pop() {
            handle(&mut state, msg);
        }
        state
    });
    (Addr { shared }, ActorHandle { thread })
}
// ANCHOR_END: spawn

impl<M> Addr<M> {
    /// Sends `msg` ("tell"), waiting while the mailbox is full. The message comes back inside
    /// `Closed` if the actor has stopped.
    ///
    /// ```
    /// let (addr, handle) = threadsmith::actor::spawn(1, String::new(), |s: &mut String, c| s.push(c));
    /// for c in "tell".chars() {
    ///     addr.send(c).unwrap(); // waits whenever the mailbox of 1 is full: backpressure
    /// }
    /// drop(addr);
    /// assert_eq!(handle.join().unwrap(), "tell");
    /// ```
    pub fn send(&self, msg: M) -> Result<(), Closed<M>> {
        self.shared.mailbox.push(msg)
    }

    /// Sends `msg` only if the mailbox has room now: `Full(msg)` is the overflow signal a
    /// caller can shed or retry on.
    ///
    /// ```
    /// use threadsmith::actor::{self, Answer, Reply};
    ///
    /// // An actor that waits on each message's gate: a mailbox of 1 fills up behind it.
    /// let (addr, handle) = actor::spawn(1, (), |_: &mut (), gate: Answer<()>| {
    ///     let _ = gate.wait();
    /// });
    /// let (gate_a, open_a) = Reply::pair();
    /// let (gate_b, open_b) = Reply::pair();
    /// addr.send(gate_a).unwrap(); // the actor takes it and waits
    /// addr.send(gate_b).unwrap(); // fits only once the actor took `gate_a`
    /// let (gate_c, _open_c) = Reply::pair();
    /// assert!(addr.try_send(gate_c).unwrap_err().is_full()); // overflow: shed or retry
    /// open_a.send(());
    /// open_b.send(());
    /// drop(addr);
    /// handle.join().unwrap();
    /// ```
    pub fn try_send(&self, msg: M) -> Result<(), TryPushError<M>> {
        self.shared.mailbox.try_push(msg)
    }

    // ANCHOR: ask
    /// Request/response: builds a message around a fresh [`Reply`], sends it (waiting while the
    /// mailbox is full), and waits for the answer. `Err(ActorGone)` if the actor stopped or
    /// dropped the reply unanswered.
    pub fn ask<R>(&self, make: impl FnOnce(Reply<R>) -> M) -> Result<R, ActorGone> {
        let (answer, reply) = Reply::pair();
        self.send(make(reply)).map_err(|_| ActorGone)?;
        answer.wait()
    }
    // ANCHOR_END: ask

    /// Closes the mailbox: later sends fail; the actor handles what is queued, then stops.
    ///
    /// ```
    /// let (addr, handle) = threadsmith::actor::spawn(4, 0u32, |n: &mut u32, ()| *n += 1);
    /// addr.send(()).unwrap();
    /// addr.close();
    /// assert!(addr.send(()).is_err());
    /// assert_eq!(handle.join().unwrap(), 1); // queued before the close: still handled
    /// ```
    pub fn close(&self) {
        self.shared.mailbox.close();
    }

    /// Messages waiting in the mailbox right now.
    pub fn queued(&self) -> usize {
        self.shared.mailbox.len()
    }
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        // Relaxed: a new sender is made from a live one, so the count cannot reach zero
        // meanwhile (the same argument as `Arc::clone`).
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<M> Drop for Addr<M> {
    fn drop(&mut self) {
        // AcqRel: the last sender's close must come after every other sender's last push
        // (Release from theirs, Acquire on ours), as in `Arc`'s drop.
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.mailbox.close();
        }
    }
}

impl<M> fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Addr")
            .field("queued", &self.shared.mailbox.len())
            .finish_non_exhaustive()
    }
}

impl<S> ActorHandle<S> {
    /// Waits for the actor to stop; its final state, or the panic that stopped it.
    pub fn join(self) -> std::thread::Result<S> {
        self.thread.join()
    }
}

/// The asker's end of a [`Reply`]: [`wait`](Self::wait) for the answer.
pub struct Answer<R> {
    slot: Arc<BoundedQueue<R>>,
}

impl<R> Answer<R> {
    /// Waits for the answer; `Err(ActorGone)` if the [`Reply`] was dropped unanswered.
    pub fn wait(self) -> Result<R, ActorGone> {
        self.slot.pop().ok_or(ActorGone)
    }
}

impl<R> fmt::Debug for Answer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer").finish_non_exhaustive()
    }
}

impl<R> Reply<R> {
    /// A connected pair, for asking by hand (e.g. sending several requests before waiting for
    /// the answers); [`Addr::ask`] makes one for you.
    ///
    /// ```
    /// let (answer, reply) = threadsmith::actor::Reply::pair();
    /// reply.send("done");
    /// assert_eq!(answer.wait(), Ok("done"));
    /// ```
    pub fn pair() -> (Answer<R>, Reply<R>) {
        let slot = Arc::new(BoundedQueue::new(1));
        (
            Answer {
                slot: Arc::clone(&slot),
            },
            Reply { slot },
        )
    }

    /// Answers the ask. If the asker has stopped waiting, the answer is dropped.
    pub fn send(self, value: R) {
        // Capacity 1 and one `send` per reply: never full; closed only by our own drop.
        let _ = self.slot.try_push(value);
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        // After `send`, the answer stays poppable; without it, the asker wakes to `ActorGone`.
        self.slot.close();
    }
}

impl<R> fmt::Debug for Reply<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply").finish_non_exhaustive()
    }
}
