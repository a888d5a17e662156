//! Under `--cfg loom` the conformance suites (which run real threads) are not built; this
//! stand-in keeps the one type the loom-side checks share with them, [`Failure`], so that a
//! loom test and a normal test assert on failures the same way (`failure.property()`).

use std::fmt;

/// Why a check rejected an implementation (the loom build's subset of the normal build's
/// `Failure`: the loom-side checks report only properties).
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// A check found a broken property.
    Property {
        /// Which suite: `memory model`, `detector`, …
        suite: &'static str,
        /// Which property it broke, e.g. `publication`.
        check: &'static str,
        /// What happened.
        detail: String,
    },
}

impl Failure {
    /// The name of the property that failed.
    pub fn property(&self) -> &'static str {
        match self {
            Failure::Property { check, .. } => check,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Property {
                suite,
                check,
                detail,
            } => write!(f, "{suite}: {check}: {detail}"),
        }
    }
}

impl std::error::Error for Failure {}
