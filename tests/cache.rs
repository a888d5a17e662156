//! The TTL cache and the dedupe layer: expiry with a manual clock, the sweeper, capacity under
//! concurrency, single flight, at-most-once processing, linearizability on one key, and a
//! proptest against a `HashMap` + clock reference model.
#![cfg(not(loom))] // real threads

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use threadsmith::cache::TtlCache;
use threadsmith::check::{linearizable, Model, Stress};
use threadsmith::clock::ManualClock;
use threadsmith::dedupe::{Deduper, MemoryStore};

const SECOND: Duration = Duration::from_secs(1);

fn cache_on(clock: &ManualClock, ttl: Duration) -> TtlCache<&'static str, u32, ManualClock> {
    TtlCache::builder()
        .default_ttl(ttl)
        .clock(clock.clone())
        .build()
}

#[test]
fn visible_until_the_ttl_and_gone_at_it() {
    let clock = ManualClock::new();
    let cache = cache_on(&clock, Duration::from_secs(10));
    cache.insert("k", 1);
    clock.advance(Duration::from_nanos(9_999_999_999));
    assert_eq!(cache.get("k"), Some(1));
    clock.advance(Duration::from_nanos(1));
    assert_eq!(cache.get("k"), None);
    assert_eq!(cache.len(), 0, "the lookup removed it");
    assert_eq!(cache.stats().expired, 1);
}

#[test]
fn a_per_entry_ttl_beats_the_default_and_no_default_means_forever() {
    let clock = ManualClock::new();
    let cache = cache_on(&clock, Duration::from_secs(10));
    cache.insert_with_ttl("short", 1, SECOND);
    cache.insert_with_ttl("long", 2, Duration::from_secs(100));
    cache.insert("default", 3);
    clock.advance(Duration::from_secs(50));
    assert_eq!(
        (cache.get("short"), cache.get("long"), cache.get("default")),
        (None, Some(2), None)
    );
    let forever = TtlCache::<&str, u32, _>::builder()
        .clock(clock.clone())
        .build();
    forever.insert("k", 1);
    clock.advance(Duration::from_secs(1_000_000_000));
    assert_eq!(forever.get("k"), Some(1));
}

#[test]
fn remove_of_an_expired_entry_deletes_it_and_returns_none() {
    let clock = ManualClock::new();
    let cache = cache_on(&clock, SECOND);
    cache.insert("a", 1);
    cache.insert("b", 2);
    assert_eq!(cache.remove("a"), Some(1));
    clock.advance(SECOND);
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.remove("b"), None);
    assert_eq!(cache.len(), 0);
}

#[test]
fn purge_expired_counts_what_it_removed() {
    let clock = ManualClock::new();
    let cache = cache_on(&clock, SECOND);
    (0..10).for_each(|i| cache.insert(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"][i], 0));
    cache.insert_with_ttl("stays", 0, Duration::from_secs(5));
    clock.advance(SECOND);
    assert_eq!(cache.len(), 11, "expired entries are counted until removed");
    assert_eq!(cache.purge_expired(), 10);
    assert_eq!((cache.len(), cache.get("stays")), (1, Some(0)));
}

#[test]
fn the_sweeper_removes_expired_entries_nobody_asks_for_and_stops_on_drop() {
    let clock = ManualClock::new();
    let cache = TtlCache::builder()
        .default_ttl(SECOND)
        .sweep_interval(Duration::from_millis(1))
        .clock(clock.clone())
        .build();
    (0..100u32).for_each(|i| cache.insert(i, i));
    clock.advance(SECOND);
    // Wait for the background thread (real time passes; the cache's clock does not).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cache.is_empty() {
        assert!(Instant::now() < deadline, "the sweeper never ran");
        std::thread::yield_now();
    }
    assert_eq!(cache.stats().expired, 100);
    drop(cache); // joins the sweeper: a test that hangs here has a sweeper that never stops
}

#[test]
fn len_never_exceeds_the_capacity_under_concurrent_inserts() {
    let cache = TtlCache::<u64, u64>::builder().capacity(1_000).build();
    let done = AtomicBool::new(false);
    let most = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Relaxed) {
                most.fetch_max(cache.len(), Relaxed);
            }
        });
        let writers: Vec<_> = (0..4u64)
            .map(|t| {
                let cache = &cache;
                s.spawn(move || (0..50_000).for_each(|i| cache.insert(t << 32 | i, i)))
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        done.store(true, Relaxed);
    });
    assert!(most.into_inner() <= 1_000);
    assert!(cache.len() <= 1_000);
    assert!(cache.stats().evicted >= 199_000 - 1_000);
}

