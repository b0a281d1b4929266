//! The hard and soft rules of DOMAIN.md 4.11, in one place.
//!
//! Per-value rules (ranges, codes, the NHS number's check digit) are enforced
//! when a value is parsed into its type (see [`crate::values`]). The rules
//! here need more than one value: a record's own fields together, or the
//! patient's whole record (nothing after death, amputation levels, consent
//! before the procedure). Every finding names the record, the field, the
//! value and the rule, in words a clinician understands.
//!
//! To check a new or changed record, put it into the patient's file
//! ([`PatientFile::with_record`]) and call [`check_record`]: the whole file is
//! checked and the findings that concern that record are returned, from its
//! point of view.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use crate::codes::{InformationGiven, Limb, LimbStatus};
use crate::derived::suggested_wifi_ischaemia;
use crate::error::DomainError;
use crate::records::*;
use crate::values::SiteCode;

/// Hard rules refuse the record; soft rules accept it with a warning that
/// must be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Refuses the record.
    Hard,
    /// Accepts it with a warning.
    Soft,
}

/// Every cross-field and cross-record rule, with a stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A date after today.
    FutureDate,
    /// A record dated after the patient's death.
    AfterDeath,
    /// A follow-up, event or non-baseline QoL before (or, for a visit, on) the index procedure.
    BeforeIndexProcedure,
    /// An end date before its start date.
    EndBeforeStart,
    /// An amputation at or below the level of an earlier transmetatarsal-or-higher amputation.
    AmputationLevel,
    /// A second death record.
    SecondDeath,
    /// The NHS number is already registered for another patient.
    NhsNumberInUse,
    /// A procedure before the date of birth.
    BeforeBirth,
    /// A date of birth before 1900-01-01 (DOMAIN.md 4.3).
    BirthBefore1900,
    /// A field required by another field's value is missing.
    RequiredWith,
    /// A choice list that is empty or mixes "none" with other choices.
    InvalidChoices,
    /// The baseline assessment is after the procedure.
    BaselineAfterProcedure,
    /// A second baseline for one index procedure.
    DuplicateBaseline,
    /// A second index procedure on the same limb (a repeat is a reintervention).
    DuplicateIndexProcedure,
    /// A pre-operative record (baseline or quality of life) waiting for its
    /// limb's index procedure when that limb already has one.
    NotTakenUp,
    /// A pre-operative quality of life dated after the index procedure that
    /// takes it up.
    PreoperativeAfterProcedure,
    /// An event's limb is not the index limb of its procedure.
    WrongLimb,
    /// The record refers to an index procedure the patient does not have.
    UnknownProcedure,
    /// The record refers to a clinician the registry does not have.
    UnknownClinician,
    /// The record refers to a site the registry does not have.
    UnknownSite,
    /// The patient declined registry data consent but the registry holds
    /// their direct identifiers (names, NHS or hospital number).
    IdentifiersWithoutConsent,
    /// Age at the index procedure outside 18–110.
    AgeOutsideRange,
    /// Baseline assessment more than 90 days before the procedure.
    AssessmentLongBefore,
    /// Rutherford category below 4 (not CLTI).
    NotClti,
    /// Wound area above 200 cm².
    WoundAreaLarge,
    /// ABI above 1.4 (incompressible vessels).
    AbiIncompressible,
    /// BMI below 12 or above 70.
    BmiImplausible,
    /// Fluoroscopy above 180 minutes.
    FluoroscopyLong,
    /// Contrast above 300 ml.
    ContrastHigh,
    /// The recorded WIfI ischaemia grade disagrees with the measured perfusion.
    WifiIschaemiaDisagrees,
    /// The visit's limb status disagrees with the recorded amputations.
    LimbStatusDisagrees,
    /// No consent dated on or before the procedure.
    NoConsent,
    /// Consent does not record that the uncertainties were explained (IPG773 1.2).
    UncertaintiesNotExplained,
    /// Primary operator not credentialed for pDVA on the procedure date (IPG773 3.7).
    OperatorNotCredentialed,
    /// Primary operator does not work at the patient's site.
    OperatorNotAtSite,
}

impl Rule {
    /// Whether the rule refuses the record.
    pub fn severity(self) -> Severity {
        use Rule::*;
        match self {
            FutureDate
            | AfterDeath
            | BeforeIndexProcedure
            | EndBeforeStart
            | AmputationLevel
            | SecondDeath
            | NhsNumberInUse
            | BeforeBirth
            | BirthBefore1900
            | RequiredWith
            | InvalidChoices
            | BaselineAfterProcedure
            | DuplicateBaseline
            | DuplicateIndexProcedure
            | NotTakenUp
            | PreoperativeAfterProcedure
            | WrongLimb
            | UnknownProcedure
            | UnknownClinician
            | IdentifiersWithoutConsent
            | UnknownSite => Severity::Hard,
            AgeOutsideRange
            | AssessmentLongBefore
            | NotClti
            | WoundAreaLarge
            | AbiIncompressible
            | BmiImplausible
            | FluoroscopyLong
            | ContrastHigh
            | WifiIschaemiaDisagrees
            | LimbStatusDisagrees
            | NoConsent
            | UncertaintiesNotExplained
            | OperatorNotCredentialed
            | OperatorNotAtSite => Severity::Soft,
        }
    }
}

