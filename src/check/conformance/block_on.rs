//! The suite for a minimal executor: [`Suite::check_block_on`].

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::{Failure, Suite};
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::{thread, Arc};

/// The futures [`Suite::check_block_on`] hands to the executor under test.
pub type TestFuture = Pin<Box<dyn Future<Output = u64> + Send + 'static>>;

/// What [`Suite::check_block_on`] ran.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockOnReport {
    /// Futures run to completion.
    pub futures: usize,
    /// Times the executor polled them, in all.
    pub polls: u64,
}

/// Wakes in the `many wakes` phase, one per poll.
const MANY: u64 = 200;
/// Polls that return `Pending` in the `spurious` phase, each after a flurry of wakes.
const SPURIOUS_ROUNDS: u64 = 5;

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Property {
        suite: "block_on",
        check,
        detail,
    }
}

/// Counts the polls of every future the suite builds.
#[derive(Clone, Default)]
struct Polls(Arc<AtomicU64>);

impl Polls {
    /// Counts one poll and returns how many came before it.
    fn count(&self) -> u64 {
        // Relaxed: a statistic, read after the executor's thread handed back its result.
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// Returns `Pending` `pending` times, each time after waking itself from inside `poll`: the
/// wake arrives before the executor can possibly have gone to sleep.
struct SelfWake {
    pending: u64,
    polls: Polls,
}

impl Future for SelfWake {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        self.polls.count();
        if self.pending == 0 {
            return Poll::Ready(1);
        }
        self.pending -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Pending until another thread sets `done`; the first poll hands a clone of the waker to a
/// thread that waits `delay` (or not at all), sets `done`, and wakes it.
struct Remote {
    done: Arc<AtomicBool>,
    started: bool,
    delay: Option<Duration>,
    polls: Polls,
}

impl Future for Remote {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        self.polls.count();
        // Acquire: pairs with the Release store of the waking thread.
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(2);
        }
        if !self.started {
            self.started = true;
            let (done, waker, delay) = (Arc::clone(&self.done), cx.waker().clone(), self.delay);
            thread::spawn(move || {
                if let Some(delay) = delay {
                    thread::sleep(delay); // let the executor go to sleep first
                }
                // Release: the executor's next poll must see `done`.
                done.store(true, Ordering::Release);
                waker.wake();
            });
        }
        Poll::Pending
    }
}

/// Ready on its `MANY + 1`-th poll. Each earlier poll sends the waker to a helper thread that
/// wakes it once: one wake per poll, each from another thread.
struct Many {
    polls: Polls,
    mine: u64,
    to_helper: mpsc::Sender<Waker>,
}

impl Future for Many {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        self.polls.count();
        self.mine += 1;
        if self.mine > MANY {
            return Poll::Ready(MANY);
        }
        // The helper outlives the future; a send can only fail if it panicked.
        let _ = self.to_helper.send(cx.waker().clone());
        Poll::Pending
    }
}

/// Pending `SPURIOUS_ROUNDS` times. Each pending poll wakes the task several times, from
/// inside `poll` (by reference, and through a clone) and twice from a helper thread, and keeps
/// a clone that the suite wakes again after `block_on` has returned.
struct Spurious {
    polls: Polls,
    mine: u64,
    to_helper: mpsc::Sender<Waker>,
    kept: Arc<crate::sync::Mutex<Option<Waker>>>,
}

impl Future for Spurious {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        self.polls.count();
        self.mine += 1;
        *self.kept.lock() = Some(cx.waker().clone());
        if self.mine > SPURIOUS_ROUNDS {
            return Poll::Ready(SPURIOUS_ROUNDS);
        }
        cx.waker().wake_by_ref();
        cx.waker().wake_by_ref();
        let clone = cx.waker().clone(); // a wake that consumes its own `Waker`
        clone.wake();
        let _ = self.to_helper.send(cx.waker().clone());
        let _ = self.to_helper.send(cx.waker().clone());
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A thread that wakes every waker it is sent, once, until the sender is dropped.
fn waking_helper() -> mpsc::Sender<Waker> {
    let (tx, rx) = mpsc::channel::<Waker>();
    thread::spawn(move || {
        for waker in rx {
            waker.wake();
        }
    });
    tx
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

impl Suite {
    // ANCHOR: watchdog
    /// Runs `future` with `block_on` on a fresh thread and waits up to the stall timeout for
    /// its value. A thread that is still blocked by then is left behind (leaked), so a stuck
    /// executor fails the check instead of hanging the caller.
    fn run_block_on(
        &self,
        property: &'static str,
        case: &str,
        block_on: fn(TestFuture) -> u64,
        future: TestFuture,
        expected: u64,
    ) -> Result<(), Failure> {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let out = catch_unwind(AssertUnwindSafe(|| block_on(future)));
            let _ = tx.send(out.map_err(|p| panic_message(&*p)));
        });
        match rx.recv_timeout(self.stall_timeout) {
            Ok(Ok(value)) if value == expected => Ok(()),
            Ok(Ok(value)) => Err(fail(
                property,
                format!("{case}: block_on returned {value}, the future's output is {expected}"),
            )),
            Ok(Err(message)) => Err(fail(property, format!("{case}: panicked: {message}"))),
            Err(_) => Err(fail(
                property,
                format!(
                    "{case}: still blocked after {:?}: stalled. The future was woken but never \
                     polled again (a lost wake-up), or the executor deadlocked",
                    self.stall_timeout
                ),
            )),
        }
    }
    // ANCHOR_END: watchdog

