//! The records of the data dictionary (DOMAIN.md section 4).
//!
//! Field names are the dictionary's. Identity, authorship, voiding and
//! sign-off are the store's envelope around these records, not part of them.
//! A record that refers to another (a clinician, an index procedure) holds
//! its [`RecordId`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::codes::*;
use crate::values::*;

/// The identity of any record in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub uuid::Uuid);

impl RecordId {
    /// A new id: time-ordered (UUID version 7), so new rows append to the
    /// database's indexes instead of scattering across them.
    pub fn new_random() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// An id from 128 bits of a seeded generator, so synthetic data is
    /// reproducible. The high bits lead the id's text, so ids made from
    /// increasing high bits sort in that order.
    pub fn from_bits(bits: u128) -> Self {
        Self(uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid())
    }
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for RecordId {
    type Err = crate::error::FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| crate::error::FieldError::new("id", s, "is not a record id"))
    }
}

/// A participating hospital (4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Unique short code.
    pub site_code: SiteCode,
    /// Hospital name.
    pub name: RequiredText,
    /// ISO 3166-1 alpha-2 country.
    pub country: CountryCode,
    /// NHS Organisation Data Service code.
    pub ods_code: Option<String>,
    /// Name of the clinical governance lead.
    pub governance_lead_name: Option<String>,
    /// When the governance lead was informed (IPG773 1.2); empty is flagged.
    pub governance_lead_informed_on: Option<NaiveDate>,
    /// Proctored cases before an operator counts as credentialed (registry choice, default 5).
    pub min_proctored_cases: u32,
}

impl Site {
    /// Default for [`Site::min_proctored_cases`] (registry choice).
    pub const DEFAULT_MIN_PROCTORED_CASES: u32 = 5;
}

/// A governance review meeting of a site (4.1, IPG773 1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GovernanceMeeting {
    /// The site whose meeting it was.
    pub site_code: SiteCode,
    /// Date held.
    pub held_on: NaiveDate,
    /// Who attended.
    pub attendees: Option<String>,
    /// Data version of the report reviewed.
    pub report_data_version: Option<String>,
    /// Actions agreed.
    pub actions: Option<String>,
}

/// A clinician who may operate, take consent or proctor (4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clinician {
    /// Name as shown.
    pub display_name: RequiredText,
    /// e.g. GMC number.
    pub professional_registration: Option<String>,
    /// Specialty.
    pub specialty: Specialty,
    /// Sites where the clinician works.
    pub sites: Vec<SiteCode>,
    /// When pDVA training was completed.
    pub pdva_training_completed_on: Option<NaiveDate>,
    /// Course, proctoring programme.
    pub pdva_training_description: Option<String>,
    /// Proctored pDVA cases performed.
    pub proctored_cases: u32,
}

impl Clinician {
    /// Credentialed for pDVA on `date` at a site requiring `min_proctored_cases`:
    /// training completed on or before that date and enough proctored cases
    /// (DOMAIN.md 4.2). The proctored-case count is not dated in the
    /// dictionary, so the count recorded now is used for every date.
    pub fn credentialed_on(&self, date: NaiveDate, min_proctored_cases: u32) -> bool {
        self.pdva_training_completed_on
            .is_some_and(|trained| trained <= date)
            && self.proctored_cases >= min_proctored_cases
    }
}

/// A patient (4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    /// Opaque registry id.
    pub registry_id: RegistryId,
    /// NHS number (UK sites), unique when present.
    pub nhs_number: Option<NhsNumber>,
    /// Local hospital record number.
    pub hospital_number: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Sex.
    pub sex: Sex,
    /// The registering site.
    pub home_site: SiteCode,
    /// Lifelong follow-up stops only here.
    pub follow_up_ended_on: Option<NaiveDate>,
    /// Why follow-up ended (required with the date).
    pub follow_up_end_reason: Option<FollowUpEndReason>,
}

impl Patient {
    /// Whole years of age on `date`.
    pub fn age_on(&self, date: NaiveDate) -> i32 {
        date.years_since(self.date_of_birth)
            .map(|y| y as i32)
            .unwrap_or_else(|| -(self.date_of_birth.years_since(date).unwrap_or(0) as i32))
    }
}

