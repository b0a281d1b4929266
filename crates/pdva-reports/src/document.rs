//! The report view types: one document model that every report is built
//! into, and that HTML ([`crate::html`]), PDF (`pdva-pdf`) and JSON (serde)
//! print. A figure is computed once, when a builder puts it in a [`Cell`] or
//! a [`Chart`]; the printers only lay it out, and every number is turned
//! into text by one function ([`Cell::text`]), so the three formats cannot
//! disagree.

use chrono::NaiveDate;
use pdva_outcomes::{Audience, Count};
use serde::Serialize;

/// Which report a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// A clinician's outcomes for annual appraisal (IPG773 1.2).
    Appraisal,
    /// An organisation's governance review (IPG773 1.3).
    GovernanceReview,
    /// The research report of exactly what IPG773 1.4 asks.
    Research,
}

impl ReportKind {
    /// The report's title.
    pub fn title(self) -> &'static str {
        match self {
            ReportKind::Appraisal => "Clinician appraisal report",
            ReportKind::GovernanceReview => "Organisation governance review",
            ReportKind::Research => "Research report (IPG773 1.4)",
        }
    }

    /// A short name for files: `appraisal`, `governance`, `research`.
    pub fn file_stem(self) -> &'static str {
        match self {
            ReportKind::Appraisal => "appraisal",
            ReportKind::GovernanceReview => "governance",
            ReportKind::Research => "research",
        }
    }

    /// The IPG773 paragraph the report serves.
    pub fn serves(self) -> &'static str {
        match self {
            ReportKind::Appraisal => "NICE IPG773 1.2",
            ReportKind::GovernanceReview => "NICE IPG773 1.3",
            ReportKind::Research => "NICE IPG773 1.4",
        }
    }
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Which report.
    pub kind: ReportKind,
    /// `ReportKind::title`.
    pub title: String,
    /// Whom or what it is about: the clinician, the site, or the research
    /// population.
    pub subject: String,
    /// The subject in a file name: the site code, the clinician's
    /// registration number or id, or `research-population`.
    pub subject_key: String,
    /// What made it: printed on every page of a PDF.
    pub stamp: Stamp,
    /// The key readings, for the title page.
    pub summary: Vec<String>,
    /// The sections, in order.
    pub sections: Vec<Section>,
}

impl Report {
    /// The file name a download or `--out` default gets: report, subject,
    /// period and data version, e.g.
    /// `governance_RX1_2025-01-01_2025-12-31_3f2a9c01b7de.pdf`.
    pub fn file_name(&self, extension: &str) -> String {
        let period = crate::gather::Period {
            from: self.stamp.from,
            to: self.stamp.to,
        }
        .file_part();
        let subject: String = self
            .subject_key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!(
            "{}_{subject}_{period}_{}.{extension}",
            self.kind.file_stem(),
            self.stamp.data_version_short()
        )
    }
}

/// What a report was made from, so that a printed copy can be traced to the
/// registry state that made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stamp {
    /// First index procedure date included, if limited.
    pub from: Option<NaiveDate>,
    /// Last index procedure date included, if limited.
    pub to: Option<NaiveDate>,
    /// The report date: nothing dated after it counts.
    pub as_of: NaiveDate,
    /// The filters besides the period, as `name: value` pairs.
    pub filters: Vec<FilterShown>,
    /// When it was generated (UTC, to the minute).
    pub generated_at: String,
    /// Who generated it (a username, or `cli:<login>`).
    pub generated_by: String,
    /// The software that made it: `pdva-registry <version>`.
    pub software: String,
    /// The registry's data version (head of the audit chain).
    pub data_version: String,
    /// Whom the figures are fit for.
    pub audience: AudienceShown,
}

impl Stamp {
    /// The period in words: `all index procedures`, `from D`, `to D` or
    /// `D1 to D2`.
    pub fn period(&self) -> String {
        match (self.from, self.to) {
            (None, None) => "all index procedures".into(),
            (Some(f), None) => format!("index procedures from {f}"),
            (None, Some(t)) => format!("index procedures to {t}"),
            (Some(f), Some(t)) => format!("index procedures {f} to {t}"),
        }
    }

