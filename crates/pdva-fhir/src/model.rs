//! Lean FHIR R4 (4.0.1) structures: only the elements this crate fills.
//!
//! Every optional element is skipped when empty, names are camelCase as FHIR
//! spells them, and each resource serialises with its `resourceType` first
//! (the [`Resource`] enum is tagged by it).

use chrono::NaiveDate;
use serde::Serialize;

/// True when a list is empty (for `skip_serializing_if`).
fn is_empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

/// `Resource.meta`: the profiles a resource claims.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta {
    /// Canonical URLs of the profiles (UK Core where one fits).
    pub profile: Vec<String>,
}

/// A code from a code system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coding {
    /// The code system's URI.
    pub system: String,
    /// The code.
    pub code: String,
    /// Its display text in the code system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// A concept: codings from one or more systems, and its text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeableConcept {
    /// The codings.
    #[serde(skip_serializing_if = "is_empty")]
    pub coding: Vec<Coding>,
    /// Plain-language text of the concept (a coded label, never free text
    /// entered by a user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A reference to another resource, as `Type/id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// `Type/id`.
    pub reference: String,
}

/// A business identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identifier {
    /// The namespace of the value.
    pub system: String,
    /// The value.
    pub value: String,
}

/// A person's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HumanName {
    /// `official` for a patient's recorded name.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The whole name as written (clinicians' display names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Given names.
    #[serde(skip_serializing_if = "is_empty")]
    pub given: Vec<String>,
}

/// A time span of whole days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    /// Last day (absent while ongoing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
}

/// A measured amount with its UCUM unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    /// The value.
    pub value: f64,
    /// Human-readable unit.
    pub unit: String,
    /// Always UCUM (`http://unitsofmeasure.org`).
    pub system: String,
    /// The UCUM code, e.g. `mm[Hg]`, `{ratio}`, `a`.
    pub code: String,
}

/// An extension: a URL and one value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    /// What the extension means.
    pub url: String,
    /// A boolean value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_boolean: Option<bool>,
    /// An integer value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_integer: Option<i64>,
    /// A coded value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_coding: Option<Coding>,
    /// A quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity>,
    /// A date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_date: Option<NaiveDate>,
}

/// An organisation's address (only its country is exported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
}

/// `Patient`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    /// Logical id (the patient's record id).
    pub id: String,
    /// Profiles.
    pub meta: Meta,
    /// Extensions (age at the index procedure when de-identified).
    #[serde(skip_serializing_if = "is_empty")]
    pub extension: Vec<Extension>,
    /// NHS number, hospital number, registry id (identifiable only).
    #[serde(skip_serializing_if = "is_empty")]
    pub identifier: Vec<Identifier>,
    /// Names (identifiable only).
    #[serde(skip_serializing_if = "is_empty")]
    pub name: Vec<HumanName>,
    /// `male`, `female`, `other`, `unknown`.
    pub gender: String,
    /// Date of birth (identifiable only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// Date of death.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deceased_date_time: Option<NaiveDate>,
    /// The home site.
    pub managing_organization: Reference,
}

/// `Practitioner`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Practitioner {
    /// Logical id (the clinician's record id).
    pub id: String,
    /// Profiles.
    pub meta: Meta,
    /// Professional registration (identifiable only).
    #[serde(skip_serializing_if = "is_empty")]
    pub identifier: Vec<Identifier>,
    /// Display name (identifiable only).
    #[serde(skip_serializing_if = "is_empty")]
    pub name: Vec<HumanName>,
}

/// `Organization`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organization {
    /// Logical id (derived from the site code).
    pub id: String,
    /// Profiles.
    pub meta: Meta,
    /// Site code and ODS code (identifiable only).
    #[serde(skip_serializing_if = "is_empty")]
    pub identifier: Vec<Identifier>,
    /// Always true.
    pub active: bool,
    /// Hospital name.
    pub name: String,
    /// Country.
    pub address: Vec<Address>,
}

/// `Condition.stage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionStage {
    /// The stage.
    pub summary: CodeableConcept,
    /// The observation it comes from.
    pub assessment: Vec<Reference>,
    /// The staging system.
    #[serde(rename = "type")]
    pub type_: CodeableConcept,
}

/// `Condition`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Logical id (derived from the index procedure's id).
    pub id: String,
    /// Profiles.
    pub meta: Meta,
    /// `active`.
    pub clinical_status: CodeableConcept,
    /// `confirmed`.
    pub verification_status: CodeableConcept,
    /// `encounter-diagnosis`.
    pub category: Vec<CodeableConcept>,
    /// CLTI.
    pub code: CodeableConcept,
    /// The index limb.
    pub body_site: Vec<CodeableConcept>,
    /// The patient.
    pub subject: Reference,
    /// WIfI clinical stage at baseline.
    #[serde(skip_serializing_if = "is_empty")]
    pub stage: Vec<ConditionStage>,
    /// Baseline assessment (or procedure) date.
    pub recorded_date: NaiveDate,
}

