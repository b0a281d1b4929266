//! Exports from the web and the API: the Exports page, and one download
//! (`/exports/download`, and `/api/v1/exports` for scripts with a token)
//! that writes the export with `pdva_exchange::export_to` into a temporary
//! directory and streams the file (a zip archive for the kinds made of
//! several files) from disk, so memory stays small whatever the registry's
//! size. Who may export which site is declared in `authz::ROUTES`; a
//! researcher always gets the de-identified form; the guard logs each
//! export with its query, and the counts and data version are added to that
//! entry ([`ExportLogged`]).

use std::io::Read;
use std::path::PathBuf;

use askama::Template;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use pdva_exchange::{ExportFilter, ExportKind};
use pdva_store::NoProgress;

use crate::authz::{Audience, Caller};
use crate::patients::Nav;
use crate::{AppState, WebError};

/// What an export wrote, handed to the guard (as a response extension) for
/// the access log.
#[derive(Debug, Clone)]
pub struct ExportLogged(pub String);

/// The query of a download; empty values mean "no filter".
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// csv, redcap, fhir (zip archives of several files), fhir-bundle (JSON),
    /// odm (XML) or xlsx [default: csv].
    #[serde(default)]
    kind: String,
    /// A site code: only its patients (users who do not see every site must
    /// name one of theirs).
    #[serde(default)]
    #[allow(dead_code)] // read by the guard from the query string
    site: String,
    /// Only patients with an index procedure on or after this date (YYYY-MM-DD).
    #[serde(default)]
    from: String,
    /// Only patients with an index procedure on or before this date (YYYY-MM-DD).
    #[serde(default)]
    to: String,
    /// `1` for the de-identified form (researchers always get it).
    #[serde(default)]
    deidentify: String,
}

fn date(field: &str, value: &str) -> Result<Option<NaiveDate>, WebError> {
    match value.trim() {
        "" => Ok(None),
        v => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| WebError::Invalid(format!("{field}: \"{v}\" is not a date (YYYY-MM-DD)"))),
    }
}

/// One choice of a select.
struct Choice {
    value: String,
    label: String,
}

/// The Exports page.
#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    nav: Nav,
    kinds: Vec<Choice>,
    sites: Vec<Choice>,
    all_sites: bool,
    research_only: bool,
}

/// `GET /exports`: what the user may export, and the form that downloads it.
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let user = caller.user();
    let sites = state
        .store
        .sites()
        .await?
        .into_iter()
        .filter(|(_, s)| user.has_site(&s.site_code))
        .map(|(_, s)| Choice {
            value: s.site_code.to_string(),
            label: format!("{} — {}", s.site_code, s.name),
        })
        .collect();
    let page = ExportsPage {
        nav: Nav::of(&caller),
        kinds: ExportKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.name().to_owned(),
                label: k.label().to_owned(),
            })
            .collect(),
        sites,
        all_sites: matches!(user.sites, pdva_store::SiteAccess::All),
        research_only: caller.audience() == Audience::Research,
    };
    Ok(Html(page.render()?))
}

