//! The pool's bookkeeping, kept apart from the `Manager` calls so that every rule about *who
//! gets which connection* lives in one place and runs under one lock.
//!
//! Everything here is plain data behind the pool's mutex: no method blocks, allocates on the
//! fast path, or calls user code. The caller connects, validates and closes connections
//! *outside* the lock, and drops the connections these methods hand back only after unlocking.

use std::collections::VecDeque;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::sync::{Arc, Condvar};

/// A live connection and when it was opened (by the pool's clock, when lifetimes are tracked).
pub(super) struct Conn<C> {
    pub(super) raw: C,
    pub(super) born: Option<Instant>,
}

/// A connection resting in the pool, and since when (when idle timeouts are tracked).
pub(super) struct Idle<C> {
    pub(super) conn: Conn<C>,
    pub(super) since: Option<Instant>,
}

/// What a `get` receives: a connection to check out, or the right to open one.
pub(super) enum Grant<C> {
    /// An idle connection, already counted in `in_use`.
    Conn(Conn<C>),
    /// A reserved place: `open` already counts it, so the holder may connect without ever
    /// taking the pool past `max_size`. It must end in `opened` or `forget`.
    Slot,
}

/// One blocked `get`: its ticket and the condition variable only it waits on, so a wake-up
/// reaches exactly the thread it is meant for.
pub(super) struct Waiter {
    pub(super) ticket: u64,
    pub(super) wake: Condvar,
}

/// A waiter's place in the queue.
struct Queued {
    waiter: Arc<Waiter>,
    since: Instant,
    /// Woken to take an idle connection, and not yet back to sleep.
    notified: bool,
}

/// How long a waiter may be overtaken before connections are handed to it directly.
///
/// A connection handed to a sleeping thread waits for that thread to be scheduled, and the
/// returning thread, if it asks again at once, must sleep in turn: two context switches per
/// checkout. Under heavy contention (more threads than cores, connections held briefly) that
/// convoy costs more than the work. So, as `parking_lot`'s mutexes do, fairness is enforced on a
/// timer: a returned connection goes on the idle stack and wakes the oldest waiter, and a thread
/// already running may take it first; once the oldest waiter has waited this long, returns hand
/// connections to it directly. Waiters never overtake one another.
pub(super) const FAIR_AFTER: Duration = Duration::from_micros(500);

/// A checked-out connection's record, for leak detection.
pub(super) struct Lease {
    pub(super) since: Instant,
    pub(super) at: &'static Location<'static>,
    pub(super) reported: bool,
}

/// Counters, updated under the lock the operation holds anyway (no extra cache-line traffic).
#[derive(Default)]
pub(super) struct Counters {
    pub(super) gets: usize,
    pub(super) waits: usize,
    pub(super) timeouts: usize,
    pub(super) created: usize,
    pub(super) closed: usize,
    pub(super) connect_errors: usize,
    pub(super) invalid: usize,
    pub(super) broken: usize,
    pub(super) leaks: usize,
    pub(super) total_wait: Duration,
    pub(super) max_wait: Duration,
}

/// The pool's state. Invariants, between operations:
/// - `open` = idle + in use + slots being opened + grants in transit, and `open <= max_size`;
/// - while connections are idle and waiters wait, min(idle, waiters) waiters are notified:
///   no waiter sleeps through an idle connection it could take.
pub(super) struct Core<C> {
    /// Idle connections, most recently returned last: `pop` reuses the warmest one (LIFO), and
    /// the reaper closes from the front, where the longest-idle ones are.
    pub(super) idle: VecDeque<Idle<C>>,
    pub(super) open: usize,
    pub(super) in_use: usize,
    /// Blocked `get`s, oldest first. A waiter leaves the queue when it is granted something
    /// (its grant then waits in `handoffs`), takes an idle connection, or gives up.
    waiters: VecDeque<Queued>,
    handoffs: Vec<(u64, Grant<C>)>,
    next_ticket: u64,
    /// Checked-out connections, when leak detection is on (`None` entries are free).
    leases: Vec<Option<Lease>>,
    free_leases: Vec<usize>,
    pub(super) closed: bool,
    /// Connect attempts that failed in a row, pool-wide (any success resets it).
    pub(super) failures_in_a_row: u32,
    pub(super) counters: Counters,
}

impl<C> Core<C> {
    pub(super) fn new() -> Self {
        Core {
            idle: VecDeque::new(),
            open: 0,
            in_use: 0,
            waiters: VecDeque::new(),
            handoffs: Vec::new(),
            next_ticket: 0,
            leases: Vec::new(),
            free_leases: Vec::new(),
            closed: false,
            failures_in_a_row: 0,
            counters: Counters::default(),
        }
    }

    // ANCHOR: acquire
    /// The fast path of `get`: the warmest idle connection, or a slot to open a new one while
    /// fewer than `max_size` exist. `None` means the caller must queue.
    pub(super) fn acquire(&mut self, max_size: usize) -> Option<Grant<C>> {
        if let Some(idle) = self.idle.pop_back() {
            self.in_use += 1;
            return Some(Grant::Conn(idle.conn));
        }
        // With waiters queued, a freed place is handed to them (`forget`), never taken here.
        if self.open < max_size && self.waiters.is_empty() {
            self.open += 1; // counted before the connect starts: creations count toward max_size
            return Some(Grant::Slot);
        }
        None
    }
    // ANCHOR_END: acquire

