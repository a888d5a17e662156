//! A striped TTL cache with single-flight loading.
//!
//! **Design.** `N` stripes (a power of two), each one lock over a hash map; a key's hash picks
//! its stripe, so threads working on different keys rarely meet. Each entry carries its expiry
//! time, computed from the cache's [`Clock`]. Expiry is *lazy*: a lookup
//! that finds an expired entry removes it. An optional background sweeper
//! ([`sweep_interval`](TtlCacheBuilder::sweep_interval)) also removes expired entries nobody
//! asks for; it stops when the cache is dropped.
//!
//! **Capacity.** With a capacity, each stripe holds at most `capacity / stripes` entries, so
//! [`len`](TtlCache::len) never exceeds the capacity. A full stripe first drops its expired
//! entries, then evicts its least recently used eighth in one batch: O(1) amortised per insert,
//! and exact LRU within the batch, without the linked list that true LRU needs on every `get`.
//!
//! **Single flight.** [`get_or_insert_with`](TtlCache::get_or_insert_with) runs the loader for
//! a key once while concurrent callers for that key wait for its value, instead of stampeding
//! the backend (the thundering herd). A loader that panics leaves the key free: one waiter
//! takes over as the loader.
//!
//! **Progress.** Blocking: every operation takes one stripe lock for a short, bounded critical
//! section; loaders run outside the lock.
//!
//! ```
//! use std::time::Duration;
//! use threadsmith::cache::TtlCache;
//! use threadsmith::clock::ManualClock;
//!
//! let clock = ManualClock::new();
//! let cache = TtlCache::builder()
//!     .default_ttl(Duration::from_secs(60))
//!     .clock(clock.clone())
//!     .build();
//! cache.insert("session", 42);
//! assert_eq!(cache.get("session"), Some(42));
//! clock.advance(Duration::from_secs(60));
//! assert_eq!(cache.get("session"), None); // gone at exactly `ttl`
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::panic::{self, AssertUnwindSafe};

use hashbrown::{DefaultHashBuilder, HashTable};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::clock::{nanos_since, saturating_nanos as nanos, Clock, SystemClock};
use crate::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::sync::{CachePadded, Condvar, Mutex};

/// A striped, thread-safe cache whose entries expire after a time to live.
///
/// See the [module docs](self). Clones of values are handed out (`V: Clone`); wrap large
/// values in an `Arc`.
pub struct TtlCache<K, V, C = SystemClock> {
    inner: Arc<Inner<K, V, C>>,
    sweeper: Option<crate::sync::thread::JoinHandle<()>>,
}

struct Inner<K, V, C> {
    stripes: Box<[Locked<K, V>]>,
    hasher: DefaultHashBuilder,
    default_ttl: Option<u64>,
    /// Entries per stripe at most (`usize::MAX`: unbounded).
    per_stripe: usize,
    len: AtomicUsize,
    clock: C,
    origin: Instant,
    /// Set when the cache is dropped, so the sweeper stops.
    stop: Mutex<bool>,
    wake: Condvar,
}

/// One stripe behind its lock, on its own cache line.
type Locked<K, V> = CachePadded<Mutex<Stripe<K, V>>>;

struct Stripe<K, V> {
    /// Nodes keep their key's hash, so a loader can find its marker again without the key
    /// (which moved into the table) and the table can grow without hashing again.
    table: HashTable<Node<K, V>>,
    stats: Stats,
}

struct Node<K, V> {
    key: K,
    hash: u64,
    slot: Slot<V>,
}

enum Slot<V> {
    Ready(Entry<V>),
    /// A `get_or_insert_with` is computing the value.
    Loading(Arc<Flight<V>>),
}

struct Entry<V> {
    value: V,
    /// Nanoseconds since `origin`; `u64::MAX`: never.
    expires: u64,
    last_access: u64,
}

/// One in-progress load: waiters sleep here until the loader finishes or fails.
struct Flight<V> {
    outcome: Mutex<Option<Option<V>>>, // None: running; Some(None): failed; Some(Some(v)): done
    done: Condvar,
}

