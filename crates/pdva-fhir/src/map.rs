//! The mapping of registry records to FHIR R4 resources.

use std::collections::HashMap;

use chrono::NaiveDate;
use pdva_domain::codes::{
    AdverseEventKind, Limb, LimbStatus, Relatedness, Severity, Sex, StopReason, WoundStatus,
};
use pdva_domain::values::{SiteCode, WifiGrade};
use pdva_domain::{
    AdverseEvent as AdverseEventRecord, Amputation, AntithromboticTherapy, Baseline,
    ClinicalRecord, Clinician, Consent as ConsentRecord, FollowUpVisit, IndexProcedure,
    PatientFile, QualityOfLife, RecordId, ReferenceData, Reintervention, Site,
};

use crate::FhirError;
use crate::ids::derived_id;
use crate::model::*;

/// Base of the registry's own code systems, extensions and identifier systems.
pub const REGISTRY_BASE: &str = "https://pdva-registry.example/fhir";
/// The registry's CodeSystem for concepts no standard terminology names
/// (WIfI grades, Rutherford category, VascuQoL-6 total, the pDVA procedure).
pub const REGISTRY_CODE_SYSTEM: &str = "https://pdva-registry.example/fhir/CodeSystem/pdva";
/// NHS number identifier system.
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// ODS organisation code identifier system.
pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// GMC number identifier system (UK Core).
pub const GMC_SYSTEM: &str = "https://fhir.hl7.org.uk/Id/gmc-number";
/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";
/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// UCUM.
pub const UCUM: &str = "http://unitsofmeasure.org";
const UK_CORE: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-";

/// Extension URL of the patient's age at the first index procedure, in whole
/// years (de-identified exports, instead of the date of birth).
pub const AGE_AT_INDEX_EXTENSION: &str =
    "https://pdva-registry.example/fhir/StructureDefinition/age-at-index-procedure";

fn meta(profile: &str) -> Meta {
    Meta {
        profile: vec![format!("{UK_CORE}{profile}")],
    }
}

fn coding(system: &str, code: &str, display: &str) -> Coding {
    Coding {
        system: system.to_owned(),
        code: code.to_owned(),
        display: Some(display.to_owned()),
    }
}

fn concept(codings: Vec<Coding>, text: &str) -> CodeableConcept {
    CodeableConcept {
        coding: codings,
        text: Some(text.to_owned()),
    }
}

/// A concept from the registry's CodeSystem.
fn registry_concept(code: &str, display: &str) -> CodeableConcept {
    concept(vec![coding(REGISTRY_CODE_SYSTEM, code, display)], display)
}

/// The CodeSystem of one coded field of the data dictionary: its codes are
/// the field's stored spellings (DOMAIN.md section 4).
fn field_system(field: &str) -> String {
    format!("{REGISTRY_BASE}/CodeSystem/{}", field.replace('_', "-"))
}

fn field_coding(field: &str, code: &str, label: &str) -> Coding {
    coding(&field_system(field), code, label)
}

fn field_concept(field: &str, code: &str, label: &str) -> CodeableConcept {
    concept(vec![field_coding(field, code, label)], label)
}

fn extension_url(name: &str) -> String {
    format!("{REGISTRY_BASE}/StructureDefinition/{name}")
}

fn ext(name: &str) -> Extension {
    Extension {
        url: extension_url(name),
        value_boolean: None,
        value_integer: None,
        value_coding: None,
        value_quantity: None,
        value_date: None,
    }
}

fn ext_bool(name: &str, value: bool) -> Extension {
    Extension {
        value_boolean: Some(value),
        ..ext(name)
    }
}

fn ext_int(name: &str, value: i64) -> Extension {
    Extension {
        value_integer: Some(value),
        ..ext(name)
    }
}

fn ext_code(name: &str, field: &str, code: &str, label: &str) -> Extension {
    Extension {
        value_coding: Some(field_coding(field, code, label)),
        ..ext(name)
    }
}

fn reference(resource_type: &str, id: &str) -> Reference {
    Reference {
        reference: format!("{resource_type}/{id}"),
    }
}

fn ucum(value: f64, unit: &str, code: &str) -> Quantity {
    Quantity {
        value,
        unit: unit.to_owned(),
        system: UCUM.to_owned(),
        code: code.to_owned(),
    }
}

/// The SNOMED CT body structure of a lower limb.
fn limb_site(limb: Limb) -> CodeableConcept {
    match limb {
        Limb::Left => concept(
            vec![coding(SNOMED, "32153003", "Structure of left lower limb")],
            "Left lower limb",
        ),
        Limb::Right => concept(
            vec![coding(SNOMED, "62175007", "Structure of right lower limb")],
            "Right lower limb",
        ),
    }
}