    /// Joins the queue of waiters. The caller then waits on the returned waiter's `wake`.
    pub(super) fn enqueue(&mut self, now: Instant) -> Arc<Waiter> {
        let waiter = Arc::new(Waiter {
            ticket: self.next_ticket,
            wake: Condvar::new(),
        });
        self.next_ticket += 1;
        self.waiters.push_back(Queued {
            waiter: Arc::clone(&waiter),
            since: now,
            notified: false,
        });
        waiter
    }

    /// What was handed to the waiter with `ticket`, if anything yet.
    pub(super) fn take_handoff(&mut self, ticket: u64) -> Option<Grant<C>> {
        let at = self.handoffs.iter().position(|(t, _)| *t == ticket)?;
        Some(self.handoffs.swap_remove(at).1)
    }

    /// A woken waiter takes an idle connection, if it was notified and one is still there
    /// (a running thread may have taken it first). Otherwise it goes back to sleep, still in
    /// its place.
    pub(super) fn take_idle(&mut self, ticket: u64) -> Option<Grant<C>> {
        let at = self
            .waiters
            .iter()
            .position(|q| q.waiter.ticket == ticket)?;
        if !self.waiters[at].notified {
            return None;
        }
        match self.idle.pop_back() {
            Some(idle) => {
                self.waiters.remove(at);
                self.in_use += 1;
                Some(Grant::Conn(idle.conn))
            }
            None => {
                self.waiters[at].notified = false;
                None
            }
        }
    }

    /// A waiter gives up (timeout or close). Call only after `take_handoff` found nothing.
    pub(super) fn leave(&mut self, ticket: u64) {
        if let Some(at) = self.waiters.iter().position(|q| q.waiter.ticket == ticket) {
            let gone = self.waiters.remove(at);
            if gone.is_some_and(|q| q.notified) {
                self.notify_next(); // pass on the wake-up it would have used
            }
        }
    }

    /// Wakes the oldest waiter not woken yet, if connections are idle for it.
    fn notify_next(&mut self) {
        let notified = self.waiters.iter().filter(|q| q.notified).count();
        if notified >= self.idle.len() {
            return;
        }
        if let Some(q) = self.waiters.iter_mut().find(|q| !q.notified) {
            q.notified = true;
            q.waiter.wake.notify_one();
        }
    }

    pub(super) fn waiting(&self) -> usize {
        self.waiters.len()
    }

    // ANCHOR: offer
    /// A connection comes back (or a new one is ready). If the oldest waiter has waited
    /// [`FAIR_AFTER`] or longer, it gets the connection in hand. Otherwise the connection rests
    /// on top of the idle stack and the oldest waiter not yet woken is woken to take it.
    pub(super) fn offer(&mut self, idle: Idle<C>) {
        let overdue = self
            .waiters
            .front()
            .is_some_and(|q| q.since.elapsed() >= FAIR_AFTER);
        if overdue {
            if let Some(q) = self.waiters.pop_front() {
                self.in_use += 1;
                self.handoffs
                    .push((q.waiter.ticket, Grant::Conn(idle.conn)));
                q.waiter.wake.notify_one();
                return;
            }
        }
        self.idle.push_back(idle);
        if !self.waiters.is_empty() {
            self.notify_next();
        }
    }

    /// A connection (or a slot) stops existing. Its place goes to the oldest waiter as a slot
    /// to open a new connection; with nobody waiting, `open` shrinks.
    pub(super) fn forget(&mut self) {
        if !self.closed {
            if let Some(q) = self.waiters.pop_front() {
                self.handoffs.push((q.waiter.ticket, Grant::Slot));
                q.waiter.wake.notify_one();
                if q.notified {
                    self.notify_next();
                }
                return;
            }
        }
        self.open -= 1;
    }
    // ANCHOR_END: offer

    /// A slot became a connection that its opener checks out at once.
    pub(super) fn opened(&mut self) {
        self.in_use += 1;
        self.counters.created += 1;
        self.failures_in_a_row = 0;
    }

    /// Closes the pool: no more hand-offs, every waiter woken to see `closed`. Returns the
    /// idle connections, for the caller to drop after unlocking.
    pub(super) fn close(&mut self) -> Vec<Idle<C>> {
        self.closed = true;
        for q in &self.waiters {
            q.waiter.wake.notify_one();
        }
        let idle: Vec<_> = self.idle.drain(..).collect();
        self.open -= idle.len();
        self.counters.closed += idle.len();
        idle
    }

    /// Records a checkout, for leak detection.
    pub(super) fn lease(&mut self, since: Instant, at: &'static Location<'static>) -> usize {
        let lease = Lease {
            since,
            at,
            reported: false,
        };
        match self.free_leases.pop() {
            Some(index) => {
                self.leases[index] = Some(lease);
                index
            }
            None => {
                self.leases.push(Some(lease));
                self.leases.len() - 1
            }
        }
    }

    pub(super) fn end_lease(&mut self, index: usize) {
        if let Some(slot) = self.leases.get_mut(index) {
            *slot = None;
            self.free_leases.push(index);
        }
    }

    /// Leases held for `threshold` or longer and not reported yet: marks them reported and
    /// returns where each was taken and for how long it has been held.
    pub(super) fn new_leaks(
        &mut self,
        now: Instant,
        threshold: Duration,
    ) -> Vec<(&'static Location<'static>, Duration)> {
        let mut leaks = Vec::new();
        for lease in self.leases.iter_mut().flatten() {
            let held = now.saturating_duration_since(lease.since);
            if !lease.reported && held >= threshold {
                lease.reported = true;
                leaks.push((lease.at, held));
            }
        }
        self.counters.leaks += leaks.len();
        leaks
    }
}
