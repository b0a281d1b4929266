//! The outcome sections every report shares, laid out from one outcomes
//! report (`pdva_outcomes::OutcomesReport`): the same figures, in the same
//! words, whether a clinician's appraisal, a site's governance review or the
//! research report shows them. Each section's reading is computed from the
//! numbers by [`crate::reading`].

use pdva_outcomes::{
    Comparison, CompetingRiskEndpoint, Count, OutcomesReport, ProportionEndpoint, RateEndpoint,
    SurvivalEndpoint,
};

use crate::document::{Block, Cell, Chart, Curve, Section, Step, StepChart, Table, count_text};
use crate::reading;

/// Days under a curve's axis at which numbers at risk are printed.
const AT_RISK_DAYS: [f64; 6] = [0.0, 30.0, 182.0, 365.0, 730.0, 1826.0];

/// The report's comparison of `variable`, if computed.
pub fn comparison<'r>(report: &'r OutcomesReport, variable: &str) -> Option<&'r Comparison> {
    report.comparisons.iter().find(|c| c.variable == variable)
}

/// A proportion's cells: k, n, the percentage with its interval.
pub fn proportion_cells(p: &ProportionEndpoint) -> Vec<Cell> {
    vec![
        Cell::count(p.k),
        Cell::count(p.n),
        Cell::percent_ci(p.estimate, p.ci_lower, p.ci_upper),
    ]
}

/// A rate's cells: events, patient-years, the rate per 100 patient-years
/// with its exact interval.
pub fn rate_cells(r: &RateEndpoint) -> Vec<Cell> {
    vec![
        Cell::count(r.events),
        Cell::number(Some(r.patient_years), 1),
        Cell::Number {
            value: r.rate,
            lower: r.ci_lower,
            upper: r.ci_upper,
            decimals: 1,
        },
    ]
}

/// One count of a report's cohort.
type CohortCount = fn(&OutcomesReport) -> Count;

/// Who is in the report, in the period and (when given) cumulatively.
pub fn cases(report: &OutcomesReport, cumulative: Option<&OutcomesReport>) -> Section {
    let mut section = Section::new("cases", "Cases");
    let rows: [(&str, CohortCount); 6] = [
        ("Patients", |r| r.cohort.patients),
        ("Index procedures (limbs)", |r| r.cohort.index_procedures),
        ("Patients treated on both limbs", |r| {
            r.cohort.bilateral_patients
        }),
        ("Patients dependent on dialysis", |r| {
            r.cohort.dialysis_dependent_patients
        }),
        ("Patients who died", |r| r.cohort.deaths),
        ("Patients whose follow-up ended", |r| {
            r.cohort.follow_up_ended
        }),
    ];
    let mut columns = vec!["".to_owned(), "In the period".to_owned()];
    if cumulative.is_some() {
        columns.push("Cumulative (all dates)".to_owned());
    }
    let mut table_rows: Vec<Vec<Cell>> = rows
        .iter()
        .map(|(label, get)| {
            let mut row = vec![Cell::text(*label), Cell::count(get(report))];
            if let Some(c) = cumulative {
                row.push(Cell::count(get(c)));
            }
            row
        })
        .collect();
    let dates = |r: &OutcomesReport| match (&r.cohort.first_procedure, &r.cohort.last_procedure) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "none".to_owned(),
    };
    let mut row = vec![
        Cell::text("Index procedures dated"),
        Cell::text(dates(report)),
    ];
    if let Some(c) = cumulative {
        row.push(Cell::text(dates(c)));
    }
    table_rows.push(row);
    section.reading.push(reading::cases(report, cumulative));
    section.blocks.push(Block::Table(Table {
        caption: "Patients and index procedures".into(),
        columns,
        rows: table_rows,
        note: Some("A patient treated on both legs has two index procedures, each followed on its own (DOMAIN.md section 7).".into()),
    }));
    section
}

/// A one-way table of a comparison's strata: how many limbs in each.
fn strata_table(comparison: &Comparison, total: Count, caption: &str) -> Table {
    let rows = comparison
        .strata
        .iter()
        .map(|s| {
            let share = match (s.n.exact(), total.exact()) {
                (Some(k), Some(n)) if n > 0 => Some(k as f64 / n as f64),
                _ => None,
            };
            vec![
                Cell::text(s.label.clone()),
                Cell::count(s.n),
                Cell::percent(share),
            ]
        })
        .collect();
    Table {
        caption: caption.into(),
        columns: vec![
            comparison.label.clone(),
            "Index procedures".into(),
            "% of all".into(),
        ],
        rows,
        note: None,
    }
}

