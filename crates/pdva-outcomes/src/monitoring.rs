//! Monitoring (DOMAIN.md 6.4–6.5): funnel-plot data per operator and site,
//! and learning-curve CUSUMs per operator from their first case.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use pdva_domain::RecordId;

use pdva_stats::{
    BadDirection, Cusum, CusumCase, CusumParams, FunnelClass, funnel_limits_and_class,
};

use crate::derive::{IndexLimb, ThirtyDayStatus};
use crate::error::Result;
use crate::report::{
    CusumPointView, Funnel, FunnelUnit, LearningCurve, LearningCurves, Monitoring,
};
use crate::{Interning, LEARNING_CURVE_POINTS, Names, ResolvedFilter};

/// An indicator: its name, definition, bad direction, and for each limb
/// `None` (not eligible) or whether it has the indicator.
struct Indicator {
    name: &'static str,
    definition: &'static str,
    bad: BadDirection,
    value: LimbOutcome,
}

const INDICATORS: [Indicator; 3] = [
    Indicator {
        name: "amputation_free_survival_6_months",
        definition: "alive without major amputation of the index limb at 182 days, of limbs whose 6-month status is known (an event by day 182, or known alive and free of major amputation on or after day 182)",
        bad: BadDirection::Low,
        value: |l| {
            let (t, event) = l.amputation_free_survival();
            if event && t <= 182 {
                Some(false)
            } else if t >= 182 {
                Some(true)
            } else {
                None
            }
        },
    },
    Indicator {
        name: "male_or_death_30_day",
        definition: "major amputation, major reintervention or death within 30 days, of index procedures whose 30-day window has passed by the report date and whose status at day 30 is known (the event or death by day 30, or a last known date on or after day 30)",
        bad: BadDirection::High,
        value: male_or_death_30_day,
    },
    Indicator {
        name: "unplanned_reintervention_1_year",
        definition: "an unplanned reintervention on the index limb within 365 days, of limbs followed for a year or whose follow-up for reintervention ended earlier by major amputation or death",
        bad: BadDirection::High,
        value: |l| {
            if l.first_unplanned_reintervention_day
                .is_some_and(|d| d <= 365)
            {
                Some(true)
            } else if l.followed_to(365) || l.major_amputation_day.is_some_and(|d| d <= 365) {
                Some(false)
            } else {
                None
            }
        },
    },
];

/// MALE or death within 30 days, where known as the 30-day proportions
/// count it (DOMAIN.md section 7): `None` while the window is open or the
/// status at day 30 is unknown.
fn male_or_death_30_day(l: &IndexLimb) -> Option<bool> {
    match l.thirty_day_status(l.male_or_death_30_day()) {
        ThirtyDayStatus::Event => Some(true),
        ThirtyDayStatus::EventFree => Some(false),
        ThirtyDayStatus::WindowOpen | ThirtyDayStatus::Unknown => None,
    }
}

fn direction(bad: BadDirection) -> &'static str {
    match bad {
        BadDirection::Low => "low",
        BadDirection::High => "high",
    }
}

/// Who a report's funnels compare each unit with, in words (the report's
/// own cohort: the whole registry when it has no site or operator filter).
pub(crate) fn compared_with(filter: &ResolvedFilter, as_of: NaiveDate) -> String {
    let period = match (filter.from, filter.to) {
        (None, None) => "index procedures of any date".to_owned(),
        (Some(f), None) => format!("index procedures from {f}"),
        (None, Some(t)) => format!("index procedures to {t}"),
        (Some(f), Some(t)) => format!("index procedures from {f} to {t}"),
    };
    let period = match &filter.device {
        Some(device) => format!("{period} with device system {device}"),
        None => period,
    };
    if filter.is_whole_registry() {
        return format!("the whole registry (every site and operator), {period}, as of {as_of}");
    }
    let mut only = Vec::new();
    if let Some(site) = &filter.site {
        only.push(format!("site {site}"));
    }
    if !filter.sites.is_empty() {
        only.push(format!("sites {}", filter.sites.join(", ")));
    }
    if let Some((_, name)) = &filter.operator {
        only.push(format!("operator {name}"));
    }
    format!(
        "this report's cohort only ({}), {period}, as of {as_of}: not the whole registry",
        only.join(", ")
    )
}

