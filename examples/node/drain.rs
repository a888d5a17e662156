//! The `tcp_*` workload: simulated requests, and a graceful drain on `tcp_shutdown`.
//!
//! A `tcp_request` is admitted through the crate's `Shutdown` *on the reader thread*, in read
//! order, so that "in flight" means "read before the shutdown and not yet answered". Its
//! simulated work is a delayed task on the scheduler (`enqueue_after(latency)`): a hundred
//! requests of 500 ms occupy no worker while they wait, and all finish after 500 ms.
//!
//! Every admitted request is answered exactly once: its `Reply` waits in a map, and whoever
//! removes it (the finished work, or the drain timeout) is the one who answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use threadsmith::scheduler::{Priority, TaskHandle};
use threadsmith::shutdown::{InFlight, Shutdown};

use crate::core::{Core, Node, Reply};

#[derive(Deserialize)]
struct TcpRequest {
    #[allow(dead_code)] // the payload is not looked at: the work is simulated
    data: String,
    #[serde(default)]
    latency_ms: u64,
}

#[derive(Deserialize)]
struct TcpShutdown {
    drain_timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
struct TcpDrainStatus {}

#[derive(Serialize)]
#[serde(tag = "type", rename = "tcp_request_ok")]
struct TcpRequestOk {
    result: &'static str,
    duration_ms: u64,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "tcp_request_error")]
struct TcpRequestError {
    error: &'static str,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "tcp_shutdown_ok")]
struct TcpShutdownOk {
    status: &'static str,
    in_flight: usize,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "tcp_drain_status_ok")]
struct TcpDrainStatusOk {
    status: &'static str,
    remaining: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    took_ms: Option<u64>,
}

/// An admitted request: its reply, and its delayed work (cancelled if the drain times out).
struct Pending {
    reply: Reply,
    work: Option<TaskHandle<()>>,
}

/// The drain's state.
struct Drain {
    gate: Shutdown,
    default_timeout: Duration,
    state: Mutex<DrainState>,
}

#[derive(Default)]
struct DrainState {
    next_request: u64,
    /// Admitted requests not yet answered.
    pending: HashMap<u64, Pending>,
    /// When `tcp_shutdown` (or end of input) started the drain.
    started: Option<Instant>,
    /// When the last request in flight at that moment was answered.
    last_reply: Option<Instant>,
    /// Set at the drain timeout: how many requests it answered with `drain_timeout`.
    timed_out: Option<usize>,
    watcher: Option<JoinHandle<()>>,
}

/// Registers `tcp_request`, `tcp_shutdown` and `tcp_drain_status` on `node`.
pub fn register(node: &mut Node, default_timeout: Duration) {
    let drain = Arc::new(Drain {
        gate: Shutdown::new(),
        default_timeout,
        state: Mutex::new(DrainState::default()),
    });

    let d = Arc::clone(&drain);
    node.inline("tcp_request", move |core, request: TcpRequest, reply| {
        d.admit(core, request, reply)
    });
    let d = Arc::clone(&drain);
    node.inline("tcp_shutdown", move |_, request: TcpShutdown, reply| {
        let timeout = request.drain_timeout_ms.map(Duration::from_millis);
        let (first, in_flight) = d.begin(timeout);
        // The shutdown that starts the drain says "draining"; a repeated one, where it is now.
        let status = if first { "draining" } else { d.status().status };
        reply.send(TcpShutdownOk { status, in_flight });
    });
    let d = Arc::clone(&drain);
    node.inline("tcp_drain_status", move |_, _: TcpDrainStatus, reply| {
        reply.send(d.status())
    });
    node.on_eof(move |_| {
        // No more input: drain as if told to, then wait for the drain to end.
        drain.begin(None);
        let watcher = drain.lock().watcher.take();
        if let Some(watcher) = watcher {
            let _ = watcher.join();
        }
    });
}