/// Patient mix from the engine's strata (dialysis, diabetes, WIfI stage).
pub fn patient_mix_from_strata(report: &OutcomesReport) -> Vec<Block> {
    let total = report.cohort.index_procedures;
    [
        (
            "dialysis_dependent",
            "Dialysis dependence at the index procedure",
        ),
        ("diabetes", "Diabetes"),
        ("wifi_clinical_stage", "WIfI clinical stage (SVS)"),
    ]
    .iter()
    .filter_map(|(variable, caption)| {
        comparison(report, variable).map(|c| Block::Table(strata_table(c, total, caption)))
    })
    .collect()
}

/// Technique from the engine's strata (device system, crossover level).
pub fn technique_from_strata(report: &OutcomesReport) -> Vec<Block> {
    let total = report.cohort.index_procedures;
    [
        ("device_system", "Device system"),
        ("crossover_level", "Crossover level"),
    ]
    .iter()
    .filter_map(|(variable, caption)| {
        comparison(report, variable).map(|c| Block::Table(strata_table(c, total, caption)))
    })
    .collect()
}

/// Technical success with its benchmarks.
pub fn technical_success(report: &OutcomesReport) -> Section {
    let mut section = Section::new("technical_success", "Technical success");
    section.serves = Some("IPG773 3.2; DOMAIN.md 4.6".into());
    section.reading.push(reading::proportion_sentence(
        "Technical success",
        &report.technical_success,
        "index procedures",
    ));
    section.reading.extend(reading::benchmark_sentences(
        report,
        &[
            "PROMISE II technical success",
            "Meta-analysis: technical success",
        ],
    ));
    let mut row = vec![Cell::text("Technical success")];
    row.extend(proportion_cells(&report.technical_success));
    section.blocks.push(Block::Table(Table {
        caption: "Technical success".into(),
        columns: vec![
            "".into(),
            "Successful".into(),
            "Index procedures".into(),
            "% (95% CI)".into(),
        ],
        rows: vec![row],
        note: Some(report.technical_success.definition.clone()),
    }));
    section
}

/// 30-day mortality, major amputation and adverse events by kind.
pub fn thirty_day(report: &OutcomesReport) -> Section {
    let mut section = Section::new("thirty_day", "30-day outcomes and adverse events");
    section.serves = Some("IPG773 3.3".into());
    section.reading.push(reading::proportion_sentence(
        "30-day mortality",
        &report.mortality_30_day,
        "index procedures whose 30-day status is known",
    ));
    section.reading.push(reading::proportion_sentence(
        "30-day major amputation",
        &report.major_amputation_30_day,
        "index procedures whose 30-day status is known",
    ));
    section.reading.push(reading::proportion_sentence(
        "Any adverse event within 30 days",
        &report.adverse_events_30_day.any,
        "index procedures whose 30-day status is known",
    ));
    let mut rows = Vec::new();
    let mut push = |label: &str, p: &ProportionEndpoint| {
        let mut row = vec![Cell::text(label)];
        row.extend(proportion_cells(p));
        // Window passed but status at day 30 unknown: shown, never taken
        // as event-free (DOMAIN.md section 7).
        row.push(p.status_unknown.map_or_else(|| Cell::text(""), Cell::count));
        rows.push(row);
    };
    push("Death", &report.mortality_30_day);
    push(
        "Major amputation of the index limb",
        &report.major_amputation_30_day,
    );
    push("Any adverse event", &report.adverse_events_30_day.any);
    for kind in &report.adverse_events_30_day.by_kind {
        push(&kind.label, &kind.proportion);
    }
    section.blocks.push(Block::Table(Table {
        caption: "Within 30 days of the index procedure".into(),
        columns: vec![
            "Outcome".into(),
            "With the outcome".into(),
            "Status known".into(),
            "% (95% CI)".into(),
            "Status unknown at 30 days".into(),
        ],
        rows,
        note: Some(report.definitions.thirty_day_denominator.clone()),
    }));
    section
}

/// A curve from day 0 (`start`: 1 for survival, 0 for incidence) through
/// `rows`, with its numbers at risk on `days` (all `n` on day 0, otherwise
/// as the engine's estimate of that day gives them).
fn curve(
    label: &str,
    start: f64,
    rows: impl Iterator<Item = Step>,
    n: u64,
    at_risk_on: impl Fn(f64) -> Option<u64>,
    days: &[f64],
) -> Curve {
    let mut steps = vec![Step {
        t_days: 0.0,
        value: start,
        lower: None,
        upper: None,
    }];
    steps.extend(rows);
    let at_risk = days
        .iter()
        .map(|&t| {
            Count::Exact(if t == 0.0 {
                n
            } else {
                at_risk_on(t).unwrap_or(0)
            })
        })
        .collect();
    Curve {
        label: label.into(),
        steps,
        at_risk,
    }
}