pub(crate) fn monitoring(
    limbs: &[IndexLimb],
    outcomes: Outcomes,
    interned: &Interning<'_>,
    names: &Names,
    compared_with: &str,
) -> Result<Monitoring> {
    // Each limb's operator and site as indices, so that counting a million
    // limbs per unit looks nothing up in a map.
    let (sites, operators) = (&interned.sites, &interned.operators.ids);
    let operator_of = &interned.operators.of;
    let mut funnels = Vec::new();
    for (x, indicator) in INDICATORS.iter().enumerate() {
        let (n, k) = outcomes.count(x);
        let theta = (n > 0).then(|| k as f64 / n as f64);
        for unit_type in ["operator", "site"] {
            // (n, k) per operator and per site, without a string per limb.
            let mut by_operator: Vec<(u64, u64)> = vec![(0, 0); operators.len()];
            let mut by_site: Vec<(u64, u64)> = vec![(0, 0); sites.values.len()];
            for ((o, site), op) in outcomes.0.iter().zip(&sites.of).zip(operator_of) {
                let Some(v) = Outcomes::get(*o, x) else {
                    continue;
                };
                let slot = if unit_type == "operator" {
                    &mut by_operator[*op as usize]
                } else {
                    &mut by_site[usize::from(*site)]
                };
                slot.0 += 1;
                slot.1 += u64::from(v);
            }
            let mut units: BTreeMap<String, (String, u64, u64)> = BTreeMap::new();
            for (id, (n_u, k_u)) in operators.iter().zip(by_operator) {
                if n_u > 0 {
                    units.insert(id.to_string(), (names.operator(*id), n_u, k_u));
                }
            }
            for (site, (n_u, k_u)) in sites.values.iter().zip(by_site) {
                if n_u > 0 {
                    units.insert((*site).to_owned(), (names.site(site), n_u, k_u));
                }
            }
            let mut unit_views = Vec::new();
            if let Some(theta) = theta {
                for (unit, (label, n_u, k_u)) in units {
                    let (limits, class) = funnel_limits_and_class(k_u, n_u, theta, indicator.bad)?;
                    unit_views.push(FunnelUnit {
                        unit,
                        label,
                        n: n_u,
                        k: k_u,
                        observed: k_u as f64 / n_u as f64,
                        lower_998: limits.lower_998,
                        lower_95: limits.lower_95,
                        upper_95: limits.upper_95,
                        upper_998: limits.upper_998,
                        alert: class != FunnelClass::Within,
                        alarm: class == FunnelClass::Alarm,
                    });
                }
            }
            funnels.push(Funnel {
                indicator: indicator.name.to_owned(),
                definition: indicator.definition.to_owned(),
                unit_type: unit_type.to_owned(),
                bad_direction: direction(indicator.bad).to_owned(),
                compared_with: compared_with.to_owned(),
                registry_mean: theta,
                n: n as u64,
                units: unit_views,
            });
        }
    }
    Ok(Monitoring {
        funnels,
        learning_curves: learning_curves(limbs, &outcomes, &interned.operators, names)?,
    })
}

/// A limb's outcome: `None` where it is not known (not eligible).
type LimbOutcome = fn(&IndexLimb) -> Option<bool>;

/// Every limb's value of each funnel indicator ([`INDICATORS`]) and each
/// learning-curve failure ([`FAILURES`]), two bits each (known, value),
/// read off the limbs in one pass.
pub(crate) struct Outcomes(Vec<u16>);

const _: () = assert!(2 * (INDICATORS.len() + FAILURES.len()) <= 16);

impl Outcomes {
    /// Room for `limbs` limbs' outcomes.
    pub(crate) fn with_capacity(limbs: usize) -> Self {
        Self(Vec::with_capacity(limbs))
    }

    /// Reads the next limb's outcomes.
    pub(crate) fn add(&mut self, l: &IndexLimb) {
        let values = INDICATORS
            .iter()
            .map(|i| i.value)
            .chain(FAILURES.iter().map(|f| f.1));
        self.0.push(values.enumerate().fold(0, |bits, (x, value)| {
            bits | match value(l) {
                None => 0,
                Some(v) => (0b10 | u16::from(v)) << (2 * x),
            }
        }));
    }

