//! One limiter per key, with bounded memory.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

use hashbrown::{DefaultHashBuilder, HashTable};

use super::RateLimiter;
use crate::clock::nanos_between;
use crate::clock::{Clock, SystemClock};
use crate::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::sync::{CachePadded, Mutex};

/// One limiter per key (a user, an IP address), made on first use by a factory, in a striped
/// map whose memory is bounded: at most `max_keys` limiters exist at once (plus at most one
/// per stripe, when a new key lands in an empty stripe of a full map).
///
/// The factory receives the keyed limiter's clock: build the limiters on it. A request reads
/// that clock once and hands the reading to its key's limiter
/// ([`RateLimiter::try_acquire_n_at`]), and the key is hashed once (foldhash, randomly seeded,
/// so keys chosen by an attacker cannot be made to collide).
///
/// An attacker who sends from ever more keys must not grow memory without bound. A key that has
/// been idle for `idle_timeout` is evicted when room is needed, and its next request starts
/// with a fresh limiter (for a bucket: full). If every key is active when a new one arrives,
/// the least recently used eighth of its stripe is evicted. The limit then fails *open* for
/// the evicted keys, whose budgets restart, but never for the new key, which only gets what a
/// fresh limiter allows. Size `max_keys` above the number of keys you expect to be active
/// within `idle_timeout`, and eviction only ever removes idle keys.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::clock::ManualClock;
/// use threadsmith::ratelimit::{Keyed, Rate, TokenBucket};
///
/// let clock = ManualClock::new();
/// let per_user = {
///     let clock = clock.clone();
///     Keyed::with_clock(10_000, Duration::from_secs(60), clock, |clock: &ManualClock| {
///         TokenBucket::with_clock(2, Rate::per_second(1), clock.clone())
///     })
/// };
/// assert!(per_user.try_acquire(&"alice"));
/// assert!(per_user.try_acquire(&"alice"));
/// assert!(!per_user.try_acquire(&"alice")); // alice spent her burst
/// assert!(per_user.try_acquire(&"bob"));    // bob has his own
/// assert_eq!(per_user.len(), 2);
/// ```
pub struct Keyed<K, L, C = SystemClock> {
    stripes: Box<[CachePadded<Stripe<K, L>>]>,
    hasher: DefaultHashBuilder,
    make: Box<dyn Fn(&C) -> L + Send + Sync>,
    /// Limiters alive, over all stripes.
    len: AtomicUsize,
    max_keys: usize,
    idle: u64,
    clock: C,
    origin: Instant,
}

/// One lock's share of the keys.
type Stripe<K, L> = Mutex<HashTable<Tracked<K, L>>>;

struct Tracked<K, L> {
    key: K,
    /// The key's hash, kept so the table can grow without hashing again.
    hash: u64,
    limiter: L,
    /// Nanoseconds since `origin` of the key's last request.
    last_seen: u64,
}

impl<K: Hash + Eq + Clone + Send, L: RateLimiter> Keyed<K, L> {
    /// At most `max_keys` limiters made by `make`, evicting keys idle for `idle_timeout`, on
    /// the system clock.
    ///
    /// # Panics
    /// If `max_keys` is 0.
    pub fn new(
        max_keys: usize,
        idle_timeout: Duration,
        make: impl Fn(&SystemClock) -> L + Send + Sync + 'static,
    ) -> Self {
        Self::with_clock(max_keys, idle_timeout, SystemClock, make)
    }
}

impl<K: Hash + Eq + Clone + Send, L: RateLimiter, C: Clock> Keyed<K, L, C> {
    /// As [`new`](Keyed::new), reading time from `clock` for idleness.
    ///
    /// # Panics
    /// If `max_keys` is 0.
    pub fn with_clock(
        max_keys: usize,
        idle_timeout: Duration,
        clock: C,
        make: impl Fn(&C) -> L + Send + Sync + 'static,
    ) -> Self {
        assert!(max_keys > 0, "Keyed: max_keys must be at least 1");
        let stripes = std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 4)
            .next_power_of_two()
            .min(max_keys.next_power_of_two());
        let origin = clock.now();
        Self {
            stripes: (0..stripes)
                .map(|_| CachePadded::new(Mutex::new(HashTable::new())))
                .collect(),
            hasher: DefaultHashBuilder::default(),
            make: Box::new(make),
            len: AtomicUsize::new(0),
            max_keys,
            idle: crate::clock::saturating_nanos(idle_timeout),
            clock,
            origin,
        }
    }

    /// Takes one permit for `key`.
    pub fn try_acquire(&self, key: &K) -> bool {
        self.try_acquire_n(key, 1)
    }

    /// Takes `n` permits for `key`, making its limiter if it has none.
    pub fn try_acquire_n(&self, key: &K, n: u64) -> bool {
        let now = self.clock.now();
        let since = nanos_between(self.origin, now);
        let hash = self.hasher.hash_one(key);
        // The low bits pick the table slot inside a stripe; the high bits pick the stripe.
        let stripe = &self.stripes[(hash >> 48) as usize & (self.stripes.len() - 1)];
        let mut table = stripe.lock();
        if let Some(tracked) = table.find_mut(hash, |t| t.key == *key) {
            tracked.last_seen = since;
            return tracked.limiter.try_acquire_n_at(n, now);
        }
        // Relaxed: a gauge; each stripe's own count is exact under its lock.
        if self.len.load(Relaxed) >= self.max_keys {
            self.make_room(&mut table, since);
        }
        let tracked = Tracked {
            key: key.clone(),
            hash,
            limiter: (self.make)(&self.clock),
            last_seen: since,
        };
        let admitted = tracked.limiter.try_acquire_n_at(n, now);
        table.insert_unique(hash, tracked, |t| t.hash);
        self.len.fetch_add(1, Relaxed);
        admitted
    }

    /// Evicts this stripe's idle keys; if none were idle, its least recently used eighth.
    fn make_room(&self, table: &mut HashTable<Tracked<K, L>>, now: u64) {
        let before = table.len();
        table.retain(|t| now.saturating_sub(t.last_seen) < self.idle);
        if table.len() == before && !table.is_empty() {
            let mut ages: Vec<u64> = table.iter().map(|t| t.last_seen).collect();
            let cut = (ages.len() / 8).max(1) - 1;
            let (_, &mut oldest_kept, _) = ages.select_nth_unstable(cut);
            let mut budget = cut + 1;
            table.retain(|t| {
                let evict = budget > 0 && t.last_seen <= oldest_kept;
                budget -= usize::from(evict);
                !evict
            });
        }
        self.len.fetch_sub(before - table.len(), Relaxed);
    }

    /// Limiters alive now.
    pub fn len(&self) -> usize {
        // Relaxed: a gauge.
        self.len.load(Relaxed)
    }

    /// Whether no limiter is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Evicts every key idle for `idle_timeout` or longer, in every stripe. Optional: eviction
    /// also happens on its own whenever room is needed.
    pub fn evict_idle(&self) {
        let now = nanos_between(self.origin, self.clock.now());
        for stripe in self.stripes.iter() {
            let mut table = stripe.lock();
            let before = table.len();
            table.retain(|t| now.saturating_sub(t.last_seen) < self.idle);
            self.len.fetch_sub(before - table.len(), Relaxed);
        }
    }
}

impl<K, L, C> fmt::Debug for Keyed<K, L, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed")
            .field("len", &self.len.load(Relaxed))
            .field("max_keys", &self.max_keys)
            .field("stripes", &self.stripes.len())
            .finish_non_exhaustive()
    }
}
