//! Time-to-event derivation: from a patient's file to the follow-up of each
//! index limb, exactly as DOMAIN.md section 7 defines it.
//!
//! The rules, in one place:
//!
//! - **Time zero** is the index procedure date; times are whole days. Each
//!   index procedure (limb) is followed on its own; the patient's death
//!   applies to every limb.
//! - **What counts.** Voided records never count (the store leaves them
//!   out). A record counts only if its date is on or before the
//!   **cut-off**: the report date, or the date follow-up ended
//!   (DOMAIN.md 4.3) if that is earlier — the registry does not watch a
//!   patient after their follow-up ended, so an event reported later would
//!   be counted only for the patients whose later events happen to reach it.
//!   A record's secondary dates after the cut-off (a stop date, a discharge
//!   date) are treated as not yet known.
//! - **Last known date** (DOMAIN.md section 7): the date of death if the
//!   patient died; otherwise the latest date that attests the patient alive
//!   among the counted records: index procedure and discharge, baseline
//!   assessment, consent and research-consent withdrawal, visits,
//!   amputations, reinterventions, adverse-event onset and resolution,
//!   antithrombotic start and stop, QoL assessments; never later than the
//!   cut-off. (A baseline's MDT decision date is not among them: the team
//!   meets without the patient.)
//! - **Major amputation**: the first amputation of the index limb (recorded
//!   against its procedure) at a major level; minor ones before it do not
//!   count.
//! - **Reinterventions** on the index limb count up to and including the day
//!   of a major amputation (a same-day salvage attempt counts), not after:
//!   freedom from reintervention is censored at the major amputation.
//! - **Wound healing**: the first follow-up visit recording the index-limb
//!   wound as healed, for a limb with a wound at baseline; a healing recorded
//!   on or after the day of a major amputation or of death does not count.
//! - **Same-day order** (records carry dates, not times): a major amputation
//!   on the day of death is an amputation, and the death follows it; a
//!   reintervention on the day of a major amputation counts; a healing on
//!   the day of a major amputation or death does not.
//! - **30-day status** ([`IndexLimb::thirty_day_status`]): a limb counts in
//!   a 30-day proportion once its 30-day window has passed by the report
//!   date and its status for that outcome at day 30 is known (the event by
//!   day 30, death by day 30, or a last known date on or after day 30);
//!   a limb whose window has passed but whose status is unknown is counted
//!   apart, never taken as event-free.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use pdva_domain::codes::{
    AdverseEventKind, AntithromboticDrug, CrossoverLevel, DrugClass, Limb, LimbStatus, StopReason,
    WoundStatus,
};
use pdva_domain::facts::FactDetail;
pub use pdva_domain::facts::{BaselineFacts, PatientFacts, RecordFacts};
use pdva_domain::schedule::{self, Completeness, Timepoint};
use pdva_domain::{PatientFile, RecordId};

/// Covered days of a drug (or of anticoagulation as a whole) from the
/// index procedure, as DOMAIN.md 4.7 defines the duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TherapyDuration {
    /// Days covered by the union of the courses from the procedure date on;
    /// a course still running counts up to the last known date. Four
    /// bytes, as the limb's other days.
    pub days: i32,
    /// `true` if every course had stopped by the last known date, for a
    /// reason other than death (the event); `false` if a course was still
    /// running, or therapy ended with the patient's death (censored).
    pub stopped: bool,
}

/// Scores of one quality-of-life assessment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QolScores {
    /// VascuQoL-6 total (6–24), when all six items were answered.
    pub vascuqol6: Option<u8>,
    /// EQ-5D-5L index (England value set), when all five dimensions were answered.
    pub eq5d_index: Option<f64>,
    /// EQ VAS 0–100.
    pub eq_vas: Option<u8>,
}

