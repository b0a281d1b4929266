//! The Reports page and the report downloads: the clinician appraisal
//! report (IPG773 1.2), the organisation governance review (1.3), the
//! research report (1.4) and the audit-tool summary. Who may generate which
//! is declared in `authz::ROUTES` (a clinician only their own appraisal, a
//! researcher only the research report); the guard logs each download with
//! its query, and the data version the report was made from is added to
//! that entry ([`ReportDataVersion`]).

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use pdva_reports::Report;
use pdva_reports::gather::{Generation, Period};
use pdva_store::Role;

use crate::authz::Caller;
use crate::patients::{Nav, today};
use crate::{AppState, WebError};

/// The data version a download was made from, handed by the handler to the
/// guard (as a response extension) for the access log.
#[derive(Debug, Clone)]
pub struct ReportDataVersion(pub String);

/// A report's format, as the forms name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// PDF.
    #[default]
    Pdf,
    /// Standalone HTML.
    Html,
    /// The view types as JSON.
    Json,
}

/// The query of a report download. Dates are parsed here so that a bad one
/// is refused with the field and the value.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: Format,
}

impl ReportQuery {
    fn period(&self) -> Result<Period, WebError> {
        let date = |field: &'static str, value: &str| -> Result<Option<NaiveDate>, WebError> {
            let value = value.trim();
            if value.is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    WebError::Invalid(format!("{field}: \"{value}\" is not a date (YYYY-MM-DD)"))
                })
        };
        Ok(Period::new(
            date("from", &self.from)?,
            date("to", &self.to)?,
        )?)
    }
}

fn generation(caller: &Caller) -> Generation {
    Generation {
        as_of: today(),
        generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        generated_by: caller.user().username.to_string(),
    }
}

/// The report as a download named after it, its subject, period and data
/// version.
fn download(report: &Report, format: Format) -> Result<Response, WebError> {
    let (bytes, content_type, extension) = match format {
        Format::Pdf => (
            pdva_pdf::render(report).map_err(|e| WebError::Report(e.to_string()))?,
            "application/pdf",
            "pdf",
        ),
        Format::Html => (
            pdva_reports::html::render(report)?.into_bytes(),
            "text/html; charset=utf-8",
            "html",
        ),
        Format::Json => (
            serde_json::to_vec_pretty(report).map_err(|e| WebError::Report(e.to_string()))?,
            "application/json",
            "json",
        ),
    };
    Ok(attachment(
        bytes,
        content_type,
        &report.file_name(extension),
        &report.stamp.data_version,
    ))
}

pub(crate) fn attachment(
    bytes: Vec<u8>,
    content_type: &'static str,
    name: &str,
    data_version: &str,
) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The name is made of ASCII letters, digits, '-', '_' and '.' only.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
        .extensions_mut()
        .insert(ReportDataVersion(data_version.to_owned()));
    response
}

/// The clinician of an appraisal download (checked by the guard).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ClinicianQuery {
    #[serde(default)]
    clinician: String,
}

/// `GET /reports/appraisal?clinician=ID&from=&to=&format=`.
#[tracing::instrument(skip_all)]
pub(crate) async fn appraisal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ReportQuery>,
    Query(who): Query<ClinicianQuery>,
) -> Result<Response, WebError> {
    let period = query.period()?;
    let report = pdva_reports::appraisal::make(
        &state.store,
        who.clinician.trim(),
        period,
        &generation(&caller),
    )
    .await?;
    download(&report, query.format)
}

/// `GET /reports/governance?site=CODE&from=&to=&format=`.
#[tracing::instrument(skip_all)]
pub(crate) async fn governance(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let period = query.period()?;
    let site = caller
        .site
        .clone()
        .ok_or_else(|| WebError::Invalid("site: choose the site to review".into()))?;
    let report =
        pdva_reports::governance::make(&state.store, site.as_str(), period, &generation(&caller))
            .await?;
    download(&report, query.format)
}

/// `GET /reports/research?from=&to=&format=`.
#[tracing::instrument(skip_all)]
pub(crate) async fn research(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let period = query.period()?;
    let report = pdva_reports::research::make(&state.store, period, &generation(&caller)).await?;
    download(&report, query.format)
}

/// `GET /reports/audit-summary?site=CODE&from=&to=`: the CSV.
#[tracing::instrument(skip_all)]
pub(crate) async fn audit_summary(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let period = query.period()?;
    let site = caller
        .site
        .clone()
        .ok_or_else(|| WebError::Invalid("site: choose the site".into()))?;
    let data_version = state.store.data_version().await?.to_string();
    let mut csv = Vec::new();
    pdva_reports::audit_summary::write(
        &state.store,
        Some(site.as_str()),
        period,
        today(),
        &mut csv,
    )
    .await?;
    let name = format!(
        "audit-summary_{site}_{}_{}.csv",
        period.file_part(),
        data_version.get(..12).unwrap_or(&data_version)
    );
    Ok(attachment(
        csv,
        "text/csv; charset=utf-8",
        &name,
        &data_version,
    ))
}

/// One choice of a select.
struct Choice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    nav: Nav,
    /// The clinicians whose appraisal report the user may generate.
    clinicians: Vec<Choice>,
    /// Why a clinician sees no appraisal form.
    not_linked: bool,
    /// Sites whose governance review and audit summary the user may generate.
    sites: Vec<Choice>,
    /// Whether the research report is offered.
    research: bool,
}

/// `GET /reports`: what the signed-in user may generate.
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let user = caller.user();
    let reference = state.store.reference_data().await?;
    let mut sites: Vec<Choice> = Vec::new();
    let mut clinicians: Vec<Choice> = Vec::new();
    match user.role {
        Role::GovernanceLead | Role::Admin => {
            let mut own: Vec<_> = reference
                .sites
                .values()
                .filter(|s| user.has_site(&s.site_code))
                .collect();
            own.sort_by(|a, b| a.site_code.as_str().cmp(b.site_code.as_str()));
            sites = own
                .iter()
                .map(|s| Choice {
                    value: s.site_code.to_string(),
                    label: format!("{} — {}", s.site_code, s.name),
                })
                .collect();
            let mut theirs: Vec<_> = reference
                .clinicians
                .iter()
                .filter(|(_, c)| c.sites.iter().any(|s| user.has_site(s)))
                .collect();
            theirs.sort_by(|a, b| a.1.display_name.as_str().cmp(b.1.display_name.as_str()));
            clinicians = theirs
                .into_iter()
                .map(|(id, c)| Choice {
                    value: id.to_string(),
                    label: c.display_name.to_string(),
                })
                .collect();
        }
        Role::Clinician => {
            if let Some(id) = user.clinician
                && let Some(c) = reference.clinicians.get(&id)
            {
                clinicians.push(Choice {
                    value: id.to_string(),
                    label: c.display_name.to_string(),
                });
            }
        }
        Role::Researcher => {}
    }
    let page = ReportsPage {
        nav: Nav::of(&caller),
        not_linked: user.role == Role::Clinician && clinicians.is_empty(),
        clinicians,
        sites,
        research: user.role == Role::Researcher,
    };
    Ok(Html(page.render()?))
}
