//! Tests of a generated registry as a whole: every file valid, determinism,
//! NHS numbers, the DOMAIN.md section 10 targets and the awkward cases.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::NaiveDate;
use common::metrics::{self, Metrics};
use pdva_domain::codes::FollowUpEndReason;
use pdva_domain::schedule::{FollowUpContext, WorklistState, worklist};
use pdva_domain::values::NhsNumber;
use pdva_domain::{ClinicalRecord, PatientFile, RecordId, Rule, check_file};
use pdva_synth::{Batch, Generator, GeneratorConfig};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}

struct Registry {
    generator: Generator,
    files: Vec<PatientFile>,
    voids: Vec<(RecordId, String)>,
}

fn generate(patients: usize, seed: u64, batch: usize) -> Registry {
    let mut generator = Generator::new(GeneratorConfig {
        patients,
        seed,
        today: today(),
    });
    let mut files = Vec::with_capacity(patients);
    let mut voids = Vec::new();
    while let Some(Batch { files: f, voids: v }) = generator.next_batch(batch) {
        files.extend(f);
        voids.extend(v);
    }
    Registry {
        generator,
        files,
        voids,
    }
}

/// The 10 000-patient registry shared by the tests that need a large one.
fn large() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| generate(10_000, 20_260_301, 1000))
}

fn large_metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = large();
        let voided: HashSet<RecordId> = r.voids.iter().map(|(id, _)| *id).collect();
        metrics::compute(&r.files, &voided, today())
    })
}

/// Soft warnings per rule over a registry; panics on any hard finding.
fn check_all(r: &Registry) -> HashMap<Rule, usize> {
    let reference = r.generator.reference_data();
    let mut soft = HashMap::new();
    for file in &r.files {
        let checked = check_file(file, &reference, today());
        assert!(
            checked.refusals.is_empty(),
            "patient {} refused: {:#?}",
            file.patient.registry_id,
            checked.refusals
        );
        for w in checked.warnings {
            *soft.entry(w.rule).or_insert(0) += 1;
        }
    }
    soft
}

#[test]
fn every_file_passes_the_hard_rules_and_soft_warnings_are_rare() {
    let small = generate(3000, 99, 500);
    for r in [large(), &small] {
        let soft = check_all(r);
        let files = r.files.len();
        let total: usize = soft.values().sum();
        eprintln!("soft warnings in {files} files: {soft:?}");
        // Each rule warns on at most a few per cent of files, and all
        // together on a small minority.
        for (rule, count) in &soft {
            assert!(
                *count * 100 <= files * 4,
                "{rule:?}: {count} warnings in {files} files"
            );
        }
        assert!(
            total * 100 <= files * 12,
            "{total} warnings in {files} files"
        );
    }
}

#[test]
fn nothing_is_dated_after_today_or_death() {
    let r = large();
    for file in &r.files {
        let death = file.death().map(|(_, d)| d.date);
        for (_, record) in &file.records {
            for (field, date) in record.dates() {
                assert!(date <= today(), "{field} {date} after today");
                if let Some(d) = death {
                    assert!(date <= d, "{field} {date} after death {d}");
                }
            }
        }
        if let Some(end) = file.patient.follow_up_ended_on {
            assert!(end <= today());
            assert!(file.patient.follow_up_end_reason.is_some());
        }
    }
}