/// One index procedure (limb) and everything the report needs to know of
/// its follow-up, in days since the procedure.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexLimb {
    /// The patient.
    pub patient_id: RecordId,
    /// The index procedure.
    pub procedure_id: RecordId,
    /// Day 0.
    pub procedure_date: NaiveDate,
    /// The index limb.
    pub limb: Limb,
    /// The patient's home site code (shared by the limbs of a cohort).
    pub site: Arc<str>,
    /// Primary operator.
    pub operator: RecordId,
    /// Device system used (shared by the limbs of a cohort).
    pub device_system: Arc<str>,
    /// Crossover level (technique).
    pub crossover_level: CrossoverLevel,
    /// Technical success (DOMAIN.md 4.6).
    pub technical_success: bool,
    /// Baseline facts, if a baseline was recorded.
    pub baseline: Option<BaselineFacts>,
    /// Last day the registry watches this limb: the report date or the end
    /// of follow-up, whichever is earlier.
    pub cut_off_day: i32,
    /// Day of the report date (the 30-day window has passed when it is at
    /// least 30), whatever the end of follow-up.
    pub report_day: i32,
    /// Day of death, if the patient died on or before the cut-off.
    pub death_day: Option<i32>,
    /// Day of the last known date (the day of death if the patient died).
    pub last_known_day: i32,
    /// Follow-up ended (withdrew, moved away, transferred) on or before the report date.
    pub follow_up_ended: bool,
    /// Day of the first major amputation of the index limb.
    pub major_amputation_day: Option<i32>,
    /// Day of the first reintervention (planned or unplanned), up to the major amputation.
    pub first_reintervention_day: Option<i32>,
    /// Day of the first unplanned reintervention, up to the major amputation.
    pub first_unplanned_reintervention_day: Option<i32>,
    /// Day of the first major reintervention (bypass, thrombectomy or
    /// thrombolysis, open surgical revision), up to the major amputation.
    pub first_major_reintervention_day: Option<i32>,
    /// Planned reinterventions up to the end of person-time.
    pub planned_reinterventions: u32,
    /// Unplanned reinterventions up to the end of person-time.
    pub unplanned_reinterventions: u32,
    /// Day of the first visit recording the wound healed (limbs with a wound at baseline).
    pub wound_healed_day: Option<i32>,
    /// Wound status at the 6-month visit (the visit representing the
    /// timepoint), unless the limb had been amputated (major) by then.
    pub wound_status_6_months: Option<WoundStatus>,
    /// Kinds of adverse event with onset within 30 days (day 0–30), as a
    /// bit set over [`AdverseEventKind::ALL`] (see
    /// [`IndexLimb::had_adverse_event_30_day`]).
    pub adverse_events_30_day: u16,
    /// Follow-up completeness of this limb (DOMAIN.md section 5).
    pub completeness: Completeness,
    /// Baseline QoL: the latest assessment on or before the procedure.
    pub qol_baseline: Option<QolScores>,
    /// QoL at each timepoint: the assessment closest to the target day.
    pub qol_timepoints: Box<[(Timepoint, QolScores)]>,
    /// Duration of anticoagulation, if any anticoagulant was given.
    pub anticoagulation: Option<TherapyDuration>,
    /// Duration of each anticoagulant drug given.
    pub anticoagulation_by_drug: Box<[(AntithromboticDrug, TherapyDuration)]>,
}

/// A date's day number: day numbers subtract exactly as
/// `(date - procedure).num_days()` does, without building a `TimeDelta`.
fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// A day count as the limb keeps it: two dates chrono can hold are fewer
/// than 2³¹ days apart, so this never fails.
fn narrow(days: i64) -> i32 {
    i32::try_from(days).expect("dates fewer than 2³¹ days apart")
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The bit of an adverse event kind in [`IndexLimb::adverse_events_30_day`].
fn adverse_event_bit(kind: AdverseEventKind) -> u16 {
    let i = AdverseEventKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is listed");
    1 << i
}

/// The latest of a record's dates that attests the patient alive and is on
/// or before `cut_off` (its primary date is known to be). Every secondary
/// date does (discharge, research-consent withdrawal, drug stop, adverse
/// event resolved) except a baseline's MDT decision date, which DOMAIN.md
/// section 7 does not list: the team decides without the patient present.
fn latest_date(r: &RecordFacts, cut_off: NaiveDate) -> NaiveDate {
    if matches!(r.detail, FactDetail::Baseline(_)) {
        return r.date;
    }
    match r.secondary_date {
        Some(s) if s <= cut_off && s > r.date => s,
        _ => r.date,
    }
}

/// A limb's status for one outcome at day 30 (DOMAIN.md section 7,
/// 30-day proportions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThirtyDayStatus {
    /// The 30-day window has not passed by the report date: the limb is in
    /// neither the proportion nor its status-unknown count.
    WindowOpen,
    /// The outcome happened by day 30.
    Event,
    /// Known free of the outcome at day 30: the patient died by day 30
    /// without it, or was known alive on or after day 30.
    EventFree,
    /// The window has passed, but nothing is known of the limb on or after
    /// day 30 (and neither the outcome nor death by then).
    Unknown,
}

