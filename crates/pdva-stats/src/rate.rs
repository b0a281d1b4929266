//! Event rates with the exact (Garwood) Poisson 95% interval:
//! `[χ²(0.025; 2k) / 2, χ²(0.975; 2k + 2) / 2] / T`, lower limit 0 when k = 0
//! (DOMAIN.md §8). The chi-squared quantiles with even degrees of freedom are
//! Gamma(k, 1) quantiles, computed in [`crate::distributions`].
//!
//! Why exact: reintervention counts per operator or site are small, where the
//! normal approximation is poor and can go below zero.

use serde::Serialize;

use crate::distributions::gamma_p_inv;
use crate::error::{Result, check_non_negative};

/// Days in a year for person-time: the mean Julian year, so that leap years
/// count on average (4 × 365 + 1 days in 4 years).
pub const DAYS_PER_YEAR: f64 = 365.25;

/// k events over T person-time, with its exact 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoissonRate {
    /// Number of events k.
    pub events: u64,
    /// Person-time T, in whatever unit the caller used.
    pub person_time: f64,
    /// k / T: events per unit of person-time.
    pub rate: f64,
    /// Lower 95% limit, per unit of person-time.
    pub ci_lower: f64,
    /// Upper 95% limit, per unit of person-time.
    pub ci_upper: f64,
}

/// k events over a person-time given in days, expressed per 100 patient-years.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatePer100PatientYears {
    /// Number of events.
    pub events: u64,
    /// Person-time in years (days / 365.25).
    pub patient_years: f64,
    /// Events per 100 patient-years.
    pub rate: f64,
    /// Lower 95% limit per 100 patient-years.
    pub ci_lower: f64,
    /// Upper 95% limit per 100 patient-years.
    pub ci_upper: f64,
}

/// The rate `events / person_time` with the exact Poisson 95% interval.
///
/// `person_time = 0` gives `Ok(None)` (no time at risk, no estimate);
/// negative or non-finite person-time is an error.
pub fn poisson_rate_interval(events: u64, person_time: f64) -> Result<Option<PoissonRate>> {
    let t = check_non_negative("person_time", person_time)?;
    if t == 0.0 {
        return Ok(None);
    }
    let k = events as f64;
    let lower = if events == 0 {
        0.0
    } else {
        gamma_p_inv(k, 0.025)
    };
    let upper = gamma_p_inv(k + 1.0, 0.975);
    Ok(Some(PoissonRate {
        events,
        person_time: t,
        rate: k / t,
        ci_lower: lower / t,
        ci_upper: upper / t,
    }))
}

/// The rate per 100 patient-years, for person-time summed in days
/// (converted with [`DAYS_PER_YEAR`] = 365.25).
pub fn rate_per_100_patient_years(
    events: u64,
    person_time_days: f64,
) -> Result<Option<RatePer100PatientYears>> {
    let days = check_non_negative("person_time_days", person_time_days)?;
    let years = days / DAYS_PER_YEAR;
    let Some(rate) = poisson_rate_interval(events, years)? else {
        return Ok(None);
    };
    Ok(Some(RatePer100PatientYears {
        events,
        patient_years: years,
        rate: 100.0 * rate.rate,
        ci_lower: 100.0 * rate.ci_lower,
        ci_upper: 100.0 * rate.ci_upper,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StatsError;

    #[test]
    fn zero_events_has_closed_form() {
        // k = 0: upper = χ²(0.975; 2)/2 = −ln(0.025).
        let r = poisson_rate_interval(0, 2.0).unwrap().unwrap();
        assert_eq!((r.rate, r.ci_lower), (0.0, 0.0));
        assert!((r.ci_upper - (-(0.025_f64).ln()) / 2.0).abs() < 1e-14);
    }

    #[test]
    fn one_event_has_closed_form() {
        // k = 1: lower = −ln(0.975); upper solves e^(−x)(1 + x) = 0.025.
        let r = poisson_rate_interval(1, 1.0).unwrap().unwrap();
        assert!((r.ci_lower - (-(0.975_f64).ln())).abs() < 1e-15);
        let x = r.ci_upper;
        assert!(((-x).exp() * (1.0 + x) - 0.025).abs() < 1e-15);
    }

    #[test]
    fn per_100_patient_years() {
        let r = rate_per_100_patient_years(3, 2.0 * 365.25)
            .unwrap()
            .unwrap();
        assert_eq!(r.patient_years, 2.0);
        assert!((r.rate - 150.0).abs() < 1e-12);
        let plain = poisson_rate_interval(3, 2.0).unwrap().unwrap();
        assert!((r.ci_lower - 100.0 * plain.ci_lower).abs() < 1e-12);
    }

    #[test]
    fn edges() {
        assert_eq!(poisson_rate_interval(0, 0.0).unwrap(), None);
        assert_eq!(rate_per_100_patient_years(2, 0.0).unwrap(), None);
        assert!(poisson_rate_interval(1, -1.0).is_err());
        assert!(poisson_rate_interval(1, f64::NAN).is_err());
        assert!(
            StatsError::NoObservations
                .to_string()
                .contains("no observations")
        );
    }
}
