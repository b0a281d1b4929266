//! Shared test builder: a complete, valid patient file (a patient, a consent,
//! an index procedure on the right limb with its baseline, a drug course,
//! three follow-up visits, a toe amputation, a reintervention, an adverse
//! event and two quality-of-life assessments) that each test breaks in
//! exactly one way, plus the assertions every rule test makes.
//!
//! The valid file's timeline (today is 2025-06-01):
//!
//! | date       | record                                         |
//! |------------|------------------------------------------------|
//! | 1950-03-15 | date of birth                                  |
//! | 2024-01-02 | baseline assessment, baseline QoL              |
//! | 2024-01-05 | consent                                        |
//! | 2024-01-10 | index procedure, right limb (day 0); clopidogrel starts |
//! | 2024-01-11 | adverse event (bleeding), resolved 2024-01-20  |
//! | 2024-01-13 | discharge                                      |
//! | 2024-02-09 | visit, 30 days (intact)                        |
//! | 2024-03-01 | reintervention (venous angioplasty)            |
//! | 2024-04-10 | visit, 3 months (intact); QoL; clopidogrel stops |
//! | 2024-05-01 | toe amputation, right                          |
//! | 2024-07-10 | visit, 6 months (minor amputation)             |

#![allow(dead_code)]

use std::collections::HashMap;

use chrono::NaiveDate;
use pdva_domain::codes::{
    AdverseEventKind, AmputationLevel, Anaesthesia, AntithromboticDrug, ArterialAccess,
    CauseOfDeath, ContactMode, CrossoverLevel, Diabetes, InformationGiven, Limb, LimbStatus,
    NoOptionReason, RegistryDataConsent, ReinterventionKind, ResearchConsent, Sex, Specialty,
    TibialVessel, VenousAccess, VenousArchFlow,
};
use pdva_domain::values::{
    Abi, AnklePressure, CountryCode, Eq5dLevel, EqVas, NhsNumber, NonNegative, PainScore, Positive,
    RegistryId, RequiredText, RutherfordCategory, SiteCode, Tcpo2, ToePressure, VascuQolItem,
    WifiGrade,
};
use pdva_domain::{
    AdverseEvent, Amputation, AntithromboticTherapy, Baseline, Checked, ClinicalRecord, Clinician,
    Consent, Death, DomainError, Finding, FollowUpVisit, IndexProcedure, Patient, PatientFile,
    QualityOfLife, RecordId, ReferenceData, Reintervention, Rule, Severity, Site, check_file,
    check_record,
};

/// A date from ISO 8601 text.
pub fn d(s: &str) -> NaiveDate {
    s.parse().expect("an ISO 8601 date")
}

/// The fixed "today" of every rule test.
pub const TODAY: &str = "2025-06-01";
/// The index procedure's date (day 0).
pub const PROCEDURE_DATE: &str = "2024-01-10";
/// The patient's date of birth.
pub const DATE_OF_BIRTH: &str = "1950-03-15";
/// The patient's home site.
pub const SITE: &str = "RFH";
/// The primary operator's name, as findings show it.
pub const OPERATOR_NAME: &str = "Ms A Surgeon";

/// A record id from a small number, so tests are reproducible.
pub fn id(n: u128) -> RecordId {
    RecordId::from_bits(n)
}

/// The ids of the valid file's records.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// The patient.
    pub patient: RecordId,
    /// The primary operator (credentialed, at the site).
    pub operator: RecordId,
    /// The second operator.
    pub assistant: RecordId,
    /// The consent.
    pub consent: RecordId,
    /// The right-limb index procedure.
    pub procedure: RecordId,
    /// Its baseline.
    pub baseline: RecordId,
    /// The clopidogrel course.
    pub therapy: RecordId,
    /// 30-day visit.
    pub visit_30d: RecordId,
    /// 3-month visit.
    pub visit_3m: RecordId,
    /// 6-month visit (after the toe amputation).
    pub visit_6m: RecordId,
    /// The reintervention.
    pub reintervention: RecordId,
    /// The toe amputation.
    pub toe_amputation: RecordId,
    /// The adverse event.
    pub adverse_event: RecordId,
    /// The baseline QoL.
    pub qol_baseline: RecordId,
    /// The 3-month QoL.
    pub qol_3m: RecordId,
}

