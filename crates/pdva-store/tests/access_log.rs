//! The access log, on SQLite and (when PDVA_TEST_POSTGRES_URL is set)
//! PostgreSQL: accesses are appended in batches, read back newest first and
//! filtered by patient and by user, and the log refuses changes and
//! deletions like the audit trail.

mod common;

use common::*;
use pdva_domain::RecordId;
use pdva_store::{AccessAction, AccessEvent, AccessQuery};

on_both_engines!(
    accesses_are_appended_read_back_and_never_changed,
    |db: TestDb| async move {
        let patient = RecordId::from_bits(7);
        let other = RecordId::from_bits(8);
        let mut events: Vec<AccessEvent> = (0..450)
            .map(|i| {
                AccessEvent::now(
                    if i % 2 == 0 { "a.surgeon" } else { "g.lead" },
                    "clinician",
                    AccessAction::ViewPatient,
                    Some(if i % 3 == 0 { patient } else { other }),
                    Some(format!("/patients/x?i={i}")),
                )
            })
            .collect();
        events.push(AccessEvent::now(
            "cli:root",
            "command_line",
            AccessAction::Report,
            None,
            Some("outcomes site=TST".into()),
        ));
        db.store.record_access(&events).await.unwrap();

        let newest = db
            .store
            .access_log(&AccessQuery {
                limit: Some(1),
                ..AccessQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(newest, vec![events[450].clone()]);

        let of_patient = db
            .store
            .access_log(&AccessQuery {
                patient_id: Some(patient),
                limit: Some(1000),
                ..AccessQuery::default()
            })
            .await
            .unwrap();
        let expected: Vec<AccessEvent> = events
            .iter()
            .filter(|e| e.patient_id == Some(patient))
            .rev()
            .cloned()
            .collect();
        assert_eq!(of_patient, expected);

        let by_user = db
            .store
            .access_log(&AccessQuery {
                patient_id: Some(patient),
                actor: Some("g.lead".into()),
                limit: Some(1000),
            })
            .await
            .unwrap();
        assert_eq!(
            by_user.len(),
            events
                .iter()
                .filter(|e| e.patient_id == Some(patient) && e.actor == "g.lead")
                .count()
        );
        assert!(by_user.iter().all(|e| e.actor == "g.lead"));

        for sql in [
            "UPDATE access_log SET actor = 'someone.else'",
            "DELETE FROM access_log",
        ] {
            let refused = sqlx::query(sql).execute(db.store.pool()).await;
            assert!(refused.is_err(), "{sql} was allowed");
        }
        let after = db
            .store
            .access_log(&AccessQuery {
                limit: Some(1000),
                ..AccessQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(after.len(), events.len());
    }
);
