//! Loom scripts: each thread runs a list of pushes and pops against one stack or queue.
#![cfg(loom)]

use std::collections::BTreeSet;
use std::sync::Mutex as StdMutex;

use threadsmith::sync::{model, thread, Arc};

/// A stack or a queue of `u8`s, as the scripts see it.
pub trait PushPop: Send + Sync + 'static {
    fn create() -> Self;
    fn push(&self, v: u8);
    fn pop(&self) -> Option<u8>;
}

macro_rules! push_pop {
    ($($ty:ty),+) => {$(
        impl PushPop for $ty {
            fn create() -> Self { <$ty>::new() }
            fn push(&self, v: u8) { <$ty>::push(self, v) }
            fn pop(&self) -> Option<u8> { <$ty>::pop(self) }
        }
    )+};
}
push_pop!(
    threadsmith::stack::TreiberStack<u8>,
    threadsmith::check::mutants::RacyPopStack<u8>,
    threadsmith::check::mutants::AbaStack<u8>,
    threadsmith::queue::MsQueue<u8>,
    threadsmith::check::mutants::EarlyPublishQueue<u8>
);

/// What one thread does: `Some(v)` pushes `v`, `None` pops.
pub type Script = &'static [Option<u8>];

/// Runs `scripts` on one thread each against a structure holding `initial` (bottom first), checks
/// that every value came out exactly once, and returns every thread's pop results, as seen
/// across all explored executions.
pub fn explore<S: PushPop>(
    initial: &'static [u8],
    scripts: &'static [Script],
) -> BTreeSet<Vec<Vec<u8>>> {
    let outcomes = std::sync::Arc::new(StdMutex::new(BTreeSet::new()));
    let seen = outcomes.clone();
    model(move || {
        let stack = Arc::new(S::create()); // a stack or a queue
        initial.iter().for_each(|&v| stack.push(v));
        let threads: Vec<_> = scripts
            .iter()
            .map(|script| {
                let stack = stack.clone();
                thread::spawn(move || {
                    let mut popped = Vec::new();
                    for step in *script {
                        match step {
                            Some(v) => stack.push(*v),
                            None => popped.extend(stack.pop()),
                        }
                    }
                    popped
                })
            })
            .collect();
        let mut popped: Vec<Vec<u8>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        popped.push(std::iter::from_fn(|| stack.pop()).collect());

        let mut out: Vec<u8> = popped.concat();
        let mut pushed: Vec<u8> = initial.to_vec();
        pushed.extend(scripts.iter().flat_map(|s| s.iter().flatten()));
        out.sort_unstable();
        pushed.sort_unstable();
        assert_eq!(out, pushed, "values lost or duplicated: {popped:?}");
        seen.lock().unwrap().insert(popped);
    });
    let outcomes = outcomes.lock().unwrap().clone();
    outcomes
}
