//! Every method against an independent implementation (lifelines,
//! scikit-survival, statsmodels, scipy, numpy) on data sets generated from a
//! fixed seed: ties, heavy censoring, a single subject, no events, all
//! events, events at time 0 and whole-day times are all included. All data
//! sets for a method go to one Python process (JSON in, JSON out).
//!
//! Point estimates must agree to 1e-9 and intervals to 1e-6; each test prints
//! the largest difference it saw (`cargo test -- --nocapture`).
//!
//! Python: `PDVA_ORACLE_PYTHON`, else `<workspace>/.venv-oracles/bin/python`
//! (`scripts/test` makes it). Without it the tests print SKIPPED, or fail when
//! `PDVA_REQUIRE_ORACLES=1`.

mod common;

use common::{MaxDiff, Rng, num, nums, run_oracle};
use pdva_stats::{
    BadDirection, CompetingCounts, CompetingObservation, CumulativeIncidence, CusumCase,
    CusumParams, FunnelClass, KaplanMeier, LogRankCounts, Observation, TimeCounts,
    chi_squared_quantile, chi_squared_sf, classify, funnel_limits, learning_curve_cusum,
    logrank_test, median, median_iqr, poisson_rate_interval, quantiles, rate_per_100_patient_years,
    wilson_interval,
};
use serde_json::{Value, json};

const POINT: f64 = 1e-9;
const INTERVAL: f64 = 1e-6;

/// Survival-type data: times and a status (0 = censored, else a cause), in
/// one of several shapes chosen by `shape`.
fn survival_data(rng: &mut Rng, shape: u64, causes: u32) -> Vec<(f64, u32)> {
    let event = |rng: &mut Rng, censor: f64| -> u32 {
        if rng.chance(censor) {
            0
        } else {
            rng.range(1, causes as u64) as u32
        }
    };
    let censor = rng.uniform();
    match shape {
        // A single subject (event or not), or two or three.
        0 => (0..rng.range(1, 3))
            .map(|_| (rng.range(0, 4) as f64, event(rng, 0.5)))
            .collect(),
        // Whole days over a month: many ties.
        1 => (0..rng.range(5, 60))
            .map(|_| (rng.range(0, 30) as f64, event(rng, censor)))
            .collect(),
        // Continuous times, no ties.
        2 => (0..rng.range(5, 200))
            .map(|_| (rng.exponential(300.0), event(rng, 0.3)))
            .collect(),
        // Heavy censoring.
        3 => (0..rng.range(10, 120))
            .map(|_| (rng.range(0, 400) as f64, event(rng, 0.92)))
            .collect(),
        // No events at all.
        4 => (0..rng.range(1, 40))
            .map(|_| (rng.range(0, 100) as f64, 0))
            .collect(),
        // Every subject has an event.
        5 => (0..rng.range(1, 50))
            .map(|_| (rng.range(0, 60) as f64, event(rng, 0.0)))
            .collect(),
        // Many events (and censorings) at time 0.
        6 => (0..rng.range(2, 50))
            .map(|_| {
                let t = if rng.chance(0.4) {
                    0.0
                } else {
                    rng.range(0, 5) as f64
                };
                (t, event(rng, censor))
            })
            .collect(),
        // Registry-like: whole days up to five years, a few hundred patients.
        7 => (0..rng.range(100, 600))
            .map(|_| {
                let t = rng.exponential(700.0).min(2000.0).floor();
                (t, event(rng, 0.55))
            })
            .collect(),
        // Half-days, moderate ties.
        8 => (0..rng.range(3, 80))
            .map(|_| (rng.range(0, 40) as f64 / 2.0, event(rng, censor)))
            .collect(),
        // Tiny data sets, everything tied.
        _ => {
            let t = rng.range(0, 3) as f64;
            (0..rng.range(1, 6))
                .map(|_| (t, event(rng, censor)))
                .collect()
        }
    }
}

