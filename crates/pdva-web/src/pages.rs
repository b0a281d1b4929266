//! Page handlers: extract, call the store, render.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use pdva_store::SiteCounts;

use crate::{AppState, WebError};

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    data_version: String,
    sites: Vec<SiteCounts>,
    total: SiteCounts,
}

/// The registry's counts per site.
#[tracing::instrument(skip_all)]
pub(crate) async fn index(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    let sites = state.store.site_counts().await?;
    let total = SiteCounts {
        site_code: String::new(),
        site_name: String::new(),
        patients: sites.iter().map(|s| s.patients).sum(),
        procedures: sites.iter().map(|s| s.procedures).sum(),
        visits: sites.iter().map(|s| s.visits).sum(),
        deaths: sites.iter().map(|s| s.deaths).sum(),
    };
    let page = IndexPage {
        data_version: state.store.data_version().await?.to_string(),
        sites,
        total,
    };
    Ok(Html(page.render()?))
}

/// Liveness: the database answers.
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<&'static str, WebError> {
    state.store.data_version().await?;
    Ok("ok")
}
