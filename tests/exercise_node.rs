//! The book's exercise for "A node that handles messages concurrently (T2)": add a `generate`
//! workload to the node (`examples/node/main.rs`) that answers every request with an id unique
//! across the whole cluster, without any coordination. The reference answer is in the
//! example; the chapter `book/src/node.md` shows where yours goes.
//!
//! Check your own version with `cargo test --test exercise_node`.
#![cfg(not(loom))] // real processes: not a loom model

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Runs one node (`node_id`) over `count` generate requests; returns the ids it handed out.
fn ids_from(binary: &PathBuf, node_id: &str, count: usize) -> Vec<String> {
    let mut child = Command::new(binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the node");
    let mut stdin = child.stdin.take().unwrap();
    let init = json!({"src":"c0","dest":node_id,"body":{"type":"init","msg_id":1,"node_id":node_id,"node_ids":["n1","n2"]}});
    writeln!(stdin, "{init}").unwrap();
    for i in 0..count {
        let request = json!({"src":"c1","dest":node_id,"body":{"type":"generate","msg_id":i + 2}});
        writeln!(stdin, "{request}").unwrap();
    }
    drop(stdin);
    let replies: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    let ids: Vec<String> = replies
        .iter()
        .filter(|r| r["body"]["type"] == "generate_ok")
        .map(|r| r["body"]["id"].to_string())
        .collect();
    assert_eq!(
        ids.len(),
        count,
        "every generate is answered with generate_ok"
    );
    ids
}

#[test]
fn generated_ids_are_unique_across_nodes() {
    let binary = common::example_binary("node");
    let mut all = HashSet::new();
    for node_id in ["n1", "n2"] {
        for id in ids_from(&binary, node_id, 500) {
            assert!(all.insert(id.clone()), "id {id} handed out twice");
        }
    }
    assert_eq!(all.len(), 1000);
}