/// A valid patient file with its reference data, and the helpers to break it.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The patient's file.
    pub file: PatientFile,
    /// Sites and clinicians.
    pub reference: ReferenceData,
    /// Today.
    pub today: NaiveDate,
    /// The valid file's record ids.
    pub ids: Ids,
    next_id: u128,
}

/// The valid patient.
pub fn patient(date_of_birth: NaiveDate) -> Patient {
    Patient {
        registry_id: RegistryId::parse("P-0000TEST").unwrap(),
        nhs_number: Some(NhsNumber::parse("9990000018").unwrap()),
        hospital_number: Some("H123456".into()),
        family_name: Some("Testpatient".into()),
        given_name: Some("Alex".into()),
        date_of_birth,
        sex: Sex::Female,
        home_site: SiteCode::parse(SITE).unwrap(),
        follow_up_ended_on: None,
        follow_up_end_reason: None,
    }
}

/// A site requiring `min_proctored_cases`.
pub fn site(code: &str, min_proctored_cases: u32) -> Site {
    Site {
        site_code: SiteCode::parse(code).unwrap(),
        name: RequiredText::parse_for("name", "Royal Test Hospital").unwrap(),
        country: CountryCode::parse("GB").unwrap(),
        ods_code: None,
        governance_lead_name: Some("Dr G Lead".into()),
        governance_lead_informed_on: Some(d("2023-06-01")),
        min_proctored_cases,
    }
}

/// A clinician at `site`.
pub fn clinician(
    name: &str,
    site: &str,
    trained: Option<NaiveDate>,
    proctored_cases: u32,
) -> Clinician {
    Clinician {
        display_name: RequiredText::parse_for("display_name", name).unwrap(),
        professional_registration: Some("1234567".into()),
        specialty: Specialty::VascularSurgeon,
        sites: vec![SiteCode::parse(site).unwrap()],
        pdva_training_completed_on: trained,
        pdva_training_description: Some("Proctoring programme".into()),
        proctored_cases,
    }
}

/// A complete consent dated `date`, taken by `taken_by`.
pub fn consent(date: NaiveDate, taken_by: RecordId) -> Consent {
    Consent {
        consent_date: date,
        taken_by,
        uncertainties_explained: true,
        information_given: vec![
            InformationGiven::NiceInformationForThePublic,
            InformationGiven::LocalLeaflet,
        ],
        information_version: Some("v2, 2023".into()),
        shared_decision_making_documented: true,
        lacks_capacity: false,
        best_interests_decision_documented: None,
        registry_data_consent: RegistryDataConsent::Yes,
        research_consent: ResearchConsent::Yes,
        research_consent_withdrawn_on: None,
    }
}

/// An index procedure with unremarkable technique.
pub fn procedure(date: NaiveDate, limb: Limb, operator: RecordId) -> IndexProcedure {
    IndexProcedure {
        procedure_date: date,
        index_limb: limb,
        primary_operator: operator,
        second_operator: None,
        proctor: None,
        anaesthesia: Anaesthesia::General,
        device_system: RequiredText::parse_for("device_system", "Test pDVA system").unwrap(),
        device_lot: Some("LOT-1".into()),
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
        crossing_stent: Some(true),
        completion_angiography: true,
        venous_arch_flow: Some(VenousArchFlow::Complete),
        procedure_minutes: None,
        fluoroscopy_minutes: Some(NonNegative::new(30.0).unwrap()),
        contrast_ml: Some(120),
        air_kerma_mgy: None,
        dap_gycm2: None,
        discharge_date: date.checked_add_days(chrono::Days::new(3)),
    }
}

