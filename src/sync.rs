//! The one switch between real synchronisation and [loom](https://docs.rs/loom)'s model-checked doubles.
//!
//! Every module of the crate takes its atomics, `Arc`, locks, condition variables, `UnsafeCell`,
//! threads and memory reclamation from here, never from `std` directly. A normal build gets
//! `std` atomics, [`parking_lot`] locks and [`crossbeam_epoch`] reclamation; a build with
//! `RUSTFLAGS="--cfg loom"` gets loom's versions of the same things, so a single loom build
//! model-checks everything in the crate that touches shared memory.
//!
//! The wrappers keep one API for both worlds:
//!
//! | here | normal build | `--cfg loom` |
//! | --- | --- | --- |
//! | [`atomic`], [`Arc`], [`Barrier`], [`thread`], [`hint`] | `std` | `loom` |
//! | [`Mutex`], [`Condvar`] | `parking_lot` (no poisoning) | `loom::sync` (poison ignored) |
//! | [`UnsafeCell`] (`with` / `with_mut`) | `core::cell::UnsafeCell` | `loom::cell::UnsafeCell` |
//! | [`Backoff`] | `crossbeam_utils::Backoff` | yields to loom's scheduler |
//! | [`epoch`] | `crossbeam_epoch` | retire list freed at the end of each loom execution |
//!
//! # Why the lock-free structures are not model-checked through crossbeam-epoch itself
//!
//! crossbeam-epoch has loom support of its own (`--cfg crossbeam_loom` plus its `loom` feature),
//! but then loom explores the epoch's atomics as well as the structure's. Measured on this
//! project's 2-core machines: a two-thread push + pop Treiber model took 86 s (1.15 M
//! executions) at `LOOM_MAX_PREEMPTIONS=2`, did not finish in 15 minutes at 3, and every
//! three-thread model timed out even at 1. Under loom, [`epoch`] is therefore a stand-in with the
//! same API whose `defer_destroy` only *retires* a node: retired nodes are freed when the loom
//! execution ends, after every thread has been joined. Loom then explores only the structure's
//! own protocol (models of a Vyukov ring or a CAS token bucket finish in under a second at three
//! preemptions). Use-after-free is left to what can see it: the stress tests, valgrind, and
//! crossbeam's own model checking of its epoch.
//!
//! # Loom rules this crate's models follow
//! - The model's main thread only spawns and joins (loom can miss interleavings otherwise,
//!   tokio-rs/loom#392).
//! - Each model asserts the *set* of outcomes it saw, not only that each outcome was allowed,
//!   so a model that explores nothing fails.
//! - At most four spawned threads; `compare_exchange_weak` never fails spuriously under loom.
//! - Timed waits ([`Condvar::wait_until`]) never time out under loom: a model that needs a
//!   timeout to make progress deadlocks, and loom reports the deadlock.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

#[cfg(loom)]
mod epoch_loom;

/// Atomic types and `fence` (`std::sync::atomic`, or loom's under `--cfg loom`).
pub mod atomic {
    #[cfg(loom)]
    pub use loom::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
    #[cfg(not(loom))]
    pub use std::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
}

/// Threads (`std::thread`, or loom's under `--cfg loom`).
pub mod thread {
    #[cfg(loom)]
    pub use loom::thread::{current, spawn, yield_now, Builder, JoinHandle};
    #[cfg(not(loom))]
    pub use std::thread::{
        current, scope, sleep, spawn, yield_now, Builder, JoinHandle, Scope, ScopedJoinHandle,
    };

    /// Loom has no time: a sleep is a yield to the model's scheduler.
    #[cfg(loom)]
    pub fn sleep(_: std::time::Duration) {
        loom::thread::yield_now();
    }
}

/// Spin-loop hints: under loom a spin is a yield, so a spin-wait cannot loop forever.
pub mod hint {
    #[cfg(loom)]
    pub use loom::hint::spin_loop;
    #[cfg(not(loom))]
    pub use std::hint::spin_loop;
}

/// Memory reclamation for the lock-free structures.
///
/// Outside loom this is [`crossbeam_epoch`] itself. Under `--cfg loom` it is a stand-in with the
/// same names and signatures (the subset this crate uses) whose `defer_destroy` frees nothing
/// until the loom execution ends; see the [module docs](self) for why.
pub mod epoch {
    #[cfg(loom)]
    pub use super::epoch_loom::{
        pin, unprotected, Atomic, CompareExchangeError, Guard, Owned, Pointer, Shared,
    };
    #[cfg(not(loom))]
    pub use crossbeam_epoch::{
        pin, unprotected, Atomic, CompareExchangeError, Guard, Owned, Pointer, Shared,
    };
}

