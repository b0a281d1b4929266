//! Unit tests of the mapping, on patients of a small generated registry.

use std::collections::HashSet;

use chrono::NaiveDate;
use pdva_domain::{ClinicalRecord, PatientFile, ReferenceData};
use pdva_synth::{Generator, GeneratorConfig};
use serde_json::Value;

use crate::{NHS_NUMBER_SYSTEM, NdjsonWriter, patient_resources, transaction_bundle};

fn registry() -> (ReferenceData, Vec<PatientFile>) {
    let mut generator = Generator::new(GeneratorConfig {
        patients: 120,
        seed: 7,
        today: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
    });
    let reference = generator.reference_data();
    let mut files = Vec::new();
    while let Some(batch) = generator.next_batch(50) {
        let voided: HashSet<_> = batch.voids.iter().map(|(id, _)| *id).collect();
        for mut file in batch.files {
            file.records.retain(|(id, _)| !voided.contains(id));
            files.push(file);
        }
    }
    (reference, files)
}

/// The resources of a file as JSON.
fn json(file: &PatientFile, reference: &ReferenceData, deidentified: bool) -> Vec<Value> {
    patient_resources(file, reference, deidentified)
        .unwrap()
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

fn of_type<'a>(resources: &'a [Value], t: &str) -> impl Iterator<Item = &'a Value> {
    resources.iter().filter(move |r| r["resourceType"] == t)
}

fn find_file(files: &[PatientFile], pred: impl Fn(&ClinicalRecord) -> bool) -> &PatientFile {
    files
        .iter()
        .find(|f| f.records.iter().any(|(_, r)| pred(r)))
        .expect("a generated patient with such a record")
}

#[test]
fn reintervention_and_amputation_are_part_of_their_index_procedure() {
    let (reference, files) = registry();
    let file = find_file(&files, |r| matches!(r, ClinicalRecord::Reintervention(_)));
    let resources = json(file, &reference, false);
    let (rid, re) = file
        .records
        .iter()
        .find_map(|(id, r)| match r {
            ClinicalRecord::Reintervention(x) => Some((*id, x)),
            _ => None,
        })
        .unwrap();
    let procedure = of_type(&resources, "Procedure")
        .find(|p| p["id"] == rid.to_string())
        .unwrap();
    assert_eq!(
        procedure["partOf"][0]["reference"],
        format!("Procedure/{}", re.procedure_id)
    );
    assert_eq!(procedure["status"], "completed");
    assert_eq!(procedure["performedDateTime"], re.date.to_string());
    // The index procedure itself is part of nothing, and names its performer and device.
    let index = of_type(&resources, "Procedure")
        .find(|p| p["id"] == re.procedure_id.to_string())
        .unwrap();
    assert!(index.get("partOf").is_none());
    let ip = file.procedure(re.procedure_id).unwrap();
    assert_eq!(
        index["performer"][0]["actor"]["reference"],
        format!("Practitioner/{}", ip.primary_operator)
    );
    let device = index["usedReference"][0]["reference"].as_str().unwrap();
    assert!(
        of_type(&resources, "Device")
            .any(|d| format!("Device/{}", d["id"].as_str().unwrap()) == device)
    );
    let laterality = &index["bodySite"][0]["coding"][0];
    assert_eq!(laterality["system"], "http://snomed.info/sct");
    assert_eq!(
        laterality["code"],
        match ip.index_limb {
            pdva_domain::codes::Limb::Left => "32153003",
            pdva_domain::codes::Limb::Right => "62175007",
        }
    );
}

#[test]
fn medication_statement_period_runs_from_start_to_stop() {
    let (reference, files) = registry();
    let file = find_file(
        &files,
        |r| matches!(r, ClinicalRecord::AntithromboticTherapy(t) if t.stop_date.is_some()),
    );
    let resources = json(file, &reference, false);
    let (id, t) = file
        .records
        .iter()
        .find_map(|(id, r)| match r {
            ClinicalRecord::AntithromboticTherapy(t) if t.stop_date.is_some() => Some((*id, t)),
            _ => None,
        })
        .unwrap();
    let ms = of_type(&resources, "MedicationStatement")
        .find(|m| m["id"] == id.to_string())
        .unwrap();
    assert_eq!(ms["effectivePeriod"]["start"], t.start_date.to_string());
    assert_eq!(
        ms["effectivePeriod"]["end"],
        t.stop_date.unwrap().to_string()
    );
    assert_ne!(ms["status"], "active");
    assert_eq!(
        ms["subject"]["reference"],
        format!("Patient/{}", file.patient_id)
    );
    // An ongoing course has no end and is active.
    let ongoing = files.iter().find_map(|f| {
        f.records.iter().find_map(|(id, r)| match r {
            ClinicalRecord::AntithromboticTherapy(t) if t.stop_date.is_none() => Some((f, *id)),
            _ => None,
        })
    });
    if let Some((f, id)) = ongoing {
        let resources = json(f, &reference, false);
        let ms = of_type(&resources, "MedicationStatement")
            .find(|m| m["id"] == id.to_string())
            .unwrap();
        assert!(ms["effectivePeriod"].get("end").is_none());
        assert_eq!(ms["status"], "active");
    }
}

