//! The time-to-event derivation's edge cases (DOMAIN.md section 7), one
//! hand-made patient at a time.

use chrono::NaiveDate;
use pdva_domain::codes::*;
use pdva_domain::values::*;
use pdva_domain::*;
use pdva_outcomes::{Filter, IndexLimb, ReportRequest, build_report, cohort, index_limbs};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn id(n: u128) -> RecordId {
    RecordId::from_bits(n)
}

const OPERATOR: u128 = 9000;
const OTHER_OPERATOR: u128 = 9001;

fn patient(site: &str) -> Patient {
    Patient {
        registry_id: RegistryId::from_random(7),
        nhs_number: None,
        hospital_number: None,
        family_name: None,
        given_name: None,
        date_of_birth: d("1950-01-01"),
        sex: Sex::Female,
        home_site: SiteCode::parse(site).unwrap(),
        follow_up_ended_on: None,
        follow_up_end_reason: None,
    }
}

fn procedure(date: &str, limb: Limb, operator: u128) -> ClinicalRecord {
    ClinicalRecord::Procedure(IndexProcedure {
        procedure_date: d(date),
        index_limb: limb,
        primary_operator: id(operator),
        second_operator: None,
        proctor: None,
        anaesthesia: Anaesthesia::General,
        device_system: RequiredText::parse_for("device_system", "Test system").unwrap(),
        device_lot: None,
        arterial_access: ArterialAccess::AntegradeCommonFemoral,
        venous_access: VenousAccess::RetrogradeTibialVein,
        target_artery: TibialVessel::PosteriorTibial,
        target_vein: TibialVessel::PosteriorTibial,
        crossover_level: CrossoverLevel::DistalCalf,
        fistula_created: true,
        valvulotomy: true,
        valvulotomy_extent: None,
        venous_stents_count: None,
        stented_length_mm: None,
        crossing_stent: None,
        completion_angiography: true,
        venous_arch_flow: Some(VenousArchFlow::Complete),
        procedure_minutes: None,
        fluoroscopy_minutes: None,
        contrast_ml: None,
        air_kerma_mgy: None,
        dap_gycm2: None,
        discharge_date: None,
    })
}

fn baseline(procedure_id: RecordId, date: &str, dialysis: bool, wounds: u32) -> ClinicalRecord {
    let g = |n| WifiGrade::new(n).unwrap();
    ClinicalRecord::Baseline(Baseline {
        procedure_id: Some(procedure_id),
        index_limb: None,
        assessment_date: d(date),
        rutherford_category: RutherfordCategory::new(5).unwrap(),
        wifi_wound: g(1),
        wifi_ischaemia: g(3),
        wifi_foot_infection: g(0),
        rest_pain: None,
        pain_score: None,
        wound_count: Some(wounds),
        largest_wound_area_cm2: None,
        wound_locations: vec![],
        gangrene: None,
        abi: None,
        ankle_systolic_pressure_mmhg: None,
        toe_pressure_mmhg: None,
        tcpo2_mmhg: None,
        diabetes: Diabetes::Type2,
        dialysis_dependent: dialysis,
        ckd_stage: None,
        hypertension: None,
        hyperlipidaemia: None,
        coronary_artery_disease: None,
        heart_failure: None,
        prior_stroke: None,
        copd: None,
        smoking: None,
        height_cm: None,
        weight_kg: None,
        ambulatory_status: None,
        clinical_frailty_scale: None,
        no_option_reasons: vec![NoOptionReason::NoBypassTarget],
        mdt_decision_date: None,
        prior_revascularisations_index_limb: None,
        prior_minor_amputation_index_limb: None,
        pedal_venous_anatomy_confirmed: true,
        venous_imaging: None,
    })
}

fn visit(procedure_id: RecordId, date: &str, wound: Option<WoundStatus>) -> ClinicalRecord {
    ClinicalRecord::FollowUpVisit(FollowUpVisit {
        procedure_id,
        visit_date: d(date),
        contact: ContactMode::InPerson,
        limb_status: LimbStatus::Intact,
        wound_status: wound,
        largest_wound_area_cm2: None,
        rutherford_category: None,
        wifi_wound: None,
        wifi_ischaemia: None,
        wifi_foot_infection: None,
        toe_pressure_mmhg: None,
        tcpo2_mmhg: None,
        pain_score: None,
        ambulatory_status: None,
        circuit_patency: None,
    })
}

