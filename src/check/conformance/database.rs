//! The suite for optimistic concurrency control: [`Suite::check_versioned_store`].
//!
//! A *versioned store* keeps a version number next to each value (a `version` column in SQL).
//! A writer reads the value and its version, computes the new value, and writes it only if the
//! version is still the one it read, bumping it:
//!
//! ```sql
//! UPDATE accounts SET balance = ?1, version = version + 1 WHERE id = ?2 AND version = ?3
//! ```
//!
//! Zero rows changed means someone else wrote first: read again and retry, a bounded number of
//! times. The suite grades both halves: your store ([`VersionedStore`]) and your retry loop (the
//! `add` function you pass in).

use std::collections::BTreeSet;
use std::fmt;

use super::{Failure, Suite};
use crate::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use crate::sync::thread;

/// A value and the version it was written at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Versioned {
    /// The value (an account balance, a counter).
    pub value: i64,
    /// How many successful writes the row has had: 0 for a fresh row.
    pub version: u64,
}

// ANCHOR: store_trait
/// A store of versioned rows, shared by many threads (a SQLite table behind a pool, a map
/// behind a lock, a key-value service, ...).
///
/// Rows are named by small keys; a fresh store holds keys 0 to 3, each with value 0 at version
/// 0.
pub trait VersionedStore: Send + Sync {
    /// The row's current value and version.
    fn read(&self, key: u64) -> Versioned;

    /// If the row is still at `expected_version`, writes `new_value` at version
    /// `expected_version + 1` and returns true; otherwise changes nothing and returns false.
    /// The check and the write must be one atomic step (one `UPDATE ... WHERE version = ?`).
    fn compare_and_set(&self, key: u64, expected_version: u64, new_value: i64) -> bool;
}
// ANCHOR_END: store_trait

/// An optimistic update gave up: every attempt lost its race with another writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// How many compare-and-set attempts it made.
    pub attempts: u32,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {} conflicting attempt(s): the row kept changing",
            self.attempts
        )
    }
}

impl std::error::Error for Conflict {}

/// What a passing [`Suite::check_versioned_store`] ran.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreReport {
    /// Successful concurrent increments (each one must be in the final value).
    pub increments: usize,
    /// Concurrent increments that gave up with a [`Conflict`].
    pub gave_up: usize,
    /// Compare-and-set calls that lost a race in the concurrent phase.
    pub conflicts: usize,
}

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Property {
        suite: "versioned store",
        check,
        detail,
    }
}

/// Attempts the `retry` phase allows.
const MAX_ATTEMPTS: u32 = 5;
/// Rival writes that the `retry` phase slips in before letting the update through.
const RIVALS: u32 = 3;
/// After this many attempts against a store that always conflicts, the update is let through:
/// it would have looped forever.
const FOREVER: u32 = 1_000;
/// Attempts allowed per increment in the concurrent phase: enough that a correct loop almost
/// never gives up, and giving up is allowed anyway.
const CONCURRENT_ATTEMPTS: u32 = 1_000;

/// Wraps the store under test: before each of the first `rivals` compare-and-sets, another
/// writer adds 100 to the row, so the caller's version is stale and its write must fail.
struct Rivals<'a, S> {
    store: &'a S,
    rivals: u32,
    calls: AtomicU32,
}

impl<S: VersionedStore> VersionedStore for Rivals<'_, S> {
    fn read(&self, key: u64) -> Versioned {
        self.store.read(key)
    }

    fn compare_and_set(&self, key: u64, expected_version: u64, new_value: i64) -> bool {
        // Relaxed: one thread uses the wrapper; the count publishes nothing.
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        if call < self.rivals {
            let now = self.store.read(key);
            // The rival's own write cannot conflict: nobody else writes this row.
            self.store
                .compare_and_set(key, now.version, now.value.wrapping_add(100));
        }
        self.store.compare_and_set(key, expected_version, new_value)
    }
}

/// Wraps the store under test in the concurrent phase and counts the compare-and-sets that lost.
struct Counted<'a, S> {
    store: &'a S,
    lost: AtomicUsize,
}

impl<S: VersionedStore> VersionedStore for Counted<'_, S> {
    fn read(&self, key: u64) -> Versioned {
        self.store.read(key)
    }

    fn compare_and_set(&self, key: u64, expected_version: u64, new_value: i64) -> bool {
        let wrote = self.store.compare_and_set(key, expected_version, new_value);
        if !wrote {
            // Relaxed: a statistic, read after the threads are joined.
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
        wrote
    }
}

