//! Invariants of the report on generated registries of random size, seed,
//! report date and filters.

mod common;

use chrono::{Days, NaiveDate};
use pdva_outcomes::{Filter, ReportRequest, SurvivalEndpoint, build_report, cohort};
use pdva_stats::{CompetingObservation, CumulativeIncidence};
use proptest::prelude::*;

fn check_curve(name: &str, s: &SurvivalEndpoint) {
    let Some(first) = s.rows.first() else {
        assert_eq!(s.n, 0, "{name}");
        return;
    };
    assert_eq!(
        first.at_risk, s.n,
        "{name}: everyone at risk at the first row"
    );
    let mut previous = 1.0;
    for w in s.rows.windows(2) {
        assert_eq!(
            w[1].at_risk,
            w[0].at_risk - w[0].events - w[0].censored,
            "{name} at {}",
            w[1].t_days
        );
        assert!(w[1].t_days > w[0].t_days);
    }
    for r in &s.rows {
        assert!(
            r.survival <= previous && (0.0..=1.0).contains(&r.survival),
            "{name}"
        );
        previous = r.survival;
        if let (Some(lo), Some(hi)) = (r.ci_lower, r.ci_upper) {
            assert!(
                lo <= r.survival && r.survival <= hi,
                "{name}: interval around the estimate"
            );
        }
    }
    let last = s.rows.last().unwrap();
    assert_eq!(
        last.at_risk,
        last.events + last.censored,
        "{name}: nobody left after the last row"
    );
    assert_eq!(s.events + s.censored, s.n);
    for e in &s.estimates {
        // At risk at the start of day t (time ≥ t): the risk set of the
        // first row on or after t, the row of day t itself if there is one.
        let from_t = s.rows.iter().find(|r| r.t_days >= e.t_days);
        assert_eq!(
            e.at_risk,
            from_t.map_or(0, |r| r.at_risk),
            "{name} at {}: the curve's number at risk",
            e.t_days
        );
        // Events and censorings on day t are both at risk and counted.
        let on_t = from_t
            .filter(|r| r.t_days == e.t_days)
            .map_or(0, |r| r.events + r.censored);
        assert_eq!(
            e.at_risk + e.cumulative_events + e.cumulative_censored,
            s.n + on_t,
            "{name} at {}",
            e.t_days
        );
    }
}

