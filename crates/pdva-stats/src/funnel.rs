//! Funnel-plot control limits for a proportion (Spiegelhalter, Stat Med 2005;
//! DOMAIN.md §6.4): exact binomial limits with interpolation.
//!
//! With F the Binomial(n, θ) distribution function and tail probability p:
//! r_p = the smallest r with F(r) ≥ p; α = (F(r_p) − p) / (F(r_p) − F(r_p − 1));
//! limit = (r_p − α) / n. The interpolation makes the limit continuous in n
//! and p, so the funnel is drawn as a smooth curve.
//!
//! When r_p = 0 (F(0) ≥ p: small n or small θ) the formula gives
//! −α/n ≤ 0, a proportion below 0; the limit is then reported as 0 (no
//! proportion can be below it), so that, say, one case with no death is never
//! flagged as a high death rate.
//!
//! Cost: F is built in O(n) per (θ, n) by the recurrence of the binomial
//! probabilities outward from the mode, normalised by their sum, which needs
//! no gamma functions and keeps about 1e-13 absolute accuracy.

use serde::{Deserialize, Serialize};

use crate::error::{Result, StatsError};

/// Tail probabilities of the 95% limits (outside them: **alert**).
pub const ALERT_TAILS: (f64, f64) = (0.025, 0.975);
/// Tail probabilities of the 99.8% limits (outside them: **alarm**).
pub const ALARM_TAILS: (f64, f64) = (0.001, 0.999);

/// Which direction of an indicator is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadDirection {
    /// A low value is bad (e.g. amputation-free survival, technical success).
    Low,
    /// A high value is bad (e.g. the MALE rate, 30-day mortality).
    High,
}

/// Where a unit falls relative to the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelClass {
    /// Inside the 95% limits on the bad side (or on the good side).
    Within,
    /// Beyond the 95% limit on the bad side, inside the 99.8% limit.
    Alert,
    /// Beyond the 99.8% limit on the bad side.
    Alarm,
}

/// The four limits for a unit with `n` cases when the registry-wide
/// proportion is `theta`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelLimits {
    /// Registry-wide proportion θ.
    pub theta: f64,
    /// The unit's number of cases.
    pub n: u64,
    /// Lower 99.8% limit (p = 0.001).
    pub lower_998: f64,
    /// Lower 95% limit (p = 0.025).
    pub lower_95: f64,
    /// Upper 95% limit (p = 0.975).
    pub upper_95: f64,
    /// Upper 99.8% limit (p = 0.999).
    pub upper_998: f64,
}

/// The Binomial(n, θ) distribution function F(0..=n).
struct BinomialCdf {
    cdf: Vec<f64>,
}

impl BinomialCdf {
    fn new(n: u64, theta: f64) -> Self {
        let len = n as usize + 1;
        let mut w = vec![0.0_f64; len];
        if theta <= 0.0 {
            w[0] = 1.0;
        } else if theta >= 1.0 {
            w[len - 1] = 1.0;
        } else {
            // Unnormalised probabilities relative to the mode, by the ratio
            // P(r+1)/P(r) = (n − r)/(r + 1) · θ/(1 − θ), walking out both ways
            // until they underflow; normalising by the sum removes the need
            // for the mode's own probability.
            let odds = theta / (1.0 - theta);
            let nf = n as f64;
            let mode = (((nf + 1.0) * theta).floor() as usize).min(len - 1);
            w[mode] = 1.0;
            let mut v = 1.0;
            for r in mode..len - 1 {
                v *= (nf - r as f64) / (r as f64 + 1.0) * odds;
                if v < 1e-300 {
                    break;
                }
                w[r + 1] = v;
            }
            v = 1.0;
            for r in (1..=mode).rev() {
                v *= r as f64 / (nf - r as f64 + 1.0) / odds;
                if v < 1e-300 {
                    break;
                }
                w[r - 1] = v;
            }
        }
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let cdf = w
            .iter()
            .map(|x| {
                acc += x;
                (acc / total).min(1.0)
            })
            .collect();
        Self { cdf }
    }

