//! Whole days as time indices, so that each curve and test of the report is
//! computed from counts per day: one counting pass over the limbs and no
//! sort, whatever the size of the registry.

use pdva_stats::{CompetingCounts, CumulativeIncidence, KaplanMeier, StatsError, TimeCounts};

use crate::error::Result;

/// Days up to this (about 270 years) are always indexed by the day itself
/// ([`Axis::dense`]), however few the observations; so a count per day of
/// such days is what an axis would count.
pub(crate) const ALWAYS_DENSE_DAYS: i64 = 100_000;

/// The days an endpoint's limbs leave follow-up on, as indices into arrays
/// of counts: the day itself when the days span a range of reasonable size
/// (a registry's few thousand days), else its rank among the distinct days,
/// so that one far-off date cannot make the arrays huge.
pub(crate) struct Axis {
    /// The distinct days in order, when the indices are ranks.
    distinct: Option<Vec<i64>>,
    len: usize,
}

impl Axis {
    /// The axis of `days`. Errors on a negative day, as the statistics crate
    /// does on a negative time.
    pub(crate) fn new(days: impl Iterator<Item = i64> + Clone) -> Result<Self> {
        let (mut max, mut n) = (-1_i64, 0_i64);
        for d in days.clone() {
            if d < 0 {
                return Err(StatsError::Negative {
                    what: "time_days",
                    value: d as f64,
                }
                .into());
            }
            max = max.max(d);
            n += 1;
        }
        if let Some(axis) = Self::dense(max, n as usize) {
            return Ok(axis);
        }
        let mut distinct: Vec<i64> = days.collect();
        distinct.sort_unstable();
        distinct.dedup();
        Ok(Self {
            len: distinct.len(),
            distinct: Some(distinct),
        })
    }

    /// The axis indexed by the day itself, for `n` non-negative days whose
    /// latest is `max` (−1 for none), if they span a range of reasonable
    /// size; `None` if they need ranks.
    pub(crate) fn dense(max: i64, n: usize) -> Option<Self> {
        let n = i64::try_from(n).ok()?;
        (max <= 10 * n + ALWAYS_DENSE_DAYS).then(|| Self {
            distinct: None,
            len: (max + 1) as usize,
        })
    }

    /// Number of time indices.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The index of `day`, one of the days the axis was made from.
    pub(crate) fn index(&self, day: i64) -> usize {
        match &self.distinct {
            None => day as usize,
            Some(d) => d.binary_search(&day).expect("a day of the axis"),
        }
    }

    /// The time (days) of an index.
    pub(crate) fn t_days(&self, index: usize) -> f64 {
        match &self.distinct {
            None => index as f64,
            Some(d) => d[index] as f64,
        }
    }
}

/// Kaplan–Meier of (day, event) pairs on `axis`, from counts per day;
/// `None` for no pairs.
pub(crate) fn km_on(
    axis: &Axis,
    data: impl Iterator<Item = (i64, bool)>,
) -> Result<Option<KaplanMeier>> {
    km_of_indices(axis, data.map(|(day, event)| (axis.index(day), event)))
}

/// Kaplan–Meier of observations packed as (time index on `axis` << 1 |
/// event); `None` for none.
pub(crate) fn km_on_packed(axis: &Axis, packed: &[u32]) -> Result<Option<KaplanMeier>> {
    km_of_indices(
        axis,
        packed.iter().map(|&p| ((p >> 1) as usize, p & 1 == 1)),
    )
}

/// Kaplan–Meier of (time index on `axis`, event) pairs, from counts per
/// index; `None` for no pairs.
fn km_of_indices(
    axis: &Axis,
    data: impl Iterator<Item = (usize, bool)>,
) -> Result<Option<KaplanMeier>> {
    let mut counts: Vec<TimeCounts> = (0..axis.len())
        .map(|i| TimeCounts::new(axis.t_days(i)))
        .collect();
    let mut any = false;
    for (index, event) in data {
        counts[index].add(event);
        any = true;
    }
    if !any {
        return Ok(None);
    }
    Ok(Some(KaplanMeier::from_counts(&counts)?))
}

/// Kaplan–Meier of (day, event) pairs; `None` for no pairs.
pub(crate) fn fit_km(
    data: impl Iterator<Item = (i64, bool)> + Clone,
) -> Result<Option<KaplanMeier>> {
    let axis = Axis::new(data.clone().map(|x| x.0))?;
    km_on(&axis, data)
}

/// (day, status) observations of a competing-risk endpoint (0 = censored,
/// 1 = the cause of interest, 2, 3, … = competing causes) as they are read
/// off the limbs: counts per whole day, as [`cif_and_naive_km`] counts them
/// on an axis of days, so that a million limbs leave no list behind.
#[derive(Debug, Default)]
pub(crate) struct CompetingByDay {
    /// Index = day, up to the latest day counted.
    by_day: Vec<CompetingCounts>,
    pub(crate) n: u64,
    pub(crate) events: u64,
    pub(crate) competing_events: u64,
    pub(crate) censored: u64,
    /// Observations beyond [`ALWAYS_DENSE_DAYS`] or before day 0 (none in
    /// a real registry), which send the curves down the general path.
    beyond: Vec<(i64, u32)>,
}

impl CompetingByDay {
    pub(crate) fn add(&mut self, (day, status): (i64, u32)) {
        self.n += 1;
        match status {
            0 => self.censored += 1,
            1 => self.events += 1,
            _ => self.competing_events += 1,
        }
        match usize::try_from(day) {
            Ok(d) if day <= ALWAYS_DENSE_DAYS => {
                if d >= self.by_day.len() {
                    let from = self.by_day.len();
                    self.by_day
                        .extend((from..=d).map(|t| CompetingCounts::new(t as f64)));
                }
                self.by_day[d].add(status, 1);
            }
            _ => self.beyond.push((day, status)),
        }
    }

