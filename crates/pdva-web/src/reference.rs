//! Administration of the registry's reference data: its sites (with the
//! governance lead and the proctored cases a site requires) and its
//! clinicians with their pDVA training and experience (IPG773 1.5), on
//! which "credentialed on the procedure date" is decided. Every creation
//! and change is audited by the store; a change needs a reason.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pdva_domain::values::SiteCode;
use pdva_domain::{Clinician, RecordId, Site};
use pdva_store::{AnyRecord, Change, DataVersion, Edit, StoreError, StoredRecord};
use serde_json::{Map, Value};

use crate::authz::Caller;
use crate::forms::{self, Field, FieldView, Messages, Offered, Submitted};
use crate::patients::Nav;
use crate::{AppState, WebError};

struct SiteRow {
    code: String,
    name: String,
    country: String,
    governance_lead: String,
    informed_on: String,
    min_proctored_cases: u32,
}

struct ClinicianRow {
    id: String,
    name: String,
    specialty: String,
    sites: String,
    trained_on: String,
    proctored_cases: u32,
}

#[derive(Template)]
#[template(path = "reference.html")]
struct ReferencePage {
    nav: Nav,
    sites: Vec<SiteRow>,
    clinicians: Vec<ClinicianRow>,
}

/// Every site and clinician of the registry.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let sites = state
        .store
        .sites()
        .await?
        .into_iter()
        .map(|(_, s)| SiteRow {
            code: s.site_code.to_string(),
            name: s.name.to_string(),
            country: s.country.as_str().to_owned(),
            governance_lead: s.governance_lead_name.unwrap_or_default(),
            informed_on: s
                .governance_lead_informed_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "not recorded".into()),
            min_proctored_cases: s.min_proctored_cases,
        })
        .collect();
    let clinicians = state
        .store
        .clinicians()
        .await?
        .into_iter()
        .map(|(id, c)| ClinicianRow {
            id: id.to_string(),
            name: c.display_name.to_string(),
            specialty: c.specialty.label().to_owned(),
            sites: c
                .sites
                .iter()
                .map(SiteCode::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            trained_on: c
                .pdva_training_completed_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "not recorded".into()),
            proctored_cases: c.proctored_cases,
        })
        .collect();
    Ok(Html(
        ReferencePage {
            nav: Nav::of(&caller),
            sites,
            clinicians,
        }
        .render()?,
    ))
}

#[derive(Template)]
#[template(path = "reference_form.html")]
struct ReferenceForm {
    nav: Nav,
    title: String,
    intro: &'static str,
    action: String,
    editing: bool,
    expected_version: i64,
    fields: Vec<FieldView>,
    general: Vec<String>,
    has_errors: bool,
    reason: String,
    reason_error: String,
}

/// What a form page shows besides its fields.
struct FormPage<'a> {
    title: String,
    intro: &'static str,
    action: String,
    fields: &'static [Field],
    /// The record's version, when editing.
    editing: Option<i64>,
    form: &'a Submitted,
    messages: Messages,
    reason_error: String,
}

async fn render(
    state: &AppState,
    caller: &Caller,
    page: FormPage<'_>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let offered = offered(state).await?;
    let html = ReferenceForm {
        nav: Nav::of(caller),
        title: page.title,
        intro: page.intro,
        action: page.action,
        editing: page.editing.is_some(),
        expected_version: page.editing.unwrap_or_default(),
        fields: forms::field_views(page.fields, page.form, &offered, &page.messages),
        general: page.messages.general.clone(),
        has_errors: !page.messages.errors.is_empty()
            || !page.messages.general.is_empty()
            || !page.reason_error.is_empty(),
        reason: page.form.one("reason").to_owned(),
        reason_error: page.reason_error,
    }
    .render()?;
    Ok((status, Html(html)).into_response())
}

async fn offered(state: &AppState) -> Result<Offered, WebError> {
    Ok(Offered {
        sites: state
            .store
            .sites()
            .await?
            .into_iter()
            .map(|(_, s)| (s.site_code.to_string(), s.site_code.to_string()))
            .collect(),
        ..Offered::default()
    })
}

