//! The node's core, separate from any workload: read JSON lines, give each request the reply
//! `msg_id` it will carry (in read order), dispatch it to its handler, and write every reply as
//! one whole line. A workload is a few lines on top: a request type, a reply type and a
//! closure (see `main.rs`).

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use threadsmith::scheduler::{Priority, Scheduler};

/// One protocol message: `{"src", "dest", "body"}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Message<B> {
    pub src: String,
    pub dest: String,
    pub body: B,
}

/// A reply body: the protocol's ids around a payload whose `type` tag names the reply.
#[derive(Debug, Serialize)]
struct ReplyBody<'a, P> {
    msg_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_reply_to: Option<u64>,
    #[serde(flatten)]
    payload: &'a P,
}

/// The protocol's error reply (Maelstrom's codes: 10 not supported, 12 malformed request).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename = "error")]
pub struct ErrorReply {
    pub code: u32,
    pub text: String,
}

/// What every handler and reply shares: the node's id, the reply-id counter, the output, and
/// the scheduler that runs concurrent handlers.
pub struct Core {
    node_id: OnceLock<String>,
    next_msg_id: AtomicU64,
    out: Mutex<Box<dyn Write + Send>>,
    scheduler: Scheduler,
}

impl Core {
    /// The scheduler concurrent handlers run on.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// This node's id, once `init` has been read.
    pub fn node_id(&self) -> Option<&str> {
        self.node_id.get().map(String::as_str)
    }

    // ANCHOR: write
    /// Writes one message as one line. The lock makes the line whole: two replies finishing
    /// at once never interleave their bytes.
    fn write<B: Serialize>(&self, message: &Message<B>) {
        let mut line = match serde_json::to_vec(message) {
            Ok(line) => line,
            Err(e) => return eprintln!("node: cannot encode a reply: {e}"),
        };
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
            eprintln!("node: cannot write a reply: {e}");
        }
    }
    // ANCHOR_END: write
}

// ANCHOR: reply
/// The right to answer one request, with the `msg_id` fixed when the request was read.
/// Sending consumes it, so a request is answered at most once.
pub struct Reply {
    core: Arc<Core>,
    dest: String,
    /// The node's id as the request addressed it (used until `init` names the node).
    src: String,
    in_reply_to: Option<u64>,
    msg_id: u64,
}

impl Reply {
    /// Sends `payload` (a struct tagged with its `type`) as the reply.
    pub fn send<P: Serialize>(self, payload: P) {
        let src = self.core.node_id().unwrap_or(&self.src).to_owned();
        self.core.write(&Message {
            src,
            dest: self.dest,
            body: ReplyBody {
                msg_id: self.msg_id,
                in_reply_to: self.in_reply_to,
                payload: &payload,
            },
        });
    }
}
// ANCHOR_END: reply

type Handler = Box<dyn Fn(&Arc<Core>, Value, Reply) + Send + Sync>;
type EofHook = Box<dyn FnOnce(&Arc<Core>)>;

/// A node: handlers by request `type`, and the read loop.
pub struct Node {
    core: Arc<Core>,
    handlers: HashMap<String, Handler>,
    on_eof: Vec<EofHook>,
}

/// The reply to `init`.
#[derive(Serialize)]
#[serde(tag = "type", rename = "init_ok")]
struct InitOk {}

#[derive(Deserialize)]
struct Init {
    node_id: String,
}

impl Node {
    /// A node writing to `out`, with `workers` threads for concurrent handlers.
    pub fn new(out: impl Write + Send + 'static, workers: usize) -> Self {
        let scheduler = Scheduler::builder().workers(workers).build();
        let core = Arc::new(Core {
            node_id: OnceLock::new(),
            next_msg_id: AtomicU64::new(0),
            out: Mutex::new(Box::new(out)),
            scheduler,
        });
        let mut node = Node {
            core,
            handlers: HashMap::new(),
            on_eof: Vec::new(),
        };
        node.inline("init", |core, init: Init, reply| {
            let _ = core.node_id.set(init.node_id);
            reply.send(InitOk {});
        });
        node
    }

    // ANCHOR: handlers
    /// Registers a handler that runs on the scheduler, concurrently with the reader and with
    /// other requests: `f` turns the request into its reply.
    pub fn concurrent<Req, Resp>(
        &mut self,
        kind: &str,
        f: impl Fn(&Core, Req) -> Resp + Send + Sync + 'static,
    ) where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + 'static,
    {
        let f = Arc::new(f);
        self.inline(kind, move |core, request: Req, reply| {
            let (f, task_core) = (Arc::clone(&f), Arc::clone(core));
            let task = move || reply.send(f(&task_core, request));
            if let Err(rejected) = core.scheduler().enqueue(Priority::Normal, task) {
                eprintln!("node: a request was refused: {rejected}");
            }
        });
    }

    /// Registers a handler that runs on the reader thread, in read order: for requests whose
    /// effect must be in place before the next line is read (control messages), and for
    /// handlers that schedule their own work.
    pub fn inline<Req>(
        &mut self,
        kind: &str,
        f: impl Fn(&Arc<Core>, Req, Reply) + Send + Sync + 'static,
    ) where
        Req: DeserializeOwned,
    {
        let handler =
            move |core: &Arc<Core>, body: Value, reply: Reply| match serde_json::from_value::<Req>(
                body,
            ) {
                Ok(request) => f(core, request, reply),
                Err(e) => reply.send(ErrorReply {
                    code: 12,
                    text: format!("malformed request: {e}"),
                }),
            };
        self.handlers.insert(kind.to_owned(), Box::new(handler));
    }
    // ANCHOR_END: handlers

    /// Runs `f` once input ends, before the node waits for its scheduler (in registration
    /// order).
    pub fn on_eof(&mut self, f: impl FnOnce(&Arc<Core>) + 'static) {
        self.on_eof.push(Box::new(f));
    }

    // ANCHOR: run
    /// Reads requests until end of input, then waits (up to `drain_timeout`) for the
    /// scheduled handlers, so that every accepted request is answered.
    pub fn run(mut self, input: impl BufRead, drain_timeout: Duration) -> io::Result<()> {
        for line in input.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let message: Message<Value> = match serde_json::from_str(&line) {
                Ok(message) => message,
                Err(e) => {
                    eprintln!("node: skipping a line that is not a message ({e}): {line}");
                    continue;
                }
            };
            let Some(kind) = message.body.get("type").and_then(Value::as_str) else {
                eprintln!("node: skipping a message without body.type: {line}");
                continue;
            };
            let kind = kind.to_owned();
            // The reply's msg_id is taken now, in read order, whenever the reply is sent.
            let reply = Reply {
                core: Arc::clone(&self.core),
                dest: message.src,
                src: message.dest,
                in_reply_to: message.body.get("msg_id").and_then(Value::as_u64),
                msg_id: self.core.next_msg_id.fetch_add(1, Ordering::Relaxed),
            };
            match self.handlers.get(&kind) {
                Some(handler) => handler(&self.core, message.body, reply),
                None => reply.send(ErrorReply {
                    code: 10,
                    text: format!("unsupported: {kind}"),
                }),
            }
        }
        for f in std::mem::take(&mut self.on_eof) {
            f(&self.core);
        }
        let report = self.core.scheduler().shutdown(drain_timeout);
        if report.abandoned > 0 {
            eprintln!(
                "node: {} requests abandoned at the drain timeout",
                report.abandoned
            );
        }
        Ok(())
    }
    // ANCHOR_END: run
}
