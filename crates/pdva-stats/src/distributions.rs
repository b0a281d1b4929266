//! The few distribution functions the registry's statistics need, written out
//! here rather than taken from a general library so that their accuracy is
//! known and tested: the oracle tests compare them with `scipy.stats.chi2`.
//!
//! * `ln Γ` by Stirling's series (seven Bernoulli terms, argument shifted to
//!   ≥ 10), relative error below 1e-15.
//! * Regularised incomplete gamma `P(a, x)` and `Q(a, x)`: power series below
//!   `x = a + 1`, Lentz continued fraction above; the common factor
//!   `xᵃe⁻ˣ/Γ(a)` is computed through `a·(t − 1 − ln t)` with `t = x/a` for
//!   large `a`, so that large event counts lose no accuracy to cancellation.
//! * Gamma (hence chi-squared) quantiles by safeguarded Halley iteration on
//!   whichever tail is smaller.

use crate::error::{Result, StatsError, check_finite};

/// Φ⁻¹(0.975): the normal quantile for a two-sided 95% interval.
///
/// The exact value (`scipy.stats.norm.ppf(0.975)`), never 1.96: the
/// oracles agree to 1e-6 only with this.
pub const Z_95: f64 = 1.959_963_984_540_054;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Stirling's correction `ln Γ(z) − [(z − ½) ln z − z + ½ ln 2π]` for z ≥ 10.
fn stirling_correction(z: f64) -> f64 {
    // B₂ₖ / (2k (2k − 1)) for k = 1..7; truncation error < 1e-17 at z = 10.
    const C: [f64; 7] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
    ];
    let r = 1.0 / z;
    let r2 = r * r;
    let mut sum = 0.0;
    for c in C.iter().rev() {
        sum = sum * r2 + c;
    }
    sum * r
}

/// `ln Γ(x)` for `x > 0`.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    debug_assert!(x > 0.0);
    let mut z = x;
    let mut product = 1.0;
    while z < 10.0 {
        product *= z;
        z += 1.0;
    }
    (z - 0.5) * z.ln() - z + LN_SQRT_2PI + stirling_correction(z) - product.ln()
}

/// `u − ln(1 + u)` without cancellation for small `u` (u > −1).
fn u_minus_ln1p(u: f64) -> f64 {
    if u.abs() < 0.25 {
        // u²/2 − u³/3 + u⁴/4 − …; |u| < 1/4 so 40 terms reach 1e-24.
        let mut term = u * u;
        let mut sum = 0.0;
        let mut k = 2.0;
        loop {
            let add = term / k;
            sum += add;
            if add.abs() <= sum.abs() * 1e-17 || k > 60.0 {
                break;
            }
            term *= -u;
            k += 1.0;
        }
        sum
    } else {
        u - u.ln_1p()
    }
}

/// `ln(xᵃ e⁻ˣ / Γ(a))`, the common factor of the incomplete gamma functions.
fn ln_gamma_prefactor(a: f64, x: f64) -> f64 {
    if a >= 10.0 {
        // With ln Γ(a) = (a − ½) ln a − a + ln √(2π) + μ(a) the large terms
        // cancel analytically, leaving −a (t − 1 − ln t) with t = x / a.
        let u = (x - a) / a;
        -a * u_minus_ln1p(u) + 0.5 * a.ln() - LN_SQRT_2PI - stirling_correction(a)
    } else {
        a * x.ln() - x - ln_gamma(a)
    }
}

const MAX_ITER: usize = 1_000_000;

/// Lower regularised incomplete gamma by its power series (x < a + 1).
fn gamma_p_series(a: f64, x: f64) -> f64 {
    let mut ap = a;
    let mut del = 1.0 / a;
    let mut sum = del;
    for _ in 0..MAX_ITER {
        ap += 1.0;
        del *= x / ap;
        sum += del;
        if del.abs() < sum.abs() * 1e-17 {
            break;
        }
    }
    sum * ln_gamma_prefactor(a, x).exp()
}

/// Upper regularised incomplete gamma by Lentz's continued fraction (x ≥ a + 1).
fn gamma_q_fraction(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..MAX_ITER {
        let i = i as f64;
        let an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    ln_gamma_prefactor(a, x).exp() * h
}

/// `P(a, x)`, the Gamma(a, 1) distribution function (a > 0).
pub(crate) fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else if x.is_infinite() {
        1.0
    } else if x < a + 1.0 {
        gamma_p_series(a, x)
    } else {
        1.0 - gamma_q_fraction(a, x)
    }
}

/// `Q(a, x) = 1 − P(a, x)`, computed directly in the upper tail (a > 0).
pub(crate) fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else if x.is_infinite() {
        0.0
    } else if x < a + 1.0 {
        1.0 - gamma_p_series(a, x)
    } else {
        gamma_q_fraction(a, x)
    }
}

/// The `p` quantile of Gamma(a, 1): the `x` with `P(a, x) = p` (a > 0, 0 ≤ p ≤ 1).
pub(crate) fn gamma_p_inv(a: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    // Solve on the smaller tail so that the target keeps its relative precision.
    let upper = p > 0.5;
    let target = if upper { 1.0 - p } else { p };
    // f(x) increases in x: P(a, x) − p, or p_upper − Q(a, x).
    let f = |x: f64| {
        if upper {
            target - gamma_q(a, x)
        } else {
            gamma_p(a, x) - target
        }
    };
    let mut x = initial_gamma_quantile(a, p);
    // Bracket the root: f(lo) < 0 < f(hi).
    let mut lo = 0.0_f64;
    let mut hi = f64::INFINITY;
    for _ in 0..400 {
        let fx = f(x);
        if fx == 0.0 {
            return x;
        }
        if fx < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        // Halley step using the density and its log-derivative.
        let density = (ln_gamma_prefactor(a, x) - x.ln()).exp();
        let mut next = f64::NAN;
        if density > 0.0 && density.is_finite() {
            let u = fx / density;
            let curvature = (a - 1.0) / x - 1.0;
            let step = u / (1.0 - 0.5 * (u * curvature).clamp(-1.0, 1.0));
            next = x - step;
        }
        if !(next > lo && next < hi) {
            next = if hi.is_finite() {
                0.5 * (lo + hi)
            } else {
                2.0 * x.max(1.0)
            };
        }
        if (next - x).abs() <= 4.0 * f64::EPSILON * x.abs()
            || (hi.is_finite() && hi - lo <= 4.0 * f64::EPSILON * hi)
        {
            return next;
        }
        x = next;
    }
    x
}

