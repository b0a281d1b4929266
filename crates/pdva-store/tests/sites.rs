//! Recording that a site's governance lead was informed (IPG773 1.2): the
//! site record changes, audited, on both engines.

mod common;

use common::*;
use pdva_domain::values::SiteCode;
use pdva_store::NoProgress;

on_both_engines!(
    the_governance_lead_informed_date_is_recorded_and_audited,
    |db: TestDb| async move {
        let mut s = site("TST");
        s.governance_lead_informed_on = None;
        s.governance_lead_name = None;
        let id = db.store.create_site(&actor(), s).await.unwrap();
        let code = SiteCode::parse("TST").unwrap();
        let site = db
            .store
            .record_governance_lead_informed(
                &pdva_store::Actor::new("gov.lead"),
                &code,
                Some("Dr New Lead".into()),
                d("2024-05-01"),
                Some("letter of 1 May".into()),
            )
            .await
            .unwrap();
        assert_eq!(site.governance_lead_informed_on, Some(d("2024-05-01")));
        let reference = db.store.reference_data().await.unwrap();
        assert_eq!(
            reference.sites[&code].governance_lead_name.as_deref(),
            Some("Dr New Lead")
        );
        let log = db.store.audit_log(Some(id), 5).await.unwrap();
        assert_eq!(log[0].actor, "gov.lead");
        assert_eq!(log[0].reason.as_deref(), Some("letter of 1 May"));
        assert!(
            db.store
                .verify_audit(&NoProgress)
                .await
                .unwrap()
                .is_intact()
        );
        let unknown = db
            .store
            .record_governance_lead_informed(
                &actor(),
                &SiteCode::parse("NOPE").unwrap(),
                None,
                d("2024-05-01"),
                None,
            )
            .await
            .unwrap_err();
        assert!(unknown.to_string().contains("\"NOPE\""));
    }
);

on_both_engines!(
    patients_are_listed_by_site_and_found_by_registry_id_or_nhs_number,
    |db: TestDb| async move {
        let s = seed(&db.store).await;
        db.store.create_site(&actor(), site("OTH")).await.unwrap();
        let tst = SiteCode::parse("TST").unwrap();
        let oth = SiteCode::parse("OTH").unwrap();
        let listed = db
            .store
            .patients_at(Some(std::slice::from_ref(&tst)), 10)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, s.patient);
        assert!(
            db.store
                .patients_at(Some(&[oth]), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(db.store.patients_at(None, 10).await.unwrap().len(), 1);
        let nhs = pdva_domain::values::NhsNumber::parse("9990000018").unwrap();
        let found = db
            .store
            .find_patient(&pdva_store::PatientKey::NhsNumber(nhs))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.0, s.patient);
        let by_id = db
            .store
            .find_patient(&pdva_store::PatientKey::RegistryId(
                found.1.registry_id.clone(),
            ))
            .await
            .unwrap();
        assert_eq!(by_id.map(|p| p.0), Some(s.patient));
        let nobody = pdva_domain::values::RegistryId::parse("P-NOBODY1").unwrap();
        assert!(
            db.store
                .find_patient(&pdva_store::PatientKey::RegistryId(nobody))
                .await
                .unwrap()
                .is_none()
        );
        db.store
            .create_governance_meeting(
                &actor(),
                pdva_domain::GovernanceMeeting {
                    site_code: tst.clone(),
                    held_on: d("2026-01-10"),
                    attendees: None,
                    report_data_version: None,
                    actions: None,
                },
            )
            .await
            .unwrap();
        let meetings = db.store.governance_meetings(&tst).await.unwrap();
        assert_eq!(meetings.len(), 1);
        assert_eq!(meetings[0].1.held_on, d("2026-01-10"));
    }
);
