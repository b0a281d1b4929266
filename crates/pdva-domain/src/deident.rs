//! What each field of each record discloses, and the de-identified form of a
//! patient that researchers see (DOMAIN.md section 11).
//!
//! One declarative table, [`FIELDS`], marks every field of every record of
//! the data dictionary with a [`Disclosure`]. Everything that hands patient
//! data to a researcher (the research pages now, the exports and the research
//! report later) goes through [`deidentify`], which applies the table: a
//! field missing from it is dropped (fail closed), and a test fails when a
//! record gains a field that the table does not mark.
//!
//! Dates become **days from the patient's first index procedure** (day 0);
//! a patient with no index procedure yet counts from their earliest record.
//! One offset per patient keeps every interval exact, and no calendar date
//! reaches the researcher. Registry ids become keyed pseudonyms
//! ([`PseudonymKey`]): HMAC-SHA-256 under a per-deployment secret, stable
//! within the deployment and useless for searching, because nobody without
//! the secret can compute the pseudonym of a registry id.

use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

use crate::records::{ClinicalRecord, RecordId, RecordKind};
use crate::validation::PatientFile;

/// What a field discloses about a patient (or a member of staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    /// A direct identifier of a person: never shown to researchers, stored
    /// encrypted for patients (names, NHS and hospital numbers, date of
    /// birth, the registry id clinicians search by, staff names).
    Identifying,
    /// A calendar date: a quasi-identifier. Researchers see days from the
    /// index procedure instead.
    Date,
    /// Free text: may hold anything, so never shown to researchers.
    FreeText,
    /// A reference to another record (an index procedure, a clinician):
    /// researchers see a pseudonymous reference instead of the record id.
    Reference,
    /// Coded or numeric clinical data that research may use as it is.
    Research,
}

/// One field of one kind of record and what it discloses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldMark {
    /// The record kind.
    pub kind: RecordKind,
    /// The field's name as stored and exported.
    pub field: &'static str,
    /// What it discloses.
    pub disclosure: Disclosure,
}

const fn f(kind: RecordKind, field: &'static str, disclosure: Disclosure) -> FieldMark {
    FieldMark {
        kind,
        field,
        disclosure,
    }
}

use Disclosure::{Date, FreeText, Identifying, Reference, Research};
use RecordKind as K;

