//! Identifiers encrypted at rest, their erasure, key rotation and the
//! neutral refusal of an NHS number held elsewhere, on both engines.

mod common;

use common::*;
use pdva_domain::codes::RegistryDataConsent;
use pdva_domain::values::{NhsNumber, SiteCode};
use pdva_domain::{ClinicalRecord, Patient, PatientFacts};
use pdva_store::{Change, Edit, KeyFile, NoProgress, PatientKey, Store, StoreError};
use sqlx::Row;

/// A patient whose identifiers are written nowhere else in the tests, so
/// that finding any of them in the raw database means a leak.
fn distinctive(site_code: &str) -> Patient {
    let mut p = patient(site_code, "9994000012");
    p.family_name = Some("Featherstonehaugh".into());
    p.given_name = Some("Quillonia".into());
    p.hospital_number = Some("HX77Q31".into());
    p.date_of_birth = d("1951-08-23");
    p
}

/// Every way the distinctive patient's identifiers could be written.
fn needles() -> Vec<&'static str> {
    vec![
        "9994000012",
        "999 400 0012",
        "Featherstonehaugh",
        "FEATHERSTONEHAUGH",
        "featherstonehaugh",
        "Quillonia",
        "HX77Q31",
        "1951-08-23",
    ]
}

/// The raw content of the database: the SQLite file and its write-ahead log
/// after a checkpoint, or a data-only `pg_dump` of the test's schema (every
/// row of every table as text where pg_dump is missing).
async fn raw_database(db: &TestDb) -> Vec<u8> {
    match &db.sqlite_file {
        Some(path) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(db.store.pool())
                .await
                .unwrap();
            let mut bytes = std::fs::read(path).unwrap();
            let wal = pdva_store::keys::sibling(path, "-wal");
            if let Ok(mut more) = std::fs::read(&wal) {
                bytes.append(&mut more);
            }
            bytes
        }
        None => {
            let (base, schema) = db.cleanup.clone().unwrap();
            let dump = std::process::Command::new("pg_dump")
                .args(["--data-only", "--schema", &schema, "--dbname", &base])
                .output();
            match dump {
                Ok(out) if out.status.success() => out.stdout,
                _ => {
                    let mut text = String::new();
                    let tables = sqlx::query(
                        "SELECT table_name FROM information_schema.tables \
                         WHERE table_schema = current_schema()",
                    )
                    .fetch_all(db.store.pool())
                    .await
                    .unwrap();
                    for t in tables {
                        let name: String = t.try_get(0).unwrap();
                        for row in sqlx::query(&format!("SELECT CAST(t.* AS TEXT) FROM {name} t"))
                            .fetch_all(db.store.pool())
                            .await
                            .unwrap()
                        {
                            let line: String = row.try_get(0).unwrap();
                            text.push_str(&line);
                            text.push('\n');
                        }
                    }
                    text.into_bytes()
                }
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn facts(store: &Store) -> Vec<String> {
    let mut all = Vec::new();
    store
        .for_each_patient_facts(None, |f: PatientFacts| all.push(format!("{f:?}")))
        .await
        .unwrap();
    all.sort();
    all
}

async fn wrapped_key(store: &Store, patient: &str) -> Option<String> {
    sqlx::query("SELECT wrapped_key FROM patient_key WHERE patient_id = $1")
        .bind(patient.to_owned())
        .fetch_optional(store.pool())
        .await
        .unwrap()
        .map(|r| r.try_get(0).unwrap())
}

on_both_engines!(
    erased_identifiers_are_nowhere_and_the_chain_still_verifies,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let store = &db.store;
        let saved = store
            .save_patient(&actor(), Change::create(distinctive("TST")), today())
            .await
            .unwrap();
        let id = saved.id;
        store
            .save_clinical(
                &actor(),
                id,
                Change::create(consent(s.clinician, "2025-02-01")),
                today(),
            )
            .await
            .unwrap();
        store
            .save_clinical(
                &actor(),
                id,
                Change::create(procedure(
                    s.clinician,
                    "2025-02-10",
                    pdva_domain::codes::Limb::Left,
                )),
                today(),
            )
            .await
            .unwrap();
        // An edit, so that an audit before-state holds the sealed identifiers.
        let mut edited = store.patient_file(id).await.unwrap().patient;
        edited.given_name = Some("Quillonia".into());
        edited.hospital_number = Some("HX77Q31".into());
        store
            .save_patient(
                &actor(),
                Change {
                    edit: Some(Edit {
                        id,
                        expected_version: 1,
                    }),
                    record: edited.clone(),
                    reason: Some("typo".into()),
                    acknowledge_warnings: true,
                },
                today(),
            )
            .await
            .unwrap();
        assert_eq!(store.patient_file(id).await.unwrap().patient, edited);
        let nhs = NhsNumber::parse("9994000012").unwrap();
        assert!(
            store
                .find_patient(&PatientKey::NhsNumber(nhs.clone()))
                .await
                .unwrap()
                .is_some()
        );
        // Encrypted at rest even before erasure (the dump is real: it holds
        // the registry id, which is not an identifier and stays in clear).
        let before = raw_database(&db).await;
        assert!(contains(&before, &edited.registry_id.to_string()));
        for n in needles() {
            assert!(!contains(&before, n), "{n} is stored in plain text");
        }
        let key = wrapped_key(store, &id.to_string()).await.unwrap();
        let facts_before = facts(store).await;

        store
            .erase_identifiers(&actor(), id, "erasure requested by the patient")
            .await
            .unwrap();

        let after = raw_database(&db).await;
        for n in needles() {
            assert!(!contains(&after, n), "{n} is in the database after erasure");
        }
        assert!(
            !contains(&after, &key),
            "the erased patient's wrapped data key is still in the database's files"
        );
        assert_eq!(wrapped_key(store, &id.to_string()).await, None);
        let report = store.verify_audit(&NoProgress).await.unwrap();
        assert!(report.is_intact(), "{:?}", report.breaks);
        assert_eq!(facts(store).await, facts_before);
        let rebuilt = {
            let mut all = Vec::new();
            store
                .for_each_patient_facts_from_records(None, |f| all.push(format!("{f:?}")))
                .await
                .unwrap();
            all.sort();
            all
        };
        assert_eq!(rebuilt, facts_before);

        // What an erased patient reads back as.
        let erased = store.patient_file(id).await.unwrap().patient;
        assert_eq!(erased.nhs_number, None);
        assert_eq!(erased.family_name, None);
        assert_eq!(erased.given_name, None);
        assert_eq!(erased.hospital_number, None);
        assert_eq!(erased.date_of_birth, d("1951-07-01"));
        assert_eq!(erased.registry_id, edited.registry_id);
        assert!(store.identifiers_erased(id).await.unwrap());
        assert!(!store.identifiers_erased(s.patient).await.unwrap());
        assert!(
            store
                .find_patient(&PatientKey::NhsNumber(nhs))
                .await
                .unwrap()
                .is_none()
        );
        // The erasure is audited: who, when, why, and no identifier.
        let log = store.audit_log(Some(id), 1).await.unwrap();
        assert_eq!(log[0].action, "erase");
        assert_eq!(
            log[0].reason.as_deref(),
            Some("erasure requested by the patient")
        );
        // The other patient keeps their identifiers.
        let other = store.patient_file(s.patient).await.unwrap().patient;
        assert_eq!(other.family_name.as_deref(), Some("Testperson"));

        // Saving the erased patient as read back keeps them erased.
        store
            .save_patient(
                &actor(),
                Change {
                    edit: Some(Edit {
                        id,
                        expected_version: store.get(id).await.unwrap().meta.version,
                    }),
                    record: erased.clone(),
                    reason: Some("follow-up ended".into()),
                    acknowledge_warnings: true,
                },
                today(),
            )
            .await
            .unwrap();
        assert!(store.identifiers_erased(id).await.unwrap());
        assert_eq!(wrapped_key(store, &id.to_string()).await, None);
        assert!(store.verify_audit(&NoProgress).await.unwrap().is_intact());
    }
);

on_both_engines!(
    declining_registry_data_destroys_the_data_key,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let store = &db.store;
        let mut p = store.patient_file(s.patient).await.unwrap().patient;
        p.nhs_number = None;
        p.hospital_number = None;
        p.family_name = None;
        p.given_name = None;
        store
            .save_patient(
                &actor(),
                Change {
                    edit: Some(Edit {
                        id: s.patient,
                        expected_version: store.get(s.patient).await.unwrap().meta.version,
                    }),
                    record: p,
                    reason: Some("identifiers removed before the consent".into()),
                    acknowledge_warnings: true,
                },
                today(),
            )
            .await
            .unwrap();
        assert!(!store.identifiers_erased(s.patient).await.unwrap());
        let ClinicalRecord::Consent(mut declined) = consent(s.clinician, "2025-03-01") else {
            unreachable!()
        };
        declined.registry_data_consent = RegistryDataConsent::No;
        store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(ClinicalRecord::Consent(declined)),
                today(),
            )
            .await
            .unwrap();
        assert!(store.identifiers_erased(s.patient).await.unwrap());
        assert_eq!(wrapped_key(store, &s.patient.to_string()).await, None);
        let p = store.patient_file(s.patient).await.unwrap().patient;
        assert_eq!(p.date_of_birth, d("1954-07-01"));
        assert!(
            !contains(&raw_database(&db).await, "1954-03-02"),
            "the date of birth outlived the consent"
        );
        assert!(store.verify_audit(&NoProgress).await.unwrap().is_intact());
    }
);

