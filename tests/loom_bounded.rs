//! Loom models of the bounded queue: the ring-slot protocol, blocking without lost wake-ups,
//! and `close` racing with blocked and in-flight operations. Run with `RUSTFLAGS="--cfg loom"`
//! (see `.ci/run`). Each model's main thread only spawns and joins; the tests assert the set
//! of outcomes. A lost wake-up leaves a thread asleep forever, which loom reports as a deadlock:
//! the mutant must trip that.
#![cfg(loom)]

use std::collections::BTreeSet;

use threadsmith::bounded::{BoundedQueue, Closed, TryPopError, TryPushError};
use threadsmith::check::mutants::LostWakeupQueue;
use threadsmith::sync::{model_outcomes, run_ignored_test_in_child, thread, Arc};

/// The value handed back by a refused push, which must be refused for being full.
fn full_value(e: TryPushError<u8>) -> u8 {
    assert!(e.is_full(), "refused for being closed: {e:?}");
    e.into_inner()
}

fn drain(queue: &BoundedQueue<u8>) -> Vec<u8> {
    std::iter::from_fn(|| queue.try_pop().ok()).collect()
}

/// The ring-slot protocol with 2 producers and 1 consumer: the consumer's two `try_pop`s see
/// a prefix of one of the two orders in which the producers claimed their slots, and nothing
/// is lost. (Capacity 2: with capacity 1 a producer and the consumer can both spin on a third
/// thread that claimed a slot, and loom can alternate the two spinners forever; the full-ring
/// paths get their own two-thread models below.)
#[test]
fn loom_ring_with_two_producers_and_a_consumer() {
    let seen = model_outcomes(|| {
        let queue = Arc::new(BoundedQueue::new(2));
        let producers: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|v| {
                let q = queue.clone();
                thread::spawn(move || q.try_push(v))
            })
            .collect();
        let consumer = {
            let q = queue.clone();
            thread::spawn(move || [q.try_pop().ok(), q.try_pop().ok()])
        };
        for p in producers {
            p.join().unwrap().unwrap();
        }
        let popped: Vec<u8> = consumer.join().unwrap().into_iter().flatten().collect();
        let rest = drain(&queue);
        let mut all = [popped.clone(), rest.clone()].concat();
        assert!(
            all == [1, 2] || all == [2, 1],
            "popped {popped:?}, left {rest:?}"
        );
        all.sort_unstable();
        popped
    });
    let expected: BTreeSet<Vec<u8>> = [vec![], vec![1], vec![2], vec![1, 2], vec![2, 1]].into();
    assert_eq!(seen, expected);
}

/// Two producers race for the one slot of a capacity-1 ring: exactly one is refused, and gets
/// its value back.
#[test]
fn loom_full_ring_refuses_exactly_one_of_two_pushes() {
    let seen = model_outcomes(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        let producers: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|v| {
                let q = queue.clone();
                thread::spawn(move || q.try_push(v).map_err(full_value))
            })
            .collect();
        let results: Vec<_> = producers.into_iter().map(|p| p.join().unwrap()).collect();
        let left = drain(&queue);
        (results, left)
    });
    let expected = [
        (vec![Ok(()), Err(2)], vec![1]),
        (vec![Err(1), Ok(())], vec![2]),
    ]
    .into();
    assert_eq!(seen, expected);
}

/// A push on a full ring races the pop that empties it: the pop always gets the old value, and
/// the push is refused only if it looked before the pop claimed the slot.
#[test]
fn loom_push_on_a_full_ring_races_a_pop() {
    let seen = model_outcomes(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.try_push(0u8).unwrap();
        let producer = {
            let q = queue.clone();
            thread::spawn(move || q.try_push(1).is_ok())
        };
        let consumer = {
            let q = queue.clone();
            thread::spawn(move || q.try_pop())
        };
        let pushed = producer.join().unwrap();
        assert_eq!(consumer.join().unwrap(), Ok(0));
        let left = drain(&queue);
        assert_eq!(left, if pushed { vec![1] } else { vec![] });
        pushed
    });
    assert_eq!(seen, [false, true].into());
}

/// What the pop-against-push model needs: the real queue and the lost-wake-up mutant.
trait Blocking: Send + Sync + 'static {
    fn create() -> Self;
    fn push(&self, v: u8) -> Result<(), Closed<u8>>;
    fn pop(&self) -> Option<u8>;
}

