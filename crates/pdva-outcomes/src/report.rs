//! The outcomes report document: view types, serialised as JSON with
//! snake_case names (DOMAIN.md section 7 names each endpoint). Its JSON
//! Schema is generated from these types ([`crate::report_schema`]) and
//! checked in at `crates/pdva-outcomes/schema/outcomes-report.schema.json`.
//!
//! Dates are ISO 8601 strings; times are days since the index procedure; an
//! undefined value (an interval where the estimate is 0 or 1, a median not
//! reached, a proportion of nothing) is `null`.
//!
//! A report is made for an audience (`pdva_domain::disclosure::Audience`).
//! The identifiable form holds exact counts only, and its document is the
//! same as before audiences existed. The research form (DOMAIN.md section
//! 11) counts the research population only and is disclosure-controlled
//! (see [`Count`] and [`DisclosureControl`]).

use std::borrow::Cow;

use pdva_domain::disclosure::DISCLOSURE_THRESHOLD;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

/// A count of patients, limbs or events in the report.
///
/// Identifiable reports hold exact counts only, serialised as plain numbers.
/// In a research report a count from 1 to t − 1 (t = 5) is shown as the
/// string `"<5"`, and a count withheld by complementary suppression (so that
/// a `"<5"` cannot be worked out from a total and the other cells of its row
/// or column) as `"suppressed"`; such a count is never below t. Zero is
/// always shown as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// The exact count.
    Exact(u64),
    /// From 1 to t − 1: shown as `"<5"`.
    Small,
    /// Withheld by complementary suppression: shown as `"suppressed"`.
    Suppressed,
}

impl Count {
    /// The exact count, if it is shown.
    pub fn exact(self) -> Option<u64> {
        match self {
            Count::Exact(n) => Some(n),
            Count::Small | Count::Suppressed => None,
        }
    }

    /// Whether the count is shown exactly.
    pub fn is_exact(self) -> bool {
        matches!(self, Count::Exact(_))
    }

    /// The text a suppressed count is shown as.
    fn marker(self) -> Option<Cow<'static, str>> {
        match self {
            Count::Exact(_) => None,
            Count::Small => Some(Cow::Owned(format!("<{DISCLOSURE_THRESHOLD}"))),
            Count::Suppressed => Some(Cow::Borrowed(SUPPRESSED)),
        }
    }
}

/// How a count withheld by complementary suppression is shown.
pub const SUPPRESSED: &str = "suppressed";

impl From<u64> for Count {
    fn from(n: u64) -> Self {
        Count::Exact(n)
    }
}

impl From<usize> for Count {
    fn from(n: usize) -> Self {
        Count::Exact(n as u64)
    }
}

impl PartialEq<u64> for Count {
    fn eq(&self, other: &u64) -> bool {
        *self == Count::Exact(*other)
    }
}

impl PartialEq<Count> for u64 {
    fn eq(&self, other: &Count) -> bool {
        other == self
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that widths and alignment in a format string apply.
        match (self, self.marker()) {
            (Count::Exact(n), _) => f.pad(&n.to_string()),
            (_, Some(m)) => f.pad(&m),
            (_, None) => unreachable!("only exact counts have no marker"),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self, self.marker()) {
            (Count::Exact(n), _) => serializer.serialize_u64(*n),
            (_, Some(m)) => serializer.serialize_str(&m),
            (_, None) => unreachable!("only exact counts have no marker"),
        }
    }
}

impl JsonSchema for Count {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Count")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let small = format!("<{DISCLOSURE_THRESHOLD}");
        json_schema!({
            "description": "A count. Always a number in an identifiable report. In a research report (`disclosure` present) a count from 1 to 4 is the string \"<5\", and a count withheld by complementary suppression (never below 5) is the string \"suppressed\"; zero is 0.",
            "anyOf": [
                { "type": "integer", "format": "uint64", "minimum": 0 },
                { "type": "string", "enum": [small, SUPPRESSED] }
            ]
        })
    }
}