/// A consent discussion and its record (4.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    /// Date consent was taken.
    pub consent_date: NaiveDate,
    /// Clinician who took consent.
    pub taken_by: RecordId,
    /// Safety, efficacy and uncertainties explained (IPG773 1.2).
    pub uncertainties_explained: bool,
    /// Information given.
    pub information_given: Vec<InformationGiven>,
    /// Version or date of the information given.
    pub information_version: Option<String>,
    /// Shared decision making documented.
    pub shared_decision_making_documented: bool,
    /// The patient lacked capacity to consent.
    pub lacks_capacity: bool,
    /// Best-interests decision documented (required when lacking capacity).
    pub best_interests_decision_documented: Option<bool>,
    /// Consent to the registry holding identifiable data.
    pub registry_data_consent: RegistryDataConsent,
    /// Consent to research use.
    pub research_consent: ResearchConsent,
    /// Research consent withdrawn on this date.
    pub research_consent_withdrawn_on: Option<NaiveDate>,
}

/// Baseline and patient selection for one index procedure (4.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The index procedure this baseline belongs to; empty while it waits
    /// for its limb's index procedure (recorded at the pre-operative
    /// assessment, before the procedure exists: DOMAIN.md 4.5).
    pub procedure_id: Option<RecordId>,
    /// The index limb assessed. Required while no procedure is linked;
    /// once linked it must be the procedure's limb. Empty in records made
    /// before the pre-operative workflow, whose limb is their procedure's.
    #[serde(default)]
    pub index_limb: Option<Limb>,
    /// Date of the assessment.
    pub assessment_date: NaiveDate,
    /// Rutherford category.
    pub rutherford_category: RutherfordCategory,
    /// WIfI wound grade.
    pub wifi_wound: WifiGrade,
    /// WIfI ischaemia grade.
    pub wifi_ischaemia: WifiGrade,
    /// WIfI foot infection grade.
    pub wifi_foot_infection: WifiGrade,
    /// Ischaemic rest pain.
    pub rest_pain: Option<bool>,
    /// Pain on 0–10.
    pub pain_score: Option<PainScore>,
    /// Number of wounds.
    pub wound_count: Option<u32>,
    /// Largest wound area, cm².
    pub largest_wound_area_cm2: Option<Positive>,
    /// Wound locations.
    pub wound_locations: Vec<WoundLocation>,
    /// Gangrene.
    pub gangrene: Option<Gangrene>,
    /// Ankle–brachial index.
    pub abi: Option<Abi>,
    /// Ankle systolic pressure, mmHg.
    pub ankle_systolic_pressure_mmhg: Option<AnklePressure>,
    /// Toe pressure, mmHg.
    pub toe_pressure_mmhg: Option<ToePressure>,
    /// TcPO2, mmHg.
    pub tcpo2_mmhg: Option<Tcpo2>,
    /// Diabetes.
    pub diabetes: Diabetes,
    /// Dependent on dialysis (IPG773 1.4).
    pub dialysis_dependent: bool,
    /// CKD stage.
    pub ckd_stage: Option<CkdStage>,
    /// Hypertension.
    pub hypertension: Option<bool>,
    /// Hyperlipidaemia.
    pub hyperlipidaemia: Option<bool>,
    /// Coronary artery disease.
    pub coronary_artery_disease: Option<bool>,
    /// Heart failure.
    pub heart_failure: Option<bool>,
    /// Prior stroke.
    pub prior_stroke: Option<bool>,
    /// COPD.
    pub copd: Option<bool>,
    /// Smoking.
    pub smoking: Option<Smoking>,
    /// Height, cm.
    pub height_cm: Option<Positive>,
    /// Weight, kg.
    pub weight_kg: Option<Positive>,
    /// Ambulatory status.
    pub ambulatory_status: Option<AmbulatoryStatus>,
    /// Clinical Frailty Scale.
    pub clinical_frailty_scale: Option<ClinicalFrailtyScale>,
    /// Why there was no ordinary revascularisation option (at least one).
    pub no_option_reasons: Vec<NoOptionReason>,
    /// Date of the multidisciplinary team decision.
    pub mdt_decision_date: Option<NaiveDate>,
    /// Prior revascularisations of the index limb.
    pub prior_revascularisations_index_limb: Option<u32>,
    /// Prior minor amputation of the index limb.
    pub prior_minor_amputation_index_limb: Option<bool>,
    /// Pedal venous anatomy confirmed suitable (IPG773 2.4).
    pub pedal_venous_anatomy_confirmed: bool,
    /// Imaging used for it.
    pub venous_imaging: Option<VenousImaging>,
}

