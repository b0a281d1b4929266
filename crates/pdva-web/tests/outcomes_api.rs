//! `GET /api/v1/outcomes`, in process: the same document as the engine
//! computes from the store, with filters, and clear errors for bad ones.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use pdva_store::{Actor, Store};
use serde_json::Value;
use tower::ServiceExt;

fn today() -> NaiveDate {
    "2026-06-30".parse().unwrap()
}

/// GET as a signed-in administrator (the API, like every page with
/// registry data, needs a session; see tests/authorisation.rs for the rights).
async fn get(store: &Store, path: &str) -> (StatusCode, String) {
    let admin = match store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username.as_str() == "api.admin")
    {
        Some(u) => u,
        None => store
            .create_user(
                &Actor::new("test.setup"),
                pdva_store::NewUser {
                    username: pdva_store::Username::parse("api.admin").unwrap(),
                    display_name: "API administrator".into(),
                    role: pdva_store::Role::Admin,
                    sites: pdva_store::SiteAccess::All,
                    password: pdva_store::Password::parse("correct horse battery").unwrap(),
                    clinician: None,
                },
            )
            .await
            .unwrap(),
    };
    let session = store
        .start_session(&admin, chrono::Utc::now())
        .await
        .unwrap();
    let response = pdva_web::router(store.clone())
        .oneshot(
            Request::get(path)
                .header("cookie", format!("pdva_session={}", session.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn outcomes_api_serves_the_engines_report_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (store, generator) = common::synthetic_registry(&dir, 150).await;
    let (status, body) = get(&store, "/api/v1/outcomes?as_of=2026-06-30").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let served: Value = serde_json::from_str(&body).unwrap();

    let reference = store.reference_data().await.unwrap();
    let files = store.load_patient_files(None).await.unwrap();
    let request = pdva_outcomes::ReportRequest {
        as_of: today(),
        filter: pdva_outcomes::Filter::default()
            .resolve(&reference)
            .unwrap(),
        data_version: store.data_version().await.unwrap().to_string(),
    };
    let expected = pdva_outcomes::build_report(&files, &reference, &request).unwrap();
    // Both through the same JSON text and parser, so floats compare exactly.
    let expected: Value = serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
    assert!(
        served == expected,
        "the served report differs from the engine's"
    );
    assert!(
        served["amputation_free_survival"]["rows"]
            .as_array()
            .unwrap()
            .len()
            > 10
    );
    assert_eq!(served["data_version"], request.data_version);

    // Filters: one site, one operator by name, a date range.
    let site = generator.reference().sites[0].1.site_code.to_string();
    let (status, body) = get(
        &store,
        &format!("/api/v1/outcomes?site={site}&from=2023-01-01&to=2025-12-31&as_of=2026-06-30"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let filtered: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(filtered["filters"]["site"], site.as_str());
    assert_eq!(filtered["filters"]["from"], "2023-01-01");
    assert!(
        filtered["cohort"]["index_procedures"].as_u64().unwrap()
            < served["cohort"]["index_procedures"].as_u64().unwrap()
    );
    let (id, clinician) = &generator.reference().clinicians[0];
    let name = clinician.display_name.to_string().replace(' ', "%20");
    let (status, body) = get(&store, &format!("/api/v1/outcomes?operator={name}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let by_operator: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(by_operator["filters"]["operator_id"], id.to_string());
}

#[tokio::test]
async fn bad_filters_are_refused_with_the_value_named() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::synthetic_registry(&dir, 5).await;
    let (status, body) = get(&store, "/api/v1/outcomes?site=NOWHERE").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // The API's one error shape, the message naming the value.
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["status"], 422, "{body}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("unknown site code \"NOWHERE\""), "{body}");
    let (status, body) = get(&store, "/api/v1/outcomes?operator=Dr%20Nobody").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Dr Nobody"), "{body}");
    let (status, body) = get(&store, "/api/v1/outcomes?from=2025-02-30").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("from"), "{body}");
    let (status, body) = get(&store, "/api/v1/outcomes?from=2025-06-01&to=2025-01-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("empty"), "{body}");
}

/// The audience comes from the role: a researcher's API document and
/// dashboard are the research form, even right after an administrator's
/// identifiable report of the same filter was computed and kept; a research
/// cohort under the minimum is refused by the API and explained on the
/// dashboard.
#[tokio::test]
async fn researchers_get_the_research_form_and_its_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::synthetic_registry(&dir, 150).await;
    let researcher = common::user(
        &store,
        "a.researcher",
        pdva_store::Role::Researcher,
        pdva_store::SiteAccess::All,
    )
    .await;
    let signed = common::session(&store, &researcher).await;

    let (status, body) = get(&store, "/api/v1/outcomes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let identifiable: Value = serde_json::from_str(&body).unwrap();
    assert!(identifiable.get("disclosure").is_none());
    let answer = common::get(&store, "/api/v1/outcomes", Some(&signed)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let research: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(research["disclosure"]["audience"], "research");
    assert!(
        research["cohort"]["index_procedures"].as_u64().unwrap()
            < identifiable["cohort"]["index_procedures"].as_u64().unwrap()
    );
    // A researcher cannot ask for the identifiable form or a single day.
    let answer = common::get(
        &store,
        "/api/v1/outcomes?audience=identifiable&from=2024-02-10&to=2024-02-10",
        Some(&signed),
    )
    .await;
    if answer.status == StatusCode::OK {
        let doc: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(doc["disclosure"]["period_from"], "2024-01-01");
        assert_eq!(doc["disclosure"]["period_to"], "2024-03-31");
    } else {
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            answer.body.contains("fewer than 10 patients"),
            "{}",
            answer.body
        );
    }
    let page = common::get(&store, "/dashboard", Some(&signed)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Research view"));
    assert!(
        page.body.contains("&lt;5") || page.body.contains("&#60;5"),
        "no suppressed count rendered"
    );

    // A registry too small for any research cohort.
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::synthetic_registry(&dir, 5).await;
    let researcher = common::user(
        &store,
        "a.researcher",
        pdva_store::Role::Researcher,
        pdva_store::SiteAccess::All,
    )
    .await;
    let signed = common::session(&store, &researcher).await;
    let answer = common::get(&store, "/api/v1/outcomes", Some(&signed)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer.body.contains("fewer than 10 patients"),
        "{}",
        answer.body
    );
    let page = common::get(&store, "/dashboard", Some(&signed)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("fewer than 10 patients"),
        "{}",
        page.body
    );
}
