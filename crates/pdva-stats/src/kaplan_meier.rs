//! Kaplan–Meier survival with Greenwood variance and log(−log) 95% intervals
//! (DOMAIN.md §8), matching `lifelines.KaplanMeierFitter` with its defaults.
//!
//! Cost: one O(n log n) sort of the observations, then one linear pass; each
//! estimate at a time is a binary search over the rows.

use serde::{Deserialize, Serialize};

use crate::distributions::Z_95;
use crate::error::{Result, StatsError, check_non_negative, check_time_counts};

/// One subject's follow-up for a single endpoint: the time from the index
/// procedure (days, ≥ 0) to the event or to censoring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Days from time zero to the event or to censoring.
    pub time_days: f64,
    /// `true` if the event happened at `time_days`, `false` if censored then.
    pub event: bool,
}

impl Observation {
    /// An observed event at `time_days`.
    pub fn event(time_days: f64) -> Self {
        Self {
            time_days,
            event: true,
        }
    }

    /// A subject censored (event-free when last known) at `time_days`.
    pub fn censored(time_days: f64) -> Self {
        Self {
            time_days,
            event: false,
        }
    }
}

/// What happens at one time: the input of [`KaplanMeier::from_counts`],
/// for data whose times are few and known in order (whole days, say), so
/// that a curve over a million subjects needs no sort.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeCounts {
    /// The time (days).
    pub t_days: f64,
    /// Subjects with the event at `t_days`.
    pub events: usize,
    /// Subjects censored at `t_days`.
    pub censored: usize,
}

impl TimeCounts {
    /// Nothing yet at `t_days`.
    pub fn new(t_days: f64) -> Self {
        Self {
            t_days,
            events: 0,
            censored: 0,
        }
    }

    /// One more subject at this time, with the event or censored.
    pub fn add(&mut self, event: bool) {
        if event {
            self.events += 1;
        } else {
            self.censored += 1;
        }
    }
}

/// One step of the Kaplan–Meier curve: everything that happens at `t_days`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmRow {
    /// The time (days) of this row; rows are strictly increasing in time.
    pub t_days: f64,
    /// Subjects at risk just before `t_days` (time ≥ `t_days`).
    pub at_risk: usize,
    /// Events at `t_days`.
    pub events: usize,
    /// Censorings at `t_days` (counted as at risk for the events at `t_days`).
    pub censored: usize,
    /// S(t_days), including the events at `t_days`.
    pub survival: f64,
    /// Lower 95% limit (log(−log) scale); `None` where undefined (S = 0 or 1).
    pub ci_lower: Option<f64>,
    /// Upper 95% limit (log(−log) scale); `None` where undefined (S = 0 or 1).
    pub ci_upper: Option<f64>,
}

/// The survival estimate read off the curve at a chosen time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmEstimate {
    /// The time asked for (days).
    pub t_days: f64,
    /// S(t): the curve is right-continuous, so events at exactly `t` count.
    pub survival: f64,
    /// Lower 95% limit, as on the row in force at `t`.
    pub ci_lower: Option<f64>,
    /// Upper 95% limit, as on the row in force at `t`.
    pub ci_upper: Option<f64>,
    /// Number at risk at `t` (DOMAIN.md §7): subjects still followed and
    /// event-free at the start of `t`, i.e. whose time is **≥ `t`** — R's
    /// `summary(survfit, times = t)` and Stata's `sts list`. Subjects with an
    /// event or a censoring exactly at `t` are included. (lifelines'
    /// `add_at_risk_counts` default counts time > t instead.)
    pub at_risk: usize,
    /// Events at times ≤ `t`.
    pub cumulative_events: usize,
    /// Censorings at times ≤ `t`.
    ///
    /// What holds: `at_risk + cumulative_events + cumulative_censored = n +
    /// (events and censorings exactly at t)`, so the three add up to `n` only
    /// when nothing happens exactly at `t`; always, `at_risk` = `n` − (events
    /// and censorings at times < `t`).
    pub cumulative_censored: usize,
}

/// A Kaplan–Meier curve read at a few times, from
/// [`KaplanMeier::summary_from_counts`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmSummary {
    /// Number of subjects.
    pub n: usize,
    /// Number of events.
    pub events: usize,
    /// [`KaplanMeier::median`].
    pub median: Option<f64>,
    /// [`KaplanMeier::estimate_at`] each of the times asked for, in their order.
    pub estimates: Vec<KmEstimate>,
}

