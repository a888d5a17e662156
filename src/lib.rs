//! # threadsmith
//!
//! Concurrency primitives you can trust, each proven by tools — property tests,
//! a linearizability checker, the loom model checker and known-buggy mutants that the proofs must
//! reject — and explained, one interview question per chapter, in the book under `book/`.
//!
//! | module | what | progress guarantee |
//! | --- | --- | --- |
//! | [`clock`] | `Clock`, `SystemClock`, and `ManualClock` for deterministic tests | wait-free |
//! | [`shutdown`] | drain coordinator: stop admitting, wait for in-flight work, report | lock-free admission; `wait` blocks |
//! | [`cache`] | striped TTL cache: lazy and background expiry, capacity, single-flight loading | blocking (striped) |
//! | [`check`] | linearizability checker, stress runner, sequential models, mutants | — |
//! | [`bloom`] | concurrent Bloom filter: atomic bits, enhanced double hashing, stable XXH3 hash | wait-free |
//! | [`bounded`] | `BoundedQueue`: ring of stamped slots, blocking when full/empty, `close`, timeouts | lock-free ring; parks only when full/empty |
//! | [`ratelimit`] | token bucket (GCRA), leaky bucket, sliding-window log and counter, keyed with bounded memory | lock-free buckets; windows behind a short lock |
//! | [`stack`] | `TreiberStack`: LIFO, epoch-reclaimed | lock-free |
//! | `distributed` | (feature `redis`) leader election with fencing tokens, a dedupe store and a shared token bucket on Redis | one atomic server-side step per call |
//! | [`dedupe`] | at-most-once message processing on an atomic claim with a TTL | blocking (striped) |
//! | [`pool`] | connection pool: bounded, FIFO hand-off to waiters, test-on-borrow, reaping, leak reports | blocking |
//! | [`scheduler`] | priority task scheduler: water-mark backpressure with hysteresis, shedding, delays, per-resource limits, graceful shutdown | blocking (one lock) |
//! | [`queue`] | `MsQueue`: Michael–Scott FIFO with helping, epoch-reclaimed | lock-free |
//! | [`sync`] | the std ⇄ loom switch every module builds on | — |
//! | [`lock_order`] | taking several locks without deadlock: address order, or try-all with backoff | blocking; the try-all form may starve but never waits holding a lock |
//! | [`actor`] | a thread owning its state behind a `BoundedQueue` mailbox; tell, ask, per-sender FIFO | blocking |
//!
//! ```
//! use std::time::Duration;
//! use threadsmith::shutdown::Shutdown;
//!
//! let shutdown = Shutdown::new();
//! let request = shutdown.enter().expect("admitting");
//! shutdown.begin();
//! assert!(shutdown.enter().is_none(), "no new work once draining");
//! drop(request);
//! assert!(shutdown.wait(Duration::from_secs(1)).drained);
//! ```
#![deny(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![warn(missing_debug_implementations)]

pub mod actor;
pub mod bloom;
pub mod bounded;
pub mod cache;
pub mod check;
pub mod clock;
pub mod dedupe;
#[cfg(feature = "redis")]
pub mod distributed;
pub mod lock_order;
pub mod pool;
pub mod queue;
pub mod ratelimit;
pub mod scheduler;
pub mod shutdown;
pub mod stack;
pub mod sync;

/// The book's chapters, compiled so that every Rust snippet in them is tested.
#[cfg(doctest)]
pub mod book {
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/linearizability.md"))]
    pub struct Linearizability;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/lockfree.md"))]
    pub struct LockFree;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/producer-consumer.md"))]
    pub struct ProducerConsumer;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/ratelimit.md"))]
    pub struct RateLimiting;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/bloom.md"))]
    pub struct Bloom;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/cache.md"))]
    pub struct Cache;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/pool.md"))]
    pub struct Pool;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/distributed.md"))]
    pub struct Distributed;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/node.md"))]
    pub struct Node;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/node-drain.md"))]
    pub struct NodeDrain;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/questions.md"))]
    pub struct Questions;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/cheatsheet.md"))]
    pub struct CheatSheet;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/scheduler.md"))]
    pub struct Scheduler;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/chat-server.md"))]
    pub struct ChatServer;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/memory-model.md"))]
    pub struct MemoryModel;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/races.md"))]
    pub struct Races;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/deadlocks.md"))]
    pub struct Deadlocks;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/concurrency-parallelism.md"))]
    pub struct ConcurrencyParallelism;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/async.md"))]
    pub struct Async;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/actors.md"))]
    pub struct Actors;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/database.md"))]
    pub struct Database;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/debugging.md"))]
    pub struct Debugging;
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/book/shutdown.md"))]
    pub struct Shutdown;
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
