//! The scheduler's admission and ordering logic as a plain data structure: three FIFOs, a
//! length, and the overload flag with hysteresis. No threads, no locks: [`Scheduler`] keeps one
//! behind its state lock, and the conformance suite runs on one directly
//! (`Suite::check_backpressure`), so the rules are proven on the code that enforces them.
//!
//! [`Scheduler`]: super::Scheduler

use std::collections::VecDeque;
use std::fmt;

use super::{Overload, Priority, Rejected};

/// The numbers that shape backpressure: a hard `capacity`, and the `high_water` / `low_water`
/// marks between which the overloaded state persists (hysteresis).
///
/// ```
/// use threadsmith::scheduler::{Overload, WaterMarks};
/// let marks = WaterMarks { capacity: 100, high_water: 80, low_water: 40, overload: Overload::Shed };
/// assert!(marks.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaterMarks {
    /// Past this many queued tasks everything is refused with [`Rejected::Full`].
    pub capacity: usize,
    /// Reaching this length makes the queue overloaded.
    pub high_water: usize,
    /// Falling to this length (or below) ends the overload.
    pub low_water: usize,
    /// What entering overload does to queued `Low` tasks.
    pub overload: Overload,
}

impl WaterMarks {
    /// Checks `1 <= capacity`, `low_water <= high_water <= capacity`.
    ///
    /// ```
    /// use threadsmith::scheduler::{Overload, WaterMarks};
    /// let bad = WaterMarks { capacity: 10, high_water: 4, low_water: 5, overload: Overload::Reject };
    /// assert!(bad.validate().unwrap_err().to_string().contains("low_water"));
    /// ```
    pub fn validate(&self) -> Result<(), super::BuildError> {
        use super::BuildError;
        if self.capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        if self.high_water > self.capacity {
            return Err(BuildError::HighAboveCapacity {
                high_water: self.high_water,
                capacity: self.capacity,
            });
        }
        if self.low_water > self.high_water {
            return Err(BuildError::LowAboveHigh {
                low_water: self.low_water,
                high_water: self.high_water,
            });
        }
        Ok(())
    }
}

/// Something the queue holds: it can be claimed (started) or aborted (cancelled, shed,
/// abandoned) at most once. A cancelled item stays in its FIFO as a tombstone whose `claim`
/// and `abort` fail; the queue drops it when it reaches the front.
pub trait QueueItem {
    /// Marks the item started; false if it was already aborted.
    fn claim(&self) -> bool;
    /// Marks the item aborted; false if it was already claimed or aborted.
    fn abort(&self) -> bool;
}

/// Plain ids (the conformance suite's items) are never cancelled: both always succeed.
impl QueueItem for u64 {
    fn claim(&self) -> bool {
        true
    }
    fn abort(&self) -> bool {
        true
    }
}

/// What the caller of [`WaterMarkQueue::pop`] says about the item at the front.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// Start it now.
    Now,
    /// It waits for a slot of resource `n`: park it until [`WaterMarkQueue::unblock`]`(n)`.
    Blocked(usize),
}

// ANCHOR: queue
/// Accepted, not-yet-started items in priority order, FIFO within a priority, with
/// water-mark backpressure.
///
/// `len` counts items accepted and not yet started, wherever they wait: in a FIFO, parked on a
/// resource, or outside the queue (a scheduler's delayed tasks, admitted with
/// [`try_admit`](Self::try_admit) and [`push_admitted`](Self::push_admitted) later).
///
/// ```
/// use threadsmith::scheduler::{Overload, Priority, Ready, Rejected, WaterMarkQueue, WaterMarks};
///
/// let mut q = WaterMarkQueue::new(WaterMarks {
///     capacity: 4, high_water: 2, low_water: 1, overload: Overload::Reject,
/// });
/// let mut shed = Vec::new();
/// q.push(Priority::Low, 1u64, &mut shed).unwrap();
/// q.push(Priority::High, 2u64, &mut shed).unwrap(); // length 2: overloaded
/// assert_eq!(q.push(Priority::Low, 3u64, &mut shed), Err((Rejected::Overloaded, 3)));
/// assert_eq!(q.pop(|_| Ready::Now), Some(2)); // High first; length 1 = low_water
/// assert!(!q.is_overloaded());
/// ```
pub struct WaterMarkQueue<T> {
    ready: [VecDeque<T>; 3],
    /// Items waiting for a resource slot, by resource, with their priority.
    parked: Vec<VecDeque<(Priority, T)>>,
    len: usize,
    overloaded: bool,
    marks: WaterMarks,
}
// ANCHOR_END: queue