/// A fitted Kaplan–Meier curve.
///
/// The curve is 1 before the first row and is a step function, constant from
/// each row's time until the next; the rows hold every distinct time at which
/// an event or a censoring happens, so the curve and the risk table can be
/// rebuilt from them alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KaplanMeier {
    n: usize,
    rows: Vec<KmRow>,
    #[serde(skip)]
    cumulative_events: Vec<usize>,
}

/// `true` if `s` is, up to the rounding of a product of many ratios, at or
/// below ½. Why the slack: S = 0.5 exactly (say 9/10·8/9·…·5/6) can come out
/// as 0.5000000000000001 in floating point, and the median must not then
/// jump to the next event time. 1e-12 is far below any attainable S − ½ > 0
/// in registry-sized data.
pub(crate) fn at_or_below_half(s: f64) -> bool {
    s <= 0.5 * (1.0 + 1e-12)
}

/// The running product-limit state after each time: S(t), log S(t) (kept
/// apart for the interval, where S is tiny) and Greenwood's sum. One place
/// for the step, so that every way of reading a curve takes the same one.
#[derive(Debug, Clone, Copy)]
struct ProductLimit {
    survival: f64,
    log_survival: f64,
    greenwood: f64,
}

impl ProductLimit {
    /// Before any time: everyone alive, no variance.
    const START: Self = Self {
        survival: 1.0,
        log_survival: 0.0,
        greenwood: 0.0,
    };

    /// The step at a time with `events` among `at_risk` (events come before
    /// censorings at tied times, so all of `at_risk` are at risk).
    fn step(&mut self, events: usize, at_risk: usize) {
        if events == 0 {
            return;
        }
        if events < at_risk {
            let (nr, d) = (at_risk as f64, events as f64);
            self.survival *= (nr - d) / nr;
            self.log_survival += (-d / nr).ln_1p();
            self.greenwood += d / (nr * (nr - d));
        } else {
            // Everyone at risk has the event: S drops to 0 for good and the
            // variance (d / n(n − d)) is undefined from here on.
            self.survival = 0.0;
            self.log_survival = f64::NEG_INFINITY;
            self.greenwood = f64::INFINITY;
        }
    }

    /// The 95% log(−log) interval here.
    fn interval(&self) -> (Option<f64>, Option<f64>) {
        log_log_interval(self.survival, self.log_survival, self.greenwood)
    }
}

/// Log(−log) ("exponential Greenwood") interval for a probability `s` whose
/// log has variance `var_log` — lifelines' `_bounds`:
/// `exp(−exp(log(−log S) ∓ z·√V / log S))`.
pub(crate) fn log_log_interval(s: f64, log_s: f64, var_log: f64) -> (Option<f64>, Option<f64>) {
    if !(s > 0.0 && s < 1.0 && log_s < 0.0 && var_log > 0.0 && var_log.is_finite()) {
        return (None, None);
    }
    let c = Z_95 * var_log.sqrt() / log_s; // negative
    let lower = (log_s * (-c).exp()).exp();
    let upper = (log_s * c.exp()).exp();
    (Some(lower), Some(upper))
}

impl KaplanMeier {
    /// Fits the curve. Errors on an empty slice or a time that is negative,
    /// NaN or infinite.
    pub fn fit(observations: &[Observation]) -> Result<Self> {
        if observations.is_empty() {
            return Err(StatsError::NoObservations);
        }
        let mut sorted: Vec<(f64, bool)> = Vec::with_capacity(observations.len());
        for o in observations {
            let t = check_non_negative("time_days", o.time_days)?;
            // −0.0 passes the check; make it +0.0 so it ties with 0.0.
            sorted.push((t + 0.0, o.event));
        }
        sorted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut counts: Vec<TimeCounts> = Vec::new();
        for &(t, event) in &sorted {
            match counts.last_mut() {
                Some(c) if c.t_days == t => c.add(event),
                _ => {
                    let mut c = TimeCounts::new(t);
                    c.add(event);
                    counts.push(c);
                }
            }
        }
        Self::from_counts(&counts)
    }

    /// Fits the curve from what happens at each time: the same curve as
    /// [`fit`](Self::fit) on the observations these counts describe, without
    /// sorting them (O(number of times)). Times must be strictly increasing,
    /// non-negative and finite; times with neither events nor censorings
    /// are skipped. Errors when there is no subject at all.
    pub fn from_counts(counts: &[TimeCounts]) -> Result<Self> {
        let n = check_time_counts(counts.iter().map(|c| (c.t_days, c.events + c.censored)))?;
        let mut rows = Vec::new();
        let mut cumulative_events = Vec::new();
        let mut at_risk = n;
        let mut state = ProductLimit::START;
        let mut total_events = 0;
        for &TimeCounts {
            t_days,
            events,
            censored,
        } in counts
        {
            if events + censored == 0 {
                continue;
            }
            state.step(events, at_risk);
            total_events += events;
            let (ci_lower, ci_upper) = state.interval();
            rows.push(KmRow {
                // +0.0 so that −0.0 reads as 0.0, as in `fit`.
                t_days: t_days + 0.0,
                at_risk,
                events,
                censored,
                survival: state.survival,
                ci_lower,
                ci_upper,
            });
            cumulative_events.push(total_events);
            at_risk -= events + censored;
        }
        Ok(Self {
            n,
            rows,
            cumulative_events,
        })
    }

