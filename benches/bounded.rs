//! `BoundedQueue` vs the bounded channels a user would otherwise pick: crossbeam-channel, flume
//! and std's `sync_channel` (single consumer, so SPSC only), plus the textbook two-condvar queue
//! (`check::reference::CondvarQueue`) as the baseline. Capacity 1024 for all. Producers push
//! with the blocking call and consumers pop with the blocking call until the queue is closed
//! (or every sender dropped). The time reported is per message: wall time over all messages.
//!
//! `cargo bench --bench bounded`

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use threadsmith::bounded::BoundedQueue;
use threadsmith::check::reference::CondvarQueue;

const CAPACITY: usize = 1024;

/// Moves `total` messages from one thread per sender to one thread per receiver; returns the
/// time from the start signal until the last consumer saw the end. A producer drops its sender
/// when done (that closes a channel once all are gone); `finish` runs after every producer is
/// done (it closes a queue).
fn transfer<S: Send, R: Send>(
    senders: Vec<S>,
    receivers: Vec<R>,
    total: u64,
    send: impl Fn(&S, u64) + Sync,
    recv: impl Fn(&R) -> Option<u64> + Sync,
    finish: impl FnOnce(),
) -> Duration {
    let producers = senders.len() as u64;
    let barrier = Barrier::new(senders.len() + receivers.len() + 1);
    std::thread::scope(|s| {
        let (send, recv, barrier) = (&send, &recv, &barrier);
        let pushers: Vec<_> = (0..producers)
            .zip(senders)
            .map(|(p, tx)| {
                let share = total / producers + u64::from(p < total % producers);
                s.spawn(move || {
                    barrier.wait();
                    (0..share).for_each(|i| send(&tx, i));
                })
            })
            .collect();
        let poppers: Vec<_> = receivers
            .into_iter()
            .map(|rx| {
                s.spawn(move || {
                    barrier.wait();
                    while let Some(v) = recv(&rx) {
                        std::hint::black_box(v);
                    }
                    Instant::now()
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        pushers.into_iter().for_each(|p| p.join().unwrap());
        finish();
        let end = poppers
            .into_iter()
            .map(|c| c.join().unwrap())
            .max()
            .unwrap();
        end - start
    })
}

fn peers(group: &mut BenchmarkGroup<'_, WallTime>, producers: usize, consumers: usize) {
    let id = |name| BenchmarkId::new(name, format!("{producers}x{consumers}"));
    group.bench_function(id("threadsmith"), |b| {
        b.iter_custom(|n| {
            let q = Arc::new(BoundedQueue::new(CAPACITY));
            let (tx, rx) = (vec![q.clone(); producers], vec![q.clone(); consumers]);
            transfer(
                tx,
                rx,
                n,
                |q, v| q.push(v).unwrap(),
                |q| q.pop(),
                || q.close(),
            )
        })
    });
    group.bench_function(id("crossbeam_channel"), |b| {
        b.iter_custom(|n| {
            let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
            let (tx, rx) = (vec![tx; producers], vec![rx; consumers]);
            transfer(
                tx,
                rx,
                n,
                |tx, v| tx.send(v).unwrap(),
                |rx| rx.recv().ok(),
                || (),
            )
        })
    });
    group.bench_function(id("flume"), |b| {
        b.iter_custom(|n| {
            let (tx, rx) = flume::bounded(CAPACITY);
            let (tx, rx) = (vec![tx; producers], vec![rx; consumers]);
            transfer(
                tx,
                rx,
                n,
                |tx, v| tx.send(v).unwrap(),
                |rx| rx.recv().ok(),
                || (),
            )
        })
    });
    if consumers == 1 {
        // std's receiver is single-consumer (not `Clone`), so it runs only here.
        group.bench_function(id("std_sync_channel"), |b| {
            b.iter_custom(|n| {
                let (tx, rx) = std::sync::mpsc::sync_channel(CAPACITY);
                let tx = vec![tx; producers];
                transfer(
                    tx,
                    vec![rx],
                    n,
                    |tx, v| tx.send(v).unwrap(),
                    |rx| rx.recv().ok(),
                    || (),
                )
            })
        });
    }
    group.bench_function(id("condvar_queue"), |b| {
        b.iter_custom(|n| {
            let q = Arc::new(CondvarQueue::new(CAPACITY));
            let (tx, rx) = (vec![q.clone(); producers], vec![q.clone(); consumers]);
            transfer(
                tx,
                rx,
                n,
                |q, v| q.push(v).unwrap(),
                |q| q.pop(),
                || q.close(),
            )
        })
    });
}

fn bounded(c: &mut Criterion) {
    for (name, producers, consumers) in [
        ("bounded_spsc", 1, 1),
        ("bounded_mpmc", 2, 2),
        ("bounded_mpmc", 4, 4),
    ] {
        let mut group = c.benchmark_group(name);
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(1));
        peers(&mut group, producers, consumers);
        group.finish();
    }
}

criterion_group!(benches, bounded);
criterion_main!(benches);
