//! The storage test suite: every test runs on SQLite and, when
//! PDVA_TEST_POSTGRES_URL is set, on PostgreSQL.

mod common;

use common::*;
use pdva_domain::codes::{AmputationLevel, Limb, LimbStatus};
use pdva_domain::{ClinicalRecord, PatientFile, RecordId, Rule};
use pdva_store::{AnyRecord, Change, Edit, NoProgress, StoreError};

on_both_engines!(migrations_are_idempotent, |db: TestDb| async move {
    pdva_store::db::migrate(db.store.pool(), db.store.engine())
        .await
        .unwrap();
    let v = db.store.data_version().await.unwrap();
    assert_eq!(v.seq, 0);
});

on_both_engines!(
    records_round_trip_as_domain_types,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let v = db
            .store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(visit(s.procedure, "2025-02-14", LimbStatus::Intact)),
                today(),
            )
            .await
            .unwrap();
        assert_eq!(v.version, 1);
        let file = db.store.patient_file(s.patient).await.unwrap();
        assert_eq!(
            file.patient.nhs_number.as_ref().unwrap().as_str(),
            "9990000018"
        );
        assert_eq!(file.records.len(), 3);
        assert_eq!(
            file.records[2].1,
            visit(s.procedure, "2025-02-14", LimbStatus::Intact)
        );
        let stored = db.store.get(s.procedure).await.unwrap();
        assert!(matches!(
            stored.record,
            AnyRecord::Clinical(ClinicalRecord::Procedure(_))
        ));
        assert_eq!(stored.meta.patient_id, Some(s.patient));
        assert_eq!(stored.meta.created_by, "test.clinician");
        // Six writes so far: site, clinician, patient, consent, procedure, visit.
        assert_eq!(db.store.data_version().await.unwrap().seq, 6);
        let counts = db.store.site_counts().await.unwrap();
        assert_eq!(counts.len(), 1);
        assert_eq!(
            (counts[0].patients, counts[0].procedures, counts[0].visits),
            (1, 1, 1)
        );
    }
);

on_both_engines!(
    a_hard_rule_refuses_and_writes_nothing,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        db.store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(visit(s.procedure, "2025-03-01", LimbStatus::Intact)),
                today(),
            )
            .await
            .unwrap();
        let before = db.store.data_version().await.unwrap();
        // A death before the visit already recorded.
        let err = db
            .store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(death("2025-02-20")),
                today(),
            )
            .await
            .unwrap_err();
        match err {
            StoreError::Refused(findings) => {
                assert_eq!(findings[0].rule, Rule::AfterDeath);
                assert_eq!(findings[0].field, "date");
                assert_eq!(findings[0].value, "2025-02-20");
                assert!(
                    findings[0]
                        .message
                        .contains("follow up visit dated 2025-03-01"),
                    "{}",
                    findings[0].message
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(db.store.data_version().await.unwrap(), before);
        assert_eq!(
            db.store
                .patient_file(s.patient)
                .await
                .unwrap()
                .records
                .len(),
            3
        );
    }
);

on_both_engines!(
    soft_warnings_need_acknowledgement_and_are_audited,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        // Limb status "major amputation" with no amputation recorded: a soft warning.
        let mut change = Change::create(visit(
            s.procedure,
            "2025-02-14",
            LimbStatus::MajorAmputation,
        ));
        change.acknowledge_warnings = false;
        let before = db.store.data_version().await.unwrap();
        match db
            .store
            .save_clinical(&actor(), s.patient, change.clone(), today())
            .await
        {
            Err(StoreError::NeedsAcknowledgement(w)) => {
                assert_eq!(w[0].rule, Rule::LimbStatusDisagrees)
            }
            other => panic!("expected a warning, got {other:?}"),
        }
        assert_eq!(db.store.data_version().await.unwrap(), before);
        change.acknowledge_warnings = true;
        let saved = db
            .store
            .save_clinical(&actor(), s.patient, change, today())
            .await
            .unwrap();
        assert_eq!(saved.warnings.len(), 1);
        let log = db.store.audit_log(Some(saved.id), 10).await.unwrap();
        assert!(
            log[0]
                .warnings
                .as_deref()
                .unwrap()
                .contains("limb_status_disagrees")
        );
    }
);

