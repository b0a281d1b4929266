//! Proportions with the Wilson score 95% interval, matching
//! `statsmodels.stats.proportion.proportion_confint(k, n, method="wilson")`.
//!
//! Why Wilson: unlike the Wald interval it stays inside [0, 1] and keeps close
//! to its nominal coverage for small n and for proportions near 0 or 1, which
//! is where a registry's technical success and 30-day rates live.

use serde::Serialize;

use crate::distributions::Z_95;
use crate::error::{Result, StatsError};

/// A proportion k/n with its Wilson score 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proportion {
    /// Number with the outcome.
    pub k: u64,
    /// Number assessed.
    pub n: u64,
    /// k / n.
    pub estimate: f64,
    /// Lower 95% limit.
    pub ci_lower: f64,
    /// Upper 95% limit.
    pub ci_upper: f64,
}

/// The proportion `k`/`n` with its Wilson score 95% interval.
///
/// `n = 0` gives `Ok(None)`: nothing was assessed, so there is no estimate.
/// `k > n` is an error.
pub fn wilson_interval(k: u64, n: u64) -> Result<Option<Proportion>> {
    if k > n {
        return Err(StatsError::CountExceedsTotal { k, n });
    }
    if n == 0 {
        return Ok(None);
    }
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let z2 = Z_95 * Z_95;
    let denom = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denom;
    let half_width = Z_95 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    // At k = 0 (k = n) the lower (upper) limit is exactly 0 (1); the formula
    // reaches it only up to rounding.
    let ci_lower = if k == 0 {
        0.0
    } else {
        (center - half_width).clamp(0.0, p)
    };
    let ci_upper = if k == n {
        1.0
    } else {
        (center + half_width).clamp(p, 1.0)
    };
    Ok(Some(Proportion {
        k,
        n,
        estimate: p,
        ci_lower,
        ci_upper,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_values() {
        // statsmodels: proportion_confint(7, 20, method="wilson").
        let p = wilson_interval(7, 20).unwrap().unwrap();
        assert_eq!(p.estimate, 0.35);
        assert!(
            (p.ci_lower - 0.181_191_824_101_082_03).abs() < 1e-12,
            "{}",
            p.ci_lower
        );
        assert!(
            (p.ci_upper - 0.567_145_723_314_763_8).abs() < 1e-12,
            "{}",
            p.ci_upper
        );
    }

    #[test]
    fn edges() {
        assert_eq!(wilson_interval(0, 0).unwrap(), None);
        assert_eq!(
            wilson_interval(3, 2),
            Err(StatsError::CountExceedsTotal { k: 3, n: 2 })
        );
        let zero = wilson_interval(0, 10).unwrap().unwrap();
        assert_eq!(zero.ci_lower, 0.0);
        assert!(zero.ci_upper > 0.0 && zero.ci_upper < 1.0);
        let all = wilson_interval(10, 10).unwrap().unwrap();
        assert_eq!(all.ci_upper, 1.0);
        assert!(all.ci_lower > 0.0 && all.ci_lower < 1.0);
    }
}