impl Baseline {
    /// WIfI clinical stage (DOMAIN.md 6.1).
    pub fn wifi_clinical_stage(&self) -> u8 {
        crate::derived::wifi_clinical_stage(
            self.wifi_wound,
            self.wifi_ischaemia,
            self.wifi_foot_infection,
        )
    }

    /// Body-mass index, when height and weight are both recorded.
    pub fn bmi(&self) -> Option<f64> {
        let h = self.height_cm?.get() / 100.0;
        Some(self.weight_kg?.get() / (h * h))
    }

    /// Whether the limb had a wound at baseline (for the wound-healing endpoint).
    pub fn has_wound(&self) -> bool {
        crate::derived::has_wound(self.wound_count, self.wifi_wound)
    }
}

/// The index pDVA procedure on one limb and its technique (4.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexProcedure {
    /// Day 0 of every endpoint of this limb.
    pub procedure_date: NaiveDate,
    /// The index limb. DOMAIN.md lists it with the baseline; it is kept on the
    /// procedure because it identifies the index procedure.
    pub index_limb: Limb,
    /// Primary operator.
    pub primary_operator: RecordId,
    /// Second operator.
    pub second_operator: Option<RecordId>,
    /// Proctor.
    pub proctor: Option<RecordId>,
    /// Anaesthesia.
    pub anaesthesia: Anaesthesia,
    /// Device system used.
    pub device_system: RequiredText,
    /// Device lot.
    pub device_lot: Option<String>,
    /// Arterial access.
    pub arterial_access: ArterialAccess,
    /// Venous access.
    pub venous_access: VenousAccess,
    /// Target artery.
    pub target_artery: TibialVessel,
    /// Target vein.
    pub target_vein: TibialVessel,
    /// Crossover level.
    pub crossover_level: CrossoverLevel,
    /// Fistula created.
    pub fistula_created: bool,
    /// Valvulotomy performed.
    pub valvulotomy: bool,
    /// Extent of valvulotomy.
    pub valvulotomy_extent: Option<ValvulotomyExtent>,
    /// Venous stents placed.
    pub venous_stents_count: Option<VenousStentCount>,
    /// Stented length, mm.
    pub stented_length_mm: Option<StentedLength>,
    /// Crossing stent used.
    pub crossing_stent: Option<bool>,
    /// Completion angiography performed.
    pub completion_angiography: bool,
    /// Arterialised flow into the deep venous arch.
    pub venous_arch_flow: Option<VenousArchFlow>,
    /// Procedure duration, minutes.
    pub procedure_minutes: Option<ProcedureMinutes>,
    /// Fluoroscopy time, minutes.
    pub fluoroscopy_minutes: Option<NonNegative>,
    /// Contrast, ml.
    pub contrast_ml: Option<u32>,
    /// Air kerma, mGy.
    pub air_kerma_mgy: Option<NonNegative>,
    /// Dose–area product, Gy·cm².
    pub dap_gycm2: Option<NonNegative>,
    /// Discharge date.
    pub discharge_date: Option<NaiveDate>,
}

impl IndexProcedure {
    /// Technical success: a fistula created and arterialised flow into the
    /// deep venous arch (complete or partial) (DOMAIN.md 4.6).
    pub fn technical_success(&self) -> bool {
        crate::derived::technical_success(self.fistula_created, self.venous_arch_flow)
    }

    /// Proctored: a proctor was recorded.
    pub fn proctored(&self) -> bool {
        self.proctor.is_some()
    }

    /// Length of stay in days, when discharged.
    pub fn length_of_stay_days(&self) -> Option<i64> {
        self.discharge_date
            .map(|d| (d - self.procedure_date).num_days())
    }
}

/// One antithrombotic drug course (4.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AntithromboticTherapy {
    /// The index procedure.
    pub procedure_id: RecordId,
    /// Drug.
    pub drug: AntithromboticDrug,
    /// Dose.
    pub dose: Option<String>,
    /// Start.
    pub start_date: NaiveDate,
    /// Stop; empty while ongoing.
    pub stop_date: Option<NaiveDate>,
    /// Why stopped.
    pub stop_reason: Option<StopReason>,
}

