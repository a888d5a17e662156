//! Measures the Bloom filter's false-positive rate against the formula, for the book's tables.
//!
//! `cargo run --release --example bloom_fpr`

use threadsmith::bloom::BloomFilter;
use threadsmith::check::Rng;

/// Inserts `n` random keys into a filter of `bits` bits and `k` hashes, queries `queries`
/// independent absent keys, and returns the share reported present.
fn measure(filter: &BloomFilter<u64>, n: usize, queries: usize) -> f64 {
    let mut inserted = Rng::new(n as u64);
    (0..n).for_each(|_| filter.insert(&(inserted.next_u64() | 1))); // odd keys in
    let mut absent = Rng::new(!(n as u64));
    let hits = (0..queries)
        .filter(|_| filter.possibly_contains(&(absent.next_u64() & !1))) // even keys out
        .count();
    hits as f64 / queries as f64
}

fn main() {
    println!("Sized by with_false_positive_rate (queries: 2,000,000 absent keys)");
    println!("| n | target p | bits per item | k | measured p | measured / target |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for n in [100_000, 1_000_000] {
        for p in [0.01, 0.001] {
            let filter = BloomFilter::with_false_positive_rate(n, p);
            let measured = measure(&filter, n, 2_000_000);
            println!(
                "| {n} | {:.1}% | {:.2} | {} | {:.3}% | {:.2} |",
                p * 100.0,
                filter.bits() as f64 / n as f64,
                filter.hashes(),
                measured * 100.0,
                measured / p
            );
        }
    }
    println!();
    println!("False-positive rate vs bits per item (n = 100,000, optimal k; queries: 1,000,000)");
    println!("| bits per item | k | formula (1 - e^(-k/b))^k | measured |");
    println!("| --- | --- | --- | --- |");
    let n = 100_000;
    for bits_per_item in [4, 6, 8, 10, 12, 16, 20] {
        let k = ((bits_per_item as f64) * std::f64::consts::LN_2)
            .round()
            .max(1.0) as u32;
        let filter = BloomFilter::new(n * bits_per_item, k);
        let formula = (1.0 - (-(f64::from(k)) / bits_per_item as f64).exp()).powi(k as i32);
        let measured = measure(&filter, n, 1_000_000);
        println!(
            "| {bits_per_item} | {k} | {:.4}% | {:.4}% |",
            formula * 100.0,
            measured * 100.0
        );
    }
}
