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
//! eigen-decomposition.

use serde::Serialize;

use crate::distributions::chi_squared_sf;
use crate::error::{Result, StatsError, check_non_negative};
use crate::kaplan_meier::Observation;

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
    let non_empty: Vec<usize> = (0..k).filter(|&g| sizes[g] > 0).collect();
    if non_empty.len() < 2 {
        return Err(StatsError::TooFewGroups {
            non_empty: non_empty.len(),
        });
    }
    all.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));

    let mut at_risk = sizes.clone();
    let mut total_at_risk = all.len();
    let mut observed = vec![0usize; k];
    let mut expected = vec![0.0_f64; k];
    let mut cov = vec![vec![0.0_f64; k]; k];
    let mut events_now = vec![0usize; k];
    let mut removed_now = vec![0usize; k];
    let mut i = 0;
    while i < all.len() {
        let t = all[i].0;
        events_now.iter_mut().for_each(|x| *x = 0);
        removed_now.iter_mut().for_each(|x| *x = 0);
        let mut d = 0;
        while i < all.len() && all[i].0 == t {
            let g = all[i].2;
            removed_now[g] += 1;
            if all[i].1 {
                events_now[g] += 1;
                d += 1;
            }
            i += 1;
        }
        if d > 0 {
            let n = total_at_risk as f64;
            let df = d as f64;
            let factor = if total_at_risk > 1 {
                df * (n - df) / (n * n * (n - 1.0))
            } else {
                0.0
            };
            for &j in &non_empty {
                observed[j] += events_now[j];
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
        for g in 0..k {
            at_risk[g] -= removed_now[g];
        }
        total_at_risk -= removed_now.iter().sum::<usize>();
    }

    // Drop the last non-empty group (lifelines drops its last group).
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
}
