//! S3, "A Bloom filter": `cargo test --test exercise_bloom` runs `Suite::check_bloom` on the
//! reader's filter.

use threadsmith::bloom::BloomFilter;
use threadsmith::check::conformance::{ConcurrentBloom, Suite};
use threadsmith::check::mutants::RacyBitsBloom;

#[test]
fn the_crates_filter_passes() {
    Suite::new()
        .check_bloom(BloomFilter::<u64>::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn setting_bits_by_load_then_store_is_rejected_as_a_false_negative() {
    super::assert_rejected(
        Suite::new().check_bloom(RacyBitsBloom::new),
        "false negative",
    );
}

/// Sized for 1% but probing one bit where seven are needed: about 10% false positives.
#[test]
fn one_probe_instead_of_seven_is_rejected_on_its_false_positive_rate() {
    struct OneProbe(BloomFilter<u64>);
    impl ConcurrentBloom for OneProbe {
        fn insert(&self, item: u64) {
            self.0.insert(&item)
        }
        fn possibly_contains(&self, item: u64) -> bool {
            self.0.possibly_contains(&item)
        }
    }
    super::assert_rejected(
        Suite::new().check_bloom(|bits, _| OneProbe(BloomFilter::new(bits, 1))),
        "false-positive rate",
    );
}
