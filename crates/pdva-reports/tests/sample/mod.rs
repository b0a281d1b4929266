//! A hand-built report with every kind of block, cell and chart, for the
//! printers' tests (HTML here, PDF in `pdva-pdf`, which includes this file).
//! Its words hold the characters that HTML and typst markup treat
//! specially, so a printer that forgets to escape shows it.

#![allow(dead_code)]

use chrono::NaiveDate;
use pdva_outcomes::Count;
use pdva_reports::document::{
    AudienceShown, Block, Cell, Chart, Curve, CusumChart, CusumPoint, FilterShown, Finding,
    Findings, FunnelChart, FunnelLimitPoint, FunnelPoint, Report, ReportKind, Section, Stamp, Step,
    StepChart, Table,
};

/// Text with every character special to HTML or typst markup.
pub const AWKWARD: &str = r#"Smith & Sons <b>#1</b> *bold* _it_ $x$ @ref [a] = - + / \ `c` ~ "q""#;

/// The data version of the sample (a SHA-256 in hex).
pub const DATA_VERSION: &str = "9f2c4e1ab3d75f60c8e9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// The sample report: a governance review with every block kind.
pub fn report() -> Report {
    Report {
        kind: ReportKind::GovernanceReview,
        title: ReportKind::GovernanceReview.title().into(),
        subject: "Northern Vascular Centre (RX1)".into(),
        subject_key: "RX1".into(),
        stamp: Stamp {
            from: Some(date(2024, 1, 1)),
            to: Some(date(2025, 12, 31)),
            as_of: date(2026, 11, 30),
            filters: vec![
                FilterShown {
                    name: "site".into(),
                    value: "RX1".into(),
                },
                FilterShown {
                    name: "operator".into(),
                    value: "all credentialed".into(),
                },
            ],
            generated_at: "2026-12-01 09:30 UTC".into(),
            generated_by: "governance.lead".into(),
            software: "pdva-registry 0.1.0".into(),
            data_version: DATA_VERSION.into(),
            audience: AudienceShown::Identifiable,
        },
        summary: vec![
            "48 index procedures on 46 patients; technical success 91.7% (80.4–96.7).".into(),
            "Amputation-free survival at one year 68.2% (52.0–80.1).".into(),
            "Two of five IPG773 arrangements not met: see section 4.".into(),
        ],
        sections: vec![
            cohort_section(),
            survival_section(),
            monitoring_section(),
            compliance_section(),
        ],
    }
}

fn cohort_section() -> Section {
    let mut s = Section::new("cohort", "Cohort and procedures");
    s.serves = Some("NICE IPG773 1.3; DOMAIN.md 7.1".into());
    s.reading = vec![
        "48 limbs of 46 patients had an index pDVA procedure in the period.".into(),
        "Most were Rutherford category 5 with WIfI clinical stage 4.".into(),
    ];
    s.blocks = vec![
        Block::Table(Table {
            caption: "Cohort".into(),
            columns: vec![
                "Measure".into(),
                "Count".into(),
                "Percentage (95% CI)".into(),
                "Median (IQR)".into(),
            ],
            rows: vec![
                vec![
                    Cell::text("Index procedures"),
                    Cell::exact(48),
                    Cell::percent(Some(1.0)),
                    Cell::text("–"),
                ],
                vec![
                    Cell::text("Technical success"),
                    Cell::exact(44),
                    Cell::percent_ci(Some(0.9167), Some(0.804), Some(0.967)),
                    Cell::Median {
                        median: Some(71.0),
                        q1: Some(63.5),
                        q3: Some(78.0),
                        decimals: 1,
                    },
                ],
                vec![
                    Cell::text("Women"),
                    Cell::count(Count::Small),
                    Cell::percent(None),
                    Cell::Median {
                        median: None,
                        q1: None,
                        q3: None,
                        decimals: 0,
                    },
                ],
                vec![
                    Cell::text("Withheld"),
                    Cell::count(Count::Suppressed),
                    Cell::Number {
                        value: Some(12.345),
                        lower: Some(9.1),
                        upper: Some(16.04),
                        decimals: 2,
                    },
                    Cell::Date {
                        date: date(2025, 3, 14),
                    },
                ],
                vec![
                    Cell::text("Referrals"),
                    Cell::exact(7),
                    Cell::number(Some(3.5), 1),
                    Cell::text("<script>alert(1)</script>"),
                ],
            ],
            note: Some("Percentages of index procedures; Wilson 95% intervals.".into()),
        }),
        Block::Table(Table {
            caption: format!("Names as entered: {AWKWARD}"),
            columns: vec!["Name".into(), "Procedures".into()],
            rows: vec![vec![Cell::text(AWKWARD), Cell::exact(12)]],
            note: None,
        }),
        Block::Paragraph {
            text: format!("A paragraph with awkward text: {AWKWARD}."),
        },
    ];
    s
}

