//! Wing & Gong's search with Lowe's memoisation, plus partitioning and a time limit.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::violation::Violation;
use super::{Event, Model};

/// Checks that `history` is linearizable with respect to the sequential model `init`.
///
/// Returns a linearization — every index of `history` once, in an order that respects real time
/// and that the model accepts — or a [`Violation`] showing where every order gets stuck.
/// There is no time limit: see [`Checker::time_limit`] for one.
///
/// ```
/// use threadsmith::check::{linearizable, models::{FifoQueue, QueueOp}, Event};
///
/// // Two overlapping pushes, then a pop that sees the second one first: fine, because the
/// // pushes overlapped and may have taken effect in either order.
/// let h = vec![
///     Event { thread: 0, op: QueueOp::Push(1), ret: None, start: 0, end: 5 },
///     Event { thread: 1, op: QueueOp::Push(2), ret: None, start: 1, end: 4 },
///     Event { thread: 1, op: QueueOp::Pop, ret: Some(2), start: 6, end: 7 },
/// ];
/// assert_eq!(linearizable(&FifoQueue::new(), &h).unwrap(), vec![1, 0, 2]);
/// ```
pub fn linearizable<M>(init: &M, history: &[Event<M::Op, M::Ret>]) -> Result<Vec<usize>, Violation>
where
    M: Model + Hash + Eq,
{
    match Checker::new(init).check(history) {
        Verdict::Linearizable(order) => Ok(order),
        Verdict::Violation(violation) => Err(violation),
        Verdict::Unknown(_) => unreachable!("a checker without a time limit always decides"),
    }
}

/// A configurable linearizability check: a time limit, and partitioning by key.
///
/// ```
/// use std::time::Duration;
/// use threadsmith::check::{models::{Register, RegisterOp}, Checker, Event, Verdict};
///
/// // Operations on two independent registers, keyed by name: each key is checked on its own.
/// let h = vec![
///     Event { thread: 0, op: ("a", RegisterOp::Write(1)), ret: None, start: 0, end: 1 },
///     Event { thread: 1, op: ("b", RegisterOp::Read), ret: Some(0), start: 2, end: 3 },
///     Event { thread: 1, op: ("a", RegisterOp::Read), ret: Some(1), start: 4, end: 5 },
/// ];
/// #[derive(Clone, Debug, Hash, PartialEq, Eq)]
/// struct Keyed(Register<u32>);
/// impl threadsmith::check::Model for Keyed {
///     type Op = (&'static str, RegisterOp<u32>);
///     type Ret = Option<u32>;
///     fn apply(&mut self, (_, op): &Self::Op) -> Option<u32> { self.0.apply(op) }
/// }
/// # use threadsmith::check::Model;
/// let verdict = Checker::new(&Keyed(Register::new(0)))
///     .time_limit(Duration::from_secs(1))
///     .check_by_key(&h, |(key, _)| *key);
/// assert!(matches!(verdict, Verdict::Linearizable(_)));
/// ```
#[derive(Debug)]
#[must_use = "a checker does nothing until `check` is called"]
pub struct Checker<'m, M> {
    init: &'m M,
    time_limit: Option<Duration>,
}

/// The answer of a [`Checker`].
#[derive(Clone, Debug)]
pub enum Verdict {
    /// A linearization: indices into the history, each once.
    Linearizable(Vec<usize>),
    /// No linearization exists.
    Violation(Violation),
    /// The time limit passed before the search decided.
    Unknown(Unknown),
}

/// Why a [`Verdict`] is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unknown {
    /// The time limit that passed.
    pub time_limit: Duration,
    /// Search steps taken before giving up.
    pub steps: u64,
}

impl Verdict {
    /// True for [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable(_))
    }
}

impl<'m, M: Model + Hash + Eq> Checker<'m, M> {
    /// A checker for histories of an object that starts in state `init`.
    pub fn new(init: &'m M) -> Self {
        Self {
            init,
            time_limit: None,
        }
    }

    /// Gives up with [`Verdict::Unknown`] once `limit` has passed (real time).
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// Checks the whole history against one model.
    pub fn check(&self, history: &[Event<M::Op, M::Ret>]) -> Verdict {
        self.check_parts(history, vec![(None, (0..history.len()).collect())])
    }

