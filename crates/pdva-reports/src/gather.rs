//! What every report reads from the registry: the outcomes report for a
//! filter (the same computation as `pdva report outcomes` and
//! `/api/v1/outcomes`), and the stamp that traces a printed report to the
//! registry state that made it.

use chrono::NaiveDate;
use pdva_outcomes::{Audience, CohortBuilder, Filter, OutcomesReport, ReportRequest};
use pdva_store::Store;

use crate::document::{FilterShown, Stamp};
use crate::{ReportsError, Result};

/// Who asks for a report, and when: the same for every report kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The report date: nothing dated after it counts.
    pub as_of: NaiveDate,
    /// When it is generated (UTC, to the minute), as printed.
    pub generated_at: String,
    /// Who generates it: a username, or `cli:<login>`.
    pub generated_by: String,
}

/// The period of index procedures a report covers (both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    /// First index procedure date included.
    pub from: Option<NaiveDate>,
    /// Last index procedure date included.
    pub to: Option<NaiveDate>,
}

impl Period {
    /// A period, refused if it ends before it starts.
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Period> {
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(ReportsError::BackwardsPeriod { from, to });
        }
        Ok(Period { from, to })
    }

    /// The period as `from_to` for file names: `all`, `2024-01-01_2024-12-31`,
    /// `from-2024-01-01`, `to-2024-12-31`.
    pub fn file_part(&self) -> String {
        match (self.from, self.to) {
            (None, None) => "all".into(),
            (Some(f), None) => format!("from-{f}"),
            (None, Some(t)) => format!("to-{t}"),
            (Some(f), Some(t)) => format!("{f}_{t}"),
        }
    }
}

/// The software that makes the reports, as stamped on them.
pub fn software() -> String {
    format!("pdva-registry {}", env!("CARGO_PKG_VERSION"))
}

/// Computes the outcomes report for `filter` as of `as_of` for `audience`:
/// each patient's limbs are derived as the store streams their outcome
/// facts (the one computation behind every report).
pub async fn outcomes(
    store: &Store,
    filter: &Filter,
    as_of: NaiveDate,
    audience: Audience,
) -> Result<OutcomesReport> {
    let reference = store.reference_data().await?;
    let filter = filter.resolve_for(&reference, audience)?;
    let data_version = store.data_version().await?.to_string();
    let mut cohort = CohortBuilder::new(&filter, as_of);
    if cohort.makes_room_for_patients() {
        cohort.reserve_for_patients(store.outcome_facts_size_hint().await?);
    }
    store
        .for_each_patient_facts(filter.site.as_deref(), |facts| cohort.add(&facts))
        .await?;
    let limbs = cohort.finish();
    let request = ReportRequest {
        as_of,
        filter,
        data_version,
    };
    Ok(pdva_outcomes::report_from_limbs(
        &limbs, &reference, &request,
    )?)
}

/// The stamp of a report made from `main` (the report whose data version
/// and period it carries).
pub fn stamp(
    main: &OutcomesReport,
    period: Period,
    filters: Vec<FilterShown>,
    generation: &Generation,
    audience: Audience,
) -> Stamp {
    Stamp {
        from: period.from,
        to: period.to,
        as_of: generation.as_of,
        filters,
        generated_at: generation.generated_at.clone(),
        generated_by: generation.generated_by.clone(),
        software: software(),
        data_version: main.data_version.clone(),
        audience: audience.into(),
    }
}

/// The filter of index procedures in `period`, with the other fields given.
pub fn filter(period: Period, site: Option<String>, operator: Option<String>) -> Filter {
    Filter {
        site,
        operator,
        from: period.from,
        to: period.to,
        ..Default::default()
    }
}

/// The outcomes report of `filter` in a few lines (label, sentence) for an
/// export's summary sheet, in the audience's form. A report that cannot be
/// made (a research cohort under the minimum, say) gives one line saying
/// why instead, so the export still goes out.
pub async fn summary_lines(
    store: &Store,
    filter: &Filter,
    as_of: NaiveDate,
    audience: Audience,
) -> Vec<(String, String)> {
    match outcomes(store, filter, as_of, audience).await {
        Ok(report) => crate::reading::summary_lines(&report),
        Err(e) => vec![("Outcomes report".to_owned(), format!("not included: {e}"))],
    }
}
