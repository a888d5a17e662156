//! The suite for bounded blocking queues: [`Suite::check_bounded`].

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use super::{audit, Failure, Report, Suite};
use crate::bounded::{BoundedQueue, Closed, TryPopError, TryPushError};
use crate::check::models::{BoundedFifo, BoundedOp, BoundedRet};
use crate::check::mutants::LostWakeupQueue;
use crate::check::reference::CondvarQueue;
use crate::check::{linearizable, Model, Rng, Stress};
use crate::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::sync::{thread, Barrier};

/// A bounded blocking FIFO queue of `u64`s the suite can test, with the semantics of
/// [`BoundedQueue`]: blocking `push`/`pop`, non-blocking `try_*`, and `close`.
pub trait ConcurrentBoundedQueue: Send + Sync + 'static {
    /// Pushes, waiting while full; the value comes back if the queue is closed.
    fn push(&self, value: u64) -> Result<(), Closed<u64>>;
    /// Pops, waiting while empty; `None` once closed and empty.
    fn pop(&self) -> Option<u64>;
    /// Pushes if there is room now.
    fn try_push(&self, value: u64) -> Result<(), TryPushError<u64>>;
    /// Pops if there is a value now.
    fn try_pop(&self) -> Result<u64, TryPopError>;
    /// Refuses later pushes and wakes every waiter.
    fn close(&self);
}

macro_rules! bounded_impl {
    ($($ty:ty),+) => {$(
        impl ConcurrentBoundedQueue for $ty {
            fn push(&self, value: u64) -> Result<(), Closed<u64>> { <$ty>::push(self, value) }
            fn pop(&self) -> Option<u64> { <$ty>::pop(self) }
            fn try_push(&self, value: u64) -> Result<(), TryPushError<u64>> { <$ty>::try_push(self, value) }
            fn try_pop(&self) -> Result<u64, TryPopError> { <$ty>::try_pop(self) }
            fn close(&self) { <$ty>::close(self) }
        }
    )+};
}
bounded_impl!(BoundedQueue<u64>, CondvarQueue<u64>, LostWakeupQueue<u64>);

fn apply<Q: ConcurrentBoundedQueue>(queue: &Q, op: &BoundedOp<u64>) -> BoundedRet<u64> {
    match op {
        BoundedOp::TryPush(v) => match queue.try_push(*v) {
            Ok(()) => BoundedRet::Pushed,
            Err(TryPushError::Full(_)) => BoundedRet::Full,
            Err(TryPushError::Closed(_)) => BoundedRet::Closed,
        },
        BoundedOp::TryPop => match queue.try_pop() {
            Ok(v) => BoundedRet::Popped(v),
            Err(TryPopError::Empty) => BoundedRet::Empty,
            Err(TryPopError::Closed) => BoundedRet::Closed,
        },
        BoundedOp::Close => {
            queue.close();
            BoundedRet::Closed
        }
    }
}

/// The value a stress producer pushes as its `seq`-th.
fn value(producer: usize, seq: usize) -> u64 {
    (producer as u64) << 32 | seq as u64
}

