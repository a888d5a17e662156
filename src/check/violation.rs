//! A readable report of a history that is not linearizable.

use std::collections::BTreeMap;
use std::fmt::{self, Debug};

use super::Event;

/// The events shown in full in a timeline; a larger conflict is listed, not drawn.
const MAX_DRAWN: usize = 40;
/// Operation labels longer than this are cut.
const MAX_LABEL: usize = 48;

/// A history that is not linearizable, and where every attempt to order it gets stuck.
///
/// The search finds the largest set of operations that can be put in a valid order ("placed"),
/// and the first operation among the rest to return ("stuck"): no remaining operation can take
/// effect before it returns. The report shows the window around that point — the operations
/// that could have gone next, the placed ones that overlap them, and each thread's last placed
/// operation before them — as a per-thread timeline, with `-` bars for placed operations and `!`
/// bars for the rest:
///
/// ```text
/// not linearizable: 100 of the 101 operations fit a valid order, but then none of the others
/// can take effect before #100 returns
///   thread 1    [Write(49) -> None--]
///   thread 2                          [Read -> Some(49)--]  [Read -> Some(48)!!]
///   #98   thread 1   t=196..197  Write(49) -> None   placed
///   #99   thread 2   t=198..199  Read -> Some(49)    placed
///   #100  thread 2   t=200..201  Read -> Some(48)    stuck
/// ```
#[derive(Clone, Debug)]
pub struct Violation {
    events: Vec<usize>,
    stuck: usize,
    placed: usize,
    history_len: usize,
    partition: Option<String>,
    report: String,
}

impl Violation {
    /// `ids` are the events of the failing part; `placed[k]` says whether `ids[k]` was in the
    /// deepest valid order the search found.
    pub(super) fn new<Op: Debug, Ret: Debug>(
        history: &[Event<Op, Ret>],
        ids: &[usize],
        placed: &[bool],
        partition: Option<String>,
    ) -> Self {
        let at = |k: usize| &history[ids[k]];
        let unplaced = (0..ids.len()).filter(|&k| !placed[k]);
        let stuck = unplaced
            .clone()
            .min_by_key(|&k| (at(k).end, at(k).start, ids[k]))
            .expect("a refuted history has an operation that could not be placed");
        let hi = at(stuck).end;
        // The candidates for "next": unplaced operations called before the stuck one returned.
        let candidates: Vec<usize> = unplaced.filter(|&k| at(k).start <= hi).collect();
        let lo = candidates.iter().map(|&k| at(k).start).min().unwrap_or(hi);
        let mut window: Vec<usize> = candidates;
        let mut last_before: BTreeMap<usize, usize> = BTreeMap::new();
        for k in (0..ids.len()).filter(|&k| placed[k]) {
            let e = at(k);
            if e.start <= hi && e.end >= lo {
                window.push(k);
            } else if e.end < lo {
                let slot = last_before.entry(e.thread).or_insert(k);
                if at(*slot).end < e.end {
                    *slot = k;
                }
            }
        }
        window.extend(last_before.into_values());
        window.sort_by_key(|&k| (at(k).start, at(k).end, ids[k]));

        let placed_count = placed.iter().filter(|&&p| p).count();
        let mut report = format!(
            "not linearizable: {placed_count} of the {} operations{} fit a valid order, but then \
             none of the others can take effect before #{} returns\n",
            ids.len(),
            match &partition {
                Some(key) => format!(" with key {key}"),
                None => String::new(),
            },
            ids[stuck],
        );
        let events: Vec<usize> = window.iter().map(|&k| ids[k]).collect();
        let labels: Vec<String> = events.iter().map(|&i| label(&history[i])).collect();
        let fills: Vec<char> = window
            .iter()
            .map(|&k| if placed[k] { '-' } else { '!' })
            .collect();
        if events.len() <= MAX_DRAWN {
            report += &timeline(history, &events, &labels, &fills);
        }
        let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        for ((&k, &i), label) in window.iter().zip(&events).zip(&labels) {
            let e = &history[i];
            let status = match (k == stuck, placed[k]) {
                (true, _) => "stuck",
                (false, true) => "placed",
                (false, false) => "not placed",
            };
            report += &format!(
                "  #{i:<5} thread {:<3} {:<12} {label:<width$}   {status}\n",
                e.thread,
                format!("t={}..{}", e.start, e.end)
            );
        }
        report += "  (a bar spans an operation from its call to its return; an operation precedes \
                   another when it returns before the other is called)";
        Self {
            events,
            stuck: ids[stuck],
            placed: placed_count,
            history_len: history.len(),
            partition,
            report,
        }
    }