/// What the cache has seen since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Lookups that found a live entry.
    pub hits: usize,
    /// Lookups that found nothing (or an expired entry).
    pub misses: usize,
    /// Entries removed because their time ran out (lazily, by `purge_expired` or the sweeper).
    pub expired: usize,
    /// Entries removed to make room under the capacity.
    pub evicted: usize,
}

impl Stats {
    fn add(&mut self, other: &Stats) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.expired += other.expired;
        self.evicted += other.evicted;
    }
}

/// Configures a [`TtlCache`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct TtlCacheBuilder<K, V, C = SystemClock> {
    default_ttl: Option<Duration>,
    capacity: Option<usize>,
    shards: Option<usize>,
    sweep_interval: Option<Duration>,
    clock: C,
    _types: std::marker::PhantomData<fn(K, V)>,
}

impl<K, V, C> fmt::Debug for TtlCacheBuilder<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCacheBuilder")
            .field("default_ttl", &self.default_ttl)
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .field("sweep_interval", &self.sweep_interval)
            .finish_non_exhaustive()
    }
}

impl<K, V, C> TtlCacheBuilder<K, V, C> {
    /// The TTL of entries added by [`insert`](TtlCache::insert). Without it they never expire.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// At most `capacity` entries at any instant (at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity.max(1));
        self
    }

    /// The number of stripes, rounded up to a power of two (default: 4 × the available
    /// parallelism). With a capacity, never more than the capacity allows.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards.max(1));
        self
    }

    /// Runs a background thread that removes expired entries every `interval` of real time.
    /// It stops when the cache is dropped.
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = Some(interval);
        self
    }

    /// Reads time from `clock` for every expiry decision.
    pub fn clock<C2: Clock>(self, clock: C2) -> TtlCacheBuilder<K, V, C2> {
        TtlCacheBuilder {
            default_ttl: self.default_ttl,
            capacity: self.capacity,
            shards: self.shards,
            sweep_interval: self.sweep_interval,
            clock,
            _types: std::marker::PhantomData,
        }
    }
}

impl<K, V, C> TtlCacheBuilder<K, V, C>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
{
    /// Builds the cache (and starts the sweeper, if configured).
    pub fn build(self) -> TtlCache<K, V, C> {
        let mut shards = self
            .shards
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(4, |n| n.get() * 4))
            .next_power_of_two();
        let per_stripe = match self.capacity {
            Some(capacity) => {
                while shards > capacity {
                    shards /= 2; // every stripe must hold at least one entry
                }
                capacity / shards
            }
            None => usize::MAX,
        };
        let origin = self.clock.now();
        let inner = Arc::new(Inner {
            stripes: (0..shards)
                .map(|_| {
                    CachePadded::new(Mutex::new(Stripe {
                        table: HashTable::new(),
                        stats: Stats::default(),
                    }))
                })
                .collect(),
            hasher: DefaultHashBuilder::default(),
            default_ttl: self.default_ttl.map(nanos),
            per_stripe,
            len: AtomicUsize::new(0),
            clock: self.clock,
            origin,
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let sweeper = self.sweep_interval.map(|interval| {
            let weak = Arc::downgrade(&inner);
            crate::sync::thread::Builder::new()
                .name("ttl-cache-sweeper".into())
                .spawn(move || sweep(weak, interval))
                .expect("spawning the sweeper thread")
        });
        TtlCache { inner, sweeper }
    }
}

/// The sweeper's loop: purge, then wait `interval` (real time) or until the cache is dropped.
fn sweep<K, V, C>(cache: Weak<Inner<K, V, C>>, interval: Duration)
where
    K: Hash + Eq,
    C: Clock,
{
    loop {
        let Some(inner) = cache.upgrade() else { return };
        inner.purge_expired();
        let mut stop = inner.stop.lock();
        if *stop {
            return;
        }
        inner.wake.wait_for(&mut stop, interval);
        if *stop {
            return;
        }
    }
}

impl<K, V> TtlCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache whose entries live for `default_ttl`, on the system clock, without capacity.
    pub fn new(default_ttl: Duration) -> Self {
        Self::builder().default_ttl(default_ttl).build()
    }

    /// A builder, starting from: no default TTL, no capacity, default stripes, no sweeper, the
    /// system clock.
    pub fn builder() -> TtlCacheBuilder<K, V> {
        TtlCacheBuilder {
            default_ttl: None,
            capacity: None,
            shards: None,
            sweep_interval: None,
            clock: SystemClock,
            _types: std::marker::PhantomData,
        }
    }
}

