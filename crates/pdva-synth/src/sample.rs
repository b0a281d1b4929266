//! Small sampling helpers over the seeded generator, and date arithmetic.

use chrono::{NaiveDate, TimeDelta};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal};

/// The generator every synthetic value is drawn from.
pub(crate) type SynthRng = ChaCha8Rng;

/// `date` moved by `days` (negative: earlier).
pub(crate) fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    date + TimeDelta::days(days)
}

/// Days from `from` to `to`.
pub(crate) fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// True with probability `p` (clamped to 0–1).
pub(crate) fn chance(rng: &mut SynthRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// A whole number uniformly in `lo..=hi` (`lo` when `hi < lo`).
pub(crate) fn int(rng: &mut SynthRng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// A number uniformly in `lo..hi`.
pub(crate) fn uniform(rng: &mut SynthRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// A normal deviate with this mean and standard deviation.
pub(crate) fn normal(rng: &mut SynthRng, mean: f64, sd: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    mean + sd * z
}

/// A standard exponential deviate (rate 1).
pub(crate) fn exp1(rng: &mut SynthRng) -> f64 {
    rng.sample(Exp1)
}

/// One of `choices`, with probability proportional to its weight.
pub(crate) fn pick<T: Copy>(rng: &mut SynthRng, choices: &[(T, f64)]) -> T {
    let total: f64 = choices.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (value, weight) in choices {
        if x < *weight {
            return *value;
        }
        x -= weight;
    }
    choices.last().expect("at least one choice").0
}

/// One element of a non-empty slice, uniformly.
pub(crate) fn one_of<'a, T>(rng: &mut SynthRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A piecewise-constant hazard over days since day 0: `hazards[i]` per day
/// applies from `breaks[i]` up to `breaks[i + 1]`; the last applies for ever.
pub(crate) struct PiecewiseHazard {
    /// Start day of each segment; the first is 0.
    pub breaks: &'static [f64],
    /// Hazard per day in each segment.
    pub hazards: &'static [f64],
}

impl PiecewiseHazard {
    /// A time to event (days, fractional) under this hazard multiplied by
    /// `multiplier`; infinite when it never happens.
    pub fn sample(&self, rng: &mut SynthRng, multiplier: f64) -> f64 {
        let mut budget = exp1(rng);
        for (i, &h) in self.hazards.iter().enumerate() {
            let rate = h * multiplier;
            let start = self.breaks[i];
            let end = self.breaks.get(i + 1).copied().unwrap_or(f64::INFINITY);
            if rate <= 0.0 {
                continue;
            }
            let needed = budget / rate;
            if start + needed < end {
                return start + needed;
            }
            budget -= rate * (end - start);
        }
        f64::INFINITY
    }
}

/// The SplitMix64 finaliser: a cheap, well-mixed 64-bit hash.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn piecewise_hazard_matches_its_cumulative_hazard() {
        // Constant 0.01/day: P(T <= 100) = 1 - exp(-1).
        let h = PiecewiseHazard {
            breaks: &[0.0, 50.0],
            hazards: &[0.01, 0.01],
        };
        let mut rng = SynthRng::seed_from_u64(1);
        let n = 20_000;
        let hits = (0..n).filter(|_| h.sample(&mut rng, 1.0) <= 100.0).count();
        let p = hits as f64 / n as f64;
        assert!((p - (1.0 - (-1.0f64).exp())).abs() < 0.015, "{p}");
        // A zero hazard never fires.
        let never = PiecewiseHazard {
            breaks: &[0.0],
            hazards: &[0.0],
        };
        assert!(never.sample(&mut rng, 5.0).is_infinite());
    }

    #[test]
    fn pick_respects_weights() {
        let mut rng = SynthRng::seed_from_u64(2);
        let n = 10_000;
        let a = (0..n)
            .filter(|_| pick(&mut rng, &[('a', 3.0), ('b', 1.0)]) == 'a')
            .count();
        assert!((a as f64 / n as f64 - 0.75).abs() < 0.02);
    }
}
