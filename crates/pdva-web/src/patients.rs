//! Patients: the list, registration, the patient page (timeline, limb
//! state, next due visit, change history) and the forms of every clinical
//! instrument. Rights are checked by the guard before any handler runs
//! ([`crate::authz`]); handlers extract, call the store and render.

use std::collections::HashMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use pdva_domain::codes::LimbStatus;
use pdva_domain::schedule::{self, FollowUpContext, WorklistState};
use pdva_domain::values::{NhsNumber, RegistryId, SiteCode};
use pdva_domain::{ClinicalRecord, Patient, PatientFile, RecordId, RecordKind};
use pdva_store::{
    AnyRecord, Change, Edit, PatientKey, Role, SiteAccess, StoreError, StoredRecord, User,
};
use serde_json::Value;

use crate::authz::{Audience, Caller};
use crate::forms::{self, FieldView, Messages, Offered, Submitted};
use crate::reference::{NO_VERSION, conflict_message};
use crate::{AppState, WebError};

/// The navigation bar of every signed-in page.
pub(crate) struct Nav {
    /// The patient list of the user's audience (de-identified for researchers).
    pub patients: &'static str,
    pub username: String,
    pub role: &'static str,
    pub csrf_token: String,
    pub worklist: bool,
    /// Whether the user has a sign-off queue.
    pub sign_off: bool,
    /// Whether the Exports page is the user's (as `authz::EXPORTS` declares).
    pub exports: bool,
    pub users: bool,
    /// Sites whose IPG773 compliance view the user may open from the menu.
    pub compliance: Vec<String>,
    /// The outcomes page of the menu: the user's first site, or every site.
    pub outcomes: String,
}

impl Nav {
    pub fn of(caller: &Caller) -> Self {
        let user = caller.user();
        Self {
            patients: match caller.audience() {
                Audience::Identifiable => "/patients",
                Audience::Research => "/research/patients",
            },
            username: user.username.to_string(),
            role: user.role.label(),
            csrf_token: caller.csrf_token.clone(),
            worklist: user.role != Role::Researcher,
            sign_off: crate::signoff::has_queue(user.role),
            exports: crate::authz::EXPORTS.roles.contains(&user.role),
            users: user.role == Role::Admin,
            outcomes: match (&user.sites, user.role) {
                (SiteAccess::Sites(s), role) if role != Role::Admin && !s.is_empty() => {
                    format!("/dashboard?site={}", s[0])
                }
                _ => "/dashboard".into(),
            },
            compliance: match (&user.sites, user.role) {
                (SiteAccess::Sites(s), Role::GovernanceLead | Role::Admin) => {
                    s.iter().map(ToString::to_string).collect()
                }
                _ => Vec::new(),
            },
        }
    }
}

/// Today, for the rules and the schedule.
pub(crate) fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// The sites a user sees: `None` for every site.
pub(crate) fn visible_sites(user: &User) -> Option<Vec<SiteCode>> {
    match (&user.sites, user.role) {
        (_, Role::Admin) | (SiteAccess::All, _) => None,
        (SiteAccess::Sites(s), _) => Some(s.clone()),
    }
}

struct PatientRow {
    id: String,
    registry_id: String,
    name: String,
    nhs_number: String,
    date_of_birth: String,
    sex: &'static str,
    site: String,
}

#[derive(Template)]
#[template(path = "patients.html")]
struct PatientsPage {
    nav: Nav,
    query: String,
    message: String,
    patients: Vec<PatientRow>,
    register_at: Vec<String>,
}

fn name_of(p: &Patient) -> String {
    match (&p.family_name, &p.given_name) {
        (Some(f), Some(g)) => format!("{}, {g}", f.to_uppercase()),
        (Some(f), None) => f.to_uppercase(),
        (None, Some(g)) => g.clone(),
        (None, None) => "(no name recorded)".into(),
    }
}

/// Age in whole years at the first index procedure, else today.
fn age_of(patient: &Patient, first_procedure: Option<NaiveDate>) -> String {
    patient
        .age_on(first_procedure.unwrap_or_else(today))
        .to_string()
}

fn patient_row(id: RecordId, p: &Patient) -> PatientRow {
    PatientRow {
        id: id.to_string(),
        registry_id: p.registry_id.to_string(),
        name: name_of(p),
        nhs_number: p
            .nhs_number
            .as_ref()
            .map(|n| n.formatted())
            .unwrap_or_default(),
        date_of_birth: p.date_of_birth.to_string(),
        sex: p.sex.label(),
        site: p.home_site.to_string(),
    }
}

