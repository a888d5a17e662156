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