impl<K, V, C> Inner<K, V, C>
where
    K: Hash + Eq,
    C: Clock,
{
    fn now(&self) -> u64 {
        nanos_since(&self.clock, self.origin)
    }

    /// The key's hash and its stripe (picked by the high bits; the table uses the low ones).
    fn stripe<Q: ?Sized + Hash>(&self, key: &Q) -> (u64, &Mutex<Stripe<K, V>>) {
        let hash = self.hasher.hash_one(key);
        (
            hash,
            &self.stripes[(hash >> 48) as usize & (self.stripes.len() - 1)],
        )
    }

    fn purge_expired(&self) -> usize {
        let now = self.now();
        let mut removed = 0;
        for stripe in self.stripes.iter() {
            let mut stripe = stripe.lock();
            let before = stripe.table.len();
            stripe
                .table
                .retain(|n| !matches!(&n.slot, Slot::Ready(e) if e.expires <= now));
            let gone = before - stripe.table.len();
            stripe.stats.expired += gone;
            removed += gone;
        }
        // Relaxed: a gauge, kept exact by updating it under the stripe locks.
        self.len.fetch_sub(removed, Relaxed);
        removed
    }
}

impl<K, V, C> TtlCache<K, V, C>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
{
    /// Stores `value` under `key` with the default TTL (forever if there is none), replacing
    /// any previous value.
    pub fn insert(&self, key: K, value: V) {
        self.put(key, value, self.inner.default_ttl);
    }

