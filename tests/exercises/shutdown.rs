//! Grading for the graceful-shutdown chapter's exercise (`book/src/shutdown.md`):
//! `Suite::check_drain` must pass a service built on the crate's `Shutdown`, and reject each
//! drain mutant naming the property it breaks.

use std::time::Duration;

use threadsmith::check::conformance::{DrainOutcome, DrainService, Failure, Request, Suite};
use threadsmith::check::mutants::{
    AlwaysReadyService, EagerExitService, OneProbeService, PatientService, ReadinessOnlyService,
};
use threadsmith::clock::{Clock, ManualClock};
use threadsmith::shutdown::Shutdown;

/// The crate's own drain: `Shutdown` for admission and the count, the clock for the deadline.
struct Reference {
    shutdown: Shutdown,
    clock: ManualClock,
}

impl DrainService for Reference {
    fn handle(&self, request: Request) -> Result<(), Request> {
        let Some(_in_flight) = self.shutdown.enter() else {
            return Err(request);
        };
        request.run();
        Ok(())
    }
    fn ready(&self) -> bool {
        !self.shutdown.is_draining()
    }
    fn live(&self) -> bool {
        true
    }
    fn shutdown(&self, grace: Duration) -> DrainOutcome {
        let deadline = self.clock.now() + grace;
        loop {
            let report = self.shutdown.wait(Duration::from_millis(5));
            if report.drained || self.clock.now() >= deadline {
                return DrainOutcome {
                    drained: report.drained,
                    remaining: report.remaining,
                };
            }
        }
    }
}

/// A short stall timeout: `PatientService` and `AlwaysReadyService` are caught by waiting it
/// out, and a correct service never comes near it (its waits end on events).
fn suite() -> Suite {
    Suite::new().stall_timeout(Duration::from_secs(5))
}

fn expect_rejected(result: Result<(), Failure>, property: &str) {
    match result {
        Ok(()) => panic!("the suite passed a mutant it must reject"),
        Err(failure) => assert_eq!(failure.property(), property, "{failure}"),
    }
}

#[test]
fn a_drain_built_on_shutdown_passes() {
    suite()
        .check_drain(|clock| Reference {
            shutdown: Shutdown::new(),
            clock,
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn exiting_without_waiting_drops_in_flight_work() {
    expect_rejected(
        suite().check_drain(EagerExitService::new),
        "dropped in-flight",
    );
}

#[test]
fn failing_readiness_but_still_admitting_is_caught() {
    expect_rejected(
        suite().check_drain(ReadinessOnlyService::new),
        "admitted after drain",
    );
}

#[test]
fn failing_liveness_while_draining_is_caught() {
    expect_rejected(suite().check_drain(OneProbeService::new), "liveness");
}

#[test]
fn staying_ready_while_draining_is_caught() {
    expect_rejected(suite().check_drain(AlwaysReadyService::new), "readiness");
}

#[test]
fn a_drain_without_a_deadline_is_caught() {
    expect_rejected(suite().check_drain(PatientService::new), "drain deadline");
}
