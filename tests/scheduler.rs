//! The scheduler end to end: ordering, water marks, shedding, cancel, panics, delays on a
//! manual clock, shutdown, and the conformance suite on the scheduler's queue. Workers are held
//! with gate tasks (channels), never with sleeps; nothing asserts on timing.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use threadsmith::check::conformance::BackpressureQueue;
use threadsmith::clock::ManualClock;
use threadsmith::scheduler::{
    BuildError, Overload, Priority, Rejected, Scheduler, TaskError, TaskHandle, WaterMarkQueue,
};

const LONG: Duration = Duration::from_secs(60);

/// A task that tells `started` it runs, then blocks until `release` is sent (or dropped).
struct Gate {
    started: Receiver<()>,
    release: Sender<()>,
}

fn hold(s: &Scheduler, priority: Priority) -> (Gate, TaskHandle<()>) {
    let (started_tx, started) = channel();
    let (release, release_rx) = channel::<()>();
    let handle = s
        .enqueue(priority, move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
        })
        .unwrap();
    let gate = Gate { started, release };
    gate.started.recv().unwrap();
    (gate, handle)
}

impl Gate {
    fn open(self) {
        let _ = self.release.send(());
    }
}

fn scheduler(workers: usize, cap: usize, high: usize, low: usize, mode: Overload) -> Scheduler {
    Scheduler::builder()
        .workers(workers)
        .capacity(cap)
        .high_water(high)
        .low_water(low)
        .overload(mode)
        .build()
}

type Log = Arc<Mutex<Vec<u32>>>;

fn logger(log: &Log, id: u32) -> impl FnOnce() + Send + 'static {
    let log = log.clone();
    move || log.lock().unwrap().push(id)
}

#[test]
fn runs_high_then_normal_then_low_fifo_within_each() {
    let s = scheduler(1, 100, 100, 50, Overload::Reject);
    let (gate, _) = hold(&s, Priority::High);
    let log = Log::default();
    let plan = [
        (1, Priority::Low),
        (2, Priority::Normal),
        (3, Priority::High),
        (4, Priority::Low),
        (5, Priority::High),
        (6, Priority::Normal),
    ];
    let handles: Vec<_> = plan
        .iter()
        .map(|&(id, p)| s.enqueue(p, logger(&log, id)).unwrap())
        .collect();
    gate.open();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(*log.lock().unwrap(), [3, 5, 2, 6, 1, 4]);
}

#[test]
fn rejects_low_priority_until_low_water() {
    // Queue length counts accepted, not started: the gate task is running, so it is not queued.
    let s = scheduler(1, 6, 4, 2, Overload::Reject);
    let (gate, _) = hold(&s, Priority::High);
    // Each queued task is itself a gate, so the test can let them start one at a time.
    let mut queued = Vec::new();
    let mut gates = Vec::new();
    for _ in 0..4 {
        let (started_tx, started) = channel();
        let (release, release_rx) = channel::<()>();
        queued.push(
            s.enqueue(Priority::Normal, move || {
                started_tx.send(()).unwrap();
                let _ = release_rx.recv();
            })
            .unwrap(),
        );
        gates.push(Gate { started, release });
    }
    assert_eq!(s.stats().queued, 4);
    assert_eq!(
        s.enqueue(Priority::Low, || ()).unwrap_err(),
        Rejected::Overloaded
    );
    // Normal and High are accepted up to capacity, then everything is Full.
    let extra: Vec<_> = (0..2)
        .map(|_| s.enqueue(Priority::High, || ()).unwrap())
        .collect();
    assert_eq!(
        s.enqueue(Priority::High, || ()).unwrap_err(),
        Rejected::Full
    );
    assert_eq!(
        s.enqueue(Priority::Normal, || ()).unwrap_err(),
        Rejected::Full
    );
    assert_eq!(
        s.enqueue(Priority::Low, || ()).unwrap_err(),
        Rejected::Full,
        "past capacity everything is Full, Low included"
    );
    // Let the two High ones and one gate start: length 6 -> 3, between the marks.
    gate.open();
    extra.into_iter().for_each(|h| h.join().unwrap());
    let mut gates = gates.into_iter();
    let first = gates.next().unwrap();
    first.started.recv().unwrap();
    assert_eq!(s.stats().queued, 3);
    assert_eq!(
        s.enqueue(Priority::Low, || ()).unwrap_err(),
        Rejected::Overloaded,
        "hysteresis"
    );
    // One more starts: length 2 = low_water, overload over.
    first.open();
    let second = gates.next().unwrap();
    second.started.recv().unwrap();
    assert_eq!(s.stats().queued, 2);
    let low = s.enqueue(Priority::Low, || "accepted").unwrap();
    second.open();
    gates.for_each(Gate::open);
    assert_eq!(low.join(), Ok("accepted"));
    assert_eq!(s.stats().rejected, 5, "every Err is counted");
}

