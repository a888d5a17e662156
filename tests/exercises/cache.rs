//! Q7, "A thread-safe cache": `cargo test --test exercise_cache` runs `Suite::check_ttl_map` on
//! the reader's map.

use threadsmith::cache::TtlCache;
use threadsmith::check::conformance::Suite;
use threadsmith::check::mutants::InclusiveExpiryMap;

#[test]
fn the_crates_cache_passes() {
    Suite::new()
        .check_ttl_map(|ttl, clock| TtlCache::builder().default_ttl(ttl).clock(clock).build())
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn an_entry_visible_at_its_deadline_is_rejected_on_expiry() {
    super::assert_rejected(
        Suite::new().check_ttl_map(InclusiveExpiryMap::new),
        "expiry",
    );
}