impl Drain {
    fn lock(&self) -> std::sync::MutexGuard<'_, DrainState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ANCHOR: admit
    fn admit(self: &Arc<Self>, core: &Arc<Core>, request: TcpRequest, reply: Reply) {
        let Some(in_flight) = self.gate.enter() else {
            return reply.send(TcpRequestError {
                error: "server_shutting_down",
            });
        };
        let id = {
            let mut state = self.lock();
            let id = state.next_request;
            state.next_request += 1;
            state.pending.insert(id, Pending { reply, work: None });
            id
        };
        let drain = Arc::clone(self);
        let latency = request.latency_ms;
        let in_flight = Some(in_flight);
        let work = move || {
            let ok = TcpRequestOk {
                result: "processed",
                duration_ms: latency,
            };
            drain.answer(id, ok, in_flight);
        };
        let delay = Duration::from_millis(latency);
        match core
            .scheduler()
            .enqueue_after(delay, Priority::Normal, work)
        {
            Ok(handle) => {
                if let Some(pending) = self.lock().pending.get_mut(&id) {
                    pending.work = Some(handle); // still waiting: keep it to cancel at timeout
                }
            }
            Err(rejected) => {
                eprintln!("node: tcp_request refused by the scheduler: {rejected}");
                // The refused closure, and the in-flight guard in it, are already gone.
                let error = TcpRequestError {
                    error: "overloaded",
                };
                self.answer(id, error, None);
            }
        }
    }

    /// Sends `body` as request `id`'s reply, unless the drain timeout already answered it.
    ///
    /// The request leaves the in-flight count (`in_flight` is dropped) just *before* its reply
    /// is written: a client that has read every reply and then asks for the status must hear
    /// "drained". Dropped after the write, the count would still include a request whose
    /// answer the client already holds.
    fn answer<B: Serialize>(&self, id: u64, body: B, in_flight: Option<InFlight>) {
        let pending = {
            let mut state = self.lock();
            let pending = state.pending.remove(&id);
            if pending.is_some() && state.started.is_some() {
                state.last_reply = Some(Instant::now());
            }
            pending
        };
        drop(in_flight);
        if let Some(pending) = pending {
            pending.reply.send(body);
        }
    }
    // ANCHOR_END: admit

    // ANCHOR: drain
    /// Starts the drain (once; later calls only report): no new requests, and a watcher that
    /// answers every request still in flight at the timeout. Returns whether this call
    /// started it, and the requests in flight.
    fn begin(self: &Arc<Self>, timeout: Option<Duration>) -> (bool, usize) {
        let mut state = self.lock();
        if state.started.is_some() {
            return (false, self.gate.in_flight());
        }
        state.started = Some(Instant::now());
        let in_flight = self.gate.begin();
        let timeout = timeout.unwrap_or(self.default_timeout);
        let drain = Arc::clone(self);
        state.watcher = Some(thread::spawn(move || {
            if drain.gate.wait(timeout).drained {
                return;
            }
            // Time is up: answer everything still in flight, exactly once each, and cancel
            // its simulated work so that nothing keeps the node from exiting.
            let cut_off: Vec<Pending> = {
                let mut state = drain.lock();
                let cut_off: Vec<Pending> = state.pending.drain().map(|(_, p)| p).collect();
                state.timed_out = Some(cut_off.len());
                cut_off
            };
            for pending in cut_off {
                if let Some(work) = &pending.work {
                    work.cancel();
                }
                pending.reply.send(TcpRequestError {
                    error: "drain_timeout",
                });
            }
        }));
        (true, in_flight)
    }

    fn status(&self) -> TcpDrainStatusOk {
        let state = self.lock();
        let Some(started) = state.started else {
            return TcpDrainStatusOk {
                status: "running",
                remaining: self.gate.in_flight(),
                took_ms: None,
            };
        };
        if let Some(cut_off) = state.timed_out {
            return TcpDrainStatusOk {
                status: "timed_out",
                remaining: cut_off,
                took_ms: None,
            };
        }
        match self.gate.in_flight() {
            0 => {
                let took = state.last_reply.map_or(Duration::ZERO, |t| t - started);
                TcpDrainStatusOk {
                    status: "drained",
                    remaining: 0,
                    took_ms: Some((took.as_secs_f64() * 1000.0).round() as u64),
                }
            }
            remaining => TcpDrainStatusOk {
                status: "draining",
                remaining,
                took_ms: None,
            },
        }
    }
    // ANCHOR_END: drain
}