/// The same finding as the other record involved sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counterpart {
    /// The other record.
    pub record: RecordId,
    /// Its field.
    pub field: &'static str,
    /// Its value.
    pub value: String,
    /// The rule, from its side.
    pub message: String,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// Hard or soft.
    pub severity: Severity,
    /// The record whose field breaks it.
    pub record: RecordId,
    /// The field.
    pub field: &'static str,
    /// The value.
    pub value: String,
    /// The rule in a clinician's words, completing "field: value …".
    pub message: String,
    /// The other record involved, if any.
    pub counterpart: Option<Counterpart>,
}

impl Finding {
    pub(crate) fn new(
        rule: Rule,
        record: RecordId,
        field: &'static str,
        value: impl ToString,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule,
            severity: rule.severity(),
            record,
            field,
            value: value.to_string(),
            message: message.into(),
            counterpart: None,
        }
    }

    pub(crate) fn with_counterpart(
        mut self,
        record: RecordId,
        field: &'static str,
        value: impl ToString,
        message: impl Into<String>,
    ) -> Self {
        self.counterpart = Some(Counterpart {
            record,
            field,
            value: value.to_string(),
            message: message.into(),
        });
        self
    }

    /// Whether `id` is one of the records involved.
    pub fn involves(&self, id: RecordId) -> bool {
        self.record == id || self.counterpart.as_ref().is_some_and(|c| c.record == id)
    }

    /// The finding as record `id` sees it (swapping in the counterpart's side).
    pub fn as_seen_from(&self, id: RecordId) -> Finding {
        match &self.counterpart {
            Some(c) if self.record != id && c.record == id => Finding {
                rule: self.rule,
                severity: self.severity,
                record: c.record,
                field: c.field,
                value: c.value.clone(),
                message: c.message.clone(),
                counterpart: Some(Counterpart {
                    record: self.record,
                    field: self.field,
                    value: self.value.clone(),
                    message: self.message.clone(),
                }),
            },
            _ => self.clone(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: \"{}\" {}", self.field, self.value, self.message)
    }
}

/// What the rules need to know of the registry beyond one patient.
#[derive(Debug, Clone, Default)]
pub struct ReferenceData {
    /// Sites by code.
    pub sites: HashMap<SiteCode, Site>,
    /// Clinicians by id.
    pub clinicians: HashMap<RecordId, Clinician>,
}

/// One patient's whole (non-voided) record.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientFile {
    /// The patient's record id.
    pub patient_id: RecordId,
    /// The patient.
    pub patient: Patient,
    /// Every clinical record, in the order they were made.
    pub records: Vec<(RecordId, ClinicalRecord)>,
}

impl PatientFile {
    /// A file with no clinical records yet.
    pub fn new(patient_id: RecordId, patient: Patient) -> Self {
        Self {
            patient_id,
            patient,
            records: Vec::new(),
        }
    }

    /// The file with `record` added, or replacing the record of the same id.
    pub fn with_record(mut self, id: RecordId, record: ClinicalRecord) -> Self {
        match self.records.iter_mut().find(|(rid, _)| *rid == id) {
            Some(slot) => slot.1 = record,
            None => self.records.push((id, record)),
        }
        self
    }

    /// The index procedures.
    pub fn procedures(&self) -> impl Iterator<Item = (RecordId, &IndexProcedure)> {
        self.records.iter().filter_map(|(id, r)| match r {
            ClinicalRecord::Procedure(p) => Some((*id, p)),
            _ => None,
        })
    }

    /// The index procedure with this id.
    pub fn procedure(&self, id: RecordId) -> Option<&IndexProcedure> {
        self.procedures()
            .find(|(pid, _)| *pid == id)
            .map(|(_, p)| p)
    }

    /// The (first) death record.
    pub fn death(&self) -> Option<(RecordId, &Death)> {
        self.records.iter().find_map(|(id, r)| match r {
            ClinicalRecord::Death(d) => Some((*id, d)),
            _ => None,
        })
    }

    /// The consents.
    pub fn consents(&self) -> impl Iterator<Item = (RecordId, &Consent)> {
        self.records.iter().filter_map(|(id, r)| match r {
            ClinicalRecord::Consent(c) => Some((*id, c)),
            _ => None,
        })
    }

