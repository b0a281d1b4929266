//! The Reports page and downloads as their users meet them: a clinician
//! whose account is linked to their clinician record gets their own
//! appraisal report and no one else's; a governance lead downloads their
//! site's governance review as a PDF named after the report, site, period
//! and data version, and the access log records who generated it with its
//! filters and data version; a bad date is refused naming the field; a
//! researcher's research report of a tiny registry is refused as too small.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use pdva_store::{AccessQuery, Actor, Role};
use tower::ServiceExt;

/// A GET with its response headers.
async fn fetch(world: &World, path: &str, who: &Signed) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    let response = pdva_web::router(world.store.clone())
        .oneshot(
            Request::get(path)
                .header("host", HOST)
                .header("cookie", &who.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clinician_gets_their_own_appraisal_report_only() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;

    // Not linked yet: the page says why, and no appraisal is allowed.
    let page = get(store, "/reports", Some(&who)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("not linked to a clinician record"),
        "{}",
        page.body
    );
    let mine = format!(
        "/reports/appraisal?clinician={}&format=json",
        world.clinician_a
    );
    assert_eq!(get(store, &mine, Some(&who)).await.status, 403);

    store
        .link_user_clinician(
            &Actor::new("test.setup"),
            clinician.id,
            Some(world.clinician_a),
            "the account holder is this clinician",
        )
        .await
        .unwrap();
    let who = session(store, &clinician).await;
    let page = get(store, "/reports", Some(&who)).await;
    assert!(page.body.contains(&world.clinician_a.to_string()));
    assert!(!page.body.contains(&world.clinician_b.to_string()));
    assert!(!page.body.contains("/reports/governance"));

    let (status, headers, body) = fetch(&world, &mine, &who).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/json");
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["kind"], "appraisal");
    let theirs = format!(
        "/reports/appraisal?clinician={}&format=json",
        world.clinician_b
    );
    let refused = get(store, &theirs, Some(&who)).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("your own appraisal report"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_governance_lead_downloads_the_review_and_the_access_log_says_so() {
    let world = world().await;
    let store = &world.store;
    let lead = user(store, "gov.ngh", Role::GovernanceLead, ngh()).await;
    let who = session(store, &lead).await;
    let (status, headers, body) = fetch(
        &world,
        "/reports/governance?site=NGH&from=2020-01-01&to=2030-12-31&format=pdf",
        &who,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(body.starts_with(b"%PDF"));
    let version = store.data_version().await.unwrap().to_string();
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains(&format!(
            "governance_NGH_2020-01-01_2030-12-31_{}.pdf",
            &version[..12]
        )),
        "{disposition}"
    );

    store.flush_access_log().await.unwrap();
    let log = store
        .access_log(&AccessQuery {
            patient_id: None,
            actor: Some("gov.ngh".into()),
            limit: Some(10),
        })
        .await
        .unwrap();
    let entry = log
        .iter()
        .find(|e| {
            e.detail
                .as_deref()
                .is_some_and(|d| d.contains("/reports/governance"))
        })
        .expect("the download is in the access log");
    let detail = entry.detail.as_deref().unwrap();
    assert!(detail.contains("site=NGH"), "{detail}");
    assert!(
        detail.contains(&format!("data version {version}")),
        "{detail}"
    );

    // A bad date names the field and the value.
    let bad = get(
        store,
        "/reports/governance?site=NGH&from=2025-13-01",
        Some(&who),
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("from") && bad.body.contains("2025-13-01"),
        "{}",
        bad.body
    );
    let backwards = get(
        store,
        "/reports/governance?site=NGH&from=2025-06-01&to=2025-01-01",
        Some(&who),
    )
    .await;
    assert_eq!(backwards.status, 422, "{}", backwards.body);

    // The audit-tool summary is a CSV of the site.
    let (status, headers, body) = fetch(&world, "/reports/audit-summary?site=NGH", &who).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(!String::from_utf8_lossy(&body).contains("Quastenbury"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_research_report_of_a_tiny_registry_is_refused_as_too_small() {
    let world = world().await;
    let store = &world.store;
    let researcher = user(store, "res.ngh", Role::Researcher, ngh()).await;
    let who = session(store, &researcher).await;
    let page = get(store, "/reports", Some(&who)).await;
    assert!(page.body.contains("/reports/research"));
    assert!(!page.body.contains("/reports/appraisal"));
    let refused = get(store, "/reports/research?format=pdf", Some(&who)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
}