/// A follow-up visit (4.8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUpVisit {
    /// The index procedure.
    pub procedure_id: RecordId,
    /// Date of the visit.
    pub visit_date: NaiveDate,
    /// How the contact took place.
    pub contact: ContactMode,
    /// Index limb state.
    pub limb_status: LimbStatus,
    /// Wound state.
    pub wound_status: Option<WoundStatus>,
    /// Largest wound area, cm².
    pub largest_wound_area_cm2: Option<Positive>,
    /// Rutherford category.
    pub rutherford_category: Option<RutherfordCategory>,
    /// WIfI wound grade.
    pub wifi_wound: Option<WifiGrade>,
    /// WIfI ischaemia grade.
    pub wifi_ischaemia: Option<WifiGrade>,
    /// WIfI foot infection grade.
    pub wifi_foot_infection: Option<WifiGrade>,
    /// Toe pressure, mmHg.
    pub toe_pressure_mmhg: Option<ToePressure>,
    /// TcPO2, mmHg.
    pub tcpo2_mmhg: Option<Tcpo2>,
    /// Pain on 0–10.
    pub pain_score: Option<PainScore>,
    /// Ambulatory status.
    pub ambulatory_status: Option<AmbulatoryStatus>,
    /// Duplex patency of the circuit.
    pub circuit_patency: Option<CircuitPatency>,
}

/// An amputation (4.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amputation {
    /// The index procedure of this limb.
    pub procedure_id: RecordId,
    /// Date.
    pub date: NaiveDate,
    /// Limb.
    pub limb: Limb,
    /// Level.
    pub level: AmputationLevel,
    /// A revision of an earlier amputation at the same level.
    pub revision: bool,
    /// Reason.
    pub reason: Option<String>,
}

impl Amputation {
    /// Through or above the ankle.
    pub fn is_major(&self) -> bool {
        self.level.is_major()
    }
}

/// A reintervention on the index limb (4.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reintervention {
    /// The index procedure.
    pub procedure_id: RecordId,
    /// Date.
    pub date: NaiveDate,
    /// Limb.
    pub limb: Limb,
    /// Staged or scheduled in advance (planned) or clinically driven (unplanned).
    pub planned: bool,
    /// What was done.
    pub kind: ReinterventionKind,
    /// Related to pDVA (IPG773 3.5).
    pub related_to_pdva: Option<YesNoUnknown>,
}

impl Reintervention {
    /// Bypass, thrombectomy or thrombolysis, open surgical revision.
    pub fn is_major(&self) -> bool {
        self.kind.is_major()
    }
}

/// Death of the patient (4.9); at most one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Death {
    /// Date of death.
    pub date: NaiveDate,
    /// Cause.
    pub cause: CauseOfDeath,
    /// Related to the procedure.
    pub procedure_related: Option<YesNoUnknown>,
}

/// An adverse event (4.9, IPG773 3.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdverseEvent {
    /// The index procedure.
    pub procedure_id: RecordId,
    /// Onset.
    pub onset_date: NaiveDate,
    /// Kind.
    pub kind: AdverseEventKind,
    /// Severity.
    pub severity: Severity,
    /// Serious adverse event.
    pub serious: Option<bool>,
    /// Caused by the device or procedure.
    pub device_or_procedure_related: Option<Relatedness>,
    /// Resolved on.
    pub resolved_on: Option<NaiveDate>,
    /// Free text; never exported to research.
    pub description: Option<String>,
}

/// A quality-of-life assessment (4.10, 6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityOfLife {
    /// The index procedure; empty for a pre-operative assessment that waits
    /// for its limb's index procedure (DOMAIN.md 4.5, 4.10).
    pub procedure_id: Option<RecordId>,
    /// The index limb the assessment is for. Required while no procedure is
    /// linked; once linked it must be the procedure's limb.
    #[serde(default)]
    pub index_limb: Option<Limb>,
    /// Date of the assessment; on or before the procedure it is the baseline.
    pub assessment_date: NaiveDate,
    /// The six VascuQoL-6 answers, in questionnaire order.
    pub vascuqol: [Option<VascuQolItem>; 6],
    /// EQ-5D-5L mobility.
    pub eq5d_mobility: Option<Eq5dLevel>,
    /// EQ-5D-5L self-care.
    pub eq5d_self_care: Option<Eq5dLevel>,
    /// EQ-5D-5L usual activities.
    pub eq5d_usual_activities: Option<Eq5dLevel>,
    /// EQ-5D-5L pain/discomfort.
    pub eq5d_pain_discomfort: Option<Eq5dLevel>,
    /// EQ-5D-5L anxiety/depression.
    pub eq5d_anxiety_depression: Option<Eq5dLevel>,
    /// EQ VAS 0–100.
    pub eq_vas: Option<EqVas>,
}