    /// The filters in one line, or `none`.
    pub fn filters_line(&self) -> String {
        if self.filters.is_empty() {
            "none".into()
        } else {
            self.filters
                .iter()
                .map(|f| format!("{}: {}", f.name, f.value))
                .collect::<Vec<_>>()
                .join("; ")
        }
    }

    /// The short data version printed on each page (the first 12 hex digits
    /// identify a chain head among millions).
    pub fn data_version_short(&self) -> &str {
        self.data_version
            .get(..12)
            .unwrap_or(self.data_version.as_str())
    }
}

/// One filter of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilterShown {
    /// What is filtered: `site`, `operator`.
    pub name: String,
    /// Its value as the reader knows it.
    pub value: String,
}

/// The audience of a report, as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceShown {
    /// Identifiable: for the registry's own clinicians and committees.
    Identifiable,
    /// De-identified and disclosure-controlled (DOMAIN.md section 11).
    Research,
}

impl From<Audience> for AudienceShown {
    fn from(audience: Audience) -> Self {
        match audience {
            Audience::Identifiable => AudienceShown::Identifiable,
            Audience::Research => AudienceShown::Research,
        }
    }
}

impl AudienceShown {
    /// The marking printed on every page.
    pub fn marking(self) -> &'static str {
        match self {
            AudienceShown::Identifiable => {
                "CONFIDENTIAL: identifiable clinical governance data. Not for circulation outside the organisation."
            }
            AudienceShown::Research => {
                "De-identified: research population only; counts under 5 shown as <5 (DOMAIN.md section 11)."
            }
        }
    }
}

/// One section of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// A stable key (`survival`, `compliance`, ...), for links and tests.
    pub key: String,
    /// The heading.
    pub title: String,
    /// The IPG773 paragraph or DOMAIN.md section the section serves.
    pub serves: Option<String>,
    /// The plain-English reading, sentence by sentence, computed from the
    /// figures below it.
    pub reading: Vec<String>,
    /// Tables, charts, findings and notes, in order.
    pub blocks: Vec<Block>,
}

impl Section {
    /// An empty section.
    pub fn new(key: &str, title: &str) -> Self {
        Section {
            key: key.into(),
            title: title.into(),
            serves: None,
            reading: Vec::new(),
            blocks: Vec::new(),
        }
    }
}

/// A piece of a section.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A table.
    Table(Table),
    /// A chart.
    Chart(Chart),
    /// Compliance findings.
    Findings(Findings),
    /// A paragraph of text.
    Paragraph {
        /// The text.
        text: String,
    },
}

/// A table. Rows never split across pages in a PDF.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// The caption.
    pub caption: String,
    /// Column headings.
    pub columns: Vec<String>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// A note under the table (sources, definitions).
    pub note: Option<String>,
}

/// One cell of a table: a typed value, printed by [`Cell::text`] alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Cell {
    /// Words.
    Text {
        /// The words.
        text: String,
    },
    /// A count (possibly `<5` or `suppressed` in a research report).
    Count {
        /// The count.
        count: Count,
    },
    /// A proportion shown as a percentage (one decimal), with its 95%
    /// interval and `k/n` where given.
    Percent {
        /// The proportion, 0 to 1; `None` when undefined.
        value: Option<f64>,
        /// Lower 95% limit.
        lower: Option<f64>,
        /// Upper 95% limit.
        upper: Option<f64>,
    },
    /// A number with a fixed number of decimals and its 95% interval if it
    /// has one (rates, medians, scores).
    Number {
        /// The value; `None` when undefined.
        value: Option<f64>,
        /// Lower 95% limit, if any.
        lower: Option<f64>,
        /// Upper 95% limit, if any.
        upper: Option<f64>,
        /// Decimals printed.
        decimals: u8,
    },
    /// A median with its interquartile range.
    Median {
        /// The median; `None` when undefined or withheld.
        median: Option<f64>,
        /// First quartile.
        q1: Option<f64>,
        /// Third quartile.
        q3: Option<f64>,
        /// Decimals printed.
        decimals: u8,
    },
    /// A date.
    Date {
        /// The date.
        date: NaiveDate,
    },
}

/// The text a missing or undefined value is printed as.
pub const NOT_AVAILABLE: &str = "–";