#[test]
fn sheds_oldest_low_first_down_to_low_water() {
    let s = scheduler(1, 10, 6, 3, Overload::Shed);
    let (gate, _) = hold(&s, Priority::High);
    let log = Log::default();
    let lows: Vec<_> = (0..4)
        .map(|i| s.enqueue(Priority::Low, logger(&log, i)).unwrap())
        .collect();
    let normal = s.enqueue(Priority::Normal, logger(&log, 10)).unwrap();
    assert_eq!(s.stats().shed, 0);
    // Length reaches high_water (6): Lows 0, 1, 2 are shed, leaving 3 = low_water.
    let high = s.enqueue(Priority::High, logger(&log, 20)).unwrap();
    let stats = s.stats();
    assert_eq!((stats.shed, stats.queued), (3, 3));
    // At low_water the overload is over: Low is accepted again.
    let late = s.enqueue(Priority::Low, logger(&log, 4)).unwrap();
    gate.open();
    let results: Vec<_> = lows.into_iter().map(TaskHandle::join).collect();
    assert_eq!(
        results,
        [
            Err(TaskError::Shed),
            Err(TaskError::Shed),
            Err(TaskError::Shed),
            Ok(())
        ]
    );
    for h in [normal, high, late] {
        h.join().unwrap();
    }
    assert_eq!(*log.lock().unwrap(), [20, 10, 3, 4]);
}

