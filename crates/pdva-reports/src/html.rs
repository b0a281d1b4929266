//! A report as one standalone, printable HTML5 document: its own stylesheet
//! in the head, no script, no external resource, charts as inline SVG.
//!
//! The template (`templates/report.html`) lays out view types made here
//! from the [`Report`]; every cell's text comes from [`Cell::display`] and
//! every chart from [`crate::chart::svg`], so the page, the PDF and the
//! JSON print the same figures.

use askama::Template;

use crate::document::{Block, Cell, Finding, Report, Section, Table, count_text};
use pdva_outcomes::Count;

/// The report as a standalone HTML document.
pub fn render(report: &Report) -> crate::Result<String> {
    let page = Page {
        report,
        period: report.stamp.period(),
        filters: report.stamp.filters_line(),
        marking: report.stamp.audience.marking(),
        identifiable: matches!(
            report.stamp.audience,
            crate::document::AudienceShown::Identifiable
        ),
        kind_serves: report.kind.serves(),
        sections: report
            .sections
            .iter()
            .map(SectionView::of)
            .collect::<crate::Result<_>>()?,
    };
    page.render()
        .map_err(|e| crate::ReportsError::Render(e.to_string()))
}

/// The sections alone, as HTML to place in another page (the web's
/// dashboard): each a `<section class="keep">` with its heading, reading,
/// tables and charts, laid out exactly as in [`render`]'s document.
pub fn sections(sections: &[Section]) -> crate::Result<String> {
    let fragment = Sections {
        sections: sections
            .iter()
            .map(SectionView::of)
            .collect::<crate::Result<_>>()?,
    };
    fragment
        .render()
        .map_err(|e| crate::ReportsError::Render(e.to_string()))
}

#[derive(Template)]
#[template(path = "sections.html")]
struct Sections<'a> {
    sections: Vec<SectionView<'a>>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    report: &'a Report,
    period: String,
    filters: String,
    marking: &'static str,
    identifiable: bool,
    kind_serves: &'static str,
    sections: Vec<SectionView<'a>>,
}

struct SectionView<'a> {
    section: &'a Section,
    blocks: Vec<BlockView<'a>>,
}

impl<'a> SectionView<'a> {
    fn of(section: &'a Section) -> crate::Result<Self> {
        Ok(SectionView {
            section,
            blocks: section
                .blocks
                .iter()
                .map(BlockView::of)
                .collect::<crate::Result<_>>()?,
        })
    }
}

enum BlockView<'a> {
    Table(TableView<'a>),
    /// Markup made by `chart::svg` from its own templates, every label
    /// escaped there (its title is drawn in it): the one value the page
    /// inserts unescaped.
    Chart(String),
    Findings(Vec<FindingView<'a>>),
    Paragraph(&'a str),
}

impl<'a> BlockView<'a> {
    fn of(block: &'a Block) -> crate::Result<Self> {
        Ok(match block {
            Block::Table(t) => BlockView::Table(TableView::of(t)),
            Block::Chart(c) => BlockView::Chart(crate::chart::svg(c)?),
            Block::Findings(f) => {
                BlockView::Findings(f.findings.iter().map(FindingView::of).collect())
            }
            Block::Paragraph { text } => BlockView::Paragraph(text),
        })
    }
}

struct TableView<'a> {
    table: &'a Table,
    /// Each heading, and whether its column is right-aligned (all its
    /// cells are numbers).
    columns: Vec<(&'a str, bool)>,
    rows: Vec<Vec<CellView>>,
}

impl<'a> TableView<'a> {
    fn of(table: &'a Table) -> Self {
        let numeric = |i: usize| {
            !table.rows.is_empty()
                && table
                    .rows
                    .iter()
                    .all(|row| row.get(i).is_none_or(Cell::is_numeric))
        };
        TableView {
            table,
            columns: table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), numeric(i)))
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
        }
    }
}

struct CellView {
    text: String,
    numeric: bool,
}

struct FindingView<'a> {
    finding: &'a Finding,
    /// `Met` or `Not met`: the finding in words, never by colour alone.
    marker: &'static str,
    /// `and N more`, when items were left out.
    more: Option<String>,
}

impl<'a> FindingView<'a> {
    fn of(finding: &'a Finding) -> Self {
        FindingView {
            finding,
            marker: finding_marker(finding.met),
            more: more_text(finding.more),
        }
    }
}

/// The words that say whether an arrangement is met, in every format.
pub fn finding_marker(met: bool) -> &'static str {
    if met { "Met" } else { "Not met" }
}

/// `and N more` under a finding's items, or nothing when all are listed.
pub fn more_text(more: usize) -> Option<String> {
    (more > 0).then(|| {
        format!(
            "and {} more",
            count_text(Count::Exact(u64::try_from(more).unwrap_or(u64::MAX)))
        )
    })
}
