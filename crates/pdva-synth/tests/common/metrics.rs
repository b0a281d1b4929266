//! The DOMAIN.md section 10 quantities, computed directly from generated
//! files with deliberately simple code (a tiny Kaplan–Meier and
//! Aalen–Johansen), independent of the generator's internals.

#![allow(dead_code)]

use std::collections::HashSet;

use chrono::NaiveDate;
use pdva_domain::codes::{AdverseEventKind, LimbStatus, WoundStatus};
use pdva_domain::schedule::{self, FollowUpContext, Timepoint};
use pdva_domain::{ClinicalRecord, PatientFile, RecordId};

/// Everything the targets test checks.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    pub patients: usize,
    pub procedures: usize,
    pub median_age: f64,
    pub age_q1: f64,
    pub age_q3: f64,
    pub min_age: i32,
    pub max_age: i32,
    pub women: f64,
    pub diabetes: f64,
    pub dialysis: f64,
    pub rutherford_4: f64,
    pub rutherford_5: f64,
    pub rutherford_6: f64,
    pub technical_success: f64,
    pub afs_6m: f64,
    pub afs_12m: f64,
    pub afs_24m: f64,
    pub afs_6m_dialysis: f64,
    pub afs_6m_no_dialysis: f64,
    pub survival_6m: f64,
    pub survival_12m: f64,
    pub cif_major_amputation_6m: f64,
    pub cif_major_amputation_12m: f64,
    pub unplanned_reintervention_1y: f64,
    pub planned_reintervention_1y: f64,
    pub wound_healed_6m: f64,
    pub wound_healing_6m: f64,
    pub wound_evaluable_6m: usize,
    pub ae_pain: f64,
    pub ae_infection: f64,
    pub ae_bleeding: f64,
    pub ae_worsening_perfusion: f64,
    pub ae_steal: f64,
    pub visits_missed: f64,
    pub follow_up_ended_per_year: f64,
    pub bilateral_patients: usize,
}

