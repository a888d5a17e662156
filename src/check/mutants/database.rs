//! Known-buggy pieces of optimistic concurrency control, for
//! [`Suite::check_versioned_store`](crate::check::conformance::Suite::check_versioned_store).

use crate::check::conformance::{Conflict, Versioned, VersionedStore};
use crate::sync::{thread, Mutex};

/// Rows a fresh mutant store holds, like the reference: keys 0 to 3.
const ROWS: usize = 4;

fn row(rows: &mut [Versioned], key: u64) -> Option<&mut Versioned> {
    usize::try_from(key).ok().and_then(|k| rows.get_mut(k))
}

// ANCHOR: versionless_store
/// A versioned store whose write forgot half of its `WHERE` clause:
/// `UPDATE accounts SET balance = ?, version = version + 1 WHERE id = ?` — no
/// `AND version = ?`. Every write wins, so two writers that read the same balance both
/// write, and the second overwrites the first: a lost update. The version column is kept up
/// to date, which makes the bug easy to miss in review. The yield stands in for the round trip
/// to the database between the caller's read and this write.
///
/// ```
/// use threadsmith::check::conformance::VersionedStore;
/// use threadsmith::check::mutants::VersionlessStore;
///
/// let store = VersionlessStore::new();
/// assert!(store.compare_and_set(0, 0, 10));
/// assert!(store.compare_and_set(0, 0, 20)); // BUG: version 0 is long gone, and it wrote anyway
/// ```
#[derive(Debug)]
pub struct VersionlessStore {
    rows: Mutex<Vec<Versioned>>,
}

impl VersionedStore for VersionlessStore {
    fn read(&self, key: u64) -> Versioned {
        let mut rows = self.rows.lock();
        row(&mut rows, key).map(|r| *r).unwrap_or_default()
    }

    fn compare_and_set(&self, key: u64, _expected_version: u64, new_value: i64) -> bool {
        thread::yield_now(); // the network round trip
        let mut rows = self.rows.lock();
        let Some(row) = row(&mut rows, key) else {
            return false;
        };
        row.value = new_value; // BUG: never compares the version it was given
        row.version += 1;
        true
    }
}
// ANCHOR_END: versionless_store

impl VersionlessStore {
    /// Keys 0 to 3 at value 0, version 0.
    pub fn new() -> Self {
        Self {
            rows: Mutex::new(vec![Versioned::default(); ROWS]),
        }
    }
}

impl Default for VersionlessStore {
    fn default() -> Self {
        Self::new()
    }
}

/// A versioned store whose write checks the version but never bumps it:
/// `UPDATE accounts SET balance = ? WHERE id = ? AND version = ?`. The check passes for every
/// writer that read the same version, before and after the first one wrote, so the version
/// protects nothing.
///
/// ```
/// use threadsmith::check::conformance::VersionedStore;
/// use threadsmith::check::mutants::FrozenVersionStore;
///
/// let store = FrozenVersionStore::new();
/// assert!(store.compare_and_set(0, 0, 10));
/// assert_eq!(store.read(0).version, 0); // BUG: still 0
/// ```
#[derive(Debug)]
pub struct FrozenVersionStore {
    rows: Mutex<Vec<Versioned>>,
}

impl FrozenVersionStore {
    /// Keys 0 to 3 at value 0, version 0.
    pub fn new() -> Self {
        Self {
            rows: Mutex::new(vec![Versioned::default(); ROWS]),
        }
    }
}

impl Default for FrozenVersionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl VersionedStore for FrozenVersionStore {
    fn read(&self, key: u64) -> Versioned {
        let mut rows = self.rows.lock();
        row(&mut rows, key).map(|r| *r).unwrap_or_default()
    }

    fn compare_and_set(&self, key: u64, expected_version: u64, new_value: i64) -> bool {
        let mut rows = self.rows.lock();
        match row(&mut rows, key) {
            Some(row) if row.version == expected_version => {
                row.value = new_value; // BUG: `version = version + 1` is missing
                true
            }
            _ => false,
        }
    }
}