    pub(super) fn malformed<Op: Debug, Ret: Debug>(history: &[Event<Op, Ret>], bad: usize) -> Self {
        let e = &history[bad];
        Self {
            events: vec![bad],
            stuck: bad,
            placed: 0,
            history_len: history.len(),
            partition: None,
            report: format!(
                "not a valid history: event #{bad} (thread {}, {}) returns at t={} before it is \
                 called at t={}",
                e.thread,
                label(e),
                e.end,
                e.start
            ),
        }
    }

    /// Indices into the history of the events in the reported window, in order of their calls.
    pub fn events(&self) -> &[usize] {
        &self.events
    }

    /// The index of the operation the search could not get past: among the operations left
    /// over by the largest valid order, the first to return.
    pub fn stuck(&self) -> usize {
        self.stuck
    }

    /// How many operations the largest valid order found placed.
    pub fn placed(&self) -> usize {
        self.placed
    }

    /// How many events the whole history had.
    pub fn history_len(&self) -> usize {
        self.history_len
    }

    /// The key of the failing part, for [`Checker::check_by_key`](super::Checker::check_by_key).
    pub fn partition(&self) -> Option<&str> {
        self.partition.as_deref()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

impl std::error::Error for Violation {}

fn label<Op: Debug, Ret: Debug>(e: &Event<Op, Ret>) -> String {
    let full = format!("{:?} -> {:?}", e.op, e.ret);
    if full.chars().count() <= MAX_LABEL {
        full
    } else {
        let cut: String = full.chars().take(MAX_LABEL - 1).collect();
        cut + "…"
    }
}

/// Draws one row per thread (more if a thread's own operations overlap), each operation a bar
/// `[label---]` from the column of its call to the column of its return, filled with `fills[k]`.
fn timeline<Op, Ret>(
    history: &[Event<Op, Ret>],
    events: &[usize],
    labels: &[String],
    fills: &[char],
) -> String {
    // Columns for every endpoint, in time order; at equal times calls come first (they overlap).
    let mut points: Vec<(u64, bool, usize)> = Vec::new();
    for (k, &i) in events.iter().enumerate() {
        points.push((history[i].start, false, k));
        points.push((history[i].end, true, k));
    }
    points.sort_unstable();
    let mut start_col = vec![0; events.len()];
    let mut end_col = vec![0; events.len()];
    let mut col = 0;
    for (n, &(_, is_return, k)) in points.iter().enumerate() {
        if n > 0 {
            col += 1;
        }
        if is_return {
            // Leave room for "[label]" and a little bar.
            col = col.max(start_col[k] + labels[k].chars().count() + 3);
            end_col[k] = col;
        } else {
            start_col[k] = col;
        }
    }

    // Assign rows: per thread, the first row whose last bar ends before this one starts.
    let mut rows: BTreeMap<usize, Vec<Vec<usize>>> = BTreeMap::new();
    let mut by_start: Vec<usize> = (0..events.len()).collect();
    by_start.sort_by_key(|&k| start_col[k]);
    for k in by_start {
        let thread_rows = rows.entry(history[events[k]].thread).or_default();
        match thread_rows
            .iter_mut()
            .find(|row| row.last().is_some_and(|&last| end_col[last] < start_col[k]))
        {
            Some(row) => row.push(k),
            None => thread_rows.push(vec![k]),
        }
    }

    let mut out = String::new();
    for (thread, thread_rows) in rows {
        for row in thread_rows {
            let mut line: Vec<char> = format!("  thread {thread:<3} ").chars().collect();
            let margin = line.len();
            for k in row {
                let (from, to) = (margin + start_col[k], margin + end_col[k]);
                line.resize(to + 1, ' ');
                let bar: Vec<char> = std::iter::once('[')
                    .chain(labels[k].chars())
                    .chain(std::iter::repeat(fills[k]))
                    .take(to - from)
                    .chain(std::iter::once(']'))
                    .collect();
                line[from..=to].copy_from_slice(&bar);
            }
            out.extend(line);
            out.push('\n');
        }
    }
    out
}
