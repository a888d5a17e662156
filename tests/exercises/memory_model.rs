//! Grading for the memory-model chapter (`book/src/memory-model.md`). The exercise's check,
//! `check::check_publication`, is a loom model in a `--cfg loom` build: the mutant with a
//! Relaxed flag (`check::mutants::RelaxedSlot`) is graded there, in
//! `tests/loom_memory_model.rs` (`loom_check_publication_rejects_a_relaxed_flag`), because on
//! real x86 threads the bug does not show. Here, in the normal build, the check must pass the
//! reference slot and must reject a slot that breaks publication even on x86.

use threadsmith::check::{check_publication, Publish, RelAcqSlot};

#[test]
fn publication_check_passes_the_reference_slot_on_real_threads() {
    let rounds = check_publication::<RelAcqSlot>()
        .unwrap_or_else(|f| panic!("the reference slot was rejected: {f}"));
    assert_eq!(rounds, 1_000);
}

#[test]
fn publication_check_rejects_a_slot_that_raises_the_flag_first() {
    /// Raises the flag, then writes: wrong on every CPU. A `Mutex` keeps it free of data races
    /// (the bug is the order of the two steps, not a torn read).
    #[derive(Default)]
    struct FlagFirst(std::sync::Mutex<(bool, u64)>);
    impl Publish for FlagFirst {
        fn publish(&self, value: u64) {
            self.0.lock().unwrap().0 = true;
            std::thread::yield_now();
            self.0.lock().unwrap().1 = value;
        }
        fn read(&self) -> Option<u64> {
            let (ready, value) = *self.0.lock().unwrap();
            ready.then_some(value)
        }
    }
    // One round would not do: the reader must run inside the window. A thousand rounds with a
    // yield in it do on any machine; the check is repeated until it fails, at most 20 times.
    let failure = (0..20)
        .find_map(|_| check_publication::<FlagFirst>().err())
        .expect("publishing the flag before the value must be caught");
    assert_eq!(failure.property(), "publication", "{failure}");
}