impl IndexLimb {
    /// Whether an adverse event of `kind` began within 30 days.
    pub fn had_adverse_event_30_day(&self, kind: AdverseEventKind) -> bool {
        self.adverse_events_30_day & adverse_event_bit(kind) != 0
    }

    /// Last day of person-time for reintervention: the earliest of major
    /// amputation, death and the last known date.
    pub fn person_time_end_day(&self) -> i64 {
        i64::from(min_opt(self.major_amputation_day, Some(self.last_known_day)).expect("some"))
    }

    /// Amputation-free survival: (day, event) — major amputation or death,
    /// whichever first; else censored at the last known date.
    pub fn amputation_free_survival(&self) -> (i64, bool) {
        match min_opt(self.major_amputation_day, self.death_day) {
            Some(d) => (d.into(), true),
            None => (self.last_known_day.into(), false),
        }
    }

    /// Overall survival: death; else censored at the last known date.
    pub fn overall_survival(&self) -> (i64, bool) {
        match self.death_day {
            Some(d) => (d.into(), true),
            None => (self.last_known_day.into(), false),
        }
    }

    /// Freedom from major amputation: censored at death or the last known date.
    pub fn freedom_from_major_amputation(&self) -> (i64, bool) {
        match self.major_amputation_day {
            Some(d) => (d.into(), true),
            None => (self.last_known_day.into(), false),
        }
    }

    /// Freedom from unplanned reintervention: censored at major amputation,
    /// death or the last known date.
    pub fn freedom_from_unplanned_reintervention(&self) -> (i64, bool) {
        match self.first_unplanned_reintervention_day {
            Some(d) => (d.into(), true),
            None => (self.person_time_end_day(), false),
        }
    }

    /// Freedom from any reintervention: as for unplanned.
    pub fn freedom_from_any_reintervention(&self) -> (i64, bool) {
        match self.first_reintervention_day {
            Some(d) => (d.into(), true),
            None => (self.person_time_end_day(), false),
        }
    }

    /// Freedom from MALE (major amputation or major reintervention):
    /// censored at death or the last known date.
    pub fn freedom_from_male(&self) -> (i64, bool) {
        match min_opt(
            self.major_amputation_day,
            self.first_major_reintervention_day,
        ) {
            Some(d) => (d.into(), true),
            None => (self.last_known_day.into(), false),
        }
    }

    /// Major amputation with death competing: (day, status) with status
    /// 1 = major amputation, 2 = death, 0 = censored at the last known date.
    pub fn major_amputation_competing(&self) -> (i64, u32) {
        match (self.major_amputation_day, self.death_day) {
            (Some(a), _) => (a.into(), 1),
            (None, Some(d)) => (d.into(), 2),
            (None, None) => (self.last_known_day.into(), 0),
        }
    }

    /// Wound healing with major amputation and death competing, for limbs
    /// with a wound at baseline (else `None`): status 1 = healed, 2 = major
    /// amputation, 3 = death, 0 = censored at the last known date.
    pub fn wound_healing_competing(&self) -> Option<(i64, u32)> {
        if !self.baseline?.has_wound {
            return None;
        }
        Some(
            match (
                self.wound_healed_day,
                self.major_amputation_day,
                self.death_day,
            ) {
                (Some(h), _, _) => (h.into(), 1),
                (None, Some(a), _) => (a.into(), 2),
                (None, None, Some(d)) => (d.into(), 3),
                (None, None, None) => (self.last_known_day.into(), 0),
            },
        )
    }