fn amputation(
    procedure_id: RecordId,
    date: &str,
    limb: Limb,
    level: AmputationLevel,
) -> ClinicalRecord {
    ClinicalRecord::Amputation(Amputation {
        procedure_id,
        date: d(date),
        limb,
        level,
        revision: false,
        reason: None,
    })
}

fn reintervention(
    procedure_id: RecordId,
    date: &str,
    planned: bool,
    kind: ReinterventionKind,
) -> ClinicalRecord {
    ClinicalRecord::Reintervention(Reintervention {
        procedure_id,
        date: d(date),
        limb: Limb::Right,
        planned,
        kind,
        related_to_pdva: None,
    })
}

fn death(date: &str) -> ClinicalRecord {
    ClinicalRecord::Death(Death {
        date: d(date),
        cause: CauseOfDeath::Cardiovascular,
        procedure_related: None,
    })
}

fn anticoagulant(
    procedure_id: RecordId,
    drug: AntithromboticDrug,
    start: &str,
    stop: Option<&str>,
    reason: Option<StopReason>,
) -> ClinicalRecord {
    ClinicalRecord::AntithromboticTherapy(AntithromboticTherapy {
        procedure_id,
        drug,
        dose: None,
        start_date: d(start),
        stop_date: stop.map(d),
        stop_reason: reason,
    })
}

/// A file whose records get ids 1, 2, 3, … in order; the procedure is id 1
/// (and a second procedure, if any, the id given).
fn file(patient: Patient, records: Vec<(u128, ClinicalRecord)>) -> PatientFile {
    let mut f = PatientFile::new(id(1000), patient);
    for (n, r) in records {
        f = f.with_record(id(n), r);
    }
    f
}

fn today() -> NaiveDate {
    d("2026-06-30")
}

fn only(limbs: Vec<IndexLimb>) -> IndexLimb {
    assert_eq!(limbs.len(), 1, "{limbs:#?}");
    limbs.into_iter().next().unwrap()
}

#[test]
fn death_before_any_visit_is_an_event_for_every_survival_endpoint_on_that_day() {
    let p = id(1);
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-10", Limb::Right, OPERATOR)),
            (2, baseline(p, "2025-01-05", false, 1)),
            (3, death("2025-01-20")),
        ],
    );
    let l = only(index_limbs(&f, today()));
    assert_eq!(l.death_day, Some(10));
    assert_eq!(l.last_known_day, 10);
    assert_eq!(l.amputation_free_survival(), (10, true));
    assert_eq!(l.overall_survival(), (10, true));
    // Censored at death for limb salvage, reintervention and MALE.
    assert_eq!(l.freedom_from_major_amputation(), (10, false));
    assert_eq!(l.freedom_from_any_reintervention(), (10, false));
    assert_eq!(l.freedom_from_male(), (10, false));
    assert_eq!(l.major_amputation_competing(), (10, 2));
    assert_eq!(l.wound_healing_competing(), Some((10, 3)));
    assert_eq!(
        l.thirty_day_status(l.died_by_30()),
        pdva_outcomes::ThirtyDayStatus::Event,
        "died within 30 days: the 30-day status is known"
    );
    assert_eq!(
        l.thirty_day_status(l.major_amputation_by_30()),
        pdva_outcomes::ThirtyDayStatus::EventFree,
        "died within 30 days without an amputation: known free of it"
    );
    assert!(l.male_or_death_30_day());
}

#[test]
fn bilateral_patient_death_applies_to_both_limbs_from_their_own_day_zero() {
    let (right, left) = (id(1), id(2));
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2024-01-01", Limb::Right, OPERATOR)),
            (2, procedure("2024-07-01", Limb::Left, OTHER_OPERATOR)),
            (3, visit(right, "2024-02-01", None)),
            (
                4,
                amputation(left, "2024-09-01", Limb::Left, AmputationLevel::BelowKnee),
            ),
            (5, death("2025-01-01")),
        ],
    );
    let limbs = index_limbs(&f, today());
    assert_eq!(limbs.len(), 2);
    let r = limbs.iter().find(|l| l.procedure_id == right).unwrap();
    let l = limbs.iter().find(|l| l.procedure_id == left).unwrap();
    assert_eq!(r.overall_survival(), (366, true));
    assert_eq!(l.overall_survival(), (184, true));
    // The left limb's amputation belongs to the left limb only.
    assert_eq!(r.major_amputation_day, None);
    assert_eq!(r.amputation_free_survival(), (366, true));
    assert_eq!(l.amputation_free_survival(), (62, true));
    assert_eq!(l.major_amputation_competing(), (62, 1));
    assert_eq!(r.major_amputation_competing(), (366, 2));
}

