//! The one declared export schema: every instrument and every field that
//! leaves (or enters) the registry, declared once with its type, unit, codes
//! and label. The tidy CSV headers, the data dictionary, the REDCap data
//! dictionary, the ODM metadata and the import all read this table; what a
//! field discloses comes from the data-protection table
//! ([`pdva_domain::deident::FIELDS`]), never restated here.
//!
//! The exported form is versioned ([`SCHEMA_VERSION`]) and names fields by
//! their serialised (serde) name, not by Rust identifiers: renaming a Rust
//! field without `#[serde(rename)]` changes the serialised name, which
//! `every_serialised_field_is_declared` (tests/schema.rs) catches before an
//! export changes shape.

use pdva_domain::RecordKind;
use pdva_domain::codes::*;
use pdva_domain::deident::{Disclosure, disclosure_of};

/// The version of the exported form. Bump it when a column is added,
/// removed, renamed or changes type.
pub const SCHEMA_VERSION: &str = "2";

/// A field's type as exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// ISO 8601 date, `YYYY-MM-DD`.
    Date,
    /// A whole number, with its allowed range where the dictionary gives one.
    Integer {
        /// Smallest allowed value.
        min: Option<i64>,
        /// Largest allowed value.
        max: Option<i64>,
    },
    /// A decimal number.
    Decimal {
        /// Smallest allowed value.
        min: Option<f64>,
        /// Largest allowed value.
        max: Option<f64>,
    },
    /// `1` (yes) or `0` (no).
    Boolean,
    /// Text.
    Text,
    /// One code of the list (stored spelling, label).
    Code(&'static [(&'static str, &'static str)]),
    /// Any number of codes of the list, separated by `|`.
    Codes(&'static [(&'static str, &'static str)]),
    /// The record id of another record of this kind.
    Reference(RecordKind),
    /// Site codes separated by `|`.
    SiteCodes,
}

impl FieldType {
    /// The type's name in the data dictionary.
    pub fn name(self) -> &'static str {
        match self {
            Self::Date => "date",
            Self::Integer { .. } => "integer",
            Self::Decimal { .. } => "decimal",
            Self::Boolean => "boolean",
            Self::Text => "text",
            Self::Code(_) => "code",
            Self::Codes(_) => "code list",
            Self::Reference(_) => "reference",
            Self::SiteCodes => "site list",
        }
    }

    /// The allowed codes, if the field is coded.
    pub fn codes(self) -> Option<&'static [(&'static str, &'static str)]> {
        match self {
            Self::Code(c) | Self::Codes(c) => Some(c),
            _ => None,
        }
    }
}

/// Where a field's value sits in the record's serialised form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The serialised field of this name.
    Key(&'static str),
    /// Item `index` (from 0) of the serialised array of this name
    /// (the six VascuQoL-6 answers).
    Item(&'static str, usize),
}

impl Source {
    /// The serialised field it reads.
    pub fn key(self) -> &'static str {
        match self {
            Self::Key(k) | Self::Item(k, _) => k,
        }
    }
}

/// One exported field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExportField {
    /// The record kind it belongs to.
    pub kind: RecordKind,
    /// The column name (stable across releases of the same schema version).
    pub name: &'static str,
    /// Where its value comes from.
    pub source: Source,
    /// Its type.
    pub ty: FieldType,
    /// Its unit (UCUM where one exists).
    pub unit: Option<&'static str>,
    /// What a person reading the dictionary is told.
    pub label: &'static str,
    /// Required by the data dictionary.
    pub required: bool,
}

impl ExportField {
    /// What the field discloses, from the data-protection table. A field
    /// that table does not mark is treated as identifying (fail closed).
    pub fn disclosure(&self) -> Disclosure {
        disclosure_of(self.kind, self.source.key()).unwrap_or(Disclosure::Identifying)
    }

    /// Whether a de-identified export carries this column: identifiers and
    /// free text never leave (DOMAIN.md section 11).
    pub fn in_deidentified(&self) -> bool {
        !matches!(
            self.disclosure(),
            Disclosure::Identifying | Disclosure::FreeText
        )
    }
}

/// At which level an instrument's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Reference data of the registry (sites, clinicians, meetings).
    Registry,
    /// One row per patient.
    Patient,
    /// Rows of a patient (consents, deaths) or of one of their limbs.
    PatientRecord,
}