impl<T: QueueItem> WaterMarkQueue<T> {
    /// An empty queue.
    ///
    /// # Panics
    /// If `marks` can never work (see [`WaterMarks::validate`]).
    ///
    /// ```
    /// use threadsmith::scheduler::{Overload, WaterMarkQueue, WaterMarks};
    /// let q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// assert_eq!(q.len(), 0);
    /// ```
    pub fn new(marks: WaterMarks) -> Self {
        if let Err(e) = marks.validate() {
            panic!("WaterMarkQueue::new: {e}");
        }
        Self {
            ready: Default::default(),
            parked: Vec::new(),
            len: 0,
            overloaded: false,
            marks,
        }
    }

    /// Tasks accepted and not yet started.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, WaterMarkQueue, WaterMarks};
    /// let q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// assert_eq!(q.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no task is queued.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, WaterMarkQueue, WaterMarks};
    /// let q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// assert!(q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True between reaching `high_water` and falling back to `low_water`.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, WaterMarkQueue, WaterMarks};
    /// let q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// assert!(!q.is_overloaded());
    /// ```
    pub fn is_overloaded(&self) -> bool {
        self.overloaded
    }

    /// The marks this queue enforces.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, WaterMarkQueue, WaterMarks};
    /// let marks = WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject };
    /// assert_eq!(WaterMarkQueue::<u64>::new(marks).marks(), marks);
    /// ```
    pub fn marks(&self) -> WaterMarks {
        self.marks
    }

    // ANCHOR: admit
    /// Decides whether one more task of `priority` is accepted, and counts it if so. Entering
    /// overload in [`Overload::Shed`] mode aborts queued `Low` tasks, oldest first, until the
    /// length is at `low_water` or no ready `Low` task is left; they are appended to `shed`.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, Priority, Rejected, WaterMarkQueue, WaterMarks};
    /// let mut q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 1, high_water: 1, low_water: 0, overload: Overload::Reject });
    /// let mut shed = Vec::new();
    /// assert_eq!(q.try_admit(Priority::High, &mut shed), Ok(()));
    /// assert_eq!(q.try_admit(Priority::High, &mut shed), Err(Rejected::Full));
    /// ```
    pub fn try_admit(&mut self, priority: Priority, shed: &mut Vec<T>) -> Result<(), Rejected> {
        // Capacity first: past it, *everything* is refused as Full, Low included.
        if self.len >= self.marks.capacity {
            return Err(Rejected::Full);
        }
        if self.overloaded && priority == Priority::Low {
            return Err(Rejected::Overloaded);
        }
        self.len += 1;
        if !self.overloaded && self.len >= self.marks.high_water {
            self.overloaded = true;
            if self.marks.overload == Overload::Shed {
                self.shed_low(shed);
            }
        }
        Ok(())
    }

    /// Aborts ready `Low` tasks from the front (the oldest) while above `low_water`.
    fn shed_low(&mut self, shed: &mut Vec<T>) {
        let low = &mut self.ready[Priority::Low as usize];
        while self.len > self.marks.low_water {
            let Some(item) = low.pop_front() else { break };
            if item.abort() {
                self.len -= 1;
                shed.push(item);
            } // else: a cancelled tombstone, already uncounted; drop it.
        }
        self.update_after_decrease();
    }

    /// Ends the overload once the length is at `low_water` or below.
    fn update_after_decrease(&mut self) {
        if self.len <= self.marks.low_water {
            self.overloaded = false;
        }
    }
    // ANCHOR_END: admit

    /// Stores an item accepted by [`try_admit`](Self::try_admit) at the back of its FIFO.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, Priority, Ready, WaterMarkQueue, WaterMarks};
    /// let mut q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// q.try_admit(Priority::Normal, &mut Vec::new()).unwrap();
    /// q.push_admitted(Priority::Normal, 7);
    /// assert_eq!(q.pop(|_| Ready::Now), Some(7));
    /// ```
    pub fn push_admitted(&mut self, priority: Priority, item: T) {
        self.ready[priority as usize].push_back(item);
    }

