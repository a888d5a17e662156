//! A priority task scheduler with water-mark backpressure, shedding, delays, per-resource
//! limits, cancellation and graceful shutdown.
//!
//! **Algorithm.** One lock guards a [`WaterMarkQueue`] (three FIFOs, `High`, `Normal`, `Low`;
//! strict priority, FIFO within one), a min-heap of delayed tasks, and the counters. `N` worker
//! threads loop: under one lock acquisition they finish their last task's bookkeeping and
//! claim the next; they run it with the lock released. Idle workers wait on a condition
//! variable, with a timeout at the first timer's deadline when there is one (no polling).
//!
//! **Backpressure** is decided under the same lock, so the length the decision reads is the
//! length it changes: when the queue length (tasks accepted and not yet started, delayed ones
//! included) reaches `high_water` the scheduler is overloaded until it falls to `low_water`.
//! While overloaded `Low` is refused ([`Rejected::Overloaded`]); past `capacity` everything is
//! ([`Rejected::Full`]). With [`Overload::Shed`], entering overload aborts ready `Low` tasks,
//! oldest first, down to `low_water`.
//!
//! **Progress**: blocking (one mutex). **Linearization points**: an enqueue's admission, a
//! task's claim by a worker and a cancel all happen under the state lock; a task's fate
//! (claimed or aborted) is decided exactly once there. **Complexity**: enqueue and claim O(1)
//! amortized (O(log t) with `t` timers); shedding O(shed). One allocation per task (its cell,
//! shared by the queue and the handle).
//!
//! **Starvation.** Priorities are strict: under a steady stream of `High` work, `Low` tasks
//! wait for as long as the stream lasts (and are the first shed). That is the point of a
//! priority, and backpressure bounds the wait from the other side: a queue that stays over
//! `high_water` refuses new `Low` work instead of hoarding it. `tests/scheduler.rs` measures it
//! (`low_waits_behind_a_steady_high_stream`). Aging (promoting a task after it waited `d`)
//! would bound the wait at the cost of priority inversions; it is left out.
//!
//! **Clock.** Delays are measured by the scheduler's [`Clock`] (`.clock(c)`, system clock by
//! default). With the system clock a worker waits in real time exactly for the remaining delay.
//! With another clock (a [`ManualClock`](crate::clock::ManualClock) in tests) nothing tells the
//! workers when it moves, so while timers are pending an idle worker re-reads it every 10 ms
//! of real time; [`Scheduler::wake_timers`] makes them re-read it at once after an `advance`.
//!
//! ```
//! use std::time::Duration;
//! use threadsmith::scheduler::{Priority, Scheduler};
//!
//! let scheduler = Scheduler::builder().workers(2).build();
//! let answer = scheduler.enqueue(Priority::High, || 6 * 7).unwrap();
//! assert_eq!(answer.join(), Ok(42));
//! let report = scheduler.shutdown(Duration::from_secs(5));
//! assert_eq!((report.completed, report.abandoned), (1, 0));
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};

/// How often idle workers re-read a clock other than the system clock while timers wait.
const CLOCK_POLL: Duration = Duration::from_millis(10);
// Relaxed loads of the counters: a snapshot, ordered by nothing else.
use crate::sync::atomic::Ordering::Relaxed;
use crate::sync::{thread, Arc, Mutex};

mod queue;
mod worker;

pub use queue::{QueueItem, Ready, WaterMarkQueue, WaterMarks};
use worker::{new_task, Outcome, Shared};

/// A task's priority: `High` starts before `Normal`, before `Low`.
///
/// ```
/// use threadsmith::scheduler::Priority;
/// assert!(Priority::High > Priority::Low);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Priority {
    /// Refused while overloaded; shed first.
    Low,
    /// The usual.
    Normal,
    /// Starts first.
    High,
}