macro_rules! blocking {
    ($($ty:ty),+) => {$(
        impl Blocking for $ty {
            fn create() -> Self { <$ty>::new(1) }
            fn push(&self, v: u8) -> Result<(), Closed<u8>> { <$ty>::push(self, v) }
            fn pop(&self) -> Option<u8> { <$ty>::pop(self) }
        }
    )+};
}
blocking!(BoundedQueue<u8>, LostWakeupQueue<u8>);

/// A blocking pop and a push on a capacity-1 queue: what the pop returned.
fn pop_against_push<Q: Blocking>() -> BTreeSet<Option<u8>> {
    model_outcomes(|| {
        let queue = Arc::new(Q::create());
        let consumer = {
            let q = queue.clone();
            thread::spawn(move || q.pop())
        };
        let producer = {
            let q = queue.clone();
            thread::spawn(move || q.push(1))
        };
        producer.join().unwrap().unwrap();
        consumer.join().unwrap()
    })
}

/// Whichever goes first, the pop returns the value (a lost wake-up would leave it asleep, and
/// loom would report a deadlock).
#[test]
fn loom_blocking_pop_is_woken_by_push() {
    assert_eq!(pop_against_push::<BoundedQueue<u8>>(), [Some(1)].into());
}

/// A producer blocked on a full ring is woken by the pop that makes room.
#[test]
fn loom_blocking_push_is_woken_by_pop() {
    let seen = model_outcomes(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.try_push(1u8).unwrap();
        let producer = {
            let q = queue.clone();
            thread::spawn(move || q.push(2))
        };
        let consumer = {
            let q = queue.clone();
            thread::spawn(move || q.pop())
        };
        let popped = consumer.join().unwrap();
        producer.join().unwrap().unwrap();
        (popped, drain(&queue))
    });
    assert_eq!(seen, [(Some(1), vec![2])].into());
}

/// The same model on the mutant. Loom finds the schedule where the push lands
/// between the pop's check and its wait, and reports the consumer asleep forever as a deadlock.
/// A loom deadlock aborts the process (a panic during loom's cleanup), so this model runs in a
/// child process started by `loom_catches_a_lost_wake_up`.
#[test]
#[ignore = "run in a child process by loom_catches_a_lost_wake_up"]
fn lost_wake_up_model() {
    pop_against_push::<LostWakeupQueue<u8>>();
}

#[test]
fn loom_catches_a_lost_wake_up() {
    let (passed, output) = run_ignored_test_in_child("lost_wake_up_model");
    assert!(!passed, "the lost wake-up went unnoticed:\n{output}");
    assert!(
        output.contains("deadlock"),
        "failed, but not with a deadlock:\n{output}"
    );
}

/// `close` races a blocked (or about to block) pop: the pop must wake and return `None`.
#[test]
fn loom_close_wakes_a_blocked_pop() {
    let seen = model_outcomes(|| {
        let queue = Arc::new(BoundedQueue::<u8>::new(1));
        let consumer = {
            let q = queue.clone();
            thread::spawn(move || q.pop())
        };
        let closer = {
            let q = queue.clone();
            thread::spawn(move || q.close())
        };
        closer.join().unwrap();
        consumer.join().unwrap()
    });
    assert_eq!(seen, [None].into());
}

/// A push races `close` while a consumer pops: the value is either refused (and handed back)
/// or delivered exactly once — to the consumer or, after everything, to the drain.
#[test]
fn loom_push_racing_close_loses_nothing() {
    let seen = model_outcomes(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        let producer = {
            let q = queue.clone();
            thread::spawn(move || q.push(1u8))
        };
        let closer = {
            let q = queue.clone();
            thread::spawn(move || q.close())
        };
        let consumer = {
            let q = queue.clone();
            thread::spawn(move || q.pop())
        };
        let pushed = producer.join().unwrap();
        closer.join().unwrap();
        let popped = consumer.join().unwrap();
        let rest = drain(&queue);
        let delivered = usize::from(popped.is_some()) + rest.len();
        match pushed {
            Ok(()) => assert_eq!(delivered, 1, "accepted but {popped:?} / {rest:?}"),
            Err(Closed(1)) => assert_eq!(delivered, 0, "refused but delivered"),
            Err(Closed(v)) => panic!("handed back {v}, not the value pushed"),
        }
        assert_eq!(queue.try_pop(), Err(TryPopError::Closed));
        assert!(matches!(queue.try_push(9), Err(TryPushError::Closed(9))));
        (pushed.is_ok(), popped)
    });
    // An accepted value always reaches the consumer: its blocking pop cannot see "closed and
    // empty" while the value is queued.
    assert_eq!(seen, [(false, None), (true, Some(1))].into());
}
