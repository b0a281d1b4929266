//! The clinician appraisal report (IPG773 1.2): one clinician's pDVA
//! outcomes as primary operator, in the period and cumulatively, beside the
//! published benchmarks, with their position on the site's and the
//! registry's funnel plots. No other clinician is named: the other units of
//! a funnel are unlabelled points, and results are not ranked (as the UK
//! National Vascular Registry reports them).

use pdva_domain::{Clinician, RecordId};
use pdva_outcomes::{Audience, Funnel, OutcomesReport};
use pdva_store::Store;

use crate::casemix::{self, Tally, Topic};
use crate::document::{
    Block, Cell, Chart, CusumChart, CusumPoint, FilterShown, FunnelChart, FunnelLimitPoint,
    FunnelPoint, Report, ReportKind, Section, Stamp, Table, percent,
};
use crate::gather::{self, Generation, Period};
use crate::{ReportsError, Result, sections};

/// A clinician found by record id or professional registration number.
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicianFound {
    /// The clinician's record id.
    pub id: RecordId,
    /// The clinician.
    pub clinician: Clinician,
}

/// Finds a clinician by their record id as stored or their professional
/// registration number (GMC or HCPC number, as recorded).
pub async fn find_clinician(store: &Store, id_or_registration: &str) -> Result<ClinicianFound> {
    let wanted = id_or_registration.trim();
    let clinicians = store.clinicians().await?;
    clinicians
        .into_iter()
        .find(|(id, c)| {
            id.to_string() == wanted
                || c.professional_registration
                    .as_deref()
                    .is_some_and(|r| r.trim().eq_ignore_ascii_case(wanted))
        })
        .map(|(id, clinician)| ClinicianFound { id, clinician })
        .ok_or_else(|| ReportsError::UnknownClinician(wanted.to_owned()))
}

/// How a clinician is named on their own report.
pub fn clinician_title(found: &ClinicianFound) -> String {
    match &found.clinician.professional_registration {
        Some(reg) => format!("{} (registration {reg})", found.clinician.display_name),
        None => found.clinician.display_name.to_string(),
    }
}

/// Everything the appraisal report is built from.
#[derive(Debug, Clone)]
pub struct AppraisalInputs {
    /// The clinician.
    pub clinician: ClinicianFound,
    /// The period asked for.
    pub period: Period,
    /// The clinician's index procedures in the period.
    pub period_report: OutcomesReport,
    /// All the clinician's index procedures, whatever their date.
    pub cumulative_report: OutcomesReport,
    /// For each of the clinician's sites: its code, name and the site's
    /// report over the period (for the site's funnel of operators).
    pub site_reports: Vec<(String, String, OutcomesReport)>,
    /// The whole registry over the period (for the registry's funnel of
    /// operators).
    pub registry_report: OutcomesReport,
    /// Patient selection and technique of the period's index procedures.
    pub tallies: Vec<Tally>,
    /// Who asked, and when.
    pub generation: Generation,
}

/// Reads the registry and builds a clinician's appraisal report.
pub async fn make(
    store: &Store,
    clinician: &str,
    period: Period,
    generation: &Generation,
) -> Result<Report> {
    let found = find_clinician(store, clinician).await?;
    let operator = Some(found.id.to_string());
    let as_of = generation.as_of;
    let id = Audience::Identifiable;
    let period_filter = gather::filter(period, None, operator.clone());
    let period_report = gather::outcomes(store, &period_filter, as_of, id).await?;
    let cumulative_report = gather::outcomes(
        store,
        &gather::filter(Period::default(), None, operator),
        as_of,
        id,
    )
    .await?;
    let registry_report =
        gather::outcomes(store, &gather::filter(period, None, None), as_of, id).await?;
    let reference = store.reference_data().await?;
    let mut site_reports = Vec::new();
    for code in &found.clinician.sites {
        let name = reference
            .sites
            .get(code)
            .map_or_else(|| code.to_string(), |s| s.name.to_string());
        let filter = gather::filter(period, Some(code.to_string()), None);
        let report = gather::outcomes(store, &filter, as_of, id).await?;
        site_reports.push((code.to_string(), name, report));
    }
    // Selection and technique: the same limbs as the period report.
    let resolved = period_filter.resolve_for(&reference, id)?;
    let mut files = Vec::new();
    for code in &found.clinician.sites {
        files.extend(store.load_patient_files(Some(code.as_str())).await?);
    }
    let limbs = pdva_outcomes::cohort(&files, &resolved, as_of);
    let tallies = casemix::tallies(&files, &limbs);
    Ok(build(AppraisalInputs {
        clinician: found,
        period,
        period_report,
        cumulative_report,
        site_reports,
        registry_report,
        tallies,
        generation: generation.clone(),
    }))
}

