//! Taking several locks without deadlock: one global order, or all-or-nothing with backoff.
//!
//! **The problem.** Two threads that take the same two locks in opposite orders can each hold
//! one and wait forever for the other: a cycle in the wait-for graph. The four Coffman
//! conditions (mutual exclusion, hold and wait, no preemption, circular wait) are all present;
//! removing any one prevents the deadlock. This module offers two ways to remove one:
//!
//! - [`lock_ordered`] and [`lock_all`] break **circular wait**: they always acquire locks in one
//!   global order, increasing address, whatever order the caller names them in. If every thread
//!   that holds more than one of these locks takes them through this module, no cycle can form.
//!   Blocking; the guards come back in the caller's order.
//! - [`try_lock_all`] and [`lock_all_backoff`] break **hold and wait**: they try every lock
//!   without blocking and, if any is taken, release the ones they got and start over (after a
//!   backoff, so two threads retrying in step do not livelock for long). No global order is
//!   needed, but a thread can in principle lose the race every time: starvation is possible.
//!
//! Naming the same lock twice would deadlock a thread with itself (the crate's
//! [`Mutex`] is not reentrant), so every function here checks for it first and returns
//! [`SameLock`] instead.
//!
//! **Why the address.** An order must be total, fixed for as long as the locks live, and known
//! to every thread without coordination. A lock's address qualifies: a [`Mutex`] cannot move
//! while it is borrowed. Any other stable key (an account number, a lock-hierarchy level) works
//! as well when the program has one; see `book/src/deadlocks.md`.
//!
//! **Cost.** [`lock_ordered`]: one comparison, then two ordinary `lock` calls.
//! [`lock_all`]: a sort of `n` pointers. [`lock_all_backoff`]: `n` `try_lock`s per attempt.
//!
//! ```
//! use threadsmith::lock_order::lock_ordered;
//! use threadsmith::sync::Mutex;
//!
//! let (a, b) = (Mutex::new(10), Mutex::new(0));
//! std::thread::scope(|s| {
//!     // Opposite orders, yet no deadlock: both threads really lock the lower address first.
//!     s.spawn(|| {
//!         let (mut x, mut y) = lock_ordered(&a, &b).unwrap();
//!         *x -= 1;
//!         *y += 1;
//!     });
//!     s.spawn(|| {
//!         let (mut y, mut x) = lock_ordered(&b, &a).unwrap();
//!         *x -= 1;
//!         *y += 1;
//!     });
//! });
//! assert_eq!((*a.lock(), *b.lock()), (8, 2));
//! ```

use std::fmt;

use crate::sync::{Backoff, Mutex, MutexGuard};

/// The error of every function in this module when the same lock is named twice: taking it a
/// second time would wait forever for the thread itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SameLock {
    /// The positions (in the caller's list) of the two names of one lock.
    pub positions: (usize, usize),
}

impl fmt::Display for SameLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "locks #{} and #{} are the same lock: taking it twice would self-deadlock",
            self.positions.0, self.positions.1
        )
    }
}

impl std::error::Error for SameLock {}

fn address<T>(lock: &Mutex<T>) -> usize {
    lock as *const Mutex<T> as usize
}

// ANCHOR: lock_ordered
/// Locks `a` and `b` in address order and returns their guards as `(a's, b's)`.
///
/// Two threads calling `lock_ordered(&x, &y)` and `lock_ordered(&y, &x)` cannot deadlock each
/// other: both take the lower address first. `Err(SameLock)` if `a` and `b` are one lock.
///
/// ```
/// use threadsmith::lock_order::lock_ordered;
/// use threadsmith::sync::Mutex;
///
/// let (from, to) = (Mutex::new(5), Mutex::new(0));
/// let (mut f, mut t) = lock_ordered(&from, &to).unwrap();
/// *f -= 5;
/// *t += 5;
/// drop((f, t));
/// assert!(lock_ordered(&from, &from).is_err()); // would wait for itself
/// ```
pub fn lock_ordered<'a, T>(
    a: &'a Mutex<T>,
    b: &'a Mutex<T>,
) -> Result<(MutexGuard<'a, T>, MutexGuard<'a, T>), SameLock> {
    let (pa, pb) = (address(a), address(b));
    if pa == pb {
        return Err(SameLock { positions: (0, 1) });
    }
    if pa < pb {
        let ga = a.lock();
        Ok((ga, b.lock()))
    } else {
        let gb = b.lock();
        Ok((a.lock(), gb))
    }
}
// ANCHOR_END: lock_ordered

/// Where two entries of `locks` name the same lock, if any.
fn find_duplicate<T>(locks: &[&Mutex<T>]) -> Option<SameLock> {
    let mut order: Vec<usize> = (0..locks.len()).collect();
    order.sort_unstable_by_key(|&i| address(locks[i]));
    order.windows(2).find_map(|pair| {
        (address(locks[pair[0]]) == address(locks[pair[1]])).then(|| SameLock {
            positions: (pair[0].min(pair[1]), pair[0].max(pair[1])),
        })
    })
}

