//! The moving parts: a task's cell (the one allocation per task), the state behind the
//! scheduler's lock, the worker loop and the timer heap.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::queue::{QueueItem, Ready, WaterMarkQueue};
use super::{Priority, Rejected, TaskError};
use crate::clock::Clock;
use crate::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};
use crate::sync::{Arc, Backoff, Condvar, Mutex, MutexGuard};

const QUEUED: u32 = 0;
const CLAIMED: u32 = 1;
const ABORTED: u32 = 2;

/// Where a task's closure and result live.
enum Slot<F, R> {
    Waiting(F),
    Running,
    Finished(Result<R, TaskError>),
    Joined,
}

// ANCHOR: task
/// One task: its fate (`QUEUED` → `CLAIMED` by a worker, or → `ABORTED` by cancel, shed or
/// abandon — exactly one wins), and the slot its handle waits on.
pub(crate) struct Task<F, R> {
    /// Relaxed everywhere: every transition is made while holding the scheduler's state lock,
    /// which orders them; the atomic only lets `&self` change it.
    fate: AtomicU32,
    slot: Mutex<Slot<F, R>>,
    done: Condvar,
}
// ANCHOR_END: task

/// The queue's view of a task (type-erased).
pub(crate) trait Run: Send + Sync {
    /// `QUEUED → CLAIMED`; call with the state lock held.
    fn claim(&self) -> bool;
    /// `QUEUED → ABORTED`; call with the state lock held.
    fn abort(&self) -> bool;
    /// After a successful `abort`, outside the state lock: drops the closure (user code) and
    /// wakes `join` with `why`.
    fn settle(&self, why: TaskError);
    /// Runs a claimed task; calls `counted(panicked)` before its handle can see the result.
    fn run(&self, counted: &dyn Fn(bool));
}

/// The handle's view of a task.
pub(crate) trait Outcome<R>: Run {
    fn join(&self) -> Result<R, TaskError>;
}

impl<F: FnOnce() -> R + Send, R: Send> Run for Task<F, R> {
    fn claim(&self) -> bool {
        // Relaxed: see `fate`.
        self.fate
            .compare_exchange(QUEUED, CLAIMED, Relaxed, Relaxed)
            .is_ok()
    }

    fn abort(&self) -> bool {
        // Relaxed: see `fate`.
        self.fate
            .compare_exchange(QUEUED, ABORTED, Relaxed, Relaxed)
            .is_ok()
    }

    fn settle(&self, why: TaskError) {
        let closure = mem::replace(&mut *self.slot.lock(), Slot::Finished(Err(why)));
        self.done.notify_all();
        drop(closure); // the closure's captures are dropped with no lock held
    }

    fn run(&self, counted: &dyn Fn(bool)) {
        let f = match mem::replace(&mut *self.slot.lock(), Slot::Running) {
            Slot::Waiting(f) => f,
            _ => unreachable!("a task is claimed once, and only while it waits"),
        };
        let result = catch_unwind(AssertUnwindSafe(f))
            .map_err(|payload| TaskError::Panicked(panic_message(payload.as_ref())));
        counted(result.is_err());
        *self.slot.lock() = Slot::Finished(result);
        self.done.notify_all();
    }
}

