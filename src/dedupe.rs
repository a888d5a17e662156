//! At-most-once message processing: a consumer-side deduplication layer.
//!
//! A message broker that redelivers (after a timeout, a rebalance, a crash) makes every
//! consumer see some messages twice; two consumers can even see the same message at the same
//! time. [`Deduper::process_message`] runs a message's handler only if it can *claim* the
//! message id in a [`DedupeStore`] first. The claim is one atomic insert-if-absent with a TTL,
//! so of any number of concurrent calls with one id inside the TTL, exactly one runs.
//!
//! **At most once, and what it costs.** Claiming *before* processing means a crash (or a panic)
//! after the claim loses the message: it is claimed, so no redelivery will run it. Claiming
//! *after* processing would never lose one, but two consumers could both process it before
//! either claims: at least once. Which to choose depends on the handler. A handler that is
//! not idempotent (charge a card, send an email) wants at most once plus an alert on failure; an
//! idempotent one can afford at least once. The exactly-once illusion comes from at-least-once
//! delivery with an idempotent handler, or a claim stored in the same transaction as the
//! handler's effects.
//!
//! The TTL bounds the store's memory. It must exceed the longest time the broker may take to
//! redeliver, or a late duplicate will run again.
//!
//! ```
//! use std::time::Duration;
//! use threadsmith::dedupe::{Deduper, MemoryStore};
//!
//! let deduper = Deduper::new(MemoryStore::new(), Duration::from_secs(3600));
//! assert_eq!(deduper.process_message("msg-1", || "charged").unwrap(), Some("charged"));
//! assert_eq!(deduper.process_message("msg-1", || "charged").unwrap(), None); // a duplicate
//! ```

use std::fmt;
use std::time::Duration;

use crate::cache::TtlCache;
use crate::clock::{Clock, SystemClock};

/// Where claims live: in memory for one process, or shared (Redis, behind the `redis` feature)
/// for many consumers.
pub trait DedupeStore: Send + Sync {
    /// Claims `msg_id` for `ttl`: `Ok(true)` if this call claimed it, `Ok(false)` if a claim was
    /// already there. Must be atomic: concurrent calls for one id, one `true`.
    fn claim(&self, msg_id: &str, ttl: Duration) -> Result<bool, StoreError>;
}

/// A store that could not answer (a network error, a timeout). The in-memory store never
/// fails.
#[derive(Debug)]
pub struct StoreError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// An error with a message and an optional cause.
    pub fn new(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dedupe store: {}", self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// An in-memory [`DedupeStore`] on a [`TtlCache`]: claims expire after their TTL, and a
/// background sweeper keeps the memory bounded by the claims made within one TTL.
pub struct MemoryStore<C = SystemClock> {
    claims: TtlCache<String, (), C>,
}

impl MemoryStore {
    /// A store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> MemoryStore<C> {
    /// A store whose claims expire by `clock`.
    pub fn with_clock(clock: C) -> Self {
        Self {
            claims: TtlCache::builder()
                .clock(clock)
                .sweep_interval(Duration::from_secs(1))
                .build(),
        }
    }

    /// Claims currently stored (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.claims.len()
    }

    /// Whether no claim is stored.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty()
    }
}

impl<C: Clock> DedupeStore for MemoryStore<C> {
    fn claim(&self, msg_id: &str, ttl: Duration) -> Result<bool, StoreError> {
        Ok(self.claims.insert_if_absent(msg_id.to_owned(), (), ttl))
    }
}

impl<C> fmt::Debug for MemoryStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("claims", &self.claims)
            .finish()
    }
}

/// Runs each message's handler at most once per `ttl` (see the [module docs](self)).
#[derive(Debug)]
pub struct Deduper<S: DedupeStore> {
    store: S,
    ttl: Duration,
}

impl<S: DedupeStore> Deduper<S> {
    /// Claims in `store`, each for `ttl`.
    pub fn new(store: S, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    // ANCHOR: process
    /// Runs `handle` if this call claims `msg_id`: `Ok(Some(result))`. A duplicate (already
    /// claimed within the TTL) returns `Ok(None)` without running it. A store error returns
    /// `Err` without running it: nothing was claimed, so the message can be retried.
    ///
    /// The claim comes first (at most once): if `handle` panics or the process dies while it
    /// runs, the message stays claimed and is not run again.
    pub fn process_message<R>(
        &self,
        msg_id: &str,
        handle: impl FnOnce() -> R,
    ) -> Result<Option<R>, StoreError> {
        if self.store.claim(msg_id, self.ttl)? {
            Ok(Some(handle()))
        } else {
            Ok(None)
        }
    }
    // ANCHOR_END: process

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }
}