impl Suite {
    /// Runs the optimistic-concurrency suite on stores made by `new` and on your retry loop
    /// `add(store, key, delta, max_attempts)` (a function of `&dyn VersionedStore`, so the suite can
    /// hand it a store that injects conflicts), which must read the row, write `value + delta`
    /// with [`compare_and_set`](VersionedStore::compare_and_set), and on a conflict read again
    /// and retry, making at most `max_attempts` attempts in all. It returns the row as it wrote
    /// it, or [`Conflict`] when every attempt lost.
    ///
    /// Three phases, each on a fresh store, stopping at the first failure:
    /// 1. **`version`** (one thread): a fresh row reads (0, 0); `add(+5)` then `add(-2)` return
    ///    and leave (5, 1) then (3, 2). A store that forgets `version = version + 1` fails here.
    /// 2. **`retry`** (one thread): a rival writes the row just before each of your first 3
    ///    compare-and-sets; with 5 attempts allowed, `add` must succeed on the 4th, with the
    ///    rivals' writes kept (`lost update` otherwise). Then a rival writes before *every*
    ///    attempt: `add` must give up with `Err(Conflict)` after at most 5 attempts, not loop
    ///    forever (the suite lets it through after 1,000 attempts and reports `retry`).
    /// 3. **concurrent** (`stress(threads, ops)`, 4 × 100 by default): every thread adds 1 to
    ///    the same row `ops` times. The final value must equal the number of `add`s that
    ///    returned `Ok` (`lost update`), and the versions those `Ok`s returned must be exactly
    ///    1, 2, ..., n, each once, matching the final version (`version`).
    ///
    /// Failures are [`Failure::Property`] with `suite` `"versioned store"`.
    ///
    /// ```
    /// use threadsmith::check::conformance::Suite;
    /// use threadsmith::check::reference::{add_with_retry, MemoryVersionedStore};
    ///
    /// let report = Suite::new()
    ///     .stress(2, 50)
    ///     .check_versioned_store(MemoryVersionedStore::new, add_with_retry)
    ///     .expect("the reference store and retry loop conform");
    /// assert_eq!(report.increments + report.gave_up, 100);
    /// ```
    pub fn check_versioned_store<S, A>(
        &self,
        new: impl Fn() -> S,
        add: A,
    ) -> Result<StoreReport, Failure>
    where
        S: VersionedStore,
        A: Fn(&dyn VersionedStore, u64, i64, u32) -> Result<Versioned, Conflict> + Sync,
    {
        version_phase(&new(), &add)?;
        retry_phase(&new(), &add)?;
        let threads = if self.stress_threads == 0 {
            4
        } else {
            self.stress_threads
        };
        let ops = if self.stress_ops == 0 {
            100
        } else {
            self.stress_ops.min(10_000)
        };
        concurrent_phase(&new(), &add, threads, ops)
    }
}

fn version_phase<S: VersionedStore>(
    store: &S,
    add: &impl Fn(&dyn VersionedStore, u64, i64, u32) -> Result<Versioned, Conflict>,
) -> Result<(), Failure> {
    let fresh = store.read(0);
    if fresh != Versioned::default() {
        return Err(fail(
            "version",
            format!("a fresh row reads {fresh:?}, expected value 0 at version 0"),
        ));
    }
    for (delta, want) in [(5, (5, 1)), (-2, (3, 2))] {
        let want = Versioned {
            value: want.0,
            version: want.1,
        };
        let got = add(store, 0, delta, MAX_ATTEMPTS).map_err(|c| {
            fail(
                "retry",
                format!("add({delta}) with nobody else writing failed: {c}"),
            )
        })?;
        let now = store.read(0);
        if got != want || now != want {
            return Err(fail(
                "version",
                format!(
                    "add({delta}) returned {got:?} and the row reads {now:?}; expected {want:?}: \
                     every write must bump the version by one"
                ),
            ));
        }
    }
    Ok(())
}

