//! The audit-tool summary (IPG773 3.2–3.3): one CSV row per index
//! procedure with the key efficacy and safety outcomes at 30 days, 6 months
//! and 1 year, for sites that also keep NICE's interventional procedure
//! outcomes audit tool.
//!
//! [`rows`] builds the rows from patient files (pure); [`write`] reads the
//! files from the store and streams the rows as CSV. Each column is
//! described in [`COLUMNS`].
//!
//! **Efficacy (3.2).** Limb perfusion is what the follow-up visit records
//! (DOMAIN.md 4.8): toe pressure, TcPO2 and the WIfI ischaemia grade,
//! beside their baseline values; wound healing is the visit's wound status;
//! major amputation of the index limb by the timepoint; quality of life is
//! the VascuQoL-6 total and EQ-5D-5L index (England value set) of the
//! assessment representing the timepoint.
//!
//! **Safety (3.3).** Each of IPG773's five key safety outcomes is an
//! adverse-event kind of the registry (`AdverseEventKind`, DOMAIN.md 4.9),
//! one to one: pain → `pain`, bleeding → `bleeding`, infection →
//! `infection`, worsening perfusion → `worsening_perfusion`, steal syndrome
//! → `steal_syndrome`. The registry's other kinds (access-site
//! complication, acute kidney injury, limb oedema, other) are not among
//! 3.3's terms: an access-site haematoma recorded as an access-site
//! complication is not counted as bleeding. They count in
//! `*_any_adverse_event`.
//!
//! **Status by a timepoint** (yes / no / unknown / not_due, DOMAIN.md
//! section 7): an event (amputation, death, adverse event onset) on or
//! before the day is `yes`; otherwise the status is known, and `no`, when
//! the patient died by that day or was last known alive on or after it;
//! otherwise it is `not_due` while the day is after the report date, and
//! `unknown` once it has passed (follow-up did not reach the timepoint). A
//! 30-day proportion of DOMAIN.md counts the rows whose day has passed by
//! the report date with `yes` or `no`. As in the outcomes engine, records
//! dated after the report date or the end of follow-up do not count.

use std::io::Write;

use chrono::{Days, NaiveDate};
use pdva_domain::codes::{AdverseEventKind, Limb, WoundStatus};
use pdva_domain::schedule::{self, Timepoint};
use pdva_domain::{ClinicalRecord, PatientFile, RecordId, ReferenceData};
use pdva_store::Store;

use crate::document::fixed;
use crate::gather::Period;
use crate::{ReportsError, Result};

/// IPG773 3.3's key safety outcomes and the adverse-event kind each is
/// recorded as (one to one).
pub const SAFETY_OUTCOMES: [(&str, AdverseEventKind); 5] = [
    ("pain", AdverseEventKind::Pain),
    ("bleeding", AdverseEventKind::Bleeding),
    ("infection", AdverseEventKind::Infection),
    ("worsening_perfusion", AdverseEventKind::WorseningPerfusion),
    ("steal_syndrome", AdverseEventKind::StealSyndrome),
];

/// The timepoints of the summary: the column prefix, the day the status is
/// read at (DOMAIN.md section 7), and the follow-up timepoint whose visit
/// and QoL assessment represent it (DOMAIN.md section 5).
pub const TIMEPOINTS: [(&str, i64, Timepoint); 3] = [
    ("30d", 30, Timepoint::Day30),
    ("6m", 182, Timepoint::Month6),
    ("1y", 365, Timepoint::Month12),
];

/// Whether an outcome happened by a timepoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It happened on or before the day.
    Yes,
    /// It did not, and the status is known.
    No,
    /// Follow-up did not reach the day (no death by it, last known alive
    /// before it).
    Unknown,
    /// The day is after the report date and nothing settles the status
    /// yet.
    NotDue,
}

impl Status {
    /// As written in the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Yes => "yes",
            Status::No => "no",
            Status::Unknown => "unknown",
            Status::NotDue => "not_due",
        }
    }
}

/// Limb perfusion as a visit or the baseline records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perfusion {
    /// Toe pressure, mmHg.
    pub toe_pressure_mmhg: Option<u16>,
    /// TcPO2, mmHg.
    pub tcpo2_mmhg: Option<u16>,
    /// WIfI ischaemia grade 0–3.
    pub wifi_ischaemia: Option<u8>,
}

/// Quality of life of one assessment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Qol {
    /// VascuQoL-6 total 6–24 (all six items answered).
    pub vascuqol6: Option<u8>,
    /// EQ-5D-5L index, England value set (all five dimensions answered).
    pub eq5d_index: Option<f64>,
}

