//! The organisation governance review (IPG773 1.3): a site's outcomes, by
//! operator where the committee needs them, its compliance with the special
//! arrangements, funnel-plot alerts and alarms, trends by year of
//! procedure, and the serious adverse events and deaths within 30 days.
//!
//! [`make`] gathers what the review needs from the store; [`build`] is the
//! pure builder. Every figure comes from the outcomes engine's report
//! (`OutcomesReport`) or the patient files; every reading is computed from
//! the figures beside it.
//!
//! The review is the site's own identifiable paper: its operators are
//! named. No other site is: on the registry-wide funnel of sites only this
//! site is labelled.

use chrono::{Datelike, NaiveDate};
use pdva_domain::codes::Severity;
use pdva_domain::{ClinicalRecord, PatientFile, Site};
use pdva_outcomes::{
    Audience, Funnel, FunnelUnit, OutcomesReport, ProportionEndpoint, Stratum, SurvivalEndpoint,
};
use pdva_store::Store;

use crate::casemix::{self, Tally, Topic};
use crate::compliance::{self, Compliance};
use crate::document::{
    Block, Cell, Chart, FilterShown, FunnelChart, Report, ReportKind, Section, Stamp, Table,
    count_text, percent, percent_text,
};
use crate::gather::{self, Generation, Period};
use crate::sections::indicator_label;
use crate::{ReportsError, Result, appraisal, sections};

/// Records listed under each compliance finding in the paper (the web's
/// compliance page and the worklist list them all).
pub const FINDING_ITEMS_SHOWN: usize = 50;

/// The day 6-month estimates are read at (DOMAIN.md section 7).
const SIX_MONTHS: f64 = 182.0;

/// What the review is built from.
#[derive(Debug, Clone)]
pub struct GovernanceInput<'a> {
    /// The site.
    pub site: &'a Site,
    /// The site's outcomes report over the period.
    pub site_report: &'a OutcomesReport,
    /// The site's outcomes report over all its index procedures, whatever
    /// their date (cases cumulatively).
    pub cumulative_report: &'a OutcomesReport,
    /// Patient selection and technique of the period's index procedures
    /// (the same limbs as `site_report`).
    pub tallies: &'a [Tally],
    /// The registry's outcomes report over the period (for the site's
    /// position among sites).
    pub registry_report: &'a OutcomesReport,
    /// The site's outcomes report for each calendar year of procedure in
    /// the period, oldest first.
    pub by_year: &'a [(i32, OutcomesReport)],
    /// The site's compliance over the period.
    pub compliance: &'a Compliance,
    /// The files of the site's patients.
    pub files: &'a [PatientFile],
    /// The period of index procedures.
    pub period: Period,
    /// The report date.
    pub as_of: NaiveDate,
    /// The stamp.
    pub stamp: Stamp,
}

/// The site as the review names it: `CODE — name`.
pub fn site_label(site: &Site) -> String {
    format!("{} — {}", site.site_code, site.name)
}

/// Makes the governance review of the site `site_code` over the index
/// procedures of `period`, as of `generation.as_of`.
pub async fn make(
    store: &Store,
    site_code: &str,
    period: Period,
    generation: &Generation,
) -> Result<Report> {
    let reference = store.reference_data().await?;
    let site = reference
        .sites
        .iter()
        .find(|(c, _)| c.as_str() == site_code)
        .map(|(_, s)| s.clone())
        .ok_or_else(|| ReportsError::UnknownSite(site_code.to_owned()))?;
    let as_of = generation.as_of;
    let audience = Audience::Identifiable;
    let site_filter = gather::filter(period, Some(site_code.to_owned()), None);
    let site_report = gather::outcomes(store, &site_filter, as_of, audience).await?;
    let cumulative_report = gather::outcomes(
        store,
        &gather::filter(Period::default(), Some(site_code.to_owned()), None),
        as_of,
        audience,
    )
    .await?;
    let registry_report =
        gather::outcomes(store, &gather::filter(period, None, None), as_of, audience).await?;
    let mut by_year = Vec::new();
    for year in years(period, &site_report, as_of) {
        let p = year_period(year, period);
        let filter = gather::filter(p, Some(site_code.to_owned()), None);
        by_year.push((
            year,
            gather::outcomes(store, &filter, as_of, audience).await?,
        ));
    }
    let meetings = store.governance_meetings(&site.site_code).await?;
    let files = store.load_patient_files(Some(site_code)).await?;
    let compliance = compliance::check(&site, &meetings, &files, &reference, period, as_of);
    // Selection and technique over exactly the limbs of the site's report.
    let resolved = site_filter.resolve_for(&reference, audience)?;
    let limbs = pdva_outcomes::cohort(&files, &resolved, as_of);
    let tallies = casemix::tallies(&files, &limbs);
    let stamp = gather::stamp(
        &site_report,
        period,
        vec![FilterShown {
            name: "site".into(),
            value: site_label(&site),
        }],
        generation,
        audience,
    );
    Ok(build(&GovernanceInput {
        site: &site,
        site_report: &site_report,
        cumulative_report: &cumulative_report,
        tallies: &tallies,
        registry_report: &registry_report,
        by_year: &by_year,
        compliance: &compliance,
        files: &files,
        period,
        as_of,
        stamp,
    }))
}

