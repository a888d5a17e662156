//! Q14, "Linearizability": the exercise (`cargo test --test exercise_linearizability`) has the
//! reader write a `Model` and catch a lost update; its own tests are the grading. Here the
//! crate's reference model, `models::Counter`, is held to the same standard: it accepts a
//! correct counter in every round and rejects the `LostUpdateCounter` mutant.

use std::sync::atomic::{AtomicU64, Ordering};

use threadsmith::check::models::{Counter, CounterOp};
use threadsmith::check::mutants::LostUpdateCounter;
use threadsmith::check::{linearizable, Rng, Stress};

fn counter_op(_thread: usize, rng: &mut Rng) -> CounterOp {
    if rng.percent(80) {
        CounterOp::FetchAdd(1)
    } else {
        CounterOp::Get
    }
}

#[test]
fn a_correct_counter_is_accepted_in_every_round() {
    for round in 0..20 {
        let counter = AtomicU64::new(0);
        let history = Stress::new(4, 50)
            .seed(round)
            .run(&counter, counter_op, |c, op| match op {
                CounterOp::FetchAdd(n) => c.fetch_add(*n, Ordering::SeqCst),
                CounterOp::Get => c.load(Ordering::SeqCst),
            });
        if let Err(v) = linearizable(&Counter::default(), &history) {
            panic!("round {round}: a fetch_add counter was rejected:\n{v}");
        }
    }
}

#[test]
fn a_lost_update_counter_is_caught_from_real_threads() {
    const ROUNDS: u64 = 200;
    for round in 0..ROUNDS {
        let counter = LostUpdateCounter::new();
        let history = Stress::new(4, 50)
            .seed(round)
            .run(&counter, counter_op, |c, op| match op {
                CounterOp::FetchAdd(n) => c.fetch_add(*n),
                CounterOp::Get => c.get(),
            });
        if let Err(violation) = linearizable(&Counter::default(), &history) {
            println!("caught in round {round}:\n{violation}");
            assert!(
                violation.events().len() < history.len(),
                "the report shows a window"
            );
            return;
        }
    }
    panic!("{ROUNDS} rounds of a load-then-store counter were all accepted: the checker is blind");
}