/// A CLTI baseline whose recorded ischaemia grade (3) agrees with every
/// perfusion value measured.
pub fn baseline(procedure_id: RecordId, date: NaiveDate) -> Baseline {
    Baseline {
        procedure_id: Some(procedure_id),
        index_limb: None,
        assessment_date: date,
        rutherford_category: RutherfordCategory::new(5).unwrap(),
        wifi_wound: WifiGrade::new(2).unwrap(),
        wifi_ischaemia: WifiGrade::new(3).unwrap(),
        wifi_foot_infection: WifiGrade::new(1).unwrap(),
        rest_pain: Some(true),
        pain_score: Some(PainScore::new(7).unwrap()),
        wound_count: Some(1),
        largest_wound_area_cm2: Some(Positive::new(4.5).unwrap()),
        wound_locations: vec![pdva_domain::codes::WoundLocation::Forefoot],
        gangrene: None,
        abi: Some(Abi::new(0.35).unwrap()),
        ankle_systolic_pressure_mmhg: Some(AnklePressure::new(45).unwrap()),
        toe_pressure_mmhg: Some(ToePressure::new(20).unwrap()),
        tcpo2_mmhg: Some(Tcpo2::new(15).unwrap()),
        diabetes: Diabetes::Type2,
        dialysis_dependent: false,
        ckd_stage: None,
        hypertension: Some(true),
        hyperlipidaemia: Some(true),
        coronary_artery_disease: None,
        heart_failure: None,
        prior_stroke: None,
        copd: None,
        smoking: None,
        height_cm: Some(Positive::new(175.0).unwrap()),
        weight_kg: Some(Positive::new(80.0).unwrap()),
        ambulatory_status: None,
        clinical_frailty_scale: None,
        no_option_reasons: vec![
            NoOptionReason::NoBypassTarget,
            NoOptionReason::NoEndovascularTarget,
        ],
        mdt_decision_date: Some(date),
        prior_revascularisations_index_limb: Some(2),
        prior_minor_amputation_index_limb: Some(false),
        pedal_venous_anatomy_confirmed: true,
        venous_imaging: None,
    }
}

/// A drug course.
pub fn therapy(
    procedure_id: RecordId,
    start: NaiveDate,
    stop: Option<NaiveDate>,
) -> AntithromboticTherapy {
    AntithromboticTherapy {
        procedure_id,
        drug: AntithromboticDrug::Clopidogrel,
        dose: Some("75 mg od".into()),
        start_date: start,
        stop_date: stop,
        stop_reason: None,
    }
}

/// A follow-up visit with only the required fields.
pub fn visit(procedure_id: RecordId, date: NaiveDate, limb_status: LimbStatus) -> FollowUpVisit {
    FollowUpVisit {
        procedure_id,
        visit_date: date,
        contact: ContactMode::InPerson,
        limb_status,
        wound_status: None,
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
    }
}

/// An amputation.
pub fn amputation(
    procedure_id: RecordId,
    date: NaiveDate,
    limb: Limb,
    level: AmputationLevel,
    revision: bool,
) -> Amputation {
    Amputation {
        procedure_id,
        date,
        limb,
        level,
        revision,
        reason: None,
    }
}

/// A clinically driven venous angioplasty.
pub fn reintervention(procedure_id: RecordId, date: NaiveDate, limb: Limb) -> Reintervention {
    Reintervention {
        procedure_id,
        date,
        limb,
        planned: false,
        kind: ReinterventionKind::VenousAngioplasty,
        related_to_pdva: None,
    }
}

/// A death.
pub fn death(date: NaiveDate) -> Death {
    Death {
        date,
        cause: CauseOfDeath::Cardiovascular,
        procedure_related: None,
    }
}

/// A mild bleeding.
pub fn adverse_event(
    procedure_id: RecordId,
    onset: NaiveDate,
    resolved: Option<NaiveDate>,
) -> AdverseEvent {
    AdverseEvent {
        procedure_id,
        onset_date: onset,
        kind: AdverseEventKind::Bleeding,
        severity: pdva_domain::codes::Severity::Mild,
        serious: Some(false),
        device_or_procedure_related: None,
        resolved_on: resolved,
        description: None,
    }
}