/// A Kaplan–Meier curve of an endpoint, from day 0.
pub fn survival_curve(label: &str, endpoint: &SurvivalEndpoint, days: &[f64]) -> Curve {
    let rows = endpoint.rows.iter().map(|r| Step {
        t_days: r.t_days,
        value: r.survival,
        lower: r.ci_lower,
        upper: r.ci_upper,
    });
    let at_risk_on = |t| {
        endpoint
            .estimates
            .iter()
            .find(|e| e.t_days == t)
            .map(|e| e.at_risk)
    };
    curve(label, 1.0, rows, endpoint.n, at_risk_on, days)
}

/// A cumulative incidence curve, from day 0.
pub fn incidence_curve(label: &str, endpoint: &CompetingRiskEndpoint, days: &[f64]) -> Curve {
    let rows = endpoint.rows.iter().map(|r| Step {
        t_days: r.t_days,
        value: r.cumulative_incidence,
        lower: r.ci_lower,
        upper: r.ci_upper,
    });
    let at_risk_on = |t| {
        endpoint
            .estimates
            .iter()
            .find(|e| e.t_days == t)
            .map(|e| e.at_risk)
    };
    curve(label, 0.0, rows, endpoint.n, at_risk_on, days)
}

/// The x axis of curves: to the last day with a step, at least 6 months,
/// at most 5 years; the at-risk days within it.
fn axis(last_day: f64) -> (f64, Vec<f64>) {
    let x_max = if last_day <= 182.0 {
        182.0
    } else if last_day <= 365.0 {
        365.0
    } else if last_day <= 730.0 {
        730.0
    } else {
        1826.0
    };
    // Day 30 would print on top of day 0 on an axis of two years or more;
    // its number at risk is in the table of estimates beside the chart.
    let days = AT_RISK_DAYS
        .iter()
        .copied()
        .filter(|&d| d <= x_max && !(d == 30.0 && x_max >= 730.0))
        .collect();
    (x_max, days)
}

fn last_day<'a>(steps: impl Iterator<Item = &'a Curve>) -> f64 {
    steps
        .flat_map(|c| c.steps.last())
        .map(|s| s.t_days)
        .fold(0.0, f64::max)
}

/// One Kaplan–Meier endpoint's table of estimates at the report's days.
pub fn survival_table(label: &str, endpoint: &SurvivalEndpoint) -> Table {
    let rows = endpoint
        .estimates
        .iter()
        .map(|e| {
            vec![
                Cell::text(e.label.clone()),
                Cell::percent_ci(Some(e.survival), e.ci_lower, e.ci_upper),
                Cell::exact(e.at_risk),
                Cell::exact(e.cumulative_events),
            ]
        })
        .collect();
    let median = match endpoint.median_days {
        Some(m) => format!("median {} days", crate::document::fixed(m, 0)),
        None => "median not reached".to_owned(),
    };
    Table {
        caption: format!(
            "{label}: {} limbs, {} events, {median}",
            endpoint.n, endpoint.events
        ),
        columns: vec![
            "Time".into(),
            "Estimate (95% CI)".into(),
            "At risk".into(),
            "Events so far".into(),
        ],
        rows,
        note: Some(format!(
            "Event: {}. Censored at {}. Number at risk: limbs followed and event-free at the start of the day.",
            endpoint.event, endpoint.censored_at
        )),
    }
}

/// Amputation-free survival, overall survival and freedom from major
/// amputation: tables of estimates and Kaplan–Meier curves.
pub fn survival(report: &OutcomesReport) -> Section {
    let mut section = Section::new(
        "survival",
        "Amputation-free survival, survival and limb salvage",
    );
    section.serves = Some("IPG773 1.4, 3.2; DOMAIN.md section 7".into());
    section.reading.push(reading::survival_sentence(
        "6-month amputation-free survival",
        &report.amputation_free_survival,
        182.0,
        report,
        "PROMISE II amputation-free survival (primary endpoint)",
    ));
    section.reading.push(reading::survival_sentence(
        "6-month survival",
        &report.overall_survival,
        182.0,
        report,
        "PROMISE II survival",
    ));
    section.reading.push(reading::survival_sentence(
        "6-month freedom from major amputation",
        &report.freedom_from_major_amputation,
        182.0,
        report,
        "PROMISE II limb salvage",
    ));
    let endpoints: [(&str, &SurvivalEndpoint); 3] = [
        ("Amputation-free survival", &report.amputation_free_survival),
        ("Overall survival", &report.overall_survival),
        (
            "Freedom from major amputation",
            &report.freedom_from_major_amputation,
        ),
    ];
    for (label, endpoint) in endpoints {
        section
            .blocks
            .push(Block::Table(survival_table(label, endpoint)));
        let probe = [survival_curve(label, endpoint, &[])];
        let (x_max, days) = axis(last_day(probe.iter()));
        section.blocks.push(Block::Chart(Chart::Survival(StepChart {
            title: format!("{label} (Kaplan–Meier, 95% band)"),
            y_label: label.into(),
            curves: vec![survival_curve(label, endpoint, &days)],
            x_max_days: x_max,
            at_risk_days: days,
        })));
    }
    section
}

