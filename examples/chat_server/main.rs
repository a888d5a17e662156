//! A multi-client chat server over TCP: the screen challenge ("handle many clients, clean
//! disconnects, forward messages to the others, never echo to the sender") answered by composing
//! the crate: a `BoundedQueue` per client, a `TokenBucket` per client, a `TtlCache` of released
//! nicks, SQLite through the `Pool` for `/history`, and `Shutdown` for the drain.
//!
//! ```text
//! cargo run --release --example chat_server -- --addr 127.0.0.1:7878
//! nc 127.0.0.1 7878        # in two or more other terminals
//! ```
//!
//! # The line protocol
//! UTF-8 lines ending in `\n` (a `\r` before it is ignored), both ways.
//!
//! Client → server: a line starting with `/` is a command — `/nick NAME`, `/who`,
//! `/history [N]`, `/quit`; any other non-empty line is a chat message.
//!
//! Server → client, three kinds of line, told apart by their first two bytes:
//! * `NAME: text` — a message from another client (never your own). Nicks are letters, digits,
//!   `_` and `-`, so a chat line never starts with `* ` or `! `.
//! * `* …` — a notice: `* you are guest-7; commands: …` on connect, `* NAME joined`,
//!   `* NAME left`, `* OLD is now NEW`, `* you are now NAME`, the answer to `/who`
//!   (`* 3 connected:` then one `* NAME` line each), to `/history` (`* history: 2 message(s)`
//!   then `* NAME: text` lines, oldest first), `* bye` after `/quit`, and
//!   `* server shutting down` as the last line before a drain closes the connection.
//! * `! …` — an error about your last line: `! rate limited: line dropped`,
//!   `! line too long (max 4096 bytes): dropped`, `! invalid utf-8: line dropped`,
//!   `! bad nick: …`, `! nick NAME is taken`, `! unknown command; …`, `! history unavailable…`,
//!   and before a disconnect `! server full (N clients): try again later` or
//!   `! too slow: disconnected`.
//!
//! # Threads
//! One accept thread; per client a reader (parses, rate-limits, runs commands, broadcasts) and
//! a writer (drains the client's bounded outbound queue to the socket); one history writer; one
//! admin HTTP thread; the main thread waits for SIGINT/SIGTERM and runs the drain. See the book
//! chapter "The chat server (screen challenge)" for the design step by step.

mod admin;
mod client;
mod config;
mod history;
mod lines;
mod metrics;
mod room;
mod server;

use std::process::ExitCode;

use log::{error, info, warn};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use config::{Config, Parsed};
use server::Server;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(config)) => config,
        Ok(Parsed::Help) => {
            println!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("chat_server: {e}\n\n{}", config::USAGE);
            return ExitCode::from(2);
        }
    };
    // Registered before the server starts: a signal from then on is never lost.
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            error!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // ANCHOR: banner
    let addr = server.addr();
    println!(
        "chat server listening on {addr} - connect with: nc {} {}",
        addr.ip(),
        addr.port()
    );
    if let Some(admin) = server.admin_addr() {
        println!("admin HTTP on http://{admin} (/readyz, /livez, /metrics)");
    }
    // ANCHOR_END: banner

    // ANCHOR: signals
    let first = signals.forever().next();
    info!("signal {first:?}: shutting down gracefully (a second signal exits at once)");
    let handle = signals.handle();
    let impatient = std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            warn!("second signal: exiting without finishing the drain");
            std::process::exit(130);
        }
    });
    let report = server.shutdown();
    handle.close(); // ends the watcher's iterator
    let _ = impatient.join();
    // ANCHOR_END: signals
    info!(
        "stopped: drained={} remaining={} took={:?}",
        report.drained, report.remaining, report.took
    );
    ExitCode::SUCCESS
}