    /// The consent that covers a procedure: the latest dated on or before it.
    pub fn consent_for(&self, procedure_date: NaiveDate) -> Option<(RecordId, &Consent)> {
        self.consents()
            .filter(|(_, c)| c.consent_date <= procedure_date)
            .max_by_key(|(_, c)| c.consent_date)
    }

    /// The amputations of a limb (of any of its procedures).
    pub fn amputations_of(&self, limb: Limb) -> impl Iterator<Item = (RecordId, &Amputation)> {
        self.records.iter().filter_map(move |(id, r)| match r {
            ClinicalRecord::Amputation(a) if a.limb == limb => Some((*id, a)),
            _ => None,
        })
    }
}

/// Findings of one check, split by severity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Checked {
    /// Hard findings: the record is refused.
    pub refusals: Vec<Finding>,
    /// Soft findings: accepted with a warning.
    pub warnings: Vec<Finding>,
}

impl Checked {
    fn from_findings(findings: impl IntoIterator<Item = Finding>) -> Self {
        let (refusals, warnings) = findings
            .into_iter()
            .partition(|f| f.severity == Severity::Hard);
        Self { refusals, warnings }
    }

    /// Adds findings, each by its severity.
    pub fn add(&mut self, findings: impl IntoIterator<Item = Finding>) {
        for f in findings {
            match f.severity {
                Severity::Hard => self.refusals.push(f),
                Severity::Soft => self.warnings.push(f),
            }
        }
    }

    /// The warnings when nothing refuses the record.
    pub fn into_result(self) -> Result<Vec<Finding>, DomainError> {
        if self.refusals.is_empty() {
            Ok(self.warnings)
        } else {
            Err(DomainError::Refused(self.refusals))
        }
    }
}

/// Checks the patient's record `id` (the patient itself or any clinical
/// record) within the whole file, which must already contain it.
pub fn check_record(
    file: &PatientFile,
    id: RecordId,
    reference: &ReferenceData,
    today: NaiveDate,
) -> Checked {
    Checked::from_findings(
        check_patient_file(file, reference, today)
            .iter()
            .filter(|f| f.involves(id))
            .map(|f| f.as_seen_from(id)),
    )
}

/// Checks a whole patient file (what a bulk import or the generator does).
pub fn check_file(file: &PatientFile, reference: &ReferenceData, today: NaiveDate) -> Checked {
    Checked::from_findings(check_patient_file(file, reference, today))
}

/// Every finding of a patient's file.
pub fn check_patient_file(
    file: &PatientFile,
    reference: &ReferenceData,
    today: NaiveDate,
) -> Vec<Finding> {
    let mut out = Vec::new();
    check_patient(file, reference, today, &mut out);
    check_future_and_death(file, today, &mut out);
    check_procedures(file, reference, &mut out);
    for (id, record) in &file.records {
        check_clinical_record(file, *id, record, reference, &mut out);
    }
    check_amputation_levels(file, &mut out);
    out
}

fn check_patient(
    file: &PatientFile,
    reference: &ReferenceData,
    today: NaiveDate,
    out: &mut Vec<Finding>,
) {
    let p = &file.patient;
    let id = file.patient_id;
    // Also checked where a date of birth is typed (`values::parse_date_of_birth`);
    // here for every other way a patient arrives (the JSON API, imports).
    if p.date_of_birth < crate::values::EARLIEST_DATE_OF_BIRTH {
        out.push(Finding::new(
            Rule::BirthBefore1900,
            id,
            "date_of_birth",
            p.date_of_birth,
            "must be 1900-01-01 or later",
        ));
    }
    if p.date_of_birth > today {
        out.push(Finding::new(
            Rule::FutureDate,
            id,
            "date_of_birth",
            p.date_of_birth,
            "is in the future",
        ));
    }
    if let Some(ended) = p.follow_up_ended_on {
        if ended > today {
            out.push(Finding::new(
                Rule::FutureDate,
                id,
                "follow_up_ended_on",
                ended,
                "is in the future",
            ));
        }
        if p.follow_up_end_reason.is_none() {
            out.push(Finding::new(
                Rule::RequiredWith,
                id,
                "follow_up_end_reason",
                "",
                "is required when follow-up has ended (withdrew, moved away, transferred or other)",
            ));
        }
    }
    if !reference.sites.is_empty() && !reference.sites.contains_key(&p.home_site) {
        out.push(Finding::new(
            Rule::UnknownSite,
            id,
            "home_site",
            &p.home_site,
            "is not a site of this registry",
        ));
    }
    // A patient who declined registry data consent is kept for audit without
    // direct identifiers (DOMAIN.md 4.4); the site keeps its own key.
    let latest_consent = file
        .consents()
        .max_by_key(|(cid, c)| (c.consent_date, *cid));
    if let Some((consent_id, consent)) = latest_consent
        && consent.registry_data_consent == crate::codes::RegistryDataConsent::No
    {
        let identifiers = [
            ("nhs_number", p.nhs_number.as_ref().map(|n| n.to_string())),
            ("hospital_number", p.hospital_number.clone()),
            ("family_name", p.family_name.clone()),
            ("given_name", p.given_name.clone()),
        ];
        for (field, value) in identifiers {
            if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
                out.push(
                    Finding::new(
                        Rule::IdentifiersWithoutConsent,
                        id,
                        field,
                        value,
                        format!(
                            "cannot be held: the patient declined registry data consent on {}; the registry keeps no direct identifiers for them",
                            consent.consent_date
                        ),
                    )
                    .with_counterpart(
                        consent_id,
                        "registry_data_consent",
                        "no",
                        format!(
                            "requires the patient's {} to be removed from the registry first",
                            field.replace('_', " ")
                        ),
                    ),
                );
            }
        }
    }
}