    /// Splits the history by `key` and checks each part against its own copy of the initial
    /// model (porcupine's P-compositionality). Correct whenever operations on different keys
    /// cannot affect each other, as in a map of independent registers; each part is small, so
    /// this is much faster than one search over everything. The linearization returned merges
    /// the parts in an order that respects real time.
    pub fn check_by_key<K, F>(&self, history: &[Event<M::Op, M::Ret>], key: F) -> Verdict
    where
        K: Hash + Eq + Debug,
        F: Fn(&M::Op) -> K,
    {
        let mut index_of: HashMap<K, usize> = HashMap::new();
        let mut parts: Vec<(Option<String>, Vec<usize>)> = Vec::new();
        for (i, event) in history.iter().enumerate() {
            let k = key(&event.op);
            let slot = match index_of.get(&k) {
                Some(&slot) => slot,
                None => {
                    parts.push((Some(format!("{k:?}")), Vec::new()));
                    index_of.insert(k, parts.len() - 1);
                    parts.len() - 1
                }
            };
            parts[slot].1.push(i);
        }
        self.check_parts(history, parts)
    }

    fn check_parts(
        &self,
        history: &[Event<M::Op, M::Ret>],
        parts: Vec<(Option<String>, Vec<usize>)>,
    ) -> Verdict {
        let started = Instant::now();
        let deadline = self.time_limit.and_then(|limit| started.checked_add(limit));
        if let Some(bad) = history.iter().position(|e| e.start > e.end) {
            return Verdict::Violation(Violation::malformed(history, bad));
        }
        let mut steps = 0;
        let mut orders = Vec::with_capacity(parts.len());
        for (key, ids) in parts {
            match search(self.init, history, &ids, deadline, &mut steps) {
                Search::Found(order) => orders.push(order),
                Search::Refuted { deepest } => {
                    let placed: Vec<bool> = (0..ids.len()).map(|k| deepest.contains(k)).collect();
                    return Verdict::Violation(Violation::new(history, &ids, &placed, key));
                }
                Search::OutOfTime => {
                    return Verdict::Unknown(Unknown {
                        time_limit: self.time_limit.unwrap_or_default(),
                        steps,
                    })
                }
            }
        }
        Verdict::Linearizable(merge(history, orders))
    }
}

enum Search {
    Found(Vec<usize>),
    /// No linearization; `deepest` is the largest set of events the search managed to place.
    Refuted {
        deepest: BitSet,
    },
    OutOfTime,
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;

// ANCHOR: search
/// Searches for a linearization of the events `ids` (indices into `history`).
///
/// The events' calls and returns form a doubly linked list in time order, behind a sentinel at
/// `HEAD`. Linearizing an event "lifts" its call and return out of the list (dancing links), and
/// backtracking puts them back, so each step is O(1) apart from the model and the cache.
fn search<M: Model + Hash + Eq>(
    init: &M,
    history: &[Event<M::Op, M::Ret>],
    ids: &[usize],
    deadline: Option<Instant>,
    steps: &mut u64,
) -> Search {
    let list = TimeLine::new(history, ids);
    let TimeLine {
        event_of,
        is_call,
        return_of,
        mut next,
        mut prev,
    } = list;
    let lift = |next: &mut Vec<usize>, prev: &mut Vec<usize>, call: usize| {
        for node in [call, return_of[call]] {
            next[prev[node]] = next[node];
            if next[node] != NIL {
                prev[next[node]] = prev[node];
            }
        }
    };
    let unlift = |next: &mut Vec<usize>, prev: &mut Vec<usize>, call: usize| {
        for node in [return_of[call], call] {
            next[prev[node]] = node;
            if next[node] != NIL {
                prev[next[node]] = node;
            }
        }
    };

    let mut linearized = BitSet::new(ids.len());
    let mut seen: HashSet<(BitSet, M)> = HashSet::new();
    let mut state = init.clone();
    // (call node of each linearized event, the state before it), in linearization order.
    let mut stack: Vec<(usize, M)> = Vec::new();
    // For the report: the most events ever placed in a valid order at once.
    let mut deepest = linearized.clone();
    let mut deepest_len = 0;
    let mut node = next[HEAD];
    while next[HEAD] != NIL {
        *steps += 1;
        if *steps % 1024 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            return Search::OutOfTime;
        }
        if is_call[node] {
            // Try to linearize this event now: does the model return what it really returned?
            let event = &history[ids[event_of[node]]];
            let mut after = state.clone();
            if after.apply(&event.op) == event.ret {
                linearized.insert(event_of[node]);
                // Lowe's memoisation: the same set of events leading to the same state was
                // already explored from here, and failed.
                if seen.insert((linearized.clone(), after.clone())) {
                    stack.push((node, std::mem::replace(&mut state, after)));
                    if stack.len() > deepest_len {
                        deepest_len = stack.len();
                        deepest.clone_from(&linearized);
                    }
                    lift(&mut next, &mut prev, node);
                    node = next[HEAD];
                    continue;
                }
                linearized.remove(event_of[node]);
            }
            node = next[node];
        } else {
            // A return whose event is still pending: nothing tried since the last choice can
            // come before it. Undo the last choice and try the next candidate after it.
            let Some((call, before)) = stack.pop() else {
                return Search::Refuted { deepest };
            };
            state = before;
            linearized.remove(event_of[call]);
            unlift(&mut next, &mut prev, call);
            node = next[call];
        }
    }
    Search::Found(stack.iter().map(|&(call, _)| ids[event_of[call]]).collect())
}
// ANCHOR_END: search