/// Every field of every record and what it discloses. The exports read the
/// same table; `every_field_of_every_record_is_marked` fails when a record
/// gains a field that is not here.
pub const FIELDS: &[FieldMark] = &[
    // 4.1 Site (not patient data; staff names are identifying).
    f(K::Site, "site_code", Research),
    f(K::Site, "name", Research),
    f(K::Site, "country", Research),
    f(K::Site, "ods_code", Research),
    f(K::Site, "governance_lead_name", Identifying),
    f(K::Site, "governance_lead_informed_on", Date),
    f(K::Site, "min_proctored_cases", Research),
    f(K::GovernanceMeeting, "site_code", Research),
    f(K::GovernanceMeeting, "held_on", Date),
    f(K::GovernanceMeeting, "attendees", FreeText),
    f(K::GovernanceMeeting, "report_data_version", Research),
    f(K::GovernanceMeeting, "actions", FreeText),
    // 4.2 Clinician.
    f(K::Clinician, "display_name", Identifying),
    f(K::Clinician, "professional_registration", Identifying),
    f(K::Clinician, "specialty", Research),
    f(K::Clinician, "sites", Research),
    f(K::Clinician, "pdva_training_completed_on", Date),
    f(K::Clinician, "pdva_training_description", FreeText),
    f(K::Clinician, "proctored_cases", Research),
    // 4.3 Patient.
    f(K::Patient, "registry_id", Identifying),
    f(K::Patient, "nhs_number", Identifying),
    f(K::Patient, "hospital_number", Identifying),
    f(K::Patient, "family_name", Identifying),
    f(K::Patient, "given_name", Identifying),
    f(K::Patient, "date_of_birth", Identifying),
    f(K::Patient, "sex", Research),
    f(K::Patient, "home_site", Research),
    f(K::Patient, "follow_up_ended_on", Date),
    f(K::Patient, "follow_up_end_reason", Research),
    // 4.4 Consent.
    f(K::Consent, "consent_date", Date),
    f(K::Consent, "taken_by", Reference),
    f(K::Consent, "uncertainties_explained", Research),
    f(K::Consent, "information_given", Research),
    f(K::Consent, "information_version", FreeText),
    f(K::Consent, "shared_decision_making_documented", Research),
    f(K::Consent, "lacks_capacity", Research),
    f(K::Consent, "best_interests_decision_documented", Research),
    f(K::Consent, "registry_data_consent", Research),
    f(K::Consent, "research_consent", Research),
    f(K::Consent, "research_consent_withdrawn_on", Date),
    // 4.5 Baseline.
    f(K::Baseline, "procedure_id", Reference),
    f(K::Baseline, "index_limb", Research),
    f(K::Baseline, "assessment_date", Date),
    f(K::Baseline, "rutherford_category", Research),
    f(K::Baseline, "wifi_wound", Research),
    f(K::Baseline, "wifi_ischaemia", Research),
    f(K::Baseline, "wifi_foot_infection", Research),
    f(K::Baseline, "rest_pain", Research),
    f(K::Baseline, "pain_score", Research),
    f(K::Baseline, "wound_count", Research),
    f(K::Baseline, "largest_wound_area_cm2", Research),
    f(K::Baseline, "wound_locations", Research),
    f(K::Baseline, "gangrene", Research),
    f(K::Baseline, "abi", Research),
    f(K::Baseline, "ankle_systolic_pressure_mmhg", Research),
    f(K::Baseline, "toe_pressure_mmhg", Research),
    f(K::Baseline, "tcpo2_mmhg", Research),
    f(K::Baseline, "diabetes", Research),
    f(K::Baseline, "dialysis_dependent", Research),
    f(K::Baseline, "ckd_stage", Research),
    f(K::Baseline, "hypertension", Research),
    f(K::Baseline, "hyperlipidaemia", Research),
    f(K::Baseline, "coronary_artery_disease", Research),
    f(K::Baseline, "heart_failure", Research),
    f(K::Baseline, "prior_stroke", Research),
    f(K::Baseline, "copd", Research),
    f(K::Baseline, "smoking", Research),
    f(K::Baseline, "height_cm", Research),
    f(K::Baseline, "weight_kg", Research),
    f(K::Baseline, "ambulatory_status", Research),
    f(K::Baseline, "clinical_frailty_scale", Research),
    f(K::Baseline, "no_option_reasons", Research),
    f(K::Baseline, "mdt_decision_date", Date),
    f(K::Baseline, "prior_revascularisations_index_limb", Research),
    f(K::Baseline, "prior_minor_amputation_index_limb", Research),
    f(K::Baseline, "pedal_venous_anatomy_confirmed", Research),
    f(K::Baseline, "venous_imaging", Research),
    // 4.6 Index procedure. The device system is a product name, which the
    // results are stratified by (IPG773 3.8–3.9), not narrative text.
    f(K::Procedure, "procedure_date", Date),
    f(K::Procedure, "index_limb", Research),
    f(K::Procedure, "primary_operator", Reference),
    f(K::Procedure, "second_operator", Reference),
    f(K::Procedure, "proctor", Reference),
    f(K::Procedure, "anaesthesia", Research),
    f(K::Procedure, "device_system", Research),
    f(K::Procedure, "device_lot", FreeText),
    f(K::Procedure, "arterial_access", Research),
    f(K::Procedure, "venous_access", Research),
    f(K::Procedure, "target_artery", Research),
    f(K::Procedure, "target_vein", Research),
    f(K::Procedure, "crossover_level", Research),
    f(K::Procedure, "fistula_created", Research),
    f(K::Procedure, "valvulotomy", Research),
    f(K::Procedure, "valvulotomy_extent", Research),
    f(K::Procedure, "venous_stents_count", Research),
    f(K::Procedure, "stented_length_mm", Research),
    f(K::Procedure, "crossing_stent", Research),
    f(K::Procedure, "completion_angiography", Research),
    f(K::Procedure, "venous_arch_flow", Research),
    f(K::Procedure, "procedure_minutes", Research),
    f(K::Procedure, "fluoroscopy_minutes", Research),
    f(K::Procedure, "contrast_ml", Research),
    f(K::Procedure, "air_kerma_mgy", Research),
    f(K::Procedure, "dap_gycm2", Research),
    f(K::Procedure, "discharge_date", Date),
    // 4.7 Antithrombotic therapy.
    f(K::AntithromboticTherapy, "procedure_id", Reference),
    f(K::AntithromboticTherapy, "drug", Research),
    f(K::AntithromboticTherapy, "dose", FreeText),
    f(K::AntithromboticTherapy, "start_date", Date),
    f(K::AntithromboticTherapy, "stop_date", Date),
    f(K::AntithromboticTherapy, "stop_reason", Research),
    // 4.8 Follow-up visit.
    f(K::FollowUpVisit, "procedure_id", Reference),
    f(K::FollowUpVisit, "visit_date", Date),
    f(K::FollowUpVisit, "contact", Research),
    f(K::FollowUpVisit, "limb_status", Research),
    f(K::FollowUpVisit, "wound_status", Research),
    f(K::FollowUpVisit, "largest_wound_area_cm2", Research),
    f(K::FollowUpVisit, "rutherford_category", Research),
    f(K::FollowUpVisit, "wifi_wound", Research),
    f(K::FollowUpVisit, "wifi_ischaemia", Research),
    f(K::FollowUpVisit, "wifi_foot_infection", Research),
    f(K::FollowUpVisit, "toe_pressure_mmhg", Research),
    f(K::FollowUpVisit, "tcpo2_mmhg", Research),
    f(K::FollowUpVisit, "pain_score", Research),
    f(K::FollowUpVisit, "ambulatory_status", Research),
    f(K::FollowUpVisit, "circuit_patency", Research),
    // 4.9 Outcome events.
    f(K::Amputation, "procedure_id", Reference),
    f(K::Amputation, "date", Date),
    f(K::Amputation, "limb", Research),
    f(K::Amputation, "level", Research),
    f(K::Amputation, "revision", Research),
    f(K::Amputation, "reason", FreeText),
    f(K::Reintervention, "procedure_id", Reference),
    f(K::Reintervention, "date", Date),
    f(K::Reintervention, "limb", Research),
    f(K::Reintervention, "planned", Research),
    f(K::Reintervention, "kind", Research),
    f(K::Reintervention, "related_to_pdva", Research),
    f(K::Death, "date", Date),
    f(K::Death, "cause", Research),
    f(K::Death, "procedure_related", Research),
    f(K::AdverseEvent, "procedure_id", Reference),
    f(K::AdverseEvent, "onset_date", Date),
    f(K::AdverseEvent, "kind", Research),
    f(K::AdverseEvent, "severity", Research),
    f(K::AdverseEvent, "serious", Research),
    f(K::AdverseEvent, "device_or_procedure_related", Research),
    f(K::AdverseEvent, "resolved_on", Date),
    f(K::AdverseEvent, "description", FreeText),
    // 4.10 Quality of life.
    f(K::QualityOfLife, "procedure_id", Reference),
    f(K::QualityOfLife, "index_limb", Research),
    f(K::QualityOfLife, "assessment_date", Date),
    f(K::QualityOfLife, "vascuqol", Research),
    f(K::QualityOfLife, "eq5d_mobility", Research),
    f(K::QualityOfLife, "eq5d_self_care", Research),
    f(K::QualityOfLife, "eq5d_usual_activities", Research),
    f(K::QualityOfLife, "eq5d_pain_discomfort", Research),
    f(K::QualityOfLife, "eq5d_anxiety_depression", Research),
    f(K::QualityOfLife, "eq_vas", Research),
];

