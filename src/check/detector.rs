//! Grading a bug detector: a deterministic test must reject the buggy version *every* time and
//! accept the correct one *every* time. [`grade_detector`] runs it both ways, many times.

use super::conformance::Failure;

/// Runs `detect` `runs` times on `reference` and `runs` times on `mutant`, alternating. The
/// detector returns `Err(description)` when it finds the bug. It must return `Ok` on the
/// reference every time (else property `false alarm`) and `Err` on the mutant every time (else
/// property `missed bug`): a detector that catches a race only sometimes is a flaky test, not a
/// regression test. Returns the number of runs on each.
///
/// Failures are [`Failure::Property`] with suite `detector`.
///
/// ```
/// use threadsmith::check::grade_detector;
///
/// // A toy: the "bug" is an off-by-one, and the detector calls the function once.
/// let right: fn(u32) -> u32 = |x| x + 1;
/// let wrong: fn(u32) -> u32 = |x| x + 2;
/// let detect = |f: &fn(u32) -> u32| {
///     if f(1) == 2 { Ok(()) } else { Err(format!("f(1) = {}", f(1))) }
/// };
/// assert_eq!(grade_detector(10, &right, &wrong, detect).unwrap(), 10);
/// let failure = grade_detector(10, &right, &right, detect).unwrap_err();
/// assert_eq!(failure.property(), "missed bug");
/// ```
pub fn grade_detector<F: ?Sized>(
    runs: usize,
    reference: &F,
    mutant: &F,
    detect: impl Fn(&F) -> Result<(), String>,
) -> Result<usize, Failure> {
    for run in 0..runs {
        if let Err(found) = detect(reference) {
            return Err(Failure::Property {
                suite: "detector",
                check: "false alarm",
                detail: format!("run {run}: the correct version was rejected: {found}"),
            });
        }
        if detect(mutant).is_ok() {
            return Err(Failure::Property {
                suite: "detector",
                check: "missed bug",
                detail: format!("run {run}: the buggy version passed"),
            });
        }
    }
    Ok(runs)
}
