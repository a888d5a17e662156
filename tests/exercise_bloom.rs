//! The book's exercise for "A Bloom filter (S3)": `insert` and `possibly_contains` over atomic
//! words, graded by the Bloom suite (no false negatives from concurrent inserts, and the
//! false-positive rate). This file is the solution; the chapter `book/src/bloom.md` shows the
//! starter and includes the parts between the `ANCHOR` marks.
//!
//! Check your own version with `cargo test --test exercise_bloom`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: types
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use threadsmith::check::conformance::{ConcurrentBloom, Suite};

/// A Bloom filter of `u64`s: `bits` bits in atomic words, `hashes` probes per key.
pub struct MyBloom {
    words: Vec<AtomicU64>,
    bits: u64,
    hashes: u32,
}

impl MyBloom {
    pub fn new(bits: usize, hashes: u32) -> Self {
        let words = bits.div_ceil(64);
        MyBloom {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            bits: words as u64 * 64,
            hashes,
        }
    }
}
// ANCHOR_END: types

// ANCHOR: solution
impl MyBloom {
    /// The `i`-th probe of `item`: double hashing, `h1 + i·h2`, from two halves of one hash.
    fn probe(&self, item: u64, i: u32) -> (usize, u64) {
        let mut hasher = DefaultHasher::new(); // SipHash with fixed keys: the same every run
        item.hash(&mut hasher);
        let hash = hasher.finish();
        let (h1, h2) = (hash & 0xFFFF_FFFF, (hash >> 32) | 1);
        let bit = (h1 + u64::from(i) * h2) % self.bits;
        ((bit / 64) as usize, 1 << (bit % 64))
    }
}

impl ConcurrentBloom for MyBloom {
    fn insert(&self, item: u64) {
        for i in 0..self.hashes {
            let (word, mask) = self.probe(item, i);
            // Relaxed: the bits are the only state, and `fetch_or` never loses one.
            self.words[word].fetch_or(mask, Relaxed);
        }
    }

    fn possibly_contains(&self, item: u64) -> bool {
        (0..self.hashes).all(|i| {
            let (word, mask) = self.probe(item, i);
            self.words[word].load(Relaxed) & mask != 0
        })
    }
}
// ANCHOR_END: solution

// ANCHOR: test
#[test]
fn my_bloom_conforms() {
    let report = Suite::new()
        .check_bloom(MyBloom::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: test
