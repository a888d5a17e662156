//! The chat server example, end to end: the real binary as a child process on free ports,
//! real TCP clients on 127.0.0.1.
//!
//! The binary is built on first use by `common::example_binary` (see there why it asks cargo).
//!
//! No test sleeps to make time pass: every wait is for an event (a line, an exit, a thread
//! count), each bounded by a generous deadline or a socket read timeout so a bug fails the
//! test instead of hanging it. Set `CHAT_TEST_LOG=1` to see the servers' logs.
#![cfg(all(target_os = "linux", not(loom)))]

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Socket read timeout: a line that should come but does not fails the test after this long.
const READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Generous bound on events such as a process exit or threads winding down.
const DEADLINE: Duration = Duration::from_secs(30);

fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| common::example_binary("chat_server"))
}

use common::TempDb;

/// The server as a child process; killed if a test ends without stopping it.
struct ChatServer {
    child: Child,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    /// Kept open so the server's stdout never hits a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl ChatServer {
    fn start(db: &TempDb, flags: &[&str]) -> Self {
        let log = std::env::var_os("CHAT_TEST_LOG").is_some();
        let mut child = Command::new(server_binary())
            .args([
                "--addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
                "--db",
            ])
            .arg(db.path())
            .args(flags)
            .env("RUST_LOG", if log { "debug" } else { "warn" })
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if log { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("start chat_server");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let admin_off = flags.windows(2).any(|w| w == ["--admin-addr", "off"]);
        let (mut addr, mut admin) = (None, None);
        // The banner: where it listens, then the admin port. EOF here means it failed to start.
        while addr.is_none() || (admin.is_none() && !admin_off) {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).expect("read the banner");
            assert!(n > 0, "chat_server exited before printing its addresses");
            if let Some(rest) = line.strip_prefix("chat server listening on ") {
                addr = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            } else if let Some(rest) = line.strip_prefix("admin HTTP on http://") {
                admin = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            }
        }
        ChatServer {
            child,
            addr: addr.unwrap(),
            admin,
            _stdout: stdout,
        }
    }

    fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// The server process's thread count, from /proc.
    fn threads(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("a Threads: line")
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// The server's threads by name, for a failure message.
    fn thread_names(&self) -> Vec<String> {
        let dir = format!("/proc/{}/task", self.child.id());
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|tasks| {
                tasks
                    .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .map(|n| n.trim().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Waits for the process to exit, failing after `DEADLINE`.
    fn wait_exit(&mut self) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed() < DEADLINE,
                "chat_server did not exit within {DEADLINE:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn http_get(&self, path: &str) -> (u16, String) {
        let admin = self.admin.expect("an admin port");
        let mut stream = TcpStream::connect(admin).expect("connect to the admin port");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read the response");
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let body = response
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    fn metric(&self, name: &str) -> u64 {
        let (_, body) = self.http_get("/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in:\n{body}"))
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `condition` until it holds, failing after `DEADLINE` with `what` and `detail()`.
fn eventually<D: std::fmt::Debug>(
    what: &str,
    mut condition: impl FnMut() -> bool,
    detail: impl Fn() -> D,
) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < DEADLINE,
            "not within {DEADLINE:?}: {what}; now {:?}",
            detail()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

struct Client {
    nick: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut client = Client {
            nick: String::new(),
            reader: BufReader::new(stream),
            writer,
        };
        // Once the welcome is readable the client is a member: no race with later messages.
        let welcome = client.line();
        client.nick = welcome
            .strip_prefix("* you are ")
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("unexpected welcome {welcome:?}"))
            .to_string();
        client
    }

    fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// The next line, or `None` at end of stream or on a reset.
    fn try_line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                assert_eq!(buf.pop(), Some(b'\n'), "a line cut short: {buf:?}");
                Some(String::from_utf8(buf).expect("the server sends UTF-8"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("{}: no line within {READ_TIMEOUT:?}", self.nick)
            }
            Err(_) => None,
        }
    }

    fn line(&mut self) -> String {
        self.try_line()
            .unwrap_or_else(|| panic!("{}: connection closed", self.nick))
    }

    /// Skips lines until one satisfies `want`; returns the ones skipped and the match.
    fn until(&mut self, mut want: impl FnMut(&str) -> bool) -> (Vec<String>, String) {
        let mut skipped = Vec::new();
        loop {
            let line = self.line();
            if want(&line) {
                return (skipped, line);
            }
            skipped.push(line);
        }
    }

    /// `/who`, answered as a sorted list.
    fn who(&mut self) -> Vec<String> {
        self.send("/who");
        let (_, header) = self.until(|l| l.starts_with("* ") && l.ends_with(" connected:"));
        let n: usize = header[2..header.len() - " connected:".len()]
            .parse()
            .expect("a count");
        (0..n)
            .map(|_| {
                self.line()
                    .strip_prefix("* ")
                    .expect("a * line")
                    .to_string()
            })
            .collect()
    }

    fn rename(&mut self, nick: &str) {
        self.send(&format!("/nick {nick}"));
        let done = format!("* you are now {nick}");
        self.until(|l| l == done);
        self.nick = nick.to_string();
    }
}

/// A chat line `NICK: text` split in two; `None` for `* ` notices and `! ` errors.
fn chat(line: &str) -> Option<(&str, &str)> {
    if line.starts_with("* ") || line.starts_with("! ") {
        return None;
    }
    line.split_once(": ")
}

#[test]
fn fifty_clients_each_get_every_foreign_message_in_order_and_none_of_their_own() {
    const N: usize = 50;
    const M: usize = 20;
    let db = TempDb::new("fanout");
    // A queue deeper than all a client will receive: this test is about fan-out, and a writer
    // starved of CPU on a loaded machine must not turn into a slow-consumer kick.
    let server = ChatServer::start(&db, &["--rate", "1000", "--queue", "4096"]);
    let clients: Vec<Client> = (0..N).map(|_| server.connect()).collect();
    let nicks: Vec<String> = clients.iter().map(|c| c.nick.clone()).collect();
    thread::scope(|s| {
        for (me, mut client) in clients.into_iter().enumerate() {
            let nicks = &nicks;
            s.spawn(move || {
                let mut batch = String::new();
                for seq in 0..M {
                    writeln!(batch, "msg {me} {seq}").unwrap();
                }
                client.send_raw(batch.as_bytes());
                let mut next = [0usize; N];
                for _ in 0..(N - 1) * M {
                    let (_, line) = client.until(|l| !l.starts_with("* "));
                    let (nick, text) =
                        chat(&line).unwrap_or_else(|| panic!("not a chat line: {line}"));
                    let from = nicks
                        .iter()
                        .position(|n| n == nick)
                        .expect("a known sender");
                    assert_ne!(from, me, "{nick} got its own message back: {line}");
                    assert_eq!(
                        text,
                        format!("msg {from} {}", next[from]),
                        "order from {nick}"
                    );
                    next[from] += 1;
                }
                assert!((0..N).all(|i| next[i] == if i == me { 0 } else { M }));
                // Nothing else: the next non-notice line is the answer to /who.
                let (skipped, _) = {
                    client.send("/who");
                    client.until(|l| l.ends_with(" connected:"))
                };
                assert!(
                    skipped.iter().all(|l| l.starts_with("* ")),
                    "extra lines: {skipped:?}"
                );
            });
        }
    });
}

#[test]
fn an_abrupt_disconnect_is_cleaned_up_and_its_threads_end() {
    let db = TempDb::new("abrupt");
    // No admin port: tiny_http starts its worker threads lazily, which would move the baseline.
    // Every thread left is then started before the banner is printed.
    let server = ChatServer::start(&db, &["--admin-addr", "off"]);
    let baseline = server.threads();
    let before = server.thread_names();
    let mut a = server.connect();
    let mut b = server.connect();
    let c = server.connect();
    let gone = c.nick.clone();
    {
        let mut c = c;
        c.send_raw(b"half a mess"); // no newline: dropped mid-line
    }
    let left = format!("* {gone} left");
    for client in [&mut a, &mut b] {
        let (skipped, _) = client.until(|l| l == left);
        assert!(
            skipped.iter().all(|l| !l.contains("half a mess")),
            "{skipped:?}"
        );
    }
    let mut expected = vec![a.nick.clone(), b.nick.clone()];
    expected.sort();
    assert_eq!(a.who(), expected, "/who still lists {gone}");
    // Two threads (reader + writer) per connected client, and nothing left of the third.
    let threads = |n: usize| {
        let what = format!("{n} threads (before: {before:?})");
        eventually(&what, || server.threads() == n, || server.thread_names())
    };
    threads(baseline + 4);
    for mut client in [a, b] {
        client.send("/quit");
        client.until(|l| l == "* bye");
        assert_eq!(client.try_line(), None, "the server closes after /quit");
    }
    threads(baseline);
}

#[test]
fn bad_input_never_stops_the_others() {
    let db = TempDb::new("bad");
    let server = ChatServer::start(&db, &["--rate", "1000"]);
    let mut good1 = server.connect();
    let mut good2 = server.connect();
    let _silent = server.connect(); // connects and says nothing, ever
    let never_reads = server.connect(); // reads nothing past its welcome
    let mut big = server.connect();
    let mut garbled = server.connect();

    // 1 MiB without a newline: one error, the rest skipped up to the newline, then back to normal.
    big.send_raw(&vec![b'x'; 1 << 20]);
    big.until(|l| l == "! line too long (max 4096 bytes): dropped");
    big.send_raw(b"\nafter the flood\n");
    garbled.send_raw(b"\xff\xfe\xfd oops\n");
    garbled.until(|l| l == "! invalid utf-8: line dropped");
    garbled.send("still here");

    // Meanwhile two clients chat while `never_reads` lets its queue and socket fill.
    const M: usize = 200;
    let (n1, n2) = (good1.nick.clone(), good2.nick.clone());
    thread::scope(|s| {
        for (me, other, client) in [(&n1, &n2, &mut good1), (&n2, &n1, &mut good2)] {
            let (big, garbled) = (&big.nick, &garbled.nick);
            s.spawn(move || {
                for i in 0..M {
                    client.send(&format!("{me} says {i}"));
                }
                let (mut next, mut seen_big, mut seen_garbled) = (0, false, false);
                while next < M || !seen_big || !seen_garbled {
                    let line = client.line();
                    assert!(!line.contains("xxxx"), "part of the long line leaked");
                    match chat(&line) {
                        Some((nick, text)) if nick == other => {
                            assert_eq!(text, format!("{other} says {next}"));
                            next += 1;
                        }
                        Some((nick, "after the flood")) if nick == big => seen_big = true,
                        Some((nick, "still here")) if nick == garbled => seen_garbled = true,
                        Some(_) => panic!("unexpected {line}"),
                        None => assert!(line.starts_with("* "), "{line}"),
                    }
                }
            });
        }
    });
    let who = good1.who();
    for nick in [&never_reads.nick, &big.nick, &garbled.nick] {
        assert!(who.contains(nick), "{nick} missing from {who:?}");
    }
    assert_eq!(server.metric("chat_line_too_long_total"), 1);
    assert_eq!(server.metric("chat_invalid_utf8_total"), 1);
}

#[test]
fn a_client_that_stops_reading_is_disconnected_and_never_stalls_the_room() {
    let db = TempDb::new("slow");
    const LINE: usize = 16_000;
    let server = ChatServer::start(
        &db,
        &["--rate", "100000", "--queue", "8", "--max-line", "20000"],
    );
    let mut sender = server.connect();
    let mut reader = server.connect();
    let mut stuck = server.connect(); // never reads
    let left = format!("* {} left", stuck.nick);
    let body = "y".repeat(LINE);
    let mut kicked = false;
    // Chunks of 4 lines, each read by `reader` before the next is sent: `reader` never has
    // more in flight than its queue holds (4 lines and a notice or two), while `stuck` falls further behind with each chunk
    // until its socket buffers (a few MiB) and then its queue of 8 are full.
    for chunk in 0..512 {
        for i in 0..4 {
            sender.send(&format!("{chunk}.{i} {body}"));
        }
        let mut got = 0;
        while got < 4 {
            let line = reader.line();
            if line == left {
                kicked = true;
            } else if let Some((nick, text)) = chat(&line) {
                assert_eq!(nick, sender.nick);
                assert!(text.starts_with(&format!("{chunk}.{got} ")), "order");
                got += 1;
            }
        }
        if kicked {
            break;
        }
    }
    assert!(kicked, "a client that never reads was never disconnected");
    // Its connection ends: what was buffered, then (if the writer was not timed out first)
    // `! too slow`, then end of stream.
    let mut last = None;
    while let Some(line) = stuck.try_line() {
        last = Some(line);
    }
    if let Some(last) = &last {
        assert!(
            last == "! too slow: disconnected" || chat(last).is_some(),
            "{last}"
        );
    }
    assert_eq!(server.metric("chat_slow_consumer_disconnects_total"), 1);
    // The room carries on.
    sender.send("still chatting");
    reader.until(|l| chat(l) == Some((&sender.nick, "still chatting")));
}

#[test]
fn a_flood_is_rate_limited_without_touching_the_others() {
    let db = TempDb::new("flood");
    let server = ChatServer::start(&db, &["--rate", "5"]); // a burst of 10, then 5 per second
    let mut flooder = server.connect();
    let mut other = server.connect();
    let mut watcher = server.connect();
    let flood: String = (0..100).map(|i| format!("flood {i}\n")).collect();
    flooder.send_raw(flood.as_bytes());
    // End of our sending half: the server reads all 100 lines, answers, then closes.
    flooder.writer.shutdown(std::net::Shutdown::Write).unwrap();
    for i in 0..3 {
        other.send(&format!("calm {i}"));
    }
    let mut limited = 0;
    while let Some(line) = flooder.try_line() {
        if !line.starts_with("! ") {
            continue; // the others joining and chatting
        }
        assert_eq!(line, "! rate limited: line dropped");
        limited += 1;
    }
    let (mut accepted, mut calm) = (Vec::new(), 0);
    let left = format!("* {} left", flooder.nick);
    let mut flooder_left = false;
    while !flooder_left || calm < 3 {
        let line = watcher.line();
        match chat(&line) {
            Some((nick, text)) if nick == flooder.nick => accepted.push(
                text.strip_prefix("flood ")
                    .unwrap()
                    .parse::<usize>()
                    .unwrap(),
            ),
            Some((nick, text)) if nick == other.nick => {
                assert_eq!(text, format!("calm {calm}"));
                calm += 1;
            }
            _ => flooder_left |= line == left,
        }
    }
    assert_eq!(
        accepted.len() + limited,
        100,
        "every line is either delivered or refused"
    );
    assert!(
        accepted.len() >= 10,
        "the full bucket admits a burst of 10: {accepted:?}"
    );
    assert!(limited > 0, "100 lines at once were all admitted");
    assert!(
        accepted.windows(2).all(|w| w[0] < w[1]),
        "order: {accepted:?}"
    );
}

#[test]
fn limits_nicks_and_the_admin_port() {
    let db = TempDb::new("limits");
    let server = ChatServer::start(&db, &["--max-clients", "2"]);
    let mut a = server.connect();
    let mut b = server.connect();
    // A third connection is refused with a reason, then closed.
    let mut full = BufReader::new(TcpStream::connect(server.addr).unwrap());
    full.get_ref().set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut rest = String::new();
    full.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "! server full (2 clients): try again later\n");

    a.send("/nick no spaces");
    a.until(|l| l.starts_with("! bad nick: "));
    a.send("/nick guest-9");
    a.until(|l| l.starts_with("! bad nick: "));
    let old = a.nick.clone();
    a.rename("alice");
    b.until(|l| l == format!("* {old} is now alice"));
    b.send("/nick ALICE");
    b.until(|l| l == "! nick ALICE is taken");
    a.rename("alicia");
    b.send("/nick alice"); // released, but held for the grace period
    b.until(|l| l == "! nick alice is taken");
    b.rename("bob");
    assert_eq!(a.who(), ["alicia", "bob"]);
    a.send("/history 0");
    a.until(|l| l.starts_with("! usage: /history"));
    a.send("/frobnicate");
    a.until(|l| l.starts_with("! unknown command"));

    assert_eq!(server.http_get("/livez").0, 200);
    assert_eq!(server.http_get("/readyz"), (200, "ready\n".to_string()));
    assert_eq!(server.http_get("/nope").0, 404);
    assert_eq!(server.metric("chat_clients"), 2);
    assert_eq!(server.metric("chat_rejected_full_total"), 1);
    assert_eq!(server.metric("chat_draining"), 0);
}

#[test]
fn history_survives_a_restart_on_the_same_database() {
    let db = TempDb::new("history");
    {
        let mut server = ChatServer::start(&db, &[]);
        let mut a = server.connect();
        a.rename("keeper");
        for i in 0..5 {
            a.send(&format!("note {i}"));
        }
        a.who(); // lines are handled in order: all five notes were accepted before this answer
        server.sigterm();
        let (status, _) = server.wait_exit();
        assert!(status.success(), "{status}");
    }
    let server = ChatServer::start(&db, &[]);
    let mut b = server.connect();
    b.send("/history 3");
    b.until(|l| l == "* history: 3 message(s)");
    let last3: Vec<String> = (0..3).map(|_| b.line()).collect();
    assert_eq!(
        last3,
        ["* keeper: note 2", "* keeper: note 3", "* keeper: note 4"]
    );
    b.send("/history");
    b.until(|l| l == "* history: 5 message(s)");
    assert_eq!(b.line(), "* keeper: note 0");
}

#[test]
fn sigterm_while_chatting_delivers_every_accepted_message_then_exits_zero() {
    const N: usize = 20;
    const M: usize = 400;
    let db = TempDb::new("sigterm");
    // Queues deeper than all a client can receive: no reader may be kicked as slow.
    let mut server = ChatServer::start(
        &db,
        &[
            "--rate",
            "100000",
            "--queue",
            "16384",
            "--drain-timeout",
            "10",
        ],
    );
    let clients: Vec<Client> = (0..N).map(|_| server.connect()).collect();
    let nicks: Vec<String> = clients.iter().map(|c| c.nick.clone()).collect();
    let (warm, warmed) = mpsc::channel();
    let readers: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let Client {
                reader, mut writer, ..
            } = client;
            // Detached: it stops at M messages or at the first error once the server has closed.
            thread::spawn(move || {
                for seq in 0..M {
                    if writeln!(writer, "n {seq}").is_err() {
                        break;
                    }
                }
            });
            let warm = warm.clone();
            thread::spawn(move || {
                let mut reader = reader;
                let mut lines = Vec::new();
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) => break,
                        Ok(_) => {
                            let line = String::from_utf8(buf[..buf.len() - 1].to_vec()).unwrap();
                            lines.push(line);
                            if lines.len() == 20 {
                                let _ = warm.send(());
                            }
                        }
                        Err(e) => panic!("reading: {e}"),
                    }
                }
                lines
            })
        })
        .collect();
    for _ in 0..N {
        warmed
            .recv_timeout(DEADLINE)
            .expect("every client hears some chat");
    }
    server.sigterm();
    let (status, took) = server.wait_exit();
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(10 + 10),
        "exit took {took:?} (drain timeout 10 s)"
    );

    // counts[receiver][sender]: how many of the sender's messages the receiver got.
    let mut counts = vec![vec![0usize; N]; N];
    for (me, reader) in readers.into_iter().enumerate() {
        let lines = reader.join().expect("a reader thread");
        assert_eq!(
            lines.last().map(String::as_str),
            Some("* server shutting down")
        );
        for line in &lines {
            assert!(!line.starts_with("! "), "{}: {line}", nicks[me]);
            let Some((nick, text)) = chat(line) else {
                continue;
            };
            let from = nicks
                .iter()
                .position(|n| n == nick)
                .expect("a known sender");
            assert_ne!(from, me, "an echo: {line}");
            assert_eq!(text, format!("n {}", counts[me][from]), "order from {nick}");
            counts[me][from] += 1;
        }
    }
    // Whatever the room accepted from a sender reached every other live reader: equal counts.
    let by_sender: HashMap<usize, Vec<usize>> = (0..N)
        .map(|from| {
            (
                from,
                (0..N)
                    .filter(|&r| r != from)
                    .map(|r| counts[r][from])
                    .collect(),
            )
        })
        .collect();
    for (from, got) in &by_sender {
        assert!(
            got.windows(2).all(|w| w[0] == w[1]),
            "{}: {got:?}",
            nicks[*from]
        );
    }
    assert!(by_sender.values().any(|got| got[0] > 0));
}
