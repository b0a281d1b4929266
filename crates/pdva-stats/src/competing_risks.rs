//! Aalen–Johansen cumulative incidence for one cause among competing risks
//! (DOMAIN.md §8), with Aalen's variance (Pintilie 2006, eq. 4.5) and a 95%
//! log(−log) interval, matching scikit-survival's
//! `cumulative_incidence_competing_risks(event, time, conf_type="log-log",
//! var_type="Aalen")`.
//!
//! Why not 1 − Kaplan–Meier with the competing events censored: that treats
//! patients who died as if they could still lose the limb later, and so
//! overstates the risk; the cumulative incidence does not.
//!
//! Cost: one O(n log n) sort, then one linear pass. scikit-survival evaluates
//! the variance as an O(m²) double sum over the m distinct times; here the
//! same sums are carried forward in O(1) per time (see `AalenVariance`).

use serde::{Deserialize, Serialize};

use crate::distributions::Z_95;
use crate::error::{Result, StatsError, check_non_negative, check_time_counts};

/// One subject's follow-up with the cause of the first event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompetingObservation {
    /// Days from time zero to the first event or to censoring.
    pub time_days: f64,
    /// 0 = censored at `time_days`; 1, 2, … = the cause of the event.
    pub status: u32,
}

/// What happens at one time, for one cause of interest: the input of
/// [`CumulativeIncidence::from_counts`], for data whose times are few and
/// known in order (whole days, say).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompetingCounts {
    /// The time (days).
    pub t_days: f64,
    /// Events of the cause of interest at `t_days`.
    pub events: usize,
    /// Events of any other cause at `t_days`.
    pub competing_events: usize,
    /// Censorings at `t_days`.
    pub censored: usize,
}

impl CompetingCounts {
    /// Nothing yet at `t_days`.
    pub fn new(t_days: f64) -> Self {
        Self {
            t_days,
            events: 0,
            competing_events: 0,
            censored: 0,
        }
    }

    /// One more subject at this time with `status` (0 = censored), counted
    /// as an event if `status` is `cause`, else as a competing event.
    pub fn add(&mut self, status: u32, cause: u32) {
        match status {
            0 => self.censored += 1,
            s if s == cause => self.events += 1,
            _ => self.competing_events += 1,
        }
    }
}

/// One step of the cumulative incidence curve of the chosen cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CifRow {
    /// The time (days) of this row; rows are strictly increasing in time.
    pub t_days: f64,
    /// Subjects at risk just before `t_days` (time ≥ `t_days`).
    pub at_risk: usize,
    /// Events of the chosen cause at `t_days`.
    pub events: usize,
    /// Events of any other cause at `t_days`.
    pub competing_events: usize,
    /// Censorings at `t_days`.
    pub censored: usize,
    /// Cumulative incidence of the chosen cause at `t_days` (inclusive).
    pub cumulative_incidence: f64,
    /// Lower 95% limit; `None` where undefined (incidence 0 or 1, or zero variance).
    pub ci_lower: Option<f64>,
    /// Upper 95% limit; `None` where undefined (incidence 0 or 1, or zero variance).
    pub ci_upper: Option<f64>,
}

/// The cumulative incidence read off the curve at a chosen time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CifEstimate {
    /// The time asked for (days).
    pub t_days: f64,
    /// Cumulative incidence at `t` (events at exactly `t` count).
    pub cumulative_incidence: f64,
    /// Lower 95% limit, as on the row in force at `t`.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit, as on the row in force at `t`.
    pub ci_upper: Option<f64>,
    /// Number at risk at `t`: subjects still followed and free of any event
    /// at the start of `t`, i.e. whose time is **≥ `t`** (the same convention
    /// as [`KmEstimate::at_risk`](crate::KmEstimate::at_risk), DOMAIN.md §7).
    pub at_risk: usize,
    /// Events of the chosen cause at times ≤ `t`.
    pub cumulative_events: usize,
    /// Events of other causes at times ≤ `t`.
    pub cumulative_competing_events: usize,
    /// Censorings at times ≤ `t`.
    ///
    /// What holds: `at_risk` + the three cumulative counts = `n` + (everything
    /// that happens exactly at `t`); they add up to `n` only when nothing
    /// happens exactly at `t`.
    pub cumulative_censored: usize,
}

