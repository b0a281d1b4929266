//! Accounts on the web (issue 17 item 11) and error pages in the layout
//! (item 8): a user changes their own password by giving the current one;
//! an administrator's reset makes the user choose a new password at their
//! next sign-in, before anything else and before their API tokens work
//! again; the last active administrator cannot remove their own rights;
//! a refusal or error is a page with the menu and what to do next.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use pdva_store::{Role, SiteAccess, Store};

const NEW_PASSWORD: &str = "lantern orchard pebble tide";

/// The sign-in form's double-submit cookie and token, as its page sets them.
fn sign_in_form() -> Signed {
    Signed {
        cookie: "pdva_sign_in_csrf=feedface".into(),
        csrf: "feedface".into(),
    }
}

/// Signs in through the form: the answer, and the session it started (if
/// any) with the CSRF token of the page it leads to.
async fn sign_in(store: &Store, username: &str, password: &str) -> (Answer, Option<Signed>) {
    let form = sign_in_form();
    let answer = post(
        store,
        "/sign-in",
        Some(&form),
        Some(&form.csrf),
        &[
            ("username", username),
            ("password", password),
            ("next", "/patients"),
        ],
    )
    .await;
    let Some(cookie) = answer
        .set_cookies
        .iter()
        .find(|c| c.starts_with("pdva_session=") && !c.starts_with("pdva_session=;"))
        .map(|c| c.split(';').next().unwrap().to_owned())
    else {
        return (answer, None);
    };
    let mut signed = Signed {
        cookie,
        csrf: String::new(),
    };
    let page = get(store, "/account/password", Some(&signed)).await;
    signed.csrf = csrf_of(&page.body);
    (answer, Some(signed))
}