    /// Stores `value` under `key` for `ttl`, whatever the default.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        self.put(key, value, Some(nanos(ttl)));
    }

    /// Stores `value` under `key` for `ttl` only if no live entry is there; says whether it did.
    /// The check and the insert are one step under the stripe's lock.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cache = threadsmith::cache::TtlCache::new(Duration::from_secs(60));
    /// assert!(cache.insert_if_absent("id-1", (), Duration::from_secs(60)));
    /// assert!(!cache.insert_if_absent("id-1", (), Duration::from_secs(60)));
    /// ```
    pub fn insert_if_absent(&self, key: K, value: V, ttl: Duration) -> bool {
        let now = self.inner.now();
        let (hash, stripe) = self.inner.stripe(&key);
        let mut stripe = stripe.lock();
        let live = stripe
            .table
            .find(hash, |n| n.key == key)
            .is_some_and(|n| match &n.slot {
                Slot::Ready(e) => e.expires > now,
                Slot::Loading(_) => true, // being loaded: someone holds the claim
            });
        if live {
            return false;
        }
        self.store(&mut stripe, hash, key, value, Some(nanos(ttl)), now);
        true
    }

    fn put(&self, key: K, value: V, ttl: Option<u64>) {
        let now = self.inner.now();
        let (hash, stripe) = self.inner.stripe(&key);
        let mut stripe = stripe.lock();
        self.store(&mut stripe, hash, key, value, ttl, now);
    }

    /// Inserts under the stripe's lock, making room first if the stripe is full.
    fn store(
        &self,
        stripe: &mut Stripe<K, V>,
        hash: u64,
        key: K,
        value: V,
        ttl: Option<u64>,
        now: u64,
    ) {
        let entry = Entry {
            value,
            expires: ttl.map_or(u64::MAX, |t| now.saturating_add(t)),
            last_access: now,
        };
        if let Some(node) = stripe.table.find_mut(hash, |n| n.key == key) {
            node.slot = Slot::Ready(entry); // replaces a value or a loading marker: size unchanged
            return;
        }
        if stripe.table.len() >= self.inner.per_stripe {
            self.make_room(stripe, now);
            if stripe.table.len() >= self.inner.per_stripe {
                return; // every entry is a key being loaded: keep the bound, skip caching
            }
        }
        stripe.table.insert_unique(
            hash,
            Node {
                key,
                hash,
                slot: Slot::Ready(entry),
            },
            |n| n.hash,
        );
        // Relaxed: a gauge (see `purge_expired`).
        self.inner.len.fetch_add(1, Relaxed);
    }

    /// Drops the stripe's expired entries; if none, its least recently used eighth.
    fn make_room(&self, stripe: &mut Stripe<K, V>, now: u64) {
        let before = stripe.table.len();
        stripe
            .table
            .retain(|n| !matches!(&n.slot, Slot::Ready(e) if e.expires <= now));
        let expired = before - stripe.table.len();
        stripe.stats.expired += expired;
        let mut evicted = 0;
        if expired == 0 {
            let mut ages: Vec<u64> = stripe
                .table
                .iter()
                .filter_map(|n| match &n.slot {
                    Slot::Ready(e) => Some(e.last_access),
                    Slot::Loading(_) => None, // never evict a key that callers are waiting on
                })
                .collect();
            if !ages.is_empty() {
                let cut = (ages.len() / 8).max(1) - 1;
                let (_, &mut oldest_kept, _) = ages.select_nth_unstable(cut);
                let mut budget = cut + 1;
                stripe.table.retain(|n| match &n.slot {
                    Slot::Ready(e) if budget > 0 && e.last_access <= oldest_kept => {
                        budget -= 1;
                        false
                    }
                    _ => true,
                });
                evicted = cut + 1 - budget;
            }
            stripe.stats.evicted += evicted;
        }
        // Relaxed: a gauge (see `purge_expired`).
        self.inner.len.fetch_sub(expired + evicted, Relaxed);
    }

    /// The value under `key`, if it is there and has not expired. An expired entry found here
    /// is removed.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let now = self.inner.now();
        let (hash, stripe) = self.inner.stripe(key);
        let mut stripe = stripe.lock();
        let stripe = &mut *stripe;
        let found = match stripe.table.find_entry(hash, |n| n.key.borrow() == key) {
            Ok(mut node) => match &mut node.get_mut().slot {
                Slot::Ready(e) if e.expires > now => {
                    e.last_access = now;
                    Some(e.value.clone())
                }
                Slot::Ready(_) => {
                    node.remove();
                    stripe.stats.expired += 1;
                    // Relaxed: a gauge (see `purge_expired`).
                    self.inner.len.fetch_sub(1, Relaxed);
                    None
                }
                Slot::Loading(_) => None,
            },
            Err(_) => None,
        };
        if found.is_some() {
            stripe.stats.hits += 1;
        } else {
            stripe.stats.misses += 1;
        }
        found
    }

    /// Removes `key` and returns its value if it had not expired (an expired entry is removed
    /// too, and `None` returned).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let now = self.inner.now();
        let (hash, stripe) = self.inner.stripe(key);
        let mut stripe = stripe.lock();
        let stripe = &mut *stripe;
        let node = stripe
            .table
            .find_entry(hash, |n| n.key.borrow() == key)
            .ok()?;
        if matches!(node.get().slot, Slot::Loading(_)) {
            return None; // being loaded: nothing to remove yet
        }
        let (
            Node {
                slot: Slot::Ready(e),
                ..
            },
            _,
        ) = node.remove()
        else {
            unreachable!("checked just above")
        };
        // Relaxed: a gauge (see `purge_expired`).
        self.inner.len.fetch_sub(1, Relaxed);
        if e.expires > now {
            Some(e.value)
        } else {
            stripe.stats.expired += 1;
            None
        }
    }

    // ANCHOR: single_flight
    /// The value under `key`; if there is none, computes it with `load`, stores it (default
    /// TTL) and returns it. Concurrent callers for the same key wait for one computation
    /// instead of each running their own. If `load` panics, the panic reaches this caller, the
    /// key is left free, and one waiting caller runs its own `load` instead.
    pub fn get_or_insert_with<F: FnOnce() -> V>(&self, key: K, load: F) -> V {
        let (hash, stripe_lock) = self.inner.stripe(&key);
        let mut stripe = stripe_lock.lock();
        loop {
            let now = self.inner.now();
            let flight = match stripe.table.find_mut(hash, |n| n.key == key) {
                Some(Node {
                    slot: Slot::Ready(e),
                    ..
                }) if e.expires > now => {
                    e.last_access = now;
                    let value = e.value.clone();
                    stripe.stats.hits += 1;
                    return value;
                }
                Some(Node {
                    slot: Slot::Loading(flight),
                    ..
                }) => Arc::clone(flight),
                _ => break, // absent or expired: we load it
            };
            // Someone else is loading: wait for their outcome without holding the stripe.
            drop(stripe);
            let mut outcome = flight.outcome.lock();
            while outcome.is_none() {
                flight.done.wait(&mut outcome);
            }
            if let Some(Some(value)) = outcome.as_ref() {
                return value.clone();
            }
            drop(outcome);
            stripe = stripe_lock.lock(); // the loader failed: look again, perhaps load ourselves
        }
        // We are the loader: mark the key so that others wait, then load without the lock.
        stripe.stats.misses += 1;
        let flight = Arc::new(Flight {
            outcome: Mutex::new(None),
            done: Condvar::new(),
        });
        let marker = Slot::Loading(Arc::clone(&flight));
        match stripe.table.find_mut(hash, |n| n.key == key) {
            Some(node) => node.slot = marker, // an expired entry: reuse its place
            None => {
                if stripe.table.len() >= self.inner.per_stripe {
                    self.make_room(&mut stripe, self.inner.now());
                    if stripe.table.len() >= self.inner.per_stripe {
                        // Every entry is a key being loaded: no room for a marker without
                        // breaking the capacity, so load for this caller alone, uncached.
                        drop(stripe);
                        return load();
                    }
                }
                stripe.table.insert_unique(
                    hash,
                    Node {
                        key,
                        hash,
                        slot: marker,
                    },
                    |n| n.hash,
                );
                // Relaxed: a gauge (see `purge_expired`).
                self.inner.len.fetch_add(1, Relaxed);
            }
        }
        drop(stripe);
        let loaded = panic::catch_unwind(AssertUnwindSafe(load));
        // Publish the outcome: replace our marker (if it is still ours) and wake the waiters.
        let mut stripe = stripe_lock.lock();
        let mine = |n: &Node<K, V>| matches!(&n.slot, Slot::Loading(f) if Arc::ptr_eq(f, &flight));
        match &loaded {
            Ok(value) => {
                let now = self.inner.now();
                if let Some(node) = stripe.table.find_mut(hash, mine) {
                    node.slot = Slot::Ready(Entry {
                        value: value.clone(),
                        expires: self
                            .inner
                            .default_ttl
                            .map_or(u64::MAX, |t| now.saturating_add(t)),
                        last_access: now,
                    });
                }
            }
            Err(_) => {
                if let Ok(node) = stripe.table.find_entry(hash, mine) {
                    node.remove(); // leave the key free
                    self.inner.len.fetch_sub(1, Relaxed);
                }
            }
        }
        drop(stripe);
        *flight.outcome.lock() = Some(loaded.as_ref().ok().cloned());
        flight.done.notify_all();
        match loaded {
            Ok(value) => value,
            Err(panic) => panic::resume_unwind(panic),
        }
    }
    // ANCHOR_END: single_flight

    /// Removes every expired entry now; returns how many.
    pub fn purge_expired(&self) -> usize {
        self.inner.purge_expired()
    }

    /// Entries stored, counting expired ones not yet removed (and keys being loaded).
    pub fn len(&self) -> usize {
        // Relaxed: a gauge.
        self.inner.len.load(Relaxed)
    }

    /// Whether no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hits, misses, expiries and evictions so far, summed over the stripes.
    pub fn stats(&self) -> Stats {
        let mut total = Stats::default();
        for stripe in self.inner.stripes.iter() {
            total.add(&stripe.lock().stats);
        }
        total
    }
}

impl<K, V, C> Drop for TtlCache<K, V, C> {
    fn drop(&mut self) {
        if let Some(sweeper) = self.sweeper.take() {
            *self.inner.stop.lock() = true;
            self.inner.wake.notify_all();
            // The sweeper wakes at once and exits; a panic in it has nothing left to report to.
            let _ = sweeper.join();
        }
    }
}

impl<K, V, C> fmt::Debug for TtlCache<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCache")
            .field("len", &self.inner.len.load(Relaxed))
            .field("stripes", &self.inner.stripes.len())
            .field(
                "default_ttl",
                &self.inner.default_ttl.map(Duration::from_nanos),
            )
            .field("sweeper", &self.sweeper.is_some())
            .finish_non_exhaustive()
    }
}
