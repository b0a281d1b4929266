//! One export, whole: the kind asked for, written to its path (a directory
//! or a file that appears only when complete), the same way from the
//! command line and the web.

use std::path::Path;

use chrono::NaiveDate;
use pdva_store::{Progress, Store};

use crate::export::{ExportFilter, ExportSummary, Sink, export};
use crate::tidy::StagedDir;
use crate::{ExchangeError, fhir, odm, redcap, tidy, xlsx};

/// The kinds of export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Tidy CSV and the data dictionary (a directory).
    Csv,
    /// REDCap data dictionary, data file and how to build the project (a directory).
    Redcap,
    /// FHIR R4 Bulk Data NDJSON (a directory).
    Fhir,
    /// One FHIR transaction Bundle of a small extract (a JSON file).
    FhirBundle,
    /// CDISC ODM 1.3.2 (an XML file).
    Odm,
    /// The governance workbook (an XLSX file).
    Xlsx,
}

impl ExportKind {
    /// Every kind.
    pub const ALL: &'static [ExportKind] = &[
        Self::Csv,
        Self::Redcap,
        Self::Fhir,
        Self::FhirBundle,
        Self::Odm,
        Self::Xlsx,
    ];

    /// Its name, as the access log, the web and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Redcap => "redcap",
            Self::Fhir => "fhir",
            Self::FhirBundle => "fhir-bundle",
            Self::Odm => "odm",
            Self::Xlsx => "xlsx",
        }
    }

    /// The kind a name names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Whether it is written as a directory of files (else one file).
    pub fn is_directory(self) -> bool {
        matches!(self, Self::Csv | Self::Redcap | Self::Fhir)
    }

    /// The file extension of a single-file kind.
    pub fn extension(self) -> &'static str {
        match self {
            Self::FhirBundle => "json",
            Self::Odm => "xml",
            Self::Xlsx => "xlsx",
            Self::Csv | Self::Redcap | Self::Fhir => "",
        }
    }

    /// Words for a person choosing one.
    pub fn label(self) -> &'static str {
        match self {
            Self::Csv => "Tidy CSV, one file per instrument, with the data dictionary",
            Self::Redcap => "REDCap data dictionary and data file",
            Self::Fhir => "FHIR R4 Bulk Data (NDJSON)",
            Self::FhirBundle => "FHIR R4 transaction Bundle (at most 1,000 patients)",
            Self::Odm => "CDISC ODM 1.3.2 XML",
            Self::Xlsx => "Excel workbook (governance)",
        }
    }
}

/// Writes the export of `kind` to `out`: a directory that must not exist
/// yet (or be empty), or a file that must not exist yet; it appears only
/// when whole. `summary_lines` are extra lines for the workbook's summary
/// sheet (an outcomes summary from a caller that computed one).
pub async fn export_to(
    store: &Store,
    kind: ExportKind,
    filter: &ExportFilter,
    today: NaiveDate,
    out: &Path,
    progress: &dyn Progress,
    summary_lines: &[(String, String)],
) -> Result<ExportSummary, ExchangeError> {
    match kind {
        ExportKind::Csv => {
            into_directory(
                out,
                |d| tidy::CsvSink::create(d, filter.deidentify),
                tidy::CsvSink::finish,
                store,
                filter,
                today,
                progress,
            )
            .await
        }
        ExportKind::Redcap => {
            into_directory(
                out,
                |d| redcap::RedcapSink::create(d, filter.deidentify),
                redcap::RedcapSink::finish,
                store,
                filter,
                today,
                progress,
            )
            .await
        }
        ExportKind::Fhir => {
            into_directory(
                out,
                |d| fhir::FhirNdjsonSink::create(d, filter.deidentify),
                |s| s.finish().map(|_| ()),
                store,
                filter,
                today,
                progress,
            )
            .await
        }
        ExportKind::FhirBundle => {
            if out.exists() {
                return Err(ExchangeError::OutputFileExists(out.to_owned()));
            }
            let mut sink = fhir::FhirBundleSink::new(filter.deidentify);
            let summary = export(store, filter, today, &mut sink, progress).await?;
            let bundle = sink.finish()?;
            tidy::write_file_atomically(out, |w| {
                serde_json::to_writer(&mut *w, &bundle).map_err(|e| ExchangeError::Io(e.into()))
            })?;
            Ok(summary)
        }
        ExportKind::Odm => {
            let mut sink = odm::OdmSink::create(out, filter.deidentify, chrono::Utc::now())?;
            match export(store, filter, today, &mut sink, progress).await {
                Ok(summary) => {
                    sink.finish()?;
                    Ok(summary)
                }
                Err(e) => {
                    sink.abandon();
                    Err(e)
                }
            }
        }
        ExportKind::Xlsx => {
            let mut sink = xlsx::XlsxSink::create(out, filter.deidentify)?;
            match export(store, filter, today, &mut sink, progress).await {
                Ok(summary) => {
                    sink.finish(&summary, filter, summary_lines)?;
                    Ok(summary)
                }
                Err(e) => {
                    sink.abandon();
                    Err(e)
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn into_directory<S: Sink + Send>(
    out: &Path,
    make: impl FnOnce(&Path) -> Result<S, ExchangeError>,
    finish: impl FnOnce(S) -> Result<(), ExchangeError>,
    store: &Store,
    filter: &ExportFilter,
    today: NaiveDate,
    progress: &dyn Progress,
) -> Result<ExportSummary, ExchangeError> {
    let staged = StagedDir::new(out)?;
    let result = async {
        let mut sink = make(staged.path())?;
        let summary = export(store, filter, today, &mut sink, progress).await?;
        finish(sink)?;
        Ok::<_, ExchangeError>(summary)
    }
    .await;
    match result {
        Ok(summary) => {
            staged.commit()?;
            Ok(summary)
        }
        Err(e) => {
            staged.abandon();
            Err(e)
        }
    }
}

/// Packs the files of an export directory into one zip archive at
/// `target` (written beside it and renamed into place), for a download.
pub fn zip_directory(dir: &Path, target: &Path) -> Result<(), ExchangeError> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ExchangeError::File {
            path: dir.to_owned(),
            source: e,
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let temp = target.with_extension("zip.partial");
    let file = std::fs::File::create(&temp).map_err(|e| ExchangeError::File {
        path: temp.clone(),
        source: e,
    })?;
    let mut archive = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for name in names {
        archive
            .start_file(name.as_str(), options)
            .map_err(zip_error)?;
        let mut input = std::fs::File::open(dir.join(&name))?;
        std::io::copy(&mut input, &mut archive)?;
    }
    let mut out = archive.finish().map_err(zip_error)?;
    std::io::Write::flush(&mut out)?;
    std::fs::rename(&temp, target).map_err(|e| ExchangeError::File {
        path: target.to_owned(),
        source: e,
    })?;
    Ok(())
}

fn zip_error(e: zip::result::ZipError) -> ExchangeError {
    ExchangeError::Io(std::io::Error::other(e.to_string()))
}
