//! The suite for a scheduler's backpressure: [`Suite::check_backpressure`].

use std::sync::Mutex as StdMutex;

use super::{Failure, Report, Suite};
use crate::check::Rng;
use crate::scheduler::{Overload, Priority, Ready, Rejected, WaterMarkQueue, WaterMarks};
use crate::sync::thread;

/// A scheduler's queue as the suite drives it: tasks are plain ids, and "a worker starts the
/// next task" is a call. Callable from many threads.
pub trait BackpressureQueue: Sync {
    /// Accepts task `id` at `priority` (returning the ids this acceptance shed, oldest first;
    /// empty unless it entered overload in [`Overload::Shed`] mode) or refuses it.
    fn submit(&self, priority: Priority, id: u64) -> Result<Vec<u64>, Rejected>;
    /// Starts the next task (highest priority, FIFO within one) and returns its id; `None`
    /// when nothing is queued.
    fn start_next(&self) -> Option<u64>;
}

/// The crate's own queue, behind a lock.
impl BackpressureQueue for StdMutex<WaterMarkQueue<u64>> {
    fn submit(&self, priority: Priority, id: u64) -> Result<Vec<u64>, Rejected> {
        let mut shed = Vec::new();
        let mut queue = self.lock().unwrap_or_else(|e| e.into_inner());
        queue
            .push(priority, id, &mut shed)
            .map_err(|(why, _)| why)?;
        Ok(shed)
    }
    fn start_next(&self) -> Option<u64> {
        let mut queue = self.lock().unwrap_or_else(|e| e.into_inner());
        queue.pop(|_| Ready::Now)
    }
}

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Backpressure { check, detail }
}

const MARKS: WaterMarks = WaterMarks {
    capacity: 8,
    high_water: 5,
    low_water: 2,
    overload: Overload::Reject,
};

use Priority::{High, Low, Normal};

/// Submits and compares with what the contract says.
fn expect<Q: BackpressureQueue>(
    q: &Q,
    check: &'static str,
    step: &str,
    priority: Priority,
    id: u64,
    want: Result<&[u64], Rejected>,
) -> Result<(), Failure> {
    let got = q.submit(priority, id);
    if got.as_deref().map_err(|e| *e) != want {
        return Err(fail(
            check,
            format!("{step}: submit({priority:?}, {id}) returned {got:?}, expected {want:?}"),
        ));
    }
    Ok(())
}

fn start<Q: BackpressureQueue>(q: &Q, n: usize) {
    for _ in 0..n {
        let _ = q.start_next();
    }
}

impl Suite {
    // ANCHOR: check_backpressure
    /// Runs the backpressure suite on queues made by `new(marks)`. Each check is named in the
    /// [`Failure::Backpressure`] it returns:
    /// 1. **priority order**: tasks start `High`, `Normal`, `Low`, FIFO within each;
    /// 2. **overload**: reaching `high_water` refuses `Low` with `Overloaded`; `Normal` and
    ///    `High` are accepted up to `capacity`, then everything is `Full`;
    /// 3. **hysteresis**: draining to between the marks still refuses `Low`;
    /// 4. **recovery**: at `low_water` `Low` is accepted again, until `high_water` again;
    /// 5. **shed**: in `Shed` mode, entering overload sheds queued `Low` tasks oldest first
    ///    down to `low_water`, or until none is left (never the task being accepted);
    ///    `Reject` mode sheds nothing;
    /// 6. **model**: `sequential_ops` random operations against the crate's
    ///    [`WaterMarkQueue`] under random marks;
    /// 7. **concurrency**: `threads` threads submit and start at once; every accepted id must
    ///    be started or shed exactly once.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use threadsmith::check::conformance::Suite;
    /// use threadsmith::scheduler::WaterMarkQueue;
    ///
    /// Suite::new()
    ///     .check_backpressure(|marks| Mutex::new(WaterMarkQueue::<u64>::new(marks)))
    ///     .expect("the crate's queue conforms");
    /// ```
    pub fn check_backpressure<Q: BackpressureQueue>(
        &self,
        new: impl Fn(WaterMarks) -> Q,
    ) -> Result<Report, Failure> {
        self.priority_order(&new(MARKS))?;
        self.overload_and_hysteresis(&new(MARKS))?;
        self.shedding(&new)?;
        self.against_model(&new)?;
        let stress_values = self.concurrently(&new)?;
        Ok(Report {
            sequential_ops: self.sequential_ops,
            histories: 0,
            stress_values,
        })
    }
    // ANCHOR_END: check_backpressure

