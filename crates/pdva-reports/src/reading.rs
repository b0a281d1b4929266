//! Plain-English readings of the figures, for the appraisal conversation and
//! the committee: each sentence is computed from the numbers beside it
//! (never typed in), and says how many the figure rests on.

use pdva_outcomes::{
    CompetingRiskEndpoint, Count, OutcomesReport, ProportionEndpoint, QolInstrument, RateEndpoint,
    SurvivalEndpoint, TherapyDurationSummary,
};

use crate::document::{count_text, fixed, number_text, percent, percent_text};

/// "42 index procedures in 40 patients in the period (118 cumulatively)."
pub fn cases(report: &OutcomesReport, cumulative: Option<&OutcomesReport>) -> String {
    let c = &report.cohort;
    let mut s = format!(
        "{} index procedures in {} patients in the period",
        count_text(c.index_procedures),
        count_text(c.patients)
    );
    if let Some(all) = cumulative {
        s.push_str(&format!(
            " ({} index procedures in {} patients cumulatively)",
            count_text(all.cohort.index_procedures),
            count_text(all.cohort.patients)
        ));
    }
    s.push_str(&format!(
        "; {} of the patients were dependent on dialysis.",
        count_text(c.dialysis_dependent_patients)
    ));
    s
}

/// "Technical success 97.6% (95% CI 87.4–99.6%; 41 of 42 index procedures)."
pub fn proportion_sentence(what: &str, p: &ProportionEndpoint, of_what: &str) -> String {
    let sentence = proportion_only(what, p, of_what);
    match p.status_unknown {
        Some(unknown) if unknown != Count::Exact(0) => format!(
            "{sentence} Status unknown at 30 days (window passed, not seen since): {}.",
            count_text(unknown)
        ),
        _ => sentence,
    }
}

fn proportion_only(what: &str, p: &ProportionEndpoint, of_what: &str) -> String {
    match (p.estimate, p.n.exact()) {
        (_, Some(0)) => format!("{what}: no {of_what} yet."),
        (Some(v), _) => format!(
            "{what} {}{} ({} of {} {of_what}).",
            percent(v),
            interval(p.ci_lower, p.ci_upper),
            count_text(p.k),
            count_text(p.n)
        ),
        (None, _) => format!(
            "{what}: not shown ({} of {} {of_what}).",
            count_text(p.k),
            count_text(p.n)
        ),
    }
}

/// ` (95% CI 48.0–72.3%)`, or nothing where undefined.
fn interval(lower: Option<f64>, upper: Option<f64>) -> String {
    match (lower, upper) {
        (Some(l), Some(u)) => format!(" (95% CI {}–{}%)", fixed(l * 100.0, 1), fixed(u * 100.0, 1)),
        _ => String::new(),
    }
}

/// The published figure of a named benchmark, if the report carries it.
fn published(report: &OutcomesReport, benchmark: &str) -> Option<String> {
    report
        .benchmarks
        .iter()
        .find(|b| b.benchmark == benchmark)
        .map(|b| format!("{} reported {} ({})", b.benchmark, b.figure, b.time))
}

/// "6-month amputation-free survival 61.2% (95% CI 48.0–72.3%, 42 limbs,
/// 30 at risk); PROMISE II ... reported 66.1% ...".
pub fn survival_sentence(
    what: &str,
    endpoint: &SurvivalEndpoint,
    day: f64,
    report: &OutcomesReport,
    benchmark: &str,
) -> String {
    let estimate = endpoint.estimates.iter().find(|e| e.t_days == day);
    let local = match estimate {
        _ if endpoint.n == 0 => format!("{what}: no limbs followed yet"),
        Some(e) => format!(
            "{what} {}{}, {} limbs, {} still at risk on day {}",
            percent(e.survival),
            interval(e.ci_lower, e.ci_upper),
            endpoint.n,
            e.at_risk,
            fixed(day, 0)
        ),
        None => format!("{what}: not estimated"),
    };
    match published(report, benchmark) {
        Some(p) => format!("{local}; {p}."),
        None => format!("{local}."),
    }
}

/// "Cumulative incidence of major amputation at 1 year 18.3% (95% CI ...),
/// 42 limbs; 1 − Kaplan–Meier would say 19.9%."
pub fn incidence_sentence(what: &str, endpoint: &CompetingRiskEndpoint, day: f64) -> String {
    if endpoint.n == 0 {
        return format!("{what}: no limbs followed yet.");
    }
    match endpoint.estimates.iter().find(|e| e.t_days == day) {
        Some(e) => format!(
            "{what} {}{}, {} limbs; 1 − Kaplan–Meier, which ignores the competing events, would give {}.",
            percent(e.cumulative_incidence),
            interval(e.ci_lower, e.ci_upper),
            endpoint.n,
            percent(e.one_minus_kaplan_meier)
        ),
        None => format!("{what}: not estimated."),
    }
}