/// A falling curve over `days` with a band, and its numbers at risk at
/// `at_risk_days`.
fn curve(label: &str, start: u64, hazard: f64, at_risk_days: &[f64]) -> Curve {
    let mut steps = vec![Step {
        t_days: 0.0,
        value: 1.0,
        lower: Some(1.0),
        upper: Some(1.0),
    }];
    let mut value = 1.0;
    let mut t = 0.0;
    let mut k = 0u32;
    while t < 700.0 {
        k += 1;
        t += 11.0 + f64::from(k * 7 % 23);
        value *= 1.0 - hazard * (1.0 + f64::from(k % 3) * 0.2);
        let half = 0.04 + 0.0004 * t.sqrt() * 8.0;
        steps.push(Step {
            t_days: t.min(700.0),
            value,
            lower: Some((value - half).max(0.0)),
            upper: Some((value + half * 0.8).min(1.0)),
        });
    }
    let at_risk = at_risk_days
        .iter()
        .map(|d| {
            let n = (start as f64 * (1.0 - d / 800.0)).round() as u64;
            if n > 0 && n < 5 {
                Count::Small
            } else {
                Count::Exact(n)
            }
        })
        .collect();
    Curve {
        label: label.into(),
        steps,
        at_risk,
    }
}

fn survival_section() -> Section {
    let days = [0.0, 30.0, 182.0, 365.0, 730.0];
    let mut s = Section::new("survival", "Amputation-free survival");
    s.serves = Some("DOMAIN.md 7.3".into());
    s.reading = vec!["At one year 68.2% of limbs were alive without major amputation.".into()];
    s.blocks = vec![
        Block::Chart(Chart::Survival(StepChart {
            title: "Amputation-free survival".into(),
            y_label: "Alive without major amputation".into(),
            curves: vec![
                curve("This organisation", 48, 0.03, &days),
                curve("Registry", 412, 0.022, &days),
            ],
            x_max_days: 730.0,
            at_risk_days: days.to_vec(),
        })),
        Block::Chart(Chart::CumulativeIncidence(StepChart {
            title: "Major amputation (death a competing risk)".into(),
            y_label: "Cumulative incidence".into(),
            curves: vec![{
                let mut c = curve("This organisation", 48, 0.02, &days);
                for step in &mut c.steps {
                    step.value = 1.0 - step.value;
                    let (lo, hi) = (step.lower, step.upper);
                    step.lower = hi.map(|h| 1.0 - h);
                    step.upper = lo.map(|l| 1.0 - l);
                }
                c
            }],
            x_max_days: 730.0,
            at_risk_days: days.to_vec(),
        })),
        Block::Table(Table {
            caption: "Estimates at fixed times".into(),
            columns: vec!["Day".into(), "Survival (95% CI)".into(), "At risk".into()],
            rows: (0..30u32)
                .map(|i| {
                    vec![
                        Cell::text(format!("Day {}", i * 25)),
                        Cell::percent_ci(
                            Some(1.0 - f64::from(i) * 0.011),
                            Some(0.95 - f64::from(i) * 0.014),
                            Some(1.0 - f64::from(i) * 0.008),
                        ),
                        Cell::exact(48 - u64::from(i)),
                    ]
                })
                .collect(),
            note: None,
        }),
    ];
    s
}