/// A fitted Aalen–Johansen cumulative incidence curve for one cause.
///
/// The curve is 0 before the first row and constant from each row's time
/// until the next; there is a row for every distinct time at which anything
/// happens (an event of any cause, or a censoring).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CumulativeIncidence {
    cause: u32,
    n: usize,
    rows: Vec<CifRow>,
    #[serde(skip)]
    cumulative: Vec<(usize, usize)>,
}

/// Running sums for Aalen's variance of the cumulative incidence F at the
/// current time j, over all times k ≤ j (scikit-survival's `_var_aalen`):
///
/// ```text
/// var(j) = Σₖ (F_j − F_k)² a_k  +  Σₖ b_k  −  2 Σₖ (F_j − F_k) c_k
/// a_k = d_k / ((n_k − 1)(n_k − d_k))
/// b_k = (n_k − d_ck) d_ck S(t_k−)² / ((n_k − 1) n_k²)
/// c_k = d_ck (n_k − d_ck) S(t_k−) / (n_k (n_k − d_k)(n_k − 1))
/// ```
///
/// with d all-cause events, d_c events of the cause, S the all-cause
/// Kaplan–Meier; a term whose denominator is 0 counts as 0. When F rises by
/// Δ, `Σ a_k (F − F_k)²` grows by `2Δ Σ a_k (F − F_k) + Δ² Σ a_k`: updating
/// these sums keeps each step O(1) and adds only non-negative terms, so the
/// sums lose nothing to cancellation.
#[derive(Debug, Default)]
struct AalenVariance {
    sum_a: f64,
    sum_a_gap: f64,
    sum_a_gap2: f64,
    sum_b: f64,
    sum_c: f64,
    sum_c_gap: f64,
}

impl AalenVariance {
    fn rise(&mut self, delta: f64) {
        self.sum_a_gap2 += 2.0 * delta * self.sum_a_gap + delta * delta * self.sum_a;
        self.sum_a_gap += delta * self.sum_a;
        self.sum_c_gap += delta * self.sum_c;
    }

    fn add_time(&mut self, n: f64, d: f64, dc: f64, s_before: f64) {
        let den_a = (n - 1.0) * (n - d);
        if den_a > 0.0 {
            self.sum_a += d / den_a;
        }
        let den_b = (n - 1.0) * n * n;
        if den_b > 0.0 {
            self.sum_b += (n - dc) * dc * s_before * s_before / den_b;
        }
        let den_c = n * (n - d) * (n - 1.0);
        if den_c > 0.0 {
            self.sum_c += dc * (n - dc) * s_before / den_c;
        }
    }

    fn variance(&self) -> f64 {
        self.sum_a_gap2 + self.sum_b - 2.0 * self.sum_c_gap
    }
}

/// The 95% log(−log) interval for a cumulative incidence `f` with variance
/// `var` (delta method: Var log(−log F) = var / (F log F)²), undefined —
/// exactly where scikit-survival returns a degenerate interval — when F is
/// within 2.2e-16 of 0 or 1 or the variance is not above 2.2e-16.
fn cif_interval(f: f64, var: f64) -> (Option<f64>, Option<f64>) {
    let eps = f64::EPSILON;
    if !(f > eps && var > eps && var.is_finite()) {
        return (None, None);
    }
    let log_f = f.ln();
    if log_f >= -eps {
        return (None, None);
    }
    let theta = var.sqrt() / f / log_f; // negative
    let lower = ((-Z_95 * theta).exp() * log_f).exp();
    let upper = ((Z_95 * theta).exp() * log_f).exp();
    (Some(lower), Some(upper))
}