/// The id of the Organization of a site: derived from its code (sites have
/// no record id in [`ReferenceData`]).
pub fn organization_id(site_code: &SiteCode) -> String {
    derived_id(site_code.as_str(), "site")
}

/// The id of the Condition (CLTI of the index limb) of an index procedure.
pub fn condition_id(procedure_id: RecordId) -> String {
    derived_id(&procedure_id.to_string(), "clti")
}

/// The id of the Device used in an index procedure.
pub fn device_id(procedure_id: RecordId) -> String {
    derived_id(&procedure_id.to_string(), "device")
}

/// The id of the EpisodeOfCare (the limb's lifelong follow-up) of an index procedure.
pub fn episode_id(procedure_id: RecordId) -> String {
    derived_id(&procedure_id.to_string(), "episode")
}

/// The id of one Observation made from a record.
pub fn observation_id(record_id: RecordId, what: &str) -> String {
    derived_id(&record_id.to_string(), what)
}

/// The Organization of a site.
pub fn organization(site: &Site, deidentified: bool) -> Organization {
    let mut identifier = Vec::new();
    if !deidentified {
        identifier.push(Identifier {
            system: format!("{REGISTRY_BASE}/Id/site-code"),
            value: site.site_code.as_str().to_owned(),
        });
        if let Some(ods) = site.ods_code.as_deref().filter(|s| !s.trim().is_empty()) {
            identifier.push(Identifier {
                system: ODS_SYSTEM.to_owned(),
                value: ods.trim().to_owned(),
            });
        }
    }
    Organization {
        id: organization_id(&site.site_code),
        meta: meta("Organization"),
        identifier,
        active: true,
        name: site.name.as_str().to_owned(),
        address: vec![Address {
            country: site.country.as_str().to_owned(),
        }],
    }
}

/// The Practitioner of a clinician; de-identified, only its id.
pub fn practitioner(id: RecordId, clinician: &Clinician, deidentified: bool) -> Practitioner {
    let mut identifier = Vec::new();
    let mut name = Vec::new();
    if !deidentified {
        if let Some(reg) = clinician
            .professional_registration
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            identifier.push(match gmc_number(reg) {
                Some(gmc) => Identifier {
                    system: GMC_SYSTEM.to_owned(),
                    value: gmc.to_owned(),
                },
                None => Identifier {
                    system: format!("{REGISTRY_BASE}/Id/professional-registration"),
                    value: reg.to_owned(),
                },
            });
        }
        name.push(HumanName {
            use_: None,
            text: Some(clinician.display_name.as_str().to_owned()),
            family: None,
            given: Vec::new(),
        });
    }
    Practitioner {
        id: id.to_string(),
        meta: meta("Practitioner"),
        identifier,
        name,
    }
}

