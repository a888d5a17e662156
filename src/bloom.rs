//! A concurrent Bloom filter: "certainly absent" or "possibly present", in about 10 bits per
//! item for a 1% false-positive rate.
//!
//! **Algorithm.** B. H. Bloom, *Space/Time Trade-offs in Hash Coding with Allowable Errors*
//! (CACM 1970). `m` bits, `k` hash functions: an insert sets `k` bits, a lookup checks them.
//! A bit once set is never cleared (except by [`clear`](BloomFilter::clear)), so an inserted
//! item is always found: **no false negatives**. An absent item is reported present only if
//! all `k` of its bits were set by others, which happens with probability about
//! `(1 - e^(-k n / m))^k` after `n` inserts.
//!
//! **Indices.** One 64-bit hash per item, split into `k` indices by *enhanced double hashing*
//! (Kirsch & Mitzenmacher 2006; Dillinger & Manolios 2004): `h1 + i·h2 + (i³ - i)/6`, reduced
//! to `[0, m)` by a multiply-shift. The hash is XXH3 (the `xxhash-rust` crate), chosen for
//! speed on short keys, good distribution and a *specified* output: the same item gives the
//! same bits on every run, platform and version, so a serialized filter stays valid. Integers
//! are fed to it little-endian whatever the platform (see `StableHasher`).
//!
//! **Concurrency.** The bits are `AtomicU64` words and `insert` sets them with `fetch_or`
//! through `&self`; `Relaxed` suffices because a Bloom filter publishes nothing but the bits
//! themselves (see [`insert`](BloomFilter::insert)). Wait-free: an insert is `k` atomic ORs, a
//! lookup `k` loads.
//!
//! ```
//! use threadsmith::bloom::BloomFilter;
//!
//! let seen = BloomFilter::<str>::with_false_positive_rate(1_000, 0.01);
//! seen.insert("alice");
//! assert!(seen.possibly_contains("alice")); // inserted: always found
//! if !seen.possibly_contains("mallory") {
//!     // certainly never inserted: skip the database lookup
//! }
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use xxhash_rust::xxh3::{xxh3_64, Xxh3Default};

use crate::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The serialization format version (the first byte of [`BloomFilter::to_bytes`]).
const FORMAT_VERSION: u8 = 1;

/// A concurrent Bloom filter over items of type `T` (`str`, `[u8]`, integers, or any type
/// that implements `Hash`).
///
/// ```
/// use threadsmith::bloom::BloomFilter;
///
/// let filter = BloomFilter::<u64>::new(1 << 16, 5);
/// std::thread::scope(|s| {
///     for t in 0..4u64 {
///         let filter = &filter;
///         s.spawn(move || (0..1_000).for_each(|i| filter.insert(&(t * 1_000 + i))));
///     }
/// });
/// assert!((0..4_000).all(|i| filter.possibly_contains(&i)));
/// ```
pub struct BloomFilter<T: ?Sized> {
    words: Box<[AtomicU64]>,
    /// Bits in use, `m`: at most `words.len() * 64` (the last word may be partly unused).
    bits: u64,
    hashes: u32,
    _items: PhantomData<fn(&T)>,
}

impl<T: ?Sized + Hash> BloomFilter<T> {
    /// A filter of `bits` bits (stored in 64-bit words; [`bits`](Self::bits) says how many are
    /// in use) using `hashes` hash functions.
    ///
    /// # Panics
    /// If `bits` or `hashes` is 0, or the bits cannot be allocated.
    ///
    /// ```
    /// let filter = threadsmith::bloom::BloomFilter::<str>::new(1_000, 7);
    /// assert_eq!(filter.bits(), 1_000);
    /// assert_eq!(filter.hashes(), 7);
    /// ```
    pub fn new(bits: usize, hashes: u32) -> Self {
        assert!(bits > 0, "BloomFilter::new: bits must be at least 1");
        assert!(hashes > 0, "BloomFilter::new: hashes must be at least 1");
        let words = bits.div_ceil(64);
        Self {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            bits: bits as u64,
            hashes,
            _items: PhantomData,
        }
    }