/// The patient list's search.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
}

/// Finds the patient a search names, among those the user may see. Only
/// identifiable roles reach this page: researchers search by pseudonym on
/// their own (`crate::research`).
async fn search(
    state: &AppState,
    user: &User,
    query: &str,
) -> Result<Result<RecordId, String>, WebError> {
    let digits: String = query.chars().filter(char::is_ascii_digit).collect();
    let key = if digits.len() >= 9 && !query.to_ascii_uppercase().starts_with("P-") {
        match NhsNumber::parse(query) {
            Ok(n) => PatientKey::NhsNumber(n),
            Err(e) => return Ok(Err(format!("NHS number \"{}\" {}", e.value, e.rule))),
        }
    } else {
        match RegistryId::parse(&query.to_ascii_uppercase()) {
            Ok(id) => PatientKey::RegistryId(id),
            Err(e) => return Ok(Err(format!("Registry id \"{}\" {}", e.value, e.rule))),
        }
    };
    match state.store.find_patient(&key).await? {
        Some((id, patient)) if user.has_site(&patient.home_site) => Ok(Ok(id)),
        _ => Ok(Err(
            "No patient of your sites has that registry id or NHS number.".into(),
        )),
    }
}

/// The identifiable patients of the user's sites. A search by registry id
/// or NHS number goes to the patient.
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Result<Response, WebError> {
    let user = caller.user();
    let query = q.q.unwrap_or_default().trim().to_owned();
    let mut message = String::new();
    if !query.is_empty() {
        match search(&state, user, &query).await? {
            Ok(id) => return Ok(Redirect::to(&patient_path(id)).into_response()),
            Err(m) => message = m,
        }
    }
    let sites = visible_sites(user);
    let patients = state
        .store
        .patients_at(sites.as_deref(), 200)
        .await?
        .iter()
        .map(|(id, p)| patient_row(*id, p))
        .collect();
    let register_at = if user.role == Role::Clinician {
        match &sites {
            Some(s) => s.iter().map(ToString::to_string).collect(),
            None => state
                .store
                .sites()
                .await?
                .into_iter()
                .map(|(_, s)| s.site_code.to_string())
                .collect(),
        }
    } else {
        Vec::new()
    };
    let page = PatientsPage {
        nav: Nav::of(&caller),
        query,
        message,
        patients,
        register_at,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "record_form.html")]
struct FormPage {
    nav: Nav,
    title: String,
    subtitle: String,
    action: String,
    back: String,
    fields: Vec<FieldView>,
    general: Vec<String>,
    has_errors: bool,
    warnings: bool,
    editing: bool,
    expected_version: String,
    reason: String,
    reason_error: String,
    signed_off: String,
    void_action: String,
    sign_off_action: String,
}

impl FormPage {
    fn respond(self, status: StatusCode) -> Result<Response, WebError> {
        Ok((status, Html(self.render()?)).into_response())
    }
}

/// The clinicians and index procedures a patient's forms offer.
async fn offered(state: &AppState, file: &PatientFile) -> Result<Offered, WebError> {
    let clinicians = state
        .store
        .clinicians()
        .await?
        .into_iter()
        .filter(|(_, c)| c.sites.contains(&file.patient.home_site))
        .map(|(id, c)| (id.to_string(), c.display_name.to_string()))
        .collect();
    let procedures = file
        .procedures()
        .map(|(id, p)| {
            (
                id.to_string(),
                format!("{} limb, {}", p.index_limb.label(), p.procedure_date),
            )
        })
        .collect();
    Ok(Offered {
        clinicians,
        procedures,
        sites: Vec::new(),
        wording: state.settings.instrument_wording.clone(),
    })
}

fn patient_heading(p: &Patient) -> String {
    format!("{} — {}", name_of(p), p.registry_id)
}

/// Path of the patient page.
fn patient_path(id: RecordId) -> String {
    format!("/patients/{id}")
}

/// A new record's form, prefilled where only one answer is possible.
#[tracing::instrument(skip_all)]
pub(crate) async fn new_record_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, slug)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let kind = forms::kind_of_slug(&slug).ok_or(WebError::NotFound)?;
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let file = state.store.patient_file(patient.id).await?;
    let offered = offered(&state, &file).await?;
    let mut form = Submitted::default();
    let procedures: Vec<_> = file.procedures().collect();
    if let [(id, p)] = procedures.as_slice() {
        form.0.insert("procedure_id".into(), vec![id.to_string()]);
        form.0
            .insert("limb".into(), vec![p.index_limb.as_code().into()]);
    }
    render_record_form(
        &caller,
        kind,
        None,
        &form,
        &offered,
        &Messages::default(),
        false,
        "",
        "",
    )
    .respond(StatusCode::OK)
}