on_both_engines!(nhs_number_is_unique, |db: TestDb| async move {
    seed(&db.store).await;
    let err = db
        .store
        .save_patient(
            &actor(),
            Change::create(patient("TST", "999 000 0018")),
            today(),
        )
        .await
        .unwrap_err();
    match err {
        StoreError::Refused(f) => {
            assert_eq!(f[0].rule, Rule::NhsNumberInUse);
            assert_eq!(f[0].field, "nhs_number");
            assert_eq!(f[0].message, pdva_store::NHS_NUMBER_REFUSED);
        }
        other => panic!("{other:?}"),
    }
    // The attempt is kept for an administrator, without the number.
    let conflicts = db.store.nhs_conflicts(false).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].site_code, "TST");
    assert!(conflicts[0].holder_id.is_some());
});

on_both_engines!(
    edits_are_versioned_and_signed_off_edits_need_a_reason,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let v = db
            .store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(visit(s.procedure, "2025-02-14", LimbStatus::Intact)),
                today(),
            )
            .await
            .unwrap();
        db.store.sign_off(&actor(), v.id).await.unwrap();
        let edit = |reason: Option<&str>, version| Change {
            edit: Some(Edit {
                id: v.id,
                expected_version: version,
            }),
            record: visit(s.procedure, "2025-02-16", LimbStatus::Intact),
            reason: reason.map(str::to_owned),
            acknowledge_warnings: true,
        };
        assert!(matches!(
            db.store
                .save_clinical(&actor(), s.patient, edit(None, 2), today())
                .await,
            Err(StoreError::ReasonRequired(_))
        ));
        assert!(matches!(
            db.store
                .save_clinical(
                    &actor(),
                    s.patient,
                    edit(Some("date corrected"), 1),
                    today()
                )
                .await,
            Err(StoreError::Conflict {
                expected: 1,
                found: 2,
                ..
            })
        ));
        let saved = db
            .store
            .save_clinical(
                &actor(),
                s.patient,
                edit(Some("date corrected from clinic letter"), 2),
                today(),
            )
            .await
            .unwrap();
        assert_eq!(saved.version, 3);
        let log = db.store.audit_log(Some(v.id), 10).await.unwrap();
        let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["update", "sign_off", "create"]);
        assert_eq!(
            log[0].reason.as_deref(),
            Some("date corrected from clinic letter")
        );
        assert!(
            log[0]
                .before_state
                .as_deref()
                .unwrap()
                .contains("2025-02-14")
        );
        let stored = db.store.get(v.id).await.unwrap();
        assert!(stored.meta.signed_off_at.is_some());
    }
);

// Two users open the same record at the same version; the first saves, the
// second's save is refused as a conflict (never silently overwriting the
// first), for a patient, a clinical record and a clinician alike.
on_both_engines!(
    a_second_edit_from_the_same_version_is_a_conflict,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let patient = db.store.patient_file(s.patient).await.unwrap().patient;
        let read_at = db.store.get(s.patient).await.unwrap().meta.version;
        let mut first = patient.clone();
        first.hospital_number = Some("FIRST1".into());
        let mut second = patient.clone();
        second.hospital_number = Some("SECOND2".into());
        db.store
            .save_patient(&actor(), Change::edit(s.patient, read_at, first), today())
            .await
            .unwrap();
        let refused = db
            .store
            .save_patient(&actor(), Change::edit(s.patient, read_at, second), today())
            .await;
        assert!(
            matches!(refused, Err(StoreError::Conflict { expected, found, .. }) if expected == read_at && found == read_at + 1),
            "{refused:?}"
        );
        let kept = db.store.patient_file(s.patient).await.unwrap().patient;
        assert_eq!(kept.hospital_number.as_deref(), Some("FIRST1"));

        let v = db
            .store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(visit(s.procedure, "2025-02-14", LimbStatus::Intact)),
                today(),
            )
            .await
            .unwrap();
        let edit = |date| Change::edit(v.id, 1, visit(s.procedure, date, LimbStatus::Intact));
        db.store
            .save_clinical(&actor(), s.patient, edit("2025-02-15"), today())
            .await
            .unwrap();
        let refused = db
            .store
            .save_clinical(&actor(), s.patient, edit("2025-02-16"), today())
            .await;
        assert!(
            matches!(
                refused,
                Err(StoreError::Conflict {
                    expected: 1,
                    found: 2,
                    ..
                })
            ),
            "{refused:?}"
        );

        let AnyRecord::Clinician(clinician) = db.store.get(s.clinician).await.unwrap().record
        else {
            panic!("not a clinician");
        };
        let amend = |cases| {
            let mut c = clinician.clone();
            c.proctored_cases = cases;
            let mut change = Change::edit(s.clinician, 1, c);
            change.reason = Some("proctored cases counted".into());
            change
        };
        db.store.update_clinician(&actor(), amend(6)).await.unwrap();
        let refused = db.store.update_clinician(&actor(), amend(7)).await;
        assert!(
            matches!(
                refused,
                Err(StoreError::Conflict {
                    expected: 1,
                    found: 2,
                    ..
                })
            ),
            "{refused:?}"
        );
    }
);