#[test]
fn shedding_stops_when_no_low_task_is_left() {
    let s = scheduler(1, 10, 3, 0, Overload::Shed);
    let (gate, _) = hold(&s, Priority::High);
    let low = s.enqueue(Priority::Low, || ()).unwrap();
    let normal: Vec<_> = (0..2)
        .map(|_| s.enqueue(Priority::Normal, || ()).unwrap())
        .collect();
    let stats = s.stats();
    assert_eq!((stats.shed, stats.queued), (1, 2));
    assert_eq!(
        s.enqueue(Priority::Low, || ()).unwrap_err(),
        Rejected::Overloaded
    );
    gate.open();
    assert_eq!(low.join(), Err(TaskError::Shed));
    normal.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn cancel_stops_a_task_that_has_not_started() {
    let s = scheduler(1, 10, 10, 5, Overload::Reject);
    let (gate, running) = hold(&s, Priority::High);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let queued = s
        .enqueue(Priority::Normal, move || r.fetch_add(1, SeqCst))
        .unwrap();
    assert!(!running.cancel(), "a running task cannot be cancelled");
    assert!(queued.cancel());
    assert!(!queued.cancel(), "cancel is true once");
    assert_eq!(
        s.stats().queued,
        0,
        "a cancelled task leaves the queue length"
    );
    gate.open();
    assert_eq!(queued.join(), Err(TaskError::Cancelled));
    assert_eq!(running.join(), Ok(()));
    s.shutdown(LONG);
    assert_eq!(ran.load(SeqCst), 0);
    assert_eq!(s.stats().cancelled, 1);
}

#[test]
fn dropping_a_handle_detaches_without_cancelling() {
    let s = scheduler(1, 10, 10, 5, Overload::Reject);
    let (tx, rx) = channel();
    drop(
        s.enqueue(Priority::Normal, move || tx.send(7).unwrap())
            .unwrap(),
    );
    assert_eq!(rx.recv(), Ok(7));
}

#[test]
fn a_panicking_task_is_reported_and_the_worker_lives_on() {
    let s = scheduler(1, 10, 10, 5, Overload::Reject);
    let boom = s
        .enqueue(Priority::Normal, || -> u8 { panic!("boom") })
        .unwrap();
    let owned = s
        .enqueue(Priority::Normal, || -> u8 {
            panic!("{}", String::from("owned"))
        })
        .unwrap();
    let other = s
        .enqueue(Priority::Normal, || -> u8 { std::panic::panic_any(5) })
        .unwrap();
    assert_eq!(boom.join(), Err(TaskError::Panicked("boom".into())));
    assert_eq!(owned.join(), Err(TaskError::Panicked("owned".into())));
    assert!(matches!(other.join(), Err(TaskError::Panicked(_))));
    assert_eq!(s.enqueue(Priority::Normal, || 1).unwrap().join(), Ok(1));
    let stats = s.stats();
    assert_eq!((stats.completed, stats.panicked), (4, 3));
}

#[test]
fn delayed_tasks_run_in_deadline_order_by_the_manual_clock() {
    let clock = ManualClock::new();
    let s = Scheduler::builder().workers(1).clock(clock.clone()).build();
    let log = Log::default();
    let d = Duration::from_secs;
    let late = s
        .enqueue_after(d(30), Priority::High, logger(&log, 30))
        .unwrap();
    let early = s
        .enqueue_after(d(10), Priority::Low, logger(&log, 10))
        .unwrap();
    let tie = s
        .enqueue_after(d(10), Priority::Low, logger(&log, 11))
        .unwrap();
    assert_eq!(s.stats().queued, 3, "delayed tasks count from acceptance");
    clock.advance(d(9));
    s.wake_timers();
    // Nothing is due: a task enqueued now runs first.
    s.enqueue(Priority::Low, logger(&log, 0))
        .unwrap()
        .join()
        .unwrap();
    clock.advance(d(1));
    s.wake_timers();
    early.join().unwrap();
    tie.join().unwrap();
    assert_eq!(*log.lock().unwrap(), [0, 10, 11]);
    clock.advance(d(20));
    s.wake_timers();
    late.join().unwrap();
    assert_eq!(*log.lock().unwrap(), [0, 10, 11, 30]);
}

#[test]
fn a_manual_clock_advance_is_noticed_without_wake_timers() {
    // Code written against the contract alone knows `advance`, not `wake_timers`: the workers
    // must notice the clock moving by themselves.
    let clock = ManualClock::new();
    let s = Scheduler::builder().workers(1).clock(clock.clone()).build();
    let (ran, ran_rx) = channel();
    let _detached = s
        .enqueue_after(Duration::from_secs(3600), Priority::Normal, move || {
            ran.send(()).unwrap()
        })
        .unwrap();
    // Not due: a task enqueued now runs, and the delayed one is still waiting.
    s.enqueue(Priority::Low, || ()).unwrap().join().unwrap();
    assert_eq!(s.stats().queued, 1);
    // Real time, not clock time: long enough for the idle worker to stop spinning and park
    // in its timed wait (which, without re-reading the clock, would last an hour).
    std::thread::sleep(Duration::from_millis(50));
    clock.advance(Duration::from_secs(3600));
    ran_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the delayed task ran once the manual clock reached its deadline");
}

#[test]
fn due_timers_start_in_priority_order() {
    let clock = ManualClock::new();
    let s = Scheduler::builder().workers(1).clock(clock.clone()).build();
    let (gate, _) = hold(&s, Priority::High);
    let log = Log::default();
    let low = s
        .enqueue_after(Duration::from_secs(1), Priority::Low, logger(&log, 1))
        .unwrap();
    let high = s
        .enqueue_after(Duration::from_secs(2), Priority::High, logger(&log, 2))
        .unwrap();
    clock.advance(Duration::from_secs(2));
    gate.open();
    low.join().unwrap();
    high.join().unwrap();
    assert_eq!(*log.lock().unwrap(), [2, 1]);
}

#[test]
fn shutdown_drains_queued_work_before_the_timeout() {
    let s = scheduler(1, 10, 10, 5, Overload::Reject);
    let (gate, _) = hold(&s, Priority::High);
    let done: Vec<_> = (0..3)
        .map(|i| s.enqueue(Priority::Normal, move || i).unwrap())
        .collect();
    gate.open(); // the queued tasks may or may not have started when shutdown begins
    let report = s.shutdown(LONG);
    assert_eq!((report.completed, report.abandoned), (4, 0));
    let values: Vec<_> = done.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, [0, 1, 2]);
    assert_eq!(
        s.enqueue(Priority::High, || 0).unwrap_err(),
        Rejected::ShuttingDown
    );
    assert_eq!(s.shutdown(Duration::ZERO), report, "idempotent");
    assert_eq!(s.stats().rejected, 1);
}

