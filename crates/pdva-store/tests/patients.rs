//! Patient identity rules enforced by the store, on both engines.

mod common;

use common::*;
use pdva_domain::ClinicalRecord;
use pdva_domain::codes::RegistryDataConsent;
use pdva_domain::values::RegistryId;
use pdva_store::{Change, Edit, StoreError};

on_both_engines!(a_registry_id_never_changes, |db: TestDb| async move {
    let s = seed(&db.store).await;
    let mut edited = db.store.patient_file(s.patient).await.unwrap().patient;
    edited.registry_id = RegistryId::parse("P-CHANGED1").unwrap();
    let err = db
        .store
        .save_patient(
            &actor(),
            Change {
                edit: Some(Edit {
                    id: s.patient,
                    expected_version: 1,
                }),
                record: edited,
                reason: Some("typo".into()),
                acknowledge_warnings: true,
            },
            today(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.starts_with("registry_id:")),
        "{err:?}"
    );
});

on_both_engines!(
    declining_registry_data_consent_needs_identifiers_removed_first,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let ClinicalRecord::Consent(mut declined) = consent(s.clinician, "2025-01-03") else {
            unreachable!()
        };
        declined.registry_data_consent = RegistryDataConsent::No;
        let err = db
            .store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(ClinicalRecord::Consent(declined.clone())),
                today(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Refused(f) if f.len() == 4),
            "{err:?}"
        );

        // Remove the identifiers (with a reason), then the consent is accepted.
        let mut patient = db.store.patient_file(s.patient).await.unwrap().patient;
        patient.nhs_number = None;
        patient.hospital_number = None;
        patient.family_name = None;
        patient.given_name = None;
        db.store
            .save_patient(
                &actor(),
                Change {
                    edit: Some(Edit {
                        id: s.patient,
                        expected_version: 1,
                    }),
                    record: patient,
                    reason: Some("patient declined registry data consent".into()),
                    acknowledge_warnings: true,
                },
                today(),
            )
            .await
            .unwrap();
        db.store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(ClinicalRecord::Consent(declined)),
                today(),
            )
            .await
            .unwrap();
    }
);
