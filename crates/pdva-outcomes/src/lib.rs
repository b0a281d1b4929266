//! # pdva-outcomes
//!
//! The outcomes engine of the pDVA registry: from patients' files to the
//! outcomes report that governance, appraisal and research read (IPG773
//! 1.2–1.4; DOMAIN.md sections 5–9).
//!
//! - [`derive`] turns each [`PatientFile`] into the follow-up of each index
//!   limb ([`IndexLimb`]): time zero, events, censoring and competing events
//!   exactly as DOMAIN.md section 7 defines them.
//! - [`build_report`] computes every endpoint of section 7 with the methods
//!   of `pdva-stats` (Kaplan–Meier, Aalen–Johansen, Wilson, exact Poisson,
//!   log-rank, funnel limits, CUSUM, type 7 quantiles) and returns the
//!   [`OutcomesReport`] document; [`report_schema`] is its JSON Schema and
//!   [`render_text`] its terminal summary.
//!
//! The crate is pure: no I/O, no SQL, no HTTP. It knows the domain types
//! and the statistics, and returns its own view types.
//!
//! Cost: derivation is one pass over each file; every curve and log-rank
//! test is computed from counts per whole day (one counting pass over the
//! limbs, no sort), so the report is O(limbs + days × strata²).

pub mod benchmarks;
mod days;
pub mod derive;
mod disclosure;
mod error;
mod filter;
mod monitoring;
pub mod report;
mod text;

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use chrono::NaiveDate;
use pdva_domain::codes::{AdverseEventKind, AntithromboticDrug, WoundStatus};
use pdva_domain::derived::EQ5D5L_VALUE_SET;
pub use pdva_domain::disclosure::Audience;
use pdva_domain::disclosure::{MINIMUM_RESEARCH_COHORT, facts_in_research_population};
use pdva_domain::schedule::{Completeness, Timepoint};
use pdva_domain::{PatientFile, RecordId, ReferenceData};
use pdva_stats::{
    IntegerSample, KaplanMeier, KmEstimate, LogRankCounts, MedianIqr, TimeCounts, median_iqr_mut,
    rate_per_100_patient_years, wilson_interval,
};

use crate::days::{
    ALWAYS_DENSE_DAYS, Axis, CompetingByDay, cif_and_naive_km_by_day, fit_km, km_on_packed,
};

pub use derive::{
    BaselineFacts, IndexLimb, PatientFacts, QolScores, RecordFacts, Scratch, TherapyDuration,
    ThirtyDayStatus, index_limbs, index_limbs_into,
};
pub use disclosure::protect_tally;
pub use error::{OutcomesError, Result};
pub use filter::{Filter, ResolvedFilter};
pub use report::*;
pub use text::render_text;

/// Version of the report document's schema.
pub const SCHEMA_VERSION: &str = "1";

/// Days at which every curve is read: 30 days, 6 months, 1, 2 and 5 years.
pub const ESTIMATE_DAYS: [f64; 5] = [30.0, 182.0, 365.0, 730.0, 1826.0];

/// Labels of [`ESTIMATE_DAYS`].
pub const ESTIMATE_LABELS: [&str; 5] = ["30 days", "6 months", "1 year", "2 years", "5 years"];

/// Cases shown per learning curve (the learning phase); every case counts
/// in the chart's signals.
pub const LEARNING_CURVE_POINTS: usize = 1000;

/// Follow-up completeness below which a site is flagged (registry choice,
/// DOMAIN.md section 5).
pub const COMPLETENESS_FLAG_BELOW: f64 = 0.8;

/// Why 1 − Kaplan–Meier overstates amputation (DOMAIN.md section 7), shown
/// beside the cumulative incidence.
pub const WHY_COMPETING_RISKS: &str = "When many patients die before they could lose the limb, \
    1 − Kaplan–Meier of amputation (deaths censored) treats the dead as if they could still \
    lose the limb later and so overstates the amputation risk; the Aalen–Johansen cumulative \
    incidence counts death as a competing event and does not.";

/// The survival endpoints, in report order, with their JSON names.
pub const SURVIVAL_ENDPOINTS: [SurvivalKind; 6] = [
    SurvivalKind::AmputationFreeSurvival,
    SurvivalKind::OverallSurvival,
    SurvivalKind::FreedomFromMajorAmputation,
    SurvivalKind::FreedomFromUnplannedReintervention,
    SurvivalKind::FreedomFromAnyReintervention,
    SurvivalKind::FreedomFromMale,
];

/// A Kaplan–Meier endpoint of DOMAIN.md section 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurvivalKind {
    /// `amputation_free_survival`.
    AmputationFreeSurvival,
    /// `overall_survival`.
    OverallSurvival,
    /// `freedom_from_major_amputation`.
    FreedomFromMajorAmputation,
    /// `freedom_from_unplanned_reintervention`.
    FreedomFromUnplannedReintervention,
    /// `freedom_from_any_reintervention`.
    FreedomFromAnyReintervention,
    /// `freedom_from_male`.
    FreedomFromMale,
}

impl SurvivalKind {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Self::AmputationFreeSurvival => "amputation_free_survival",
            Self::OverallSurvival => "overall_survival",
            Self::FreedomFromMajorAmputation => "freedom_from_major_amputation",
            Self::FreedomFromUnplannedReintervention => "freedom_from_unplanned_reintervention",
            Self::FreedomFromAnyReintervention => "freedom_from_any_reintervention",
            Self::FreedomFromMale => "freedom_from_male",
        }
    }

    /// Label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::AmputationFreeSurvival => "Amputation-free survival",
            Self::OverallSurvival => "Overall survival",
            Self::FreedomFromMajorAmputation => "Freedom from major amputation",
            Self::FreedomFromUnplannedReintervention => "Freedom from unplanned reintervention",
            Self::FreedomFromAnyReintervention => "Freedom from any reintervention",
            Self::FreedomFromMale => "Freedom from MALE",
        }
    }

    /// (day, event) of a limb.
    pub fn observe(self, limb: &IndexLimb) -> (i64, bool) {
        match self {
            Self::AmputationFreeSurvival => limb.amputation_free_survival(),
            Self::OverallSurvival => limb.overall_survival(),
            Self::FreedomFromMajorAmputation => limb.freedom_from_major_amputation(),
            Self::FreedomFromUnplannedReintervention => {
                limb.freedom_from_unplanned_reintervention()
            }
            Self::FreedomFromAnyReintervention => limb.freedom_from_any_reintervention(),
            Self::FreedomFromMale => limb.freedom_from_male(),
        }
    }

    fn texts(self) -> (&'static str, &'static str) {
        match self {
            Self::AmputationFreeSurvival => (
                "major amputation of the index limb or death, whichever first",
                "last known date",
            ),
            Self::OverallSurvival => ("death from any cause", "last known date"),
            Self::FreedomFromMajorAmputation => (
                "major amputation of the index limb",
                "death or last known date",
            ),
            Self::FreedomFromUnplannedReintervention => (
                "first unplanned reintervention on the index limb",
                "major amputation, death or last known date",
            ),
            Self::FreedomFromAnyReintervention => (
                "first reintervention on the index limb, planned or not",
                "major amputation, death or last known date",
            ),
            Self::FreedomFromMale => (
                "major amputation of the index limb or major reintervention (bypass, thrombectomy or thrombolysis, open surgical revision)",
                "death or last known date",
            ),
        }
    }
}

/// What a report is computed for (the audience is the filter's).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRequest {
    /// The report date: nothing dated after it counts.
    pub as_of: NaiveDate,
    /// Filters, resolved against the registry.
    pub filter: ResolvedFilter,
    /// The registry's data version, printed in the report.
    pub data_version: String,
}

/// Derives the index limbs of every file that the filter admits.
pub fn cohort(files: &[PatientFile], filter: &ResolvedFilter, as_of: NaiveDate) -> Vec<IndexLimb> {
    let mut cohort = CohortBuilder::new(filter, as_of);
    cohort.reserve_for_patients(files.len());
    for file in files {
        if cohort.admits_site(file.patient.home_site.as_str()) {
            cohort.add(&PatientFacts::from(file));
        }
    }
    cohort.finish()
}

/// Derives a cohort patient by patient, from each patient's outcome facts
/// as a store streams them ([`cohort`] is this over whole files): only the
/// limbs are kept, so memory grows with the limbs, not with the records.
#[derive(Debug)]
pub struct CohortBuilder {
    filter: ResolvedFilter,
    as_of: NaiveDate,
    limbs: Vec<IndexLimb>,
    scratch: derive::Scratch,
    /// No filter: every limb derived is kept.
    admits_all: bool,
}

impl CohortBuilder {
    /// An empty cohort of the limbs `filter` admits, derived as of `as_of`.
    pub fn new(filter: &ResolvedFilter, as_of: NaiveDate) -> Self {
        Self {
            filter: filter.clone(),
            as_of,
            limbs: Vec::new(),
            scratch: derive::Scratch::default(),
            admits_all: *filter == ResolvedFilter::default(),
        }
    }

    /// Room for `limbs` more limbs.
    pub fn reserve(&mut self, limbs: usize) {
        self.limbs.reserve(limbs);
    }