#[test]
fn follow_up_ended_censors_at_the_last_known_date_and_later_records_do_not_count() {
    let p = id(1);
    let mut who = patient("TST");
    who.follow_up_ended_on = Some(d("2025-06-01"));
    who.follow_up_end_reason = Some(FollowUpEndReason::MovedAway);
    let f = file(
        who,
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (2, visit(p, "2025-03-01", Some(WoundStatus::Healing))),
            // Reported after follow-up ended: not counted.
            (
                3,
                amputation(p, "2025-08-01", Limb::Right, AmputationLevel::AboveKnee),
            ),
            (4, death("2025-09-01")),
        ],
    );
    let l = only(index_limbs(&f, today()));
    assert!(l.follow_up_ended);
    assert_eq!(l.death_day, None);
    assert_eq!(l.major_amputation_day, None);
    assert_eq!(
        l.last_known_day, 59,
        "the last visit, not the end of follow-up"
    );
    assert_eq!(l.cut_off_day, 151);
    assert_eq!(l.amputation_free_survival(), (59, false));
    assert_eq!(l.overall_survival(), (59, false));
}

#[test]
fn major_amputation_after_a_minor_one_is_the_event() {
    let p = id(1);
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (
                2,
                amputation(p, "2025-01-21", Limb::Right, AmputationLevel::Toe),
            ),
            (
                3,
                amputation(
                    p,
                    "2025-02-10",
                    Limb::Right,
                    AmputationLevel::Transmetatarsal,
                ),
            ),
            (
                4,
                amputation(p, "2025-03-02", Limb::Right, AmputationLevel::BelowKnee),
            ),
            (5, visit(p, "2025-06-01", None)),
        ],
    );
    let l = only(index_limbs(&f, today()));
    assert_eq!(l.major_amputation_day, Some(60));
    assert_eq!(l.freedom_from_major_amputation(), (60, true));
    assert_eq!(l.amputation_free_survival(), (60, true));
    assert_eq!(l.freedom_from_male(), (60, true));
    assert_eq!(l.last_known_day, 151);
}

#[test]
fn reinterventions_after_major_amputation_do_not_count() {
    let p = id(1);
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (
                2,
                reintervention(p, "2025-01-11", true, ReinterventionKind::VenousAngioplasty),
            ),
            (
                3,
                amputation(p, "2025-02-01", Limb::Right, AmputationLevel::AboveKnee),
            ),
            // After the major amputation: neither an event nor in the rate.
            (
                4,
                reintervention(
                    p,
                    "2025-03-01",
                    false,
                    ReinterventionKind::OpenSurgicalRevision,
                ),
            ),
            (5, visit(p, "2025-07-01", None)),
        ],
    );
    let l = only(index_limbs(&f, today()));
    assert_eq!(l.freedom_from_any_reintervention(), (10, true));
    // No unplanned reintervention before the amputation: censored at it.
    assert_eq!(l.freedom_from_unplanned_reintervention(), (31, false));
    assert_eq!(l.first_major_reintervention_day, None);
    assert_eq!(
        (l.planned_reinterventions, l.unplanned_reinterventions),
        (1, 0)
    );
    assert_eq!(l.person_time_end_day(), 31);
}

#[test]
fn a_same_day_salvage_attempt_counts_before_the_amputation() {
    let p = id(1);
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (
                2,
                reintervention(
                    p,
                    "2025-02-01",
                    false,
                    ReinterventionKind::ThrombectomyOrThrombolysis,
                ),
            ),
            (
                3,
                amputation(p, "2025-02-01", Limb::Right, AmputationLevel::AboveKnee),
            ),
        ],
    );
    let l = only(index_limbs(&f, today()));
    assert_eq!(l.freedom_from_unplanned_reintervention(), (31, true));
    assert_eq!(l.freedom_from_male(), (31, true));
    assert_eq!(l.unplanned_reinterventions, 1);
}