/// A cumulative incidence table of estimates.
pub fn incidence_table(label: &str, endpoint: &CompetingRiskEndpoint) -> Table {
    let rows = endpoint
        .estimates
        .iter()
        .map(|e| {
            vec![
                Cell::text(e.label.clone()),
                Cell::percent_ci(Some(e.cumulative_incidence), e.ci_lower, e.ci_upper),
                Cell::percent(Some(e.one_minus_kaplan_meier)),
                Cell::exact(e.at_risk),
                Cell::exact(e.cumulative_events),
                Cell::exact(e.cumulative_competing_events),
            ]
        })
        .collect();
    Table {
        caption: format!(
            "{label}: {} limbs, {} events, {} competing events",
            endpoint.n, endpoint.events, endpoint.competing_events
        ),
        columns: vec![
            "Time".into(),
            "Cumulative incidence (95% CI)".into(),
            "1 − KM (overstates)".into(),
            "At risk".into(),
            "Events so far".into(),
            "Competing so far".into(),
        ],
        rows,
        note: Some(format!(
            "Event: {}. Competing: {}. {}",
            endpoint.event, endpoint.competing, endpoint.why_competing_risks
        )),
    }
}

/// Cumulative incidence of major amputation (death competing) and of
/// wound healing.
pub fn cumulative_incidence(report: &OutcomesReport) -> Section {
    let mut section = Section::new(
        "cumulative_incidence",
        "Major amputation and wound healing (competing risks)",
    );
    section.serves = Some("IPG773 1.4; DOMAIN.md section 7".into());
    section.reading.push(reading::incidence_sentence(
        "Cumulative incidence of major amputation at 1 year",
        &report.cumulative_incidence_major_amputation,
        365.0,
    ));
    section.reading.push(reading::incidence_sentence(
        "Cumulative incidence of complete wound healing at 6 months",
        &report.cumulative_incidence_wound_healing,
        182.0,
    ));
    section.reading.push(reading::proportion_sentence(
        "Wounds completely healed at the 6-month visit",
        &report.wound_status_6_months.healed,
        "limbs with a wound at baseline seen at 6 months",
    ));
    section.reading.extend(reading::benchmark_sentences(
        report,
        &["PROMISE II wounds completely healed / healing"],
    ));
    let endpoints: [(&str, &CompetingRiskEndpoint); 2] = [
        (
            "Major amputation",
            &report.cumulative_incidence_major_amputation,
        ),
        (
            "Complete wound healing",
            &report.cumulative_incidence_wound_healing,
        ),
    ];
    for (label, endpoint) in endpoints {
        section
            .blocks
            .push(Block::Table(incidence_table(label, endpoint)));
        let probe = [incidence_curve(label, endpoint, &[])];
        let (x_max, days) = axis(last_day(probe.iter()));
        section
            .blocks
            .push(Block::Chart(Chart::CumulativeIncidence(StepChart {
                title: format!("{label} (Aalen–Johansen cumulative incidence, 95% band)"),
                y_label: format!("{label}, cumulative incidence"),
                curves: vec![incidence_curve(label, endpoint, &days)],
                x_max_days: x_max,
                at_risk_days: days,
            })));
    }
    let mut rows = Vec::new();
    for (label, p) in [
        ("Completely healed", &report.wound_status_6_months.healed),
        ("Healing", &report.wound_status_6_months.healing),
    ] {
        let mut row = vec![Cell::text(label)];
        row.extend(proportion_cells(p));
        rows.push(row);
    }
    section.blocks.push(Block::Table(Table {
        caption: "Wound status at the 6-month visit (limbs with a wound at baseline)".into(),
        columns: vec![
            "Status".into(),
            "Limbs".into(),
            "Seen at 6 months".into(),
            "% (95% CI)".into(),
        ],
        rows,
        note: None,
    }));
    section
}

