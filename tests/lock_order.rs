//! `lock_order`: guards in the caller's order, one lock named twice is an error and not a
//! hang, a failed `try_lock_all` holds nothing, and threads naming locks in opposite or
//! rotating orders all finish. (The schedules themselves are model-checked in
//! `tests/loom_lock_order.rs`.)
#![cfg(not(loom))] // real threads: not a loom model

use threadsmith::lock_order::{lock_all, lock_all_backoff, lock_ordered, try_lock_all, SameLock};
use threadsmith::sync::Mutex;

#[test]
fn guards_come_back_in_the_order_the_locks_were_named() {
    let locks: Vec<Mutex<usize>> = (0..5).map(Mutex::new).collect();
    let (x, y) = lock_ordered(&locks[3], &locks[1]).unwrap();
    assert_eq!((*x, *y), (3, 1));
    drop((x, y));
    let named = [&locks[4], &locks[0], &locks[2]];
    let values: Vec<usize> = lock_all(&named).unwrap().iter().map(|g| **g).collect();
    assert_eq!(values, [4, 0, 2]);
    let values: Vec<usize> = lock_all_backoff(&named)
        .unwrap()
        .iter()
        .map(|g| **g)
        .collect();
    assert_eq!(values, [4, 0, 2]);
    let values: Vec<usize> = try_lock_all(&named)
        .unwrap()
        .unwrap()
        .iter()
        .map(|g| **g)
        .collect();
    assert_eq!(values, [4, 0, 2]);
}

#[test]
fn naming_one_lock_twice_is_an_error_not_a_self_deadlock() {
    let (a, b) = (Mutex::new(0), Mutex::new(0));
    assert_eq!(
        lock_ordered(&a, &a).err(),
        Some(SameLock { positions: (0, 1) })
    );
    assert_eq!(
        lock_all(&[&a, &b, &a]).err(),
        Some(SameLock { positions: (0, 2) })
    );
    assert_eq!(
        try_lock_all(&[&b, &a, &b]).err(),
        Some(SameLock { positions: (0, 2) })
    );
    assert_eq!(
        lock_all_backoff(&[&a, &b, &b]).err(),
        Some(SameLock { positions: (1, 2) })
    );
    // Nothing was left locked by the refusals.
    assert!(a.try_lock().is_some() && b.try_lock().is_some());
}

#[test]
fn a_failed_try_lock_all_holds_nothing() {
    let locks: Vec<Mutex<u8>> = (0..4).map(|_| Mutex::new(0)).collect();
    let busy = locks[2].lock();
    let all: Vec<&Mutex<u8>> = locks.iter().collect();
    assert!(try_lock_all(&all).unwrap().is_none());
    for (i, lock) in locks.iter().enumerate().filter(|&(i, _)| i != 2) {
        assert!(lock.try_lock().is_some(), "lock {i} was left held");
    }
    drop(busy);
    assert_eq!(try_lock_all(&all).unwrap().map(|g| g.len()), Some(4));
}

#[test]
fn opposite_orders_finish_through_lock_ordered() {
    let (a, b) = (Mutex::new(0u64), Mutex::new(0u64));
    std::thread::scope(|s| {
        for t in 0..4 {
            let (a, b) = (&a, &b);
            s.spawn(move || {
                for _ in 0..20_000 {
                    let (x, y) = if t % 2 == 0 { (a, b) } else { (b, a) };
                    let (mut x, mut y) = lock_ordered(x, y).unwrap();
                    *x += 1;
                    *y += 1;
                }
            });
        }
    });
    assert_eq!((a.into_inner(), b.into_inner()), (80_000, 80_000));
}

#[test]
fn rotating_orders_finish_through_lock_all_and_backoff() {
    let locks: Vec<Mutex<u64>> = (0..3).map(|_| Mutex::new(0)).collect();
    std::thread::scope(|s| {
        for t in 0..3 {
            let locks = &locks;
            s.spawn(move || {
                // Thread t names the locks starting at t: a cycle if each locked in that order.
                let named: Vec<&Mutex<u64>> = (0..3).map(|i| &locks[(t + i) % 3]).collect();
                for round in 0..5_000 {
                    let mut guards = if round % 2 == 0 {
                        lock_all(&named).unwrap()
                    } else {
                        lock_all_backoff(&named).unwrap()
                    };
                    for guard in &mut guards {
                        **guard += 1;
                    }
                }
            });
        }
    });
    let counts: Vec<u64> = locks.into_iter().map(Mutex::into_inner).collect();
    assert_eq!(counts, [15_000; 3]);
}
