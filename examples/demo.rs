//! The main demo, for now: a drain coordinator at work, and the linearizability checker
//! catching a lost update that a plain test would miss.
//!
//! ```text
//! cargo run --example demo
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use threadsmith::check::models::{Counter, CounterOp};
use threadsmith::check::mutants::LostUpdateCounter;
use threadsmith::check::{linearizable, Rng, Stress};
use threadsmith::shutdown::Shutdown;

fn main() {
    drain();
    println!();
    lost_update();
}

/// Eight "requests" of different lengths are in flight when the drain begins.
fn drain() {
    println!("== Shutdown: stop admitting, let in-flight work finish, report ==");
    let shutdown = Shutdown::new();
    let workers: Vec<_> = (1..=8u64)
        .map(|i| {
            let guard = shutdown.enter().expect("admitting before the drain");
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20 * i)); // simulated work
                drop(guard);
            })
        })
        .collect();
    println!("in flight when the drain begins: {}", shutdown.begin());
    println!("a new request is admitted: {}", shutdown.enter().is_some());
    let report = shutdown.wait(Duration::from_secs(5));
    println!(
        "drained: {}, remaining: {}, took: {} ms",
        report.drained,
        report.remaining,
        report.took.as_millis()
    );
    for w in workers {
        w.join().expect("worker");
    }
}

/// Four threads increment a counter; the checker judges each history against a sequential
/// counter.
fn lost_update() {
    println!("== check: is this counter linearizable? ==");
    let ops = |_: usize, rng: &mut Rng| {
        if rng.percent(80) {
            CounterOp::FetchAdd(1)
        } else {
            CounterOp::Get
        }
    };
    let atomic = AtomicU64::new(0);
    let history = Stress::new(4, 50).run(&atomic, ops, |c, op| match op {
        CounterOp::FetchAdd(n) => c.fetch_add(*n, Ordering::SeqCst),
        CounterOp::Get => c.load(Ordering::SeqCst),
    });
    println!(
        "AtomicU64::fetch_add, {} operations: {}",
        history.len(),
        match linearizable(&Counter::default(), &history) {
            Ok(_) => "linearizable".to_string(),
            Err(v) => format!("NOT linearizable\n{v}"),
        }
    );

    for round in 1..=100 {
        let racy = LostUpdateCounter::new();
        let history = Stress::new(4, 50)
            .seed(round)
            .run(&racy, ops, |c, op| match op {
                CounterOp::FetchAdd(n) => c.fetch_add(*n),
                CounterOp::Get => c.get(),
            });
        if let Err(violation) = linearizable(&Counter::default(), &history) {
            println!("load-then-store counter, round {round}: caught\n{violation}");
            return;
        }
    }
    println!("load-then-store counter: the race did not show in 100 rounds (unusual)");
}