    /// Whether the limb's status at `day` is known: it was followed to that
    /// day, or the patient died before it.
    pub fn followed_to(&self, day: i64) -> bool {
        i64::from(self.cut_off_day) >= day || self.death_day.is_some_and(|d| i64::from(d) <= day)
    }

    /// The limb's status at day 30 for an outcome that did
    /// (`event_by_30`) or did not happen by day 30 (DOMAIN.md section 7):
    /// counted only once the 30-day window has passed by the report date;
    /// then known if the outcome happened by day 30, the patient died by
    /// day 30, or the last known date is on or after day 30.
    pub fn thirty_day_status(&self, event_by_30: bool) -> ThirtyDayStatus {
        if !self.thirty_day_window_passed() {
            ThirtyDayStatus::WindowOpen
        } else if event_by_30 {
            ThirtyDayStatus::Event
        } else if self.death_day.is_some_and(|d| d <= 30) || self.last_known_day >= 30 {
            ThirtyDayStatus::EventFree
        } else {
            ThirtyDayStatus::Unknown
        }
    }

    /// Whether the 30-day window has passed by the report date (the report
    /// date is on or after day 30), whatever is known of the limb.
    pub fn thirty_day_window_passed(&self) -> bool {
        self.report_day >= 30
    }

    /// Whether the patient died by day 30.
    pub fn died_by_30(&self) -> bool {
        self.death_day.is_some_and(|d| d <= 30)
    }

    /// Whether the index limb had a major amputation by day 30.
    pub fn major_amputation_by_30(&self) -> bool {
        self.major_amputation_day.is_some_and(|d| d <= 30)
    }

    /// Major adverse limb event (major amputation or major reintervention)
    /// or death within 30 days.
    pub fn male_or_death_30_day(&self) -> bool {
        [
            self.major_amputation_day,
            self.first_major_reintervention_day,
            self.death_day,
        ]
        .into_iter()
        .flatten()
        .any(|d| d <= 30)
    }
}

/// Derives every index limb of `file` as of `report_date`. Procedures dated
/// after the report date are left out.
pub fn index_limbs(file: &PatientFile, report_date: NaiveDate) -> Vec<IndexLimb> {
    let mut limbs = Vec::with_capacity(1);
    index_limbs_into(
        &PatientFacts::from(file),
        report_date,
        &mut limbs,
        &mut Scratch::default(),
    );
    limbs
}

/// An anticoagulant course of a limb: drug, start day, stop day (if known
/// by the cut-off) and the reason it stopped.
type Course = (AntithromboticDrug, i64, Option<i64>, Option<StopReason>);

/// Buffers reused from one patient to the next when deriving a cohort: the
/// site codes and device names already seen (so that a million limbs share
/// a handful of strings) and the per-limb working lists, so that deriving a
/// limb allocates only what the limb keeps.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Site codes and device names seen, the latest asked for last.
    sites: Vec<Arc<str>>,
    devices: Vec<Arc<str>>,
    visit_days: Vec<i64>,
    /// Reinterventions of the limb: (day, planned, major), kept until the
    /// major amputation day that limits them is known.
    reinterventions: Vec<(i64, bool, bool)>,
    /// The assessment chosen so far for each timepoint: (timepoint, day, scores).
    qol_points: Vec<(Timepoint, i64, QolScores)>,
    courses: Vec<Course>,
    periods: Vec<(i64, i64)>,
}

impl Scratch {
    fn shared(texts: &mut Vec<Arc<str>>, text: &str) -> Arc<str> {
        // The last text asked for is kept last and the search starts there:
        // a patient's site is often a recent patient's, and a device the
        // previous limb's. The first and last bytes are compared before the
        // whole text (a call to memcmp): they tell the few site codes, all
        // of one length, apart at once.
        let bytes = text.as_bytes();
        let same = |t: &Arc<str>| {
            let b = t.as_bytes();
            b.len() == bytes.len()
                && b.first() == bytes.first()
                && b.last() == bytes.last()
                && b == bytes
        };
        if let Some(i) = texts.iter().rposition(same) {
            if i + 1 < texts.len() {
                let t = texts.remove(i);
                texts.push(t);
            }
            return Arc::clone(texts.last().expect("just found"));
        }
        let t: Arc<str> = Arc::from(text);
        texts.push(Arc::clone(&t));
        t
    }
}