/// The whole outcomes report.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OutcomesReport {
    /// Version of this document's schema.
    pub schema_version: String,
    /// The registry's data version (head of the audit chain) the report was computed from.
    pub data_version: String,
    /// The report date: nothing dated after it counts.
    pub as_of: String,
    /// The filters used (in a research report, the dates snapped to whole
    /// calendar quarters).
    pub filters: FiltersUsed,
    /// Present only in a research report: the disclosure control applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<DisclosureControl>,
    /// Definitions and methods, so that the report can be read on its own.
    pub definitions: Definitions,
    /// Who is in the report.
    pub cohort: CohortCounts,
    /// Major amputation of the index limb or death, whichever first.
    pub amputation_free_survival: SurvivalEndpoint,
    /// Death from any cause.
    pub overall_survival: SurvivalEndpoint,
    /// Limb salvage: major amputation of the index limb, censored at death.
    pub freedom_from_major_amputation: SurvivalEndpoint,
    /// First unplanned reintervention, censored at major amputation or death.
    pub freedom_from_unplanned_reintervention: SurvivalEndpoint,
    /// First reintervention, planned or not, censored at major amputation or death.
    pub freedom_from_any_reintervention: SurvivalEndpoint,
    /// Major amputation or major reintervention, censored at death.
    pub freedom_from_male: SurvivalEndpoint,
    /// Aalen–Johansen cumulative incidence of major amputation, death competing.
    pub cumulative_incidence_major_amputation: CompetingRiskEndpoint,
    /// Aalen–Johansen cumulative incidence of complete wound healing (limbs
    /// with a wound at baseline), major amputation and death competing.
    pub cumulative_incidence_wound_healing: CompetingRiskEndpoint,
    /// Wound status at the 6-month visit, limbs with a wound at baseline.
    pub wound_status_6_months: WoundStatusAtSixMonths,
    /// Technical success (DOMAIN.md 4.6).
    pub technical_success: ProportionEndpoint,
    /// Proportion of index procedures with each adverse event kind within 30 days.
    pub adverse_events_30_day: AdverseEvents30Day,
    /// Death within 30 days.
    pub mortality_30_day: ProportionEndpoint,
    /// Major amputation of the index limb within 30 days.
    pub major_amputation_30_day: ProportionEndpoint,
    /// Planned reinterventions per 100 patient-years.
    pub planned_reintervention_rate: RateEndpoint,
    /// Unplanned reinterventions per 100 patient-years.
    pub unplanned_reintervention_rate: RateEndpoint,
    /// VascuQoL-6, EQ-5D-5L index and EQ VAS at baseline and their change.
    pub quality_of_life: QualityOfLife,
    /// Timepoints with a visit ÷ timepoints whose window closed while the patient was alive.
    pub follow_up_completeness: FollowUpCompleteness,
    /// Duration of anticoagulation (DOMAIN.md 4.7), overall and by drug.
    pub duration_of_anticoagulation: DurationOfAnticoagulation,
    /// The endpoints by dialysis, diabetes, WIfI stage, site, operator, device and technique.
    pub comparisons: Vec<Comparison>,
    /// Published figures (DOMAIN.md section 9) beside the local ones.
    pub benchmarks: Vec<Benchmark>,
    /// Funnel plots and learning curves (DOMAIN.md 6.4–6.5).
    pub monitoring: Monitoring,
}

