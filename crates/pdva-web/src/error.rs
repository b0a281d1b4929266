//! The web layer's one error type, and the one place errors become HTTP
//! responses: a status and a message ([`WebError`]), then, for a person,
//! a page ([`error_page`]) in the application's layout with its menu and a
//! sentence on what to do next (a plain page for someone not signed in), or
//! for a program under `/api/` one JSON shape ([`ApiErrorBody`]).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use pdva_domain::Finding;
use pdva_outcomes::OutcomesError;
use pdva_store::{Session, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::authz::Caller;
use crate::patients::Nav;

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
    pub(crate) fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            WebError::Store(StoreError::NotFound(_)) | WebError::NotFound => {
                (StatusCode::NOT_FOUND, "Not found".to_owned())
            }
            WebError::Store(
                e @ (StoreError::Refused(_)
                | StoreError::NeedsAcknowledgement(_)
                | StoreError::ReasonRequired(_)
                | StoreError::WrongPassword
                | StoreError::LastAdministrator
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

/// A handler's error as plain text: the guard, which knows who is asking,
/// turns it into a page ([`as_page`]).
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.status_and_message().into_response()
    }
}

/// The heading of an error page, in the user's words.
fn heading(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be read",
        401 => "Sign in first",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Not available at this address",
        409 => "Changed by someone else",
        413 => "Too large to send",
        422 => "Not accepted",
        _ if status.is_server_error() => "Something went wrong",
        _ => "The request was refused",
    }
}

/// What to do next, by status.
fn next_step(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => {
            "Go back and send it again; if it keeps happening, tell your registry administrator."
        }
        401 => "Sign in, then try again.",
        403 => {
            "Choose a page from the menu; if your work needs this page, ask your registry administrator for the access."
        }
        404 => {
            "Check the address, or find what you were looking for from the menu: a record of a site that is not yours, or one that was voided, is not shown."
        }
        405 => "Go back and use the page's own links and buttons.",
        409 => {
            "Open the record again to see it as it is now, check the other change, then make yours again."
        }
        413 => {
            "Send less at once (split an import into smaller files), or ask your registry administrator."
        }
        422 => "Go back, correct what the message says, and send it again.",
        _ if status.is_server_error() => {
            "Try again in a minute; if it happens again, tell your registry administrator what you were doing and when."
        }
        _ => "Go back, or choose a page from the menu.",
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    heading: &'static str,
    message: &'a str,
    next_step: &'static str,
}

#[derive(Template)]
#[template(path = "error_plain.html")]
struct PlainErrorPage<'a> {
    heading: &'static str,
    message: &'a str,
    next_step: &'static str,
}

/// An error as a page: in the application's layout with its menu for a
/// signed-in user, a plain page (with the way to sign in) for anyone else.
pub(crate) fn error_page(status: StatusCode, message: &str, session: Option<&Session>) -> Response {
    let (heading, next_step) = (heading(status), next_step(status));
    let page = match session {
        Some(session) => {
            // A caller with nothing in scope: the menu needs only the user.
            let caller = Caller {
                session: Some(session.clone()),
                csrf_token: session.csrf_token.clone(),
                patient: None,
                record: None,
                site: None,
                clinician: None,
                source: String::new(),
            };
            ErrorPage {
                nav: Nav::of(&caller),
                heading,
                message,
                next_step,
            }
            .render()
        }
        None => PlainErrorPage {
            heading,
            message,
            next_step,
        }
        .render(),
    };
    match page {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the error page could not be rendered");
            (status, message.to_owned()).into_response()
        }
    }
}

/// The longest plain-text error body made into a page (every message of
/// the registry is far shorter).
const LONGEST_MESSAGE: usize = 16 * 1024;

/// An error answered as plain text (a [`WebError`], or an extractor's
/// rejection of a malformed request) made into a page; any other response
/// as it is.
pub(crate) async fn as_page(response: Response, session: Option<&Session>) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let message = match axum::body::to_bytes(body, LONGEST_MESSAGE).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => heading(status).to_owned(),
    };
    let mut page = error_page(status, &message, session);
    // Keep what else the answer said (`Allow`, `WWW-Authenticate`, …).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    page
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
/// `/api/` (so that a client always gets one shape), a page elsewhere. The
/// session, if any, is looked up only to draw the menu: nothing is shown.
pub(crate) async fn not_found(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError(WebError::NotFound).into_response();
    }
    let session = match crate::auth::cookies(&headers).get(crate::auth::SESSION_COOKIE) {
        Some(token) => state
            .store
            .session(token, chrono::Utc::now())
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let (status, message) = WebError::NotFound.status_and_message();
    error_page(status, &message, session.as_ref())
}
