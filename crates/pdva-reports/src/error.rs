//! The one error type of the reports crate.

use thiserror::Error;

/// Why a report could not be made.
#[derive(Debug, Error)]
pub enum ReportsError {
    /// The registry could not be read.
    #[error(transparent)]
    Store(#[from] pdva_store::StoreError),
    /// The outcomes engine refused or failed (a research cohort too small,
    /// an unknown filter value).
    #[error(transparent)]
    Outcomes(#[from] pdva_outcomes::OutcomesError),
    /// No clinician has this id or professional registration number.
    #[error("no clinician has the id or registration number {0:?}")]
    UnknownClinician(String),
    /// No site has this code.
    #[error("no site has the code {0:?}")]
    UnknownSite(String),
    /// The period is backwards.
    #[error("the period starts ({from}) after it ends ({to})")]
    BackwardsPeriod {
        /// The start asked for.
        from: chrono::NaiveDate,
        /// The end asked for.
        to: chrono::NaiveDate,
    },
    /// A CSV could not be written (the output failed).
    #[error("could not write the CSV: {0}")]
    Csv(#[from] csv::Error),
    /// A template failed to render (a bug, not bad input).
    #[error("could not render the report: {0}")]
    Render(String),
}

/// Result with [`ReportsError`].
pub type Result<T, E = ReportsError> = std::result::Result<T, E>;