#[allow(clippy::too_many_arguments)]
fn render_record_form(
    caller: &Caller,
    kind: RecordKind,
    existing: Option<&StoredRecord>,
    form: &Submitted,
    offered: &Offered,
    messages: &Messages,
    warnings: bool,
    reason: &str,
    reason_error: &str,
) -> FormPage {
    let patient = caller
        .patient
        .as_ref()
        .expect("guarded route has a patient");
    let fields = forms::fields_of(kind);
    let base = patient_path(patient.id);
    let (action, editing, version, signed_off) = match existing {
        Some(r) => (
            format!("{base}/records/{}/edit", r.meta.id),
            true,
            // A form sent back keeps the version it was read at: showing
            // the stored one would let a resubmission overwrite a change
            // made meanwhile.
            form.expected_version()
                .unwrap_or(r.meta.version)
                .to_string(),
            match (&r.meta.signed_off_at, &r.meta.signed_off_by) {
                (Some(at), Some(by)) => format!("Signed off by {by} at {at}"),
                _ => String::new(),
            },
        ),
        None => (
            format!("{base}/records/new/{}", forms::slug_of(kind)),
            false,
            String::new(),
            String::new(),
        ),
    };
    let signable = existing
        .is_some_and(|r| r.meta.kind.is_signed_off_kind() && r.meta.signed_off_at.is_none());
    FormPage {
        nav: Nav::of(caller),
        title: format!(
            "{} {}",
            if editing { "Amend:" } else { "Record:" },
            forms::title_of(kind)
        ),
        subtitle: patient_heading(&patient.patient),
        action,
        back: base.clone(),
        fields: forms::field_views(fields, form, offered, messages),
        general: messages.general.clone(),
        has_errors: !messages.errors.is_empty() || !messages.general.is_empty(),
        warnings,
        editing,
        expected_version: version,
        reason: reason.to_owned(),
        reason_error: reason_error.to_owned(),
        signed_off,
        void_action: existing
            .map(|r| format!("{base}/records/{}/void", r.meta.id))
            .unwrap_or_default(),
        sign_off_action: if signable {
            existing
                .map(|r| format!("{base}/records/{}/sign-off", r.meta.id))
                .unwrap_or_default()
        } else {
            String::new()
        },
    }
}

/// Saves a new record of an instrument, or shows the form again with the
/// messages beside their fields and every value as typed.
#[tracing::instrument(skip_all)]
pub(crate) async fn create_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, slug)): Path<(String, String)>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let kind = forms::kind_of_slug(&slug).ok_or(WebError::NotFound)?;
    save_record(&state, &caller, kind, None, Submitted::parse(pairs)?).await
}

/// The form of an existing record, to amend it (a signed-off record needs a
/// reason), void it or sign it off.
#[tracing::instrument(skip_all)]
pub(crate) async fn edit_record_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, WebError> {
    let record = caller.record.clone().ok_or(WebError::NotFound)?;
    let AnyRecord::Clinical(clinical) = &record.record else {
        return Err(WebError::NotFound);
    };
    if record.meta.voided {
        return Err(WebError::NotFound);
    }
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let file = state.store.patient_file(patient.id).await?;
    let offered = offered(&state, &file).await?;
    let kind = clinical.kind();
    let form = Submitted::from_record(forms::fields_of(kind), &record_json(clinical));
    render_record_form(
        &caller,
        kind,
        Some(&record),
        &form,
        &offered,
        &Messages::default(),
        false,
        "",
        "",
    )
    .respond(StatusCode::OK)
}

/// Saves an amendment.
#[tracing::instrument(skip_all)]
pub(crate) async fn update_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let record = caller.record.clone().ok_or(WebError::NotFound)?;
    let kind = record.meta.kind;
    if !matches!(record.record, AnyRecord::Clinical(_)) || record.meta.voided {
        return Err(WebError::NotFound);
    }
    save_record(
        &state,
        &caller,
        kind,
        Some(&record),
        Submitted::parse(pairs)?,
    )
    .await
}

/// The domain record as JSON, for the form's values.
fn record_json(record: &ClinicalRecord) -> Value {
    serde_json::to_value(record)
        .ok()
        .and_then(|v| v.get("record").cloned())
        .unwrap_or(Value::Null)
}