/// S(t) of a curve from its rows (1 before the first row).
fn at(s: &SurvivalEndpoint, t: f64) -> f64 {
    s.rows
        .iter()
        .take_while(|r| r.t_days <= t)
        .last()
        .map_or(1.0, |r| r.survival)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn report_invariants(
        patients in 1usize..250,
        seed in any::<u64>(),
        days_back in 0u64..900,
        site in proptest::option::of(0usize..6),
    ) {
        let today: NaiveDate = "2026-06-30".parse().unwrap();
        let (reference, files) = common::registry(patients, seed, today);
        let mut sites: Vec<String> = reference.sites.keys().map(|s| s.to_string()).collect();
        sites.sort();
        let filter = Filter { site: site.map(|i| sites[i % sites.len()].clone()), ..Filter::default() }
            .resolve(&reference)
            .unwrap();
        let as_of = today - Days::new(days_back);
        let request = ReportRequest { as_of, filter: filter.clone(), data_version: "p".into() };
        let r = build_report(&files, &reference, &request).unwrap();

        for (name, s) in [
            ("afs", &r.amputation_free_survival),
            ("os", &r.overall_survival),
            ("ffma", &r.freedom_from_major_amputation),
            ("unplanned", &r.freedom_from_unplanned_reintervention),
            ("any", &r.freedom_from_any_reintervention),
            ("male", &r.freedom_from_male),
        ] {
            check_curve(name, s);
            prop_assert_eq!(s.n, r.cohort.index_procedures);
        }
        // AFS can be no better than survival or limb salvage, nor freedom
        // from MALE better than limb salvage, until the first censoring.
        // (Not a theorem after it: a limb amputated on day 1 whose patient
        // dies on day 3, beside one censored on day 2, gives AFS(3) = ½ and
        // survival S(3) = 0.)
        let first_censoring = [
            &r.amputation_free_survival,
            &r.overall_survival,
            &r.freedom_from_major_amputation,
            &r.freedom_from_male,
        ]
        .iter()
        .filter_map(|s| s.rows.iter().find(|x| x.censored > 0).map(|x| x.t_days))
        .fold(f64::INFINITY, f64::min);
        let mut times: Vec<f64> = r.overall_survival.rows.iter().map(|x| x.t_days).collect();
        times.extend(r.amputation_free_survival.rows.iter().map(|x| x.t_days));
        times.extend(pdva_outcomes::ESTIMATE_DAYS);
        times.retain(|t| *t < first_censoring);
        for &t in &times {
            let afs = at(&r.amputation_free_survival, t);
            prop_assert!(afs <= at(&r.overall_survival, t) + 1e-12);
            prop_assert!(afs <= at(&r.freedom_from_major_amputation, t) + 1e-12);
            prop_assert!(at(&r.freedom_from_male, t) <= at(&r.freedom_from_major_amputation, t) + 1e-12);
        }

        // CIF of amputation + CIF of death + all-cause survival (= AFS) = 1.
        let limbs = cohort(&files, &filter, as_of);
        if !limbs.is_empty() {
            let obs: Vec<CompetingObservation> = limbs
                .iter()
                .map(|l| {
                    let (t, status) = l.major_amputation_competing();
                    CompetingObservation { time_days: t as f64, status }
                })
                .collect();
            let death = CumulativeIncidence::fit(&obs, 2).unwrap();
            let amputation = &r.cumulative_incidence_major_amputation;
            prop_assert_eq!(amputation.rows.len(), death.rows().len());
            for (a, dth) in amputation.rows.iter().zip(death.rows()) {
                let total = a.cumulative_incidence + dth.cumulative_incidence
                    + at(&r.amputation_free_survival, a.t_days);
                prop_assert!((total - 1.0).abs() < 1e-9, "sum {} at {}", total, a.t_days);
                prop_assert_eq!(a.at_risk, dth.at_risk as u64);
            }
            // The cumulative incidence never exceeds 1 − KM with deaths censored.
            for e in &amputation.estimates {
                prop_assert!(e.cumulative_incidence <= e.one_minus_kaplan_meier + 1e-12);
            }
        }

        for p in [&r.technical_success, &r.mortality_30_day, &r.major_amputation_30_day, &r.follow_up_completeness.overall] {
            prop_assert!(p.k.exact().unwrap() <= p.n.exact().unwrap());
            if let (Some(e), Some(lo), Some(hi)) = (p.estimate, p.ci_lower, p.ci_upper) {
                prop_assert!(lo <= e && e <= hi);
            }
        }
        // Every 30-day proportion: the known and the status unknown make up
        // the limbs whose window has passed, never more than the cohort.
        let window = r.adverse_events_30_day.window_passed.exact().unwrap();
        prop_assert!(window <= r.cohort.index_procedures.exact().unwrap());
        let mut thirty_day = vec![&r.mortality_30_day, &r.major_amputation_30_day, &r.adverse_events_30_day.any];
        thirty_day.extend(r.adverse_events_30_day.by_kind.iter().map(|k| &k.proportion));
        for p in thirty_day {
            let unknown = p.status_unknown.unwrap().exact().unwrap();
            prop_assert_eq!(p.n.exact().unwrap() + unknown, window, "{}", p.definition);
        }
        prop_assert!(r.technical_success.status_unknown.is_none());
        // The strata of a variable every limb has add up to the cohort's.
        let site = r.comparisons.iter().find(|c| c.variable == "site").unwrap();
        for (what, of) in [
            ("k", (|p: &pdva_outcomes::ProportionEndpoint| p.k) as fn(&_) -> _),
            ("n", |p| p.n),
            ("status unknown", |p| p.status_unknown.unwrap()),
        ] {
            let strata: u64 = site.strata.iter().map(|s| of(&s.mortality_30_day).exact().unwrap()).sum();
            prop_assert_eq!(strata, of(&r.mortality_30_day).exact().unwrap(), "30-day mortality {} by site", what);
        }
        for f in &r.monitoring.funnels {
            for u in &f.units {
                prop_assert!(u.lower_998 <= u.lower_95 && u.lower_95 <= u.upper_95 && u.upper_95 <= u.upper_998);
                prop_assert!(!u.alarm || u.alert);
                prop_assert!(u.k <= u.n);
            }
            prop_assert_eq!(f.units.iter().map(|u| u.n).sum::<u64>(), f.n);
        }
        for c in &r.comparisons {
            for t in &c.logrank_tests {
                if let Some(p) = t.p_value {
                    prop_assert!((0.0..=1.0).contains(&p));
                }
            }
        }
    }
}

/// The derivation reads a patient's records grouped by kind
/// (`PatientFacts::records`); that is only sound because its result does
/// not depend on the order of records of different kinds. Here each file's
/// records are read in the file's own order, kinds interleaved, and with
/// the kinds in reverse order, each kind's records in the file's order.
#[test]
fn limbs_do_not_depend_on_the_order_of_records_of_different_kinds() {
    use pdva_outcomes::derive::index_limbs_into;
    use pdva_outcomes::{PatientFacts, RecordFacts, Scratch};
    let today: NaiveDate = "2026-06-30".parse().unwrap();
    let (_, files) = common::registry(3000, 17, today);
    let derive = |facts: &PatientFacts| {
        let mut limbs = Vec::new();
        index_limbs_into(facts, today, &mut limbs, &mut Scratch::default());
        limbs
    };
    let (mut limbs, mut interleaved) = (0, 0);
    for file in &files {
        let grouped = PatientFacts::from(file);
        let expected = derive(&grouped);
        let mut in_file_order = grouped.clone();
        in_file_order.records = file
            .records
            .iter()
            .map(|(id, r)| RecordFacts::of(*id, r))
            .collect();
        interleaved += usize::from(in_file_order.records != grouped.records);
        let mut reversed = grouped.clone();
        reversed
            .records
            .sort_by_key(|r| std::cmp::Reverse(r.detail.group()));
        assert_eq!(
            derive(&in_file_order),
            expected,
            "patient {}",
            file.patient_id
        );
        assert_eq!(derive(&reversed), expected, "patient {}", file.patient_id);
        limbs += expected.len();
    }
    assert!(
        limbs > 3000 && interleaved > 2000,
        "{limbs} limbs, {interleaved} files interleaved"
    );
}
