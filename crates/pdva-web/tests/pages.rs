//! The web server, in process: the front page shows the counts of the
//! user's sites (and nothing to someone not signed in), and every response
//! carries the security headers.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use pdva_domain::Site;
use pdva_domain::values::{CountryCode, RequiredText, SiteCode};
use pdva_store::{Actor, Store};
use tower::ServiceExt;

async fn get(store: &Store, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    get_as(store, path, None).await
}

async fn get_as(
    store: &Store,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = pdva_web::router(store.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn front_page_lists_sites_with_counts_and_the_data_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("t.db").to_str().unwrap())
        .await
        .unwrap();
    let admin = common::user(
        &store,
        "admin",
        pdva_store::Role::Admin,
        pdva_store::SiteAccess::All,
    )
    .await;
    let cookie = common::session(&store, &admin).await.cookie;
    let (status, _, body) = get_as(&store, "/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No sites are registered yet."));

    store
        .create_site(
            &Actor::new("admin"),
            Site {
                site_code: SiteCode::parse("NGH").unwrap(),
                name: RequiredText::parse_for("name", "Northgate <General>").unwrap(),
                country: CountryCode::parse("GB").unwrap(),
                ods_code: None,
                governance_lead_name: None,
                governance_lead_informed_on: None,
                min_proctored_cases: 5,
            },
        )
        .await
        .unwrap();
    // Not signed in: the way in, and nothing about the registry's contents.
    let (status, _, body) = get(&store, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("href=\"/sign-in\""), "{body}");
    assert!(!body.contains("NGH"), "{body}");
    let (status, headers, body) = get_as(&store, "/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<td>NGH</td>"), "{body}");
    // The start page of a signed-in user, in the layout with the menu.
    assert!(
        body.contains("<title>Registry counts — pDVA registry</title>"),
        "{body}"
    );
    assert!(body.contains("<nav aria-label=\"Main\">"), "{body}");
    // Names are escaped by the template, never pasted in raw.
    assert!(
        body.contains("Northgate &#60;General&#62;") || body.contains("Northgate &lt;General&gt;"),
        "{body}"
    );
    let version = store.data_version().await.unwrap().to_string();
    assert!(body.contains(&format!("Data version {version}")), "{body}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // Styles come only from the registry's own stylesheet: no inline styles.
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("style-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        !body.contains("<style") && !body.contains("style="),
        "{body}"
    );
    let (status, headers, css) = get(&store, "/static/registry.css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    assert!(css.contains("body.app"));
    // `same-origin` rather than `no-referrer`, so that form posts carry the
    // Origin the CSRF defence checks (see the security headers in lib.rs).
    assert_eq!(headers["referrer-policy"], "same-origin");
}

#[tokio::test]
async fn health_check_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("t.db").to_str().unwrap())
        .await
        .unwrap();
    let (status, _, body) = get(&store, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok");
}