#[test]
fn shutdown_timeout_abandons_queued_work_behind_a_running_task() {
    let s = scheduler(1, 10, 10, 5, Overload::Reject);
    let (gate, running) = hold(&s, Priority::High);
    let queued: Vec<_> = (0..3)
        .map(|_| s.enqueue(Priority::Normal, || ()).unwrap())
        .collect();
    let never = s.enqueue_after(LONG * 60, Priority::High, || ()).unwrap();
    let report = s.shutdown(Duration::ZERO);
    assert_eq!((report.completed, report.abandoned), (0, 4));
    for h in queued {
        assert_eq!(h.join(), Err(TaskError::Abandoned));
    }
    assert_eq!(never.join(), Err(TaskError::Abandoned));
    gate.open();
    assert_eq!(running.join(), Ok(()));
    drop(s); // joins the worker that was busy
}

#[test]
fn dropping_the_last_handle_joins_every_worker() {
    let live = Arc::new(AtomicUsize::new(0));
    let s = Scheduler::builder().workers(3).build();
    // A guard in each worker's thread-local storage counts the live workers.
    struct Alive(Arc<AtomicUsize>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.fetch_sub(1, SeqCst);
        }
    }
    thread_local!(static ALIVE: std::cell::RefCell<Option<Alive>> = const { std::cell::RefCell::new(None) });
    let (gate_tx, gate_rx) = channel::<()>();
    let gate_rx = Arc::new(Mutex::new(gate_rx));
    let (ready_tx, ready_rx) = channel();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (live, ready, gate) = (live.clone(), ready_tx.clone(), gate_rx.clone());
            s.enqueue(Priority::Normal, move || {
                live.fetch_add(1, SeqCst);
                ALIVE.with(|a| *a.borrow_mut() = Some(Alive(live)));
                ready.send(()).unwrap();
                // Hold every worker until all three registered: one task per thread.
                let _ = gate.lock().unwrap().recv();
            })
            .unwrap()
        })
        .collect();
    for _ in 0..3 {
        ready_rx.recv().unwrap();
    }
    drop(gate_tx);
    handles.into_iter().for_each(|h| h.join().unwrap());
    let clone = s.clone();
    drop(s);
    assert_eq!(live.load(SeqCst), 3, "a clone keeps it alive");
    drop(clone);
    assert_eq!(live.load(SeqCst), 0, "every worker thread has exited");
}

#[test]
fn a_task_may_drop_the_last_handle() {
    let s = Scheduler::builder().workers(2).build();
    let (tx, rx) = channel();
    let inner = s.clone();
    drop(s);
    // The task owns the last handle and drops it on its own worker thread.
    inner
        .clone()
        .enqueue(Priority::Normal, move || {
            drop(inner);
            tx.send(()).unwrap();
        })
        .map(drop)
        .unwrap();
    rx.recv().unwrap();
}

#[test]
fn limits_concurrency_per_resource() {
    let s = Scheduler::builder().workers(4).limit("db", 2).build();
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..40)
        .map(|_| {
            let (now, peak) = (now.clone(), peak.clone());
            s.enqueue_on("db", Priority::Normal, move || {
                let n = now.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(n, SeqCst);
                std::thread::yield_now();
                now.fetch_sub(1, SeqCst);
            })
            .unwrap()
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert!(peak.load(SeqCst) <= 2, "peak {}", peak.load(SeqCst));
    assert_eq!(
        s.enqueue_on("disk", Priority::High, || ()).unwrap_err(),
        Rejected::UnknownResource
    );
}

#[test]
fn a_task_waiting_for_its_resource_does_not_hold_a_worker() {
    let s = Scheduler::builder().workers(2).limit("db", 1).build();
    let (started_tx, started) = channel();
    let (release, release_rx) = channel::<()>();
    let db = s
        .enqueue_on("db", Priority::High, move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
        })
        .unwrap();
    started.recv().unwrap();
    let second_db = s.enqueue_on("db", Priority::High, || "db").unwrap();
    // The second worker parks the db task and runs this one.
    assert_eq!(
        s.enqueue(Priority::Low, || "free").unwrap().join(),
        Ok("free")
    );
    assert_eq!(s.stats().queued, 1, "the parked task is still queued");
    release.send(()).unwrap();
    db.join().unwrap();
    assert_eq!(second_db.join(), Ok("db"));
}