#[test]
fn records_after_the_report_date_are_ignored() {
    let p = id(1);
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (2, visit(p, "2025-02-01", Some(WoundStatus::Healing))),
            (
                3,
                anticoagulant(
                    p,
                    AntithromboticDrug::Apixaban,
                    "2025-01-01",
                    Some("2025-05-01"),
                    Some(StopReason::Planned),
                ),
            ),
            (4, visit(p, "2025-06-01", Some(WoundStatus::Healed))),
            (5, death("2025-08-01")),
        ],
    );
    let as_of = d("2025-03-31");
    let l = only(index_limbs(&f, as_of));
    assert_eq!(l.death_day, None);
    assert_eq!(l.wound_healed_day, None);
    assert_eq!(
        l.last_known_day, 31,
        "the stop date after the report date is not yet known"
    );
    let anticoagulation = l.anticoagulation.unwrap();
    assert_eq!((anticoagulation.days, anticoagulation.stopped), (31, false));
    // A procedure after the report date is left out altogether.
    assert!(index_limbs(&f, d("2024-12-31")).is_empty());
    // As of today, everything counts.
    let l = only(index_limbs(&f, today()));
    assert_eq!(l.death_day, Some(212));
    assert_eq!(l.wound_healed_day, Some(151));
    assert_eq!(l.anticoagulation.unwrap().days, 120);
    assert!(l.anticoagulation.unwrap().stopped);
}

#[test]
fn anticoagulation_is_the_union_of_courses_and_death_censors_it() {
    let p = id(1);
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (
                2,
                anticoagulant(
                    p,
                    AntithromboticDrug::Lmwh,
                    "2025-01-01",
                    Some("2025-01-11"),
                    Some(StopReason::Planned),
                ),
            ),
            // Overlaps the heparin by 2 days, then a gap of 10 days.
            (
                3,
                anticoagulant(
                    p,
                    AntithromboticDrug::Rivaroxaban,
                    "2025-01-09",
                    Some("2025-02-01"),
                    Some(StopReason::Bleeding),
                ),
            ),
            (
                4,
                anticoagulant(
                    p,
                    AntithromboticDrug::Warfarin,
                    "2025-02-11",
                    Some("2025-03-01"),
                    Some(StopReason::Death),
                ),
            ),
            (5, death("2025-03-01")),
        ],
    );
    let l = only(index_limbs(&f, today()));
    let a = l.anticoagulation.unwrap();
    assert_eq!(a.days, 10 + 21 + 18);
    assert!(!a.stopped, "ended with the patient's death: censored");
    let by: Vec<_> = l
        .anticoagulation_by_drug
        .iter()
        .map(|(d, t)| (*d, t.days, t.stopped))
        .collect();
    assert_eq!(
        by,
        [
            (AntithromboticDrug::Rivaroxaban, 23, true),
            (AntithromboticDrug::Warfarin, 18, false),
            (AntithromboticDrug::Lmwh, 10, true),
        ]
    );
}

#[test]
fn wound_healing_counts_only_for_limbs_with_a_wound_and_before_amputation() {
    let p = id(1);
    let healed_then_amputated = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (2, baseline(p, "2024-12-20", true, 2)),
            (3, visit(p, "2025-03-01", Some(WoundStatus::Healed))),
            (
                4,
                amputation(p, "2025-05-01", Limb::Right, AmputationLevel::BelowKnee),
            ),
        ],
    );
    assert_eq!(
        only(index_limbs(&healed_then_amputated, today())).wound_healing_competing(),
        Some((59, 1))
    );
    let no_wound = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (2, baseline(p, "2024-12-20", false, 0)),
            (3, visit(p, "2025-03-01", Some(WoundStatus::NoWound))),
        ],
    );
    assert_eq!(
        only(index_limbs(&no_wound, today())).wound_healing_competing(),
        None
    );
}