/// The calendar years of procedure the trends cover: those of the period,
/// or, where the period is open, of the site's first and last index
/// procedures (none after the report date).
pub fn years(period: Period, site_report: &OutcomesReport, as_of: NaiveDate) -> Vec<i32> {
    let parse = |d: &Option<String>| d.as_deref().and_then(|d| d.parse::<NaiveDate>().ok());
    let first = period
        .from
        .or_else(|| parse(&site_report.cohort.first_procedure));
    let last = period
        .to
        .or_else(|| parse(&site_report.cohort.last_procedure))
        .map(|d| d.min(as_of));
    match (first, last) {
        (Some(f), Some(l)) if f <= l => (f.year()..=l.year()).collect(),
        _ => Vec::new(),
    }
}

/// One calendar year of procedure, within the period.
pub fn year_period(year: i32, period: Period) -> Period {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("a calendar year");
    let end = NaiveDate::from_ymd_opt(year, 12, 31).expect("a calendar year");
    Period {
        from: Some(period.from.map_or(start, |f| f.max(start))),
        to: Some(period.to.map_or(end, |t| t.min(end))),
    }
}

/// Builds the review (pure).
pub fn build(input: &GovernanceInput<'_>) -> Report {
    let r = input.site_report;
    let mut sections = outcome_sections(input);
    sections.push(operators_section(r));
    sections.push(sections::learning_curves(
        r,
        "Learning curves of the site's operators (CUSUM)",
        sections::CusumCharts::Every,
    ));
    sections.push(compliance_section(input.compliance));
    sections.push(monitoring_section(input));
    let by_year: Vec<sections::YearOutcomes<'_>> =
        input.by_year.iter().map(|(y, r)| (*y, Ok(r))).collect();
    sections.push(sections::trends(&by_year, "the site's"));
    sections.push(serious_events_section(input));
    Report {
        kind: ReportKind::GovernanceReview,
        title: ReportKind::GovernanceReview.title().into(),
        subject: site_label(input.site),
        subject_key: input.site.site_code.to_string(),
        stamp: input.stamp.clone(),
        summary: summary(input),
        sections,
    }
}

/// The key readings for the title page.
fn summary(input: &GovernanceInput<'_>) -> Vec<String> {
    let r = input.site_report;
    let mut lines = vec![format!(
        "{} index procedures in {} patients ({}).",
        count_text(r.cohort.index_procedures),
        count_text(r.cohort.patients),
        input.stamp.period()
    )];
    lines.push(format!(
        "Technical success {}.",
        proportion_words(&r.technical_success)
    ));
    if let Some(e) = estimate_at(&r.amputation_free_survival, SIX_MONTHS) {
        lines.push(format!(
            "6-month amputation-free survival {} ({} limbs at risk).",
            percent_text(Some(e.survival), e.ci_lower, e.ci_upper),
            e.at_risk
        ));
    }
    let unmet: Vec<&str> = input
        .compliance
        .checks
        .iter()
        .filter(|c| !c.met)
        .map(|c| c.title)
        .collect();
    lines.push(match unmet.len() {
        0 => "Every special arrangement of IPG773 checked is met.".into(),
        n => format!(
            "{n} of {} special arrangements checked are not met: {}.",
            input.compliance.checks.len(),
            unmet.join("; ")
        ),
    });
    let (alerts, alarms) = flags(r, input.registry_report, input.site.site_code.as_str());
    lines.push(format!(
        "Funnel plots: {alerts} outside the 95% limits (alert), {alarms} outside the 99.8% limits (alarm)."
    ));
    lines
}

