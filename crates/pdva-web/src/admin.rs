//! Administration: the users and their rights. Every creation, every
//! change of a role, sites or status and every password reset is audited by
//! the store under the administrator's name. The store refuses a change
//! that would leave no active administrator; the form says so beforehand.
//!
//! A password reset makes a temporary password that the registry generates
//! (so none is ever chosen weak or reused) and shows once to the
//! administrator, who gives it to the user by a separate, safe route; the
//! user must choose their own at their next sign-in.

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pdva_domain::RecordId;
use pdva_domain::values::SiteCode;
use pdva_store::{NewUser, Password, Role, SiteAccess, StoreError, User, Username};

use crate::forms::Submitted;

use crate::authz::Caller;
use crate::patients::Nav;
use crate::{AppState, WebError};

struct UserRow {
    id: String,
    username: String,
    display_name: String,
    role: &'static str,
    sites: String,
    disabled: bool,
    must_change_password: bool,
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
            id: u.id.to_string(),
            username: u.username.to_string(),
            display_name: u.display_name,
            role: u.role.label(),
            disabled: u.disabled,
            must_change_password: u.must_change_password,
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

struct RoleOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

struct SiteOption {
    code: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "user_form.html")]
struct UserForm {
    nav: Nav,
    title: String,
    action: String,
    editing: bool,
    username: String,
    display_name: String,
    roles: Vec<RoleOption>,
    sites: Vec<SiteOption>,
    all_sites: bool,
    disabled: bool,
    reason: String,
    /// The user is the registry's only active administrator.
    last_admin: bool,
    errors: BTreeMap<&'static str, String>,
}

impl UserForm {
    fn error(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
}

async fn user_form(
    state: &AppState,
    caller: &Caller,
    existing: Option<&User>,
    form: &Submitted,
    errors: BTreeMap<&'static str, String>,
) -> Result<UserForm, WebError> {
    let last_admin = match existing {
        Some(u) if u.is_active_admin() => {
            let users = state.store.users().await?;
            !users.iter().any(|o| o.id != u.id && o.is_active_admin())
        }
        _ => false,
    };
    let picked = form.all("site");
    let role = form.one("role");
    let sites = state
        .store
        .sites()
        .await?
        .into_iter()
        .map(|(_, s)| SiteOption {
            checked: picked.contains(&s.site_code.to_string()),
            code: s.site_code.to_string(),
        })
        .collect();
    Ok(UserForm {
        nav: Nav::of(caller),
        title: match existing {
            Some(u) => format!("Change the access of {}", u.username),
            None => "Add a user".into(),
        },
        action: match existing {
            Some(u) => format!("/admin/users/{}/access", u.id),
            None => "/admin/users/new".into(),
        },
        editing: existing.is_some(),
        username: form.one("username").to_owned(),
        display_name: form.one("display_name").to_owned(),
        roles: Role::ALL
            .iter()
            .map(|r| RoleOption {
                value: r.as_str(),
                label: r.label(),
                selected: r.as_str() == role,
            })
            .collect(),
        sites,
        all_sites: form.one("all_sites") == "yes",
        disabled: form.one("disabled") == "yes",
        reason: form.one("reason").to_owned(),
        last_admin,
        errors,
    })
}

fn access_of(
    form: &Submitted,
    errors: &mut BTreeMap<&'static str, String>,
) -> Option<(Role, SiteAccess)> {
    let role = Role::parse(form.one("role"))
        .map_err(|e| errors.insert("role", e.to_string()))
        .ok();
    let sites = if form.one("all_sites") == "yes" {
        Some(SiteAccess::All)
    } else {
        let parsed: Result<Vec<SiteCode>, _> = form
            .all("site")
            .iter()
            .map(|s| SiteCode::parse(s))
            .collect();
        match parsed {
            Ok(s) if s.is_empty() => {
                errors.insert("sites", "choose one or more sites, or all sites".into());
                None
            }
            Ok(s) => Some(SiteAccess::Sites(s)),
            Err(e) => {
                errors.insert("sites", e.to_string());
                None
            }
        }
    };
    Some((role?, sites?))
}

/// The form of a new user.
pub(crate) async fn new_user_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    Ok(Html(
        user_form(
            &state,
            &caller,
            None,
            &Submitted::default(),
            BTreeMap::new(),
        )
        .await?
        .render()?,
    ))
}

