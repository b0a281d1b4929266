//! A report as a PDF, typeset in process by the typst crates.
//!
//! The report goes to typst as data, never as markup: [`render`] turns it
//! into a JSON view (every cell already printed by `Cell::display`, every
//! chart already drawn as SVG by `pdva_reports::chart`), serves it to typst
//! as the virtual file `/report.json`, and a fixed typst template
//! (`report.typ`, compiled into the binary) lays it out. A string in the
//! report is therefore never parsed as typst markup, whatever characters
//! it holds, and typst never formats a number.
//!
//! Nothing is read or fetched at run time: the fonts are typst's own,
//! embedded in the binary (`typst-assets`), and the world serves only the
//! template and the JSON, so an `@preview` import or any other file is
//! refused rather than downloaded.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use pdva_reports::Report;
use pdva_reports::document::{AudienceShown, Block, Cell, Finding, Section, Table};
use serde::Serialize;
use thiserror::Error;
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

/// The typst template that lays a report out from `/report.json`.
const TEMPLATE: &str = include_str!("report.typ");

/// Why a report could not be printed as a PDF. Each is a bug in the
/// template or the printer, not bad input: any report can be printed.
#[derive(Debug, Error)]
pub enum PdfError {
    /// A chart could not be drawn.
    #[error("could not draw a chart: {0}")]
    Chart(#[from] pdva_reports::ReportsError),
    /// The report could not be handed to typst as JSON.
    #[error("could not hand the report to typst: {0}")]
    Json(#[from] serde_json::Error),
    /// typst could not lay the report out; its diagnostics, one a line.
    #[error("could not typeset the report: {0}")]
    Typeset(String),
    /// typst could not write the laid-out report as PDF.
    #[error("could not write the PDF: {0}")]
    Export(String),
}

/// The report as a PDF: A4, a title page, every page stamped with the
/// period, filters, date generated, software, data version and audience
/// marking, and numbered `page X of Y`.
pub fn render(report: &Report) -> Result<Vec<u8>, PdfError> {
    let json = serde_json::to_vec(&DocView::of(report)?)?;
    let world = ReportWorld::new(json, today(report));
    let document = typst::compile::<typst_layout::PagedDocument>(&world)
        .output
        .map_err(|errors| PdfError::Typeset(diagnostics(errors.as_slice())))?;
    typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default())
        .map_err(|errors| PdfError::Export(diagnostics(errors.as_slice())))
}

/// typst's messages with their hints, one diagnostic a line.
fn diagnostics(errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .map(|e| {
            let mut line = e.message.to_string();
            for hint in &e.hints {
                line.push_str(" (hint: ");
                line.push_str(&hint.v);
                line.push(')');
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The date typst's `today()` gives (and the PDF's creation date): the day
/// the report was generated, so that printing the same report twice gives
/// the same document. `generated_at` starts with the date; the report date
/// stands in should it not.
fn today(report: &Report) -> NaiveDate {
    report
        .stamp
        .generated_at
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(report.stamp.as_of)
}

// ---------------------------------------------------------------------------
// The data typst lays out.

/// The report as the template reads it: text only.
#[derive(Serialize)]
struct DocView<'a> {
    title: &'a str,
    subject: &'a str,
    kind_title: &'static str,
    serves: &'static str,
    marking: &'static str,
    identifiable: bool,
    period: String,
    filters: String,
    as_of: String,
    generated_at: &'a str,
    generated_by: &'a str,
    software: &'a str,
    data_version: &'a str,
    data_version_short: &'a str,
    summary: &'a [String],
    sections: Vec<SectionView<'a>>,
}

impl<'a> DocView<'a> {
    fn of(report: &'a Report) -> Result<Self, PdfError> {
        let stamp = &report.stamp;
        Ok(DocView {
            title: &report.title,
            subject: &report.subject,
            kind_title: report.kind.title(),
            serves: report.kind.serves(),
            marking: stamp.audience.marking(),
            identifiable: stamp.audience == AudienceShown::Identifiable,
            period: stamp.period(),
            filters: stamp.filters_line(),
            as_of: stamp.as_of.to_string(),
            generated_at: &stamp.generated_at,
            generated_by: &stamp.generated_by,
            software: &stamp.software,
            data_version: &stamp.data_version,
            data_version_short: stamp.data_version_short(),
            summary: &report.summary,
            sections: report
                .sections
                .iter()
                .map(SectionView::of)
                .collect::<Result<_, _>>()?,
        })
    }
}

#[derive(Serialize)]
struct SectionView<'a> {
    key: &'a str,
    title: &'a str,
    serves: Option<&'a str>,
    reading: &'a [String],
    blocks: Vec<BlockView<'a>>,
}

impl<'a> SectionView<'a> {
    fn of(section: &'a Section) -> Result<Self, PdfError> {
        Ok(SectionView {
            key: &section.key,
            title: &section.title,
            serves: section.serves.as_deref(),
            reading: &section.reading,
            blocks: section
                .blocks
                .iter()
                .map(BlockView::of)
                .collect::<Result<_, _>>()?,
        })
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockView<'a> {
    Table {
        caption: &'a str,
        columns: Vec<CellView>,
        rows: Vec<Vec<CellView>>,
        note: Option<&'a str>,
    },
    Chart {
        title: &'a str,
        /// Drawn by `pdva_reports::chart::svg`; typst embeds it as vector
        /// graphics.
        svg: String,
    },
    Findings {
        findings: Vec<FindingView<'a>>,
    },
    Paragraph {
        text: &'a str,
    },
}

impl<'a> BlockView<'a> {
    fn of(block: &'a Block) -> Result<Self, PdfError> {
        Ok(match block {
            Block::Table(table) => table_view(table),
            Block::Chart(chart) => BlockView::Chart {
                title: pdva_reports::chart::title(chart),
                svg: pdva_reports::chart::svg(chart)?,
            },
            Block::Findings(f) => BlockView::Findings {
                findings: f.findings.iter().map(FindingView::of).collect(),
            },
            Block::Paragraph { text } => BlockView::Paragraph { text },
        })
    }
}

fn table_view(table: &Table) -> BlockView<'_> {
    // A column is right-aligned, heading included, when all its cells are
    // numbers.
    let numeric = |i: usize| {
        !table.rows.is_empty()
            && table
                .rows
                .iter()
                .all(|row| row.get(i).is_none_or(Cell::is_numeric))
    };
    BlockView::Table {
        caption: &table.caption,
        columns: table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| CellView {
                text: c.clone(),
                numeric: numeric(i),
            })
            .collect(),
        rows: table
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| CellView {
                        text: c.display(),
                        numeric: c.is_numeric(),
                    })
                    .collect()
            })
            .collect(),
        note: table.note.as_deref(),
    }
}

