//! End to end against independent implementations: a generated registry's
//! report, with every curve rebuilt by Python from the raw patient records.
//!
//! The test exports the patients' files as JSON; `tests/oracles/endpoints.py`
//! derives each limb's time and event from those records with its own code
//! (DOMAIN.md section 7 and the choices documented in `src/derive.rs`), then
//! fits lifelines' `KaplanMeierFitter` and `logrank_test` and
//! scikit-survival's `cumulative_incidence_competing_risks`. The engine's
//! curves must equal the oracle's row for row: the counts exactly, points to
//! 1e-9, intervals to 1e-6. The estimates at the report's days must have the
//! oracle's numbers at risk (time ≥ t, counted by numpy) and cumulative
//! counts, and the 30-day proportions the oracle's k, n and status-unknown
//! counts (DOMAIN.md section 7, derived by the oracle from the records).
//!
//! Python: `PDVA_ORACLE_PYTHON`, else `<workspace>/.venv-oracles/bin/python`
//! (`scripts/test` makes it). Without it the test prints SKIPPED, or fails
//! when `PDVA_REQUIRE_ORACLES=1`.

mod common;

use chrono::NaiveDate;
use common::{MaxDiff, num, registry, run_oracle};
use pdva_outcomes::{
    ESTIMATE_DAYS, Filter, OutcomesReport, ProportionEndpoint, ReportRequest, build_report,
};
use serde_json::{Value, json};

const POINT: f64 = 1e-9;
const INTERVAL: f64 = 1e-6;

fn check_interval(
    max: &mut MaxDiff,
    ours: (Option<f64>, Option<f64>),
    theirs: (f64, f64),
    estimate: f64,
    what: &dyn Fn() -> String,
) {
    match ours {
        (Some(lo), Some(hi)) => {
            max.check(lo, theirs.0, INTERVAL, &|| format!("{} lower", what()));
            max.check(hi, theirs.1, INTERVAL, &|| format!("{} upper", what()));
        }
        (None, None) => assert!(
            (theirs.0.is_nan() && theirs.1.is_nan())
                || ((theirs.0 - theirs.1).abs() < 1e-12
                    && ((theirs.0 - estimate).abs() < 1e-12 || theirs.0 == 0.0 || theirs.0 == 1.0)),
            "{}: ours undefined, oracle ({}, {}) at {estimate}",
            what(),
            theirs.0,
            theirs.1
        ),
        _ => panic!("{}: half an interval", what()),
    }
}

/// [k, n, status unknown] of a 30-day proportion, as the oracle gives them.
fn thirty_day_counts(p: &ProportionEndpoint) -> [u64; 3] {
    [
        p.k.exact().unwrap(),
        p.n.exact().unwrap(),
        p.status_unknown
            .expect("a 30-day proportion shows its status unknown")
            .exact()
            .unwrap(),
    ]
}

fn oracle_counts(v: &Value) -> [u64; 3] {
    let a = v.as_array().unwrap();
    [0, 1, 2].map(|i| a[i].as_u64().unwrap())
}

/// The 30-day proportions of a report against the oracle's.
fn check_thirty_day(report: &OutcomesReport, theirs: &Value, s: usize) -> u64 {
    let ae = &report.adverse_events_30_day;
    assert_eq!(
        ae.window_passed,
        theirs["window_passed"].as_u64().unwrap(),
        "scenario {s}: limbs whose 30-day window has passed"
    );
    let mut proportions: Vec<(String, &ProportionEndpoint, &Value)> = vec![
        (
            "mortality".into(),
            &report.mortality_30_day,
            &theirs["mortality"],
        ),
        (
            "major amputation".into(),
            &report.major_amputation_30_day,
            &theirs["major_amputation"],
        ),
        (
            "any adverse event".into(),
            &ae.any,
            &theirs["any_adverse_event"],
        ),
    ];
    for k in &ae.by_kind {
        let oracle = &theirs["adverse_events"][&k.kind];
        assert!(
            !oracle.is_null(),
            "scenario {s}: kind {} unknown to the oracle",
            k.kind
        );
        proportions.push((k.kind.clone(), &k.proportion, oracle));
    }
    let dialysis = report
        .comparisons
        .iter()
        .find(|c| c.variable == "dialysis_dependent")
        .unwrap();
    for stratum in &dialysis.strata {
        proportions.push((
            format!("mortality, dialysis {}", stratum.value),
            &stratum.mortality_30_day,
            &theirs["mortality_by_dialysis"][&stratum.value],
        ));
    }
    for (name, ours, oracle) in &proportions {
        let counts = thirty_day_counts(ours);
        assert_eq!(
            counts,
            oracle_counts(oracle),
            "scenario {s} 30-day {name}: [k, n, status unknown]"
        );
        if !name.contains("dialysis") {
            assert_eq!(
                counts[1] + counts[2],
                ae.window_passed.exact().unwrap(),
                "scenario {s} 30-day {name}: known and unknown make the window"
            );
        }
    }
    oracle_counts(&theirs["mortality"])[2]
}