/// A fully answered QoL assessment.
pub fn qol(procedure_id: RecordId, date: NaiveDate) -> QualityOfLife {
    let item = |n| Some(VascuQolItem::new(n).unwrap());
    let level = |n| Some(Eq5dLevel::new(n).unwrap());
    QualityOfLife {
        procedure_id: Some(procedure_id),
        index_limb: None,
        assessment_date: date,
        vascuqol: [item(2), item(2), item(3), item(1), item(2), item(3)],
        eq5d_mobility: level(3),
        eq5d_self_care: level(2),
        eq5d_usual_activities: level(3),
        eq5d_pain_discomfort: level(4),
        eq5d_anxiety_depression: level(2),
        eq_vas: Some(EqVas::new(45).unwrap()),
    }
}

impl Fixture {
    /// The valid file described in the module documentation.
    pub fn valid() -> Self {
        let ids = Ids {
            patient: id(1),
            operator: id(2),
            assistant: id(3),
            consent: id(10),
            procedure: id(11),
            baseline: id(12),
            therapy: id(13),
            visit_30d: id(14),
            visit_3m: id(15),
            visit_6m: id(16),
            reintervention: id(17),
            toe_amputation: id(18),
            adverse_event: id(19),
            qol_baseline: id(20),
            qol_3m: id(21),
        };
        let reference = ReferenceData {
            sites: HashMap::from([(
                SiteCode::parse(SITE).unwrap(),
                site(SITE, Site::DEFAULT_MIN_PROCTORED_CASES),
            )]),
            clinicians: HashMap::from([
                (
                    ids.operator,
                    clinician(OPERATOR_NAME, SITE, Some(d("2020-01-01")), 8),
                ),
                (
                    ids.assistant,
                    clinician("Dr B Radiologist", SITE, Some(d("2021-05-01")), 6),
                ),
            ]),
        };

        let p = ids.procedure;
        let mut index = procedure(d(PROCEDURE_DATE), Limb::Right, ids.operator);
        index.second_operator = Some(ids.assistant);
        let mut visit_30d = visit(p, d("2024-02-09"), LimbStatus::Intact);
        // Toe pressure 35 suggests ischaemia grade 2, as recorded.
        visit_30d.toe_pressure_mmhg = Some(ToePressure::new(35).unwrap());
        visit_30d.wifi_ischaemia = Some(WifiGrade::new(2).unwrap());
        visit_30d.largest_wound_area_cm2 = Some(Positive::new(3.0).unwrap());

        let records = vec![
            (
                ids.consent,
                ClinicalRecord::Consent(consent(d("2024-01-05"), ids.operator)),
            ),
            (ids.procedure, ClinicalRecord::Procedure(index)),
            (
                ids.baseline,
                ClinicalRecord::Baseline(baseline(p, d("2024-01-02"))),
            ),
            (
                ids.therapy,
                ClinicalRecord::AntithromboticTherapy(therapy(
                    p,
                    d(PROCEDURE_DATE),
                    Some(d("2024-04-10")),
                )),
            ),
            (
                ids.adverse_event,
                ClinicalRecord::AdverseEvent(adverse_event(
                    p,
                    d("2024-01-11"),
                    Some(d("2024-01-20")),
                )),
            ),
            (ids.visit_30d, ClinicalRecord::FollowUpVisit(visit_30d)),
            (
                ids.reintervention,
                ClinicalRecord::Reintervention(reintervention(p, d("2024-03-01"), Limb::Right)),
            ),
            (
                ids.visit_3m,
                ClinicalRecord::FollowUpVisit(visit(p, d("2024-04-10"), LimbStatus::Intact)),
            ),
            (
                ids.toe_amputation,
                ClinicalRecord::Amputation(amputation(
                    p,
                    d("2024-05-01"),
                    Limb::Right,
                    AmputationLevel::Toe,
                    false,
                )),
            ),
            (
                ids.visit_6m,
                ClinicalRecord::FollowUpVisit(visit(
                    p,
                    d("2024-07-10"),
                    LimbStatus::MinorAmputation,
                )),
            ),
            (
                ids.qol_baseline,
                ClinicalRecord::QualityOfLife(qol(p, d("2024-01-02"))),
            ),
            (
                ids.qol_3m,
                ClinicalRecord::QualityOfLife(qol(p, d("2024-04-10"))),
            ),
        ];
        let mut file = PatientFile::new(ids.patient, patient(d(DATE_OF_BIRTH)));
        file.records = records;
        Self {
            file,
            reference,
            today: d(TODAY),
            ids,
            next_id: 1000,
        }
    }