async fn save_record(
    state: &AppState,
    caller: &Caller,
    kind: RecordKind,
    existing: Option<&StoredRecord>,
    form: Submitted,
) -> Result<Response, WebError> {
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let file = state.store.patient_file(patient.id).await?;
    let offered = offered(state, &file).await?;
    let fields = forms::fields_of(kind);
    let reason = form.one("reason").to_owned();
    let acknowledged = form.one("acknowledge_warnings") == "yes";
    let page = |messages: &Messages, warnings: bool, reason_error: &str| {
        render_record_form(
            caller,
            kind,
            existing,
            &form,
            &offered,
            messages,
            warnings,
            &reason,
            reason_error,
        )
    };
    let record = match forms::parse_clinical(kind, &form, &offered) {
        Ok(r) => r,
        Err(errors) => {
            return page(&Messages::from_field_errors(fields, &errors), false, "")
                .respond(StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let edit = match existing {
        None => None,
        Some(r) => match form.expected_version() {
            Some(expected_version) => Some(Edit {
                id: r.meta.id,
                expected_version,
            }),
            None => return record_conflict(state, caller, r.meta.id, &offered, NO_VERSION).await,
        },
    };
    let change = Change {
        edit,
        record,
        reason: (!reason.is_empty()).then(|| reason.clone()),
        acknowledge_warnings: acknowledged,
    };
    let user = caller.user();
    match state
        .store
        .save_clinical(&user.actor(), patient.id, change, today())
        .await
    {
        Ok(saved) => Ok(
            Redirect::to(&format!("{}#record-{}", patient_path(patient.id), saved.id))
                .into_response(),
        ),
        Err(StoreError::Refused(findings)) => {
            page(&Messages::from_findings(fields, &findings, true), false, "")
                .respond(StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(StoreError::NeedsAcknowledgement(findings)) => {
            page(&Messages::from_findings(fields, &findings, false), true, "")
                .respond(StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(StoreError::ReasonRequired(why)) => {
            page(&Messages::default(), false, why).respond(StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e @ StoreError::Conflict { .. }) => match existing {
            Some(r) => record_conflict(state, caller, r.meta.id, &offered, &e.to_string()).await,
            None => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// An edit made from another version than the stored one, or from none:
/// 409, with the form showing the record as it stands now (and its
/// version), so the clinician sees what changed before making theirs again.
async fn record_conflict(
    state: &AppState,
    caller: &Caller,
    id: RecordId,
    offered: &Offered,
    why: &str,
) -> Result<Response, WebError> {
    let current = state.store.get(id).await?;
    let AnyRecord::Clinical(clinical) = &current.record else {
        return Err(WebError::NotFound);
    };
    let kind = clinical.kind();
    let form = Submitted::from_record(forms::fields_of(kind), &record_json(clinical));
    let messages = Messages {
        general: vec![conflict_message(why)],
        ..Messages::default()
    };
    render_record_form(
        caller,
        kind,
        Some(&current),
        &form,
        offered,
        &messages,
        false,
        "",
        "",
    )
    .respond(StatusCode::CONFLICT)
}

/// Voids a record with a reason.
#[tracing::instrument(skip_all)]
pub(crate) async fn void_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let record = caller.record.clone().ok_or(WebError::NotFound)?;
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let form = Submitted::parse(pairs)?;
    state
        .store
        .void(
            &caller.user().actor(),
            record.meta.id,
            form.one("void_reason"),
        )
        .await?;
    Ok(Redirect::to(&patient_path(patient.id)).into_response())
}

/// Signs off a procedure or follow-up visit.
#[tracing::instrument(skip_all)]
pub(crate) async fn sign_off_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    form: Result<axum::Form<SignOffForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, WebError> {
    let record = caller.record.clone().ok_or(WebError::NotFound)?;
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    state
        .store
        .sign_off(&caller.user().actor(), record.meta.id)
        .await?;
    // Back to the sign-off queue when signed there; otherwise to the
    // record's row on the patient's page. Only the queue's own path is
    // followed, never a path the form names.
    let back_to_queue = form.is_ok_and(|f| f.from.as_deref() == Some("queue"));
    Ok(Redirect::to(&if back_to_queue {
        crate::signoff::QUEUE_PATH.to_owned()
    } else {
        format!("{}#record-{}", patient_path(patient.id), record.meta.id)
    })
    .into_response())
}

/// The sign-off form: where it was sent from.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct SignOffForm {
    /// `queue` from the sign-off queue.
    from: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    nav: Nav,
    title: String,
    editing: bool,
    expected_version: String,
    reason: String,
    back: String,
    site: String,
    action: String,
    fields: Vec<FieldView>,
    general: Vec<String>,
    has_errors: bool,
    warnings: bool,
}

/// The registration form of a patient at a site.
pub(crate) async fn register_form(
    Extension(caller): Extension<Caller>,
) -> Result<Response, WebError> {
    render_register(&caller, &Submitted::default(), &Messages::default(), false)
        .map(|p| p.into_response())
}

fn render_register(
    caller: &Caller,
    form: &Submitted,
    messages: &Messages,
    warnings: bool,
) -> Result<Html<String>, WebError> {
    let site = caller.site.as_ref().ok_or(WebError::NotFound)?;
    let page = RegisterPage {
        nav: Nav::of(caller),
        title: format!("Register a patient at {site}"),
        editing: false,
        expected_version: String::new(),
        reason: String::new(),
        back: "/patients".into(),
        site: site.to_string(),
        action: format!("/sites/{site}/patients/new"),
        fields: forms::field_views(forms::PATIENT, form, &Offered::default(), messages),
        general: messages.general.clone(),
        has_errors: !messages.errors.is_empty() || !messages.general.is_empty(),
        warnings,
    };
    Ok(Html(page.render()?))
}

/// Registers a patient: the registry assigns the registry id.
#[tracing::instrument(skip_all)]
pub(crate) async fn register(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let site = caller.site.clone().ok_or(WebError::NotFound)?;
    let form = Submitted::parse(pairs)?;
    let refused = |messages: Messages, warnings: bool| -> Result<Response, WebError> {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_register(&caller, &form, &messages, warnings)?,
        )
            .into_response())
    };
    let mut fields = match forms::parse_fields(forms::PATIENT, &form, &Offered::default()) {
        Ok(f) => f,
        Err(errors) => {
            return refused(Messages::from_field_errors(forms::PATIENT, &errors), false);
        }
    };
    let bits = u64::from_str_radix(&pdva_store::random_token()[..16], 16).expect("hex");
    fields.insert(
        "registry_id".into(),
        Value::String(RegistryId::from_random(bits).to_string()),
    );
    fields.insert("home_site".into(), Value::String(site.to_string()));
    for (k, v) in fields.iter_mut() {
        if k != "date_of_birth" && v.as_str() == Some("") {
            *v = Value::Null;
        }
    }
    let patient: Patient = serde_json::from_value(Value::Object(fields)).map_err(|e| {
        WebError::Store(StoreError::Invalid(format!(
            "patient: could not be read: {e}"
        )))
    })?;
    let change = Change {
        edit: None,
        record: patient,
        reason: None,
        acknowledge_warnings: form.one("acknowledge_warnings") == "yes",
    };
    match state
        .store
        .save_patient(&caller.user().actor(), change, today())
        .await
    {
        Ok(saved) => Ok(Redirect::to(&patient_path(saved.id)).into_response()),
        Err(StoreError::Refused(f)) => {
            refused(Messages::from_findings(forms::PATIENT, &f, true), false)
        }
        Err(StoreError::NeedsAcknowledgement(f)) => {
            refused(Messages::from_findings(forms::PATIENT, &f, false), true)
        }
        Err(e) => Err(e.into()),
    }
}

fn render_patient_edit(
    caller: &Caller,
    version: i64,
    form: &Submitted,
    messages: &Messages,
    warnings: bool,
) -> Result<Html<String>, WebError> {
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let page = RegisterPage {
        nav: Nav::of(caller),
        title: format!(
            "Amend the patient's details: {}",
            patient_heading(&patient.patient)
        ),
        editing: true,
        expected_version: version.to_string(),
        reason: form.one("reason").to_owned(),
        back: patient_path(patient.id),
        site: patient.patient.home_site.to_string(),
        action: format!("{}/edit", patient_path(patient.id)),
        fields: forms::field_views(forms::PATIENT_EDIT, form, &Offered::default(), messages),
        general: messages.general.clone(),
        has_errors: !messages.errors.is_empty() || !messages.general.is_empty(),
        warnings,
    };
    Ok(Html(page.render()?))
}

/// The patient's details, to amend them (or record the end of follow-up).
pub(crate) async fn edit_patient_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, WebError> {
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let version = state.store.get(patient.id).await?.meta.version;
    let json = serde_json::to_value(&patient.patient).unwrap_or(Value::Null);
    let form = Submitted::from_record(forms::PATIENT_EDIT, &json);
    Ok(render_patient_edit(&caller, version, &form, &Messages::default(), false)?.into_response())
}

/// Saves the amended details; the registry id and home site do not change.
#[tracing::instrument(skip_all)]
pub(crate) async fn update_patient(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let in_scope = caller.patient.clone().ok_or(WebError::NotFound)?;
    let form = Submitted::parse(pairs)?;
    let Some(version) = form.expected_version() else {
        return patient_conflict(&state, &caller, NO_VERSION).await;
    };
    // Refused forms come back with the version they were read at.
    let refused = |messages: Messages, warnings: bool| -> Result<Response, WebError> {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_patient_edit(&caller, version, &form, &messages, warnings)?,
        )
            .into_response())
    };
    let mut fields = match forms::parse_fields(forms::PATIENT_EDIT, &form, &Offered::default()) {
        Ok(f) => f,
        Err(errors) => {
            return refused(
                Messages::from_field_errors(forms::PATIENT_EDIT, &errors),
                false,
            );
        }
    };
    for (k, v) in fields.iter_mut() {
        if k != "date_of_birth" && v.as_str() == Some("") {
            *v = Value::Null;
        }
    }
    fields.insert(
        "registry_id".into(),
        Value::String(in_scope.patient.registry_id.to_string()),
    );
    fields.insert(
        "home_site".into(),
        Value::String(in_scope.patient.home_site.to_string()),
    );
    let patient: Patient = serde_json::from_value(Value::Object(fields)).map_err(|e| {
        WebError::Store(StoreError::Invalid(format!(
            "patient: could not be read: {e}"
        )))
    })?;
    let reason = form.one("reason").to_owned();
    let change = Change {
        edit: Some(Edit {
            id: in_scope.id,
            expected_version: version,
        }),
        record: patient,
        reason: (!reason.is_empty()).then_some(reason),
        acknowledge_warnings: form.one("acknowledge_warnings") == "yes",
    };
    match state
        .store
        .save_patient(&caller.user().actor(), change, today())
        .await
    {
        Ok(_) => Ok(Redirect::to(&patient_path(in_scope.id)).into_response()),
        Err(StoreError::Refused(f)) => refused(
            Messages::from_findings(forms::PATIENT_EDIT, &f, true),
            false,
        ),
        Err(StoreError::NeedsAcknowledgement(f)) => refused(
            Messages::from_findings(forms::PATIENT_EDIT, &f, false),
            true,
        ),
        Err(e @ StoreError::Conflict { .. }) => {
            patient_conflict(&state, &caller, &e.to_string()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A patient edit made from another version than the stored one, or from
/// none: 409, with the form showing the patient as they stand now.
async fn patient_conflict(
    state: &AppState,
    caller: &Caller,
    why: &str,
) -> Result<Response, WebError> {
    let in_scope = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let current = state.store.get(in_scope.id).await?;
    let AnyRecord::Patient(patient) = &current.record else {
        return Err(WebError::NotFound);
    };
    let json = serde_json::to_value(patient).unwrap_or(Value::Null);
    let form = Submitted::from_record(forms::PATIENT_EDIT, &json);
    let messages = Messages {
        general: vec![conflict_message(why)],
        ..Messages::default()
    };
    Ok((
        StatusCode::CONFLICT,
        render_patient_edit(caller, current.meta.version, &form, &messages, false)?,
    )
        .into_response())
}

struct TimelineEntry {
    anchor: String,
    date: String,
    title: &'static str,
    summary: String,
    signed_off: String,
    edit: String,
    /// Where its one-action sign-off posts.
    sign_off: String,
    signable: bool,
}

struct ProcedureState {
    title: String,
    limb_state: String,
    due: Vec<String>,
}

struct HistoryEntry {
    at: String,
    actor: String,
    action: String,
    what: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "patient.html")]
struct PatientPage {
    nav: Nav,
    id: String,
    can_record: bool,
    registry_id: String,
    name: String,
    nhs_number: String,
    hospital_number: String,
    date_of_birth: String,
    age: String,
    sex: &'static str,
    site: String,
    follow_up_ended: String,
    death: String,
    procedures: Vec<ProcedureState>,
    timeline: Vec<TimelineEntry>,
    instruments: Vec<(&'static str, &'static str)>,
    history: Vec<HistoryEntry>,
}

/// One line about a record, from codes and numbers only (never free text,
/// so that it is safe on a researcher's page).
fn summary(record: &ClinicalRecord, clinicians: &HashMap<RecordId, String>) -> String {
    let who = |id: &RecordId| {
        clinicians
            .get(id)
            .cloned()
            .unwrap_or_else(|| "unknown".into())
    };
    match record {
        ClinicalRecord::Consent(c) => format!(
            "uncertainties explained: {}; research consent: {}{}",
            if c.uncertainties_explained {
                "yes"
            } else {
                "NO"
            },
            c.research_consent.label(),
            if c.research_consent_withdrawn_on.is_some() {
                " (withdrawn)"
            } else {
                ""
            }
        ),
        ClinicalRecord::Baseline(b) => format!(
            "Rutherford {}; WIfI W{} I{} fI{} (clinical stage {}); {}dialysis",
            b.rutherford_category,
            b.wifi_wound,
            b.wifi_ischaemia,
            b.wifi_foot_infection,
            b.wifi_clinical_stage(),
            if b.dialysis_dependent { "" } else { "no " }
        ),
        ClinicalRecord::Procedure(p) => format!(
            "{} limb; operator {}; technical success: {}",
            p.index_limb.label(),
            who(&p.primary_operator),
            if p.technical_success() { "yes" } else { "no" }
        ),
        ClinicalRecord::AntithromboticTherapy(t) => format!(
            "{}{}",
            t.drug.label(),
            t.stop_date
                .map(|d| format!(" until {d}"))
                .unwrap_or_else(|| " (ongoing)".into())
        ),
        ClinicalRecord::FollowUpVisit(v) => format!(
            "{}; limb: {}{}",
            v.contact.label(),
            v.limb_status.label(),
            v.wound_status
                .map(|w| format!("; wound: {}", w.label()))
                .unwrap_or_default()
        ),
        ClinicalRecord::Amputation(a) => format!(
            "{} limb, {} ({}){}",
            a.limb.label(),
            a.level.label(),
            if a.is_major() { "major" } else { "minor" },
            if a.revision { ", revision" } else { "" }
        ),
        ClinicalRecord::Reintervention(r) => format!(
            "{}; {}{}",
            r.kind.label(),
            if r.planned { "planned" } else { "unplanned" },
            if r.is_major() { "; major" } else { "" }
        ),
        ClinicalRecord::Death(d) => format!("cause: {}", d.cause.label()),
        ClinicalRecord::AdverseEvent(e) => format!(
            "{}; {}{}",
            e.kind.label(),
            e.severity.label(),
            if e.serious == Some(true) {
                "; serious"
            } else {
                ""
            }
        ),
        ClinicalRecord::QualityOfLife(q) => format!(
            "VascuQoL-6 total {}; EQ-5D-5L index {}; EQ VAS {}",
            q.vascuqol6_total()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "incomplete".into()),
            q.eq5d_index()
                .map(|i| format!("{i:.3}"))
                .unwrap_or_else(|| "incomplete".into()),
            q.eq_vas
                .map(|v| v.to_string())
                .unwrap_or_else(|| "—".into())
        ),
    }
}

/// The limb's current state from its amputations and latest visit.
fn limb_state(file: &PatientFile, procedure_id: RecordId) -> String {
    let highest = file
        .records
        .iter()
        .filter_map(|(_, r)| match r {
            ClinicalRecord::Amputation(a) if a.procedure_id == procedure_id => Some(a),
            _ => None,
        })
        .max_by_key(|a| a.level);
    let last_visit = file
        .records
        .iter()
        .filter_map(|(_, r)| match r {
            ClinicalRecord::FollowUpVisit(v) if v.procedure_id == procedure_id => Some(v),
            _ => None,
        })
        .max_by_key(|v| v.visit_date);
    match (highest, last_visit) {
        (Some(a), _) => format!(
            "{} amputation ({}) on {}",
            if a.is_major() { "Major" } else { "Minor" },
            a.level.label(),
            a.date
        ),
        (None, Some(v)) if v.limb_status == LimbStatus::Intact => {
            format!("Intact at the last visit ({})", v.visit_date)
        }
        (None, Some(v)) => format!(
            "{} at the last visit ({})",
            v.limb_status.label(),
            v.visit_date
        ),
        (None, None) => "No follow-up recorded yet".into(),
    }
}

/// The identifiable patient page (clinical roles only; researchers see
/// `crate::research`).
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let in_scope = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let user = caller.user();
    let file = state.store.patient_file(in_scope.id).await?;
    let stored = state.store.patient_records(in_scope.id).await?;
    let clinicians: HashMap<RecordId, String> = state
        .store
        .clinicians()
        .await?
        .into_iter()
        .map(|(id, c)| (id, c.display_name.to_string()))
        .collect();
    let p = &file.patient;
    let today = today();
    let death = file.death().map(|(_, d)| d.date);
    let procedures = file
        .procedures()
        .map(|(id, proc_)| {
            let visits: Vec<NaiveDate> = file
                .records
                .iter()
                .filter_map(|(_, r)| match r {
                    ClinicalRecord::FollowUpVisit(v) if v.procedure_id == id => Some(v.visit_date),
                    _ => None,
                })
                .collect();
            let ctx = FollowUpContext {
                procedure_date: proc_.procedure_date,
                visit_dates: &visits,
                death_date: death,
                follow_up_ended_on: p.follow_up_ended_on,
            };
            let due = schedule::worklist(&ctx, today)
                .iter()
                .map(|item| {
                    format!(
                        "{} visit {} (window {} to {})",
                        item.timepoint.label(),
                        match item.state {
                            WorklistState::Due => "due now",
                            WorklistState::DueSoon => "due soon",
                            WorklistState::Overdue => "OVERDUE",
                        },
                        item.window_opens,
                        item.window_closes
                    )
                })
                .collect();
            ProcedureState {
                title: format!(
                    "{} limb, index procedure {}",
                    proc_.index_limb.label(),
                    proc_.procedure_date
                ),
                limb_state: limb_state(&file, id),
                due,
            }
        })
        .collect();
    let mut timeline: Vec<(NaiveDate, TimelineEntry)> = stored
        .iter()
        .filter_map(|s| match &s.record {
            AnyRecord::Clinical(c) => Some((s, c)),
            _ => None,
        })
        .map(|(s, c)| {
            (
                c.date(),
                TimelineEntry {
                    anchor: format!("record-{}", s.meta.id),
                    date: c.date().to_string(),
                    title: forms::title_of(c.kind()),
                    summary: summary(c, &clinicians),
                    signed_off: match (&s.meta.signed_off_at, &s.meta.signed_off_by) {
                        (Some(at), Some(by)) => {
                            format!("signed off by {by}, {}", &at[..10.min(at.len())])
                        }
                        _ => String::new(),
                    },
                    edit: format!("/patients/{}/records/{}/edit", in_scope.id, s.meta.id),
                    sign_off: format!("/patients/{}/records/{}/sign-off", in_scope.id, s.meta.id),
                    signable: c.kind().is_signed_off_kind() && s.meta.signed_off_at.is_none(),
                },
            )
        })
        .collect();
    timeline.sort_by_key(|(d, _)| *d);
    let history = state
        .store
        .audit_log(Some(in_scope.id), 200)
        .await?
        .into_iter()
        .map(|e| HistoryEntry {
            at: e.at,
            actor: e.actor,
            action: e.action.replace('_', " "),
            what: RecordKind::parse(&e.record_kind)
                .map(forms::title_of)
                .unwrap_or("Record")
                .to_owned(),
            reason: e.reason.unwrap_or_default(),
        })
        .collect();
    let first = file.procedures().map(|(_, p)| p.procedure_date).min();
    let page = PatientPage {
        nav: Nav::of(&caller),
        id: in_scope.id.to_string(),
        can_record: user.role == Role::Clinician,
        registry_id: p.registry_id.to_string(),
        name: name_of(p),
        nhs_number: p
            .nhs_number
            .as_ref()
            .map(|n| n.formatted())
            .unwrap_or_default(),
        hospital_number: p.hospital_number.clone().unwrap_or_default(),
        date_of_birth: p.date_of_birth.to_string(),
        age: age_of(p, first),
        sex: p.sex.label(),
        site: p.home_site.to_string(),
        follow_up_ended: match (p.follow_up_ended_on, p.follow_up_end_reason) {
            (Some(d), Some(r)) => format!("{d} ({})", r.label()),
            (Some(d), None) => d.to_string(),
            _ => String::new(),
        },
        death: death.map(|d| d.to_string()).unwrap_or_default(),
        procedures,
        timeline: timeline.into_iter().map(|(_, e)| e).collect(),
        instruments: forms::INSTRUMENTS
            .iter()
            .map(|(slug, kind)| (*slug, forms::title_of(*kind)))
            .collect(),
        history,
    };
    Ok(Html(page.render()?))
}