    /// [`try_admit`](Self::try_admit) then [`push_admitted`](Self::push_admitted); a refused
    /// item is handed back with the reason.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, Priority, WaterMarkQueue, WaterMarks};
    /// let mut q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// assert!(q.push(Priority::Low, 1, &mut Vec::new()).is_ok());
    /// ```
    pub fn push(
        &mut self,
        priority: Priority,
        item: T,
        shed: &mut Vec<T>,
    ) -> Result<(), (Rejected, T)> {
        match self.try_admit(priority, shed) {
            Ok(()) => {
                self.push_admitted(priority, item);
                Ok(())
            }
            Err(why) => Err((why, item)),
        }
    }

    // ANCHOR: pop
    /// Claims the next task to start: highest priority first, FIFO within a priority. `ready`
    /// may park the front item on a resource instead ([`Ready::Blocked`]). Tombstones are
    /// dropped on the way.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, Priority, Ready, WaterMarkQueue, WaterMarks};
    /// let mut q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// let mut shed = Vec::new();
    /// for (p, id) in [(Priority::Low, 1), (Priority::High, 2), (Priority::Low, 3)] {
    ///     q.push(p, id, &mut shed).unwrap();
    /// }
    /// let order: Vec<u64> = std::iter::from_fn(|| q.pop(|_| Ready::Now)).collect();
    /// assert_eq!(order, [2, 1, 3]);
    /// ```
    pub fn pop(&mut self, mut ready: impl FnMut(&T) -> Ready) -> Option<T> {
        for priority in [Priority::High, Priority::Normal, Priority::Low] {
            while let Some(item) = self.ready[priority as usize].pop_front() {
                if let Ready::Blocked(resource) = ready(&item) {
                    if self.parked.len() <= resource {
                        self.parked.resize_with(resource + 1, VecDeque::new);
                    }
                    self.parked[resource].push_back((priority, item));
                    continue;
                }
                if item.claim() {
                    self.len -= 1;
                    self.update_after_decrease();
                    return Some(item);
                }
            }
        }
        None
    }
    // ANCHOR_END: pop

    /// A slot of `resource` came free: its oldest parked item goes back to the front of its
    /// priority's FIFO (it was popped before anything now behind it).
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, Priority, Ready, WaterMarkQueue, WaterMarks};
    /// let mut q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// q.push(Priority::Normal, 1, &mut Vec::new()).unwrap();
    /// assert_eq!(q.pop(|_| Ready::Blocked(0)), None); // parked on resource 0
    /// q.unblock(0);
    /// assert_eq!(q.pop(|_| Ready::Now), Some(1));
    /// ```
    pub fn unblock(&mut self, resource: usize) {
        if let Some((priority, item)) = self.parked.get_mut(resource).and_then(VecDeque::pop_front)
        {
            self.ready[priority as usize].push_front(item);
        }
    }

    /// `n` accepted tasks left without starting (cancelled, or delayed ones abandoned or shed
    /// outside the queue): uncounts them.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, Priority, WaterMarkQueue, WaterMarks};
    /// let mut q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// q.try_admit(Priority::Low, &mut Vec::new()).unwrap();
    /// q.forget(1);
    /// assert!(q.is_empty());
    /// ```
    pub fn forget(&mut self, n: usize) {
        self.len = self.len.saturating_sub(n);
        self.update_after_decrease();
    }

    /// Aborts every stored item (ready or parked) and returns those it aborted, uncounted.
    ///
    /// ```
    /// # use threadsmith::scheduler::{Overload, Priority, WaterMarkQueue, WaterMarks};
    /// let mut q = WaterMarkQueue::<u64>::new(WaterMarks { capacity: 8, high_water: 6, low_water: 2, overload: Overload::Reject });
    /// q.push(Priority::Low, 1, &mut Vec::new()).unwrap();
    /// assert_eq!(q.abort_all(), [1]);
    /// assert!(q.is_empty());
    /// ```
    pub fn abort_all(&mut self) -> Vec<T> {
        let parked = self
            .parked
            .iter_mut()
            .flat_map(|p| p.drain(..).map(|(_, item)| item));
        let ready = self.ready.iter_mut().flat_map(|r| r.drain(..));
        let aborted: Vec<T> = ready.chain(parked).filter(QueueItem::abort).collect();
        self.forget(aborted.len());
        aborted
    }
}

impl<T> fmt::Debug for WaterMarkQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaterMarkQueue")
            .field("len", &self.len)
            .field("overloaded", &self.overloaded)
            .field("marks", &self.marks)
            .finish_non_exhaustive()
    }
}
