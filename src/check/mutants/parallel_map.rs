//! Known-buggy parallel map-reduces for [`Suite::check_parallel_map`]: each is a
//! `fn(&[u64], usize, MapFn) -> Option<u64>` with one classic mistake.
//!
//! [`Suite::check_parallel_map`]: crate::check::conformance::Suite::check_parallel_map

use crate::check::conformance::MapFn;
use crate::sync::thread;

// ANCHOR: drop_remainder
/// Splits the input into `threads` chunks of `len / threads` items, rounding *down*: the last
/// `len % threads` items are never mapped (and with fewer items than threads, none are).
/// Right whenever the thread count divides the length, which is what people test first.
///
/// ```
/// use threadsmith::check::mutants::drop_remainder_sum;
/// let double = |x: u64| 2 * x;
/// assert_eq!(drop_remainder_sum(&[1, 2, 3, 4], 2, &double), Some(20)); // right
/// assert_eq!(drop_remainder_sum(&[1, 2, 3, 4, 5], 2, &double), Some(20)); // 30 expected
/// ```
pub fn drop_remainder_sum(data: &[u64], threads: usize, f: MapFn<'_>) -> Option<u64> {
    if threads == 0 {
        return None;
    }
    let chunk = data.len() / threads; // BUG: rounds down; the remainder is dropped
    thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|i| {
                let part = &data[i * chunk..(i + 1) * chunk];
                s.spawn(move || part.iter().map(|&x| f(x)).sum::<u64>())
            })
            .collect();
        Some(parts.into_iter().map(|p| p.join().unwrap()).sum())
    })
}
// ANCHOR_END: drop_remainder

// ANCHOR: one_thread
/// Splits the input into chunks as it should, then maps every chunk on the calling thread, one
/// after the other: the answer is right and nothing ran in parallel. (The same happens with a
/// spawn whose handle is joined straight away, inside the loop that spawns.)
///
/// ```
/// use threadsmith::check::mutants::one_thread_sum;
/// assert_eq!(one_thread_sum(&[1, 2, 3], 2, &|x| x + 1), Some(9));
/// ```
pub fn one_thread_sum(data: &[u64], threads: usize, f: MapFn<'_>) -> Option<u64> {
    if threads == 0 {
        return None;
    }
    let chunk = data.len().div_ceil(threads).max(1);
    thread::scope(|s| {
        let mut total = 0;
        for part in data.chunks(chunk) {
            // BUG: joined before the next chunk is spawned: one chunk at a time.
            total += s
                .spawn(move || part.iter().map(|&x| f(x)).sum::<u64>())
                .join()
                .unwrap();
        }
        Some(total)
    })
}
// ANCHOR_END: one_thread

// ANCHOR: thread_per_item
/// Spawns one thread per item and ignores `threads`: the answer is right, but 1,001 items
/// start 1,001 threads however few were allowed, and each thread's start costs far more than
/// the item's work.
///
/// ```
/// use threadsmith::check::mutants::thread_per_item_sum;
/// assert_eq!(thread_per_item_sum(&[1, 2, 3], 1, &|x| x), Some(6)); // on 3 threads, not 1
/// ```
pub fn thread_per_item_sum(data: &[u64], threads: usize, f: MapFn<'_>) -> Option<u64> {
    if threads == 0 {
        return None;
    }
    thread::scope(|s| {
        let parts: Vec<_> = data.iter().map(|&x| s.spawn(move || f(x))).collect(); // BUG
        Some(parts.into_iter().map(|p| p.join().unwrap()).sum())
    })
}
// ANCHOR_END: thread_per_item