/// Parses a form into a reference record, or the messages to show.
async fn parse<T: serde::de::DeserializeOwned>(
    state: &AppState,
    fields: &'static [Field],
    form: &Submitted,
    extra: Map<String, Value>,
) -> Result<Result<T, Messages>, WebError> {
    let offered = offered(state).await?;
    let mut parsed = match forms::parse_fields(fields, form, &offered) {
        Ok(p) => p,
        Err(errors) => return Ok(Err(Messages::from_field_errors(fields, &errors))),
    };
    parsed.extend(extra);
    Ok(
        serde_json::from_value(Value::Object(parsed)).map_err(|e| Messages {
            general: vec![format!("The record could not be read: {e}")],
            ..Messages::default()
        }),
    )
}

/// A store refusal as messages on the form (field-named where it can be);
/// anything else is an error of the request.
fn store_messages(e: StoreError) -> Result<(Messages, String), WebError> {
    match e {
        StoreError::Invalid(message) => Ok((
            Messages {
                general: vec![message],
                ..Messages::default()
            },
            String::new(),
        )),
        StoreError::ReasonRequired(why) => Ok((Messages::default(), why.to_owned())),
        other => Err(other.into()),
    }
}

/// What became of an amendment.
enum Amended {
    /// Saved.
    Saved,
    /// Refused: the messages and the reason's error to show on the form.
    Refused(Messages, String),
    /// Made from another version than the stored one (or from none): the
    /// message to show above the record as it stands now.
    Conflict(String),
}

/// The message of an edit made from no version, or a garbled one: refused as
/// a stale version is, since saving it over the stored record could undo a
/// change made since the form was opened.
pub(crate) const NO_VERSION: &str = "The form did not say which version of the record it was made from, so it could not be saved safely.";

/// What the form shows after a conflict.
pub(crate) fn conflict_message(why: &str) -> String {
    format!(
        "{why} The form now shows the record as it stands: check it and make your change again."
    )
}

/// Reads an amendment and, if it reads and has a reason, saves it with
/// `save`, checked against the version the form was read at.
async fn amend<T: serde::de::DeserializeOwned>(
    state: &AppState,
    form: &Submitted,
    fields: &'static [Field],
    extra: Map<String, Value>,
    id: RecordId,
    what: &str,
    save: impl AsyncFnOnce(Change<T>) -> Result<DataVersion, StoreError>,
) -> Result<Amended, WebError> {
    let Some(expected_version) = form.expected_version() else {
        return Ok(Amended::Conflict(NO_VERSION.to_owned()));
    };
    match parse::<T>(state, fields, form, extra).await? {
        Err(messages) => Ok(Amended::Refused(messages, String::new())),
        Ok(_) if form.one("reason").is_empty() => Ok(Amended::Refused(
            Messages::default(),
            format!("A change to {what} needs a reason."),
        )),
        Ok(record) => {
            let change = Change {
                edit: Some(Edit {
                    id,
                    expected_version,
                }),
                record,
                reason: Some(form.one("reason").to_owned()),
                acknowledge_warnings: true,
            };
            match save(change).await {
                Ok(_) => Ok(Amended::Saved),
                Err(e @ StoreError::Conflict { .. }) => Ok(Amended::Conflict(e.to_string())),
                Err(e) => store_messages(e).map(|(m, r)| Amended::Refused(m, r)),
            }
        }
    }
}

// ---- sites -------------------------------------------------------------

/// The form of a new site.
pub(crate) async fn new_site_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, WebError> {
    let mut form = Submitted::default();
    form.0.insert("country".into(), vec!["GB".into()]);
    form.0.insert(
        "min_proctored_cases".into(),
        vec![Site::DEFAULT_MIN_PROCTORED_CASES.to_string()],
    );
    render(
        &state,
        &caller,
        new_site_page(&form, Messages::default()),
        StatusCode::OK,
    )
    .await
}

fn new_site_page(form: &Submitted, messages: Messages) -> FormPage<'_> {
    FormPage {
        title: "Register a site".into(),
        intro: "A hospital offering pDVA under NICE IPG773's special arrangements.",
        action: "/admin/sites/new".into(),
        fields: forms::SITE,
        editing: None,
        form,
        messages,
        reason_error: String::new(),
    }
}