    /// F(r) for r ≥ −1 (F(−1) = 0).
    fn at(&self, r: isize) -> f64 {
        if r < 0 { 0.0 } else { self.cdf[r as usize] }
    }

    /// (r_p, α) for tail probability p.
    fn quantile_interpolation(&self, p: f64) -> (f64, f64) {
        // cdf is non-decreasing and ends at 1 ≥ p, so a first index exists.
        let r = self.cdf.partition_point(|&f| f < p).min(self.cdf.len() - 1);
        let f_r = self.cdf[r];
        let f_prev = self.at(r as isize - 1);
        let alpha = if f_r > f_prev {
            (f_r - p) / (f_r - f_prev)
        } else {
            0.0
        };
        (r as f64, alpha)
    }

    /// r_p − α, floored at 0 (see the module note on r_p = 0).
    fn limit_count(&self, p: f64) -> f64 {
        let (r, alpha) = self.quantile_interpolation(p);
        (r - alpha).max(0.0)
    }
}

fn check_theta_n(theta: f64, n: u64) -> Result<()> {
    if !(0.0..=1.0).contains(&theta) {
        return Err(StatsError::OutOfRange {
            what: "theta",
            range: "[0, 1]",
            value: theta,
        });
    }
    if n == 0 {
        return Err(StatsError::OutOfRange {
            what: "n",
            range: "1 or more",
            value: 0.0,
        });
    }
    Ok(())
}

/// The interpolated exact binomial limit for tail probability `p` ∈ (0, 1),
/// as a proportion: `max(0, (r_p − α) / n)`.
pub fn binomial_limit(theta: f64, n: u64, p: f64) -> Result<f64> {
    check_theta_n(theta, n)?;
    if !(p > 0.0 && p < 1.0) {
        return Err(StatsError::OutOfRange {
            what: "tail probability",
            range: "(0, 1)",
            value: p,
        });
    }
    Ok(BinomialCdf::new(n, theta).limit_count(p) / n as f64)
}

/// The 95% and 99.8% limits for a unit with `n` cases (n ≥ 1), θ ∈ [0, 1].
pub fn funnel_limits(theta: f64, n: u64) -> Result<FunnelLimits> {
    check_theta_n(theta, n)?;
    let cdf = BinomialCdf::new(n, theta);
    let nf = n as f64;
    Ok(FunnelLimits {
        theta,
        n,
        lower_998: cdf.limit_count(ALARM_TAILS.0) / nf,
        lower_95: cdf.limit_count(ALERT_TAILS.0) / nf,
        upper_95: cdf.limit_count(ALERT_TAILS.1) / nf,
        upper_998: cdf.limit_count(ALARM_TAILS.1) / nf,
    })
}