/// The CSRF token of a page's forms.
fn csrf_of(body: &str) -> String {
    body.split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// A request with an API token and nothing else.
async fn bearer_get(store: &Store, path: &str, token: &str) -> Answer {
    let r = Request::get(path)
        .header("host", HOST)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(store, r).await
}

/// Whether a page is in the application's layout: the menu, with the way
/// to change one's password.
fn in_layout(body: &str) -> bool {
    body.contains("<nav aria-label=\"Main\">") && body.contains("href=\"/account/password\"")
}

/// Someone at a signed-in screen guessing the password: each wrong guess
/// counts toward the sign-in lock-out, and the one that locks the account
/// signs them out, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_the_current_password_locks_the_account_and_signs_out() {
    let w = world().await;
    let s = &w.store;
    let clin = user(s, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(s, &clin).await;
    for attempt in 1..=pdva_store::FAILURES_BEFORE_LOCK {
        let answer = post(
            s,
            "/account/password",
            Some(&who),
            Some(&who.csrf),
            &[
                ("current_password", "a guess at it"),
                ("new_password", NEW_PASSWORD),
                ("repeat_password", NEW_PASSWORD),
            ],
        )
        .await;
        if attempt < pdva_store::FAILURES_BEFORE_LOCK {
            assert_eq!(answer.status, 422, "{}", answer.body);
        } else {
            assert_eq!(answer.status, 303, "{}", answer.body);
            assert_eq!(answer.location, "/sign-in?locked=yes");
        }
    }
    // Signed out: the session opens nothing.
    let home = get(s, "/patients", Some(&who)).await;
    assert!(!home.allowed(), "{} {}", home.status, home.location);
    let page = get(s, "/sign-in?locked=yes", None).await;
    assert!(
        page.body
            .contains("You were signed out: too many wrong passwords"),
        "{}",
        page.body
    );
    // And the right password does not sign in while the lock lasts.
    let (refused, session) = sign_in(s, "clin.ngh", PASSWORD).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(session.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_changes_their_own_password_giving_the_current_one() {
    let w = world().await;
    let s = &w.store;
    let clin = user(s, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(s, &clin).await;
    let elsewhere = session(s, &clin).await;
    let form = get(s, "/account/password", Some(&who)).await;
    assert_eq!(form.status, 200);
    assert!(in_layout(&form.body), "{}", form.body);
    assert!(form.body.contains("name=\"current_password\""));
    assert!(form.body.contains(&format!("value=\"{}\"", who.csrf)));

    let change = |current: &'static str, new: &'static str, repeat: &'static str| {
        let who = &who;
        async move {
            post(
                s,
                "/account/password",
                Some(who),
                Some(&who.csrf),
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("repeat_password", repeat),
                ],
            )
            .await
        }
    };
    // A wrong current password: a clear error on the form, nothing changed.
    let wrong = change("not my password at all", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(
        wrong
            .body
            .contains("This is not your current password, or there were too many wrong tries"),
        "{}",
        wrong.body
    );
    assert!(
        !wrong.body.contains(NEW_PASSWORD),
        "a password was sent back"
    );
    // The same strength rule as a new user's password; the repeat must match.
    let short = change(PASSWORD, "too short", "too short").await;
    assert_eq!(short.status, 422);
    assert!(
        short.body.contains("at least 12 characters"),
        "{}",
        short.body
    );
    let mismatch = change(PASSWORD, NEW_PASSWORD, "lantern orchard pebble").await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("Does not match the new password"));
    // Without the form's CSRF token: refused.
    let forged = post(
        s,
        "/account/password",
        Some(&who),
        None,
        &[
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("repeat_password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(forged.status, 403);
    assert!(matches!(
        s.sign_in("clin.ngh", PASSWORD, chrono::Utc::now())
            .await
            .unwrap(),
        pdva_store::SignIn::Accepted(_)
    ));

    let changed = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(changed.location, "/account/password?changed=yes");
    let confirmed = get(s, &changed.location, Some(&who)).await;
    assert!(confirmed.body.contains("Your password has been changed"));
    // This session goes on; the user's other one was ended.
    assert_eq!(get(s, "/patients", Some(&who)).await.status, 200);
    assert!(
        get(s, "/patients", Some(&elsewhere))
            .await
            .location
            .starts_with("/sign-in")
    );
    // The new password signs in, the old one does not.
    let (old, none) = sign_in(s, "clin.ngh", PASSWORD).await;
    assert_eq!(old.status, 401);
    assert!(none.is_none());
    let (new, session) = sign_in(s, "clin.ngh", NEW_PASSWORD).await;
    assert_eq!(new.status, 303);
    assert_eq!(new.location, "/patients");
    assert!(session.is_some());
    let log = s.audit_log(Some(clin.id), 5).await.unwrap();
    assert_eq!(log[0].actor, "clin.ngh");
    assert_eq!(
        log[0].reason.as_deref(),
        Some("password changed by the user")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_reset_makes_the_user_choose_a_new_password_first() {
    let w = world().await;
    let s = &w.store;
    let admin = user(s, "the.admin", Role::Admin, SiteAccess::All).await;
    let clin = user(s, "clin.ngh", Role::Clinician, ngh()).await;
    let token = s
        .create_api_token(&clin.actor(), clin.id, "script", None, chrono::Utc::now())
        .await
        .unwrap()
        .token;
    let open = session(s, &clin).await;
    let who = session(s, &admin).await;
    let users = get(s, "/admin/users", Some(&who)).await;
    let path = format!("/admin/users/{}/password", clin.id);
    assert!(
        users.body.contains(&format!("href=\"{path}\"")),
        "{}",
        users.body
    );
    let form = get(s, &path, Some(&who)).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"reason\""));

    let no_reason = post(s, &path, Some(&who), Some(&who.csrf), &[("reason", " ")]).await;
    assert_eq!(no_reason.status, 422);
    assert!(
        no_reason.body.contains("give a reason"),
        "{}",
        no_reason.body
    );
    // Not one's own: that is what Change password is for.
    let own = post(
        s,
        &format!("/admin/users/{}/password", admin.id),
        Some(&who),
        Some(&who.csrf),
        &[("reason", "testing")],
    )
    .await;
    assert_eq!(own.status, 422);
    assert!(own.body.contains("your own account"));

    let reset = post(
        s,
        &path,
        Some(&who),
        Some(&who.csrf),
        &[("reason", "forgot it; identity checked in person")],
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let temporary = reset
        .body
        .split("<code class=\"temporary-password\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert!(temporary.len() >= 12, "{temporary}");
    let log = s.audit_log(Some(clin.id), 5).await.unwrap();
    assert_eq!(log[0].actor, "the.admin");
    assert_eq!(
        log[0].reason.as_deref(),
        Some("password reset: forgot it; identity checked in person")
    );
    let listed = get(s, "/admin/users", Some(&who)).await;
    assert!(listed.body.contains("must choose a new password"));

    // The user's session ended; the old password no longer signs in.
    assert!(
        get(s, "/patients", Some(&open))
            .await
            .location
            .starts_with("/sign-in")
    );
    assert_eq!(sign_in(s, "clin.ngh", PASSWORD).await.0.status, 401);
    // The temporary one does, straight to the change-password form...
    let (answer, forced) = sign_in(s, "clin.ngh", &temporary).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location, "/account/password");
    let forced = forced.unwrap();
    // ...and every other page leads there until a new one is chosen.
    for page in ["/patients", "/", "/worklist", "/account/tokens"] {
        let answer = get(s, page, Some(&forced)).await;
        assert_eq!(answer.status, 303, "{page}");
        assert_eq!(answer.location, "/account/password", "{page}");
    }
    let form = get(s, "/account/password", Some(&forced)).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("An administrator has reset your password")
    );
    assert_eq!(
        get(s, "/static/registry.css", Some(&forced)).await.status,
        200
    );
    // The account's API tokens are refused meanwhile, in the API's shape.
    let api = bearer_get(s, "/api/v1/patients", &token).await;
    assert_eq!(api.status, 403, "{}", api.body);
    assert!(
        api.body.starts_with("{\"error\":{\"status\":403"),
        "{}",
        api.body
    );
    assert!(api.body.contains("choose a new password"));

    let changed = post(
        s,
        "/account/password",
        Some(&forced),
        Some(&forced.csrf),
        &[
            ("current_password", temporary.as_str()),
            ("new_password", NEW_PASSWORD),
            ("repeat_password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    // Then the registry is theirs again, on the web and through the API.
    assert_eq!(get(s, "/patients", Some(&forced)).await.status, 200);
    assert_eq!(bearer_get(s, "/api/v1/patients", &token).await.status, 200);
    assert_eq!(sign_in(s, "clin.ngh", &temporary).await.0.status, 401);
    let (again, _) = sign_in(s, "clin.ngh", NEW_PASSWORD).await;
    assert_eq!(again.location, "/patients");
    let log = s.audit_log(Some(clin.id), 5).await.unwrap();
    assert_eq!(log[0].actor, "clin.ngh");
    assert!(
        s.verify_audit(&pdva_store::NoProgress)
            .await
            .unwrap()
            .is_intact()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_administrator_cannot_remove_their_own_rights() {
    let w = world().await;
    let s = &w.store;
    let admin = user(s, "only.admin", Role::Admin, SiteAccess::All).await;
    let who = session(s, &admin).await;
    let path = format!("/admin/users/{}/access", admin.id);
    let form = get(s, &path, Some(&who)).await;
    assert!(
        form.body
            .contains("is the registry&#39;s only active administrator")
            || form
                .body
                .contains("is the registry's only active administrator"),
        "{}",
        form.body
    );
    for fields in [
        vec![
            ("role", "clinician"),
            ("site", "NGH"),
            ("reason", "stepping down"),
        ],
        vec![
            ("role", "admin"),
            ("all_sites", "yes"),
            ("disabled", "yes"),
            ("reason", "leaving"),
        ],
    ] {
        let refused = post(s, &path, Some(&who), Some(&who.csrf), &fields).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert!(
            refused
                .body
                .contains("Make another user an administrator first"),
            "{}",
            refused.body
        );
    }
    let kept = s.users().await.unwrap();
    assert_eq!(kept, vec![admin.clone()]);
    assert_eq!(get(s, "/admin/users", Some(&who)).await.status, 200);
    // With a second administrator, the first may step down.
    user(s, "second.admin", Role::Admin, SiteAccess::All).await;
    let form = get(s, &path, Some(&who)).await;
    assert!(!form.body.contains("only active administrator"));
    let stepped = post(
        s,
        &path,
        Some(&who),
        Some(&who.csrf),
        &[
            ("role", "clinician"),
            ("site", "NGH"),
            ("reason", "stepping down"),
        ],
    )
    .await;
    assert_eq!(stepped.status, 303, "{}", stepped.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_are_in_the_layout_and_say_what_to_do_next() {
    let w = world().await;
    let s = &w.store;
    let clin = user(s, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(s, &clin).await;

    // 403: a page of another role.
    let forbidden = get(s, "/admin/users", Some(&who)).await;
    assert_eq!(forbidden.status, 403);
    assert!(in_layout(&forbidden.body), "{}", forbidden.body);
    assert!(forbidden.body.contains("<h1>Not allowed</h1>"));
    assert!(
        forbidden
            .body
            .contains("Your role does not give you access to this page.")
    );
    assert!(
        forbidden
            .body
            .contains("ask your registry administrator for the access")
    );

    // 404: another site's patient, and an address that does not exist.
    for path in [format!("/patients/{}", w.b.id), "/no/such/page".to_owned()] {
        let missing = get(s, &path, Some(&who)).await;
        assert_eq!(missing.status, 404, "{path}");
        assert!(in_layout(&missing.body), "{path}: {}", missing.body);
        assert!(missing.body.contains("<h1>Not found</h1>"));
        assert!(
            missing.body.contains("Check the address"),
            "{}",
            missing.body
        );
    }

    // 422: a form with a field sent twice.
    let refused = post(
        s,
        &format!("/patients/{}/edit", w.a.id),
        Some(&who),
        Some(&who.csrf),
        &[
            ("family_name", "One"),
            ("family_name", "Two"),
            ("expected_version", "1"),
        ],
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(in_layout(&refused.body), "{}", refused.body);
    assert!(refused.body.contains("more than once"), "{}", refused.body);
    assert!(refused.body.contains("correct what the message says"));

    // Not signed in: a plain page, with the way to sign in and no menu.
    let anonymous = get(s, "/no/such/page", None).await;
    assert_eq!(anonymous.status, 404);
    assert!(!anonymous.body.contains("<nav"), "{}", anonymous.body);
    assert!(anonymous.body.contains("href=\"/sign-in\""));
    assert!(anonymous.body.contains("Check the address"));

    // The JSON API keeps its one error shape.
    let token = s
        .create_api_token(&clin.actor(), clin.id, "script", None, chrono::Utc::now())
        .await
        .unwrap()
        .token;
    for path in [
        format!("/api/v1/patients/{}", w.b.id),
        "/api/v1/nothing".into(),
    ] {
        let api = bearer_get(s, &path, &token).await;
        assert_eq!(api.status, 404);
        assert_eq!(
            api.body,
            "{\"error\":{\"status\":404,\"message\":\"Not found\",\"needs_acknowledgement\":false,\"findings\":[]}}"
        );
    }
}