/// Registers a site.
#[tracing::instrument(skip_all)]
pub(crate) async fn create_site(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = Submitted::parse(pairs)?;
    let messages = match parse::<Site>(&state, forms::SITE, &form, Map::new()).await? {
        Ok(site) => match state.store.create_site(&caller.user().actor(), site).await {
            Ok(_) => return Ok(Redirect::to("/admin/sites").into_response()),
            Err(e) => store_messages(e)?.0,
        },
        Err(messages) => messages,
    };
    render(
        &state,
        &caller,
        new_site_page(&form, messages),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A site or clinician record by id with its version: not found if it is
/// voided, missing or of another kind.
async fn reference_record<T>(
    state: &AppState,
    id: RecordId,
    of_kind: fn(AnyRecord) -> Option<T>,
) -> Result<(RecordId, i64, T), WebError> {
    match state.store.get(id).await {
        Ok(StoredRecord { meta, record }) if !meta.voided => of_kind(record)
            .map(|r| (id, meta.version, r))
            .ok_or(WebError::NotFound),
        Ok(_) | Err(StoreError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => Err(e.into()),
    }
}

async fn site_record(state: &AppState, code: &str) -> Result<(RecordId, i64, Site), WebError> {
    let code = SiteCode::parse(code).map_err(|_| WebError::NotFound)?;
    let (id, _) = state
        .store
        .sites()
        .await?
        .into_iter()
        .find(|(_, s)| s.site_code == code)
        .ok_or(WebError::NotFound)?;
    reference_record(state, id, |r| match r {
        AnyRecord::Site(s) => Some(s),
        _ => None,
    })
    .await
}

fn edit_site_page<'a>(
    code: &str,
    version: i64,
    form: &'a Submitted,
    messages: Messages,
    reason_error: String,
) -> FormPage<'a> {
    FormPage {
        title: format!("Amend site {code}"),
        intro: "The site's code never changes. Every change is kept in the audit trail with its reason.",
        action: format!("/admin/sites/{code}/edit"),
        fields: forms::SITE_EDIT,
        editing: Some(version),
        form,
        messages,
        reason_error,
    }
}

/// The form to amend a site.
pub(crate) async fn edit_site_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let (_, version, site) = site_record(&state, &code).await?;
    let form = Submitted::from_record(
        forms::SITE_EDIT,
        &serde_json::to_value(&site).expect("a site serialises"),
    );
    render(
        &state,
        &caller,
        edit_site_page(
            site.site_code.as_str(),
            version,
            &form,
            Messages::default(),
            String::new(),
        ),
        StatusCode::OK,
    )
    .await
}

