//! Sample quantiles by Hyndman & Fan's type 7 — numpy's default
//! (`method="linear"`) and R's default: for sorted x₀ ≤ … ≤ xₙ₋₁ and
//! h = (n − 1)q, Q(q) = x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋₊₁ − x⌊h⌋).
//!
//! Cost: one O(n log n) sort per call (per slice for [`quantiles`]);
//! [`median_iqr_mut`] selects instead, in O(n); [`IntegerSample`] counts
//! whole numbers, in O(n + range).

use serde::Serialize;

use crate::error::{Result, StatsError};

/// Median and interquartile range of a sample (type 7 quantiles).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MedianIqr {
    /// Number of values.
    pub n: usize,
    /// The 0.5 quantile.
    pub median: f64,
    /// The 0.25 quantile (lower quartile).
    pub q1: f64,
    /// The 0.75 quantile (upper quartile).
    pub q3: f64,
    /// q3 − q1.
    pub iqr: f64,
}

impl MedianIqr {
    /// From `n` values' 0.25, 0.5 and 0.75 quantiles.
    fn from_quartiles(n: usize, [q1, median, q3]: [f64; 3]) -> Self {
        Self {
            n,
            median,
            q1,
            q3,
            iqr: q3 - q1,
        }
    }
}

fn sorted_copy(data: &[f64]) -> Result<Vec<f64>> {
    let mut v = Vec::with_capacity(data.len());
    for &x in data {
        if !x.is_finite() {
            return Err(StatsError::NotFinite {
                what: "value",
                value: x,
            });
        }
        v.push(x);
    }
    v.sort_unstable_by(f64::total_cmp);
    Ok(v)
}

fn check_q(q: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&q) {
        Ok(q)
    } else {
        Err(StatsError::OutOfRange {
            what: "quantile level",
            range: "[0, 1]",
            value: q,
        })
    }
}

/// Where the type 7 quantile `q` of n values lies: h = (n − 1)q as the
/// rank ⌊h⌋ and the fraction h − ⌊h⌋ of the way to the next rank.
fn type7_position(n: usize, q: f64) -> (usize, f64) {
    let h = (n - 1) as f64 * q;
    let lo = h.floor();
    (lo as usize, h - lo)
}

/// numpy's _lerp from order statistic `a` to the next, `b`: interpolate from
/// the nearer end so that the result is monotone in q and exact at the ends.
fn interpolate(a: f64, b: f64, frac: f64) -> f64 {
    if frac >= 0.5 {
        b - (b - a) * (1.0 - frac)
    } else {
        a + (b - a) * frac
    }
}

/// Type 7 quantile of sorted, non-empty data.
fn type7(sorted: &[f64], q: f64) -> f64 {
    let (i, frac) = type7_position(sorted.len(), q);
    if i + 1 >= sorted.len() {
        return sorted[sorted.len() - 1];
    }
    interpolate(sorted[i], sorted[i + 1], frac)
}

/// The type 7 quantile `q` ∈ [0, 1] of `data`; `None` for an empty slice.
/// NaN or infinite values are an error.
pub fn quantile(data: &[f64], q: f64) -> Result<Option<f64>> {
    let q = check_q(q)?;
    let sorted = sorted_copy(data)?;
    Ok((!sorted.is_empty()).then(|| type7(&sorted, q)))
}

/// Several type 7 quantiles of `data` with one sort; `None` for an empty slice.
pub fn quantiles(data: &[f64], qs: &[f64]) -> Result<Option<Vec<f64>>> {
    for &q in qs {
        check_q(q)?;
    }
    let sorted = sorted_copy(data)?;
    if sorted.is_empty() {
        return Ok(None);
    }
    Ok(Some(qs.iter().map(|&q| type7(&sorted, q)).collect()))
}

/// The median (type 7, i.e. the mean of the middle two for even n).
pub fn median(data: &[f64]) -> Result<Option<f64>> {
    quantile(data, 0.5)
}

/// Median, quartiles and IQR; `None` for an empty slice.
pub fn median_iqr(data: &[f64]) -> Result<Option<MedianIqr>> {
    let Some(q) = quantiles(data, &[0.25, 0.5, 0.75])? else {
        return Ok(None);
    };
    Ok(Some(MedianIqr::from_quartiles(
        data.len(),
        [q[0], q[1], q[2]],
    )))
}

/// [`median_iqr`] of data it may reorder: three selections (O(n) on
/// average) instead of a sort, with the same order statistics and the same
/// interpolation, so the same values to the bit. For a report's many large
/// samples.
pub fn median_iqr_mut(data: &mut [f64]) -> Result<Option<MedianIqr>> {
    if let Some(&x) = data.iter().find(|x| !x.is_finite()) {
        return Err(StatsError::NotFinite {
            what: "value",
            value: x,
        });
    }
    if data.is_empty() {
        return Ok(None);
    }
    // Ranks below `placed` hold their order statistics or smaller values
    // only; the ranks asked for do not decrease.
    let mut placed = 0;
    let mut q = [0.0; 3];
    for (out, level) in q.iter_mut().zip([0.25, 0.5, 0.75]) {
        *out = type7_select(data, &mut placed, level);
    }
    Ok(Some(MedianIqr::from_quartiles(data.len(), q)))
}

