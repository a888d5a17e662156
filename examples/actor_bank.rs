//! Transfers per second: the actor bank (one thread owns every balance; each transfer is an
//! ask through a `BoundedQueue` mailbox and a reply) against the lock-ordered bank (one mutex
//! per account, `lock_ordered`), with 1, 2 and 4 client threads.
//!
//! ```sh
//! cargo run --release --example actor_bank            # 200,000 actor transfers per run
//! cargo run --release --example actor_bank -- 50000   # fewer (the lock bank does 10x)
//! ```
//!
//! Each configuration runs 3 times; the median is printed. Clients pick random pairs among 16
//! accounts, so lock-based transfers rarely collide, while every actor transfer goes through the
//! one actor thread.

use std::time::Instant;

use threadsmith::check::conformance::{ActorBank, Bank, OrderedBank};
use threadsmith::check::Rng;

const ACCOUNTS: usize = 16;

/// Seconds for `threads` threads to make `total` transfers between them.
fn run<B: Bank>(bank: &B, threads: usize, total: usize) -> f64 {
    let per_thread = total / threads;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut rng = Rng::new(t as u64 + 1);
                for _ in 0..per_thread {
                    let from = rng.below(ACCOUNTS);
                    let to = (from + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
                    bank.transfer(from, to, 1);
                }
            });
        }
    });
    start.elapsed().as_secs_f64()
}

fn median_rate<B: Bank>(new: impl Fn() -> B, threads: usize, total: usize) -> f64 {
    let mut rates: Vec<f64> = (0..3)
        .map(|_| total as f64 / run(&new(), threads, total))
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[1]
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    // The lock bank is about 100 times faster: give it 10 times the work, so that each run
    // lasts long enough to time.
    println!(
        "{} transfers per lock run, {total} per actor run, {ACCOUNTS} accounts, median of 3 runs",
        total * 10
    );
    println!("threads  lock_ordered (transfers/s)  actor (transfers/s)  lock/actor");
    for threads in [1, 2, 4] {
        let locks = median_rate(
            || OrderedBank::new(ACCOUNTS, 1_000_000),
            threads,
            total * 10,
        );
        let actor = median_rate(|| ActorBank::new(ACCOUNTS, 1_000_000), threads, total);
        println!(
            "{threads:>7}  {locks:>26.0}  {actor:>19.0}  {:>10.1}",
            locks / actor
        );
    }
}
