//! The book's exercise for "The actor model (Q10)": the bank as an actor. One thread owns every
//! balance and handles requests from a `BoundedQueue` mailbox; callers ask and wait for the
//! reply. Graded by the same bank suite as the deadlock chapter's lock-based bank. The reader
//! writes `handle`, the actor's message handler, between the `solution` anchors; the chapter
//! `book/src/actors.md` shows the starter.
//!
//! Check your own version with `cargo test --test exercise_actors`.
#![cfg(not(loom))] // real threads: not a loom model

use std::time::Duration;

use threadsmith::check::conformance::Suite;

#[test]
fn my_actor_bank_conforms() {
    let report = Suite::new()
        .stall_timeout(Duration::from_secs(30))
        .check_bank(MyActorBank::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}

// ANCHOR: bank
use threadsmith::actor::{self, Addr, Reply};
use threadsmith::check::conformance::Bank;

/// What callers can ask the bank actor.
pub enum Msg {
    Transfer {
        from: usize,
        to: usize,
        amount: u64,
        reply: Reply<bool>,
    },
    Balance {
        account: usize,
        reply: Reply<u64>,
    },
    Total {
        reply: Reply<u64>,
    },
}

/// The callers' side: an address. The balances live on the actor's thread.
pub struct MyActorBank {
    addr: Addr<Msg>,
}

impl MyActorBank {
    pub fn new(accounts: usize, initial: u64) -> Self {
        // A mailbox of 64: a 65th waiting request blocks its sender (backpressure).
        let balances = vec![initial; accounts];
        let (addr, _actor) = actor::spawn(64, balances, |b: &mut Vec<u64>, msg| handle(b, msg));
        Self { addr }
    }
}

impl Bank for MyActorBank {
    fn transfer(&self, from: usize, to: usize, amount: u64) -> bool {
        let request = |reply| Msg::Transfer {
            from,
            to,
            amount,
            reply,
        };
        self.addr.ask(request).unwrap_or(false) // a stopped actor moves no money
    }

    fn balance(&self, account: usize) -> u64 {
        self.addr
            .ask(|reply| Msg::Balance { account, reply })
            .unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.addr.ask(|reply| Msg::Total { reply }).unwrap_or(0)
    }
}
// ANCHOR_END: bank

// ANCHOR: solution
/// The actor's message loop calls this once per message, one message at a time, so nothing
/// else can touch `balances` meanwhile: no lock is needed.
fn handle(balances: &mut [u64], msg: Msg) {
    match msg {
        Msg::Transfer {
            from,
            to,
            amount,
            reply,
        } => {
            let ok = balances[from] >= amount;
            if ok {
                balances[from] -= amount;
                balances[to] += amount;
            }
            reply.send(ok);
        }
        Msg::Balance { account, reply } => reply.send(balances[account]),
        Msg::Total { reply } => reply.send(balances.iter().sum()),
    }
}
// ANCHOR_END: solution