/// The outcomes of one index procedure at one timepoint.
#[derive(Debug, Clone, PartialEq)]
pub struct AtTimepoint {
    /// The visit representing the timepoint (closest to its target day in
    /// its window), if any.
    pub visit_date: Option<NaiveDate>,
    /// Perfusion at that visit.
    pub perfusion: Perfusion,
    /// Wound status at that visit.
    pub wound_status: Option<WoundStatus>,
    /// Pain score 0–10 at that visit.
    pub pain_score: Option<u8>,
    /// The QoL assessment representing the timepoint.
    pub qol: Qol,
    /// Major amputation of the index limb by the day.
    pub major_amputation: Status,
    /// Death by the day.
    pub death: Status,
    /// Each of [`SAFETY_OUTCOMES`] by the day (onset from day 0).
    pub safety: [Status; 5],
    /// An adverse event of any kind by the day.
    pub any_adverse_event: Status,
}

/// One row of the summary: one index procedure.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// The patient's registry id.
    pub registry_id: String,
    /// The patient's home site code.
    pub site: String,
    /// The index procedure's record id.
    pub procedure_id: RecordId,
    /// Day 0.
    pub procedure_date: NaiveDate,
    /// The index limb.
    pub limb: Limb,
    /// The primary operator's name.
    pub operator: String,
    /// Technical success (DOMAIN.md 4.6).
    pub technical_success: bool,
    /// The last known date (DOMAIN.md section 7).
    pub last_known_date: NaiveDate,
    /// The date of death, if on or before the report date and the end of
    /// follow-up.
    pub death_date: Option<NaiveDate>,
    /// Perfusion at the baseline assessment.
    pub baseline_perfusion: Perfusion,
    /// QoL at baseline (the latest assessment on or before the procedure).
    pub baseline_qol: Qol,
    /// At 30 days, 6 months and 1 year ([`TIMEPOINTS`]).
    pub at: Vec<AtTimepoint>,
}

/// The columns of the CSV, each with what it holds, in order. Per-timepoint
/// columns are listed once with `{t}` for `30d`, `6m` and `1y`.
pub const COLUMNS: &[(&str, &str)] = &[
    ("registry_id", "the patient's registry id"),
    ("site", "the patient's home site code"),
    (
        "procedure_date",
        "date of the index procedure (day 0), YYYY-MM-DD",
    ),
    ("limb", "index limb: left or right"),
    ("operator", "primary operator's name"),
    (
        "technical_success",
        "yes or no (fistula created and flow into the venous arch)",
    ),
    (
        "last_known_date",
        "last known date (DOMAIN.md section 7), YYYY-MM-DD",
    ),
    (
        "death_date",
        "date of death, YYYY-MM-DD; empty if not known to have died",
    ),
    (
        "baseline_toe_pressure_mmhg",
        "toe pressure at baseline, mmHg; empty if not measured",
    ),
    (
        "baseline_tcpo2_mmhg",
        "TcPO2 at baseline, mmHg; empty if not measured",
    ),
    (
        "baseline_wifi_ischaemia",
        "WIfI ischaemia grade 0–3 at baseline; empty without a baseline",
    ),
    (
        "baseline_vascuqol6",
        "VascuQoL-6 total 6–24 at baseline; empty if not complete",
    ),
    (
        "baseline_eq5d_index",
        "EQ-5D-5L index (England value set, 3 decimals) at baseline",
    ),
    (
        "{t}_visit_date",
        "date of the visit representing the timepoint; empty if none",
    ),
    ("{t}_toe_pressure_mmhg", "toe pressure at that visit, mmHg"),
    ("{t}_tcpo2_mmhg", "TcPO2 at that visit, mmHg"),
    ("{t}_wifi_ischaemia", "WIfI ischaemia grade at that visit"),
    (
        "{t}_wound_status",
        "wound status at that visit: healed, healing, unchanged, worse, new_wound, no_wound",
    ),
    ("{t}_pain_score", "pain score 0–10 at that visit"),
    (
        "{t}_vascuqol6",
        "VascuQoL-6 total of the assessment representing the timepoint",
    ),
    (
        "{t}_eq5d_index",
        "EQ-5D-5L index of that assessment (3 decimals)",
    ),
    (
        "{t}_major_amputation",
        "major amputation of the index limb by the day: yes, no, unknown, not_due",
    ),
    ("{t}_death", "death by the day: yes, no, unknown, not_due"),
    (
        "{t}_pain",
        "adverse event 'pain' by the day: yes, no, unknown, not_due",
    ),
    ("{t}_bleeding", "adverse event 'bleeding' by the day"),
    ("{t}_infection", "adverse event 'infection' by the day"),
    (
        "{t}_worsening_perfusion",
        "adverse event 'worsening perfusion' by the day",
    ),
    (
        "{t}_steal_syndrome",
        "adverse event 'steal syndrome' by the day",
    ),
    (
        "{t}_any_adverse_event",
        "an adverse event of any kind by the day",
    ),
];