/// [`index_limbs`] from a patient's outcome facts (a [`PatientFile`]
/// converts to them; a store can read them directly), appending to `limbs`
/// and reusing `scratch`.
pub fn index_limbs_into(
    file: &PatientFacts,
    report_date: NaiveDate,
    limbs: &mut Vec<IndexLimb>,
    scratch: &mut Scratch,
) {
    let ended_on = file.follow_up_ended_on.filter(|d| *d <= report_date);
    let cut_off = ended_on.map_or(report_date, |e| e.min(report_date));

    // The patient-wide facts in one pass: the (first) death and the latest
    // counted date.
    let mut death = None;
    let mut latest = None;
    let mut procedures = 0usize;
    for r in &file.records {
        if r.date > cut_off {
            continue;
        }
        match r.detail {
            FactDetail::Death if death.is_none() => death = Some(r.date),
            FactDetail::Procedure { .. } => procedures += 1,
            _ => {}
        }
        let d = latest_date(r, cut_off);
        if latest.is_none_or(|l| d > l) {
            latest = Some(d);
        }
    }
    if procedures == 0 {
        return;
    }
    let last_known = death.unwrap_or(latest.unwrap_or(cut_off));
    // Observation ends at the report date, death or the end of follow-up
    // (DOMAIN.md section 5).
    let mut observed_to = report_date;
    if let Some(d) = death {
        observed_to = observed_to.min(d);
    }
    if let Some(d) = ended_on {
        observed_to = observed_to.min(d);
    }
    let site = Scratch::shared(&mut scratch.sites, file.home_site.as_str());

    for p in &file.records {
        let FactDetail::Procedure {
            index_limb,
            primary_operator,
            ref device_system,
            crossover_level,
            technical_success,
        } = p.detail
        else {
            continue;
        };
        let (procedure_id, procedure_date) = (p.id, p.date);
        if procedure_date > cut_off {
            continue;
        }
        let day_zero = day_number(procedure_date);
        let day = |d: NaiveDate| day_number(d) - day_zero;
        let death_day = death.map(day);
        let last_known_day = day(last_known).max(0);
        let device_system = Scratch::shared(&mut scratch.devices, device_system.as_str());

        let Scratch {
            visit_days,
            reinterventions,
            qol_points,
            courses,
            ..
        } = scratch;
        visit_days.clear();
        reinterventions.clear();
        qol_points.clear();
        courses.clear();

        let mut baseline = None;
        let mut major_amputation_day: Option<i64> = None;
        let mut first_healed_day: Option<i64> = None;
        let mut adverse_events_30_day = 0;
        let mut six_month_visit: Option<(i64, NaiveDate, LimbStatus, Option<WoundStatus>)> = None;
        let (lo6, hi6) = Timepoint::Month6.window();
        let mut qol_baseline: Option<(NaiveDate, QolScores)> = None;
        // This procedure's counted records, once: what depends on the major
        // amputation day (reinterventions, healing) is settled after.
        for r in &file.records {
            if r.procedure_id != Some(procedure_id) || r.date > cut_off {
                continue;
            }
            match r.detail {
                FactDetail::Baseline(b) if baseline.is_none() => baseline = Some(b),
                FactDetail::Amputation { major: true } => {
                    major_amputation_day = min_opt(major_amputation_day, Some(day(r.date)));
                }
                FactDetail::Reintervention { planned, major } => {
                    reinterventions.push((day(r.date), planned, major));
                }
                FactDetail::FollowUpVisit {
                    limb_status,
                    wound_status,
                } => {
                    let visit_date = r.date;
                    let d = day(visit_date);
                    visit_days.push(d);
                    if wound_status == Some(WoundStatus::Healed) {
                        first_healed_day = min_opt(first_healed_day, Some(d));
                    }
                    if (lo6..=hi6).contains(&d) {
                        let distance = (d - Timepoint::Month6.target_day()).abs();
                        let better = six_month_visit.is_none_or(|(best, best_date, _, _)| {
                            (distance, visit_date) < (best, best_date)
                        });
                        if better {
                            six_month_visit =
                                Some((distance, visit_date, limb_status, wound_status));
                        }
                    }
                }
                FactDetail::AdverseEvent { kind } => {
                    let d = day(r.date);
                    if (0..=30).contains(&d) {
                        adverse_events_30_day |= adverse_event_bit(kind);
                    }
                }
                FactDetail::QualityOfLife {
                    vascuqol6_total,
                    eq5d_index,
                    eq_vas,
                } => {
                    let scores = QolScores {
                        vascuqol6: vascuqol6_total,
                        eq5d_index,
                        eq_vas: eq_vas.map(|v| v.get()),
                    };
                    let assessment_date = r.date;
                    if assessment_date <= procedure_date {
                        if qol_baseline.is_none_or(|(d, _)| assessment_date > d) {
                            qol_baseline = Some((assessment_date, scores));
                        }
                    } else {
                        let d = day(assessment_date);
                        if let Some(t) = Timepoint::for_day(d) {
                            let distance = (d - t.target_day()).abs();
                            match qol_points.iter_mut().find(|(pt, _, _)| *pt == t) {
                                Some(slot) => {
                                    let slot_day = slot.1;
                                    let slot_distance = (slot_day - t.target_day()).abs();
                                    if (distance, d) < (slot_distance, slot_day) {
                                        *slot = (t, d, scores);
                                    }
                                }
                                None => qol_points.push((t, d, scores)),
                            }
                        }
                    }
                }
                FactDetail::AntithromboticTherapy {
                    drug,
                    stop_date,
                    stop_reason,
                } if drug.class() == DrugClass::Anticoagulant => {
                    let stop = stop_date.filter(|s| *s <= cut_off).map(day);
                    let reason = if stop.is_some() { stop_reason } else { None };
                    // A course that stopped before the procedure is not part of it.
                    if stop.is_none_or(|s| s >= 0) {
                        courses.push((drug, day(r.date), stop, reason));
                    }
                }
                _ => {}
            }
        }

        let mut limb = IndexLimb {
            patient_id: file.patient_id,
            procedure_id,
            procedure_date,
            limb: index_limb,
            site: Arc::clone(&site),
            operator: primary_operator,
            device_system,
            crossover_level,
            technical_success,
            baseline,
            cut_off_day: narrow(day(cut_off)),
            report_day: narrow(day(report_date)),
            death_day: death_day.map(narrow),
            last_known_day: narrow(last_known_day),
            follow_up_ended: ended_on.is_some(),
            major_amputation_day: major_amputation_day.map(narrow),
            first_reintervention_day: None,
            first_unplanned_reintervention_day: None,
            first_major_reintervention_day: None,
            planned_reinterventions: 0,
            unplanned_reinterventions: 0,
            // A healing on or after the day of a major amputation or of
            // death does not count (same-day order: the amputation or death
            // comes first): the first healing counts exactly when it is
            // before both.
            wound_healed_day: first_healed_day
                .filter(|h| major_amputation_day.is_none_or(|a| *h < a))
                .filter(|h| death_day.is_none_or(|d| *h < d))
                .map(narrow),
            wound_status_6_months: None,
            adverse_events_30_day,
            completeness: schedule::completeness_of_days(day(observed_to), visit_days),
            qol_baseline: qol_baseline.map(|(_, s)| s),
            qol_timepoints: Box::default(),
            anticoagulation: None,
            anticoagulation_by_drug: Box::default(),
        };
        let Scratch {
            reinterventions,
            qol_points,
            courses,
            periods,
            ..
        } = scratch;

        let reintervention_limit = major_amputation_day.unwrap_or(i64::MAX).min(last_known_day);
        for &(d, planned, major) in reinterventions.iter() {
            if d > reintervention_limit {
                continue;
            }
            limb.first_reintervention_day = min_opt(limb.first_reintervention_day, Some(narrow(d)));
            if planned {
                limb.planned_reinterventions += 1;
            } else {
                limb.unplanned_reinterventions += 1;
                limb.first_unplanned_reintervention_day =
                    min_opt(limb.first_unplanned_reintervention_day, Some(narrow(d)));
            }
            if major {
                limb.first_major_reintervention_day =
                    min_opt(limb.first_major_reintervention_day, Some(narrow(d)));
            }
        }
        if let Some((_, _, status, wound)) = six_month_visit
            && status != LimbStatus::MajorAmputation
        {
            limb.wound_status_6_months = wound;
        }
        if !qol_points.is_empty() {
            qol_points.sort_unstable_by_key(|(t, _, _)| *t);
            limb.qol_timepoints = qol_points.iter().map(|&(t, _, s)| (t, s)).collect();
        }
        if !courses.is_empty() {
            limb.anticoagulation = Some(therapy_duration(
                courses,
                last_known_day,
                death_day,
                periods,
            ));
            // The courses by drug, in the drugs' order; a duration does not
            // depend on the order of its courses.
            courses.sort_unstable_by_key(|c| c.0);
            let mut by_drug = Vec::with_capacity(courses.chunk_by(|a, b| a.0 == b.0).count());
            for group in courses.chunk_by(|a, b| a.0 == b.0) {
                by_drug.push((
                    group[0].0,
                    therapy_duration(group, last_known_day, death_day, periods),
                ));
            }
            limb.anticoagulation_by_drug = by_drug.into_boxed_slice();
        }
        limbs.push(limb);
    }
}