    /// What [`from_counts`](Self::from_counts) followed by
    /// [`estimate_at`](Self::estimate_at) each of `times_days`,
    /// [`median`](Self::median) and the sum of the rows' events give, to the
    /// bit, without building the rows: the 95% interval (three
    /// exponentials) is computed only where it is read. For a report that
    /// fits a curve per stratum and reads each at a few times. Errors as
    /// those do.
    pub fn summary_from_counts(
        counts: impl Iterator<Item = TimeCounts> + Clone,
        times_days: &[f64],
    ) -> Result<KmSummary> {
        let n = check_time_counts(counts.clone().map(|c| (c.t_days, c.events + c.censored)))?;
        let mut wanted: Vec<(f64, usize)> = Vec::with_capacity(times_days.len());
        for (i, &t) in times_days.iter().enumerate() {
            wanted.push((check_non_negative("t_days", t)?, i));
        }
        wanted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut estimates: Vec<Option<KmEstimate>> = vec![None; times_days.len()];
        let mut next = 0;
        let mut at_risk = n;
        let mut state = ProductLimit::START;
        let mut total_events = 0;
        let mut total_censored = 0;
        let mut median = None;
        let mut any_row = false;
        // The estimate at t: the state after the last row at or before t,
        // with the number at risk at the start of t (time ≥ t).
        let estimate = |t: f64, any_row: bool, state: ProductLimit, at_risk, events, censored| {
            let (ci_lower, ci_upper) = if any_row {
                state.interval()
            } else {
                (None, None)
            };
            KmEstimate {
                t_days: t,
                survival: state.survival,
                ci_lower,
                ci_upper,
                at_risk,
                cumulative_events: events,
                cumulative_censored: censored,
            }
        };
        for TimeCounts {
            t_days,
            events,
            censored,
        } in counts
        {
            if events + censored == 0 {
                continue;
            }
            let t_row = t_days + 0.0;
            // Times before this row: nothing happens between them and it.
            while next < wanted.len() && wanted[next].0 < t_row {
                let (t, i) = wanted[next];
                estimates[i] = Some(estimate(
                    t,
                    any_row,
                    state,
                    at_risk,
                    total_events,
                    total_censored,
                ));
                next += 1;
            }
            state.step(events, at_risk);
            total_events += events;
            total_censored += censored;
            if median.is_none() && at_or_below_half(state.survival) {
                median = Some(t_row);
            }
            any_row = true;
            // Times exactly at this row: its step counts, and so do its
            // subjects among those at risk.
            while next < wanted.len() && wanted[next].0 == t_row {
                let (t, i) = wanted[next];
                estimates[i] = Some(estimate(
                    t,
                    any_row,
                    state,
                    at_risk,
                    total_events,
                    total_censored,
                ));
                next += 1;
            }
            at_risk -= events + censored;
        }
        for &(t, i) in &wanted[next..] {
            estimates[i] = Some(estimate(
                t,
                any_row,
                state,
                at_risk,
                total_events,
                total_censored,
            ));
        }
        Ok(KmSummary {
            n,
            events: total_events,
            median,
            estimates: estimates
                .into_iter()
                .map(|e| e.expect("each time"))
                .collect(),
        })
    }

    /// Number of subjects.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The step curve, one row per distinct time with an event or censoring.
    pub fn rows(&self) -> &[KmRow] {
        &self.rows
    }

