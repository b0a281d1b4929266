//! The web layer's one error type, and the one place errors become HTTP
//! responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pdva_domain::Finding;
use pdva_outcomes::OutcomesError;
use pdva_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

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
    /// The request's body is over its route's limit.
    #[error("The request is too large.")]
    TooLarge,
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

impl WebError {
    /// The status and the message a user may see; a failure of the program
    /// is logged here and its detail never shown.
    fn status_and_message(&self) -> (StatusCode, String) {
        match self {
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
            WebError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, self.to_string()),
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
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.status_and_message().into_response()
    }
}

/// An error of the JSON API (`/api/`): the same mapping as [`WebError`]'s,
/// as one JSON shape, [`ApiErrorBody`], with the rule findings of a refused
/// or unacknowledged record listed one by one.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self(WebError::Store(e))
    }
}

impl From<OutcomesError> for ApiError {
    fn from(e: OutcomesError) -> Self {
        Self(WebError::Outcomes(e))
    }
}

/// Every error the API answers with: `{"error": {…}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorBody {
    /// What went wrong.
    pub error: ApiErrorDetail,
}

/// What went wrong, in a clinician's words.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorDetail {
    /// The HTTP status, repeated.
    pub status: u16,
    /// What went wrong.
    pub message: String,
    /// True when the record was refused only for soft warnings: send it
    /// again with `"acknowledge_warnings": true` once they are checked.
    pub needs_acknowledgement: bool,
    /// Each rule the record broke (hard) or warns of (soft).
    pub findings: Vec<ApiFinding>,
}

/// One rule finding about one field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiFinding {
    /// The field, as the data dictionary names it.
    pub field: String,
    /// The value given.
    pub value: String,
    /// The rule's stable name (e.g. `after_death`).
    pub rule: String,
    /// `hard` (refuses the record) or `soft` (needs acknowledgement).
    pub severity: String,
    /// The rule in a clinician's words.
    pub message: String,
}

fn code_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The API's error response for a status and message (the guard's
/// refusals use it too).
pub(crate) fn api_error(status: StatusCode, message: String, findings: &[Finding]) -> Response {
    let needs_acknowledgement = !findings.is_empty()
        && findings
            .iter()
            .all(|f| f.severity == pdva_domain::Severity::Soft);
    let body = ApiErrorBody {
        error: ApiErrorDetail {
            status: status.as_u16(),
            message,
            needs_acknowledgement,
            findings: findings
                .iter()
                .map(|f| ApiFinding {
                    field: f.field.to_owned(),
                    value: f.value.clone(),
                    rule: code_of(&f.rule),
                    severity: code_of(&f.severity),
                    message: f.message.clone(),
                })
                .collect(),
        },
    };
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.status_and_message();
        let findings: &[Finding] = match &self.0 {
            WebError::Store(StoreError::Refused(f) | StoreError::NeedsAcknowledgement(f)) => f,
            _ => &[],
        };
        api_error(status, message, findings)
    }
}

/// Any path no route matches: "not found", in the API's error shape under
/// `/api/` (so that a client always gets one shape), as text elsewhere.
pub(crate) async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError(WebError::NotFound).into_response()
    } else {
        WebError::NotFound.into_response()
    }
}
