//! The scheduler against what a user would otherwise pick: `threadpool` (FIFO, no priorities),
//! `rayon` (`spawn`, and `scope`), and the textbook `Mutex<BinaryHeap>` + `Condvar` priority
//! scheduler written below.
//!
//! - `scheduler/throughput`: one thread submits 1,000,000 tiny tasks (each bumps a counter;
//!   the last one signals) to `w` workers and waits for the last; time per task.
//! - `scheduler/high_behind_low`: 10,000 `Low` tasks are queued, then one `High` task; the time
//!   from submitting the `High` task until it starts. FIFO pools run the whole backlog first.
//!
//! `cargo bench --bench scheduler` (worker counts: `THREADSMITH_BENCH_THREADS`, default 2,4).
//! Under `cargo test --benches` each runs once with 10,000 tasks.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use threadsmith::scheduler::{Priority, Scheduler};

fn tasks() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        10_000
    }
}

fn worker_counts() -> Vec<usize> {
    std::env::var("THREADSMITH_BENCH_THREADS")
        .ok()
        .map(|s| s.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![2, 4])
}

/// Counts finished tasks; the `target`-th sends on the channel. Leaked per batch so that a
/// task captures one `&'static` (no reference count traffic in the measurement).
struct Latch {
    done: AtomicUsize,
    target: usize,
    tx: Sender<()>,
}

impl Latch {
    fn new(target: usize) -> (&'static Latch, Receiver<()>) {
        let (tx, rx) = channel();
        let latch = Box::leak(Box::new(Latch {
            done: AtomicUsize::new(0),
            target,
            tx,
        }));
        (latch, rx)
    }

    fn hit(&self) {
        // AcqRel: the last task sees every other's increment (a counter; nothing else shared).
        if self.done.fetch_add(1, AcqRel) + 1 == self.target {
            self.tx.send(()).unwrap();
        }
    }
}

// ANCHOR: naive
/// The textbook priority scheduler: one heap behind one lock, one condition variable.
struct NaiveScheduler {
    shared: Arc<(Mutex<NaiveState>, Condvar)>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

struct NaiveState {
    heap: BinaryHeap<Job>,
    seq: u64,
    closed: bool,
}

struct Job {
    priority: Priority,
    seq: u64,
    run: Box<dyn FnOnce() + Send>,
}

impl PartialEq for Job {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Job {}
impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Job {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        // Highest priority first, then the lowest sequence number (FIFO).
        (self.priority, other.seq).cmp(&(other.priority, self.seq))
    }
}

impl NaiveScheduler {
    fn new(workers: usize) -> Self {
        let shared = Arc::new((
            Mutex::new(NaiveState {
                heap: BinaryHeap::new(),
                seq: 0,
                closed: false,
            }),
            Condvar::new(),
        ));
        let workers = (0..workers)
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || loop {
                    let job = {
                        let mut state = shared.0.lock().unwrap();
                        loop {
                            if let Some(job) = state.heap.pop() {
                                break job;
                            }
                            if state.closed {
                                return;
                            }
                            state = shared.1.wait(state).unwrap();
                        }
                    };
                    (job.run)();
                })
            })
            .collect();
        NaiveScheduler { shared, workers }
    }

    fn enqueue(&self, priority: Priority, run: impl FnOnce() + Send + 'static) {
        let mut state = self.shared.0.lock().unwrap();
        let seq = state.seq;
        state.seq += 1;
        state.heap.push(Job {
            priority,
            seq,
            run: Box::new(run),
        });
        drop(state);
        self.shared.1.notify_one();
    }
}

impl Drop for NaiveScheduler {
    fn drop(&mut self) {
        self.shared.0.lock().unwrap().closed = true;
        self.shared.1.notify_all();
        self.workers.drain(..).for_each(|w| w.join().unwrap());
    }
}
// ANCHOR_END: naive