/// The disclosure control of a research report (DOMAIN.md section 11).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DisclosureControl {
    /// `research`.
    pub audience: String,
    /// Who is counted.
    pub population: String,
    /// The threshold t: counts from 1 to t − 1 are shown as `"<t"`.
    pub threshold: u64,
    /// The smallest cohort (patients, after every filter) reported; a
    /// smaller one is refused, and a stratum or group of fewer limbs shows
    /// no curve, median or quantile.
    pub minimum_cohort: u64,
    /// The first day of the period reported (the `from` filter snapped to
    /// the first day of its calendar quarter), if one was asked for.
    pub period_from: Option<String>,
    /// The last day of the period reported (the `to` filter snapped to the
    /// last day of its calendar quarter), if one was asked for.
    pub period_to: Option<String>,
    /// What was done to the figures, one rule a line.
    pub rules: Vec<String>,
}

/// The filters a report was made with.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FiltersUsed {
    /// Home site code of the patients included.
    pub site: Option<String>,
    /// Home site codes, one of which each patient included has (a user's
    /// own sites seen together); empty when not limited so.
    pub sites: Vec<String>,
    /// Device system of the index procedures included.
    pub device: Option<String>,
    /// Primary operator's record id.
    pub operator_id: Option<String>,
    /// Primary operator's display name.
    pub operator_name: Option<String>,
    /// First index procedure date included.
    pub from: Option<String>,
    /// Last index procedure date included.
    pub to: Option<String>,
}

/// The definitions and methods behind every figure.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Definitions {
    /// Time zero.
    pub time_zero: String,
    /// The last known date.
    pub last_known_date: String,
    /// Major amputation.
    pub major_amputation: String,
    /// Major reintervention (for MALE).
    pub major_reintervention: String,
    /// Complete wound healing.
    pub wound_healing: String,
    /// The order of events recorded on the same day.
    pub same_day_order: String,
    /// Which index procedures the 30-day proportions count, and which are
    /// counted beside them as of unknown status.
    pub thirty_day_denominator: String,
    /// Kaplan–Meier method.
    pub kaplan_meier: String,
    /// Aalen–Johansen method.
    pub cumulative_incidence: String,
    /// Proportions.
    pub proportions: String,
    /// Rates.
    pub rates: String,
    /// Quantiles (medians, IQRs).
    pub quantiles: String,
    /// Log-rank test.
    pub logrank: String,
    /// Days at which estimates are read.
    pub estimate_days: Vec<f64>,
}

/// Counts of the report's cohort.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CohortCounts {
    /// Patients with at least one index procedure in the report.
    pub patients: Count,
    /// Index procedures (limbs).
    pub index_procedures: Count,
    /// Patients with index procedures on both limbs.
    pub bilateral_patients: Count,
    /// Patients dependent on dialysis at their first index procedure in the report (IPG773 1.4).
    pub dialysis_dependent_patients: Count,
    /// Patients who died.
    pub deaths: Count,
    /// Patients whose follow-up ended (withdrew, moved away, transferred).
    pub follow_up_ended: Count,
    /// Index procedures without a baseline record (left out of baseline strata).
    pub procedures_without_baseline: Count,
    /// First index procedure date in the cohort (in a research report, its
    /// calendar quarter, `YYYY-Qn`: one date would single out a patient).
    pub first_procedure: Option<String>,
    /// Last index procedure date in the cohort (its quarter in a research report).
    pub last_procedure: Option<String>,
}

/// A Kaplan–Meier endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SurvivalEndpoint {
    /// What counts as the event.
    pub event: String,
    /// Where follow-up is censored.
    pub censored_at: String,
    /// Limbs.
    pub n: u64,
    /// Events.
    pub events: u64,
    /// Censored limbs.
    pub censored: u64,
    /// First day on which S(t) ≤ ½; `null` if not reached.
    pub median_days: Option<f64>,
    /// The curve at 30, 182, 365, 730 and 1826 days.
    pub estimates: Vec<SurvivalEstimate>,
    /// The whole step curve: a row for every day on which anything happens.
    pub rows: Vec<SurvivalRow>,
}