    /// A filter sized for `expected_items` distinct items at false-positive rate `fp_rate`,
    /// with the optimal number of bits `m = -n ln p / (ln 2)²`, rounded up to a whole bit, and
    /// of hash functions `k = (m / n) ln 2`, rounded to the nearest integer (at least 1).
    /// Rounding `m` up only lowers the rate; rounding `k` either way moves it by a few
    /// percent at most near the optimum. `expected_items` of 0 is treated as 1.
    ///
    /// # Panics
    /// If `fp_rate` is not strictly between 0 and 1.
    ///
    /// ```
    /// let filter = threadsmith::bloom::BloomFilter::<u64>::with_false_positive_rate(1_000_000, 0.01);
    /// assert_eq!(filter.hashes(), 7);
    /// assert!((9.5..9.7).contains(&(filter.bits() as f64 / 1e6))); // ≈ 9.59 bits per item
    /// ```
    pub fn with_false_positive_rate(expected_items: usize, fp_rate: f64) -> Self {
        assert!(
            fp_rate > 0.0 && fp_rate < 1.0,
            "BloomFilter::with_false_positive_rate: fp_rate must be in (0, 1), got {fp_rate}"
        );
        let n = expected_items.max(1) as f64;
        let ln2 = std::f64::consts::LN_2;
        let bits = (-n * fp_rate.ln() / (ln2 * ln2)).ceil();
        let hashes = ((bits / n) * ln2).round().max(1.0);
        Self::new(bits as usize, hashes as u32)
    }

    // ANCHOR: insert
    /// Adds `item`. Safe from many threads at once.
    ///
    /// `Relaxed` is enough: the filter's only state is its bits, and `fetch_or` is atomic, so
    /// no set bit is ever lost. What a concurrent lookup may see is the insert in progress: some
    /// of the item's bits set and not others, so it may answer "absent" for an item whose
    /// `insert` has not *returned* yet, which is fine. Once `insert` returns, any lookup that
    /// happens after it (through whatever synchronisation orders the two threads) sees all bits.
    pub fn insert(&self, item: &T) {
        for index in self.indices(item) {
            let (word, mask) = (&self.words[(index / 64) as usize], 1 << (index % 64));
            // Relaxed: see above. The plain load first avoids dirtying a cache line whose bit
            // is already set, which is most of them once the filter fills.
            if word.load(Relaxed) & mask == 0 {
                word.fetch_or(mask, Relaxed);
            }
        }
    }
    // ANCHOR_END: insert

    // ANCHOR: contains
    /// `false`: `item` was certainly never inserted. `true`: it probably was; the chance that
    /// it was not is the false-positive rate.
    pub fn possibly_contains(&self, item: &T) -> bool {
        self.indices(item).all(|index| {
            // Relaxed: see `insert`.
            self.words[(index / 64) as usize].load(Relaxed) & (1 << (index % 64)) != 0
        })
    }
    // ANCHOR_END: contains

    // ANCHOR: indices
    /// The `k` bit indices of `item`: enhanced double hashing over one 64-bit hash.
    fn indices(&self, item: &T) -> impl Iterator<Item = u64> {
        let mut hasher = StableHasher::default();
        item.hash(&mut hasher);
        let hash = hasher.finish();
        // Two independent-enough 64-bit values from one hash: the hash itself, and a
        // multiplicative remix of it (odd, so it never degenerates to a zero step).
        let mut a = hash;
        let mut b = hash.rotate_left(32).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let bits = self.bits;
        (0..self.hashes).map(move |i| {
            // Lemire's multiply-shift maps a 64-bit value onto [0, bits) without a division.
            let index = ((u128::from(a) * u128::from(bits)) >> 64) as u64;
            a = a.wrapping_add(b);
            b = b.wrapping_add(u64::from(i));
            index
        })
    }
    // ANCHOR_END: indices
}

