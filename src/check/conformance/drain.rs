//! The suite for graceful shutdown: [`Suite::check_drain`].
//!
//! A service that drains well does five things: it answers its liveness probe throughout the
//! drain (it is alive, just leaving), it fails its readiness probe from the moment the drain
//! begins (so the load balancer stops sending), it admits nothing new from then on, it lets the
//! requests it already admitted finish, and it gives up on them when the grace period runs out
//! (the orchestrator's SIGKILL comes anyway). The suite checks each of those on your service,
//! driving its clock with a [`ManualClock`] so that no test waits for a real deadline.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Failure, Suite};
use crate::clock::ManualClock;
use crate::sync::{thread, Arc, Condvar, Mutex};

/// A request the suite sends to your service. Serving it means calling [`run`](Self::run),
/// which returns when the suite lets the request finish: until then the request is in flight.
#[derive(Debug)]
pub struct Request {
    gate: Arc<Gate>,
}

/// What happened to one request, behind a lock the suite waits on.
#[derive(Debug, Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    started: bool,
    released: bool,
    finished: bool,
}

impl Request {
    /// A request that the suite (or your own test) releases through the returned handle.
    ///
    /// ```
    /// use threadsmith::check::conformance::Request;
    ///
    /// let (request, handle) = Request::new();
    /// handle.release();
    /// request.run(); // returns at once: already released
    /// assert!(handle.finished());
    /// ```
    pub fn new() -> (Request, RequestHandle) {
        let gate = Arc::new(Gate::default());
        (
            Request {
                gate: Arc::clone(&gate),
            },
            RequestHandle { gate },
        )
    }

    /// Does the request's work: blocks until it is released, then returns.
    pub fn run(self) {
        let mut state = self.gate.state.lock();
        state.started = true;
        self.gate.changed.notify_all();
        while !state.released {
            self.gate.changed.wait(&mut state);
        }
        state.finished = true;
        self.gate.changed.notify_all();
    }
}

/// The suite's side of a [`Request`]: watch it, and let it finish.
#[derive(Debug, Clone)]
pub struct RequestHandle {
    gate: Arc<Gate>,
}

impl RequestHandle {
    /// Lets the request finish (now, or as soon as it runs).
    pub fn release(&self) {
        let mut state = self.gate.state.lock();
        state.released = true;
        self.gate.changed.notify_all();
    }

    /// True once [`Request::run`] was called.
    pub fn started(&self) -> bool {
        self.gate.state.lock().started
    }

    /// True once [`Request::run`] returned.
    pub fn finished(&self) -> bool {
        self.gate.state.lock().finished
    }

    /// Waits up to `timeout` for the request to start; true if it did.
    fn wait_started(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.gate.state.lock();
        while !state.started {
            match deadline {
                Some(deadline) => {
                    if self.gate.changed.wait_until(&mut state, deadline) {
                        return state.started;
                    }
                }
                None => self.gate.changed.wait(&mut state), // a timeout too large to add
            }
        }
        true
    }
}

/// What a drain reports when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainOutcome {
    /// True if every admitted request finished before the grace period ran out.
    pub drained: bool,
    /// Requests still running when the drain returned (0 when `drained`).
    pub remaining: usize,
}

/// A service the drain suite can test. Requests are served on the caller's thread (one thread
/// per connection), so several `handle` calls run at once.
pub trait DrainService: Send + Sync + 'static {
    /// Serves `request` by calling [`Request::run`] and returns `Ok(())` when it is done; or,
    /// once the drain has begun, refuses it without running it and hands it back.
    fn handle(&self, request: Request) -> Result<(), Request>;
    /// The readiness probe (`/readyz`): true while the service wants new traffic.
    fn ready(&self) -> bool;
    /// The liveness probe (`/livez`): true while the process is healthy, draining included.
    fn live(&self) -> bool;
    /// Begins the drain and waits until every admitted request has finished or `grace` has
    /// passed on the service's clock, whichever comes first; then reports which.
    fn shutdown(&self, grace: Duration) -> DrainOutcome;
}

fn fail(check: &'static str, detail: String) -> Failure {
    Failure::Property {
        suite: "drain",
        check,
        detail,
    }
}

/// The grace period the suite asks for.
const GRACE: Duration = Duration::from_secs(30);
/// How long the suite gives a drain to return *early* (wrongly) before it lets the in-flight
/// request finish. A correct drain costs the suite this much real time per check; a drain that
/// returns at once is caught long before it.
const PATIENCE: Duration = Duration::from_millis(500);

/// One step of a polling wait for an event in another thread: yield at first, then sleep a
/// millisecond at a time, so a long wait does not keep a core busy. (Polling for an event, not
/// sleeping to make time pass: the service's time is the `ManualClock`.)
fn pause(polls: &mut u32) {
    *polls += 1;
    if *polls < 100 {
        thread::yield_now();
    } else {
        thread::sleep(Duration::from_millis(1));
    }
}

