//! Q11, "Rate limiting": `cargo test --test exercise_ratelimit` runs `Suite::check_token_bucket`
//! on the reader's bucket.

use threadsmith::check::conformance::Suite;
use threadsmith::check::mutants::CheckThenActTokenBucket;
use threadsmith::ratelimit::{LeakyBucket, TokenBucket};

#[test]
fn the_crates_buckets_pass() {
    Suite::new()
        .check_token_bucket(TokenBucket::with_clock)
        .unwrap_or_else(|failure| panic!("token bucket: {failure}"));
    Suite::new()
        .check_token_bucket(LeakyBucket::with_clock)
        .unwrap_or_else(|failure| panic!("leaky bucket: {failure}"));
}

/// Exact alone, so it passes the arithmetic and the model; only threads racing on one bucket
/// show the check-then-act.
#[test]
fn a_check_then_act_bucket_is_rejected_under_contention() {
    super::assert_rejected(
        Suite::new().check_token_bucket(CheckThenActTokenBucket::new),
        "contention",
    );
}
