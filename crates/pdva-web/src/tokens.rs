//! The signed-in user's API tokens (`/account/tokens`): create one (shown
//! once), list them (never the token) and revoke one. Any signed-in user
//! manages their own tokens only; the store refuses another's as not found.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pdva_domain::RecordId;
use pdva_store::{ApiToken, DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, StoreError};

use crate::authz::Caller;
use crate::forms::Submitted;
use crate::patients::Nav;
use crate::{AppState, WebError};

struct TokenRow {
    id: String,
    name: String,
    created_at: String,
    expires_at: String,
    last_used_at: String,
    status: &'static str,
    live: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    nav: Nav,
    tokens: Vec<TokenRow>,
    /// The token just created (shown once), or empty.
    created: String,
    created_name: String,
    error: String,
    name: String,
    default_days: i64,
    max_days: i64,
}

/// A stored time to the minute, as people read it.
fn minute(t: &str) -> String {
    t.get(..16).unwrap_or(t).replace('T', " ")
}

async fn render(
    state: &AppState,
    caller: &Caller,
    created: Option<(String, String)>,
    error: String,
    name: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let now = chrono::Utc::now();
    let tokens = state
        .store
        .api_tokens(caller.user().id)
        .await?
        .iter()
        .map(|t: &ApiToken| TokenRow {
            id: t.id.to_string(),
            name: t.name.clone(),
            created_at: minute(&t.created_at),
            expires_at: minute(&t.expires_at),
            last_used_at: t.last_used_at.as_deref().map(minute).unwrap_or_default(),
            status: if t.revoked_at.is_some() {
                "revoked"
            } else if t.is_live(now) {
                "active"
            } else {
                "expired"
            },
            live: t.is_live(now),
        })
        .collect();
    let (created, created_name) = created.unwrap_or_default();
    let page = TokensPage {
        nav: Nav::of(caller),
        tokens,
        created,
        created_name,
        error,
        name,
        default_days: DEFAULT_TOKEN_DAYS,
        max_days: MAX_TOKEN_DAYS,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The user's tokens and the form to create one.
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, WebError> {
    render(
        &state,
        &caller,
        None,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// Creates a token for the signed-in user and shows it once.
#[tracing::instrument(skip_all)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = Submitted::parse(pairs)?;
    let name = form.one("name").to_owned();
    let days = match form.one("expires_days").trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(d) => Some(d),
            Err(_) => {
                let why = format!("Expires after: \"{d}\" is not a whole number of days");
                return render(
                    &state,
                    &caller,
                    None,
                    why,
                    name,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        },
    };
    let user = caller.user();
    match state
        .store
        .create_api_token(&user.actor(), user.id, &name, days, chrono::Utc::now())
        .await
    {
        Ok(new) => {
            tracing::info!(user = %user.username, token = %new.info.id, "API token created");
            render(
                &state,
                &caller,
                Some((new.token, new.info.name)),
                String::new(),
                String::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(StoreError::Invalid(why)) => {
            render(
                &state,
                &caller,
                None,
                why,
                name,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes one of the signed-in user's tokens.
#[tracing::instrument(skip_all)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id: RecordId = id.parse().map_err(|_| WebError::NotFound)?;
    let user = caller.user();
    state
        .store
        .revoke_api_token(&user.actor(), id, Some(user.id), chrono::Utc::now())
        .await?;
    Ok(Redirect::to("/account/tokens").into_response())
}