impl Suite {
    /// Runs the drain suite on services made by `new(clock)`; the service must read time (for
    /// the grace period) from that clock only. Three scenarios, each on a fresh service:
    ///
    /// 1. **probes**: a fresh service is ready and live.
    /// 2. **drain**: request A is in flight when `shutdown(30 s)` starts on another thread.
    ///    Then `ready()` must turn false (`readiness`) while `live()` stays true (`liveness`);
    ///    a new request B must be refused without running (`admitted after drain`); the drain
    ///    must not return while A runs (`dropped in-flight`: the suite waits 0.5 s for a
    ///    premature return); once A is released, the drain must report drained, with A's
    ///    `handle` returning `Ok`.
    /// 3. **deadline**: request C never finishes. The drain must not return before the clock
    ///    moves (`dropped in-flight`); after the suite advances the clock past the grace
    ///    period, it must return within [`stall_timeout`](Self::stall_timeout) reporting one
    ///    request remaining (`drain deadline`).
    ///
    /// Failures are [`Failure::Property`] with `suite` `"drain"` and `check` one of
    /// `readiness`, `liveness`, `serve`, `admitted after drain`, `dropped in-flight`,
    /// `drain deadline`. The suite releases every request it sent before it returns, so a
    /// wrong service does not leave threads blocked behind.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadsmith::check::conformance::{DrainOutcome, DrainService, Request, Suite};
    /// use threadsmith::clock::{Clock, ManualClock};
    /// use threadsmith::shutdown::Shutdown;
    ///
    /// struct Service { shutdown: Shutdown, clock: ManualClock }
    ///
    /// impl DrainService for Service {
    ///     fn handle(&self, request: Request) -> Result<(), Request> {
    ///         let Some(_in_flight) = self.shutdown.enter() else { return Err(request) };
    ///         request.run();
    ///         Ok(())
    ///     }
    ///     fn ready(&self) -> bool { !self.shutdown.is_draining() }
    ///     fn live(&self) -> bool { true }
    ///     fn shutdown(&self, grace: Duration) -> DrainOutcome {
    ///         let deadline = self.clock.now() + grace;
    ///         loop {
    ///             // Short real waits, re-reading the service's clock between them.
    ///             let report = self.shutdown.wait(Duration::from_millis(5));
    ///             if report.drained || self.clock.now() >= deadline {
    ///                 return DrainOutcome { drained: report.drained, remaining: report.remaining };
    ///             }
    ///         }
    ///     }
    /// }
    ///
    /// Suite::new()
    ///     .check_drain(|clock| Service { shutdown: Shutdown::new(), clock })
    ///     .expect("a drain built on Shutdown conforms");
    /// ```
    pub fn check_drain<S: DrainService>(
        &self,
        new: impl Fn(ManualClock) -> S,
    ) -> Result<(), Failure> {
        let service = new(ManualClock::new());
        if !service.ready() {
            return Err(fail("readiness", "a fresh service is not ready".into()));
        }
        if !service.live() {
            return Err(fail("liveness", "a fresh service is not live".into()));
        }
        self.drain_scenario(Arc::new(service))?;
        let clock = ManualClock::new();
        self.deadline_scenario(Arc::new(new(clock.clone())), &clock)
    }

    /// Starts request `request` on its own thread; the thread returns what `handle` returned
    /// (true for `Ok`).
    fn serve<S: DrainService>(service: &Arc<S>, request: Request) -> thread::JoinHandle<bool> {
        let service = Arc::clone(service);
        thread::spawn(move || service.handle(request).is_ok())
    }

    /// Starts the drain on its own thread; its outcome arrives on the channel.
    fn start_drain<S: DrainService>(
        service: &Arc<S>,
        grace: Duration,
    ) -> (mpsc::Receiver<DrainOutcome>, thread::JoinHandle<()>) {
        let (send, outcome) = mpsc::channel();
        let service = Arc::clone(service);
        let drain = thread::spawn(move || {
            let _ = send.send(service.shutdown(grace));
        });
        (outcome, drain)
    }

    /// Waits until `ready()` is false; fails if the drain returns first or it takes longer
    /// than the stall timeout.
    fn await_not_ready<S: DrainService>(
        &self,
        service: &S,
        outcome: &mpsc::Receiver<DrainOutcome>,
    ) -> Result<Option<DrainOutcome>, Failure> {
        let start = Instant::now();
        let mut polls = 0;
        loop {
            if !service.ready() {
                return Ok(None);
            }
            if let Ok(early) = outcome.try_recv() {
                if service.ready() {
                    return Err(fail(
                        "readiness",
                        format!("the drain returned ({early:?}) and ready() is still true"),
                    ));
                }
                return Ok(Some(early));
            }
            if start.elapsed() > self.stall_timeout {
                return Err(fail(
                    "readiness",
                    format!(
                        "ready() still true {:?} after shutdown began: the load balancer keeps \
                         sending traffic",
                        self.stall_timeout
                    ),
                ));
            }
            pause(&mut polls);
        }
    }

