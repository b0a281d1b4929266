//! Authorisation, walked in full: every role × every declared route × a
//! patient or site of the user's own site and of another site, each asserted
//! allowed or refused against the expectations written here (independently
//! of the route table, which must match them one for one). Also: a POST
//! without the CSRF token, or from another origin, is refused; a researcher
//! never sees an identifier.

mod common;

use common::*;
use pdva_domain::deident::PseudonymKey;
use pdva_store::{Role, SiteAccess};
use pdva_web::authz::ROUTES;

/// Who may use a route, and whether the site of its patient or site matters.
struct Expectation {
    method: &'static str,
    path: &'static str,
    roles: &'static [Role],
    site_bound: bool,
}

const ALL: &[Role] = &[
    Role::Clinician,
    Role::GovernanceLead,
    Role::Researcher,
    Role::Admin,
];
const CLINICIAN: &[Role] = &[Role::Clinician];
const IDENTIFIABLE: &[Role] = &[Role::Clinician, Role::GovernanceLead, Role::Admin];
const ADMIN: &[Role] = &[Role::Admin];
const GOVERNANCE: &[Role] = &[Role::GovernanceLead, Role::Admin];
const GOVERNANCE_LEAD: &[Role] = &[Role::GovernanceLead];
const RESEARCHER: &[Role] = &[Role::Researcher];
const EXPORTERS: &[Role] = &[Role::GovernanceLead, Role::Researcher, Role::Admin];

const fn e(
    method: &'static str,
    path: &'static str,
    roles: &'static [Role],
    site_bound: bool,
) -> Expectation {
    Expectation {
        method,
        path,
        roles,
        site_bound,
    }
}

