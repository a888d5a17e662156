//! Runs two litmus tests on real threads of *this* machine and counts the outcomes (the
//! memory-model chapter, `book/src/memory-model.md`):
//!
//! ```sh
//! cargo run --release --example litmus [rounds]
//! ```
//!
//! - store buffering with Relaxed (and with SeqCst): each thread stores its flag, then loads the
//!   other's. x86 has store buffers, so "both loads saw 0" shows up even there — unless the
//!   accesses are SeqCst, which puts a full barrier (`mfence` or a locked instruction) between
//!   each store and the following load.
//! - message passing with Relaxed: x86 never reorders two stores or two loads, so "flag seen,
//!   data stale" does not show on x86, though the memory model allows it (and ARM does it).
//!
//! Two threads stay alive for all rounds and meet at a barrier before each one, so the racing
//! accesses really overlap. The counts vary from run to run and machine to machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

/// Runs `rounds` rounds of a two-thread litmus test; `reset` runs before each round,
/// `left`/`right` are the two threads' bodies, and `outcome` is read after both finished.
fn run<S: Send + Sync + 'static>(
    rounds: usize,
    state: S,
    reset: fn(&S),
    left: fn(&S) -> u64,
    right: fn(&S) -> u64,
) -> [usize; 4] {
    let state = Arc::new(state);
    let start = Arc::new(Barrier::new(3));
    let done = Arc::new(Barrier::new(3));
    let results = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let spawn = |side: usize, body: fn(&S) -> u64| {
        let (state, start, done, results) =
            (state.clone(), start.clone(), done.clone(), results.clone());
        thread::spawn(move || {
            for _ in 0..rounds {
                start.wait();
                // Relaxed: read by the main thread after the `done` barrier, which orders it.
                results[side].store(body(&state), Ordering::Relaxed);
                done.wait();
            }
        })
    };
    let threads = [spawn(0, left), spawn(1, right)];
    let mut counts = [0; 4];
    for _ in 0..rounds {
        reset(&state);
        start.wait();
        done.wait();
        // Relaxed: the `done` barrier orders both stores before these loads.
        let (a, b) = (
            results[0].load(Ordering::Relaxed),
            results[1].load(Ordering::Relaxed),
        );
        counts[(a.min(1) * 2 + b.min(1)) as usize] += 1;
    }
    for t in threads {
        t.join().expect("a litmus thread panicked");
    }
    counts
}

struct Pair {
    x: AtomicU64,
    y: AtomicU64,
}

fn reset(p: &Pair) {
    // Relaxed: the barrier that follows orders the reset before the round.
    p.x.store(0, Ordering::Relaxed);
    p.y.store(0, Ordering::Relaxed);
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(200_000);
    let pair = || Pair {
        x: AtomicU64::new(0),
        y: AtomicU64::new(0),
    };
    // Relaxed throughout on purpose: these are the weak orderings being measured.
    let sb_relaxed = run(
        rounds,
        pair(),
        reset,
        |p| {
            p.x.store(1, Ordering::Relaxed);
            p.y.load(Ordering::Relaxed)
        },
        |p| {
            p.y.store(1, Ordering::Relaxed);
            p.x.load(Ordering::Relaxed)
        },
    );
    let sb_seq_cst = run(
        rounds,
        pair(),
        reset,
        |p| {
            p.x.store(1, Ordering::SeqCst);
            p.y.load(Ordering::SeqCst)
        },
        |p| {
            p.y.store(1, Ordering::SeqCst);
            p.x.load(Ordering::SeqCst)
        },
    );
    // Message passing: left writes data (x) then the flag (y); right reads the flag, then the
    // data, and reports 1 for "flag up" and 2 for "flag up and data there".
    let mp_relaxed = run(
        rounds,
        pair(),
        reset,
        |p| {
            p.x.store(1, Ordering::Relaxed);
            p.y.store(1, Ordering::Relaxed);
            0
        },
        |p| {
            if p.y.load(Ordering::Relaxed) == 1 {
                if p.x.load(Ordering::Relaxed) == 1 {
                    0 // flag and data: fine (counted with "flag down" below)
                } else {
                    1 // flag without data: the reordering
                }
            } else {
                0
            }
        },
    );
    println!(
        "{rounds} rounds on {} ({})",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    println!(
        "store buffering, Relaxed: both loads saw 0 in {} rounds",
        sb_relaxed[0]
    );
    println!(
        "store buffering, SeqCst:  both loads saw 0 in {} rounds",
        sb_seq_cst[0]
    );
    println!(
        "message passing, Relaxed: flag seen but data stale in {} rounds",
        mp_relaxed[1]
    );
}
