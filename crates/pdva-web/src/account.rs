//! The signed-in user's own password (`/account/password`): changed by
//! giving the current one, and checked by the same rule as a new user's
//! first password ([`Password::parse`]). A user whose password an
//! administrator reset is sent here by the guard until they have chosen a
//! new one. The store audits the change and ends the user's other sessions;
//! the one in use stays signed in. Wrong current passwords count toward the
//! sign-in lock-out, and the one that locks the account signs the user out.

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use pdva_store::{Password, StoreError};
use serde::Deserialize;

use crate::auth::{SESSION_COOKIE, cookies};
use crate::authz::Caller;
use crate::forms::Submitted;
use crate::patients::Nav;
use crate::{AppState, WebError};

/// The change-password form's address.
pub const CHANGE_PASSWORD_PATH: &str = "/account/password";

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    /// An administrator reset the password: a new one is needed first.
    forced: bool,
    /// The password was just changed.
    changed: bool,
    errors: BTreeMap<&'static str, String>,
}

impl PasswordPage {
    fn error(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
}

/// Query of the form: `changed=yes` after a change.
#[derive(Debug, Deserialize)]
pub(crate) struct PasswordQuery {
    changed: Option<String>,
}

fn page_of(caller: &Caller, changed: bool, errors: BTreeMap<&'static str, String>) -> PasswordPage {
    PasswordPage {
        nav: Nav::of(caller),
        forced: caller.user().must_change_password,
        changed,
        errors,
    }
}

/// The form (and, after a change, the confirmation).
pub(crate) async fn page(
    Extension(caller): Extension<Caller>,
    Query(q): Query<PasswordQuery>,
) -> Result<Html<String>, WebError> {
    let changed = q.changed.as_deref() == Some("yes");
    Ok(Html(page_of(&caller, changed, BTreeMap::new()).render()?))
}

/// Changes the signed-in user's password. Passwords are never sent back.
#[tracing::instrument(skip_all)]
pub(crate) async fn change(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = Submitted::parse(pairs)?;
    let mut errors = BTreeMap::new();
    let current = form.one("current_password");
    if current.is_empty() {
        errors.insert("current_password", "Enter your current password.".into());
    }
    let new = Password::parse(form.one("new_password"))
        .map_err(|e| errors.insert("new_password", format!("The new password {}.", e.rule)))
        .ok();
    if form.one("repeat_password") != form.one("new_password") {
        errors.insert(
            "repeat_password",
            "Does not match the new password: type it again.".into(),
        );
    }
    if let (Some(new), true) = (new, errors.is_empty()) {
        // The session in use stays signed in; the user's others end.
        let token = cookies(&headers).get(SESSION_COOKIE).cloned();
        match state
            .store
            .change_own_password(caller.user().id, current, new, token.as_deref())
            .await
        {
            Ok(user) => {
                tracing::info!(user = %user.username, "password changed");
                return Ok(
                    Redirect::to(&format!("{CHANGE_PASSWORD_PATH}?changed=yes")).into_response()
                );
            }
            Err(StoreError::WrongPassword) => {
                // The try that locks the account also ends its sessions,
                // this one too: say so on the sign-in page.
                let signed_out = match token.as_deref() {
                    Some(t) => state.store.session(t, chrono::Utc::now()).await?.is_none(),
                    None => false,
                };
                if signed_out {
                    return Ok(Redirect::to("/sign-in?locked=yes").into_response());
                }
                errors.insert(
                    "current_password",
                    "This is not your current password, or there were too many wrong tries (each counts toward the sign-in lock-out: wait a minute and try again). Nothing was changed.".into(),
                );
            }
            Err(StoreError::Invalid(_)) => {
                errors.insert(
                    "new_password",
                    "The new password is your current one: choose a different one.".into(),
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    let page = page_of(&caller, false, errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}