// ANCHOR: check_then_write
/// A versioned store whose compare-and-set is two steps: read the version, and if it matches,
/// write (`SELECT version ...`, then `UPDATE ... WHERE id = ?`, in autocommit, so each is its
/// own transaction). Alone it behaves; with two writers both can pass the check before either
/// writes, and the second write overwrites the first. The yield stands in for the round trip
/// between the two statements.
///
/// ```
/// use threadsmith::check::conformance::VersionedStore;
/// use threadsmith::check::mutants::CheckThenWriteStore;
///
/// let store = CheckThenWriteStore::new();
/// assert!(store.compare_and_set(0, 0, 10));
/// assert!(!store.compare_and_set(0, 0, 20)); // right when alone
/// ```
#[derive(Debug)]
pub struct CheckThenWriteStore {
    rows: Mutex<Vec<Versioned>>,
}

impl VersionedStore for CheckThenWriteStore {
    fn read(&self, key: u64) -> Versioned {
        let mut rows = self.rows.lock();
        row(&mut rows, key).map(|r| *r).unwrap_or_default()
    }

    fn compare_and_set(&self, key: u64, expected_version: u64, new_value: i64) -> bool {
        if self.read(key).version != expected_version {
            return false;
        }
        thread::yield_now(); // BUG: the check and the write are two steps
        let mut rows = self.rows.lock();
        let Some(row) = row(&mut rows, key) else {
            return false;
        };
        *row = Versioned {
            value: new_value,
            version: expected_version.wrapping_add(1),
        };
        true
    }
}
// ANCHOR_END: check_then_write

impl CheckThenWriteStore {
    /// Keys 0 to 3 at value 0, version 0.
    pub fn new() -> Self {
        Self {
            rows: Mutex::new(vec![Versioned::default(); ROWS]),
        }
    }
}

impl Default for CheckThenWriteStore {
    fn default() -> Self {
        Self::new()
    }
}

// ANCHOR: retry_stale
/// A retry loop with the read hoisted out of it: on a conflict it tries the same write again,
/// with the version that just lost. That version never comes back, so once one other writer
/// has got in, every retry fails and the loop only burns its attempts.
///
/// ```
/// use threadsmith::check::mutants::add_retry_stale;
/// use threadsmith::check::reference::MemoryVersionedStore;
///
/// let store = MemoryVersionedStore::new();
/// assert!(add_retry_stale(&store, 0, 1, 3).is_ok()); // fine when nobody else writes
/// ```
pub fn add_retry_stale(
    store: &dyn VersionedStore,
    key: u64,
    delta: i64,
    max_attempts: u32,
) -> Result<Versioned, Conflict> {
    let seen = store.read(key); // BUG: read once, outside the loop
    for attempt in 1..=max_attempts {
        if store.compare_and_set(key, seen.version, seen.value.wrapping_add(delta)) {
            return Ok(Versioned {
                value: seen.value.wrapping_add(delta),
                version: seen.version.wrapping_add(1),
            });
        }
        if attempt < max_attempts {
            thread::yield_now();
        }
    }
    Err(Conflict {
        attempts: max_attempts,
    })
}
// ANCHOR_END: retry_stale

/// A retry loop without a bound: `loop { read; if write { return } }`. Under heavy contention,
/// or against a row that a runaway job rewrites constantly, it never returns; the caller hangs
/// with a database connection checked out. `max_attempts` is accepted and ignored.
///
/// ```
/// use threadsmith::check::mutants::add_retry_forever;
/// use threadsmith::check::reference::MemoryVersionedStore;
///
/// let store = MemoryVersionedStore::new();
/// assert!(add_retry_forever(&store, 0, 1, 3).is_ok()); // fine when nobody else writes
/// ```
pub fn add_retry_forever(
    store: &dyn VersionedStore,
    key: u64,
    delta: i64,
    _max_attempts: u32,
) -> Result<Versioned, Conflict> {
    loop {
        // BUG: no bound on the attempts
        let seen = store.read(key);
        if store.compare_and_set(key, seen.version, seen.value.wrapping_add(delta)) {
            return Ok(Versioned {
                value: seen.value.wrapping_add(delta),
                version: seen.version.wrapping_add(1),
            });
        }
        thread::yield_now();
    }
}
