//! OS threads vs async tasks, measured (the book's chapter "Async/await, threads and green
//! threads").
//!
//! Spawns `count` OS threads that each block on one `std::sync::Barrier` (with the default
//! stack, then with a 64 KiB stack), then `count` tokio tasks that each await one
//! `tokio::sync::Barrier`, and reports for each: the time to spawn them all, the time until the
//! last one was running, the memory they hold while all wait (resident: `VmRSS`; reserved
//! address space: `VmSize`, from `/proc/self/status`, Linux only), and the time to release and
//! join them. Then one wake-up's cost: a ping-pong of `rounds` round trips between two threads
//! over std channels, and between two tasks over tokio channels.
//!
//! ```sh
//! cargo run --release --example threads_vs_tasks             # 10,000 of each
//! cargo run --release --example threads_vs_tasks -- 1000     # fewer
//! cargo run --release --example threads_vs_tasks -- 10000 tasks   # one part only
//! ```
//!
//! Each part runs in a child process of its own (the example starts itself again with the
//! part's name), so that no part's memory figures include what an earlier one left in the
//! heap. "peak RSS" is that process's `VmHWM`.
//!
//! 10,000 threads need `ulimit -u` (max user processes) and `/proc/sys/kernel/threads-max`
//! above 10,000 plus what already runs; the example checks `ulimit -u`'s soft limit first.

// ANCHOR: measure
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// `VmRSS`, `VmHWM` and `VmSize` in KiB, or `None` off Linux.
fn memory() -> Option<(u64, u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?, field("VmSize:")?))
}

/// What one part measured.
struct Row {
    what: String,
    spawn: Duration,
    all_running: Duration,
    rss_kib: Option<u64>,
    vm_kib: Option<u64>,
    join: Duration,
}

/// Spawns `count` threads that each wait on one barrier, measures, then releases them.
fn os_threads(count: usize, stack: Option<usize>) -> Row {
    let before = memory();
    let barrier = Arc::new(Barrier::new(count + 1));
    let started = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..count)
        .map(|_| {
            let (barrier, started) = (Arc::clone(&barrier), Arc::clone(&started));
            let mut builder = thread::Builder::new();
            if let Some(bytes) = stack {
                builder = builder.stack_size(bytes);
            }
            builder
                .spawn(move || {
                    // Relaxed: a progress count, read only to know when all have started.
                    started.fetch_add(1, Ordering::Relaxed);
                    barrier.wait();
                })
                .expect("spawn failed: raise `ulimit -u` or lower the count")
        })
        .collect();
    let spawn = t0.elapsed();
    while started.load(Ordering::Relaxed) < count {
        thread::yield_now();
    }
    let all_running = t0.elapsed();
    let during = memory();
    let t1 = Instant::now();
    barrier.wait();
    for h in handles {
        h.join().unwrap();
    }
    let what = match stack {
        None => "OS threads (default 2 MiB stack)".to_string(),
        Some(bytes) => format!("OS threads ({} KiB stack)", bytes / 1024),
    };
    row(what, spawn, all_running, before, during, t1.elapsed())
}

/// Spawns `count` tokio tasks that each await one barrier, measures, then releases them.
fn tokio_tasks(count: usize) -> Row {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let before = memory(); // after the runtime's worker threads exist: count only the tasks
    let barrier = Arc::new(tokio::sync::Barrier::new(count + 1));
    let started = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..count)
        .map(|_| {
            let (barrier, started) = (Arc::clone(&barrier), Arc::clone(&started));
            runtime.spawn(async move {
                // Relaxed: a progress count, read only to know when all have started.
                started.fetch_add(1, Ordering::Relaxed);
                barrier.wait().await;
            })
        })
        .collect();
    let spawn = t0.elapsed();
    while started.load(Ordering::Relaxed) < count {
        thread::yield_now();
    }
    let all_running = t0.elapsed();
    let during = memory();
    let t1 = Instant::now();
    runtime.block_on(async {
        barrier.wait().await;
        for h in handles {
            h.await.unwrap();
        }
    });
    let join = t1.elapsed();
    row(
        "tokio tasks".into(),
        spawn,
        all_running,
        before,
        during,
        join,
    )
}

fn row(
    what: String,
    spawn: Duration,
    all_running: Duration,
    before: Option<(u64, u64, u64)>,
    during: Option<(u64, u64, u64)>,
    join: Duration,
) -> Row {
    let (rss_kib, vm_kib) = match (before, during) {
        (Some((rss0, _, vm0)), Some((rss1, _, vm1))) => (
            Some(rss1.saturating_sub(rss0)),
            Some(vm1.saturating_sub(vm0)),
        ),
        _ => (None, None),
    };
    Row {
        what,
        spawn,
        all_running,
        rss_kib,
        vm_kib,
        join,
    }
}
// ANCHOR_END: measure

