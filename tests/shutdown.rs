//! The drain coordinator: admission stops exactly when `begin` returns, and `wait` reports.
#![cfg(not(loom))] // real threads and real time: not a loom model

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use threadsmith::check::{linearizable, Model, Recorder};
use threadsmith::shutdown::Shutdown;

#[test]
fn begin_counts_work_in_flight_and_refuses_new_work() {
    let shutdown = Shutdown::new();
    let a = shutdown.enter().unwrap();
    let b = shutdown.enter().unwrap();
    drop(a);
    assert_eq!(shutdown.in_flight(), 1);
    assert!(!shutdown.is_draining());
    assert_eq!(shutdown.begin(), 1);
    assert!(shutdown.is_draining());
    assert!(shutdown.enter().is_none());
    assert_eq!(shutdown.begin(), 1, "begin is idempotent");
    drop(b);
    assert_eq!(shutdown.in_flight(), 0);
}

#[test]
fn clones_share_one_coordinator() {
    let shutdown = Shutdown::new();
    let clone = shutdown.clone();
    let _guard = clone.enter().unwrap();
    assert_eq!(shutdown.begin(), 1);
    assert!(clone.is_draining());
    assert!(clone.enter().is_none());
    assert!(format!("{shutdown:?}").contains("in_flight: 1"));
}

#[test]
fn wait_reports_what_remains_when_it_times_out() {
    let shutdown = Shutdown::new();
    let _a = shutdown.enter().unwrap();
    let _b = shutdown.enter().unwrap();
    shutdown.begin();
    let report = shutdown.wait(Duration::ZERO);
    assert!(!report.drained);
    assert_eq!(report.remaining, 2);
}

#[test]
fn wait_without_begin_starts_the_drain() {
    let shutdown = Shutdown::new();
    let report = shutdown.wait(Duration::ZERO);
    assert!(shutdown.is_draining());
    assert!(report.drained);
    assert_eq!(report.remaining, 0);
    assert!(shutdown.enter().is_none());
}

#[test]
fn wait_is_woken_by_the_last_guard_to_leave() {
    let shutdown = Shutdown::new();
    let guards: Vec<_> = (0..3).map(|_| shutdown.enter().unwrap()).collect();
    let begun_at = Instant::now();
    assert_eq!(shutdown.begin(), 3);
    let release = Barrier::new(4);
    std::thread::scope(|s| {
        for guard in guards {
            let release = &release;
            s.spawn(move || {
                release.wait();
                drop(guard);
            });
        }
        let waiter = s.spawn(|| shutdown.wait(Duration::from_secs(60)));
        release.wait();
        let report = waiter.join().unwrap();
        assert!(report.drained, "{report:?}");
        assert_eq!(report.remaining, 0);
        // `took` runs from begin to the last guard leaving, so it fits inside what we measured.
        assert!(report.took <= begun_at.elapsed(), "{report:?}");
    });
    // A later wait reports the same drain, not the time of the second call.
    let again = shutdown.wait(Duration::ZERO);
    assert!(again.drained);
}

/// The sequential specification of admission: enter, leave, begin.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
struct Admission {
    draining: bool,
    in_flight: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Enter,
    Leave,
    Begin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ret {
    Entered(bool),
    Began(usize),
    Left,
}

impl Model for Admission {
    type Op = Op;
    type Ret = Ret;
    fn apply(&mut self, op: &Op) -> Ret {
        match op {
            Op::Enter if self.draining => Ret::Entered(false),
            Op::Enter => {
                self.in_flight += 1;
                Ret::Entered(true)
            }
            Op::Leave => {
                self.in_flight -= 1;
                Ret::Left
            }
            Op::Begin => {
                self.draining = true;
                Ret::Began(self.in_flight)
            }
        }
    }
}

#[test]
fn racing_enter_against_begin_never_admits_after_begin_returned() {
    for round in 0..50 {
        let shutdown = Shutdown::new();
        let recorder = Recorder::new();
        let begun = AtomicBool::new(false);
        let start = Barrier::new(4);
        std::thread::scope(|s| {
            for thread in 0..3 {
                let (shutdown, recorder, begun, start) = (&shutdown, &recorder, &begun, &start);
                s.spawn(move || {
                    start.wait();
                    for _ in 0..20 {
                        // Acquire: pairs with the Release store after `begin` returned.
                        let after_begin = begun.load(Ordering::Acquire);
                        let mut guard = None;
                        recorder.record(thread, Op::Enter, |_| {
                            guard = shutdown.enter();
                            Ret::Entered(guard.is_some())
                        });
                        if let Some(guard) = guard {
                            assert!(!after_begin, "round {round}: admitted after begin returned");
                            recorder.record(thread, Op::Leave, |_| {
                                drop(guard);
                                Ret::Left
                            });
                        }
                    }
                });
            }
            s.spawn(|| {
                start.wait();
                std::thread::yield_now();
                recorder.record(3, Op::Begin, |_| Ret::Began(shutdown.begin()));
                // Release: everything after this load in the workers sees begin as returned.
                begun.store(true, Ordering::Release);
            });
        });
        let history = recorder.into_history();
        if let Err(v) = linearizable(&Admission::default(), &history) {
            panic!("round {round}: enter/leave/begin history is not linearizable:\n{v}");
        }
    }
}
