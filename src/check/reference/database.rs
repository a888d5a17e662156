//! The reference answer for optimistic concurrency: a versioned store in memory and the retry
//! loop that updates it (the solution of the book's database exercise, minus SQLite).

use crate::check::conformance::{Conflict, Versioned, VersionedStore};
use crate::sync::{Backoff, Mutex};

/// Rows a fresh [`MemoryVersionedStore`] holds: keys 0 to 3.
const ROWS: usize = 4;

/// A [`VersionedStore`] in memory: rows behind one lock. `compare_and_set` checks the version
/// and writes under that lock, as `UPDATE ... WHERE id = ? AND version = ?` does inside the
/// database.
///
/// ```
/// use threadsmith::check::conformance::{Versioned, VersionedStore};
/// use threadsmith::check::reference::MemoryVersionedStore;
///
/// let store = MemoryVersionedStore::new();
/// assert!(store.compare_and_set(0, 0, 10));
/// assert!(!store.compare_and_set(0, 0, 20)); // version 0 is gone: someone wrote first
/// assert_eq!(store.read(0), Versioned { value: 10, version: 1 });
/// ```
#[derive(Debug)]
pub struct MemoryVersionedStore {
    rows: Mutex<Vec<Versioned>>,
}

impl MemoryVersionedStore {
    /// Keys 0 to 3, each with value 0 at version 0.
    pub fn new() -> Self {
        Self {
            rows: Mutex::new(vec![Versioned::default(); ROWS]),
        }
    }
}

impl Default for MemoryVersionedStore {
    fn default() -> Self {
        Self::new()
    }
}

impl VersionedStore for MemoryVersionedStore {
    /// The row's value and version; a key past the last row reads as a fresh row.
    fn read(&self, key: u64) -> Versioned {
        let rows = self.rows.lock();
        usize::try_from(key)
            .ok()
            .and_then(|k| rows.get(k).copied())
            .unwrap_or_default()
    }

    /// Writes if the version still matches; a key past the last row is never written.
    fn compare_and_set(&self, key: u64, expected_version: u64, new_value: i64) -> bool {
        let mut rows = self.rows.lock();
        let Some(row) = usize::try_from(key).ok().and_then(|k| rows.get_mut(k)) else {
            return false;
        };
        if row.version != expected_version {
            return false;
        }
        *row = Versioned {
            value: new_value,
            version: expected_version.wrapping_add(1),
        };
        true
    }
}

// ANCHOR: add_with_retry
/// Adds `delta` to row `key` optimistically: read the value and its version, write
/// `value + delta` only if the version has not moved, and on a conflict back off, read again
/// and retry. At most `max_attempts` attempts (at least one); then it gives up with
/// [`Conflict`] rather than loop forever. Returns the row as it wrote it.
///
/// ```
/// use threadsmith::check::conformance::Versioned;
/// use threadsmith::check::reference::{add_with_retry, MemoryVersionedStore};
///
/// let store = MemoryVersionedStore::new();
/// assert_eq!(add_with_retry(&store, 0, 5, 3), Ok(Versioned { value: 5, version: 1 }));
/// ```
pub fn add_with_retry(
    store: &dyn VersionedStore,
    key: u64,
    delta: i64,
    max_attempts: u32,
) -> Result<Versioned, Conflict> {
    let backoff = Backoff::new();
    let mut attempts = 0;
    loop {
        // Read inside the loop: a retry with the version that just lost can never win.
        let seen = store.read(key);
        let new = Versioned {
            value: seen.value.wrapping_add(delta), // wraps rather than panic on overflow
            version: seen.version.wrapping_add(1),
        };
        attempts += 1;
        if store.compare_and_set(key, seen.version, new.value) {
            return Ok(new);
        }
        if attempts >= max_attempts {
            return Err(Conflict { attempts });
        }
        // Someone else wrote between our read and our write. Backing off (spinning, then
        // yielding) lets the winner finish instead of colliding again at once.
        backoff.snooze();
    }
}
// ANCHOR_END: add_with_retry