/// What entering overload does to queued `Low` tasks.
///
/// ```
/// use threadsmith::scheduler::Overload;
/// assert_eq!(Overload::default(), Overload::Reject);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Overload {
    /// Keep them; only refuse new `Low` tasks.
    #[default]
    Reject,
    /// Also drop queued `Low` tasks, oldest first, down to `low_water`.
    Shed,
}

/// Why a task was not accepted.
///
/// ```
/// use threadsmith::scheduler::Rejected;
/// assert_eq!(Rejected::Full.to_string(), "the scheduler's queue is at capacity");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Rejected {
    /// A `Low` task while overloaded.
    Overloaded,
    /// The queue is at `capacity`.
    Full,
    /// `shutdown` has begun.
    ShuttingDown,
    /// [`Scheduler::enqueue_on`] named a resource the builder has no `limit` for.
    UnknownResource,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejected::Overloaded => "the scheduler is overloaded: low-priority work is refused",
            Rejected::Full => "the scheduler's queue is at capacity",
            Rejected::ShuttingDown => "the scheduler is shutting down",
            Rejected::UnknownResource => "no limit was configured for this resource",
        })
    }
}

impl std::error::Error for Rejected {}

/// Why a task produced no value.
///
/// ```
/// use threadsmith::scheduler::TaskError;
/// assert_eq!(TaskError::Panicked("boom".into()).to_string(), "the task panicked: boom");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked with this message.
    Panicked(String),
    /// [`TaskHandle::cancel`] stopped it before it started.
    Cancelled,
    /// Dropped by [`Overload::Shed`].
    Shed,
    /// Still queued when `shutdown`'s timeout ran out.
    Abandoned,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(msg) => write!(f, "the task panicked: {msg}"),
            TaskError::Cancelled => f.write_str("the task was cancelled"),
            TaskError::Shed => f.write_str("the task was shed under overload"),
            TaskError::Abandoned => f.write_str("the task was abandoned at shutdown"),
        }
    }
}

impl std::error::Error for TaskError {}

/// Why a builder's arguments can never work.
///
/// ```
/// use threadsmith::scheduler::{BuildError, Scheduler};
/// let err = Scheduler::builder().workers(0).try_build().unwrap_err();
/// assert!(matches!(err, BuildError::ZeroWorkers));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `workers(0)`: nothing would ever run.
    ZeroWorkers,
    /// `capacity(0)`: nothing would ever be accepted.
    ZeroCapacity,
    /// `high_water` above `capacity`: overload could never begin.
    HighAboveCapacity {
        /// The mark.
        high_water: usize,
        /// The capacity.
        capacity: usize,
    },
    /// `low_water` above `high_water`: there is no hysteresis band.
    LowAboveHigh {
        /// The low mark.
        low_water: usize,
        /// The high mark.
        high_water: usize,
    },
    /// `limit(name, 0)`: no task on that resource could ever run.
    ZeroLimit(String),
    /// The operating system refused a worker thread.
    Spawn(std::io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroWorkers => f.write_str("workers must be at least 1"),
            BuildError::ZeroCapacity => f.write_str("capacity must be at least 1"),
            BuildError::HighAboveCapacity {
                high_water,
                capacity,
            } => write!(
                f,
                "high_water ({high_water}) must not exceed capacity ({capacity})"
            ),
            BuildError::LowAboveHigh {
                low_water,
                high_water,
            } => write!(
                f,
                "low_water ({low_water}) must not exceed high_water ({high_water})"
            ),
            BuildError::ZeroLimit(name) => {
                write!(f, "the limit of resource {name:?} must be at least 1")
            }
            BuildError::Spawn(e) => write!(f, "could not start a worker thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// A snapshot of the scheduler's counters.
///
/// ```
/// use threadsmith::scheduler::Scheduler;
/// let stats = Scheduler::builder().workers(1).build().stats();
/// assert_eq!((stats.queued, stats.running, stats.completed, stats.rejected, stats.shed), (0, 0, 0, 0, 0));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Accepted and not yet started (delayed ones included).
    pub queued: usize,
    /// Running now.
    pub running: usize,
    /// Finished over the scheduler's life, panicked ones included.
    pub completed: usize,
    /// Every `Err(Rejected::_)` returned.
    pub rejected: usize,
    /// Dropped by [`Overload::Shed`].
    pub shed: usize,
    /// Stopped by [`TaskHandle::cancel`].
    pub cancelled: usize,
    /// Finished by panicking (also counted in `completed`).
    pub panicked: usize,
    /// Dropped at `shutdown`'s timeout.
    pub abandoned: usize,
}

/// What [`Scheduler::shutdown`] did.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::scheduler::Scheduler;
/// let report = Scheduler::builder().workers(1).build().shutdown(Duration::ZERO);
/// assert_eq!((report.completed, report.abandoned), (0, 0));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Tasks that finished over the scheduler's life, panicked ones included.
    pub completed: usize,
    /// Tasks still queued at the timeout, dropped (over every call).
    pub abandoned: usize,
}