    /// Adds a record with a fresh id.
    pub fn add(&mut self, record: impl Into<RecordOf>) -> RecordId {
        let new = id(self.next_id);
        self.next_id += 1;
        self.file = self.file.clone().with_record(new, rec(record));
        new
    }

    /// Replaces a record (as an edit does).
    pub fn replace(&mut self, record: RecordId, with: impl Into<RecordOf>) {
        let before = self.file.records.len();
        self.file = self.file.clone().with_record(record, rec(with));
        assert_eq!(
            self.file.records.len(),
            before,
            "no record {record} to replace"
        );
    }

    /// Removes a record.
    pub fn remove(&mut self, record: RecordId) {
        let before = self.file.records.len();
        self.file.records.retain(|(rid, _)| *rid != record);
        assert_eq!(self.file.records.len(), before - 1, "no record {record}");
    }

    /// Adds a visit of the index procedure.
    pub fn add_visit(&mut self, date: &str, limb_status: LimbStatus) -> RecordId {
        self.add(visit(self.ids.procedure, d(date), limb_status))
    }

    /// Adds an amputation of the index (right) limb.
    pub fn add_amputation(
        &mut self,
        date: &str,
        level: AmputationLevel,
        revision: bool,
    ) -> RecordId {
        self.add(amputation(
            self.ids.procedure,
            d(date),
            Limb::Right,
            level,
            revision,
        ))
    }

    /// Adds a death.
    pub fn add_death(&mut self, date: &str) -> RecordId {
        self.add(death(d(date)))
    }

    /// The findings concerning one record (or the patient), from its point of view.
    pub fn check(&self, record: RecordId) -> Checked {
        check_record(&self.file, record, &self.reference, self.today)
    }

    /// Every finding of the file.
    pub fn check_file(&self) -> Checked {
        check_file(&self.file, &self.reference, self.today)
    }

    /// A record, to change it.
    pub fn record_mut(&mut self, record: RecordId) -> &mut ClinicalRecord {
        self.file
            .records
            .iter_mut()
            .find(|(rid, _)| *rid == record)
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no record {record}"))
    }

    /// The index procedure, to change it.
    pub fn procedure_mut(&mut self) -> &mut IndexProcedure {
        match self.record_mut(self.ids.procedure) {
            ClinicalRecord::Procedure(p) => p,
            other => panic!("not a procedure: {other:?}"),
        }
    }

    /// The baseline, to change it.
    pub fn baseline_mut(&mut self) -> &mut Baseline {
        match self.record_mut(self.ids.baseline) {
            ClinicalRecord::Baseline(b) => b,
            other => panic!("not a baseline: {other:?}"),
        }
    }

    /// The consent, to change it.
    pub fn consent_mut(&mut self) -> &mut Consent {
        match self.record_mut(self.ids.consent) {
            ClinicalRecord::Consent(c) => c,
            other => panic!("not a consent: {other:?}"),
        }
    }

    /// A visit, to change it.
    pub fn visit_mut(&mut self, record: RecordId) -> &mut FollowUpVisit {
        match self.record_mut(record) {
            ClinicalRecord::FollowUpVisit(v) => v,
            other => panic!("not a visit: {other:?}"),
        }
    }

    /// The primary operator, to change it.
    pub fn operator_mut(&mut self) -> &mut Clinician {
        self.reference
            .clinicians
            .get_mut(&self.ids.operator)
            .expect("operator")
    }

