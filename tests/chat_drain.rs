//! The graceful-shutdown chapter's demonstration (`book/src/shutdown.md`), on the real chat
//! server: before SIGTERM `/readyz` and `/livez` answer 200; after it, a connected client is
//! told `* server shutting down`, and while the drain is on `/readyz` answers 503 and `/livez`
//! still 200; the client's stream ends, and the process exits 0.
//!
//! `cargo test --test chat_drain -- --nocapture` prints the session and the server's log.
//! No sleeps: every wait is for an event, bounded by a generous deadline.
#![cfg(all(target_os = "linux", not(loom)))]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A line or an exit that does not come fails the test after this long.
const DEADLINE: Duration = Duration::from_secs(30);

struct Server {
    child: Child,
    addr: SocketAddr,
    admin: SocketAddr,
    log: std::thread::JoinHandle<String>,
}

impl Server {
    fn start(db: &common::TempDb) -> Server {
        let binary = common::example_binary("chat_server");
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
            .args(["--drain-timeout", "20", "--db"])
            .arg(db.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chat_server");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            log
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (mut addr, mut admin) = (None, None);
        while addr.is_none() || admin.is_none() {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).expect("read the banner");
            assert!(n > 0, "chat_server exited before printing its addresses");
            if let Some(rest) = line.strip_prefix("chat server listening on ") {
                addr = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            } else if let Some(rest) = line.strip_prefix("admin HTTP on http://") {
                admin = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            }
        }
        // Nothing more is printed on stdout; dropping it is safe.
        Server {
            child,
            addr: addr.unwrap(),
            admin: admin.unwrap(),
            log,
        }
    }

    /// `GET path` on the admin port: the status code and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.admin).expect("connect to the admin port");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("a response");
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, body.trim_end().to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn sigterm_fails_readiness_keeps_liveness_tells_clients_and_exits_zero() {
    let db = common::TempDb::new("chat-drain");
    let mut server = Server::start(&db);
    let probes = |server: &Server, when: &str| {
        let ready = server.get("/readyz");
        let live = server.get("/livez");
        println!(
            "{when}: /readyz {} {:?}, /livez {} {:?}",
            ready.0, ready.1, live.0, live.1
        );
        (ready.0, live.0)
    };
    assert_eq!(probes(&server, "before SIGTERM"), (200, 200));

    let client = TcpStream::connect(server.addr).expect("connect a chat client");
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut lines = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    lines.read_line(&mut line).expect("the greeting");
    println!("client: {}", line.trim_end());

    let kill = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    println!("SIGTERM sent");

    // The notice is written after `Shutdown::begin`, so from here the drain is on, and it
    // lasts until this client closes, or until the server's 2 s linger for a client that keeps
    // its end open runs out. The one timing assumption of this test: the two probes below, on
    // the loopback, take less than those 2 s (they take milliseconds).
    loop {
        line.clear();
        let n = lines.read_line(&mut line).expect("read until the notice");
        assert!(n > 0, "the stream ended before `* server shutting down`");
        println!("client: {}", line.trim_end());
        if line.trim_end() == "* server shutting down" {
            break;
        }
    }
    assert_eq!(probes(&server, "while draining"), (503, 200));

    // The server has shut its sending half: the client sees end of stream, and closes.
    line.clear();
    assert_eq!(lines.read_line(&mut line).expect("end of stream"), 0);
    println!("client: end of stream; closing");
    drop((lines, client));

    // The drain ends when this client's connection does; the drain timeout (20 s) bounds it.
    let start = Instant::now();
    let status = server.child.wait().expect("wait for the exit");
    println!(
        "exit: {status} ({:?} after the client closed)",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(0));
    let log = std::mem::replace(&mut server.log, std::thread::spawn(String::new))
        .join()
        .unwrap();
    println!("server log:\n{log}");
    assert!(log.contains("draining 1 connection(s)"), "{log}");
}