    fn priority_order<Q: BackpressureQueue>(&self, q: &Q) -> Result<(), Failure> {
        let plan = [
            (Low, 0),
            (Normal, 1),
            (High, 2),
            (Low, 3),
            (High, 4),
            (Normal, 5),
        ];
        for (p, id) in plan {
            expect(q, "priority order", "below capacity", p, id, Ok(&[]))?;
        }
        let order: Vec<u64> = std::iter::from_fn(|| q.start_next()).collect();
        if order != [2, 4, 1, 5, 0, 3] {
            return Err(fail(
                "priority order",
                format!("submitted Low 0, Normal 1, High 2, Low 3, High 4, Normal 5; started {order:?}, expected [2, 4, 1, 5, 0, 3]"),
            ));
        }
        Ok(())
    }

    fn overload_and_hysteresis<Q: BackpressureQueue>(&self, q: &Q) -> Result<(), Failure> {
        let c = "overload";
        for id in 0..4 {
            expect(q, c, "length below high_water (5)", Normal, id, Ok(&[]))?;
        }
        expect(q, c, "length 4, below high_water (5)", Low, 4, Ok(&[]))?;
        expect(
            q,
            c,
            "length 5 = high_water",
            Low,
            5,
            Err(Rejected::Overloaded),
        )?;
        for id in 6..9 {
            expect(q, c, "overloaded, below capacity (8)", High, id, Ok(&[]))?;
        }
        expect(q, c, "length 8 = capacity", Normal, 9, Err(Rejected::Full))?;
        expect(q, c, "length 8 = capacity", High, 10, Err(Rejected::Full))?;
        expect(q, c, "length 8 = capacity", Low, 11, Err(Rejected::Full))?;
        start(q, 5);
        let c = "hysteresis";
        expect(
            q,
            c,
            "drained to 3, between low_water (2) and high_water (5)",
            Low,
            12,
            Err(Rejected::Overloaded),
        )?;
        start(q, 1);
        let c = "recovery";
        expect(q, c, "drained to 2 = low_water", Low, 13, Ok(&[]))?;
        expect(q, c, "length 3, no longer overloaded", Low, 14, Ok(&[]))?;
        expect(q, c, "length 4, no longer overloaded", Low, 15, Ok(&[]))?;
        expect(
            q,
            c,
            "length 5 = high_water again",
            Low,
            16,
            Err(Rejected::Overloaded),
        )?;
        Ok(())
    }

    fn shedding<Q: BackpressureQueue>(
        &self,
        new: &impl Fn(WaterMarks) -> Q,
    ) -> Result<(), Failure> {
        let c = "shed";
        let q = new(WaterMarks {
            capacity: 10,
            high_water: 6,
            low_water: 3,
            overload: Overload::Shed,
        });
        for id in 0..4 {
            expect(&q, c, "below high_water (6)", Low, id, Ok(&[]))?;
        }
        expect(&q, c, "below high_water (6)", Normal, 4, Ok(&[]))?;
        expect(
            &q,
            c,
            "length 6 = high_water: shed Lows oldest first to low_water (3)",
            High,
            5,
            Ok(&[0, 1, 2]),
        )?;
        expect(
            &q,
            c,
            "length 3 = low_water after shedding",
            Low,
            6,
            Ok(&[]),
        )?;
        let order: Vec<u64> = std::iter::from_fn(|| q.start_next()).collect();
        if order != [5, 4, 3, 6] {
            return Err(fail(
                c,
                format!("after shedding started {order:?}, expected [5, 4, 3, 6]"),
            ));
        }
        let q = new(WaterMarks {
            capacity: 10,
            high_water: 3,
            low_water: 0,
            overload: Overload::Shed,
        });
        expect(&q, c, "below high_water (3)", Low, 0, Ok(&[]))?;
        expect(&q, c, "below high_water (3)", Normal, 1, Ok(&[]))?;
        expect(
            &q,
            c,
            "length 3 = high_water: shed the only Low",
            Normal,
            2,
            Ok(&[0]),
        )?;
        expect(
            &q,
            c,
            "length 2, above low_water (0), no Low left: still overloaded",
            Low,
            3,
            Err(Rejected::Overloaded),
        )?;
        let q = new(MARKS);
        for id in 0..5 {
            expect(&q, c, "Reject mode never sheds", Low, id, Ok(&[]))?;
        }
        Ok(())
    }

