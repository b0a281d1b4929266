//! End to end against independent implementations: a generated registry's
//! report, with every curve rebuilt by Python from the raw patient records.
//!
//! The test exports the patients' files as JSON; `tests/oracles/endpoints.py`
//! derives each limb's time and event from those records with its own code
//! (DOMAIN.md section 7 and the choices documented in `src/derive.rs`), then
//! fits lifelines' `KaplanMeierFitter` and `logrank_test` and
//! scikit-survival's `cumulative_incidence_competing_risks`. The engine's
//! curves must equal the oracle's row for row: the counts exactly, points to
//! 1e-9, intervals to 1e-6.
//!
//! Python: `PDVA_ORACLE_PYTHON`, else `<workspace>/.venv-oracles/bin/python`
//! (`scripts/test` makes it). Without it the test prints SKIPPED, or fails
//! when `PDVA_REQUIRE_ORACLES=1`.

mod common;

use chrono::NaiveDate;
use common::{MaxDiff, num, registry, run_oracle};
use pdva_outcomes::{Filter, OutcomesReport, ReportRequest, build_report};
use serde_json::json;

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
            },
            today,
        ),
    ];
    let export = json!({
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
    let (mut curves, mut rows_checked) = (0, 0);
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
        }
    }
    eprintln!(
        "end to end: {} scenarios of a 3000-patient registry, {curves} curves, {rows_checked} rows vs \
         lifelines / scikit-survival; max |Δpoint| = {:e}, max |ΔCI| = {:e}, max |Δlog-rank| = {:e}",
        scenarios.len(),
        point.0,
        interval.0,
        logrank.0
    );
}
