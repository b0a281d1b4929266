//! The JSON API: extract, call the store and the outcomes engine, return
//! the engine's report document as it is.

use axum::Json;
use axum::extract::{Extension, Query, State};
use chrono::NaiveDate;
use pdva_outcomes::{Filter, OutcomesReport};
use serde::Deserialize;

use crate::authz::Caller;
use crate::{AppState, WebError};

/// Query string of `/api/v1/outcomes`; empty values mean "no filter".
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OutcomesQuery {
    site: Option<String>,
    operator: Option<String>,
    from: Option<String>,
    to: Option<String>,
    as_of: Option<String>,
}

fn date(field: &'static str, value: Option<String>) -> Result<Option<NaiveDate>, WebError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            WebError::Store(pdva_store::StoreError::Invalid(format!(
                "{field}: \"{v}\" is not a date (YYYY-MM-DD)"
            )))
        }),
    }
}

/// `GET /api/v1/outcomes?site=&operator=&from=&to=&as_of=`: the outcomes
/// report (the same document as `pdva report outcomes --format json`), in
/// the caller's role's form: for a researcher the research form (as of
/// today, dates snapped to quarters, disclosure-controlled; `--research` on
/// the command line).
#[tracing::instrument(skip_all)]
pub(crate) async fn outcomes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<OutcomesQuery>,
) -> Result<Json<OutcomesReport>, WebError> {
    let filter = Filter {
        site: q.site.filter(|s| !s.trim().is_empty()),
        operator: q.operator.filter(|s| !s.trim().is_empty()),
        from: date("from", q.from)?,
        to: date("to", q.to)?,
    };
    let today = chrono::Local::now().date_naive();
    let as_of = date("as_of", q.as_of)?.unwrap_or(today);
    let report = crate::outcomes::report(&state, &caller, filter, as_of, today).await?;
    Ok(Json(report.report.clone()))
}
