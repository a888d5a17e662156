//! Counters for `/metrics`, rendered in the Prometheus text format.
//!
//! Every counter is an independent `AtomicU64` bumped with `Relaxed`: nothing is published
//! through them and a scrape only needs each value to be one that existed, not a consistent
//! cut across counters.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::server::Shared;

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections: AtomicU64,
    pub rejected_full: AtomicU64,
    pub messages_in: AtomicU64,
    pub deliveries: AtomicU64,
    pub lines_out: AtomicU64,
    pub rate_limited: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub line_too_long: AtomicU64,
    pub invalid_utf8: AtomicU64,
    pub history_written: AtomicU64,
    pub history_dropped: AtomicU64,
    pub history_errors: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// The `/metrics` page.
pub fn render(shared: &Shared) -> String {
    let m = &shared.metrics;
    let mut out = String::with_capacity(2048);
    let mut line = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    let counters = [
        (
            "chat_connections_total",
            "TCP connections accepted",
            &m.connections,
        ),
        (
            "chat_rejected_full_total",
            "connections refused with `! server full`",
            &m.rejected_full,
        ),
        (
            "chat_messages_in_total",
            "chat messages accepted into the room",
            &m.messages_in,
        ),
        (
            "chat_deliveries_total",
            "chat lines queued to a receiver",
            &m.deliveries,
        ),
        (
            "chat_lines_out_total",
            "lines written to client sockets",
            &m.lines_out,
        ),
        (
            "chat_rate_limited_total",
            "lines dropped by the per-client token bucket",
            &m.rate_limited,
        ),
        (
            "chat_slow_consumer_disconnects_total",
            "clients disconnected because their queue was full",
            &m.slow_consumers,
        ),
        (
            "chat_line_too_long_total",
            "lines longer than --max-line",
            &m.line_too_long,
        ),
        (
            "chat_invalid_utf8_total",
            "lines that were not UTF-8",
            &m.invalid_utf8,
        ),
        (
            "chat_history_written_total",
            "messages persisted to SQLite",
            &m.history_written,
        ),
        (
            "chat_history_dropped_total",
            "messages not persisted because the history queue was full",
            &m.history_dropped,
        ),
        (
            "chat_history_errors_total",
            "failed history batches",
            &m.history_errors,
        ),
    ];
    for (name, help, counter) in counters {
        line(name, "counter", help, counter.load(Relaxed));
    }
    let depths = shared.room.queue_depths();
    let pool = shared.history.pool_state();
    let gauges = [
        ("chat_clients", "clients connected", shared.room.len()),
        (
            "chat_outbound_queue_depth_sum",
            "lines waiting in all outbound queues",
            depths.sum,
        ),
        (
            "chat_outbound_queue_depth_max",
            "lines waiting in the fullest outbound queue",
            depths.max,
        ),
        (
            "chat_history_queue_depth",
            "messages waiting for the history writer",
            shared.history.queue_len(),
        ),
        (
            "chat_pool_connections",
            "SQLite connections open",
            pool.connections,
        ),
        ("chat_pool_idle", "SQLite connections idle", pool.idle),
        (
            "chat_pool_in_use",
            "SQLite connections checked out",
            pool.in_use,
        ),
        (
            "chat_pool_waiting",
            "threads waiting for a SQLite connection",
            pool.waiting,
        ),
        (
            "chat_draining",
            "1 while shutting down",
            usize::from(shared.shutdown.is_draining()),
        ),
    ];
    for (name, help, value) in gauges {
        line(name, "gauge", help, value as u64);
    }
    out
}
