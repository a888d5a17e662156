//! The JSON-lines node (`examples/node/`), run as a child process: the sample cases of the
//! protocol, interleavings with a shutdown, the drain's status over time, the drain timeout,
//! bad input, 1,000 concurrent echoes, and handlers that really run concurrently.
#![cfg(not(loom))] // real processes: not a loom model

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The example's binary, built once per test run (see `common::example_binary`).
fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| common::example_binary("node"))
}

/// A running node: write lines to it, read its replies (parsed) as they come.
struct NodeProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<Value>,
    reader: thread::JoinHandle<()>,
}

impl NodeProcess {
    fn start() -> Self {
        let mut child = Command::new(binary())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the node");
        let stdout = child.stdout.take().unwrap();
        let (tx, replies) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.expect("reading the node's stdout");
                let value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("the node wrote a line that is not JSON ({e}): {line}")
                });
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        NodeProcess {
            child,
            stdin,
            replies,
            reader,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("writing to the node");
        stdin.flush().unwrap();
    }

    fn send_body(&mut self, src: &str, body: Value) {
        self.send(&json!({"src": src, "dest": "n1", "body": body}).to_string());
    }

    fn init(&mut self) {
        self.send_body(
            "c0",
            json!({"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}),
        );
    }

    /// The next reply, or a failure after 10 s (a generous bound: a hang fails, never a pass).
    fn next(&self) -> Value {
        self.replies
            .recv_timeout(Duration::from_secs(10))
            .expect("a reply within 10 s")
    }

    /// Closes stdin, collects every remaining reply, and checks the node exits 0.
    fn finish(mut self) -> Vec<Value> {
        drop(self.stdin.take());
        let status = self.child.wait().expect("the node exits");
        assert!(status.success(), "exit status {status}");
        // The reader thread ends at the end of stdout: only then has every line been parsed.
        self.reader.join().expect("the stdout reader");
        self.replies.try_iter().collect()
    }
}

/// Runs a whole session: the input lines, then end of input; returns every reply.
fn session(lines: &[&str]) -> Vec<Value> {
    let mut node = NodeProcess::start();
    for line in lines {
        node.send(line);
    }
    node.finish()
}

/// The replies as a set of canonical JSON strings (serde_json sorts object keys).
fn as_set(values: &[Value]) -> HashSet<String> {
    values.iter().map(Value::to_string).collect()
}

/// Runs a session and checks its replies, as a set, against `output`.
fn assert_session(input: &[&str], output: &[&str]) {
    assert_eq!(as_set(&session(input)), expected(output));
}

fn expected(lines: &[&str]) -> HashSet<String> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string())
        .collect()
}

#[test]
fn sample_echo_three_concurrent_requests() {
    assert_session(
        &[
            r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":2,"echo":"test1"}}"#,
            r#"{"src":"c2","dest":"n1","body":{"type":"echo","msg_id":3,"echo":"test2"}}"#,
            r#"{"src":"c3","dest":"n1","body":{"type":"echo","msg_id":4,"echo":"test3"}}"#,
        ],
        &[
            r#"{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}"#,
            r#"{"src": "n1", "dest": "c1", "body": {"type": "echo_ok", "echo": "test1", "in_reply_to": 2, "msg_id": 1}}"#,
            r#"{"src": "n1", "dest": "c2", "body": {"type": "echo_ok", "echo": "test2", "in_reply_to": 3, "msg_id": 2}}"#,
            r#"{"src": "n1", "dest": "c3", "body": {"type": "echo_ok", "echo": "test3", "in_reply_to": 4, "msg_id": 3}}"#,
        ],
    );
}

#[test]
fn sample_normal_request_processing() {
    assert_session(
        &[
            r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"tcp_request","msg_id":2,"data":"hello","latency_ms":0}}"#,
        ],
        &[
            r#"{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}"#,
            r#"{"src": "n1", "dest": "c1", "body": {"type": "tcp_request_ok", "in_reply_to": 2, "result": "processed", "duration_ms": 0, "msg_id": 1}}"#,
        ],
    );
}

