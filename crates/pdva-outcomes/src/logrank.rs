//! The log-rank test from counts per whole day, for comparisons over a
//! million limbs.
//!
//! `pdva_stats::logrank_test` takes every observation and sorts them all
//! (O(N log N)); the report runs 42 tests (7 variables × 6 endpoints), which
//! on a registry of a million limbs would dominate the report. Registry times
//! are whole days, so the same statistic is computed here from the number of
//! events and removals per day and group, in O(N + D·k²) for D days and k
//! groups, with exactly the formulas of `pdva_stats::logrank_test` (the
//! hypergeometric covariance, Z' V⁺ Z over the first k − 1 non-empty groups,
//! V⁺ by eigen-decomposition with numpy's relative cut-off 1e-15). The tests
//! check it against `pdva_stats::logrank_test` on random data, and the
//! end-to-end test against lifelines.

use pdva_stats::{LogRankTest, StatsError, chi_squared_sf};

/// Counts per day and group: `removed[day * k + g]` limbs leave group g on
/// `day` (event or censoring), `events[day * k + g]` of them with the event.
pub(crate) struct DailyCounts {
    k: usize,
    removed: Vec<u32>,
    events: Vec<u32>,
}

impl DailyCounts {
    /// Empty counts for days 0..=`max_day` and `k` groups.
    pub(crate) fn new(max_day: usize, k: usize) -> Self {
        Self {
            k,
            removed: vec![0; (max_day + 1) * k],
            events: vec![0; (max_day + 1) * k],
        }
    }

    /// One limb of group `g` leaving on `day`, with or without the event.
    pub(crate) fn add(&mut self, day: usize, g: usize, event: bool) {
        self.removed[day * self.k + g] += 1;
        self.events[day * self.k + g] += u32::from(event);
    }

    /// The log-rank test across the groups (at least two non-empty).
    pub(crate) fn logrank(&self) -> Result<LogRankTest, StatsError> {
        let k = self.k;
        let days = self.removed.len() / k.max(1);
        let mut at_risk = vec![0usize; k];
        for day in 0..days {
            for (g, n) in at_risk.iter_mut().enumerate() {
                *n += self.removed[day * k + g] as usize;
            }
        }
        let non_empty: Vec<usize> = (0..k).filter(|&g| at_risk[g] > 0).collect();
        if non_empty.len() < 2 {
            return Err(StatsError::TooFewGroups {
                non_empty: non_empty.len(),
            });
        }
        let mut total_at_risk: usize = at_risk.iter().sum();
        let mut observed = vec![0usize; k];
        let mut expected = vec![0.0_f64; k];
        let mut cov = vec![vec![0.0_f64; k]; k];
        for day in 0..days {
            let row = day * k..(day + 1) * k;
            let d: usize = self.events[row.clone()].iter().map(|&x| x as usize).sum();
            if d > 0 {
                let n = total_at_risk as f64;
                let df = d as f64;
                let factor = if total_at_risk > 1 {
                    df * (n - df) / (n * n * (n - 1.0))
                } else {
                    0.0
                };
                for &j in &non_empty {
                    observed[j] += self.events[day * k + j] as usize;
                    let nj = at_risk[j] as f64;
                    expected[j] += nj * df / n;
                    if factor > 0.0 && nj > 0.0 {
                        cov[j][j] += factor * nj * (n - nj);
                        for &l in &non_empty {
                            if l != j {
                                cov[j][l] -= factor * nj * at_risk[l] as f64;
                            }
                        }
                    }
                }
            }
            let mut removed_today = 0;
            for (g, n) in at_risk.iter_mut().enumerate() {
                let r = self.removed[day * k + g] as usize;
                *n -= r;
                removed_today += r;
            }
            total_at_risk -= removed_today;
        }
        let kept = &non_empty[..non_empty.len() - 1];
        let z: Vec<f64> = kept
            .iter()
            .map(|&j| observed[j] as f64 - expected[j])
            .collect();
        let v: Vec<Vec<f64>> = kept
            .iter()
            .map(|&j| kept.iter().map(|&l| cov[j][l]).collect())
            .collect();
        let statistic = pinv_quadratic_form(&v, &z);
        let degrees_of_freedom = non_empty.len() - 1;
        let p_value = chi_squared_sf(statistic, degrees_of_freedom as f64)?;
        Ok(LogRankTest {
            statistic,
            degrees_of_freedom,
            p_value,
            observed,
            expected,
        })
    }
}

/// `z' A⁺ z` for a symmetric matrix A (eigenvalues with |λ| ≤ 1e-15·max|λ|
/// treated as 0, as numpy's `pinv` does).
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

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic
/// Jacobi rotations.
fn symmetric_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let m = a.len();
    let mut a: Vec<Vec<f64>> = a.to_vec();
    let mut v = vec![vec![0.0; m]; m];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..m)
            .flat_map(|p| (0..m).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p][q] * a[p][q])
            .sum();
        let diag: f64 = (0..m).map(|p| a[p][p] * a[p][p]).sum();
        if off <= 1e-34 * diag || off == 0.0 {
            break;
        }
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
    ((0..m).map(|i| a[i][i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdva_stats::{Observation, logrank_test};

    /// SplitMix64, for reproducible random data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn equals_the_statistics_crates_test_on_random_data() {
        let mut rng = Rng(42);
        let mut max_diff = 0.0_f64;
        for case in 0..400 {
            let k = 2 + (rng.next() % 6) as usize;
            let n = 1 + (rng.next() % 300) as usize;
            let days = 1 + (rng.next() % 60) as usize;
            let censor = (rng.next() % 100) as f64 / 100.0;
            let mut groups: Vec<Vec<Observation>> = vec![Vec::new(); k];
            let mut counts = DailyCounts::new(days, k);
            for _ in 0..n {
                let g = (rng.next() % k as u64) as usize;
                let day = (rng.next() % (days as u64 + 1)) as usize;
                let event = (rng.next() % 1000) as f64 / 1000.0 >= censor;
                groups[g].push(Observation {
                    time_days: day as f64,
                    event,
                });
                counts.add(day, g, event);
            }
            let theirs = logrank_test(&groups);
            let ours = counts.logrank();
            match (theirs, ours) {
                (Ok(t), Ok(o)) => {
                    assert_eq!(t.observed, o.observed, "case {case}");
                    assert_eq!(t.degrees_of_freedom, o.degrees_of_freedom);
                    for (a, b) in t.expected.iter().zip(&o.expected) {
                        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "case {case}");
                    }
                    let d = (t.statistic - o.statistic).abs() / t.statistic.abs().max(1.0);
                    assert!(d < 1e-9, "case {case}: {} vs {}", t.statistic, o.statistic);
                    assert!((t.p_value - o.p_value).abs() < 1e-9, "case {case}");
                    max_diff = max_diff.max(d);
                }
                (Err(a), Err(b)) => assert_eq!(a, b),
                (a, b) => panic!("case {case}: {a:?} vs {b:?}"),
            }
        }
        eprintln!(
            "log-rank by day vs pdva_stats::logrank_test: max relative |Δstatistic| = {max_diff:e}"
        );
    }
}