impl CumulativeIncidence {
    /// Fits the cumulative incidence of `cause` (1, 2, …). A cause that never
    /// occurs gives a curve that stays at 0. Errors on an empty slice, cause 0
    /// or a time that is negative, NaN or infinite.
    pub fn fit(observations: &[CompetingObservation], cause: u32) -> Result<Self> {
        if cause == 0 {
            return Err(StatsError::InvalidCause);
        }
        if observations.is_empty() {
            return Err(StatsError::NoObservations);
        }
        let mut sorted: Vec<(f64, u32)> = Vec::with_capacity(observations.len());
        for o in observations {
            let t = check_non_negative("time_days", o.time_days)?;
            sorted.push((t + 0.0, o.status));
        }
        sorted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut counts: Vec<CompetingCounts> = Vec::new();
        for &(t, status) in &sorted {
            if counts.last().is_none_or(|c| c.t_days != t) {
                counts.push(CompetingCounts::new(t));
            }
            counts.last_mut().expect("pushed").add(status, cause);
        }
        Self::from_counts(&counts, cause)
    }

    /// Fits the cumulative incidence of `cause` from what happens at each
    /// time: the same curve as [`fit`](Self::fit) on the observations these
    /// counts describe, without sorting them (O(number of times)). `cause`
    /// only names the curve: the counts already say which events are of it.
    /// Times must be strictly increasing, non-negative and finite; times with
    /// nothing happening are skipped. Errors when there is no subject, or on
    /// cause 0.
    pub fn from_counts(counts: &[CompetingCounts], cause: u32) -> Result<Self> {
        if cause == 0 {
            return Err(StatsError::InvalidCause);
        }
        let n = check_time_counts(
            counts
                .iter()
                .map(|c| (c.t_days, c.events + c.competing_events + c.censored)),
        )?;
        let mut rows = Vec::new();
        let mut cumulative = Vec::new();
        let mut at_risk = n;
        let mut survival_before = 1.0_f64; // all-cause KM just before t
        let mut incidence = 0.0_f64;
        let mut variance = AalenVariance::default();
        let (mut total_events, mut total_competing) = (0, 0);
        for &CompetingCounts {
            t_days,
            events,
            competing_events: competing,
            censored,
        } in counts
        {
            if events + competing + censored == 0 {
                continue;
            }
            let nr = at_risk as f64;
            let d_all = (events + competing) as f64;
            let dc = events as f64;
            if events > 0 {
                let delta = survival_before * (dc / nr);
                variance.rise(delta);
                incidence += delta;
            }
            variance.add_time(nr, d_all, dc, survival_before);
            let (ci_lower, ci_upper) = cif_interval(incidence, variance.variance());
            rows.push(CifRow {
                // +0.0 so that −0.0 reads as 0.0, as in `fit`.
                t_days: t_days + 0.0,
                at_risk,
                events,
                competing_events: competing,
                censored,
                cumulative_incidence: incidence,
                ci_lower,
                ci_upper,
            });
            total_events += events;
            total_competing += competing;
            cumulative.push((total_events, total_competing));
            if events + competing > 0 {
                survival_before *= (nr - d_all) / nr;
            }
            at_risk -= events + competing + censored;
        }
        Ok(Self {
            cause,
            n,
            rows,
            cumulative,
        })
    }

    /// The cause this curve is for.
    pub fn cause(&self) -> u32 {
        self.cause
    }

    /// Number of subjects.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The step curve, one row per distinct time with anything happening.
    pub fn rows(&self) -> &[CifRow] {
        &self.rows
    }