    /// Room for the limbs of `patients` more patients (most have one index
    /// limb, some two), made before they are added so that the limbs,
    /// about a quarter of a gigabyte a million, are never copied into a
    /// larger buffer as they grow, and each page of them is touched once.
    /// Room that stays unused costs address space, not memory.
    ///
    /// A filtered cohort (a site, an operator, a span of dates) makes no
    /// room: it keeps an unknown fraction of the patients' limbs, and room
    /// for all of them would be mostly wasted (a quarter of a gigabyte of
    /// address space for each site's report on a registry of a million).
    pub fn reserve_for_patients(&mut self, patients: usize) {
        if self.makes_room_for_patients() {
            self.reserve(patients + patients / 8);
        }
    }

    /// Whether [`CohortBuilder::reserve_for_patients`] makes room (the
    /// cohort is unfiltered), so that a caller asks its store how many
    /// patients there are only when the answer is used.
    pub fn makes_room_for_patients(&self) -> bool {
        self.admits_all
    }

    /// Whether the site filter admits patients of `home_site` (so a caller
    /// can skip reading the others).
    pub fn admits_site(&self, home_site: &str) -> bool {
        self.filter.admits_site(home_site)
    }

    /// Adds the limbs of one patient that the filter admits (for the
    /// research audience, only a patient in the research population as of
    /// the report date).
    pub fn add(&mut self, facts: &PatientFacts) {
        if !self.admits_site(facts.home_site.as_str()) {
            return;
        }
        if self.filter.audience == Audience::Research
            && !facts_in_research_population(facts, self.as_of)
        {
            return;
        }
        let before = self.limbs.len();
        derive::index_limbs_into(facts, self.as_of, &mut self.limbs, &mut self.scratch);
        if self.admits_all {
            return;
        }
        let mut kept = before;
        for i in before..self.limbs.len() {
            let l = &self.limbs[i];
            if self
                .filter
                .admits(&l.site, l.operator, &l.device_system, l.procedure_date)
            {
                if kept != i {
                    self.limbs.swap(kept, i);
                }
                kept += 1;
            }
        }
        self.limbs.truncate(kept);
    }

    /// The limbs derived, in the order the patients were added.
    pub fn finish(self) -> Vec<IndexLimb> {
        self.limbs
    }
}

/// Builds the whole outcomes report from the patients' files.
pub fn build_report(
    files: &[PatientFile],
    reference: &ReferenceData,
    request: &ReportRequest,
) -> Result<OutcomesReport> {
    let limbs = cohort(files, &request.filter, request.as_of);
    report_from_limbs(&limbs, reference, request)
}

/// Builds the report from already derived limbs. For the research
/// audience, the limbs must be of the research population (a
/// [`CohortBuilder`] for a research filter keeps only them); a cohort of
/// fewer than [`MINIMUM_RESEARCH_COHORT`] patients is refused, and the report
/// is disclosure-controlled (DOMAIN.md section 11).
pub fn report_from_limbs(
    limbs: &[IndexLimb],
    reference: &ReferenceData,
    request: &ReportRequest,
) -> Result<OutcomesReport> {
    let research = request.filter.audience == Audience::Research;
    if research && cohort_patients(limbs) < MINIMUM_RESEARCH_COHORT {
        return Err(OutcomesError::ResearchCohortTooSmall {
            minimum: MINIMUM_RESEARCH_COHORT,
        });
    }
    let names = Names::new(reference);
    // One pass over the (large) limbs for what the curves read: each
    // endpoint as (time index << 1 | event) in four bytes, which the 42
    // stratified passes read instead of the limbs, the competing-risk
    // observations, and the sites, devices and operators as small indices.
    let mut amputation_obs = CompetingByDay::default();
    let mut healing_obs = CompetingByDay::default();
    let mut interning = InterningBuilder::with_capacity(limbs.len());
    let mut dense = DenseEndpoints::with_capacity(limbs.len());
    // The same pass counts what the proportions, the cohort, quality of
    // life, completeness, anticoagulation and monitoring read, so that each
    // limb is read from memory once for them all.
    let mut t = Tallies::default();
    let mut cohort = CohortCountsBuilder::default();
    let mut qol = QolBuilder::default();
    let mut completeness = CompletenessBuilder::default();
    let mut anticoagulation = AnticoagulationBuilder::default();
    let mut outcomes = monitoring::Outcomes::with_capacity(limbs.len());
    for l in limbs {
        dense.add(l);
        amputation_obs.add(l.major_amputation_competing());
        if let Some(h) = l.wound_healing_competing() {
            healing_obs.add(h);
        }
        interning.add(l);
        t.add(l);
        cohort.add(l);
        qol.add(l);
        completeness.add(l.completeness, interning.last_site());
        anticoagulation.add(l);
        outcomes.add(l);
    }
    let interned = interning.finish();
    let (axes, packed) = match dense.finish() {
        Some(dense) => dense,
        None => sparse_endpoints(limbs)?,
    };
    let survival: Vec<(SurvivalKind, Option<KaplanMeier>)> = SURVIVAL_ENDPOINTS
        .iter()
        .zip(&axes)
        .zip(&packed)
        .map(|((&k, axis), packed)| Ok((k, km_on_packed(axis, packed)?)))
        .collect::<Result<_>>()?;
    let survival_view = |k: SurvivalKind| {
        let km = &survival.iter().find(|(s, _)| *s == k).expect("fitted").1;
        survival_endpoint(k, km.as_ref())
    };

    let cumulative_incidence_major_amputation = competing_endpoint(
        &amputation_obs,
        "major amputation of the index limb",
        "death",
    )?;
    let cumulative_incidence_wound_healing = competing_endpoint(
        &healing_obs,
        "complete healing of all index-limb wounds (first visit recording the wound healed), limbs with a wound at baseline",
        "major amputation of the index limb, death",
    )?;

    let technical_success = proportion(
        "fistula created and arterialised flow (complete or partial) into the deep venous arch, of all index procedures",
        t.technical_success,
        limbs.len(),
    )?;
    let mortality_30_day = thirty_day_proportion("death within 30 days", &t.died_by_30)?;
    let major_amputation_30_day = thirty_day_proportion(
        "major amputation of the index limb within 30 days",
        &t.major_amputation_by_30,
    )?;
    let mut by_kind = Vec::new();
    for (&kind, counts) in AdverseEventKind::ALL.iter().zip(&t.adverse_event_30_day) {
        by_kind.push(AdverseEventProportion {
            kind: kind.as_code().to_owned(),
            label: kind.label().to_owned(),
            proportion: thirty_day_proportion(
                &format!("{} with onset within 30 days", kind.label()),
                counts,
            )?,
        });
    }
    let adverse_events_30_day = AdverseEvents30Day {
        window_passed: (t.thirty_day_window_passed as u64).into(),
        any: thirty_day_proportion(
            "any adverse event with onset within 30 days",
            &t.any_adverse_event_30_day,
        )?,
        by_kind,
    };

    let wound_status_6_months = WoundStatusAtSixMonths {
        healed: proportion(
            "wound completely healed at the 6-month visit, of limbs with a wound at baseline and a 6-month visit before any major amputation",
            t.wound_healed_6_months,
            t.wound_evaluable_6_months,
        )?,
        healing: proportion(
            "wound healing at the 6-month visit, of the same limbs",
            t.wound_healing_6_months,
            t.wound_evaluable_6_months,
        )?,
    };

    let rate_text = "all reinterventions on the index limb (not only the first) per 100 patient-years; person-time from the index procedure to the earliest of major amputation, death and the last known date (365.25 days a year)";
    let planned_reintervention_rate = rate(
        &format!("planned: {rate_text}"),
        t.planned_reinterventions,
        t.person_days,
    )?;
    let unplanned_reintervention_rate = rate(
        &format!("unplanned: {rate_text}"),
        t.unplanned_reinterventions,
        t.person_days,
    )?;

    let comparisons = comparisons(limbs, &axes, &packed, &interned, &names)?;
    let survival_reports: Vec<(SurvivalKind, SurvivalEndpoint)> = SURVIVAL_ENDPOINTS
        .iter()
        .map(|&k| (k, survival_view(k)))
        .collect();
    let get = |k: SurvivalKind| {
        survival_reports
            .iter()
            .find(|(s, _)| *s == k)
            .expect("all endpoints")
            .1
            .clone()
    };
    let mut report = OutcomesReport {
        schema_version: SCHEMA_VERSION.to_owned(),
        data_version: request.data_version.clone(),
        as_of: request.as_of.to_string(),
        filters: FiltersUsed {
            site: request.filter.site.clone(),
            sites: request.filter.sites.clone(),
            device: request.filter.device.clone(),
            operator_id: request
                .filter
                .operator
                .as_ref()
                .map(|(id, _)| id.to_string()),
            operator_name: request.filter.operator.as_ref().map(|(_, n)| n.clone()),
            from: request.filter.from.map(|d| d.to_string()),
            to: request.filter.to.map(|d| d.to_string()),
        },
        disclosure: None,
        definitions: definitions(),
        cohort: cohort.finish(),
        amputation_free_survival: get(SurvivalKind::AmputationFreeSurvival),
        overall_survival: get(SurvivalKind::OverallSurvival),
        freedom_from_major_amputation: get(SurvivalKind::FreedomFromMajorAmputation),
        freedom_from_unplanned_reintervention: get(
            SurvivalKind::FreedomFromUnplannedReintervention,
        ),
        freedom_from_any_reintervention: get(SurvivalKind::FreedomFromAnyReintervention),
        freedom_from_male: get(SurvivalKind::FreedomFromMale),
        cumulative_incidence_major_amputation,
        cumulative_incidence_wound_healing,
        wound_status_6_months,
        technical_success,
        adverse_events_30_day,
        mortality_30_day,
        major_amputation_30_day,
        planned_reintervention_rate,
        unplanned_reintervention_rate,
        quality_of_life: qol.finish()?,
        follow_up_completeness: follow_up_completeness(completeness, &interned.sites)?,
        duration_of_anticoagulation: duration_of_anticoagulation(anticoagulation)?,
        comparisons,
        benchmarks: Vec::new(),
        monitoring: monitoring::monitoring(
            limbs,
            outcomes,
            &interned,
            &names,
            &monitoring::compared_with(&request.filter, request.as_of),
        )?,
    };
    report.benchmarks = benchmarks::benchmarks(&report);
    if research {
        disclosure::disclose(&mut report, &request.filter);
    }
    Ok(report)
}