/// The soft limit on processes + threads for this user (`ulimit -u`), where Linux reports it.
fn max_user_processes() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max processes"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// One wake-up's cost: `rounds` round trips between two OS threads over std channels.
fn thread_ping_pong(rounds: u32) -> Duration {
    let (to_b, from_a) = mpsc::channel::<u32>();
    let (to_a, from_b) = mpsc::channel::<u32>();
    let pong = thread::spawn(move || {
        for n in from_a {
            to_a.send(n).unwrap();
        }
    });
    let t0 = Instant::now();
    for n in 0..rounds {
        to_b.send(n).unwrap();
        from_b.recv().unwrap();
    }
    let elapsed = t0.elapsed();
    drop(to_b);
    pong.join().unwrap();
    elapsed
}

/// The same ping-pong between two tokio tasks over tokio channels, on a 2-worker runtime.
fn task_ping_pong(rounds: u32) -> Duration {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (to_b, mut from_a) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let (to_a, mut from_b) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let pong = tokio::spawn(async move {
            while let Some(n) = from_a.recv().await {
                to_a.send(n).unwrap();
            }
        });
        let ping = tokio::spawn(async move {
            let t0 = Instant::now();
            for n in 0..rounds {
                to_b.send(n).unwrap();
                from_b.recv().await.unwrap();
            }
            t0.elapsed()
        });
        let elapsed = ping.await.unwrap();
        pong.await.unwrap();
        elapsed
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args
        .get(1)
        .map(|a| a.parse().expect("the count is a number"))
        .unwrap_or(10_000);
    let rounds = 100_000;
    match args.get(2).map(String::as_str) {
        // One measurement, in this (fresh) process: its memory figures start from a heap that
        // no earlier measurement has grown.
        Some("threads") => print_row(&os_threads(count, None), count),
        Some("small-stack") => print_row(&os_threads(count, Some(64 * 1024)), count),
        Some("tasks") => print_row(&tokio_tasks(count), count),
        Some("ping-pong") => {
            let per = |t: Duration| t.as_secs_f64() * 1e6 / f64::from(rounds);
            let t = thread_ping_pong(rounds);
            println!("{:<34} {:>8.2}µs", "OS threads, std mpsc", per(t));
            let t = task_ping_pong(rounds);
            println!("{:<34} {:>8.2}µs", "tokio tasks, tokio mpsc", per(t));
        }
        Some(other) => {
            eprintln!("unknown part {other:?}: threads, small-stack, tasks or ping-pong");
            std::process::exit(2);
        }
        None => run_all(count, rounds),
    }
}

/// Runs each measurement in a child process of its own, and prints the table.
fn run_all(count: usize, rounds: u32) {
    if let Some(limit) = max_user_processes() {
        if (limit as usize) < count + 100 {
            eprintln!("`ulimit -u` is {limit}: too low for {count} threads; lower the count");
            std::process::exit(2);
        }
    }
    println!(
        "{count} of each; available_parallelism: {}",
        thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<34} {:>9} {:>12} {:>12} {:>14} {:>10} {:>10}",
        "what", "spawn", "all running", "RSS each", "VmSize each", "join", "peak RSS"
    );
    let me = std::env::current_exe().expect("the example's own path");
    let part = |name: &str| {
        let out = std::process::Command::new(&me)
            .arg(count.to_string())
            .arg(name)
            .output()
            .expect("run a measurement");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
    };
    for name in ["threads", "small-stack", "tasks"] {
        part(name);
    }
    println!();
    println!("ping-pong, {rounds} round trips (two wake-ups each), per round trip");
    part("ping-pong");
}

fn print_row(r: &Row, count: usize) {
    let each = |kib: Option<u64>| match kib {
        Some(kib) => format!("{:.2} KiB", kib as f64 / count as f64),
        None => "n/a".into(),
    };
    let peak = match memory() {
        Some((_, hwm, _)) => format!("{:.1} MiB", hwm as f64 / 1024.0),
        None => "n/a".into(),
    };
    println!(
        "{:<34} {:>7.1}ms {:>10.1}ms {:>12} {:>14} {:>8.1}ms {:>10}",
        r.what,
        ms(r.spawn),
        ms(r.all_running),
        each(r.rss_kib),
        each(r.vm_kib),
        ms(r.join),
        peak
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