#[test]
fn sample_shutdown_starts_the_drain() {
    assert_session(
        &[
            r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"tcp_shutdown","msg_id":2,"drain_timeout_ms":5000}}"#,
        ],
        &[
            r#"{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}"#,
            r#"{"src": "n1", "dest": "c1", "body": {"type": "tcp_shutdown_ok", "in_reply_to": 2, "status": "draining", "in_flight": 0, "msg_id": 1}}"#,
        ],
    );
}

#[test]
fn sample_draining_with_requests_in_flight() {
    let mut node = NodeProcess::start();
    node.init();
    assert_eq!(node.next()["body"]["type"], "init_ok");
    node.send_body(
        "c1",
        json!({"type":"tcp_request","msg_id":2,"data":"a","latency_ms":500}),
    );
    node.send_body(
        "c1",
        json!({"type":"tcp_request","msg_id":3,"data":"b","latency_ms":500}),
    );
    node.send_body(
        "c1",
        json!({"type":"tcp_shutdown","msg_id":4,"drain_timeout_ms":5000}),
    );
    let shutdown = node.next();
    assert_eq!(
        shutdown["body"],
        json!({"type":"tcp_shutdown_ok","in_reply_to":4,"status":"draining","in_flight":2,"msg_id":3})
    );
    node.send_body(
        "c1",
        json!({"type":"tcp_request","msg_id":5,"data":"late","latency_ms":0}),
    );
    assert_eq!(
        node.next()["body"],
        json!({"type":"tcp_request_error","in_reply_to":5,"error":"server_shutting_down","msg_id":4})
    );
    // Both requests finish (the reads wait for them; nothing sleeps here).
    let mut finished: Vec<Value> = vec![node.next(), node.next()];
    finished.sort_by_key(|v| v["body"]["in_reply_to"].as_u64());
    assert_eq!(
        finished[0]["body"],
        json!({"type":"tcp_request_ok","in_reply_to":2,"result":"processed","duration_ms":500,"msg_id":1})
    );
    assert_eq!(finished[1]["body"]["msg_id"], 2);
    node.send_body("c1", json!({"type":"tcp_drain_status","msg_id":6}));
    let status = node.next()["body"].clone();
    assert_eq!(status["status"], "drained");
    assert_eq!(status["remaining"], 0);
    assert_eq!(status["msg_id"], 5);
    let took = status["took_ms"].as_u64().expect("took_ms once drained");
    assert!(took >= 490, "took_ms {took} covers the 500 ms of work");
    assert!(node.finish().is_empty(), "nothing left to say");
}

#[test]
fn drain_status_before_during_and_after() {
    let mut node = NodeProcess::start();
    node.init();
    node.next();
    node.send_body(
        "c1",
        json!({"type":"tcp_request","msg_id":2,"data":"x","latency_ms":1000}),
    );
    node.send_body("c1", json!({"type":"tcp_drain_status","msg_id":3}));
    let before = node.next()["body"].clone();
    assert_eq!(
        (before["status"].clone(), before["remaining"].clone()),
        (json!("running"), json!(1))
    );
    assert!(before.get("took_ms").is_none());
    node.send_body("c1", json!({"type":"tcp_shutdown","msg_id":4}));
    assert_eq!(node.next()["body"]["in_flight"], 1);
    node.send_body("c1", json!({"type":"tcp_drain_status","msg_id":5}));
    let during = node.next()["body"].clone();
    assert_eq!(
        (during["status"].clone(), during["remaining"].clone()),
        (json!("draining"), json!(1))
    );
    assert_eq!(node.next()["body"]["type"], "tcp_request_ok");
    node.send_body("c1", json!({"type":"tcp_drain_status","msg_id":6}));
    let after = node.next()["body"].clone();
    assert_eq!(
        (after["status"].clone(), after["remaining"].clone()),
        (json!("drained"), json!(0))
    );
    assert!(after["took_ms"].as_u64().is_some());
    node.finish();
}