impl OutcomesReport {
    /// Replaces this report's funnel plots with those of `registry`: the
    /// report of [`ResolvedFilter::comparison`] of this report's filter, as
    /// of the same date. Then every unit on them is compared with the mean
    /// of the whole registry for the report's period, with the very limits
    /// the registry's own report shows (a site's report alone would
    /// compare the site with itself, and its operators with the site).
    /// Every unit of the registry stays on them, with its id and name:
    /// which names a reader may see is the caller's to decide.
    pub fn compare_funnels_with(&mut self, registry: &OutcomesReport) {
        self.monitoring
            .funnels
            .clone_from(&registry.monitoring.funnels);
    }
}

/// The patients of a cohort's limbs (a patient's limbs are adjacent: they
/// are derived file by file).
fn cohort_patients(limbs: &[IndexLimb]) -> u64 {
    let mut patients = 0;
    let mut last = None;
    for l in limbs {
        if last != Some(l.patient_id) {
            patients += 1;
            last = Some(l.patient_id);
        }
    }
    patients
}

/// Every survival endpoint of every limb packed as (day << 1 | event) in
/// four bytes as the limbs are read, for the usual case: every day is
/// non-negative and the days span an axis indexed by the day itself
/// ([`Axis`]), so that the packed values are already the time indices.
struct DenseEndpoints {
    packed: [Vec<u32>; SURVIVAL_ENDPOINTS.len()],
    /// The latest day of each endpoint.
    max: [i64; SURVIVAL_ENDPOINTS.len()],
    /// A day that is negative or too large to pack was seen.
    out_of_range: bool,
}

impl DenseEndpoints {
    fn with_capacity(limbs: usize) -> Self {
        Self {
            packed: std::array::from_fn(|_| Vec::with_capacity(limbs)),
            max: [-1; SURVIVAL_ENDPOINTS.len()],
            out_of_range: false,
        }
    }

    fn add(&mut self, l: &IndexLimb) {
        for ((k, packed), max) in SURVIVAL_ENDPOINTS
            .iter()
            .zip(&mut self.packed)
            .zip(&mut self.max)
        {
            let (day, event) = k.observe(l);
            *max = (*max).max(day);
            match u32::try_from(day) {
                Ok(d) if d < 1 << 31 => packed.push(d << 1 | u32::from(event)),
                _ => self.out_of_range = true,
            }
        }
    }

    /// The axes and packed observations, or `None` if the days need
    /// [`sparse_endpoints`] (a negative day, which it refuses, or days
    /// spread too far for an axis of days).
    fn finish(self) -> Option<(Vec<Axis>, Vec<Vec<u32>>)> {
        if self.out_of_range {
            return None;
        }
        let mut axes = Vec::with_capacity(self.packed.len());
        for (packed, &max) in self.packed.iter().zip(&self.max) {
            // What `Axis::new` decides from the same days.
            axes.push(Axis::dense(max, packed.len())?);
        }
        Some((axes, self.packed.into()))
    }
}

/// Every survival endpoint's axis and packed (time index << 1 | event)
/// observations, for days that [`DenseEndpoints`] cannot pack directly.
fn sparse_endpoints(limbs: &[IndexLimb]) -> Result<(Vec<Axis>, Vec<Vec<u32>>)> {
    let observed: Vec<Vec<i64>> = SURVIVAL_ENDPOINTS
        .iter()
        .map(|k| {
            limbs
                .iter()
                .map(|l| {
                    let (day, event) = k.observe(l);
                    day << 1 | i64::from(event)
                })
                .collect()
        })
        .collect();
    let axes: Vec<Axis> = observed
        .iter()
        .map(|obs| Axis::new(obs.iter().map(|x| x >> 1)))
        .collect::<Result<_>>()?;
    let packed = observed
        .iter()
        .zip(&axes)
        .map(|(obs, axis)| {
            obs.iter()
                .map(|&x| {
                    let i = u32::try_from(axis.index(x >> 1)).expect("fewer than 2³¹ days");
                    i << 1 | (x & 1) as u32
                })
                .collect()
        })
        .collect();
    Ok((axes, packed))
}

/// The counts of one 30-day proportion (DOMAIN.md section 7): among the
/// limbs whose 30-day window has passed, those with the outcome by day 30,
/// those known free of it, and those whose status is unknown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ThirtyDayCounts {
    pub(crate) events: usize,
    pub(crate) event_free: usize,
    pub(crate) unknown: usize,
}

impl ThirtyDayCounts {
    pub(crate) fn add(&mut self, status: ThirtyDayStatus) {
        match status {
            ThirtyDayStatus::WindowOpen => {}
            ThirtyDayStatus::Event => self.events += 1,
            ThirtyDayStatus::EventFree => self.event_free += 1,
            ThirtyDayStatus::Unknown => self.unknown += 1,
        }
    }

    /// The limbs whose status is known: the proportion's denominator.
    pub(crate) fn known(&self) -> usize {
        self.events + self.event_free
    }
}

/// The counts behind the report's proportions and rates, from one pass
/// over the limbs (each a few hundred bytes, so every pass costs).
#[derive(Default)]
struct Tallies {
    technical_success: usize,
    /// Limbs whose 30-day window has passed by the report date, and each
    /// 30-day proportion's counts among them.
    thirty_day_window_passed: usize,
    died_by_30: ThirtyDayCounts,
    major_amputation_by_30: ThirtyDayCounts,
    any_adverse_event_30_day: ThirtyDayCounts,
    /// Each kind of [`AdverseEventKind::ALL`].
    adverse_event_30_day: [ThirtyDayCounts; AdverseEventKind::ALL.len()],
    /// Limbs with a wound at baseline and a 6-month wound status, and of
    /// them those healed and healing.
    wound_evaluable_6_months: usize,
    wound_healed_6_months: usize,
    wound_healing_6_months: usize,
    person_days: i64,
    planned_reinterventions: u64,
    unplanned_reinterventions: u64,
}

impl Tallies {
    fn add(&mut self, l: &IndexLimb) {
        self.technical_success += usize::from(l.technical_success);
        if l.thirty_day_window_passed() {
            self.thirty_day_window_passed += 1;
            self.died_by_30.add(l.thirty_day_status(l.died_by_30()));
            self.major_amputation_by_30
                .add(l.thirty_day_status(l.major_amputation_by_30()));
            self.any_adverse_event_30_day
                .add(l.thirty_day_status(l.adverse_events_30_day != 0));
            // Bit i is the kind ALL[i] (`IndexLimb::adverse_events_30_day`).
            for (i, k) in self.adverse_event_30_day.iter_mut().enumerate() {
                k.add(l.thirty_day_status(l.adverse_events_30_day >> i & 1 == 1));
            }
        }
        if l.baseline.is_some_and(|b| b.has_wound)
            && let Some(w) = l.wound_status_6_months
        {
            self.wound_evaluable_6_months += 1;
            self.wound_healed_6_months += usize::from(w == WoundStatus::Healed);
            self.wound_healing_6_months += usize::from(w == WoundStatus::Healing);
        }
        self.person_days += l.person_time_end_day();
        self.planned_reinterventions += u64::from(l.planned_reinterventions);
        self.unplanned_reinterventions += u64::from(l.unplanned_reinterventions);
    }
}

/// The core curves alone — Kaplan–Meier of amputation-free survival,
/// overall survival and freedom from major amputation, and the
/// Aalen–Johansen cumulative incidence of major amputation — from the
/// derived limbs: with the derivation, the work
/// `benchmarks/outcomes_python.py` does, for a like-for-like timing.
pub fn core_curves(limbs: &[IndexLimb]) -> Result<Vec<SurvivalEndpoint>> {
    let mut out = Vec::new();
    for kind in [
        SurvivalKind::AmputationFreeSurvival,
        SurvivalKind::OverallSurvival,
        SurvivalKind::FreedomFromMajorAmputation,
    ] {
        let km = fit_km(limbs.iter().map(|l| kind.observe(l)))?;
        out.push(survival_endpoint(kind, km.as_ref()));
    }
    let mut amputation = CompetingByDay::default();
    for l in limbs {
        amputation.add(l.major_amputation_competing());
    }
    let cif = competing_endpoint(&amputation, "major amputation", "death")?;
    std::hint::black_box(cif);
    Ok(out)
}