/// DOMAIN.md section 3, route by route. `public` routes have every role
/// and no site.
const EXPECTED: &[Expectation] = &[
    e("GET", "/", ALL, false),
    e("GET", "/healthz", ALL, false),
    e("GET", "/static/registry.css", ALL, false),
    e("GET", "/sign-in", ALL, false),
    e("POST", "/sign-in", ALL, false),
    e("POST", "/sign-out", ALL, false),
    e("GET", "/patients", IDENTIFIABLE, false),
    e("GET", "/sites/{site}/patients/new", CLINICIAN, true),
    e("POST", "/sites/{site}/patients/new", CLINICIAN, true),
    e("GET", "/patients/{patient_id}", IDENTIFIABLE, true),
    e("GET", "/patients/{patient_id}/edit", CLINICIAN, true),
    e("POST", "/patients/{patient_id}/edit", CLINICIAN, true),
    e(
        "GET",
        "/patients/{patient_id}/records/new/{kind}",
        CLINICIAN,
        true,
    ),
    e(
        "POST",
        "/patients/{patient_id}/records/new/{kind}",
        CLINICIAN,
        true,
    ),
    e(
        "GET",
        "/patients/{patient_id}/records/{record_id}/edit",
        CLINICIAN,
        true,
    ),
    e(
        "POST",
        "/patients/{patient_id}/records/{record_id}/edit",
        CLINICIAN,
        true,
    ),
    e(
        "POST",
        "/patients/{patient_id}/records/{record_id}/void",
        CLINICIAN,
        true,
    ),
    e(
        "POST",
        "/patients/{patient_id}/records/{record_id}/sign-off",
        CLINICIAN,
        true,
    ),
    e("GET", "/worklist", IDENTIFIABLE, false),
    e("GET", "/sign-off", IDENTIFIABLE, false),
    e("GET", "/sites/{site}/compliance", GOVERNANCE, true),
    e("GET", "/sites/{site}/compliance.csv", GOVERNANCE, true),
    e(
        "GET",
        "/sites/{site}/governance-meetings/new",
        GOVERNANCE_LEAD,
        true,
    ),
    e(
        "POST",
        "/sites/{site}/governance-meetings/new",
        GOVERNANCE_LEAD,
        true,
    ),
    e(
        "GET",
        "/sites/{site}/governance-lead",
        GOVERNANCE_LEAD,
        true,
    ),
    e(
        "POST",
        "/sites/{site}/governance-lead",
        GOVERNANCE_LEAD,
        true,
    ),
    e("GET", "/admin/users", ADMIN, false),
    e("GET", "/admin/users/new", ADMIN, false),
    e("POST", "/admin/users/new", ADMIN, false),
    e("GET", "/admin/users/{user_id}/access", ADMIN, false),
    e("POST", "/admin/users/{user_id}/access", ADMIN, false),
    // An administrator resets another user's password.
    e("GET", "/admin/users/{user_id}/password", ADMIN, false),
    e("POST", "/admin/users/{user_id}/password", ADMIN, false),
    e("GET", "/admin/sites", ADMIN, false),
    e("GET", "/admin/sites/new", ADMIN, false),
    e("POST", "/admin/sites/new", ADMIN, false),
    e("GET", "/admin/sites/{site_code}/edit", ADMIN, false),
    e("POST", "/admin/sites/{site_code}/edit", ADMIN, false),
    e("GET", "/admin/clinicians/new", ADMIN, false),
    e("POST", "/admin/clinicians/new", ADMIN, false),
    e("GET", "/admin/clinicians/{clinician_id}/edit", ADMIN, false),
    e(
        "POST",
        "/admin/clinicians/{clinician_id}/edit",
        ADMIN,
        false,
    ),
    e("GET", "/admin/access", ADMIN, false),
    e("GET", "/research/patients", RESEARCHER, false),
    e("GET", "/research/patients/{pseudonym}", RESEARCHER, true),
    e("GET", "/api/v1/outcomes", ALL, true),
    e("GET", "/dashboard", ALL, true),
    e("GET", "/reports", ALL, false),
    // A clinician only their own (their account is linked to their
    // clinician record): the users of this walk are not linked, so none.
    e("GET", "/reports/appraisal", GOVERNANCE, true),
    e("GET", "/reports/governance", GOVERNANCE, true),
    e("GET", "/reports/audit-summary", GOVERNANCE, true),
    e("GET", "/reports/research", RESEARCHER, false),
    e("GET", "/exports", EXPORTERS, false),
    e("GET", "/exports/download", EXPORTERS, true),
    e("GET", "/api/v1/exports", EXPORTERS, true),
    e("GET", "/api/v1/openapi.json", ALL, false),
    e("GET", "/api/v1/sites", ALL, false),
    e("POST", "/api/v1/sites", ADMIN, false),
    e("GET", "/api/v1/sites/{site}", ALL, false),
    e("PUT", "/api/v1/sites/{site}", ADMIN, false),
    e("POST", "/api/v1/sites/{site}/patients", CLINICIAN, true),
    e("GET", "/api/v1/clinicians", ALL, false),
    e("POST", "/api/v1/clinicians", ADMIN, false),
    e("GET", "/api/v1/clinicians/{clinician_id}", ALL, false),
    e("PUT", "/api/v1/clinicians/{clinician_id}", ADMIN, false),
    e("GET", "/api/v1/patients", IDENTIFIABLE, false),
    e("GET", "/api/v1/patients/{patient_id}", IDENTIFIABLE, true),
    e("PUT", "/api/v1/patients/{patient_id}", CLINICIAN, true),
    e(
        "GET",
        "/api/v1/patients/{patient_id}/records",
        IDENTIFIABLE,
        true,
    ),
    e(
        "POST",
        "/api/v1/patients/{patient_id}/records",
        CLINICIAN,
        true,
    ),
    e(
        "GET",
        "/api/v1/patients/{patient_id}/records/{record_id}",
        IDENTIFIABLE,
        true,
    ),
    e(
        "PUT",
        "/api/v1/patients/{patient_id}/records/{record_id}",
        CLINICIAN,
        true,
    ),
    e(
        "POST",
        "/api/v1/patients/{patient_id}/records/{record_id}/void",
        CLINICIAN,
        true,
    ),
    e(
        "POST",
        "/api/v1/patients/{patient_id}/records/{record_id}/sign-off",
        CLINICIAN,
        true,
    ),
    // The bulk import's upload page.
    e("GET", "/admin/import", ADMIN, false),
    e("POST", "/admin/import", ADMIN, false),
    e("GET", "/admin/import/templates", ADMIN, false),
    // Every signed-in user manages their own API tokens.
    e("GET", "/account/tokens", ALL, false),
    e("POST", "/account/tokens", ALL, false),
    e("POST", "/account/tokens/{token_id}/revoke", ALL, false),
    // Every signed-in user changes their own password.
    e("GET", "/account/password", ALL, false),
    e("POST", "/account/password", ALL, false),
];