    fn drain_scenario<S: DrainService>(&self, service: Arc<S>) -> Result<(), Failure> {
        let (a, a_handle) = Request::new();
        let a_thread = Self::serve(&service, a);
        let mut others = vec![a_handle.clone()];
        let result = self.drain_checks(&service, &a_handle, &mut others);
        // Whatever happened, let every request finish so no thread stays blocked.
        for handle in &others {
            handle.release();
        }
        let a_ok = a_thread.join().unwrap_or(false);
        let (outcome, drain) = result?;
        let _ = drain.join();
        if !a_ok {
            return Err(fail(
                "serve",
                "handle() of a request admitted before the drain did not return Ok".into(),
            ));
        }
        if !outcome.drained || outcome.remaining != 0 {
            return Err(fail(
                "dropped in-flight",
                format!("every request finished, yet the drain reported {outcome:?}"),
            ));
        }
        if service.ready() {
            return Err(fail(
                "readiness",
                "ready() is true again after the drain".into(),
            ));
        }
        Ok(())
    }

    fn drain_checks<S: DrainService>(
        &self,
        service: &Arc<S>,
        a: &RequestHandle,
        others: &mut Vec<RequestHandle>,
    ) -> Result<(DrainOutcome, thread::JoinHandle<()>), Failure> {
        if !a.wait_started(self.stall_timeout) {
            return Err(fail(
                "serve",
                format!(
                    "a request sent to a fresh service did not start within {:?}",
                    self.stall_timeout
                ),
            ));
        }
        let (outcome, drain) = Self::start_drain(service, GRACE);
        let early = self.await_not_ready(&**service, &outcome)?;
        if early.is_none() && !service.live() {
            return Err(fail(
                "liveness",
                "live() turned false while the service was draining: the orchestrator would \
                 restart it and cut off the requests in flight"
                    .into(),
            ));
        }

        // A new request after the drain began must be refused, not run.
        let (b, b_handle) = Request::new();
        others.push(b_handle.clone());
        let b_thread = Self::serve(service, b);
        let start = Instant::now();
        let mut polls = 0;
        while !b_thread.is_finished() && !b_handle.started() {
            if start.elapsed() > self.stall_timeout {
                return Err(fail(
                    "serve",
                    format!(
                        "handle() of a request sent while draining neither ran it nor \
                         returned within {:?}",
                        self.stall_timeout
                    ),
                ));
            }
            pause(&mut polls);
        }
        if b_handle.started() {
            return Err(fail(
                "admitted after drain",
                "a request sent after ready() turned false was run".into(),
            ));
        }
        if b_thread.join().unwrap_or(true) {
            return Err(fail(
                "admitted after drain",
                "a request sent after ready() turned false was answered Ok without running".into(),
            ));
        }

        // The drain must wait for A.
        let early = early.or_else(|| outcome.recv_timeout(PATIENCE).ok());
        if let Some(early) = early {
            return Err(fail(
                "dropped in-flight",
                format!(
                    "the drain returned {early:?} while a request admitted before it was still \
                     running, and long before its grace period"
                ),
            ));
        }
        a.release();
        match outcome.recv_timeout(self.stall_timeout) {
            Ok(done) => Ok((done, drain)),
            Err(_) => Err(fail(
                "drain deadline",
                format!(
                    "the last request finished, but the drain had not returned {:?} later",
                    self.stall_timeout
                ),
            )),
        }
    }

    fn deadline_scenario<S: DrainService>(
        &self,
        service: Arc<S>,
        clock: &ManualClock,
    ) -> Result<(), Failure> {
        let (c, c_handle) = Request::new();
        let c_thread = Self::serve(&service, c);
        let result = self.deadline_checks(&service, clock, &c_handle);
        c_handle.release();
        let _ = c_thread.join();
        result
    }

    fn deadline_checks<S: DrainService>(
        &self,
        service: &Arc<S>,
        clock: &ManualClock,
        c: &RequestHandle,
    ) -> Result<(), Failure> {
        if !c.wait_started(self.stall_timeout) {
            return Err(fail(
                "serve",
                format!(
                    "a request sent to a fresh service did not start within {:?}",
                    self.stall_timeout
                ),
            ));
        }
        let grace = Duration::from_secs(10);
        let (outcome, drain) = Self::start_drain(service, grace);
        let early = self.await_not_ready(&**service, &outcome)?;
        if let Some(early) = early.or_else(|| outcome.recv_timeout(PATIENCE).ok()) {
            return Err(fail(
                "dropped in-flight",
                format!(
                    "the drain returned {early:?} before its grace period of {grace:?} had \
                     passed on its clock, with a request still running"
                ),
            ));
        }
        clock.advance(grace + Duration::from_secs(1));
        match outcome.recv_timeout(self.stall_timeout) {
            Ok(DrainOutcome {
                drained: false,
                remaining: 1,
            }) => {
                let _ = drain.join();
                Ok(())
            }
            Ok(wrong) => Err(fail(
                "drain deadline",
                format!(
                    "the grace period ran out with one request still running, and the drain \
                     reported {wrong:?}; expected drained: false, remaining: 1"
                ),
            )),
            Err(_) => Err(fail(
                "drain deadline",
                format!(
                    "the grace period of {grace:?} passed on the service's clock, and the drain \
                     was still waiting {:?} later: it has no deadline (or reads another clock)",
                    self.stall_timeout
                ),
            )),
        }
    }
}
