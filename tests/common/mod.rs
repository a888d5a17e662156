//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses its own subset

#[cfg(loom)]
pub mod scripts;

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

/// Counts how many times each of `n` values was dropped.
#[derive(Clone)]
pub struct DropLedger {
    drops: Arc<Vec<AtomicU8>>,
}

impl DropLedger {
    pub fn new(n: usize) -> Self {
        Self {
            drops: Arc::new((0..n).map(|_| AtomicU8::new(0)).collect()),
        }
    }

    /// Value `id`, which records its drop here.
    pub fn value(&self, id: usize) -> Tracked {
        Tracked {
            id,
            ledger: self.clone(),
        }
    }

    /// Panics unless every value was dropped exactly once.
    pub fn assert_each_dropped_once(&self) {
        for (id, count) in self.drops.iter().enumerate() {
            let count = count.load(Relaxed);
            assert_eq!(count, 1, "value {id} was dropped {count} times");
        }
    }
}

/// A value that counts its drops in a [`DropLedger`].
pub struct Tracked {
    pub id: usize,
    ledger: DropLedger,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Relaxed: the test reads the counts after joining every thread.
        self.ledger.drops[self.id].fetch_add(1, Relaxed);
    }
}

/// Operations count for the stress tests: `THREADSMITH_STRESS_OPS` (so valgrind can run a
/// smaller stress in CI), 100,000 otherwise.
pub fn stress_ops() -> usize {
    std::env::var("THREADSMITH_STRESS_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}