    /// The home site, to change it.
    pub fn site_mut(&mut self) -> &mut Site {
        self.reference
            .sites
            .get_mut(&SiteCode::parse(SITE).unwrap())
            .expect("site")
    }
}

macro_rules! into_record {
    ($($t:ident => $v:ident),+ $(,)?) => {
        $(impl From<$t> for RecordOf { fn from(r: $t) -> Self { RecordOf(ClinicalRecord::$v(r)) } })+
    };
}

/// A clinical record built from one of the record types (so `add` takes either).
pub struct RecordOf(pub ClinicalRecord);

into_record!(
    Consent => Consent,
    Baseline => Baseline,
    IndexProcedure => Procedure,
    AntithromboticTherapy => AntithromboticTherapy,
    FollowUpVisit => FollowUpVisit,
    Amputation => Amputation,
    Reintervention => Reintervention,
    Death => Death,
    AdverseEvent => AdverseEvent,
    QualityOfLife => QualityOfLife,
);

impl From<ClinicalRecord> for RecordOf {
    fn from(r: ClinicalRecord) -> Self {
        RecordOf(r)
    }
}

/// Wraps a record type as a [`ClinicalRecord`].
pub fn rec(r: impl Into<RecordOf>) -> ClinicalRecord {
    r.into().0
}

/// Asserts that the record is refused for `rule` alone — exactly one
/// refusal — naming `field` and `value`, with every one of `words` in its
/// message; returns that refusal.
#[track_caller]
pub fn assert_refused(
    checked: &Checked,
    rule: Rule,
    field: &str,
    value: &str,
    words: &[&str],
) -> Finding {
    assert_eq!(
        rule.severity(),
        Severity::Hard,
        "{rule:?} is not a hard rule"
    );
    assert_eq!(
        checked.refusals.len(),
        1,
        "expected exactly one refusal ({rule:?}), got {:#?}",
        checked.refusals
    );
    let f = checked.refusals[0].clone();
    assert_eq!(f.rule, rule, "{f:#?}");
    assert_eq!(f.severity, Severity::Hard);
    assert_eq!(f.field, field, "{f:#?}");
    assert_eq!(f.value, value, "{f:#?}");
    for w in words {
        assert!(f.message.contains(w), "message {:?} lacks {w:?}", f.message);
    }
    // The clinician sees "field: "value" rule".
    assert!(
        f.to_string().starts_with(&format!("{field}: \"{value}\" ")),
        "{f}"
    );
    match checked.clone().into_result() {
        Err(DomainError::Refused(found)) => assert_eq!(found, vec![f.clone()]),
        other => panic!("not refused: {other:?}"),
    }
    f
}

/// Asserts that the record is accepted (no refusal) with exactly one warning,
/// for `rule`, naming `field` and `value`, with every one of `words` in its
/// message; returns that warning.
#[track_caller]
pub fn assert_warned(
    checked: &Checked,
    rule: Rule,
    field: &str,
    value: &str,
    words: &[&str],
) -> Finding {
    assert_eq!(
        rule.severity(),
        Severity::Soft,
        "{rule:?} is not a soft rule"
    );
    assert!(
        checked.refusals.is_empty(),
        "refused: {:#?}",
        checked.refusals
    );
    assert_eq!(
        checked.warnings.len(),
        1,
        "expected exactly one warning ({rule:?}), got {:#?}",
        checked.warnings
    );
    let f = checked.warnings[0].clone();
    assert_eq!(f.rule, rule, "{f:#?}");
    assert_eq!(f.severity, Severity::Soft);
    assert_eq!(f.field, field, "{f:#?}");
    assert_eq!(f.value, value, "{f:#?}");
    for w in words {
        assert!(f.message.contains(w), "message {:?} lacks {w:?}", f.message);
    }
    assert_eq!(checked.clone().into_result(), Ok(vec![f.clone()]));
    f
}

/// Asserts no finding at all.
#[track_caller]
pub fn assert_clean(checked: &Checked) {
    assert!(
        checked.refusals.is_empty() && checked.warnings.is_empty(),
        "expected no findings, got {checked:#?}"
    );
}
