//! The pre-operative workflow in the store (DOMAIN.md 4.5): a baseline and
//! a quality of life saved for a limb before its index procedure exists,
//! taken up by that limb's procedure in the same transaction (each an
//! audited change), the other limb's procedure leaving them alone, and a
//! procedure dated before them refused. On SQLite and, when configured,
//! PostgreSQL.

mod common;

use common::*;
use pdva_domain::codes::Limb;
use pdva_domain::{ClinicalRecord, PatientFacts, RecordId, Rule};
use pdva_store::{AnyRecord, Change, NoProgress, Store, StoreError};
use serde_json::json;

fn waiting_baseline(limb: &str, date: &str) -> ClinicalRecord {
    serde_json::from_value(json!({"kind": "baseline", "record": {
        "procedure_id": null,
        "index_limb": limb,
        "assessment_date": date,
        "rutherford_category": 5,
        "wifi_wound": 2,
        "wifi_ischaemia": 3,
        "wifi_foot_infection": 1,
        "wound_locations": [],
        "diabetes": "type_2",
        "dialysis_dependent": false,
        "no_option_reasons": ["no_bypass_target"],
        "pedal_venous_anatomy_confirmed": true,
    }}))
    .unwrap()
}

fn waiting_qol(limb: &str, date: &str) -> ClinicalRecord {
    serde_json::from_value(json!({"kind": "quality_of_life", "record": {
        "procedure_id": null,
        "index_limb": limb,
        "assessment_date": date,
        "vascuqol": [2, 2, 3, 1, 2, 3],
        "eq5d_mobility": 3,
        "eq5d_self_care": 2,
        "eq5d_usual_activities": 3,
        "eq5d_pain_discomfort": 4,
        "eq5d_anxiety_depression": 2,
        "eq_vas": 40,
    }}))
    .unwrap()
}

async fn save(store: &Store, patient: RecordId, record: ClinicalRecord) -> RecordId {
    store
        .save_clinical(&actor(), patient, Change::create(record), today())
        .await
        .unwrap()
        .id
}

/// The index procedure a stored record is linked to, and its version.
async fn link_of(store: &Store, id: RecordId) -> (Option<RecordId>, i64) {
    let stored = store.get(id).await.unwrap();
    let AnyRecord::Clinical(record) = stored.record else {
        panic!("not clinical");
    };
    (record.procedure_id(), stored.meta.version)
}

/// The patient's outcome facts, from the table and from the records.
async fn facts_of(store: &Store) -> (Vec<PatientFacts>, Vec<PatientFacts>) {
    let mut table = Vec::new();
    store
        .for_each_patient_facts(None, |f| table.push(f))
        .await
        .unwrap();
    let mut bodies = Vec::new();
    store
        .for_each_patient_facts_from_records(None, |f| bodies.push(f))
        .await
        .unwrap();
    (table, bodies)
}