#[test]
fn low_waits_behind_a_steady_high_stream() {
    // Strict priority: while High work keeps arriving faster than one worker drains it, a Low
    // task queued first runs last. Measured as "how many High tasks ran before it".
    let s = scheduler(1, 1_000, 1_000, 500, Overload::Reject);
    let (gate, _) = hold(&s, Priority::High);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let low = s.enqueue(Priority::Low, move || r.load(SeqCst)).unwrap();
    let highs: Vec<_> = (0..100)
        .map(|_| {
            let ran = ran.clone();
            s.enqueue(Priority::High, move || ran.fetch_add(1, SeqCst))
                .unwrap()
        })
        .collect();
    gate.open();
    assert_eq!(low.join(), Ok(100), "every High queued behind it ran first");
    highs.into_iter().for_each(|h| drop(h.join()));
}

#[test]
fn builder_rejects_arguments_that_can_never_work() {
    let err = |b: threadsmith::scheduler::SchedulerBuilder| b.try_build().unwrap_err();
    assert!(matches!(
        err(Scheduler::builder().workers(0)),
        BuildError::ZeroWorkers
    ));
    assert!(matches!(
        err(Scheduler::builder().capacity(0)),
        BuildError::ZeroCapacity
    ));
    assert!(matches!(
        err(Scheduler::builder().capacity(5).high_water(6)),
        BuildError::HighAboveCapacity {
            high_water: 6,
            capacity: 5
        }
    ));
    assert!(matches!(
        err(Scheduler::builder().high_water(5).low_water(6)),
        BuildError::LowAboveHigh {
            low_water: 6,
            high_water: 5
        }
    ));
    assert!(matches!(
        err(Scheduler::builder().limit("db", 0)),
        BuildError::ZeroLimit(_)
    ));
    let panic = std::panic::catch_unwind(|| Scheduler::builder().workers(0).build()).unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("workers must be at least 1"), "{msg}");
}

#[test]
fn stats_count_every_rejection() {
    let s = scheduler(1, 2, 1, 0, Overload::Reject);
    let (gate, _) = hold(&s, Priority::High);
    let kept = s.enqueue(Priority::Normal, || ()).unwrap();
    let mut errs = 0;
    for _ in 0..5 {
        errs += usize::from(s.enqueue(Priority::Low, || ()).is_err());
    }
    let also = s.enqueue(Priority::Normal, || ()).unwrap();
    errs += usize::from(s.enqueue(Priority::Normal, || ()).is_err());
    gate.open();
    kept.join().unwrap();
    also.join().unwrap();
    s.shutdown(LONG);
    errs += usize::from(s.enqueue(Priority::High, || ()).is_err());
    assert_eq!((errs, s.stats().rejected), (7, 7));
}

#[test]
fn many_producers_never_exceed_capacity() {
    let s = scheduler(2, 64, 48, 16, Overload::Shed);
    let accepted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (s, accepted) = (&s, &accepted);
            scope.spawn(move || {
                let p = [Priority::Low, Priority::Normal, Priority::High][t % 3];
                for _ in 0..2_000 {
                    if s.enqueue(p, || ()).is_ok() {
                        accepted.fetch_add(1, SeqCst);
                    }
                    assert!(s.stats().queued <= 64);
                }
            });
        }
    });
    let report = s.shutdown(LONG);
    let stats = s.stats();
    assert_eq!(stats.rejected + accepted.load(SeqCst), 8_000);
    assert_eq!(report.completed + stats.shed, accepted.load(SeqCst));
}

fn _queue_is_a_backpressure_queue(q: Mutex<WaterMarkQueue<u64>>) -> impl BackpressureQueue {
    q
}