/// `Procedure.performer`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Performer {
    /// Primary operator, second operator or proctor.
    pub function: CodeableConcept,
    /// The clinician.
    pub actor: Reference,
}

/// `Procedure`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Procedure {
    /// Logical id (the record's id).
    pub id: String,
    /// Profiles.
    pub meta: Meta,
    /// Technique and reintervention details.
    #[serde(skip_serializing_if = "is_empty")]
    pub extension: Vec<Extension>,
    /// For reinterventions and amputations: the index procedure.
    #[serde(skip_serializing_if = "is_empty")]
    pub part_of: Vec<Reference>,
    /// `completed`.
    pub status: String,
    /// Surgical procedure.
    pub category: CodeableConcept,
    /// What was done.
    pub code: CodeableConcept,
    /// The patient.
    pub subject: Reference,
    /// The date.
    pub performed_date_time: NaiveDate,
    /// Operators.
    #[serde(skip_serializing_if = "is_empty")]
    pub performer: Vec<Performer>,
    /// The CLTI of the limb.
    #[serde(skip_serializing_if = "is_empty")]
    pub reason_reference: Vec<Reference>,
    /// Why (coded; amputation reasons as text only when identifiable).
    #[serde(skip_serializing_if = "is_empty")]
    pub reason_code: Vec<CodeableConcept>,
    /// The limb.
    pub body_site: Vec<CodeableConcept>,
    /// Technical success (index procedure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CodeableConcept>,
    /// The device system used.
    #[serde(skip_serializing_if = "is_empty")]
    pub used_reference: Vec<Reference>,
}

/// `Device.deviceName`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceName {
    /// The name.
    pub name: String,
    /// `user-friendly-name`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// `Device`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Logical id (derived from the index procedure's id).
    pub id: String,
    /// Name and model of the system.
    pub device_name: Vec<DeviceName>,
    /// Lot (identifiable only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot_number: Option<String>,
    /// The patient it was used on.
    pub patient: Reference,
}

/// `Observation.component`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservationComponent {
    /// What the component is.
    pub code: CodeableConcept,
    /// Its value.
    pub value_integer: i64,
}

/// `Observation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    /// Logical id (derived from the record's id and what is observed).
    pub id: String,
    /// Profiles.
    pub meta: Meta,
    /// `final`.
    pub status: String,
    /// `exam` or `survey`.
    pub category: Vec<CodeableConcept>,
    /// What was observed.
    pub code: CodeableConcept,
    /// The patient.
    pub subject: Reference,
    /// The CLTI of the limb it is about.
    #[serde(skip_serializing_if = "is_empty")]
    pub focus: Vec<Reference>,
    /// When.
    pub effective_date_time: NaiveDate,
    /// A measured value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity>,
    /// A score or grade.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_integer: Option<i64>,
    /// A coded value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConcept>,
    /// The limb, for limb measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_site: Option<CodeableConcept>,
    /// Parts (EQ-5D-5L dimensions).
    #[serde(skip_serializing_if = "is_empty")]
    pub component: Vec<ObservationComponent>,
}

/// `Consent.policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentPolicy {
    /// The policy's URI.
    pub uri: String,
}

/// `Consent.provision`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentProvision {
    /// `permit` or `deny`.
    #[serde(rename = "type")]
    pub type_: String,
    /// From consent to withdrawal.
    pub period: Period,
    /// What is permitted or denied.
    pub purpose: Vec<Coding>,
}

/// `Consent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    /// Logical id (the consent record's id, derived for its second part).
    pub id: String,
    /// `active`, or `inactive` once withdrawn.
    pub status: String,
    /// `research` or `patient-privacy`.
    pub scope: CodeableConcept,
    /// Patient consent.
    pub category: Vec<CodeableConcept>,
    /// The patient.
    pub patient: Reference,
    /// Consent date.
    pub date_time: NaiveDate,
    /// Who agreed (the patient).
    pub performer: Vec<Reference>,
    /// The site holding the consent.
    pub organization: Vec<Reference>,
    /// The registry's policy.
    pub policy: Vec<ConsentPolicy>,
    /// Permit or deny, and when.
    pub provision: ConsentProvision,
}

/// `MedicationStatement.dosage` (text only, identifiable only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dosage {
    /// Dose as recorded.
    pub text: String,
}

