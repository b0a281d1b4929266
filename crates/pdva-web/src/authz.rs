//! Authorisation in one place.
//!
//! Every route is declared in [`ROUTES`] with the [`Permission`] it needs:
//! the roles allowed and where the site comes from (the patient or site in
//! the path, or the `site` of the query). One middleware, [`guard`], runs
//! on every route after routing: it finds the route's declaration (a route
//! without one is refused: fail closed), authenticates the caller (the
//! session cookie; under `/api/` also an `Authorization: Bearer` API token,
//! which stands for its user exactly as a session does, and which an HTML
//! route never accepts), checks the same-origin and CSRF rules on every
//! state-changing request made with a cookie (a bearer request carries no
//! ambient credential, so neither applies), the role and the site, and
//! hands the handler a [`Caller`]. Handlers never check rights themselves.
//!
//! Refusals: not signed in → the sign-in page (401 for the API, as for an
//! unknown, expired or revoked token); a role without the right → 403; a
//! patient, record or site of another site → 404, so that a URL does not
//! reveal whether it exists; a user whose password an administrator reset →
//! the change-password form until they have chosen a new one (403 for the
//! API: their tokens are refused meanwhile). Under `/api/` every refusal is
//! JSON in the API's one error shape ([`crate::ApiErrorBody`]); elsewhere a
//! refusal, and a handler's error, is a page ([`crate::error::error_page`]).

use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use pdva_domain::deident::Pseudonym;
use pdva_domain::values::SiteCode;
use pdva_domain::{Patient, PatientFile, RecordId};
use pdva_store::{AccessAction, AccessEvent, AnyRecord, Role, Session, StoredRecord, User};

use crate::AppState;
use crate::auth::{self, SESSION_COOKIE, SIGN_IN_CSRF_COOKIE};

use Role::{Admin, Clinician, GovernanceLead, Researcher};

/// Where a route's site comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No site: the route shows only what the user's sites allow, or nothing site-bound.
    None,
    /// The `{site}` of the path.
    Site,
    /// The home site of the `{patient_id}` of the path (and a `{record_id}`
    /// must belong to that patient).
    Patient,
    /// The `site` of the query string; users who do not see every site must name one of theirs.
    SiteQuery,
    /// The `site` of the query string, checked as for `SiteQuery`; without
    /// one, the route shows what the user sees (all of their own sites
    /// together, or every site).
    SiteQueryOrOwn,
    /// The home site of the patient whose keyed pseudonym is the
    /// `{pseudonym}` of the path; only patients of the research population.
    Pseudonym,
    /// The clinician named by the `clinician` of the query (a record id): a
    /// clinician only the one their account is linked to, a governance lead
    /// a clinician of one of their sites, an administrator any.
    ClinicianQuery,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// Short name, for logs and tests.
    pub name: &'static str,
    /// Roles allowed; empty for a public route.
    pub roles: &'static [Role],
    /// Whether a session is needed at all.
    pub signed_in: bool,
    /// Where the site comes from.
    pub scope: Scope,
    /// Which audience the route's output is made for.
    pub serves: Serves,
    /// What a successful `GET` of the route records in the access log.
    pub logged: Option<AccessAction>,
}

/// Who a route's output is made for (DOMAIN.md section 11). The guard
/// refuses a caller whose audience the route does not serve, and a test
/// walks [`ROUTES`] so that no route can list a researcher beside
/// identifiable data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    /// No patient data at all (sign-in, the stylesheet, account pages).
    NoPatientData,
    /// Identifiable data: only roles that see identifiers.
    Identifiable,
    /// De-identified patient-level data: researchers only.
    Research,
    /// Either, chosen by the caller's role through [`Caller::audience`]
    /// (the outcomes dashboard and API).
    ByRole,
}

pub use pdva_domain::disclosure::Audience;

/// The audience of a role: the one place where a role becomes an audience.
pub fn audience_of(role: Role) -> Audience {
    match role {
        Researcher => Audience::Research,
        Clinician | GovernanceLead | Admin => Audience::Identifiable,
    }
}

