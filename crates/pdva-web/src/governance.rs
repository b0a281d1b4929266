//! Governance records of a site (IPG773 1.2–1.3): that the clinical
//! governance lead was informed, and governance review meetings.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pdva_domain::GovernanceMeeting;
use pdva_store::StoreError;
use serde_json::Value;

use crate::authz::Caller;
use crate::forms::{self, Field, FieldView, Messages, Offered, Submitted};
use crate::patients::Nav;
use crate::{AppState, WebError};

#[derive(Template)]
#[template(path = "simple_form.html")]
struct SimpleForm {
    nav: Nav,
    title: String,
    intro: String,
    back: String,
    action: String,
    fields: Vec<FieldView>,
    general: Vec<String>,
    has_errors: bool,
}

fn render(
    caller: &Caller,
    title: String,
    intro: &str,
    action: &str,
    fields: &[Field],
    form: &Submitted,
    messages: &Messages,
) -> Result<Html<String>, WebError> {
    let site = caller.site.as_ref().ok_or(WebError::NotFound)?;
    Ok(Html(
        SimpleForm {
            nav: Nav::of(caller),
            title,
            intro: intro.to_owned(),
            back: format!("/sites/{site}/compliance"),
            action: action.to_owned(),
            fields: forms::field_views(fields, form, &Offered::default(), messages),
            general: messages.general.clone(),
            has_errors: !messages.errors.is_empty() || !messages.general.is_empty(),
        }
        .render()?,
    ))
}

fn meeting_page(
    caller: &Caller,
    form: &Submitted,
    messages: &Messages,
) -> Result<Html<String>, WebError> {
    let site = caller.site.as_ref().ok_or(WebError::NotFound)?;
    render(
        caller,
        format!("Record a governance review meeting of {site}"),
        "NICE IPG773 1.3: organisations review the outcomes and safety data of everyone having the procedure regularly.",
        &format!("/sites/{site}/governance-meetings/new"),
        forms::GOVERNANCE_MEETING,
        form,
        messages,
    )
}

/// The form of a new governance review meeting, with the data version now.
pub(crate) async fn meeting_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let mut form = Submitted::default();
    form.0.insert(
        "report_data_version".into(),
        vec![state.store.data_version().await?.to_string()],
    );
    meeting_page(&caller, &form, &Messages::default())
}

/// Records a governance review meeting.
#[tracing::instrument(skip_all)]
pub(crate) async fn record_meeting(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let site = caller.site.clone().ok_or(WebError::NotFound)?;
    let form = Submitted::parse(pairs)?;
    let mut fields =
        match forms::parse_fields(forms::GOVERNANCE_MEETING, &form, &Offered::default()) {
            Ok(f) => f,
            Err(errors) => {
                let messages = Messages::from_field_errors(forms::GOVERNANCE_MEETING, &errors);
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    meeting_page(&caller, &form, &messages)?,
                )
                    .into_response());
            }
        };
    fields.insert("site_code".into(), Value::String(site.to_string()));
    let meeting: GovernanceMeeting =
        serde_json::from_value(Value::Object(fields)).map_err(|e| {
            WebError::Store(StoreError::Invalid(format!(
                "governance meeting: could not be read: {e}"
            )))
        })?;
    state
        .store
        .create_governance_meeting(&caller.user().actor(), meeting)
        .await?;
    Ok(Redirect::to(&format!("/sites/{site}/compliance")).into_response())
}

fn lead_page(
    caller: &Caller,
    form: &Submitted,
    messages: &Messages,
) -> Result<Html<String>, WebError> {
    let site = caller.site.as_ref().ok_or(WebError::NotFound)?;
    render(
        caller,
        format!("Record that the governance lead of {site} was informed"),
        "NICE IPG773 1.2.",
        &format!("/sites/{site}/governance-lead"),
        forms::GOVERNANCE_LEAD,
        form,
        messages,
    )
}

/// The form of the governance lead's notification.
pub(crate) async fn lead_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let site_code = caller.site.clone().ok_or(WebError::NotFound)?;
    let mut form = Submitted::default();
    if let Some(site) = state.store.reference_data().await?.sites.get(&site_code) {
        if let Some(name) = &site.governance_lead_name {
            form.0
                .insert("governance_lead_name".into(), vec![name.clone()]);
        }
        if let Some(date) = site.governance_lead_informed_on {
            form.0
                .insert("governance_lead_informed_on".into(), vec![date.to_string()]);
        }
    }
    lead_page(&caller, &form, &Messages::default())
}

/// Records that the governance lead was informed.
#[tracing::instrument(skip_all)]
pub(crate) async fn record_lead(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let site = caller.site.clone().ok_or(WebError::NotFound)?;
    let form = Submitted::parse(pairs)?;
    let fields = match forms::parse_fields(forms::GOVERNANCE_LEAD, &form, &Offered::default()) {
        Ok(f) => f,
        Err(errors) => {
            let messages = Messages::from_field_errors(forms::GOVERNANCE_LEAD, &errors);
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                lead_page(&caller, &form, &messages)?,
            )
                .into_response());
        }
    };
    let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
    let informed_on = text("governance_lead_informed_on")
        .and_then(|d| d.parse().ok())
        .ok_or(WebError::NotFound)?;
    state
        .store
        .record_governance_lead_informed(
            &caller.user().actor(),
            &site,
            text("governance_lead_name"),
            informed_on,
            text("reason"),
        )
        .await?;
    Ok(Redirect::to(&format!("/sites/{site}/compliance")).into_response())
}