    /// Cumulative incidence, 95% interval and counts at `t_days` (≥ 0); the
    /// number at risk counts time ≥ `t_days` (see [`CifEstimate::at_risk`]).
    pub fn estimate_at(&self, t_days: f64) -> Result<CifEstimate> {
        let t = check_non_negative("t_days", t_days)?;
        // Every time at which somebody leaves has a row, so those with time
        // ≥ t are the at-risk of the first row at or after t.
        let first_at_or_after = self.rows.partition_point(|r| r.t_days < t);
        let at_risk = self.rows.get(first_at_or_after).map_or(0, |r| r.at_risk);
        let idx = self.rows.partition_point(|r| r.t_days <= t);
        if idx == 0 {
            return Ok(CifEstimate {
                t_days: t,
                cumulative_incidence: 0.0,
                ci_lower: None,
                ci_upper: None,
                at_risk,
                cumulative_events: 0,
                cumulative_competing_events: 0,
                cumulative_censored: 0,
            });
        }
        let row = &self.rows[idx - 1];
        let remaining_after = row.at_risk - row.events - row.competing_events - row.censored;
        let (events, competing) = self.cumulative[idx - 1];
        Ok(CifEstimate {
            t_days: t,
            cumulative_incidence: row.cumulative_incidence,
            ci_lower: row.ci_lower,
            ci_upper: row.ci_upper,
            at_risk,
            cumulative_events: events,
            cumulative_competing_events: competing,
            cumulative_censored: self.n - remaining_after - events - competing,
        })
    }