impl Cell {
    /// Words.
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text { text: text.into() }
    }

    /// A count.
    pub fn count(count: Count) -> Cell {
        Cell::Count { count }
    }

    /// An exact count.
    pub fn exact(n: u64) -> Cell {
        Cell::Count {
            count: Count::Exact(n),
        }
    }

    /// A percentage without an interval.
    pub fn percent(value: Option<f64>) -> Cell {
        Cell::Percent {
            value,
            lower: None,
            upper: None,
        }
    }

    /// A percentage with its interval.
    pub fn percent_ci(value: Option<f64>, lower: Option<f64>, upper: Option<f64>) -> Cell {
        Cell::Percent {
            value,
            lower,
            upper,
        }
    }

    /// A number with `decimals` decimals.
    pub fn number(value: Option<f64>, decimals: u8) -> Cell {
        Cell::Number {
            value,
            lower: None,
            upper: None,
            decimals,
        }
    }

    /// The cell as printed, in every format.
    pub fn display(&self) -> String {
        match self {
            Cell::Text { text } => text.clone(),
            Cell::Count { count } => count_text(*count),
            Cell::Percent {
                value,
                lower,
                upper,
            } => percent_text(*value, *lower, *upper),
            Cell::Number {
                value,
                lower,
                upper,
                decimals,
            } => number_text(*value, *lower, *upper, *decimals),
            Cell::Median {
                median,
                q1,
                q3,
                decimals,
            } => match median {
                None => NOT_AVAILABLE.into(),
                Some(m) => match (q1, q3) {
                    (Some(a), Some(b)) => format!(
                        "{} ({}–{})",
                        fixed(*m, *decimals),
                        fixed(*a, *decimals),
                        fixed(*b, *decimals)
                    ),
                    _ => fixed(*m, *decimals),
                },
            },
            Cell::Date { date } => date.to_string(),
        }
    }

    /// Whether the cell holds a number (right-aligned when printed).
    pub fn is_numeric(&self) -> bool {
        !matches!(self, Cell::Text { .. })
    }
}

/// A count as printed: the number, `<5` or `suppressed`.
pub fn count_text(count: Count) -> String {
    match count {
        Count::Exact(n) => n.to_string(),
        Count::Small => format!("<{}", pdva_domain::disclosure::DISCLOSURE_THRESHOLD),
        Count::Suppressed => "suppressed".into(),
    }
}

/// A value with `decimals` decimals (Rust's correctly rounded formatting).
pub fn fixed(value: f64, decimals: u8) -> String {
    format!("{value:.prec$}", prec = usize::from(decimals))
}

/// A proportion as a percentage with one decimal: `61.2%`.
pub fn percent(value: f64) -> String {
    format!("{}%", fixed(value * 100.0, 1))
}

/// A proportion with its interval: `61.2% (48.0–72.3)`.
pub fn percent_text(value: Option<f64>, lower: Option<f64>, upper: Option<f64>) -> String {
    match value {
        None => NOT_AVAILABLE.into(),
        Some(v) => match (lower, upper) {
            (Some(l), Some(u)) => format!(
                "{} ({}–{})",
                percent(v),
                fixed(l * 100.0, 1),
                fixed(u * 100.0, 1)
            ),
            _ => percent(v),
        },
    }
}

/// A number with its interval: `23.4 (18.1–29.9)`.
pub fn number_text(
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    decimals: u8,
) -> String {
    match value {
        None => NOT_AVAILABLE.into(),
        Some(v) => match (lower, upper) {
            (Some(l), Some(u)) => format!(
                "{} ({}–{})",
                fixed(v, decimals),
                fixed(l, decimals),
                fixed(u, decimals)
            ),
            _ => fixed(v, decimals),
        },
    }
}

/// A chart: its data, in the units of the figures (days, proportions),
/// scaled by each printer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Chart {
    /// Kaplan–Meier curves (survival falling from 1) with their 95% bands
    /// and numbers at risk under the axis.
    Survival(StepChart),
    /// Cumulative incidence curves (rising from 0) with their 95% bands and
    /// numbers at risk.
    CumulativeIncidence(StepChart),
    /// A funnel plot: units by number of cases, with the 95% and 99.8%
    /// control limits around the comparator's mean.
    Funnel(FunnelChart),
    /// A learning-curve CUSUM.
    Cusum(CusumChart),
    /// An outcome by calendar year of procedure, with each year's cases.
    ByYear(YearChart),
}