on_both_engines!(
    voiding_a_patient_voids_their_records,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        assert!(matches!(
            db.store.void(&actor(), s.patient, "  ").await,
            Err(StoreError::ReasonRequired(_))
        ));
        db.store
            .void(&actor(), s.patient, "registered twice")
            .await
            .unwrap();
        assert!(matches!(
            db.store.patient_file(s.patient).await,
            Err(StoreError::NotFound(_))
        ));
        let procedure = db.store.get(s.procedure).await.unwrap();
        assert!(procedure.meta.voided);
        assert_eq!(
            procedure.meta.void_reason.as_deref(),
            Some("registered twice")
        );
        // The NHS number is free again for the correct registration.
        db.store
            .save_patient(
                &actor(),
                Change::create(patient("TST", "9990000018")),
                today(),
            )
            .await
            .unwrap();
        assert!(
            db.store
                .verify_audit(&NoProgress)
                .await
                .unwrap()
                .is_intact()
        );
    }
);

on_both_engines!(
    bulk_import_refuses_a_batch_with_a_hard_finding,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let reference = db.store.reference_data().await.unwrap();
        let good_id = RecordId::new_random();
        let good = PatientFile::new(good_id, patient("TST", "9990000026"));
        let bad_id = RecordId::new_random();
        let proc_id = RecordId::new_random();
        let bad = PatientFile::new(bad_id, patient("TST", "9990000034"))
            .with_record(proc_id, procedure(s.clinician, "2025-01-10", Limb::Left))
            .with_record(RecordId::new_random(), death("2025-01-01"));
        let before = db.store.data_version().await.unwrap();
        let err = db
            .store
            .import_patient_files(&actor(), &[good.clone(), bad], &reference, today())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Refused(f) if f.iter().any(|f| f.rule == Rule::AfterDeath))
        );
        assert_eq!(db.store.data_version().await.unwrap(), before);
        let summary = db
            .store
            .import_patient_files(&actor(), &[good], &reference, today())
            .await
            .unwrap();
        assert_eq!(summary.patients, 1);
        assert_eq!(db.store.data_version().await.unwrap().seq, before.seq + 1);
    }
);

on_both_engines!(audit_trail_verifies_intact, |db: TestDb| async move {
    let s = seed(&db.store).await;
    let a = db
        .store
        .save_clinical(
            &actor(),
            s.patient,
            Change::create(amputation(s.procedure, "2025-03-01", AmputationLevel::Toe)),
            today(),
        )
        .await
        .unwrap();
    db.store
        .void(&actor(), a.id, "entered against the wrong patient")
        .await
        .unwrap();
    let report = db.store.verify_audit(&NoProgress).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert_eq!(report.entries, 7);
    assert_eq!(report.records, 6);
    assert_eq!(report.data_version, db.store.data_version().await.unwrap());
});

on_both_engines!(
    a_data_row_changed_by_raw_sql_is_detected,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        // Move the procedure a week earlier behind the application's back.
        sqlx::query(
            "UPDATE record SET body = REPLACE(body, '2025-01-15', '2025-01-08') WHERE id = $1",
        )
        .bind(s.procedure.to_string())
        .execute(db.store.pool())
        .await
        .unwrap();
        let report = db.store.verify_audit(&NoProgress).await.unwrap();
        assert_eq!(report.breaks.len(), 2, "{:?}", report.breaks);
        let b = &report.breaks[0];
        assert_eq!(b.record_id, s.procedure.to_string());
        assert_eq!(b.seq, Some(5));
        assert!(
            b.problem.contains("changed outside the application"),
            "{}",
            b.problem
        );
        // The outcome facts kept from the record before the change no
        // longer match it either: reports would not silently use either.
        let facts = &report.breaks[1];
        assert_eq!(facts.record_id, s.patient.to_string());
        assert!(facts.problem.contains("outcome facts"), "{}", facts.problem);
    }
);

on_both_engines!(
    an_audit_row_changed_by_raw_sql_is_detected,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        // The trail refuses updates...
        assert!(
            sqlx::query("UPDATE audit_entry SET actor = 'someone.else' WHERE seq = 3")
                .execute(db.store.pool())
                .await
                .is_err()
        );
        // ...so a tamperer first removes the guard.
        let drop_trigger = match db.store.engine() {
            pdva_store::Engine::Sqlite => "DROP TRIGGER audit_entry_no_update",
            pdva_store::Engine::Postgres => "DROP TRIGGER audit_entry_no_update ON audit_entry",
        };
        sqlx::query(drop_trigger)
            .execute(db.store.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE audit_entry SET actor = 'someone.else' WHERE seq = 3")
            .execute(db.store.pool())
            .await
            .unwrap();
        let report = db.store.verify_audit(&NoProgress).await.unwrap();
        assert!(!report.is_intact());
        let first = &report.breaks[0];
        assert_eq!(first.seq, Some(3));
        assert_eq!(first.record_id, s.patient.to_string());
        assert!(
            first.problem.contains("changed after it was written"),
            "{}",
            first.problem
        );
    }
);

