//! A deliberate data race, for trying race detectors on (the debugging chapter,
//! `book/src/debugging.md`).
//!
//! ```sh
//! cargo build --example racy
//! valgrind --tool=helgrind target/debug/examples/racy          # reports the race
//! valgrind --tool=drd --check-stack-var=yes target/debug/examples/racy  # so does DRD
//! valgrind --tool=helgrind target/debug/examples/racy atomic   # no race in our code
//! ```
//!
//! DRD needs `--check-stack-var=yes` because the counter is a local variable, on the spawning
//! thread's stack. In `atomic` mode helgrind still reports a few "races" inside std: its locks
//! and thread exits use futexes, which valgrind does not model. None of them names this file's
//! code, and that is what the `helgrind` step of `.ci/run` checks.
//!
//! Modes (the first argument):
//! - `racy` (default): two threads increment one `u64` through a raw pointer, with plain loads
//!   and stores. This is a data race, which is undefined behaviour: the program is wrong, and
//!   not only in its result. It exists so that a tool has something to find; never copy it.
//! - `atomic`: the same counter as an `AtomicU64` with `fetch_add`: no race, no lost update.
//!
//! It prints the final count; in `racy` mode it is often below the expected total.

// ANCHOR: racy
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

const THREADS: usize = 2;
const INCREMENTS: u64 = 100_000;

/// A raw pointer that we (wrongly) promise is fine to send to another thread.
#[derive(Clone, Copy)]
struct SharedPtr(*mut u64);

// SAFETY: this is the bug on purpose. Nothing synchronizes the two threads' accesses through
// the pointer, so sending it is *not* sound; the example exists to be caught by a detector.
unsafe impl Send for SharedPtr {}

fn racy() -> u64 {
    let mut counter = 0u64;
    let shared = SharedPtr(&mut counter);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(move || {
                let p = shared;
                for _ in 0..INCREMENTS {
                    // SAFETY: NOT safe — both threads read and write `counter` at once (a data
                    // race, undefined behaviour). Deliberate: this is what helgrind and DRD find.
                    // The volatile accesses keep the compiler from merging the increments into
                    // one add, so the race stays visible in the output as well.
                    unsafe { p.0.write_volatile(p.0.read_volatile() + 1) };
                }
            });
        }
    });
    counter
}
// ANCHOR_END: racy

// ANCHOR: atomic
fn atomic() -> u64 {
    let counter = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..INCREMENTS {
                    // Relaxed: the count publishes no other data; `join` below orders every
                    // increment before the final load.
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("an incrementing thread panicked");
    }
    // Relaxed: after both threads were joined.
    counter.load(Ordering::Relaxed)
}
// ANCHOR_END: atomic

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "racy".into());
    let total = match mode.as_str() {
        "racy" => racy(),
        "atomic" => atomic(),
        other => {
            eprintln!("unknown mode {other:?}: use `racy` or `atomic`");
            std::process::exit(2);
        }
    };
    let expected = THREADS as u64 * INCREMENTS;
    println!("{mode}: counted {total} of {expected} increments");
}