    /// Every observation again, for the general path (a competing event as
    /// status 2: only the cause of interest is told apart).
    fn observations(&self) -> Vec<(i64, u32)> {
        let mut all = self.beyond.clone();
        for (day, c) in self.by_day.iter().enumerate() {
            let day = day as i64;
            all.extend(std::iter::repeat_n((day, 1), c.events));
            all.extend(std::iter::repeat_n((day, 2), c.competing_events));
            all.extend(std::iter::repeat_n((day, 0), c.censored));
        }
        all
    }
}

/// [`cif_and_naive_km`] of observations counted per day.
pub(crate) fn cif_and_naive_km_by_day(
    counts: &CompetingByDay,
) -> Result<Option<(CumulativeIncidence, KaplanMeier)>> {
    if !counts.beyond.is_empty() {
        return cif_and_naive_km(&counts.observations());
    }
    if counts.n == 0 {
        return Ok(None);
    }
    // Every day is at most ALWAYS_DENSE_DAYS: the axis of days that
    // `cif_and_naive_km` would count on.
    cif_and_naive_km_of_counts(&counts.by_day).map(Some)
}

/// The Aalen–Johansen cumulative incidence of cause 1 of (day, status)
/// pairs (0 = censored, 2, 3, … = competing causes), and beside it the
/// Kaplan–Meier of cause 1 with every other outcome censored (what 1 − KM
/// would claim); `None` for no pairs.
pub(crate) fn cif_and_naive_km(
    data: &[(i64, u32)],
) -> Result<Option<(CumulativeIncidence, KaplanMeier)>> {
    if data.is_empty() {
        return Ok(None);
    }
    let axis = Axis::new(data.iter().map(|x| x.0))?;
    let mut competing: Vec<CompetingCounts> = (0..axis.len())
        .map(|i| CompetingCounts::new(axis.t_days(i)))
        .collect();
    for &(day, status) in data {
        competing[axis.index(day)].add(status, 1);
    }
    cif_and_naive_km_of_counts(&competing).map(Some)
}

/// The cumulative incidence of cause 1 and the naive Kaplan–Meier from
/// counts per time.
fn cif_and_naive_km_of_counts(
    competing: &[CompetingCounts],
) -> Result<(CumulativeIncidence, KaplanMeier)> {
    let cif = CumulativeIncidence::from_counts(competing, 1)?;
    let naive: Vec<TimeCounts> = competing
        .iter()
        .map(|c| TimeCounts {
            t_days: c.t_days,
            events: c.events,
            censored: c.competing_events + c.censored,
        })
        .collect();
    Ok((cif, KaplanMeier::from_counts(&naive)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdva_stats::{CompetingObservation, Observation};

    #[test]
    fn dense_and_sparse_axes_give_the_curves_of_the_observations() {
        for data in [
            vec![(0, true), (3, false), (3, true), (10, true), (2, false)],
            // A far-off day: the axis ranks the distinct days instead.
            vec![(0, true), (5_000_000, false), (3, true), (3, true)],
        ] {
            let km = fit_km(data.iter().copied()).unwrap().unwrap();
            let obs: Vec<Observation> = data
                .iter()
                .map(|&(t, event)| Observation {
                    time_days: t as f64,
                    event,
                })
                .collect();
            assert_eq!(km, KaplanMeier::fit(&obs).unwrap());
            let competing: Vec<(i64, u32)> = data
                .iter()
                .enumerate()
                .map(|(i, &(t, e))| (t, if e { 1 + (i as u32 % 2) } else { 0 }))
                .collect();
            let (cif, _) = cif_and_naive_km(&competing).unwrap().unwrap();
            let obs: Vec<CompetingObservation> = competing
                .iter()
                .map(|&(t, status)| CompetingObservation {
                    time_days: t as f64,
                    status,
                })
                .collect();
            assert_eq!(cif, CumulativeIncidence::fit(&obs, 1).unwrap());
        }
        assert!(fit_km(std::iter::empty()).unwrap().is_none());
        assert!(fit_km([(-1, true)].into_iter()).is_err());
    }

    #[test]
    fn competing_observations_counted_per_day_give_the_curves_of_the_observations() {
        let mut state = 7_u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % m
        };
        // Many ties, every status, day 0.
        let mut data: Vec<(i64, u32)> = (0..2000)
            .map(|_| (next(400) as i64, next(4) as u32))
            .collect();
        let by_day = |data: &[(i64, u32)]| {
            let mut counts = CompetingByDay::default();
            for &x in data {
                counts.add(x);
            }
            counts
        };
        let counts = by_day(&data);
        assert_eq!(
            (
                counts.n,
                counts.events,
                counts.competing_events,
                counts.censored
            ),
            (
                data.len() as u64,
                data.iter().filter(|x| x.1 == 1).count() as u64,
                data.iter().filter(|x| x.1 > 1).count() as u64,
                data.iter().filter(|x| x.1 == 0).count() as u64,
            )
        );
        assert_eq!(
            cif_and_naive_km_by_day(&counts).unwrap(),
            cif_and_naive_km(&data).unwrap()
        );
        assert!(
            cif_and_naive_km_by_day(&CompetingByDay::default())
                .unwrap()
                .is_none()
        );
        // A day beyond the counted ones takes the general path (ranks).
        data.push((5_000_000, 1));
        assert_eq!(
            cif_and_naive_km_by_day(&by_day(&data)).unwrap(),
            cif_and_naive_km(&data).unwrap()
        );
        // A negative day is refused, as on the general path.
        data.push((-1, 0));
        assert!(cif_and_naive_km_by_day(&by_day(&data)).is_err());
    }
}
