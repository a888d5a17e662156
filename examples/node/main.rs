//! A Maelstrom-style node: JSON messages, one per line, on stdin and stdout; logs on stderr.
//! The protocol, with sample sessions, is `node-protocol.md` in the project's shared docs; the
//! book's chapter "A node that handles messages concurrently" walks through this code.
//!
//! ```text
//! cargo run --release --example node
//! {"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}
//! {"src":"c1","dest":"n1","body":{"type":"echo","msg_id":2,"echo":"hi"}}
//! ```
//!
//! The reader thread parses each line, fixes the reply's `msg_id` (so ids follow read order),
//! and hands the request to its handler: `echo` and `generate` run on the crate's scheduler,
//! concurrently;
//! the `tcp_*` workload (`drain.rs`) admits requests in read order and simulates their work
//! with delayed tasks. At end of input the node drains (up to 5 s by default, or the last
//! `drain_timeout_ms`), answering every accepted request, and exits 0.
//!
//! Options: `--workers N` (default 4), `--drain-timeout-ms MS` (default 5000).

mod core;
mod drain;

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::{Core, Node};

// ANCHOR: echo
#[derive(Deserialize)]
struct Echo {
    echo: Value,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "echo_ok")]
struct EchoOk {
    echo: Value,
}
// ANCHOR_END: echo

// ANCHOR: generate
/// The book's exercise: unique ids without coordination. A node id is unique in the cluster
/// and the counter is unique in the node, so the pair is unique everywhere.
#[derive(Deserialize)]
struct Generate {}

#[derive(Serialize)]
#[serde(tag = "type", rename = "generate_ok")]
struct GenerateOk {
    id: String,
}

fn generate_handler() -> impl Fn(&Core, Generate) -> GenerateOk + Send + Sync + 'static {
    let next = AtomicU64::new(0);
    move |core, _| GenerateOk {
        id: format!(
            "{}-{}",
            core.node_id().unwrap_or("?"),
            next.fetch_add(1, Ordering::Relaxed) // Relaxed: only uniqueness matters
        ),
    }
}
// ANCHOR_END: generate

fn main() -> ExitCode {
    let (workers, drain_timeout) = match options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("node: {message}\nusage: node [--workers N] [--drain-timeout-ms MS]");
            return ExitCode::from(2);
        }
    };
    let mut node = Node::new(io::stdout(), workers);
    // ANCHOR: register
    node.concurrent("echo", |_, request: Echo| EchoOk { echo: request.echo });
    node.concurrent("generate", generate_handler());
    drain::register(&mut node, drain_timeout);
    // ANCHOR_END: register
    match node.run(io::stdin().lock(), drain_timeout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node: reading stdin failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn options(mut args: impl Iterator<Item = String>) -> Result<(usize, Duration), String> {
    let (mut workers, mut drain_ms) = (4usize, 5_000u64);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("{name} needs a whole number"))
        };
        match flag.as_str() {
            "--workers" => workers = value("--workers")?.max(1) as usize,
            "--drain-timeout-ms" => drain_ms = value("--drain-timeout-ms")?,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok((workers, Duration::from_millis(drain_ms)))
}