/// Planned and unplanned reinterventions: rates and freedom from them.
pub fn reinterventions(report: &OutcomesReport) -> Section {
    let mut section = Section::new("reinterventions", "Reinterventions");
    section.serves = Some("IPG773 1.4".into());
    section.reading.push(reading::rate_sentence(
        "Unplanned reinterventions",
        &report.unplanned_reintervention_rate,
    ));
    section.reading.push(reading::rate_sentence(
        "Planned reinterventions",
        &report.planned_reintervention_rate,
    ));
    let mut rows = Vec::new();
    for (label, r) in [
        ("Planned", &report.planned_reintervention_rate),
        ("Unplanned", &report.unplanned_reintervention_rate),
    ] {
        let mut row = vec![Cell::text(label)];
        row.extend(rate_cells(r));
        rows.push(row);
    }
    section.blocks.push(Block::Table(Table {
        caption: "Reinterventions on the index limb per 100 patient-years".into(),
        columns: vec![
            "Reintervention".into(),
            "Reinterventions".into(),
            "Patient-years".into(),
            "Per 100 patient-years (exact 95% CI)".into(),
        ],
        rows,
        note: Some(report.unplanned_reintervention_rate.definition.clone()),
    }));
    for (label, endpoint) in [
        (
            "Freedom from unplanned reintervention",
            &report.freedom_from_unplanned_reintervention,
        ),
        (
            "Freedom from any reintervention",
            &report.freedom_from_any_reintervention,
        ),
        ("Freedom from MALE", &report.freedom_from_male),
    ] {
        section
            .blocks
            .push(Block::Table(survival_table(label, endpoint)));
    }
    section
}

/// Quality of life at baseline and its change at each timepoint.
pub fn quality_of_life(report: &OutcomesReport) -> Section {
    let mut section = Section::new("quality_of_life", "Quality of life");
    section.serves = Some("IPG773 1.4, 3.2".into());
    let qol = &report.quality_of_life;
    for instrument in &qol.instruments {
        section
            .reading
            .extend(reading::quality_of_life_sentence(instrument));
        let mut rows = vec![vec![
            Cell::text("Baseline"),
            Cell::count(instrument.baseline.n),
            Cell::Median {
                median: instrument.baseline.median,
                q1: instrument.baseline.q1,
                q3: instrument.baseline.q3,
                decimals: 2,
            },
            Cell::text(""),
            Cell::text(""),
        ]];
        for tp in &instrument.timepoints {
            rows.push(vec![
                Cell::text(tp.label.clone()),
                Cell::count(tp.value.n),
                Cell::Median {
                    median: tp.value.median,
                    q1: tp.value.q1,
                    q3: tp.value.q3,
                    decimals: 2,
                },
                Cell::count(tp.change.n),
                Cell::Median {
                    median: tp.change.median,
                    q1: tp.change.q1,
                    q3: tp.change.q3,
                    decimals: 2,
                },
            ]);
        }
        section.blocks.push(Block::Table(Table {
            caption: instrument.label.clone(),
            columns: vec![
                "Timepoint".into(),
                "Assessed".into(),
                "Median (IQR)".into(),
                "Paired with baseline".into(),
                "Change from baseline, median (IQR)".into(),
            ],
            rows,
            note: None,
        }));
    }
    section.blocks.push(Block::Paragraph {
        text: format!("{} {}", qol.definition, qol.quantile_definition),
    });
    section
}

/// Duration of anticoagulation, overall and by drug.
pub fn anticoagulation(report: &OutcomesReport) -> Section {
    let mut section = Section::new("anticoagulation", "Duration of anticoagulation");
    section.serves = Some("IPG773 1.4".into());
    let d = &report.duration_of_anticoagulation;
    section
        .reading
        .push(reading::anticoagulation_sentence(&d.overall));
    let mut rows = Vec::new();
    for s in std::iter::once(&d.overall).chain(&d.by_drug) {
        rows.push(vec![
            Cell::text(s.label.clone()),
            Cell::count(s.n),
            Cell::count(s.completed),
            Cell::Median {
                median: s.km_median_days,
                q1: s.km_q1_days,
                q3: s.km_q3_days,
                decimals: 0,
            },
        ]);
    }
    section.blocks.push(Block::Table(Table {
        caption:
            "Duration of anticoagulation (days, Kaplan–Meier: courses still running are censored)"
                .into(),
        columns: vec![
            "Therapy".into(),
            "Courses".into(),
            "Completed".into(),
            "Median (IQR), days".into(),
        ],
        rows,
        note: Some(d.definition.clone()),
    }));
    section
}