/// What `field` of a `kind` record discloses; `None` for a field the table
/// does not know, which every consumer must treat as not to be disclosed.
pub fn disclosure_of(kind: RecordKind, field: &str) -> Option<Disclosure> {
    FIELDS
        .iter()
        .find(|m| m.kind == kind && m.field == field)
        .map(|m| m.disclosure)
}

/// The per-deployment secret behind the keyed pseudonyms. Its `Debug`
/// never prints the secret.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<secret>)")
    }
}

/// Crockford's base 32: no I, L, O or U, so a pseudonym read aloud or
/// copied by hand is not misread.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl PseudonymKey {
    /// The key from the deployment's 32-byte secret.
    pub fn new(secret: [u8; 32]) -> Self {
        Self(secret)
    }

    /// HMAC-SHA-256 of `purpose` and `id`, as 16 base-32 characters (80 bits:
    /// no two of even billions of records share one by chance).
    fn code(&self, purpose: &str, id: RecordId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(id.0.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bits: u128 = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
        let mut out = [0u8; 16];
        for slot in out.iter_mut().rev() {
            *slot = CROCKFORD[(bits & 31) as usize];
            bits >>= 5;
        }
        String::from_utf8(out.to_vec()).expect("ASCII")
    }

    /// The pseudonym of a patient.
    pub fn patient(&self, patient_id: RecordId) -> Pseudonym {
        Pseudonym(format!("R-{}", self.code("patient", patient_id)))
    }

    /// The pseudonymous reference to a clinician (an operator, a consent taker).
    pub fn clinician(&self, clinician_id: RecordId) -> String {
        format!("C-{}", &self.code("clinician", clinician_id)[..8])
    }
}

