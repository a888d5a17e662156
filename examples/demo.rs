//! The main demo: a drain coordinator at work, a bounded queue carrying backpressure and a
//! clean close, and the proof tools catching a lost update and the ABA problem that a plain
//! test would miss.
//!
//! ```text
//! cargo run --example demo
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use threadsmith::bounded::{BoundedQueue, Closed};
use threadsmith::check::conformance::Suite;
use threadsmith::check::models::{Counter, CounterOp};
use threadsmith::check::mutants::{AbaStack, LostUpdateCounter};
use threadsmith::check::{linearizable, Rng, Stress};
use threadsmith::shutdown::Shutdown;
use threadsmith::stack::TreiberStack;

fn main() {
    drain();
    println!();
    pipeline();
    println!();
    lost_update();
    println!();
    aba();
}

/// Two producers, two consumers, a queue of 8: producers wait when it is full (backpressure);
/// `close` ends the stream without losing what is queued.
fn pipeline() {
    println!("== BoundedQueue: backpressure, then close and drain ==");
    let queue = &BoundedQueue::new(8);
    let (consumed, refused) = std::thread::scope(|s| {
        let consumers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| std::iter::from_fn(|| queue.pop()).count()))
            .collect();
        let producers: Vec<_> = (0..2)
            .map(|p| s.spawn(move || (0..1_000).for_each(|i| queue.push(p * 1_000 + i).unwrap())))
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        queue.close();
        let refused = queue.push(-1); // after close: refused, and the value comes back
        let consumed: usize = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        (consumed, refused)
    });
    println!(
        "2,000 pushed through a queue of 8; consumed: {consumed}; push after close: {refused:?}"
    );
    assert_eq!(refused, Err(Closed(-1)));
}

/// The Treiber stack passes the stack suite; the same stack without epochs (nodes recycled at
/// once) fails it with the ABA problem.
fn aba() {
    println!("== ABA: the stack suite on a Treiber stack, with and without epochs ==");
    let suite = Suite::new().rounds(500).stress(0, 0);
    match suite.check_stack(TreiberStack::new) {
        Ok(report) => println!(
            "TreiberStack: {} histories, all linearizable",
            report.histories
        ),
        Err(failure) => println!("TreiberStack: {failure}"),
    }
    match suite.check_stack(AbaStack::new) {
        Ok(_) => println!("AbaStack: the race did not show (unusual)"),
        Err(failure) => println!("AbaStack (nodes recycled without epochs): caught\n{failure}"),
    }
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