#[test]
fn same_seed_gives_identical_files_whatever_the_batch_size() {
    let a = generate(1500, 5, 1000);
    let b = generate(1500, 5, 137);
    assert_eq!(a.files.len(), 1500);
    assert_eq!(a.voids, b.voids);
    assert_eq!(format!("{:?}", a.files), format!("{:?}", b.files));
    assert_eq!(a.generator.reference(), b.generator.reference());
    // Serialised records are byte-identical too.
    let json = |r: &Registry| {
        r.files
            .iter()
            .map(|f| serde_json::to_string(&(&f.patient, &f.records)).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(json(&a), json(&b));
    // The first patients do not depend on how many are generated.
    let c = generate(10, 5, 3);
    assert_eq!(format!("{:?}", &a.files[..10]), format!("{:?}", c.files));

    let other = generate(1500, 6, 1000);
    assert_ne!(format!("{:?}", a.files), format!("{:?}", other.files));
    assert_ne!(
        a.files[0].patient.registry_id,
        other.files[0].patient.registry_id
    );
}

#[test]
fn next_batch_stops_after_the_configured_patients() {
    let mut g = Generator::new(GeneratorConfig {
        patients: 5,
        seed: 1,
        today: today(),
    });
    assert_eq!(g.next_batch(3).unwrap().files.len(), 3);
    assert_eq!(g.remaining(), 2);
    assert_eq!(g.next_batch(3).unwrap().files.len(), 2);
    assert!(g.next_batch(3).is_none());
}

#[test]
fn nhs_numbers_are_test_range_valid_and_unique() {
    let r = large();
    let mut seen = HashSet::new();
    let mut registry_ids = HashSet::new();
    let mut with_number = 0;
    for file in &r.files {
        assert!(registry_ids.insert(file.patient.registry_id.clone()));
        if let Some(n) = &file.patient.nhs_number {
            with_number += 1;
            assert!(n.is_test_range(), "{n}");
            assert!(n.as_str().starts_with("999"));
            assert_eq!(NhsNumber::parse(n.as_str()).unwrap(), *n);
            assert!(seen.insert(n.clone()), "{n} used twice");
        }
    }
    // Most patients are at UK sites and consented to identifiable data.
    assert!(with_number * 100 > r.files.len() * 75, "{with_number}");
}

#[test]
fn identifiers_follow_registry_data_consent_and_country() {
    let r = large();
    let reference = r.generator.reference_data();
    let mut declined = 0;
    for file in &r.files {
        let no = file
            .consents()
            .any(|(_, c)| c.registry_data_consent == pdva_domain::codes::RegistryDataConsent::No);
        let p = &file.patient;
        if no {
            declined += 1;
            assert!(p.nhs_number.is_none() && p.hospital_number.is_none());
            assert!(p.family_name.is_none() && p.given_name.is_none());
        }
        if reference.sites[&p.home_site].country.as_str() != "GB" {
            assert!(p.nhs_number.is_none());
        }
    }
    assert!(declined > 0);
}

fn within(name: &str, value: f64, target: f64, tolerance: f64) {
    eprintln!("{name}: {value:.3} (target {target:.3} ± {tolerance:.3})");
    assert!(
        (value - target).abs() <= tolerance,
        "{name} = {value:.3}, target {target:.3} ± {tolerance:.3}"
    );
}

#[test]
fn domain_section_10_targets_on_10000_patients() {
    let m = large_metrics();
    eprintln!("{m:#?}");
    const PP: f64 = 0.04;
    within("median age", m.median_age, 70.0, 2.0);
    within("age Q1", m.age_q1, 62.0, 2.0);
    within("age Q3", m.age_q3, 77.0, 2.0);
    assert!(m.min_age >= 18 && m.max_age <= 95);
    within("women", m.women, 0.31, PP);
    within("diabetes", m.diabetes, 0.70, PP);
    within("dialysis", m.dialysis, 0.30, PP);
    within("Rutherford 4", m.rutherford_4, 0.05, 0.02);
    within("Rutherford 5", m.rutherford_5, 0.62, PP);
    within("Rutherford 6", m.rutherford_6, 0.33, PP);
    within("technical success", m.technical_success, 0.97, 0.02);
    within("AFS 6 months", m.afs_6m, 0.66, PP);
    within("AFS 12 months", m.afs_12m, 0.58, PP);
    within("AFS 24 months", m.afs_24m, 0.45, PP);
    assert!(
        m.afs_6m_dialysis + 0.12 < m.afs_6m_no_dialysis,
        "dialysis {} vs {}",
        m.afs_6m_dialysis,
        m.afs_6m_no_dialysis
    );
    within("survival 6 months", m.survival_6m, 0.87, PP);
    within("survival 12 months", m.survival_12m, 0.80, PP);
    within(
        "major amputation 6 months",
        m.cif_major_amputation_6m,
        0.20,
        PP,
    );
    within(
        "major amputation 12 months",
        m.cif_major_amputation_12m,
        0.25,
        PP,
    );
    within(
        "unplanned reintervention 1 year",
        m.unplanned_reintervention_1y,
        0.35,
        PP,
    );
    within(
        "planned reintervention 1 year",
        m.planned_reintervention_1y,
        0.15,
        PP,
    );
    within("wounds healed 6 months", m.wound_healed_6m, 0.25, PP);
    within("wounds healing 6 months", m.wound_healing_6m, 0.50, PP);
    within("30-day pain", m.ae_pain, 0.15, 0.03);
    within("30-day infection", m.ae_infection, 0.10, 0.025);
    within("30-day bleeding", m.ae_bleeding, 0.05, 0.015);
    within(
        "30-day worsening perfusion",
        m.ae_worsening_perfusion,
        0.05,
        0.015,
    );
    within("30-day steal syndrome", m.ae_steal, 0.01, 0.006);
    within("visits missed", m.visits_missed, 0.10, 0.03);
    within(
        "follow-up ended per year",
        m.follow_up_ended_per_year,
        0.05,
        0.015,
    );
    within(
        "bilateral patients",
        m.bilateral_patients as f64 / m.patients as f64,
        0.05,
        0.02,
    );
}

#[test]
fn the_awkward_cases_exist() {
    let r = large();
    let reference = r.generator.reference();
    let data = r.generator.reference_data();

    // An uncredentialed operator's procedures are flagged.
    let flagged = r
        .files
        .iter()
        .filter(|f| {
            check_file(f, &data, today())
                .warnings
                .iter()
                .any(|w| w.rule == Rule::OperatorNotCredentialed)
        })
        .count();
    assert!(flagged > 0 && flagged * 50 < r.files.len(), "{flagged}");

    // A site whose governance lead was never recorded as informed, and a
    // site with no governance review meeting in the last 12 months.
    assert_eq!(
        reference
            .sites
            .iter()
            .filter(|(_, s)| s.governance_lead_informed_on.is_none())
            .count(),
        1
    );
    let year_ago = today() - chrono::TimeDelta::days(365);
    let lapsed: Vec<_> = reference
        .sites
        .iter()
        .filter(|(_, s)| {
            !reference
                .governance_meetings
                .iter()
                .any(|(_, m)| m.site_code == s.site_code && m.held_on > year_ago)
        })
        .collect();
    assert_eq!(lapsed.len(), 1, "{lapsed:?}");
    assert!(reference.sites.len() >= 6);
    assert!((15..=20).contains(&reference.clinicians.len()));
    assert!(
        reference
            .sites
            .iter()
            .any(|(_, s)| s.country.as_str() != "GB")
    );
    assert!(
        reference
            .governance_meetings
            .iter()
            .all(|(_, m)| m.held_on <= today())
    );

    // Bilateral procedures, deaths before the first visit, research-consent
    // withdrawals, follow-up ended early, overdue visits and voids.
    let bilateral = r
        .files
        .iter()
        .filter(|f| f.procedures().count() == 2)
        .count();
    let death_before_first_visit = r
        .files
        .iter()
        .filter(|f| {
            f.death().is_some()
                && !f
                    .records
                    .iter()
                    .any(|(_, rec)| matches!(rec, ClinicalRecord::FollowUpVisit(_)))
        })
        .count();
    let withdrawals = r
        .files
        .iter()
        .filter(|f| {
            f.consents()
                .any(|(_, c)| c.research_consent_withdrawn_on.is_some())
        })
        .count();
    let ended_early: HashMap<FollowUpEndReason, usize> =
        r.files.iter().fold(HashMap::new(), |mut acc, f| {
            if let Some(reason) = f.patient.follow_up_end_reason {
                *acc.entry(reason).or_default() += 1;
            }
            acc
        });
    let overdue = r
        .files
        .iter()
        .filter(|f| {
            f.procedures().any(|(pid, p)| {
                let dates: Vec<NaiveDate> = f
                    .records
                    .iter()
                    .filter_map(|(_, rec)| match rec {
                        ClinicalRecord::FollowUpVisit(v) if v.procedure_id == pid => {
                            Some(v.visit_date)
                        }
                        _ => None,
                    })
                    .collect();
                worklist(
                    &FollowUpContext {
                        procedure_date: p.procedure_date,
                        visit_dates: &dates,
                        death_date: f.death().map(|(_, d)| d.date),
                        follow_up_ended_on: f.patient.follow_up_ended_on,
                    },
                    today(),
                )
                .iter()
                .any(|i| i.state == WorklistState::Overdue)
            })
        })
        .count();
    eprintln!(
        "bilateral {bilateral}, deaths before first visit {death_before_first_visit}, \
         withdrawals {withdrawals}, ended early {ended_early:?}, overdue {overdue}, voids {}",
        r.voids.len()
    );
    assert!(bilateral > 0);
    assert!(death_before_first_visit > 0);
    assert!(withdrawals > 0);
    assert!(ended_early.len() >= 3, "{ended_early:?}");
    assert!(overdue > 0);

    // About 1% of patients have a record voided as entered in error; each
    // is in its patient's file, with a reason.
    let ids: HashSet<RecordId> = r
        .files
        .iter()
        .flat_map(|f| f.records.iter().map(|(id, _)| *id))
        .collect();
    assert!((50..=150).contains(&r.voids.len()), "{}", r.voids.len());
    for (id, reason) in &r.voids {
        assert!(ids.contains(id));
        assert!(!reason.is_empty());
    }

    // Limb status at visits agrees with the recorded amputations nearly always.
    let disagree = r
        .files
        .iter()
        .flat_map(|f| check_file(f, &data, today()).warnings)
        .filter(|w| w.rule == Rule::LimbStatusDisagrees)
        .count();
    assert!(disagree * 500 < r.files.len() * 2, "{disagree}");
}

#[test]
fn consent_precedes_procedures_and_baseline_is_close_before() {
    let r = large();
    let mut without = 0;
    for file in &r.files {
        for (pid, p) in file.procedures() {
            if file.consent_for(p.procedure_date).is_none() {
                without += 1;
            }
            let b = file
                .records
                .iter()
                .find_map(|(_, rec)| match rec {
                    ClinicalRecord::Baseline(b) if b.procedure_id == Some(pid) => Some(b),
                    _ => None,
                })
                .expect("a baseline per procedure");
            assert!(b.assessment_date <= p.procedure_date);
        }
    }
    assert!(without * 100 < r.files.len(), "{without}");
}

#[test]
fn quality_of_life_improves_in_some_and_worsens_in_others() {
    let r = large();
    let (mut better, mut worse, mut paired) = (0, 0, 0);
    for file in &r.files {
        for (pid, p) in file.procedures() {
            let qol: Vec<&pdva_domain::QualityOfLife> = file
                .records
                .iter()
                .filter_map(|(_, rec)| match rec {
                    ClinicalRecord::QualityOfLife(q) if q.procedure_id == Some(pid) => Some(q),
                    _ => None,
                })
                .collect();
            let baseline = qol
                .iter()
                .find(|q| q.assessment_date <= p.procedure_date)
                .and_then(|q| q.vascuqol6_total());
            let later = qol
                .iter()
                .find(|q| q.assessment_date > p.procedure_date)
                .and_then(|q| q.vascuqol6_total());
            if let (Some(b), Some(l)) = (baseline, later) {
                paired += 1;
                if l > b {
                    better += 1;
                } else if l < b {
                    worse += 1;
                }
                assert!(
                    qol[0]
                        .eq5d_index()
                        .is_none_or(|i| (-0.285..=1.0).contains(&i))
                );
            }
        }
    }
    eprintln!("QoL: {better} better, {worse} worse of {paired} paired");
    assert!(paired > 1000);
    assert!(better * 2 > paired, "most improve");
    assert!(worse * 20 > paired, "some worsen");
}

#[test]
fn anticoagulation_durations_vary_and_some_are_ongoing() {
    use pdva_domain::codes::{DrugClass, StopReason};
    let r = large();
    let mut durations = Vec::new();
    let (mut ongoing, mut for_bleeding, mut with_antiplatelet, mut procedures) = (0, 0, 0, 0);
    for file in &r.files {
        for (pid, _) in file.procedures() {
            procedures += 1;
            let courses: Vec<&pdva_domain::AntithromboticTherapy> = file
                .records
                .iter()
                .filter_map(|(_, rec)| match rec {
                    ClinicalRecord::AntithromboticTherapy(t) if t.procedure_id == pid => Some(t),
                    _ => None,
                })
                .collect();
            if courses
                .iter()
                .any(|t| t.drug.class() == DrugClass::Antiplatelet)
            {
                with_antiplatelet += 1;
            }
            for t in courses
                .iter()
                .filter(|t| t.drug.class() == DrugClass::Anticoagulant)
            {
                match t.stop_date {
                    Some(stop) => {
                        assert!(stop >= t.start_date);
                        durations.push((stop - t.start_date).num_days());
                        if t.stop_reason == Some(StopReason::Bleeding) {
                            for_bleeding += 1;
                        }
                    }
                    None => ongoing += 1,
                }
            }
        }
    }
    assert_eq!(with_antiplatelet, procedures);
    durations.sort_unstable();
    let distinct: HashSet<i64> = durations.iter().map(|d| d / 30).collect();
    eprintln!(
        "anticoagulant courses: {} completed (median {} days), {ongoing} ongoing, {for_bleeding} stopped for bleeding",
        durations.len(),
        durations[durations.len() / 2]
    );
    assert!(distinct.len() >= 8, "{distinct:?}");
    assert!(ongoing > 100 && for_bleeding > 10);
}

#[test]
fn hospital_numbers_are_unique() {
    let r = large();
    let mut seen = HashSet::new();
    for file in &r.files {
        if let Some(h) = &file.patient.hospital_number {
            assert!(seen.insert(h.clone()), "{h} used twice");
        }
    }
}
