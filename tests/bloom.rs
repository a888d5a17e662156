//! The Bloom filter: no false negatives, the measured false-positive rate, concurrent inserts,
//! stable hashing, sizing, serialization and union.
#![cfg(not(loom))] // real threads

use proptest::prelude::*;
use threadsmith::bloom::{BloomFilter, DecodeError, ShapeMismatch};
use threadsmith::check::Rng;

proptest! {
    #[test]
    fn never_a_false_negative_for_strings(items in prop::collection::hash_set(".{0,40}", 0..300)) {
        let filter = BloomFilter::<str>::with_false_positive_rate(items.len(), 0.05);
        items.iter().for_each(|s| filter.insert(s));
        for s in &items {
            prop_assert!(filter.possibly_contains(s));
        }
    }

    #[test]
    fn never_a_false_negative_for_integers(items in prop::collection::vec(any::<u64>(), 0..500), bits in 64usize..4_096, k in 1u32..12) {
        let filter = BloomFilter::<u64>::new(bits, k);
        items.iter().for_each(|i| filter.insert(i));
        for i in &items {
            prop_assert!(filter.possibly_contains(i));
        }
    }
}

/// The false-positive rate of `n` inserted keys, measured on `queries` absent keys drawn
/// independently (a different seed).
fn measured_fpr(n: usize, p: f64, queries: usize) -> (f64, f64) {
    let filter = BloomFilter::<u64>::with_false_positive_rate(n, p);
    let mut inserted = Rng::new(1);
    (0..n).for_each(|_| filter.insert(&(inserted.next_u64() | 1))); // odd keys in
    let mut absent = Rng::new(2);
    let hits = (0..queries)
        .filter(|_| filter.possibly_contains(&(absent.next_u64() & !1))) // even keys out
        .count();
    (
        hits as f64 / queries as f64,
        filter.bits() as f64 / n as f64,
    )
}

#[test]
fn false_positive_rate_is_within_ten_percent_of_the_target() {
    let (fpr, bits_per_item) = measured_fpr(100_000, 0.01, 1_000_000);
    println!(
        "n = 100,000, p = 1%: measured {:.3}% at {bits_per_item:.2} bits per item",
        fpr * 100.0
    );
    assert!((0.009..=0.011).contains(&fpr), "measured {fpr}");
    assert!(bits_per_item < 9.6, "{bits_per_item} bits per item");
}

#[test]
fn concurrent_inserts_are_all_found() {
    let filter = BloomFilter::<u64>::with_false_positive_rate(400_000, 0.01);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let filter = &filter;
            s.spawn(move || (0..100_000).for_each(|i| filter.insert(&(t << 32 | i))));
        }
    });
    for t in 0..4u64 {
        assert!((0..100_000).all(|i| filter.possibly_contains(&(t << 32 | i))));
    }
    let estimate = filter.estimated_len();
    assert!(
        (390_000..410_000).contains(&estimate),
        "estimated {estimate}"
    );
}

#[test]
fn works_for_str_bytes_integers_and_derived_types() {
    #[derive(Hash)]
    struct User {
        id: u32,
        name: &'static str,
    }
    let users = BloomFilter::<User>::new(1 << 12, 4);
    users.insert(&User { id: 7, name: "ada" });
    assert!(users.possibly_contains(&User { id: 7, name: "ada" }));
    let bytes = BloomFilter::<[u8]>::new(1 << 12, 4);
    bytes.insert(b"\x00\xff");
    assert!(bytes.possibly_contains(&b"\x00\xff"[..]));
    let long = BloomFilter::<str>::new(1 << 12, 4);
    let text = "a key longer than the hasher's 64-byte buffer, so that it streams".repeat(3);
    long.insert(&text);
    assert!(long.possibly_contains(&text));
    assert!(!long.possibly_contains(&text[1..]));
}

/// The hash is specified (XXH3 over little-endian integers), so these bits hold on every run,
/// platform and crate version that reads format 1. A change here breaks every stored filter.
#[test]
fn hashing_is_stable_across_runs_and_platforms() {
    let filter = BloomFilter::<u64>::new(1 << 20, 3);
    filter.insert(&42);
    let bytes = filter.to_bytes();
    let set: Vec<usize> = (0..1 << 20)
        .filter(|bit| bytes[13 + bit / 8] & (1 << (bit % 8)) != 0)
        .collect();
    assert_eq!(set, PINNED_BITS_OF_42);
    let strings = BloomFilter::<str>::new(1 << 20, 3);
    strings.insert("threadsmith");
    let bytes = strings.to_bytes();
    let set: Vec<usize> = (0..1 << 20)
        .filter(|bit| bytes[13 + bit / 8] & (1 << (bit % 8)) != 0)
        .collect();
    assert_eq!(set, PINNED_BITS_OF_THREADSMITH);
}

const PINNED_BITS_OF_42: [usize; 3] = [21853, 875119, 972774];
const PINNED_BITS_OF_THREADSMITH: [usize; 3] = [238814, 254884, 270954];

#[test]
fn sizing_follows_the_formulas() {
    for (n, p, bits, k) in [
        (1_000_000, 0.01, 9_585_059, 7),
        (100_000, 0.001, 1_437_759, 10),
    ] {
        let filter = BloomFilter::<u64>::with_false_positive_rate(n, p);
        assert_eq!(
            (filter.bits(), filter.hashes()),
            (bits, k),
            "n = {n}, p = {p}"
        );
    }
    assert_eq!(BloomFilter::<u8>::new(1, 1).bits(), 1);
    // Small filters stay small: 10 items at 1% need 96 bits, not a 64-bit multiple's 128.
    assert_eq!(
        BloomFilter::<u8>::with_false_positive_rate(10, 0.01).bits(),
        96
    );
}

#[test]
#[should_panic(expected = "fp_rate must be in (0, 1)")]
fn a_false_positive_rate_of_one_panics_with_a_reason() {
    let _ = BloomFilter::<u8>::with_false_positive_rate(10, 1.0);
}

#[test]
fn serialization_round_trips_and_rejects_garbage() {
    let filter = BloomFilter::<str>::with_false_positive_rate(1_000, 0.01);
    filter.insert("a");
    let bytes = filter.to_bytes();
    let copy = BloomFilter::<str>::from_bytes(&bytes).unwrap();
    assert!(copy.possibly_contains("a"));
    assert_eq!(
        (copy.bits(), copy.hashes()),
        (filter.bits(), filter.hashes())
    );
    assert_eq!(
        BloomFilter::<str>::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
        DecodeError::Truncated
    );
    let mut future = bytes.clone();
    future[0] = 9;
    assert_eq!(
        BloomFilter::<str>::from_bytes(&future).unwrap_err(),
        DecodeError::Version(9)
    );
    assert_eq!(
        BloomFilter::<str>::from_bytes(&[]).unwrap_err(),
        DecodeError::Truncated
    );
}

#[test]
fn union_needs_equal_shapes_and_clear_empties() {
    let a = BloomFilter::<u8>::new(128, 2);
    let b = BloomFilter::<u8>::new(256, 2);
    assert_eq!(a.union(&b), Err(ShapeMismatch));
    a.insert(&1);
    assert!(a.fill_ratio() > 0.0);
    a.clear();
    assert_eq!(a.fill_ratio(), 0.0);
    assert!(!a.possibly_contains(&1));
    assert_eq!(
        format!("{a:?}"),
        "BloomFilter { bits: 128, hashes: 2, fill_ratio: 0.0 }"
    );
}
