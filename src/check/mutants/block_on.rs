//! Known-buggy `block_on` executors for [`Suite::check_block_on`]: each runs a future to
//! completion on the calling thread, and each has one classic mistake.
//!
//! They park real threads (`std::thread::park`, which `crate::sync::thread` does not wrap), so
//! they exist only outside loom builds.
//!
//! [`Suite::check_block_on`]: crate::check::conformance::Suite::check_block_on

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
// std's `Arc`, not `crate::sync`'s: `Waker::from` takes a `std::sync::Arc<impl Wake>`.
use std::sync::Arc;
use std::thread::{self, Thread};

// ANCHOR: noop_waker
/// Polls with a waker that does nothing, and parks the thread while the future is pending.
/// Nothing ever unparks it: the first `Pending` is the last poll. (A no-op waker is right for
/// a loop that polls without ever sleeping; the bug is the sleep.)
///
/// ```
/// use threadsmith::check::mutants::noop_waker_block_on;
/// assert_eq!(noop_waker_block_on(async { 7 }), 7); // fine while nothing is pending
/// ```
pub fn noop_waker_block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop()); // BUG: waking it does nothing
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}
// ANCHOR_END: noop_waker

// ANCHOR: thread_local_flag
thread_local! {
    static WOKEN: Cell<bool> = const { Cell::new(false) };
}

/// Wakes the executor's thread, and sets a "woken" flag so the executor can tell a real wake
/// from a spurious return of `park`.
struct FlagWaker(Thread);

impl Wake for FlagWaker {
    fn wake(self: Arc<Self>) {
        WOKEN.with(|woken| woken.set(true)); // BUG: the *waking* thread's flag
        self.0.unpark();
    }
}

/// Keeps its "woken" flag in a `thread_local!`. A future that wakes itself from inside `poll`
/// (on the executor's thread) works; a wake from any other thread sets *that* thread's flag,
/// and the executor parks again, forever. It passes every single-threaded test.
///
/// ```
/// use threadsmith::check::mutants::thread_local_flag_block_on;
/// assert_eq!(thread_local_flag_block_on(async { 7 }), 7);
/// ```
pub fn thread_local_flag_block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(FlagWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        while !WOKEN.with(|woken| woken.replace(false)) {
            thread::park();
        }
    }
}
// ANCHOR_END: thread_local_flag

// ANCHOR: one_wake
/// Unparks the executor's thread: the right waker.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Believes that a woken future is a finished one: after the first wake it polls once more and
/// treats `Pending` as impossible. A future that waits on two things in a row (a lock, then a
/// channel) is woken twice.
///
/// ```
/// use threadsmith::check::mutants::one_wake_block_on;
/// assert_eq!(one_wake_block_on(async { 7 }), 7);
/// ```
pub fn one_wake_block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
        return out;
    }
    thread::park();
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("woken, so it must be ready"), // BUG
    }
}
// ANCHOR_END: one_wake

// ANCHOR: blocking_send
/// Sends one message into the executor's channel per wake.
struct ChannelWaker(mpsc::SyncSender<()>);

impl Wake for ChannelWaker {
    fn wake(self: Arc<Self>) {
        // BUG: `send` blocks while the one slot is full; `try_send` would drop the extra wake.
        let _ = self.0.send(());
    }
}

/// Sleeps on a channel of capacity 1 that the waker sends into. One wake per poll works. A
/// second wake before the executor receives the first blocks the waking thread until the
/// executor receives, and when the second wake comes from inside `poll`, the waking thread
/// *is* the executor: it waits for itself, forever.
///
/// ```
/// use threadsmith::check::mutants::blocking_send_block_on;
/// assert_eq!(blocking_send_block_on(async { 7 }), 7);
/// ```
pub fn blocking_send_block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let (tx, rx) = mpsc::sync_channel(1);
    let waker = Waker::from(Arc::new(ChannelWaker(tx)));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        let _ = rx.recv();
    }
}
// ANCHOR_END: blocking_send

// ANCHOR: notify_without_flag
/// Wakes the executor through a condition variable, and nothing else: no "woken" flag.
struct CondvarWaker {
    lock: crate::sync::Mutex<()>,
    woken: crate::sync::Condvar,
}

impl Wake for CondvarWaker {
    fn wake(self: Arc<Self>) {
        self.woken.notify_one(); // BUG: with nobody waiting yet, the notification is lost
    }
}

/// Sleeps on a condition variable that the waker notifies. A condition variable has no
/// memory: a notification sent while nobody waits is gone. A future that is woken during
/// `poll`, or by another thread between `poll` returning and the executor's `wait`, leaves the
/// executor waiting for a notification that already happened. The fix is a flag, set by the
/// waker and checked (and cleared) by the executor under the same lock, or `park`/`unpark`,
/// whose token is that flag.
///
/// ```
/// use threadsmith::check::mutants::notify_without_flag_block_on;
/// assert_eq!(notify_without_flag_block_on(async { 7 }), 7);
/// ```
pub fn notify_without_flag_block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Arc::new(CondvarWaker {
        lock: crate::sync::Mutex::new(()),
        woken: crate::sync::Condvar::new(),
    });
    let cx_waker = Waker::from(Arc::clone(&waker));
    let mut cx = Context::from_waker(&cx_waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        let mut guard = waker.lock.lock();
        waker.woken.wait(&mut guard);
    }
}
// ANCHOR_END: notify_without_flag