fn check_future_and_death(file: &PatientFile, today: NaiveDate, out: &mut Vec<Finding>) {
    let deaths: Vec<(RecordId, &Death)> = file
        .records
        .iter()
        .filter_map(|(id, r)| match r {
            ClinicalRecord::Death(d) => Some((*id, d)),
            _ => None,
        })
        .collect();
    for (second, _) in deaths.iter().skip(1) {
        let (first_id, first) = deaths[0];
        out.push(
            Finding::new(
                Rule::SecondDeath,
                *second,
                "date",
                deaths.iter().find(|(i, _)| i == second).unwrap().1.date,
                format!(
                    "is a second death: the patient's death on {} is already recorded",
                    first.date
                ),
            )
            .with_counterpart(
                first_id,
                "date",
                first.date,
                "is already recorded; a patient has at most one death",
            ),
        );
    }
    let death = deaths.first().copied();
    for (id, record) in &file.records {
        for (field, date) in record.dates() {
            if date > today {
                out.push(Finding::new(
                    Rule::FutureDate,
                    *id,
                    field,
                    date,
                    "is in the future",
                ));
            }
            if let Some((death_id, death)) = death
                && *id != death_id
                && date > death.date
            {
                out.push(
                    Finding::new(
                        Rule::AfterDeath,
                        *id,
                        field,
                        date,
                        format!(
                            "is after the patient's death on {}; nothing may be dated after death",
                            death.date
                        ),
                    )
                    .with_counterpart(
                        death_id,
                        "date",
                        death.date,
                        format!(
                            "is before the {} dated {date}; nothing may be dated after death",
                            record.kind().as_str().replace('_', " ")
                        ),
                    ),
                );
            }
        }
    }
}