#[test]
fn filters_select_site_operator_and_procedure_dates() {
    let mut reference = ReferenceData::default();
    for code in ["AAA", "BBB"] {
        reference.sites.insert(
            SiteCode::parse(code).unwrap(),
            Site {
                site_code: SiteCode::parse(code).unwrap(),
                name: RequiredText::parse_for("name", &format!("{code} Hospital")).unwrap(),
                country: CountryCode::parse("GB").unwrap(),
                ods_code: None,
                governance_lead_name: None,
                governance_lead_informed_on: None,
                min_proctored_cases: 5,
            },
        );
    }
    for (n, name) in [
        (OPERATOR, "Ms A Surgeon"),
        (OTHER_OPERATOR, "Dr B Radiologist"),
    ] {
        reference.clinicians.insert(
            id(n),
            Clinician {
                display_name: RequiredText::parse_for("display_name", name).unwrap(),
                professional_registration: None,
                specialty: Specialty::VascularSurgeon,
                sites: vec![SiteCode::parse("AAA").unwrap()],
                pdva_training_completed_on: None,
                pdva_training_description: None,
                proctored_cases: 0,
            },
        );
    }
    let files = vec![
        file(
            patient("AAA"),
            vec![
                (1, procedure("2024-01-01", Limb::Right, OPERATOR)),
                (2, procedure("2025-01-01", Limb::Left, OTHER_OPERATOR)),
            ],
        ),
        file(
            patient("BBB"),
            vec![(1, procedure("2024-06-01", Limb::Right, OPERATOR))],
        ),
    ];
    let count = |f: Filter| cohort(&files, &f.resolve(&reference).unwrap(), today()).len();
    assert_eq!(count(Filter::default()), 3);
    assert_eq!(
        count(Filter {
            site: Some("AAA".into()),
            ..Filter::default()
        }),
        2
    );
    assert_eq!(
        count(Filter {
            operator: Some("ms a surgeon".into()),
            ..Filter::default()
        }),
        2
    );
    assert_eq!(
        count(Filter {
            operator: Some(id(OTHER_OPERATOR).to_string()),
            ..Filter::default()
        }),
        1
    );
    assert_eq!(
        count(Filter {
            from: Some(d("2024-03-01")),
            to: Some(d("2024-12-31")),
            ..Filter::default()
        }),
        1
    );
    // Bad filters name the value.
    let err = Filter {
        site: Some("ZZZ".into()),
        ..Filter::default()
    }
    .resolve(&reference)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown site code \"ZZZ\"; the registry's sites are: AAA, BBB"
    );
    let err = Filter {
        operator: Some("Dr Nobody".into()),
        ..Filter::default()
    }
    .resolve(&reference)
    .unwrap_err();
    assert!(err.to_string().contains("\"Dr Nobody\""));
    let err = Filter {
        from: Some(d("2025-01-01")),
        to: Some(d("2024-01-01")),
        ..Filter::default()
    }
    .resolve(&reference)
    .unwrap_err();
    assert!(err.to_string().contains("empty"));

    // The report names the filters it used, and an empty cohort is a valid report.
    let request = ReportRequest {
        as_of: today(),
        filter: Filter {
            site: Some("BBB".into()),
            from: Some(d("2026-01-01")),
            ..Filter::default()
        }
        .resolve(&reference)
        .unwrap(),
        data_version: "7-abc".into(),
    };
    let report = build_report(&files, &reference, &request).unwrap();
    assert_eq!(report.filters.site.as_deref(), Some("BBB"));
    assert_eq!(report.filters.from.as_deref(), Some("2026-01-01"));
    assert_eq!(report.data_version, "7-abc");
    assert_eq!(report.cohort.index_procedures, 0);
    assert!(report.amputation_free_survival.rows.is_empty());
    assert_eq!(report.technical_success.estimate, None);
    let text = pdva_outcomes::render_text(&report);
    assert!(text.contains("site BBB"), "{text}");
}

fn adverse_event(
    procedure_id: RecordId,
    onset: &str,
    kind: AdverseEventKind,
    resolved: Option<&str>,
) -> ClinicalRecord {
    ClinicalRecord::AdverseEvent(AdverseEvent {
        procedure_id,
        onset_date: d(onset),
        kind,
        severity: pdva_domain::codes::Severity::Mild,
        serious: None,
        device_or_procedure_related: None,
        resolved_on: resolved.map(d),
        description: None,
    })
}