/// Union of the courses' periods from day 0, each [start, stop) with a
/// running course ending at the last known day.
fn therapy_duration(
    courses: &[Course],
    last_known_day: i64,
    death_day: Option<i64>,
    periods: &mut Vec<(i64, i64)>,
) -> TherapyDuration {
    periods.clear();
    periods.extend(
        courses
            .iter()
            .map(|&(_, start, stop, _)| (start.max(0), stop.unwrap_or(last_known_day).max(0)))
            .filter(|(a, b)| b > a),
    );
    periods.sort_unstable();
    let mut days = 0;
    let mut covered_to = i64::MIN;
    for &(a, b) in periods.iter() {
        let a = a.max(covered_to);
        if b > a {
            days += b - a;
            covered_to = b;
        }
    }
    let running = courses.iter().any(|c| c.2.is_none());
    let last_stop = courses.iter().filter_map(|c| c.2).max();
    let ended_by_death = courses
        .iter()
        .any(|c| c.3 == Some(StopReason::Death) && c.2 == last_stop)
        || matches!((death_day, last_stop), (Some(d), Some(s)) if s >= d);
    TherapyDuration {
        // At most the span between two dates chrono can hold.
        days: narrow(days),
        stopped: !running && !ended_by_death,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_text_is_the_one_equal_to_it() {
        let mut texts = Vec::new();
        let abc = Scratch::shared(&mut texts, "ABC");
        // Same length and same ends: told apart by the whole text.
        let axc = Scratch::shared(&mut texts, "AXC");
        let ab = Scratch::shared(&mut texts, "AB");
        assert_eq!((&*abc, &*axc, &*ab), ("ABC", "AXC", "AB"));
        for (text, first) in [("ABC", &abc), ("AXC", &axc), ("AB", &ab), ("ABC", &abc)] {
            let again = Scratch::shared(&mut texts, text);
            assert!(Arc::ptr_eq(&again, first), "{text}");
            assert!(
                Arc::ptr_eq(texts.last().expect("kept"), first),
                "{text} asked last"
            );
        }
        assert_eq!(texts.len(), 3);
        let empty = Scratch::shared(&mut texts, "");
        assert!(Arc::ptr_eq(&Scratch::shared(&mut texts, ""), &empty));
        assert_eq!(texts.len(), 4);
    }
}