#[test]
fn eviction_removes_the_least_recently_used() {
    let cache = TtlCache::<u32, u32>::builder()
        .capacity(8)
        .shards(1)
        .build();
    (0..8).for_each(|i| cache.insert(i, i));
    (1..8).for_each(|i| assert_eq!(cache.get(&i), Some(i))); // touch all but 0
    cache.insert(8, 8); // full: the least recently used (0) goes
    assert_eq!(cache.get(&0), None);
    assert!((1..=8).all(|i| cache.get(&i) == Some(i)));
}

#[test]
fn single_flight_runs_the_loader_once_for_eight_callers() {
    let cache = TtlCache::<&str, u64>::new(Duration::from_secs(60));
    let calls = AtomicUsize::new(0);
    let barrier = Barrier::new(8);
    let values: Vec<u64> = std::thread::scope(|s| {
        let callers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    cache.get_or_insert_with("report", || {
                        calls.fetch_add(1, Relaxed);
                        // Hold the flight open until every caller has arrived and is waiting.
                        let deadline = Instant::now() + Duration::from_millis(200);
                        while Instant::now() < deadline {
                            std::thread::yield_now();
                        }
                        42
                    })
                })
            })
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(values, [42; 8]);
    assert_eq!(calls.into_inner(), 1);
    assert_eq!(cache.get("report"), Some(42));
}

#[test]
fn a_panicking_loader_leaves_the_key_free() {
    let cache = TtlCache::<&str, u64>::new(Duration::from_secs(60));
    let failed = catch_unwind(AssertUnwindSafe(|| {
        cache.get_or_insert_with("k", || panic!("backend down"))
    }));
    assert!(failed.is_err());
    assert_eq!(cache.get("k"), None);
    assert_eq!(cache.len(), 0);
    assert_eq!(
        cache.get_or_insert_with("k", || 7),
        7,
        "the next caller loads"
    );
}

#[test]
fn each_message_is_handled_exactly_once_across_eight_threads() {
    let deduper = Deduper::new(MemoryStore::new(), Duration::from_secs(3600));
    let runs: Vec<AtomicUsize> = (0..10_000).map(|_| AtomicUsize::new(0)).collect();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for (id, count) in runs.iter().enumerate() {
                    deduper
                        .process_message(&format!("msg-{id}"), || count.fetch_add(1, Relaxed))
                        .unwrap();
                }
            });
        }
    });
    assert!(runs.iter().all(|c| c.load(Relaxed) == 1));
    assert_eq!(deduper.store().len(), 10_000);
}

#[test]
fn a_claim_expires_after_its_ttl() {
    let clock = ManualClock::new();
    let deduper = Deduper::new(
        MemoryStore::with_clock(clock.clone()),
        Duration::from_secs(60),
    );
    assert_eq!(deduper.process_message("m", || 1).unwrap(), Some(1));
    clock.advance(Duration::from_secs(59));
    assert_eq!(deduper.process_message("m", || 2).unwrap(), None);
    clock.advance(SECOND);
    assert_eq!(
        deduper.process_message("m", || 3).unwrap(),
        Some(3),
        "a redelivery after the TTL runs"
    );
}

/// One key as a register: `get` reads, `insert` writes, `remove` takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct OneKey(Option<u64>);