/// Creates a user.
#[tracing::instrument(skip_all)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let mut form = Submitted::parse(pairs)?;
    let mut errors = BTreeMap::new();
    let username = Username::parse(form.one("username"))
        .map_err(|e| errors.insert("username", e.to_string()))
        .ok();
    let password = Password::parse(form.one("password"))
        .map_err(|e| errors.insert("password", e.to_string()))
        .ok();
    let access = access_of(&form, &mut errors);
    // The password is never sent back.
    form.0.remove("password");
    if let (Some(username), Some(password), Some((role, sites)), true) =
        (username, password, access, errors.is_empty())
    {
        let display_name = match form.one("display_name") {
            "" => username.to_string(),
            name => name.to_owned(),
        };
        match state
            .store
            .create_user(
                &caller.user().actor(),
                NewUser {
                    username,
                    display_name,
                    role,
                    sites,
                    password,
                    clinician: None,
                },
            )
            .await
        {
            Ok(_) => return Ok(Redirect::to("/admin/users").into_response()),
            Err(StoreError::Invalid(message)) => {
                errors.insert("general", message);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let page = user_form(&state, &caller, None, &form, errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

async fn user_by_id(state: &AppState, id: &str) -> Result<User, WebError> {
    let id: RecordId = id.parse().map_err(|_| WebError::NotFound)?;
    state
        .store
        .users()
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .ok_or(WebError::NotFound)
}

/// The form to change a user's role, sites or status.
pub(crate) async fn access_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let user = user_by_id(&state, &id).await?;
    let mut form = Submitted::default();
    form.0
        .insert("role".into(), vec![user.role.as_str().into()]);
    form.0
        .insert("username".into(), vec![user.username.to_string()]);
    form.0
        .insert("display_name".into(), vec![user.display_name.clone()]);
    match &user.sites {
        SiteAccess::All => {
            form.0.insert("all_sites".into(), vec!["yes".into()]);
        }
        SiteAccess::Sites(s) => {
            form.0
                .insert("site".into(), s.iter().map(ToString::to_string).collect());
        }
    }
    if user.disabled {
        form.0.insert("disabled".into(), vec!["yes".into()]);
    }
    Ok(Html(
        user_form(&state, &caller, Some(&user), &form, BTreeMap::new())
            .await?
            .render()?,
    ))
}

/// Changes a user's role, sites or status, with a reason.
#[tracing::instrument(skip_all)]
pub(crate) async fn change_access(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let user = user_by_id(&state, &id).await?;
    let mut form = Submitted::parse(pairs)?;
    form.0
        .insert("username".into(), vec![user.username.to_string()]);
    form.0
        .insert("display_name".into(), vec![user.display_name.clone()]);
    let mut errors = BTreeMap::new();
    let access = access_of(&form, &mut errors);
    if let (Some((role, sites)), true) = (access, errors.is_empty()) {
        match state
            .store
            .change_user_access(
                &caller.user().actor(),
                user.id,
                role,
                sites,
                form.one("disabled") == "yes",
                form.one("reason"),
            )
            .await
        {
            Ok(_) => return Ok(Redirect::to("/admin/users").into_response()),
            Err(StoreError::ReasonRequired(why)) => {
                errors.insert("reason", why.to_owned());
            }
            Err(StoreError::LastAdministrator) => {
                errors.insert(
                    "general",
                    format!(
                        "Not changed: {} is the registry's only active administrator, so they must stay an administrator and active. Make another user an administrator first.",
                        user.username
                    ),
                );
            }
            Err(StoreError::Invalid(message)) => {
                errors.insert("general", message);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let page = user_form(&state, &caller, Some(&user), &form, errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    nav: Nav,
    id: String,
    username: String,
    display_name: String,
    reason: String,
    error: String,
    /// The temporary password just made (shown this once), or empty.
    temporary: String,
}

fn reset_page(caller: &Caller, user: &User, reason: &str, error: String) -> ResetPage {
    ResetPage {
        nav: Nav::of(caller),
        id: user.id.to_string(),
        username: user.username.to_string(),
        display_name: user.display_name.clone(),
        reason: reason.to_owned(),
        error,
        temporary: String::new(),
    }
}

/// The form to reset a user's password, with a reason.
pub(crate) async fn reset_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let user = user_by_id(&state, &id).await?;
    Ok(Html(
        reset_page(&caller, &user, "", String::new()).render()?,
    ))
}

/// Resets a user's password to a temporary one, shown once.
#[tracing::instrument(skip_all)]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let user = user_by_id(&state, &id).await?;
    let form = Submitted::parse(pairs)?;
    let reason = form.one("reason");
    let error = if user.id == caller.user().id {
        // Resetting one's own would end one's own session for a password
        // one already knows.
        "this is your own account: change your password at Change password instead.".to_owned()
    } else {
        match state
            .store
            .reset_password(&caller.user().actor(), user.id, reason)
            .await
        {
            Ok(temporary) => {
                tracing::info!(user = %user.username, "password reset");
                let mut page = reset_page(&caller, &user, "", String::new());
                page.temporary = temporary.reveal().to_owned();
                return Ok(Html(page.render()?).into_response());
            }
            Err(StoreError::ReasonRequired(why)) => why.to_owned(),
            Err(e) => return Err(e.into()),
        }
    };
    let page = reset_page(&caller, &user, reason, error);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}
