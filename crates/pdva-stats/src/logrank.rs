//! The log-rank test for two or more groups, matching lifelines'
//! `logrank_test` (two groups) and `multivariate_logrank_test` (k groups).
//!
//! At each distinct event time with n at risk and d events, group j with n_j
//! at risk expects `E_j = n_j d / n` events; the hypergeometric covariance is
//! `V_jl = d (n − d) / (n² (n − 1)) · n_j (n δ_jl − n_l)` (0 when n = 1).
//! The statistic is `Z' V⁺ Z` over the first k − 1 non-empty groups, with
//! `Z = O − E` and V⁺ the Moore–Penrose inverse (numpy's `pinv`, relative
//! cut-off 1e-15), and is referred to χ² with k − 1 degrees of freedom,
//! k = the number of non-empty groups (as lifelines counts them, even when a
//! group has nobody at risk at any event time).
//!
//! Cost: one O(N log N) sort, O(k²) per distinct event time, and an O(k³)
//! eigen-decomposition. [`LogRankCounts`] computes the same test from counts
//! per time and group (whole days), without the sort.

use serde::Serialize;

use crate::distributions::chi_squared_sf;
use crate::error::{Result, StatsError, check_non_negative};
use crate::kaplan_meier::{Observation, TimeCounts};

/// The result of a log-rank test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRankTest {
    /// The chi-squared statistic Z' V⁺ Z.
    pub statistic: f64,
    /// Number of non-empty groups − 1.
    pub degrees_of_freedom: usize,
    /// P(χ²(df) > statistic).
    pub p_value: f64,
    /// Observed events per group, in the order the groups were given.
    pub observed: Vec<usize>,
    /// Expected events per group under the null hypothesis (same order);
    /// the observed and expected totals are equal.
    pub expected: Vec<f64>,
}

/// Log-rank test comparing the survival of `groups` (each a slice of
/// observations). Empty groups are allowed and take no part (observed and
/// expected 0); at least two groups must have observations.
pub fn logrank_test<G: AsRef<[Observation]>>(groups: &[G]) -> Result<LogRankTest> {
    let k = groups.len();
    let mut all: Vec<(f64, bool, usize)> = Vec::new();
    let mut sizes = vec![0usize; k];
    for (g, group) in groups.iter().enumerate() {
        for o in group.as_ref() {
            let t = check_non_negative("time_days", o.time_days)?;
            all.push((t + 0.0, o.event, g));
        }
        sizes[g] = group.as_ref().len();
    }
    let mut acc = Accumulator::new(sizes)?;
    all.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));

    let mut events_now = vec![0usize; k];
    let mut removed_now = vec![0usize; k];
    let mut i = 0;
    while i < all.len() {
        let t = all[i].0;
        events_now.iter_mut().for_each(|x| *x = 0);
        removed_now.iter_mut().for_each(|x| *x = 0);
        while i < all.len() && all[i].0 == t {
            let g = all[i].2;
            removed_now[g] += 1;
            events_now[g] += usize::from(all[i].1);
            i += 1;
        }
        acc.step(|g| events_now[g], |g| removed_now[g]);
    }
    acc.finish()
}

/// Events and removals per time and group, for data whose times are few
/// and known in order (whole days, say): the log-rank test from these
/// counts is [`logrank_test`] on the observations they describe, in
/// O(N + T·k²) for N observations, T times and k groups instead of a sort of
/// all N. Time index i stands for the i-th time in increasing order (day i,
/// say); only the order of the times matters to the test.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRankCounts {
    groups: usize,
    /// `counts[t * groups + g]`: [subjects of group g leaving at time t
    /// (event or censoring), those of them with the event]. Side by side,
    /// so that counting a subject touches one cache line, not two.
    counts: Vec<[u32; 2]>,
}

impl LogRankCounts {
    /// No subjects yet, for times 0..`times` and `groups` groups.
    pub fn new(times: usize, groups: usize) -> Self {
        Self {
            groups,
            counts: vec![[0; 2]; times * groups],
        }
    }

