//! Recording histories from real threads.

use super::Event;
#[cfg(not(loom))]
use super::Rng;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Mutex;

/// A shared logical clock for histories: every [`tick`](Self::tick) is unique and larger than
/// every tick that happened before it.
///
/// ```
/// let ticks = threadsmith::check::Ticks::new();
/// let a = ticks.tick();
/// assert!(ticks.tick() > a);
/// ```
#[derive(Debug, Default)]
pub struct Ticks(AtomicU64);

impl Ticks {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next tick.
    pub fn tick(&self) -> u64 {
        // AcqRel: ticks are RMWs on one word, so their order is its modification order. Release
        // on an operation's end tick and Acquire on a later start tick make "A ended before B
        // started" in the history imply that A's effects happen-before B's, which is what the
        // checker assumes.
        self.0.fetch_add(1, Ordering::AcqRel)
    }
}

/// Records operations from threads you manage yourself into one history.
///
/// ```
/// use threadsmith::check::{linearizable, models::{Counter, CounterOp}, Recorder};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let counter = AtomicU64::new(0);
/// let recorder = Recorder::new();
/// std::thread::scope(|s| {
///     for thread in 0..2 {
///         let (counter, recorder) = (&counter, &recorder);
///         s.spawn(move || {
///             for _ in 0..10 {
///                 recorder.record(thread, CounterOp::FetchAdd(1), |_| {
///                     counter.fetch_add(1, Ordering::SeqCst)
///                 });
///             }
///         });
///     }
/// });
/// assert!(linearizable(&Counter::default(), &recorder.into_history()).is_ok());
/// ```
#[derive(Debug)]
pub struct Recorder<Op, Ret> {
    ticks: Ticks,
    events: Mutex<Vec<Event<Op, Ret>>>,
}

impl<Op, Ret: Clone> Recorder<Op, Ret> {
    /// An empty recorder.
    pub fn new() -> Self {
        Self {
            ticks: Ticks::new(),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` as operation `op` of `thread`, records it with its start and end ticks, and
    /// returns what `f` returned.
    pub fn record(&self, thread: usize, op: Op, f: impl FnOnce(&Op) -> Ret) -> Ret {
        let start = self.ticks.tick();
        let ret = f(&op);
        let end = self.ticks.tick();
        self.events.lock().push(Event {
            thread,
            op,
            ret: ret.clone(),
            start,
            end,
        });
        ret
    }

    /// The history recorded so far, in the order the operations returned.
    pub fn into_history(self) -> Vec<Event<Op, Ret>> {
        self.events.into_inner()
    }
}

impl<Op, Ret: Clone> Default for Recorder<Op, Ret> {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs generated operations on real threads against one shared object and records the history.
///
/// Each thread gets its own [`Rng`], seeded from the run's seed and its index, so a run's
/// operations are reproducible (their interleaving, of course, is not). Threads wait at a
/// barrier so they start together. Not available under loom, which explores threads itself.
///
/// ```
/// use std::sync::Mutex;
/// use std::collections::VecDeque;
/// use threadsmith::check::{linearizable, models::{FifoQueue, QueueOp}, Stress};
///
/// let queue = Mutex::new(VecDeque::new());
/// let history = Stress::new(4, 50).seed(1).run(
///     &queue,
///     |thread, rng| if rng.percent(50) { QueueOp::Push(thread * 1000 + rng.below(1000)) } else { QueueOp::Pop },
///     |q, op| match op {
///         QueueOp::Push(v) => { q.lock().unwrap().push_back(*v); None }
///         QueueOp::Pop => q.lock().unwrap().pop_front(),
///     },
/// );
/// assert_eq!(history.len(), 200);
/// assert!(linearizable(&FifoQueue::new(), &history).is_ok());
/// ```
#[cfg(not(loom))]
#[derive(Clone, Debug)]
#[must_use = "a stress run does nothing until `run` is called"]
pub struct Stress {
    threads: usize,
    ops_per_thread: usize,
    seed: u64,
}

#[cfg(not(loom))]
impl Stress {
    /// `threads` threads, each running `ops_per_thread` operations.
    ///
    /// # Panics
    /// If `threads` is 0: a run needs at least one thread.
    pub fn new(threads: usize, ops_per_thread: usize) -> Self {
        assert!(threads > 0, "Stress::new: threads must be at least 1");
        Self {
            threads,
            ops_per_thread,
            seed: 0x7EAD_5317,
        }
    }

    /// Seeds the operation generators (a fixed default is used otherwise).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs the threads. `generate(thread, rng)` makes each operation; `execute(target, op)`
    /// runs it. Returns every event, sorted by start.
    pub fn run<T, Op, Ret, G, X>(&self, target: &T, generate: G, execute: X) -> Vec<Event<Op, Ret>>
    where
        T: Sync + ?Sized,
        Op: Send,
        Ret: Send,
        G: Fn(usize, &mut Rng) -> Op + Sync,
        X: Fn(&T, &Op) -> Ret + Sync,
    {
        let ticks = Ticks::new();
        let barrier = crate::sync::Barrier::new(self.threads);
        let mut history: Vec<Event<Op, Ret>> = crate::sync::thread::scope(|s| {
            let workers: Vec<_> = (0..self.threads)
                .map(|thread| {
                    let (ticks, barrier, generate, execute) =
                        (&ticks, &barrier, &generate, &execute);
                    let mut rng =
                        Rng::new(self.seed ^ (thread as u64).wrapping_mul(0xA24B_AED4_963E_E407));
                    let ops = self.ops_per_thread;
                    s.spawn(move || {
                        let ops: Vec<Op> = (0..ops).map(|_| generate(thread, &mut rng)).collect();
                        let mut events = Vec::with_capacity(ops.len());
                        barrier.wait();
                        for op in ops {
                            let start = ticks.tick();
                            let ret = execute(target, &op);
                            let end = ticks.tick();
                            events.push(Event {
                                thread,
                                op,
                                ret,
                                start,
                                end,
                            });
                        }
                        events
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        history.sort_by_key(|e| e.start);
        history
    }
}
