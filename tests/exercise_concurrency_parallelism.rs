//! The book's exercise for "Concurrency vs parallelism (Q1)": a parallel map-reduce over
//! chunks with `std::thread::scope`, graded by `Suite::check_parallel_map` (the right sum for
//! every length and thread count, at most `threads` threads, and two of them really running at
//! once). The chapter `book/src/concurrency-parallelism.md` shows the starter that replaces the
//! solution below.
//!
//! Check your own version with `cargo test --test exercise_concurrency_parallelism`.
#![cfg(not(loom))] // real threads: not a loom model

use threadsmith::check::conformance::Suite;

#[test]
fn my_parallel_sum_conforms() {
    let report = Suite::new()
        .check_parallel_map(parallel_sum)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}

// ANCHOR: solution
use std::thread;

use threadsmith::check::conformance::MapFn;

/// `Some(data.iter().map(f).sum())`, computed on at most `threads` threads; `None` when
/// `threads` is 0.
pub fn parallel_sum(data: &[u64], threads: usize, f: MapFn<'_>) -> Option<u64> {
    if threads == 0 {
        return None;
    }
    // Round *up*, so that `threads` chunks cover every item; at least 1, because
    // `chunks(0)` panics (an empty input would otherwise ask for it).
    let chunk = data.len().div_ceil(threads).max(1);
    let total = thread::scope(|s| {
        // Spawn every chunk's thread first, and only then join: `collect` ends the lazy
        // iterator before the first `join`.
        let workers: Vec<_> = data
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|&x| f(x)).sum::<u64>()))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker panicked"))
            .sum()
    });
    Some(total)
}
// ANCHOR_END: solution