/// The seven digits of a GMC number written as `1234567` or `GMC 1234567`.
pub(crate) fn gmc_number(registration: &str) -> Option<&str> {
    let digits = registration
        .strip_prefix("GMC")
        .map_or(registration, str::trim_start);
    (digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The Organizations (sites, by code) and Practitioners (clinicians, by id)
/// of the reference data, in a stable order.
pub fn reference_resources(reference: &ReferenceData, deidentified: bool) -> Vec<Resource> {
    let mut sites: Vec<&Site> = reference.sites.values().collect();
    sites.sort_by(|a, b| a.site_code.as_str().cmp(b.site_code.as_str()));
    let mut clinicians: Vec<(&RecordId, &Clinician)> = reference.clinicians.iter().collect();
    clinicians.sort_by_key(|(id, _)| **id);
    sites
        .into_iter()
        .map(|s| Resource::Organization(organization(s, deidentified)))
        .chain(
            clinicians
                .into_iter()
                .map(|(id, c)| Resource::Practitioner(practitioner(*id, c, deidentified))),
        )
        .collect()
}

/// What one patient's mapping needs at hand.
struct Mapper<'a> {
    file: &'a PatientFile,
    reference: &'a ReferenceData,
    deidentified: bool,
    patient: Reference,
    /// Index procedures by id: their limb.
    limbs: HashMap<RecordId, Limb>,
    out: Vec<Resource>,
}

/// Every resource of one patient's file, the patient first.
///
/// `deidentified` leaves out what [the crate documentation](crate) lists; the
/// caller has already pseudonymised the ids and shifted the dates. Fails when
/// the file refers to a site or clinician missing from `reference` (the
/// export would hold a reference to nothing).
pub fn patient_resources(
    file: &PatientFile,
    reference: &ReferenceData,
    deidentified: bool,
) -> Result<Vec<Resource>, FhirError> {
    let mut m = Mapper {
        file,
        reference,
        deidentified,
        patient: reference_to_patient(file),
        limbs: file
            .procedures()
            .map(|(id, p)| (id, p.index_limb))
            .collect(),
        out: Vec::new(),
    };
    m.patient_resource()?;
    for (id, record) in &file.records {
        match record {
            ClinicalRecord::Consent(c) => m.consent(*id, c)?,
            // A pre-operative baseline or quality of life waiting for its
            // limb's index procedure has no Condition or episode to belong
            // to yet: it is exported once the procedure takes it up.
            ClinicalRecord::Baseline(b) => {
                if let Some(p) = b.procedure_id {
                    m.baseline(*id, p, b)
                }
            }
            ClinicalRecord::Procedure(p) => m.index_procedure(*id, p)?,
            ClinicalRecord::AntithromboticTherapy(t) => m.therapy(*id, t),
            ClinicalRecord::FollowUpVisit(v) => m.visit(*id, v),
            ClinicalRecord::Amputation(a) => m.amputation(*id, a),
            ClinicalRecord::Reintervention(r) => m.reintervention(*id, r),
            // Patient.deceasedDateTime.
            ClinicalRecord::Death(_) => {}
            ClinicalRecord::AdverseEvent(e) => m.adverse_event(*id, e),
            ClinicalRecord::QualityOfLife(q) => {
                if let Some(p) = q.procedure_id {
                    m.quality_of_life(*id, p, q)
                }
            }
        }
    }
    Ok(m.out)
}

fn reference_to_patient(file: &PatientFile) -> Reference {
    reference("Patient", &file.patient_id.to_string())
}

impl Mapper<'_> {
    fn home_site(&self) -> Result<Reference, FhirError> {
        let code = &self.file.patient.home_site;
        if !self.reference.sites.contains_key(code) {
            return Err(FhirError::UnknownSite {
                patient: self.file.patient_id.to_string(),
                site_code: code.as_str().to_owned(),
            });
        }
        Ok(reference("Organization", &organization_id(code)))
    }

    fn clinician(&self, id: RecordId, field: &'static str) -> Result<Reference, FhirError> {
        if !self.reference.clinicians.contains_key(&id) {
            return Err(FhirError::UnknownClinician {
                patient: self.file.patient_id.to_string(),
                field,
                clinician: id.to_string(),
            });
        }
        Ok(reference("Practitioner", &id.to_string()))
    }

    /// The Condition of the limb of an index procedure in this file.
    fn condition_of(&self, procedure_id: RecordId) -> Option<Reference> {
        self.limbs
            .contains_key(&procedure_id)
            .then(|| reference("Condition", &condition_id(procedure_id)))
    }

    fn first_procedure_date(&self) -> Option<NaiveDate> {
        self.file.procedures().map(|(_, p)| p.procedure_date).min()
    }

    fn patient_resource(&mut self) -> Result<(), FhirError> {
        let p = &self.file.patient;
        let mut identifier = Vec::new();
        let mut name = Vec::new();
        let mut extension = Vec::new();
        let mut birth_date = None;
        if self.deidentified {
            // Age in whole years on day 0 (the first index procedure; a
            // patient with none yet: the earliest record), never the date of birth.
            let day_zero = self
                .first_procedure_date()
                .or_else(|| self.file.records.iter().map(|(_, r)| r.date()).min());
            if let Some(day) = day_zero {
                extension.push(Extension {
                    url: AGE_AT_INDEX_EXTENSION.to_owned(),
                    value_quantity: Some(ucum(f64::from(p.age_on(day)), "years", "a")),
                    ..ext("")
                });
            }
        } else {
            if let Some(nhs) = &p.nhs_number {
                identifier.push(Identifier {
                    system: NHS_NUMBER_SYSTEM.to_owned(),
                    value: nhs.as_str().to_owned(),
                });
            }
            if let Some(h) = p
                .hospital_number
                .as_deref()
                .filter(|s| !s.trim().is_empty())
            {
                identifier.push(Identifier {
                    system: format!("{REGISTRY_BASE}/Id/hospital-number/{}", p.home_site),
                    value: h.trim().to_owned(),
                });
            }
            identifier.push(Identifier {
                system: format!("{REGISTRY_BASE}/Id/registry-id"),
                value: p.registry_id.as_str().to_owned(),
            });
            let family = p.family_name.clone().filter(|s| !s.trim().is_empty());
            let given: Vec<String> = p
                .given_name
                .iter()
                .filter(|s| !s.trim().is_empty())
                .cloned()
                .collect();
            if family.is_some() || !given.is_empty() {
                name.push(HumanName {
                    use_: Some("official".to_owned()),
                    text: None,
                    family,
                    given,
                });
            }
            birth_date = Some(p.date_of_birth);
        }
        let patient = Patient {
            id: self.file.patient_id.to_string(),
            meta: meta("Patient"),
            extension,
            identifier,
            name,
            gender: match p.sex {
                Sex::Female => "female",
                Sex::Male => "male",
                Sex::Other => "other",
                Sex::Unknown => "unknown",
            }
            .to_owned(),
            birth_date,
            deceased_date_time: self.file.death().map(|(_, d)| d.date),
            managing_organization: self.home_site()?,
        };
        self.out.push(Resource::Patient(patient));
        Ok(())
    }

    fn consent(&mut self, id: RecordId, c: &ConsentRecord) -> Result<(), FhirError> {
        let organization = vec![self.home_site()?];
        let category = vec![concept(
            vec![coding(LOINC, "59284-0", "Patient Consent")],
            "Patient consent",
        )];
        let research_yes = c.research_consent == pdva_domain::codes::ResearchConsent::Yes;
        self.out.push(Resource::Consent(Consent {
            id: id.to_string(),
            status: if c.research_consent_withdrawn_on.is_some() {
                "inactive"
            } else {
                "active"
            }
            .to_owned(),
            scope: concept(
                vec![coding(
                    "http://terminology.hl7.org/CodeSystem/consentscope",
                    "research",
                    "Research",
                )],
                "Research",
            ),
            category: category.clone(),
            patient: self.patient.clone(),
            date_time: c.consent_date,
            performer: vec![self.patient.clone()],
            organization: organization.clone(),
            policy: vec![ConsentPolicy {
                uri: format!("{REGISTRY_BASE}/policy/research-consent"),
            }],
            provision: ConsentProvision {
                type_: if research_yes { "permit" } else { "deny" }.to_owned(),
                period: Period {
                    start: Some(c.consent_date),
                    end: c.research_consent_withdrawn_on,
                },
                purpose: vec![coding(
                    "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                    "HRESCH",
                    "healthcare research",
                )],
            },
        }));
        use pdva_domain::codes::RegistryDataConsent as R;
        let permit = match c.registry_data_consent {
            R::Yes => "permit",
            R::No => "deny",
            // Audit under the organisation's lawful basis: no consent was asked.
            R::NotRequired => return Ok(()),
        };
        self.out.push(Resource::Consent(Consent {
            id: derived_id(&id.to_string(), "registry-data"),
            status: "active".to_owned(),
            scope: concept(
                vec![coding(
                    "http://terminology.hl7.org/CodeSystem/consentscope",
                    "patient-privacy",
                    "Privacy Consent",
                )],
                "Registry holding identifiable data",
            ),
            category,
            patient: self.patient.clone(),
            date_time: c.consent_date,
            performer: vec![self.patient.clone()],
            organization,
            policy: vec![ConsentPolicy {
                uri: format!("{REGISTRY_BASE}/policy/registry-data-consent"),
            }],
            provision: ConsentProvision {
                type_: permit.to_owned(),
                period: Period {
                    start: Some(c.consent_date),
                    end: None,
                },
                purpose: Vec::new(),
            },
        }));
        Ok(())
    }

    /// One Observation about the patient (and the limb of `procedure_id`).
    fn observation(
        &self,
        record_id: RecordId,
        what: &str,
        survey: bool,
        code: CodeableConcept,
        procedure_id: RecordId,
        date: NaiveDate,
    ) -> Observation {
        let category = if survey {
            ("survey", "Survey")
        } else {
            ("exam", "Exam")
        };
        Observation {
            id: observation_id(record_id, what),
            meta: meta("Observation"),
            status: "final".to_owned(),
            category: vec![concept(
                vec![coding(
                    "http://terminology.hl7.org/CodeSystem/observation-category",
                    category.0,
                    category.1,
                )],
                category.1,
            )],
            code,
            subject: self.patient.clone(),
            focus: self.condition_of(procedure_id).into_iter().collect(),
            effective_date_time: date,
            value_quantity: None,
            value_integer: None,
            value_codeable_concept: None,
            body_site: (!survey)
                .then(|| self.limbs.get(&procedure_id).copied().map(limb_site))
                .flatten(),
            component: Vec::new(),
        }
    }

    fn push_integer(
        &mut self,
        record_id: RecordId,
        what: &str,
        display: &str,
        procedure_id: RecordId,
        date: NaiveDate,
        value: i64,
    ) {
        let mut o = self.observation(
            record_id,
            what,
            false,
            registry_concept(what, display),
            procedure_id,
            date,
        );
        o.value_integer = Some(value);
        self.out.push(Resource::Observation(o));
    }

    #[allow(clippy::too_many_arguments)]
    fn push_quantity(
        &mut self,
        record_id: RecordId,
        what: &str,
        display: &str,
        procedure_id: RecordId,
        date: NaiveDate,
        value: Quantity,
    ) {
        let mut o = self.observation(
            record_id,
            what,
            false,
            registry_concept(what, display),
            procedure_id,
            date,
        );
        o.value_quantity = Some(value);
        self.out.push(Resource::Observation(o));
    }

    fn push_coded(
        &mut self,
        record_id: RecordId,
        what: &str,
        display: &str,
        procedure_id: RecordId,
        date: NaiveDate,
        value: CodeableConcept,
    ) {
        let mut o = self.observation(
            record_id,
            what,
            false,
            registry_concept(what, display),
            procedure_id,
            date,
        );
        o.value_codeable_concept = Some(value);
        self.out.push(Resource::Observation(o));
    }

    /// WIfI grades (and the clinical stage when all three are recorded) and
    /// the Rutherford category.
    fn grades(
        &mut self,
        id: RecordId,
        procedure_id: RecordId,
        date: NaiveDate,
        rutherford: Option<u8>,
        wifi: [Option<WifiGrade>; 3],
    ) {
        if let Some(r) = rutherford {
            self.push_integer(
                id,
                "rutherford-category",
                "Rutherford category",
                procedure_id,
                date,
                i64::from(r),
            );
        }
        let names = [
            ("wifi-wound", "WIfI wound grade"),
            ("wifi-ischaemia", "WIfI ischaemia grade"),
            ("wifi-foot-infection", "WIfI foot infection grade"),
        ];
        for ((what, display), grade) in names.into_iter().zip(wifi) {
            if let Some(g) = grade {
                self.push_integer(id, what, display, procedure_id, date, i64::from(g.get()));
            }
        }
        if let [Some(w), Some(i), Some(fi)] = wifi {
            let stage = pdva_domain::derived::wifi_clinical_stage(w, i, fi);
            self.push_integer(
                id,
                "wifi-clinical-stage",
                "WIfI clinical stage",
                procedure_id,
                date,
                i64::from(stage),
            );
        }
    }

    fn pressure(
        &mut self,
        id: RecordId,
        what: &str,
        display: &str,
        procedure_id: RecordId,
        date: NaiveDate,
        mmhg: Option<u16>,
    ) {
        if let Some(v) = mmhg {
            let q = ucum(f64::from(v), "mmHg", "mm[Hg]");
            self.push_quantity(id, what, display, procedure_id, date, q);
        }
    }

    fn baseline(&mut self, id: RecordId, p: RecordId, b: &Baseline) {
        let d = b.assessment_date;
        self.grades(
            id,
            p,
            d,
            Some(b.rutherford_category.get()),
            [
                Some(b.wifi_wound),
                Some(b.wifi_ischaemia),
                Some(b.wifi_foot_infection),
            ],
        );
        if let Some(abi) = b.abi {
            let q = ucum(abi.get(), "ratio", "{ratio}");
            self.push_quantity(id, "abi", "Ankle-brachial index", p, d, q);
        }
        let ankle = b.ankle_systolic_pressure_mmhg.map(|v| v.get());
        self.pressure(id, "ankle-pressure", "Ankle systolic pressure", p, d, ankle);
        let toe = b.toe_pressure_mmhg.map(|v| v.get());
        self.pressure(id, "toe-pressure", "Toe pressure", p, d, toe);
        let tcpo2 = b.tcpo2_mmhg.map(|v| v.get());
        self.pressure(id, "tcpo2", "Transcutaneous oxygen pressure", p, d, tcpo2);
    }

    fn visit(&mut self, id: RecordId, v: &FollowUpVisit) {
        let (p, d) = (v.procedure_id, v.visit_date);
        self.grades(
            id,
            p,
            d,
            v.rutherford_category.map(|r| r.get()),
            [v.wifi_wound, v.wifi_ischaemia, v.wifi_foot_infection],
        );
        let toe = v.toe_pressure_mmhg.map(|x| x.get());
        self.pressure(id, "toe-pressure", "Toe pressure", p, d, toe);
        let tcpo2 = v.tcpo2_mmhg.map(|x| x.get());
        self.pressure(id, "tcpo2", "Transcutaneous oxygen pressure", p, d, tcpo2);
        if let Some(w) = v.wound_status {
            let value = field_concept(WoundStatus::FIELD, w.as_code(), w.label());
            self.push_coded(id, "wound-status", "Wound status", p, d, value);
        }
        let l: LimbStatus = v.limb_status;
        let value = field_concept(LimbStatus::FIELD, l.as_code(), l.label());
        self.push_coded(id, "limb-status", "Index limb status", p, d, value);
    }

    fn quality_of_life(&mut self, id: RecordId, p: RecordId, q: &QualityOfLife) {
        let d = q.assessment_date;
        if let Some(total) = q.vascuqol6_total() {
            let code = registry_concept("vascuqol-6-total", "VascuQoL-6 total score");
            let mut o = self.observation(id, "vascuqol-6-total", true, code, p, d);
            o.value_integer = Some(i64::from(total));
            self.out.push(Resource::Observation(o));
        }
        if let (Some(profile), Some(index)) = (q.eq5d_profile(), q.eq5d_index()) {
            let code = concept(
                vec![
                    coding(
                        SNOMED,
                        "736534008",
                        "EuroQol five dimension five level index value",
                    ),
                    coding(
                        REGISTRY_CODE_SYSTEM,
                        "eq-5d-5l-index",
                        "EQ-5D-5L index (England value set, Devlin et al. 2018)",
                    ),
                ],
                "EQ-5D-5L index (England value set)",
            );
            let mut o = self.observation(id, "eq-5d-5l-index", true, code, p, d);
            o.value_quantity = Some(ucum(index, "score", "{score}"));
            let dims = [
                ("eq-5d-5l-mobility", "EQ-5D-5L mobility"),
                ("eq-5d-5l-self-care", "EQ-5D-5L self-care"),
                ("eq-5d-5l-usual-activities", "EQ-5D-5L usual activities"),
                ("eq-5d-5l-pain-discomfort", "EQ-5D-5L pain/discomfort"),
                ("eq-5d-5l-anxiety-depression", "EQ-5D-5L anxiety/depression"),
            ];
            o.component = dims
                .into_iter()
                .zip(profile)
                .map(|((code, display), level)| ObservationComponent {
                    code: registry_concept(code, display),
                    value_integer: i64::from(level.get()),
                })
                .collect();
            self.out.push(Resource::Observation(o));
        }
        if let Some(vas) = q.eq_vas {
            let code = concept(
                vec![
                    coding(SNOMED, "736535009", "EuroQol visual analogue score"),
                    coding(REGISTRY_CODE_SYSTEM, "eq-vas", "EQ VAS"),
                ],
                "EQ VAS",
            );
            let mut o = self.observation(id, "eq-vas", true, code, p, d);
            o.value_integer = Some(i64::from(vas.get()));
            self.out.push(Resource::Observation(o));
        }
    }

    fn index_procedure(&mut self, id: RecordId, p: &IndexProcedure) -> Result<(), FhirError> {
        let pid = id.to_string();
        let condition_ref = reference("Condition", &condition_id(id));
        // The CLTI of the index limb, recorded at the baseline assessment.
        let baseline = self.file.records.iter().find_map(|(bid, r)| match r {
            ClinicalRecord::Baseline(b) if b.procedure_id == Some(id) => Some((*bid, b)),
            _ => None,
        });
        let stage = baseline
            .map(|(bid, b)| ConditionStage {
                summary: registry_concept(
                    &format!("wifi-clinical-stage-{}", b.wifi_clinical_stage()),
                    &format!("WIfI clinical stage {}", b.wifi_clinical_stage()),
                ),
                assessment: vec![reference(
                    "Observation",
                    &observation_id(bid, "wifi-clinical-stage"),
                )],
                type_: registry_concept("wifi-clinical-stage", "WIfI clinical stage"),
            })
            .into_iter()
            .collect();
        self.out.push(Resource::Condition(Condition {
            id: condition_id(id),
            meta: meta("Condition"),
            clinical_status: concept(
                vec![coding(
                    "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "active",
                    "Active",
                )],
                "Active",
            ),
            verification_status: concept(
                vec![coding(
                    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "confirmed",
                    "Confirmed",
                )],
                "Confirmed",
            ),
            category: vec![concept(
                vec![coding(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    "encounter-diagnosis",
                    "Encounter Diagnosis",
                )],
                "Encounter diagnosis",
            )],
            code: concept(
                vec![
                    coding(SNOMED, "399957001", "Peripheral arterial occlusive disease"),
                    coding(
                        REGISTRY_CODE_SYSTEM,
                        "clti",
                        "Chronic limb-threatening ischaemia",
                    ),
                ],
                "Chronic limb-threatening ischaemia",
            ),
            body_site: vec![limb_site(p.index_limb)],
            subject: self.patient.clone(),
            stage,
            recorded_date: baseline.map_or(p.procedure_date, |(_, b)| b.assessment_date),
        }));

        self.out.push(Resource::Device(Device {
            id: device_id(id),
            device_name: vec![DeviceName {
                name: p.device_system.as_str().to_owned(),
                type_: "user-friendly-name".to_owned(),
            }],
            lot_number: if self.deidentified {
                None
            } else {
                p.device_lot.clone().filter(|s| !s.trim().is_empty())
            },
            patient: self.patient.clone(),
        }));

        let mut performer = vec![Performer {
            function: registry_concept("primary-operator", "Primary operator"),
            actor: self.clinician(p.primary_operator, "primary_operator")?,
        }];
        if let Some(c) = p.second_operator {
            performer.push(Performer {
                function: registry_concept("second-operator", "Second operator"),
                actor: self.clinician(c, "second_operator")?,
            });
        }
        if let Some(c) = p.proctor {
            performer.push(Performer {
                function: registry_concept("proctor", "Proctor"),
                actor: self.clinician(c, "proctor")?,
            });
        }
        use pdva_domain::codes as c;
        let mut extension = vec![
            ext_code(
                "anaesthesia",
                c::Anaesthesia::FIELD,
                p.anaesthesia.as_code(),
                p.anaesthesia.label(),
            ),
            ext_code(
                "arterial-access",
                c::ArterialAccess::FIELD,
                p.arterial_access.as_code(),
                p.arterial_access.label(),
            ),
            ext_code(
                "venous-access",
                c::VenousAccess::FIELD,
                p.venous_access.as_code(),
                p.venous_access.label(),
            ),
            ext_code(
                "target-artery",
                "target_artery",
                p.target_artery.as_code(),
                p.target_artery.label(),
            ),
            ext_code(
                "target-vein",
                "target_vein",
                p.target_vein.as_code(),
                p.target_vein.label(),
            ),
            ext_code(
                "crossover-level",
                c::CrossoverLevel::FIELD,
                p.crossover_level.as_code(),
                p.crossover_level.label(),
            ),
            ext_bool("fistula-created", p.fistula_created),
            ext_bool("valvulotomy", p.valvulotomy),
            ext_bool("completion-angiography", p.completion_angiography),
        ];
        if let Some(flow) = p.venous_arch_flow {
            extension.push(ext_code(
                "venous-arch-flow",
                c::VenousArchFlow::FIELD,
                flow.as_code(),
                flow.label(),
            ));
        }
        if let Some(n) = p.venous_stents_count {
            extension.push(ext_int("venous-stents-count", i64::from(n.get())));
        }
        let success = p.technical_success();
        self.out.push(Resource::Procedure(Procedure {
            id: pid,
            meta: meta("Procedure"),
            extension,
            part_of: Vec::new(),
            status: "completed".to_owned(),
            category: surgical_category(),
            code: registry_concept("pdva", "Percutaneous deep venous arterialisation"),
            subject: self.patient.clone(),
            performed_date_time: p.procedure_date,
            performer,
            reason_reference: vec![condition_ref.clone()],
            reason_code: Vec::new(),
            body_site: vec![limb_site(p.index_limb)],
            outcome: Some(if success {
                concept(
                    vec![coding(SNOMED, "385669000", "Successful")],
                    "Technical success",
                )
            } else {
                concept(
                    vec![coding(SNOMED, "385671000", "Unsuccessful")],
                    "Technical failure",
                )
            }),
            used_reference: vec![reference("Device", &device_id(id))],
        }));

        // The limb's lifelong follow-up: from the procedure to the end of
        // follow-up or death, whichever is first.
        let ended = [
            self.file.patient.follow_up_ended_on,
            self.file.death().map(|(_, d)| d.date),
        ]
        .into_iter()
        .flatten()
        .min();
        self.out.push(Resource::EpisodeOfCare(EpisodeOfCare {
            id: episode_id(id),
            status: if ended.is_some() {
                "finished"
            } else {
                "active"
            }
            .to_owned(),
            type_: vec![registry_concept(
                "pdva-lifelong-follow-up",
                "Lifelong follow-up after pDVA",
            )],
            diagnosis: vec![EpisodeDiagnosis {
                condition: condition_ref,
            }],
            patient: self.patient.clone(),
            managing_organization: self.home_site()?,
            period: Period {
                start: Some(p.procedure_date),
                end: ended,
            },
        }));
        Ok(())
    }

    /// A later procedure on the limb of an index procedure.
    #[allow(clippy::too_many_arguments)]
    fn later_procedure(
        &mut self,
        id: RecordId,
        procedure_id: RecordId,
        date: NaiveDate,
        limb: Limb,
        code: CodeableConcept,
        extension: Vec<Extension>,
        reason_code: Vec<CodeableConcept>,
    ) {
        let part_of = self
            .limbs
            .contains_key(&procedure_id)
            .then(|| reference("Procedure", &procedure_id.to_string()));
        self.out.push(Resource::Procedure(Procedure {
            id: id.to_string(),
            meta: meta("Procedure"),
            extension,
            part_of: part_of.into_iter().collect(),
            status: "completed".to_owned(),
            category: surgical_category(),
            code,
            subject: self.patient.clone(),
            performed_date_time: date,
            performer: Vec::new(),
            reason_reference: self.condition_of(procedure_id).into_iter().collect(),
            reason_code,
            body_site: vec![limb_site(limb)],
            outcome: None,
            used_reference: Vec::new(),
        }));
    }

    fn reintervention(&mut self, id: RecordId, r: &Reintervention) {
        let mut extension = vec![
            ext_bool("planned", r.planned),
            ext_bool("major-reintervention", r.is_major()),
        ];
        if let Some(rel) = r.related_to_pdva {
            extension.push(ext_code(
                "related-to-pdva",
                "related_to_pdva",
                rel.as_code(),
                rel.label(),
            ));
        }
        let code = field_concept("reintervention_kind", r.kind.as_code(), r.kind.label());
        self.later_procedure(
            id,
            r.procedure_id,
            r.date,
            r.limb,
            code,
            extension,
            Vec::new(),
        );
    }

    fn amputation(&mut self, id: RecordId, a: &Amputation) {
        let extension = vec![
            ext_bool("major-amputation", a.is_major()),
            ext_bool("amputation-revision", a.revision),
        ];
        let code = field_concept(
            "amputation_level",
            a.level.as_code(),
            &format!("{} amputation", a.level.label()),
        );
        // The reason is free text: identifiable exports only.
        let reason = if self.deidentified {
            Vec::new()
        } else {
            a.reason
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| CodeableConcept {
                    coding: Vec::new(),
                    text: Some(s.clone()),
                })
                .collect()
        };
        self.later_procedure(id, a.procedure_id, a.date, a.limb, code, extension, reason);
    }

    fn therapy(&mut self, id: RecordId, t: &AntithromboticTherapy) {
        let status = match (t.stop_date, t.stop_reason) {
            (None, _) => "active",
            (Some(_), None | Some(StopReason::Planned)) => "completed",
            (Some(_), Some(_)) => "stopped",
        };
        let class = t.drug.class();
        self.out
            .push(Resource::MedicationStatement(MedicationStatement {
                id: id.to_string(),
                meta: meta("MedicationStatement"),
                status: status.to_owned(),
                status_reason: t
                    .stop_reason
                    .map(|r| field_concept(StopReason::FIELD, r.as_code(), r.label()))
                    .into_iter()
                    .collect(),
                medication_codeable_concept: concept(
                    vec![
                        field_coding("drug", t.drug.as_code(), t.drug.label()),
                        field_coding("drug_class", class.as_code(), class.label()),
                    ],
                    t.drug.label(),
                ),
                subject: self.patient.clone(),
                effective_period: Period {
                    start: Some(t.start_date),
                    end: t.stop_date,
                },
                reason_reference: self.condition_of(t.procedure_id).into_iter().collect(),
                dosage: if self.deidentified {
                    Vec::new()
                } else {
                    t.dose
                        .iter()
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| Dosage { text: s.clone() })
                        .collect()
                },
            }));
    }

    fn adverse_event(&mut self, id: RecordId, e: &AdverseEventRecord) {
        let severity = match e.severity {
            Severity::Mild => ("mild", "Mild"),
            Severity::Moderate => ("moderate", "Moderate"),
            Severity::Severe | Severity::LifeThreatening | Severity::Fatal => ("severe", "Severe"),
        };
        let outcome = if e.severity == Severity::Fatal {
            ("fatal", "Fatal")
        } else if e.resolved_on.is_some() {
            ("resolved", "Resolved")
        } else {
            ("ongoing", "Ongoing")
        };
        let mut extension = vec![ext_code(
            "adverse-event-severity",
            Severity::FIELD,
            e.severity.as_code(),
            e.severity.label(),
        )];
        if let Some(rel) = e.device_or_procedure_related {
            extension.push(ext_code(
                "device-or-procedure-related",
                Relatedness::FIELD,
                rel.as_code(),
                rel.label(),
            ));
        }
        if let Some(d) = e.resolved_on {
            extension.push(Extension {
                value_date: Some(d),
                ..ext("resolved-on")
            });
        }
        let suspect = matches!(
            e.device_or_procedure_related,
            Some(Relatedness::Yes | Relatedness::Possible)
        ) && self.limbs.contains_key(&e.procedure_id);
        let kind: AdverseEventKind = e.kind;
        self.out.push(Resource::AdverseEvent(AdverseEvent {
            id: id.to_string(),
            extension,
            actuality: "actual".to_owned(),
            event: field_concept("adverse_event_kind", kind.as_code(), kind.label()),
            subject: self.patient.clone(),
            date: e.onset_date,
            seriousness: e.serious.map(|s| {
                let (code, display) = if s {
                    ("serious", "Serious")
                } else {
                    ("non-serious", "Non-serious")
                };
                concept(
                    vec![coding(
                        "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness",
                        code,
                        display,
                    )],
                    display,
                )
            }),
            severity: concept(
                vec![coding(
                    "http://terminology.hl7.org/CodeSystem/adverse-event-severity",
                    severity.0,
                    severity.1,
                )],
                severity.1,
            ),
            outcome: concept(
                vec![coding(
                    "http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
                    outcome.0,
                    outcome.1,
                )],
                outcome.1,
            ),
            suspect_entity: if suspect {
                vec![SuspectEntity {
                    instance: reference("Procedure", &e.procedure_id.to_string()),
                }]
            } else {
                Vec::new()
            },
        }));
    }
}

fn surgical_category() -> CodeableConcept {
    concept(
        vec![coding(SNOMED, "387713003", "Surgical procedure")],
        "Surgical procedure",
    )
}