/// The result of an accepted task. Dropping it detaches the task (it still runs).
///
/// ```
/// use threadsmith::scheduler::{Priority, Scheduler};
/// let scheduler = Scheduler::builder().workers(1).build();
/// let handle = scheduler.enqueue(Priority::Normal, || "done").unwrap();
/// assert_eq!(handle.join(), Ok("done"));
/// ```
#[must_use = "dropping a handle detaches the task; keep it to join or cancel"]
pub struct TaskHandle<R> {
    task: Arc<dyn Outcome<R>>,
    shared: Arc<Shared>,
}

impl<R> TaskHandle<R> {
    /// Waits for the task's outcome.
    ///
    /// ```
    /// use threadsmith::scheduler::{Priority, Scheduler, TaskError};
    /// let scheduler = Scheduler::builder().workers(1).build();
    /// let handle = scheduler.enqueue(Priority::Normal, || -> u8 { panic!("boom") }).unwrap();
    /// assert_eq!(handle.join(), Err(TaskError::Panicked("boom".into())));
    /// ```
    pub fn join(self) -> Result<R, TaskError> {
        self.task.join()
    }

    /// Stops the task if it has not started: true when it now never will (its `join` returns
    /// [`TaskError::Cancelled`]); false when it started, finished, or was already stopped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadsmith::scheduler::{Priority, Scheduler, TaskError};
    /// let scheduler = Scheduler::builder().workers(1).build();
    /// let later = scheduler.enqueue_after(Duration::from_secs(3600), Priority::Low, || 1).unwrap();
    /// assert!(later.cancel());
    /// assert_eq!(later.join(), Err(TaskError::Cancelled));
    /// ```
    pub fn cancel(&self) -> bool {
        self.shared.cancel(&*self.task)
    }
}

impl<R> fmt::Debug for TaskHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").finish_non_exhaustive()
    }
}

/// Configures a [`Scheduler`]. Defaults: one worker per available core, `capacity` 65,536,
/// `high_water` ¾ of the capacity, `low_water` ½ of it, [`Overload::Reject`], the system
/// clock, no resource limits.
///
/// ```
/// use threadsmith::scheduler::{Overload, Scheduler};
/// let scheduler = Scheduler::builder()
///     .workers(2).capacity(1_000).high_water(800).low_water(200)
///     .overload(Overload::Shed)
///     .limit("db", 1)
///     .build();
/// # drop(scheduler);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct SchedulerBuilder {
    workers: Option<usize>,
    capacity: usize,
    high_water: Option<usize>,
    low_water: Option<usize>,
    overload: Overload,
    clock: Box<dyn Clock>,
    /// False once `.clock(c)` replaces the system clock: the workers then re-read the clock
    /// while timers wait, since nothing tells them when a manual clock moves.
    system_clock: bool,
    limits: Vec<(String, usize)>,
}