fn check_procedures(file: &PatientFile, reference: &ReferenceData, out: &mut Vec<Finding>) {
    let patient = &file.patient;
    let mut by_limb: BTreeMap<Limb, Vec<(RecordId, &IndexProcedure)>> = BTreeMap::new();
    for (id, p) in file.procedures() {
        by_limb.entry(p.index_limb).or_default().push((id, p));
    }
    for procedures in by_limb.values_mut() {
        procedures.sort_by_key(|(id, p)| (p.procedure_date, *id));
        let (first_id, first) = procedures[0];
        for (id, p) in procedures.iter().skip(1) {
            out.push(
                Finding::new(
                    Rule::DuplicateIndexProcedure,
                    *id,
                    "index_limb",
                    p.index_limb,
                    format!(
                        "already has an index procedure (on {}); a repeat pDVA on the same limb is recorded as a reintervention (Repeat pDVA)",
                        first.procedure_date
                    ),
                )
                .with_counterpart(first_id, "index_limb", first.index_limb, "has a second index procedure recorded on the same limb"),
            );
        }
    }

    for (id, p) in file.procedures() {
        if p.procedure_date < patient.date_of_birth {
            out.push(
                Finding::new(
                    Rule::BeforeBirth,
                    id,
                    "procedure_date",
                    p.procedure_date,
                    format!("is before the date of birth {}", patient.date_of_birth),
                )
                .with_counterpart(
                    file.patient_id,
                    "date_of_birth",
                    patient.date_of_birth,
                    format!("is after the procedure on {}", p.procedure_date),
                ),
            );
        } else {
            let age = patient.age_on(p.procedure_date);
            if !(18..=110).contains(&age) {
                out.push(
                    Finding::new(
                        Rule::AgeOutsideRange,
                        id,
                        "procedure_date",
                        p.procedure_date,
                        format!("gives an age at the procedure of {age} years, outside the expected 18–110; please check the date of birth"),
                    )
                    .with_counterpart(
                        file.patient_id,
                        "date_of_birth",
                        patient.date_of_birth,
                        format!("gives an age of {age} at the procedure on {}, outside the expected 18–110", p.procedure_date),
                    ),
                );
            }
        }
        if let Some(discharge) = p.discharge_date
            && discharge < p.procedure_date
        {
            out.push(Finding::new(
                Rule::EndBeforeStart,
                id,
                "discharge_date",
                discharge,
                format!("is before the procedure date {}", p.procedure_date),
            ));
        }
        if let Some(f) = p.fluoroscopy_minutes
            && f.get() > 180.0
        {
            out.push(Finding::new(
                Rule::FluoroscopyLong,
                id,
                "fluoroscopy_minutes",
                f,
                "is over 180 minutes; please check",
            ));
        }
        if let Some(c) = p.contrast_ml
            && c > 300
        {
            out.push(Finding::new(
                Rule::ContrastHigh,
                id,
                "contrast_ml",
                c,
                "is over 300 ml; please check",
            ));
        }
        if file.consent_for(p.procedure_date).is_none() {
            out.push(Finding::new(
                Rule::NoConsent,
                id,
                "procedure_date",
                p.procedure_date,
                "has no consent recorded on or before it (IPG773 1.2)",
            ));
        }
        for (field, clinician) in [
            ("primary_operator", Some(p.primary_operator)),
            ("second_operator", p.second_operator),
            ("proctor", p.proctor),
        ] {
            if let Some(cid) = clinician
                && !reference.clinicians.contains_key(&cid)
            {
                out.push(Finding::new(
                    Rule::UnknownClinician,
                    id,
                    field,
                    cid,
                    "is not a clinician of this registry",
                ));
            }
        }
        if let Some(operator) = reference.clinicians.get(&p.primary_operator) {
            if !operator.sites.contains(&patient.home_site) {
                out.push(Finding::new(
                    Rule::OperatorNotAtSite,
                    id,
                    "primary_operator",
                    &operator.display_name,
                    format!("does not work at site {}", patient.home_site),
                ));
            }
            let min = reference
                .sites
                .get(&patient.home_site)
                .map_or(Site::DEFAULT_MIN_PROCTORED_CASES, |s| s.min_proctored_cases);
            if !operator.credentialed_on(p.procedure_date, min) {
                out.push(Finding::new(
                    Rule::OperatorNotCredentialed,
                    id,
                    "primary_operator",
                    &operator.display_name,
                    format!(
                        "was not credentialed for pDVA on {} (training recorded and at least {min} proctored cases; IPG773 3.7)",
                        p.procedure_date
                    ),
                ));
            }
        }
    }
}

/// Checks that a per-limb record's procedure exists, and returns it.
fn procedure_of<'a>(
    file: &'a PatientFile,
    id: RecordId,
    procedure_id: RecordId,
    out: &mut Vec<Finding>,
) -> Option<&'a IndexProcedure> {
    let p = file.procedure(procedure_id);
    if p.is_none() {
        out.push(Finding::new(
            Rule::UnknownProcedure,
            id,
            "procedure_id",
            procedure_id,
            "is not an index procedure of this patient",
        ));
    }
    p
}

fn not_before_procedure(
    out: &mut Vec<Finding>,
    id: RecordId,
    field: &'static str,
    date: NaiveDate,
    procedure_id: RecordId,
    p: &IndexProcedure,
    strictly_after: bool,
) {
    let bad = if strictly_after {
        date <= p.procedure_date
    } else {
        date < p.procedure_date
    };
    if bad {
        let message = if strictly_after {
            format!("is not after the index procedure on {}", p.procedure_date)
        } else {
            format!("is before the index procedure on {}", p.procedure_date)
        };
        out.push(
            Finding::new(Rule::BeforeIndexProcedure, id, field, date, message).with_counterpart(
                procedure_id,
                "procedure_date",
                p.procedure_date,
                format!("is after a follow-up record dated {date}"),
            ),
        );
    }
}

fn wrong_limb(out: &mut Vec<Finding>, id: RecordId, limb: Limb, p: &IndexProcedure) {
    if limb != p.index_limb {
        out.push(Finding::new(
            Rule::WrongLimb,
            id,
            "limb",
            limb,
            format!(
                "is not the index limb ({}) of the procedure it is recorded against",
                p.index_limb
            ),
        ));
    }
}

fn end_before_start(
    out: &mut Vec<Finding>,
    id: RecordId,
    field: &'static str,
    end: Option<NaiveDate>,
    start_field: &str,
    start: NaiveDate,
) {
    if let Some(end) = end
        && end < start
    {
        out.push(Finding::new(
            Rule::EndBeforeStart,
            id,
            field,
            end,
            format!("is before the {} {start}", start_field.replace('_', " ")),
        ));
    }
}