    fn against_model<Q: BackpressureQueue>(
        &self,
        new: &impl Fn(WaterMarks) -> Q,
    ) -> Result<(), Failure> {
        let mut rng = Rng::new(self.seed);
        let runs = 20;
        let per_run = self.sequential_ops / runs;
        for run in 0..runs {
            let capacity = 1 + rng.below(12);
            let high_water = rng.below(capacity + 1);
            let low_water = rng.below(high_water + 1);
            let overload = if rng.percent(50) {
                Overload::Shed
            } else {
                Overload::Reject
            };
            let marks = WaterMarks {
                capacity,
                high_water,
                low_water,
                overload,
            };
            let (q, mut model) = (new(marks), WaterMarkQueue::<u64>::new(marks));
            for step in 0..per_run {
                let id = (run * per_run + step) as u64;
                // Submits a little more often than starts, so the marks are crossed both ways.
                if rng.percent(60) {
                    let p = [Low, Normal, High][rng.below(3)];
                    let mut shed = Vec::new();
                    let want = model
                        .push(p, id, &mut shed)
                        .map(|()| shed)
                        .map_err(|(e, _)| e);
                    let got = q.submit(p, id);
                    if got != want {
                        return Err(fail("model", format!("{marks:?}, step {step}: submit({p:?}, {id}) returned {got:?}, expected {want:?}")));
                    }
                } else {
                    let (want, got) = (model.pop(|_| Ready::Now), q.start_next());
                    if got != want {
                        return Err(fail("model", format!("{marks:?}, step {step}: start_next() returned {got:?}, expected {want:?}")));
                    }
                }
            }
        }
        Ok(())
    }

    fn concurrently<Q: BackpressureQueue>(
        &self,
        new: &impl Fn(WaterMarks) -> Q,
    ) -> Result<usize, Failure> {
        let threads = self.stress_threads.max(2);
        let per_thread = (self.stress_ops / 10).max(100) as u64;
        let q = new(WaterMarks {
            capacity: 64,
            high_water: 48,
            low_water: 16,
            overload: Overload::Shed,
        });
        let logs: Vec<(Vec<u64>, Vec<u64>)> = thread::scope(|s| {
            let workers: Vec<_> = (0..threads as u64)
                .map(|t| {
                    let q = &q;
                    s.spawn(move || {
                        let (mut accepted, mut out) = (Vec::new(), Vec::new());
                        for i in 0..per_thread {
                            let id = t << 32 | i;
                            if let Ok(shed) = q.submit([Low, Normal, High][(i % 3) as usize], id) {
                                accepted.push(id);
                                out.extend(shed);
                            }
                            if i % 2 == 1 {
                                out.extend(q.start_next());
                            }
                        }
                        (accepted, out)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("suite thread"))
                .collect()
        });
        let mut accepted: Vec<u64> = logs.iter().flat_map(|(a, _)| a.iter().copied()).collect();
        let mut out: Vec<u64> = logs.into_iter().flat_map(|(_, o)| o).collect();
        out.extend(std::iter::from_fn(|| q.start_next()));
        accepted.sort_unstable();
        out.sort_unstable();
        if let Some(w) = out.windows(2).find(|w| w[0] == w[1]) {
            return Err(fail(
                "concurrency",
                format!("task {:#x} was started or shed twice", w[0]),
            ));
        }
        if accepted != out {
            let lost = accepted.iter().find(|id| out.binary_search(id).is_err());
            let extra = out.iter().find(|id| accepted.binary_search(id).is_err());
            return Err(fail(
                "concurrency",
                format!(
                    "accepted and started-or-shed differ: lost {lost:?}, never accepted {extra:?}"
                ),
            ));
        }
        Ok(accepted.len())
    }
}