impl QualityOfLife {
    /// VascuQoL-6 total 6–24, only when all six items are answered (no imputation).
    pub fn vascuqol6_total(&self) -> Option<u8> {
        crate::derived::vascuqol6_total(&self.vascuqol)
    }

    /// The five EQ-5D-5L levels when all are answered.
    pub fn eq5d_profile(&self) -> Option<[Eq5dLevel; 5]> {
        Some([
            self.eq5d_mobility?,
            self.eq5d_self_care?,
            self.eq5d_usual_activities?,
            self.eq5d_pain_discomfort?,
            self.eq5d_anxiety_depression?,
        ])
    }

    /// EQ-5D-5L index, England value set (Devlin et al. 2018).
    pub fn eq5d_index(&self) -> Option<f64> {
        self.eq5d_profile()
            .map(crate::derived::eq5d5l_index_england)
    }
}

/// The kinds of record the registry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`Site`]
    Site,
    /// [`GovernanceMeeting`]
    GovernanceMeeting,
    /// [`Clinician`]
    Clinician,
    /// [`Patient`]
    Patient,
    /// [`Consent`]
    Consent,
    /// [`Baseline`]
    Baseline,
    /// [`IndexProcedure`]
    Procedure,
    /// [`AntithromboticTherapy`]
    AntithromboticTherapy,
    /// [`FollowUpVisit`]
    FollowUpVisit,
    /// [`Amputation`]
    Amputation,
    /// [`Reintervention`]
    Reintervention,
    /// [`Death`]
    Death,
    /// [`AdverseEvent`]
    AdverseEvent,
    /// [`QualityOfLife`]
    QualityOfLife,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: &'static [RecordKind] = &[
        Self::Site,
        Self::GovernanceMeeting,
        Self::Clinician,
        Self::Patient,
        Self::Consent,
        Self::Baseline,
        Self::Procedure,
        Self::AntithromboticTherapy,
        Self::FollowUpVisit,
        Self::Amputation,
        Self::Reintervention,
        Self::Death,
        Self::AdverseEvent,
        Self::QualityOfLife,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Site => "site",
            Self::GovernanceMeeting => "governance_meeting",
            Self::Clinician => "clinician",
            Self::Patient => "patient",
            Self::Consent => "consent",
            Self::Baseline => "baseline",
            Self::Procedure => "procedure",
            Self::AntithromboticTherapy => "antithrombotic_therapy",
            Self::FollowUpVisit => "follow_up_visit",
            Self::Amputation => "amputation",
            Self::Reintervention => "reintervention",
            Self::Death => "death",
            Self::AdverseEvent => "adverse_event",
            Self::QualityOfLife => "quality_of_life",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == value)
    }

    /// Procedure and follow-up records are signed off by a clinician; once
    /// signed off, an edit requires a reason for change (DOMAIN.md 4).
    pub fn is_signed_off_kind(self) -> bool {
        matches!(self, Self::Procedure | Self::FollowUpVisit)
    }
}

/// Any clinical record belonging to one patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "record", rename_all = "snake_case")]
pub enum ClinicalRecord {
    /// Consent.
    Consent(Consent),
    /// Baseline and patient selection.
    Baseline(Baseline),
    /// Index procedure.
    Procedure(IndexProcedure),
    /// Antithrombotic therapy.
    AntithromboticTherapy(AntithromboticTherapy),
    /// Follow-up visit.
    FollowUpVisit(FollowUpVisit),
    /// Amputation.
    Amputation(Amputation),
    /// Reintervention.
    Reintervention(Reintervention),
    /// Death.
    Death(Death),
    /// Adverse event.
    AdverseEvent(AdverseEvent),
    /// Quality of life.
    QualityOfLife(QualityOfLife),
}