/// One index procedure's survival data (days since the procedure).
struct Limb {
    dialysis: bool,
    /// Days to death, if the patient died.
    death: Option<i64>,
    /// Days to the first major amputation of the index limb.
    major: Option<i64>,
    /// Days to the last known date.
    last: i64,
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    // Type 7 (numpy's default).
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Kaplan–Meier S(t) of (time, event) pairs; events before censorings at ties.
pub fn kaplan_meier(data: &[(i64, bool)], t: i64) -> f64 {
    let mut sorted: Vec<(i64, bool)> = data.to_vec();
    sorted.sort_by_key(|&(time, event)| (time, !event));
    let mut at_risk = sorted.len() as f64;
    let mut s = 1.0;
    let mut i = 0;
    while i < sorted.len() && sorted[i].0 <= t {
        let time = sorted[i].0;
        let mut deaths = 0.0;
        let mut total = 0.0;
        while i < sorted.len() && sorted[i].0 == time {
            if sorted[i].1 {
                deaths += 1.0;
            }
            total += 1.0;
            i += 1;
        }
        if deaths > 0.0 {
            s *= 1.0 - deaths / at_risk;
        }
        at_risk -= total;
    }
    s
}

/// Aalen–Johansen cumulative incidence of cause 1 at `t`; causes are 0
/// (censored), 1 (the event) and 2 (competing).
pub fn cumulative_incidence(data: &[(i64, u8)], t: i64) -> f64 {
    let mut sorted: Vec<(i64, u8)> = data.to_vec();
    sorted.sort_by_key(|&(time, cause)| (time, cause == 0));
    let mut at_risk = sorted.len() as f64;
    let mut s = 1.0;
    let mut cif = 0.0;
    let mut i = 0;
    while i < sorted.len() && sorted[i].0 <= t {
        let time = sorted[i].0;
        let (mut d1, mut d2, mut total) = (0.0, 0.0, 0.0);
        while i < sorted.len() && sorted[i].0 == time {
            match sorted[i].1 {
                1 => d1 += 1.0,
                2 => d2 += 1.0,
                _ => {}
            }
            total += 1.0;
            i += 1;
        }
        cif += s * d1 / at_risk;
        s *= 1.0 - (d1 + d2) / at_risk;
        at_risk -= total;
    }
    cif
}

fn days(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// Computes the metrics of a generated registry, ignoring voided records.
pub fn compute(files: &[PatientFile], voided: &HashSet<RecordId>, today: NaiveDate) -> Metrics {
    let mut m = Metrics {
        patients: files.len(),
        min_age: i32::MAX,
        max_age: i32::MIN,
        ..Metrics::default()
    };
    let mut ages = Vec::with_capacity(files.len());
    let (mut women, mut diabetes, mut dialysis) = (0usize, 0usize, 0usize);
    let mut rutherford = [0usize; 7];
    let mut success = 0usize;
    let mut limbs: Vec<Limb> = Vec::new();
    let (mut ae_denominator, mut ae_counts) = (0usize, [0usize; 5]);
    let (mut reint_denominator, mut unplanned, mut planned) = (0usize, 0usize, 0usize);
    let (mut evaluable, mut healed, mut healing) = (0usize, 0usize, 0usize);
    let mut completeness = schedule::Completeness::default();
    let (mut ended, mut person_years) = (0usize, 0.0f64);

    for file in files {
        let records: Vec<&ClinicalRecord> = file
            .records
            .iter()
            .filter(|(id, _)| !voided.contains(id))
            .map(|(_, r)| r)
            .collect();
        let death = records.iter().find_map(|r| match r {
            ClinicalRecord::Death(d) => Some(d.date),
            _ => None,
        });
        let last_known = death.unwrap_or_else(|| {
            records
                .iter()
                .map(|r| r.date())
                .max()
                .expect("records")
                .min(today)
        });
        let mut procedures: Vec<(RecordId, &pdva_domain::IndexProcedure)> = file
            .records
            .iter()
            .filter_map(|(id, r)| match r {
                ClinicalRecord::Procedure(p) => Some((*id, p)),
                _ => None,
            })
            .collect();
        procedures.sort_by_key(|(_, p)| p.procedure_date);
        if procedures.len() > 1 {
            m.bilateral_patients += 1;
        }
        let first = procedures[0].1;
        let age = file.patient.age_on(first.procedure_date);
        ages.push(f64::from(age));
        m.min_age = m.min_age.min(age);
        m.max_age = m.max_age.max(age);
        if file.patient.sex == pdva_domain::codes::Sex::Female {
            women += 1;
        }
        let first_baseline = records
            .iter()
            .find_map(|r| match r {
                ClinicalRecord::Baseline(b) if b.procedure_id == Some(procedures[0].0) => Some(b),
                _ => None,
            })
            .expect("baseline");
        if first_baseline.diabetes != pdva_domain::codes::Diabetes::None {
            diabetes += 1;
        }
        let on_dialysis = first_baseline.dialysis_dependent;
        if on_dialysis {
            dialysis += 1;
        }
        let end = [Some(today), death, file.patient.follow_up_ended_on]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        person_years += days(first.procedure_date, end) as f64 / 365.25;
        if file.patient.follow_up_ended_on.is_some() {
            ended += 1;
        }

        for (pid, p) in &procedures {
            m.procedures += 1;
            let baseline = records
                .iter()
                .find_map(|r| match r {
                    ClinicalRecord::Baseline(b) if b.procedure_id == Some(*pid) => Some(b),
                    _ => None,
                })
                .expect("baseline");
            rutherford[usize::from(baseline.rutherford_category.get())] += 1;
            if p.technical_success() {
                success += 1;
            }
            let major = records
                .iter()
                .filter_map(|r| match r {
                    ClinicalRecord::Amputation(a) if a.procedure_id == *pid && a.is_major() => {
                        Some(days(p.procedure_date, a.date))
                    }
                    _ => None,
                })
                .min();
            limbs.push(Limb {
                dialysis: on_dialysis,
                death: death.map(|d| days(p.procedure_date, d)),
                major,
                last: days(p.procedure_date, last_known),
            });

            if days(p.procedure_date, today) >= 30 {
                ae_denominator += 1;
                let kinds = [
                    AdverseEventKind::Pain,
                    AdverseEventKind::Infection,
                    AdverseEventKind::Bleeding,
                    AdverseEventKind::WorseningPerfusion,
                    AdverseEventKind::StealSyndrome,
                ];
                for (k, kind) in kinds.iter().enumerate() {
                    if records.iter().any(|r| {
                        matches!(r, ClinicalRecord::AdverseEvent(e)
                            if e.procedure_id == *pid && e.kind == *kind
                                && days(p.procedure_date, e.onset_date) <= 30)
                    }) {
                        ae_counts[k] += 1;
                    }
                }
            }
            if days(p.procedure_date, today) >= 365 {
                reint_denominator += 1;
                let within = |want_planned: bool| {
                    records.iter().any(|r| {
                        matches!(r, ClinicalRecord::Reintervention(x)
                            if x.procedure_id == *pid && x.planned == want_planned
                                && days(p.procedure_date, x.date) <= 365)
                    })
                };
                unplanned += usize::from(within(false));
                planned += usize::from(within(true));
            }

            let visits: Vec<&pdva_domain::FollowUpVisit> = records
                .iter()
                .filter_map(|r| match r {
                    ClinicalRecord::FollowUpVisit(v) if v.procedure_id == *pid => Some(v),
                    _ => None,
                })
                .collect();
            let dates: Vec<NaiveDate> = visits.iter().map(|v| v.visit_date).collect();
            completeness = completeness
                + schedule::completeness(
                    &FollowUpContext {
                        procedure_date: p.procedure_date,
                        visit_dates: &dates,
                        death_date: death,
                        follow_up_ended_on: file.patient.follow_up_ended_on,
                    },
                    today,
                );
            if baseline.has_wound()
                && let Some(date) =
                    schedule::representative_visit(p.procedure_date, Timepoint::Month6, &dates)
            {
                let v = visits.iter().find(|v| v.visit_date == date).unwrap();
                if v.limb_status != LimbStatus::MajorAmputation {
                    evaluable += 1;
                    match v.wound_status {
                        Some(WoundStatus::Healed) => healed += 1,
                        Some(WoundStatus::Healing) => healing += 1,
                        _ => {}
                    }
                }
            }
        }
    }

    ages.sort_by(f64::total_cmp);
    m.median_age = quantile(&ages, 0.5);
    m.age_q1 = quantile(&ages, 0.25);
    m.age_q3 = quantile(&ages, 0.75);
    let n = files.len() as f64;
    m.women = women as f64 / n;
    m.diabetes = diabetes as f64 / n;
    m.dialysis = dialysis as f64 / n;
    let np = m.procedures as f64;
    m.rutherford_4 = rutherford[4] as f64 / np;
    m.rutherford_5 = rutherford[5] as f64 / np;
    m.rutherford_6 = rutherford[6] as f64 / np;
    m.technical_success = success as f64 / np;

    let afs = |l: &Limb| {
        let event = [l.death, l.major].into_iter().flatten().min();
        match event {
            Some(t) => (t, true),
            None => (l.last, false),
        }
    };
    let all_afs: Vec<(i64, bool)> = limbs.iter().map(afs).collect();
    m.afs_6m = kaplan_meier(&all_afs, 182);
    m.afs_12m = kaplan_meier(&all_afs, 365);
    m.afs_24m = kaplan_meier(&all_afs, 730);
    let dial: Vec<(i64, bool)> = limbs.iter().filter(|l| l.dialysis).map(afs).collect();
    let nodial: Vec<(i64, bool)> = limbs.iter().filter(|l| !l.dialysis).map(afs).collect();
    m.afs_6m_dialysis = kaplan_meier(&dial, 182);
    m.afs_6m_no_dialysis = kaplan_meier(&nodial, 182);
    let os: Vec<(i64, bool)> = limbs
        .iter()
        .map(|l| match l.death {
            Some(t) => (t, true),
            None => (l.last, false),
        })
        .collect();
    m.survival_6m = kaplan_meier(&os, 182);
    m.survival_12m = kaplan_meier(&os, 365);
    let cif: Vec<(i64, u8)> = limbs
        .iter()
        .map(|l| match (l.major, l.death) {
            (Some(a), Some(d)) if a <= d => (a, 1),
            (Some(a), None) => (a, 1),
            (_, Some(d)) => (d, 2),
            (None, None) => (l.last, 0),
        })
        .collect();
    m.cif_major_amputation_6m = cumulative_incidence(&cif, 182);
    m.cif_major_amputation_12m = cumulative_incidence(&cif, 365);

    m.unplanned_reintervention_1y = unplanned as f64 / reint_denominator as f64;
    m.planned_reintervention_1y = planned as f64 / reint_denominator as f64;
    m.wound_evaluable_6m = evaluable;
    m.wound_healed_6m = healed as f64 / evaluable as f64;
    m.wound_healing_6m = healing as f64 / evaluable as f64;
    let d = ae_denominator as f64;
    m.ae_pain = ae_counts[0] as f64 / d;
    m.ae_infection = ae_counts[1] as f64 / d;
    m.ae_bleeding = ae_counts[2] as f64 / d;
    m.ae_worsening_perfusion = ae_counts[3] as f64 / d;
    m.ae_steal = ae_counts[4] as f64 / d;
    m.visits_missed = 1.0 - completeness.proportion().unwrap_or(1.0);
    m.follow_up_ended_per_year = ended as f64 / person_years;
    m
}