/// DOMAIN.md section 7, 30-day proportions: a limb counts once its window
/// has passed by the report date and its status at day 30 is known; one
/// whose window has passed but whose status is unknown is counted apart.
#[test]
fn thirty_day_status_needs_the_window_passed_and_a_status_known() {
    use pdva_outcomes::ThirtyDayStatus::*;
    let p = id(1);
    // Seen on day 10, then nothing: the window has passed, status unknown.
    let lost = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (2, visit(p, "2025-01-11", None)),
        ],
    );
    // Procedure 10 days before the report, died on day 5: the window is
    // still open, so the early death does not count yet.
    let recent = file(
        patient("TST"),
        vec![
            (1, procedure("2026-06-20", Limb::Right, OPERATOR)),
            (2, death("2026-06-25")),
        ],
    );
    // Died on day 20: the death is the event, and amputation status at day
    // 30 is known (free of it).
    let died = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (2, death("2025-01-21")),
        ],
    );
    // A pain on day 5 resolved on day 8, seen on day 10, died on day 200:
    // known alive at day 30 (the last known date is the death).
    let later = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (
                2,
                adverse_event(p, "2025-01-06", AdverseEventKind::Pain, Some("2025-01-09")),
            ),
            (3, visit(p, "2025-01-11", None)),
            (4, death("2025-07-20")),
        ],
    );
    let [lost_l, recent_l, died_l, later_l] =
        [&lost, &recent, &died, &later].map(|f| only(index_limbs(f, today())));
    assert_eq!(lost_l.last_known_day, 10);
    assert_eq!(lost_l.thirty_day_status(lost_l.died_by_30()), Unknown);
    assert_eq!(lost_l.thirty_day_status(false), Unknown);
    assert_eq!(
        recent_l.thirty_day_status(recent_l.died_by_30()),
        WindowOpen
    );
    assert_eq!(died_l.thirty_day_status(died_l.died_by_30()), Event);
    assert_eq!(
        died_l.thirty_day_status(died_l.major_amputation_by_30()),
        EventFree
    );
    assert_eq!(later_l.thirty_day_status(later_l.died_by_30()), EventFree);
    assert!(later_l.had_adverse_event_30_day(AdverseEventKind::Pain));

    // The report: one death of two known, one unknown beside them, three
    // windows passed; the recent limb is in none of them.
    let reference = ReferenceData::default();
    let request = ReportRequest {
        as_of: today(),
        filter: Filter::default().resolve(&reference).unwrap(),
        data_version: "t".into(),
    };
    let r = build_report(&[lost, recent, died, later.clone()], &reference, &request).unwrap();
    assert_eq!(r.adverse_events_30_day.window_passed, 3);
    let m = &r.mortality_30_day;
    assert_eq!(
        (m.k, m.n, m.status_unknown),
        (1u64.into(), 2u64.into(), Some(1u64.into()))
    );
    let pain = &r.adverse_events_30_day.by_kind[0];
    assert_eq!(pain.kind, "pain");
    assert_eq!(
        (
            pain.proportion.k,
            pain.proportion.n,
            pain.proportion.status_unknown
        ),
        (1u64.into(), 2u64.into(), Some(1u64.into()))
    );
    assert_eq!(r.technical_success.status_unknown, None);

    // Seen only up to day 10, the pain alone is known for that limb: its
    // other kinds are of unknown status.
    let pain_only = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (
                2,
                adverse_event(p, "2025-01-06", AdverseEventKind::Pain, None),
            ),
            (3, visit(p, "2025-01-11", None)),
        ],
    );
    let l = only(index_limbs(&pain_only, today()));
    assert_eq!(
        l.thirty_day_status(l.had_adverse_event_30_day(AdverseEventKind::Pain)),
        Event
    );
    assert_eq!(
        l.thirty_day_status(l.had_adverse_event_30_day(AdverseEventKind::Bleeding)),
        Unknown
    );
}

/// DOMAIN.md section 7 lists the dates that attest the patient alive; a
/// baseline's MDT decision date is not one of them.
#[test]
fn the_last_known_date_counts_only_the_dates_domain_lists() {
    let p = id(1);
    let mut with_mdt = baseline(p, "2024-12-20", false, 1);
    if let ClinicalRecord::Baseline(b) = &mut with_mdt {
        b.mdt_decision_date = Some(d("2025-03-01"));
    }
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (2, with_mdt),
            (
                3,
                adverse_event(
                    p,
                    "2025-01-05",
                    AdverseEventKind::Bleeding,
                    Some("2025-01-25"),
                ),
            ),
        ],
    );
    let l = only(index_limbs(&f, today()));
    assert_eq!(
        l.last_known_day, 24,
        "the adverse event's resolution, not the MDT date"
    );
}

/// Same-day order: a wound recorded healed on the day of death does not
/// count as healing (the death comes first).
#[test]
fn a_healing_on_the_day_of_death_does_not_count() {
    let p = id(1);
    let f = file(
        patient("TST"),
        vec![
            (1, procedure("2025-01-01", Limb::Right, OPERATOR)),
            (2, baseline(p, "2024-12-20", false, 1)),
            (3, visit(p, "2025-03-01", Some(WoundStatus::Healed))),
            (4, death("2025-03-01")),
        ],
    );
    let l = only(index_limbs(&f, today()));
    assert_eq!(l.wound_healed_day, None);
    assert_eq!(l.wound_healing_competing(), Some((59, 3)));
}