on_both_engines!(
    rotation_rewraps_every_key_and_a_wrong_key_file_is_refused,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let id = db
            .store
            .save_patient(&actor(), Change::create(distinctive("TST")), today())
            .await
            .unwrap()
            .id;
        let before = db.store.patient_file(id).await.unwrap().patient;
        let seeded = db.store.patient_file(s.patient).await.unwrap().patient;
        let dir = tempfile::tempdir().unwrap();
        let new_file = dir.path().join("rotated.key");
        let rotation = db.store.rotate_master_key(&new_file).await.unwrap();
        assert_eq!(rotation.patient_keys, 2);
        assert!(!pdva_store::keys::sibling(&new_file, ".pending").exists());
        db.store.close().await;

        let reopened = Store::open_with_key_file(&db.url, &new_file).await.unwrap();
        assert_eq!(reopened.patient_file(id).await.unwrap().patient, before);
        assert_eq!(
            reopened.patient_file(s.patient).await.unwrap().patient,
            seeded
        );
        assert!(
            reopened
                .verify_audit(&NoProgress)
                .await
                .unwrap()
                .is_intact()
        );
        let version = reopened.data_version().await.unwrap();
        let keys_before: Vec<String> =
            sqlx::query("SELECT wrapped_key FROM patient_key ORDER BY patient_id")
                .fetch_all(reopened.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get(0).unwrap())
                .collect();

        // The old key file, a stranger's, and none: each refused, naming the file.
        let stranger = dir.path().join("stranger.key");
        KeyFile::generate().create(&stranger).unwrap();
        let missing = dir.path().join("missing.key");
        for (file, says) in [
            (&db.key_file, "another master key"),
            (&stranger, "not this registry's key file"),
            (&missing, "does not exist"),
        ] {
            let err = Store::open_with_key_file(&db.url, file).await.unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, StoreError::KeyFile { .. }), "{message}");
            assert!(message.contains(&file.display().to_string()), "{message}");
            assert!(message.contains(says), "{message}");
        }
        assert!(!missing.exists(), "a refused opening created a key file");
        assert_eq!(reopened.data_version().await.unwrap(), version);
        let keys_after: Vec<String> =
            sqlx::query("SELECT wrapped_key FROM patient_key ORDER BY patient_id")
                .fetch_all(reopened.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get(0).unwrap())
                .collect();
        assert_eq!(keys_after, keys_before);

        // In place: the old file is kept beside the new one.
        let again = reopened.rotate_master_key(&new_file).await.unwrap();
        assert_ne!(again.old_key_file, new_file);
        assert!(again.old_key_file.exists());
        reopened.close().await;
        let last = Store::open_with_key_file(&db.url, &new_file).await.unwrap();
        assert_eq!(last.patient_file(id).await.unwrap().patient, before);
        assert!(
            Store::open_with_key_file(&db.url, &again.old_key_file)
                .await
                .is_err()
        );
        last.close().await;
    }
);