impl<T: ?Sized> BloomFilter<T> {
    /// The number of bits, `m`.
    pub fn bits(&self) -> usize {
        self.bits as usize
    }

    /// The number of hash functions, `k`.
    pub fn hashes(&self) -> u32 {
        self.hashes
    }

    /// The share of bits set, from 0 to 1 (a snapshot).
    pub fn fill_ratio(&self) -> f64 {
        self.set_bits() as f64 / self.bits as f64
    }

    fn set_bits(&self) -> u64 {
        // Relaxed: a snapshot.
        self.words
            .iter()
            .map(|w| u64::from(w.load(Relaxed).count_ones()))
            .sum()
    }

    /// An estimate of the distinct items inserted, from the share of bits set (Swamidass &
    /// Baldi 2007): `-(m / k) ln(1 - X / m)`. Accurate to a few percent until the filter is
    /// nearly full; a full filter reports `usize::MAX`.
    ///
    /// ```
    /// let filter = threadsmith::bloom::BloomFilter::<u32>::with_false_positive_rate(10_000, 0.01);
    /// (0..5_000).for_each(|i| filter.insert(&i));
    /// let estimate = filter.estimated_len();
    /// assert!((4_800..5_200).contains(&estimate), "{estimate}");
    /// ```
    pub fn estimated_len(&self) -> usize {
        let (m, x) = (self.bits as f64, self.set_bits() as f64);
        if x >= m {
            return usize::MAX;
        }
        (-(m / f64::from(self.hashes)) * (1.0 - x / m).ln()).round() as usize
    }

    /// Clears every bit. Inserts that run at the same time may survive in part (some of their
    /// bits cleared, some not): clear while no one inserts if that matters.
    pub fn clear(&self) {
        // Relaxed: bits carry no other data (see `insert`).
        self.words.iter().for_each(|w| w.store(0, Relaxed));
    }

    /// Adds every item of `other` to `self` (bitwise OR). Both must have the same shape.
    ///
    /// ```
    /// use threadsmith::bloom::BloomFilter;
    /// let (a, b) = (BloomFilter::<str>::new(4_096, 4), BloomFilter::<str>::new(4_096, 4));
    /// a.insert("left");
    /// b.insert("right");
    /// a.union(&b).unwrap();
    /// assert!(a.possibly_contains("left") && a.possibly_contains("right"));
    /// ```
    pub fn union(&self, other: &Self) -> Result<(), ShapeMismatch> {
        if (self.bits, self.hashes) != (other.bits, other.hashes) {
            return Err(ShapeMismatch);
        }
        for (mine, theirs) in self.words.iter().zip(other.words.iter()) {
            // Relaxed: see `insert`.
            mine.fetch_or(theirs.load(Relaxed), Relaxed);
        }
        Ok(())
    }