impl ClinicalRecord {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::Consent(_) => RecordKind::Consent,
            Self::Baseline(_) => RecordKind::Baseline,
            Self::Procedure(_) => RecordKind::Procedure,
            Self::AntithromboticTherapy(_) => RecordKind::AntithromboticTherapy,
            Self::FollowUpVisit(_) => RecordKind::FollowUpVisit,
            Self::Amputation(_) => RecordKind::Amputation,
            Self::Reintervention(_) => RecordKind::Reintervention,
            Self::Death(_) => RecordKind::Death,
            Self::AdverseEvent(_) => RecordKind::AdverseEvent,
            Self::QualityOfLife(_) => RecordKind::QualityOfLife,
        }
    }

    /// The index procedure the record belongs to, for per-limb records.
    pub fn procedure_id(&self) -> Option<RecordId> {
        match self {
            Self::Baseline(r) => r.procedure_id,
            Self::AntithromboticTherapy(r) => Some(r.procedure_id),
            Self::FollowUpVisit(r) => Some(r.procedure_id),
            Self::Amputation(r) => Some(r.procedure_id),
            Self::Reintervention(r) => Some(r.procedure_id),
            Self::AdverseEvent(r) => Some(r.procedure_id),
            Self::QualityOfLife(r) => r.procedure_id,
            Self::Consent(_) | Self::Procedure(_) | Self::Death(_) => None,
        }
    }

    /// The limb a pre-operative record (baseline or quality of life) waits
    /// for: `Some` only while it is linked to no index procedure.
    pub fn awaited_limb(&self) -> Option<Limb> {
        match self {
            Self::Baseline(r) if r.procedure_id.is_none() => r.index_limb,
            Self::QualityOfLife(r) if r.procedure_id.is_none() => r.index_limb,
            _ => None,
        }
    }

    /// The limb the record names itself, if it names one (an index
    /// procedure's, an amputation's or reintervention's, a baseline's or
    /// quality of life's index limb).
    pub fn named_limb(&self) -> Option<Limb> {
        match self {
            Self::Procedure(r) => Some(r.index_limb),
            Self::Amputation(r) => Some(r.limb),
            Self::Reintervention(r) => Some(r.limb),
            Self::Baseline(r) => r.index_limb,
            Self::QualityOfLife(r) => r.index_limb,
            _ => None,
        }
    }

    /// The date that places the record in the patient's history.
    pub fn date(&self) -> NaiveDate {
        match self {
            Self::Consent(r) => r.consent_date,
            Self::Baseline(r) => r.assessment_date,
            Self::Procedure(r) => r.procedure_date,
            Self::AntithromboticTherapy(r) => r.start_date,
            Self::FollowUpVisit(r) => r.visit_date,
            Self::Amputation(r) => r.date,
            Self::Reintervention(r) => r.date,
            Self::Death(r) => r.date,
            Self::AdverseEvent(r) => r.onset_date,
            Self::QualityOfLife(r) => r.assessment_date,
        }
    }

    /// Every date the record carries, with its field name (for the
    /// future-date and after-death rules).
    pub fn dates(&self) -> Vec<(&'static str, NaiveDate)> {
        let mut dates = Vec::with_capacity(3);
        match self {
            Self::Consent(r) => {
                dates.push(("consent_date", r.consent_date));
                if let Some(d) = r.research_consent_withdrawn_on {
                    dates.push(("research_consent_withdrawn_on", d));
                }
            }
            Self::Baseline(r) => {
                dates.push(("assessment_date", r.assessment_date));
                if let Some(d) = r.mdt_decision_date {
                    dates.push(("mdt_decision_date", d));
                }
            }
            Self::Procedure(r) => {
                dates.push(("procedure_date", r.procedure_date));
                if let Some(d) = r.discharge_date {
                    dates.push(("discharge_date", d));
                }
            }
            Self::AntithromboticTherapy(r) => {
                dates.push(("start_date", r.start_date));
                if let Some(d) = r.stop_date {
                    dates.push(("stop_date", d));
                }
            }
            Self::FollowUpVisit(r) => dates.push(("visit_date", r.visit_date)),
            Self::Amputation(r) => dates.push(("date", r.date)),
            Self::Reintervention(r) => dates.push(("date", r.date)),
            Self::Death(r) => dates.push(("date", r.date)),
            Self::AdverseEvent(r) => {
                dates.push(("onset_date", r.onset_date));
                if let Some(d) = r.resolved_on {
                    dates.push(("resolved_on", d));
                }
            }
            Self::QualityOfLife(r) => dates.push(("assessment_date", r.assessment_date)),
        }
        dates
    }
}