impl fmt::Debug for SchedulerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerBuilder")
            .field("workers", &self.workers)
            .field("capacity", &self.capacity)
            .field("high_water", &self.high_water)
            .field("low_water", &self.low_water)
            .field("overload", &self.overload)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The default capacity.
const DEFAULT_CAPACITY: usize = 1 << 16;

impl SchedulerBuilder {
    /// Worker threads (at least 1; default: available parallelism).
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// let s = Scheduler::builder().workers(1).build();
    /// # drop(s);
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// The hard limit on queued tasks (at least 1).
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// let s = Scheduler::builder().workers(1).capacity(10).build();
    /// # drop(s);
    /// ```
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }

    /// The length at which overload begins (at most `capacity`).
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// let s = Scheduler::builder().workers(1).capacity(10).high_water(8).build();
    /// # drop(s);
    /// ```
    pub fn high_water(mut self, n: usize) -> Self {
        self.high_water = Some(n);
        self
    }

    /// The length at or below which overload ends (at most `high_water`).
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// let s = Scheduler::builder().workers(1).capacity(10).high_water(8).low_water(2).build();
    /// # drop(s);
    /// ```
    pub fn low_water(mut self, n: usize) -> Self {
        self.low_water = Some(n);
        self
    }

    /// Reject (default) or shed when overloaded.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, Scheduler};
    /// let s = Scheduler::builder().workers(1).overload(Overload::Shed).build();
    /// # drop(s);
    /// ```
    pub fn overload(mut self, mode: Overload) -> Self {
        self.overload = mode;
        self
    }

    /// The clock that measures `enqueue_after` delays (see [`Scheduler::wake_timers`]).
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// use threadsmith::clock::ManualClock;
    /// let s = Scheduler::builder().workers(1).clock(ManualClock::new()).build();
    /// # drop(s);
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Box::new(clock);
        self.system_clock = false;
        self
    }

    /// At most `max` tasks tagged `resource` (see [`Scheduler::enqueue_on`]) run at once;
    /// the others wait, still queued, without holding a worker. Setting a name again replaces
    /// its limit.
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// let s = Scheduler::builder().workers(4).limit("db", 2).build();
    /// # drop(s);
    /// ```
    pub fn limit(mut self, resource: &str, max: usize) -> Self {
        match self.limits.iter_mut().find(|(name, _)| name == resource) {
            Some(entry) => entry.1 = max,
            None => self.limits.push((resource.to_owned(), max)),
        }
        self
    }

    /// Starts the scheduler.
    ///
    /// # Panics
    /// With a message saying why, if the arguments can never work (see [`BuildError`]) or a
    /// worker thread cannot be started. [`try_build`](Self::try_build) returns the error.
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// let s = Scheduler::builder().workers(1).build();
    /// # drop(s);
    /// ```
    pub fn build(self) -> Scheduler {
        self.try_build()
            .unwrap_or_else(|e| panic!("Scheduler::builder().build(): {e}"))
    }

    /// Starts the scheduler, or says why its arguments can never work.
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// let err = Scheduler::builder().capacity(10).high_water(5).low_water(6).try_build().unwrap_err();
    /// assert_eq!(err.to_string(), "low_water (6) must not exceed high_water (5)");
    /// ```
    pub fn try_build(self) -> Result<Scheduler, BuildError> {
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        let high_water = self.high_water.unwrap_or(self.capacity - self.capacity / 4);
        let low_water = self.low_water.unwrap_or(high_water.min(self.capacity / 2));
        let marks = WaterMarks {
            capacity: self.capacity,
            high_water,
            low_water,
            overload: self.overload,
        };
        marks.validate()?;
        if let Some((name, _)) = self.limits.iter().find(|(_, max)| *max == 0) {
            return Err(BuildError::ZeroLimit(name.clone()));
        }
        let shared = Arc::new(Shared::new(
            WaterMarkQueue::new(marks),
            workers,
            self.clock,
            (!self.system_clock).then_some(CLOCK_POLL),
            self.limits,
        ));
        let owner = Owner {
            shared: shared.clone(),
            workers: Mutex::new(Vec::with_capacity(workers)),
        };
        for index in 0..workers {
            let shared = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("threadsmith-scheduler-{index}"))
                .spawn(move || shared.work(index));
            match spawned {
                Ok(handle) => owner.workers.lock().push(Some(handle)),
                // Dropping `owner` shuts down the workers already started.
                Err(e) => return Err(BuildError::Spawn(e)),
            }
        }
        Ok(Scheduler {
            owner: Arc::new(owner),
        })
    }
}

