//! A deadlock on purpose, found by parking_lot's deadlock detector.
//!
//! Two threads transfer between two accounts in opposite directions; a barrier makes each
//! hold its first lock before it asks for the second, so the deadlock happens on every run.
//! A watchdog thread then asks `parking_lot::deadlock::check_deadlock()` for cycles and prints
//! each deadlocked thread with the frames of its backtrace that are in this file.
//!
//! ```sh
//! cargo run --features deadlock_detection --example deadlock
//! ```
//!
//! The deadlocked threads never finish; the process exits when `main` returns.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use threadsmith::sync::Mutex;

fn transfer(from: &Mutex<u64>, to: &Mutex<u64>, amount: u64, both_hold_one: &Barrier) {
    let mut debit = from.lock();
    both_hold_one.wait();
    let mut credit = to.lock(); // never returns: the other thread holds `to`
    *debit -= amount;
    *credit += amount;
}

fn main() {
    let a = Arc::new(Mutex::new(100));
    let b = Arc::new(Mutex::new(100));
    let barrier = Arc::new(Barrier::new(2));
    let mut names = std::collections::HashMap::new();
    for (name, from, to) in [("a-to-b", a.clone(), b.clone()), ("b-to-a", b, a)] {
        let barrier = barrier.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || transfer(&from, &to, 10, &barrier))
            .expect("spawn");
        names.insert(thread.thread().id(), name);
    }

    // The watchdog a service would run on a background thread, every few seconds.
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let cycles = parking_lot::deadlock::check_deadlock();
        if cycles.is_empty() {
            continue;
        }
        println!("{} deadlock cycle(s) detected", cycles.len());
        for (i, cycle) in cycles.iter().enumerate() {
            println!("cycle #{i}: {} threads", cycle.len());
            for thread in cycle {
                let id = thread.thread_id();
                let name = names.get(&id).copied().unwrap_or("?");
                println!("  thread {name} ({id:?}), stuck in:");
                // The full backtrace includes parking_lot's and std's frames: keep ours.
                let trace = format!("{:#?}", thread.backtrace());
                for line in trace.lines() {
                    if let Some((_, symbol)) = line.split_once(" - deadlock::") {
                        // Drop the symbol's hash suffix (`::h0123...`).
                        let symbol = symbol.rsplit_once("::h").map_or(symbol, |(s, _)| s);
                        println!("    in deadlock::{symbol}");
                    } else if let Some(at) = line.find("examples/deadlock.rs") {
                        println!("       at {}", &line[at..]);
                    }
                }
            }
        }
        return;
    }
}