impl<F: FnOnce() -> R + Send, R: Send> Outcome<R> for Task<F, R> {
    fn join(&self) -> Result<R, TaskError> {
        let mut slot = self.slot.lock();
        loop {
            match mem::replace(&mut *slot, Slot::Joined) {
                Slot::Finished(result) => return result,
                // `join` takes the handle by value: a second join cannot happen.
                Slot::Joined => return Err(TaskError::Abandoned),
                waiting => {
                    *slot = waiting;
                    self.done.wait(&mut slot);
                }
            }
        }
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// A new task as the two views the scheduler needs, in one allocation.
#[allow(clippy::type_complexity)]
pub(crate) fn new_task<F, R>(f: F) -> (Arc<dyn Run>, Arc<dyn Outcome<R>>)
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let task = Task {
        fate: AtomicU32::new(QUEUED),
        slot: Mutex::new(Slot::Waiting(f)),
        done: Condvar::new(),
    };
    // loom's `Arc` cannot coerce to `dyn`: there, each view wraps a clone of a std `Arc`.
    #[cfg(not(loom))]
    {
        let task = Arc::new(task);
        (task.clone(), task)
    }
    #[cfg(loom)]
    {
        let task = std::sync::Arc::new(task);
        (Arc::from_std(task.clone()), Arc::from_std(task))
    }
}

/// A queued task with the resource it needs, if any.
pub(crate) struct Entry {
    pub(crate) task: Arc<dyn Run>,
    pub(crate) resource: Option<usize>,
}

impl QueueItem for Entry {
    fn claim(&self) -> bool {
        self.task.claim()
    }
    fn abort(&self) -> bool {
        self.task.abort()
    }
}

/// A delayed task: due at `deadline` by the scheduler's clock; `seq` keeps FIFO among equals.
pub(crate) struct Timer {
    deadline: Instant,
    seq: u64,
    priority: Priority,
    entry: Entry,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest deadline first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// Everything behind the scheduler's one lock.
pub(crate) struct State {
    pub(crate) queue: WaterMarkQueue<Entry>,
    pub(crate) timers: BinaryHeap<Timer>,
    next_seq: u64,
    /// Tasks running now, per resource.
    in_use: Vec<usize>,
    /// Which workers are running a task (shutdown joins the others).
    pub(crate) busy: Vec<bool>,
    pub(crate) closed: bool,
    pub(crate) running: usize,
    pub(crate) rejected: usize,
    pub(crate) shed: usize,
    pub(crate) cancelled: usize,
    pub(crate) abandoned: usize,
}

/// What the workers share with the handles: the state, its two condition variables, the clock
/// and the resource limits. Workers hold only this, never the scheduler's owner, so dropping
/// the last `Scheduler` runs its shutdown.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Idle workers wait here for work or for the next timer.
    work: Condvar,
    /// `shutdown` waits here for the queue to drain.
    drained: Condvar,
    clock: Box<dyn Clock>,
    /// With a clock other than the system clock: the longest an idle worker waits before
    /// reading it again while timers are pending.
    clock_poll: Option<Duration>,
    /// `(name, limit)` per resource; a task's resource is an index into this.
    pub(crate) limits: Vec<(String, usize)>,
    /// Tasks finished, and those of them that panicked. Atomics, so that a task is counted
    /// before its `join` returns without a second trip through the state lock.
    pub(crate) completed: AtomicUsize,
    pub(crate) panicked: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(
        queue: WaterMarkQueue<Entry>,
        workers: usize,
        clock: Box<dyn Clock>,
        clock_poll: Option<Duration>,
        limits: Vec<(String, usize)>,
    ) -> Self {
        Shared {
            state: Mutex::new(State {
                queue,
                timers: BinaryHeap::new(),
                next_seq: 0,
                in_use: vec![0; limits.len()],
                busy: vec![false; workers],
                closed: false,
                running: 0,
                rejected: 0,
                shed: 0,
                cancelled: 0,
                abandoned: 0,
            }),
            work: Condvar::new(),
            drained: Condvar::new(),
            clock,
            clock_poll,
            limits,
            completed: AtomicUsize::new(0),
            panicked: AtomicUsize::new(0),
        }
    }

    // ANCHOR: submit
    /// Admits `task` (now, or after `delay` by the clock) or says why not.
    pub(crate) fn submit(
        &self,
        delay: Option<Duration>,
        priority: Priority,
        resource: Option<&str>,
        task: Arc<dyn Run>,
    ) -> Result<(), Rejected> {
        let resource = resource.map(|name| self.limits.iter().position(|(n, _)| n == name));
        let mut shed = Vec::new();
        let mut state = self.state.lock();
        let admitted = if state.closed {
            Err(Rejected::ShuttingDown)
        } else if let Some(None) = resource {
            Err(Rejected::UnknownResource)
        } else {
            state.queue.try_admit(priority, &mut shed)
        };
        if let Err(why) = admitted {
            state.rejected += 1;
            return Err(why);
        }
        state.shed += shed.len();
        let entry = Entry {
            task,
            resource: resource.flatten(),
        };
        match delay {
            None => state.queue.push_admitted(priority, entry),
            Some(delay) => {
                let now = self.clock.now();
                let deadline = now.checked_add(delay).unwrap_or_else(|| far_future(now));
                let seq = state.next_seq;
                state.next_seq += 1;
                state.timers.push(Timer {
                    deadline,
                    seq,
                    priority,
                    entry,
                });
            }
        }
        drop(state);
        // One idle worker is enough: for a task it runs it; for a timer it re-arms its wait
        // with the (maybe earlier) first deadline. Notified after unlocking, so the woken
        // worker does not block on the lock we hold; the change was made under the lock, so
        // a worker cannot miss it (it checks under the lock before it waits).
        self.work.notify_one();
        for dropped in shed {
            dropped.task.settle(TaskError::Shed);
        }
        Ok(())
    }
    // ANCHOR_END: submit

    /// Cancels a queued task: true if it had not started and now never will.
    pub(crate) fn cancel(&self, task: &dyn Run) -> bool {
        let mut state = self.state.lock();
        if !task.abort() {
            return false;
        }
        state.queue.forget(1);
        state.cancelled += 1;
        self.notify_if_drained(&state);
        drop(state);
        task.settle(TaskError::Cancelled);
        true
    }

    /// Wakes every worker: a manual clock moved, or the scheduler is closing.
    pub(crate) fn wake_all(&self) {
        // Taking the lock orders this after any worker's check-then-wait.
        drop(self.state.lock());
        self.work.notify_all();
    }

    fn notify_if_drained(&self, state: &State) {
        if state.closed && state.queue.is_empty() && state.running == 0 {
            self.drained.notify_all();
        }
    }