/// A patient's keyed pseudonym: `R-` and 16 base-32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Pseudonym(String);

impl Pseudonym {
    /// Parses a pseudonym as a researcher types or links it (any case).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_uppercase();
        let code = text.strip_prefix("R-")?;
        (code.len() == 16 && code.bytes().all(|b| CROCKFORD.contains(&b))).then_some(Self(text))
    }

    /// The pseudonym's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One de-identified field value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResearchValue {
    /// Days from the patient's day 0 (a date field).
    Day(i64),
    /// A pseudonymous reference (`limb 1`, `C-…`).
    Reference(String),
    /// Coded or numeric data as stored (JSON).
    Value(Value),
}

/// One de-identified record: its kind, its day and its research fields in
/// the data dictionary's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResearchRecord {
    /// The record's kind.
    pub kind: RecordKind,
    /// Days from day 0 of the record's placing date.
    pub day: i64,
    /// The index procedure it belongs to, as `limb 1`, `limb 2` in order
    /// of index procedure (none for patient-level records).
    pub limb: Option<String>,
    /// The disclosed fields (identifiers and free text are absent).
    pub fields: Vec<(&'static str, ResearchValue)>,
}

/// A patient as a researcher sees them: pseudonym, sex, site, age at day 0
/// in whole years, and every record de-identified. Nothing else.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResearchPatient {
    /// Keyed pseudonym.
    pub pseudonym: Pseudonym,
    /// Sex.
    pub sex: crate::codes::Sex,
    /// Home site.
    pub site: String,
    /// Age in whole years on day 0.
    pub age_at_day_zero: i32,
    /// Whether day 0 is an index procedure (otherwise the earliest record).
    pub day_zero_is_index_procedure: bool,
    /// Days from day 0 to the end of follow-up, if it has ended.
    pub follow_up_ended_day: Option<i64>,
    /// Why follow-up ended.
    pub follow_up_end_reason: Option<crate::codes::FollowUpEndReason>,
    /// The records, by day (then by kind), voided ones excluded by the caller.
    pub records: Vec<ResearchRecord>,
}

/// Day 0 of a patient: their first index procedure, else their earliest
/// record, else `fallback` (a patient with no record yet).
pub fn day_zero(file: &PatientFile, fallback: NaiveDate) -> (NaiveDate, bool) {
    match file.procedures().map(|(_, p)| p.procedure_date).min() {
        Some(d) => (d, true),
        None => (
            file.records
                .iter()
                .map(|(_, r)| r.date())
                .min()
                .unwrap_or(fallback),
            false,
        ),
    }
}

