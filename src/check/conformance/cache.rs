//! The suite for TTL maps: [`Suite::check_ttl_map`].

use std::time::Duration;

use super::{Failure, Report, Suite};
use crate::cache::TtlCache;
use crate::clock::ManualClock;
use crate::sync::thread;

/// A concurrent map of `u64`s whose entries expire `ttl` after insertion, by its clock.
pub trait ConcurrentTtlMap: Sync {
    /// Stores `value` under `key` (replacing any value), for the map's TTL.
    fn insert(&self, key: u64, value: u64);
    /// The value under `key`, if inserted less than the TTL ago.
    fn get(&self, key: u64) -> Option<u64>;
}

impl ConcurrentTtlMap for TtlCache<u64, u64, ManualClock> {
    fn insert(&self, key: u64, value: u64) {
        TtlCache::insert(self, key, value)
    }
    fn get(&self, key: u64) -> Option<u64> {
        TtlCache::get(self, &key)
    }
}

impl ConcurrentTtlMap for crate::check::mutants::InclusiveExpiryMap {
    fn insert(&self, key: u64, value: u64) {
        crate::check::mutants::InclusiveExpiryMap::insert(self, key, value)
    }
    fn get(&self, key: u64) -> Option<u64> {
        crate::check::mutants::InclusiveExpiryMap::get(self, key)
    }
}

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Filter { check, detail }
}

impl Suite {
    /// Runs the TTL-map suite on maps made by `new(ttl, clock)`:
    /// 1. **expiry**: an entry is visible until `ttl` has passed and gone at exactly `ttl`;
    ///    re-inserting restarts its time; the clock is the only time source;
    /// 2. **no lost updates**: `threads` threads (4 by default) insert 20,000 distinct keys each
    ///    at once, then every key must be there with its value.
    ///
    /// Failures are reported as [`Failure::Filter`] with the check's name.
    ///
    /// ```
    /// use threadsmith::cache::TtlCache;
    /// use threadsmith::check::conformance::Suite;
    ///
    /// Suite::new()
    ///     .check_ttl_map(|ttl, clock| TtlCache::builder().default_ttl(ttl).clock(clock).build())
    ///     .expect("the crate's cache conforms");
    /// ```
    pub fn check_ttl_map<M: ConcurrentTtlMap>(
        &self,
        new: impl Fn(Duration, ManualClock) -> M,
    ) -> Result<Report, Failure> {
        let ttl = Duration::from_secs(10);
        let clock = ManualClock::new();
        let map = new(ttl, clock.clone());
        map.insert(1, 100);
        clock.advance(ttl - Duration::from_nanos(1));
        if map.get(1) != Some(100) {
            return Err(fail("expiry", "gone 1 ns before its TTL".into()));
        }
        map.insert(2, 200);
        clock.advance(Duration::from_nanos(1));
        if map.get(1).is_some() {
            return Err(fail("expiry", "still visible at exactly its TTL".into()));
        }
        if map.get(2) != Some(200) {
            return Err(fail(
                "expiry",
                "a younger entry expired with an older one".into(),
            ));
        }
        map.insert(2, 201);
        clock.advance(ttl - Duration::from_nanos(1));
        if map.get(2) != Some(201) {
            return Err(fail(
                "expiry",
                "re-inserting did not restart the entry's time".into(),
            ));
        }
        let threads = self.stress_threads.max(2) as u64;
        let per_thread = 20_000u64;
        let map = new(ttl, ManualClock::new());
        thread::scope(|s| {
            for t in 0..threads {
                let map = &map;
                s.spawn(move || (0..per_thread).for_each(|i| map.insert(t << 32 | i, i)));
            }
        });
        for t in 0..threads {
            if let Some(i) = (0..per_thread).find(|&i| map.get(t << 32 | i) != Some(i)) {
                return Err(fail(
                    "lost update",
                    format!(
                        "thread {t}'s insert #{i} is missing or wrong after all threads joined"
                    ),
                ));
            }
        }
        Ok(Report {
            sequential_ops: 0,
            histories: 0,
            stress_values: (threads * per_thread) as usize,
        })
    }
}