/// One instrument: a kind of record, exported as one tidy file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    /// The record kind.
    pub kind: RecordKind,
    /// File stem and form name (`baseline` → `baseline.csv`).
    pub name: &'static str,
    /// Title for people.
    pub label: &'static str,
    /// Its level.
    pub level: Level,
}

impl Instrument {
    /// The instrument's fields in the data dictionary's order.
    pub fn fields(&self) -> impl Iterator<Item = &'static ExportField> + use<> {
        let kind = self.kind;
        FIELDS.iter().filter(move |f| f.kind == kind)
    }

    /// The instrument of a record kind.
    pub fn of(kind: RecordKind) -> &'static Instrument {
        INSTRUMENTS
            .iter()
            .find(|i| i.kind == kind)
            .expect("every record kind is an instrument")
    }

    /// The instrument a file stem names.
    pub fn named(name: &str) -> Option<&'static Instrument> {
        INSTRUMENTS.iter().find(|i| i.name == name)
    }
}

/// Every instrument, in the order files are written and read (reference
/// data first, then patients, then their records).
pub const INSTRUMENTS: &[Instrument] = &[
    inst(RecordKind::Site, "sites", "Sites", Level::Registry),
    inst(
        RecordKind::GovernanceMeeting,
        "governance_meetings",
        "Governance review meetings",
        Level::Registry,
    ),
    inst(
        RecordKind::Clinician,
        "clinicians",
        "Clinicians",
        Level::Registry,
    ),
    inst(RecordKind::Patient, "patients", "Patients", Level::Patient),
    inst(
        RecordKind::Consent,
        "consent",
        "Consent",
        Level::PatientRecord,
    ),
    inst(
        RecordKind::Procedure,
        "procedure",
        "Index procedure",
        Level::PatientRecord,
    ),
    inst(
        RecordKind::Baseline,
        "baseline",
        "Baseline and patient selection",
        Level::PatientRecord,
    ),
    inst(
        RecordKind::AntithromboticTherapy,
        "antithrombotic_therapy",
        "Antithrombotic therapy",
        Level::PatientRecord,
    ),
    inst(
        RecordKind::FollowUpVisit,
        "follow_up_visit",
        "Follow-up visit",
        Level::PatientRecord,
    ),
    inst(
        RecordKind::Amputation,
        "amputation",
        "Amputation",
        Level::PatientRecord,
    ),
    inst(
        RecordKind::Reintervention,
        "reintervention",
        "Reintervention",
        Level::PatientRecord,
    ),
    inst(RecordKind::Death, "death", "Death", Level::PatientRecord),
    inst(
        RecordKind::AdverseEvent,
        "adverse_event",
        "Adverse event",
        Level::PatientRecord,
    ),
    inst(
        RecordKind::QualityOfLife,
        "quality_of_life",
        "Quality of life",
        Level::PatientRecord,
    ),
];

const fn inst(
    kind: RecordKind,
    name: &'static str,
    label: &'static str,
    level: Level,
) -> Instrument {
    Instrument {
        kind,
        name,
        label,
        level,
    }
}

const fn field(
    kind: RecordKind,
    name: &'static str,
    ty: FieldType,
    unit: Option<&'static str>,
    label: &'static str,
    required: bool,
) -> ExportField {
    ExportField {
        kind,
        name,
        source: Source::Key(name),
        ty,
        unit,
        label,
        required,
    }
}

/// A required field without a unit.
const fn req(
    kind: RecordKind,
    name: &'static str,
    ty: FieldType,
    label: &'static str,
) -> ExportField {
    field(kind, name, ty, None, label, true)
}

/// An optional field without a unit.
const fn opt(
    kind: RecordKind,
    name: &'static str,
    ty: FieldType,
    label: &'static str,
) -> ExportField {
    field(kind, name, ty, None, label, false)
}

/// An optional measured quantity.
const fn measured(
    kind: RecordKind,
    name: &'static str,
    ty: FieldType,
    unit: &'static str,
    label: &'static str,
) -> ExportField {
    field(kind, name, ty, Some(unit), label, false)
}

const fn vascuqol(index: usize, name: &'static str, label: &'static str) -> ExportField {
    ExportField {
        kind: RecordKind::QualityOfLife,
        name,
        source: Source::Item("vascuqol", index),
        ty: int(1, 4),
        unit: None,
        label,
        required: false,
    }
}

