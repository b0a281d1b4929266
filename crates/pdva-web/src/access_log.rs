//! The access log page for administrators: who saw which patient, report
//! or export, and when, newest first, filtered by patient or user.

use std::collections::HashMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use pdva_domain::RecordId;
use pdva_store::{AccessQuery, AnyRecord};

use crate::authz::Caller;
use crate::patients::Nav;
use crate::{AppState, WebError};

/// The page's filters.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct AccessFilter {
    patient: Option<String>,
    user: Option<String>,
}

struct AccessRow {
    at: String,
    actor: String,
    role: String,
    action: &'static str,
    patient: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct AccessLogPage {
    nav: Nav,
    patient: String,
    user: String,
    message: String,
    rows: Vec<AccessRow>,
}

/// Rows shown at most.
const SHOWN: i64 = 500;

/// `GET /admin/access?patient=&user=`.
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(filter): Query<AccessFilter>,
) -> Result<Html<String>, WebError> {
    let patient_text = filter.patient.unwrap_or_default().trim().to_owned();
    let user = filter.user.unwrap_or_default().trim().to_owned();
    let mut message = String::new();
    let mut query = AccessQuery {
        patient_id: None,
        actor: (!user.is_empty()).then(|| user.clone()),
        limit: Some(SHOWN),
    };
    let mut rows = Vec::new();
    let mut searchable = true;
    if !patient_text.is_empty() {
        match state.store.patient_named(&patient_text).await? {
            Some(id) => query.patient_id = Some(id),
            None => {
                message =
                    format!("No patient has the registry id or record id \"{patient_text}\".");
                searchable = false;
            }
        }
    }
    if searchable {
        let events = state.store.access_log(&query).await?;
        let mut registry_ids: HashMap<RecordId, String> = HashMap::new();
        for e in &events {
            if let Some(p) = e.patient_id
                && !registry_ids.contains_key(&p)
            {
                let shown = match state.store.get(p).await {
                    Ok(stored) => match stored.record {
                        AnyRecord::Patient(patient) => patient.registry_id.to_string(),
                        _ => p.to_string(),
                    },
                    Err(_) => p.to_string(),
                };
                registry_ids.insert(p, shown);
            }
        }
        rows = events
            .into_iter()
            .map(|e| AccessRow {
                at: e.at,
                actor: e.actor,
                role: e.role.replace('_', " "),
                action: e.action.label(),
                patient: e
                    .patient_id
                    .and_then(|p| registry_ids.get(&p).cloned())
                    .unwrap_or_default(),
                detail: e.detail.unwrap_or_default(),
            })
            .collect();
    }
    let page = AccessLogPage {
        nav: Nav::of(&caller),
        patient: patient_text,
        user,
        message,
        rows,
    };
    Ok(Html(page.render()?))
}