    /// Grades a `block_on`: a function that runs a future to completion on the calling thread
    /// and returns its output, sleeping while the future is `Pending` until its `Waker` is
    /// called. Each future runs on a fresh thread under the
    /// [`stall_timeout`](Self::stall_timeout) watchdog (60 s by default); a thread still stuck
    /// after it is leaked, and the property fails as *stalled*. The properties, in order:
    ///
    /// 1. **`ready`**: a future that is ready at once (`async { 7 }`,
    ///    `std::future::ready`) gives its value;
    /// 2. **`wake before park`**: a future that wakes itself inside `poll` and then returns
    ///    `Pending`: the wake comes before the executor goes to sleep, and must not be lost;
    /// 3. **`wake from another thread`**: a future woken by another thread, once 10 ms later
    ///    and once at once (racing the executor's way to sleep);
    /// 4. **`many wakes`**: a future that needs 200 polls, each woken once from another
    ///    thread: a wake is a hint to poll again, not a promise that the future is ready;
    /// 5. **`spurious`**: a future woken six times per poll (by reference, through clones,
    ///    from inside `poll` and from another thread), then once more after `block_on` has
    ///    returned: extra wakes must neither block, panic nor confuse the executor.
    ///
    /// Failures are [`Failure::Property`] with suite `block_on` and the property's name.
    ///
    /// ```
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::sync::Arc;
    /// use std::task::{Context, Poll, Wake, Waker};
    /// use std::thread::{self, Thread};
    /// use threadsmith::check::conformance::Suite;
    ///
    /// struct Unparker(Thread);
    /// impl Wake for Unparker {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.unpark();
    ///     }
    /// }
    ///
    /// fn block_on<F: Future>(future: F) -> F::Output {
    ///     let mut future = pin!(future);
    ///     let waker = Waker::from(Arc::new(Unparker(thread::current())));
    ///     let mut cx = Context::from_waker(&waker);
    ///     loop {
    ///         if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
    ///             return out;
    ///         }
    ///         thread::park();
    ///     }
    /// }
    ///
    /// let report = Suite::new().check_block_on(block_on).expect("park/unpark conforms");
    /// assert!(report.polls > 200);
    /// ```
    pub fn check_block_on(
        &self,
        block_on: fn(TestFuture) -> u64,
    ) -> Result<BlockOnReport, Failure> {
        let polls = Polls::default();
        let mut futures = 0;
        let mut run = |property, case: &str, future: TestFuture, expected| {
            futures += 1;
            self.run_block_on(property, case, block_on, future, expected)
        };
        // 1. ready
        run("ready", "async { 7 }", Box::pin(async { 7 }), 7)?;
        run("ready", "ready(8)", Box::pin(std::future::ready(8)), 8)?;
        // 2. wake before park
        let once = SelfWake {
            pending: 1,
            polls: polls.clone(),
        };
        run("wake before park", "woken inside poll", Box::pin(once), 1)?;
        // 3. wake from another thread
        for (case, delay) in [
            ("woken 10 ms later", Some(Duration::from_millis(10))),
            ("woken at once", None),
        ] {
            let remote = Remote {
                done: Arc::new(AtomicBool::new(false)),
                started: false,
                delay,
                polls: polls.clone(),
            };
            run("wake from another thread", case, Box::pin(remote), 2)?;
        }
        // 4. many wakes
        let many = Many {
            polls: polls.clone(),
            mine: 0,
            to_helper: waking_helper(),
        };
        run(
            "many wakes",
            "200 wakes, one per poll",
            Box::pin(many),
            MANY,
        )?;
        // 5. spurious
        let kept = Arc::new(crate::sync::Mutex::new(None));
        let spurious = Spurious {
            polls: polls.clone(),
            mine: 0,
            to_helper: waking_helper(),
            kept: Arc::clone(&kept),
        };
        run(
            "spurious",
            "six wakes per poll",
            Box::pin(spurious),
            SPURIOUS_ROUNDS,
        )?;
        let late = kept.lock().take();
        if let Some(waker) = late {
            catch_unwind(AssertUnwindSafe(|| waker.wake())).map_err(|p| {
                fail(
                    "spurious",
                    format!(
                        "waking after block_on returned panicked: {}",
                        panic_message(&*p)
                    ),
                )
            })?;
        }
        // Relaxed: every executor thread has sent its result (a happens-before edge) by now.
        let polls = polls.0.load(Ordering::Relaxed);
        Ok(BlockOnReport { futures, polls })
    }
}