/// The Kaplan–Meier curve read at one time.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SurvivalEstimate {
    /// Days.
    pub t_days: f64,
    /// Label ("30 days", "6 months", …).
    pub label: String,
    /// S(t).
    pub survival: f64,
    /// Lower 95% limit.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit.
    pub ci_upper: Option<f64>,
    /// Number at risk at day `t_days`: limbs still followed and event-free
    /// at the start of the day (time ≥ `t_days`, as R's survival and Stata
    /// report it); the same number as the curve's row of that day and the
    /// chart's axis.
    pub at_risk: u64,
    /// Events on or before `t_days`.
    pub cumulative_events: u64,
    /// Censorings on or before `t_days`. With the events, those exactly on
    /// `t_days` are also among `at_risk`: at_risk + cumulative_events +
    /// cumulative_censored = n + (events and censorings on `t_days`).
    pub cumulative_censored: u64,
}

/// One step of a Kaplan–Meier curve.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SurvivalRow {
    /// Days.
    pub t_days: f64,
    /// Number at risk at day `t_days`: limbs still followed and event-free
    /// at its start (time ≥ `t_days`).
    pub at_risk: u64,
    /// Events at `t_days`.
    pub events: u64,
    /// Censorings at `t_days`.
    pub censored: u64,
    /// S(t_days).
    pub survival: f64,
    /// Lower 95% limit.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit.
    pub ci_upper: Option<f64>,
}

/// An Aalen–Johansen endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CompetingRiskEndpoint {
    /// The event of interest.
    pub event: String,
    /// The competing events.
    pub competing: String,
    /// Where follow-up is censored.
    pub censored_at: String,
    /// Why the cumulative incidence and not 1 − Kaplan–Meier.
    pub why_competing_risks: String,
    /// Limbs.
    pub n: u64,
    /// Events of interest.
    pub events: u64,
    /// Competing events.
    pub competing_events: u64,
    /// Censored limbs.
    pub censored: u64,
    /// The curve at 30, 182, 365, 730 and 1826 days, beside 1 − Kaplan–Meier.
    pub estimates: Vec<CumulativeIncidenceEstimate>,
    /// The whole step curve: a row for every day on which anything happens.
    pub rows: Vec<CumulativeIncidenceRow>,
}

/// The cumulative incidence read at one time.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CumulativeIncidenceEstimate {
    /// Days.
    pub t_days: f64,
    /// Label.
    pub label: String,
    /// Cumulative incidence at `t_days`.
    pub cumulative_incidence: f64,
    /// Lower 95% limit.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit.
    pub ci_upper: Option<f64>,
    /// 1 − Kaplan–Meier with the competing events censored: what the naive
    /// analysis would say (it overstates the risk).
    pub one_minus_kaplan_meier: f64,
    /// Number at risk at day `t_days`: limbs still followed and free of
    /// any event at the start of the day (time ≥ `t_days`); the same number
    /// as the curve's row of that day and the chart's axis.
    pub at_risk: u64,
    /// Events of interest on or before `t_days`.
    pub cumulative_events: u64,
    /// Competing events on or before `t_days`.
    pub cumulative_competing_events: u64,
    /// Censorings on or before `t_days`. Those on `t_days` itself, with the
    /// events of either kind on it, are also among `at_risk`.
    pub cumulative_censored: u64,
}

/// One step of a cumulative incidence curve.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CumulativeIncidenceRow {
    /// Days.
    pub t_days: f64,
    /// Number at risk at day `t_days`: limbs still followed and free of
    /// any event at its start (time ≥ `t_days`).
    pub at_risk: u64,
    /// Events of interest at `t_days`.
    pub events: u64,
    /// Competing events at `t_days`.
    pub competing_events: u64,
    /// Censorings at `t_days`.
    pub censored: u64,
    /// Cumulative incidence at `t_days`.
    pub cumulative_incidence: f64,
    /// Lower 95% limit.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit.
    pub ci_upper: Option<f64>,
}

