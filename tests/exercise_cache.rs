//! The book's exercise for "A thread-safe cache (Q7)": add a TTL to a striped map, graded by
//! the TTL-map suite (expiry by a manual clock, no lost updates from concurrent inserts). This
//! file is the solution; the chapter `book/src/cache.md` shows the starter and includes the
//! parts between the `ANCHOR` marks.
//!
//! Check your own version with `cargo test --test exercise_cache`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: types
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use threadsmith::check::conformance::{ConcurrentTtlMap, Suite};
use threadsmith::clock::{Clock, ManualClock};

/// A map in 16 stripes, each a lock over a `HashMap` of `key -> (value, expires_at)`.
pub struct MyTtlMap {
    stripes: Vec<Mutex<HashMap<u64, (u64, Instant)>>>,
    hasher: RandomState,
    ttl: Duration,
    clock: ManualClock,
}

impl MyTtlMap {
    pub fn new(ttl: Duration, clock: ManualClock) -> Self {
        MyTtlMap {
            stripes: (0..16).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            ttl,
            clock,
        }
    }

    fn stripe(&self, key: u64) -> &Mutex<HashMap<u64, (u64, Instant)>> {
        &self.stripes[self.hasher.hash_one(key) as usize % self.stripes.len()]
    }
}
// ANCHOR_END: types

// ANCHOR: solution
impl ConcurrentTtlMap for MyTtlMap {
    fn insert(&self, key: u64, value: u64) {
        let expires_at = self.clock.now() + self.ttl;
        self.stripe(key)
            .lock()
            .unwrap()
            .insert(key, (value, expires_at));
    }

    fn get(&self, key: u64) -> Option<u64> {
        let now = self.clock.now();
        let mut stripe = self.stripe(key).lock().unwrap();
        match stripe.get(&key) {
            Some(&(value, expires_at)) if now < expires_at => Some(value),
            Some(_) => {
                stripe.remove(&key); // expired: remove it on the way (lazy expiry)
                None
            }
            None => None,
        }
    }
}
// ANCHOR_END: solution

// ANCHOR: test
#[test]
fn my_ttl_map_conforms() {
    let report = Suite::new()
        .check_ttl_map(MyTtlMap::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: test
