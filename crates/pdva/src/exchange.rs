//! `pdva export`, `pdva import` and `pdva template`: data in and out of the
//! registry (crates/pdva-exchange), each export logged in the access log
//! with who, which kind, filters, de-identified or not, how many patients
//! and rows, and the data version.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use pdva_exchange::{ExchangeError, ExportFilter, ExportSummary};
use pdva_store::{AccessAction, AccessEvent, Role, SiteAccess, Store};

use crate::progress::CliProgress;
use crate::users::cli_actor;

/// The kinds of export, as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportKind {
    /// Tidy CSV: one file per instrument plus the data dictionary (a directory).
    Csv,
    /// REDCap: data dictionary, data file of one event with repeating
    /// instruments, and how to build the project (a directory).
    Redcap,
    /// FHIR R4 Bulk Data NDJSON, one file per resource type (a directory); with
    /// --bundle, one transaction Bundle of a small extract (a JSON file).
    Fhir,
    /// CDISC ODM 1.3.2: metadata and clinical data in one XML file.
    Odm,
    /// XLSX: a summary sheet and one typed sheet per instrument (a file).
    Xlsx,
}

impl ExportKind {
    /// The exchange crate's kind.
    fn resolve(self, bundle: bool) -> Result<pdva_exchange::ExportKind> {
        use pdva_exchange::ExportKind as K;
        Ok(match (self, bundle) {
            (ExportKind::Fhir, true) => K::FhirBundle,
            (_, true) => bail!("--bundle is for `pdva export fhir` only"),
            (ExportKind::Csv, false) => K::Csv,
            (ExportKind::Redcap, false) => K::Redcap,
            (ExportKind::Fhir, false) => K::Fhir,
            (ExportKind::Odm, false) => K::Odm,
            (ExportKind::Xlsx, false) => K::Xlsx,
        })
    }
}

/// The options of `pdva export` after the database.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Which format.
    pub kind: ExportKind,
    /// Where to write it (must not exist, or be an empty directory).
    pub out: PathBuf,
    /// Only this home site's patients.
    pub site: Option<String>,
    /// Only patients with an index procedure on or after.
    pub from: Option<NaiveDate>,
    /// Only patients with an index procedure on or before.
    pub to: Option<NaiveDate>,
    /// The de-identified form.
    pub deidentify: bool,
    /// Export with this registry user's rights (a researcher gets only the
    /// de-identified form of their sites).
    pub as_user: Option<String>,
    /// FHIR: one transaction Bundle instead of NDJSON.
    pub bundle: bool,
}

