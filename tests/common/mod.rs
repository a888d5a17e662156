//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses its own subset

#[cfg(loom)]
pub mod scripts;

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

/// Counts how many times each of `n` values was dropped.
#[derive(Clone)]
pub struct DropLedger {
    drops: Arc<Vec<AtomicU8>>,
}

impl DropLedger {
    pub fn new(n: usize) -> Self {
        Self {
            drops: Arc::new((0..n).map(|_| AtomicU8::new(0)).collect()),
        }
    }

    /// Value `id`, which records its drop here.
    pub fn value(&self, id: usize) -> Tracked {
        Tracked {
            id,
            ledger: self.clone(),
        }
    }

    /// Panics unless every value was dropped exactly once.
    pub fn assert_each_dropped_once(&self) {
        for (id, count) in self.drops.iter().enumerate() {
            let count = count.load(Relaxed);
            assert_eq!(count, 1, "value {id} was dropped {count} times");
        }
    }
}

/// A value that counts its drops in a [`DropLedger`].
pub struct Tracked {
    pub id: usize,
    ledger: DropLedger,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Relaxed: the test reads the counts after joining every thread.
        self.ledger.drops[self.id].fetch_add(1, Relaxed);
    }
}

/// Operations count for the stress tests: `THREADSMITH_STRESS_OPS` (so valgrind can run a
/// smaller stress in CI), 100,000 otherwise.
pub fn stress_ops() -> usize {
    std::env::var("THREADSMITH_STRESS_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// Builds example `name` and returns its executable's path.
///
/// It is built with `cargo build --profile test --example NAME`, by the same cargo that runs
/// the tests (`$CARGO`), and found through `--message-format=json`. An example has no
/// `CARGO_BIN_EXE_*`, and guessing `target/debug/examples/...` breaks under a custom target
/// directory or a stale build; asking cargo is exact. The `test` profile reuses the
/// dependencies `cargo test` has just built (a `dev` build would compile them all again,
/// SQLite included). cargo holds its build lock only while compiling, so building from inside a
/// running test does not deadlock. Callers cache the path (a `OnceLock`).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--profile", "test", "--example", name])
        .arg("--message-format=json")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| {
            let start = line.find("\"executable\":\"")? + "\"executable\":\"".len();
            let end = start + line[start..].find('"')?;
            Some(PathBuf::from(&line[start..end]))
        })
        .find(|path| path.file_stem().is_some_and(|s| s == name))
        .unwrap_or_else(|| panic!("cargo reported no {name} executable"))
}

/// A fresh database file path in the temporary directory, removed (with SQLite's `-wal` and
/// `-shm` files) when dropped.
pub struct TempDb(std::path::PathBuf);

impl TempDb {
    pub fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let file = format!(
            "threadsmith-{name}-{}-{}.sqlite",
            std::process::id(),
            NEXT.fetch_add(1, Relaxed)
        );
        let db = TempDb(std::env::temp_dir().join(file));
        db.remove();
        db
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}
