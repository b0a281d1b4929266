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
//! Cost: F is built per (θ, n) by the recurrence of the binomial
//! probabilities outward from the mode until they underflow, normalised by
//! their sum, which needs no gamma functions and keeps about 1e-13 absolute
//! accuracy: O(√n) terms, as the terms beyond are 0.

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

/// The Binomial(n, θ) distribution function F(0..=n), held over the window
/// of r whose probabilities do not underflow (about 75 standard deviations
/// wide whatever n): below it F is exactly 0 and above it exactly 1, as the
/// full running sum would give, so a unit of a hundred thousand cases costs
/// a few thousand terms, not a hundred thousand.
struct BinomialCdf {
    /// The first r of the window.
    lo: usize,
    /// F(lo), F(lo + 1), …, to the last r of the window.
    cdf: Vec<f64>,
    /// n + 1, the number of values F is defined on.
    len: usize,
}

impl BinomialCdf {
    fn new(n: u64, theta: f64) -> Self {
        let len = n as usize + 1;
        // The unnormalised probabilities of the window, and where it starts.
        let (lo, w) = if theta <= 0.0 {
            (0, vec![1.0])
        } else if theta >= 1.0 {
            (len - 1, vec![1.0])
        } else {
            // Unnormalised probabilities relative to the mode, by the ratio
            // P(r+1)/P(r) = (n − r)/(r + 1) · θ/(1 − θ), walking out both ways
            // until they underflow (all beyond are 0); normalising by the sum
            // removes the need for the mode's own probability.
            let odds = theta / (1.0 - theta);
            let nf = n as f64;
            let mode = (((nf + 1.0) * theta).floor() as usize).min(len - 1);
            let mut below = Vec::new();
            let mut v = 1.0;
            for r in (1..=mode).rev() {
                v *= r as f64 / (nf - r as f64 + 1.0) / odds;
                if v < 1e-300 {
                    break;
                }
                below.push(v);
            }
            let lo = mode - below.len();
            let mut w = below;
            w.reverse();
            w.push(1.0);
            v = 1.0;
            for r in mode..len - 1 {
                v *= (nf - r as f64) / (r as f64 + 1.0) * odds;
                if v < 1e-300 {
                    break;
                }
                w.push(v);
            }
            (lo, w)
        };
        // The zeros outside the window add nothing to either sum, so the
        // window's running sum ends at `total` exactly: F = 1 beyond it.
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let cdf = w
            .iter()
            .map(|x| {
                acc += x;
                (acc / total).min(1.0)
            })
            .collect();
        Self { lo, cdf, len }
    }

    /// F(r) for r ≥ −1 (F(−1) = 0).
    fn at(&self, r: isize) -> f64 {
        if r < self.lo as isize {
            0.0
        } else {
            self.cdf.get(r as usize - self.lo).copied().unwrap_or(1.0)
        }
    }

