//! parking_lot's deadlock detector finds a deadlock made on purpose: two threads, two locks,
//! and a barrier so that each holds its first lock before it asks for the second. The schedule
//! is forced, so the deadlock happens on every run. Needs the `deadlock_detection` feature:
//!
//! ```sh
//! cargo test --features deadlock_detection --test deadlock_detector
//! ```
//!
//! The two deadlocked threads are never freed; they are detached, and end when the test process
//! exits.
#![cfg(all(feature = "deadlock_detection", not(loom)))]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use threadsmith::sync::Mutex;

/// Starts two detached threads that deadlock for good: one locks `a` then `b`, the other `b`
/// then `a`, and the barrier makes both hold their first lock before either asks for its second.
fn deadlock_two_threads() {
    let a = Arc::new(Mutex::new("account a"));
    let b = Arc::new(Mutex::new("account b"));
    let both_hold_one = Arc::new(Barrier::new(2));
    for (first, second) in [(a.clone(), b.clone()), (b, a)] {
        let both_hold_one = both_hold_one.clone();
        std::thread::spawn(move || {
            let _first = first.lock();
            both_hold_one.wait();
            let _second = second.lock(); // waits forever: the other thread holds it
            unreachable!("a deadlocked thread got its second lock");
        });
    }
}

#[test]
fn detector_reports_one_cycle_of_two_threads() {
    deadlock_two_threads();
    // Patience only for a loaded machine: the threads block microseconds after the barrier.
    let deadline = Instant::now() + Duration::from_secs(60);
    let cycles = loop {
        let cycles = parking_lot::deadlock::check_deadlock();
        if !cycles.is_empty() {
            break cycles;
        }
        assert!(Instant::now() < deadline, "no deadlock detected in 60 s");
        std::thread::yield_now();
    };
    assert_eq!(cycles.len(), 1, "one cycle");
    assert_eq!(cycles[0].len(), 2, "of two threads");
    let ids: std::collections::HashSet<std::thread::ThreadId> =
        cycles[0].iter().map(|t| t.thread_id()).collect();
    assert_eq!(ids.len(), 2, "two different threads");
    // Each thread's backtrace shows where it is stuck: inside this file's closure.
    for thread in &cycles[0] {
        let trace = format!("{:?}", thread.backtrace());
        assert!(trace.contains("deadlock_detector"), "{trace}");
    }
}
