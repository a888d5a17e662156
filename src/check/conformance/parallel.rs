//! The suite for a parallel map-reduce: [`Suite::check_parallel_map`].

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::{Failure, Suite};
use crate::sync::{thread, Condvar, Mutex};

/// The function a parallel map-reduce is handed: it maps one item, and it may be called from
/// several threads at once.
pub type MapFn<'a> = &'a (dyn Fn(u64) -> u64 + Sync);

/// What [`Suite::check_parallel_map`] ran.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParallelReport {
    /// Calls checked (one per input length and thread count, plus the `threads == 0` calls).
    pub calls: usize,
    /// The most distinct threads seen running the map function in one call.
    pub most_threads: usize,
}

/// Input lengths the suite tries: empty, shorter than the thread counts, not divisible by them.
const LENGTHS: [usize; 11] = [0, 1, 2, 3, 5, 7, 8, 10, 31, 100, 1_001];
/// Thread counts the suite tries, `threads > len` included.
const THREADS: [usize; 6] = [1, 2, 3, 4, 8, 16];

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Property {
        suite: "parallel map",
        check,
        detail,
    }
}

/// The input of length `len`: small distinct values, so sums never overflow and an item mapped
/// twice or skipped changes the sum.
fn input(len: usize) -> Vec<u64> {
    (0..len as u64).map(|i| i * 7 + 3).collect()
}

/// The map the suite hands over: cheap, but not the identity, so that a function that sums
/// the items without mapping them is caught.
fn square_plus_one(x: u64) -> u64 {
    x * x + 1
}

/// A panic's message, for a failure's detail.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_string()
    }
}

/// What the suite's `f` saw during one call of the function under test.
#[derive(Default)]
struct Calls {
    /// The thread of every call of `f`.
    ids: Vec<ThreadId>,
    /// Calls of `f` running right now.
    active: usize,
    /// Two calls of `f` ran at the same time.
    overlapped: bool,
    /// A call has already waited for a second thread (only the first one waits).
    waited: bool,
}

/// The suite's `f` for one call: maps `x` and records the calling thread. When `rendezvous` is
/// set, the first call waits (up to `patience`) until a call from a second thread runs at the
/// same time, so a function whose threads run one after the other is told apart from one whose
/// threads really overlap, however the OS schedules them.
struct Probe {
    calls: Mutex<Calls>,
    arrived: Condvar,
    rendezvous: bool,
    patience: Duration,
}

impl Probe {
    fn new(rendezvous: bool, patience: Duration) -> Self {
        Self {
            calls: Mutex::new(Calls::default()),
            arrived: Condvar::new(),
            rendezvous,
            patience,
        }
    }

    // ANCHOR: probe
    fn map(&self, x: u64) -> u64 {
        let mut calls = self.calls.lock();
        calls.ids.push(thread::current().id());
        calls.active += 1;
        if calls.active >= 2 && !calls.overlapped {
            calls.overlapped = true;
            self.arrived.notify_all();
        }
        if self.rendezvous && !calls.waited {
            calls.waited = true;
            let deadline = Instant::now() + self.patience;
            while !calls.overlapped {
                if self.arrived.wait_until(&mut calls, deadline) {
                    break;
                }
            }
        }
        calls.active -= 1;
        drop(calls);
        square_plus_one(x)
    }
    // ANCHOR_END: probe
}