/// The header row: [`COLUMNS`] with each `{t}` column once per timepoint.
pub fn header() -> Vec<String> {
    let fixed_columns = COLUMNS.iter().filter(|(c, _)| !c.starts_with("{t}"));
    let per_timepoint: Vec<&str> = COLUMNS
        .iter()
        .filter_map(|(c, _)| c.strip_prefix("{t}"))
        .collect();
    fixed_columns
        .map(|(c, _)| (*c).to_owned())
        .chain(
            TIMEPOINTS
                .iter()
                .flat_map(|(t, _, _)| per_timepoint.iter().map(move |c| format!("{t}{c}"))),
        )
        .collect()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn index(v: Option<f64>) -> String {
    v.map(|v| fixed(v, 3)).unwrap_or_default()
}

impl AuditRow {
    /// The row's fields, in the order of [`header`].
    pub fn record(&self) -> Vec<String> {
        let mut r = vec![
            self.registry_id.clone(),
            self.site.clone(),
            self.procedure_date.to_string(),
            self.limb.as_code().to_owned(),
            self.operator.clone(),
            yes_no(self.technical_success),
            self.last_known_date.to_string(),
            opt(self.death_date),
            opt(self.baseline_perfusion.toe_pressure_mmhg),
            opt(self.baseline_perfusion.tcpo2_mmhg),
            opt(self.baseline_perfusion.wifi_ischaemia),
            opt(self.baseline_qol.vascuqol6),
            index(self.baseline_qol.eq5d_index),
        ];
        for at in &self.at {
            r.extend([
                opt(at.visit_date),
                opt(at.perfusion.toe_pressure_mmhg),
                opt(at.perfusion.tcpo2_mmhg),
                opt(at.perfusion.wifi_ischaemia),
                at.wound_status
                    .map(|w| w.as_code().to_owned())
                    .unwrap_or_default(),
                opt(at.pain_score),
                opt(at.qol.vascuqol6),
                index(at.qol.eq5d_index),
                at.major_amputation.as_str().into(),
                at.death.as_str().into(),
            ]);
            r.extend(at.safety.iter().map(|s| s.as_str().to_owned()));
            r.push(at.any_adverse_event.as_str().into());
        }
        r
    }
}

/// The status by `day` of an event first happening on `event_day`: see the
/// module's documentation.
fn status_by(
    day: i64,
    event_day: Option<i64>,
    due: bool,
    death_day: Option<i64>,
    last_known_day: i64,
) -> Status {
    if event_day.is_some_and(|d| d <= day) {
        Status::Yes
    } else if death_day.is_some_and(|d| d <= day) {
        // Nothing happens after death: known, even before the day comes.
        Status::No
    } else if !due {
        Status::NotDue
    } else if last_known_day >= day {
        Status::No
    } else {
        Status::Unknown
    }
}

/// The rows of the index procedures in `period` of the patients of `site`
/// (all sites when `None`), as of `as_of`, in order of procedure date,
/// then registry id and limb.
pub fn rows(
    files: &[PatientFile],
    reference: &ReferenceData,
    site: Option<&str>,
    period: Period,
    as_of: NaiveDate,
) -> Vec<AuditRow> {
    let mut out = Vec::new();
    for file in files {
        if site.is_some_and(|s| file.patient.home_site.as_str() != s) {
            continue;
        }
        // The engine's derivation gives the last known date, death and
        // major amputation exactly as the outcomes report counts them.
        for limb in pdva_outcomes::index_limbs(file, as_of) {
            let date = limb.procedure_date;
            if period.from.is_some_and(|f| date < f) || period.to.is_some_and(|t| date > t) {
                continue;
            }
            if let Some(row) = row(file, &limb, reference, as_of) {
                out.push(row);
            }
        }
    }
    out.sort_by(|a, b| {
        (
            a.procedure_date,
            &a.registry_id,
            a.limb.as_code(),
            a.procedure_id,
        )
            .cmp(&(
                b.procedure_date,
                &b.registry_id,
                b.limb.as_code(),
                b.procedure_id,
            ))
    });
    out
}

fn day_of(date: NaiveDate, day: i64) -> NaiveDate {
    date.checked_add_days(Days::new(day.max(0) as u64))
        .unwrap_or(NaiveDate::MAX)
}

fn row(
    file: &PatientFile,
    limb: &pdva_outcomes::IndexLimb,
    reference: &ReferenceData,
    as_of: NaiveDate,
) -> Option<AuditRow> {
    let procedure = file.procedure(limb.procedure_id)?;
    let date = limb.procedure_date;
    // Records after the cut-off do not count (as in the engine).
    let cut_off = day_of(date, i64::from(limb.cut_off_day));
    let counted = |d: NaiveDate| d <= cut_off;
    let mine = |r: &ClinicalRecord| r.procedure_id() == Some(limb.procedure_id);
    let death_day = limb.death_day.map(i64::from);
    let last_known_day = i64::from(limb.last_known_day);
    let major_amputation_day = limb.major_amputation_day.map(i64::from);

    let mut baseline_perfusion = Perfusion::default();
    let mut visits = Vec::new();
    let mut qols = Vec::new();
    // First onset day of each kind of adverse event (from day 0).
    let mut first_onset: Vec<(AdverseEventKind, i64)> = Vec::new();
    for (_, r) in file.records.iter().filter(|(_, r)| mine(r)) {
        match r {
            ClinicalRecord::Baseline(b) => {
                baseline_perfusion = Perfusion {
                    toe_pressure_mmhg: b.toe_pressure_mmhg.map(|v| v.get()),
                    tcpo2_mmhg: b.tcpo2_mmhg.map(|v| v.get()),
                    wifi_ischaemia: Some(b.wifi_ischaemia.get()),
                };
            }
            ClinicalRecord::FollowUpVisit(v) if counted(v.visit_date) => visits.push(v),
            ClinicalRecord::QualityOfLife(q) if counted(q.assessment_date) => qols.push(q),
            ClinicalRecord::AdverseEvent(a) if counted(a.onset_date) && a.onset_date >= date => {
                let d = schedule::day_of(date, a.onset_date);
                match first_onset.iter_mut().find(|(k, _)| *k == a.kind) {
                    Some((_, first)) => *first = (*first).min(d),
                    None => first_onset.push((a.kind, d)),
                }
            }
            _ => {}
        }
    }
    let qol_of = |q: &pdva_domain::QualityOfLife| Qol {
        vascuqol6: q.vascuqol6_total(),
        eq5d_index: q.eq5d_index(),
    };
    let baseline_qol = qols
        .iter()
        .filter(|q| q.assessment_date <= date)
        .max_by_key(|q| q.assessment_date)
        .map(|q| qol_of(q))
        .unwrap_or_default();
    let visit_dates: Vec<NaiveDate> = visits.iter().map(|v| v.visit_date).collect();
    let qol_dates: Vec<NaiveDate> = qols.iter().map(|q| q.assessment_date).collect();
    let onset = |kind: AdverseEventKind| {
        first_onset
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
    };
    let any_onset = first_onset.iter().map(|(_, d)| *d).min();
    let at = TIMEPOINTS
        .iter()
        .map(|&(_, day, timepoint)| {
            let due = day_of(date, day) <= as_of;
            let status = |event: Option<i64>| status_by(day, event, due, death_day, last_known_day);
            let visit = schedule::representative_visit(date, timepoint, &visit_dates)
                .and_then(|d| visits.iter().find(|v| v.visit_date == d));
            let qol = schedule::representative_visit(date, timepoint, &qol_dates)
                .and_then(|d| qols.iter().find(|q| q.assessment_date == d));
            AtTimepoint {
                visit_date: visit.map(|v| v.visit_date),
                perfusion: visit
                    .map(|v| Perfusion {
                        toe_pressure_mmhg: v.toe_pressure_mmhg.map(|p| p.get()),
                        tcpo2_mmhg: v.tcpo2_mmhg.map(|p| p.get()),
                        wifi_ischaemia: v.wifi_ischaemia.map(|g| g.get()),
                    })
                    .unwrap_or_default(),
                wound_status: visit.and_then(|v| v.wound_status),
                pain_score: visit.and_then(|v| v.pain_score.map(|p| p.get())),
                qol: qol.map(|q| qol_of(q)).unwrap_or_default(),
                major_amputation: status(major_amputation_day),
                death: status(death_day),
                safety: SAFETY_OUTCOMES.map(|(_, kind)| status(onset(kind))),
                any_adverse_event: status(any_onset),
            }
        })
        .collect();
    Some(AuditRow {
        registry_id: file.patient.registry_id.to_string(),
        site: file.patient.home_site.to_string(),
        procedure_id: limb.procedure_id,
        procedure_date: date,
        limb: procedure.index_limb,
        operator: reference
            .clinicians
            .get(&procedure.primary_operator)
            .map(|c| c.display_name.to_string())
            .unwrap_or_else(|| format!("unknown clinician {}", procedure.primary_operator)),
        technical_success: procedure.technical_success(),
        last_known_date: day_of(date, last_known_day),
        death_date: death_day.map(|d| day_of(date, d)),
        baseline_perfusion,
        baseline_qol,
        at,
    })
}

/// Writes the summary of the index procedures in `period` of `site`'s
/// patients (every site's when `None`) as of `as_of` to `out` as CSV: a
/// header row, then one row per index procedure ([`COLUMNS`]). Returns the
/// number of rows written (the header not counted).
pub async fn write(
    store: &Store,
    site: Option<&str>,
    period: Period,
    as_of: NaiveDate,
    out: impl Write,
) -> Result<usize> {
    let reference = store.reference_data().await?;
    if let Some(code) = site
        && !reference.sites.keys().any(|c| c.as_str() == code)
    {
        return Err(ReportsError::UnknownSite(code.to_owned()));
    }
    let files = store.load_patient_files(site).await?;
    let rows = rows(&files, &reference, site, period, as_of);
    write_rows(&rows, out)?;
    Ok(rows.len())
}

/// Writes `rows` as CSV (header first) to `out`.
pub fn write_rows(rows: &[AuditRow], out: impl Write) -> Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(header())?;
    for row in rows {
        csv.write_record(row.record())?;
    }
    csv.flush().map_err(csv::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_described_once_and_every_row_fills_the_header() {
        let header = header();
        let mut unique = header.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), header.len());
        let per_timepoint = COLUMNS.iter().filter(|(c, _)| c.starts_with("{t}")).count();
        assert_eq!(
            header.len(),
            COLUMNS.len() - per_timepoint + TIMEPOINTS.len() * per_timepoint
        );
        let at = AtTimepoint {
            visit_date: None,
            perfusion: Perfusion::default(),
            wound_status: None,
            pain_score: None,
            qol: Qol::default(),
            major_amputation: Status::Unknown,
            death: Status::No,
            safety: [Status::No; 5],
            any_adverse_event: Status::No,
        };
        let row = AuditRow {
            registry_id: "R".into(),
            site: "S".into(),
            procedure_id: RecordId::from_bits(1),
            procedure_date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            limb: Limb::Left,
            operator: "O".into(),
            technical_success: true,
            last_known_date: NaiveDate::from_ymd_opt(2025, 2, 1).unwrap(),
            death_date: None,
            baseline_perfusion: Perfusion::default(),
            baseline_qol: Qol::default(),
            at: vec![at; TIMEPOINTS.len()],
        };
        assert_eq!(row.record().len(), header.len());
        // The safety columns follow the mapping's order.
        let names: Vec<&str> = SAFETY_OUTCOMES.iter().map(|(n, _)| *n).collect();
        let i = header.iter().position(|h| h == "30d_pain").unwrap();
        assert_eq!(
            header[i..i + 5]
                .iter()
                .map(|h| h.trim_start_matches("30d_"))
                .collect::<Vec<_>>(),
            names
        );
    }

    #[test]
    fn status_is_known_only_when_follow_up_reached_the_day_or_the_event_or_death_came_first() {
        // Event on day 20: yes at 30 days.
        assert_eq!(status_by(30, Some(20), true, None, 25), Status::Yes);
        // No event, last known on day 29: unknown at 30 days.
        assert_eq!(status_by(30, None, true, None, 29), Status::Unknown);
        // Last known on day 30 exactly: known, no.
        assert_eq!(status_by(30, None, true, None, 30), Status::No);
        // Died on day 10 without the event: known, no.
        assert_eq!(status_by(30, None, true, Some(10), 10), Status::No);
        // Event after the day: no at that day if followed beyond it.
        assert_eq!(status_by(30, Some(40), true, None, 50), Status::No);
        // The day is after the report date: an event or death already
        // settles the status; otherwise it is not due.
        assert_eq!(status_by(182, Some(20), false, None, 25), Status::Yes);
        assert_eq!(status_by(182, None, false, Some(25), 25), Status::No);
        assert_eq!(status_by(182, None, false, None, 25), Status::NotDue);
    }
}