fn survival<'a>(report: &'a OutcomesReport, name: &str) -> &'a pdva_outcomes::SurvivalEndpoint {
    match name {
        "amputation_free_survival" => &report.amputation_free_survival,
        "overall_survival" => &report.overall_survival,
        "freedom_from_major_amputation" => &report.freedom_from_major_amputation,
        "freedom_from_unplanned_reintervention" => &report.freedom_from_unplanned_reintervention,
        "freedom_from_any_reintervention" => &report.freedom_from_any_reintervention,
        "freedom_from_male" => &report.freedom_from_male,
        other => panic!("{other}"),
    }
}

#[test]
fn generated_registry_curves_equal_lifelines_and_scikit_survival() {
    let today: NaiveDate = "2026-06-30".parse().unwrap();
    let (reference, files) = registry(3000, 20_260_630, today);
    let mut sites: Vec<String> = reference.sites.keys().map(|s| s.to_string()).collect();
    sites.sort();
    let scenarios: Vec<(Filter, NaiveDate)> = vec![
        (Filter::default(), today),
        // An earlier report date: later records must not count.
        (Filter::default(), "2025-05-31".parse().unwrap()),
        (
            Filter {
                site: Some(sites[0].clone()),
                operator: None,
                from: Some("2022-01-01".parse().unwrap()),
                to: Some("2025-12-31".parse().unwrap()),
                ..Default::default()
            },
            today,
        ),
    ];
    let export = json!({
        "estimate_days": ESTIMATE_DAYS,
        "scenarios": scenarios.iter().map(|(f, as_of)| json!({
            "as_of": as_of.to_string(),
            "site": f.site,
            "from": f.from.map(|d| d.to_string()),
            "to": f.to.map(|d| d.to_string()),
        })).collect::<Vec<_>>(),
        "patients": files.iter().map(|f| json!({
            "patient": f.patient,
            "records": f.records,
        })).collect::<Vec<_>>(),
    });
    let Some(out) = run_oracle("endpoints.py", export.to_string()) else {
        return;
    };
    let (mut point, mut interval, mut logrank) =
        (MaxDiff::default(), MaxDiff::default(), MaxDiff::default());
    let (mut curves, mut rows_checked, mut estimates_checked) = (0, 0, 0);
    let mut unknown_at_30 = Vec::new();
    for (s, ((filter, as_of), theirs)) in scenarios.iter().zip(out.as_array().unwrap()).enumerate()
    {
        let request = ReportRequest {
            as_of: *as_of,
            filter: filter.resolve(&reference).unwrap(),
            data_version: "test".into(),
        };
        let report = build_report(&files, &reference, &request).unwrap();
        assert_eq!(
            report.cohort.index_procedures,
            theirs["n"].as_u64().unwrap(),
            "scenario {s}: limbs"
        );
        assert!(
            report.cohort.index_procedures.exact().unwrap() > 100,
            "scenario {s} too small"
        );
        unknown_at_30.push(check_thirty_day(&report, &theirs["thirty_day"], s));
        for (name, km) in theirs["km"].as_object().unwrap() {
            curves += 1;
            let ours = survival(&report, name);
            let rows = km["rows"].as_array().unwrap();
            assert_eq!(ours.rows.len(), rows.len(), "scenario {s} {name}: rows");
            for (j, (o, r)) in ours.rows.iter().zip(rows).enumerate() {
                let r = r.as_array().unwrap();
                let what = || format!("scenario {s} {name} row {j} (t = {})", o.t_days);
                assert_eq!(o.t_days, num(&r[0]), "{}", what());
                assert_eq!(
                    [o.at_risk, o.events, o.censored],
                    [num(&r[1]) as u64, num(&r[2]) as u64, num(&r[3]) as u64],
                    "{}: counts",
                    what()
                );
                point.check(o.survival, num(&r[4]), POINT, &what);
                check_interval(
                    &mut interval,
                    (o.ci_lower, o.ci_upper),
                    (num(&r[5]), num(&r[6])),
                    o.survival,
                    &what,
                );
                rows_checked += 1;
            }
            // The estimates: S(t), and the number at risk at the start of
            // day t (time ≥ t) with the events and censorings up to t.
            let estimates = km["estimates"].as_array().unwrap();
            assert_eq!(ours.estimates.len(), estimates.len());
            for (e, a) in ours.estimates.iter().zip(estimates) {
                let a = a.as_array().unwrap();
                let what = || format!("scenario {s} {name} estimate at {}", e.t_days);
                point.check(e.survival, num(&a[0]), POINT, &what);
                assert_eq!(
                    [e.at_risk, e.cumulative_events, e.cumulative_censored],
                    [num(&a[1]) as u64, num(&a[2]) as u64, num(&a[3]) as u64],
                    "{}: at risk / events / censored",
                    what()
                );
                // The same number as the curve's row of that day.
                if let Some(row) = ours.rows.iter().find(|r| r.t_days == e.t_days) {
                    assert_eq!(row.at_risk, e.at_risk, "{}: row of the day", what());
                }
                estimates_checked += 1;
            }
            // The median: first day with S ≤ ½ (ties at exactly ½ aside).
            if let (Some(m), Some(theirs)) = (ours.median_days, km["median"].as_f64()) {
                assert_eq!(m, theirs, "scenario {s} {name}: median");
            }
            let test = report
                .comparisons
                .iter()
                .find(|c| c.variable == "dialysis_dependent")
                .unwrap()
                .logrank_tests
                .iter()
                .find(|t| t.endpoint == *name)
                .unwrap();
            let lr = theirs["logrank_dialysis"][name].as_array().unwrap();
            logrank.check(test.statistic.unwrap(), num(&lr[0]), 1e-6, &|| {
                format!("scenario {s} {name}: log-rank statistic")
            });
            logrank.check(test.p_value.unwrap(), num(&lr[1]), 1e-6, &|| {
                format!("scenario {s} {name}: log-rank p")
            });
        }
        for (key, ours) in [
            (
                "cif_major_amputation",
                &report.cumulative_incidence_major_amputation,
            ),
            (
                "cif_wound_healing",
                &report.cumulative_incidence_wound_healing,
            ),
        ] {
            curves += 1;
            let rows = theirs[key].as_array().unwrap();
            assert_eq!(ours.rows.len(), rows.len(), "scenario {s} {key}: rows");
            for (j, (o, r)) in ours.rows.iter().zip(rows).enumerate() {
                let r: Vec<f64> = r.as_array().unwrap().iter().map(num).collect();
                let what = || format!("scenario {s} {key} row {j} (t = {})", o.t_days);
                assert_eq!(o.t_days, r[0], "{}", what());
                assert_eq!(
                    [o.at_risk, o.events, o.competing_events, o.censored],
                    [r[1] as u64, r[2] as u64, r[3] as u64, r[4] as u64],
                    "{}: counts",
                    what()
                );
                point.check(o.cumulative_incidence, r[5], POINT, &what);
                check_interval(
                    &mut interval,
                    (o.ci_lower, o.ci_upper),
                    (r[6], r[7]),
                    o.cumulative_incidence,
                    &what,
                );
                rows_checked += 1;
            }
            let estimates = theirs[format!("{key}_estimates")].as_array().unwrap();
            assert_eq!(ours.estimates.len(), estimates.len());
            for (e, a) in ours.estimates.iter().zip(estimates) {
                let a: Vec<u64> = a
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| num(v) as u64)
                    .collect();
                assert_eq!(
                    vec![
                        e.at_risk,
                        e.cumulative_events,
                        e.cumulative_competing_events,
                        e.cumulative_censored
                    ],
                    a,
                    "scenario {s} {key} estimate at {}: at risk / events / competing / censored",
                    e.t_days
                );
                if let Some(row) = ours.rows.iter().find(|r| r.t_days == e.t_days) {
                    assert_eq!(
                        row.at_risk, e.at_risk,
                        "scenario {s} {key} estimate at {}: row of the day",
                        e.t_days
                    );
                }
                estimates_checked += 1;
            }
        }
    }
    assert!(
        unknown_at_30.iter().any(|&u| u > 0),
        "no limb of unknown 30-day status: the rule is not exercised"
    );
    eprintln!(
        "end to end: {} scenarios of a 3000-patient registry, {curves} curves, {rows_checked} rows, \
         {estimates_checked} estimates vs lifelines / scikit-survival; max |Δpoint| = {:e}, \
         max |ΔCI| = {:e}, max |Δlog-rank| = {:e}; limbs of unknown 30-day mortality status by \
         scenario: {unknown_at_30:?}",
        scenarios.len(),
        point.0,
        interval.0,
        logrank.0
    );
}
