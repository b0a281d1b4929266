//! The JSON API: extract, call the store and the outcomes engine, return
//! the engine's report document as it is.

use axum::Json;
use axum::extract::{Extension, Query, State};
use chrono::NaiveDate;
use pdva_outcomes::{Filter, OutcomesReport};
use serde::Deserialize;

use crate::authz::Caller;
use crate::error::{ApiError, ApiErrorBody};
use crate::{AppState, WebError};
use utoipa::IntoParams;

/// Query string of `/api/v1/outcomes`; empty values mean "no filter".
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OutcomesQuery {
    /// A site code (users who do not see every site must name one of theirs).
    site: Option<String>,
    /// An operator (clinician record id or name).
    operator: Option<String>,
    /// First procedure date (YYYY-MM-DD).
    from: Option<String>,
    /// Last procedure date (YYYY-MM-DD).
    to: Option<String>,
    /// A device system, as recorded (case does not matter).
    device: Option<String>,
    /// The report date (YYYY-MM-DD; today unless given).
    as_of: Option<String>,
}

/// A date of the query (`YYYY-MM-DD`), or none when empty; anything else
/// is answered 422 naming the field, the value and the rule.
pub(crate) fn date(
    field: &'static str,
    value: Option<String>,
) -> Result<Option<NaiveDate>, WebError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            WebError::Store(pdva_store::StoreError::Invalid(format!(
                "{field}: \"{v}\" is not a date (YYYY-MM-DD)"
            )))
        }),
    }
}

/// `GET /api/v1/outcomes?site=&operator=&device=&from=&to=&as_of=`: the outcomes
/// report (the same document as `pdva report outcomes --format json`), in
/// the caller's role's form: for a researcher the research form (as of
/// today, dates snapped to quarters, disclosure-controlled; `--research` on
/// the command line). The funnel plots compare every site and operator
/// with the whole registry for the same dates, and name only the caller's
/// own sites and their operators unless the caller sees every site.
#[utoipa::path(get, path = "/api/v1/outcomes", tag = "outcomes",
    params(OutcomesQuery),
    responses(
        (status = 200, description = "The outcomes report (JSON Schema: crates/pdva-outcomes/schema/outcomes-report.schema.json)", body = serde_json::Value),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "A site must be named", body = ApiErrorBody),
        (status = 404, description = "Not one of the caller's sites", body = ApiErrorBody),
        (status = 422, description = "A bad filter, or a research cohort too small", body = ApiErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub(crate) async fn outcomes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<OutcomesQuery>,
) -> Result<Json<OutcomesReport>, ApiError> {
    let filter = Filter {
        site: q.site.filter(|s| !s.trim().is_empty()),
        operator: q.operator.filter(|s| !s.trim().is_empty()),
        from: date("from", q.from)?,
        to: date("to", q.to)?,
        device: q.device.filter(|s| !s.trim().is_empty()),
        ..Default::default()
    };
    let today = chrono::Local::now().date_naive();
    let as_of = date("as_of", q.as_of)?.unwrap_or(today);
    let kept = crate::outcomes::report(
        &state,
        &caller,
        filter,
        as_of,
        today,
        crate::outcomes::Trends::Without,
    )
    .await?;
    let mut report = kept.report.clone();
    crate::outcomes::FunnelNames::of(&state, &caller)
        .await?
        .apply(&mut report.monitoring.funnels);
    Ok(Json(report))
}