    /// (r_p, α) for tail probability p ∈ (0, 1).
    fn quantile_interpolation(&self, p: f64) -> (f64, f64) {
        // F is non-decreasing, 0 < p below the window and 1 ≥ p above it,
        // so the first r with F(r) ≥ p is in the window or just after it.
        let r = (self.lo + self.cdf.partition_point(|&f| f < p)).min(self.len - 1);
        let f_r = self.at(r as isize);
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

    /// r_p − α for the four tails: lower 99.8%, lower 95%, upper 95%,
    /// upper 99.8%.
    fn limit_counts(&self) -> [f64; 4] {
        [
            self.limit_count(ALARM_TAILS.0),
            self.limit_count(ALERT_TAILS.0),
            self.limit_count(ALERT_TAILS.1),
            self.limit_count(ALARM_TAILS.1),
        ]
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
    Ok(limits_of(
        theta,
        n,
        BinomialCdf::new(n, theta).limit_counts(),
    ))
}

/// The limits from the four limit counts of [`BinomialCdf::limit_counts`].
fn limits_of(theta: f64, n: u64, counts: [f64; 4]) -> FunnelLimits {
    let nf = n as f64;
    FunnelLimits {
        theta,
        n,
        lower_998: counts[0] / nf,
        lower_95: counts[1] / nf,
        upper_95: counts[2] / nf,
        upper_998: counts[3] / nf,
    }
}

/// The class of k (as a count) against the four limit counts.
fn class_of(k: u64, bad: BadDirection, counts: [f64; 4]) -> FunnelClass {
    let k = k as f64;
    // The limits on the bad side, 99.8% then 95%, and whether k is beyond one.
    let (alarm, alert) = match bad {
        BadDirection::Low => (counts[0], counts[1]),
        BadDirection::High => (counts[3], counts[2]),
    };
    let beyond = |limit: f64| match bad {
        BadDirection::Low => k < limit,
        BadDirection::High => k > limit,
    };
    if beyond(alarm) {
        FunnelClass::Alarm
    } else if beyond(alert) {
        FunnelClass::Alert
    } else {
        FunnelClass::Within
    }
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
    Ok(class_of(k, bad, BinomialCdf::new(n, theta).limit_counts()))
}

/// [`funnel_limits`] and [`classify`] of one unit together, from one
/// distribution function (the costly part of each).
pub fn funnel_limits_and_class(
    k: u64,
    n: u64,
    theta: f64,
    bad: BadDirection,
) -> Result<(FunnelLimits, FunnelClass)> {
    check_theta_n(theta, n)?;
    if k > n {
        return Err(StatsError::CountExceedsTotal { k, n });
    }
    let counts = BinomialCdf::new(n, theta).limit_counts();
    Ok((limits_of(theta, n, counts), class_of(k, bad, counts)))
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

    /// F over all of 0..=n, as it was built before the window: the
    /// window must give the same limits to the bit.
    fn full_cdf(n: u64, theta: f64) -> Vec<f64> {
        let len = n as usize + 1;
        let mut w = vec![0.0_f64; len];
        if theta <= 0.0 {
            w[0] = 1.0;
        } else if theta >= 1.0 {
            w[len - 1] = 1.0;
        } else {
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
        w.iter()
            .map(|x| {
                acc += x;
                (acc / total).min(1.0)
            })
            .collect()
    }

    #[test]
    fn the_window_gives_the_full_distribution_function_to_the_bit() {
        for &theta in &[0.0, 1e-9, 0.001, 0.03, 0.2718, 0.5, 0.97, 0.999, 1.0] {
            for &n in &[1, 2, 7, 50, 1000, 20_000, 300_000] {
                let full = full_cdf(n, theta);
                let window = BinomialCdf::new(n, theta);
                for (r, f) in full.iter().enumerate() {
                    assert_eq!(
                        window.at(r as isize).to_bits(),
                        f.to_bits(),
                        "{theta} {n} {r}"
                    );
                }
                for p in [ALARM_TAILS.0, ALERT_TAILS.0, ALERT_TAILS.1, ALARM_TAILS.1] {
                    let r = full.partition_point(|&f| f < p).min(full.len() - 1);
                    let prev = if r == 0 { 0.0 } else { full[r - 1] };
                    let alpha = if full[r] > prev {
                        (full[r] - p) / (full[r] - prev)
                    } else {
                        0.0
                    };
                    let want = (r as f64 - alpha).max(0.0);
                    assert_eq!(window.limit_count(p).to_bits(), want.to_bits());
                }
                for k in [0, n / 3, n / 2, n] {
                    for bad in [BadDirection::Low, BadDirection::High] {
                        let (limits, class) = funnel_limits_and_class(k, n, theta, bad).unwrap();
                        assert_eq!(limits, funnel_limits(theta, n).unwrap());
                        assert_eq!(class, classify(k, n, theta, bad).unwrap());
                    }
                }
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