/// `k of n (p%)`, or `not assessed` when n is 0.
fn proportion_words(p: &ProportionEndpoint) -> String {
    match p.estimate {
        Some(e) => format!(
            "{} of {} ({})",
            count_text(p.k),
            count_text(p.n),
            percent_text(Some(e), p.ci_lower, p.ci_upper)
        ),
        None => "not assessed (no index procedures)".into(),
    }
}

/// The Kaplan–Meier curve read at `day`.
fn estimate_at(e: &SurvivalEndpoint, day: f64) -> Option<&pdva_outcomes::SurvivalEstimate> {
    e.estimates.iter().find(|x| x.t_days == day)
}

/// A proportion as a cell.
fn proportion_cell(p: &ProportionEndpoint) -> Cell {
    Cell::percent_ci(p.estimate, p.ci_lower, p.ci_upper)
}

/// The site's outcome sections, shared with the appraisal report: cases
/// (in the period and cumulatively), patient mix, technique, technical
/// success, 30-day adverse events, survival and cumulative incidence with
/// numbers at risk, reinterventions, quality of life, completeness (flagged
/// below 80%, DOMAIN.md section 5), anticoagulation and the benchmarks.
fn outcome_sections(input: &GovernanceInput<'_>) -> Vec<Section> {
    let r = input.site_report;
    let tally_blocks = |topic: Topic| {
        input
            .tallies
            .iter()
            .filter(|t| t.topic == topic)
            .map(|t| Block::Table(casemix::table(t, Audience::Identifiable)))
            .collect::<Vec<_>>()
    };
    let mut mix = Section::new("patient_mix", "Patient mix");
    mix.reading.push(format!(
        "{} of {} patients were dependent on dialysis at their index procedure; {} index procedures had no baseline assessment recorded.",
        count_text(r.cohort.dialysis_dependent_patients),
        count_text(r.cohort.patients),
        count_text(r.cohort.procedures_without_baseline),
    ));
    mix.blocks = sections::patient_mix_from_strata(r);
    mix.blocks.extend(tally_blocks(Topic::Selection));
    let mut technique = Section::new("technique", "Technique and devices");
    technique.blocks = sections::technique_from_strata(r);
    technique.blocks.extend(tally_blocks(Topic::Technique));
    let mut completeness = sections::completeness(r, true);
    let c = &r.follow_up_completeness;
    if let Some(p) = c.overall.estimate {
        completeness.reading.push(format!(
            "Follow-up completeness {} is {} the {} below which the governance review flags a site (DOMAIN.md section 5).",
            percent(p),
            if p < c.flag_below { "below" } else { "at or above" },
            percent(c.flag_below)
        ));
    }
    let mut out = vec![
        sections::cases(r, Some(input.cumulative_report)),
        mix,
        technique,
        sections::technical_success(r),
        sections::thirty_day(r),
        sections::survival(r),
        sections::cumulative_incidence(r),
        sections::reinterventions(r),
        sections::quality_of_life(r),
        completeness,
        sections::anticoagulation(r),
        sections::benchmarks(r),
    ];
    for s in &mut out {
        if s.serves.is_none() {
            s.serves = Some("IPG773 1.3".into());
        }
    }
    out
}

/// The operator comparison of the site's report, if any.
fn operator_strata(r: &OutcomesReport) -> &[Stratum] {
    r.comparisons
        .iter()
        .find(|c| c.variable == "operator")
        .map_or(&[], |c| c.strata.as_slice())
}

/// The 6-month amputation-free survival of a stratum.
fn stratum_afs_6_months(s: &Stratum) -> Option<&pdva_outcomes::SurvivalEstimate> {
    s.endpoints
        .iter()
        .find(|e| e.endpoint == "amputation_free_survival")
        .and_then(|e| e.estimates.iter().find(|x| x.t_days == SIX_MONTHS))
}

