//! Risk-adjusted learning-curve CUSUM (Steiner et al. 2000; DOMAIN.md §6.5).
//!
//! For cases in date order with failure yₜ ∈ {0, 1} and expected failure
//! probability pₜ, testing odds ratio R_A against 1, the log-likelihood-ratio
//! weight is
//!
//! ```text
//! Wₜ = log(R_A / (1 − pₜ + R_A·pₜ))   if yₜ = 1
//! Wₜ = log(1   / (1 − pₜ + R_A·pₜ))   if yₜ = 0
//! ```
//!
//! and `Xₜ = max(0, Xₜ₋₁ + Wₜ)`, signalling when `Xₜ ≥ h`, after which the
//! chart restarts from 0 (the next case starts from X = 0).

use serde::{Deserialize, Serialize};

use crate::error::{Result, StatsError, check_finite};

/// One case on an operator's learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CusumCase {
    /// `true` if the case failed (e.g. technical failure, 30-day MALE or death).
    pub failed: bool,
    /// Expected failure probability pₜ ∈ [0, 1] for this case.
    pub expected_probability: f64,
}

/// The chart's design: the odds ratio to detect and the signal threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CusumParams {
    /// R_A, the odds ratio of failure the chart is tuned to detect (> 0).
    pub odds_ratio: f64,
    /// h, the threshold at which the chart signals (> 0).
    pub threshold: f64,
}

impl Default for CusumParams {
    /// R_A = 2 (a doubling of the odds of failure) and h = 4.5, the
    /// registry's configurable default.
    fn default() -> Self {
        Self {
            odds_ratio: 2.0,
            threshold: 4.5,
        }
    }
}

/// The chart after one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CusumPoint {
    /// The case's log-likelihood-ratio weight Wₜ.
    pub w: f64,
    /// The CUSUM Xₜ after this case (before any restart).
    pub x: f64,
    /// `true` if Xₜ ≥ h; the next case then starts from 0.
    pub signal: bool,
}

/// Runs the CUSUM over `cases` in order. Errors on R_A or h not finite and
/// positive, or a probability outside [0, 1].
pub fn learning_curve_cusum(cases: &[CusumCase], params: CusumParams) -> Result<Vec<CusumPoint>> {
    let mut chart = Cusum::new(params)?;
    cases.iter().map(|&case| chart.step(case)).collect()
}

/// The CUSUM run case by case, for a caller that keeps only part of the
/// chart (a million cases need not become a million points first);
/// [`learning_curve_cusum`] is this over a whole chart.
#[derive(Debug, Clone)]
pub struct Cusum {
    odds_ratio: f64,
    threshold: f64,
    /// X after the last case, after any restart.
    x: f64,
    /// The weights of the last probability seen (bits, on failure, else):
    /// a chart's cases often share one p, so two logarithms serve them all.
    weights: Option<(u64, f64, f64)>,
}

impl Cusum {
    /// A chart before its first case. Errors on R_A or h not finite and
    /// positive.
    pub fn new(params: CusumParams) -> Result<Self> {
        let r = check_finite("odds_ratio", params.odds_ratio)?;
        let h = check_finite("threshold", params.threshold)?;
        if r <= 0.0 {
            return Err(StatsError::OutOfRange {
                what: "odds_ratio",
                range: "(0, ∞)",
                value: r,
            });
        }
        if h <= 0.0 {
            return Err(StatsError::OutOfRange {
                what: "threshold",
                range: "(0, ∞)",
                value: h,
            });
        }
        Ok(Self {
            odds_ratio: r,
            threshold: h,
            x: 0.0,
            weights: None,
        })
    }

    /// The chart after the next case. Errors on a probability outside
    /// [0, 1].
    pub fn step(&mut self, case: CusumCase) -> Result<CusumPoint> {
        let p = case.expected_probability;
        if !(0.0..=1.0).contains(&p) {
            return Err(StatsError::OutOfRange {
                what: "expected_probability",
                range: "[0, 1]",
                value: p,
            });
        }
        let (_, on_failure, otherwise) = match self.weights {
            Some(w) if w.0 == p.to_bits() => w,
            _ => {
                let denom = 1.0 - p + self.odds_ratio * p;
                let w = (p.to_bits(), (self.odds_ratio / denom).ln(), -denom.ln());
                self.weights = Some(w);
                w
            }
        };
        let w = if case.failed { on_failure } else { otherwise };
        let x = (self.x + w).max(0.0);
        let signal = x >= self.threshold;
        self.x = if signal { 0.0 } else { x };
        Ok(CusumPoint { w, x, signal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_with_restart() {
        // p = 0.5, R_A = 2: denominator 1.5; failure W = ln(4/3), success W = ln(2/3).
        let fail = CusumCase {
            failed: true,
            expected_probability: 0.5,
        };
        let ok = CusumCase {
            failed: false,
            ..fail
        };
        let params = CusumParams {
            odds_ratio: 2.0,
            threshold: 0.5,
        };
        let out = learning_curve_cusum(&[ok, fail, fail, fail, ok], params).unwrap();
        let wf = (4.0_f64 / 3.0).ln();
        let ws = (2.0_f64 / 3.0).ln();
        assert_eq!(out[0].x, 0.0);
        assert!((out[0].w - ws).abs() < 1e-15);
        assert!((out[1].x - wf).abs() < 1e-15);
        assert!((out[2].x - 2.0 * wf).abs() < 1e-15 && out[2].signal);
        // Restart: case 4 starts from 0.
        assert!((out[3].x - wf).abs() < 1e-15 && !out[3].signal);
        assert!((out[4].x - (wf + ws).max(0.0)).abs() < 1e-15);
    }

    #[test]
    fn defaults_and_errors() {
        assert_eq!(
            CusumParams::default(),
            CusumParams {
                odds_ratio: 2.0,
                threshold: 4.5
            }
        );
        let bad = CusumCase {
            failed: true,
            expected_probability: 1.5,
        };
        assert!(learning_curve_cusum(&[bad], CusumParams::default()).is_err());
        let params = CusumParams {
            odds_ratio: 0.0,
            threshold: 4.5,
        };
        assert!(learning_curve_cusum(&[], params).is_err());
        assert_eq!(
            learning_curve_cusum(&[], CusumParams::default()).unwrap(),
            vec![]
        );
    }
}