const fn int(min: i64, max: i64) -> FieldType {
    FieldType::Integer {
        min: Some(min),
        max: Some(max),
    }
}

const COUNT: FieldType = FieldType::Integer {
    min: Some(0),
    max: None,
};
const POSITIVE: FieldType = FieldType::Decimal {
    min: Some(0.0),
    max: None,
};

use FieldType::{Boolean as B, Code, Codes, Date as D, Reference, SiteCodes, Text as T};
use RecordKind as K;

/// Every exported field, instrument by instrument, in the data dictionary's
/// order (DOMAIN.md section 4).
pub const FIELDS: &[ExportField] = &[
    // 4.1 Site.
    req(K::Site, "site_code", T, "Site code"),
    req(K::Site, "name", T, "Hospital name"),
    req(K::Site, "country", T, "Country (ISO 3166-1 alpha-2)"),
    opt(K::Site, "ods_code", T, "NHS ODS code"),
    opt(
        K::Site,
        "governance_lead_name",
        T,
        "Clinical governance lead",
    ),
    opt(
        K::Site,
        "governance_lead_informed_on",
        D,
        "Governance lead informed on (IPG773 1.2)",
    ),
    req(
        K::Site,
        "min_proctored_cases",
        COUNT,
        "Proctored cases before credentialing",
    ),
    req(K::GovernanceMeeting, "site_code", T, "Site code"),
    req(K::GovernanceMeeting, "held_on", D, "Meeting held on"),
    opt(K::GovernanceMeeting, "attendees", T, "Attendees"),
    opt(
        K::GovernanceMeeting,
        "report_data_version",
        T,
        "Data version of the report reviewed",
    ),
    opt(K::GovernanceMeeting, "actions", T, "Actions agreed"),
    // 4.2 Clinician.
    req(K::Clinician, "display_name", T, "Name"),
    opt(
        K::Clinician,
        "professional_registration",
        T,
        "Professional registration (e.g. GMC number)",
    ),
    req(
        K::Clinician,
        "specialty",
        Code(Specialty::CODES),
        "Specialty",
    ),
    req(K::Clinician, "sites", SiteCodes, "Sites"),
    opt(
        K::Clinician,
        "pdva_training_completed_on",
        D,
        "pDVA training completed on",
    ),
    opt(
        K::Clinician,
        "pdva_training_description",
        T,
        "pDVA training (course, proctoring programme)",
    ),
    req(
        K::Clinician,
        "proctored_cases",
        COUNT,
        "Proctored pDVA cases",
    ),
    // 4.3 Patient.
    req(K::Patient, "registry_id", T, "Registry id"),
    opt(K::Patient, "nhs_number", T, "NHS number"),
    opt(K::Patient, "hospital_number", T, "Hospital number"),
    opt(K::Patient, "family_name", T, "Family name"),
    opt(K::Patient, "given_name", T, "Given name"),
    req(K::Patient, "date_of_birth", D, "Date of birth"),
    req(K::Patient, "sex", Code(Sex::CODES), "Sex"),
    req(K::Patient, "home_site", T, "Home site code"),
    opt(K::Patient, "follow_up_ended_on", D, "Follow-up ended on"),
    opt(
        K::Patient,
        "follow_up_end_reason",
        Code(FollowUpEndReason::CODES),
        "Why follow-up ended",
    ),
    // 4.4 Consent.
    req(K::Consent, "consent_date", D, "Consent date"),
    req(
        K::Consent,
        "taken_by",
        Reference(K::Clinician),
        "Consent taken by (clinician record id)",
    ),
    req(
        K::Consent,
        "uncertainties_explained",
        B,
        "Uncertainties explained (IPG773 1.2)",
    ),
    req(
        K::Consent,
        "information_given",
        Codes(InformationGiven::CODES),
        "Information given",
    ),
    opt(
        K::Consent,
        "information_version",
        T,
        "Version of the information given",
    ),
    req(
        K::Consent,
        "shared_decision_making_documented",
        B,
        "Shared decision making documented",
    ),
    req(K::Consent, "lacks_capacity", B, "Patient lacked capacity"),
    opt(
        K::Consent,
        "best_interests_decision_documented",
        B,
        "Best-interests decision documented",
    ),
    req(
        K::Consent,
        "registry_data_consent",
        Code(RegistryDataConsent::CODES),
        "Registry data consent",
    ),
    req(
        K::Consent,
        "research_consent",
        Code(ResearchConsent::CODES),
        "Research consent",
    ),
    opt(
        K::Consent,
        "research_consent_withdrawn_on",
        D,
        "Research consent withdrawn on",
    ),
    // 4.5 Baseline.
    opt(
        K::Baseline,
        "procedure_id",
        Reference(K::Procedure),
        "Index procedure (record id; empty while waiting for it)",
    ),
    opt(K::Baseline, "index_limb", Code(Limb::CODES), "Index limb"),
    req(K::Baseline, "assessment_date", D, "Assessment date"),
    req(
        K::Baseline,
        "rutherford_category",
        int(0, 6),
        "Rutherford category",
    ),
    req(K::Baseline, "wifi_wound", int(0, 3), "WIfI wound grade"),
    req(
        K::Baseline,
        "wifi_ischaemia",
        int(0, 3),
        "WIfI ischaemia grade",
    ),
    req(
        K::Baseline,
        "wifi_foot_infection",
        int(0, 3),
        "WIfI foot infection grade",
    ),
    opt(K::Baseline, "rest_pain", B, "Ischaemic rest pain"),
    opt(K::Baseline, "pain_score", int(0, 10), "Pain score (0–10)"),
    opt(K::Baseline, "wound_count", COUNT, "Number of wounds"),
    measured(
        K::Baseline,
        "largest_wound_area_cm2",
        POSITIVE,
        "cm2",
        "Largest wound area",
    ),
    opt(
        K::Baseline,
        "wound_locations",
        Codes(WoundLocation::CODES),
        "Wound locations",
    ),
    opt(K::Baseline, "gangrene", Code(Gangrene::CODES), "Gangrene"),
    measured(
        K::Baseline,
        "abi",
        FieldType::Decimal {
            min: Some(0.0),
            max: Some(2.0),
        },
        "{ratio}",
        "Ankle–brachial index",
    ),
    measured(
        K::Baseline,
        "ankle_systolic_pressure_mmhg",
        int(0, 300),
        "mm[Hg]",
        "Ankle systolic pressure",
    ),
    measured(
        K::Baseline,
        "toe_pressure_mmhg",
        int(0, 250),
        "mm[Hg]",
        "Toe pressure",
    ),
    measured(K::Baseline, "tcpo2_mmhg", int(0, 100), "mm[Hg]", "TcPO2"),
    req(K::Baseline, "diabetes", Code(Diabetes::CODES), "Diabetes"),
    req(
        K::Baseline,
        "dialysis_dependent",
        B,
        "Dependent on dialysis",
    ),
    opt(K::Baseline, "ckd_stage", int(1, 5), "CKD stage"),
    opt(K::Baseline, "hypertension", B, "Hypertension"),
    opt(K::Baseline, "hyperlipidaemia", B, "Hyperlipidaemia"),
    opt(
        K::Baseline,
        "coronary_artery_disease",
        B,
        "Coronary artery disease",
    ),
    opt(K::Baseline, "heart_failure", B, "Heart failure"),
    opt(K::Baseline, "prior_stroke", B, "Prior stroke"),
    opt(K::Baseline, "copd", B, "COPD"),
    opt(K::Baseline, "smoking", Code(Smoking::CODES), "Smoking"),
    measured(K::Baseline, "height_cm", POSITIVE, "cm", "Height"),
    measured(K::Baseline, "weight_kg", POSITIVE, "kg", "Weight"),
    opt(
        K::Baseline,
        "ambulatory_status",
        Code(AmbulatoryStatus::CODES),
        "Ambulatory status",
    ),
    opt(
        K::Baseline,
        "clinical_frailty_scale",
        int(1, 9),
        "Clinical Frailty Scale",
    ),
    req(
        K::Baseline,
        "no_option_reasons",
        Codes(NoOptionReason::CODES),
        "Why no ordinary revascularisation option",
    ),
    opt(K::Baseline, "mdt_decision_date", D, "MDT decision date"),
    opt(
        K::Baseline,
        "prior_revascularisations_index_limb",
        COUNT,
        "Prior revascularisations of the index limb",
    ),
    opt(
        K::Baseline,
        "prior_minor_amputation_index_limb",
        B,
        "Prior minor amputation of the index limb",
    ),
    req(
        K::Baseline,
        "pedal_venous_anatomy_confirmed",
        B,
        "Pedal venous anatomy confirmed (IPG773 2.4)",
    ),
    opt(
        K::Baseline,
        "venous_imaging",
        Code(VenousImaging::CODES),
        "Venous imaging",
    ),
    // 4.6 Index procedure.
    req(K::Procedure, "procedure_date", D, "Procedure date"),
    req(K::Procedure, "index_limb", Code(Limb::CODES), "Index limb"),
    req(
        K::Procedure,
        "primary_operator",
        Reference(K::Clinician),
        "Primary operator (clinician record id)",
    ),
    opt(
        K::Procedure,
        "second_operator",
        Reference(K::Clinician),
        "Second operator (clinician record id)",
    ),
    opt(
        K::Procedure,
        "proctor",
        Reference(K::Clinician),
        "Proctor (clinician record id)",
    ),
    req(
        K::Procedure,
        "anaesthesia",
        Code(Anaesthesia::CODES),
        "Anaesthesia",
    ),
    req(K::Procedure, "device_system", T, "Device system"),
    opt(K::Procedure, "device_lot", T, "Device lot"),
    req(
        K::Procedure,
        "arterial_access",
        Code(ArterialAccess::CODES),
        "Arterial access",
    ),
    req(
        K::Procedure,
        "venous_access",
        Code(VenousAccess::CODES),
        "Venous access",
    ),
    req(
        K::Procedure,
        "target_artery",
        Code(TibialVessel::CODES),
        "Target artery",
    ),
    req(
        K::Procedure,
        "target_vein",
        Code(TibialVessel::CODES),
        "Target vein",
    ),
    req(
        K::Procedure,
        "crossover_level",
        Code(CrossoverLevel::CODES),
        "Crossover level",
    ),
    req(K::Procedure, "fistula_created", B, "Fistula created"),
    req(K::Procedure, "valvulotomy", B, "Valvulotomy performed"),
    opt(
        K::Procedure,
        "valvulotomy_extent",
        Code(ValvulotomyExtent::CODES),
        "Extent of valvulotomy",
    ),
    opt(
        K::Procedure,
        "venous_stents_count",
        int(0, 10),
        "Venous stents placed",
    ),
    measured(
        K::Procedure,
        "stented_length_mm",
        int(0, 1000),
        "mm",
        "Stented length",
    ),
    opt(K::Procedure, "crossing_stent", B, "Crossing stent used"),
    req(
        K::Procedure,
        "completion_angiography",
        B,
        "Completion angiography",
    ),
    opt(
        K::Procedure,
        "venous_arch_flow",
        Code(VenousArchFlow::CODES),
        "Arterialised flow into the deep venous arch",
    ),
    measured(
        K::Procedure,
        "procedure_minutes",
        int(1, 900),
        "min",
        "Procedure duration",
    ),
    measured(
        K::Procedure,
        "fluoroscopy_minutes",
        POSITIVE,
        "min",
        "Fluoroscopy time",
    ),
    measured(K::Procedure, "contrast_ml", COUNT, "mL", "Contrast volume"),
    measured(K::Procedure, "air_kerma_mgy", POSITIVE, "mGy", "Air kerma"),
    measured(
        K::Procedure,
        "dap_gycm2",
        POSITIVE,
        "Gy.cm2",
        "Dose–area product",
    ),
    opt(K::Procedure, "discharge_date", D, "Discharge date"),
    // 4.7 Antithrombotic therapy.
    req(
        K::AntithromboticTherapy,
        "procedure_id",
        Reference(K::Procedure),
        "Index procedure (record id)",
    ),
    req(
        K::AntithromboticTherapy,
        "drug",
        Code(AntithromboticDrug::CODES),
        "Drug",
    ),
    opt(K::AntithromboticTherapy, "dose", T, "Dose"),
    req(K::AntithromboticTherapy, "start_date", D, "Start date"),
    opt(K::AntithromboticTherapy, "stop_date", D, "Stop date"),
    opt(
        K::AntithromboticTherapy,
        "stop_reason",
        Code(StopReason::CODES),
        "Why stopped",
    ),
    // 4.8 Follow-up visit.
    req(
        K::FollowUpVisit,
        "procedure_id",
        Reference(K::Procedure),
        "Index procedure (record id)",
    ),
    req(K::FollowUpVisit, "visit_date", D, "Visit date"),
    req(
        K::FollowUpVisit,
        "contact",
        Code(ContactMode::CODES),
        "Contact",
    ),
    req(
        K::FollowUpVisit,
        "limb_status",
        Code(LimbStatus::CODES),
        "Limb status",
    ),
    opt(
        K::FollowUpVisit,
        "wound_status",
        Code(WoundStatus::CODES),
        "Wound status",
    ),
    measured(
        K::FollowUpVisit,
        "largest_wound_area_cm2",
        POSITIVE,
        "cm2",
        "Largest wound area",
    ),
    opt(
        K::FollowUpVisit,
        "rutherford_category",
        int(0, 6),
        "Rutherford category",
    ),
    opt(
        K::FollowUpVisit,
        "wifi_wound",
        int(0, 3),
        "WIfI wound grade",
    ),
    opt(
        K::FollowUpVisit,
        "wifi_ischaemia",
        int(0, 3),
        "WIfI ischaemia grade",
    ),
    opt(
        K::FollowUpVisit,
        "wifi_foot_infection",
        int(0, 3),
        "WIfI foot infection grade",
    ),
    measured(
        K::FollowUpVisit,
        "toe_pressure_mmhg",
        int(0, 250),
        "mm[Hg]",
        "Toe pressure",
    ),
    measured(
        K::FollowUpVisit,
        "tcpo2_mmhg",
        int(0, 100),
        "mm[Hg]",
        "TcPO2",
    ),
    opt(
        K::FollowUpVisit,
        "pain_score",
        int(0, 10),
        "Pain score (0–10)",
    ),
    opt(
        K::FollowUpVisit,
        "ambulatory_status",
        Code(AmbulatoryStatus::CODES),
        "Ambulatory status",
    ),
    opt(
        K::FollowUpVisit,
        "circuit_patency",
        Code(CircuitPatency::CODES),
        "Circuit patency",
    ),
    // 4.9 Outcome events.
    req(
        K::Amputation,
        "procedure_id",
        Reference(K::Procedure),
        "Index procedure (record id)",
    ),
    req(K::Amputation, "date", D, "Amputation date"),
    req(K::Amputation, "limb", Code(Limb::CODES), "Limb"),
    req(
        K::Amputation,
        "level",
        Code(AmputationLevel::CODES),
        "Level",
    ),
    req(K::Amputation, "revision", B, "Revision"),
    opt(K::Amputation, "reason", T, "Reason"),
    req(
        K::Reintervention,
        "procedure_id",
        Reference(K::Procedure),
        "Index procedure (record id)",
    ),
    req(K::Reintervention, "date", D, "Reintervention date"),
    req(K::Reintervention, "limb", Code(Limb::CODES), "Limb"),
    req(K::Reintervention, "planned", B, "Planned"),
    req(
        K::Reintervention,
        "kind",
        Code(ReinterventionKind::CODES),
        "Kind",
    ),
    opt(
        K::Reintervention,
        "related_to_pdva",
        Code(YesNoUnknown::CODES),
        "Related to the pDVA",
    ),
    req(K::Death, "date", D, "Date of death"),
    req(K::Death, "cause", Code(CauseOfDeath::CODES), "Cause"),
    opt(
        K::Death,
        "procedure_related",
        Code(YesNoUnknown::CODES),
        "Procedure related",
    ),
    req(
        K::AdverseEvent,
        "procedure_id",
        Reference(K::Procedure),
        "Index procedure (record id)",
    ),
    req(K::AdverseEvent, "onset_date", D, "Onset date"),
    req(
        K::AdverseEvent,
        "kind",
        Code(AdverseEventKind::CODES),
        "Kind",
    ),
    req(
        K::AdverseEvent,
        "severity",
        Code(Severity::CODES),
        "Severity",
    ),
    opt(K::AdverseEvent, "serious", B, "Serious"),
    opt(
        K::AdverseEvent,
        "device_or_procedure_related",
        Code(Relatedness::CODES),
        "Device or procedure related",
    ),
    opt(K::AdverseEvent, "resolved_on", D, "Resolved on"),
    opt(K::AdverseEvent, "description", T, "Description"),
    // 4.10 Quality of life.
    opt(
        K::QualityOfLife,
        "procedure_id",
        Reference(K::Procedure),
        "Index procedure (record id; empty while waiting for it)",
    ),
    opt(
        K::QualityOfLife,
        "index_limb",
        Code(Limb::CODES),
        "Index limb",
    ),
    req(K::QualityOfLife, "assessment_date", D, "Assessment date"),
    vascuqol(0, "vascuqol_1", "VascuQoL-6 item 1"),
    vascuqol(1, "vascuqol_2", "VascuQoL-6 item 2"),
    vascuqol(2, "vascuqol_3", "VascuQoL-6 item 3"),
    vascuqol(3, "vascuqol_4", "VascuQoL-6 item 4"),
    vascuqol(4, "vascuqol_5", "VascuQoL-6 item 5"),
    vascuqol(5, "vascuqol_6", "VascuQoL-6 item 6"),
    opt(
        K::QualityOfLife,
        "eq5d_mobility",
        int(1, 5),
        "EQ-5D-5L mobility",
    ),
    opt(
        K::QualityOfLife,
        "eq5d_self_care",
        int(1, 5),
        "EQ-5D-5L self-care",
    ),
    opt(
        K::QualityOfLife,
        "eq5d_usual_activities",
        int(1, 5),
        "EQ-5D-5L usual activities",
    ),
    opt(
        K::QualityOfLife,
        "eq5d_pain_discomfort",
        int(1, 5),
        "EQ-5D-5L pain/discomfort",
    ),
    opt(
        K::QualityOfLife,
        "eq5d_anxiety_depression",
        int(1, 5),
        "EQ-5D-5L anxiety/depression",
    ),
    opt(K::QualityOfLife, "eq_vas", int(0, 100), "EQ VAS (0–100)"),
];

