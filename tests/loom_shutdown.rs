//! Loom models of the drain coordinator, run with `RUSTFLAGS="--cfg loom"` (see `.ci/run`).
//!
//! Each model's main thread only spawns and joins, and each test asserts the *set* of outcomes
//! the model produced, so a model that explored too little fails too.
#![cfg(loom)]

use std::collections::BTreeSet;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use threadsmith::check::mutants::{RacyInFlight, RacyShutdown};
use threadsmith::shutdown::{InFlight, Shutdown};
use threadsmith::sync::{model, thread, Arc, UnsafeCell};

/// What the admission model needs from a drain coordinator.
trait Admission: Clone + Send + Sync + 'static {
    type Guard: Send + 'static;
    fn create() -> Self;
    fn enter(&self) -> Option<Self::Guard>;
    fn begin(&self) -> usize;
}

impl Admission for Shutdown {
    type Guard = InFlight;
    fn create() -> Self {
        Shutdown::new()
    }
    fn enter(&self) -> Option<InFlight> {
        Shutdown::enter(self)
    }
    fn begin(&self) -> usize {
        Shutdown::begin(self)
    }
}

impl Admission for RacyShutdown {
    type Guard = RacyInFlight;
    fn create() -> Self {
        RacyShutdown::new()
    }
    fn enter(&self) -> Option<RacyInFlight> {
        RacyShutdown::enter(self)
    }
    fn begin(&self) -> usize {
        RacyShutdown::begin(self)
    }
}

/// Two requests race one `begin`. Whatever the interleaving, `begin` must count exactly the
/// requests that were admitted (their guards are still held), so none was admitted after it.
fn enter_races_begin<S: Admission>() -> BTreeSet<(bool, bool, usize)> {
    let outcomes = std::sync::Arc::new(StdMutex::new(BTreeSet::new()));
    let seen = outcomes.clone();
    model(move || {
        let shutdown = S::create();
        let enters: Vec<_> = (0..2)
            .map(|_| {
                let s = shutdown.clone();
                thread::spawn(move || s.enter())
            })
            .collect();
        let begin = {
            let s = shutdown.clone();
            thread::spawn(move || s.begin())
        };
        let guards: Vec<Option<S::Guard>> = enters.into_iter().map(|t| t.join().unwrap()).collect();
        let counted = begin.join().unwrap();
        let admitted = guards.iter().filter(|g| g.is_some()).count();
        assert_eq!(
            counted, admitted,
            "begin counted {counted} but {admitted} requests were admitted: one got in after begin"
        );
        seen.lock()
            .unwrap()
            .insert((guards[0].is_some(), guards[1].is_some(), counted));
    });
    let outcomes = outcomes.lock().unwrap().clone();
    outcomes
}

#[test]
fn loom_enter_never_succeeds_after_begin() {
    let outcomes = enter_races_begin::<Shutdown>();
    let all: BTreeSet<_> = [
        (false, false, 0),
        (true, false, 1),
        (false, true, 1),
        (true, true, 2),
    ]
    .into();
    assert_eq!(outcomes, all, "every admission outcome must be explored");
}

#[test]
#[should_panic(expected = "one got in after begin")]
fn loom_catches_check_then_act_admission() {
    enter_races_begin::<RacyShutdown>();
}

/// Two requests write their results and leave while a third thread begins the drain and waits.
/// Once `wait` reports `drained`, both results must be visible to it (loom checks the
/// `UnsafeCell` accesses for races), and the last guard out must wake it (a lost wake-up would
/// deadlock: under loom, timed waits never time out).
#[test]
fn loom_wait_sees_the_work_of_every_drained_request() {
    let outcomes = std::sync::Arc::new(StdMutex::new(BTreeSet::new()));
    let seen = outcomes.clone();
    model(move || {
        let shutdown = Shutdown::new();
        let results = Arc::new([UnsafeCell::new(0u32), UnsafeCell::new(0u32)]);
        let workers: Vec<_> = (0..2)
            .map(|i| {
                let guard = shutdown.enter().unwrap();
                let results = results.clone();
                thread::spawn(move || {
                    // SAFETY: each worker writes only its own cell, and the waiter reads it only
                    // after this worker's guard has left.
                    results[i].with_mut(|p| unsafe { *p = i as u32 + 1 });
                    drop(guard);
                })
            })
            .collect();
        let waiter = {
            let (shutdown, results) = (shutdown.clone(), results.clone());
            thread::spawn(move || {
                let in_flight_at_begin = shutdown.begin();
                let report = shutdown.wait(Duration::from_secs(10));
                assert!(report.drained && report.remaining == 0, "{report:?}");
                // SAFETY: both workers have left; the drain report orders their writes before us.
                let seen = results
                    .iter()
                    .map(|c| c.with(|p| unsafe { *p }))
                    .collect::<Vec<_>>();
                assert_eq!(seen, [1, 2]);
                in_flight_at_begin
            })
        };
        for w in workers {
            w.join().unwrap();
        }
        let in_flight_at_begin = waiter.join().unwrap();
        seen.lock().unwrap().insert(in_flight_at_begin);
    });
    let outcomes = outcomes.lock().unwrap().clone();
    assert_eq!(
        outcomes,
        BTreeSet::from([0, 1, 2]),
        "begin must be seen before, between and after the leaves"
    );
}