#[test]
fn identifiable_patient_has_nhs_number_name_and_birth_date() {
    let (reference, files) = registry();
    let file = files
        .iter()
        .find(|f| f.patient.nhs_number.is_some() && f.patient.family_name.is_some())
        .unwrap();
    let resources = json(file, &reference, false);
    let patient = &resources[0];
    assert_eq!(patient["resourceType"], "Patient");
    assert_eq!(patient["id"], file.patient_id.to_string());
    let nhs = patient["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["system"] == NHS_NUMBER_SYSTEM)
        .expect("NHS number identifier");
    assert_eq!(
        nhs["value"],
        file.patient.nhs_number.as_ref().unwrap().as_str()
    );
    assert_eq!(NHS_NUMBER_SYSTEM, "https://fhir.nhs.uk/Id/nhs-number");
    assert_eq!(patient["birthDate"], file.patient.date_of_birth.to_string());
    assert!(patient["name"][0]["family"].is_string());
    assert_eq!(
        patient["meta"]["profile"][0],
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
    );
}

#[test]
fn deidentified_patient_has_no_identifier_name_or_birth_date_but_an_age() {
    let (reference, files) = registry();
    let file = files
        .iter()
        .find(|f| f.patient.nhs_number.is_some() && f.procedures().next().is_some())
        .unwrap();
    let resources = json(file, &reference, true);
    let patient = &resources[0];
    assert!(patient.get("identifier").is_none());
    assert!(patient.get("name").is_none());
    assert!(patient.get("birthDate").is_none());
    let first = file
        .procedures()
        .map(|(_, p)| p.procedure_date)
        .min()
        .unwrap();
    let age = &patient["extension"][0];
    assert_eq!(age["url"], crate::AGE_AT_INDEX_EXTENSION);
    assert_eq!(
        age["valueQuantity"]["value"].as_f64().unwrap(),
        f64::from(file.patient.age_on(first))
    );
    assert_eq!(age["valueQuantity"]["code"], "a");
    // Nothing in any resource of the patient names or numbers them.
    let text = serde_json::to_string(&resources).unwrap();
    assert!(!text.contains("\"identifier\""));
    assert!(!text.contains(file.patient.nhs_number.as_ref().unwrap().as_str()));
    assert!(!text.contains(file.patient.registry_id.as_str()));
    assert!(!text.contains("\"dosage\""));
    assert!(!text.contains("\"lotNumber\""));
    // Practitioners keep only their id.
    let reference_json: Vec<Value> = crate::reference_resources(&reference, true)
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    for p in of_type(&reference_json, "Practitioner") {
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "meta", "resourceType"], "{p}"); // sorted by serde_json
    }
}

#[test]
fn perfusion_values_carry_ucum_units() {
    let (reference, files) = registry();
    let file = find_file(
        &files,
        |r| matches!(r, ClinicalRecord::Baseline(b) if b.abi.is_some() && b.toe_pressure_mmhg.is_some()),
    );
    let resources = json(file, &reference, false);
    let by_code = |code: &str| {
        of_type(&resources, "Observation")
            .find(|o| o["code"]["coding"][0]["code"] == code)
            .unwrap_or_else(|| panic!("an Observation {code}"))
            .clone()
    };
    let abi = by_code("abi");
    assert_eq!(abi["valueQuantity"]["system"], "http://unitsofmeasure.org");
    assert_eq!(abi["valueQuantity"]["code"], "{ratio}");
    let toe = by_code("toe-pressure");
    assert_eq!(toe["valueQuantity"]["code"], "mm[Hg]");
    assert_eq!(toe["valueQuantity"]["system"], "http://unitsofmeasure.org");
    assert_eq!(toe["status"], "final");
}

#[test]
fn ndjson_writer_writes_one_line_per_resource_per_type() {
    use std::sync::{Arc, Mutex};
    let (reference, files) = registry();
    // Writers kept in the test so they can be read after finishing.
    let mut writer = NdjsonWriter::with_opener(false, |_| Ok(Vec::<u8>::new()));
    writer.write_reference(&reference).unwrap();
    let expected = Arc::new(Mutex::new(std::collections::BTreeMap::<&str, u64>::new()));
    for file in &files[..10] {
        writer.write_patient(file).unwrap();
        for r in patient_resources(file, &reference, false).unwrap() {
            *expected
                .lock()
                .unwrap()
                .entry(r.resource_type())
                .or_default() += 1;
        }
    }
    let (counts, writers) = writer.finish_with_writers().unwrap();
    assert_eq!(counts["Patient"], 10);
    assert_eq!(counts["Organization"] as usize, reference.sites.len());
    assert_eq!(counts["Practitioner"] as usize, reference.clinicians.len());
    for (t, n) in expected.lock().unwrap().iter() {
        assert_eq!(counts[t], *n, "{t}");
    }
    for (t, bytes) in writers {
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().count() as u64, counts[t]);
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["resourceType"], t);
        }
    }
}

