//! The room: who is connected, under which nick, and the fan-out of every message.
//!
//! A mutex-protected map rather than a room actor or a striped registry. Fan-out under the lock
//! only calls `try_push`, which never blocks, so the lock is held for O(members) cheap steps and
//! no client can stall it. Holding one lock across the whole fan-out also gives every receiver
//! the *same* interleaving of senders, and it orders each message against joins, leaves, renames
//! and the shutdown notice for free. An actor (one thread owning the map, fed by a queue) would
//! give the same order at the cost of a hop and a second queue to bound; stripes would lose the
//! common order and buy nothing at a few hundred members.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use log::warn;
use parking_lot::Mutex;
use threadsmith::bounded::{BoundedQueue, TryPushError};
use threadsmith::cache::TtlCache;

use crate::config::Config;
use crate::history::History;
use crate::metrics::Metrics;

pub type ClientId = u64;

/// Why a connection is being torn down from outside its reader thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Its outbound queue was full: a slow consumer.
    TooSlow = 1,
    /// A socket write failed or made no progress for the write timeout.
    Broken = 2,
}

/// What the room, the client's reader and its writer share.
pub struct Conn {
    pub id: ClientId,
    /// Lines for this client's writer thread. Bounded: a client that does not read fills it and
    /// is then disconnected, instead of growing memory or blocking whoever sends to it.
    pub outbox: BoundedQueue<Arc<str>>,
    /// 0, or the `Kick` that ended it.
    kicked: AtomicU8,
}

impl Conn {
    pub fn new(id: ClientId, capacity: usize) -> Self {
        Conn {
            id,
            outbox: BoundedQueue::new(capacity),
            kicked: AtomicU8::new(0),
        }
    }