/// Anyone, signed in or not.
pub const PUBLIC: Permission = Permission {
    name: "public",
    roles: &[],
    signed_in: false,
    scope: Scope::None,
    serves: Serves::NoPatientData,
    logged: None,
};
/// Anyone signed in.
pub const SIGNED_IN: Permission = Permission {
    name: "signed_in",
    roles: &[Clinician, GovernanceLead, Researcher, Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::NoPatientData,
    logged: None,
};
/// The identifiable patient list of the user's sites.
pub const LIST_PATIENTS: Permission = Permission {
    name: "list_patients",
    roles: &[Clinician, GovernanceLead, Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::Identifiable,
    logged: Some(AccessAction::ListPatients),
};
/// A patient's identifiable page.
pub const VIEW_PATIENT: Permission = Permission {
    name: "view_patient",
    roles: &[Clinician, GovernanceLead, Admin],
    signed_in: true,
    scope: Scope::Patient,
    serves: Serves::Identifiable,
    logged: Some(AccessAction::ViewPatient),
};
/// Registering a patient at a site.
pub const REGISTER_PATIENT: Permission = Permission {
    name: "register_patient",
    roles: &[Clinician],
    signed_in: true,
    scope: Scope::Site,
    serves: Serves::Identifiable,
    logged: None,
};
/// Recording, amending, voiding and signing off a patient's care.
pub const RECORD_CARE: Permission = Permission {
    name: "record_care",
    roles: &[Clinician],
    signed_in: true,
    scope: Scope::Patient,
    serves: Serves::Identifiable,
    logged: Some(AccessAction::ViewPatient),
};
/// The sign-off queue of the user's sites (identifiable: registry ids).
pub const SIGN_OFF_QUEUE: Permission = Permission {
    name: "sign_off_queue",
    roles: &[Clinician, GovernanceLead, Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::Identifiable,
    logged: Some(AccessAction::ListPatients),
};
/// The follow-up worklist (identifiable).
pub const WORKLIST: Permission = Permission {
    name: "worklist",
    roles: &[Clinician, GovernanceLead, Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::Identifiable,
    logged: Some(AccessAction::ListPatients),
};
/// Aggregate outcomes of the sites the user sees.
pub const OUTCOMES: Permission = Permission {
    name: "outcomes",
    roles: &[Clinician, GovernanceLead, Researcher, Admin],
    signed_in: true,
    scope: Scope::SiteQuery,
    serves: Serves::ByRole,
    logged: Some(AccessAction::Report),
};
/// The outcomes dashboard: of a site named, or of all the user's sites.
pub const DASHBOARD: Permission = Permission {
    name: "dashboard",
    roles: &[Clinician, GovernanceLead, Researcher, Admin],
    signed_in: true,
    scope: Scope::SiteQueryOrOwn,
    serves: Serves::ByRole,
    logged: Some(AccessAction::Report),
};
/// The IPG773 compliance view of a site.
pub const COMPLIANCE: Permission = Permission {
    name: "compliance",
    roles: &[GovernanceLead, Admin],
    signed_in: true,
    scope: Scope::Site,
    serves: Serves::Identifiable,
    logged: Some(AccessAction::Report),
};
/// Recording a site's governance notification and review meetings.
pub const RECORD_GOVERNANCE: Permission = Permission {
    name: "record_governance",
    roles: &[GovernanceLead],
    signed_in: true,
    scope: Scope::Site,
    serves: Serves::Identifiable,
    logged: None,
};
/// The Reports page: which reports the user may generate (no patient data).
pub const REPORTS: Permission = Permission {
    name: "reports",
    roles: &[Clinician, GovernanceLead, Researcher, Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::NoPatientData,
    logged: None,
};
/// A clinician's appraisal report (IPG773 1.2).
pub const APPRAISAL_REPORT: Permission = Permission {
    name: "appraisal_report",
    roles: &[Clinician, GovernanceLead, Admin],
    signed_in: true,
    scope: Scope::ClinicianQuery,
    serves: Serves::Identifiable,
    logged: Some(AccessAction::Report),
};
/// A site's governance review (IPG773 1.3) and audit-tool summary.
pub const GOVERNANCE_REPORT: Permission = Permission {
    name: "governance_report",
    roles: &[GovernanceLead, Admin],
    signed_in: true,
    scope: Scope::SiteQuery,
    serves: Serves::Identifiable,
    logged: Some(AccessAction::Report),
};
/// The research report (IPG773 1.4): researchers only.
pub const RESEARCH_REPORT: Permission = Permission {
    name: "research_report",
    roles: &[Researcher],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::Research,
    logged: Some(AccessAction::Report),
};
/// The Exports page: what the user may export (no patient data on it).
pub const EXPORTS: Permission = Permission {
    name: "exports",
    roles: &[GovernanceLead, Researcher, Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::NoPatientData,
    logged: None,
};
/// An export of patient-level data (web download and API): governance
/// leads of their sites and administrators, identifiable or de-identified;
/// researchers of their sites, always de-identified.
pub const EXPORT_DATA: Permission = Permission {
    name: "export_data",
    roles: &[GovernanceLead, Researcher, Admin],
    signed_in: true,
    scope: Scope::SiteQuery,
    serves: Serves::ByRole,
    logged: Some(AccessAction::Export),
};
/// Users and their rights.
pub const MANAGE_USERS: Permission = Permission {
    name: "manage_users",
    roles: &[Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::NoPatientData,
    logged: None,
};

/// The de-identified patients of the researcher's sites (the research
/// population only).
pub const RESEARCH_PATIENTS: Permission = Permission {
    name: "research_patients",
    roles: &[Researcher],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::Research,
    logged: None,
};
/// One de-identified patient, by keyed pseudonym.
pub const VIEW_RESEARCH_PATIENT: Permission = Permission {
    name: "view_research_patient",
    roles: &[Researcher],
    signed_in: true,
    scope: Scope::Pseudonym,
    serves: Serves::Research,
    logged: Some(AccessAction::ViewResearchPatient),
};
/// The access log: who saw which patient, report or export.
pub const ACCESS_LOG: Permission = Permission {
    name: "access_log",
    roles: &[Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::NoPatientData,
    logged: None,
};

/// The bulk import of tidy CSV files (the upload page): administrators.
pub const IMPORT_DATA: Permission = Permission {
    name: "import_data",
    roles: &[Admin],
    signed_in: true,
    scope: Scope::None,
    // The problems it lists quote the values of the files uploaded.
    serves: Serves::Identifiable,
    logged: None,
};

/// Sites and clinicians with their pDVA credentials.
pub const MANAGE_REFERENCE: Permission = Permission {
    name: "manage_reference",
    roles: &[Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::NoPatientData,
    logged: None,
};

/// Sites and clinicians as reference data (no patient data): every
/// signed-in role may read them, through the API.
pub const READ_REFERENCE: Permission = Permission {
    name: "read_reference",
    roles: &[Clinician, GovernanceLead, Researcher, Admin],
    signed_in: true,
    scope: Scope::None,
    serves: Serves::NoPatientData,
    logged: None,
};

/// One declared route.
#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    /// `GET`, `POST` or `PUT`.
    pub method: &'static str,
    /// The route's path as the router declares it.
    pub path: &'static str,
    /// What it needs.
    pub permission: Permission,
}

const fn r(method: &'static str, path: &'static str, permission: Permission) -> RouteRule {
    RouteRule {
        method,
        path,
        permission,
    }
}

/// Every route of the application and what it needs. The router and this
/// table must agree: a route missing here is refused.
pub const ROUTES: &[RouteRule] = &[
    r("GET", "/", PUBLIC),
    r("GET", "/healthz", PUBLIC),
    r("GET", "/static/registry.css", PUBLIC),
    r("GET", "/sign-in", PUBLIC),
    r("POST", "/sign-in", PUBLIC),
    r("POST", "/sign-out", SIGNED_IN),
    r("GET", "/patients", LIST_PATIENTS),
    r("GET", "/sites/{site}/patients/new", REGISTER_PATIENT),
    r("POST", "/sites/{site}/patients/new", REGISTER_PATIENT),
    r("GET", "/patients/{patient_id}", VIEW_PATIENT),
    r("GET", "/patients/{patient_id}/edit", RECORD_CARE),
    r("POST", "/patients/{patient_id}/edit", RECORD_CARE),
    r(
        "GET",
        "/patients/{patient_id}/records/new/{kind}",
        RECORD_CARE,
    ),
    r(
        "POST",
        "/patients/{patient_id}/records/new/{kind}",
        RECORD_CARE,
    ),
    r(
        "GET",
        "/patients/{patient_id}/records/{record_id}/edit",
        RECORD_CARE,
    ),
    r(
        "POST",
        "/patients/{patient_id}/records/{record_id}/edit",
        RECORD_CARE,
    ),
    r(
        "POST",
        "/patients/{patient_id}/records/{record_id}/void",
        RECORD_CARE,
    ),
    r(
        "POST",
        "/patients/{patient_id}/records/{record_id}/sign-off",
        RECORD_CARE,
    ),
    r("GET", "/worklist", WORKLIST),
    r("GET", "/sign-off", SIGN_OFF_QUEUE),
    r("GET", "/sites/{site}/compliance", COMPLIANCE),
    r("GET", "/sites/{site}/compliance.csv", COMPLIANCE),
    r(
        "GET",
        "/sites/{site}/governance-meetings/new",
        RECORD_GOVERNANCE,
    ),
    r(
        "POST",
        "/sites/{site}/governance-meetings/new",
        RECORD_GOVERNANCE,
    ),
    r("GET", "/sites/{site}/governance-lead", RECORD_GOVERNANCE),
    r("POST", "/sites/{site}/governance-lead", RECORD_GOVERNANCE),
    r("GET", "/admin/users", MANAGE_USERS),
    r("GET", "/admin/users/new", MANAGE_USERS),
    r("POST", "/admin/users/new", MANAGE_USERS),
    r("GET", "/admin/users/{user_id}/access", MANAGE_USERS),
    r("POST", "/admin/users/{user_id}/access", MANAGE_USERS),
    r("GET", "/admin/users/{user_id}/password", MANAGE_USERS),
    r("POST", "/admin/users/{user_id}/password", MANAGE_USERS),
    r("GET", "/admin/sites", MANAGE_REFERENCE),
    r("GET", "/admin/sites/new", MANAGE_REFERENCE),
    r("POST", "/admin/sites/new", MANAGE_REFERENCE),
    r("GET", "/admin/sites/{site_code}/edit", MANAGE_REFERENCE),
    r("POST", "/admin/sites/{site_code}/edit", MANAGE_REFERENCE),
    r("GET", "/admin/clinicians/new", MANAGE_REFERENCE),
    r("POST", "/admin/clinicians/new", MANAGE_REFERENCE),
    r(
        "GET",
        "/admin/clinicians/{clinician_id}/edit",
        MANAGE_REFERENCE,
    ),
    r(
        "POST",
        "/admin/clinicians/{clinician_id}/edit",
        MANAGE_REFERENCE,
    ),
    r("GET", "/admin/access", ACCESS_LOG),
    r("GET", "/admin/import", IMPORT_DATA),
    r("POST", "/admin/import", IMPORT_DATA),
    r("GET", "/admin/import/templates", IMPORT_DATA),
    r("GET", "/research/patients", RESEARCH_PATIENTS),
    r(
        "GET",
        "/research/patients/{pseudonym}",
        VIEW_RESEARCH_PATIENT,
    ),
    r("GET", "/api/v1/outcomes", OUTCOMES),
    r("GET", "/api/v1/openapi.json", PUBLIC),
    r("GET", "/api/v1/sites", READ_REFERENCE),
    r("POST", "/api/v1/sites", MANAGE_REFERENCE),
    r("GET", "/api/v1/sites/{site}", READ_REFERENCE),
    r("PUT", "/api/v1/sites/{site}", MANAGE_REFERENCE),
    r("POST", "/api/v1/sites/{site}/patients", REGISTER_PATIENT),
    r("GET", "/api/v1/clinicians", READ_REFERENCE),
    r("POST", "/api/v1/clinicians", MANAGE_REFERENCE),
    r("GET", "/api/v1/clinicians/{clinician_id}", READ_REFERENCE),
    r("PUT", "/api/v1/clinicians/{clinician_id}", MANAGE_REFERENCE),
    r("GET", "/api/v1/patients", LIST_PATIENTS),
    r("GET", "/api/v1/patients/{patient_id}", VIEW_PATIENT),
    r("PUT", "/api/v1/patients/{patient_id}", RECORD_CARE),
    r("GET", "/api/v1/patients/{patient_id}/records", VIEW_PATIENT),
    r("POST", "/api/v1/patients/{patient_id}/records", RECORD_CARE),
    r(
        "GET",
        "/api/v1/patients/{patient_id}/records/{record_id}",
        VIEW_PATIENT,
    ),
    r(
        "PUT",
        "/api/v1/patients/{patient_id}/records/{record_id}",
        RECORD_CARE,
    ),
    r(
        "POST",
        "/api/v1/patients/{patient_id}/records/{record_id}/void",
        RECORD_CARE,
    ),
    r(
        "POST",
        "/api/v1/patients/{patient_id}/records/{record_id}/sign-off",
        RECORD_CARE,
    ),
    r("GET", "/account/tokens", SIGNED_IN),
    r("POST", "/account/tokens", SIGNED_IN),
    r("POST", "/account/tokens/{token_id}/revoke", SIGNED_IN),
    r("GET", "/account/password", SIGNED_IN),
    r("POST", "/account/password", SIGNED_IN),
    r("GET", "/dashboard", DASHBOARD),
    r("GET", "/reports", REPORTS),
    r("GET", "/reports/appraisal", APPRAISAL_REPORT),
    r("GET", "/reports/governance", GOVERNANCE_REPORT),
    r("GET", "/reports/audit-summary", GOVERNANCE_REPORT),
    r("GET", "/reports/research", RESEARCH_REPORT),
    r("GET", "/exports", EXPORTS),
    r("GET", "/exports/download", EXPORT_DATA),
    r("GET", "/api/v1/exports", EXPORT_DATA),
];

/// What a user whose password an administrator reset may still reach (as
/// `method path` of [`ROUTES`]) before choosing a new one: the form to
/// choose it, signing in and out, and what every page needs.
const BEFORE_PASSWORD_CHANGE: &[(&str, &str)] = &[
    ("GET", crate::account::CHANGE_PASSWORD_PATH),
    ("POST", crate::account::CHANGE_PASSWORD_PATH),
    ("GET", "/sign-in"),
    ("POST", "/sign-in"),
    ("POST", "/sign-out"),
    ("GET", "/static/registry.css"),
    ("GET", "/healthz"),
];

/// The declaration of a route. `HEAD` is a `GET` without its body (the
/// router answers it with the `GET` handler), so it needs what `GET` needs.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static RouteRule> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The methods declared for a path, for an `Allow` header (`HEAD` with
/// `GET`); empty when the path is not declared at all.
pub fn methods_for(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = Vec::new();
    for rule in ROUTES.iter().filter(|r| r.path == path) {
        methods.push(rule.method);
        if rule.method == "GET" {
            methods.push("HEAD");
        }
    }
    methods
}

/// The patient a route is about, as the guard loaded it.
#[derive(Debug, Clone)]
pub struct PatientInScope {
    /// The patient's id.
    pub id: RecordId,
    /// The patient.
    pub patient: Patient,
}

/// Who is calling, and what the guard established for the route.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The signed-in user (none on a public route without a session).
    pub session: Option<Session>,
    /// The CSRF token for the forms of the page (the session's, or the
    /// sign-in form's pre-session token).
    pub csrf_token: String,
    /// The patient of the path, checked against the user's sites.
    pub patient: Option<PatientInScope>,
    /// The record of the path, checked to belong to the patient.
    pub record: Option<StoredRecord>,
    /// The site of the path or query, checked against the user's sites.
    pub site: Option<SiteCode>,
    /// The clinician of the query, checked against the user's rights.
    pub clinician: Option<RecordId>,
    /// Where the request came from (the peer's address), for the log;
    /// `unknown` when the server did not say (a request made in process).
    pub source: String,
}

impl Caller {
    /// The signed-in user. Routes that need one always have one.
    pub fn user(&self) -> &User {
        &self
            .session
            .as_ref()
            .expect("the guard lets no one without a session reach this route")
            .user
    }

    /// Who the output is for: from the signed-in user's role, never from
    /// the request.
    pub fn audience(&self) -> Audience {
        audience_of(self.user().role)
    }
}

/// A refusal from the guard.
enum Refusal {
    SignInNeeded {
        next: String,
    },
    /// An `Authorization: Bearer` token that is unknown, expired or revoked,
    /// or whose user is disabled (which of these is not said).
    BadToken,
    Forbidden(&'static str),
    NotFound,
    /// A method the path does not have: the methods it has.
    MethodNotAllowed(Vec<&'static str>),
    /// A body over the route's limit.
    TooLarge,
    /// A body that could not be read (the client stopped sending it).
    Unreadable,
    /// The user's password was reset: they must choose a new one first.
    PasswordChangeNeeded,
    Failed(pdva_store::StoreError),
}

impl Refusal {
    /// The refusal as a response: JSON in the API's one error shape under
    /// `/api/`, a page (in the layout for the signed-in `session`) or a
    /// redirect elsewhere.
    fn respond(self, api: bool, session: Option<&Session>) -> Response {
        use crate::error::error_page;
        if let Refusal::MethodNotAllowed(methods) = &self {
            let allow = methods.join(", ");
            let message = format!("This address accepts {allow} only.");
            let mut response = if api {
                crate::error::api_error(StatusCode::METHOD_NOT_ALLOWED, message, &[])
            } else {
                error_page(StatusCode::METHOD_NOT_ALLOWED, &message, session)
            };
            if let Ok(allow) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            return response;
        }
        let plain = match &self {
            Refusal::TooLarge => Some((StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.")),
            Refusal::Unreadable => Some((
                StatusCode::BAD_REQUEST,
                "The request's body could not be read.",
            )),
            _ => None,
        };
        if let Some((status, message)) = plain {
            return if api {
                crate::error::api_error(status, message.to_owned(), &[])
            } else {
                error_page(status, message, session)
            };
        }
        if api {
            let (status, message) = match self {
                Refusal::SignInNeeded { .. } => (
                    StatusCode::UNAUTHORIZED,
                    "Sign in first, or send an API token: Authorization: Bearer pdva_…",
                ),
                Refusal::BadToken => (
                    StatusCode::UNAUTHORIZED,
                    "The API token is unknown, expired or revoked, or its account is disabled.",
                ),
                Refusal::Forbidden(why) => (StatusCode::FORBIDDEN, why),
                Refusal::NotFound => (StatusCode::NOT_FOUND, "Not found"),
                Refusal::PasswordChangeNeeded => (
                    StatusCode::FORBIDDEN,
                    "The account's password was reset: its holder must sign in on the web and choose a new password before its API tokens are accepted again.",
                ),
                Refusal::MethodNotAllowed(_) | Refusal::TooLarge | Refusal::Unreadable => {
                    unreachable!("answered above")
                }
                Refusal::Failed(e) => return crate::error::ApiError::from(e).into_response(),
            };
            let mut response = crate::error::api_error(status, message.to_owned(), &[]);
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"pdva\""),
                );
            }
            return response;
        }
        match self {
            Refusal::SignInNeeded { next, .. } => {
                Redirect::to(&format!("/sign-in?next={}", auth::url_encode(&next))).into_response()
            }
            Refusal::BadToken => error_page(StatusCode::UNAUTHORIZED, "Sign in first.", session),
            Refusal::Forbidden(why) => error_page(StatusCode::FORBIDDEN, why, session),
            Refusal::NotFound => error_page(StatusCode::NOT_FOUND, "Not found", session),
            Refusal::PasswordChangeNeeded => {
                Redirect::to(crate::account::CHANGE_PASSWORD_PATH).into_response()
            }
            Refusal::MethodNotAllowed(_) | Refusal::TooLarge | Refusal::Unreadable => {
                unreachable!("answered above")
            }
            Refusal::Failed(e) => {
                let (status, message) = crate::WebError::from(e).status_and_message();
                error_page(status, &message, session)
            }
        }
    }
}

/// The token of an `Authorization: Bearer` header, if the request has one.
fn bearer_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The guard: runs on every route after routing (see the module's notes).
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let api = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|m| m.as_str().starts_with("/api/"));
    // The session, once known, so that even a refusal's page has the menu.
    let mut session = None;
    let checked = check(&state, request, &mut session).await;
    match checked {
        Ok((request, signed_in, access)) => {
            let mut response = next.run(request).await;
            // What was shown is logged once it was shown, batched by the
            // store so that the page does not wait for the write.
            if let Some(mut access) = access
                && response.status().is_success()
            {
                // A report download says which registry state it was made
                // from (who generated what, for breach reporting).
                if let Some(v) = response
                    .extensions()
                    .get::<crate::reports::ReportDataVersion>()
                {
                    let detail = access.detail.take().unwrap_or_default();
                    access.detail = Some(format!("{detail} data version {}", v.0));
                }
                if let Some(e) = response.extensions().get::<crate::exports::ExportLogged>() {
                    let detail = access.detail.take().unwrap_or_default();
                    access.detail = Some(format!("{detail} {}", e.0));
                }
                state.store.log_access(access);
            }
            if !api {
                response = crate::error::as_page(response, session.as_ref()).await;
            }
            if signed_in {
                // Pages with patients' data are never kept by caches.
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            response
        }
        Err(refusal) => refusal.respond(api, session.as_ref()),
    }
}

async fn check(
    state: &AppState,
    request: Request,
    seen: &mut Option<Session>,
) -> Result<(Request, bool, Option<AccessEvent>), Refusal> {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let Some(rule) = rule_for(&parts.method, &path) else {
        // A method the path does not have (PUT, OPTIONS, HEAD on a form's
        // POST, …) is the client's mistake, common from scanners: 405, and
        // no error in the log, which would flood it. A path the router has
        // but the table lacks is the program's mistake: refused (fail
        // closed) and logged as an error.
        let methods = methods_for(&path);
        if !methods.is_empty() {
            tracing::debug!(method = %parts.method, path, "method not allowed");
            return Err(Refusal::MethodNotAllowed(methods));
        }
        tracing::error!(method = %parts.method, path, "route has no declared permission");
        return Err(Refusal::Forbidden("This route declares no permission."));
    };
    let permission = rule.permission;
    let now = chrono::Utc::now();
    let cookies = auth::cookies(&parts.headers);
    // Under /api/ an API token authenticates as its user, exactly as a
    // session would; elsewhere (the HTML pages) a token is not accepted,
    // so a stolen token opens no page and a page needs a session.
    let bearer = if path.starts_with("/api/") {
        bearer_token(&parts.headers)
    } else {
        None
    };
    let session = match (&bearer, cookies.get(SESSION_COOKIE)) {
        (Some(token), _) => {
            let used = state
                .store
                .authenticate_api_token(token, now)
                .await
                .map_err(Refusal::Failed)?
                .ok_or(Refusal::BadToken)?;
            Some(Session {
                user: used.user,
                // No forms: a bearer request needs no CSRF token.
                csrf_token: String::new(),
                expires_at: used.expires_at,
            })
        }
        (None, Some(token)) => state
            .store
            .session(token, now)
            .await
            .map_err(Refusal::Failed)?,
        (None, None) => None,
    };
    seen.clone_from(&session);
    // A reset password is replaced before anything else is done with the
    // account, on the web or through its API tokens.
    if session
        .as_ref()
        .is_some_and(|s| s.user.must_change_password)
        && !BEFORE_PASSWORD_CHANGE.contains(&(rule.method, rule.path))
    {
        return Err(Refusal::PasswordChangeNeeded);
    }

    // Every state-changing request made with a cookie: same origin, and the
    // CSRF token. A bearer request carries no ambient credential (a browser
    // never adds the header by itself), so neither applies to it.
    let mut body = body;
    if parts.method != Method::GET && parts.method != Method::HEAD && bearer.is_none() {
        if !auth::same_origin(&parts.headers) {
            return Err(Refusal::Forbidden(
                "Refused: the request did not come from this site's own pages.",
            ));
        }
        // The body is already limited by the outermost layer
        // (`crate::limit_body`); the same limit here keeps this read bounded
        // even where that layer is not in front.
        let bytes = axum::body::to_bytes(body, crate::body_limit(parts.uri.path()))
            .await
            .map_err(|e| {
                if crate::is_too_large(&e) {
                    Refusal::TooLarge
                } else {
                    Refusal::Unreadable
                }
            })?;
        // A form sends the token as a field (an upload form as a part of
        // its multipart body); a script using the API with a session cookie
        // sends it in a header.
        let sent = match parts
            .headers
            .get(auth::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| auth::form_value(&bytes, auth::CSRF_FIELD))
        {
            Some(sent) => Some(sent),
            None => {
                let content_type = parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                auth::multipart_value(content_type, &bytes, auth::CSRF_FIELD).await
            }
        };
        let expected = match &session {
            Some(s) => Some(s.csrf_token.clone()),
            None if !permission.signed_in => cookies.get(SIGN_IN_CSRF_COOKIE).cloned(),
            None => None,
        };
        let valid = match (&sent, &expected) {
            (Some(sent), Some(expected)) => auth::tokens_match(sent, expected),
            _ => false,
        };
        if !valid && (session.is_some() || !permission.signed_in) {
            return Err(Refusal::Forbidden(
                "Refused: the form's security token is missing or out of date. Go back, reload the page and try again.",
            ));
        }
        body = axum::body::Body::from(bytes);
    }

    let mut caller = Caller {
        csrf_token: session
            .as_ref()
            .map(|s| s.csrf_token.clone())
            .or_else(|| cookies.get(SIGN_IN_CSRF_COOKIE).cloned())
            .unwrap_or_default(),
        session,
        patient: None,
        record: None,
        site: None,
        clinician: None,
        source: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
    };

    if permission.signed_in {
        let Some(session) = &caller.session else {
            return Err(Refusal::SignInNeeded {
                next: parts.uri.path().to_owned(),
            });
        };
        let user = &session.user;
        if !permission.roles.contains(&user.role) {
            return Err(Refusal::Forbidden(
                "Your role does not give you access to this page.",
            ));
        }
        // Defence in depth behind the table's roles (which a test checks
        // against `serves`): identifiable output never reaches a research
        // audience, nor research pages an identifiable one.
        let audience = audience_of(user.role);
        match (permission.serves, audience) {
            (Serves::Identifiable, Audience::Research)
            | (Serves::Research, Audience::Identifiable) => {
                return Err(Refusal::Forbidden(
                    "Your role does not give you access to this page.",
                ));
            }
            _ => {}
        }
        let params = path_params(&mut parts).await;
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        match permission.scope {
            Scope::None => {}
            Scope::Site => {
                let site = param("site")
                    .and_then(|s| SiteCode::parse(&s).ok())
                    .ok_or(Refusal::NotFound)?;
                if !user.has_site(&site) {
                    return Err(Refusal::NotFound);
                }
                caller.site = Some(site);
            }
            Scope::Patient => {
                let id: RecordId = param("patient_id")
                    .and_then(|s| s.parse().ok())
                    .ok_or(Refusal::NotFound)?;
                let patient = match state.store.get(id).await {
                    Ok(StoredRecord {
                        meta,
                        record: AnyRecord::Patient(p),
                    }) if !meta.voided => p,
                    Ok(_) | Err(pdva_store::StoreError::NotFound(_)) => {
                        return Err(Refusal::NotFound);
                    }
                    Err(e) => return Err(Refusal::Failed(e)),
                };
                if !user.has_site(&patient.home_site) {
                    return Err(Refusal::NotFound);
                }
                if audience == Audience::Research {
                    // Researchers reach patients by pseudonym only.
                    return Err(Refusal::NotFound);
                }
                if let Some(record_id) = param("record_id") {
                    let record_id: RecordId = record_id.parse().map_err(|_| Refusal::NotFound)?;
                    let record = match state.store.get(record_id).await {
                        Ok(r) if r.meta.patient_id == Some(id) => r,
                        Ok(_) | Err(pdva_store::StoreError::NotFound(_)) => {
                            return Err(Refusal::NotFound);
                        }
                        Err(e) => return Err(Refusal::Failed(e)),
                    };
                    caller.record = Some(record);
                }
                caller.site = Some(patient.home_site.clone());
                caller.patient = Some(PatientInScope { id, patient });
            }
            Scope::Pseudonym => {
                let pseudonym = param("pseudonym")
                    .and_then(|p| Pseudonym::parse(&p))
                    .ok_or(Refusal::NotFound)?;
                let id = state
                    .pseudonyms
                    .resolve(&state.store, &pseudonym)
                    .await
                    .map_err(Refusal::Failed)?
                    .ok_or(Refusal::NotFound)?;
                // The index may predate a void: a voided patient is not found.
                match state.store.get(id).await {
                    Ok(StoredRecord {
                        meta,
                        record: AnyRecord::Patient(_),
                    }) if !meta.voided => {}
                    Ok(_) | Err(pdva_store::StoreError::NotFound(_)) => {
                        return Err(Refusal::NotFound);
                    }
                    Err(e) => return Err(Refusal::Failed(e)),
                }
                let file = match state.store.patient_file(id).await {
                    Ok(file) => file,
                    Err(pdva_store::StoreError::NotFound(_)) => return Err(Refusal::NotFound),
                    Err(e) => return Err(Refusal::Failed(e)),
                };
                // Outside the user's sites, or outside the research
                // population: not found, so that a pseudonym tells nothing.
                if !user.has_site(&file.patient.home_site) || !research_use_allowed(&file) {
                    return Err(Refusal::NotFound);
                }
                caller.site = Some(file.patient.home_site.clone());
                caller.patient = Some(PatientInScope {
                    id,
                    patient: file.patient,
                });
            }
            Scope::SiteQuery | Scope::SiteQueryOrOwn => {
                let site = parts.uri.query().and_then(|q| {
                    auth::form_value(q.as_bytes(), "site").filter(|s| !s.trim().is_empty())
                });
                match site {
                    Some(site) => {
                        let site = SiteCode::parse(&site).map_err(|_| Refusal::NotFound)?;
                        if !user.has_site(&site) {
                            return Err(Refusal::NotFound);
                        }
                        caller.site = Some(site);
                    }
                    None if user.role == Role::Admin
                        || user.sites == pdva_store::SiteAccess::All
                        || permission.scope == Scope::SiteQueryOrOwn => {}
                    None => {
                        return Err(Refusal::Forbidden("Name one of your sites: ?site=CODE."));
                    }
                }
            }
            Scope::ClinicianQuery => {
                let id: RecordId = parts
                    .uri
                    .query()
                    .and_then(|q| auth::form_value(q.as_bytes(), "clinician"))
                    .and_then(|c| c.trim().parse().ok())
                    .ok_or(Refusal::NotFound)?;
                let reference = state
                    .store
                    .reference_data()
                    .await
                    .map_err(Refusal::Failed)?;
                let clinician = reference.clinicians.get(&id).ok_or(Refusal::NotFound)?;
                let allowed = match user.role {
                    Role::Admin => true,
                    Role::GovernanceLead => clinician.sites.iter().any(|s| user.has_site(s)),
                    Role::Clinician => user.clinician == Some(id),
                    Role::Researcher => false,
                };
                if !allowed {
                    return Err(if user.role == Role::Clinician {
                        Refusal::Forbidden("You may generate your own appraisal report only.")
                    } else {
                        Refusal::NotFound
                    });
                }
                caller.clinician = Some(id);
            }
        }
    }
    let access = match (&caller.session, permission.logged) {
        (Some(session), Some(action)) if parts.method == Method::GET => Some(AccessEvent::now(
            session.user.username.to_string(),
            session.user.role.as_str(),
            action,
            caller.patient.as_ref().map(|p| p.id),
            Some(match parts.uri.query() {
                Some(q) => format!("{} ?{q}", parts.uri.path()),
                None => parts.uri.path().to_owned(),
            }),
        )),
        _ => None,
    };
    parts.extensions.insert(caller);
    Ok((
        Request::from_parts(parts, body),
        permission.signed_in,
        access,
    ))
}

/// Whether a patient's data may be used for research (DOMAIN.md 4.4 and
/// 11): only patients in the research population today
/// (`pdva_domain::disclosure::in_research_population`), never a patient
/// without a consent record.
pub fn research_use_allowed(file: &PatientFile) -> bool {
    // The one definition of the research population (fail closed: no
    // consent, no research use), as of today.
    pdva_domain::disclosure::in_research_population(file, chrono::Local::now().date_naive())
}

/// The path parameters of the matched route.
async fn path_params(parts: &mut axum::http::request::Parts) -> Vec<(String, String)> {
    use axum::extract::FromRequestParts;
    match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one rule that keeps identifiable data from researchers: each
    /// route's roles agree with the audience its output is made for, so a
    /// route added with the wrong roles fails here before it ships.
    #[test]
    fn every_route_serves_only_the_audiences_of_its_roles() {
        for rule in ROUTES {
            let p = rule.permission;
            let audiences: Vec<Audience> = p.roles.iter().map(|r| audience_of(*r)).collect();
            match p.serves {
                Serves::Identifiable => assert!(
                    !audiences.contains(&Audience::Research),
                    "{} {} shows identifiable data to researchers",
                    rule.method,
                    rule.path
                ),
                Serves::Research => assert!(
                    !audiences.contains(&Audience::Identifiable),
                    "{} {} is a research page open to identifiable roles",
                    rule.method,
                    rule.path
                ),
                Serves::ByRole | Serves::NoPatientData => {}
            }
            if p.scope == Scope::Patient {
                assert_eq!(
                    p.serves,
                    Serves::Identifiable,
                    "{} {}: a patient by record id is identifiable",
                    rule.method,
                    rule.path
                );
            }
            if p.scope == Scope::Pseudonym {
                assert_eq!(p.serves, Serves::Research, "{} {}", rule.method, rule.path);
            }
            if matches!(p.scope, Scope::Patient | Scope::Pseudonym) && rule.method == "GET" {
                assert!(
                    p.logged.is_some(),
                    "{} {} shows a patient without logging the view",
                    rule.method,
                    rule.path
                );
            }
        }
    }
}