/// Calls and returns of a set of events as a doubly linked list in time order. Node 0 is the
/// sentinel; event `k` of the set has one call node and one return node.
struct TimeLine {
    event_of: Vec<usize>,
    is_call: Vec<bool>,
    return_of: Vec<usize>,
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl TimeLine {
    fn new<Op, Ret>(history: &[Event<Op, Ret>], ids: &[usize]) -> Self {
        // (time, is_return, event): at equal times calls sort first, so an event that returns
        // at t overlaps one called at t (precedence is `end < start`, strictly).
        let mut points: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ids.len());
        for (k, &i) in ids.iter().enumerate() {
            points.push((history[i].start, false, k));
            points.push((history[i].end, true, k));
        }
        points.sort_unstable();
        let nodes = points.len() + 1;
        let mut line = TimeLine {
            event_of: vec![NIL; nodes],
            is_call: vec![false; nodes],
            return_of: vec![NIL; nodes],
            next: (1..=nodes)
                .map(|n| if n == nodes { NIL } else { n })
                .collect(),
            prev: (0..nodes).map(|n| n.wrapping_sub(1)).collect(),
        };
        let mut call_node = vec![NIL; ids.len()];
        for (n, &(_, is_return, k)) in points.iter().enumerate() {
            let node = n + 1;
            line.event_of[node] = k;
            line.is_call[node] = !is_return;
            if is_return {
                line.return_of[call_node[k]] = node;
            } else {
                call_node[k] = node;
            }
        }
        line
    }
}

/// A fixed-size set of small integers, hashable for Lowe's cache.
#[derive(Clone, PartialEq, Eq, Hash)]
struct BitSet(Box<[u64]>);

impl BitSet {
    fn new(len: usize) -> Self {
        Self(vec![0; len.div_ceil(64)].into_boxed_slice())
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn remove(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Merges per-part linearizations into one order that respects real time.
///
/// Within a part, give each event the linearization point `max(start, previous point)`: that
/// never passes its `end`, because a valid order never puts an event before one that precedes
/// it. Sorting all events by (point, position in its part) then respects real time: if A ends
/// before B starts, A's point is at most A's end, which is before B's start, B's earliest point.
fn merge<Op, Ret>(history: &[Event<Op, Ret>], orders: Vec<Vec<usize>>) -> Vec<usize> {
    if orders.len() == 1 {
        return orders.into_iter().next().unwrap_or_default();
    }
    let mut pointed: Vec<(u64, usize, usize)> = Vec::with_capacity(history.len());
    for order in orders {
        let mut point = 0;
        for (position, i) in order.into_iter().enumerate() {
            point = point.max(history[i].start);
            pointed.push((point, position, i));
        }
    }
    pointed.sort_unstable();
    pointed.into_iter().map(|(_, _, i)| i).collect()
}
