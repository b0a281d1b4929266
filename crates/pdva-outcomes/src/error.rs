//! The crate's one error type.

/// Why an outcomes report could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutcomesError {
    /// The site filter names a site the registry does not have.
    #[error("unknown site code {code:?}; the registry's sites are: {known}")]
    UnknownSite {
        /// The code asked for.
        code: String,
        /// The codes the registry has, comma-separated.
        known: String,
    },
    /// The operator filter matches no clinician (by id or display name).
    #[error("no clinician with the id or display name {0:?}")]
    UnknownOperator(String),
    /// The operator filter's name matches more than one clinician.
    #[error("{name:?} names {count} clinicians; give the clinician's id instead ({ids})")]
    AmbiguousOperator {
        /// The name asked for.
        name: String,
        /// How many clinicians have it.
        count: usize,
        /// Their ids, comma-separated.
        ids: String,
    },
    /// The date range is empty.
    #[error("the procedure date range is empty: --from {from} is after --to {to}")]
    EmptyDateRange {
        /// First procedure date asked for.
        from: chrono::NaiveDate,
        /// Last procedure date asked for.
        to: chrono::NaiveDate,
    },
    /// A research cohort is smaller than the minimum (DOMAIN.md section 11).
    /// The message does not say how many patients it has: that would be
    /// the small count disclosure control withholds.
    #[error(
        "this research cohort has fewer than {minimum} patients after every filter (research \
         consent, site, operator, dates snapped to whole quarters), and figures about so few \
         patients could identify them; widen the filters"
    )]
    ResearchCohortTooSmall {
        /// The smallest research cohort reported.
        minimum: u64,
    },
    /// A statistic could not be computed (a bug: the engine only passes
    /// valid data to the statistics crate).
    #[error("statistics: {0}")]
    Stats(#[from] pdva_stats::StatsError),
}

/// The crate's result type.
pub type Result<T, E = OutcomesError> = std::result::Result<T, E>;