/// The JSON Schema of [`OutcomesReport`], generated from the types.
pub fn report_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(OutcomesReport);
    serde_json::to_value(&schema).expect("a schema serialises")
}

/// The limbs' sites, devices and operators as small indices, made once for
/// the comparisons and the monitoring.
pub(crate) struct Interning<'a> {
    pub(crate) sites: Interned<'a>,
    pub(crate) devices: Interned<'a>,
    pub(crate) operators: Operators,
}

/// A text field of every limb (site, device) as a small index into its
/// distinct values, so that grouping a million limbs compares no strings.
pub(crate) struct Interned<'a> {
    /// The distinct values, in order of first appearance.
    pub(crate) values: Vec<&'a str>,
    /// Each limb's value, as an index into `values`.
    pub(crate) of: Vec<u16>,
}

/// Every limb's primary operator as an index into the distinct operators.
pub(crate) struct Operators {
    /// The distinct operators, in order of first appearance.
    pub(crate) ids: Vec<RecordId>,
    /// Each limb's operator, as an index into `ids`.
    pub(crate) of: Vec<u32>,
}

/// Builds [`Interning`] limb by limb, in the pass that reads the curves.
struct InterningBuilder<'a> {
    sites: TextsBuilder<'a>,
    devices: TextsBuilder<'a>,
    operator_ids: Vec<RecordId>,
    operator_index: HashMap<RecordId, u32, BuildHasherDefault<IdHasher>>,
    operator_of: Vec<u32>,
    last_operator: Option<(RecordId, u32)>,
}

/// The distinct values of one text field, and each limb's index into them.
struct TextsBuilder<'a> {
    values: Vec<&'a Arc<str>>,
    of: Vec<u16>,
    last: Option<(&'a Arc<str>, u16)>,
}

impl<'a> TextsBuilder<'a> {
    fn with_capacity(limbs: usize) -> Self {
        Self {
            values: Vec::new(),
            of: Vec::with_capacity(limbs),
            last: None,
        }
    }

    fn add(&mut self, v: &'a Arc<str>) {
        if let Some((lv, i)) = self.last
            && Arc::ptr_eq(lv, v)
        {
            self.of.push(i);
            return;
        }
        // The derivation shares one string per distinct value, so the
        // pointer nearly always decides; the text, if not.
        let i = match self
            .values
            .iter()
            .position(|x| Arc::ptr_eq(x, v))
            .or_else(|| self.values.iter().position(|x| **x == *v))
        {
            Some(i) => i,
            None => {
                self.values.push(v);
                self.values.len() - 1
            }
        };
        let i = u16::try_from(i).expect("fewer than 65,536 distinct values");
        self.last = Some((v, i));
        self.of.push(i);
    }

    fn finish(self) -> Interned<'a> {
        Interned {
            values: self.values.into_iter().map(|v| &**v).collect(),
            of: self.of,
        }
    }
}

impl<'a> InterningBuilder<'a> {
    fn with_capacity(limbs: usize) -> Self {
        Self {
            sites: TextsBuilder::with_capacity(limbs),
            devices: TextsBuilder::with_capacity(limbs),
            operator_ids: Vec::new(),
            operator_index: HashMap::default(),
            operator_of: Vec::with_capacity(limbs),
            last_operator: None,
        }
    }

    fn add(&mut self, l: &'a IndexLimb) {
        self.sites.add(&l.site);
        self.devices.add(&l.device_system);
        let i = match self.last_operator {
            Some((id, i)) if id == l.operator => i,
            _ => {
                let ids = &mut self.operator_ids;
                let i = *self.operator_index.entry(l.operator).or_insert_with(|| {
                    ids.push(l.operator);
                    (ids.len() - 1) as u32
                });
                self.last_operator = Some((l.operator, i));
                i
            }
        };
        self.operator_of.push(i);
    }

    /// The site of the limb added last, as an index among the sites.
    fn last_site(&self) -> u16 {
        *self.sites.of.last().expect("a limb was added")
    }

    fn finish(self) -> Interning<'a> {
        Interning {
            sites: self.sites.finish(),
            devices: self.devices.finish(),
            operators: Operators {
                ids: self.operator_ids,
                of: self.operator_of,
            },
        }
    }
}

/// A hasher for record ids, whose bits are random already: a multiply per
/// eight bytes instead of SipHash's rounds (a million look-ups).
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Names of sites and operators for labels.
pub(crate) struct Names {
    sites: HashMap<String, String>,
    operators: HashMap<RecordId, String>,
}

impl Names {
    fn new(reference: &ReferenceData) -> Self {
        Self {
            sites: reference
                .sites
                .iter()
                .map(|(c, s)| (c.to_string(), s.name.to_string()))
                .collect(),
            operators: reference
                .clinicians
                .iter()
                .map(|(id, c)| (*id, c.display_name.to_string()))
                .collect(),
        }
    }

    pub(crate) fn site(&self, code: &str) -> String {
        self.sites
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    }