/// [`type7`] by selection: the order statistic at rank r ≥ `placed − 1`,
/// moving it into place.
fn type7_select(data: &mut [f64], placed: &mut usize, q: f64) -> f64 {
    let n = data.len();
    let mut at_rank = |r: usize| {
        if r >= *placed {
            data[*placed..].select_nth_unstable_by(r - *placed, f64::total_cmp);
            *placed = r + 1;
        }
        data[r]
    };
    let (i, frac) = type7_position(n, q);
    if i + 1 >= n {
        return at_rank(n - 1);
    }
    let a = at_rank(i);
    // The next order statistic is the least of those above rank i.
    let b = data[i + 1..]
        .iter()
        .copied()
        .min_by(f64::total_cmp)
        .expect("i + 1 < n");
    interpolate(a, b, frac)
}

/// A sample of whole numbers kept as counts per value: [`median_iqr`] of it
/// in O(n + range) with no values stored, for the report's large samples of
/// scores on short integer scales (VascuQoL-6, EQ VAS and their changes).
/// The order statistics are the same numbers, and the interpolation the same
/// arithmetic, so the result is [`median_iqr`]'s to the bit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegerSample {
    /// The smallest value `counts[0]` counts.
    lowest: i64,
    /// How many times each value from `lowest` on was seen.
    counts: Vec<u64>,
    n: usize,
}

impl IntegerSample {
    /// An empty sample.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of values added.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds `value`. The counts span the values seen, so a sample whose
    /// values lie far apart costs memory in proportion to that span.
    pub fn add(&mut self, value: i64) {
        if self.counts.is_empty() {
            self.lowest = value;
        } else if value < self.lowest {
            let grow = usize::try_from(self.lowest - value).expect("a span that fits in memory");
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.lowest = value;
        }
        let i = usize::try_from(value - self.lowest).expect("a span that fits in memory");
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.n += 1;
    }

    /// The value at `rank` (0-based) in sorted order, scanning from
    /// (`value index`, `values before it`) and returning where it stopped.
    fn at_rank(&self, rank: usize, from: (usize, usize)) -> (f64, (usize, usize)) {
        let (mut i, mut before) = from;
        while before + self.counts[i] as usize <= rank {
            before += self.counts[i] as usize;
            i += 1;
        }
        ((self.lowest + i as i64) as f64, (i, before))
    }

    /// Median, quartiles and IQR (type 7); `None` for an empty sample.
    pub fn median_iqr(&self) -> Option<MedianIqr> {
        if self.n == 0 {
            return None;
        }
        let mut q = [0.0; 3];
        let mut from = (0, 0);
        for (out, level) in q.iter_mut().zip([0.25, 0.5, 0.75]) {
            let (i, frac) = type7_position(self.n, level);
            let (a, at) = self.at_rank(i, from);
            from = at;
            *out = if i + 1 >= self.n {
                a
            } else {
                interpolate(a, self.at_rank(i + 1, from).0, frac)
            };
        }
        Some(MedianIqr::from_quartiles(self.n, q))
    }
}

/// The interquartile range q3 − q1 (type 7); `None` for an empty slice.
pub fn iqr(data: &[f64]) -> Result<Option<f64>> {
    Ok(median_iqr(data)?.map(|m| m.iqr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked() {
        let x = [7.0, 1.0, 3.0, 5.0];
        // sorted 1 3 5 7; h = 3q.
        assert_eq!(quantile(&x, 0.0).unwrap(), Some(1.0));
        assert_eq!(quantile(&x, 1.0).unwrap(), Some(7.0));
        assert_eq!(median(&x).unwrap(), Some(4.0));
        assert_eq!(quantile(&x, 0.25).unwrap(), Some(2.5));
        assert_eq!(quantile(&x, 0.75).unwrap(), Some(5.5));
        assert_eq!(iqr(&x).unwrap(), Some(3.0));
        assert_eq!(median(&[42.0]).unwrap(), Some(42.0));
    }

    #[test]
    fn selection_gives_the_sorted_quantiles_to_the_bit() {
        let mut seed = 7_u64;
        for n in [1, 2, 3, 4, 5, 8, 13, 100, 1001] {
            for distinct in [2, 7, 1000] {
                let data: Vec<f64> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        ((seed >> 33) % distinct) as f64 / 3.0 - 1.0
                    })
                    .chain([-0.0, 0.0].into_iter().take(n % 3))
                    .collect();
                let mut scratch = data.clone();
                assert_eq!(
                    median_iqr_mut(&mut scratch).unwrap(),
                    median_iqr(&data).unwrap()
                );
            }
        }
        assert_eq!(median_iqr_mut(&mut []).unwrap(), None);
        assert!(median_iqr_mut(&mut [1.0, f64::NAN]).is_err());
    }

    #[test]
    fn integer_counts_give_the_sorted_quantiles_to_the_bit() {
        let mut seed = 11_u64;
        for n in [1, 2, 3, 4, 5, 8, 13, 100, 1001] {
            for span in [1, 2, 7, 201] {
                let values: Vec<i64> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        ((seed >> 33) % span) as i64 - span as i64 / 2
                    })
                    .collect();
                let mut sample = IntegerSample::new();
                for &v in &values {
                    sample.add(v);
                }
                let floats: Vec<f64> = values.iter().map(|&v| v as f64).collect();
                assert_eq!(sample.len(), n);
                assert_eq!(sample.median_iqr(), median_iqr(&floats).unwrap());
            }
        }
        assert_eq!(IntegerSample::new().median_iqr(), None);
        assert!(IntegerSample::new().is_empty());
    }

    #[test]
    fn edges() {
        assert_eq!(median(&[]).unwrap(), None);
        assert_eq!(median_iqr(&[]).unwrap(), None);
        assert!(quantile(&[1.0], 1.5).is_err());
        assert!(quantile(&[1.0, f64::NAN], 0.5).is_err());
    }
}