/// Classifies a unit with `k` of `n` cases having the outcome against the
/// funnel for registry-wide proportion `theta`: **alarm** if k/n is strictly
/// beyond the 99.8% limit on the bad side, **alert** if strictly beyond the
/// 95% limit, else **within**. A unit on a limit is within it.
///
/// The comparison is made on the count scale (k against r_p − α) so that no
/// division rounds a unit across a limit.
///
/// What the comparison means, because the interpolated limit r_p − α lies
/// between r_p − 1 and r_p: on the bad-low side, k/n below the limit is
/// exactly the one-sided binomial test P(Y ≤ k) < p. On the bad-high side a
/// unit with exactly r_p events is already above the limit, although
/// P(Y ≥ r_p) = 1 − F(r_p − 1) may exceed 1 − p — e.g. θ = 0.02, n = 1: one
/// death is an alarm with P(Y ≥ 1) = 0.02. This is Spiegelhalter's
/// interpolation as DOMAIN.md §6.4 specifies it; read small-n units with care.
pub fn classify(k: u64, n: u64, theta: f64, bad: BadDirection) -> Result<FunnelClass> {
    check_theta_n(theta, n)?;
    if k > n {
        return Err(StatsError::CountExceedsTotal { k, n });
    }
    let cdf = BinomialCdf::new(n, theta);
    let k = k as f64;
    let beyond = |p: f64| {
        let limit = cdf.limit_count(p);
        match bad {
            BadDirection::Low => k < limit,
            BadDirection::High => k > limit,
        }
    };
    let (alert_p, alarm_p) = match bad {
        BadDirection::Low => (ALERT_TAILS.0, ALARM_TAILS.0),
        BadDirection::High => (ALERT_TAILS.1, ALARM_TAILS.1),
    };
    Ok(if beyond(alarm_p) {
        FunnelClass::Alarm
    } else if beyond(alert_p) {
        FunnelClass::Alert
    } else {
        FunnelClass::Within
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_limit() {
        // θ = 0.1, n = 10: F(2) = 0.9298091736, F(3) = 0.9872048016;
        // p = 0.975 → r = 3, α = (F(3) − 0.975)/(F(3) − F(2)).
        let f2 = 0.929_809_173_6;
        let f3 = 0.987_204_801_6;
        let want = (3.0 - (f3 - 0.975) / (f3 - f2)) / 10.0;
        let got = binomial_limit(0.1, 10, 0.975).unwrap();
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        // Lower 95%: F(0) = 0.3487 ≥ 0.025 → r = 0 → floored at 0.
        assert_eq!(binomial_limit(0.1, 10, 0.025).unwrap(), 0.0);
    }

    #[test]
    fn single_case_without_event_is_never_flagged_high() {
        // θ = 0.02, n = 1: F(0) = 0.98 ≥ 0.975, the raw upper limit is < 0.
        assert_eq!(
            classify(0, 1, 0.02, BadDirection::High).unwrap(),
            FunnelClass::Within
        );
        // One death in one case lies above the interpolated 99.8% limit
        // (r = 1, α = 0.001/0.02 → 0.95) although P(Y ≥ 1) = 0.02: on the
        // bad-high side the interpolation flags k = r_p (see `classify`).
        assert_eq!(binomial_limit(0.02, 1, 0.999).unwrap(), 0.95);
        assert_eq!(
            classify(1, 1, 0.02, BadDirection::High).unwrap(),
            FunnelClass::Alarm
        );
    }

    #[test]
    fn classification_by_direction() {
        assert_eq!(
            classify(0, 100, 0.5, BadDirection::Low).unwrap(),
            FunnelClass::Alarm
        );
        assert_eq!(
            classify(0, 100, 0.5, BadDirection::High).unwrap(),
            FunnelClass::Within
        );
        assert_eq!(
            classify(50, 100, 0.5, BadDirection::High).unwrap(),
            FunnelClass::Within
        );
        // 62/100 vs θ = 0.5: P(Y ≥ 62) ≈ 0.0105 → alert.
        assert_eq!(
            classify(62, 100, 0.5, BadDirection::High).unwrap(),
            FunnelClass::Alert
        );
        assert_eq!(
            classify(70, 100, 0.5, BadDirection::High).unwrap(),
            FunnelClass::Alarm
        );
    }

    #[test]
    fn limits_are_ordered_and_degenerate_thetas_work() {
        for &theta in &[0.0, 1e-9, 0.03, 0.5, 0.97, 1.0] {
            for &n in &[1, 2, 7, 50, 1000, 20_000] {
                let l = funnel_limits(theta, n).unwrap();
                assert!(0.0 <= l.lower_998 && l.lower_998 <= l.lower_95);
                assert!(l.lower_95 <= l.upper_95 && l.upper_95 <= l.upper_998);
                assert!(l.upper_998 <= 1.0);
            }
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(funnel_limits(1.5, 10).is_err());
        assert!(funnel_limits(f64::NAN, 10).is_err());
        assert!(funnel_limits(0.5, 0).is_err());
        assert!(binomial_limit(0.5, 10, 1.0).is_err());
        assert!(classify(11, 10, 0.5, BadDirection::High).is_err());
    }
}