/// A cell as printed by `Cell::display`.
#[derive(Serialize)]
struct CellView {
    text: String,
    numeric: bool,
}

#[derive(Serialize)]
struct FindingView<'a> {
    paragraph: &'a str,
    title: &'a str,
    met: bool,
    marker: &'static str,
    status: &'a str,
    items: &'a [String],
    more: Option<String>,
}

impl<'a> FindingView<'a> {
    fn of(finding: &'a Finding) -> Self {
        FindingView {
            paragraph: &finding.paragraph,
            title: &finding.title,
            met: finding.met,
            marker: pdva_reports::html::finding_marker(finding.met),
            status: &finding.status,
            items: &finding.items,
            more: pdva_reports::html::more_text(finding.more),
        }
    }
}

// ---------------------------------------------------------------------------
// The typst world: the template, the JSON, the embedded fonts, nothing else.

/// The standard library, built once per process.
static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

/// typst's embedded fonts, parsed once per process, and their book.
static FONTS: LazyLock<(LazyHash<FontBook>, Vec<Font>)> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect();
    (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
});

/// A project file's id (ids are interned for the process, so the same path
/// gives the same id on every call).
fn project_file(path: &str) -> FileId {
    let vpath = VirtualPath::new(path).expect("a fixed absolute path is a valid virtual path");
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

struct ReportWorld {
    main: Source,
    json_id: FileId,
    json: Bytes,
    today: NaiveDate,
}

impl ReportWorld {
    fn new(json: Vec<u8>, today: NaiveDate) -> Self {
        ReportWorld {
            main: Source::new(project_file("/report.typ"), TEMPLATE.to_owned()),
            json_id: project_file("/report.json"),
            json: Bytes::new(json),
            today,
        }
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.0
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(not_found(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.json_id {
            Ok(self.json.clone())
        } else {
            Err(not_found(id))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.1.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Datetime::from_ymd(
            self.today.year(),
            u8::try_from(self.today.month()).ok()?,
            u8::try_from(self.today.day()).ok()?,
        )
    }
}

/// Every file but the template and the JSON is missing, packages included:
/// nothing is read from disk or fetched.
fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.get().vpath().get_without_slash().into())
}