    // ANCHOR: shutdown
    /// Closes, waits until the queue drains or `deadline` (real time), then abandons what is
    /// still queued. Returns the abandoned tasks (to settle outside the lock) and which
    /// workers are idle (safe to join: they will exit without starting anything).
    pub(crate) fn close_and_drain(&self, deadline: Option<Instant>) -> (Vec<Entry>, Vec<usize>) {
        let mut state = self.state.lock();
        state.closed = true;
        self.work.notify_all();
        while !(state.queue.is_empty() && state.running == 0) {
            match deadline {
                // Checked before waiting: loom's timed waits never time out.
                Some(d) if Instant::now() >= d => break,
                Some(d) => {
                    self.drained.wait_until(&mut state, d);
                }
                None => self.drained.wait(&mut state),
            }
        }
        let mut abandoned = state.queue.abort_all();
        let timers = mem::take(&mut state.timers).into_vec();
        let delayed = abandoned.len();
        abandoned.extend(timers.into_iter().map(|t| t.entry).filter(Entry::abort));
        let delayed = abandoned.len() - delayed;
        state.queue.forget(delayed);
        state.abandoned += abandoned.len();
        let idle = (0..state.busy.len()).filter(|&i| !state.busy[i]).collect();
        self.work.notify_all();
        (abandoned, idle)
    }
    // ANCHOR_END: shutdown

    // ANCHOR: worker
    /// A worker's life: finish the last task and take the next under one lock acquisition,
    /// run it with the lock released, repeat until closed and drained. With nothing to do it
    /// spins briefly (lock released) before sleeping: a producer's next task usually arrives
    /// within that time, and a parked worker costs the producer a wake-up system call.
    pub(crate) fn work(&self, index: usize) {
        let mut last: Option<Option<usize>> = None;
        // Relaxed: counters. The task's slot lock, taken after this, publishes the count to
        // the thread that joins it.
        let counted = |panicked: bool| {
            self.completed.fetch_add(1, Relaxed);
            if panicked {
                self.panicked.fetch_add(1, Relaxed);
            }
        };
        let backoff = Backoff::new();
        loop {
            let entry = {
                let mut state = self.state.lock();
                if let Some(resource) = last.take() {
                    self.finish(&mut state, index, resource);
                }
                loop {
                    match self.try_next(&mut state, index) {
                        Step::Run(entry) => break entry,
                        Step::Exit => return,
                        Step::Idle if !backoff.is_completed() => {
                            drop(state);
                            backoff.snooze();
                            state = self.state.lock();
                        }
                        Step::Idle => self.idle(&mut state),
                    }
                }
            };
            backoff.reset();
            entry.task.run(&counted);
            last = Some(entry.resource);
            // `entry` (and a detached task's result) is dropped here, with no lock held.
        }
    }

    fn finish(&self, state: &mut State, index: usize, resource: Option<usize>) {
        state.running -= 1;
        state.busy[index] = false;
        if let Some(r) = resource {
            state.in_use[r] -= 1;
            state.queue.unblock(r);
        }
        self.notify_if_drained(state);
    }

    /// Claims the next task to run, if any (moving due timers to their FIFOs first).
    fn try_next(&self, state: &mut State, index: usize) -> Step {
        if !state.timers.is_empty() {
            let now = self.clock.now();
            while state.timers.peek().is_some_and(|t| t.deadline <= now) {
                let timer = state.timers.pop().expect("peeked");
                state.queue.push_admitted(timer.priority, timer.entry);
            }
        }
        let State { queue, in_use, .. } = state;
        let limits = &self.limits;
        let entry = queue.pop(|entry| match entry.resource {
            Some(r) if in_use[r] >= limits[r].1 => Ready::Blocked(r),
            _ => Ready::Now,
        });
        match entry {
            Some(entry) => {
                if let Some(r) = entry.resource {
                    state.in_use[r] += 1;
                }
                state.running += 1;
                state.busy[index] = true;
                Step::Run(entry)
            }
            None if state.closed && state.queue.is_empty() => Step::Exit,
            None => Step::Idle,
        }
    }

    /// Sleeps until notified, or until the first timer's deadline.
    fn idle(&self, state: &mut MutexGuard<'_, State>) {
        match state.timers.peek().map(|t| t.deadline) {
            // The deadline is on the scheduler's clock; the wait is in real time. With a
            // manual clock, `Scheduler::wake_timers` ends the wait after `advance`.
            Some(deadline) => {
                let left = deadline.saturating_duration_since(self.clock.now());
                let left = self.clock_poll.map_or(left, |poll| left.min(poll));
                self.work.wait_for(state, left);
            }
            None => self.work.wait(state),
        }
    }
    // ANCHOR_END: worker
}

/// What a worker does next.
enum Step {
    Run(Entry),
    Idle,
    Exit,
}

/// A deadline for a delay too long to represent: about a century out, or `now` itself.
fn far_future(now: Instant) -> Instant {
    now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600))
        .unwrap_or(now)
}