/// A proportion k/n with its Wilson 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ProportionEndpoint {
    /// What is counted.
    pub definition: String,
    /// Number with the outcome.
    pub k: Count,
    /// Number assessed (for a 30-day proportion: the limbs whose 30-day
    /// window has passed by the report date and whose status at day 30 is
    /// known).
    pub n: Count,
    /// 30-day proportions only (absent elsewhere): the limbs whose 30-day
    /// window has passed by the report date but whose status for this
    /// outcome at day 30 is unknown (no event and no death by day 30, last
    /// known date before day 30). They are in neither `k` nor `n`, never
    /// taken as event-free; `n` + `status_unknown` is the limbs whose
    /// window has passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_unknown: Option<Count>,
    /// k / n; `null` when n = 0.
    pub estimate: Option<f64>,
    /// Lower 95% limit.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit.
    pub ci_upper: Option<f64>,
}

/// 30-day adverse events.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AdverseEvents30Day {
    /// Index procedures whose 30-day window has passed by the report date:
    /// for each 30-day proportion, its `n` plus its `status_unknown`.
    pub window_passed: Count,
    /// Any adverse event.
    pub any: ProportionEndpoint,
    /// Each kind, in DOMAIN.md order.
    pub by_kind: Vec<AdverseEventProportion>,
}

/// One adverse event kind.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AdverseEventProportion {
    /// Stored code.
    pub kind: String,
    /// Label.
    pub label: String,
    /// The proportion.
    pub proportion: ProportionEndpoint,
}

/// Wound status at the 6-month visit.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct WoundStatusAtSixMonths {
    /// Completely healed.
    pub healed: ProportionEndpoint,
    /// Healing.
    pub healing: ProportionEndpoint,
}

/// A rate per 100 patient-years with its exact Poisson 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RateEndpoint {
    /// What is counted and the person-time.
    pub definition: String,
    /// Events.
    pub events: Count,
    /// Person-time, years (days / 365.25).
    pub patient_years: f64,
    /// Events per 100 patient-years; `null` with no person-time.
    pub rate: Option<f64>,
    /// Lower 95% limit.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit.
    pub ci_upper: Option<f64>,
}

/// Median and IQR of a sample (type 7 quantiles).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Distribution {
    /// Values.
    pub n: Count,
    /// Median.
    pub median: Option<f64>,
    /// Lower quartile.
    pub q1: Option<f64>,
    /// Upper quartile.
    pub q3: Option<f64>,
}

/// Quality of life.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QualityOfLife {
    /// Which assessment is the baseline and which represents a timepoint.
    pub definition: String,
    /// The quantile definition used.
    pub quantile_definition: String,
    /// The EQ-5D-5L value set used.
    pub eq5d_value_set: String,
    /// What is not implemented.
    pub eq5d_note: String,
    /// One entry per instrument.
    pub instruments: Vec<QolInstrument>,
}

/// One instrument over time.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QolInstrument {
    /// `vascuqol6`, `eq5d_index` or `eq_vas`.
    pub instrument: String,
    /// Label and range.
    pub label: String,
    /// Baseline values.
    pub baseline: Distribution,
    /// Each timepoint with data.
    pub timepoints: Vec<QolTimepoint>,
}

/// One instrument at one timepoint.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QolTimepoint {
    /// Stable key (`30_days`, `6_months`, `year_2`, …).
    pub timepoint: String,
    /// Label.
    pub label: String,
    /// Values at the timepoint.
    pub value: Distribution,
    /// Change from baseline (value − baseline) where both exist; `n` is the paired n.
    pub change: Distribution,
}

/// Follow-up completeness.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FollowUpCompleteness {
    /// Definition.
    pub definition: String,
    /// The threshold below which a site is flagged (registry choice).
    pub flag_below: f64,
    /// Whole cohort.
    pub overall: ProportionEndpoint,
    /// Each site.
    pub by_site: Vec<SiteCompleteness>,
}

