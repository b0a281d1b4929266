//! Administration: the users and their rights.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use pdva_store::SiteAccess;

use crate::authz::Caller;
use crate::patients::Nav;
use crate::{AppState, WebError};

struct UserRow {
    username: String,
    display_name: String,
    role: &'static str,
    sites: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    users: Vec<UserRow>,
}

/// Every user, their role and sites.
pub(crate) async fn users(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let users = state
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            sites: match &u.sites {
                SiteAccess::All => "all sites".into(),
                SiteAccess::Sites(s) => s.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
            },
            username: u.username.to_string(),
            display_name: u.display_name,
            role: u.role.label(),
            disabled: u.disabled,
        })
        .collect();
    Ok(Html(
        UsersPage {
            nav: Nav::of(&caller),
            users,
        }
        .render()?,
    ))
}
