//! The sign-off queue's query, on SQLite and (when PDVA_TEST_POSTGRES_URL
//! is set) PostgreSQL: unsigned procedures and visits of the sites asked
//! for, oldest first, counted in full; filters by who entered them and
//! when; signed-off and voided records leave it.

mod common;

use common::*;
use pdva_domain::RecordKind;
use pdva_domain::codes::LimbStatus;
use pdva_domain::values::SiteCode;
use pdva_store::{Change, SignOffQuery, SiteAccess};

on_both_engines!(
    the_queue_holds_unsigned_procedures_and_visits_oldest_first,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        let visit_saved = db
            .store
            .save_clinical(
                &actor(),
                s.patient,
                Change::create(visit(s.procedure, "2025-02-14", LimbStatus::Intact)),
                today(),
            )
            .await
            .unwrap();
        let all = SiteAccess::All;
        let query = |sites, entered_by, entered_before| SignOffQuery {
            sites,
            entered_by,
            entered_before,
            limit: 10,
        };
        let queue = db
            .store
            .awaiting_sign_off(&query(&all, None, None))
            .await
            .unwrap();
        assert_eq!(queue.total, 2);
        let kinds: Vec<RecordKind> = queue.records.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [RecordKind::Procedure, RecordKind::FollowUpVisit]);
        assert_eq!(queue.records[0].record_id, s.procedure);
        assert_eq!(queue.records[0].site_code, "TST");
        assert_eq!(queue.records[1].procedure_id, Some(s.procedure));
        let patient = db.store.patient_file(s.patient).await.unwrap().patient;
        assert_eq!(queue.records[0].registry_id, patient.registry_id.as_str());
        assert_eq!(queue.records[1].entered_by, actor().name());

        // Limited, but counted in full.
        let one = db
            .store
            .awaiting_sign_off(&SignOffQuery {
                limit: 1,
                ..query(&all, None, None)
            })
            .await
            .unwrap();
        assert_eq!((one.total, one.records.len()), (2, 1));

        // Another site's user, someone else's entries, and entries made
        // before a time long past hold none.
        let other = SiteAccess::Sites(vec![SiteCode::parse("OTH").unwrap()]);
        let none = SiteAccess::Sites(vec![]);
        for q in [
            query(&other, None, None),
            query(&none, None, None),
            query(&all, Some("someone.else"), None),
            query(&all, None, Some("2000-01-01T00:00:00.000000Z")),
        ] {
            assert_eq!(db.store.awaiting_sign_off(&q).await.unwrap().total, 0);
        }
        let own = SiteAccess::Sites(vec![SiteCode::parse("TST").unwrap()]);
        let mine = db
            .store
            .awaiting_sign_off(&query(
                &own,
                Some("test.clinician"),
                Some("2999-01-01T00:00:00.000000Z"),
            ))
            .await
            .unwrap();
        assert_eq!(mine.total, 2);

        // Signed off, it leaves the queue.
        db.store.sign_off(&actor(), visit_saved.id).await.unwrap();
        let queue = db
            .store
            .awaiting_sign_off(&query(&all, None, None))
            .await
            .unwrap();
        assert_eq!(queue.total, 1);
        assert_eq!(queue.records[0].record_id, s.procedure);
    }
);