    pub(crate) fn operator(&self, id: RecordId) -> String {
        self.operators
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

fn km_estimates(km: Option<&KaplanMeier>) -> Vec<SurvivalEstimate> {
    let Some(km) = km else {
        return Vec::new();
    };
    let estimates: Vec<KmEstimate> = ESTIMATE_DAYS
        .iter()
        .map(|&t| km.estimate_at(t).expect("valid time"))
        .collect();
    survival_estimates(&estimates)
}

/// The report's view of a curve's estimates at [`ESTIMATE_DAYS`].
fn survival_estimates(estimates: &[KmEstimate]) -> Vec<SurvivalEstimate> {
    estimates
        .iter()
        .zip(ESTIMATE_LABELS)
        .map(|(e, label)| SurvivalEstimate {
            t_days: e.t_days,
            label: label.to_owned(),
            survival: e.survival,
            ci_lower: e.ci_lower,
            ci_upper: e.ci_upper,
            at_risk: e.at_risk as u64,
            cumulative_events: e.cumulative_events as u64,
            cumulative_censored: e.cumulative_censored as u64,
        })
        .collect()
}

fn km_events(km: Option<&KaplanMeier>) -> u64 {
    km.map_or(0, |k| k.rows().iter().map(|r| r.events as u64).sum())
}

fn survival_endpoint(kind: SurvivalKind, km: Option<&KaplanMeier>) -> SurvivalEndpoint {
    let (event, censored_at) = kind.texts();
    let n = km.map_or(0, |k| k.n() as u64);
    let events = km_events(km);
    SurvivalEndpoint {
        event: event.to_owned(),
        censored_at: censored_at.to_owned(),
        n,
        events,
        censored: n - events,
        median_days: km.and_then(KaplanMeier::median),
        estimates: km_estimates(km),
        rows: km.map_or_else(Vec::new, |k| {
            k.rows()
                .iter()
                .map(|r| SurvivalRow {
                    t_days: r.t_days,
                    at_risk: r.at_risk as u64,
                    events: r.events as u64,
                    censored: r.censored as u64,
                    survival: r.survival,
                    ci_lower: r.ci_lower,
                    ci_upper: r.ci_upper,
                })
                .collect()
        }),
    }
}

fn competing_endpoint(
    data: &CompetingByDay,
    event: &str,
    competing: &str,
) -> Result<CompetingRiskEndpoint> {
    let mut view = CompetingRiskEndpoint {
        event: event.to_owned(),
        competing: competing.to_owned(),
        censored_at: "last known date".to_owned(),
        why_competing_risks: WHY_COMPETING_RISKS.to_owned(),
        n: data.n,
        events: data.events,
        competing_events: data.competing_events,
        censored: data.censored,
        estimates: Vec::new(),
        rows: Vec::new(),
    };
    let Some((cif, km)) = cif_and_naive_km_by_day(data)? else {
        return Ok(view);
    };
    for (&t, label) in ESTIMATE_DAYS.iter().zip(ESTIMATE_LABELS) {
        let e = cif.estimate_at(t)?;
        view.estimates.push(CumulativeIncidenceEstimate {
            t_days: t,
            label: label.to_owned(),
            cumulative_incidence: e.cumulative_incidence,
            ci_lower: e.ci_lower,
            ci_upper: e.ci_upper,
            one_minus_kaplan_meier: 1.0 - km.estimate_at(t)?.survival,
            at_risk: e.at_risk as u64,
            cumulative_events: e.cumulative_events as u64,
            cumulative_competing_events: e.cumulative_competing_events as u64,
            cumulative_censored: e.cumulative_censored as u64,
        });
    }
    view.rows = cif
        .rows()
        .iter()
        .map(|r| CumulativeIncidenceRow {
            t_days: r.t_days,
            at_risk: r.at_risk as u64,
            events: r.events as u64,
            competing_events: r.competing_events as u64,
            censored: r.censored as u64,
            cumulative_incidence: r.cumulative_incidence,
            ci_lower: r.ci_lower,
            ci_upper: r.ci_upper,
        })
        .collect();
    Ok(view)
}

pub(crate) fn proportion(definition: &str, k: usize, n: usize) -> Result<ProportionEndpoint> {
    let p = wilson_interval(k as u64, n as u64)?;
    Ok(ProportionEndpoint {
        definition: definition.to_owned(),
        k: (k as u64).into(),
        n: (n as u64).into(),
        status_unknown: None,
        estimate: p.as_ref().map(|p| p.estimate),
        ci_lower: p.as_ref().map(|p| p.ci_lower),
        ci_upper: p.as_ref().map(|p| p.ci_upper),
    })
}

/// A 30-day proportion (DOMAIN.md section 7): the outcome by day 30 among
/// the limbs whose window has passed and whose status at day 30 is known,
/// with the limbs whose window has passed but whose status is unknown
/// beside it.
pub(crate) fn thirty_day_proportion(
    outcome: &str,
    counts: &ThirtyDayCounts,
) -> Result<ProportionEndpoint> {
    let definition = format!(
        "{outcome} (day 0–30), of index procedures whose 30-day window has passed by the report date and whose status at day 30 is known (the outcome by day 30, death by day 30, or a last known date on or after day 30); status_unknown: window passed, status unknown"
    );
    let mut p = proportion(&definition, counts.events, counts.known())?;
    p.status_unknown = Some((counts.unknown as u64).into());
    Ok(p)
}

fn rate(definition: &str, events: u64, person_days: i64) -> Result<RateEndpoint> {
    let r = rate_per_100_patient_years(events, person_days as f64)?;
    Ok(RateEndpoint {
        definition: definition.to_owned(),
        events: events.into(),
        patient_years: person_days as f64 / pdva_stats::DAYS_PER_YEAR,
        rate: r.as_ref().map(|r| r.rate),
        ci_lower: r.as_ref().map(|r| r.ci_lower),
        ci_upper: r.as_ref().map(|r| r.ci_upper),
    })
}

/// Size, median and quartiles (type 7) of values it may reorder (found by
/// selection, not a sort).
pub(crate) fn distribution(values: &mut [f64]) -> Result<Distribution> {
    Ok(distribution_of(values.len(), median_iqr_mut(values)?))
}

/// The distribution of `n` values with median and quartiles `m`.
fn distribution_of(n: usize, m: Option<MedianIqr>) -> Distribution {
    Distribution {
        n: (n as u64).into(),
        median: m.as_ref().map(|m| m.median),
        q1: m.as_ref().map(|m| m.q1),
        q3: m.as_ref().map(|m| m.q3),
    }
}

fn definitions() -> Definitions {
    Definitions {
        time_zero: "the index procedure date; each index procedure (limb) is followed on its own, and the patient's death applies to every limb".into(),
        last_known_date: "the date of death if the patient died, otherwise the latest date that attests the patient alive: index procedure and discharge, baseline assessment, consent (and a research-consent withdrawal), visits, amputations, reinterventions, adverse-event onset and resolution, antithrombotic start and stop, QoL assessments; never later than the date the report is run, nor later than the date follow-up ended (nothing dated after the end of follow-up counts, a death included); voided records never count".into(),
        same_day_order: "records carry dates, not times: a major amputation on the day of death is an amputation (and the death then follows it); a reintervention on the day of a major amputation counts as a reintervention; a wound recorded healed on the day of a major amputation or death does not count as healing (the amputation or death comes first)".into(),
        major_amputation: "the first amputation of the index limb through or above the ankle (Syme, below-knee, through-knee, above-knee, hip disarticulation); Syme counts as major (registry choice)".into(),
        major_reintervention: "bypass, thrombectomy or thrombolysis, open surgical revision of the circuit; reinterventions count up to and including the day of a major amputation".into(),
        wound_healing: "the first follow-up visit recording the index-limb wound as healed, for limbs with a wound at baseline; a healing on or after the day of a major amputation or of death does not count".into(),
        thirty_day_denominator: "the index procedures whose 30-day window has passed by the report date (the report date on or after day 30) and whose status for that outcome at day 30 is known: the event happened by day 30, or the patient died by day 30, or their last known date is on or after day 30; those whose window has passed but whose status is unknown are counted beside the proportion (status_unknown), never taken as event-free".into(),
        kaplan_meier: "Kaplan–Meier, events before censorings at tied days; Greenwood variance; 95% interval on the log(−log) scale with z = 1.959963984540054, undefined (null) where S = 0 or 1; median = first day with S ≤ 0.5; number at risk at day t = limbs still followed and event-free at the start of day t (time ≥ t, as R's survival and Stata report it), the same in the estimates, the curve's row of day t and the chart's axis".into(),
        cumulative_incidence: "Aalen–Johansen cumulative incidence, Aalen's variance (Pintilie 2006, eq. 4.5), 95% interval on the log(−log) scale".into(),
        proportions: "Wilson score 95% interval".into(),
        rates: "exact (Garwood) Poisson 95% interval, per 100 patient-years of 365.25 days".into(),
        quantiles: "type 7 (linear interpolation; numpy's default and R's default)".into(),
        logrank: "log-rank test across the strata, chi-squared with (strata with limbs − 1) degrees of freedom".into(),
        estimate_days: ESTIMATE_DAYS.to_vec(),
    }
}

/// [`CohortCounts`] limb by limb. A patient's limbs are adjacent (derived
/// file by file), and the patient's facts are read from their first
/// procedure (the earliest; the first of several on one day).
#[derive(Default)]
struct CohortCountsBuilder<'a> {
    index_procedures: u64,
    patients: u64,
    bilateral: u64,
    dialysis: u64,
    deaths: u64,
    ended: u64,
    without_baseline: u64,
    first_procedure: Option<NaiveDate>,
    last_procedure: Option<NaiveDate>,
    /// The patient being read: their limbs so far and their first.
    current: Option<(u64, &'a IndexLimb)>,
}

impl<'a> CohortCountsBuilder<'a> {
    fn add(&mut self, l: &'a IndexLimb) {
        match &mut self.current {
            Some((limbs, first)) if first.patient_id == l.patient_id => {
                *limbs += 1;
                if l.procedure_date < first.procedure_date {
                    *first = l;
                }
            }
            _ => {
                self.count_patient();
                self.current = Some((1, l));
            }
        }
        self.index_procedures += 1;
        self.without_baseline += u64::from(l.baseline.is_none());
        self.first_procedure = Some(
            self.first_procedure
                .map_or(l.procedure_date, |d| d.min(l.procedure_date)),
        );
        self.last_procedure = Some(
            self.last_procedure
                .map_or(l.procedure_date, |d| d.max(l.procedure_date)),
        );
    }

    /// Counts the patient being read, if any.
    fn count_patient(&mut self) {
        if let Some((limbs, first)) = self.current.take() {
            self.patients += 1;
            self.bilateral += u64::from(limbs > 1);
            self.dialysis += u64::from(first.baseline.is_some_and(|b| b.dialysis_dependent));
            self.deaths += u64::from(first.death_day.is_some());
            self.ended += u64::from(first.follow_up_ended);
        }
    }

    fn finish(mut self) -> CohortCounts {
        self.count_patient();
        CohortCounts {
            patients: self.patients.into(),
            index_procedures: self.index_procedures.into(),
            bilateral_patients: self.bilateral.into(),
            dialysis_dependent_patients: self.dialysis.into(),
            deaths: self.deaths.into(),
            follow_up_ended: self.ended.into(),
            procedures_without_baseline: self.without_baseline.into(),
            first_procedure: self.first_procedure.map(|d| d.to_string()),
            last_procedure: self.last_procedure.map(|d| d.to_string()),
        }
    }
}

/// One instrument's values at one timepoint (or at baseline) and their
/// changes from baseline: whole-number scores as counts per value
/// ([`IntegerSample`]), the EQ-5D index as values.
#[derive(Default)]
struct QolSamples<S> {
    values: S,
    changes: S,
}

/// The three instruments' samples at one timepoint.
struct QolAt {
    timepoint: Timepoint,
    vascuqol6: QolSamples<IntegerSample>,
    eq5d_index: QolSamples<Vec<f64>>,
    eq_vas: QolSamples<IntegerSample>,
}

/// Adds a score at a timepoint, and its change from the baseline score if
/// the limb has one.
fn add_integer_score(samples: &mut QolSamples<IntegerSample>, value: Option<u8>, base: Option<u8>) {
    if let Some(v) = value {
        samples.values.add(i64::from(v));
        if let Some(b) = base {
            samples.changes.add(i64::from(v) - i64::from(b));
        }
    }
}

/// [`QualityOfLife`] limb by limb: for each of the three instruments, the
/// baseline values, and each timepoint's values and changes, the
/// timepoints by their place in `Timepoint`'s order, as a map by timepoint
/// would keep them. The instruments are written out (no dispatch per
/// value): the VascuQoL-6 total and EQ VAS are whole numbers, the EQ-5D
/// index is real.
#[derive(Default)]
struct QolBuilder {
    baseline_vascuqol6: IntegerSample,
    baseline_eq5d: Vec<f64>,
    baseline_vas: IntegerSample,
    at: Vec<Option<QolAt>>,
}

impl QolBuilder {
    fn add(&mut self, l: &IndexLimb) {
        let Self {
            baseline_vascuqol6,
            baseline_eq5d,
            baseline_vas,
            at,
        } = self;
        let base = l.qol_baseline.unwrap_or_default();
        if let Some(v) = base.vascuqol6 {
            baseline_vascuqol6.add(i64::from(v));
        }
        if let Some(v) = base.eq5d_index {
            baseline_eq5d.push(v);
        }
        if let Some(v) = base.eq_vas {
            baseline_vas.add(i64::from(v));
        }
        for (t, scores) in &l.qol_timepoints {
            let i = usize::try_from(t.place()).expect("a timepoint within a lifetime");
            if i >= at.len() {
                at.resize_with(i + 1, || None);
            }
            let samples = at[i].get_or_insert_with(|| QolAt {
                timepoint: *t,
                vascuqol6: QolSamples::default(),
                eq5d_index: QolSamples::default(),
                eq_vas: QolSamples::default(),
            });
            add_integer_score(&mut samples.vascuqol6, scores.vascuqol6, base.vascuqol6);
            if let Some(v) = scores.eq5d_index {
                samples.eq5d_index.values.push(v);
                if let Some(b) = base.eq5d_index {
                    samples.eq5d_index.changes.push(v - b);
                }
            }
            add_integer_score(&mut samples.eq_vas, scores.eq_vas, base.eq_vas);
        }
    }

    fn finish(self) -> Result<QualityOfLife> {
        let Self {
            baseline_vascuqol6,
            mut baseline_eq5d,
            baseline_vas,
            at,
        } = self;
        let integers = |s: &IntegerSample| distribution_of(s.len(), s.median_iqr());
        let instrument = |key: &str, label: &str, baseline, timepoints| QolInstrument {
            instrument: key.to_owned(),
            label: label.to_owned(),
            baseline,
            timepoints,
        };
        // A timepoint is shown for an instrument that has a value there.
        let timepoint = |t: Timepoint, value, change| QolTimepoint {
            timepoint: t.key(),
            label: t.label(),
            value,
            change,
        };
        let mut vascuqol6 = Vec::new();
        let mut eq5d = Vec::new();
        let mut vas = Vec::new();
        for mut a in at.into_iter().flatten() {
            if !a.vascuqol6.values.is_empty() {
                vascuqol6.push(timepoint(
                    a.timepoint,
                    integers(&a.vascuqol6.values),
                    integers(&a.vascuqol6.changes),
                ));
            }
            if !a.eq5d_index.values.is_empty() {
                eq5d.push(timepoint(
                    a.timepoint,
                    distribution(&mut a.eq5d_index.values)?,
                    distribution(&mut a.eq5d_index.changes)?,
                ));
            }
            if !a.eq_vas.values.is_empty() {
                vas.push(timepoint(
                    a.timepoint,
                    integers(&a.eq_vas.values),
                    integers(&a.eq_vas.changes),
                ));
            }
        }
        let out = vec![
            instrument(
                "vascuqol6",
                "VascuQoL-6 total (6–24, higher is better)",
                integers(&baseline_vascuqol6),
                vascuqol6,
            ),
            instrument(
                "eq5d_index",
                "EQ-5D-5L index (England value set; 1 = full health)",
                distribution(&mut baseline_eq5d)?,
                eq5d,
            ),
            instrument("eq_vas", "EQ VAS (0–100)", integers(&baseline_vas), vas),
        ];
        Ok(QualityOfLife {
            definition: "baseline = the latest assessment on or before the index procedure; a timepoint (DOMAIN.md section 5 windows) is represented by the assessment closest to its target day (the earlier on a tie); change = value − baseline for limbs with both (paired n)".into(),
            quantile_definition: "median and IQR by type 7 quantiles (numpy's default)".into(),
            eq5d_value_set: EQ5D5L_VALUE_SET.to_owned(),
            eq5d_note: "The EQ-5D-5L index uses the England 5L value set; NICE's reference case maps 5L to 3L instead, and that mapping is not implemented.".into(),
            instruments: out,
        })
    }
}

/// [`FollowUpCompleteness`] limb by limb: overall and by site (the site's
/// index among the interned sites).
#[derive(Default)]
struct CompletenessBuilder {
    total: Completeness,
    by_site_index: Vec<Completeness>,
}

impl CompletenessBuilder {
    fn add(&mut self, completeness: Completeness, site: u16) {
        self.total = self.total + completeness;
        let site = usize::from(site);
        if site >= self.by_site_index.len() {
            self.by_site_index.resize(site + 1, Completeness::default());
        }
        let slot = &mut self.by_site_index[site];
        *slot = *slot + completeness;
    }
}

fn follow_up_completeness(
    counted: CompletenessBuilder,
    sites: &Interned<'_>,
) -> Result<FollowUpCompleteness> {
    let definition = "timepoints with a visit ÷ timepoints whose window closed while the patient was alive and in follow-up (DOMAIN.md section 5)";
    let CompletenessBuilder {
        total,
        mut by_site_index,
    } = counted;
    by_site_index.resize(sites.values.len(), Completeness::default());
    let by_site: BTreeMap<&str, Completeness> =
        sites.values.iter().copied().zip(by_site_index).collect();
    let mut sites = Vec::new();
    for (site, c) in by_site {
        sites.push(SiteCompleteness {
            site: site.to_owned(),
            flagged: c.proportion().is_some_and(|p| p < COMPLETENESS_FLAG_BELOW),
            completeness: proportion(definition, c.with_visit as usize, c.closed as usize)?,
        });
    }
    Ok(FollowUpCompleteness {
        definition: definition.to_owned(),
        flag_below: COMPLETENESS_FLAG_BELOW,
        overall: proportion(definition, total.with_visit as usize, total.closed as usize)?,
        by_site: sites,
    })
}

/// KM quantile: the first time at which S(t) ≤ `level`.
fn km_quantile(km: &KaplanMeier, level: f64) -> Option<f64> {
    km.rows()
        .iter()
        .find(|r| r.survival <= level * (1.0 + 1e-12))
        .map(|r| r.t_days)
}

/// One therapy's durations as they are read off the limbs: counts of
/// stopped and censored courses per whole day, which is what its
/// Kaplan–Meier curve is fitted from, and the completed courses' days as
/// counts per value ([`IntegerSample`], the same quartiles as the values
/// themselves), so that a million limbs leave no list of durations behind.
#[derive(Default)]
struct DurationCounts {
    /// Index = day: as `fit_km` counts them on an axis of days.
    by_day: Vec<TimeCounts>,
    completed: IntegerSample,
    n: usize,
    /// Durations beyond [`ALWAYS_DENSE_DAYS`] (none in a real
    /// registry), which send the summary down the general path.
    beyond: Vec<TherapyDuration>,
}

impl DurationCounts {
    fn add(&mut self, d: TherapyDuration) {
        self.n += 1;
        match usize::try_from(d.days) {
            Ok(day) if i64::from(d.days) <= ALWAYS_DENSE_DAYS => {
                if day >= self.by_day.len() {
                    let from = self.by_day.len();
                    self.by_day
                        .extend((from..=day).map(|t| TimeCounts::new(t as f64)));
                }
                self.by_day[day].add(d.stopped);
                if d.stopped {
                    self.completed.add(i64::from(d.days));
                }
            }
            _ => self.beyond.push(d),
        }
    }

    /// Every duration again, for the general path.
    fn durations(&self) -> Vec<TherapyDuration> {
        let mut all = self.beyond.clone();
        for (day, c) in self.by_day.iter().enumerate() {
            let days = i32::try_from(day).expect("at most ALWAYS_DENSE_DAYS");
            all.extend(std::iter::repeat_n(
                TherapyDuration {
                    days,
                    stopped: true,
                },
                c.events,
            ));
            all.extend(std::iter::repeat_n(
                TherapyDuration {
                    days,
                    stopped: false,
                },
                c.censored,
            ));
        }
        all
    }
}

fn therapy_summary(
    therapy: &str,
    label: &str,
    counts: &DurationCounts,
) -> Result<TherapyDurationSummary> {
    let (km, completed, completed_courses) = if counts.beyond.is_empty() {
        // Every day is at most ALWAYS_DENSE_DAYS, so `fit_km` would
        // count them on this same axis of days.
        let km = if counts.n == 0 {
            None
        } else {
            Some(KaplanMeier::from_counts(&counts.by_day)?)
        };
        let c = &counts.completed;
        (km, c.len(), distribution_of(c.len(), c.median_iqr()))
    } else {
        let data = counts.durations();
        let km = fit_km(data.iter().map(|d| (i64::from(d.days), d.stopped)))?;
        let mut completed: Vec<f64> = data
            .iter()
            .filter(|d| d.stopped)
            .map(|d| d.days as f64)
            .collect();
        (km, completed.len(), distribution(&mut completed)?)
    };
    Ok(TherapyDurationSummary {
        therapy: therapy.to_owned(),
        label: label.to_owned(),
        n: (counts.n as u64).into(),
        completed: (completed as u64).into(),
        km_median_days: km.as_ref().and_then(KaplanMeier::median),
        km_q1_days: km.as_ref().and_then(|k| km_quantile(k, 0.75)),
        km_q3_days: km.as_ref().and_then(|k| km_quantile(k, 0.25)),
        completed_courses,
    })
}

/// Durations of anticoagulation limb by limb, overall and by drug (each
/// drug's found by its position in [`AntithromboticDrug::ALL`] rather than
/// looked up in a map).
struct AnticoagulationBuilder {
    overall: DurationCounts,
    by_drug_counts: Vec<DurationCounts>,
}

impl Default for AnticoagulationBuilder {
    fn default() -> Self {
        Self {
            overall: DurationCounts::default(),
            by_drug_counts: AntithromboticDrug::ALL
                .iter()
                .map(|_| DurationCounts::default())
                .collect(),
        }
    }
}

impl AnticoagulationBuilder {
    fn add(&mut self, l: &IndexLimb) {
        if let Some(d) = l.anticoagulation {
            self.overall.add(d);
        }
        for (drug, d) in &l.anticoagulation_by_drug {
            let i = AntithromboticDrug::ALL
                .iter()
                .position(|x| x == drug)
                .expect("every drug is listed");
            self.by_drug_counts[i].add(*d);
        }
    }
}

fn duration_of_anticoagulation(
    counted: AnticoagulationBuilder,
) -> Result<DurationOfAnticoagulation> {
    // Reported in the drugs' order.
    let drugs = AntithromboticDrug::ALL;
    let AnticoagulationBuilder {
        overall,
        by_drug_counts,
    } = counted;
    let mut in_order: Vec<usize> = (0..drugs.len()).collect();
    in_order.sort_unstable_by_key(|&i| drugs[i]);
    let mut by_drug = Vec::new();
    for i in in_order {
        let (drug, counts) = (drugs[i], &by_drug_counts[i]);
        if counts.n > 0 {
            by_drug.push(therapy_summary(drug.as_code(), drug.label(), counts)?);
        }
    }
    Ok(DurationOfAnticoagulation {
        definition: "days covered by the union of anticoagulant courses from the index procedure on (stop − start); a course still running is censored at the last known date, and therapy that ended with the patient's death is censored then; Kaplan–Meier median and quartiles with stopping as the event, plus the distribution (type 7) of the completed courses; limbs given no anticoagulant are not counted".into(),
        overall: therapy_summary("anticoagulation", "All anticoagulants", &overall)?,
        by_drug,
    })
}

/// A limb's stratum, small and `Copy`, so that grouping a million limbs
/// allocates nothing and compares no strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StratumKey {
    /// A code (dialysis yes/no, diabetes, crossover level).
    Code(&'static str, &'static str),
    /// WIfI stage.
    Stage(u8),
    /// A site code or device name, by its index among the distinct values.
    Text(u16),
    /// An operator.
    Operator(RecordId),
}

impl StratumKey {
    /// Stored value and label; `interned` holds the sites' and devices' values.
    fn value_and_label(
        self,
        variable: &str,
        interned: &Interning<'_>,
        names: &Names,
    ) -> (String, String) {
        match self {
            Self::Code(code, label) => (code.to_owned(), label.to_owned()),
            Self::Stage(s) => (s.to_string(), format!("WIfI stage {s}")),
            Self::Text(t) if variable == "site" => {
                let code = interned.sites.values[usize::from(t)];
                (code.to_owned(), names.site(code))
            }
            Self::Text(t) => {
                let device = interned.devices.values[usize::from(t)];
                (device.to_owned(), device.to_owned())
            }
            Self::Operator(id) => (id.to_string(), names.operator(id)),
        }
    }
}

/// A stratification variable: each limb's stratum (none without a baseline).
type StratumOf = fn(&IndexLimb, usize, &Interning<'_>) -> Option<StratumKey>;

/// The same as a small number, one to one with the stratum (an enum's
/// discriminant, a stage, an interned index), so that grouping a million
/// limbs is an array look-up.
type CodeOf = fn(&IndexLimb, usize, &Interning<'_>) -> Option<u32>;

const COMPARISON_VARIABLES: [(&str, &str, StratumOf, CodeOf); 7] = [
    (
        "dialysis_dependent",
        "Dialysis dependence",
        |l, _, _| {
            l.baseline.map(|b| {
                if b.dialysis_dependent {
                    StratumKey::Code("yes", "Dialysis dependent")
                } else {
                    StratumKey::Code("no", "Not on dialysis")
                }
            })
        },
        |l, _, _| l.baseline.map(|b| u32::from(b.dialysis_dependent)),
    ),
    (
        "diabetes",
        "Diabetes",
        |l, _, _| {
            l.baseline
                .map(|b| StratumKey::Code(b.diabetes.as_code(), b.diabetes.label()))
        },
        |l, _, _| l.baseline.map(|b| b.diabetes as u32),
    ),
    (
        "wifi_clinical_stage",
        "WIfI clinical stage",
        |l, _, _| l.baseline.map(|b| StratumKey::Stage(b.wifi_clinical_stage)),
        |l, _, _| l.baseline.map(|b| u32::from(b.wifi_clinical_stage)),
    ),
    (
        "site",
        "Site",
        |_, i, interned| Some(StratumKey::Text(interned.sites.of[i])),
        |_, i, interned| Some(u32::from(interned.sites.of[i])),
    ),
    (
        "operator",
        "Primary operator",
        |l, _, _| Some(StratumKey::Operator(l.operator)),
        |_, i, interned| Some(interned.operators.of[i]),
    ),
    (
        "device_system",
        "Device system",
        |_, i, interned| Some(StratumKey::Text(interned.devices.of[i])),
        |_, i, interned| Some(u32::from(interned.devices.of[i])),
    ),
    (
        "crossover_level",
        "Technique: crossover level",
        |l, _, _| {
            Some(StratumKey::Code(
                l.crossover_level.as_code(),
                l.crossover_level.label(),
            ))
        },
        |l, _, _| Some(l.crossover_level as u32),
    ),
];

/// No stratum (a limb without a baseline, for the baseline variables).
const NO_STRATUM: u16 = u16::MAX;

/// Bits of [`comparisons`]' per-limb flags: technical success, and the
/// limb's 30-day mortality status (DOMAIN.md section 7) in two bits.
const TECHNICAL_SUCCESS: u8 = 1;
const THIRTY_DAY_SHIFT: u8 = 1;
const THIRTY_DAY_MASK: u8 = 0b11;

/// A 30-day status in two bits, and back.
fn thirty_day_bits(status: ThirtyDayStatus) -> u8 {
    match status {
        ThirtyDayStatus::WindowOpen => 0,
        ThirtyDayStatus::Event => 1,
        ThirtyDayStatus::EventFree => 2,
        ThirtyDayStatus::Unknown => 3,
    }
}

fn thirty_day_of_bits(bits: u8) -> ThirtyDayStatus {
    match bits & THIRTY_DAY_MASK {
        0 => ThirtyDayStatus::WindowOpen,
        1 => ThirtyDayStatus::Event,
        2 => ThirtyDayStatus::EventFree,
        _ => ThirtyDayStatus::Unknown,
    }
}

fn comparisons(
    limbs: &[IndexLimb],
    axes: &[Axis],
    packed: &[Vec<u32>],
    interned: &Interning<'_>,
    names: &Names,
) -> Result<Vec<Comparison>> {
    const V: usize = COMPARISON_VARIABLES.len();
    // One pass over the (large) limbs: each limb's stratum of every variable,
    // as its index among the variable's strata in order of first appearance,
    // and the flags the strata's proportions count.
    let mut keys: Vec<Vec<(String, String)>> = vec![Vec::new(); V];
    let mut slot_of_code: Vec<Vec<u16>> = vec![Vec::new(); V];
    // A column per variable: the limbs' strata of one variable are read
    // together, once per endpoint.
    let mut columns: Vec<Vec<u16>> = (0..V).map(|_| Vec::with_capacity(limbs.len())).collect();
    let mut flags: Vec<u8> = Vec::with_capacity(limbs.len());
    for (i, l) in limbs.iter().enumerate() {
        for (v, (variable, _, stratum_of, code_of)) in COMPARISON_VARIABLES.iter().enumerate() {
            let Some(code) = code_of(l, i, interned) else {
                columns[v].push(NO_STRATUM);
                continue;
            };
            let (code, table) = (code as usize, &mut slot_of_code[v]);
            if code >= table.len() {
                table.resize(code + 1, NO_STRATUM);
            }
            if table[code] == NO_STRATUM {
                let key = stratum_of(l, i, interned).expect("a limb with a code has a stratum");
                keys[v].push(key.value_and_label(variable, interned, names));
                table[code] = u16::try_from(keys[v].len() - 1)
                    .ok()
                    .filter(|&s| s != NO_STRATUM)
                    .expect("fewer than 65,535 strata");
            }
            columns[v].push(table[code]);
        }
        flags.push(
            if l.technical_success {
                TECHNICAL_SUCCESS
            } else {
                0
            } | thirty_day_bits(l.thirty_day_status(l.died_by_30())) << THIRTY_DAY_SHIFT,
        );
    }

    let mut out = Vec::new();
    for ((variable, label, _, _), (keys, mut compact)) in COMPARISON_VARIABLES
        .into_iter()
        .zip(keys.iter().zip(columns))
    {
        // Strata in a stable order: by key.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|a, b| keys[*a].0.cmp(&keys[*b].0));
        let mut position = vec![0u16; keys.len()];
        for (pos, &k) in order.iter().enumerate() {
            position[k] = pos as u16;
        }
        let s = keys.len();
        let mut strata: Vec<Stratum> = order
            .iter()
            .map(|&k| Stratum {
                value: keys[k].0.clone(),
                label: keys[k].1.clone(),
                n: Count::Exact(0),
                endpoints: Vec::new(),
                technical_success: empty_proportion(),
                mortality_30_day: empty_proportion(),
            })
            .collect();
        // Each limb's stratum, from its order of first appearance to its
        // position, in place; read once per endpoint.
        let mut sizes = vec![0usize; s];
        let mut success = vec![(0usize, 0usize); s];
        let mut died30 = vec![ThirtyDayCounts::default(); s];
        for (g, &f) in compact.iter_mut().zip(&flags) {
            if *g != NO_STRATUM {
                *g = position[usize::from(*g)];
                let g = usize::from(*g);
                sizes[g] += 1;
                success[g].0 += usize::from(f & TECHNICAL_SUCCESS != 0);
                died30[g].add(thirty_day_of_bits(f >> THIRTY_DAY_SHIFT));
            }
        }
        for (g, n) in sizes.iter().enumerate() {
            success[g].1 = *n;
        }
        let mut tests = Vec::new();
        for ((kind, axis), packed) in SURVIVAL_ENDPOINTS.iter().zip(axes).zip(packed) {
            let mut counts = LogRankCounts::new(axis.len(), s);
            for (&p, &g) in packed.iter().zip(&compact) {
                if g != NO_STRATUM {
                    counts.add((p >> 1) as usize, usize::from(g), p & 1 == 1)?;
                }
            }
            for (g, stratum) in strata.iter_mut().enumerate() {
                // Only the stratum's median and estimates are shown, so the
                // curve is read at those times without building its rows.
                let km = if sizes[g] == 0 {
                    None
                } else {
                    Some(KaplanMeier::summary_from_counts(
                        counts.group_counts(g, |i| axis.t_days(i)),
                        &ESTIMATE_DAYS,
                    )?)
                };
                stratum.n = (sizes[g] as u64).into();
                stratum.endpoints.push(StratumEndpoint {
                    endpoint: kind.name().to_owned(),
                    n: (sizes[g] as u64).into(),
                    events: km.as_ref().map_or(0, |k| k.events as u64).into(),
                    median_days: km.as_ref().and_then(|k| k.median),
                    estimates: km
                        .as_ref()
                        .map_or_else(Vec::new, |k| survival_estimates(&k.estimates)),
                });
            }
            let non_empty = sizes.iter().filter(|&&n| n > 0).count();
            tests.push(if non_empty >= 2 {
                let t = counts.test()?;
                LogRank {
                    endpoint: kind.name().to_owned(),
                    statistic: Some(t.statistic),
                    degrees_of_freedom: Some(t.degrees_of_freedom as u64),
                    p_value: Some(t.p_value),
                    observed: t.observed.iter().map(|&o| Count::Exact(o as u64)).collect(),
                    expected: t.expected,
                }
            } else {
                LogRank {
                    endpoint: kind.name().to_owned(),
                    statistic: None,
                    degrees_of_freedom: None,
                    p_value: None,
                    observed: Vec::new(),
                    expected: Vec::new(),
                }
            });
        }
        for (g, stratum) in strata.iter_mut().enumerate() {
            stratum.technical_success =
                proportion("technical success", success[g].0, success[g].1)?;
            stratum.mortality_30_day = thirty_day_proportion("death within 30 days", &died30[g])?;
        }
        out.push(Comparison {
            variable: variable.to_owned(),
            label: label.to_owned(),
            strata,
            logrank_tests: tests,
        });
    }
    Ok(out)
}

fn empty_proportion() -> ProportionEndpoint {
    ProportionEndpoint {
        definition: String::new(),
        k: Count::Exact(0),
        n: Count::Exact(0),
        status_unknown: None,
        estimate: None,
        ci_lower: None,
        ci_upper: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdva_synth::{Generator, GeneratorConfig};

    /// The limbs of a synthetic registry of `patients`, as of 2026-06-30.
    pub(crate) fn synthetic_limbs_of(patients: usize, seed: u64) -> Vec<IndexLimb> {
        let today = NaiveDate::from_ymd_opt(2026, 6, 30).expect("a date");
        let mut generator = Generator::new(GeneratorConfig {
            patients,
            seed,
            today,
        });
        let mut limbs = Vec::new();
        while let Some(batch) = generator.next_batch(1000) {
            for file in &batch.files {
                limbs.extend(index_limbs(file, today));
            }
        }
        limbs
    }

    fn synthetic_limbs() -> Vec<IndexLimb> {
        synthetic_limbs_of(2000, 5)
    }

    fn dense(limbs: &[IndexLimb]) -> Option<(Vec<Axis>, Vec<Vec<u32>>)> {
        let mut dense = DenseEndpoints::with_capacity(limbs.len());
        for l in limbs {
            dense.add(l);
        }
        dense.finish()
    }

    #[test]
    fn only_an_unfiltered_cohort_makes_room_for_every_patient() {
        let as_of = NaiveDate::from_ymd_opt(2026, 6, 30).expect("a date");
        let capacity = |filter: &ResolvedFilter| {
            let mut cohort = CohortBuilder::new(filter, as_of);
            let says = cohort.makes_room_for_patients();
            cohort.reserve_for_patients(10_000);
            let capacity = cohort.finish().capacity();
            assert_eq!(says, capacity > 0, "{filter:?}");
            capacity
        };
        assert!(capacity(&ResolvedFilter::default()) >= 10_000);
        let one_site = ResolvedFilter {
            site: Some("HAR".to_owned()),
            ..ResolvedFilter::default()
        };
        assert_eq!(capacity(&one_site), 0);
        let since = ResolvedFilter {
            from: NaiveDate::from_ymd_opt(2024, 1, 1),
            ..ResolvedFilter::default()
        };
        assert_eq!(capacity(&since), 0);
    }

    #[test]
    fn endpoints_packed_as_read_equal_those_packed_from_their_axes() {
        let limbs = synthetic_limbs();
        let (axes, packed) = dense(&limbs).expect("a registry's days pack directly");
        let (want_axes, want_packed) = sparse_endpoints(&limbs).expect("valid days");
        assert_eq!(packed, want_packed);
        let lengths = |a: &[Axis]| a.iter().map(Axis::len).collect::<Vec<_>>();
        assert_eq!(lengths(&axes), lengths(&want_axes));
    }

    /// A therapy's summary from the durations themselves, as it was
    /// computed before they were counted per day.
    fn summary_from_durations(data: &[TherapyDuration]) -> TherapyDurationSummary {
        let km =
            fit_km(data.iter().map(|d| (i64::from(d.days), d.stopped))).expect("valid durations");
        let mut completed: Vec<f64> = data
            .iter()
            .filter(|d| d.stopped)
            .map(|d| d.days as f64)
            .collect();
        TherapyDurationSummary {
            therapy: "t".to_owned(),
            label: "T".to_owned(),
            n: (data.len() as u64).into(),
            completed: (completed.len() as u64).into(),
            km_median_days: km.as_ref().and_then(KaplanMeier::median),
            km_q1_days: km.as_ref().and_then(|k| km_quantile(k, 0.75)),
            km_q3_days: km.as_ref().and_then(|k| km_quantile(k, 0.25)),
            completed_courses: distribution(&mut completed).expect("finite"),
        }
    }

    #[test]
    fn durations_counted_per_day_summarise_as_the_durations_themselves() {
        let mut data: Vec<TherapyDuration> = synthetic_limbs()
            .iter()
            .filter_map(|l| l.anticoagulation)
            .collect();
        assert!(data.iter().any(|d| d.stopped) && data.iter().any(|d| !d.stopped));
        let summary = |data: &[TherapyDuration]| {
            let mut counts = DurationCounts::default();
            for d in data {
                counts.add(*d);
            }
            therapy_summary("t", "T", &counts).expect("a summary")
        };
        assert_eq!(summary(&data), summary_from_durations(&data));
        assert_eq!(summary(&[]), summary_from_durations(&[]));
        // A duration beyond the counted days takes the general path.
        data.push(TherapyDuration {
            days: i32::try_from(ALWAYS_DENSE_DAYS + 1).expect("a small number"),
            stopped: true,
        });
        assert_eq!(summary(&data), summary_from_durations(&data));
    }

    #[test]
    fn a_far_off_day_falls_back_to_ranks_and_a_negative_day_is_refused() {
        let mut limbs = synthetic_limbs();
        limbs[0].last_known_day = 2_000_000_000;
        limbs[0].death_day = None;
        limbs[0].major_amputation_day = None;
        assert!(dense(&limbs).is_none());
        let (axes, packed) = sparse_endpoints(&limbs).expect("valid days");
        let overall = 1; // SURVIVAL_ENDPOINTS[1] is overall survival.
        assert!(axes[overall].len() < 100_000, "ranks, not days");
        let far = (packed[overall][0] >> 1) as usize;
        assert_eq!(axes[overall].t_days(far), 2_000_000_000.0);

        limbs[0].last_known_day = -1;
        assert!(dense(&limbs).is_none());
        assert!(sparse_endpoints(&limbs).is_err());
    }
}