    /// Marks the connection for teardown; true for the first caller only. Closing the outbox
    /// stops further deliveries at once; the reader notices the mark on its next read tick.
    pub fn kick(&self, why: Kick) -> bool {
        // Relaxed: the flag carries no data; the queue's close is what others synchronise on.
        let first = self
            .kicked
            .compare_exchange(0, why as u8, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if first {
            self.outbox.close();
        }
        first
    }

    pub fn kicked(&self) -> Option<Kick> {
        match self.kicked.load(Ordering::Relaxed) {
            1 => Some(Kick::TooSlow),
            2 => Some(Kick::Broken),
            _ => None,
        }
    }
}

struct Member {
    nick: String,
    conn: Arc<Conn>,
}

struct Members {
    by_id: HashMap<ClientId, Member>,
    /// Set by `close`: no joins, no messages, every outbox closed.
    closed: bool,
}

#[derive(Debug)]
pub enum JoinError {
    Full,
    Closed,
}

#[derive(Debug)]
pub enum NickError {
    Invalid(&'static str),
    Taken,
    Closed,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Depths {
    pub sum: usize,
    pub max: usize,
}

pub struct Room {
    members: Mutex<Members>,
    /// `Members::closed`, readable without the lock by every reader on every line.
    closed: AtomicBool,
    /// Nicks released by a leave or a rename, reserved for `--nick-grace` so nobody takes over
    /// a name the moment its owner drops. Capacity-bounded: a rename storm cannot grow it.
    held_nicks: TtlCache<String, ()>,
    max_clients: usize,
    metrics: Arc<Metrics>,
    history: Arc<History>,
}

impl Room {
    pub fn new(config: &Config, metrics: Arc<Metrics>, history: Arc<History>) -> Self {
        Room {
            members: Mutex::new(Members {
                by_id: HashMap::new(),
                closed: false,
            }),
            closed: AtomicBool::new(false),
            held_nicks: TtlCache::builder()
                .default_ttl(config.nick_grace)
                .capacity(10_000)
                .build(),
            max_clients: config.max_clients,
            metrics,
            history,
        }
    }

    /// Adds a client as `guest-ID`, queues its welcome and tells the others.
    pub fn join(&self, conn: Arc<Conn>) -> Result<String, JoinError> {
        let mut members = self.members.lock();
        if members.closed {
            return Err(JoinError::Closed);
        }
        if members.by_id.len() >= self.max_clients {
            return Err(JoinError::Full);
        }
        let nick = format!("guest-{}", conn.id);
        // The queue is empty and nobody else can reach it yet: this push cannot fail.
        let _ = conn.outbox.try_push(Arc::from(format!(
            "* you are {nick}; commands: /nick NAME, /who, /history [N], /quit"
        )));
        let id = conn.id;
        members.by_id.insert(
            id,
            Member {
                nick: nick.clone(),
                conn,
            },
        );
        self.fan_out(&members, id, Arc::from(format!("* {nick} joined")));
        Ok(nick)
    }

    // ANCHOR: say
    /// Broadcasts `NICK: text` to every member but the sender. False if the sender is no longer
    /// a member (kicked, leaving) or the room is closed: the message was not accepted.
    pub fn say(&self, from: ClientId, text: &str) -> bool {
        let members = self.members.lock();
        if members.closed {
            return false;
        }
        let Some(sender) = members.by_id.get(&from) else {
            return false;
        };
        // One allocation per message, shared by every queue: fan-out copies a pointer.
        let line: Arc<str> = Arc::from(format!("{}: {text}", sender.nick));
        // Under the lock, so the history's order is the order everyone saw.
        self.history.record(&sender.nick, text);
        Metrics::inc(&self.metrics.messages_in);
        self.fan_out(&members, from, line);
        true
    }

    /// `try_push` to everyone but `from`. Never blocks: a full queue is a slow consumer, and
    /// it is disconnected rather than allowed to stall the room.
    fn fan_out(&self, members: &Members, from: ClientId, line: Arc<str>) {
        for (id, member) in &members.by_id {
            if *id == from {
                continue; // never echo to the sender
            }
            match member.conn.outbox.try_push(Arc::clone(&line)) {
                Ok(()) => Metrics::inc(&self.metrics.deliveries),
                Err(TryPushError::Full(_)) => {
                    if member.conn.kick(Kick::TooSlow) {
                        Metrics::inc(&self.metrics.slow_consumers);
                        warn!("{} is too slow (queue full): disconnecting", member.nick);
                    }
                }
                // Already leaving: its writer is flushing what it had.
                Err(TryPushError::Closed(_)) => {}
            }
        }
    }
    // ANCHOR_END: say

    /// Renames a member; returns the old nick. Unique ignoring ASCII case, among members and
    /// among recently released nicks; checked and taken under one lock.
    pub fn rename(&self, id: ClientId, new: &str) -> Result<String, NickError> {
        validate_nick(new).map_err(NickError::Invalid)?;
        let mut members = self.members.lock();
        if members.closed {
            return Err(NickError::Closed);
        }
        let taken = members
            .by_id
            .iter()
            .any(|(other, m)| *other != id && m.nick.eq_ignore_ascii_case(new));
        if taken || self.held_nicks.get(&new.to_ascii_lowercase()).is_some() {
            return Err(NickError::Taken);
        }
        let Some(member) = members.by_id.get_mut(&id) else {
            return Err(NickError::Closed);
        };
        let old = std::mem::replace(&mut member.nick, new.to_string());
        self.hold(&old);
        self.fan_out(&members, id, Arc::from(format!("* {old} is now {new}")));
        Ok(old)
    }

    /// Removes a member and tells the others; returns its nick if it was still a member.
    pub fn leave(&self, id: ClientId) -> Option<String> {
        let mut members = self.members.lock();
        let member = members.by_id.remove(&id)?;
        self.hold(&member.nick);
        if !members.closed {
            self.fan_out(&members, id, Arc::from(format!("* {} left", member.nick)));
        }
        Some(member.nick)
    }

    fn hold(&self, nick: &str) {
        // Guest nicks carry a never-reused id: nothing to reserve.
        if !nick.starts_with("guest-") {
            self.held_nicks.insert(nick.to_ascii_lowercase(), ());
        }
    }

    /// Every connected nick, sorted.
    pub fn who(&self) -> Vec<String> {
        let mut nicks: Vec<String> = self
            .members
            .lock()
            .by_id
            .values()
            .map(|m| m.nick.clone())
            .collect();
        nicks.sort_unstable_by_key(|n| n.to_ascii_lowercase());
        nicks
    }

    // ANCHOR: close
    /// Starts the drain: no more joins or messages, and every outbox is closed so each writer
    /// flushes what was accepted, then adds `* server shutting down` and ends.
    pub fn close(&self) -> usize {
        let mut members = self.members.lock();
        members.closed = true;
        // Release, before any outbox closes: a writer that sees its queue closed (Acquire inside
        // the queue) then sees the room closed, and ends with the shutdown notice.
        self.closed.store(true, Ordering::Release);
        for member in members.by_id.values() {
            member.conn.outbox.close();
        }
        members.by_id.len()
    }
    // ANCHOR_END: close

    pub fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release store in `close`.
        self.closed.load(Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.members.lock().by_id.len()
    }

    pub fn queue_depths(&self) -> Depths {
        let members = self.members.lock();
        members.by_id.values().fold(Depths::default(), |d, m| {
            let len = m.conn.outbox.len();
            Depths {
                sum: d.sum + len,
                max: d.max.max(len),
            }
        })
    }
}

/// 1–24 ASCII letters, digits, `_` or `-`, starting with a letter; `guest-…` is reserved.
/// The charset is also what keeps chat lines unambiguous: a nick never contains `: ` and
/// never starts with `*` or `!`.
pub fn validate_nick(nick: &str) -> Result<(), &'static str> {
    if nick.is_empty() || nick.len() > 24 {
        return Err("a nick is 1 to 24 characters");
    }
    if !nick.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("a nick starts with a letter");
    }
    if !nick
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err("a nick uses letters, digits, _ and - only");
    }
    if nick.to_ascii_lowercase().starts_with("guest-") {
        return Err("guest-… nicks are given by the server");
    }
    Ok(())
}