/// Amends a site, with a reason.
#[tracing::instrument(skip_all)]
pub(crate) async fn update_site(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (id, _, existing) = site_record(&state, &code).await?;
    let form = Submitted::parse(pairs)?;
    let code = existing.site_code.to_string();
    let extra = Map::from_iter([("site_code".to_owned(), Value::String(code.clone()))]);
    let actor = caller.user().actor();
    let amended = amend(
        &state,
        &form,
        forms::SITE_EDIT,
        extra,
        id,
        "a site",
        async |change| state.store.update_site(&actor, change).await,
    )
    .await?;
    let (messages, reason_error) = match amended {
        Amended::Saved => return Ok(Redirect::to("/admin/sites").into_response()),
        Amended::Refused(messages, reason_error) => (messages, reason_error),
        Amended::Conflict(why) => {
            // The record as it stands now, with its version.
            let (_, version, site) = site_record(&state, &code).await?;
            let current = Submitted::from_record(
                forms::SITE_EDIT,
                &serde_json::to_value(&site).expect("a site serialises"),
            );
            let messages = Messages {
                general: vec![conflict_message(&why)],
                ..Messages::default()
            };
            return render(
                &state,
                &caller,
                edit_site_page(&code, version, &current, messages, String::new()),
                StatusCode::CONFLICT,
            )
            .await;
        }
    };
    // Refused: the form again as typed, with the version it was read at
    // (never the stored one, which would let a resubmission overwrite a
    // change made meanwhile).
    let expected = form.expected_version().unwrap_or_default();
    render(
        &state,
        &caller,
        edit_site_page(&code, expected, &form, messages, reason_error),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

// ---- clinicians --------------------------------------------------------

fn new_clinician_page(form: &Submitted, messages: Messages) -> FormPage<'_> {
    FormPage {
        title: "Register a clinician".into(),
        intro: "A vascular surgeon or interventional radiologist who operates, proctors or takes consent. Record the pDVA training and the proctored cases: only credentialed operators should operate (NICE IPG773 1.5).",
        action: "/admin/clinicians/new".into(),
        fields: forms::CLINICIAN,
        editing: None,
        form,
        messages,
        reason_error: String::new(),
    }
}

/// The form of a new clinician.
pub(crate) async fn new_clinician_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, WebError> {
    let mut form = Submitted::default();
    form.0.insert("proctored_cases".into(), vec!["0".into()]);
    render(
        &state,
        &caller,
        new_clinician_page(&form, Messages::default()),
        StatusCode::OK,
    )
    .await
}

/// Registers a clinician.
#[tracing::instrument(skip_all)]
pub(crate) async fn create_clinician(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = Submitted::parse(pairs)?;
    let messages = match parse::<Clinician>(&state, forms::CLINICIAN, &form, Map::new()).await? {
        Ok(clinician) => match state
            .store
            .create_clinician(&caller.user().actor(), clinician)
            .await
        {
            Ok(_) => return Ok(Redirect::to("/admin/sites#clinicians").into_response()),
            Err(e) => store_messages(e)?.0,
        },
        Err(messages) => messages,
    };
    render(
        &state,
        &caller,
        new_clinician_page(&form, messages),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn clinician_record(
    state: &AppState,
    id: &str,
) -> Result<(RecordId, i64, Clinician), WebError> {
    let id: RecordId = id.parse().map_err(|_| WebError::NotFound)?;
    reference_record(state, id, |r| match r {
        AnyRecord::Clinician(c) => Some(c),
        _ => None,
    })
    .await
}

fn edit_clinician_page<'a>(
    id: RecordId,
    name: &str,
    version: i64,
    form: &'a Submitted,
    messages: Messages,
    reason_error: String,
) -> FormPage<'a> {
    FormPage {
        title: format!("Amend {name}"),
        intro: "Sites, training and proctored cases decide whether the clinician is credentialed on a procedure date. Every change is kept in the audit trail with its reason.",
        action: format!("/admin/clinicians/{id}/edit"),
        fields: forms::CLINICIAN,
        editing: Some(version),
        form,
        messages,
        reason_error,
    }
}

/// The form to amend a clinician.
pub(crate) async fn edit_clinician_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (id, version, clinician) = clinician_record(&state, &id).await?;
    let form = Submitted::from_record(
        forms::CLINICIAN,
        &serde_json::to_value(&clinician).expect("a clinician serialises"),
    );
    render(
        &state,
        &caller,
        edit_clinician_page(
            id,
            clinician.display_name.as_str(),
            version,
            &form,
            Messages::default(),
            String::new(),
        ),
        StatusCode::OK,
    )
    .await
}

/// Amends a clinician, with a reason.
#[tracing::instrument(skip_all)]
pub(crate) async fn update_clinician(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (id, _, existing) = clinician_record(&state, &id).await?;
    let form = Submitted::parse(pairs)?;
    let actor = caller.user().actor();
    let amended = amend(
        &state,
        &form,
        forms::CLINICIAN,
        Map::new(),
        id,
        "a clinician",
        async |change| state.store.update_clinician(&actor, change).await,
    )
    .await?;
    let (messages, reason_error) = match amended {
        Amended::Saved => return Ok(Redirect::to("/admin/sites#clinicians").into_response()),
        Amended::Refused(messages, reason_error) => (messages, reason_error),
        Amended::Conflict(why) => {
            // The record as it stands now, with its version.
            let (_, version, clinician) = clinician_record(&state, &id.to_string()).await?;
            let current = Submitted::from_record(
                forms::CLINICIAN,
                &serde_json::to_value(&clinician).expect("a clinician serialises"),
            );
            let messages = Messages {
                general: vec![conflict_message(&why)],
                ..Messages::default()
            };
            return render(
                &state,
                &caller,
                edit_clinician_page(
                    id,
                    clinician.display_name.as_str(),
                    version,
                    &current,
                    messages,
                    String::new(),
                ),
                StatusCode::CONFLICT,
            )
            .await;
        }
    };
    // Refused: the form again as typed, with the version it was read at.
    let expected = form.expected_version().unwrap_or_default();
    render(
        &state,
        &caller,
        edit_clinician_page(
            id,
            existing.display_name.as_str(),
            expected,
            &form,
            messages,
            reason_error,
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}