/// Times at which to read the curve: 0, the standard report times, each
/// distinct data time, half-way between times, and beyond the last.
fn query_times(data: &[(f64, u32)]) -> Vec<f64> {
    let mut times: Vec<f64> = data.iter().map(|d| d.0).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let mut q = vec![0.0, 30.0, 182.0, 365.0, 730.0, 1826.0];
    for w in times.windows(2).take(40) {
        q.push(w[0]);
        q.push(0.5 * (w[0] + w[1]));
    }
    if let Some(&last) = times.last() {
        q.push(last);
        q.push(last + 1.0);
    }
    q
}

/// The data's distinct times in order, each with its (time, status) pairs.
fn by_time(data: &[(f64, u32)]) -> Vec<(f64, Vec<u32>)> {
    let mut sorted = data.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, Vec<u32>)> = Vec::new();
    for (t, s) in sorted {
        match out.last_mut() {
            Some(last) if last.0 == t => last.1.push(s),
            _ => out.push((t, vec![s])),
        }
    }
    out
}

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
        (None, None) => {
            // Undefined here; the oracle reports a degenerate interval at the
            // estimate (or at 0 / 1).
            assert!(
                (theirs.0 - theirs.1).abs() < 1e-12
                    && ((theirs.0 - estimate).abs() < 1e-12 || theirs.0 == 0.0 || theirs.0 == 1.0),
                "{}: ours undefined, oracle ({}, {}) at {estimate}",
                what(),
                theirs.0,
                theirs.1
            );
        }
        _ => panic!("{}: half an interval", what()),
    }
}

#[test]
fn kaplan_meier_matches_lifelines() {
    let mut rng = Rng::new(0x5EED_0001);
    let mut sets: Vec<Vec<(f64, u32)>> = (0..400)
        .map(|i| survival_data(&mut rng, i % 10, 1))
        .collect();
    // One large registry-sized set.
    sets.push(
        (0..20_000)
            .map(|_| {
                let t = rng.exponential(900.0).min(3650.0).floor();
                (t, u32::from(rng.chance(0.4)))
            })
            .collect(),
    );
    let input = json!({ "datasets": sets.iter().map(|d| json!({
        "time": d.iter().map(|x| x.0).collect::<Vec<_>>(),
        "event": d.iter().map(|x| x.1 > 0).collect::<Vec<_>>(),
        "at": query_times(d),
    })).collect::<Vec<_>>() });
    let Some(out) = run_oracle("km.py", &input) else {
        return;
    };
    let (mut s_diff, mut ci_diff) = (MaxDiff::default(), MaxDiff::default());
    let mut median_float_ties = 0;
    for (i, (data, theirs)) in sets.iter().zip(out.as_array().unwrap()).enumerate() {
        let obs: Vec<Observation> = data
            .iter()
            .map(|&(t, s)| Observation {
                time_days: t,
                event: s > 0,
            })
            .collect();
        let km = KaplanMeier::fit(&obs).unwrap();
        // The curve from counts per time is the same curve, to the bit (so
        // it too equals the oracle's).
        let counts: Vec<TimeCounts> = by_time(data)
            .into_iter()
            .map(|(t, statuses)| {
                let mut c = TimeCounts::new(t);
                statuses.iter().for_each(|s| c.add(*s > 0));
                c
            })
            .collect();
        assert_eq!(
            KaplanMeier::from_counts(&counts).unwrap(),
            km,
            "set {i}: from counts"
        );
        let rows = theirs["rows"].as_array().unwrap();
        assert_eq!(km.rows().len(), rows.len(), "set {i}: number of rows");
        for (j, (ours, row)) in km.rows().iter().zip(rows).enumerate() {
            let r = row.as_array().unwrap();
            let what = || format!("set {i} row {j} (t={})", ours.t_days);
            assert_eq!(ours.t_days, num(&r[0]), "{}", what());
            let counts: Vec<usize> = r[1..4].iter().map(|v| num(v) as usize).collect();
            assert_eq!(
                vec![ours.at_risk, ours.events, ours.censored],
                counts,
                "{}: counts",
                what()
            );
            s_diff.check(ours.survival, num(&r[4]), POINT, &what);
            check_interval(
                &mut ci_diff,
                (ours.ci_lower, ours.ci_upper),
                (num(&r[5]), num(&r[6])),
                ours.survival,
                &what,
            );
        }
        // Median: lifelines takes the first time its floating-point S ≤ ½;
        // ours counts an S that is ½ up to rounding. They may differ only where
        // the exact rational S is exactly ½, and ours must equal the exact one.
        let exact = theirs["exact_median"].as_f64();
        assert_eq!(
            km.median(),
            exact,
            "set {i}: median vs exact rational median"
        );
        let lifelines_median = num(&theirs["median"]);
        let lifelines_median = lifelines_median.is_finite().then_some(lifelines_median);
        if km.median() != lifelines_median {
            median_float_ties += 1;
        }
        let times = nums(&input["datasets"][i]["at"]);
        let estimates = km.estimates_at(&times).unwrap();
        for (e, their) in estimates.iter().zip(theirs["at"].as_array().unwrap()) {
            let a = their.as_array().unwrap();
            let what = || format!("set {i} estimate at t={}", e.t_days);
            s_diff.check(e.survival, num(&a[0]), POINT, &what);
            check_interval(
                &mut ci_diff,
                (e.ci_lower, e.ci_upper),
                (num(&a[1]), num(&a[2])),
                e.survival,
                &what,
            );
            assert_eq!(
                (e.at_risk, e.cumulative_events, e.cumulative_censored),
                (
                    num(&a[3]) as usize,
                    num(&a[4]) as usize,
                    num(&a[5]) as usize
                ),
                "{}: at risk / events / censored",
                what()
            );
        }
    }
    eprintln!(
        "kaplan_meier: {} data sets vs lifelines; max |ΔS| = {:e}, max |ΔCI| = {:e}; \
         medians differing from lifelines only through a float S = ½ tie: {median_float_ties}",
        sets.len(),
        s_diff.0,
        ci_diff.0
    );
}

