//! # pdva-exchange
//!
//! Data in and out of the registry. One declared export schema
//! ([`schema`]) from which every format takes its columns, types, codes and
//! what each field discloses; one export driver ([`export`]) that streams
//! the registry a batch of patients at a time into a format's [`Sink`]
//! (tidy CSV in [`tidy`], REDCap in [`redcap`], CDISC ODM 1.3.2 in [`odm`],
//! XLSX in [`xlsx`]), applying the research population and the
//! de-identification of DOMAIN.md section 11; and the all-or-nothing bulk
//! import of the tidy CSV files ([`import`]), from a directory or from the
//! files an administrator uploads ([`upload`]).

pub mod cells;
pub mod deliver;
pub mod export;
pub mod fhir;
pub mod import;
pub mod odm;
pub mod redcap;
pub mod schema;
pub mod tidy;
pub mod upload;
pub mod xlsx;

pub use deliver::{ExportKind, export_to};
pub use export::{ExportFilter, ExportSummary, Row, Sink, export};
pub use import::{ImportProblem, ImportReport};

use std::path::PathBuf;

/// What can go wrong moving data in or out.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The registry refused or failed.
    #[error(transparent)]
    Store(#[from] pdva_store::StoreError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A CSV file could not be written.
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// The output is there already; nothing is overwritten.
    #[error("{} exists and is not empty: choose a new output path", .0.display())]
    OutputExists(PathBuf),
    /// The FHIR mapping refused a record.
    #[error(transparent)]
    Fhir(#[from] pdva_fhir::FhirError),
    /// A transaction Bundle was asked for more patients than it may hold.
    #[error(
        "a FHIR transaction Bundle holds at most {0} patients: narrow the export with --site, \
         --from or --to, or export Bulk Data NDJSON (without --bundle)"
    )]
    TooLargeForBundle(usize),
    /// The output file is there already; an export never overwrites one.
    #[error("{} exists: choose a new output file", .0.display())]
    OutputFileExists(PathBuf),
    /// The XLSX workbook could not be written.
    #[error("XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// An instrument has more rows than an Excel sheet holds.
    #[error("the {sheet} sheet would pass Excel's {rows} rows: export CSV instead")]
    SheetFull {
        /// The sheet (instrument).
        sheet: &'static str,
        /// Excel's limit.
        rows: u32,
    },
    /// An import found problems; nothing was written.
    #[error("{} problem(s) found; nothing was imported", .0.problems.len())]
    ImportRefused(Box<ImportReport>),
}
