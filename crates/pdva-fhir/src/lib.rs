//! # pdva-fhir
//!
//! FHIR R4 (4.0.1) export of the pDVA registry, as lean hand-written serde
//! structures ([`model`]): only the elements the registry fills, each
//! optional one left out when empty.
//!
//! ## What a patient becomes
//!
//! | registry record (DOMAIN.md 4) | FHIR resources |
//! |---|---|
//! | site | `Organization` (UK Core), id derived from the site code |
//! | clinician | `Practitioner` (UK Core) |
//! | patient | `Patient` (UK Core): NHS number (`https://fhir.nhs.uk/Id/nhs-number`), hospital number, registry id, name, gender, birthDate, `deceasedDateTime` from the death record, home site as `managingOrganization` |
//! | index procedure | `Condition` (UK Core): CLTI of the index limb (SNOMED CT 399957001 peripheral arterial occlusive disease, and the registry's `clti`), body site the left or right lower limb (SNOMED CT 32153003 / 62175007), WIfI clinical stage at baseline; `Procedure` (UK Core): the pDVA with its performers (primary operator, second operator, proctor), body site, technique as extensions, technical success as `outcome` (SNOMED CT 385669000 / 385671000), the `Device` (its system; lot only when identifiable) in `usedReference`; `EpisodeOfCare`: the limb's lifelong follow-up, from the procedure to the end of follow-up or death |
//! | reintervention, amputation | `Procedure` (UK Core) with `partOf` the index procedure |
//! | baseline, follow-up visit | `Observation`s (UK Core): Rutherford category, WIfI grades and clinical stage, ABI (`{ratio}`), ankle and toe pressure and TcPO2 (`mm[Hg]`), wound status and limb status at follow-up, each with `focus` the limb's `Condition` |
//! | quality of life | `Observation`s (UK Core): VascuQoL-6 total, EQ-5D-5L index (SNOMED CT 736534008, with the five levels as components), EQ VAS (SNOMED CT 736535009) |
//! | consent | `Consent`: scope `research`, permit or deny, the period ending at a withdrawal (then `inactive`); and scope `patient-privacy` for the consent to the registry holding identifiable data (none when not required) |
//! | antithrombotic therapy | `MedicationStatement` (UK Core) with `effectivePeriod` from start to stop |
//! | adverse event | `AdverseEvent`, the index procedure as suspect entity when related or possibly related |
//!
//! Concepts with no code in a standard terminology use the registry's code
//! systems: [`REGISTRY_CODE_SYSTEM`] for observation codes and registry
//! concepts, and `https://pdva-registry.example/fhir/CodeSystem/<field>` for
//! the codes of each coded field of the data dictionary (their stored
//! spellings). Every id is a UUID: the record's own id, or one derived from it
//! ([`ids`]), so references (`Patient/<id>`) are stable across exports.
//!
//! ## De-identified mode
//!
//! The caller ([`patient_resources`], [`NdjsonWriter`], [`transaction_bundle`]
//! with `deidentified = true`) has already replaced the registry ids with
//! pseudonymous ids, shifted every date and removed identifiers and free text
//! from the patient file and the reference data. This crate then also leaves
//! out:
//!
//! - every `identifier` element (NHS number, hospital number, registry id,
//!   professional registration, site and ODS codes);
//! - every name: the Patient has none, and a Practitioner has only its id;
//! - `Patient.birthDate`: instead the extension [`AGE_AT_INDEX_EXTENSION`]
//!   holds the age in whole years at the first index procedure
//!   (`Patient::age_on`; the earliest record for a patient with no procedure);
//! - free text: the dose of a `MedicationStatement`, the reason of an
//!   amputation, the device lot. (Adverse-event descriptions, consent
//!   information versions and training descriptions are never exported, and no
//!   resource has a narrative `text` or a `note`.)
//!
//! ## Output
//!
//! [`NdjsonWriter`] streams a registry as FHIR Bulk Data NDJSON, one file per
//! resource type, one patient at a time; [`transaction_bundle`] makes one
//! transaction `Bundle` of a small extract. The crate does no I/O other than
//! through the writers its caller gives (or the files of the directory
//! [`NdjsonWriter::create_dir`] is given).

pub mod bundle;
pub mod error;
pub mod ids;
pub mod map;
pub mod model;
pub mod ndjson;

pub use bundle::transaction_bundle;
pub use error::FhirError;
pub use map::{
    AGE_AT_INDEX_EXTENSION, NHS_NUMBER_SYSTEM, REGISTRY_CODE_SYSTEM, patient_resources,
    reference_resources,
};
pub use model::Resource;
pub use ndjson::NdjsonWriter;

#[cfg(test)]
mod tests;