/// By operator: cases, technical success, 30-day mortality and 6-month
/// AFS, named (the site's own paper).
fn operators_section(r: &OutcomesReport) -> Section {
    let mut s = Section::new("operators", "Results by operator");
    s.serves = Some("NICE IPG773 1.3, 3.7".into());
    let strata = operator_strata(r);
    let rows: Vec<Vec<Cell>> = strata
        .iter()
        .map(|st| {
            let afs = stratum_afs_6_months(st);
            vec![
                Cell::text(st.label.clone()),
                Cell::count(st.n),
                proportion_cell(&st.technical_success),
                proportion_cell(&st.mortality_30_day),
                Cell::percent_ci(
                    afs.map(|e| e.survival),
                    afs.and_then(|e| e.ci_lower),
                    afs.and_then(|e| e.ci_upper),
                ),
                afs.map_or(Cell::text(crate::document::NOT_AVAILABLE), |e| {
                    Cell::exact(e.at_risk)
                }),
            ]
        })
        .collect();
    let cases: Vec<u64> = strata.iter().filter_map(|st| st.n.exact()).collect();
    s.reading.push(match strata.len() {
        0 => "No index procedures in the period.".into(),
        1 => format!(
            "One operator, {}, did all {} index procedures.",
            strata[0].label,
            count_text(strata[0].n)
        ),
        n => format!(
            "{n} operators did the {} index procedures: from {} to {} each.",
            count_text(r.cohort.index_procedures),
            cases.iter().min().copied().unwrap_or(0),
            cases.iter().max().copied().unwrap_or(0)
        ),
    });
    for st in strata {
        if let Some(e) = stratum_afs_6_months(st) {
            s.reading.push(format!(
                "{}: technical success {}, 30-day mortality {}, 6-month AFS {}.",
                st.label,
                proportion_words(&st.technical_success),
                proportion_words(&st.mortality_30_day),
                percent_text(Some(e.survival), e.ci_lower, e.ci_upper),
            ));
        }
    }
    s.blocks.push(Block::Table(Table {
        caption: "Index procedures by primary operator".into(),
        columns: vec![
            "Operator".into(),
            "Cases".into(),
            "Technical success (95% CI)".into(),
            "30-day mortality (95% CI)".into(),
            "6-month AFS (95% CI)".into(),
            "At risk at 6 months".into(),
        ],
        rows,
        note: Some(
            "Technical success and 30-day mortality: Wilson 95% intervals; 30-day mortality of the procedures whose 30-day status is known. AFS: Kaplan–Meier with log(−log) 95% intervals, read at 182 days."
                .into(),
        ),
    }));
    s
}

/// Compliance with the special arrangements, each finding naming its
/// paragraph.
fn compliance_section(c: &Compliance) -> Section {
    let mut s = Section::new("compliance", "Compliance with the special arrangements");
    s.serves = Some("NICE IPG773 1.2, 1.3, 3.6, 3.7".into());
    s.reading = c
        .checks
        .iter()
        .map(|check| format!("IPG773 {}: {}", check.paragraph, check.reading()))
        .collect();
    s.blocks
        .push(Block::Findings(c.findings(FINDING_ITEMS_SHOWN)));
    s
}

/// Whether a funnel unit is inside its limits, or an alert or an alarm.
fn funnel_status(u: &FunnelUnit) -> &'static str {
    if u.alarm {
        "alarm (outside 99.8%)"
    } else if u.alert {
        "alert (outside 95%)"
    } else {
        "within limits"
    }
}

/// The site's own units on the funnels: its operators against the site's
/// mean (from the site's report), and the site against the registry's
/// mean (from the registry's report, this site's unit only).
fn own_units<'a>(
    site_report: &'a OutcomesReport,
    registry_report: &'a OutcomesReport,
    site_code: &'a str,
) -> impl Iterator<Item = (&'a Funnel, &'a FunnelUnit)> {
    let operators = site_report
        .monitoring
        .funnels
        .iter()
        .filter(|f| f.unit_type == "operator")
        .flat_map(|f| f.units.iter().map(move |u| (f, u)));
    let site = registry_report
        .monitoring
        .funnels
        .iter()
        .filter(|f| f.unit_type == "site")
        .flat_map(move |f| {
            f.units
                .iter()
                .filter(move |u| u.unit == site_code)
                .map(move |u| (f, u))
        });
    operators.chain(site)
}

/// Alerts and alarms among the site's own units (an alarm is also outside
/// the 95% limits, so it counts in both).
fn flags(
    site_report: &OutcomesReport,
    registry_report: &OutcomesReport,
    site: &str,
) -> (usize, usize) {
    own_units(site_report, registry_report, site).fold((0, 0), |(a, b), (_, u)| {
        (a + usize::from(u.alert), b + usize::from(u.alarm))
    })
}