#[test]
fn transaction_bundle_puts_every_resource_by_type_and_id() {
    let (reference, files) = registry();
    let bundle = transaction_bundle(&reference, &files[..3], false).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "transaction");
    let entries = bundle["entry"].as_array().unwrap();
    let mut ids = HashSet::new();
    for e in entries {
        let id = e["resource"]["id"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()), "duplicate id {id}");
        assert_eq!(e["fullUrl"], format!("urn:uuid:{id}"));
        assert_eq!(e["request"]["method"], "PUT");
        assert_eq!(
            e["request"]["url"],
            format!("{}/{id}", e["resource"]["resourceType"].as_str().unwrap())
        );
    }
    // Every reference points at an entry of the bundle.
    let text = serde_json::to_string(&bundle).unwrap();
    for piece in text.split("\"reference\":\"").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        let id = target.split('/').nth(1).unwrap();
        assert!(ids.contains(id), "dangling reference {target}");
    }
}

#[test]
fn deidentified_output_drops_free_text_the_file_still_holds() {
    let (reference, files) = registry();
    let mut seen = 0;
    for file in &files {
        let text = serde_json::to_string(&json(file, &reference, true)).unwrap();
        for (_, r) in &file.records {
            let free: Option<&str> = match r {
                ClinicalRecord::Amputation(a) => a.reason.as_deref(),
                ClinicalRecord::AntithromboticTherapy(t) => t.dose.as_deref(),
                ClinicalRecord::Procedure(p) => p.device_lot.as_deref(),
                ClinicalRecord::AdverseEvent(e) => e.description.as_deref(),
                ClinicalRecord::Consent(c) => c.information_version.as_deref(),
                _ => None,
            };
            if let Some(free) = free.filter(|s| s.len() > 3) {
                seen += 1;
                assert!(!text.contains(&format!("\"{free}\"")), "{free:?} in {text}");
            }
        }
    }
    assert!(seen > 0, "the generated registry has free text to drop");
}

#[test]
fn death_withdrawal_and_follow_up_are_dated() {
    let (reference, files) = registry();
    let file = files.iter().find(|f| f.death().is_some()).unwrap();
    let resources = json(file, &reference, false);
    let death = file.death().unwrap().1.date;
    assert_eq!(resources[0]["deceasedDateTime"], death.to_string());
    for episode in of_type(&resources, "EpisodeOfCare") {
        assert_eq!(episode["status"], "finished");
        let end = episode["period"]["end"].as_str().unwrap();
        assert!(end <= death.to_string().as_str());
    }

    let (file, id, withdrawn) = files
        .iter()
        .find_map(|f| {
            f.consents()
                .find_map(|(id, c)| c.research_consent_withdrawn_on.map(|d| (f, id, d)))
        })
        .expect("a research-consent withdrawal");
    let resources = json(file, &reference, false);
    let consent = of_type(&resources, "Consent")
        .find(|c| c["id"] == id.to_string())
        .unwrap();
    assert_eq!(consent["scope"]["coding"][0]["code"], "research");
    assert_eq!(consent["status"], "inactive");
    assert_eq!(consent["provision"]["period"]["end"], withdrawn.to_string());
    assert_eq!(
        consent["patient"]["reference"],
        format!("Patient/{}", file.patient_id)
    );
}

#[test]
fn gmc_numbers_use_the_uk_core_system() {
    assert_eq!(crate::map::gmc_number("GMC 0000107"), Some("0000107"));
    assert_eq!(crate::map::gmc_number("1234567"), Some("1234567"));
    assert_eq!(crate::map::gmc_number("NMC 12A3456"), None);
    assert_eq!(crate::map::gmc_number("12345678"), None);
    let (reference, _) = registry();
    // A clinician of a UK site (GMC); the others hold Irish (IMC) numbers,
    // and the clinicians are a map, in no fixed order, so the test names
    // which one it means.
    let (id, clinician) = reference
        .clinicians
        .iter()
        .find(|(_, c)| {
            c.professional_registration
                .as_deref()
                .is_some_and(|r| r.starts_with("GMC "))
        })
        .unwrap();
    let p = serde_json::to_value(crate::map::practitioner(*id, clinician, false)).unwrap();
    assert_eq!(p["identifier"][0]["system"], crate::map::GMC_SYSTEM, "{p}");
    // A non-GMC number is carried without claiming the GMC's system.
    let (id, clinician) = reference
        .clinicians
        .iter()
        .find(|(_, c)| {
            c.professional_registration
                .as_deref()
                .is_some_and(|r| !r.starts_with("GMC "))
        })
        .unwrap();
    let p = serde_json::to_value(crate::map::practitioner(*id, clinician, false)).unwrap();
    assert_ne!(p["identifier"][0]["system"], crate::map::GMC_SYSTEM, "{p}");
}