#[derive(Clone, Debug)]
enum Op {
    Get,
    Insert(u64),
    Remove,
}

impl Model for OneKey {
    type Op = Op;
    type Ret = Option<u64>;
    fn apply(&mut self, op: &Op) -> Option<u64> {
        match op {
            Op::Get => self.0,
            Op::Insert(v) => {
                self.0 = Some(*v);
                None
            }
            Op::Remove => self.0.take(),
        }
    }
}

#[test]
fn operations_on_one_key_are_linearizable() {
    for round in 0..300 {
        let cache = TtlCache::<u8, u64>::builder().build();
        let history = Stress::new(3, 8).seed(round).run(
            &cache,
            |thread, rng| match rng.below(3) {
                0 => Op::Get,
                1 => Op::Insert(thread as u64 * 100 + rng.below(100) as u64),
                _ => Op::Remove,
            },
            |cache, op| match op {
                Op::Get => cache.get(&0),
                Op::Insert(v) => {
                    cache.insert(0, *v);
                    None
                }
                Op::Remove => cache.remove(&0),
            },
        );
        if let Err(violation) = linearizable(&OneKey::default(), &history) {
            panic!("round {round}:\n{violation}");
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    Insert(u8, u32, Option<u16>),
    Get(u8),
    Remove(u8),
    Advance(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..8, any::<u32>(), prop::option::of(1u16..500))
            .prop_map(|(k, v, t)| Step::Insert(k, v, t)),
        (0u8..8).prop_map(Step::Get),
        (0u8..8).prop_map(Step::Remove),
        (0u16..300).prop_map(Step::Advance),
    ]
}

proptest! {
    #[test]
    fn matches_a_hashmap_with_a_clock(steps in prop::collection::vec(step(), 0..120)) {
        let clock = ManualClock::new();
        let cache = TtlCache::builder().default_ttl(Duration::from_millis(200)).clock(clock.clone()).build();
        let mut model: HashMap<u8, (u32, u64)> = HashMap::new(); // value, expiry (ms)
        let mut now = 0u64;
        for step in steps {
            match step {
                Step::Insert(k, v, ttl) => {
                    let ttl = u64::from(ttl.unwrap_or(200));
                    match ttl {
                        200 => cache.insert(k, v),
                        _ => cache.insert_with_ttl(k, v, Duration::from_millis(ttl)),
                    }
                    model.insert(k, (v, now + ttl));
                }
                Step::Get(k) => {
                    let expected = model.get(&k).filter(|(_, exp)| now < *exp).map(|(v, _)| *v);
                    prop_assert_eq!(cache.get(&k), expected);
                }
                Step::Remove(k) => {
                    let expected = model.remove(&k).filter(|(_, exp)| now < *exp).map(|(v, _)| v);
                    prop_assert_eq!(cache.remove(&k), expected);
                }
                Step::Advance(ms) => {
                    clock.advance(Duration::from_millis(u64::from(ms)));
                    now += u64::from(ms);
                }
            }
        }
    }
}

#[test]
fn the_capacity_holds_while_keys_are_being_loaded() {
    let cache = TtlCache::<&str, u32>::builder().capacity(1).build();
    let loading = AtomicBool::new(false);
    let (release, wait) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let (cache, loading) = (&cache, &loading);
        let first = s.spawn(move || {
            cache.get_or_insert_with("a", || {
                loading.store(true, Relaxed);
                wait.recv().unwrap();
                1
            })
        });
        while !loading.load(Relaxed) {
            std::thread::yield_now();
        }
        // "a" is being loaded and fills the only slot: "b" is computed but may not exceed it.
        let b = cache.get_or_insert_with("b", || 2);
        let len_while_loading = cache.len();
        release.send(()).unwrap(); // before any assertion, so a failure cannot hang the test
        assert_eq!(b, 2);
        assert!(len_while_loading <= 1, "len {len_while_loading}");
        assert_eq!(first.join().unwrap(), 1);
    });
    assert!(cache.len() <= 1, "len {}", cache.len());
}
