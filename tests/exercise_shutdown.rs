//! The book's exercise for "Graceful shutdown of a network service (S2)": a service that drains
//! with the crate's `Shutdown` (stop admitting, finish in-flight work, give up at a deadline,
//! readiness and liveness reported right), graded by `Suite::check_drain`. The chapter
//! `book/src/shutdown.md` shows the starter for the region marked below.
//!
//! Check your own version with `cargo test --test exercise_shutdown`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: service
use std::time::Duration;

use threadsmith::check::conformance::{DrainOutcome, DrainService, Request, Suite};
use threadsmith::clock::{Clock, ManualClock};
use threadsmith::shutdown::Shutdown;

/// How often the drain looks at its clock while it waits.
const TICK: Duration = Duration::from_millis(5);

struct MyService<C> {
    shutdown: Shutdown,
    clock: C,
}

impl<C: Clock> MyService<C> {
    fn new(clock: C) -> Self {
        MyService {
            shutdown: Shutdown::new(),
            clock,
        }
    }
}

impl<C: Clock> DrainService for MyService<C> {
    fn handle(&self, request: Request) -> Result<(), Request> {
        // Admission and counting are one atomic step; the guard leaves when dropped.
        let Some(_in_flight) = self.shutdown.enter() else {
            return Err(request); // draining: refuse (an HTTP server answers 503 here)
        };
        request.run();
        Ok(())
    }

    fn ready(&self) -> bool {
        !self.shutdown.is_draining()
    }

    fn live(&self) -> bool {
        true // draining is healthy: a failed liveness probe gets the process killed
    }

    fn shutdown(&self, grace: Duration) -> DrainOutcome {
        let deadline = self.clock.now() + grace;
        loop {
            // `wait` begins the drain on its first call and returns as soon as the last
            // request leaves; the short timeout lets us re-read our own clock.
            let report = self.shutdown.wait(TICK);
            if report.drained || self.clock.now() >= deadline {
                return DrainOutcome {
                    drained: report.drained,
                    remaining: report.remaining,
                };
            }
        }
    }
}
// ANCHOR_END: service

// ANCHOR: harness
#[test]
fn my_drain_conforms() {
    Suite::new()
        .stall_timeout(Duration::from_secs(30))
        .check_drain(MyService::<ManualClock>::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
}
// ANCHOR_END: harness
