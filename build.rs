//! Prepares the book's chapters for `cargo test --doc`.
//!
//! The chapters in `book/src` are compiled as doctests (see `mod book` in `src/lib.rs`), but
//! rustdoc does not understand mdBook's `{{#include file:anchor}}`. This script writes a copy of
//! each chapter to `$OUT_DIR/book/` in which:
//!
//! - a Rust block made only of `{{#include}}` lines becomes a `text` block. What it shows is
//!   real source from `src/`, `tests/`, `examples/` or `benches/`, which `cargo test` already
//!   compiles as part of its own target (`.ci/check_book.py` checks that every include points
//!   there and names an anchor that exists);
//! - in every other block, each `{{#include}}` is replaced by the lines it names, as mdBook
//!   does, so a starter that mixes included types with code of its own compiles as one doctest.
//!
//! Nothing here runs for a crate that depends on threadsmith: without `book/` it writes nothing.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let book = root.join("book").join("src");
    println!("cargo:rerun-if-changed=build.rs");
    if !book.is_dir() {
        return;
    }
    println!("cargo:rerun-if-changed={}", book.display());
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("book");
    fs::create_dir_all(&out).expect("creating $OUT_DIR/book");
    let mut chapters: Vec<PathBuf> = fs::read_dir(&book)
        .expect("reading book/src")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    chapters.sort();
    for chapter in chapters {
        println!("cargo:rerun-if-changed={}", chapter.display());
        let text = fs::read_to_string(&chapter).expect("reading a chapter");
        let doctest_view = prepare(&text, chapter.parent().expect("a chapter has a folder"));
        fs::write(out.join(chapter.file_name().expect("a file")), doctest_view)
            .expect("writing a chapter's doctest view");
    }
}

/// The chapter as rustdoc should see it.
fn prepare(text: &str, dir: &Path) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(info) = line.trim_start().strip_prefix("```") else {
            push_expanded(&mut out, line, dir);
            i += 1;
            continue;
        };
        // A fenced block: find its end, then decide how rustdoc sees it.
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim_start().starts_with("```"))
            .unwrap_or(lines.len());
        let body = &lines[i + 1..end];
        let content: Vec<&&str> = body.iter().filter(|l| !l.trim().is_empty()).collect();
        let only_includes =
            !content.is_empty() && content.iter().all(|l| include_directive(l).is_some());
        if info.starts_with("rust") && only_includes {
            out.push_str("```text\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
        for body_line in body {
            push_expanded(&mut out, body_line, dir);
        }
        if end < lines.len() {
            out.push_str(lines[end]);
            out.push('\n');
        }
        i = end + 1;
    }
    out
}

/// `{{#include path}}` or `{{#include path:anchor}}` on a line of its own: (path, anchor).
fn include_directive(line: &str) -> Option<(&str, Option<&str>)> {
    let inner = line
        .trim()
        .strip_prefix("{{#include ")
        .or_else(|| line.trim().strip_prefix("{{#rustdoc_include "))?
        .strip_suffix("}}")?
        .trim();
    Some(match inner.split_once(':') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (inner, None),
    })
}

/// Appends `line`, or what it includes.
fn push_expanded(out: &mut String, line: &str, dir: &Path) {
    let Some((path, anchor)) = include_directive(line) else {
        out.push_str(line);
        out.push('\n');
        return;
    };
    let file = dir.join(path);
    println!("cargo:rerun-if-changed={}", file.display());
    // A missing file or anchor is left for `.ci/check_book.py` to name; here it includes nothing.
    let source = fs::read_to_string(&file).unwrap_or_default();
    let mut inside = anchor.is_none();
    for source_line in source.lines() {
        if let Some(name) = anchor {
            if marker(source_line, "ANCHOR_END:") == Some(name) {
                inside = false;
                continue;
            }
            if marker(source_line, "ANCHOR:") == Some(name) {
                inside = true;
                continue;
            }
        }
        // mdBook drops every anchor line inside an included region, whatever its name.
        if inside && marker(source_line, "ANCHOR").is_none() {
            out.push_str(source_line);
            out.push('\n');
        }
    }
}

/// The name after `// ANCHOR: name` or `// ANCHOR_END: name` (`tag` is matched as a prefix).
fn marker<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let rest = line.trim().strip_prefix("//")?.trim();
    let after = rest.strip_prefix(tag)?;
    Some(after.trim_start_matches([':', '_', 'E', 'N', 'D']).trim())
}
