//! The sign-off queue: the procedures and follow-up visits of the user's
//! sites that await a clinician's sign-off, oldest first, each signed off
//! in one action from the queue itself (clinicians) or seen (governance
//! leads and administrators, who do not sign off).

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::NaiveDate;
use pdva_store::{Role, SignOffQuery};

use crate::authz::Caller;
use crate::patients::Nav;
use crate::{AppState, WebError};

/// The queue's path (the sign-off form returns here when sent from it).
pub(crate) const QUEUE_PATH: &str = "/sign-off";

/// How many records one view of the queue lists.
const LISTED: i64 = 200;

/// The queue's query: `mine=1` for the records the user entered.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct QueueQuery {
    #[serde(default)]
    mine: String,
}

/// One record of the queue.
struct Row {
    patient_path: String,
    registry_id: String,
    site: String,
    record: &'static str,
    date: String,
    entered_by: String,
    entered_on: String,
    days_waiting: i64,
    sign_off: String,
}

#[derive(Template)]
#[template(path = "sign_off.html")]
struct QueuePage {
    nav: Nav,
    mine: bool,
    can_sign_off: bool,
    total: u64,
    rows: Vec<Row>,
}

/// `GET /sign-off`: the records awaiting sign-off at the user's sites.
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<QueueQuery>,
) -> Result<Html<String>, WebError> {
    let user = caller.user();
    let mine = q.mine == "1";
    let username = user.username.to_string();
    let queue = state
        .store
        .awaiting_sign_off(&SignOffQuery {
            sites: &user.sites,
            entered_by: mine.then_some(username.as_str()),
            entered_before: None,
            limit: LISTED,
        })
        .await?;
    let today = chrono::Utc::now().date_naive();
    let rows = queue
        .records
        .into_iter()
        .map(|r| {
            let entered_on = r.entered_at.get(..10).unwrap_or_default().to_owned();
            let days_waiting = NaiveDate::parse_from_str(&entered_on, "%Y-%m-%d")
                .map(|d| (today - d).num_days())
                .unwrap_or_default();
            Row {
                patient_path: format!("/patients/{}#record-{}", r.patient_id, r.record_id),
                registry_id: r.registry_id,
                site: r.site_code,
                record: crate::forms::title_of(r.kind),
                date: r.record_date,
                entered_by: r.entered_by,
                entered_on,
                days_waiting,
                sign_off: format!(
                    "/patients/{}/records/{}/sign-off",
                    r.patient_id, r.record_id
                ),
            }
        })
        .collect();
    Ok(Html(
        QueuePage {
            nav: Nav::of(&caller),
            mine,
            can_sign_off: crate::authz::RECORD_CARE.roles.contains(&user.role),
            total: queue.total,
            rows,
        }
        .render()?,
    ))
}

/// Whether a role has a sign-off queue in its navigation.
pub(crate) fn has_queue(role: Role) -> bool {
    crate::authz::SIGN_OFF_QUEUE.roles.contains(&role)
}