/// Builds the appraisal report from its inputs (pure).
pub fn build(inputs: AppraisalInputs) -> Report {
    let r = &inputs.period_report;
    let name = clinician_title(&inputs.clinician);
    let stamp: Stamp = gather::stamp(
        r,
        inputs.period,
        vec![FilterShown {
            name: "primary operator".into(),
            value: name.clone(),
        }],
        &inputs.generation,
        Audience::Identifiable,
    );
    let mut sections_out = vec![
        sections::cases(r, Some(&inputs.cumulative_report)),
        patient_mix(r, &inputs.tallies),
        technique(r, &inputs.tallies),
        sections::technical_success(r),
        sections::thirty_day(r),
        sections::survival(r),
        sections::cumulative_incidence(r),
        sections::reinterventions(r),
        sections::quality_of_life(r),
        sections::completeness(r, false),
        sections::anticoagulation(r),
        learning_curve(r, inputs.clinician.id),
        funnel_position(&inputs),
        sections::benchmarks(r),
    ];
    for s in &mut sections_out {
        if s.serves.is_none() {
            s.serves = Some("IPG773 1.2".into());
        }
    }
    let summary = summary(r, &inputs.cumulative_report);
    Report {
        kind: ReportKind::Appraisal,
        title: ReportKind::Appraisal.title().into(),
        subject: name,
        subject_key: inputs
            .clinician
            .clinician
            .professional_registration
            .clone()
            .unwrap_or_else(|| inputs.clinician.id.to_string()),
        stamp,
        summary,
        sections: sections_out,
    }
}

/// The title page's readings: the key figures in one place.
fn summary(r: &OutcomesReport, cumulative: &OutcomesReport) -> Vec<String> {
    let mut out = vec![crate::reading::cases(r, Some(cumulative))];
    out.push(crate::reading::proportion_sentence(
        "Technical success",
        &r.technical_success,
        "index procedures",
    ));
    out.push(crate::reading::survival_sentence(
        "6-month amputation-free survival",
        &r.amputation_free_survival,
        182.0,
        r,
        "PROMISE II amputation-free survival (primary endpoint)",
    ));
    out.push(crate::reading::proportion_sentence(
        "30-day mortality",
        &r.mortality_30_day,
        "index procedures whose 30-day status is known",
    ));
    out
}

fn tally_blocks(tallies: &[Tally], topic: Topic) -> Vec<Block> {
    tallies
        .iter()
        .filter(|t| t.topic == topic)
        .map(|t| Block::Table(casemix::table(t, Audience::Identifiable)))
        .collect()
}

fn patient_mix(r: &OutcomesReport, tallies: &[Tally]) -> Section {
    let mut section = Section::new("patient_mix", "Patient mix");
    section.reading.push(format!(
        "{} of {} patients were dependent on dialysis at their index procedure; {} index procedures had no baseline assessment recorded.",
        crate::document::count_text(r.cohort.dialysis_dependent_patients),
        crate::document::count_text(r.cohort.patients),
        crate::document::count_text(r.cohort.procedures_without_baseline),
    ));
    section.blocks = sections::patient_mix_from_strata(r);
    section
        .blocks
        .extend(tally_blocks(tallies, Topic::Selection));
    section
}

fn technique(r: &OutcomesReport, tallies: &[Tally]) -> Section {
    let mut section = Section::new("technique", "Technique and devices");
    section.blocks = sections::technique_from_strata(r);
    section
        .blocks
        .extend(tally_blocks(tallies, Topic::Technique));
    section
}

/// The clinician's learning-curve CUSUMs (one per indicator).
fn learning_curve(r: &OutcomesReport, clinician: RecordId) -> Section {
    let mut section = Section::new("learning_curve", "Learning curve (CUSUM)");
    section.serves = Some("IPG773 1.2; DOMAIN.md 6.5".into());
    let lc = &r.monitoring.learning_curves;
    let id = clinician.to_string();
    for chart in lc.charts.iter().filter(|c| c.operator == id) {
        section.reading.push(if chart.signals == 0 {
            format!(
                "{}: no signal over {} cases (threshold h = {}).",
                chart.indicator,
                chart.cases,
                crate::document::fixed(lc.threshold, 2)
            )
        } else {
            format!(
                "{}: {} signal(s) over {} cases, at case(s) {} (threshold h = {}): worth discussing at appraisal.",
                chart.indicator,
                chart.signals,
                chart.cases,
                chart
                    .signal_at_cases
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                crate::document::fixed(lc.threshold, 2)
            )
        });
        section.blocks.push(Block::Chart(Chart::Cusum(CusumChart {
            title: format!(
                "{}: expected failure probability {}",
                chart.indicator,
                percent(chart.expected_probability)
            ),
            threshold: lc.threshold,
            points: chart
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| CusumPoint {
                    case: i as u64 + 1,
                    value: p.x,
                    signal: p.signal,
                })
                .collect(),
        })));
    }
    if section.blocks.is_empty() {
        section
            .reading
            .push("No learning curve: no index procedures in the period.".into());
    }
    section.blocks.push(Block::Paragraph {
        text: lc.method.clone(),
    });
    section
}