on_both_engines!(
    the_limbs_procedure_takes_up_its_preoperative_records,
    |db: TestDb| async move {
        let store = &db.store;
        let (clinician, patient) = seed_patient(store).await;
        let baseline = save(store, patient, waiting_baseline("left", "2025-03-01")).await;
        let qol = save(store, patient, waiting_qol("left", "2025-03-02")).await;
        assert_eq!(link_of(store, baseline).await, (None, 1));
        assert_eq!(link_of(store, qol).await, (None, 1));
        // Waiting, they are no limb of the outcomes: the facts hold them
        // with no procedure, the same from the table as from the records.
        let (table, bodies) = facts_of(store).await;
        assert_eq!(table, bodies);
        assert!(table[0].records.iter().all(|r| r.procedure_id.is_none()));
        assert_eq!(store.site_counts().await.unwrap()[0].procedures, 0);

        // The other limb's procedure leaves them waiting.
        save(
            store,
            patient,
            procedure(clinician, "2025-03-10", Limb::Right),
        )
        .await;
        assert_eq!(link_of(store, baseline).await, (None, 1));
        assert_eq!(link_of(store, qol).await, (None, 1));

        // The left limb's procedure takes both up, each an audited change.
        let left = save(
            store,
            patient,
            procedure(clinician, "2025-03-12", Limb::Left),
        )
        .await;
        assert_eq!(link_of(store, baseline).await, (Some(left), 2));
        assert_eq!(link_of(store, qol).await, (Some(left), 2));
        for id in [baseline, qol] {
            let log = store.audit_log(Some(id), 10).await.unwrap();
            assert_eq!(log[0].action, "update", "{log:?}");
            assert!(
                log[0]
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains(&left.to_string())),
                "{log:?}"
            );
        }
        let (table, bodies) = facts_of(store).await;
        assert_eq!(table, bodies);
        assert!(
            table[0]
                .records
                .iter()
                .filter(|r| r.id == baseline || r.id == qol)
                .all(|r| r.procedure_id == Some(left))
        );
        assert!(store.verify_audit(&NoProgress).await.unwrap().is_intact());
    }
);

on_both_engines!(
    a_procedure_dated_before_a_waiting_record_is_refused_and_writes_nothing,
    |db: TestDb| async move {
        let store = &db.store;
        let (clinician, patient) = seed_patient(store).await;
        let baseline = save(store, patient, waiting_baseline("left", "2025-03-01")).await;
        let qol = save(store, patient, waiting_qol("left", "2025-03-05")).await;
        let before = store.data_version().await.unwrap();

        let refused = |err: StoreError| match err {
            StoreError::Refused(findings) => findings,
            other => panic!("not refused: {other:?}"),
        };
        // Before the baseline.
        let err = store
            .save_clinical(
                &actor(),
                patient,
                Change::create(procedure(clinician, "2025-02-20", Limb::Left)),
                today(),
            )
            .await
            .unwrap_err();
        let findings = refused(err);
        assert!(
            findings
                .iter()
                .any(|f| f.rule == Rule::BaselineAfterProcedure
                    && f.field == "procedure_date"
                    && f.value == "2025-02-20"
                    && f.message.contains("2025-03-01")),
            "{findings:#?}"
        );
        // After the baseline, before the pre-operative quality of life.
        let err = store
            .save_clinical(
                &actor(),
                patient,
                Change::create(procedure(clinician, "2025-03-03", Limb::Left)),
                today(),
            )
            .await
            .unwrap_err();
        let findings = refused(err);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].rule, Rule::PreoperativeAfterProcedure);
        assert_eq!(
            findings[0].to_string(),
            "procedure_date: \"2025-03-03\" is before the pre-operative quality of life of the left limb assessed on 2025-03-05; a pre-operative assessment must be on or before the procedure (correct the procedure date, or that assessment's date)"
        );
        assert_eq!(store.data_version().await.unwrap(), before);
        assert_eq!(link_of(store, baseline).await, (None, 1));
        assert_eq!(link_of(store, qol).await, (None, 1));
    }
);

on_both_engines!(
    a_second_waiting_baseline_is_refused_and_a_record_of_a_limb_with_a_procedure_is_linked,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let store = &db.store;
        save(store, s.patient, waiting_baseline("left", "2025-03-01")).await;
        let err = store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(waiting_baseline("left", "2025-03-04")),
                today(),
            )
            .await
            .unwrap_err();
        match err {
            StoreError::Refused(f) => {
                assert_eq!(
                    (f[0].rule, f[0].field),
                    (Rule::DuplicateBaseline, "index_limb")
                )
            }
            other => panic!("not refused: {other:?}"),
        }
        // The right limb has its procedure (2025-01-15): a quality of life
        // for it belongs to it at once.
        let qol = save(store, s.patient, waiting_qol("right", "2025-01-10")).await;
        assert_eq!(link_of(store, qol).await, (Some(s.procedure), 1));
    }
);