    /// One subject of `group` leaving at time index `time`, with the event
    /// or censored. Errors on a time or group beyond those declared.
    pub fn add(&mut self, time: usize, group: usize, event: bool) -> Result<()> {
        if group >= self.groups {
            return Err(StatsError::NoSuchIndex {
                what: "group",
                index: group,
                len: self.groups,
            });
        }
        let i = time * self.groups + group;
        let Some(c) = self.counts.get_mut(i) else {
            return Err(StatsError::NoSuchIndex {
                what: "time",
                index: time,
                len: self.counts.len() / self.groups,
            });
        };
        c[0] += 1;
        c[1] += u32::from(event);
        Ok(())
    }

    /// The counts of one group at each time index with something happening,
    /// as [`KaplanMeier::from_counts`](crate::KaplanMeier::from_counts)
    /// takes them (`t_days` maps a time index to its time), so a stratified
    /// report fits each stratum's curve from the counts of its test.
    pub fn time_counts(
        &self,
        group: usize,
        t_days: impl Fn(usize) -> f64 + Clone,
    ) -> Vec<TimeCounts> {
        self.group_counts(group, t_days).collect()
    }

    /// [`time_counts`](Self::time_counts) as an iterator, for
    /// [`KaplanMeier::summary_from_counts`](crate::KaplanMeier::summary_from_counts).
    pub fn group_counts(
        &self,
        group: usize,
        t_days: impl Fn(usize) -> f64 + Clone,
    ) -> impl Iterator<Item = TimeCounts> + Clone {
        // An unknown group reads nothing (`skip` past the end).
        let skip = if group < self.groups {
            group
        } else {
            self.counts.len()
        };
        self.counts
            .iter()
            .skip(skip)
            .step_by(self.groups.max(1))
            .enumerate()
            .filter(|(_, [r, _])| *r > 0)
            .map(move |(t, &[r, e])| TimeCounts {
                t_days: t_days(t),
                events: e as usize,
                censored: (r - e) as usize,
            })
    }

    /// The log-rank test across the groups, as [`logrank_test`]: empty
    /// groups take no part; at least two must have subjects.
    pub fn test(&self) -> Result<LogRankTest> {
        let k = self.groups;
        let mut sizes = vec![0usize; k];
        for row in self.counts.chunks_exact(k.max(1)) {
            for (n, &[r, _]) in sizes.iter_mut().zip(row) {
                *n += r as usize;
            }
        }
        let mut acc = Accumulator::new(sizes)?;
        for row in self.counts.chunks_exact(k.max(1)) {
            acc.step(|g| row[g][1] as usize, |g| row[g][0] as usize);
        }
        acc.finish()
    }
}

/// The sums of the log-rank test, carried through the times in order.
struct Accumulator {
    non_empty: Vec<usize>,
    /// Whether every group is non-empty (the usual case), so that the
    /// covariance rows are updated over contiguous slices.
    all_non_empty: bool,
    at_risk: Vec<usize>,
    /// `at_risk` as floats (exact: counts below 2⁵³), converted once per
    /// change rather than once per covariance term.
    at_risk_f: Vec<f64>,
    total_at_risk: usize,
    observed: Vec<usize>,
    expected: Vec<f64>,
    /// The hypergeometric covariance, k × k row-major; only the entries of
    /// the first k − 1 non-empty groups, which `finish` reads, are summed.
    cov: Vec<f64>,
}

impl Accumulator {
    /// Starts with every subject at risk; errors unless two groups have some.
    fn new(sizes: Vec<usize>) -> Result<Self> {
        let k = sizes.len();
        let non_empty: Vec<usize> = (0..k).filter(|&g| sizes[g] > 0).collect();
        if non_empty.len() < 2 {
            return Err(StatsError::TooFewGroups {
                non_empty: non_empty.len(),
            });
        }
        Ok(Self {
            all_non_empty: non_empty.len() == k,
            non_empty,
            total_at_risk: sizes.iter().sum(),
            at_risk_f: sizes.iter().map(|&n| n as f64).collect(),
            at_risk: sizes,
            observed: vec![0; k],
            expected: vec![0.0; k],
            cov: vec![0.0; k * k],
        })
    }

