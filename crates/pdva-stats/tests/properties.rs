//! Invariants that must hold for any input, checked with proptest, and the
//! million-observation Kaplan–Meier that must stay fast.

use pdva_stats::{
    BadDirection, CompetingObservation, CumulativeIncidence, CusumCase, CusumParams, FunnelClass,
    KaplanMeier, Observation, chi_squared_quantile, chi_squared_sf, classify, funnel_limits,
    learning_curve_cusum, logrank_test, poisson_rate_interval, quantiles, wilson_interval,
};
use proptest::prelude::*;

/// Whole-day times (ties are the rule in the registry) or continuous ones.
fn time() -> impl Strategy<Value = f64> {
    prop_oneof![(0u32..60).prop_map(f64::from), 0.0..400.0f64]
}

fn observations() -> impl Strategy<Value = Vec<Observation>> {
    prop::collection::vec(
        (time(), any::<bool>()).prop_map(|(time_days, event)| Observation { time_days, event }),
        1..120,
    )
}

fn competing() -> impl Strategy<Value = Vec<CompetingObservation>> {
    prop::collection::vec(
        (time(), 0u32..4)
            .prop_map(|(time_days, status)| CompetingObservation { time_days, status }),
        1..120,
    )
}

fn brackets(lo: Option<f64>, est: f64, hi: Option<f64>) -> bool {
    match (lo, hi) {
        (Some(lo), Some(hi)) => (0.0..=est).contains(&lo) && (est..=1.0).contains(&hi),
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    // No failure files: a failing case is printed, and kept in the test
    // source by hand if it is worth keeping.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn km_curve_is_a_valid_survival_curve(obs in observations()) {
        let km = KaplanMeier::fit(&obs).unwrap();
        let rows = km.rows();
        prop_assert_eq!(rows[0].at_risk, obs.len());
        let mut previous = 1.0;
        let mut rebuilt = 1.0;
        for (i, r) in rows.iter().enumerate() {
            prop_assert!(r.events + r.censored > 0);
            prop_assert!((0.0..=1.0).contains(&r.survival));
            prop_assert!(r.survival <= previous);
            previous = r.survival;
            // The curve can be rebuilt from its own rows.
            rebuilt *= 1.0 - r.events as f64 / r.at_risk as f64;
            prop_assert!((rebuilt - r.survival).abs() < 1e-12);
            prop_assert!(brackets(r.ci_lower, r.survival, r.ci_upper));
            prop_assert_eq!(r.ci_lower.is_none(), r.survival == 0.0 || r.survival == 1.0);
            let next = r.at_risk - r.events - r.censored;
            match rows.get(i + 1) {
                Some(n) => {
                    prop_assert_eq!(n.at_risk, next);
                    prop_assert!(n.t_days > r.t_days);
                }
                None => prop_assert_eq!(next, 0),
            }
        }
    }

    #[test]
    fn km_estimates_agree_with_rows(obs in observations(), t in time()) {
        let km = KaplanMeier::fit(&obs).unwrap();
        let e = km.estimate_at(t).unwrap();
        // At risk at the start of t: time ≥ t (DOMAIN.md §7).
        let from_t = obs.iter().filter(|o| o.time_days >= t).count();
        prop_assert_eq!(e.at_risk, from_t);
        let events = obs.iter().filter(|o| o.event && o.time_days <= t).count();
        prop_assert_eq!(e.cumulative_events, events);
        let censored = obs.iter().filter(|o| !o.event && o.time_days <= t).count();
        prop_assert_eq!(e.cumulative_censored, censored);
        let exactly_at_t = obs.iter().filter(|o| o.time_days == t).count();
        prop_assert_eq!(
            e.at_risk + e.cumulative_events + e.cumulative_censored,
            obs.len() + exactly_at_t
        );
        if let Some(m) = km.median() {
            prop_assert!(km.estimate_at(m).unwrap().survival <= 0.5 + 1e-12);
        }
    }

    #[test]
    fn cif_estimates_count_at_risk_from_the_start_of_t(obs in competing(), t in time()) {
        let cif = CumulativeIncidence::fit(&obs, 1).unwrap();
        let e = cif.estimate_at(t).unwrap();
        prop_assert_eq!(e.at_risk, obs.iter().filter(|o| o.time_days >= t).count());
        let up_to_t = |f: &dyn Fn(u32) -> bool| {
            obs.iter().filter(|o| o.time_days <= t && f(o.status)).count()
        };
        prop_assert_eq!(e.cumulative_events, up_to_t(&|s| s == 1));
        prop_assert_eq!(e.cumulative_competing_events, up_to_t(&|s| s > 1));
        prop_assert_eq!(e.cumulative_censored, up_to_t(&|s| s == 0));
    }

    #[test]
    fn incidences_and_survival_sum_to_one(obs in competing()) {
        let km = KaplanMeier::fit(
            &obs.iter()
                .map(|o| Observation { time_days: o.time_days, event: o.status > 0 })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let curves: Vec<_> = (1..=3).map(|k| CumulativeIncidence::fit(&obs, k).unwrap()).collect();
        for (j, row) in km.rows().iter().enumerate() {
            let total: f64 = curves.iter().map(|c| c.rows()[j].cumulative_incidence).sum();
            prop_assert!((total + row.survival - 1.0).abs() < 1e-12,
                "t={}: Σ CIF = {total}, S = {}", row.t_days, row.survival);
        }
        for c in &curves {
            let mut previous = 0.0;
            for (i, r) in c.rows().iter().enumerate() {
                prop_assert!(r.cumulative_incidence >= previous);
                previous = r.cumulative_incidence;
                prop_assert!(brackets(r.ci_lower, r.cumulative_incidence, r.ci_upper));
                let next = r.at_risk - r.events - r.competing_events - r.censored;
                match c.rows().get(i + 1) {
                    Some(n) => prop_assert_eq!(n.at_risk, next),
                    None => prop_assert_eq!(next, 0),
                }
            }
        }
    }

    #[test]
    fn wilson_contains_the_proportion((k, n) in (1u64..2_000_000).prop_flat_map(|n| (0..=n, Just(n)))) {
        let p = wilson_interval(k, n).unwrap().unwrap();
        prop_assert!(0.0 <= p.ci_lower && p.ci_lower <= p.estimate);
        prop_assert!(p.estimate <= p.ci_upper && p.ci_upper <= 1.0);
    }

    #[test]
    fn poisson_interval_contains_and_grows(k in 0u64..5000, t in 0.01..1e5f64) {
        let r = poisson_rate_interval(k, t).unwrap().unwrap();
        prop_assert!(r.ci_lower <= r.rate && r.rate <= r.ci_upper);
        let next = poisson_rate_interval(k + 1, t).unwrap().unwrap();
        prop_assert!(next.ci_lower > r.ci_lower || k == 0);
        prop_assert!(next.ci_upper > r.ci_upper);
    }

    #[test]
    fn chi_squared_quantile_inverts_the_tail(p in 1e-9..(1.0 - 1e-9), df in 0.2..300.0f64) {
        let x = chi_squared_quantile(p, df).unwrap();
        let back = chi_squared_sf(x, df).unwrap();
        prop_assert!((back - (1.0 - p)).abs() < 1e-12 + 1e-10 * (1.0 - p));
    }

    #[test]
    fn funnel_is_ordered_and_classes_are_monotone(theta in 0.0..=1.0f64, n in 1u64..400) {
        let l = funnel_limits(theta, n).unwrap();
        prop_assert!(0.0 <= l.lower_998 && l.lower_998 <= l.lower_95 && l.lower_95 <= l.upper_95);
        prop_assert!(l.upper_95 <= l.upper_998 && l.upper_998 <= 1.0);
        let rank = |c: FunnelClass| match c {
            FunnelClass::Within => 0,
            FunnelClass::Alert => 1,
            FunnelClass::Alarm => 2,
        };
        let mut previous_high = 0;
        let mut previous_low = 2;
        for k in 0..=n {
            let high = rank(classify(k, n, theta, BadDirection::High).unwrap());
            let low = rank(classify(k, n, theta, BadDirection::Low).unwrap());
            prop_assert!(high >= previous_high && low <= previous_low);
            prop_assert!(high == 0 || low == 0);
            previous_high = high;
            previous_low = low;
        }
    }

    #[test]
    fn cusum_stays_between_zero_and_the_threshold(
        cases in prop::collection::vec((any::<bool>(), 0.0..=1.0f64), 0..200),
        threshold in 0.5..6.0f64,
    ) {
        let cases: Vec<CusumCase> = cases
            .into_iter()
            .map(|(failed, expected_probability)| CusumCase { failed, expected_probability })
            .collect();
        let params = CusumParams { odds_ratio: 2.0, threshold };
        let out = learning_curve_cusum(&cases, params).unwrap();
        let mut previous = 0.0;
        for (c, p) in cases.iter().zip(&out) {
            prop_assert!(p.x >= 0.0);
            prop_assert_eq!(p.signal, p.x >= threshold);
            prop_assert!((p.x - (previous + p.w).max(0.0)).abs() < 1e-12);
            // With R_A > 1 a failure pushes up and a success pulls down.
            let pushes_the_right_way = if c.failed { p.w >= 0.0 } else { p.w <= 0.0 };
            prop_assert!(pushes_the_right_way);
            previous = if p.signal { 0.0 } else { p.x };
        }
    }

    #[test]
    fn quantiles_are_monotone_and_inside_the_range(
        x in prop::collection::vec(-1e6..1e6f64, 1..100),
        mut q in prop::collection::vec(0.0..=1.0f64, 1..10),
    ) {
        q.sort_by(f64::total_cmp);
        let v = quantiles(&x, &q).unwrap().unwrap();
        let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for w in v.windows(2) {
            prop_assert!(w[0] <= w[1]);
        }
        prop_assert!(v.iter().all(|&y| lo <= y && y <= hi));
    }

    #[test]
    fn logrank_is_a_valid_test(a in observations(), b in observations(), c in observations()) {
        let test = logrank_test(&[a, b, c]).unwrap();
        prop_assert!(test.statistic > -1e-9);
        prop_assert!((0.0..=1.0).contains(&test.p_value));
        prop_assert_eq!(test.degrees_of_freedom, 2);
        let observed: usize = test.observed.iter().sum();
        let expected: f64 = test.expected.iter().sum();
        prop_assert!((observed as f64 - expected).abs() < 1e-9 * (1.0 + expected));
    }
}

/// A million whole-day observations give one row per distinct day, starting
/// with everyone at risk and ending with no one left.
#[test]
fn a_million_observation_kaplan_meier_is_consistent() {
    let mut state = 0x1234_5678_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let obs: Vec<Observation> = (0..1_000_000)
        .map(|_| {
            let r = next();
            Observation {
                time_days: (r % 3653) as f64,
                event: r >> 60 < 6,
            }
        })
        .collect();
    // Speed is measured by the benchmarks, not here; this checks the result
    // on a large input.
    let km = KaplanMeier::fit(&obs).unwrap();
    assert_eq!(km.rows()[0].at_risk, 1_000_000);
    assert!(km.rows().len() <= 3653);
    let last = km.rows().last().unwrap();
    assert_eq!(last.at_risk, last.events + last.censored);
}