/// The fields of a clinical record as stored (a JSON object).
fn fields_of(record: &ClinicalRecord) -> serde_json::Map<String, Value> {
    match serde_json::to_value(record).expect("records serialise") {
        Value::Object(mut tagged) => match tagged.remove("record") {
            Some(Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        },
        _ => serde_json::Map::new(),
    }
}

/// The de-identified form of a patient's file: every field through
/// [`FIELDS`] (identifying and free-text fields dropped, dates as days from
/// day 0, references pseudonymous). `today` is day 0 of a patient with no
/// record at all. The caller decides who may see it (the research
/// population, [`crate::disclosure`]).
pub fn deidentify(file: &PatientFile, key: &PseudonymKey, today: NaiveDate) -> ResearchPatient {
    let (zero, is_index) = day_zero(file, today);
    let days = |d: NaiveDate| (d - zero).num_days();
    let mut limbs: Vec<(NaiveDate, RecordId)> = file
        .procedures()
        .map(|(id, p)| (p.procedure_date, id))
        .collect();
    limbs.sort();
    let limb_of = |id: &str| {
        limbs
            .iter()
            .position(|(_, p)| p.to_string() == id)
            .map(|i| format!("limb {}", i + 1))
    };
    let mut records: Vec<ResearchRecord> = file
        .records
        .iter()
        .map(|(id, record)| {
            let kind = record.kind();
            let mut fields = Vec::new();
            for (name, value) in fields_of(record) {
                let Some(mark) = FIELDS.iter().find(|m| m.kind == kind && m.field == name) else {
                    continue; // not marked: not disclosed
                };
                let shown = match mark.disclosure {
                    Identifying | FreeText => continue,
                    Date => match value.as_str().and_then(|s| s.parse::<NaiveDate>().ok()) {
                        Some(d) => ResearchValue::Day(days(d)),
                        None => continue, // an empty date says nothing
                    },
                    Reference => {
                        let Some(target) = value.as_str() else {
                            continue;
                        };
                        if mark.field == "procedure_id" {
                            match limb_of(target) {
                                Some(limb) => ResearchValue::Reference(limb),
                                None => continue,
                            }
                        } else {
                            match target.parse::<RecordId>() {
                                Ok(c) => ResearchValue::Reference(key.clinician(c)),
                                Err(_) => continue,
                            }
                        }
                    }
                    Research => ResearchValue::Value(value),
                };
                fields.push((mark.field, shown));
            }
            // The table's order is the data dictionary's.
            fields.sort_by_key(|(name, _)| {
                FIELDS
                    .iter()
                    .position(|m| m.kind == kind && m.field == *name)
            });
            let limb = match record {
                ClinicalRecord::Procedure(_) => limb_of(&id.to_string()),
                other => other.procedure_id().and_then(|p| limb_of(&p.to_string())),
            };
            ResearchRecord {
                kind,
                day: days(record.date()),
                limb,
                fields,
            }
        })
        .collect();
    records.sort_by_key(|r| (r.day, r.kind.as_str()));
    ResearchPatient {
        pseudonym: key.patient(file.patient_id),
        sex: file.patient.sex,
        site: file.patient.home_site.to_string(),
        age_at_day_zero: file.patient.age_on(zero),
        day_zero_is_index_procedure: is_index,
        follow_up_ended_day: file.patient.follow_up_ended_on.map(days),
        follow_up_end_reason: file.patient.follow_up_end_reason,
        records,
    }
}

/// The per-export secret behind the date shift of an export (DOMAIN.md
/// section 11): each patient's dates move by one offset of up to ±364 days
/// derived from it, so intervals stay exact and no calendar date survives.
/// The key is made afresh for each export and never stored, so two exports
/// shift the same patient differently. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct DateShiftKey([u8; 32]);

impl std::fmt::Debug for DateShiftKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DateShiftKey(<secret>)")
    }
}

impl DateShiftKey {
    /// The key from 32 random bytes (the caller draws them: no I/O here).
    pub fn new(secret: [u8; 32]) -> Self {
        Self(secret)
    }

    /// The patient's offset in days, from −364 to +364.
    pub fn offset_days(&self, patient_id: RecordId) -> i64 {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"date-shift:");
        mac.update(patient_id.0.as_bytes());
        let digest = mac.finalize().into_bytes();
        let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        // 729 offsets: −364..=364. The modulo bias of 2^64 mod 729 is negligible.
        (n % 729) as i64 - 364
    }
}

impl PseudonymKey {
    /// The pseudonymous record id that stands for `id` in a de-identified
    /// export: a random-looking UUID (version 4), so it carries no creation
    /// time as the registry's time-ordered ids do, and the same for every
    /// reference to the record, so links between records survive.
    pub fn record_id(&self, id: RecordId) -> RecordId {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"record:");
        mac.update(id.0.as_bytes());
        let digest = mac.finalize().into_bytes();
        let bits = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
        RecordId::from_bits(bits)
    }
}

/// A patient's file as a de-identified export carries it, with the age
/// that replaces the date of birth.
#[derive(Debug, Clone, PartialEq)]
pub struct DeidentifiedFile {
    /// The file: ids pseudonymous, dates shifted, identifiers and free text
    /// removed. Its `date_of_birth` is artificial (the shifted day 0 less the
    /// age) and must never be exported: the schema marks it identifying.
    pub file: PatientFile,
    /// Age in whole years at the first index procedure (day 0).
    pub age_at_index: i32,
    /// The date shift applied, in days (kept by nobody: for tests that
    /// check intervals, never written to an export).
    pub shift_days: i64,
}