#[cfg(loom)]
pub use loom::sync::{Arc, Barrier};
#[cfg(not(loom))]
pub use std::sync::{Arc, Barrier};

/// Pads and aligns a value to the length of a cache line (no atomics inside, so no loom double).
pub use crossbeam_utils::CachePadded;

#[cfg(not(loom))]
pub use crossbeam_utils::Backoff;

/// Exponential backoff for spin loops: under loom every step yields to the model's scheduler.
#[cfg(loom)]
#[derive(Debug, Default)]
pub struct Backoff {
    step: std::cell::Cell<u32>,
}

#[cfg(loom)]
impl Backoff {
    /// A fresh backoff.
    pub fn new() -> Self {
        Self::default()
    }
    /// Starts over.
    pub fn reset(&self) {
        self.step.set(0);
    }
    /// Backs off in a lock-free retry loop.
    pub fn spin(&self) {
        self.snooze();
    }
    /// Backs off while waiting for another thread to make progress.
    pub fn snooze(&self) {
        self.step.set(self.step.get() + 1);
        loom::thread::yield_now();
    }
    /// True once spinning no longer pays and the caller should block. Early under loom, to keep
    /// the state space small.
    pub fn is_completed(&self) -> bool {
        self.step.get() > 1
    }
}

/// A mutual-exclusion lock with one API for parking_lot and loom: `lock` returns the guard
/// directly (there is no poisoning; under loom a poisoned lock is taken anyway).
#[derive(Debug, Default)]
pub struct Mutex<T: ?Sized> {
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
}

/// Holds a [`Mutex`] locked until dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    // `Option` only so that `Condvar::wait` can hand loom's by-value guard to loom and back.
    #[cfg(loom)]
    inner: Option<loom::sync::MutexGuard<'a, T>>,
    #[cfg(not(loom))]
    inner: parking_lot::MutexGuard<'a, T>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    pub fn into_inner(self) -> T {
        #[cfg(loom)]
        return self.inner.into_inner().unwrap_or_else(|e| e.into_inner());
        #[cfg(not(loom))]
        return self.inner.into_inner();
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Blocks until the lock is free, then takes it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(loom)]
        return MutexGuard {
            inner: Some(self.inner.lock().unwrap_or_else(|e| e.into_inner())),
        };
        #[cfg(not(loom))]
        return MutexGuard {
            inner: self.inner.lock(),
        };
    }

    /// Takes the lock if it is free right now.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        #[cfg(loom)]
        return match self.inner.try_lock() {
            Ok(guard) => Some(MutexGuard { inner: Some(guard) }),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(MutexGuard {
                inner: Some(e.into_inner()),
            }),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        #[cfg(not(loom))]
        return self.inner.try_lock().map(|inner| MutexGuard { inner });
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        #[cfg(loom)]
        return self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        #[cfg(not(loom))]
        return self.inner.get_mut();
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        #[cfg(loom)]
        return self
            .inner
            .as_deref()
            .expect("guard is only empty inside Condvar::wait");
        #[cfg(not(loom))]
        return &self.inner;
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        #[cfg(loom)]
        return self
            .inner
            .as_deref_mut()
            .expect("guard is only empty inside Condvar::wait");
        #[cfg(not(loom))]
        return &mut self.inner;
    }
}