    /// [`estimate_at`](Self::estimate_at) for each time in `times_days`.
    pub fn estimates_at(&self, times_days: &[f64]) -> Result<Vec<CifEstimate>> {
        times_days.iter().map(|&t| self.estimate_at(t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(data: &[(f64, u32)]) -> Vec<CompetingObservation> {
        data.iter()
            .map(|&(time_days, status)| CompetingObservation { time_days, status })
            .collect()
    }

    /// The O(m²) double sum exactly as scikit-survival writes it.
    fn naive_variance(rows: &[CifRow]) -> Vec<f64> {
        let mut s_before = Vec::new();
        let mut s = 1.0;
        for r in rows {
            s_before.push(s);
            let n = r.at_risk as f64;
            s *= (n - (r.events + r.competing_events) as f64) / n;
        }
        (0..rows.len())
            .map(|j| {
                let fj = rows[j].cumulative_incidence;
                let mut v = 0.0;
                for k in 0..=j {
                    let r = &rows[k];
                    let (n, d, dc) = (
                        r.at_risk as f64,
                        (r.events + r.competing_events) as f64,
                        r.events as f64,
                    );
                    let gap = fj - r.cumulative_incidence;
                    if (n - 1.0) * (n - d) > 0.0 {
                        v += gap * gap * d / ((n - 1.0) * (n - d));
                        v -= 2.0 * gap * dc * (n - dc) * s_before[k] / (n * (n - d) * (n - 1.0));
                    }
                    if n > 1.0 {
                        v += (n - dc) * dc * s_before[k] * s_before[k] / ((n - 1.0) * n * n);
                    }
                }
                v
            })
            .collect()
    }

    #[test]
    fn hand_checked_incidence() {
        // t=1 cause 1; t=2 cause 2; t=2 censored; t=3 cause 1; t=4 censored.
        let data = obs(&[(1.0, 1), (2.0, 2), (2.0, 0), (3.0, 1), (4.0, 0)]);
        let cif = CumulativeIncidence::fit(&data, 1).unwrap();
        let f: Vec<f64> = cif.rows().iter().map(|r| r.cumulative_incidence).collect();
        // F(1) = 1/5; S(1) = 4/5; at t=2 (n=4) a competing event: S(2) = 3/5;
        // at t=3 (n=2) F += S(3−)·1/2 = 3/10.
        assert_eq!(f.len(), 4);
        assert!((f[0] - 0.2).abs() < 1e-15);
        assert!((f[1] - 0.2).abs() < 1e-15);
        assert!((f[2] - 0.5).abs() < 1e-15);
        assert!((f[3] - 0.5).abs() < 1e-15);
        let row = &cif.rows()[1];
        assert_eq!(
            (row.at_risk, row.events, row.competing_events, row.censored),
            (4, 0, 1, 1)
        );
        let competing = CumulativeIncidence::fit(&data, 2).unwrap();
        assert!((competing.rows()[3].cumulative_incidence - 0.2).abs() < 1e-15);
        let absent = CumulativeIncidence::fit(&data, 7).unwrap();
        assert!(
            absent
                .rows()
                .iter()
                .all(|r| r.cumulative_incidence == 0.0 && r.ci_lower.is_none())
        );
    }

    #[test]
    fn running_variance_equals_double_sum() {
        let data = obs(&[
            (1.0, 1),
            (1.0, 2),
            (2.0, 0),
            (2.0, 1),
            (3.0, 1),
            (3.0, 1),
            (4.0, 2),
            (5.0, 0),
            (6.0, 1),
            (6.0, 0),
            (7.0, 2),
            (8.0, 1),
        ]);
        let cif = CumulativeIncidence::fit(&data, 1).unwrap();
        let naive = naive_variance(cif.rows());
        let mut var = AalenVariance::default();
        // Recompute with the running sums and compare.
        let mut s = 1.0;
        let mut f = 0.0;
        for (row, want) in cif.rows().iter().zip(naive) {
            let n = row.at_risk as f64;
            let d = (row.events + row.competing_events) as f64;
            let delta = s * row.events as f64 / n;
            var.rise(delta);
            f += delta;
            var.add_time(n, d, row.events as f64, s);
            s *= (n - d) / n;
            assert!((f - row.cumulative_incidence).abs() < 1e-15);
            assert!(
                (var.variance() - want).abs() < 1e-15,
                "{} vs {want}",
                var.variance()
            );
        }
    }

    #[test]
    fn estimate_at_reads_the_step() {
        let data = obs(&[(1.0, 1), (2.0, 2), (2.0, 0), (3.0, 1), (4.0, 0)]);
        let cif = CumulativeIncidence::fit(&data, 1).unwrap();
        let e = cif.estimate_at(2.5).unwrap();
        assert!((e.cumulative_incidence - 0.2).abs() < 1e-15);
        assert_eq!(
            (
                e.at_risk,
                e.cumulative_events,
                e.cumulative_competing_events,
                e.cumulative_censored
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(cif.estimate_at(0.5).unwrap().cumulative_incidence, 0.0);
        assert_eq!(cif.estimate_at(0.5).unwrap().at_risk, 5);
        // At t = 2 the competing event and the censoring of day 2 are still
        // at risk at its start, and already counted in the sums.
        let at2 = cif.estimate_at(2.0).unwrap();
        assert_eq!(
            (
                at2.at_risk,
                at2.cumulative_events,
                at2.cumulative_competing_events,
                at2.cumulative_censored
            ),
            (4, 1, 1, 1)
        );
    }

    #[test]
    fn rejects_bad_input() {
        let data = obs(&[(1.0, 1)]);
        assert_eq!(
            CumulativeIncidence::fit(&data, 0),
            Err(StatsError::InvalidCause)
        );
        assert_eq!(
            CumulativeIncidence::fit(&[], 1),
            Err(StatsError::NoObservations)
        );
        assert!(CumulativeIncidence::fit(&obs(&[(-2.0, 1)]), 1).is_err());
    }

    #[test]
    fn from_counts_equals_fit_and_checks_its_input() {
        let data = obs(&[(1.0, 1), (2.0, 2), (2.0, 0), (3.0, 1), (4.0, 0)]);
        let mut counts: Vec<CompetingCounts> =
            (0..=4).map(|t| CompetingCounts::new(t as f64)).collect();
        for o in &data {
            counts[o.time_days as usize].add(o.status, 1);
        }
        assert_eq!(
            CumulativeIncidence::from_counts(&counts, 1).unwrap(),
            CumulativeIncidence::fit(&data, 1).unwrap()
        );
        assert_eq!(
            CumulativeIncidence::from_counts(&counts, 0),
            Err(StatsError::InvalidCause)
        );
        counts.swap(0, 1);
        assert_eq!(
            CumulativeIncidence::from_counts(&counts, 1),
            Err(StatsError::UnorderedTimes { t_days: 0.0 })
        );
    }
}
