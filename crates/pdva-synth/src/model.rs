//! The generator's clinical model: the mix of patients and the hazards of
//! their outcomes, calibrated so that a large registry reproduces the
//! targets of DOMAIN.md section 10 (which the crate's tests check on 10 000
//! patients). Every number here is a registry choice for synthetic data,
//! not a clinical fact.

use crate::sample::PiecewiseHazard;

/// Segment starts (days since the procedure) of the piecewise hazards.
const BREAKS: &[f64] = &[0.0, 30.0, 182.0, 365.0, 730.0];

/// Baseline hazard of death per day (before the patient's multipliers).
pub(crate) const DEATH: PiecewiseHazard = PiecewiseHazard {
    breaks: BREAKS,
    hazards: &[0.00070, 0.000432, 0.00022, 0.000294, 0.000224],
};

/// Extra hazard of death per day from the day of a major amputation.
pub(crate) const DEATH_AFTER_MAJOR_AMPUTATION: f64 = 0.00005;

/// Baseline hazard of major amputation of the index limb per day.
pub(crate) const MAJOR_AMPUTATION: PiecewiseHazard = PiecewiseHazard {
    breaks: BREAKS,
    hazards: &[0.00115, 0.00089, 0.00026, 0.00013, 0.00006],
};

/// Baseline hazard of the first unplanned reintervention per day.
pub(crate) const UNPLANNED_REINTERVENTION: PiecewiseHazard = PiecewiseHazard {
    breaks: BREAKS,
    hazards: &[0.0037, 0.0020, 0.00075, 0.0003, 0.00015],
};

/// Hazard of each further unplanned reintervention, per day since the
/// previous one.
pub(crate) const FURTHER_UNPLANNED_REINTERVENTION: PiecewiseHazard = PiecewiseHazard {
    breaks: &[0.0, 90.0],
    hazards: &[0.0015, 0.0003],
};

/// Hazard of ending follow-up early (withdrawal, moving, transfer): about
/// 5% a year.
pub(crate) const FOLLOW_UP_END_PER_DAY: f64 = 0.05 / 365.0;

/// Probability of a staged (planned) reintervention in the first months.
pub(crate) const PLANNED_REINTERVENTION: f64 = 0.18;

/// Probability that one scheduled follow-up visit is missed.
pub(crate) const VISIT_MISSED: f64 = 0.10;

/// Share of patients with a second index procedure on the other limb.
pub(crate) const BILATERAL: f64 = 0.07;

/// Share of patients with one record entered in error and voided.
pub(crate) const VOIDED_RECORD: f64 = 0.01;

/// Patient multiplier of the death hazard.
pub(crate) fn death_multiplier(age: f64, dialysis: bool, heart_failure: bool, frailty: u8) -> f64 {
    let mut m = (0.035 * (age - 70.0)).exp();
    if dialysis {
        m *= 3.0;
    }
    if heart_failure {
        m *= 1.3;
    }
    m * (1.0 + 0.08 * (f64::from(frailty) - 5.0))
}

/// Limb multiplier of the major-amputation hazard.
pub(crate) fn amputation_multiplier(
    dialysis: bool,
    rutherford: u8,
    wifi_stage: u8,
    technical_success: bool,
) -> f64 {
    let mut m = if dialysis { 1.4 } else { 1.0 };
    m *= match rutherford {
        6 => 1.5,
        5 => 0.95,
        _ => 0.35,
    };
    if wifi_stage >= 4 {
        m *= 1.25;
    }
    if !technical_success {
        m *= 3.0;
    }
    m
}

/// Median days to complete wound healing (log-normal) and its log-sd, and
/// the share of wounds that never heal.
pub(crate) const HEALING_MEDIAN_DAYS: f64 = 290.0;
/// Log-scale standard deviation of the healing time.
pub(crate) const HEALING_LOG_SD: f64 = 0.9;
/// Share of wounds that never heal completely.
pub(crate) const NEVER_HEALS: f64 = 0.15;

/// Adverse events: kind index into [`pdva_domain::codes::AdverseEventKind::ALL`]
/// order is not used; each entry is (kind, probability, first day, last day).
pub(crate) const EARLY_ADVERSE_EVENTS: &[(pdva_domain::codes::AdverseEventKind, f64, i64, i64)] = {
    use pdva_domain::codes::AdverseEventKind::*;
    &[
        (Pain, 0.152, 0, 3),
        (Infection, 0.104, 4, 28),
        (Bleeding, 0.051, 0, 4),
        (WorseningPerfusion, 0.052, 1, 25),
        (StealSyndrome, 0.0105, 1, 20),
        (AccessSiteComplication, 0.035, 0, 5),
        (AcuteKidneyInjury, 0.03, 1, 7),
        (LimbOedema, 0.07, 5, 28),
        (Other, 0.02, 0, 30),
    ]
};

/// Adverse events later in follow-up (kind, probability, first day, last day).
pub(crate) const LATE_ADVERSE_EVENTS: &[(pdva_domain::codes::AdverseEventKind, f64, i64, i64)] = {
    use pdva_domain::codes::AdverseEventKind::*;
    &[
        (Infection, 0.06, 45, 400),
        (WorseningPerfusion, 0.03, 60, 500),
        (LimbOedema, 0.02, 40, 200),
        (Other, 0.02, 31, 600),
    ]
};