#[test]
fn the_drain_timeout_answers_every_request_still_in_flight() {
    let mut node = NodeProcess::start();
    node.init();
    node.next();
    for id in 2..5 {
        node.send_body(
            "c1",
            json!({"type":"tcp_request","msg_id":id,"data":"slow","latency_ms":60_000}),
        );
    }
    node.send_body(
        "c1",
        json!({"type":"tcp_shutdown","msg_id":5,"drain_timeout_ms":100}),
    );
    assert_eq!(node.next()["body"]["in_flight"], 3);
    let mut cut: Vec<u64> = (0..3)
        .map(|_| {
            let body = node.next()["body"].clone();
            assert_eq!(body["type"], "tcp_request_error");
            assert_eq!(body["error"], "drain_timeout");
            body["in_reply_to"].as_u64().unwrap()
        })
        .collect();
    cut.sort_unstable();
    assert_eq!(cut, vec![2, 3, 4]);
    node.send_body("c1", json!({"type":"tcp_drain_status","msg_id":6}));
    let status = node.next()["body"].clone();
    assert_eq!(
        (status["status"].clone(), status["remaining"].clone()),
        (json!("timed_out"), json!(3))
    );
    // The cancelled work does not hold the exit for its 60 s.
    let start = Instant::now();
    assert!(
        node.finish().is_empty(),
        "each request was answered exactly once"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "exit waited for cancelled work"
    );
}

#[test]
fn end_of_input_waits_for_requests_in_flight() {
    let out = session(&[
        r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
        r#"{"src":"c1","dest":"n1","body":{"type":"tcp_request","msg_id":2,"data":"x","latency_ms":200}}"#,
        r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":3,"echo":[1,2]}}"#,
    ]);
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out.iter().any(|v| v["body"]["type"] == "tcp_request_ok"));
}

#[test]
fn malformed_and_unknown_messages_do_not_stop_the_node() {
    assert_session(
        &[
            "this is not json",
            r#"{"src":"c1","dest":"n1","body":{"msg_id":7}}"#,
            r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"teleport","msg_id":2}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":3}}"#,
            "",
            r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":4,"echo":"still here"}}"#,
        ],
        &[
            r#"{"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1,"msg_id":0}}"#,
            r#"{"src":"n1","dest":"c1","body":{"type":"error","code":10,"text":"unsupported: teleport","in_reply_to":2,"msg_id":1}}"#,
            r#"{"src":"n1","dest":"c1","body":{"type":"error","code":12,"text":"malformed request: missing field `echo`","in_reply_to":3,"msg_id":2}}"#,
            r#"{"src":"n1","dest":"c1","body":{"type":"echo_ok","echo":"still here","in_reply_to":4,"msg_id":3}}"#,
        ],
    );
}

#[test]
fn a_thousand_concurrent_echoes_get_distinct_ids_in_read_order() {
    let mut lines = vec![
        r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#.to_owned(),
    ];
    for i in 0..1000 {
        lines.push(
            json!({"src":"c1","dest":"n1","body":{"type":"echo","msg_id":i + 10,"echo":i}})
                .to_string(),
        );
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let out = session(&refs);
    assert_eq!(out.len(), 1001);
    let mut ids: Vec<u64> = out
        .iter()
        .map(|v| v["body"]["msg_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..1001).collect::<Vec<_>>());
    for reply in out.iter().filter(|v| v["body"]["type"] == "echo_ok") {
        let body = &reply["body"];
        // The i-th echo read (msg_id i + 10) got reply id i + 1: ids follow read order.
        assert_eq!(
            body["in_reply_to"].as_u64().unwrap() - 10 + 1,
            body["msg_id"].as_u64().unwrap()
        );
        assert_eq!(
            body["echo"].as_u64().unwrap() + 10,
            body["in_reply_to"].as_u64().unwrap()
        );
    }
}

#[test]
fn handlers_run_concurrently() {
    // The one timing check, because it is the feature: ten requests of 200 ms each finish in
    // well under the 2 s they would take one after another.
    let mut node = NodeProcess::start();
    node.init();
    node.next();
    let start = Instant::now();
    for id in 0..10 {
        node.send_body(
            "c1",
            json!({"type":"tcp_request","msg_id":id + 2,"data":"w","latency_ms":200}),
        );
    }
    for _ in 0..10 {
        assert_eq!(node.next()["body"]["type"], "tcp_request_ok");
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "ten 200 ms requests took {took:?}"
    );
    node.finish();
}
