//! Load for the chat server: fan-out throughput and delivery latency with 10, 50 and 200
//! clients.
//!
//! ```text
//! cargo build --release --example chat_server --example chat_load
//! target/release/examples/chat_load                       # starts its own chat_server
//! target/release/examples/chat_load --addr 127.0.0.1:7878 # or loads a running one
//! ```
//!
//! Each round connects N clients; every client sends `--messages` lines (as fast as it can, or
//! `--per-second` each), and every other client must receive each one. A line carries its send
//! time, read from one `Instant` shared by the whole process, so latency is measured on one
//! clock: from the sender's `write` to the receiver's `read` of that line, through the server's
//! reader, the room's fan-out, the receiver's queue and writer. Throughput counts deliveries
//! (lines received, all receivers together) per second of the round.
//!
//! When it starts its own server (the `chat_server` binary next to this one), it gives it a
//! temporary database, a rate limit and queues too large to interfere: this measures the
//! fan-out, not the flood control. A remote server keeps its own limits: keep `--per-second`
//! under its `--rate`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

struct Args {
    addr: Option<String>,
    clients: Vec<usize>,
    messages: usize,
    per_second: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: None,
        clients: vec![10, 50, 200],
        messages: 20,
        per_second: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args.addr = Some(value()?),
            "--clients" => {
                args.clients = value()?
                    .split(',')
                    .map(|n| n.parse().map_err(|_| format!("bad client count {n:?}")))
                    .collect::<Result<_, _>>()?
            }
            "--messages" => args.messages = value()?.parse().map_err(|e| format!("{e}"))?,
            "--per-second" => args.per_second = value()?.parse().map_err(|e| format!("{e}"))?,
            _ => {
                return Err(format!(
                    "unknown flag {flag}\nusage: chat_load [--addr HOST:PORT] \
                     [--clients 10,50,200] [--messages 20] [--per-second 0 (as fast as possible)]"
                ))
            }
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("chat_load: {e}");
            std::process::exit(2);
        }
    };
    let (addr, mut server) = match &args.addr {
        Some(addr) => (addr.clone(), None),
        None => {
            let (addr, child) = start_server();
            (addr, Some(child))
        }
    };
    println!(
        "chat_load against {addr}: {} message(s) per client, {}",
        args.messages,
        match args.per_second {
            0 => "sent as fast as possible".to_string(),
            n => format!("{n} per second per client"),
        }
    );
    println!(
        "{:>7} {:>10} {:>10} {:>8} {:>12} {:>9} {:>9} {:>9}",
        "clients", "msgs in", "delivered", "lost", "deliveries/s", "p50", "p99", "max"
    );
    for &n in &args.clients {
        round(&addr, n, args.messages, args.per_second);
    }
    if let Some(child) = server.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Starts `chat_server` from the same directory as this binary, on a free port.
fn start_server() -> (String, Child) {
    let exe = std::env::current_exe().expect("current_exe");
    let server = exe.with_file_name(format!("chat_server{}", std::env::consts::EXE_SUFFIX));
    let db = std::env::temp_dir().join(format!("chat_load-{}.sqlite", std::process::id()));
    let mut child = Command::new(&server)
        .args(["--addr", "127.0.0.1:0", "--admin-addr", "off"])
        .args([
            "--rate",
            "1000000",
            "--queue",
            "100000",
            "--max-clients",
            "10000",
        ])
        .arg("--db")
        .arg(&db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (build it: cargo build --release --example chat_server)",
                server.display()
            )
        });
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .expect("the server's banner");
    let addr = banner
        .strip_prefix("chat server listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"))
        .to_string();
    (addr, child)
}

fn round(addr: &str, n: usize, messages: usize, per_second: u64) {
    let epoch = Arc::new(Instant::now());
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut welcome = String::new();
        reader.read_line(&mut welcome).expect("welcome");
        streams.push((stream, reader));
    }
    let expected = (n - 1) * messages;
    let start = Instant::now();
    let mut receivers = Vec::new();
    for (mut stream, mut reader) in streams {
        let epoch_r = Arc::clone(&epoch);
        receivers.push(thread::spawn(move || {
            let mut latencies = Vec::with_capacity(expected);
            let mut line = String::new();
            while latencies.len() < expected {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break, // closed, or 30 s of silence: counted as lost
                    Ok(_) => {}
                }
                // `guest-N: t NANOS`; notices (`* `) are skipped.
                if let Some(sent) = line
                    .split_once(": t ")
                    .and_then(|(_, t)| t.trim().parse::<u64>().ok())
                {
                    let now = epoch_r.elapsed().as_nanos() as u64;
                    latencies.push(now.saturating_sub(sent));
                }
            }
            (latencies, Instant::now())
        }));
        let epoch_s = Arc::clone(&epoch);
        thread::spawn(move || {
            let gap = (per_second > 0).then(|| Duration::from_secs(1) / per_second as u32);
            for _ in 0..messages {
                let sent = epoch_s.elapsed().as_nanos() as u64;
                if writeln!(stream, "t {sent}").is_err() {
                    return;
                }
                if let Some(gap) = gap {
                    thread::sleep(gap);
                }
            }
            // Dropping this handle leaves the socket open: the receiver holds a clone of it.
        });
    }
    let mut all = Vec::with_capacity(n * expected);
    let mut last = start;
    for receiver in receivers {
        let (latencies, done) = receiver.join().expect("a receiver");
        all.extend(latencies);
        last = last.max(done);
    }
    let elapsed = last.duration_since(start).as_secs_f64();
    let delivered = all.len();
    all.sort_unstable();
    let pct = |p: f64| -> String {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or("-".into(), |&ns| {
                format!("{:.2?}", Duration::from_nanos(ns))
            })
    };
    println!(
        "{:>7} {:>10} {:>10} {:>8} {:>12.0} {:>9} {:>9} {:>9}",
        n,
        n * messages,
        delivered,
        n * expected - delivered,
        delivered as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
}