/// Starting point for the gamma quantile (Wilson–Hilferty for a > 1).
fn initial_gamma_quantile(a: f64, p: f64) -> f64 {
    if a > 1.0 {
        // Abramowitz & Stegun 26.2.22 for the normal quantile z = Φ⁻¹(p).
        let tail = if p < 0.5 { p } else { 1.0 - p };
        let t = (-2.0 * tail.ln()).sqrt();
        let upper_z = t - (2.307_53 + t * 0.270_61) / (1.0 + t * (0.992_29 + t * 0.044_81));
        let z = if p < 0.5 { -upper_z } else { upper_z };
        let w = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * a.sqrt());
        (a * w * w * w).max(1e-3)
    } else {
        let t = 1.0 - a * (0.253 + a * 0.12);
        if p < t {
            (p / t).powf(1.0 / a)
        } else {
            1.0 - (1.0 - (p - t) / (1.0 - t)).ln()
        }
    }
}

fn check_df(df: f64) -> Result<f64> {
    check_finite("degrees of freedom", df)?;
    if df <= 0.0 {
        return Err(StatsError::OutOfRange {
            what: "degrees of freedom",
            range: "(0, ∞)",
            value: df,
        });
    }
    Ok(df)
}

/// Upper tail `P(X > x)` of the chi-squared distribution with `df` degrees of
/// freedom (`scipy.stats.chi2.sf`). `x ≤ 0` gives 1.
pub fn chi_squared_sf(x: f64, df: f64) -> Result<f64> {
    let df = check_df(df)?;
    if x.is_nan() {
        return Err(StatsError::NotFinite {
            what: "chi-squared statistic",
            value: x,
        });
    }
    Ok(gamma_q(df / 2.0, x / 2.0))
}

/// The `p` quantile of the chi-squared distribution with `df` degrees of
/// freedom (`scipy.stats.chi2.ppf`); `p = 1` gives infinity.
pub fn chi_squared_quantile(p: f64, df: f64) -> Result<f64> {
    let df = check_df(df)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(StatsError::OutOfRange {
            what: "probability",
            range: "[0, 1]",
            value: p,
        });
    }
    Ok(2.0 * gamma_p_inv(df / 2.0, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_known_values() {
        // Γ(n) = (n − 1)!, Γ(½) = √π.
        let mut factorial = 1.0_f64;
        for n in 1..30 {
            if n > 1 {
                factorial *= (n - 1) as f64;
            }
            let lg = ln_gamma(n as f64);
            assert!(
                (lg - factorial.ln()).abs() <= 1e-14 * lg.abs().max(1.0),
                "n={n}"
            );
        }
        let half = ln_gamma(0.5);
        let want = 0.5 * std::f64::consts::PI.ln();
        assert!((half - want).abs() < 1e-14, "{half} vs {want}");
    }

    #[test]
    fn chi_squared_textbook_quantiles() {
        // Values from standard tables (scipy.stats.chi2.ppf, 16 digits).
        let cases = [
            (0.95, 1.0, 3.841_458_820_694_124),
            (0.975, 2.0, 7.377_758_908_227_871),
            (0.025, 2.0, 0.050_635_615_968_579_75),
            (0.5, 10.0, 9.341_817_765_591_97),
        ];
        for (p, df, want) in cases {
            let got = chi_squared_quantile(p, df).unwrap();
            assert!(close(got, want, 1e-13), "p={p} df={df}: {got} vs {want}");
        }
    }

    #[test]
    fn chi_squared_sf_matches_exponential_for_two_df() {
        // With 2 df the chi-squared is exponential with mean 2: sf(x) = e^(−x/2).
        for x in [0.0, 0.1, 1.0, 5.0, 30.0, 200.0] {
            let got = chi_squared_sf(x, 2.0).unwrap();
            assert!(close(got, (-x / 2.0).exp(), 1e-14), "x={x}");
        }
    }

    #[test]
    fn quantile_inverts_distribution_function() {
        for &a in &[0.5, 1.0, 1.5, 3.0, 10.0, 57.5, 1000.0, 100_000.0] {
            for &p in &[1e-10, 0.001, 0.025, 0.3, 0.5, 0.9, 0.975, 0.999] {
                let x = gamma_p_inv(a, p);
                let back = if p > 0.5 {
                    1.0 - gamma_q(a, x)
                } else {
                    gamma_p(a, x)
                };
                assert!(close(back, p, 1e-12), "a={a} p={p}: x={x} back={back}");
            }
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(chi_squared_quantile(1.5, 2.0).is_err());
        assert!(chi_squared_quantile(0.5, 0.0).is_err());
        assert!(chi_squared_sf(f64::NAN, 1.0).is_err());
        assert_eq!(chi_squared_quantile(1.0, 3.0).unwrap(), f64::INFINITY);
        assert_eq!(chi_squared_quantile(0.0, 3.0).unwrap(), 0.0);
    }
}