/// Owns the worker threads; the last [`Scheduler`] clone drops it, which shuts down.
struct Owner {
    shared: Arc<Shared>,
    workers: Mutex<Vec<Option<thread::JoinHandle<()>>>>,
}

impl Owner {
    fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let deadline = Instant::now().checked_add(timeout);
        let (abandoned, idle) = self.shared.close_and_drain(deadline);
        for entry in abandoned {
            entry.task.settle(TaskError::Abandoned);
        }
        self.join(|i| idle.contains(&i));
        let abandoned = self.shared.state.lock().abandoned;
        ShutdownReport {
            completed: self.shared.completed.load(Relaxed),
            abandoned,
        }
    }

    /// Joins the workers `which` selects, except the calling thread (a task that drops or
    /// shuts down its own scheduler): that one exits after its task.
    fn join(&self, which: impl Fn(usize) -> bool) {
        let me = thread::current().id();
        let mut workers = self.workers.lock();
        for (i, slot) in workers.iter_mut().enumerate() {
            let mine = slot.as_ref().is_some_and(|h| h.thread().id() == me);
            if which(i) && !mine {
                if let Some(handle) = slot.take() {
                    // A worker never panics (tasks run under `catch_unwind`).
                    let _ = handle.join();
                }
            }
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
        self.join(|_| true);
    }
}