/// Runs an export and logs it.
pub async fn export(store: &Store, request: ExportRequest) -> Result<()> {
    let today = chrono::Local::now().date_naive();
    let (actor, role) = match &request.as_user {
        None => (cli_actor().name().to_owned(), "command_line".to_owned()),
        Some(name) => {
            let user = store
                .users()
                .await?
                .into_iter()
                .find(|u| u.username.as_str() == name)
                .with_context(|| format!("--as-user: no user named {name}"))?;
            if user.disabled {
                bail!("--as-user: the account {name} is disabled");
            }
            if user.role == Role::Researcher && !request.deidentify {
                bail!(
                    "--as-user {name} is a researcher: researchers receive only the de-identified \
                     form (add --deidentify)"
                );
            }
            if let SiteAccess::Sites(sites) = &user.sites {
                match &request.site {
                    Some(site) if sites.iter().any(|s| s.as_str() == site) => {}
                    Some(site) => bail!("--site {site}: {name} has no rights at that site"),
                    None => bail!(
                        "--as-user {name} has rights at some sites only: name one with --site ({})",
                        sites
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
            (
                user.username.as_str().to_owned(),
                user.role.as_str().to_owned(),
            )
        }
    };
    let filter = ExportFilter {
        site: request.site.clone(),
        from: request.from,
        to: request.to,
        deidentify: request.deidentify,
    };
    let kind = request.kind.resolve(request.bundle)?;
    let progress = CliProgress::new();
    let outcomes = workbook_summary(store, kind, &filter, today).await;
    let summary = pdva_exchange::export_to(
        store,
        kind,
        &filter,
        today,
        &request.out,
        &progress,
        &outcomes,
    )
    .await?;

    store.log_access(AccessEvent::now(
        actor,
        role,
        AccessAction::Export,
        None,
        Some(audit_detail(kind, &filter, &summary)),
    ));
    store.flush_access_log().await?;
    println!(
        "Exported {} patient(s), {} row(s) as {}{} to {} (data version {}).",
        summary.patients,
        summary.rows,
        kind.name(),
        if filter.deidentify {
            ", de-identified"
        } else {
            ""
        },
        request.out.display(),
        summary.data_version
    );
    if summary.changed_during_export {
        eprintln!(
            "warning: the registry changed while it was exported; take the export again for one \
             consistent version"
        );
    }
    Ok(())
}

/// The outcomes summary for a workbook's summary sheet (other kinds have
/// none), in the form of the export: the research form when de-identified.
pub async fn workbook_summary(
    store: &Store,
    kind: pdva_exchange::ExportKind,
    filter: &ExportFilter,
    today: NaiveDate,
) -> Vec<(String, String)> {
    if kind != pdva_exchange::ExportKind::Xlsx {
        return Vec::new();
    }
    let outcomes_filter = pdva_outcomes::Filter {
        site: filter.site.clone(),
        operator: None,
        from: filter.from,
        to: filter.to,
        ..Default::default()
    };
    let audience = if filter.deidentify {
        pdva_outcomes::Audience::Research
    } else {
        pdva_outcomes::Audience::Identifiable
    };
    pdva_reports::gather::summary_lines(store, &outcomes_filter, today, audience).await
}

/// What the access log records of an export (never an identifier).
fn audit_detail(
    kind: pdva_exchange::ExportKind,
    filter: &ExportFilter,
    summary: &ExportSummary,
) -> String {
    format!(
        "export {}: {}; {} patients, {} rows; data version {}",
        kind.name(),
        filter.describe(),
        summary.patients,
        summary.rows,
        summary.data_version
    )
}

/// Runs an import (or, with `check_only`, its checks alone); on refusal
/// prints every problem and fails.
pub async fn import(store: &Store, path: &Path, check_only: bool) -> Result<()> {
    let today = chrono::Local::now().date_naive();
    let progress = CliProgress::new();
    let result = if check_only {
        pdva_exchange::import::check(store, path, today, &progress).await
    } else {
        pdva_exchange::import::import(store, path, &cli_actor(), today, &progress).await
    };
    match result {
        Ok(report) => {
            for warning in &report.warnings {
                println!("warning (accepted): {warning}");
            }
            println!(
                "{} {} patient(s), {} record(s) from {} row(s); {} unchanged (already in \
                 the registry); {} warning(s) {}; data version {}.",
                if check_only {
                    "Checked: no problems. An import would add"
                } else {
                    "Imported"
                },
                report.patients_written,
                report.records_written,
                report.rows_read,
                report.unchanged,
                report.warnings.len(),
                if check_only { "to accept" } else { "accepted" },
                report.data_version.unwrap_or_default()
            );
            Ok(())
        }
        Err(ExchangeError::ImportRefused(report)) => {
            for problem in &report.problems {
                eprintln!("error: {problem}");
            }
            bail!(
                "{} problem(s) in {}; nothing was imported",
                report.problems.len(),
                path.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes the blank templates and the data dictionary.
pub fn template(out: &Path) -> Result<()> {
    let written = pdva_exchange::tidy::write_templates(out)?;
    println!(
        "Wrote {} file(s) to {}: one blank CSV per instrument (header row only) and {}.",
        written.len(),
        out.display(),
        pdva_exchange::tidy::DICTIONARY_FILE
    );
    Ok(())
}
