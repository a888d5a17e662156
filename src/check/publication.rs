//! The message-passing litmus test as a check: one thread publishes a value through a slot,
//! another reads it, and whoever sees the slot as ready must see the value too.
//! [`check_publication`] runs it under loom (every interleaving and every value the memory
//! model lets each load return) in a `--cfg loom` build, and on real threads otherwise.

use super::conformance::Failure;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::UnsafeCell;

/// A one-shot slot: one thread calls [`publish`](Self::publish) once; any thread may call
/// [`read`](Self::read) at any time.
pub trait Publish: Send + Sync + 'static {
    /// Stores `value` and makes it visible to readers. Called once, by one thread.
    fn publish(&self, value: u64);
    /// `Some(value)` once the slot is published, `None` before. A reader that gets `Some`
    /// must get the published value, never a torn or stale one.
    fn read(&self) -> Option<u64>;
}

// ANCHOR: rel_acq_slot
/// The reference slot: the payload is plain memory, and a flag published with Release and read
/// with Acquire orders the payload's write before every read that sees the flag.
///
/// ```
/// use threadsmith::check::{Publish, RelAcqSlot};
///
/// let slot = RelAcqSlot::default();
/// assert_eq!(slot.read(), None);
/// slot.publish(7);
/// assert_eq!(slot.read(), Some(7));
/// ```
#[derive(Debug, Default)]
pub struct RelAcqSlot {
    value: UnsafeCell<u64>,
    ready: AtomicBool,
}

// SAFETY: `value` is written once, by the one publisher, before the Release store of `ready`;
// it is read only after an Acquire load of `ready` returned true, which synchronizes with that
// store, so the write happens-before every read and they never race.
unsafe impl Sync for RelAcqSlot {}

impl Publish for RelAcqSlot {
    fn publish(&self, value: u64) {
        // SAFETY: the single publisher writes before raising `ready`; no reader touches
        // `value` until it has seen `ready` (see the `Sync` impl).
        self.value.with_mut(|p| unsafe { *p = value });
        // Release: pairs with the Acquire load in `read`; the payload's write comes with it.
        self.ready.store(true, Ordering::Release);
    }

    fn read(&self) -> Option<u64> {
        // Acquire: pairs with the Release store in `publish`, so the payload is visible.
        if self.ready.load(Ordering::Acquire) {
            // SAFETY: the Acquire load saw `ready`: the write to `value` happens-before this.
            Some(self.value.with(|p| unsafe { *p }))
        } else {
            None
        }
    }
}
// ANCHOR_END: rel_acq_slot

/// The value [`check_publication`] publishes.
pub const PAYLOAD: u64 = 42;

/// One round of the litmus test: a publisher and a reader race; then, after both are joined,
/// the slot must read `Some(PAYLOAD)`. Panics with a message starting `publication:` when the
/// reader saw something else. Returns what the racing reader saw.
fn one_round<P: Publish + Default>() -> Option<u64> {
    use crate::sync::{thread, Arc};
    let slot = Arc::new(P::default());
    let publisher = {
        let slot = Arc::clone(&slot);
        thread::spawn(move || slot.publish(PAYLOAD))
    };
    let reader = {
        let slot = Arc::clone(&slot);
        thread::spawn(move || slot.read())
    };
    publisher.join().expect("the publisher panicked");
    let seen = reader.join().expect("the reader panicked");
    if let Some(v) = seen {
        assert_eq!(
            v, PAYLOAD,
            "publication: the reader saw the slot ready but read {v}, not {PAYLOAD}"
        );
    }
    let after = slot.read();
    assert_eq!(
        after,
        Some(PAYLOAD),
        "publication: after the publisher was joined the slot read {after:?}"
    );
    seen
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs the message-passing litmus test on a [`Publish`] slot: a publisher thread calls
/// `publish(42)` while a reader thread calls `read()`; a reader that gets `Some` must get 42,
/// and after both threads are joined the slot must read `Some(42)`.
///
/// Under `RUSTFLAGS="--cfg loom"` this is a loom model: loom runs every interleaving and lets
/// each load return any value the memory model allows, and it reports a payload read that is
/// not ordered after the payload write as a data race (causality violation). It returns the
/// number of executions explored. Without loom it runs 1,000 rounds on real threads and returns
/// that; on x86 a wrong ordering almost never shows there (see the memory-model chapter).
///
/// A failure is [`Failure::Property`] with suite `memory model` and property `publication`
/// (the slot let a reader see it ready without its value, or loom found the payload's accesses
/// racing), or `coverage` (loom never saw the reader run both before and after the publisher,
/// so the model explored too little to prove anything).
///
/// ```
/// use threadsmith::check::{check_publication, RelAcqSlot};
///
/// let runs = check_publication::<RelAcqSlot>().expect("Release/Acquire publishes safely");
/// assert!(runs > 0);
/// ```
pub fn check_publication<P: Publish + Default>() -> Result<usize, Failure> {
    use std::collections::BTreeSet;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::{Arc as StdArc, Mutex as StdMutex};

    let seen = StdArc::new(StdMutex::new((0usize, BTreeSet::new())));
    let record = StdArc::clone(&seen);
    let round = move || {
        let outcome = one_round::<P>();
        let mut seen = record.lock().unwrap_or_else(|e| e.into_inner());
        seen.0 += 1;
        seen.1.insert(outcome);
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        #[cfg(loom)]
        crate::sync::model(round);
        #[cfg(not(loom))]
        for _ in 0..1_000 {
            round();
        }
    }));
    if let Err(panic) = result {
        return Err(Failure::Property {
            suite: "memory model",
            check: "publication",
            detail: panic_message(&*panic),
        });
    }
    let (runs, outcomes) = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    // Real threads may always run in one order; only loom must see both.
    if cfg!(loom) && outcomes != BTreeSet::from([None, Some(PAYLOAD)]) {
        return Err(Failure::Property {
            suite: "memory model",
            check: "coverage",
            detail: format!("the reader only ever saw {outcomes:?}"),
        });
    }
    Ok(runs)
}
