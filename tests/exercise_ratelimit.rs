//! The book's exercise for "Rate limiting (Q11)": a token bucket in the classic form — tokens
//! and the time of the last refill — behind a lock, graded by the token-bucket suite (exact
//! arithmetic, a reference model, exactness under contention). This file is the solution; the
//! chapter `book/src/ratelimit.md` shows the starter and includes the parts between the
//! `ANCHOR` marks.
//!
//! Check your own version with `cargo test --test exercise_ratelimit`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: types
use std::sync::Mutex;
use std::time::{Duration, Instant};

use threadsmith::check::conformance::Suite;
use threadsmith::clock::{Clock, ManualClock};
use threadsmith::ratelimit::{Rate, RateLimiter};

/// A token bucket: `capacity` tokens, refilled at one token per `interval`.
pub struct MyBucket {
    capacity: u64,
    interval: Duration,
    clock: ManualClock,
    state: Mutex<State>,
}

/// Tokens are counted in nanoseconds of refill time, so fractions of a token carry over
/// exactly: a full bucket holds `capacity × interval` nanoseconds of credit.
struct State {
    credit_nanos: u128,
    last_refill: Instant,
}
// ANCHOR_END: types

// ANCHOR: solution
impl MyBucket {
    pub fn new(capacity: u64, refill: Rate, clock: ManualClock) -> Self {
        let interval = refill.interval();
        let state = State {
            credit_nanos: u128::from(capacity) * interval.as_nanos(),
            last_refill: clock.now(),
        };
        MyBucket {
            capacity,
            interval,
            clock,
            state: Mutex::new(state),
        }
    }
}

impl RateLimiter for MyBucket {
    fn try_acquire_n(&self, n: u64) -> bool {
        // One lock around refill, check *and* take: the three must be one atomic step.
        let mut state = self.state.lock().unwrap();
        let now = self.clock.now();
        let elapsed = now.saturating_duration_since(state.last_refill).as_nanos();
        let full = u128::from(self.capacity) * self.interval.as_nanos();
        state.credit_nanos = (state.credit_nanos + elapsed).min(full);
        state.last_refill = now;
        let cost = u128::from(n) * self.interval.as_nanos();
        if cost > state.credit_nanos {
            return false;
        }
        state.credit_nanos -= cost;
        true
    }
}
// ANCHOR_END: solution

// ANCHOR: test
#[test]
fn my_bucket_conforms() {
    let report = Suite::new()
        .check_token_bucket(MyBucket::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: test