fn monitoring_section() -> Section {
    let mean: f64 = 0.12;
    let limits = (1..=60)
        .map(|i| {
            let n = f64::from(i) * 2.0;
            let se = (mean * (1.0 - mean) / n).sqrt();
            FunnelLimitPoint {
                n,
                lower_998: (mean - 3.09 * se).max(0.0),
                lower_95: (mean - 1.96 * se).max(0.0),
                upper_95: mean + 1.96 * se,
                upper_998: mean + 3.09 * se,
            }
        })
        .collect();
    let mut units: Vec<FunnelPoint> = [
        (8, 0.0),
        (15, 0.133),
        (22, 0.09),
        (31, 0.161),
        (40, 0.1),
        (55, 0.145),
        (63, 0.079),
        (80, 0.125),
        (97, 0.103),
        (110, 0.118),
    ]
    .into_iter()
    .map(|(n, observed)| FunnelPoint {
        label: None,
        n,
        observed,
        highlighted: false,
    })
    .collect();
    units.push(FunnelPoint {
        label: Some("Northern Vascular Centre".into()),
        n: 48,
        observed: 0.229,
        highlighted: true,
    });
    let mut value = 0.0;
    let points = (1..=48)
        .map(|case| {
            value = f64::max(0.0, value + if case % 4 == 0 { 0.9 } else { -0.15 });
            CusumPoint {
                case,
                value,
                signal: value > 2.0,
            }
        })
        .collect();
    let mut s = Section::new("monitoring", "Monitoring against the registry");
    s.serves = Some("NICE IPG773 1.3".into());
    s.reading = vec!["30-day mortality lies between the 95% and 99.8% limits.".into()];
    s.blocks = vec![
        Block::Chart(Chart::Funnel(FunnelChart {
            title: "30-day mortality by organisation".into(),
            indicator: "30-day mortality".into(),
            comparator: "registry".into(),
            mean,
            limits,
            units,
        })),
        Block::Chart(Chart::Cusum(CusumChart {
            title: "Learning curve: technical failure CUSUM".into(),
            threshold: 2.0,
            points,
        })),
    ];
    s
}

fn compliance_section() -> Section {
    let mut s = Section::new("compliance", "IPG773 arrangements");
    s.serves = Some("NICE IPG773 1.3".into());
    s.blocks = vec![Block::Findings(Findings {
        findings: vec![
            Finding {
                paragraph: "1.3".into(),
                title: "Multidisciplinary team decision recorded".into(),
                met: true,
                status: "48 of 48 procedures (100.0%) have an MDT decision.".into(),
                items: vec![],
                more: 0,
            },
            Finding {
                paragraph: "1.5".into(),
                title: "Operator credentialed for pDVA".into(),
                met: false,
                status: "3 of 48 procedures (6.3%) by an operator without credentials.".into(),
                items: vec![
                    "RX1-000123: procedure on 2025-02-11 by Dr A Jones".into(),
                    "RX1-000131: procedure on 2025-04-02 by Dr A Jones".into(),
                ],
                more: 1,
            },
            Finding {
                paragraph: "1.2".into(),
                title: "Follow-up visits on schedule".into(),
                met: false,
                status: "9 of 48 limbs (18.8%) missed a scheduled visit.".into(),
                items: vec![],
                more: 9,
            },
        ],
    })];
    s
}

/// Every string the sample's tables print, by `Cell::display`.
pub fn cell_texts(report: &Report) -> Vec<String> {
    report
        .sections
        .iter()
        .flat_map(|s| &s.blocks)
        .filter_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .flat_map(|t| t.rows.iter().flatten().map(Cell::display))
        .collect()
}

/// A long report (about 20 pages) for a rough timing: the sample's
/// sections over and over.
pub fn long_report() -> Report {
    let mut report = report();
    let sections = report.sections.clone();
    for i in 0..4 {
        for s in &sections {
            let mut s = s.clone();
            s.key = format!("{}-{i}", s.key);
            report.sections.push(s);
        }
    }
    report
}
