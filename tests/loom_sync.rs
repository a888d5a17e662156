//! Loom models that prove the `sync` facade is wired to loom: a planted ordering bug in a tiny
//! message-passing protocol must be caught, and the epoch stand-in must behave like
//! crossbeam-epoch for a CAS-and-retire loop.
#![cfg(loom)]

use std::collections::BTreeSet;
use std::sync::Mutex as StdMutex;

use threadsmith::sync::atomic::{AtomicBool, Ordering};
use threadsmith::sync::epoch::{self, Atomic, Owned};
use threadsmith::sync::{model, thread, Arc, UnsafeCell};

/// A writer fills a cell and raises a flag with `store`; a reader that sees the flag (loading
/// with `load`) reads the cell. Returns the set of values the reader saw.
fn message_passing(store: Ordering, load: Ordering) -> BTreeSet<Option<u32>> {
    let outcomes = std::sync::Arc::new(StdMutex::new(BTreeSet::new()));
    let seen = outcomes.clone();
    model(move || {
        let data = Arc::new(UnsafeCell::new(0u32));
        let ready = Arc::new(AtomicBool::new(false));
        let writer = {
            let (data, ready) = (data.clone(), ready.clone());
            thread::spawn(move || {
                // SAFETY: the reader touches the cell only after seeing `ready`.
                data.with_mut(|p| unsafe { *p = 42 });
                ready.store(true, store);
            })
        };
        let reader = thread::spawn(move || {
            if ready.load(load) {
                // SAFETY: `ready` was set after the write (and, with Acquire, ordered after it).
                Some(data.with(|p| unsafe { *p }))
            } else {
                None
            }
        });
        writer.join().unwrap();
        let value = reader.join().unwrap();
        seen.lock().unwrap().insert(value);
    });
    let outcomes = outcomes.lock().unwrap().clone();
    outcomes
}

#[test]
fn loom_release_acquire_publishes_the_data() {
    let seen = message_passing(Ordering::Release, Ordering::Acquire);
    assert_eq!(seen, BTreeSet::from([None, Some(42)]));
}

#[test]
#[should_panic(expected = "Causality violation")]
fn loom_catches_a_relaxed_publish() {
    message_passing(Ordering::Relaxed, Ordering::Acquire);
}

#[test]
fn loom_epoch_stand_in_supports_cas_and_retire() {
    let outcomes = std::sync::Arc::new(StdMutex::new(BTreeSet::new()));
    let seen = outcomes.clone();
    model(move || {
        let cell = Arc::new(Atomic::new(0u64));
        let bumpers: Vec<_> = (0..2)
            .map(|i| {
                let cell = cell.clone();
                let name = format!("bumper-{i}");
                // Through `thread::Builder`, so the facade's loom export of it is exercised too.
                thread::Builder::new()
                    .name(name.clone())
                    .spawn(move || loop {
                        assert_eq!(thread::current().name(), Some(name.as_str()));
                        let guard = epoch::pin();
                        // Acquire: pairs with the Release of the successful CAS that published it.
                        let current = cell.load(Ordering::Acquire, &guard);
                        // SAFETY: non-null (never stored null) and pinned by `guard`.
                        let value = unsafe { *current.deref() };
                        let next = Owned::new(value + 1);
                        // Release on success: publishes the new node; Acquire on failure: as above.
                        match cell.compare_exchange(
                            current,
                            next,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                            &guard,
                        ) {
                            Ok(_) => {
                                // SAFETY: `current` is unlinked by our CAS and retired once.
                                unsafe { guard.defer_destroy(current) };
                                return value;
                            }
                            Err(_) => continue,
                        }
                    })
            })
            .collect::<Result<_, _>>()
            .expect("loom spawns both threads");
        let bumpers: Vec<thread::JoinHandle<u64>> = bumpers;
        let got: Vec<u64> = bumpers.into_iter().map(|t| t.join().unwrap()).collect();
        // SAFETY: every thread has been joined; nothing else can reach the last node.
        let last = unsafe {
            cell.load(Ordering::Relaxed, epoch::unprotected())
                .into_owned()
        };
        assert_eq!(*last, 2);
        seen.lock().unwrap().insert((got[0], got[1]));
    });
    let outcomes = outcomes.lock().unwrap().clone();
    assert_eq!(outcomes, BTreeSet::from([(0, 1), (1, 0)]));
}