/// Step curves over days since the index procedure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepChart {
    /// The chart's title.
    pub title: String,
    /// The y axis: what is estimated.
    pub y_label: String,
    /// The curves (one per group), each drawn in its own dash pattern so
    /// that they read in greyscale.
    pub curves: Vec<Curve>,
    /// The last day shown on the x axis.
    pub x_max_days: f64,
    /// Days under the axis at which numbers at risk are printed.
    pub at_risk_days: Vec<f64>,
}

/// One curve with its band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// The group's name (`All limbs`, `This clinician`).
    pub label: String,
    /// The curve's steps, from day 0: the value holds from `t_days` until
    /// the next step.
    pub steps: Vec<Step>,
    /// Numbers at risk at each of the chart's `at_risk_days` (time ≥ t).
    pub at_risk: Vec<Count>,
}

/// One step of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Step {
    /// The day the step starts.
    pub t_days: f64,
    /// The estimate from that day.
    pub value: f64,
    /// Lower 95% limit, if defined.
    pub lower: Option<f64>,
    /// Upper 95% limit, if defined.
    pub upper: Option<f64>,
}

/// A funnel plot (Spiegelhalter 2005).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelChart {
    /// The chart's title.
    pub title: String,
    /// The indicator, as a proportion (`30-day mortality`).
    pub indicator: String,
    /// The comparator whose mean the limits surround (`registry`, `site`).
    pub comparator: String,
    /// The comparator's mean proportion.
    pub mean: f64,
    /// The control limits at each number of cases along the x axis.
    pub limits: Vec<FunnelLimitPoint>,
    /// The units. Only the highlighted unit is named (results are not
    /// ranked and no other clinician or site is named).
    pub units: Vec<FunnelPoint>,
}

/// The control limits at a number of cases.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FunnelLimitPoint {
    /// Number of cases.
    pub n: f64,
    /// Lower 99.8% limit.
    pub lower_998: f64,
    /// Lower 95% limit.
    pub lower_95: f64,
    /// Upper 95% limit.
    pub upper_95: f64,
    /// Upper 99.8% limit.
    pub upper_998: f64,
}

/// One unit on a funnel plot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelPoint {
    /// The unit's name, for the highlighted unit only.
    pub label: Option<String>,
    /// Number of cases.
    pub n: u64,
    /// Observed proportion.
    pub observed: f64,
    /// Whether this is the unit the report is about.
    pub highlighted: bool,
}

/// A learning-curve CUSUM (Steiner et al. 2000).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CusumChart {
    /// The chart's title.
    pub title: String,
    /// The signal threshold h.
    pub threshold: f64,
    /// The CUSUM after each case, in case order.
    pub points: Vec<CusumPoint>,
}

/// One case on a CUSUM.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CusumPoint {
    /// Case number (1-based).
    pub case: u64,
    /// The CUSUM after the case.
    pub value: f64,
    /// Whether the CUSUM signalled at this case.
    pub signal: bool,
}

/// An outcome by calendar year of procedure: each year's estimate with
/// its 95% interval, and under the axis the year's index procedures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearChart {
    /// The chart's title.
    pub title: String,
    /// The y axis: the outcome, a proportion.
    pub y_label: String,
    /// The years, oldest first.
    pub years: Vec<YearPoint>,
}

/// One calendar year on a [`YearChart`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearPoint {
    /// The calendar year.
    pub year: i32,
    /// Index procedures of the year (none when the year has no figures).
    pub cases: Option<Count>,
    /// The outcome's estimate, if any.
    pub estimate: Option<f64>,
    /// Lower 95% limit.
    pub lower: Option<f64>,
    /// Upper 95% limit.
    pub upper: Option<f64>,
}

/// Compliance findings (governance review).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Findings {
    /// The findings, in the order of IPG773.
    pub findings: Vec<Finding>,
}

/// One arrangement of IPG773 and what was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The IPG773 paragraph it serves (`1.3`).
    pub paragraph: String,
    /// The arrangement.
    pub title: String,
    /// Whether the site meets it.
    pub met: bool,
    /// What was found, in a sentence with its count and percentage.
    pub status: String,
    /// The records behind the finding (`RX1-000123: procedure on ...`).
    pub items: Vec<String>,
    /// How many more there are than are listed.
    pub more: usize,
}