/// Locks every mutex in `locks` in address order (blocking) and returns the guards in the
/// order of `locks`. `Err(SameLock)` if one lock is named twice, before anything is locked.
///
/// ```
/// use threadsmith::lock_order::lock_all;
/// use threadsmith::sync::Mutex;
///
/// let accounts: Vec<Mutex<u64>> = (0..4).map(|_| Mutex::new(100)).collect();
/// let mut guards = lock_all(&[&accounts[3], &accounts[0], &accounts[2]]).unwrap();
/// *guards[0] -= 30; // account 3
/// *guards[1] += 20; // account 0
/// *guards[2] += 10; // account 2
/// drop(guards);
/// let total: u64 = accounts.iter().map(|a| *a.lock()).sum();
/// assert_eq!(total, 400);
/// ```
pub fn lock_all<'a, T>(locks: &[&'a Mutex<T>]) -> Result<Vec<MutexGuard<'a, T>>, SameLock> {
    if let Some(same) = find_duplicate(locks) {
        return Err(same);
    }
    let mut order: Vec<usize> = (0..locks.len()).collect();
    order.sort_unstable_by_key(|&i| address(locks[i]));
    let mut taken: Vec<(usize, MutexGuard<'a, T>)> =
        order.into_iter().map(|i| (i, locks[i].lock())).collect();
    taken.sort_unstable_by_key(|&(i, _)| i);
    Ok(taken.into_iter().map(|(_, guard)| guard).collect())
}

// ANCHOR: try_lock_all
/// One attempt to lock every mutex in `locks` without blocking: all the guards (in the order
/// of `locks`), or `Ok(None)` if any lock was taken, in which case the ones this call got are
/// already released. `Err(SameLock)` if one lock is named twice.
///
/// ```
/// use threadsmith::lock_order::try_lock_all;
/// use threadsmith::sync::Mutex;
///
/// let (a, b) = (Mutex::new(1), Mutex::new(2));
/// let held = b.lock();
/// assert!(try_lock_all(&[&a, &b]).unwrap().is_none()); // b is busy: nothing is held
/// assert!(a.try_lock().is_some()); // in particular, not a
/// drop(held);
/// assert_eq!(try_lock_all(&[&a, &b]).unwrap().map(|g| g.len()), Some(2));
/// ```
pub fn try_lock_all<'a, T>(
    locks: &[&'a Mutex<T>],
) -> Result<Option<Vec<MutexGuard<'a, T>>>, SameLock> {
    if let Some(same) = find_duplicate(locks) {
        return Err(same);
    }
    let mut guards = Vec::with_capacity(locks.len());
    for lock in locks {
        match lock.try_lock() {
            Some(guard) => guards.push(guard),
            // Dropping `guards` releases everything taken so far: no hold-and-wait.
            None => return Ok(None),
        }
    }
    Ok(Some(guards))
}
// ANCHOR_END: try_lock_all

/// Locks every mutex in `locks`, in any order, by retrying [`try_lock_all`] with exponential
/// backoff (spinning, then yielding the CPU) until one attempt gets them all. Returns the
/// guards in the order of `locks`, or `Err(SameLock)` if one lock is named twice.
///
/// It cannot deadlock, because it never waits while holding a lock. It can *livelock* for a
/// while (two threads each take one lock, see the other's, release, and retry in step), which
/// the backoff makes short in practice; and one thread can lose many attempts in a row
/// (starvation). Prefer [`lock_all`] when every caller can use it.
///
/// ```
/// use threadsmith::lock_order::lock_all_backoff;
/// use threadsmith::sync::Mutex;
///
/// let (a, b) = (Mutex::new(0), Mutex::new(0));
/// std::thread::scope(|s| {
///     s.spawn(|| for _ in 0..1000 { let mut g = lock_all_backoff(&[&a, &b]).unwrap(); *g[0] += 1; *g[1] += 1; });
///     s.spawn(|| for _ in 0..1000 { let mut g = lock_all_backoff(&[&b, &a]).unwrap(); *g[0] += 1; *g[1] += 1; });
/// });
/// assert_eq!((*a.lock(), *b.lock()), (2000, 2000));
/// ```
pub fn lock_all_backoff<'a, T>(locks: &[&'a Mutex<T>]) -> Result<Vec<MutexGuard<'a, T>>, SameLock> {
    let backoff = Backoff::new();
    loop {
        if let Some(guards) = try_lock_all(locks)? {
            return Ok(guards);
        }
        if backoff.is_completed() {
            // Spinning has stopped paying: let the holder run.
            crate::sync::thread::yield_now();
        } else {
            backoff.snooze();
        }
    }
}
