//! The web layer's one error type, and the one place errors become HTTP
//! responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pdva_outcomes::OutcomesError;
use pdva_store::StoreError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template failed to render.
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    /// No such page, or not one of the user's sites.
    #[error("not found")]
    NotFound,
    /// The outcomes engine refused the request (a bad filter) or failed.
    #[error(transparent)]
    Outcomes(#[from] pdva_outcomes::OutcomesError),
    /// A request's value broke a rule (the field, the value and the rule).
    #[error("{0}")]
    Invalid(String),
    /// A report could not be rendered (a bug, not bad input).
    #[error("report: {0}")]
    Report(String),
}

impl From<pdva_reports::ReportsError> for WebError {
    fn from(e: pdva_reports::ReportsError) -> Self {
        use pdva_reports::ReportsError as R;
        match e {
            R::Store(e) => WebError::Store(e),
            R::Outcomes(e) => WebError::Outcomes(e),
            R::UnknownClinician(_) | R::UnknownSite(_) => WebError::NotFound,
            e @ R::BackwardsPeriod { .. } => WebError::Invalid(e.to_string()),
            e => WebError::Report(e.to_string()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            WebError::Store(StoreError::NotFound(_)) | WebError::NotFound => {
                (StatusCode::NOT_FOUND, "Not found".to_owned())
            }
            WebError::Store(
                e @ (StoreError::Refused(_)
                | StoreError::NeedsAcknowledgement(_)
                | StoreError::ReasonRequired(_)
                | StoreError::Invalid(_)),
            ) => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            WebError::Outcomes(
                e @ (OutcomesError::UnknownSite { .. }
                | OutcomesError::UnknownOperator(_)
                | OutcomesError::AmbiguousOperator { .. }
                | OutcomesError::EmptyDateRange { .. }
                | OutcomesError::ResearchCohortTooSmall { .. }),
            ) => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            WebError::Invalid(why) => (StatusCode::UNPROCESSABLE_ENTITY, why.clone()),
            WebError::Store(e @ StoreError::Conflict { .. }) => {
                (StatusCode::CONFLICT, e.to_string())
            }
            _ => {
                // Log the detail; never show it.
                tracing::error!(error = %self, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong; it has been logged.".to_owned(),
                )
            }
        };
        (status, message).into_response()
    }
}