    /// Of outcome `x`: the limbs where it is known, and those where it is true.
    fn count(&self, x: usize) -> (usize, usize) {
        let (mut known, mut true_) = (0, 0);
        for &bits in &self.0 {
            if let Some(v) = Self::get(bits, x) {
                known += 1;
                true_ += usize::from(v);
            }
        }
        (known, true_)
    }

    /// Outcome `x` of a limb's bits: `None` where not known.
    fn get(bits: u16, x: usize) -> Option<bool> {
        let b = bits >> (2 * x);
        (b & 0b10 != 0).then_some(b & 1 == 1)
    }
}

/// The learning curves' failures: for each limb `None` (not charted) or
/// whether the case failed.
const FAILURES: [(&str, LimbOutcome); 2] = [
    ("technical_failure", |l| Some(!l.technical_success)),
    ("male_or_death_30_day", male_or_death_30_day),
];

/// Each operator's cases as (procedure date, procedure id, limb index),
/// sorted. Procedure dates are whole days over a registry's few thousand
/// days, so each operator's cases are put in date order by counting
/// (stable: a day's cases stay in the limbs' order), and only the cases of
/// one day, a handful, are then sorted by procedure id. The result is the
/// full sort's.
fn cases_by_operator(
    limbs: &[IndexLimb],
    operators: &crate::Operators,
) -> Vec<Vec<(NaiveDate, RecordId, u32)>> {
    // Each operator's list made at its size, so that none is copied as it grows.
    let mut cases = vec![0usize; operators.ids.len()];
    for &op in &operators.of {
        cases[op as usize] += 1;
    }
    let mut by_operator: Vec<Vec<(NaiveDate, RecordId, u32)>> =
        cases.into_iter().map(Vec::with_capacity).collect();
    for (i, (l, &op)) in limbs.iter().zip(&operators.of).enumerate() {
        by_operator[op as usize].push((l.procedure_date, l.procedure_id, i as u32));
    }
    let mut start: Vec<u32> = Vec::new();
    let mut in_date_order = Vec::new();
    for cases in &mut by_operator {
        let day = |c: &(NaiveDate, RecordId, u32)| c.0.num_days_from_ce();
        let (Some(first), Some(last)) = (cases.iter().map(day).min(), cases.iter().map(day).max())
        else {
            continue;
        };
        let span = usize::try_from(i64::from(last) - i64::from(first)).expect("last ≥ first") + 1;
        if span > 4 * cases.len() + 100_000 {
            // Dates too far apart to count by day.
            cases.sort_unstable();
            continue;
        }
        // Where each day's cases start in date order.
        start.clear();
        start.resize(span + 1, 0);
        for c in cases.iter() {
            start[(day(c) - first) as usize + 1] += 1;
        }
        for d in 0..span {
            start[d + 1] += start[d];
        }
        // Into a buffer passed from one operator to the next, rather than a
        // fresh one each: fresh memory costs more than the counting.
        in_date_order.clear();
        in_date_order.resize(cases.len(), cases[0]);
        for c in cases.iter() {
            let slot = &mut start[(day(c) - first) as usize];
            in_date_order[*slot as usize] = *c;
            *slot += 1;
        }
        for same_day in in_date_order.chunk_by_mut(|a, b| a.0 == b.0) {
            if same_day.len() > 1 {
                same_day.sort_unstable();
            }
        }
        std::mem::swap(cases, &mut in_date_order);
    }
    by_operator
}

