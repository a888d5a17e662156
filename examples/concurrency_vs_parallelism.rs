//! Concurrency is not parallelism, measured (the book's chapter "Concurrency vs parallelism").
//!
//! Two jobs, timed:
//! - **CPU-bound**: count the primes below a bound by trial division, split over 1, 2 and 4
//!   threads, and over 2 threads that must hold one global lock while they compute (the
//!   GIL-style case: two threads, one core's worth of progress).
//! - **I/O-bound**: `requests` simulated requests that each wait `wait_ms` milliseconds (the
//!   time a database or a remote service takes to answer) and then do a little work. Handled
//!   one after the other on one thread, then all at once on the *same single thread* by an
//!   event loop that keeps the pending waits in a timer heap: concurrency without parallelism.
//!
//! ```sh
//! cargo run --release --example concurrency_vs_parallelism            # 2,000,000 1000 10
//! cargo run --release --example concurrency_vs_parallelism -- 1000000 200 10
//! ```
//!
//! The arguments are the prime bound, the number of requests and each request's wait in ms.

// ANCHOR: imports
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};
// ANCHOR_END: imports

// ANCHOR: cpu_bound
/// Is `n` prime? Trial division: deliberately slow, pure CPU work, no memory traffic.
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// Numbers are dealt to the threads in blocks of this many, round-robin.
const BLOCK: u64 = 1_000;

/// Counts the primes in block `b`: the numbers `b * BLOCK .. (b + 1) * BLOCK` below `bound`.
fn primes_in_block(b: u64, bound: u64) -> u64 {
    (b * BLOCK..((b + 1) * BLOCK).min(bound))
        .filter(|&n| is_prime(n))
        .count() as u64
}

/// Counts the primes below `bound` on `threads` threads. Thread `k` takes blocks `k`,
/// `k + threads`, `k + 2 * threads`, …: dealing blocks round-robin gives every thread the same
/// mix of cheap small numbers and dear large ones. (Dealing single numbers would not: with
/// 2 threads, one would get every even number, each rejected at the first division.)
fn count_primes(bound: u64, threads: u64) -> u64 {
    let blocks = bound.div_ceil(BLOCK);
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                s.spawn(move || {
                    (k..blocks)
                        .step_by(threads as usize)
                        .map(|b| primes_in_block(b, bound))
                        .sum::<u64>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}
// ANCHOR_END: cpu_bound

/// The same split, but each thread holds one global lock while it counts a block, as a Python
/// thread holds the GIL while it runs bytecode: two threads take turns on the work, they never
/// run it at the same time.
fn count_primes_one_lock(bound: u64, threads: u64) -> u64 {
    let gil = Mutex::new(());
    let blocks = bound.div_ceil(BLOCK);
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                let gil = &gil;
                s.spawn(move || {
                    let mut found = 0;
                    for b in (k..blocks).step_by(threads as usize) {
                        let _held = gil.lock().unwrap();
                        found += primes_in_block(b, bound);
                    }
                    found
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

// ANCHOR: io_bound
/// What a request does once its wait is over: a little parsing, about a microsecond.
fn handle_reply(id: u64) -> u64 {
    (0..200).fold(id, |h, i| h.rotate_left(5) ^ i)
}

/// One request at a time: wait for the reply, handle it, start the next one.
fn serve_sequentially(requests: u64, wait: Duration) -> u64 {
    let mut checksum = 0;
    for id in 0..requests {
        thread::sleep(wait); // blocked: this thread does nothing else meanwhile
        checksum ^= handle_reply(id);
    }
    checksum
}

/// Every request at once, on this one thread. Starting a request only records when its reply
/// will be ready; the loop then sleeps until the *earliest* pending reply, handles every reply
/// that is due, and sleeps again. The waits overlap, the handling never does.
fn serve_with_event_loop(requests: u64, wait: Duration) -> u64 {
    let start = Instant::now();
    let mut timers = BinaryHeap::new(); // min-heap of (deadline, request id)
    for id in 0..requests {
        timers.push(Reverse((start + wait, id))); // "send" the request
    }
    let mut checksum = 0;
    while let Some(&Reverse((deadline, _))) = timers.peek() {
        let now = Instant::now();
        if deadline > now {
            thread::sleep(deadline - now); // the only blocking call: "poll with a timeout"
        }
        while let Some(&Reverse((due, id))) = timers.peek() {
            if due > Instant::now() {
                break;
            }
            timers.pop();
            checksum ^= handle_reply(id);
        }
    }
    checksum
}
// ANCHOR_END: io_bound

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// CPU time this process has used so far (user + system, every thread), from
/// `/proc/self/stat` on Linux; `None` elsewhere. Linux reports it in ticks of 1/100 s.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Runs `f`, and returns its result, its wall time, and how many cores it kept busy on
/// average (CPU time / wall time), which shows what a loaded machine really gave it.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Duration, Option<f64>) {
    let cpu0 = cpu_time();
    let (out, wall) = time(f);
    let cores = match (cpu0, cpu_time()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64() / wall.as_secs_f64()),
        _ => None,
    };
    (out, wall, cores)
}

fn row(label: &str, t: Duration, base: Duration, cores: Option<f64>) {
    let cores = cores.map_or("n/a".to_string(), |c| format!("{c:.2}"));
    println!(
        "{label:<34} {:>8.0}ms {:>8.2}x {:>11}",
        ms(t),
        ratio(base, t),
        cores
    );
}

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .map(|a| a.parse().expect("arguments are numbers"))
        .unwrap_or(default)
}

fn main() {
    let bound = arg(1, 2_000_000);
    let requests = arg(2, 1_000);
    let wait = Duration::from_millis(arg(3, 10));
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!("available_parallelism: {cores}");
    println!();
    println!("CPU-bound: primes below {bound}");
    println!(
        "{:<34} {:>10} {:>9} {:>11}",
        "threads", "time", "speed-up", "cores busy"
    );
    let (expected, one, cores) = measure(|| count_primes(bound, 1));
    row("1", one, one, cores);
    for threads in [2, 4] {
        let (found, t, cores) = measure(|| count_primes(bound, threads));
        assert_eq!(found, expected);
        row(&threads.to_string(), t, one, cores);
    }
    let (found, t, cores) = measure(|| count_primes_one_lock(bound, 2));
    assert_eq!(found, expected);
    row("2, one global lock (GIL-style)", t, one, cores);
    println!();
    println!(
        "I/O-bound: {requests} requests, each waiting {} ms, on one thread",
        wait.as_millis()
    );
    println!(
        "{:<34} {:>10} {:>9} {:>11}",
        "how", "time", "speed-up", "cores busy"
    );
    let (a, seq, cores) = measure(|| serve_sequentially(requests, wait));
    row("sequential (blocking waits)", seq, seq, cores);
    let (b, ev, cores) = measure(|| serve_with_event_loop(requests, wait));
    assert_eq!(a, b);
    row("event loop (overlapping waits)", ev, seq, cores);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(base: Duration, t: Duration) -> f64 {
    base.as_secs_f64() / t.as_secs_f64()
}
