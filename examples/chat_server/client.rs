//! One connection: a reader thread (this module's [`serve`]) and a writer thread fed by the
//! client's outbound queue.
//!
//! The reader owns the connection's life. It parses lines, charges one token per line, runs
//! commands and hands messages to the room. When it stops (end of stream, error, `/quit`, a
//! kick, the drain) it leaves the room, closes the outbox, joins the writer and only then drops
//! the `InFlight` guard: a drained server has no connection threads left.
//!
//! The socket has a short read timeout (`READ_TICK`), so a reader blocked on a silent client
//! still wakes to notice a kick or the drain: no thread waits forever on a peer.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown as Both, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};
use threadsmith::bounded::TryPopError;
use threadsmith::ratelimit::{Rate, RateLimiter, TokenBucket};
use threadsmith::shutdown::InFlight;

use crate::history::MAX_HISTORY;
use crate::lines::{Line, LineReader};
use crate::metrics::Metrics;
use crate::room::{Conn, Kick, NickError};
use crate::server::Shared;

/// How often a blocked reader wakes to look for a kick or the drain.
pub const READ_TICK: Duration = Duration::from_millis(250);
/// After a `/quit` or the drain has flushed our output, how long we keep reading (and
/// discarding) for the client to close first. Closing a socket with unread input makes the
/// kernel send a reset, which can destroy output the client has not read yet.
const LINGER: Duration = Duration::from_secs(2);

/// Why the read loop stopped.
#[derive(Debug)]
enum End {
    Eof,
    Error(io::Error),
    Quit,
    Kicked(Kick),
    Drain,
}

/// Runs a connection to its end on the calling thread (the reader).
pub fn serve(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    stream: TcpStream,
    nick: String,
    guard: InFlight,
) {
    let writer = stream.try_clone().and_then(|out| {
        let (shared, conn) = (Arc::clone(&shared), Arc::clone(&conn));
        thread::Builder::new()
            .name(format!("chat-writer-{}", conn.id))
            .spawn(move || write_loop(&shared, &conn, out))
    });
    let writer = match writer {
        Ok(writer) => writer,
        Err(e) => {
            warn!("{nick}: cannot start a writer: {e}");
            shared.room.leave(conn.id);
            return;
        }
    };
    info!("{nick} connected from {}", peer(&stream));

    let mut lines = LineReader::new(&stream, shared.config.max_line);
    let end = read_loop(&shared, &conn, &mut lines);
    let nick = shared.room.leave(conn.id).unwrap_or(nick);
    match &end {
        End::Error(e) => info!("{nick} disconnected: {e}"),
        End::Kicked(why) => info!("{nick} disconnected: {why:?}"),
        _ => info!("{nick} disconnected: {end:?}"),
    }
    conn.outbox.close();
    // The writer flushes what is queued (bounded by the write timeout) and shuts our sending
    // half, so the client sees its last lines, then end of stream.
    if writer.join().is_err() {
        warn!("{nick}: the writer panicked");
    }
    if matches!(end, End::Quit | End::Drain) {
        linger(&mut lines);
    }
    let _ = stream.shutdown(Both::Both);
    drop(guard);
}

// ANCHOR: read_loop
fn read_loop(shared: &Shared, conn: &Conn, lines: &mut LineReader<&TcpStream>) -> End {
    let rate = shared.config.rate;
    // One token per line, commands included; the bucket starts full with a burst of 2N.
    let bucket = TokenBucket::new(rate.saturating_mul(2), Rate::per_second(rate));
    loop {
        if let Some(why) = conn.kicked() {
            return End::Kicked(why);
        }
        if shared.room.is_closed() {
            return End::Drain;
        }
        let line = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return End::Eof,
            Err(e) if is_tick(&e) => continue,
            Err(e) => return End::Error(e),
        };
        if !bucket.try_acquire() {
            Metrics::inc(&shared.metrics.rate_limited);
            reply(shared, conn, "! rate limited: line dropped");
            continue;
        }
        let bytes = match line {
            Line::Complete(bytes) => bytes,
            Line::TooLong => {
                Metrics::inc(&shared.metrics.line_too_long);
                let max = shared.config.max_line;
                reply(
                    shared,
                    conn,
                    &format!("! line too long (max {max} bytes): dropped"),
                );
                continue;
            }
        };
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let Ok(text) = std::str::from_utf8(bytes) else {
            Metrics::inc(&shared.metrics.invalid_utf8);
            reply(shared, conn, "! invalid utf-8: line dropped");
            continue;
        };
        if text.starts_with('/') {
            if command(shared, conn, text) {
                return End::Quit;
            }
        } else if !text.trim().is_empty() {
            // Refused only when kicked or draining: the checks at the top end the loop then.
            shared.room.say(conn.id, &printable(text));
        }
    }
}
// ANCHOR_END: read_loop