/// Funnel-plot alerts and alarms: each operator of the site against the
/// site's mean, and the site against the registry's; the registry's funnel
/// of sites with only this site named.
fn monitoring_section(input: &GovernanceInput<'_>) -> Section {
    let mut s = Section::new("monitoring", "Funnel-plot alerts and alarms");
    s.serves = Some("NICE IPG773 1.3; DOMAIN.md 6.4".into());
    let code = input.site.site_code.as_str();
    let mut rows = Vec::new();
    for (funnel, u) in own_units(input.site_report, input.registry_report, code) {
        let (unit, comparator) = if funnel.unit_type == "site" {
            (format!("{code} (this site)"), "registry")
        } else {
            (u.label.clone(), "site")
        };
        rows.push(vec![
            Cell::text(indicator_label(&funnel.indicator)),
            Cell::text(unit),
            Cell::text(comparator),
            Cell::exact(u.n),
            Cell::exact(u.k),
            Cell::percent(Some(u.observed)),
            Cell::percent(funnel.registry_mean),
            Cell::text(format!("{}–{}", percent(u.lower_95), percent(u.upper_95))),
            Cell::text(format!("{}–{}", percent(u.lower_998), percent(u.upper_998))),
            Cell::text(funnel_status(u)),
        ]);
    }
    let flagged: Vec<String> = own_units(input.site_report, input.registry_report, code)
        .filter(|(_, u)| u.alert)
        .map(|(f, u)| {
            let who = if f.unit_type == "site" {
                "the site against the registry".to_owned()
            } else {
                u.label.clone()
            };
            format!(
                "{} for {} ({} of {}, {}; {})",
                indicator_label(&f.indicator),
                who,
                u.k,
                u.n,
                percent(u.observed),
                funnel_status(u)
            )
        })
        .collect();
    let (alerts, alarms) = flags(input.site_report, input.registry_report, code);
    s.reading.push(format!(
        "Of {} position{} on the funnel plots, {alerts} {} outside the 95% limits on the bad side (alert) and {alarms} outside the 99.8% limits (alarm).",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if alerts == 1 { "is" } else { "are" }
    ));
    s.reading.extend(flagged);
    s.blocks.push(Block::Table(Table {
        caption: "The site's operators against the site, and the site against the registry".into(),
        columns: vec![
            "Indicator".into(),
            "Unit".into(),
            "Against".into(),
            "Eligible".into(),
            "With the outcome".into(),
            "Observed".into(),
            "Mean".into(),
            "95% limits".into(),
            "99.8% limits".into(),
            "Status".into(),
        ],
        rows,
        note: Some(
            "Exact binomial limits with interpolation (Spiegelhalter 2005). An alert or alarm is on the indicator's bad side only. Other sites are not named."
                .into(),
        ),
    }));
    for funnel in input
        .registry_report
        .monitoring
        .funnels
        .iter()
        .filter(|f| f.unit_type == "site")
    {
        if let Some(chart) = site_funnel_chart(funnel, code) {
            s.blocks.push(Block::Chart(Chart::Funnel(chart)));
        }
    }
    s
}

/// The registry's funnel of sites with this site highlighted and named,
/// every other site unnamed.
pub fn site_funnel_chart(funnel: &Funnel, site_code: &str) -> Option<FunnelChart> {
    let mut chart =
        appraisal::anonymous_funnel(funnel, site_code, site_code, "sites of the registry")?;
    chart.title = format!(
        "{}: sites of the registry",
        indicator_label(&funnel.indicator)
    );
    // In order of size, so that the order tells nothing of the other
    // sites' codes (the engine lists units by code).
    chart.units.sort_by(|a, b| {
        (a.n, a.observed)
            .partial_cmp(&(b.n, b.observed))
            .expect("finite")
    });
    Some(chart)
}

/// One serious adverse event or death within 30 days of an index procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriousEvent {
    /// The patient's registry id.
    pub registry_id: String,
    /// The index procedure's date (day 0).
    pub procedure_date: NaiveDate,
    /// Whether the event is the death.
    pub death: bool,
    /// The event in words.
    pub event: String,
    /// Days from the index procedure.
    pub day: i64,
}

/// Whether an adverse event is serious: recorded as serious, or
/// life-threatening or fatal (serious by definition, DOMAIN.md 4.9).
fn is_serious(a: &pdva_domain::AdverseEvent) -> bool {
    a.serious == Some(true) || matches!(a.severity, Severity::LifeThreatening | Severity::Fatal)
}