on_both_engines!(
    an_nhs_number_held_anywhere_gets_the_same_neutral_refusal,
    |db: TestDb| async move {
        let s = seed(&db.store).await; // TST holds 999 000 0018.
        let store = &db.store;
        store.create_site(&actor(), site("OTH")).await.unwrap();
        let elsewhere = store
            .save_patient(
                &actor(),
                Change::create(patient("OTH", "9994000020")),
                today(),
            )
            .await
            .unwrap()
            .id;
        let elsewhere_registry_id = store
            .patient_file(elsewhere)
            .await
            .unwrap()
            .patient
            .registry_id
            .to_string();

        let refusal = |err: StoreError| match err {
            StoreError::Refused(findings) => {
                assert_eq!(findings.len(), 1, "{findings:?}");
                let text = StoreError::Refused(findings.clone()).to_string();
                assert!(!text.contains("OTH"), "{text}");
                assert!(!text.contains(&elsewhere.to_string()), "{text}");
                assert!(!text.contains(&elsewhere_registry_id), "{text}");
                findings[0].message.clone()
            }
            other => panic!("{other:?}"),
        };
        // At another site.
        let other_site = refusal(
            store
                .save_patient(
                    &actor(),
                    Change::create(patient("TST", "9994000020")),
                    today(),
                )
                .await
                .unwrap_err(),
        );
        // At the clinician's own site.
        let own_site = refusal(
            store
                .save_patient(
                    &actor(),
                    Change::create(patient("TST", "9990000018")),
                    today(),
                )
                .await
                .unwrap_err(),
        );
        // Editing a patient to the number.
        let mut edit = store.patient_file(s.patient).await.unwrap().patient;
        edit.nhs_number = Some(NhsNumber::parse("9994000020").unwrap());
        let editing = refusal(
            store
                .save_patient(
                    &actor(),
                    Change {
                        edit: Some(Edit {
                            id: s.patient,
                            expected_version: store.get(s.patient).await.unwrap().meta.version,
                        }),
                        record: edit,
                        reason: None,
                        acknowledge_warnings: true,
                    },
                    today(),
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(other_site, pdva_store::NHS_NUMBER_REFUSED);
        assert_eq!(own_site, other_site);
        assert_eq!(editing, other_site);

        let conflicts = store.nhs_conflicts(false).await.unwrap();
        assert_eq!(conflicts.len(), 3);
        assert!(conflicts.iter().all(|c| c.site_code == "TST"));
        assert_eq!(conflicts[0].holder_id, Some(elsewhere.to_string()));
        assert_eq!(conflicts[2].patient_id, Some(s.patient.to_string()));
        store
            .resolve_nhs_conflict(
                &actor(),
                &conflicts[0].id,
                "patient moved to TST; transferred",
            )
            .await
            .unwrap();
        assert_eq!(store.nhs_conflicts(false).await.unwrap().len(), 2);
        assert_eq!(store.nhs_conflicts(true).await.unwrap().len(), 3);

        // The patient who moved site is transferred as before.
        let mut moved = store.patient_file(elsewhere).await.unwrap().patient;
        moved.home_site = SiteCode::parse("TST").unwrap();
        store
            .save_patient(
                &actor(),
                Change {
                    edit: Some(Edit {
                        id: elsewhere,
                        expected_version: store.get(elsewhere).await.unwrap().meta.version,
                    }),
                    record: moved.clone(),
                    reason: Some("moved to TST".into()),
                    acknowledge_warnings: true,
                },
                today(),
            )
            .await
            .unwrap();
        assert_eq!(store.patient_file(elsewhere).await.unwrap().patient, moved);
    }
);