/// Limits along the x axis of a funnel, from 1 case to the largest unit.
pub fn funnel_limits(mean: f64, n_max: u64) -> Vec<FunnelLimitPoint> {
    let mut ns: Vec<u64> = Vec::new();
    let mut n = 1u64;
    while n < n_max.max(10) {
        ns.push(n);
        n = (n + 1).max(n * 21 / 20);
    }
    ns.push(n_max.max(10));
    ns.into_iter()
        .filter_map(|n| {
            pdva_stats::funnel_limits(mean, n)
                .ok()
                .map(|l| FunnelLimitPoint {
                    n: n as f64,
                    lower_998: l.lower_998,
                    lower_95: l.lower_95,
                    upper_95: l.upper_95,
                    upper_998: l.upper_998,
                })
        })
        .collect()
}

/// A funnel with only `unit` named.
pub fn anonymous_funnel(
    funnel: &Funnel,
    unit: &str,
    unit_label: &str,
    comparator: &str,
) -> Option<FunnelChart> {
    let mean = funnel.registry_mean?;
    let n_max = funnel.units.iter().map(|u| u.n).max().unwrap_or(0);
    Some(FunnelChart {
        title: format!("{}: {comparator}", funnel.indicator),
        indicator: funnel.definition.clone(),
        comparator: comparator.into(),
        mean,
        limits: funnel_limits(mean, n_max),
        units: funnel
            .units
            .iter()
            .map(|u| FunnelPoint {
                label: (u.unit == unit).then(|| unit_label.to_owned()),
                n: u.n,
                observed: u.observed,
                highlighted: u.unit == unit,
            })
            .collect(),
    })
}

/// Where the clinician stands on each operator funnel of their sites and of
/// the registry, in words and charts, naming no one else.
fn funnel_position(inputs: &AppraisalInputs) -> Section {
    let mut section = Section::new("funnels", "Position on the funnel plots");
    section.serves = Some("IPG773 1.2, 1.3; DOMAIN.md 6.4".into());
    let id = inputs.clinician.id.to_string();
    let label = "This clinician";
    let mut comparators: Vec<(String, &OutcomesReport)> = inputs
        .site_reports
        .iter()
        .map(|(code, name, r)| (format!("operators of {name} ({code})"), r))
        .collect();
    comparators.push((
        "operators across the registry".into(),
        &inputs.registry_report,
    ));
    let mut rows = Vec::new();
    for (comparator, report) in comparators {
        for funnel in report
            .monitoring
            .funnels
            .iter()
            .filter(|f| f.unit_type == "operator")
        {
            let Some(unit) = funnel.units.iter().find(|u| u.unit == id) else {
                continue;
            };
            let place = if unit.alarm {
                "outside the 99.8% limits (alarm)"
            } else if unit.alert {
                "outside the 95% limits (alert)"
            } else {
                "within the 95% limits"
            };
            section.reading.push(format!(
                "{}: {} of {} ({}), {place} around the mean of {} of {} ({} limbs, {} operators).",
                funnel.indicator,
                unit.k,
                unit.n,
                percent(unit.observed),
                comparator,
                funnel.registry_mean.map_or_else(|| "–".to_owned(), percent),
                funnel.n,
                funnel.units.len()
            ));
            rows.push(vec![
                Cell::text(funnel.indicator.clone()),
                Cell::text(comparator.clone()),
                Cell::exact(unit.k),
                Cell::exact(unit.n),
                Cell::percent(Some(unit.observed)),
                Cell::percent(funnel.registry_mean),
                Cell::text(format!(
                    "{}–{}",
                    percent(unit.lower_95),
                    percent(unit.upper_95)
                )),
                Cell::text(place),
            ]);
            if let Some(chart) = anonymous_funnel(funnel, &id, label, &comparator) {
                section.blocks.push(Block::Chart(Chart::Funnel(chart)));
            }
        }
    }
    section.blocks.insert(
        0,
        Block::Table(Table {
            caption: "This clinician on each funnel plot (other operators are not named)".into(),
            columns: vec![
                "Indicator".into(),
                "Compared with".into(),
                "Events".into(),
                "Limbs".into(),
                "Observed".into(),
                "Mean".into(),
                "95% limits at this n".into(),
                "Position".into(),
            ],
            rows,
            note: Some("Funnel plots show whether a difference from the mean is more than chance would give at this number of cases; they are not a ranking (Spiegelhalter 2005).".into()),
        }),
    );
    if section.reading.is_empty() {
        section
            .reading
            .push("Not on any funnel plot: no index procedures in the period.".into());
    }
    section
}