fn retry_phase<S: VersionedStore>(
    store: &S,
    add: &impl Fn(&dyn VersionedStore, u64, i64, u32) -> Result<Versioned, Conflict>,
) -> Result<(), Failure> {
    // A few conflicts, fewer than the bound: the update must get through, after re-reading.
    let rivals = Rivals {
        store,
        rivals: RIVALS,
        calls: AtomicU32::new(0),
    };
    let result = add(&rivals, 1, 1, MAX_ATTEMPTS);
    // Relaxed: read on the thread that made the calls.
    let calls = rivals.calls.load(Ordering::Relaxed);
    let row = store.read(1);
    match result {
        Err(conflict) => {
            return Err(fail(
                "retry",
                format!(
                    "gave up ({conflict}) after {calls} compare-and-set call(s), although only \
                     the first {RIVALS} met a rival writer and {MAX_ATTEMPTS} attempts were \
                     allowed: does it read the row again before each retry?"
                ),
            ))
        }
        Ok(_) if calls > MAX_ATTEMPTS => {
            return Err(fail(
                "retry",
                format!("made {calls} attempts with max_attempts {MAX_ATTEMPTS}"),
            ))
        }
        Ok(wrote) => {
            let want = i64::from(RIVALS) * 100 + 1; // from a fresh row at 0
            if row.value != want || wrote != row {
                return Err(fail(
                    "lost update",
                    format!(
                        "{RIVALS} rival writes of +100 then add(+1): the row holds {row:?} \
                         (add returned {wrote:?}), expected value {want}"
                    ),
                ));
            }
        }
    }

    // Conflicts forever: the update must give up at the bound.
    let rivals = Rivals {
        store,
        rivals: FOREVER,
        calls: AtomicU32::new(0),
    };
    let result = add(&rivals, 2, 1, MAX_ATTEMPTS);
    // Relaxed: as above.
    let calls = rivals.calls.load(Ordering::Relaxed);
    match result {
        Err(_) if calls <= MAX_ATTEMPTS => Ok(()),
        Err(conflict) => Err(fail(
            "retry",
            format!(
                "made {calls} attempts with max_attempts {MAX_ATTEMPTS} before giving up \
                 ({conflict})"
            ),
        )),
        Ok(_) if calls > FOREVER => Err(fail(
            "retry",
            format!(
                "still retrying after {FOREVER} conflicts with max_attempts {MAX_ATTEMPTS}: \
                 the retry loop has no bound (the suite let attempt {calls} through)"
            ),
        )),
        Ok(wrote) => Err(fail(
            "retry",
            format!(
                "every attempt met a rival writer, yet add returned Ok({wrote:?}) after \
                 {calls} attempt(s)"
            ),
        )),
    }
}

fn concurrent_phase<S: VersionedStore>(
    store: &S,
    add: &(impl Fn(&dyn VersionedStore, u64, i64, u32) -> Result<Versioned, Conflict> + Sync),
    threads: usize,
    ops: usize,
) -> Result<StoreReport, Failure> {
    const KEY: u64 = 3;
    let counted = Counted {
        store,
        lost: AtomicUsize::new(0),
    };
    let counted = &counted;
    let results: Vec<(Vec<u64>, usize)> = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    let mut versions = Vec::with_capacity(ops);
                    let mut gave_up = 0;
                    for _ in 0..ops {
                        match add(counted, KEY, 1, CONCURRENT_ATTEMPTS) {
                            Ok(wrote) => versions.push(wrote.version),
                            Err(_) => gave_up += 1,
                        }
                    }
                    (versions, gave_up)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let increments: usize = results.iter().map(|(v, _)| v.len()).sum();
    let gave_up: usize = results.iter().map(|(_, g)| g).sum();
    let row = store.read(KEY);
    if row.value != increments as i64 {
        return Err(fail(
            "lost update",
            format!(
                "{threads} threads x {ops} add(+1): {increments} returned Ok, but the row holds \
                 {} ({} update(s) lost)",
                row.value,
                (increments as i64).wrapping_sub(row.value)
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for version in results.iter().flat_map(|(v, _)| v) {
        if !seen.insert(*version) {
            return Err(fail(
                "version",
                format!("two successful writes both returned version {version}"),
            ));
        }
    }
    let expected: BTreeSet<u64> = (1..=increments as u64).collect();
    if seen != expected || row.version != increments as u64 {
        return Err(fail(
            "version",
            format!(
                "{increments} successful writes should have written versions 1..={increments} \
                 once each and left the row at version {increments}; the row is at version {}, \
                 and the versions returned were {}",
                row.version,
                summarize(&seen)
            ),
        ));
    }
    // Relaxed: the threads that counted were joined.
    let conflicts = counted.lost.load(Ordering::Relaxed);
    Ok(StoreReport {
        increments,
        gave_up,
        conflicts,
    })
}

/// The first and last few elements of a set, for a failure message.
fn summarize(set: &BTreeSet<u64>) -> String {
    let all: Vec<_> = set.iter().collect();
    if all.len() <= 8 {
        format!("{all:?}")
    } else {
        format!("{:?} ... {:?}", &all[..4], &all[all.len() - 4..])
    }
}
