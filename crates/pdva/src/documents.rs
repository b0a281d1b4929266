//! `pdva report appraisal|governance|research|audit-summary`: the reports
//! IPG773 names, written whole to a file (a temporary file in the same
//! folder renamed into place, so a failed run leaves nothing half-written),
//! and each generation logged in the access log with its filters and data
//! version.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pdva_reports::Report;
use pdva_reports::gather::{Generation, Period};
use pdva_store::{AccessAction, AccessEvent, Store};

use crate::users::cli_actor;

/// The format of a report document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DocumentFormat {
    /// A PDF (A4, rendered in-process; charts are vector graphics).
    Pdf,
    /// A standalone HTML page (its own styles, no script).
    Html,
    /// The report's view types as JSON: the same figures the PDF prints.
    Json,
}

impl DocumentFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "pdf",
            DocumentFormat::Html => "html",
            DocumentFormat::Json => "json",
        }
    }
}

/// The report in `format`.
pub fn render(report: &Report, format: DocumentFormat) -> Result<Vec<u8>> {
    Ok(match format {
        DocumentFormat::Pdf => pdva_pdf::render(report)?,
        DocumentFormat::Html => pdva_reports::html::render(report)?.into_bytes(),
        DocumentFormat::Json => serde_json::to_vec_pretty(report)?,
    })
}

/// Who runs the command, and when.
pub fn generation(as_of: Option<chrono::NaiveDate>) -> Generation {
    let now = chrono::Utc::now();
    Generation {
        as_of: as_of.unwrap_or_else(|| chrono::Local::now().date_naive()),
        generated_at: now.format("%Y-%m-%d %H:%M UTC").to_string(),
        generated_by: cli_actor().name().to_owned(),
    }
}

/// Writes `bytes` to `path` whole: to a temporary file in the same folder
/// first, flushed, then renamed over `path`.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("could not write in {}", folder.display()))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

/// Renders the report, writes it to `out` (or a file named after the
/// report in the working folder), logs the generation, and says where it
/// went.
pub async fn deliver(
    store: &Store,
    report: &Report,
    format: DocumentFormat,
    out: Option<PathBuf>,
    filters: &str,
) -> Result<PathBuf> {
    let bytes = render(report, format)?;
    let path = out.unwrap_or_else(|| PathBuf::from(report.file_name(format.extension())));
    write_whole(&path, &bytes)?;
    log_generation(
        store,
        report.kind.file_stem(),
        format.extension(),
        filters,
        &report.stamp.data_version,
    )
    .await?;
    Ok(path)
}

/// Records in the access log that the command line generated a report.
pub async fn log_generation(
    store: &Store,
    kind: &str,
    format: &str,
    filters: &str,
    data_version: &str,
) -> Result<()> {
    store.log_access(AccessEvent::now(
        cli_actor().name(),
        "command_line",
        AccessAction::Report,
        None,
        Some(format!(
            "{kind} report ({format}): {filters}; data version {data_version}"
        )),
    ));
    store.flush_access_log().await?;
    Ok(())
}

/// The period of `--from` and `--to` in words for the access log.
pub fn period_words(period: &Period) -> String {
    format!(
        "from={} to={}",
        period.from.map(|d| d.to_string()).unwrap_or_default(),
        period.to.map(|d| d.to_string()).unwrap_or_default()
    )
}