/// Runs a command; true for `/quit`.
fn command(shared: &Shared, conn: &Conn, text: &str) -> bool {
    let (name, arg) = text.split_once(' ').unwrap_or((text, ""));
    let arg = arg.trim();
    match name {
        "/quit" => {
            reply(shared, conn, "* bye");
            return true;
        }
        "/who" => {
            let nicks = shared.room.who();
            reply(shared, conn, &format!("* {} connected:", nicks.len()));
            for nick in nicks {
                reply(shared, conn, &format!("* {nick}"));
            }
        }
        "/nick" => match shared.room.rename(conn.id, arg) {
            Ok(_) => reply(shared, conn, &format!("* you are now {arg}")),
            Err(NickError::Invalid(why)) => reply(shared, conn, &format!("! bad nick: {why}")),
            Err(NickError::Taken) => reply(shared, conn, &format!("! nick {arg} is taken")),
            Err(NickError::Closed) => {}
        },
        "/history" => {
            let n = match arg {
                "" => Some(20),
                n => n.parse().ok().filter(|n| (1..=MAX_HISTORY).contains(n)),
            };
            let Some(n) = n else {
                reply(
                    shared,
                    conn,
                    &format!("! usage: /history [N], N from 1 to {MAX_HISTORY}"),
                );
                return false;
            };
            match shared.history.recent(n) {
                Ok(rows) => {
                    reply(
                        shared,
                        conn,
                        &format!("* history: {} message(s)", rows.len()),
                    );
                    for (nick, body) in rows {
                        reply(shared, conn, &format!("* {nick}: {body}"));
                    }
                }
                Err(e) => {
                    warn!("/history: {e}");
                    reply(shared, conn, "! history unavailable, try again");
                }
            }
        }
        _ => reply(
            shared,
            conn,
            "! unknown command; try /nick NAME, /who, /history [N], /quit",
        ),
    }
    false
}

/// Queues a line for this client only. Unlike a broadcast it may wait (up to the write
/// timeout) for room in the queue: the only thread it holds up is this client's own reader,
/// which is backpressure on the client that asked. A client that never makes room is too slow.
fn reply(shared: &Shared, conn: &Conn, line: &str) {
    if let Err(e) = conn
        .outbox
        .push_timeout(Arc::from(line), shared.config.write_timeout)
    {
        if e.is_full() && conn.kick(Kick::TooSlow) {
            Metrics::inc(&shared.metrics.slow_consumers);
        }
    }
}

// ANCHOR: writer
/// Drains the outbox to the socket, batching through a `BufWriter` and flushing whenever the
/// queue runs dry. Ends when the outbox is closed and empty, or on a kick or a write error.
fn write_loop(shared: &Shared, conn: &Conn, stream: TcpStream) {
    // A write that makes no progress for this long marks the client broken (its reader notices
    // on its next tick), so a peer that stopped reading cannot hold this thread forever.
    let _ = stream.set_write_timeout(Some(shared.config.write_timeout));
    let mut out = BufWriter::with_capacity(16 * 1024, &stream);
    let mut ok = true;
    loop {
        let line = match conn.outbox.try_pop() {
            Ok(line) => line,
            Err(TryPopError::Empty) => {
                if out.flush().is_err() {
                    ok = false;
                    break;
                }
                match conn.outbox.pop() {
                    Some(line) => line,
                    None => break,
                }
            }
            Err(TryPopError::Closed) => break,
        };
        if conn.kicked().is_some() {
            break;
        }
        if out.write_all(line.as_bytes()).is_err() || out.write_all(b"\n").is_err() {
            ok = false;
            break;
        }
        Metrics::inc(&shared.metrics.lines_out);
    }
    let last = match conn.kicked() {
        Some(Kick::TooSlow) => Some("! too slow: disconnected"),
        Some(Kick::Broken) => None,
        None if ok && shared.room.is_closed() => Some("* server shutting down"),
        None => None,
    };
    if let Some(last) = last {
        ok = out.write_all(last.as_bytes()).is_ok() && out.write_all(b"\n").is_ok();
    }
    if !ok || out.flush().is_err() {
        conn.kick(Kick::Broken);
    }
    // End of stream for the client once everything above is sent; the reader closes the rest.
    let _ = stream.shutdown(Both::Write);
}
// ANCHOR_END: writer

/// Reads and discards until the client closes or `LINGER` passes (see `LINGER`).
fn linger(lines: &mut LineReader<&TcpStream>) {
    let deadline = Instant::now() + LINGER;
    while Instant::now() < deadline {
        match lines.next_line() {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) if is_tick(&e) => {}
            Err(_) => return,
        }
    }
}

/// A read timeout: `WouldBlock` on Unix, `TimedOut` on Windows.
fn is_tick(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Control characters (escape sequences, bells, carriage returns) would let one client redraw
/// the others' terminals: replace them. Tabs are harmless.
fn printable(text: &str) -> Cow<'_, str> {
    if text.chars().any(|c| c.is_control() && c != '\t') {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if c.is_control() && c != '\t' {
                        '\u{fffd}'
                    } else {
                        c
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

fn peer(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string())
}
