//! Known-buggy graceful shutdowns, for
//! [`Suite::check_drain`](crate::check::conformance::Suite::check_drain).
//!
//! All five share one honest core (a draining flag and an in-flight count behind a lock, and a
//! condition variable the last request out signals); each gets one classic thing wrong.

use std::time::Duration;

use crate::check::conformance::{DrainOutcome, DrainService, Request};
use crate::clock::{Clock, ManualClock};
use crate::sync::{Condvar, Mutex};

/// How often a drain re-reads its clock while it waits.
const TICK: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
struct Core {
    state: Mutex<CoreState>,
    left: Condvar,
}

#[derive(Debug, Default)]
struct CoreState {
    draining: bool,
    in_flight: usize,
}

impl Core {
    /// Admits unless `check_draining` and draining; runs the request; counts it out.
    fn serve(&self, request: Request, check_draining: bool) -> Result<(), Request> {
        {
            let mut state = self.state.lock();
            if check_draining && state.draining {
                return Err(request);
            }
            state.in_flight += 1;
        }
        request.run();
        let mut state = self.state.lock();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            self.left.notify_all();
        }
        Ok(())
    }

    fn draining(&self) -> bool {
        self.state.lock().draining
    }

    /// Begins the drain and waits for in-flight work, until `deadline` on `clock` if given.
    fn drain(&self, clock: &ManualClock, grace: Option<Duration>) -> DrainOutcome {
        // A grace period too long to add to the clock means no deadline.
        let deadline = grace.and_then(|grace| clock.now().checked_add(grace));
        let mut state = self.state.lock();
        state.draining = true;
        while state.in_flight > 0 && deadline.is_none_or(|d| clock.now() < d) {
            self.left.wait_for(&mut state, TICK);
        }
        DrainOutcome {
            drained: state.in_flight == 0,
            remaining: state.in_flight,
        }
    }
}

macro_rules! mutant_new {
    ($name:ident) => {
        impl $name {
            /// A service that reads time from `clock`.
            pub fn new(clock: ManualClock) -> Self {
                Self {
                    core: Core::default(),
                    clock,
                }
            }
        }
    };
}

// ANCHOR: eager_exit
/// Stops admitting and reports at once, without waiting for the requests in flight: the
/// `process::exit(0)` right after the signal. Every request being served is cut off.
#[derive(Debug)]
pub struct EagerExitService {
    core: Core,
    clock: ManualClock,
}

impl DrainService for EagerExitService {
    fn handle(&self, request: Request) -> Result<(), Request> {
        self.core.serve(request, true)
    }
    fn ready(&self) -> bool {
        !self.core.draining()
    }
    fn live(&self) -> bool {
        true
    }
    fn shutdown(&self, _grace: Duration) -> DrainOutcome {
        let _ = &self.clock;
        self.core.state.lock().draining = true;
        DrainOutcome {
            drained: true, // BUG: nobody waited for the in-flight requests
            remaining: 0,
        }
    }
}
// ANCHOR_END: eager_exit
mutant_new!(EagerExitService);

// ANCHOR: readiness_only
/// Turns `/readyz` to 503 and waits for in-flight work, but never stops admitting: it trusts
/// the load balancer to stop sending. Requests already on their way (and every client that
/// talks to the pod directly) are still admitted, and the drain may never empty.
#[derive(Debug)]
pub struct ReadinessOnlyService {
    core: Core,
    clock: ManualClock,
}

impl DrainService for ReadinessOnlyService {
    fn handle(&self, request: Request) -> Result<(), Request> {
        self.core.serve(request, false) // BUG: admits whether or not it is draining
    }
    fn ready(&self) -> bool {
        !self.core.draining()
    }
    fn live(&self) -> bool {
        true
    }
    fn shutdown(&self, grace: Duration) -> DrainOutcome {
        self.core.drain(&self.clock, Some(grace))
    }
}
// ANCHOR_END: readiness_only
mutant_new!(ReadinessOnlyService);

// ANCHOR: one_probe
/// Answers both probes from the same flag, so liveness fails as soon as the drain begins. The
/// orchestrator then restarts (kills) the container in the middle of its drain.
#[derive(Debug)]
pub struct OneProbeService {
    core: Core,
    clock: ManualClock,
}

impl DrainService for OneProbeService {
    fn handle(&self, request: Request) -> Result<(), Request> {
        self.core.serve(request, true)
    }
    fn ready(&self) -> bool {
        !self.core.draining()
    }
    fn live(&self) -> bool {
        !self.core.draining() // BUG: "not ready" is not "not alive"
    }
    fn shutdown(&self, grace: Duration) -> DrainOutcome {
        self.core.drain(&self.clock, Some(grace))
    }
}
// ANCHOR_END: one_probe
mutant_new!(OneProbeService);

// ANCHOR: always_ready
/// A readiness probe that only says the process is up: it answers ready throughout the drain,
/// so the load balancer keeps sending requests that are then refused.
#[derive(Debug)]
pub struct AlwaysReadyService {
    core: Core,
    clock: ManualClock,
}

impl DrainService for AlwaysReadyService {
    fn handle(&self, request: Request) -> Result<(), Request> {
        self.core.serve(request, true)
    }
    fn ready(&self) -> bool {
        true // BUG: readiness must turn false when the drain begins
    }
    fn live(&self) -> bool {
        true
    }
    fn shutdown(&self, grace: Duration) -> DrainOutcome {
        self.core.drain(&self.clock, Some(grace))
    }
}
// ANCHOR_END: always_ready
mutant_new!(AlwaysReadyService);

// ANCHOR: patient
/// Waits for in-flight work with no deadline. One request that never finishes (a stuck
/// downstream call, a client that never reads) holds the shutdown until the orchestrator's
/// SIGKILL, and everything the drain would have done after the wait (flushing, closing
/// files, a final report) never happens.
#[derive(Debug)]
pub struct PatientService {
    core: Core,
    clock: ManualClock,
}

impl DrainService for PatientService {
    fn handle(&self, request: Request) -> Result<(), Request> {
        self.core.serve(request, true)
    }
    fn ready(&self) -> bool {
        !self.core.draining()
    }
    fn live(&self) -> bool {
        true
    }
    fn shutdown(&self, _grace: Duration) -> DrainOutcome {
        self.core.drain(&self.clock, None) // BUG: waits as long as it takes
    }
}
// ANCHOR_END: patient
mutant_new!(PatientService);