fn check_clinical_record(
    file: &PatientFile,
    id: RecordId,
    record: &ClinicalRecord,
    reference: &ReferenceData,
    out: &mut Vec<Finding>,
) {
    match record {
        ClinicalRecord::Consent(c) => check_consent(id, c, reference, out),
        ClinicalRecord::Baseline(b) => check_baseline(file, id, b, out),
        ClinicalRecord::Procedure(_) | ClinicalRecord::Death(_) => {}
        ClinicalRecord::AntithromboticTherapy(t) => {
            procedure_of(file, id, t.procedure_id, out);
            end_before_start(
                out,
                id,
                "stop_date",
                t.stop_date,
                "start_date",
                t.start_date,
            );
        }
        ClinicalRecord::FollowUpVisit(v) => {
            if let Some(p) = procedure_of(file, id, v.procedure_id, out) {
                not_before_procedure(out, id, "visit_date", v.visit_date, v.procedure_id, p, true);
                check_visit_limb_status(file, id, v, p, out);
            }
            if let Some(area) = v.largest_wound_area_cm2
                && area.get() > 200.0
            {
                out.push(Finding::new(
                    Rule::WoundAreaLarge,
                    id,
                    "largest_wound_area_cm2",
                    area,
                    "is over 200 cm²; please check",
                ));
            }
            if let Some(recorded) = v.wifi_ischaemia
                && let Some(suggested) =
                    suggested_wifi_ischaemia(None, None, v.toe_pressure_mmhg, v.tcpo2_mmhg)
                && suggested != recorded
            {
                out.push(ischaemia_disagrees(id, recorded, suggested));
            }
        }
        ClinicalRecord::Amputation(a) => {
            if let Some(p) = procedure_of(file, id, a.procedure_id, out) {
                not_before_procedure(out, id, "date", a.date, a.procedure_id, p, false);
                wrong_limb(out, id, a.limb, p);
            }
        }
        ClinicalRecord::Reintervention(r) => {
            if let Some(p) = procedure_of(file, id, r.procedure_id, out) {
                not_before_procedure(out, id, "date", r.date, r.procedure_id, p, false);
                wrong_limb(out, id, r.limb, p);
            }
        }
        ClinicalRecord::AdverseEvent(e) => {
            if let Some(p) = procedure_of(file, id, e.procedure_id, out) {
                not_before_procedure(
                    out,
                    id,
                    "onset_date",
                    e.onset_date,
                    e.procedure_id,
                    p,
                    false,
                );
            }
            end_before_start(
                out,
                id,
                "resolved_on",
                e.resolved_on,
                "onset_date",
                e.onset_date,
            );
        }
        ClinicalRecord::QualityOfLife(q) => {
            // An assessment on or before the procedure is its baseline, so no
            // QoL record can be "before the procedure" other than a baseline;
            // a pre-operative one's date is checked when a procedure takes it
            // up ([`crate::preoperative::take_up`]).
            check_limb_link(file, id, q.procedure_id, q.index_limb, out);
        }
    }
}

fn check_consent(id: RecordId, c: &Consent, reference: &ReferenceData, out: &mut Vec<Finding>) {
    if c.information_given.is_empty() {
        out.push(Finding::new(
            Rule::InvalidChoices,
            id,
            "information_given",
            "",
            "is required: record the information given, or \"None\"",
        ));
    } else if c.information_given.contains(&InformationGiven::None) && c.information_given.len() > 1
    {
        out.push(Finding::new(
            Rule::InvalidChoices,
            id,
            "information_given",
            c.information_given
                .iter()
                .map(|i| i.as_code())
                .collect::<Vec<_>>()
                .join(", "),
            "cannot combine \"None\" with information given",
        ));
    }
    if c.lacks_capacity && c.best_interests_decision_documented.is_none() {
        out.push(Finding::new(
            Rule::RequiredWith,
            id,
            "best_interests_decision_documented",
            "",
            "is required when the patient lacks capacity",
        ));
    }
    if !c.uncertainties_explained {
        out.push(Finding::new(
            Rule::UncertaintiesNotExplained,
            id,
            "uncertainties_explained",
            "no",
            "— IPG773 1.2 asks that the safety, efficacy and uncertainties of pDVA are explained before consent",
        ));
    }
    end_before_start(
        out,
        id,
        "research_consent_withdrawn_on",
        c.research_consent_withdrawn_on,
        "consent_date",
        c.consent_date,
    );
    if !reference.clinicians.contains_key(&c.taken_by) {
        out.push(Finding::new(
            Rule::UnknownClinician,
            id,
            "taken_by",
            c.taken_by,
            "is not a clinician of this registry",
        ));
    }
}