/// "Unplanned reinterventions: 12 in 38.5 patient-years, 31.2 per 100
/// patient-years (exact 95% CI 16.1–54.4)."
pub fn rate_sentence(what: &str, rate: &RateEndpoint) -> String {
    format!(
        "{what}: {} in {} patient-years, {} per 100 patient-years{}.",
        count_text(rate.events),
        fixed(rate.patient_years, 1),
        rate.rate.map_or_else(
            || crate::document::NOT_AVAILABLE.to_owned(),
            |r| fixed(r, 1)
        ),
        match (rate.ci_lower, rate.ci_upper) {
            (Some(l), Some(u)) => format!(" (exact 95% CI {}–{})", fixed(l, 1), fixed(u, 1)),
            _ => String::new(),
        }
    )
}

/// The change of a quality-of-life score at 6 months, or the latest
/// timepoint with paired values.
pub fn quality_of_life_sentence(instrument: &QolInstrument) -> Option<String> {
    let tp = instrument
        .timepoints
        .iter()
        .find(|t| t.timepoint == "6_months" && t.change.median.is_some())
        .or_else(|| {
            instrument
                .timepoints
                .iter()
                .rev()
                .find(|t| t.change.median.is_some())
        })?;
    let median = tp.change.median?;
    let direction = if median > 0.0 {
        "a median rise"
    } else if median < 0.0 {
        "a median fall"
    } else {
        "no median change"
    };
    Some(format!(
        "{}: {direction} of {} from baseline at {} (IQR {}, {} patients with both).",
        instrument.label,
        fixed(median.abs(), 2),
        tp.label,
        number_text(tp.change.q1, None, None, 2)
            + " to "
            + &number_text(tp.change.q3, None, None, 2),
        count_text(tp.change.n)
    ))
}

/// "Anticoagulation lasted a median of 92 days (IQR 61–180; Kaplan–Meier,
/// 40 courses, 31 completed)."
pub fn anticoagulation_sentence(overall: &TherapyDurationSummary) -> String {
    match overall.km_median_days {
        Some(m) => format!(
            "Anticoagulation lasted a median of {} days{} (Kaplan–Meier; {} courses, {} completed).",
            fixed(m, 0),
            match (overall.km_q1_days, overall.km_q3_days) {
                (Some(a), Some(b)) => format!(" (IQR {}–{})", fixed(a, 0), fixed(b, 0)),
                _ => String::new(),
            },
            count_text(overall.n),
            count_text(overall.completed)
        ),
        None if overall.n == Count::Exact(0) => "No anticoagulation recorded.".to_owned(),
        None => format!(
            "Median duration of anticoagulation not reached ({} courses, {} completed).",
            count_text(overall.n),
            count_text(overall.completed)
        ),
    }
}

/// Each named benchmark's published figure beside the report's own, with
/// its source.
pub fn benchmark_sentences(report: &OutcomesReport, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter_map(|name| report.benchmarks.iter().find(|b| b.benchmark == *name))
        .map(|b| {
            let here = b
                .local
                .first()
                .map(|l| {
                    format!(
                        "; here {} ({})",
                        percent_text(l.estimate, l.ci_lower, l.ci_upper),
                        count_text(l.n)
                    )
                })
                .unwrap_or_default();
            format!(
                "{}: published {} at {}{here}. Source: {}.",
                b.benchmark, b.figure, b.time, b.source
            )
        })
        .collect()
}

/// The outcomes report in a few lines (label, sentence), for the summary
/// sheet of an exported workbook: the same sentences the reports print,
/// computed from the same numbers.
pub fn summary_lines(report: &OutcomesReport) -> Vec<(String, String)> {
    let line = |label: &str, text: String| (label.to_owned(), text);
    let mut lines = vec![
        line(
            "Outcomes report",
            format!(
                "as of {}, data version {}{}",
                report.as_of,
                report.data_version,
                if report.disclosure.is_some() {
                    " (research form: research population, disclosure-controlled)"
                } else {
                    ""
                }
            ),
        ),
        line("Cases", cases(report, None)),
        line(
            "Technical success",
            proportion_sentence(
                "Technical success",
                &report.technical_success,
                "index procedures",
            ),
        ),
        line(
            "30-day mortality",
            proportion_sentence(
                "30-day mortality",
                &report.mortality_30_day,
                "index procedures whose 30-day status is known",
            ),
        ),
        line(
            "30-day major amputation",
            proportion_sentence(
                "30-day major amputation",
                &report.major_amputation_30_day,
                "index procedures whose 30-day status is known",
            ),
        ),
    ];
    for (label, endpoint, benchmark) in [
        (
            "6-month amputation-free survival",
            &report.amputation_free_survival,
            "PROMISE II amputation-free survival (primary endpoint)",
        ),
        (
            "6-month survival",
            &report.overall_survival,
            "PROMISE II survival",
        ),
        (
            "6-month freedom from major amputation",
            &report.freedom_from_major_amputation,
            "PROMISE II limb salvage",
        ),
    ] {
        lines.push(line(
            label,
            survival_sentence(label, endpoint, 182.0, report, benchmark),
        ));
    }
    lines.push(line(
        "Major amputation at 1 year",
        incidence_sentence(
            "Cumulative incidence of major amputation at 1 year",
            &report.cumulative_incidence_major_amputation,
            365.0,
        ),
    ));
    lines.push(line(
        "Unplanned reinterventions",
        rate_sentence(
            "Unplanned reinterventions",
            &report.unplanned_reintervention_rate,
        ),
    ));
    lines
}