impl Suite {
    /// Runs the bounded-queue suite on queues made by `new(capacity)`; it picks small
    /// capacities (1 to 16) so that producers and consumers really block. Five phases:
    /// 1. sequential `try_push`/`try_pop`/`close` against [`BoundedFifo`];
    /// 2. `rounds` histories of 2–4 threads × `ops_per_thread` non-blocking operations
    ///    (including an occasional `close`), capacity 2, checked for linearizability;
    /// 3. stress: `threads / 2` producers and as many consumers move `ops_per_thread` values
    ///    per producer through blocking `push`/`pop`, then `close`; every value arrives once,
    ///    and each producer's values arrive in order;
    /// 4. close race: producers push until refused while another thread closes midway;
    ///    every value is popped once or handed back in `Closed`, never both, never neither;
    /// 5. wake-ups: one producer and one consumer hand values through a queue of capacity 1,
    ///    so each waits for the other again and again. A lost wake-up stalls it.
    ///
    /// The blocking phases run under a watchdog: a phase still running after
    /// [`stall_timeout`](Self::stall_timeout) is reported as [`Failure::Stalled`] (its threads
    /// are left blocked).
    ///
    /// ```
    /// use threadsmith::bounded::BoundedQueue;
    /// use threadsmith::check::conformance::Suite;
    ///
    /// Suite::new()
    ///     .rounds(50)
    ///     .stress(2, 2_000)
    ///     .check_bounded(BoundedQueue::<u64>::new)
    ///     .expect("the crate's queue conforms");
    /// ```
    pub fn check_bounded<Q: ConcurrentBoundedQueue>(
        &self,
        new: impl Fn(usize) -> Q,
    ) -> Result<Report, Failure> {
        self.bounded_sequential(&new(4))?;
        for round in 0..self.rounds {
            self.bounded_history(round, &new(2))?;
        }
        let mut moved = 0;
        let producers = (self.stress_threads / 2).max(1);
        if self.stress_threads > 0 && self.stress_ops > 0 {
            moved += self.watched(
                "stress",
                stress(Arc::new(new(16)), producers, self.stress_ops),
            )??;
            self.watched(
                "close race",
                close_race(Arc::new(new(4)), producers, self.stress_ops),
            )??;
            let handoffs = (self.stress_ops / 10).max(1_000);
            moved += self.watched("wake-ups", ping_pong(Arc::new(new(1)), handoffs))??;
        }
        Ok(Report {
            sequential_ops: self.sequential_ops,
            histories: self.rounds,
            stress_values: moved,
        })
    }

    fn bounded_sequential<Q: ConcurrentBoundedQueue>(&self, queue: &Q) -> Result<(), Failure> {
        let mut rng = Rng::new(self.seed);
        let mut model = BoundedFifo::new(4);
        for step in 0..self.sequential_ops {
            let op = if step == self.sequential_ops * 9 / 10 {
                BoundedOp::Close // the last tenth runs on a closed queue
            } else if rng.percent(55) {
                BoundedOp::TryPush(step as u64)
            } else {
                BoundedOp::TryPop
            };
            let expected = model.apply(&op);
            let actual = apply(queue, &op);
            if actual != expected {
                return Err(Failure::BoundedSequential {
                    step,
                    op,
                    expected,
                    actual,
                });
            }
        }
        Ok(())
    }

    fn bounded_history<Q: ConcurrentBoundedQueue>(
        &self,
        round: usize,
        queue: &Q,
    ) -> Result<(), Failure> {
        let history = Stress::new(2 + round % 3, self.ops_per_thread)
            .seed(self.seed.wrapping_add(round as u64))
            .run(
                queue,
                |thread, rng| match rng.below(100) {
                    0..=1 => BoundedOp::Close,
                    2..=50 => {
                        BoundedOp::TryPush((thread * 1_000_000 + rng.below(1_000_000)) as u64)
                    }
                    _ => BoundedOp::TryPop,
                },
                |queue, op| apply(queue, op),
            );
        linearizable(&BoundedFifo::new(2), &history)
            .map(|_| ())
            .map_err(|violation| Failure::NotLinearizable { round, violation })
    }

    /// Runs `phase` on its own thread; gives up on it after `stall_timeout`.
    pub(super) fn watched<R: Send + 'static>(
        &self,
        phase: &'static str,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Failure> {
        let (done, finished) = mpsc::channel();
        let worker = thread::spawn(move || {
            let result = work();
            let _ = done.send(());
            result
        });
        match finished.recv_timeout(self.stall_timeout) {
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Failure::Stalled {
                phase,
                after: self.stall_timeout,
            }),
            // Finished, or panicked (the sender is gone): `join` returns or re-raises.
            _ => Ok(worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))),
        }
    }
}