fn ischaemia_disagrees(
    id: RecordId,
    recorded: crate::values::WifiGrade,
    suggested: crate::values::WifiGrade,
) -> Finding {
    Finding::new(
        Rule::WifiIschaemiaDisagrees,
        id,
        "wifi_ischaemia",
        recorded,
        format!("disagrees with the perfusion values measured, which suggest grade {suggested}"),
    )
}

/// Checks how a baseline or quality of life is tied to its limb: linked to
/// an index procedure of the patient (of the same limb, when it names one),
/// or waiting, with its limb named, for a limb that has no index procedure
/// yet. Returns the linked procedure and its id.
fn check_limb_link<'a>(
    file: &'a PatientFile,
    id: RecordId,
    procedure_id: Option<RecordId>,
    index_limb: Option<Limb>,
    out: &mut Vec<Finding>,
) -> Option<(RecordId, &'a IndexProcedure)> {
    match (procedure_id, index_limb) {
        (Some(pid), limb) => {
            let p = procedure_of(file, id, pid, out)?;
            if let Some(limb) = limb
                && limb != p.index_limb
            {
                out.push(
                    Finding::new(
                        Rule::WrongLimb,
                        id,
                        "index_limb",
                        limb,
                        format!(
                            "is not the index limb ({}) of the procedure it is recorded against",
                            p.index_limb
                        ),
                    )
                    .with_counterpart(
                        pid,
                        "index_limb",
                        p.index_limb,
                        format!("is not the limb of its pre-operative record ({limb})"),
                    ),
                );
            }
            Some((pid, p))
        }
        (None, None) => {
            out.push(Finding::new(
                Rule::RequiredWith,
                id,
                "index_limb",
                "",
                "is required: the limb to be treated, whose index procedure will take this record up",
            ));
            None
        }
        (None, Some(limb)) => {
            if let Some((pid, p)) = file.procedures().find(|(_, p)| p.index_limb == limb) {
                out.push(
                    Finding::new(
                        Rule::NotTakenUp,
                        id,
                        "procedure_id",
                        "",
                        format!(
                            "is empty, but the {limb} limb has an index procedure (on {}); the record belongs to it",
                            p.procedure_date
                        ),
                    )
                    .with_counterpart(
                        pid,
                        "index_limb",
                        limb,
                        "has a pre-operative record not linked to it",
                    ),
                );
            }
            None
        }
    }
}

fn check_baseline(file: &PatientFile, id: RecordId, b: &Baseline, out: &mut Vec<Finding>) {
    if let Some((pid, p)) = check_limb_link(file, id, b.procedure_id, b.index_limb, out) {
        if b.assessment_date > p.procedure_date {
            // Seen from the procedure too, so that a procedure dated before
            // the baseline it takes up (or moved there) is refused.
            out.push(
                Finding::new(
                    Rule::BaselineAfterProcedure,
                    id,
                    "assessment_date",
                    b.assessment_date,
                    format!(
                        "is after the procedure on {}; the baseline must be on or before it",
                        p.procedure_date
                    ),
                )
                .with_counterpart(
                    pid,
                    "procedure_date",
                    p.procedure_date,
                    format!(
                        "is before the baseline assessment of the {} limb on {}; the baseline must be on or before the procedure",
                        p.index_limb, b.assessment_date
                    ),
                ),
            );
        } else if (p.procedure_date - b.assessment_date).num_days() > 90 {
            // Counted as a difference, not by adding 90 days, which would
            // panic for a date at the end of the calendar.
            out.push(Finding::new(
                Rule::AssessmentLongBefore,
                id,
                "assessment_date",
                b.assessment_date,
                format!(
                    "is more than 90 days before the procedure on {}",
                    p.procedure_date
                ),
            ));
        }
    }
    // One baseline per index procedure, and one waiting per limb: a second
    // pre-operative assessment of a limb amends the first (whose earlier
    // version the audit trail keeps), so the procedure takes up one only.
    let same_slot = |other: &Baseline| match b.procedure_id {
        Some(pid) => other.procedure_id == Some(pid),
        None => {
            other.procedure_id.is_none()
                && b.index_limb.is_some()
                && other.index_limb == b.index_limb
        }
    };
    let first_baseline = file.records.iter().find_map(|(rid, r)| match r {
        ClinicalRecord::Baseline(other) if same_slot(other) => Some(*rid),
        _ => None,
    });
    if let Some(first) = first_baseline
        && first != id
    {
        let finding = match (b.procedure_id, b.index_limb) {
            (Some(pid), _) => Finding::new(
                Rule::DuplicateBaseline,
                id,
                "procedure_id",
                pid,
                "already has a baseline; edit that one instead",
            )
            .with_counterpart(
                first,
                "procedure_id",
                pid,
                "has a second baseline recorded",
            ),
            (None, limb) => {
                let limb = limb.map(|l| l.to_string()).unwrap_or_default();
                Finding::new(
                    Rule::DuplicateBaseline,
                    id,
                    "index_limb",
                    &limb,
                    "already has a baseline waiting for its index procedure; amend that one instead",
                )
                .with_counterpart(
                    first,
                    "index_limb",
                    &limb,
                    "has a second baseline recorded while waiting for its index procedure",
                )
            }
        };
        out.push(finding);
    }
    if b.no_option_reasons.is_empty() {
        out.push(Finding::new(
            Rule::InvalidChoices,
            id,
            "no_option_reasons",
            "",
            "is required: why ordinary revascularisation was not an option",
        ));
    }
    if b.rutherford_category.get() < 4 {
        out.push(Finding::new(
            Rule::NotClti,
            id,
            "rutherford_category",
            b.rutherford_category,
            "is below 4: CLTI is Rutherford 4 (rest pain), 5 or 6 (tissue loss)",
        ));
    }
    if let Some(area) = b.largest_wound_area_cm2
        && area.get() > 200.0
    {
        out.push(Finding::new(
            Rule::WoundAreaLarge,
            id,
            "largest_wound_area_cm2",
            area,
            "is over 200 cm²; please check",
        ));
    }
    if let Some(abi) = b.abi
        && abi.get() > 1.4
    {
        out.push(Finding::new(
            Rule::AbiIncompressible,
            id,
            "abi",
            abi,
            "is above 1.4: the vessels are probably incompressible; use toe pressure or TcPO2",
        ));
    }
    if let Some(bmi) = b.bmi()
        && !(12.0..=70.0).contains(&bmi)
    {
        out.push(Finding::new(
            Rule::BmiImplausible,
            id,
            "weight_kg",
            b.weight_kg.map(|w| w.get()).unwrap_or_default(),
            format!("with the height recorded gives a BMI of {bmi:.1}, outside 12–70; please check height and weight"),
        ));
    }
    if let Some(suggested) = suggested_wifi_ischaemia(
        b.abi,
        b.ankle_systolic_pressure_mmhg,
        b.toe_pressure_mmhg,
        b.tcpo2_mmhg,
    ) && suggested != b.wifi_ischaemia
    {
        out.push(ischaemia_disagrees(id, b.wifi_ischaemia, suggested));
    }
}