/// Completeness of one site.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SiteCompleteness {
    /// Site code.
    pub site: String,
    /// The proportion.
    pub completeness: ProportionEndpoint,
    /// Below the threshold.
    pub flagged: bool,
}

/// Duration of anticoagulation (DOMAIN.md 4.7).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DurationOfAnticoagulation {
    /// Definition.
    pub definition: String,
    /// All anticoagulants together.
    pub overall: TherapyDurationSummary,
    /// Each anticoagulant drug.
    pub by_drug: Vec<TherapyDurationSummary>,
}

/// Duration of one therapy.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TherapyDurationSummary {
    /// `anticoagulation` or the drug's code.
    pub therapy: String,
    /// Label.
    pub label: String,
    /// Limbs given it.
    pub n: Count,
    /// Courses completed (stopped, not by death).
    pub completed: Count,
    /// Kaplan–Meier median duration (stop = event), days; `null` if not reached.
    pub km_median_days: Option<f64>,
    /// Kaplan–Meier lower quartile: first day with S ≤ 0.75.
    pub km_q1_days: Option<f64>,
    /// Kaplan–Meier upper quartile: first day with S ≤ 0.25.
    pub km_q3_days: Option<f64>,
    /// Durations of the completed courses (type 7 quantiles).
    pub completed_courses: Distribution,
}

/// One stratification variable.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Comparison {
    /// `dialysis_dependent`, `diabetes`, `wifi_clinical_stage`, `site`, `operator`, `device_system`, `crossover_level`.
    pub variable: String,
    /// Label.
    pub label: String,
    /// The strata, with their estimates.
    pub strata: Vec<Stratum>,
    /// Log-rank test of each survival endpoint across the strata (`null`
    /// fields when fewer than two strata have limbs).
    pub logrank_tests: Vec<LogRank>,
}

/// One stratum.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Stratum {
    /// Stored value (code, site code, operator id, device name).
    pub value: String,
    /// Label.
    pub label: String,
    /// Limbs.
    pub n: Count,
    /// The survival endpoints.
    pub endpoints: Vec<StratumEndpoint>,
    /// Technical success.
    pub technical_success: ProportionEndpoint,
    /// Death within 30 days.
    pub mortality_30_day: ProportionEndpoint,
}

/// A survival endpoint in one stratum.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StratumEndpoint {
    /// The endpoint's JSON name.
    pub endpoint: String,
    /// Limbs.
    pub n: Count,
    /// Events.
    pub events: Count,
    /// Median days, if reached.
    pub median_days: Option<f64>,
    /// Estimates at the standard days.
    pub estimates: Vec<SurvivalEstimate>,
}

/// A log-rank test.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LogRank {
    /// The endpoint's JSON name.
    pub endpoint: String,
    /// Chi-squared statistic.
    pub statistic: Option<f64>,
    /// Degrees of freedom.
    pub degrees_of_freedom: Option<u64>,
    /// P value.
    pub p_value: Option<f64>,
    /// Observed events per stratum, in the order of `strata`.
    pub observed: Vec<Count>,
    /// Expected events per stratum.
    pub expected: Vec<f64>,
}

/// A published figure beside the local one.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Benchmark {
    /// What was published.
    pub benchmark: String,
    /// The published figure, as published.
    pub figure: String,
    /// When.
    pub time: String,
    /// Where it comes from.
    pub source: String,
    /// † in DOMAIN.md section 9: taken from a secondary report.
    pub secondary_report: bool,
    /// The caveat to read with the figure, if any.
    pub caveat: Option<String>,
    /// The matching local figures.
    pub local: Vec<LocalFigure>,
}

/// A local figure matching a benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LocalFigure {
    /// The endpoint's JSON name (and stratum, if any).
    pub endpoint: String,
    /// Days, for a curve.
    pub t_days: Option<f64>,
    /// The estimate (a proportion 0–1).
    pub estimate: Option<f64>,
    /// Lower 95% limit.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit.
    pub ci_upper: Option<f64>,
    /// Limbs in the estimate.
    pub n: Count,
}

