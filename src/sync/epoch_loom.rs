//! The `--cfg loom` stand-in for `crossbeam_epoch` (see the [`sync`](super) docs for why).
//!
//! It keeps crossbeam-epoch's names and signatures for the subset the crate uses, so one source
//! compiles against both. Pinning is free and `defer_destroy` only retires the node into a list
//! that loom drops when the execution ends (a `loom::lazy_static`, reset for every execution),
//! after the model has joined every thread. A retired node therefore stays valid for the rest of
//! the execution: the models check the structure's protocol, not its reclamation.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex as StdMutex;

use loom::sync::atomic::{AtomicPtr, Ordering};

/// A node handed to `defer_destroy`, with the function that frees it.
struct Retired {
    ptr: *mut (),
    free: unsafe fn(*mut ()),
}

// SAFETY: a retired node is no longer reachable from the structure; it is only touched again
// when the list is dropped at the end of the execution, on the model's own thread.
unsafe impl Send for Retired {}

/// Frees every retired node when loom drops the list at the end of an execution.
struct RetireList(StdMutex<Vec<Retired>>);

impl Drop for RetireList {
    fn drop(&mut self) {
        let retired = std::mem::take(self.0.get_mut().unwrap_or_else(|e| e.into_inner()));
        for node in retired {
            // SAFETY: `node.ptr` came from `Box::into_raw` of the type `node.free` was
            // instantiated with (see `Guard::defer_destroy`), and it is freed only here, once.
            unsafe { (node.free)(node.ptr) };
        }
    }
}

loom::lazy_static! {
    // A std mutex, not loom's: retiring is bookkeeping, not part of the protocol under test, and
    // a loom lock here would add interleavings to every model.
    static ref RETIRED: RetireList = RetireList(StdMutex::new(Vec::new()));
}

/// # Safety
/// `ptr` must come from `Box::<T>::into_raw` and not be freed elsewhere.
unsafe fn free_box<T>(ptr: *mut ()) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { Box::from_raw(ptr.cast::<T>()) });
}

/// A pinned "epoch" (nothing to pin under loom).
#[derive(Debug)]
pub struct Guard {
    _private: (),
}

static UNPROTECTED: Guard = Guard { _private: () };

/// Pins the current thread (free under loom).
pub fn pin() -> Guard {
    Guard { _private: () }
}

/// A guard for code that has exclusive access (e.g. `Drop`).
///
/// # Safety
/// As in crossbeam-epoch: nothing may be accessed concurrently through this guard.
pub unsafe fn unprotected() -> &'static Guard {
    &UNPROTECTED
}

impl Guard {
    /// Retires `ptr`: it is freed when the loom execution ends.
    ///
    /// # Safety
    /// As in crossbeam-epoch: `ptr` is unlinked, so no thread can reach it once current guards
    /// are gone, and it is retired once.
    pub unsafe fn defer_destroy<T>(&self, ptr: Shared<'_, T>) {
        if ptr.is_null() {
            return;
        }
        let node = Retired {
            ptr: ptr.ptr.cast::<()>(),
            free: free_box::<T>,
        };
        RETIRED
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(node);
    }

    /// Nothing to flush under loom.
    pub fn flush(&self) {}
}

/// A pointer type that can be stored in an [`Atomic`] ([`Owned`] or [`Shared`]).
pub trait Pointer<T> {
    /// The raw address.
    fn into_usize(self) -> usize;
    /// Rebuilds the pointer from [`into_usize`](Self::into_usize).
    ///
    /// # Safety
    /// `data` came from `into_usize` of the same pointer type and is converted back once.
    unsafe fn from_usize(data: usize) -> Self;
}

/// An owned heap node, like `Box<T>`.
#[derive(Debug)]
pub struct Owned<T> {
    ptr: *mut T,
    _owns: PhantomData<Box<T>>,
}

// SAFETY: `Owned<T>` is a `Box<T>`.
unsafe impl<T: Send> Send for Owned<T> {}
// SAFETY: `Owned<T>` is a `Box<T>`.
unsafe impl<T: Sync> Sync for Owned<T> {}

impl<T> Owned<T> {
    /// Allocates `value` on the heap.
    pub fn new(value: T) -> Self {
        Self {
            ptr: Box::into_raw(Box::new(value)),
            _owns: PhantomData,
        }
    }

    /// Gives up ownership to the shared world.
    pub fn into_shared<'g>(self, _guard: &'g Guard) -> Shared<'g, T> {
        let ptr = self.ptr;
        std::mem::forget(self);
        Shared::from_raw(ptr)
    }

    /// Converts back into a `Box`.
    pub fn into_box(self) -> Box<T> {
        let ptr = self.ptr;
        std::mem::forget(self);
        // SAFETY: `ptr` came from `Box::into_raw` and `self` was forgotten, so it is owned once.
        unsafe { Box::from_raw(ptr) }
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: an `Owned` uniquely owns its box.
        drop(unsafe { Box::from_raw(self.ptr) });
    }
}

impl<T> Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: an `Owned` points at a live box it uniquely owns.
        unsafe { &*self.ptr }
    }
}

impl<T> DerefMut for Owned<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: an `Owned` points at a live box it uniquely owns.
        unsafe { &mut *self.ptr }
    }
}

impl<T> Pointer<T> for Owned<T> {
    fn into_usize(self) -> usize {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr as usize
    }
    unsafe fn from_usize(data: usize) -> Self {
        Self {
            ptr: data as *mut T,
            _owns: PhantomData,
        }
    }
}

/// A pointer valid while the guard `'g` lives (under loom: until the execution ends).
#[derive(Debug)]
pub struct Shared<'g, T> {
    ptr: *mut T,
    _guard: PhantomData<(&'g (), *const T)>,
}