    /// One time: `events(g)` of group g had the event, `removed(g)` (events
    /// and censorings) leave the risk set after it.
    fn step(&mut self, events: impl Fn(usize) -> usize, removed: impl Fn(usize) -> usize) {
        let k = self.at_risk.len();
        let d: usize = self.non_empty.iter().map(|&g| events(g)).sum();
        if d > 0 {
            let n = self.total_at_risk as f64;
            let df = d as f64;
            let factor = if self.total_at_risk > 1 {
                df * (n - df) / (n * n * (n - 1.0))
            } else {
                0.0
            };
            let kept = &self.non_empty[..self.non_empty.len() - 1];
            for (i, &j) in self.non_empty.iter().enumerate() {
                self.observed[j] += events(j);
                let nj = self.at_risk_f[j];
                self.expected[j] += nj * df / n;
                // The last non-empty group's row is never read.
                if factor > 0.0 && nj > 0.0 && i < kept.len() {
                    let row = &mut self.cov[j * k..(j + 1) * k];
                    row[j] += factor * nj * (n - nj);
                    // Each term as `factor * nj * n_l`, evaluated left to
                    // right as before, so the sums are the same to the bit.
                    let fnj = factor * nj;
                    if self.all_non_empty {
                        // kept = 0..k − 1: the row's kept entries but j.
                        let (before, after) = row[..k - 1].split_at_mut(j);
                        let (at_before, at_after) = self.at_risk_f[..k - 1].split_at(j);
                        for (x, &nl) in before.iter_mut().zip(at_before) {
                            *x -= fnj * nl;
                        }
                        for (x, &nl) in after[1..].iter_mut().zip(&at_after[1..]) {
                            *x -= fnj * nl;
                        }
                    } else {
                        for &l in kept {
                            if l != j {
                                row[l] -= fnj * self.at_risk_f[l];
                            }
                        }
                    }
                }
            }
        }
        for &g in &self.non_empty {
            let r = removed(g);
            if r > 0 {
                self.at_risk[g] -= r;
                self.at_risk_f[g] = self.at_risk[g] as f64;
                self.total_at_risk -= r;
            }
        }
    }

    /// `Z' V⁺ Z` over the first k − 1 non-empty groups (lifelines drops its
    /// last group), referred to χ²(k − 1).
    fn finish(self) -> Result<LogRankTest> {
        let k = self.at_risk.len();
        let kept = &self.non_empty[..self.non_empty.len() - 1];
        let z: Vec<f64> = kept
            .iter()
            .map(|&j| self.observed[j] as f64 - self.expected[j])
            .collect();
        let v: Vec<Vec<f64>> = kept
            .iter()
            .map(|&j| kept.iter().map(|&l| self.cov[j * k + l]).collect())
            .collect();
        let statistic = pinv_quadratic_form(&v, &z);
        let degrees_of_freedom = self.non_empty.len() - 1;
        let p_value = chi_squared_sf(statistic, degrees_of_freedom as f64)?;
        Ok(LogRankTest {
            statistic,
            degrees_of_freedom,
            p_value,
            observed: self.observed,
            expected: self.expected,
        })
    }
}

/// `z' A⁺ z` for a symmetric matrix A, with A⁺ its Moore–Penrose inverse:
/// eigenvalues with |λ| ≤ 1e-15 · max|λ| are treated as 0, as numpy's `pinv`
/// does with singular values.
fn pinv_quadratic_form(a: &[Vec<f64>], z: &[f64]) -> f64 {
    let (values, vectors) = symmetric_eigen(a);
    let max = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let cutoff = 1e-15 * max;
    let mut sum = 0.0;
    for (idx, &lambda) in values.iter().enumerate() {
        if lambda.abs() > cutoff {
            let proj: f64 = (0..z.len()).map(|r| vectors[r][idx] * z[r]).sum();
            sum += proj * proj / lambda;
        }
    }
    sum
}

