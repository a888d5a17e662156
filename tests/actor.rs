//! `actor`: one message at a time in per-sender order, backpressure and overflow at the
//! mailbox, and a panicking handler that fails its askers instead of leaving them waiting.
#![cfg(not(loom))] // real threads: not a loom model

use threadsmith::actor::{self, ActorGone, Answer, Reply};

#[test]
fn each_senders_messages_are_handled_in_send_order() {
    let (addr, handle) = actor::spawn(4, Vec::new(), |log: &mut Vec<(usize, u32)>, m| log.push(m));
    std::thread::scope(|s| {
        for sender in 0..4 {
            let addr = addr.clone();
            s.spawn(move || {
                for n in 0..2_000 {
                    addr.send((sender, n)).unwrap();
                }
            });
        }
    });
    drop(addr);
    let log = handle.join().unwrap();
    assert_eq!(log.len(), 8_000, "every message handled once");
    for sender in 0..4 {
        let mine: Vec<u32> = log.iter().filter(|m| m.0 == sender).map(|m| m.1).collect();
        assert_eq!(mine, (0..2_000).collect::<Vec<_>>(), "sender {sender}");
    }
}

#[test]
fn an_ask_sees_the_askers_earlier_tells() {
    let (addr, _handle) =
        actor::spawn(
            2,
            0u64,
            |sum: &mut u64, msg: Result<u64, Reply<u64>>| match msg {
                Ok(n) => *sum += n,
                Err(reply) => reply.send(*sum),
            },
        );
    for round in 1..=500u64 {
        addr.send(Ok(1)).unwrap();
        assert_eq!(addr.ask(Err), Ok(round));
    }
}

#[test]
fn the_last_address_dropped_stops_the_actor_with_its_state() {
    let (addr, handle) = actor::spawn(8, 0u32, |count: &mut u32, ()| *count += 1);
    let other = addr.clone();
    addr.send(()).unwrap();
    drop(addr);
    other.send(()).unwrap(); // a clone still reaches it
    drop(other);
    assert_eq!(handle.join().unwrap(), 2);
}

#[test]
fn a_full_mailbox_refuses_try_send_and_hands_the_message_back() {
    let (addr, handle) = actor::spawn(1, (), |_: &mut (), gate: Answer<()>| {
        let _ = gate.wait();
    });
    let (held, open_held) = Reply::pair();
    let (queued, open_queued) = Reply::pair();
    addr.send(held).unwrap();
    addr.send(queued).unwrap(); // room only once the actor took `held`
    let (extra, _open_extra) = Reply::pair();
    let refused = addr.try_send(extra).unwrap_err();
    assert!(refused.is_full());
    assert_eq!(addr.queued(), 1);
    open_held.send(());
    open_queued.send(());
    drop(addr);
    handle.join().unwrap();
}

#[test]
fn a_panicking_handler_fails_its_askers_and_closes_the_mailbox() {
    let (addr, handle) = actor::spawn(4, (), |_: &mut (), reply: Reply<u8>| {
        let _doomed = reply; // dropped unanswered by the unwind
        panic!("handler bug");
    });
    assert_eq!(addr.ask(|reply| reply), Err(ActorGone));
    let panic = handle.join().unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"handler bug"));
    assert!(
        addr.send(Reply::pair().1).is_err(),
        "no one is left to handle it"
    );
    assert_eq!(addr.ask(|reply| reply), Err(ActorGone));
}

#[test]
fn a_reply_dropped_unanswered_is_actor_gone_not_a_hang() {
    let (addr, _handle) = actor::spawn(4, (), |_: &mut (), reply: Reply<u8>| drop(reply));
    assert_eq!(addr.ask(|reply| reply), Err(ActorGone));
    let (answer, reply) = Reply::pair();
    reply.send(7u8);
    assert_eq!(answer.wait(), Ok(7));
}