/// Funnel plots and learning curves.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Monitoring {
    /// One funnel per indicator and unit (operator, site).
    pub funnels: Vec<Funnel>,
    /// CUSUM learning curves per operator.
    pub learning_curves: LearningCurves,
}

/// A funnel plot's data.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Funnel {
    /// `amputation_free_survival_6_months`, `male_or_death_30_day`, `unplanned_reintervention_1_year`.
    pub indicator: String,
    /// What is counted and who is eligible.
    pub definition: String,
    /// `operator` or `site`.
    pub unit_type: String,
    /// Which direction is bad: `low` or `high`.
    pub bad_direction: String,
    /// Who each unit is compared with, in words: the population whose
    /// proportion is `registry_mean` and from which every unit's limits
    /// come, with its procedure dates and report date. The dashboard and
    /// `/api/v1/outcomes` always compare with the whole registry
    /// ([`crate::ResolvedFilter::comparison`]); a report computed from a
    /// filtered cohort alone says so here.
    pub compared_with: String,
    /// Registry mean θ: k / n over the population of `compared_with`.
    pub registry_mean: Option<f64>,
    /// Limbs eligible in that population.
    pub n: u64,
    /// Each unit.
    pub units: Vec<FunnelUnit>,
}

/// One unit on a funnel.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FunnelUnit {
    /// Operator id or site code; empty where the reader may not see which
    /// unit it is (another site's, or another site's operator, for a user
    /// of some sites only).
    pub unit: String,
    /// Name (`Another site`, `Another operator` where `unit` is empty).
    pub label: String,
    /// Eligible limbs.
    pub n: u64,
    /// Limbs with the indicator.
    pub k: u64,
    /// k / n.
    pub observed: f64,
    /// Lower 99.8% limit.
    pub lower_998: f64,
    /// Lower 95% limit.
    pub lower_95: f64,
    /// Upper 95% limit.
    pub upper_95: f64,
    /// Upper 99.8% limit.
    pub upper_998: f64,
    /// Beyond the 95% limit on the bad side.
    pub alert: bool,
    /// Beyond the 99.8% limit on the bad side.
    pub alarm: bool,
}

/// Learning curves.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LearningCurves {
    /// The method.
    pub method: String,
    /// Odds ratio R_A the chart detects.
    pub odds_ratio: f64,
    /// Signal threshold h.
    pub threshold: f64,
    /// One chart per operator and indicator.
    pub charts: Vec<LearningCurve>,
}

/// One operator's chart for one indicator.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LearningCurve {
    /// `technical_failure` or `male_or_death_30_day`.
    pub indicator: String,
    /// Operator id.
    pub operator: String,
    /// Operator's name.
    pub label: String,
    /// Expected failure probability p (the cohort's rate).
    pub expected_probability: f64,
    /// Cases charted.
    pub cases: u64,
    /// Signals (X ≥ h).
    pub signals: u64,
    /// Case numbers (1-based) at which the chart signalled.
    pub signal_at_cases: Vec<u64>,
    /// Highest X reached.
    pub max_x: f64,
    /// The chart after each case in date order, for the first
    /// [`crate::LEARNING_CURVE_POINTS`] cases (the learning phase); every
    /// case counts in `signals`, `signal_at_cases` and `max_x`.
    pub points: Vec<CusumPointView>,
    /// `true` when the operator has more cases than `points` shows.
    pub points_truncated: bool,
}

/// The chart after one case.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CusumPointView {
    /// Procedure date.
    pub procedure_date: String,
    /// The case failed.
    pub failed: bool,
    /// Weight W.
    pub w: f64,
    /// CUSUM X after the case (before a restart).
    pub x: f64,
    /// Signalled.
    pub signal: bool,
}