/// Eigenvalues and eigenvectors (as columns) of a symmetric matrix by cyclic
/// Jacobi rotations: robust, accurate, and ample for the handful of groups a
/// registry compares.
fn symmetric_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    symmetric_eigen_sweeps(a).0
}

/// [`symmetric_eigen`] and the number of sweeps it took.
///
/// The sweeps stop once the off-diagonal part is below the diagonal's by a
/// factor of the machine epsilon (in norm), or no longer shrinks: from
/// there a sweep only moves rounding noise about. (A bound below the
/// epsilon is never reached, and sixteen groups then cost a hundred sweeps,
/// about ten milliseconds a test.)
fn symmetric_eigen_sweeps(a: &[Vec<f64>]) -> ((Vec<f64>, Vec<Vec<f64>>), usize) {
    let m = a.len();
    let mut a: Vec<Vec<f64>> = a.to_vec();
    let mut v = vec![vec![0.0; m]; m];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let mut previous_off = f64::INFINITY;
    let mut sweeps = 0;
    while sweeps < 100 {
        let off: f64 = (0..m)
            .flat_map(|p| (0..m).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p][q] * a[p][q])
            .sum();
        let diag: f64 = (0..m).map(|p| a[p][p] * a[p][p]).sum();
        if off <= f64::EPSILON * f64::EPSILON * diag || off >= previous_off {
            break;
        }
        previous_off = off;
        sweeps += 1;
        for p in 0..m {
            for q in p + 1..m {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + theta.hypot(1.0));
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (arp, arq) = (row[p], row[q]);
                    row[p] = c * arp - s * arq;
                    row[q] = s * arp + c * arq;
                }
                let (head, tail) = a.split_at_mut(q);
                for (x, y) in head[p].iter_mut().zip(tail[0].iter_mut()) {
                    let (apr, aqr) = (*x, *y);
                    *x = c * apr - s * aqr;
                    *y = s * apr + c * aqr;
                }
                for row in v.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    (((0..m).map(|i| a[i][i]).collect(), v), sweeps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(data: &[(f64, bool)]) -> Vec<Observation> {
        data.iter()
            .map(|&(time_days, event)| Observation { time_days, event })
            .collect()
    }

    #[test]
    fn hand_checked_two_groups() {
        // A: deaths at 1, 2; B: death at 3, censored at 4.
        // t=1: n=4 (2,2) d=1: E_A = 0.5, V = 1·3·2·2/(16·3) = 0.25.
        // t=2: n=3 (1,2) d=1: E_A = 1/3, V = 1·2·1·2/(9·2) = 2/9.
        // t=3: n=2 (0,2): E_A = 0, V = 0.
        // O_A − E_A = 2 − 5/6 = 7/6; V = 0.25 + 2/9 = 17/36; U = (49/36)/(17/36).
        let a = group(&[(1.0, true), (2.0, true)]);
        let b = group(&[(3.0, true), (4.0, false)]);
        let test = logrank_test(&[a, b]).unwrap();
        assert!((test.statistic - 49.0 / 17.0).abs() < 1e-14);
        assert_eq!(test.degrees_of_freedom, 1);
        assert_eq!(test.observed, vec![2, 1]);
        assert!((test.expected[0] - 5.0 / 6.0).abs() < 1e-15);
        let p = chi_squared_sf(49.0 / 17.0, 1.0).unwrap();
        assert!((test.p_value - p).abs() < 1e-15);
    }

    #[test]
    fn identical_groups_give_zero() {
        let a = group(&[(1.0, true), (2.0, false), (3.0, true)]);
        let test = logrank_test(&[a.clone(), a]).unwrap();
        assert!(test.statistic.abs() < 1e-12);
        assert!((test.p_value - 1.0).abs() < 1e-9);
    }

    #[test]
    fn no_events_gives_statistic_zero_and_p_one() {
        let a = group(&[(1.0, false)]);
        let b = group(&[(2.0, false)]);
        let c = group(&[(3.0, false)]);
        let test = logrank_test(&[a, b, c]).unwrap();
        assert_eq!(
            (test.statistic, test.degrees_of_freedom, test.p_value),
            (0.0, 2, 1.0)
        );
    }

    #[test]
    fn empty_groups_are_skipped_but_two_are_needed() {
        let a = group(&[(1.0, true), (2.0, true)]);
        let b = group(&[(3.0, true), (4.0, false)]);
        let with_empty = logrank_test(&[a.clone(), vec![], b.clone()]).unwrap();
        let without = logrank_test(&[a.clone(), b]).unwrap();
        assert_eq!(with_empty.statistic, without.statistic);
        assert_eq!(with_empty.observed, vec![2, 0, 1]);
        assert_eq!(
            logrank_test(&[a, vec![]]),
            Err(StatsError::TooFewGroups { non_empty: 1 })
        );
    }

    #[test]
    fn eigen_decomposition_reconstructs() {
        let a = vec![
            vec![4.0, 1.0, -2.0],
            vec![1.0, 3.0, 0.5],
            vec![-2.0, 0.5, 5.0],
        ];
        let (values, vectors) = symmetric_eigen(&a);
        for r in 0..3 {
            for c in 0..3 {
                let rebuilt: f64 = (0..3)
                    .map(|k| vectors[r][k] * values[k] * vectors[c][k])
                    .sum();
                assert!((rebuilt - a[r][c]).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn many_groups_converge_in_a_few_sweeps_and_reconstruct() {
        // A log-rank covariance of 16 groups: diagonally dominant, positive
        // definite, with every off-diagonal entry non-zero.
        let m = 16;
        let at_risk: Vec<f64> = (0..=m).map(|g| 50.0 + 37.0 * g as f64).collect();
        let n: f64 = at_risk.iter().sum();
        let a: Vec<Vec<f64>> = (0..m)
            .map(|j| {
                (0..m)
                    .map(|l| {
                        let d = if j == l { n } else { 0.0 };
                        at_risk[j] * (d - at_risk[l]) / (n * n)
                    })
                    .collect()
            })
            .collect();
        let ((values, vectors), sweeps) = symmetric_eigen_sweeps(&a);
        assert!(sweeps <= 12, "{sweeps} sweeps");
        for r in 0..m {
            for c in 0..m {
                let rebuilt: f64 = (0..m)
                    .map(|k| vectors[r][k] * values[k] * vectors[c][k])
                    .sum();
                assert!((rebuilt - a[r][c]).abs() < 1e-15, "({r}, {c})");
            }
        }
    }

    #[test]
    fn counts_give_the_same_test_and_check_their_indices() {
        let a = group(&[(1.0, true), (2.0, true), (2.0, false)]);
        let b = group(&[(3.0, true), (4.0, false), (0.0, true)]);
        let mut counts = LogRankCounts::new(5, 3);
        for (g, obs) in [&a, &b].iter().enumerate() {
            for o in obs.iter() {
                counts.add(o.time_days as usize, g * 2, o.event).unwrap();
            }
        }
        let ours = counts.test().unwrap();
        let theirs = logrank_test(&[a, vec![], b.clone()]).unwrap();
        assert_eq!(ours.observed, theirs.observed);
        assert!((ours.statistic - theirs.statistic).abs() < 1e-14);
        assert_eq!(ours.degrees_of_freedom, theirs.degrees_of_freedom);
        assert!(matches!(
            counts.add(5, 0, true),
            Err(StatsError::NoSuchIndex { what: "time", .. })
        ));
        assert!(matches!(
            counts.add(0, 3, true),
            Err(StatsError::NoSuchIndex { what: "group", .. })
        ));
        let b_counts = counts.time_counts(2, |t| t as f64);
        assert_eq!(
            crate::KaplanMeier::from_counts(&b_counts).unwrap(),
            crate::KaplanMeier::fit(&b).unwrap()
        );
        assert!(counts.time_counts(1, |t| t as f64).is_empty());
        let mut one = LogRankCounts::new(2, 2);
        one.add(1, 0, true).unwrap();
        assert_eq!(one.test(), Err(StatsError::TooFewGroups { non_empty: 1 }));
    }
}
