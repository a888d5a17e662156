//! Smoke tests for the measuring examples of the Q1 and Q6 chapters: each runs with small
//! arguments and prints every row of its table. No timing is asserted (the machine is shared
//! and noisy); the examples check their own answers (`assert_eq!` on the prime counts and the
//! replies' checksums) and exit non-zero when a check fails.
#![cfg(not(loom))] // runs processes: not a loom model

mod common;

use std::process::Command;

fn run(example: &str, args: &[&str]) -> String {
    let output = Command::new(common::example_binary(example))
        .args(args)
        .output()
        .expect("run the example");
    assert!(
        output.status.success(),
        "{example} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn concurrency_vs_parallelism_prints_every_row() {
    // Primes below 20,000; 50 requests of 1 ms.
    let out = run("concurrency_vs_parallelism", &["20000", "50", "1"]);
    for row in [
        "available_parallelism",
        "\n1 ",
        "\n2 ",
        "\n4 ",
        "one global lock (GIL-style)",
        "sequential (blocking waits)",
        "event loop (overlapping waits)",
    ] {
        assert!(out.contains(row), "no {row:?} in:\n{out}");
    }
}

#[test]
fn threads_vs_tasks_prints_every_row() {
    let out = run("threads_vs_tasks", &["200"]);
    for row in [
        "200 of each",
        "OS threads (default 2 MiB stack)",
        "OS threads (64 KiB stack)",
        "tokio tasks",
        "OS threads, std mpsc",
        "tokio tasks, tokio mpsc",
    ] {
        assert!(out.contains(row), "no {row:?} in:\n{out}");
    }
}
