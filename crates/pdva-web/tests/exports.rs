//! Exports from the web as a governance lead, a researcher and a clinician
//! meet them: a site's tidy CSV as a zip archive with only that site's
//! patients, the researcher's always de-identified, the workbook, each in
//! the access log with its counts; clinicians have no Exports page.

mod common;

use std::io::Read;

use axum::body::Body;
use axum::http::Request;
use common::*;
use pdva_store::{AccessQuery, Role, SiteAccess};
use tower::ServiceExt;

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

fn file_in_zip(bytes: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_governance_lead_exports_their_site_and_the_access_log_says_so() {
    let world = world().await;
    let store = &world.store;
    let lead = user(store, "gov.ngh", Role::GovernanceLead, ngh()).await;
    let who = session(store, &lead).await;

    let page = get(store, "/exports", Some(&who)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Tidy CSV"), "{}", page.body);

    let (status, headers, body) = fetch(&world, "/exports/download?site=NGH&kind=csv", &who).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/zip");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("pdva-csv-NGH-")
    );
    let patients = file_in_zip(&body, "patients.csv");
    let mut lines = patients.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let site = header.iter().position(|h| *h == "home_site").unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r[site] == "NGH"), "{patients}");
    assert!(
        patients.contains("P-NGH-"),
        "identifiable export has registry ids"
    );
    assert!(file_in_zip(&body, "data_dictionary.csv").contains("nhs_number"));

    // Another site's export is not theirs.
    let (status, _, _) = fetch(&world, "/exports/download?site=OTH&kind=csv", &who).await;
    assert_eq!(status, 404);

    // The workbook, typed as one.
    let (status, headers, body) = fetch(&world, "/exports/download?site=NGH&kind=xlsx", &who).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(body.starts_with(b"PK"));

    store.flush_access_log().await.unwrap();
    let log = store
        .access_log(&AccessQuery {
            actor: Some("gov.ngh".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let exports: Vec<_> = log
        .iter()
        .filter_map(|e| e.detail.as_deref())
        .filter(|d| d.contains("export csv: site=NGH deidentified=false;"))
        .collect();
    assert_eq!(exports.len(), 1, "{log:#?}");
    assert!(exports[0].contains("patients,"), "{}", exports[0]);
    assert!(exports[0].contains("data version"), "{}", exports[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_researcher_always_gets_the_deidentified_form_and_a_clinician_none() {
    let world = world().await;
    let store = &world.store;
    let researcher = user(store, "res.all", Role::Researcher, SiteAccess::All).await;
    let who = session(store, &researcher).await;
    let (status, _, body) = fetch(&world, "/api/v1/exports?kind=csv", &who).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let patients = file_in_zip(&body, "patients.csv");
    let header = patients.lines().next().unwrap();
    assert!(header.contains("age_at_index"), "{header}");
    for identifier in [
        "nhs_number",
        "family_name",
        "date_of_birth",
        "hospital_number",
    ] {
        assert!(!header.contains(identifier), "{header}");
    }
    assert!(
        !patients.contains("P-NGH-") && !patients.contains("P-OTH-"),
        "{patients}"
    );

    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    assert_eq!(get(store, "/exports", Some(&who)).await.status, 403);
    let (status, _, _) = fetch(&world, "/exports/download?site=NGH&kind=csv", &who).await;
    assert_eq!(status, 403);

    // A kind that does not exist is named in the answer.
    let admin = user(store, "admin.all", Role::Admin, SiteAccess::All).await;
    let who = session(store, &admin).await;
    let (status, _, body) = fetch(&world, "/api/v1/exports?kind=sas", &who).await;
    assert_eq!(status, 422);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("sas") && body.contains("is not an export kind"),
        "{body}"
    );
}