/// Producers push `per_producer` values each with blocking `push`, consumers pop until the
/// queue is closed and empty; the queue is closed once every producer is done.
fn stress<Q: ConcurrentBoundedQueue>(
    queue: Arc<Q>,
    producers: usize,
    per_producer: usize,
) -> impl FnOnce() -> Result<usize, Failure> + Send + 'static {
    move || {
        let barrier = Barrier::new(producers * 2);
        let streams = thread::scope(|s| {
            let consumers: Vec<_> = (0..producers)
                .map(|c| {
                    let (queue, barrier) = (&queue, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        (c, std::iter::from_fn(|| queue.pop()).collect::<Vec<_>>())
                    })
                })
                .collect();
            let pushers: Vec<_> = (0..producers)
                .map(|p| {
                    let (queue, barrier) = (&queue, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        for seq in 0..per_producer {
                            if let Err(Closed(v)) = queue.push(value(p, seq)) {
                                return Err(Failure::Lost { value: v }); // closed too early
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            let pushed: Result<(), Failure> = pushers.into_iter().try_for_each(join);
            queue.close();
            let streams: Vec<_> = consumers.into_iter().map(join).collect();
            pushed.map(|()| streams)
        })?;
        audit(true, &vec![per_producer; producers], &streams)?;
        Ok(producers * per_producer)
    }
}

/// Producers push 0, 1, 2, … until refused; a closer closes once consumers have popped about
/// half of what one producer would push. Every attempted value must come out exactly once:
/// popped, or handed back inside `Closed`.
fn close_race<Q: ConcurrentBoundedQueue>(
    queue: Arc<Q>,
    producers: usize,
    per_producer: usize,
) -> impl FnOnce() -> Result<(), Failure> + Send + 'static {
    move || {
        let popped_so_far = AtomicUsize::new(0);
        let close_after = (per_producer / 2).max(1);
        let (streams, attempted) = thread::scope(|s| {
            let consumers: Vec<_> = (0..producers)
                .map(|c| {
                    let (queue, popped_so_far) = (&queue, &popped_so_far);
                    s.spawn(move || {
                        let mut got = Vec::new();
                        while let Some(v) = queue.pop() {
                            got.push(v);
                            // Relaxed: a progress counter for the closer, nothing more.
                            popped_so_far.fetch_add(1, Relaxed);
                        }
                        (c, got)
                    })
                })
                .collect();
            let pushers: Vec<_> = (0..producers)
                .map(|p| {
                    let queue = &queue;
                    s.spawn(move || {
                        // Stop at a refusal; the refused value is handed back.
                        for seq in 0.. {
                            if let Err(Closed(v)) = queue.push(value(p, seq)) {
                                return (seq + 1, Some(v));
                            }
                            if seq == per_producer * 4 {
                                return (seq + 1, None); // never closed: the audit says so
                            }
                        }
                        unreachable!("the loop returns")
                    })
                })
                .collect();
            while popped_so_far.load(Relaxed) < close_after {
                thread::yield_now();
            }
            queue.close();
            let mut attempted = Vec::new();
            let mut returned = Vec::new();
            for pusher in pushers {
                let (n, back) = join(pusher);
                attempted.push(n);
                returned.extend(back);
            }
            let mut streams: Vec<_> = consumers.into_iter().map(join).collect();
            streams.push((usize::MAX, returned)); // the handed-back values, as one more stream
            (streams, attempted)
        });
        audit(false, &attempted, &streams)
    }
}

/// One producer and one consumer hand `n` values through a queue of capacity 1.
fn ping_pong<Q: ConcurrentBoundedQueue>(
    queue: Arc<Q>,
    n: usize,
) -> impl FnOnce() -> Result<usize, Failure> + Send + 'static {
    move || {
        let got = thread::scope(|s| {
            let consumer = s.spawn(|| (0..n).map_while(|_| queue.pop()).collect::<Vec<_>>());
            for seq in 0..n {
                if queue.push(value(0, seq)).is_err() {
                    break;
                }
            }
            join(consumer)
        });
        audit(true, &[n], &[(0, got)])?;
        Ok(n)
    }
}

fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Default for [`Suite::stall_timeout`].
pub(super) const STALL_TIMEOUT: Duration = Duration::from_secs(60);