#[test]
fn cumulative_incidence_matches_scikit_survival() {
    let mut rng = Rng::new(0x5EED_0002);
    let sets: Vec<Vec<(f64, u32)>> = (0..300)
        .map(|i| {
            let causes = [1, 2, 2, 3][(i / 10) % 4] as u32;
            survival_data(&mut rng, i as u64 % 10, causes)
        })
        .collect();
    let max_cause = |d: &[(f64, u32)]| d.iter().map(|x| x.1).max().unwrap_or(0);
    let input = json!({ "datasets": sets.iter().map(|d| json!({
        "time": d.iter().map(|x| x.0).collect::<Vec<_>>(),
        "status": d.iter().map(|x| x.1).collect::<Vec<_>>(),
        // Every cause present, plus one that never occurs.
        "causes": (1..=max_cause(d) + 1).collect::<Vec<_>>(),
        "at": query_times(d),
    })).collect::<Vec<_>>() });
    let Some(out) = run_oracle("cif.py", &input) else {
        return;
    };
    let (mut f_diff, mut ci_diff) = (MaxDiff::default(), MaxDiff::default());
    let (mut curves, mut public_route) = (0, 0);
    for (i, (data, theirs)) in sets.iter().zip(out.as_array().unwrap()).enumerate() {
        let obs: Vec<CompetingObservation> = data
            .iter()
            .map(|&(time_days, status)| CompetingObservation { time_days, status })
            .collect();
        let times = nums(&input["datasets"][i]["at"]);
        for their in theirs.as_array().unwrap() {
            let cause = their["cause"].as_u64().unwrap() as u32;
            curves += 1;
            if their["route"] == "public" {
                public_route += 1;
            }
            let cif = CumulativeIncidence::fit(&obs, cause).unwrap();
            let counts: Vec<CompetingCounts> = by_time(data)
                .into_iter()
                .map(|(t, statuses)| {
                    let mut c = CompetingCounts::new(t);
                    statuses.iter().for_each(|s| c.add(*s, cause));
                    c
                })
                .collect();
            assert_eq!(
                CumulativeIncidence::from_counts(&counts, cause).unwrap(),
                cif,
                "set {i} cause {cause}: from counts"
            );
            let rows = their["rows"].as_array().unwrap();
            assert_eq!(cif.rows().len(), rows.len(), "set {i} cause {cause}: rows");
            for (j, (ours, row)) in cif.rows().iter().zip(rows).enumerate() {
                let r = row.as_array().unwrap();
                let what = || format!("set {i} cause {cause} row {j} (t={})", ours.t_days);
                assert_eq!(ours.t_days, num(&r[0]), "{}", what());
                let counts: Vec<usize> = r[1..5].iter().map(|v| num(v) as usize).collect();
                assert_eq!(
                    vec![
                        ours.at_risk,
                        ours.events,
                        ours.competing_events,
                        ours.censored
                    ],
                    counts,
                    "{}: counts",
                    what()
                );
                f_diff.check(ours.cumulative_incidence, num(&r[5]), POINT, &what);
                check_interval(
                    &mut ci_diff,
                    (ours.ci_lower, ours.ci_upper),
                    (num(&r[6]), num(&r[7])),
                    ours.cumulative_incidence,
                    &what,
                );
            }
            let estimates = cif.estimates_at(&times).unwrap();
            for (e, a) in estimates.iter().zip(their["at"].as_array().unwrap()) {
                let a = nums(a);
                let what = || format!("set {i} cause {cause} estimate at t={}", e.t_days);
                f_diff.check(e.cumulative_incidence, a[0], POINT, &what);
                check_interval(
                    &mut ci_diff,
                    (e.ci_lower, e.ci_upper),
                    (a[1], a[2]),
                    e.cumulative_incidence,
                    &what,
                );
                assert_eq!(
                    [
                        e.at_risk,
                        e.cumulative_events,
                        e.cumulative_competing_events,
                        e.cumulative_censored
                    ],
                    [a[3] as usize, a[4] as usize, a[5] as usize, a[6] as usize],
                    "{}: at risk / events / competing / censored",
                    what()
                );
            }
        }
    }
    eprintln!(
        "cumulative_incidence: {} data sets, {curves} cause curves ({public_route} through \
         sksurv's public function) vs scikit-survival; max |ΔF| = {:e}, max |ΔCI| = {:e}",
        sets.len(),
        f_diff.0,
        ci_diff.0
    );
}