    /// Survival, 95% interval and risk-table counts at `t_days` (≥ 0); the
    /// number at risk counts time ≥ `t_days` (see [`KmEstimate::at_risk`]).
    pub fn estimate_at(&self, t_days: f64) -> Result<KmEstimate> {
        let t = check_non_negative("t_days", t_days)?;
        // Every time at which somebody leaves has a row, so those with time
        // ≥ t are the at-risk of the first row at or after t.
        let first_at_or_after = self.rows.partition_point(|r| r.t_days < t);
        let at_risk = self.rows.get(first_at_or_after).map_or(0, |r| r.at_risk);
        let idx = self.rows.partition_point(|r| r.t_days <= t);
        if idx == 0 {
            return Ok(KmEstimate {
                t_days: t,
                survival: 1.0,
                ci_lower: None,
                ci_upper: None,
                at_risk,
                cumulative_events: 0,
                cumulative_censored: 0,
            });
        }
        let row = &self.rows[idx - 1];
        let remaining_after = row.at_risk - row.events - row.censored;
        let cumulative_events = self.cumulative_events[idx - 1];
        Ok(KmEstimate {
            t_days: t,
            survival: row.survival,
            ci_lower: row.ci_lower,
            ci_upper: row.ci_upper,
            at_risk,
            cumulative_events,
            cumulative_censored: self.n - remaining_after - cumulative_events,
        })
    }

    /// [`estimate_at`](Self::estimate_at) for each time in `times_days`.
    pub fn estimates_at(&self, times_days: &[f64]) -> Result<Vec<KmEstimate>> {
        times_days.iter().map(|&t| self.estimate_at(t)).collect()
    }

