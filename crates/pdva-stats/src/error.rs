//! The crate's single error type.

/// Why a statistic could not be computed from the input it was given.
///
/// Every function that takes user data returns this instead of panicking, so
/// the outcomes engine can report which input was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A number that must be finite was NaN or infinite.
    #[error("{what} must be a finite number, got {value}")]
    NotFinite {
        /// Which input was wrong.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A time (days) or person-time that must not be negative was negative.
    #[error("{what} must not be negative, got {value}")]
    Negative {
        /// Which input was wrong.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A number was outside the range it must lie in.
    #[error("{what} must be in {range}, got {value}")]
    OutOfRange {
        /// Which input was wrong.
        what: &'static str,
        /// The allowed range, as text (e.g. "[0, 1]").
        range: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A count of successes or events exceeded the number of trials.
    #[error("count {k} exceeds total {n}")]
    CountExceedsTotal {
        /// The count.
        k: u64,
        /// The total.
        n: u64,
    },
    /// An estimator that needs at least one observation got none.
    #[error("no observations")]
    NoObservations,
    /// A comparison of groups needs at least two groups with observations.
    #[error("a comparison needs at least two non-empty groups, got {non_empty}")]
    TooFewGroups {
        /// How many groups had at least one observation.
        non_empty: usize,
    },
    /// Cause 0 means "censored"; a cumulative incidence is for a cause 1, 2, ….
    #[error("the cause of interest must be 1 or more (0 means censored)")]
    InvalidCause,
    /// Counts per time must come in strictly increasing time order.
    #[error("times must be strictly increasing; {t_days} came after a time not before it")]
    UnorderedTimes {
        /// The time out of order.
        t_days: f64,
    },
    /// An index (of a group, of a time) beyond the ones declared.
    #[error("{what} {index} does not exist (there are {len})")]
    NoSuchIndex {
        /// What the index is of.
        what: &'static str,
        /// The index given.
        index: usize,
        /// How many there are.
        len: usize,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, StatsError>;

/// Checks that `value` is finite and not negative (times in days, person-time).
pub(crate) fn check_non_negative(what: &'static str, value: f64) -> Result<f64> {
    if !value.is_finite() {
        return Err(StatsError::NotFinite { what, value });
    }
    if value < 0.0 {
        return Err(StatsError::Negative { what, value });
    }
    Ok(value)
}

/// Checks counts per time given as (time, subjects there): times finite,
/// non-negative and strictly increasing. Returns the number of subjects;
/// none at all is an error.
pub(crate) fn check_time_counts(counts: impl Iterator<Item = (f64, usize)>) -> Result<usize> {
    let mut n = 0usize;
    let mut previous = f64::NEG_INFINITY;
    for (t_days, subjects) in counts {
        let t = check_non_negative("time_days", t_days)?;
        if t <= previous {
            return Err(StatsError::UnorderedTimes { t_days: t });
        }
        previous = t;
        n += subjects;
    }
    if n == 0 {
        return Err(StatsError::NoObservations);
    }
    Ok(n)
}

/// Checks that `value` is a finite number.
pub(crate) fn check_finite(what: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StatsError::NotFinite { what, value })
    }
}
