//! The administrator's sites and clinicians, in process: register a site and
//! a clinician with their pDVA credentials; a refused form keeps what was
//! typed and names the field; an amendment needs a reason and is audited.

mod common;

use common::*;
use pdva_domain::codes::Specialty;
use pdva_store::{AnyRecord, Role, SiteAccess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_registers_and_amends_sites_and_clinicians() {
    let world = world().await;
    let store = &world.store;
    let admin = user(store, "admin", Role::Admin, SiteAccess::All).await;
    let who = session(store, &admin).await;
    let csrf = Some(who.csrf.as_str());

    let list = get(store, "/admin/sites", Some(&who)).await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("NGH General Hospital"));
    assert!(list.body.contains("Ms NGH Surgeon"));

    // A bad site code and country come back named, with the values typed.
    let refused = post(
        store,
        "/admin/sites/new",
        Some(&who),
        csrf,
        &[
            ("site_code", "new site!"),
            ("name", "Northgate Infirmary"),
            ("country", "Britain"),
            ("min_proctored_cases", "5"),
        ],
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("class=\"error\">Site code:"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("class=\"error\">Country:"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"Northgate Infirmary\""));
    let created = post(
        store,
        "/admin/sites/new",
        Some(&who),
        csrf,
        &[
            ("site_code", "NGI"),
            ("name", "Northgate Infirmary"),
            ("country", "gb"),
            ("governance_lead_name", "Dr Lead"),
            ("governance_lead_informed_on", "2025-02-01"),
            ("min_proctored_cases", "5"),
        ],
    )
    .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let again = post(
        store,
        "/admin/sites/new",
        Some(&who),
        csrf,
        &[
            ("site_code", "NGI"),
            ("name", "Another"),
            ("country", "GB"),
            ("min_proctored_cases", "5"),
        ],
    )
    .await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("already exists"), "{}", again.body);

    // A clinician at the new site, then trained: the amendment needs a reason.
    let created = post(
        store,
        "/admin/clinicians/new",
        Some(&who),
        csrf,
        &[
            ("display_name", "Mr Trainee"),
            ("specialty", "interventional_radiologist"),
            ("sites", "NGI"),
            ("sites", "NGH"),
            ("proctored_cases", "1"),
        ],
    )
    .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let (id, clinician) = store
        .clinicians()
        .await
        .unwrap()
        .into_iter()
        .find(|(_, c)| c.display_name.as_str() == "Mr Trainee")
        .unwrap();
    assert_eq!(clinician.specialty, Specialty::InterventionalRadiologist);
    assert_eq!(clinician.sites.len(), 2);
    let path = format!("/admin/clinicians/{id}/edit");
    let form = get(store, &path, Some(&who)).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"NGI\" checked"), "{}", form.body);
    let amended = [
        ("display_name", "Mr Trainee"),
        ("specialty", "interventional_radiologist"),
        ("sites", "NGI"),
        ("pdva_training_completed_on", "2025-06-01"),
        ("proctored_cases", "6"),
        ("expected_version", "1"),
    ];
    let no_reason = post(store, &path, Some(&who), csrf, &amended).await;
    assert_eq!(no_reason.status, 422);
    assert!(
        no_reason.body.contains("needs a reason"),
        "{}",
        no_reason.body
    );
    assert!(no_reason.body.contains("value=\"2025-06-01\""));
    let mut with_reason = amended.to_vec();
    with_reason.push(("reason", "completed proctored training"));
    let saved = post(store, &path, Some(&who), csrf, &with_reason).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let stored = store.get(id).await.unwrap();
    let AnyRecord::Clinician(c) = stored.record else {
        panic!("not a clinician")
    };
    assert_eq!(c.proctored_cases, 6);
    assert_eq!(c.sites.len(), 1);
    assert!(c.pdva_training_completed_on.is_some());
    let log = store.audit_log(Some(id), 10).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.actor == "admin"
                && e.reason.as_deref() == Some("completed proctored training"))
    );
    // The same edit again is a conflict: someone (we) changed it since.
    let stale = post(store, &path, Some(&who), csrf, &with_reason).await;
    assert_eq!(stale.status, 409, "{}", stale.body);

    // A site is amended with a reason; its code is not a field.
    let path = "/admin/sites/NGI/edit";
    let form = get(store, path, Some(&who)).await;
    assert!(!form.body.contains("name=\"site_code\""));
    let saved = post(
        store,
        path,
        Some(&who),
        csrf,
        &[
            ("name", "Northgate Royal Infirmary"),
            ("country", "GB"),
            ("min_proctored_cases", "8"),
            ("expected_version", "1"),
            ("reason", "renamed by the trust"),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let sites = store.reference_data().await.unwrap().sites;
    let ngi = sites
        .values()
        .find(|s| s.site_code.as_str() == "NGI")
        .unwrap();
    assert_eq!(ngi.name.as_str(), "Northgate Royal Infirmary");
    assert_eq!(ngi.min_proctored_cases, 8);
    assert_eq!(
        get(store, "/admin/sites/XXX/edit", Some(&who)).await.status,
        404
    );
}
