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