/// A condition variable paired with [`Mutex`]; waits take the guard by `&mut` (parking_lot
/// style). Always wait in a loop that re-checks the condition: another thread may get there
/// first. As in parking_lot, a wait never returns without a notification or a timeout, and
/// `notify_one` says whether it woke a thread. Under loom the facade counts waiters to say so;
/// that count is exact when, as the condvar discipline requires, the state a waiter checks is
/// changed under the same lock.
#[derive(Debug, Default)]
pub struct Condvar {
    #[cfg(loom)]
    inner: loom::sync::Condvar,
    /// Waiters not yet notified (loom only; parking_lot keeps its own).
    #[cfg(loom)]
    unnotified: loom::sync::atomic::AtomicUsize,
    #[cfg(not(loom))]
    inner: parking_lot::Condvar,
}

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Releases the lock, sleeps until notified, and takes the lock again.
    pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
        #[cfg(loom)]
        {
            // SeqCst: bookkeeping for the model, kept simple; done while holding the lock.
            self.unnotified
                .fetch_add(1, loom::sync::atomic::Ordering::SeqCst);
            let inner = guard.inner.take().expect("guard present");
            guard.inner = Some(self.inner.wait(inner).unwrap_or_else(|e| e.into_inner()));
        }
        #[cfg(not(loom))]
        self.inner.wait(&mut guard.inner);
    }

    /// Like [`wait`](Self::wait) but gives up at `deadline` (real time). Returns `true` when
    /// it timed out. Under loom it never times out (loom has no time).
    pub fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, deadline: Instant) -> bool {
        #[cfg(loom)]
        {
            let _ = deadline;
            self.wait(guard);
            false
        }
        #[cfg(not(loom))]
        self.inner
            .wait_until(&mut guard.inner, deadline)
            .timed_out()
    }

    /// Like [`wait_until`](Self::wait_until) with a deadline `timeout` from now.
    pub fn wait_for<T>(&self, guard: &mut MutexGuard<'_, T>, timeout: Duration) -> bool {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_until(guard, deadline),
            None => {
                self.wait(guard);
                false
            }
        }
    }

    /// Wakes one waiter, if any; returns whether it woke one.
    pub fn notify_one(&self) -> bool {
        #[cfg(loom)]
        {
            use loom::sync::atomic::Ordering::SeqCst;
            // SeqCst: model bookkeeping (see the type's docs).
            let woke = self
                .unnotified
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok();
            self.inner.notify_one();
            woke
        }
        #[cfg(not(loom))]
        self.inner.notify_one()
    }

    /// Wakes every waiter; returns how many it woke.
    pub fn notify_all(&self) -> usize {
        #[cfg(loom)]
        {
            // SeqCst: model bookkeeping (see the type's docs).
            let woken = self
                .unnotified
                .swap(0, loom::sync::atomic::Ordering::SeqCst);
            self.inner.notify_all();
            woken
        }
        #[cfg(not(loom))]
        self.inner.notify_all()
    }
}

/// Interior mutability that loom can check for data races: access only through
/// [`with`](Self::with) and [`with_mut`](Self::with_mut), so loom sees every read and write.
#[derive(Default)]
pub struct UnsafeCell<T: ?Sized> {
    #[cfg(loom)]
    inner: loom::cell::UnsafeCell<T>,
    #[cfg(not(loom))]
    inner: core::cell::UnsafeCell<T>,
}

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            #[cfg(loom)]
            inner: loom::cell::UnsafeCell::new(value),
            #[cfg(not(loom))]
            inner: core::cell::UnsafeCell::new(value),
        }
    }
}

impl<T: ?Sized> UnsafeCell<T> {
    /// Runs `f` with a pointer for reading. The caller must ensure no write races with it.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(loom)]
        return self.inner.with(f);
        #[cfg(not(loom))]
        return f(self.inner.get());
    }

    /// Runs `f` with a pointer for writing. The caller must ensure no other access races with it.
    #[inline]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(loom)]
        return self.inner.with_mut(f);
        #[cfg(not(loom))]
        return f(self.inner.get());
    }
}

impl<T: ?Sized> std::fmt::Debug for UnsafeCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsafeCell").finish_non_exhaustive()
    }
}

/// Runs `f` as a loom model (`loom::model`), after setting its preemption bound from
/// `LOOM_MAX_PREEMPTIONS` (default 3). Only under `--cfg loom`.
#[cfg(loom)]
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Runs `body` as a loom model (see [`model`]) and returns the set of values it returned across
/// every execution loom explored: models assert the whole set, so an outcome that should be
/// reachable but never is fails as surely as one that should not be. Only under `--cfg loom`.
#[cfg(loom)]
pub fn model_outcomes<O: Ord + Send + 'static>(
    body: impl Fn() -> O + Send + Sync + 'static,
) -> std::collections::BTreeSet<O> {
    // std's mutex, not loom's: the set outlives every execution.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let sink = seen.clone();
    model(move || {
        let outcome = body();
        sink.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(outcome);
    });
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    seen
}

/// Runs the `#[ignore]`d test `name` of the current test binary in a child process and returns
/// whether it passed and what it printed. A model in which loom finds a deadlock aborts the
/// whole process, so a test that expects one runs the model this way. Only under `--cfg loom`.
#[cfg(loom)]
pub fn run_ignored_test_in_child(name: &str) -> (bool, String) {
    let exe = std::env::current_exe().expect("a test binary knows its own path");
    let child = std::process::Command::new(exe)
        .args(["--ignored", "--exact", name, "--test-threads=1"])
        .output()
        .expect("the test binary runs itself");
    let output = String::from_utf8_lossy(&child.stdout) + String::from_utf8_lossy(&child.stderr);
    (child.status.success(), output.into_owned())
}