/// `MedicationStatement`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicationStatement {
    /// Logical id (the therapy record's id).
    pub id: String,
    /// Profiles.
    pub meta: Meta,
    /// `active`, `completed` or `stopped`.
    pub status: String,
    /// Why stopped.
    #[serde(skip_serializing_if = "is_empty")]
    pub status_reason: Vec<CodeableConcept>,
    /// The drug, with its class.
    pub medication_codeable_concept: CodeableConcept,
    /// The patient.
    pub subject: Reference,
    /// Start and stop.
    pub effective_period: Period,
    /// The CLTI of the limb.
    pub reason_reference: Vec<Reference>,
    /// Dose (identifiable only).
    #[serde(skip_serializing_if = "is_empty")]
    pub dosage: Vec<Dosage>,
}

/// `EpisodeOfCare.diagnosis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpisodeDiagnosis {
    /// The CLTI of the limb.
    pub condition: Reference,
}

/// `EpisodeOfCare`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeOfCare {
    /// Logical id (derived from the index procedure's id).
    pub id: String,
    /// `active` while followed, `finished` after.
    pub status: String,
    /// Lifelong pDVA follow-up.
    #[serde(rename = "type")]
    pub type_: Vec<CodeableConcept>,
    /// The limb's condition.
    pub diagnosis: Vec<EpisodeDiagnosis>,
    /// The patient.
    pub patient: Reference,
    /// The home site.
    pub managing_organization: Reference,
    /// From the procedure to the end of follow-up or death.
    pub period: Period,
}

/// `AdverseEvent.suspectEntity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuspectEntity {
    /// The index procedure.
    pub instance: Reference,
}

/// `AdverseEvent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdverseEvent {
    /// Logical id (the record's id).
    pub id: String,
    /// Relatedness and severity as recorded.
    #[serde(skip_serializing_if = "is_empty")]
    pub extension: Vec<Extension>,
    /// `actual`.
    pub actuality: String,
    /// What happened.
    pub event: CodeableConcept,
    /// The patient.
    pub subject: Reference,
    /// Onset.
    pub date: NaiveDate,
    /// `serious` or `non-serious`, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seriousness: Option<CodeableConcept>,
    /// `mild`, `moderate` or `severe`.
    pub severity: CodeableConcept,
    /// `resolved`, `ongoing` or `fatal`.
    pub outcome: CodeableConcept,
    /// The index procedure, when related or possibly related.
    #[serde(skip_serializing_if = "is_empty")]
    pub suspect_entity: Vec<SuspectEntity>,
}

/// One FHIR resource; serialises with its `resourceType`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "resourceType")]
#[allow(clippy::large_enum_variant)] // built and written one at a time
pub enum Resource {
    /// Patient.
    Patient(Patient),
    /// Practitioner.
    Practitioner(Practitioner),
    /// Organization.
    Organization(Organization),
    /// Condition.
    Condition(Condition),
    /// Procedure.
    Procedure(Procedure),
    /// Device.
    Device(Device),
    /// Observation.
    Observation(Observation),
    /// Consent.
    Consent(Consent),
    /// MedicationStatement.
    MedicationStatement(MedicationStatement),
    /// EpisodeOfCare.
    EpisodeOfCare(EpisodeOfCare),
    /// AdverseEvent.
    AdverseEvent(AdverseEvent),
}

impl Resource {
    /// Every resource type this crate writes, in the order a Bulk Data
    /// manifest lists them.
    pub const TYPES: &'static [&'static str] = &[
        "Organization",
        "Practitioner",
        "Patient",
        "Condition",
        "Device",
        "Procedure",
        "Observation",
        "Consent",
        "MedicationStatement",
        "EpisodeOfCare",
        "AdverseEvent",
    ];

    /// The FHIR resource type.
    pub fn resource_type(&self) -> &'static str {
        match self {
            Self::Patient(_) => "Patient",
            Self::Practitioner(_) => "Practitioner",
            Self::Organization(_) => "Organization",
            Self::Condition(_) => "Condition",
            Self::Procedure(_) => "Procedure",
            Self::Device(_) => "Device",
            Self::Observation(_) => "Observation",
            Self::Consent(_) => "Consent",
            Self::MedicationStatement(_) => "MedicationStatement",
            Self::EpisodeOfCare(_) => "EpisodeOfCare",
            Self::AdverseEvent(_) => "AdverseEvent",
        }
    }

    /// The logical id.
    pub fn id(&self) -> &str {
        match self {
            Self::Patient(r) => &r.id,
            Self::Practitioner(r) => &r.id,
            Self::Organization(r) => &r.id,
            Self::Condition(r) => &r.id,
            Self::Procedure(r) => &r.id,
            Self::Device(r) => &r.id,
            Self::Observation(r) => &r.id,
            Self::Consent(r) => &r.id,
            Self::MedicationStatement(r) => &r.id,
            Self::EpisodeOfCare(r) => &r.id,
            Self::AdverseEvent(r) => &r.id,
        }
    }

    /// `Type/id`, as other resources refer to it.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.resource_type(), self.id())
    }
}