/// The de-identified form of a patient's file for an export (DOMAIN.md
/// section 11), field by field through [`FIELDS`]: identifying and
/// free-text fields emptied, every date of the patient shifted by the
/// patient's offset under `shift`, every record id and every reference
/// (index procedure, clinician) replaced by its pseudonymous id under
/// `key`, the registry id by the patient's pseudonym. A field the table
/// does not mark is emptied too (fail closed). The caller decides who may
/// receive it (the research population, [`crate::disclosure`]).
pub fn deidentify_file(
    file: &PatientFile,
    key: &PseudonymKey,
    shift: &DateShiftKey,
    today: NaiveDate,
) -> DeidentifiedFile {
    let offset = shift.offset_days(file.patient_id);
    let moved = |d: NaiveDate| d + chrono::Duration::days(offset);
    let (zero, _) = day_zero(file, today);
    let age = file.patient.age_on(zero);
    let shifted_zero = moved(zero);
    let birth = shifted_zero
        .with_year(shifted_zero.year() - age)
        .unwrap_or_else(|| shifted_zero - chrono::Duration::days(i64::from(age) * 365));
    let patient = crate::records::Patient {
        registry_id: crate::values::RegistryId::parse(key.patient(file.patient_id).as_str())
            .expect("a pseudonym is a valid registry id"),
        nhs_number: None,
        hospital_number: None,
        family_name: None,
        given_name: None,
        date_of_birth: birth,
        sex: file.patient.sex,
        home_site: file.patient.home_site.clone(),
        follow_up_ended_on: file.patient.follow_up_ended_on.map(moved),
        follow_up_end_reason: file.patient.follow_up_end_reason,
    };
    let records = file
        .records
        .iter()
        .map(|(id, record)| {
            let kind = record.kind();
            let mut fields = fields_of(record);
            for (name, value) in fields.iter_mut() {
                let disclosure = disclosure_of(kind, name);
                *value = match disclosure {
                    None | Some(Identifying) | Some(FreeText) => Value::Null,
                    Some(Date) => match value.as_str().and_then(|s| s.parse::<NaiveDate>().ok()) {
                        Some(d) => Value::String(moved(d).to_string()),
                        None => Value::Null,
                    },
                    Some(Reference) => {
                        match value.as_str().and_then(|s| s.parse::<RecordId>().ok()) {
                            Some(target) => Value::String(key.record_id(target).to_string()),
                            None => Value::Null,
                        }
                    }
                    Some(Research) => std::mem::take(value),
                };
            }
            let tagged = serde_json::json!({"kind": kind.as_str(), "record": fields});
            let record: ClinicalRecord = serde_json::from_value(tagged)
                .expect("a de-identified record keeps every required field");
            (key.record_id(*id), record)
        })
        .collect();
    DeidentifiedFile {
        file: PatientFile {
            patient_id: key.record_id(file.patient_id),
            patient,
            records,
        },
        age_at_index: age,
        shift_days: offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_keyed_and_parse_back() {
        let id = RecordId::from_bits(42);
        let a = PseudonymKey::new([1; 32]);
        let b = PseudonymKey::new([2; 32]);
        assert_eq!(a.patient(id), a.patient(id));
        assert_ne!(a.patient(id), b.patient(id));
        assert_ne!(a.patient(id), a.patient(RecordId::from_bits(43)));
        let p = a.patient(id);
        assert_eq!(
            Pseudonym::parse(&p.as_str().to_lowercase()),
            Some(p.clone())
        );
        assert!(!p.as_str().contains(&id.to_string()));
        assert_eq!(Pseudonym::parse("R-0000"), None);
        assert_eq!(Pseudonym::parse("P-0000000000000000"), None);
    }

    #[test]
    fn the_table_marks_each_field_once() {
        for (i, m) in FIELDS.iter().enumerate() {
            assert!(
                !FIELDS[..i]
                    .iter()
                    .any(|o| o.kind == m.kind && o.field == m.field),
                "{:?}.{} is marked twice",
                m.kind,
                m.field
            );
        }
    }
}