// ANCHOR: scheduler
/// A pool of worker threads running prioritized tasks with backpressure. Clones are handles
/// to one scheduler; dropping the last one is [`shutdown`](Self::shutdown)`(Duration::ZERO)`
/// (queued tasks are abandoned) followed by joining every worker (running tasks finish).
///
/// ```
/// use threadsmith::scheduler::{Priority, Rejected, Scheduler};
///
/// let scheduler = Scheduler::builder().workers(1).capacity(4).high_water(2).low_water(1).build();
/// let task = scheduler.enqueue(Priority::Normal, || 1 + 1).unwrap();
/// assert_eq!(task.join(), Ok(2));
/// ```
#[derive(Clone)]
pub struct Scheduler {
    owner: Arc<Owner>,
}
// ANCHOR_END: scheduler

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A builder with the defaults listed on [`SchedulerBuilder`].
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// let s = Scheduler::builder().build();
    /// # drop(s);
    /// ```
    pub fn builder() -> SchedulerBuilder {
        SchedulerBuilder {
            workers: None,
            capacity: DEFAULT_CAPACITY,
            high_water: None,
            low_water: None,
            overload: Overload::Reject,
            clock: Box::new(SystemClock),
            system_clock: true,
            limits: Vec::new(),
        }
    }

    /// Queues `task` at `priority`, or says why not.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Priority, Scheduler};
    /// let s = Scheduler::builder().workers(1).build();
    /// assert_eq!(s.enqueue(Priority::Low, || 7).unwrap().join(), Ok(7));
    /// ```
    pub fn enqueue<F, R>(&self, priority: Priority, task: F) -> Result<TaskHandle<R>, Rejected>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit(None, priority, None, task)
    }

    /// Queues `task` to become ready `delay` from now by the scheduler's clock. It counts in
    /// the queue length from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadsmith::clock::ManualClock;
    /// use threadsmith::scheduler::{Priority, Scheduler};
    ///
    /// let clock = ManualClock::new();
    /// let s = Scheduler::builder().workers(1).clock(clock.clone()).build();
    /// let later = s.enqueue_after(Duration::from_secs(60), Priority::Normal, || "tick").unwrap();
    /// assert_eq!(s.stats().queued, 1);
    /// clock.advance(Duration::from_secs(60));
    /// s.wake_timers();
    /// assert_eq!(later.join(), Ok("tick"));
    /// ```
    pub fn enqueue_after<F, R>(
        &self,
        delay: Duration,
        priority: Priority,
        task: F,
    ) -> Result<TaskHandle<R>, Rejected>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit(Some(delay), priority, None, task)
    }

    // ANCHOR: enqueue_on
    /// Queues `task` to run while holding one slot of `resource` (configured with
    /// [`SchedulerBuilder::limit`]): at most that many such tasks run at once. A task waiting
    /// for a slot stays queued (and counted) but holds no worker.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Priority, Rejected, Scheduler};
    /// let s = Scheduler::builder().workers(2).limit("db", 1).build();
    /// assert_eq!(s.enqueue_on("db", Priority::Normal, || 1).unwrap().join(), Ok(1));
    /// assert_eq!(s.enqueue_on("disk", Priority::Normal, || 1).unwrap_err(), Rejected::UnknownResource);
    /// ```
    pub fn enqueue_on<F, R>(
        &self,
        resource: &str,
        priority: Priority,
        task: F,
    ) -> Result<TaskHandle<R>, Rejected>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit(None, priority, Some(resource), task)
    }
    // ANCHOR_END: enqueue_on

    fn submit<F, R>(
        &self,
        delay: Option<Duration>,
        priority: Priority,
        resource: Option<&str>,
        task: F,
    ) -> Result<TaskHandle<R>, Rejected>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (run, outcome) = new_task(task);
        self.owner.shared.submit(delay, priority, resource, run)?;
        Ok(TaskHandle {
            task: outcome,
            shared: self.owner.shared.clone(),
        })
    }

    /// Makes idle workers re-read the clock now: call it after advancing a
    /// [`ManualClock`](crate::clock::ManualClock). (With the system clock, workers wake at
    /// the first deadline on their own; with another clock they re-read it every 10 ms
    /// anyway, so this only saves that wait.)
    ///
    /// ```
    /// # use threadsmith::scheduler::Scheduler;
    /// Scheduler::builder().workers(1).build().wake_timers();
    /// ```
    pub fn wake_timers(&self) {
        self.owner.shared.wake_all();
    }

    /// Refuses new work, lets queued and running tasks finish until `timeout` (real time),
    /// then abandons what is still queued and joins the idle workers (a worker still running
    /// a task exits after it; the last handle's drop joins it). Idempotent.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use threadsmith::scheduler::{Priority, Rejected, Scheduler};
    /// let s = Scheduler::builder().workers(1).build();
    /// let _ = s.enqueue(Priority::Normal, || ()).unwrap();
    /// assert_eq!(s.shutdown(Duration::from_secs(5)).completed, 1);
    /// assert_eq!(s.enqueue(Priority::High, || ()).unwrap_err(), Rejected::ShuttingDown);
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.owner.shutdown(timeout)
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Priority, Scheduler};
    /// let s = Scheduler::builder().workers(1).build();
    /// s.enqueue(Priority::Normal, || ()).unwrap().join().unwrap();
    /// assert_eq!(s.stats().completed, 1);
    /// ```
    pub fn stats(&self) -> Stats {
        let state = self.owner.shared.state.lock();
        Stats {
            queued: state.queue.len(),
            running: state.running,
            completed: self.owner.shared.completed.load(Relaxed),
            rejected: state.rejected,
            shed: state.shed,
            cancelled: state.cancelled,
            panicked: self.owner.shared.panicked.load(Relaxed),
            abandoned: state.abandoned,
        }
    }
}