    /// Median survival time, lifelines' definition: the first time at which
    /// S(t) ≤ 0.5; `None` if the curve never gets there.
    pub fn median(&self) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| at_or_below_half(r.survival))
            .map(|r| r.t_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(data: &[(f64, bool)]) -> Vec<Observation> {
        data.iter()
            .map(|&(time_days, event)| Observation { time_days, event })
            .collect()
    }

    #[test]
    fn hand_checked_curve_with_ties() {
        // Times 1, 2, 2 (event + censor), 3, 5 (censor), 5 (event).
        let km = KaplanMeier::fit(&obs(&[
            (1.0, true),
            (2.0, true),
            (2.0, false),
            (3.0, true),
            (5.0, false),
            (5.0, true),
        ]))
        .unwrap();
        let rows = km.rows();
        assert_eq!(rows.len(), 4);
        let expect = [
            (1.0, 6, 1, 0, 5.0 / 6.0),
            (2.0, 5, 1, 1, 5.0 / 6.0 * 4.0 / 5.0),
            (3.0, 3, 1, 0, 5.0 / 6.0 * 4.0 / 5.0 * 2.0 / 3.0),
            (5.0, 2, 1, 1, 5.0 / 6.0 * 4.0 / 5.0 * 2.0 / 3.0 * 1.0 / 2.0),
        ];
        for (row, (t, n, d, c, s)) in rows.iter().zip(expect) {
            assert_eq!(
                (row.t_days, row.at_risk, row.events, row.censored),
                (t, n, d, c)
            );
            assert!((row.survival - s).abs() < 1e-15);
        }
        // Greenwood at t = 1: V = 1/(6·5); S = 5/6.
        let s: f64 = 5.0 / 6.0;
        let v: f64 = 1.0 / 30.0;
        let c = Z_95 * v.sqrt() / s.ln();
        let lower = s.powf((-c).exp());
        let upper = s.powf(c.exp());
        assert!((rows[0].ci_lower.unwrap() - lower).abs() < 1e-14);
        assert!((rows[0].ci_upper.unwrap() - upper).abs() < 1e-14);
        // Median: S(2) = 2/3 > 0.5, S(3) = 4/9 ≤ 0.5 → 3.
        assert_eq!(km.median(), Some(3.0));
    }

    #[test]
    fn estimate_at_uses_right_continuity_and_at_risk_from_the_start_of_t() {
        let km = KaplanMeier::fit(&obs(&[
            (10.0, true),
            (20.0, false),
            (30.0, true),
            (30.0, false),
        ]))
        .unwrap();
        let before = km.estimate_at(5.0).unwrap();
        assert_eq!(before.survival, 1.0);
        assert_eq!(before.at_risk, 4);
        assert_eq!(before.ci_lower, None);
        // The event at 10 lowers S(10) but its subject is still at risk at
        // the start of day 10.
        let at10 = km.estimate_at(10.0).unwrap();
        assert_eq!(at10.survival, 0.75);
        assert_eq!((at10.at_risk, at10.cumulative_events), (4, 1));
        let at30 = km.estimate_at(30.0).unwrap();
        assert_eq!(
            (
                at30.at_risk,
                at30.cumulative_events,
                at30.cumulative_censored
            ),
            (2, 2, 2)
        );
        let at25 = km.estimate_at(25.0).unwrap();
        assert_eq!((at25.at_risk, at25.cumulative_censored), (2, 1));
        let after = km.estimate_at(1000.0).unwrap();
        assert_eq!(after.survival, 0.75 * 0.5);
        assert_eq!(
            (
                after.at_risk,
                after.cumulative_events,
                after.cumulative_censored
            ),
            (0, 2, 2)
        );
        assert!(km.estimate_at(-1.0).is_err());
    }

    #[test]
    fn exact_half_counts_as_median() {
        // 10 subjects, events one per day: S(5) = 5/10 exactly in theory.
        let data: Vec<_> = (1..=10).map(|t| Observation::event(t as f64)).collect();
        let km = KaplanMeier::fit(&data).unwrap();
        assert_eq!(km.median(), Some(5.0));
    }

    #[test]
    fn all_die_gives_zero_and_no_interval() {
        let km = KaplanMeier::fit(&obs(&[(0.0, true), (0.0, true)])).unwrap();
        let row = &km.rows()[0];
        assert_eq!(
            (row.survival, row.ci_lower, row.ci_upper),
            (0.0, None, None)
        );
        assert_eq!(km.median(), Some(0.0));
    }

    #[test]
    fn no_events_gives_one_and_no_median() {
        let km = KaplanMeier::fit(&obs(&[(3.0, false), (4.0, false)])).unwrap();
        assert!(
            km.rows()
                .iter()
                .all(|r| r.survival == 1.0 && r.ci_lower.is_none())
        );
        assert_eq!(km.median(), None);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(KaplanMeier::fit(&[]), Err(StatsError::NoObservations));
        assert!(KaplanMeier::fit(&[Observation::event(-1.0)]).is_err());
        assert!(KaplanMeier::fit(&[Observation::event(f64::NAN)]).is_err());
        assert!(KaplanMeier::fit(&[Observation::event(f64::INFINITY)]).is_err());
    }

    #[test]
    fn serializes_snake_case_with_null_intervals() {
        let km = KaplanMeier::fit(&[Observation::censored(1.0)]).unwrap();
        let json = serde_json::to_string(&km).unwrap();
        assert_eq!(
            json,
            r#"{"n":1,"rows":[{"t_days":1.0,"at_risk":1,"events":0,"censored":1,"survival":1.0,"ci_lower":null,"ci_upper":null}]}"#
        );
    }

    #[test]
    fn the_summary_is_the_curve_read_at_its_times() {
        let times = [0.0, 1.0, 2.5, 5.0, 30.0, 2.0];
        for data in [
            vec![
                (1.0, true),
                (2.0, true),
                (2.0, false),
                (3.0, true),
                (5.0, false),
                (5.0, true),
            ],
            vec![(0.0, true), (0.0, false), (4.0, true)],
            vec![(3.0, false)],
            vec![(1.0, true), (1.0, true)],
            (0..200).map(|i| (f64::from(i % 37), i % 3 != 0)).collect(),
        ] {
            let km = KaplanMeier::fit(&obs(&data)).unwrap();
            let mut counts: Vec<TimeCounts> =
                (0..40).map(|t| TimeCounts::new(f64::from(t))).collect();
            for &(t, e) in &data {
                counts[t as usize].add(e);
            }
            let summary = KaplanMeier::summary_from_counts(counts.iter().copied(), &times).unwrap();
            assert_eq!(summary.n, km.n());
            assert_eq!(
                summary.events,
                km.rows().iter().map(|r| r.events).sum::<usize>()
            );
            assert_eq!(summary.median, km.median());
            assert_eq!(summary.estimates, km.estimates_at(&times).unwrap());
        }
        assert_eq!(
            KaplanMeier::summary_from_counts(std::iter::empty(), &times),
            Err(StatsError::NoObservations)
        );
    }

    #[test]
    fn from_counts_skips_empty_times_and_checks_the_order() {
        let counts = [
            TimeCounts {
                t_days: 0.0,
                events: 0,
                censored: 0,
            },
            TimeCounts {
                t_days: 1.0,
                events: 1,
                censored: 1,
            },
            TimeCounts {
                t_days: 2.0,
                events: 1,
                censored: 0,
            },
        ];
        let km = KaplanMeier::from_counts(&counts).unwrap();
        let fitted = KaplanMeier::fit(&obs(&[(1.0, true), (1.0, false), (2.0, true)])).unwrap();
        assert_eq!(km, fitted);
        let mut unordered = counts;
        unordered.swap(1, 2);
        assert_eq!(
            KaplanMeier::from_counts(&unordered),
            Err(StatsError::UnorderedTimes { t_days: 1.0 })
        );
        assert_eq!(
            KaplanMeier::from_counts(&counts[..1]),
            Err(StatsError::NoObservations)
        );
    }
}
