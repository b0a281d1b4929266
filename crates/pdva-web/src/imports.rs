//! The administrators' import page: upload the tidy CSV files of an import
//! (each instrument's file, or a zip archive of them), check them, and
//! import them — all or nothing, as `pdva import` does, with every problem
//! listed by file, line, column, value and rule. The blank templates and
//! the data dictionary are downloadable from the same page.

use askama::Template;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use pdva_exchange::{ExchangeError, ImportProblem, ImportReport};
use pdva_store::NoProgress;

use crate::authz::Caller;
use crate::patients::Nav;
use crate::{AppState, WebError};

/// The most problems (and, separately, warnings) listed on the page; the
/// page says how many more there are.
const LISTED: usize = 500;

/// The largest upload the import page takes (the files of about a million
/// rows; larger imports go through `pdva import`).
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// One problem or warning, as the page lists it.
struct Listed {
    file: String,
    line: String,
    column: String,
    value: String,
    rule: String,
}

impl From<&ImportProblem> for Listed {
    fn from(p: &ImportProblem) -> Self {
        Self {
            file: p.file.clone(),
            line: p.line.map(|l| l.to_string()).unwrap_or_default(),
            column: p.column.clone().unwrap_or_default(),
            value: p.value.clone().unwrap_or_default(),
            rule: p.rule.clone(),
        }
    }
}

/// What the last upload found and did.
struct Outcome {
    /// Whether the upload was only checked.
    check_only: bool,
    /// Whether nothing was refused.
    accepted: bool,
    /// The files read.
    files: Vec<String>,
    rows_read: usize,
    patients: usize,
    records: usize,
    unchanged: usize,
    data_version: String,
    problems: Vec<Listed>,
    problems_not_listed: usize,
    warnings: Vec<Listed>,
    warnings_not_listed: usize,
}

/// The import page.
#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    nav: Nav,
    max_megabytes: usize,
    outcome: Option<Outcome>,
}

/// `GET /admin/import`: the upload form.
pub(crate) async fn page(Extension(caller): Extension<Caller>) -> Result<Html<String>, WebError> {
    render(&caller, None)
}

fn render(caller: &Caller, outcome: Option<Outcome>) -> Result<Html<String>, WebError> {
    Ok(Html(
        ImportPage {
            nav: Nav::of(caller),
            max_megabytes: MAX_UPLOAD_BYTES / (1024 * 1024),
            outcome,
        }
        .render()?,
    ))
}

/// `POST /admin/import` (multipart): the uploaded files checked, and
/// imported unless the form asked for a check only.
#[tracing::instrument(skip_all)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut multipart: Multipart,
) -> Result<Html<String>, WebError> {
    let dir = tempfile::tempdir().map_err(|e| WebError::Report(e.to_string()))?;
    let mut check_only = false;
    let mut upload_problems: Vec<ImportProblem> = Vec::new();
    let mut files = Vec::new();
    let bad_upload = |e: axum::extract::multipart::MultipartError| {
        WebError::Invalid(format!("the upload could not be read: {}", e.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(bad_upload)? {
        match field.name() {
            Some("mode") => check_only = field.text().await.map_err(bad_upload)? == "check",
            Some("files") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(bad_upload)?;
                // A file input left empty still sends one part, nameless and empty.
                if name.is_empty() && bytes.is_empty() {
                    continue;
                }
                files.push(name.clone());
                let target = dir.path().to_owned();
                let placed = tokio::task::spawn_blocking(move || {
                    pdva_exchange::upload::place(&target, &name, &bytes)
                })
                .await
                .map_err(|e| WebError::Report(e.to_string()))?
                .map_err(|e| WebError::Report(e.to_string()))?;
                upload_problems.extend(placed);
            }
            // The CSRF token (checked by the guard) and anything else.
            _ => {}
        }
    }
    if files.is_empty() {
        return Err(WebError::Invalid(
            "files: no file was uploaded: choose the instrument CSV files, or a zip archive of them"
                .into(),
        ));
    }
    let today = chrono::Local::now().date_naive();
    let result = if !upload_problems.is_empty() {
        Err(ExchangeError::ImportRefused(Box::new(ImportReport {
            problems: upload_problems,
            ..ImportReport::default()
        })))
    } else {
        // Reading and checking a large import is a minute of CPU: on a
        // blocking thread, so that it holds none of the server's workers.
        let (store, path) = (state.store.clone(), dir.path().to_owned());
        let actor = (!check_only).then(|| caller.user().actor());
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            runtime.block_on(async {
                match actor {
                    None => pdva_exchange::import::check(&store, &path, today, &NoProgress).await,
                    Some(actor) => {
                        pdva_exchange::import::import(&store, &path, &actor, today, &NoProgress)
                            .await
                    }
                }
            })
        })
        .await
        .map_err(|e| WebError::Report(e.to_string()))?
    };
    let (accepted, report) = match result {
        Ok(report) => (true, report),
        Err(ExchangeError::ImportRefused(report)) => (false, *report),
        Err(ExchangeError::Store(e)) => return Err(WebError::Store(e)),
        Err(e) => return Err(WebError::Report(e.to_string())),
    };
    let listed = |found: &[ImportProblem]| -> (Vec<Listed>, usize) {
        (
            found.iter().take(LISTED).map(Listed::from).collect(),
            found.len().saturating_sub(LISTED),
        )
    };
    let (problems, problems_not_listed) = listed(&report.problems);
    let (warnings, warnings_not_listed) = listed(&report.warnings);
    render(
        &caller,
        Some(Outcome {
            check_only,
            accepted,
            files,
            rows_read: report.rows_read,
            patients: report.patients_written,
            records: report.records_written,
            unchanged: report.unchanged,
            data_version: report.data_version.unwrap_or_default(),
            problems,
            problems_not_listed,
            warnings,
            warnings_not_listed,
        }),
    )
}

/// `GET /admin/import/templates`: the blank templates and the data
/// dictionary, as one zip archive.
pub(crate) async fn templates() -> Result<Response, WebError> {
    let bytes = tokio::task::spawn_blocking(|| {
        let dir = tempfile::tempdir()?;
        let templates = dir.path().join("templates");
        pdva_exchange::tidy::write_templates(&templates)?;
        let archive = dir.path().join("templates.zip");
        pdva_exchange::deliver::zip_directory(&templates, &archive)?;
        Ok::<_, ExchangeError>(std::fs::read(archive)?)
    })
    .await
    .map_err(|e| WebError::Report(e.to_string()))?
    .map_err(|e| WebError::Report(e.to_string()))?;
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"pdva-import-templates.zip\""),
    );
    Ok(response)
}