    /// The filter as bytes: a version byte, `k` (u32, little-endian), `m` (u64, little-endian),
    /// then the bit words (u64, little-endian). The hash is stable, so the bytes can be loaded
    /// by [`from_bytes`](Self::from_bytes) on any platform.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(13 + self.words.len() * 8);
        bytes.push(FORMAT_VERSION);
        bytes.extend_from_slice(&self.hashes.to_le_bytes());
        bytes.extend_from_slice(&self.bits.to_le_bytes());
        for word in self.words.iter() {
            // Relaxed: a snapshot; concurrent inserts may or may not be included.
            bytes.extend_from_slice(&word.load(Relaxed).to_le_bytes());
        }
        bytes
    }

    /// Loads a filter written by [`to_bytes`](Self::to_bytes).
    ///
    /// ```
    /// use threadsmith::bloom::BloomFilter;
    /// let filter = BloomFilter::<str>::with_false_positive_rate(100, 0.01);
    /// filter.insert("kept");
    /// let copy = BloomFilter::<str>::from_bytes(&filter.to_bytes()).unwrap();
    /// assert!(copy.possibly_contains("kept"));
    /// assert!(BloomFilter::<str>::from_bytes(b"garbage").is_err());
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (&version, rest) = bytes.split_first().ok_or(DecodeError::Truncated)?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::Version(version));
        }
        let (hashes, rest) = rest
            .split_first_chunk::<4>()
            .ok_or(DecodeError::Truncated)?;
        let (bits, rest) = rest
            .split_first_chunk::<8>()
            .ok_or(DecodeError::Truncated)?;
        let (hashes, bits) = (u32::from_le_bytes(*hashes), u64::from_le_bytes(*bits));
        if hashes == 0 || bits == 0 {
            return Err(DecodeError::Shape);
        }
        if rest.len() as u64 != bits.div_ceil(64) * 8 {
            return Err(DecodeError::Truncated);
        }
        let words = rest
            .chunks_exact(8)
            .map(|c| AtomicU64::new(u64::from_le_bytes(c.try_into().expect("chunks of 8"))))
            .collect();
        Ok(Self {
            words,
            bits,
            hashes,
            _items: PhantomData,
        })
    }
}

impl<T: ?Sized> fmt::Debug for BloomFilter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BloomFilter")
            .field("bits", &self.bits)
            .field("hashes", &self.hashes)
            .field("fill_ratio", &self.fill_ratio())
            .finish()
    }
}

/// [`BloomFilter::union`] of filters with different bits or hash counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapeMismatch;

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the filters have different sizes or hash counts")
    }
}

impl std::error::Error for ShapeMismatch {}

/// Why [`BloomFilter::from_bytes`] refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter or longer than its header says.
    Truncated,
    /// Written by a format version this build does not read.
    Version(u8),
    /// Zero bits or hashes.
    Shape,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("the bytes are not as long as the header says"),
            DecodeError::Version(v) => write!(f, "unknown format version {v}"),
            DecodeError::Shape => f.write_str("the header describes an impossible filter"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// XXH3 with integers fed little-endian, so `Hash` gives the same bytes on every platform
/// (std's default `write_u64` and friends use native byte order, and `usize` has two widths).
/// Short items (most keys: integers, ids, short strings) are gathered in a buffer and hashed in
/// one call, which is much faster than XXH3's streaming state; longer ones stream. Both give
/// the same hash: XXH3 of the concatenated bytes.
struct StableHasher {
    buffer: [u8; 64],
    len: usize,
    stream: Option<Box<Xxh3Default>>,
}

impl Default for StableHasher {
    fn default() -> Self {
        Self {
            buffer: [0; 64],
            len: 0,
            stream: None,
        }
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        match &self.stream {
            None => xxh3_64(&self.buffer[..self.len]),
            Some(stream) => {
                let mut stream = stream.clone();
                stream.update(&self.buffer[..self.len]);
                stream.digest()
            }
        }
    }
    fn write(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() <= self.buffer.len() {
            self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
            return;
        }
        let stream = self.stream.get_or_insert_with(Default::default);
        stream.update(&self.buffer[..self.len]);
        stream.update(bytes);
        self.len = 0;
    }
    fn write_u8(&mut self, i: u8) {
        self.write(&[i])
    }
    fn write_u16(&mut self, i: u16) {
        self.write(&i.to_le_bytes())
    }
    fn write_u32(&mut self, i: u32) {
        self.write(&i.to_le_bytes())
    }
    fn write_u64(&mut self, i: u64) {
        self.write(&i.to_le_bytes())
    }
    fn write_u128(&mut self, i: u128) {
        self.write(&i.to_le_bytes())
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8)
    }
    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16)
    }
    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32)
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64)
    }
    fn write_i128(&mut self, i: i128) {
        self.write_u128(i as u128)
    }
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as u64)
    }
}