/// A pool under test: submit a task at a priority (ignored by FIFO pools).
trait Pool {
    fn submit(&self, priority: Priority, task: impl FnOnce() + Send + 'static);
}

impl Pool for Scheduler {
    fn submit(&self, priority: Priority, task: impl FnOnce() + Send + 'static) {
        // Detached: dropping the handle does not cancel.
        drop(self.enqueue(priority, task).expect("capacity is ample"));
    }
}
impl Pool for NaiveScheduler {
    fn submit(&self, priority: Priority, task: impl FnOnce() + Send + 'static) {
        self.enqueue(priority, task)
    }
}
impl Pool for threadpool::ThreadPool {
    fn submit(&self, _: Priority, task: impl FnOnce() + Send + 'static) {
        self.execute(task)
    }
}
impl Pool for rayon::ThreadPool {
    fn submit(&self, _: Priority, task: impl FnOnce() + Send + 'static) {
        self.spawn(task)
    }
}

fn scheduler(workers: usize) -> Scheduler {
    // Backpressure on, with marks the benchmark never reaches: admission is still decided
    // for every task.
    Scheduler::builder()
        .workers(workers)
        .capacity(1 << 24)
        .build()
}

fn rayon_pool(workers: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap()
}

/// Submits `n` counting tasks and waits for the last; returns the elapsed time.
fn batch(pool: &impl Pool, n: usize) -> Duration {
    let (latch, done) = Latch::new(n);
    let start = Instant::now();
    for _ in 0..n {
        pool.submit(Priority::Normal, move || latch.hit());
    }
    done.recv().unwrap();
    start.elapsed()
}

fn throughput(c: &mut Criterion) {
    let n = tasks();
    let mut group = c.benchmark_group("scheduler/throughput");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(n as u64));
    for w in worker_counts() {
        let each = |b: &mut criterion::Bencher, pool: &dyn Fn() -> Duration| {
            b.iter_custom(|iters| (0..iters).map(|_| pool()).sum())
        };
        let s = scheduler(w);
        group.bench_function(BenchmarkId::new("threadsmith", w), |b| {
            each(b, &|| batch(&s, n))
        });
        drop(s);
        let tp = threadpool::ThreadPool::new(w);
        group.bench_function(BenchmarkId::new("threadpool", w), |b| {
            each(b, &|| batch(&tp, n))
        });
        drop(tp);
        let rp = rayon_pool(w);
        group.bench_function(BenchmarkId::new("rayon-spawn", w), |b| {
            each(b, &|| batch(&rp, n))
        });
        group.bench_function(BenchmarkId::new("rayon-scope", w), |b| {
            each(b, &|| {
                let (latch, _done) = Latch::new(n);
                let start = Instant::now();
                rp.scope(|s| (0..n).for_each(|_| s.spawn(move |_| latch.hit())));
                start.elapsed()
            })
        });
        drop(rp);
        let naive = NaiveScheduler::new(w);
        group.bench_function(BenchmarkId::new("naive-heap", w), |b| {
            each(b, &|| batch(&naive, n))
        });
    }
    group.finish();
}

/// Queues `backlog` Low tasks, then one High task: the time until the High one starts.
fn high_behind_low(pool: &impl Pool, backlog: usize) -> Duration {
    let (latch, done) = Latch::new(backlog + 1);
    for _ in 0..backlog {
        pool.submit(Priority::Low, move || latch.hit());
    }
    let (started_tx, started) = channel();
    let submitted = Instant::now();
    pool.submit(Priority::High, move || {
        started_tx.send(Instant::now()).unwrap();
        latch.hit();
    });
    let waited = started.recv().unwrap() - submitted;
    done.recv().unwrap();
    waited
}

fn latency(c: &mut Criterion) {
    let backlog = tasks() / 100;
    let mut group = c.benchmark_group("scheduler/high_behind_low");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let w = 2;
    let s = scheduler(w);
    group.bench_function(BenchmarkId::new("threadsmith", w), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| high_behind_low(&s, backlog)).sum())
    });
    let naive = NaiveScheduler::new(w);
    group.bench_function(BenchmarkId::new("naive-heap", w), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| high_behind_low(&naive, backlog)).sum())
    });
    let tp = threadpool::ThreadPool::new(w);
    group.bench_function(BenchmarkId::new("threadpool", w), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| high_behind_low(&tp, backlog)).sum())
    });
    group.finish();
}

criterion_group!(benches, throughput, latency);
criterion_main!(benches);