impl<T> Clone for Shared<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<'_, T> {}

impl<T> PartialEq for Shared<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}
impl<T> Eq for Shared<'_, T> {}

impl<'g, T> Shared<'g, T> {
    fn from_raw(ptr: *mut T) -> Self {
        Self {
            ptr,
            _guard: PhantomData,
        }
    }

    /// The null pointer.
    pub fn null() -> Self {
        Self::from_raw(std::ptr::null_mut())
    }

    /// True for the null pointer.
    pub fn is_null(&self) -> bool {
        self.ptr.is_null()
    }

    /// The raw pointer.
    pub fn as_raw(&self) -> *const T {
        self.ptr
    }

    /// Dereferences the pointer.
    ///
    /// # Safety
    /// Non-null and pointing at a live node, as in crossbeam-epoch.
    pub unsafe fn deref(&self) -> &'g T {
        // SAFETY: guaranteed by the caller.
        unsafe { &*self.ptr }
    }

    /// Dereferences the pointer if it is not null.
    ///
    /// # Safety
    /// If non-null, pointing at a live node, as in crossbeam-epoch.
    pub unsafe fn as_ref(&self) -> Option<&'g T> {
        // SAFETY: guaranteed by the caller.
        unsafe { self.ptr.as_ref() }
    }

    /// Takes ownership of the node.
    ///
    /// # Safety
    /// Non-null, and no other thread can reach it or take it, as in crossbeam-epoch.
    pub unsafe fn into_owned(self) -> Owned<T> {
        // SAFETY: guaranteed by the caller.
        unsafe { Owned::from_usize(self.ptr as usize) }
    }
}

impl<T> Pointer<T> for Shared<'_, T> {
    fn into_usize(self) -> usize {
        self.ptr as usize
    }
    unsafe fn from_usize(data: usize) -> Self {
        Self::from_raw(data as *mut T)
    }
}

/// The error of a failed compare-and-exchange: the current value, and `new` handed back.
#[derive(Debug)]
pub struct CompareExchangeError<'g, T, P: Pointer<T>> {
    /// The value the atomic held.
    pub current: Shared<'g, T>,
    /// The pointer that was not stored.
    pub new: P,
}

/// An atomic pointer to a heap node, backed by loom's `AtomicPtr`.
#[derive(Debug)]
pub struct Atomic<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: like crossbeam-epoch's `Atomic<T>`, it hands out `&T` and moves `T` across threads.
unsafe impl<T: Send + Sync> Send for Atomic<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Atomic<T> {}

impl<T> Default for Atomic<T> {
    fn default() -> Self {
        Self::null()
    }
}

impl<T> Atomic<T> {
    /// A null atomic pointer.
    pub fn null() -> Self {
        Self {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Allocates `value` and points at it.
    pub fn new(value: T) -> Self {
        Self {
            ptr: AtomicPtr::new(Owned::new(value).into_usize() as *mut T),
        }
    }

    /// Loads the pointer.
    pub fn load<'g>(&self, ord: Ordering, _guard: &'g Guard) -> Shared<'g, T> {
        Shared::from_raw(self.ptr.load(ord))
    }

    /// Stores `new`.
    pub fn store<P: Pointer<T>>(&self, new: P, ord: Ordering) {
        self.ptr.store(new.into_usize() as *mut T, ord);
    }

    /// Swaps in `new` and returns the old pointer.
    pub fn swap<'g, P: Pointer<T>>(
        &self,
        new: P,
        ord: Ordering,
        _guard: &'g Guard,
    ) -> Shared<'g, T> {
        Shared::from_raw(self.ptr.swap(new.into_usize() as *mut T, ord))
    }

    /// Stores `new` if the pointer is `current`.
    pub fn compare_exchange<'g, P: Pointer<T>>(
        &self,
        current: Shared<'_, T>,
        new: P,
        success: Ordering,
        failure: Ordering,
        _guard: &'g Guard,
    ) -> Result<Shared<'g, T>, CompareExchangeError<'g, T, P>> {
        let new = new.into_usize() as *mut T;
        match self
            .ptr
            .compare_exchange(current.ptr, new, success, failure)
        {
            Ok(_) => Ok(Shared::from_raw(new)),
            Err(actual) => Err(CompareExchangeError {
                current: Shared::from_raw(actual),
                // SAFETY: `new` came from `into_usize` just above and is converted back once.
                new: unsafe { P::from_usize(new as usize) },
            }),
        }
    }

    /// Same as [`compare_exchange`](Self::compare_exchange): loom never fails spuriously.
    pub fn compare_exchange_weak<'g, P: Pointer<T>>(
        &self,
        current: Shared<'_, T>,
        new: P,
        success: Ordering,
        failure: Ordering,
        guard: &'g Guard,
    ) -> Result<Shared<'g, T>, CompareExchangeError<'g, T, P>> {
        self.compare_exchange(current, new, success, failure, guard)
    }

    /// Takes ownership of the pointee.
    ///
    /// # Safety
    /// Non-null and not reachable by any other thread, as in crossbeam-epoch.
    pub unsafe fn into_owned(self) -> Owned<T> {
        // SAFETY: guaranteed by the caller; `unsync_load` is fine with exclusive access.
        unsafe { Owned::from_usize(self.ptr.unsync_load() as usize) }
    }
}

impl<T> From<Owned<T>> for Atomic<T> {
    fn from(owned: Owned<T>) -> Self {
        Self {
            ptr: AtomicPtr::new(owned.into_usize() as *mut T),
        }
    }
}
