//! The JSON API of the records with an API token: what a script sees and
//! does goes through the same rules, acknowledgement of warnings, version
//! checks, audit trail and access log as the forms.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use pdva_store::{AccessQuery, Role, Store};
use serde_json::{Value, json};

async fn call(
    store: &Store,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let r = Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let answer = send(store, r.body(Body::from(body)).unwrap()).await;
    let json = serde_json::from_str(&answer.body)
        .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {}", answer.body));
    (answer.status.as_u16(), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_records_care_through_the_rules_of_the_forms() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let token = store
        .create_api_token(
            &clinician.actor(),
            clinician.id,
            "script",
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .token;
    let records = format!("/api/v1/patients/{}/records", world.a.id);

    // A hard rule: a visit dated before the index procedure is refused, and
    // the finding names the field, the value and the rule.
    let visit = |date: &str| {
        json!({
            "procedure_id": world.a.procedure.to_string(),
            "visit_date": date,
            "contact": "in_person",
            "limb_status": "major_amputation",
        })
    };
    let (status, body) = call(
        store,
        "POST",
        &records,
        &token,
        Some(json!({"kind": "follow_up_visit", "record": visit("2025-01-10")})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let findings = body["error"]["findings"].as_array().unwrap();
    assert!(!findings.is_empty(), "{body}");
    assert!(findings.iter().any(|f| f["severity"] == "hard"), "{body}");
    assert_eq!(body["error"]["needs_acknowledgement"], false);
    assert!(findings[0]["field"].is_string() && findings[0]["rule"].is_string());

    // A soft rule (a major amputation with none recorded) needs
    // acknowledging, as in the form.
    let (status, body) = call(
        store,
        "POST",
        &records,
        &token,
        Some(json!({"kind": "follow_up_visit", "record": visit("2025-02-20")})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["needs_acknowledgement"], true, "{body}");
    assert!(
        body["error"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "limb_status_disagrees"),
        "{body}"
    );
    let (status, saved) = call(
        store,
        "POST",
        &records,
        &token,
        Some(json!({"kind": "follow_up_visit", "record": visit("2025-02-20"), "acknowledge_warnings": true})),
    )
    .await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(saved["kind"], "follow_up_visit");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["created_by"], "clin.ngh");
    let id = saved["id"].as_str().unwrap().to_owned();
    let one = format!("{records}/{id}");

    // An amendment on the version read; a stale version is a conflict.
    let mut amended = visit("2025-02-20");
    amended["limb_status"] = json!("intact");
    let (status, body) = call(
        store,
        "PUT",
        &one,
        &token,
        Some(json!({"version": 1, "record": amended})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["record"]["limb_status"], "intact");
    let (status, body) = call(
        store,
        "PUT",
        &one,
        &token,
        Some(json!({"version": 1, "record": amended})),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Signed off, then voided with a reason.
    let (status, body) = call(store, "POST", &format!("{one}/sign-off"), &token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signed_off_by"], "clin.ngh");
    let (status, body) = call(
        store,
        "POST",
        &format!("{one}/void"),
        &token,
        Some(json!({"reason": ""})),
    )
    .await;
    assert_eq!(status, 422, "a void needs a reason: {body}");
    let (status, body) = call(
        store,
        "POST",
        &format!("{one}/void"),
        &token,
        Some(json!({"reason": "entered on the wrong patient"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["voided"], true);

    // Every change is in the audit trail under the user's name.
    let log = store
        .audit_log(Some(id.parse().unwrap()), 10)
        .await
        .unwrap();
    let mut actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    actions.sort();
    assert_eq!(actions, ["create", "sign_off", "update", "void"]);
    assert!(log.iter().all(|e| e.actor == "clin.ngh"));

    // Lists come a page at a time, voided records marked.
    let (status, page) = call(store, "GET", &format!("{records}?limit=2"), &token, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = call(
        store,
        "GET",
        &format!("{records}?limit=2&cursor={cursor}"),
        &token,
        None,
    )
    .await;
    let rest = rest["items"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "consent, procedure, visit");
    assert_eq!(rest[0]["voided"], true);
    let (_, consents) = call(
        store,
        "GET",
        &format!("{records}?kind=consent"),
        &token,
        None,
    )
    .await;
    assert_eq!(consents["items"].as_array().unwrap().len(), 1);
    let (status, _) = call(store, "GET", &format!("{records}?limit=0"), &token, None).await;
    assert_eq!(status, 422);

    // The patient list holds only the user's sites; viewing a patient is
    // in the access log.
    let (_, patients) = call(store, "GET", "/api/v1/patients", &token, None).await;
    let ids: Vec<&str> = patients["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [world.a.id.to_string()]);
    let (status, patient) = call(
        store,
        "GET",
        &format!("/api/v1/patients/{}", world.a.id),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patient["record"]["nhs_number"], "9990000018");
    store.flush_access_log().await.unwrap();
    let events = store.access_log(&AccessQuery::default()).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.patient_id == Some(world.a.id) && e.actor == "clin.ngh"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clinician_registers_a_patient_and_the_registry_assigns_the_id() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let token = store
        .create_api_token(
            &clinician.actor(),
            clinician.id,
            "script",
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .token;
    let patient = json!({
        "registry_id": "P-MINE-0001",
        "date_of_birth": "1950-03-01",
        "sex": "male",
        "family_name": "Example",
    });
    let (status, body) = call(
        store,
        "POST",
        "/api/v1/sites/NGH/patients",
        &token,
        Some(json!({"record": patient})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(body["record"]["registry_id"], "P-MINE-0001");
    assert_eq!(body["record"]["home_site"], "NGH");
    let (status, _) = call(
        store,
        "POST",
        "/api/v1/sites/OTH/patients",
        &token,
        Some(json!({"record": patient})),
    )
    .await;
    assert_eq!(status, 404, "another site");
    let (status, body) = call(store, "GET", "/api/v1/sites/NGH", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["record"]["site_code"], "NGH");
}