/// A column of an instrument's table: the keys that place a row, then the
/// instrument's fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Column {
    /// The record's id (pseudonymous when de-identified).
    RecordId,
    /// The patient's registry id (their pseudonym when de-identified), on
    /// every row of a patient's records.
    RegistryId,
    /// A field of the instrument.
    Field(&'static ExportField),
    /// Age in whole years at the first index procedure: replaces the date of
    /// birth in a de-identified export.
    AgeAtIndex,
}

impl Column {
    /// The column's name in a file's header.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RecordId => "record_id",
            Self::RegistryId => "registry_id",
            Self::Field(f) => f.name,
            Self::AgeAtIndex => "age_at_index",
        }
    }
}

/// The columns of an instrument's table, in order. A de-identified table
/// has no identifying or free-text column, and its patients an age instead
/// of a date of birth.
pub fn columns(instrument: &Instrument, deidentified: bool) -> Vec<Column> {
    let mut columns = vec![Column::RecordId];
    if instrument.level == Level::PatientRecord {
        columns.push(Column::RegistryId);
    }
    if instrument.level == Level::Patient && deidentified {
        // The pseudonym stands where the registry id stood.
        columns.push(Column::RegistryId);
    }
    columns.extend(
        instrument
            .fields()
            .filter(|f| !deidentified || f.in_deidentified())
            .map(Column::Field),
    );
    if instrument.level == Level::Patient && deidentified {
        columns.push(Column::AgeAtIndex);
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdva_domain::deident;

    #[test]
    fn every_marked_field_is_exported_and_every_exported_field_is_marked() {
        for mark in deident::FIELDS {
            assert!(
                FIELDS
                    .iter()
                    .any(|f| f.kind == mark.kind && f.source.key() == mark.field),
                "{:?}.{} is marked but not in the export schema",
                mark.kind,
                mark.field
            );
        }
        for f in FIELDS {
            assert!(
                disclosure_of(f.kind, f.source.key()).is_some(),
                "{:?}.{} is exported but has no disclosure mark",
                f.kind,
                f.name
            );
        }
    }

    #[test]
    fn column_names_are_unique_within_an_instrument_and_every_kind_has_one() {
        for instrument in INSTRUMENTS {
            let names: Vec<_> = instrument.fields().map(|f| f.name).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(names.len(), unique.len(), "{}", instrument.name);
            assert!(!names.is_empty(), "{}", instrument.name);
        }
        for kind in RecordKind::ALL {
            Instrument::of(*kind);
        }
    }
}
