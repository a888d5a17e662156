//! The suite for Bloom filters: [`Suite::check_bloom`].

use super::{Failure, Report, Suite};
use crate::bloom::BloomFilter;
use crate::check::Rng;
use crate::sync::thread;

/// A Bloom filter of `u64`s the suite can test: inserts through `&self`, from many threads.
pub trait ConcurrentBloom: Sync {
    /// Adds `item`.
    fn insert(&self, item: u64);
    /// `false` only if `item` was certainly never inserted.
    fn possibly_contains(&self, item: u64) -> bool;
}

impl ConcurrentBloom for BloomFilter<u64> {
    fn insert(&self, item: u64) {
        BloomFilter::insert(self, &item)
    }
    fn possibly_contains(&self, item: u64) -> bool {
        BloomFilter::possibly_contains(self, &item)
    }
}

impl ConcurrentBloom for crate::check::mutants::RacyBitsBloom {
    fn insert(&self, item: u64) {
        crate::check::mutants::RacyBitsBloom::insert(self, item)
    }
    fn possibly_contains(&self, item: u64) -> bool {
        crate::check::mutants::RacyBitsBloom::possibly_contains(self, item)
    }
}

impl Suite {
    /// Runs the Bloom-filter suite on filters made by `new(bits, hashes)`:
    /// 1. **no false negatives**: 100,000 keys inserted from `threads` threads at once (4 by
    ///    default) are all found afterwards;
    /// 2. **the false-positive rate**: sized for 1% (958,506 bits, 7 hashes), the share of
    ///    1,000,000 absent keys reported present is at most 1.25% (the contract's 1.25 × the
    ///    target, which leaves room for a simpler hash than the crate's).
    ///
    /// ```
    /// use threadsmith::bloom::BloomFilter;
    /// use threadsmith::check::conformance::Suite;
    ///
    /// let report = Suite::new().check_bloom(BloomFilter::<u64>::new).unwrap();
    /// assert_eq!(report.stress_values, 100_000);
    /// ```
    pub fn check_bloom<F: ConcurrentBloom>(
        &self,
        new: impl Fn(usize, u32) -> F,
    ) -> Result<Report, Failure> {
        let (n, bits, hashes) = (100_000u64, 958_506, 7);
        let filter = new(bits, hashes);
        let threads = self.stress_threads.max(1) as u64;
        let key = |i: u64| Rng::new(self.seed ^ i).next_u64() | 1; // odd keys in
        thread::scope(|s| {
            for t in 0..threads {
                let filter = &filter;
                s.spawn(move || {
                    (t * n / threads..(t + 1) * n / threads).for_each(|i| filter.insert(key(i)))
                });
            }
        });
        if let Some(missing) = (0..n).find(|&i| !filter.possibly_contains(key(i))) {
            return Err(Failure::Filter {
                check: "false negative",
                detail: format!("inserted key {:#x} (#{missing}) is not found", key(missing)),
            });
        }
        let mut absent = Rng::new(!self.seed);
        let queries = 1_000_000;
        let hits = (0..queries)
            .filter(|_| filter.possibly_contains(absent.next_u64() & !1)) // even keys out
            .count();
        let rate = hits as f64 / queries as f64;
        if rate > 0.0125 {
            return Err(Failure::Filter {
                check: "false-positive rate",
                detail: format!(
                    "{:.3}% of absent keys reported present; the target is 1%",
                    rate * 100.0
                ),
            });
        }
        Ok(Report {
            sequential_ops: queries,
            histories: 0,
            stress_values: n as usize,
        })
    }
}