const PUBLIC: &[&str] = &[
    "/",
    "/healthz",
    "/static/registry.css",
    "/sign-in",
    "/api/v1/openapi.json",
];

#[test]
fn every_declared_route_has_an_expectation_and_no_more() {
    for rule in ROUTES {
        assert!(
            EXPECTED
                .iter()
                .any(|x| x.method == rule.method && x.path == rule.path),
            "no expectation for {} {}",
            rule.method,
            rule.path
        );
    }
    assert_eq!(ROUTES.len(), EXPECTED.len());
}

/// The route's path with the site's patient, record and site filled in
/// (and the user's id and one of their API tokens' ids).
fn concrete(path: &str, world: &World, own: bool, user_id: &str, token_id: &str) -> String {
    let (patient, site) = if own {
        (&world.a, "NGH")
    } else {
        (&world.b, "OTH")
    };
    let path = path
        .replace("{site}", site)
        .replace("{patient_id}", &patient.id.to_string())
        .replace("{record_id}", &patient.procedure.to_string())
        .replace("{kind}", "follow-up-visit")
        .replace("{user_id}", user_id)
        .replace("{token_id}", token_id)
        .replace("{site_code}", site)
        .replace("{clinician_id}", &world.clinician_a.to_string())
        .replace(
            "{pseudonym}",
            PseudonymKey::new(world.store.pseudonym_secret())
                .patient(patient.id)
                .as_str(),
        );
    match path.as_str() {
        "/api/v1/outcomes" | "/dashboard" => format!("{path}?site={site}"),
        "/exports/download" | "/api/v1/exports" => format!("{path}?site={site}&kind=csv"),
        "/reports/governance" | "/reports/audit-summary" => {
            format!("{path}?site={site}&format=json")
        }
        "/reports/appraisal" => format!(
            "{path}?format=json&clinician={}",
            if own {
                world.clinician_a
            } else {
                world.clinician_b
            }
        ),
        "/reports/research" => format!("{path}?format=json"),
        _ => path,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_by_routes_by_own_and_other_site() {
    let world = world().await;
    let store = &world.store;
    let users = [
        user(store, "clin.ngh", Role::Clinician, ngh()).await,
        user(store, "gov.ngh", Role::GovernanceLead, ngh()).await,
        user(store, "res.ngh", Role::Researcher, ngh()).await,
        user(store, "admin.all", Role::Admin, SiteAccess::All).await,
    ];
    let mut checked = 0;
    let mut wrong = Vec::new();
    for u in &users {
        // A token for the revocation route (the walk revokes it).
        let revocable = token(store, u).await;
        for x in EXPECTED {
            for own in [true, false] {
                let path = concrete(x.path, &world, own, &u.id.to_string(), &revocable);
                // A fresh session for each request: signing out ends one.
                let who = session(store, u).await;
                let answer = if x.method == "GET" {
                    get(store, &path, Some(&who)).await
                } else if x.method == "PUT" {
                    put_form(store, &path, &who).await
                } else if x.path == "/sign-in" {
                    post(
                        store,
                        &path,
                        Some(&who),
                        Some(&who.csrf),
                        &[("username", u.username.as_str()), ("password", PASSWORD)],
                    )
                    .await
                } else {
                    post(store, &path, Some(&who), Some(&who.csrf), &[]).await
                };
                let expected =
                    x.roles.contains(&u.role) && (!x.site_bound || own || u.role == Role::Admin);
                if answer.allowed() != expected {
                    wrong.push(format!(
                        "{} {} {} ({}): expected {}, got {} {}",
                        u.role,
                        x.method,
                        path,
                        if own { "own site" } else { "other site" },
                        if expected { "allowed" } else { "refused" },
                        answer.status,
                        answer.location
                    ));
                }
                // Another site's patient or record is not found, rather than forbidden.
                if x.site_bound && !own && u.role == Role::Clinician && x.roles.contains(&u.role) {
                    assert_eq!(answer.status, 404, "{} {path}", x.method);
                }
                checked += 1;
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(checked, 4 * EXPECTED.len() * 2);

    // Nobody signed in: only the public pages.
    let nobody_token = token(store, &users[0]).await;
    for x in EXPECTED {
        let path = concrete(
            x.path,
            &world,
            true,
            &users[0].id.to_string(),
            &nobody_token,
        );
        let answer = if x.method == "GET" {
            get(store, &path, None).await
        } else if x.method == "PUT" {
            let none = Signed {
                cookie: String::new(),
                csrf: String::new(),
            };
            put_form(store, &path, &none).await
        } else {
            post(store, &path, None, None, &[]).await
        };
        let public = PUBLIC.contains(&x.path) && x.method == "GET";
        assert_eq!(
            answer.allowed(),
            public,
            "anonymous {} {path}: {} {}",
            x.method,
            answer.status,
            answer.location
        );
    }
}

/// The id of a new API token of the user.
async fn token(store: &pdva_store::Store, u: &pdva_store::User) -> String {
    store
        .create_api_token(&u.actor(), u.id, "walk", None, chrono::Utc::now())
        .await
        .unwrap()
        .info
        .id
        .to_string()
}

/// A PUT of a form from this site's page with the session's CSRF token
/// (an API route then refuses the body itself, after the guard).
async fn put_form(store: &pdva_store::Store, path: &str, who: &Signed) -> Answer {
    let body = serde_urlencoded::to_string([("_csrf", who.csrf.as_str())]).unwrap();
    let mut r = axum::http::Request::put(path)
        .header("host", HOST)
        .header("origin", format!("http://{HOST}"))
        .header("content-type", "application/x-www-form-urlencoded");
    if !who.cookie.is_empty() {
        r = r.header("cookie", &who.cookie);
    }
    send(store, r.body(axum::body::Body::from(body)).unwrap()).await
}

/// A request with an `Authorization: Bearer` token and nothing else: no
/// cookie, no CSRF token, no `Origin`.
async fn bearer(store: &pdva_store::Store, method: &str, path: &str, token: &str) -> Answer {
    let r = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    let body = if method == "GET" { "" } else { "{}" };
    send(store, r.body(axum::body::Body::from(body)).unwrap()).await
}

/// The API routes answer a bearer token exactly as a session: the same
/// role and site checks from the one table, without CSRF or origin (a
/// browser never sends the header by itself); the HTML pages do not accept
/// a token at all; a bad token is a 401 in the API's error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_gets_the_answers_of_a_session_on_the_api_only() {
    let world = world().await;
    let store = &world.store;
    let users = [
        user(store, "clin.ngh", Role::Clinician, ngh()).await,
        user(store, "gov.ngh", Role::GovernanceLead, ngh()).await,
        user(store, "res.ngh", Role::Researcher, ngh()).await,
        user(store, "admin.all", Role::Admin, SiteAccess::All).await,
    ];
    let mut wrong = Vec::new();
    let mut checked = 0;
    for u in &users {
        let secret = store
            .create_api_token(&u.actor(), u.id, "walk", None, chrono::Utc::now())
            .await
            .unwrap()
            .token;
        let revocable = token(store, u).await;
        for x in EXPECTED.iter().filter(|x| x.path.starts_with("/api/")) {
            for own in [true, false] {
                let path = concrete(x.path, &world, own, &u.id.to_string(), &revocable);
                let by_token = bearer(store, x.method, &path, &secret).await;
                let who = session(store, u).await;
                let by_session = if x.method == "GET" {
                    get(store, &path, Some(&who)).await
                } else if x.method == "PUT" {
                    put_form(store, &path, &who).await
                } else {
                    post(store, &path, Some(&who), Some(&who.csrf), &[]).await
                };
                let expected =
                    x.roles.contains(&u.role) && (!x.site_bound || own || u.role == Role::Admin);
                if by_token.allowed() != expected
                    || (!expected && by_token.status != by_session.status)
                {
                    wrong.push(format!(
                        "{} {} {path}: token {} {}, session {}",
                        u.role, x.method, by_token.status, by_token.body, by_session.status
                    ));
                }
                if !by_token.allowed() {
                    let error: serde_json::Value = serde_json::from_str(&by_token.body)
                        .unwrap_or_else(|_| panic!("not JSON: {}", by_token.body));
                    assert_eq!(
                        error["error"]["status"].as_u64(),
                        Some(u64::from(by_token.status.as_u16()))
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 4 * 2 * 20, "{checked}");

    let clinician = &users[0];
    let secret = store
        .create_api_token(
            &clinician.actor(),
            clinician.id,
            "t",
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    // Not on the HTML pages: a token alone is not signed in there.
    let page = bearer(store, "GET", "/patients", &secret.token).await;
    assert!(!page.allowed(), "{}", page.status);
    let page = bearer(store, "GET", "/account/tokens", &secret.token).await;
    assert!(!page.allowed(), "{}", page.status);
    // A wrong, revoked or expired token: 401 with the error shape.
    let bad = bearer(store, "GET", "/api/v1/patients", "pdva_0000").await;
    assert_eq!(bad.status, 401);
    let body: serde_json::Value = serde_json::from_str(&bad.body).unwrap();
    assert_eq!(body["error"]["status"], 401);
    store
        .revoke_api_token(&clinician.actor(), secret.info.id, None, chrono::Utc::now())
        .await
        .unwrap();
    let revoked = bearer(store, "GET", "/api/v1/patients", &secret.token).await;
    assert_eq!(revoked.status, 401);
    // A cookie request to the API still needs its CSRF token.
    let who = session(store, clinician).await;
    let path = format!("/api/v1/patients/{}/records", world.a.id);
    let no_csrf = post(store, &path, Some(&who), None, &[]).await;
    assert_eq!(no_csrf.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_csrf_token_or_from_elsewhere_is_refused() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let path = format!("/patients/{}/records/new/death", world.a.id);
    let fields = [("date", "2026-01-01"), ("cause", "unknown")];

    let missing = post(store, &path, Some(&who), None, &fields).await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let wrong = post(store, &path, Some(&who), Some("0123"), &fields).await;
    assert_eq!(wrong.status, 403);
    // Another session's token is not this session's.
    let other = session(store, &clinician).await;
    let borrowed = post(store, &path, Some(&who), Some(&other.csrf), &fields).await;
    assert_eq!(borrowed.status, 403);

    // The right token, but sent from another site's page.
    let body = serde_urlencoded::to_string([("_csrf", who.csrf.as_str())]).unwrap();
    let foreign = send(
        store,
        axum::http::Request::post(&path)
            .header("host", HOST)
            .header("origin", "http://evil.example")
            .header("cookie", &who.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(foreign.status, 403);
    assert!(
        store
            .patient_file(world.a.id)
            .await
            .unwrap()
            .death()
            .is_none(),
        "nothing was recorded"
    );

    // The sign-in form needs its double-submit token too.
    let no_cookie = post(
        store,
        "/sign-in",
        None,
        Some("abcd"),
        &[("username", "clin.ngh"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(no_cookie.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_out_through_the_forms() {
    let world = world().await;
    let store = &world.store;
    user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let page = get(store, "/sign-in", None).await;
    assert_eq!(page.status, 200);
    let csrf_cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("pdva_sign_in_csrf="))
        .expect("the sign-in form's cookie")
        .clone();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
    let token = csrf_cookie
        .trim_start_matches("pdva_sign_in_csrf=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(page.body.contains(&token));
    let pre = Signed {
        cookie: format!("pdva_sign_in_csrf={token}"),
        csrf: token.clone(),
    };

    let refused = post(
        store,
        "/sign-in",
        Some(&pre),
        Some(&token),
        &[("username", "clin.ngh"), ("password", "not the password")],
    )
    .await;
    assert_eq!(refused.status, 401);
    let unknown = post(
        store,
        "/sign-in",
        Some(&pre),
        Some(&token),
        &[
            ("username", "nobody.at.all"),
            ("password", "not the password"),
        ],
    )
    .await;
    // The same message whether or not the username exists.
    let message = |body: &str| {
        body.lines()
            .find(|l| l.contains("Sign-in failed"))
            .map(str::to_owned)
    };
    assert_eq!(message(&refused.body), message(&unknown.body));
    assert!(message(&refused.body).is_some());

    let accepted = post(
        store,
        "/sign-in",
        Some(&pre),
        Some(&token),
        &[
            ("username", "clin.ngh"),
            ("password", PASSWORD),
            ("next", "/worklist"),
        ],
    )
    .await;
    assert_eq!(accepted.status, 303);
    assert_eq!(accepted.location, "/worklist");
    let session_cookie = accepted
        .set_cookies
        .iter()
        .find(|c| c.starts_with("pdva_session="))
        .unwrap()
        .clone();
    assert_eq!(
        session_cookie.split_once(';').unwrap().1,
        " HttpOnly; SameSite=Strict; Path=/",
        "no Secure on plain http by default"
    );
    let cookie = session_cookie.split(';').next().unwrap().to_owned();
    let signed = Signed {
        cookie: cookie.clone(),
        csrf: String::new(),
    };
    let worklist = get(store, "/worklist", Some(&signed)).await;
    assert_eq!(worklist.status, 200);
    assert!(
        worklist.body.contains("Follow-up worklist"),
        "{}",
        worklist.body
    );
    // The page's forms carry the session's token.
    let csrf = worklist
        .body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let out = post(store, "/sign-out", Some(&signed), Some(&csrf), &[]).await;
    assert_eq!(out.status, 303);
    let after = get(store, "/worklist", Some(&signed)).await;
    assert_eq!(after.status, 303);
    assert!(after.location.starts_with("/sign-in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_researcher_never_sees_an_identifier() {
    let world = world().await;
    let store = &world.store;
    let researcher = user(
        store,
        "res.both",
        Role::Researcher,
        SiteAccess::Sites(vec![
            pdva_domain::values::SiteCode::parse("NGH").unwrap(),
            pdva_domain::values::SiteCode::parse("OTH").unwrap(),
        ]),
    )
    .await;
    let who = session(store, &researcher).await;
    // The identifiable list and pages are not the researcher's.
    assert_eq!(get(store, "/patients", Some(&who)).await.status, 403);
    let by_id = get(store, &format!("/patients/{}", world.a.id), Some(&who)).await;
    assert_eq!(by_id.status, 403);
    let key = PseudonymKey::new(store.pseudonym_secret());
    let list = get(store, "/research/patients", Some(&who)).await;
    assert_eq!(list.status, 200);
    let mut bodies = vec![list.body.clone()];
    for p in [&world.a, &world.b] {
        let pseudonym = key.patient(p.id);
        assert!(list.body.contains(pseudonym.as_str()), "{}", list.body);
        let page = get(
            store,
            &format!("/research/patients/{pseudonym}"),
            Some(&who),
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.body);
        bodies.push(page.body);
    }
    let stored = store.patient_records(world.a.id).await.unwrap();
    assert!(stored.len() > 1);
    for p in [&world.a, &world.b] {
        let formatted = format!("{} {} {}", &p.nhs[..3], &p.nhs[3..6], &p.nhs[6..]);
        for body in &bodies {
            for secret in [
                p.nhs,
                formatted.as_str(),
                p.family_name,
                &p.family_name.to_uppercase(),
                p.given_name,
                p.date_of_birth,
                &format!("HN{}", &p.nhs[5..]),
                &p.id.to_string(),
                "P-NGH-",
                "P-OTH-",
            ] {
                assert!(!body.contains(secret), "{secret} shown to a researcher");
            }
            // No calendar date at all: days from the index procedure instead.
            assert!(
                !has_iso_date(body),
                "a calendar date was shown to a researcher: {body}"
            );
        }
    }
    // Age at the index procedure instead of the date of birth.
    assert!(bodies[1].contains("<td>73</td>"), "{}", bodies[1]);
    // The front page's raw counts would count patients outside the research
    // population: researchers do not get them.
    let front = get(store, "/", Some(&who)).await;
    assert!(front.body.contains("Research view"), "{}", front.body);
    assert!(!front.body.contains("Non-voided records"), "{}", front.body);
    assert!(front.body.contains("href=\"/research/patients\""));
    // A mistyped or guessed pseudonym finds nothing.
    let guessed = get(store, "/research/patients/R-0000000000000000", Some(&who)).await;
    assert_eq!(guessed.status, 404);

    // A clinician of the site sees them.
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let page = get(store, &format!("/patients/{}", world.a.id), Some(&who)).await;
    assert!(page.body.contains("999 000 0018"));
    assert!(page.body.contains("ZWIEBELMANN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_find_only_patients_of_the_users_sites() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let own = get(store, "/patients?q=999+000+0018", Some(&who)).await;
    assert_eq!(own.status, 303);
    assert_eq!(own.location, format!("/patients/{}", world.a.id));
    let by_id = get(store, "/patients?q=p-ngh-0018", Some(&who)).await;
    assert_eq!(by_id.location, format!("/patients/{}", world.a.id));
    // Another site's patient is "not found", exactly like a number nobody has.
    let other = get(store, "/patients?q=9990000026", Some(&who)).await;
    let nobody = get(store, "/patients?q=9990000042", Some(&who)).await;
    assert_eq!(other.status, 200);
    let message = |body: &str| {
        body.lines()
            .find(|l| l.contains("role=\"alert\""))
            .map(str::to_owned)
    };
    assert_eq!(message(&other.body), message(&nobody.body));
    assert!(
        message(&other.body)
            .unwrap()
            .contains("No patient of your sites")
    );
    // A researcher cannot test whether an NHS number is in the registry:
    // the search that takes one is not theirs.
    let researcher = user(store, "res.ngh", Role::Researcher, ngh()).await;
    let who = session(store, &researcher).await;
    let probe = get(store, "/patients?q=9990000018", Some(&who)).await;
    assert_eq!(probe.status, 403);
    let probe = get(store, "/research/patients?q=9990000018", Some(&who)).await;
    assert_eq!(probe.status, 200);
    assert!(probe.body.contains("is not a pseudonym"), "{}", probe.body);
}

/// Whether `text` holds a date written YYYY-MM-DD.
fn has_iso_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(10).any(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliance_view_names_the_paragraph_and_links_the_records() {
    let world = world().await;
    let store = &world.store;
    let lead = user(store, "gov.ngh", Role::GovernanceLead, ngh()).await;
    let who = session(store, &lead).await;
    let page = get(store, "/sites/NGH/compliance", Some(&who)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("/sites/NGH/compliance"),
        "the menu links it"
    );
    // No governance meeting recorded: IPG773 1.3 not met.
    assert!(page.body.contains("<td>1.3</td><td><a href=\"#review_meeting\">Governance review meeting in the last 12 months</a></td><td colspan=\"3\">no meeting recorded</td><td><strong>no</strong></td>"), "{}", page.body);
    // The seeded procedure has no visit: no 30-day visit, with a link to it.
    assert!(page.body.contains(&format!(
        "/patients/{}#record-{}",
        world.a.id, world.a.procedure
    )));
    assert!(
        !page.body.contains(&world.b.id.to_string()),
        "another site's patient"
    );

    // The governance lead records a review meeting: the arrangement is met.
    let form = get(store, "/sites/NGH/governance-meetings/new", Some(&who)).await;
    let version = store.data_version().await.unwrap().to_string();
    assert!(
        form.body.contains(&format!("value=\"{version}\"")),
        "prefilled"
    );
    let refused = post(
        store,
        "/sites/NGH/governance-meetings/new",
        Some(&who),
        Some(&who.csrf),
        &[("held_on", "last week"), ("attendees", "Dr A, Ms B")],
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Dr A, Ms B"), "kept as typed");
    let today = chrono::Local::now().date_naive().to_string();
    let saved = post(
        store,
        "/sites/NGH/governance-meetings/new",
        Some(&who),
        Some(&who.csrf),
        &[
            ("held_on", &today),
            ("attendees", "Dr A, Ms B"),
            ("report_data_version", &version),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = get(store, "/sites/NGH/compliance", Some(&who)).await;
    assert!(
        page.body
            .contains(&format!("last meeting on {today}</td><td>yes</td>")),
        "{}",
        page.body
    );
    let lead = post(
        store,
        "/sites/NGH/governance-lead",
        Some(&who),
        Some(&who.csrf),
        &[
            ("governance_lead_name", "Dr Newly Appointed"),
            ("governance_lead_informed_on", "2024-02-01"),
        ],
    )
    .await;
    assert_eq!(lead.status, 303, "{}", lead.body);
    let page = get(store, "/sites/NGH/compliance", Some(&who)).await;
    assert!(
        page.body
            .contains("informed on 2024-02-01 (Dr Newly Appointed)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_adds_a_user_and_changes_their_access_with_a_reason() {
    let world = world().await;
    let store = &world.store;
    let admin = user(store, "the.admin", Role::Admin, SiteAccess::All).await;
    let who = session(store, &admin).await;
    let csrf = Some(who.csrf.as_str());
    let weak = post(
        store,
        "/admin/users/new",
        Some(&who),
        csrf,
        &[
            ("username", "new.surgeon"),
            ("role", "clinician"),
            ("site", "NGH"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("at least 12 characters"));
    assert!(weak.body.contains("value=\"new.surgeon\""), "kept as typed");
    assert!(
        !weak.body.contains("value=\"short\""),
        "the password is not sent back"
    );
    let created = post(
        store,
        "/admin/users/new",
        Some(&who),
        csrf,
        &[
            ("username", "new.surgeon"),
            ("role", "clinician"),
            ("site", "NGH"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let new = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username.as_str() == "new.surgeon")
        .unwrap();
    let path = format!("/admin/users/{}/access", new.id);
    let no_reason = post(
        store,
        &path,
        Some(&who),
        csrf,
        &[
            ("role", "governance_lead"),
            ("site", "NGH"),
            ("site", "OTH"),
        ],
    )
    .await;
    assert_eq!(no_reason.status, 422);
    let changed = post(
        store,
        &path,
        Some(&who),
        csrf,
        &[
            ("role", "governance_lead"),
            ("site", "NGH"),
            ("site", "OTH"),
            ("reason", "appointed governance lead for both sites"),
        ],
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let log = store.audit_log(Some(new.id), 5).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e.actor == "the.admin"));
    assert_eq!(
        log[0].reason.as_deref(),
        Some("appointed governance lead for both sites")
    );
    let list = get(store, "/admin/users", Some(&who)).await;
    assert!(list.body.contains("Governance lead"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_of_a_patient_and_every_report_is_in_the_access_log() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let page = get(store, &format!("/patients/{}", world.a.id), Some(&who)).await;
    assert_eq!(page.status, 200);
    let report = get(store, "/api/v1/outcomes?site=NGH", Some(&who)).await;
    assert_eq!(report.status, 200);
    // A refused request shows nothing, so it logs nothing.
    let other = get(store, &format!("/patients/{}", world.b.id), Some(&who)).await;
    assert_eq!(other.status, 404);

    let researcher = user(store, "res.ngh", Role::Researcher, ngh()).await;
    let rwho = session(store, &researcher).await;
    let pseudonym = PseudonymKey::new(store.pseudonym_secret()).patient(world.a.id);
    let research = get(
        store,
        &format!("/research/patients/{pseudonym}"),
        Some(&rwho),
    )
    .await;
    assert_eq!(research.status, 200);

    let admin = user(store, "admin.all", Role::Admin, SiteAccess::All).await;
    let awho = session(store, &admin).await;
    let log = get(store, "/admin/access?patient=p-ngh-0018", Some(&awho)).await;
    assert_eq!(log.status, 200);
    let rows: Vec<&str> = log
        .body
        .lines()
        .filter(|l| l.starts_with("<tr><td>"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", log.body);
    assert!(
        rows.iter()
            .any(|r| r.contains("res.ngh") && r.contains("viewed a de-identified patient"))
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("clin.ngh") && r.contains("viewed a patient"))
    );
    let of_user = get(store, "/admin/access?user=clin.ngh", Some(&awho)).await;
    assert!(
        of_user.body.contains("generated a report"),
        "{}",
        of_user.body
    );
    assert!(of_user.body.contains("site=NGH"));
    assert!(!of_user.body.contains(&world.b.id.to_string()));
    let events = store
        .access_log(&pdva_store::AccessQuery::default())
        .await
        .unwrap();
    assert!(events.iter().all(|e| e.patient_id != Some(world.b.id)));
}
