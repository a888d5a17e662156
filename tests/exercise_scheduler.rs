//! The book's exercise for "A concurrent task scheduler (Q15), with backpressure (S1)": add
//! water-mark backpressure (hysteresis, capacity, shedding) to a simple priority queue, graded
//! by the backpressure suite. This file is the solution; the chapter `book/src/scheduler.md`
//! shows the starter and includes the parts between the `ANCHOR` marks.
//!
//! Check your own version with `cargo test --test exercise_scheduler`.
#![cfg(not(loom))] // real threads: not a loom model

// ANCHOR: types
use std::collections::VecDeque;
use std::sync::Mutex;

use threadsmith::check::conformance::{BackpressureQueue, Suite};
use threadsmith::scheduler::{Overload, Priority, Rejected, WaterMarks};

/// The given scheduler's queue: one FIFO per priority behind one lock (tasks are ids here).
pub struct MyScheduler {
    marks: WaterMarks,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queues: [VecDeque<u64>; 3], // indexed by `Priority as usize`: Low, Normal, High
    len: usize,                 // added: accepted and not yet started
    overloaded: bool,           // added: between reaching high_water and falling to low_water
}

impl MyScheduler {
    pub fn new(marks: WaterMarks) -> Self {
        MyScheduler {
            marks,
            state: Mutex::new(State::default()),
        }
    }
}
// ANCHOR_END: types

// ANCHOR: solution
impl BackpressureQueue for MyScheduler {
    fn submit(&self, priority: Priority, id: u64) -> Result<Vec<u64>, Rejected> {
        let mut state = self.state.lock().unwrap();
        // Decide and change under one lock: the length we read is the length we change.
        if state.len >= self.marks.capacity {
            return Err(Rejected::Full);
        }
        if state.overloaded && priority == Priority::Low {
            return Err(Rejected::Overloaded);
        }
        state.len += 1;
        let mut shed = Vec::new();
        if !state.overloaded && state.len >= self.marks.high_water {
            state.overloaded = true;
            if self.marks.overload == Overload::Shed {
                // Oldest Low first, down to low_water (or until no Low is left). The task
                // being accepted is not in a FIFO yet: it is never its own victim.
                while state.len > self.marks.low_water {
                    let Some(oldest) = state.queues[Priority::Low as usize].pop_front() else {
                        break;
                    };
                    state.len -= 1;
                    shed.push(oldest);
                }
                if state.len <= self.marks.low_water {
                    state.overloaded = false;
                }
            }
        }
        state.queues[priority as usize].push_back(id);
        Ok(shed)
    }

    fn start_next(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap();
        let id = state
            .queues
            .iter_mut()
            .rev()
            .find_map(VecDeque::pop_front)?;
        state.len -= 1;
        if state.len <= self.marks.low_water {
            state.overloaded = false; // the hysteresis: only here does the overload end
        }
        Some(id)
    }
}
// ANCHOR_END: solution

// ANCHOR: test
#[test]
fn my_scheduler_conforms() {
    let report = Suite::new()
        .check_backpressure(MyScheduler::new)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report:?}");
}
// ANCHOR_END: test
