//! Every resource of a generated 1,000-patient registry, identifiable and
//! de-identified, parses with an independent FHIR R4 (4.0.1) implementation:
//! the models of fhir.resources 6.4.0 (Python, pydantic), installed into
//! `.venv-fhir` by `scripts/fhir-validator-venv` (which `scripts/test` runs).
//!
//! The validator's Python is `PDVA_FHIR_PYTHON`, else the workspace's
//! `.venv-fhir` if it exists. Without either the test prints a notice and
//! passes, unless `PDVA_REQUIRE_FHIR_VALIDATOR=1` (CI), when it fails.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use pdva_domain::{ClinicalRecord, PatientFile, ReferenceData};
use pdva_fhir::{NdjsonWriter, transaction_bundle};
use pdva_synth::{Generator, GeneratorConfig};

const PATIENTS: usize = 1_000;

fn validator_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PDVA_FHIR_PYTHON")
        && !p.is_empty()
    {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-fhir/bin/python");
    venv.exists().then_some(venv)
}

fn required() -> bool {
    std::env::var("PDVA_REQUIRE_FHIR_VALIDATOR").is_ok_and(|v| v == "1")
}

/// Exit status of validate.py when fhir.resources is missing.
const MISSING_PACKAGE: i32 = 3;

fn unavailable(reason: &str) {
    if required() {
        panic!(
            "the FHIR validator is not available ({reason}) but PDVA_REQUIRE_FHIR_VALIDATOR=1: \
             run scripts/fhir-validator-venv (scripts/test does) and set PDVA_FHIR_PYTHON"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: FHIR validator not installed, run scripts/fhir-validator-venv ({reason})"
    );
}

/// Runs validate.py on every NDJSON file of `dir`; `None` when skipped.
fn validate(dir: &Path) -> Option<serde_json::Value> {
    let Some(python) = validator_python() else {
        unavailable("no PDVA_FHIR_PYTHON and no .venv-fhir");
        return None;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validator/validate.py");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    let out = match Command::new(&python).arg(&script).args(&files).output() {
        Ok(out) => out,
        Err(e) => {
            unavailable(&format!("cannot run {}: {e}", python.display()));
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(MISSING_PACKAGE) {
        unavailable(stderr.trim());
        return None;
    }
    assert!(
        out.status.success(),
        "the FHIR R4 validator found errors ({}):\n{}\n{stderr}",
        out.status,
        stdout.chars().take(20_000).collect::<String>()
    );
    let summary = stdout.lines().last().expect("a summary line");
    Some(serde_json::from_str(summary).expect("the summary is JSON"))
}

fn registry() -> (ReferenceData, Vec<PatientFile>) {
    let mut generator = Generator::new(GeneratorConfig {
        patients: PATIENTS,
        seed: 20_261_207,
        today: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
    });
    let reference = generator.reference_data();
    let mut files = Vec::with_capacity(PATIENTS);
    while let Some(batch) = generator.next_batch(250) {
        // The store leaves voided records out of a patient's file.
        let voided: HashSet<_> = batch.voids.iter().map(|(id, _)| *id).collect();
        for mut file in batch.files {
            file.records.retain(|(id, _)| !voided.contains(id));
            files.push(file);
        }
    }
    (reference, files)
}

/// A stand-in for the real de-identification (another crate's): identifiers
/// and free text blanked. Ids and dates are left, which does not matter to
/// the validity of the resources.
fn blank_identifiers(
    reference: &ReferenceData,
    files: &[PatientFile],
) -> (ReferenceData, Vec<PatientFile>) {
    let mut reference = reference.clone();
    for site in reference.sites.values_mut() {
        site.ods_code = None;
        site.governance_lead_name = None;
    }
    for clinician in reference.clinicians.values_mut() {
        clinician.professional_registration = None;
        clinician.pdva_training_description = None;
    }
    let files = files
        .iter()
        .cloned()
        .map(|mut f| {
            f.patient.nhs_number = None;
            f.patient.hospital_number = None;
            f.patient.family_name = None;
            f.patient.given_name = None;
            for (_, r) in &mut f.records {
                match r {
                    ClinicalRecord::Consent(c) => c.information_version = None,
                    ClinicalRecord::Procedure(p) => p.device_lot = None,
                    ClinicalRecord::AntithromboticTherapy(t) => t.dose = None,
                    ClinicalRecord::Amputation(a) => a.reason = None,
                    ClinicalRecord::AdverseEvent(e) => e.description = None,
                    _ => {}
                }
            }
            f
        })
        .collect();
    (reference, files)
}

/// Writes the registry as NDJSON into `dir` and returns the counts.
fn export(
    dir: &Path,
    reference: &ReferenceData,
    files: &[PatientFile],
    deidentified: bool,
) -> BTreeMap<&'static str, u64> {
    let mut writer = NdjsonWriter::create_dir(dir, deidentified).unwrap();
    writer.write_reference(reference).unwrap();
    for file in files {
        writer.write_patient(file).unwrap();
    }
    let counts = writer.finish().unwrap();
    // A small transaction Bundle, checked with the rest.
    let bundle = transaction_bundle(reference, &files[..5], deidentified).unwrap();
    std::fs::write(dir.join("Bundle.ndjson"), format!("{bundle}\n")).unwrap();
    counts
}

fn check(deidentified: bool) {
    let (reference, files) = registry();
    let (reference, files) = if deidentified {
        blank_identifiers(&reference, &files)
    } else {
        (reference, files)
    };
    let dir = tempfile::tempdir().unwrap();
    let counts = export(dir.path(), &reference, &files, deidentified);
    assert_eq!(counts["Patient"], PATIENTS as u64);
    for t in [
        "Organization",
        "Practitioner",
        "Condition",
        "Procedure",
        "Device",
        "Observation",
        "Consent",
        "MedicationStatement",
        "EpisodeOfCare",
        "AdverseEvent",
    ] {
        assert!(
            counts.get(t).copied().unwrap_or(0) > 0,
            "no {t} written: {counts:?}"
        );
    }
    if deidentified {
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for forbidden in [
                "\"identifier\"",
                "\"birthDate\"",
                "\"name\":[",
                "\"lotNumber\"",
                "\"dosage\"",
                "\"note\"",
                "\"text\":{",
            ] {
                assert!(
                    !text.contains(forbidden),
                    "de-identified output holds {forbidden}"
                );
            }
        }
    }
    let Some(summary) = validate(dir.path()) else {
        return;
    };
    assert_eq!(summary["errors"], 0, "{summary}");
    let total: u64 = counts.values().sum();
    assert_eq!(
        summary["resources"].as_u64().unwrap(),
        total + 1,
        "{summary}"
    );
    eprintln!(
        "validated {total} resources and one Bundle (deidentified = {deidentified}): {summary}"
    );
}

#[test]
fn identifiable_export_validates_as_fhir_r4() {
    check(false);
}

#[test]
fn deidentified_export_validates_as_fhir_r4() {
    check(true);
}