on_both_engines!(
    removed_audit_entries_are_detected,
    |db: TestDb| async move {
        seed(&db.store).await;
        let drop_trigger = match db.store.engine() {
            pdva_store::Engine::Sqlite => "DROP TRIGGER audit_entry_no_delete",
            pdva_store::Engine::Postgres => "DROP TRIGGER audit_entry_no_delete ON audit_entry",
        };
        sqlx::query(drop_trigger)
            .execute(db.store.pool())
            .await
            .unwrap();
        sqlx::query("DELETE FROM audit_entry WHERE seq = 2")
            .execute(db.store.pool())
            .await
            .unwrap();
        let report = db.store.verify_audit(&NoProgress).await.unwrap();
        let first = &report.breaks[0];
        assert_eq!(first.seq, Some(3));
        assert!(
            first.problem.contains("entries are missing"),
            "{}",
            first.problem
        );
        // The clinician (entry 2) now has a row but no audit entry.
        assert!(
            report
                .breaks
                .iter()
                .any(|b| b.problem.contains("has no audit entry"))
        );
    }
);

on_both_engines!(
    concurrent_writers_cannot_record_two_deaths,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let a = db.store.clone();
        let b = db.store.clone();
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move {
                a.save_clinical(
                    &actor(),
                    s.patient,
                    Change::create(death("2025-06-01")),
                    today(),
                )
                .await
            }),
            tokio::spawn(async move {
                b.save_clinical(
                    &actor(),
                    s.patient,
                    Change::create(death("2025-06-02")),
                    today(),
                )
                .await
            }),
        );
        let results = [ra.unwrap(), rb.unwrap()];
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{results:?}");
        assert!(
            results.iter().any(
                |r| matches!(r, Err(StoreError::Refused(f)) if f[0].rule == Rule::SecondDeath)
            )
        );
        assert!(
            db.store
                .verify_audit(&NoProgress)
                .await
                .unwrap()
                .is_intact()
        );
    }
);

on_both_engines!(
    all_patient_files_load_at_once_as_one_at_a_time,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        for (date, status) in [
            ("2025-02-14", LimbStatus::Intact),
            ("2025-04-20", LimbStatus::Intact),
        ] {
            db.store
                .save_clinical(
                    &actor(),
                    s.patient,
                    Change::create(visit(s.procedure, date, status)),
                    today(),
                )
                .await
                .unwrap();
        }
        let wrong = db
            .store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(amputation(s.procedure, "2025-03-01", AmputationLevel::Toe)),
                today(),
            )
            .await
            .unwrap();
        db.store
            .void(&actor(), wrong.id, "entered against the wrong patient")
            .await
            .unwrap();
        // A second patient at a second site, and a third who is voided.
        db.store.create_site(&actor(), site("OTH")).await.unwrap();
        let other = db
            .store
            .save_patient(
                &actor(),
                Change::create(patient("OTH", "9990000026")),
                today(),
            )
            .await
            .unwrap()
            .id;
        db.store
            .save_clinical(
                &actor(),
                other,
                Change::create(consent(s.clinician, "2025-05-02")),
                today(),
            )
            .await
            .unwrap();
        let gone = db
            .store
            .save_patient(
                &actor(),
                Change::create(patient("TST", "9990000034")),
                today(),
            )
            .await
            .unwrap()
            .id;
        db.store
            .void(&actor(), gone, "registered twice")
            .await
            .unwrap();

        let mut all = db.store.load_patient_files(None).await.unwrap();
        all.sort_by_key(|f| f.patient_id);
        let mut one_at_a_time = Vec::new();
        for id in db.store.patient_ids().await.unwrap() {
            one_at_a_time.push(db.store.patient_file(id).await.unwrap());
        }
        one_at_a_time.sort_by_key(|f| f.patient_id);
        assert_eq!(all, one_at_a_time);
        assert_eq!(all.len(), 2);
        let seeded = all.iter().find(|f| f.patient_id == s.patient).unwrap();
        // Consent, procedure and two visits; the voided amputation is left out.
        assert_eq!(seeded.records.len(), 4);
        assert!(seeded.records.iter().all(|(id, _)| *id != wrong.id));

        let tst = db.store.load_patient_files(Some("TST")).await.unwrap();
        assert_eq!(tst.len(), 1);
        assert_eq!(tst[0].patient_id, s.patient);
        let oth = db.store.load_patient_files(Some("OTH")).await.unwrap();
        assert_eq!(oth.len(), 1);
        assert_eq!(oth[0].patient_id, other);
        assert_eq!(oth[0].records.len(), 1);
        assert!(
            db.store
                .load_patient_files(Some("NONE"))
                .await
                .unwrap()
                .is_empty()
        );
    }
);

