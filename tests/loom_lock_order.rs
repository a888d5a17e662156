//! Loom models of `lock_order`: two threads that name the same two locks in opposite orders
//! never deadlock through `lock_ordered` or `lock_all_backoff`, while the naive version
//! (each thread locks in the order it names them) does, and loom finds the schedule. Run with
//! `RUSTFLAGS="--cfg loom"` (see `.ci/run`). Each model's main thread only spawns and joins,
//! and each asserts the set of outcomes it saw.
#![cfg(loom)]

use threadsmith::lock_order::{lock_all_backoff, lock_ordered};
use threadsmith::sync::{model, model_outcomes, run_ignored_test_in_child, thread, Arc, Mutex};

/// Two threads, locks `a` and `b` named in opposite orders; each appends its id to both
/// accounts' logs while it holds both. Returns the two logs.
fn opposite_orders(take: fn(&Mutex<Vec<u8>>, &Mutex<Vec<u8>>, u8)) -> (Vec<u8>, Vec<u8>) {
    let a = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::new(Mutex::new(Vec::new()));
    let first = {
        let (a, b) = (a.clone(), b.clone());
        thread::spawn(move || take(&a, &b, 1))
    };
    let second = {
        let (a, b) = (a.clone(), b.clone());
        thread::spawn(move || take(&b, &a, 2))
    };
    first.join().unwrap();
    second.join().unwrap();
    let logs = (a.lock().clone(), b.lock().clone());
    logs
}

fn through_lock_ordered(x: &Mutex<Vec<u8>>, y: &Mutex<Vec<u8>>, id: u8) {
    let (mut x, mut y) = lock_ordered(x, y).expect("two different locks");
    x.push(id);
    y.push(id);
}

fn through_backoff(x: &Mutex<Vec<u8>>, y: &Mutex<Vec<u8>>, id: u8) {
    let mut guards = lock_all_backoff(&[x, y]).expect("two different locks");
    for guard in &mut guards {
        guard.push(id);
    }
}

fn naive(x: &Mutex<Vec<u8>>, y: &Mutex<Vec<u8>>, id: u8) {
    let mut x = x.lock();
    let mut y = y.lock();
    x.push(id);
    y.push(id);
}

/// Both threads finish, in either order, and each pair of updates is atomic: both logs agree.
#[test]
fn loom_lock_ordered_never_deadlocks() {
    let seen = model_outcomes(|| opposite_orders(through_lock_ordered));
    assert_eq!(
        seen,
        [(vec![1, 2], vec![1, 2]), (vec![2, 1], vec![2, 1])].into()
    );
}

/// The try-all-then-back-off form: no lock order at all, still no deadlock.
#[test]
fn loom_lock_all_backoff_never_deadlocks() {
    let seen = model_outcomes(|| opposite_orders(through_backoff));
    assert_eq!(
        seen,
        [(vec![1, 2], vec![1, 2]), (vec![2, 1], vec![2, 1])].into()
    );
}

/// The naive model. A loom deadlock aborts the process (a panic during loom's cleanup), so it
/// runs in a child process started by `loom_finds_the_naive_deadlock`.
#[test]
#[ignore = "run in a child process by loom_finds_the_naive_deadlock"]
fn naive_opposite_orders_model() {
    model(|| {
        opposite_orders(naive);
    });
}

#[test]
fn loom_finds_the_naive_deadlock() {
    let (passed, output) = run_ignored_test_in_child("naive_opposite_orders_model");
    assert!(
        !passed,
        "loom found no deadlock in the naive order:\n{output}"
    );
    assert!(
        output.contains("deadlock"),
        "failed, but not with a deadlock:\n{output}"
    );
}