impl Suite {
    /// Grades `sum(data, threads, f)`, a function that should return
    /// `Some(data.iter().map(f).sum())` computed on at most `threads` threads, and `None` for
    /// `threads == 0`. Every length in 0, 1, 2, 3, 5, 7, 8, 10, 31, 100, 1,001 is tried with
    /// every thread count in 1, 2, 3, 4, 8, 16. For each call the suite checks:
    ///
    /// 1. **`result`**: the call returns the sequential answer, calls `f` once per item, and
    ///    does not panic: empty input, fewer items than threads, lengths that the thread count
    ///    does not divide, one thread;
    /// 2. **`parallelism`**: the suite's `f` records which thread calls it. `f` must never run
    ///    on more than `threads` distinct threads, and with at least two threads allowed and
    ///    at least two items, two calls of `f` must run *at the same time*. To see that
    ///    without depending on timing, the first call of `f` waits (up to the
    ///    [`stall_timeout`](Self::stall_timeout), 60 s by default) for a call from another
    ///    thread. Split the input into one chunk per thread up front and start all the
    ///    threads before you wait for any. Threads spawned and joined one at a time, or a
    ///    design where the first thread to start may take every item, fail this property.
    ///
    /// Then **`zero threads`**: `threads == 0` must return `None`, not panic.
    ///
    /// Failures are [`Failure::Property`] with suite `parallel map` and the property's name.
    ///
    /// ```
    /// use std::thread;
    /// use threadsmith::check::conformance::{MapFn, Suite};
    ///
    /// fn sum(data: &[u64], threads: usize, f: MapFn<'_>) -> Option<u64> {
    ///     if threads == 0 {
    ///         return None;
    ///     }
    ///     let chunk = data.len().div_ceil(threads).max(1);
    ///     Some(thread::scope(|s| {
    ///         let parts: Vec<_> = data
    ///             .chunks(chunk)
    ///             .map(|part| s.spawn(move || part.iter().map(|&x| f(x)).sum::<u64>()))
    ///             .collect();
    ///         parts.into_iter().map(|p| p.join().unwrap()).sum()
    ///     }))
    /// }
    ///
    /// let report = Suite::new().check_parallel_map(sum).expect("a chunked map conforms");
    /// assert!(report.most_threads >= 2);
    ///
    /// // One thread doing everything gets the right answer, but is not parallel.
    /// fn one_thread(data: &[u64], threads: usize, f: MapFn<'_>) -> Option<u64> {
    ///     (threads > 0).then(|| data.iter().map(|&x| f(x)).sum())
    /// }
    /// let failure = Suite::new()
    ///     .stall_timeout(std::time::Duration::from_millis(100))
    ///     .check_parallel_map(one_thread)
    ///     .unwrap_err();
    /// assert_eq!(failure.property(), "parallelism");
    /// ```
    pub fn check_parallel_map<F>(&self, sum: F) -> Result<ParallelReport, Failure>
    where
        F: Fn(&[u64], usize, MapFn<'_>) -> Option<u64>,
    {
        let mut report = ParallelReport {
            calls: 0,
            most_threads: 0,
        };
        for len in LENGTHS {
            let data = input(len);
            let expected: u64 = data.iter().map(|&x| square_plus_one(x)).sum();
            for threads in THREADS {
                let must_overlap = threads >= 2 && len >= 2;
                let probe = Probe::new(must_overlap, self.stall_timeout);
                let f = |x: u64| probe.map(x);
                let got = catch_unwind(AssertUnwindSafe(|| sum(&data, threads, &f)));
                report.calls += 1;
                let case = format!("{len} items on {threads} threads");
                // 1. result
                let got = got.map_err(|p| {
                    fail(
                        "result",
                        format!("{case}: panicked: {}", panic_message(&*p)),
                    )
                })?;
                if got != Some(expected) {
                    return Err(fail(
                        "result",
                        format!("{case}: returned {got:?}, the sequential sum is Some({expected})"),
                    ));
                }
                let calls = probe.calls.into_inner();
                if calls.ids.len() != len {
                    return Err(fail(
                        "result",
                        format!(
                            "{case}: f was called {} times; once per item expected",
                            calls.ids.len()
                        ),
                    ));
                }
                // 2. parallelism
                let distinct = calls.ids.iter().collect::<HashSet<_>>().len();
                report.most_threads = report.most_threads.max(distinct);
                if distinct > threads {
                    return Err(fail(
                        "parallelism",
                        format!("{case}: f ran on {distinct} distinct threads, more than allowed"),
                    ));
                }
                if must_overlap && !calls.overlapped {
                    return Err(fail(
                        "parallelism",
                        format!(
                            "{case}: f ran on {distinct} thread(s), never two at the same time \
                             (its first call waited {:?} for a second thread)",
                            self.stall_timeout
                        ),
                    ));
                }
            }
        }
        // 3. zero threads
        for len in [0, 5] {
            let data = input(len);
            let got = catch_unwind(AssertUnwindSafe(|| sum(&data, 0, &square_plus_one)));
            report.calls += 1;
            match got {
                Ok(None) => {}
                Ok(Some(v)) => {
                    return Err(fail(
                        "zero threads",
                        format!("{len} items on 0 threads returned Some({v}); expected None"),
                    ))
                }
                Err(p) => {
                    return Err(fail(
                        "zero threads",
                        format!(
                            "{len} items on 0 threads panicked ({}); expected None",
                            panic_message(&*p)
                        ),
                    ))
                }
            }
        }
        Ok(report)
    }
}