/// The serious adverse events (onset day 0–30) and deaths (day 0–30) of
/// the index procedures in `period` of the site's patients, dated on or
/// before `as_of`, by procedure date, registry id and day.
pub fn serious_events(
    files: &[PatientFile],
    site_code: &str,
    period: Period,
    as_of: NaiveDate,
) -> Vec<SeriousEvent> {
    let mut out = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.patient.home_site.as_str() == site_code)
    {
        let death = file.death().map(|(_, d)| d).filter(|d| d.date <= as_of);
        for (procedure_id, p) in file.procedures() {
            let date = p.procedure_date;
            if date > as_of
                || period.from.is_some_and(|f| date < f)
                || period.to.is_some_and(|t| date > t)
            {
                continue;
            }
            let day = |d: NaiveDate| (d - date).num_days();
            let within = |d: NaiveDate| d <= as_of && (0..=30).contains(&day(d));
            let event = |death: bool, event: String, d: NaiveDate| SeriousEvent {
                registry_id: file.patient.registry_id.to_string(),
                procedure_date: date,
                death,
                event,
                day: day(d),
            };
            for (_, r) in &file.records {
                if let ClinicalRecord::AdverseEvent(a) = r
                    && a.procedure_id == procedure_id
                    && is_serious(a)
                    && within(a.onset_date)
                {
                    let related = a
                        .device_or_procedure_related
                        .map(|r| {
                            format!(
                                "; related to the device or procedure: {}",
                                r.label().to_lowercase()
                            )
                        })
                        .unwrap_or_default();
                    out.push(event(
                        false,
                        format!(
                            "Serious adverse event: {} ({}){related}",
                            a.kind.label().to_lowercase(),
                            a.severity.label().to_lowercase()
                        ),
                        a.onset_date,
                    ));
                }
            }
            if let Some(d) = death
                && within(d.date)
            {
                let related = d
                    .procedure_related
                    .map(|r| format!("; procedure-related: {}", r.label().to_lowercase()))
                    .unwrap_or_default();
                out.push(event(
                    true,
                    format!("Death: {}{related}", d.cause.label().to_lowercase()),
                    d.date,
                ));
            }
        }
    }
    out.sort_by(|a, b| {
        (a.procedure_date, &a.registry_id, a.day, &a.event).cmp(&(
            b.procedure_date,
            &b.registry_id,
            b.day,
            &b.event,
        ))
    });
    out
}

/// The list of serious adverse events and deaths within 30 days.
fn serious_events_section(input: &GovernanceInput<'_>) -> Section {
    let mut s = Section::new(
        "serious_events",
        "Serious adverse events and deaths within 30 days",
    );
    s.serves = Some("NICE IPG773 1.3, 3.3".into());
    let events = serious_events(
        input.files,
        input.site.site_code.as_str(),
        input.period,
        input.as_of,
    );
    let deaths = events.iter().filter(|e| e.death).count();
    let saes = events.len() - deaths;
    let m = &input.site_report.mortality_30_day;
    s.reading.push(format!(
        "{saes} serious adverse event{} and {deaths} death{} within 30 days of an index procedure.",
        if saes == 1 { "" } else { "s" },
        if deaths == 1 { "" } else { "s" },
    ));
    s.reading.push(format!(
        "30-day mortality {} of the index procedures whose 30-day status is known.",
        proportion_words(m)
    ));
    s.blocks.push(Block::Table(Table {
        caption: "Serious adverse events and deaths, day 0 to 30".into(),
        columns: vec![
            "Registry id".into(),
            "Procedure date".into(),
            "Event".into(),
            "Day".into(),
        ],
        rows: events
            .iter()
            .map(|e| {
                vec![
                    Cell::text(e.registry_id.clone()),
                    Cell::Date {
                        date: e.procedure_date,
                    },
                    Cell::text(e.event.clone()),
                    Cell::exact(e.day.unsigned_abs()),
                ]
            })
            .collect(),
        note: Some(
            "Serious: recorded as serious, or life-threatening or fatal. A death within 30 days of each of a patient's index procedures is listed against each."
                .into(),
        ),
    }));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_of_the_trends_stays_within_the_period() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let period = Period {
            from: Some(d("2023-03-01")),
            to: Some(d("2025-06-30")),
        };
        assert_eq!(
            year_period(2023, period),
            Period {
                from: Some(d("2023-03-01")),
                to: Some(d("2023-12-31"))
            }
        );
        assert_eq!(
            year_period(2024, period),
            Period {
                from: Some(d("2024-01-01")),
                to: Some(d("2024-12-31"))
            }
        );
        assert_eq!(
            year_period(2025, period),
            Period {
                from: Some(d("2025-01-01")),
                to: Some(d("2025-06-30"))
            }
        );
    }
}