fn learning_curves(
    limbs: &[IndexLimb],
    outcomes: &Outcomes,
    operators: &crate::Operators,
    names: &Names,
) -> Result<LearningCurves> {
    let params = CusumParams::default();
    // Cases per operator in date order (then by procedure id, then in the
    // limbs' order, for a stable order); operators in id order. Each case
    // is sorted as a small (date, id, limb) key, not through the limb.
    let by_operator = cases_by_operator(limbs, operators);
    let mut in_id_order: Vec<usize> = (0..operators.ids.len()).collect();
    in_id_order.sort_unstable_by_key(|&o| operators.ids[o]);
    let mut charts = Vec::new();
    for (f, (name, _)) in FAILURES.iter().enumerate() {
        let x = INDICATORS.len() + f;
        let fail = |i: u32| Outcomes::get(outcomes.0[i as usize], x);
        let (n, failed) = outcomes.count(x);
        if n == 0 {
            continue;
        }
        let p = failed as f64 / n as f64;
        for &o in &in_id_order {
            // The chart is run case by case: only its first points are
            // shown, so the rest are read (signals, highest X) and dropped.
            let mut chart = Cusum::new(params)?;
            let (mut cases, mut signal_at_cases, mut max_x) = (0u64, Vec::new(), 0.0);
            let mut points = Vec::new();
            for &(date, _, i) in &by_operator[o] {
                let Some(failed) = fail(i) else {
                    continue;
                };
                let point = chart.step(CusumCase {
                    failed,
                    expected_probability: p,
                })?;
                cases += 1;
                if point.signal {
                    signal_at_cases.push(cases);
                }
                max_x = f64::max(max_x, point.x);
                if points.len() < LEARNING_CURVE_POINTS {
                    points.push(CusumPointView {
                        procedure_date: date.to_string(),
                        failed,
                        w: point.w,
                        x: point.x,
                        signal: point.signal,
                    });
                }
            }
            if cases == 0 {
                continue;
            }
            let operator = operators.ids[o];
            charts.push(LearningCurve {
                indicator: (*name).to_owned(),
                operator: operator.to_string(),
                label: names.operator(operator),
                expected_probability: p,
                cases,
                signals: signal_at_cases.len() as u64,
                signal_at_cases,
                max_x,
                points_truncated: cases > LEARNING_CURVE_POINTS as u64,
                points,
            });
        }
    }
    Ok(LearningCurves {
        method: "Steiner's CUSUM from each operator's first case in the report, cases in procedure-date order; expected failure probability p = the cohort's rate (until a risk model exists); W = log(R_A / (1 − p + R_A·p)) on failure, log(1 / (1 − p + R_A·p)) otherwise; X = max(0, X + W); signal at X ≥ h, then restart from 0".into(),
        odds_ratio: params.odds_ratio,
        threshold: params.threshold,
        charts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ReportRequest, report_from_limbs};

    /// DOMAIN.md 6.4 worked here apart from `pdva-stats`: with F the
    /// Binomial(n, θ) distribution function (summed from the probabilities,
    /// each from the last by the ratio of successive terms, in log space so
    /// that a large n does not underflow), r_p the smallest r with
    /// F(r) ≥ p, α = (F(r_p) − p) / (F(r_p) − F(r_p − 1)), the limit is
    /// max(0, r_p − α) / n (a proportion, floored at 0 as pdva-stats
    /// documents).
    fn independent_limit(n: u64, theta: f64, p: f64) -> f64 {
        let odds = (theta / (1.0 - theta)).ln();
        let mut ln_pmf = n as f64 * (1.0 - theta).ln();
        let mut below = 0.0;
        for r in 0..=n {
            if r > 0 {
                ln_pmf += ((n - r + 1) as f64 / r as f64).ln() + odds;
            }
            let at = below + ln_pmf.exp();
            if at >= p {
                return (r as f64 - (at - p) / (at - below)).max(0.0) / n as f64;
            }
            below = at;
        }
        1.0
    }

    /// 6-month amputation-free survival as the indicator's definition
    /// states it, read off the limbs again here: alive without major
    /// amputation at day 182 (`Some(true)`), an event by day 182
    /// (`Some(false)`), otherwise not eligible.
    fn afs_6_months(l: &IndexLimb) -> Option<bool> {
        let (t, event) = l.amputation_free_survival();
        match (event, t) {
            (true, t) if t <= 182 => Some(false),
            (_, t) if t >= 182 => Some(true),
            _ => None,
        }
    }

    /// Issue 17: a site's report compared the site with itself and its
    /// operators with the site. Once its funnels are the registry's, each
    /// unit's mean and limits are those of the whole registry, worked out
    /// here from the limbs.
    #[test]
    fn a_sites_funnels_compare_its_site_and_operators_with_the_whole_registry() {
        let as_of = NaiveDate::from_ymd_opt(2026, 6, 30).expect("a date");
        let limbs = crate::tests::synthetic_limbs_of(3000, 3);
        let reference = pdva_synth::Generator::new(pdva_synth::GeneratorConfig {
            patients: 3000,
            seed: 3,
            today: as_of,
        })
        .reference_data();
        let site = limbs[0].site.to_string();
        let operator = limbs[0].operator;
        let request = |filter: ResolvedFilter| ReportRequest {
            as_of,
            filter,
            data_version: "t".into(),
        };
        let site_filter = ResolvedFilter {
            site: Some(site.clone()),
            ..ResolvedFilter::default()
        };
        assert_eq!(site_filter.comparison(), ResolvedFilter::default());
        let registry =
            report_from_limbs(&limbs, &reference, &request(ResolvedFilter::default())).unwrap();
        let site_limbs: Vec<IndexLimb> =
            limbs.iter().filter(|l| *l.site == *site).cloned().collect();
        let mut site_report =
            report_from_limbs(&site_limbs, &reference, &request(site_filter)).unwrap();
        let afs = |r: &crate::OutcomesReport, unit_type: &str| {
            r.monitoring
                .funnels
                .iter()
                .find(|f| {
                    f.indicator == "amputation_free_survival_6_months" && f.unit_type == unit_type
                })
                .cloned()
                .expect("an AFS funnel")
        };
        // Alone, the site's report says it compares with its own cohort.
        assert!(
            afs(&site_report, "site")
                .compared_with
                .contains("cohort only (site")
        );
        site_report.compare_funnels_with(&registry);

        let eligible: Vec<(&IndexLimb, bool)> = limbs
            .iter()
            .filter_map(|l| Some((l, afs_6_months(l)?)))
            .collect();
        let n = eligible.len() as u64;
        let k = eligible.iter().filter(|(_, v)| *v).count() as u64;
        let theta = k as f64 / n as f64;
        for (unit_type, unit, of_unit) in [
            (
                "site",
                site.clone(),
                Box::new(|l: &IndexLimb| *l.site == *site) as Box<dyn Fn(&IndexLimb) -> bool>,
            ),
            (
                "operator",
                operator.to_string(),
                Box::new(move |l: &IndexLimb| l.operator == operator)
                    as Box<dyn Fn(&IndexLimb) -> bool>,
            ),
        ] {
            let funnel = afs(&site_report, unit_type);
            assert_eq!(funnel, afs(&registry, unit_type), "{unit_type}");
            assert!(
                funnel.compared_with.starts_with("the whole registry"),
                "{}",
                funnel.compared_with
            );
            assert_eq!(funnel.n, n);
            assert!((funnel.registry_mean.unwrap() - theta).abs() < 1e-12);
            let u = funnel
                .units
                .iter()
                .find(|u| u.unit == unit)
                .expect("the unit");
            let n_u = eligible.iter().filter(|(l, _)| of_unit(l)).count() as u64;
            let k_u = eligible.iter().filter(|(l, v)| *v && of_unit(l)).count() as u64;
            assert_eq!((u.n, u.k), (n_u, k_u), "{unit_type} {unit}");
            assert!(n_u < n, "the {unit_type} is not the whole registry");
            for (got, p) in [
                (u.lower_998, 0.001),
                (u.lower_95, 0.025),
                (u.upper_95, 0.975),
                (u.upper_998, 0.999),
            ] {
                let want = independent_limit(n_u, theta, p);
                assert!(
                    (got - want).abs() < 1e-9,
                    "{unit_type} {unit} p = {p}: {got} against {want}"
                );
            }
        }
    }

    #[test]
    fn cases_by_operator_equal_a_full_sort() {
        let limbs = crate::tests::synthetic_limbs_of(3000, 3);
        let mut interning = crate::InterningBuilder::with_capacity(limbs.len());
        for l in &limbs {
            interning.add(l);
        }
        let operators = interning.finish().operators;
        let mut want: Vec<Vec<(NaiveDate, RecordId, u32)>> = vec![Vec::new(); operators.ids.len()];
        for (i, (l, &op)) in limbs.iter().zip(&operators.of).enumerate() {
            want[op as usize].push((l.procedure_date, l.procedure_id, i as u32));
        }
        for cases in &mut want {
            cases.sort_unstable();
        }
        let got = cases_by_operator(&limbs, &operators);
        assert_eq!(got, want);
        // The ties the counting leaves to the small sorts do occur.
        assert!(
            got.iter()
                .any(|cases| cases.windows(2).any(|w| w[0].0 == w[1].0)),
            "no operator has two cases on one day"
        );
    }
}