fn check_visit_limb_status(
    file: &PatientFile,
    id: RecordId,
    v: &FollowUpVisit,
    p: &IndexProcedure,
    out: &mut Vec<Finding>,
) {
    let worst = file
        .amputations_of(p.index_limb)
        .filter(|(_, a)| a.date <= v.visit_date)
        .map(|(_, a)| a.level)
        .max();
    let expected = match worst {
        Some(level) if level.is_major() => LimbStatus::MajorAmputation,
        Some(_) => LimbStatus::MinorAmputation,
        None => LimbStatus::Intact,
    };
    if v.limb_status != expected {
        let recorded = match worst {
            Some(level) => format!(
                "the amputations recorded up to this visit (worst: {})",
                level.label()
            ),
            None => "the amputations recorded (none up to this visit)".to_owned(),
        };
        out.push(Finding::new(
            Rule::LimbStatusDisagrees,
            id,
            "limb_status",
            v.limb_status,
            format!(
                "disagrees with {recorded}, which make it {}",
                expected.label()
            ),
        ));
    }
}

fn check_amputation_levels(file: &PatientFile, out: &mut Vec<Finding>) {
    for limb in [Limb::Left, Limb::Right] {
        let mut amputations: Vec<(RecordId, &Amputation)> = file.amputations_of(limb).collect();
        // Same-day amputations are taken distal first.
        amputations.sort_by_key(|(id, a)| (a.date, a.level, *id));
        let mut highest: Option<(RecordId, &Amputation)> = None;
        for (id, a) in amputations {
            if let Some((prev_id, prev)) = highest {
                let allowed = a.level > prev.level || (a.level == prev.level && a.revision);
                if !allowed {
                    out.push(
                        Finding::new(
                            Rule::AmputationLevel,
                            id,
                            "level",
                            a.level,
                            format!(
                                "is not above the earlier amputation of the {limb} limb on {} ({}); a later amputation must be at a higher level, or marked as a revision at the same level",
                                prev.date, prev.level.label()
                            ),
                        )
                        .with_counterpart(
                            prev_id,
                            "level",
                            prev.level,
                            format!("is at or above a later amputation of the {limb} limb ({} on {})", a.level.label(), a.date),
                        ),
                    );
                }
            }
            if a.level.constrains_later_amputations()
                && highest.is_none_or(|(_, h)| a.level > h.level)
            {
                highest = Some((id, a));
            }
        }
    }
}