#[test]
fn logrank_matches_lifelines() {
    let mut rng = Rng::new(0x5EED_0003);
    let mut sets: Vec<Vec<Vec<(f64, u32)>>> = Vec::new();
    for i in 0..300u64 {
        let k = rng.range(2, 6) as usize;
        let shape = i % 10;
        let mut groups: Vec<Vec<(f64, u32)>> = (0..k)
            .map(|g| {
                // Shift some groups so the hazards differ.
                let scale = 1.0 + g as f64 * rng.uniform();
                survival_data(&mut rng, shape, 1)
                    .into_iter()
                    .map(|(t, s)| ((t * scale).floor(), s))
                    .collect()
            })
            .collect();
        match i % 7 {
            // An empty group among them.
            0 if k > 2 => groups[1].clear(),
            // A group whose subjects are all censored before any event.
            1 => groups[0] = vec![(0.0, 0), (0.0, 0)],
            // Identical groups.
            2 => groups[1] = groups[0].clone(),
            // A single subject in a group.
            3 => groups[k - 1] = vec![(rng.range(0, 10) as f64, 1)],
            _ => {}
        }
        if groups.iter().filter(|g| !g.is_empty()).count() >= 2 {
            sets.push(groups);
        }
    }
    let input = json!({ "datasets": sets.iter().map(|groups| json!({
        "groups": groups.iter().map(|g| json!({
            "time": g.iter().map(|x| x.0).collect::<Vec<_>>(),
            "event": g.iter().map(|x| x.1 > 0).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    })).collect::<Vec<_>>() });
    let Some(out) = run_oracle("logrank.py", &input) else {
        return;
    };
    let (mut u_diff, mut p_diff) = (MaxDiff::default(), MaxDiff::default());
    let mut by_counts = 0;
    for (i, (raw, theirs)) in sets.iter().zip(out.as_array().unwrap()).enumerate() {
        let groups: Vec<Vec<Observation>> = raw
            .iter()
            .map(|g| {
                g.iter()
                    .map(|&(t, s)| Observation {
                        time_days: t,
                        event: s > 0,
                    })
                    .collect()
            })
            .collect();
        let test = logrank_test(&groups).unwrap();
        let t = nums(theirs);
        let what = || format!("set {i}");
        // Relative: with a near-empty group V is ill-conditioned and both
        // implementations agree to about 1e-10 of U there.
        u_diff.check(test.statistic, t[0], POINT * t[0].abs().max(1.0), &what);
        assert_eq!(test.degrees_of_freedom, t[1] as usize, "set {i}: df");
        p_diff.check(test.p_value, t[2], 1e-12 + 1e-8 * t[2], &what);
        let observed: usize = test.observed.iter().sum();
        let expected: f64 = test.expected.iter().sum();
        assert!((observed as f64 - expected).abs() < 1e-9 * (1.0 + expected));
        // The same test from counts per whole day (every set's times are
        // whole days), against the oracle too.
        let max_day = raw
            .iter()
            .flatten()
            .map(|x| x.0 as usize)
            .max()
            .unwrap_or(0);
        let mut counts = LogRankCounts::new(max_day + 1, raw.len());
        for (g, group) in raw.iter().enumerate() {
            for &(t, s) in group {
                assert_eq!(t, t.floor(), "set {i}: whole days");
                counts.add(t as usize, g, s > 0).unwrap();
            }
        }
        let from_counts = counts.test().unwrap();
        let what = || format!("set {i} from counts");
        u_diff.check(
            from_counts.statistic,
            t[0],
            POINT * t[0].abs().max(1.0),
            &what,
        );
        assert_eq!(from_counts.degrees_of_freedom, t[1] as usize, "{}", what());
        p_diff.check(from_counts.p_value, t[2], 1e-12 + 1e-8 * t[2], &what);
        assert_eq!(from_counts.observed, test.observed, "{}", what());
        by_counts += 1;
    }
    eprintln!(
        "logrank: {} data sets (2–6 groups; {by_counts} also from counts per day) vs lifelines; \
         max |ΔU| = {:e}, max |Δp| = {:e}",
        sets.len(),
        u_diff.0,
        p_diff.0
    );
}

#[test]
fn wilson_matches_statsmodels() {
    let mut rng = Rng::new(0x5EED_0004);
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for n in 1..=60 {
        for k in 0..=n {
            pairs.push((k, n));
        }
    }
    for _ in 0..300 {
        let n = rng.range(61, 1_000_000);
        let k = if rng.chance(0.2) {
            rng.range(0, 3)
        } else {
            rng.range(0, n)
        };
        pairs.push((k, n));
    }
    let input = json!({
        "k": pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
        "n": pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
    });
    let Some(out) = run_oracle("wilson.py", &input) else {
        return;
    };
    let mut diff = MaxDiff::default();
    for (&(k, n), their) in pairs.iter().zip(out.as_array().unwrap()) {
        let t = nums(their);
        let p = wilson_interval(k, n).unwrap().unwrap();
        let what = || format!("{k}/{n}");
        diff.check(p.ci_lower, t[0], INTERVAL, &what);
        diff.check(p.ci_upper, t[1], INTERVAL, &what);
    }
    eprintln!(
        "wilson: {} (k, n) pairs vs statsmodels; max |ΔCI| = {:e}",
        pairs.len(),
        diff.0
    );
}

#[test]
fn poisson_and_chi_squared_match_scipy() {
    let mut rng = Rng::new(0x5EED_0005);
    let mut poisson: Vec<(u64, f64)> = (0..=400).map(|k| (k, 0.5 + rng.uniform() * 50.0)).collect();
    for k in [1000, 5000, 20_000, 100_000] {
        poisson.push((k, 10.0 + rng.uniform() * 1e4));
    }
    let mut ppf: Vec<(f64, f64)> = Vec::new();
    let mut sf: Vec<(f64, f64)> = Vec::new();
    for _ in 0..400 {
        let df = if rng.chance(0.5) {
            rng.range(1, 60) as f64
        } else {
            0.5 + rng.uniform() * 500.0
        };
        let p = match rng.range(0, 3) {
            0 => [0.001, 0.025, 0.975, 0.999][rng.range(0, 3) as usize],
            1 => rng.uniform(),
            _ => 10f64.powf(-12.0 * rng.uniform()),
        };
        ppf.push((p, df));
        let x = rng.uniform() * 4.0 * df + if rng.chance(0.1) { 100.0 } else { 0.0 };
        sf.push((x, df));
    }
    let input = json!({ "poisson": poisson, "ppf": ppf, "sf": sf });
    let Some(out) = run_oracle("chi2.py", &input) else {
        return;
    };
    let mut diff = MaxDiff::default();
    for (&(k, t), their) in poisson.iter().zip(out["poisson"].as_array().unwrap()) {
        let th = nums(their);
        let r = poisson_rate_interval(k, t).unwrap().unwrap();
        let what = || format!("k={k} T={t}");
        diff.check(r.rate, th[0], POINT * th[0].max(1.0), &what);
        // Intervals to 1e-6 relative to their size (rates can be large).
        diff.check(r.ci_lower, th[1], INTERVAL * 1e-3 * th[1].max(1.0), &what);
        diff.check(r.ci_upper, th[2], INTERVAL * 1e-3 * th[2].max(1.0), &what);
        // The per-100-patient-year helper is the same interval, rescaled.
        let days = t * 365.25;
        let per100 = rate_per_100_patient_years(k, days).unwrap().unwrap();
        let scale = 100.0 / (days / 365.25);
        diff.check(
            per100.ci_upper,
            th[2] * t * scale,
            1e-9 * th[2] * t * scale,
            &what,
        );
    }
    let mut qdiff = MaxDiff::default();
    for (&(p, df), their) in ppf.iter().zip(out["ppf"].as_array().unwrap()) {
        let want = num(their);
        let got = chi_squared_quantile(p, df).unwrap();
        qdiff.check(got, want, 1e-10 * want.max(1e-300), &|| {
            format!("ppf({p}, {df})")
        });
    }
    for (&(x, df), their) in sf.iter().zip(out["sf"].as_array().unwrap()) {
        let want = num(their);
        let got = chi_squared_sf(x, df).unwrap();
        qdiff.check(got, want, 1e-13 + 1e-10 * want, &|| {
            format!("sf({x}, {df})")
        });
    }
    eprintln!(
        "poisson/chi2: {} Garwood intervals, {} quantiles, {} tails vs scipy; \
         max |Δ| interval = {:e}, max |Δ| chi2 = {:e}",
        poisson.len(),
        ppf.len(),
        sf.len(),
        diff.0,
        qdiff.0
    );
}

#[test]
fn funnel_limits_match_scipy_binom() {
    let mut rng = Rng::new(0x5EED_0006);
    let mut units: Vec<(f64, u64)> = Vec::new();
    for &theta in &[0.0, 1.0, 1e-6, 0.02, 0.5, 0.999] {
        for &n in &[1, 2, 3, 5, 10, 37, 100, 1000] {
            units.push((theta, n));
        }
    }
    for _ in 0..500 {
        let theta = if rng.chance(0.3) {
            rng.uniform() * 0.1
        } else {
            rng.uniform()
        };
        let n = if rng.chance(0.5) {
            rng.range(1, 60)
        } else {
            rng.range(61, 5000)
        };
        units.push((theta, n));
    }
    let ks = |theta: f64, n: u64, rng: &mut Rng| -> Vec<u64> {
        let mean = (theta * n as f64).round() as i64;
        let mut k: Vec<u64> = vec![0, n, rng.range(0, n)];
        // Around the mean and a few standard deviations out, where limits fall.
        let sd = (n as f64 * theta * (1.0 - theta)).sqrt().ceil() as i64 + 1;
        for off in [
            -4 * sd,
            -3 * sd,
            -2 * sd,
            -sd,
            0,
            sd,
            2 * sd,
            3 * sd,
            4 * sd,
        ] {
            for step in -1..=1 {
                k.push((mean + off + step).clamp(0, n as i64) as u64);
            }
        }
        k.sort_unstable();
        k.dedup();
        k
    };
    let with_k: Vec<(f64, u64, Vec<u64>)> = units
        .iter()
        .map(|&(theta, n)| (theta, n, ks(theta, n, &mut rng)))
        .collect();
    let input = json!({ "units": with_k.iter().map(|(theta, n, k)| json!({
        "theta": theta, "n": n, "k": k,
    })).collect::<Vec<_>>() });
    let Some(out) = run_oracle("funnel.py", &input) else {
        return;
    };
    assert_eq!(
        out["ppf_mismatches"], 0,
        "scipy binom.ppf disagreed with its cdf"
    );
    let mut diff = MaxDiff::default();
    let mut classified = 0;
    let parse = |v: &Value| match v.as_str().unwrap() {
        "within" => FunnelClass::Within,
        "alert" => FunnelClass::Alert,
        "alarm" => FunnelClass::Alarm,
        other => panic!("{other}"),
    };
    for ((theta, n, ks), their) in with_k.iter().zip(out["units"].as_array().unwrap()) {
        let l = funnel_limits(*theta, *n).unwrap();
        let t = nums(&their["limits"]);
        let what = || format!("theta={theta} n={n}");
        diff.check(l.lower_998, t[0], POINT, &what);
        diff.check(l.lower_95, t[1], POINT, &what);
        diff.check(l.upper_95, t[2], POINT, &what);
        diff.check(l.upper_998, t[3], POINT, &what);
        for (&k, c) in ks.iter().zip(their["classes"].as_array().unwrap()) {
            let c = c.as_array().unwrap();
            let low = classify(k, *n, *theta, BadDirection::Low).unwrap();
            let high = classify(k, *n, *theta, BadDirection::High).unwrap();
            assert_eq!(low, parse(&c[0]), "{} k={k} low bad", what());
            assert_eq!(high, parse(&c[1]), "{} k={k} high bad", what());
            classified += 2;
        }
    }
    eprintln!(
        "funnel: {} (θ, n) units, {classified} classifications vs scipy.stats.binom; \
         max |Δlimit| = {:e}",
        with_k.len(),
        diff.0
    );
}

#[test]
fn cusum_matches_the_formula_in_python() {
    let mut rng = Rng::new(0x5EED_0007);
    let charts: Vec<(CusumParams, Vec<CusumCase>)> = (0..120)
        .map(|i| {
            let params = CusumParams {
                odds_ratio: [2.0, 1.5, 3.0, 0.5][i % 4],
                threshold: [4.5, 1.0, 2.5][i % 3],
            };
            let len = rng.range(0, 300) as usize;
            let base = rng.uniform() * 0.4;
            let cases = (0..len)
                .map(|_| {
                    let p = match rng.range(0, 20) {
                        0 => 0.0,
                        1 => 1.0,
                        _ => (base + rng.uniform() * 0.2).min(1.0),
                    };
                    // Some operators fail more than expected, to make signals.
                    let failed = rng.chance((p * 2.5).min(1.0));
                    CusumCase {
                        failed,
                        expected_probability: p,
                    }
                })
                .collect();
            (params, cases)
        })
        .collect();
    let input = json!({ "charts": charts.iter().map(|(params, cases)| json!({
        "odds_ratio": params.odds_ratio,
        "threshold": params.threshold,
        "failed": cases.iter().map(|c| c.failed).collect::<Vec<_>>(),
        "p": cases.iter().map(|c| c.expected_probability).collect::<Vec<_>>(),
    })).collect::<Vec<_>>() });
    let Some(out) = run_oracle("cusum.py", &input) else {
        return;
    };
    let mut diff = MaxDiff::default();
    let (mut points, mut signals) = (0, 0);
    for (i, ((params, cases), their)) in charts.iter().zip(out.as_array().unwrap()).enumerate() {
        let ours = learning_curve_cusum(cases, *params).unwrap();
        let theirs = their.as_array().unwrap();
        assert_eq!(ours.len(), theirs.len());
        for (t, (o, th)) in ours.iter().zip(theirs).enumerate() {
            let th = th.as_array().unwrap();
            let what = || format!("chart {i} case {t}");
            diff.check(o.w, num(&th[0]), 1e-12, &what);
            diff.check(o.x, num(&th[1]), 1e-12, &what);
            assert_eq!(o.signal, th[2].as_bool().unwrap(), "{}", what());
            points += 1;
            signals += usize::from(o.signal);
        }
    }
    eprintln!(
        "cusum: {} charts, {points} cases, {signals} signals vs the formula in Python; \
         max |Δ| = {:e}",
        charts.len(),
        diff.0
    );
}

#[test]
fn quantiles_match_numpy() {
    let mut rng = Rng::new(0x5EED_0008);
    let samples: Vec<(Vec<f64>, Vec<f64>)> = (0..300)
        .map(|i| {
            let n = match i % 6 {
                0 => 0,
                1 => 1,
                2 => 2,
                _ => rng.range(3, 200) as usize,
            };
            let x = (0..n)
                .map(|_| match i % 3 {
                    0 => rng.range(0, 10) as f64,          // many ties
                    1 => (rng.uniform() - 0.5) * 1e3,      // signed, continuous
                    _ => (rng.range(0, 100) as f64) / 7.0, // QoL-like steps
                })
                .collect();
            let mut q = vec![0.0, 0.25, 0.5, 0.75, 1.0];
            for _ in 0..3 {
                q.push(rng.uniform());
            }
            (x, q)
        })
        .collect();
    let input = json!({ "samples": samples.iter().map(|(x, q)| json!({"x": x, "q": q})).collect::<Vec<_>>() });
    let Some(out) = run_oracle("quantile.py", &input) else {
        return;
    };
    let mut diff = MaxDiff::default();
    for (i, ((x, q), their)) in samples.iter().zip(out.as_array().unwrap()).enumerate() {
        let what = || format!("sample {i}");
        if their.is_null() {
            assert_eq!(quantiles(x, q).unwrap(), None);
            assert_eq!(median(x).unwrap(), None);
            continue;
        }
        let ours = quantiles(x, q).unwrap().unwrap();
        for (o, t) in ours.iter().zip(nums(&their["q"])) {
            diff.check(*o, t, POINT * t.abs().max(1.0), &what);
        }
        let m = median_iqr(x).unwrap().unwrap();
        diff.check(m.median, num(&their["median"]), POINT, &what);
        diff.check(m.q1, num(&their["q1"]), POINT, &what);
        diff.check(m.q3, num(&their["q3"]), POINT, &what);
    }
    eprintln!(
        "quantiles: {} samples vs numpy; max |Δ| = {:e}",
        samples.len(),
        diff.0
    );
}
