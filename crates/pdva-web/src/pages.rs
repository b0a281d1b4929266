//! Page handlers: extract, call the store, render.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use pdva_store::SiteCounts;

use crate::authz::{Audience, Caller};
use crate::patients::Nav;
use crate::{AppState, WebError};

/// The front page of someone not signed in: the way to sign in, and
/// nothing about the registry's contents.
#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    data_version: String,
}

/// The start page of a signed-in user (where sign-in lands by default):
/// the menu, and the counts of the sites the user sees.
#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    /// The audit-chain head the counts were read at.
    data_version: String,
    /// The patient list of the caller's audience.
    patients: &'static str,
    /// Researchers get no raw counts: they would count patients outside the
    /// research population, without disclosure control.
    research: bool,
    sites: Vec<SiteCounts>,
    total: SiteCounts,
}

/// `/`: the way to sign in, or, once signed in, the start page with the
/// counts of the sites the user sees.
#[tracing::instrument(skip_all)]
pub(crate) async fn index(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let Some(session) = &caller.session else {
        let page = IndexPage {
            data_version: state.store.data_version().await?.to_string(),
        };
        return Ok(Html(page.render()?));
    };
    let research = caller.audience() == Audience::Research;
    let sites: Vec<SiteCounts> = if research {
        Vec::new()
    } else {
        let visible = crate::patients::visible_sites(&session.user);
        state
            .store
            .site_counts()
            .await?
            .into_iter()
            .filter(|c| {
                visible
                    .as_ref()
                    .is_none_or(|v| v.iter().any(|s| s.as_str() == c.site_code))
            })
            .collect()
    };
    let total = SiteCounts {
        site_code: String::new(),
        site_name: String::new(),
        patients: sites.iter().map(|s| s.patients).sum(),
        procedures: sites.iter().map(|s| s.procedures).sum(),
        visits: sites.iter().map(|s| s.visits).sum(),
        deaths: sites.iter().map(|s| s.deaths).sum(),
    };
    let page = HomePage {
        nav: Nav::of(&caller),
        data_version: state.store.data_version().await?.to_string(),
        patients: if research {
            "/research/patients"
        } else {
            "/patients"
        },
        research,
        sites,
        total,
    };
    Ok(Html(page.render()?))
}

/// The registry's one stylesheet, compiled into the binary (nothing is
/// fetched from elsewhere, and the Content-Security-Policy allows styles from
/// this origin only).
pub(crate) async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/registry.css"),
    )
}

/// Liveness: the database answers.
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<&'static str, WebError> {
    state.store.data_version().await?;
    Ok("ok")
}