/// `GET /exports/download` and `GET /api/v1/exports`: one export, as a file.
#[utoipa::path(get, path = "/api/v1/exports", tag = "exports",
    params(ExportQuery),
    responses(
        (status = 200, description = "The export as a file: a zip archive (csv, redcap, fhir), \
            a FHIR transaction Bundle (fhir-bundle), ODM 1.3.2 XML (odm) or an XLSX workbook",
            content(
                ("application/zip"),
                ("application/fhir+json"),
                ("application/xml"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            )),
        (status = 401, description = "No session and no valid API token", body = crate::error::ApiErrorBody),
        (status = 403, description = "Not a role that exports, or a site must be named", body = crate::error::ApiErrorBody),
        (status = 404, description = "Not one of the caller's sites", body = crate::error::ApiErrorBody),
        (status = 422, description = "A bad kind or date, or too many patients for a Bundle", body = crate::error::ApiErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub(crate) async fn download(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let kind = match q.kind.trim() {
        "" => ExportKind::Csv,
        name => ExportKind::parse(name).ok_or_else(|| {
            WebError::Invalid(format!(
                "kind: \"{name}\" is not an export kind: {}",
                ExportKind::ALL
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
    };
    let asked = matches!(q.deidentify.trim(), "1" | "true" | "on" | "yes");
    // A researcher gets the de-identified form whatever the query says.
    let deidentify = asked || caller.audience() == Audience::Research;
    let filter = ExportFilter {
        // The guard has checked the site against the user's rights.
        site: caller.site.as_ref().map(ToString::to_string),
        from: date("from", &q.from)?,
        to: date("to", &q.to)?,
        deidentify,
    };
    let today = chrono::Local::now().date_naive();
    let dir = tempfile::tempdir().map_err(|e| WebError::Report(e.to_string()))?;
    let written = dir.path().join(if kind.is_directory() {
        "export".to_owned()
    } else {
        format!("export.{}", kind.extension())
    });
    let outcomes = if kind == ExportKind::Xlsx {
        let outcomes_filter = pdva_outcomes::Filter {
            site: filter.site.clone(),
            operator: None,
            from: filter.from,
            to: filter.to,
            ..Default::default()
        };
        let audience = if deidentify {
            Audience::Research
        } else {
            Audience::Identifiable
        };
        pdva_reports::gather::summary_lines(&state.store, &outcomes_filter, today, audience).await
    } else {
        Vec::new()
    };
    let summary = pdva_exchange::export_to(
        &state.store,
        kind,
        &filter,
        today,
        &written,
        &NoProgress,
        &outcomes,
    )
    .await
    .map_err(|e| match e {
        // The user asked for more than a Bundle holds: theirs to narrow.
        e @ pdva_exchange::ExchangeError::TooLargeForBundle(_) => WebError::Invalid(e.to_string()),
        pdva_exchange::ExchangeError::Store(e) => WebError::Store(e),
        e => WebError::Report(e.to_string()),
    })?;
    let (file, extension, content_type) = if kind.is_directory() {
        let archive = dir.path().join("export.zip");
        let (from, to) = (written.clone(), archive.clone());
        tokio::task::spawn_blocking(move || pdva_exchange::deliver::zip_directory(&from, &to))
            .await
            .map_err(|e| WebError::Report(e.to_string()))?
            .map_err(|e| WebError::Report(e.to_string()))?;
        (archive, "zip", "application/zip")
    } else {
        let content_type = match kind {
            ExportKind::Odm => "application/xml",
            ExportKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            _ => "application/fhir+json",
        };
        (written, kind.extension(), content_type)
    };
    let name = format!(
        "pdva-{}-{}-{}{}.{}",
        kind.name(),
        filter.site.as_deref().unwrap_or("all-sites"),
        today,
        if deidentify { "-deidentified" } else { "" },
        extension
    );
    let mut response = Body::from_stream(file_chunks(file, dir)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The name is made of ASCII letters, digits, '-' and '.' only.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response.extensions_mut().insert(ExportLogged(format!(
        "export {}: {}; {} patients, {} rows; data version {}",
        kind.name(),
        filter.describe(),
        summary.patients,
        summary.rows,
        summary.data_version
    )));
    Ok(response)
}

/// Chunk size of a download read from disk.
const CHUNK: usize = 256 * 1024;

/// The file's bytes a chunk at a time, read on blocking threads; the
/// temporary directory lives until the last chunk is sent (then it is
/// removed, with everything the export wrote).
fn file_chunks(
    path: PathBuf,
    dir: tempfile::TempDir,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::unfold(
        (None::<std::fs::File>, Some(path), Some(dir)),
        |(file, path, dir)| async move {
            let dir = dir?;
            let read = tokio::task::spawn_blocking(move || {
                let mut file = match file {
                    Some(f) => f,
                    None => std::fs::File::open(path.expect("the path until opened"))?,
                };
                let mut buf = vec![0u8; CHUNK];
                let n = file.read(&mut buf)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>((file, buf))
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            match read {
                Ok((_, buf)) if buf.is_empty() => {
                    drop(dir);
                    None
                }
                Ok((file, buf)) => Some((Ok(buf), (Some(file), None, Some(dir)))),
                Err(e) => Some((Err(e), (None, None, None))),
            }
        },
    )
}