/// Follow-up completeness, overall and by site.
pub fn completeness(report: &OutcomesReport, by_site: bool) -> Section {
    let mut section = Section::new("completeness", "Follow-up completeness");
    section.serves = Some("IPG773 3.6; DOMAIN.md section 5".into());
    let c = &report.follow_up_completeness;
    section.reading.push(reading::proportion_sentence(
        "Follow-up completeness",
        &c.overall,
        "follow-up visits due",
    ));
    let mut rows = Vec::new();
    let mut row = vec![Cell::text("All")];
    row.extend(proportion_cells(&c.overall));
    rows.push(row);
    if by_site {
        for s in &c.by_site {
            let mut row = vec![Cell::text(if s.flagged {
                format!(
                    "{} (below {})",
                    s.site,
                    crate::document::percent(c.flag_below)
                )
            } else {
                s.site.clone()
            })];
            row.extend(proportion_cells(&s.completeness));
            rows.push(row);
        }
    }
    section.blocks.push(Block::Table(Table {
        caption: "Timepoints with a visit, of timepoints due".into(),
        columns: vec![
            "".into(),
            "With a visit".into(),
            "Due".into(),
            "% (95% CI)".into(),
        ],
        rows,
        note: Some(c.definition.clone()),
    }));
    section
}

/// The published benchmarks of DOMAIN.md section 9 beside the local
/// figures, each with its source.
pub fn benchmarks(report: &OutcomesReport) -> Section {
    let mut section = Section::new("benchmarks", "Published benchmarks");
    section.serves = Some("DOMAIN.md section 9".into());
    let mut rows = Vec::new();
    for b in &report.benchmarks {
        let local = b
            .local
            .iter()
            .map(|l| {
                format!(
                    "{} ({})",
                    crate::document::percent_text(l.estimate, l.ci_lower, l.ci_upper),
                    count_text(l.n)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        rows.push(vec![
            Cell::text(b.benchmark.clone()),
            Cell::text(format!(
                "{}{}",
                b.figure,
                if b.secondary_report { " †" } else { "" }
            )),
            Cell::text(b.time.clone()),
            Cell::text(if local.is_empty() {
                crate::document::NOT_AVAILABLE.to_owned()
            } else {
                local
            }),
            Cell::text(b.source.clone()),
        ]);
    }
    section.blocks.push(Block::Table(Table {
        caption: "Published figures and this report's".into(),
        columns: vec![
            "Benchmark".into(),
            "Published".into(),
            "Time".into(),
            "Here (95% CI) (n)".into(),
            "Source".into(),
        ],
        rows,
        note: Some("† from secondary reports of the trial: check against the paper before quoting as the trial's. Published series are small and selected: a difference is a question for the appraisal or committee, not a verdict.".into()),
    }));
    section
}

/// The day 6-month estimates are read at (DOMAIN.md section 7).
const SIX_MONTHS: f64 = 182.0;

/// The 6-month amputation-free survival of a stratum, if estimated.
fn stratum_afs_6_months(s: &pdva_outcomes::Stratum) -> Option<&pdva_outcomes::SurvivalEstimate> {
    s.endpoints
        .iter()
        .find(|e| e.endpoint == "amputation_free_survival")
        .and_then(|e| e.estimates.iter().find(|x| x.t_days == SIX_MONTHS))
}

/// The engine's comparisons of `variables` (each with its label): per
/// stratum the index procedures, technical success, 30-day mortality and
/// 6-month amputation-free survival, with the log-rank test of
/// amputation-free survival across the strata.
pub fn comparisons(report: &OutcomesReport, variables: &[&str]) -> Section {
    let mut section = Section::new(
        "comparisons",
        "Outcomes compared by patient group and technique",
    );
    section.serves = Some("IPG773 1.3, 1.4; DOMAIN.md section 8".into());
    for variable in variables {
        let Some(c) = comparison(report, variable) else {
            continue;
        };
        let logrank = c
            .logrank_tests
            .iter()
            .find(|t| t.endpoint == "amputation_free_survival");
        let p = logrank.and_then(|t| t.p_value);
        section.reading.push(match p {
            Some(p) => format!(
                "{}: amputation-free survival differs across the groups with log-rank p = {} ({} degrees of freedom).",
                c.label,
                crate::document::fixed(p, 3),
                logrank.and_then(|t| t.degrees_of_freedom).unwrap_or(0)
            ),
            None => format!(
                "{}: no log-rank test (fewer than two groups with index procedures).",
                c.label
            ),
        });
        let rows = c
            .strata
            .iter()
            .map(|s| {
                let afs = stratum_afs_6_months(s);
                vec![
                    Cell::text(s.label.clone()),
                    Cell::count(s.n),
                    Cell::percent_ci(
                        s.technical_success.estimate,
                        s.technical_success.ci_lower,
                        s.technical_success.ci_upper,
                    ),
                    Cell::percent_ci(
                        s.mortality_30_day.estimate,
                        s.mortality_30_day.ci_lower,
                        s.mortality_30_day.ci_upper,
                    ),
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
        section.blocks.push(Block::Table(Table {
            caption: format!("By {}", c.label.to_lowercase()),
            columns: vec![
                c.label.clone(),
                "Index procedures".into(),
                "Technical success (95% CI)".into(),
                "30-day mortality (95% CI)".into(),
                "6-month AFS (95% CI)".into(),
                "At risk at 6 months".into(),
            ],
            rows,
            note: Some(match p {
                Some(p) => format!(
                    "Log-rank test of amputation-free survival across the groups: p = {}.",
                    crate::document::fixed(p, 3)
                ),
                None => "No log-rank test: fewer than two groups with index procedures.".into(),
            }),
        }));
    }
    if section.blocks.is_empty() {
        section
            .reading
            .push("No comparison: no index procedures.".into());
    }
    section
}

/// One learning-curve indicator in words.
pub fn indicator_label(indicator: &str) -> &str {
    match indicator {
        "amputation_free_survival_6_months" => "6-month amputation-free survival",
        "male_or_death_30_day" => "30-day MALE or death",
        "unplanned_reintervention_1_year" => "1-year unplanned reintervention",
        "technical_failure" => "technical failure",
        other => other,
    }
}

/// Which learning-curve CUSUMs a section draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CusumCharts {
    /// Every operator's chart, each with its reading (a site's paper).
    Every,
    /// A table of every curve, and charts only of the curves that
    /// signalled (a page of many operators, such as the whole registry's).
    Signalled,
}

/// The learning-curve CUSUMs of the report's operators (DOMAIN.md 6.5),
/// named as the report names them.
pub fn learning_curves(r: &OutcomesReport, title: &str, charts: CusumCharts) -> Section {
    let mut s = Section::new("learning_curves", title);
    s.serves = Some("IPG773 1.3, 3.7; DOMAIN.md 6.5".into());
    let lc = &r.monitoring.learning_curves;
    let h = crate::document::fixed(lc.threshold, 2);
    if charts == CusumCharts::Signalled && !lc.charts.is_empty() {
        let signalled = lc.charts.iter().filter(|c| c.signals > 0).count();
        s.reading.push(format!(
            "{} learning curve{} (operator and indicator); {signalled} signalled (threshold h = {h}). Charts are drawn for the curves that signalled; every curve is in the table.",
            lc.charts.len(),
            if lc.charts.len() == 1 { "" } else { "s" },
        ));
        s.blocks.push(Block::Table(Table {
            caption: "Every learning curve".into(),
            columns: vec![
                "Operator".into(),
                "Indicator".into(),
                "Cases".into(),
                "Expected failure probability".into(),
                "Signals".into(),
                "At cases".into(),
            ],
            rows: lc
                .charts
                .iter()
                .map(|c| {
                    vec![
                        Cell::text(c.label.clone()),
                        Cell::text(indicator_label(&c.indicator)),
                        Cell::exact(c.cases),
                        Cell::percent(Some(c.expected_probability)),
                        Cell::exact(c.signals),
                        Cell::text(
                            c.signal_at_cases
                                .iter()
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                    ]
                })
                .collect(),
            note: None,
        }));
    }
    for chart in &lc.charts {
        if charts == CusumCharts::Signalled && chart.signals == 0 {
            continue;
        }
        s.reading.push(if chart.signals == 0 {
            format!(
                "{}, {}: no signal over {} cases (threshold h = {h}).",
                chart.label,
                indicator_label(&chart.indicator),
                chart.cases
            )
        } else {
            format!(
                "{}, {}: {} signal{} over {} cases, at case{} {} (threshold h = {h}).",
                chart.label,
                indicator_label(&chart.indicator),
                chart.signals,
                if chart.signals == 1 { "" } else { "s" },
                chart.cases,
                if chart.signal_at_cases.len() == 1 {
                    ""
                } else {
                    "s"
                },
                chart
                    .signal_at_cases
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        });
        s.blocks
            .push(Block::Chart(Chart::Cusum(crate::document::CusumChart {
                title: format!(
                    "{}, {}: expected failure probability {}",
                    chart.label,
                    indicator_label(&chart.indicator),
                    crate::document::percent(chart.expected_probability)
                ),
                threshold: lc.threshold,
                points: chart
                    .points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| crate::document::CusumPoint {
                        case: i as u64 + 1,
                        value: p.x,
                        signal: p.signal,
                    })
                    .collect(),
            })));
    }
    if lc.charts.is_empty() {
        s.reading
            .push("No learning curve: no index procedures in the period.".into());
    }
    s.blocks.push(Block::Paragraph {
        text: lc.method.clone(),
    });
    s
}

/// One calendar year of procedure: its outcomes report, or why it has
/// none (a research cohort under the minimum, DOMAIN.md section 11).
pub type YearOutcomes<'a> = (i32, std::result::Result<&'a OutcomesReport, &'a str>);

/// Trends by calendar year of procedure: cases, technical success, 6-month
/// AFS and follow-up completeness, each year from its own report. `whose`
/// names the cohort in the note ("the site's", "these sites'").
pub fn trends(by_year: &[YearOutcomes<'_>], whose: &str) -> Section {
    use crate::document::percent;
    let mut s = Section::new("trends", "Trends by year of procedure");
    s.serves = Some("NICE IPG773 1.3".into());
    let mut rows = Vec::new();
    let mut points = Vec::new();
    for (year, r) in by_year {
        let r = match r {
            Ok(r) => r,
            Err(why) => {
                points.push(crate::document::YearPoint {
                    year: *year,
                    cases: None,
                    estimate: None,
                    lower: None,
                    upper: None,
                });
                let mut row = vec![Cell::text(year.to_string())];
                row.extend((0..6).map(|_| Cell::text(crate::document::NOT_AVAILABLE)));
                rows.push(row);
                s.reading.push(format!("{year}: no figures: {why}"));
                continue;
            }
        };
        let afs = r
            .amputation_free_survival
            .estimates
            .iter()
            .find(|e| e.t_days == SIX_MONTHS);
        let c = &r.follow_up_completeness.overall;
        points.push(crate::document::YearPoint {
            year: *year,
            cases: Some(r.cohort.index_procedures),
            estimate: afs.map(|e| e.survival),
            lower: afs.and_then(|e| e.ci_lower),
            upper: afs.and_then(|e| e.ci_upper),
        });
        rows.push(vec![
            Cell::text(year.to_string()),
            Cell::count(r.cohort.index_procedures),
            Cell::percent_ci(
                r.technical_success.estimate,
                r.technical_success.ci_lower,
                r.technical_success.ci_upper,
            ),
            Cell::percent_ci(
                afs.map(|e| e.survival),
                afs.and_then(|e| e.ci_lower),
                afs.and_then(|e| e.ci_upper),
            ),
            afs.map_or(Cell::text(crate::document::NOT_AVAILABLE), |e| {
                Cell::exact(e.at_risk)
            }),
            Cell::percent_ci(c.estimate, c.ci_lower, c.ci_upper),
            Cell::text(format!("{}/{}", count_text(c.k), count_text(c.n))),
        ]);
        s.reading.push(format!(
            "{year}: {} index procedures; technical success {}; 6-month AFS {}; follow-up completeness {}.",
            count_text(r.cohort.index_procedures),
            r.technical_success
                .estimate
                .map_or("not assessed".into(), percent),
            // A curve read where no limb is left at risk rests on the few
            // limbs followed that long: say how many.
            afs.map_or("not estimable".into(), |e| format!(
                "{} ({} limb{} at risk on day 182)",
                percent(e.survival),
                e.at_risk,
                if e.at_risk == 1 { "" } else { "s" }
            )),
            c.estimate.map_or("no window closed yet".into(), percent),
        ));
    }
    if by_year.is_empty() {
        s.reading.push("No index procedures in the period.".into());
    } else {
        s.blocks
            .push(Block::Chart(Chart::ByYear(crate::document::YearChart {
                title: "6-month amputation-free survival by year of procedure".into(),
                y_label: "6-month AFS".into(),
                years: points,
            })));
    }
    s.blocks.push(Block::Table(Table {
        caption: "By calendar year of the index procedure".into(),
        columns: vec![
            "Year".into(),
            "Index procedures".into(),
            "Technical success (95% CI)".into(),
            "6-month AFS (95% CI)".into(),
            "At risk at 6 months".into(),
            "Follow-up completeness (95% CI)".into(),
            "Visits / windows closed".into(),
        ],
        rows,
        note: Some(format!(
            "Each year is the outcomes report of {whose} index procedures of that year (within the period). Follow-up completeness: timepoints with a visit ÷ timepoints whose window closed while the patient was alive (DOMAIN.md section 5); below 80% is flagged."
        )),
    }));
    s
}
