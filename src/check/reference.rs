//! Reference answers: the simplest correct implementation of an object, as a baseline that a
//! faster design must beat and as the solution of the book's exercises.

use std::collections::VecDeque;

use crate::bounded::{Closed, TryPopError, TryPushError};
use crate::sync::{Condvar, Mutex};

// ANCHOR: condvar_queue
/// The textbook bounded blocking queue: one lock around a `VecDeque`, and two condition
/// variables, one for "not empty" (consumers wait on it) and one for "not full" (producers
/// wait on it). Every wait sits in a loop that re-checks its condition under the lock, so
/// neither a spurious wake-up nor a wake-up meant for someone else can break it. Compare
/// [`crate::bounded::BoundedQueue`], which does the same job without taking a lock unless it
/// has to sleep.
///
/// ```
/// use threadsmith::check::reference::CondvarQueue;
///
/// let queue = CondvarQueue::new(2);
/// queue.push(1).unwrap();
/// queue.close();
/// assert_eq!(queue.pop(), Some(1));
/// assert_eq!(queue.pop(), None);
/// ```
#[derive(Debug)]
pub struct CondvarQueue<T> {
    pub(crate) state: Mutex<State<T>>,
    pub(crate) not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

#[derive(Debug)]
pub(crate) struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> CondvarQueue<T> {
    /// A queue holding at most `capacity` values.
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "CondvarQueue::new: capacity must be at least 1"
        );
        Self {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity),
                closed: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
        }
    }

    /// Pushes `value`, waiting while the queue is full; hands it back if the queue is closed.
    pub fn push(&self, value: T) -> Result<(), Closed<T>> {
        let mut state = self.state.lock();
        while state.items.len() == self.capacity && !state.closed {
            self.not_full.wait(&mut state);
        }
        if state.closed {
            return Err(Closed(value));
        }
        state.items.push_back(value);
        drop(state);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Pops the oldest value, waiting while the queue is empty; `None` once closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut state = self.state.lock();
        while state.items.is_empty() && !state.closed {
            self.not_empty.wait(&mut state);
        }
        let value = state.items.pop_front()?; // empty here means closed
        drop(state);
        self.not_full.notify_one();
        Some(value)
    }

    /// Pushes `value` if there is room now.
    pub fn try_push(&self, value: T) -> Result<(), TryPushError<T>> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(TryPushError::Closed(value));
        }
        if state.items.len() == self.capacity {
            return Err(TryPushError::Full(value));
        }
        state.items.push_back(value);
        drop(state);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Pops the oldest value if there is one now.
    pub fn try_pop(&self) -> Result<T, TryPopError> {
        let mut state = self.state.lock();
        match state.items.pop_front() {
            Some(value) => {
                drop(state);
                self.not_full.notify_one();
                Ok(value)
            }
            None if state.closed => Err(TryPopError::Closed),
            None => Err(TryPopError::Empty),
        }
    }

    /// Refuses every later push and wakes every waiter; queued values can still be popped.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }
}
// ANCHOR_END: condvar_queue

// ANCHOR: ticket_pool
/// The textbook bounded connection pool: one lock around a stack of idle connections, a count
/// of opened ones, and a queue of tickets for the threads waiting in line. A returned
/// connection goes to the oldest ticket, in hand, so waiters are served first come, first
/// served; a waiter that gives up leaves the queue under the same lock, so no connection is ever
/// handed to a thread that has stopped waiting. One condition variable and `notify_all` keep
/// it short (every waiter wakes, checks whether the hand-off is its own, and sleeps again):
/// fine for a handful of waiters. [`crate::pool::Pool`] wakes only the one it serves.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::check::conformance::Connector;
/// use threadsmith::check::reference::TicketPool;
///
/// let pool = TicketPool::new(1, Connector::new());
/// let conn = pool.get(Duration::from_secs(1)).unwrap();
/// assert_eq!(pool.get(Duration::from_millis(10)), None, "the only one is in use");
/// pool.put(conn);
/// assert_eq!(pool.get(Duration::from_secs(1)), Some(conn), "reused, not reopened");
/// ```
#[cfg(not(loom))]
#[derive(Debug)]
pub struct TicketPool {
    max_size: usize,
    connector: crate::check::conformance::Connector,
    state: Mutex<TicketState>,
    handed_over: Condvar,
    /// The bug of `check::mutants::NewestFirstPool`, off here.
    newest_first: bool,
}

#[cfg(not(loom))]
#[derive(Debug, Default)]
struct TicketState {
    idle: Vec<u64>,
    opened: usize,
    /// Tickets of the waiting threads, oldest first.
    line: VecDeque<u64>,
    next_ticket: u64,
    /// Connections handed to a ticket and not yet picked up.
    handed: Vec<(u64, u64)>,
}

#[cfg(not(loom))]
impl TicketPool {
    /// A pool of at most `max_size` connections, opened through `connector` when needed.
    pub fn new(max_size: usize, connector: crate::check::conformance::Connector) -> Self {
        Self {
            max_size,
            connector,
            state: Mutex::new(TicketState::default()),
            handed_over: Condvar::new(),
            newest_first: false,
        }
    }

    /// The mutant: serves the newest waiter first.
    pub(crate) fn serving_newest_first(
        max_size: usize,
        connector: crate::check::conformance::Connector,
    ) -> Self {
        Self {
            newest_first: true,
            ..Self::new(max_size, connector)
        }
    }

    /// Checks out a connection, waiting up to `timeout` in line; `None` if none came.
    pub fn get(&self, timeout: std::time::Duration) -> Option<u64> {
        let deadline = std::time::Instant::now() + timeout;
        let mut state = self.state.lock();
        if state.line.is_empty() {
            if let Some(conn) = state.idle.pop() {
                return Some(conn);
            }
            if state.opened < self.max_size {
                state.opened += 1; // reserve the place before connecting, outside the lock
                drop(state);
                return Some(self.connector.connect());
            }
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.line.push_back(ticket);
        let mut timed_out = false;
        loop {
            if let Some(at) = state.handed.iter().position(|&(t, _)| t == ticket) {
                return Some(state.handed.swap_remove(at).1);
            }
            if timed_out {
                state.line.retain(|&t| t != ticket);
                return None;
            }
            timed_out = self.handed_over.wait_until(&mut state, deadline);
        }
    }

    /// Returns a connection: to the oldest waiter if there is one, else to the idle stack.
    pub fn put(&self, conn: u64) {
        let mut state = self.state.lock();
        let oldest = if self.newest_first {
            state.line.pop_back()
        } else {
            state.line.pop_front()
        };
        match oldest {
            Some(ticket) => {
                state.handed.push((ticket, conn));
                self.handed_over.notify_all();
            }
            None => state.idle.push(conn),
        }
    }

    /// How many threads are waiting in line.
    pub fn waiting(&self) -> usize {
        self.state.lock().line.len()
    }
}
// ANCHOR_END: ticket_pool

// The book's database chapter: a versioned store and the optimistic retry loop.
#[cfg(not(loom))] // built on the conformance suite's traits, which run real threads
mod database;
#[cfg(not(loom))]
pub use database::{add_with_retry, MemoryVersionedStore};