on_both_engines!(
    sites_and_clinicians_are_amended_with_a_reason_and_audited,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let stored = db.store.get(s.clinician).await.unwrap();
        let AnyRecord::Clinician(mut clinician) = stored.record else {
            panic!("not a clinician");
        };
        clinician.proctored_cases = 2;
        let change = |reason: Option<&str>, version: i64, record| Change {
            edit: Some(Edit {
                id: s.clinician,
                expected_version: version,
            }),
            record,
            reason: reason.map(str::to_owned),
            acknowledge_warnings: true,
        };
        // No reason: refused, nothing written.
        let before = db.store.data_version().await.unwrap();
        let refused = db
            .store
            .update_clinician(&actor(), change(Some("  "), 1, clinician.clone()))
            .await;
        assert!(
            matches!(refused, Err(StoreError::ReasonRequired(_))),
            "{refused:?}"
        );
        assert_eq!(db.store.data_version().await.unwrap(), before);
        // A site that does not exist: refused, naming it.
        let mut elsewhere = clinician.clone();
        elsewhere
            .sites
            .push(pdva_domain::values::SiteCode::parse("NOPE").unwrap());
        let refused = db
            .store
            .update_clinician(&actor(), change(Some("moved"), 1, elsewhere))
            .await;
        assert!(
            matches!(&refused, Err(StoreError::Invalid(m)) if m.contains("NOPE")),
            "{refused:?}"
        );
        // With a reason: saved, version 2, the reason in the audit trail.
        db.store
            .update_clinician(
                &actor(),
                change(Some("proctoring log reconciled"), 1, clinician.clone()),
            )
            .await
            .unwrap();
        let stored = db.store.get(s.clinician).await.unwrap();
        assert_eq!(stored.meta.version, 2);
        assert!(matches!(stored.record, AnyRecord::Clinician(c) if c.proctored_cases == 2));
        let log = db.store.audit_log(Some(s.clinician), 10).await.unwrap();
        assert!(
            log.iter().any(|e| e.action == "update"
                && e.reason.as_deref() == Some("proctoring log reconciled")),
            "{log:?}"
        );
        // An edit of version 1 now is a conflict.
        let stale = db
            .store
            .update_clinician(&actor(), change(Some("again"), 1, clinician.clone()))
            .await;
        assert!(
            matches!(stale, Err(StoreError::Conflict { .. })),
            "{stale:?}"
        );

        // A site's code never changes; its other details do.
        let (site_id, mut site) = db.store.sites().await.unwrap().remove(0);
        site.min_proctored_cases = 3;
        let site_change = |record, expected_version| Change {
            edit: Some(Edit {
                id: site_id,
                expected_version,
            }),
            record,
            reason: Some("governance set three proctored cases".to_owned()),
            acknowledge_warnings: true,
        };
        db.store
            .update_site(&actor(), site_change(site.clone(), 1))
            .await
            .unwrap();
        assert_eq!(
            db.store
                .reference_data()
                .await
                .unwrap()
                .sites
                .values()
                .next()
                .unwrap()
                .min_proctored_cases,
            3
        );
        let mut renamed = site.clone();
        renamed.site_code = pdva_domain::values::SiteCode::parse("NEW").unwrap();
        let refused = db
            .store
            .update_site(&actor(), site_change(renamed, 2))
            .await;
        assert!(
            matches!(&refused, Err(StoreError::Invalid(m)) if m.contains("never changes")),
            "{refused:?}"
        );
        // A site id given as a clinician's is not found.
        let wrong = db
            .store
            .update_clinician(
                &actor(),
                Change {
                    edit: Some(Edit {
                        id: site_id,
                        expected_version: 1,
                    }),
                    ..change(Some("x"), 1, clinician)
                },
            )
            .await;
        assert!(matches!(wrong, Err(StoreError::NotFound(_))), "{wrong:?}");

        let report = db.store.verify_audit(&NoProgress).await.unwrap();
        assert!(report.is_intact(), "{:?}", report.breaks);
    }
);
