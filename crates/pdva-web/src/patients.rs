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
use pdva_domain::codes::{Limb, LimbStatus};
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
    /// When the page was made (UTC, to the minute), for the stamp a printed
    /// page carries on every sheet.
    pub printed_at: String,
    /// The data version the page's figures were read at, for pages that
    /// print figures (empty elsewhere).
    pub data_version: String,
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
            compliance: match (&user.sites, user.role) {
                (SiteAccess::Sites(s), Role::GovernanceLead | Role::Admin) => {
                    s.iter().map(ToString::to_string).collect()
                }
                _ => Vec::new(),
            },
            // In words, not YYYY-MM-DD: a researcher's page shows no calendar
            // date that could be taken for a patient's.
            printed_at: chrono::Utc::now()
                .format("%-d %B %Y, %H:%M UTC")
                .to_string(),
            data_version: String::new(),
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
    hospital_number: String,
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
    /// What the table lists.
    caption: String,
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
        hospital_number: p.hospital_number.clone().unwrap_or_default(),
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

/// What a search of the patient list found.
enum Found {
    /// The one patient a registry id or NHS number names.
    One(RecordId),
    /// The patients whose name or hospital number match, of how many.
    Matches(Vec<(RecordId, Patient)>, usize),
    /// Why nothing was searched for, or that nothing was found.
    Nothing(String),
}

/// Matches listed for a name or hospital number.
const MATCHES_SHOWN: usize = 100;

/// Finds the patients a search names, among those of the user's sites: a
/// registry id or an NHS number goes to its patient; other text is looked
/// for in names (any part) and hospital numbers (whole). Only identifiable
/// roles reach this page: researchers search by pseudonym on their own
/// (`crate::research`).
async fn search(state: &AppState, user: &User, query: &str) -> Result<Found, WebError> {
    let upper = query.to_ascii_uppercase();
    if upper.starts_with("P-") {
        return Ok(match RegistryId::parse(&upper) {
            Err(e) => Found::Nothing(format!("Registry id \"{}\" {}", e.value, e.rule)),
            Ok(id) => match state
                .store
                .find_patient(&PatientKey::RegistryId(id))
                .await?
            {
                Some((id, patient)) if user.has_site(&patient.home_site) => Found::One(id),
                _ => Found::Nothing("No patient of your sites has that registry id.".into()),
            },
        });
    }
    // Ten digits that pass the NHS check are an NHS number; any other
    // number may be a hospital number.
    if let Ok(nhs) = NhsNumber::parse(query)
        && let Some((id, patient)) = state
            .store
            .find_patient(&PatientKey::NhsNumber(nhs))
            .await?
        && user.has_site(&patient.home_site)
    {
        return Ok(Found::One(id));
    }
    if query.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
        return Ok(Found::Nothing(
            "Type at least two letters or digits of a name or number.".into(),
        ));
    }
    let sites = visible_sites(user);
    let found = state
        .store
        .search_patients(sites.as_deref(), query, MATCHES_SHOWN)
        .await?;
    Ok(if found.total == 0 {
        Found::Nothing(
            "No patient of your sites has that name, hospital number, NHS number or registry id."
                .into(),
        )
    } else {
        Found::Matches(found.patients, found.total)
    })
}

/// The identifiable patients of the user's sites: the newest, or those a
/// search finds. A registry id or NHS number goes to the patient.
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Result<Response, WebError> {
    let user = caller.user();
    let query = q.q.unwrap_or_default().trim().to_owned();
    let mut message = String::new();
    let sites = visible_sites(user);
    let mut caption = "The newest patients of your sites (at most 200)".to_owned();
    let mut matched = None;
    if !query.is_empty() {
        match search(&state, user, &query).await? {
            Found::One(id) => return Ok(Redirect::to(&patient_path(id)).into_response()),
            Found::Nothing(m) => message = m,
            Found::Matches(patients, total) => {
                caption = if total > patients.len() {
                    format!(
                        "{total} patients match \u{201c}{query}\u{201d}: the first {} by name; type more of the name to narrow the search",
                        patients.len()
                    )
                } else if total == 1 {
                    format!("1 patient matches \u{201c}{query}\u{201d}")
                } else {
                    format!("{total} patients match \u{201c}{query}\u{201d}, by name")
                };
                matched = Some(patients);
            }
        }
    }
    let patients = match matched {
        Some(patients) => patients,
        None => state.store.patients_at(sites.as_deref(), 200).await?,
    }
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
        caption,
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
    /// The limb an existing record is of, in words (empty for a new record,
    /// whose procedure choice names the limb, or a record of the patient).
    limb: String,
    /// For the baseline and quality of life: which limbs have an index
    /// procedure, said plainly above the form (empty when both have).
    preoperative: String,
    /// Notes on the whole form, shown once above it.
    notes: Vec<&'static str>,
    action: String,
    back: String,
    fields: Vec<FieldView>,
    general: Vec<String>,
    general_warnings: Vec<String>,
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
        index_procedures: file
            .procedures()
            .map(|(_, p)| (p.index_limb, p.procedure_date))
            .collect(),
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
        for limb in ["limb", "index_limb"] {
            form.0
                .insert(limb.into(), vec![p.index_limb.as_code().into()]);
        }
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
        limb: existing.map(|r| limb_words(r, offered)).unwrap_or_default(),
        preoperative: preoperative_note(kind, offered),
        notes: form_notes(kind, offered, caller.user().role),
        action,
        back: base.clone(),
        fields: forms::field_views(fields, form, offered, messages),
        general: messages.general.clone(),
        general_warnings: messages.general_warnings.clone(),
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

/// The limb of a stored record in words: its index procedure as the form
/// offers it ("Left limb, 2026-03-01"), or its own limb.
fn limb_words(record: &StoredRecord, offered: &Offered) -> String {
    let AnyRecord::Clinical(clinical) = &record.record else {
        return String::new();
    };
    if let Some(limb) = clinical.awaited_limb() {
        return format!("{} limb, waiting for its index procedure", limb.label());
    }
    match clinical {
        ClinicalRecord::Procedure(p) => format!("{} limb", p.index_limb.label()),
        ClinicalRecord::Amputation(a) => format!("{} limb", a.limb.label()),
        other => other
            .procedure_id()
            .and_then(|id| {
                let id = id.to_string();
                offered.procedures.iter().find(|(code, _)| *code == id)
            })
            .map(|(_, label)| format!("{label} (index procedure)"))
            .unwrap_or_default(),
    }
}

/// What the baseline and quality-of-life forms say above everything else
/// when a limb has no index procedure yet: the clinician records them
/// before it (DOMAIN.md 4.5), and learns at once that the limb, not a
/// procedure, is asked for.
fn preoperative_note(kind: RecordKind, offered: &Offered) -> String {
    if !matches!(kind, RecordKind::Baseline | RecordKind::QualityOfLife) {
        return String::new();
    }
    let what = if kind == RecordKind::Baseline {
        "the baseline"
    } else {
        "a pre-operative quality of life"
    };
    let recorded = |limb: Limb| {
        offered
            .index_procedures
            .iter()
            .find(|(l, _)| *l == limb)
            .map(|(_, date)| *date)
    };
    match (recorded(Limb::Left), recorded(Limb::Right)) {
        (Some(_), Some(_)) => String::new(),
        (None, None) => format!(
            "No index procedure is recorded for this patient yet. Choose the limb \
             to be treated: {what} is kept for that limb, and its index procedure \
             takes it up when it is recorded."
        ),
        (Some(date), None) | (None, Some(date)) => {
            let (with, without) = if recorded(Limb::Left).is_some() {
                (Limb::Left, Limb::Right)
            } else {
                (Limb::Right, Limb::Left)
            };
            format!(
                "The {} limb's index procedure is recorded ({date}); the {} limb has \
                 none yet. For the {} limb, {what} is kept for that limb, and its \
                 index procedure takes it up when it is recorded.",
                with.label().to_lowercase(),
                without.label().to_lowercase(),
                without.label().to_lowercase(),
            )
        }
    }
}

/// Notes on a whole form. Without the licensed questionnaire wording the
/// quality-of-life form takes scores; how to install the wording is for
/// administrators, who can, and said once rather than beside every item.
fn form_notes(kind: RecordKind, offered: &Offered, role: Role) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if kind == RecordKind::QualityOfLife && offered.wording.is_none() {
        notes.push(
            "Enter the score of each answer the patient gave on the questionnaire, \
             as the headings below explain.",
        );
        if role == Role::Admin {
            notes.push(
                "For administrators: the form shows the questions and answers \
                 themselves once the registry installs the instruments' licensed \
                 wording (pdva serve --instrument-wording).",
            );
        }
    }
    notes
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
    let mut form = Submitted::from_record(forms::fields_of(kind), &record_json(clinical));
    prefill_index_limb(&mut form, &file, clinical);
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

/// A baseline or quality of life recorded before the pre-operative workflow
/// names no limb of its own: its form shows its procedure's, which saving
/// it keeps (the limb links it to the same procedure again).
fn prefill_index_limb(form: &mut Submitted, file: &PatientFile, record: &ClinicalRecord) {
    if !matches!(
        record,
        ClinicalRecord::Baseline(_) | ClinicalRecord::QualityOfLife(_)
    ) || !form.one("index_limb").is_empty()
    {
        return;
    }
    if let Some(limb) = limb_of(file, record) {
        form.0
            .insert("index_limb".into(), vec![limb.as_code().to_owned()]);
    }
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
            // The rules are checked on what could be read, so that every
            // error of the submission is shown at once.
            let mut messages = Messages::from_field_errors(fields, &errors);
            let mut warnings = false;
            if let Some(readable) = forms::readable_part_of_clinical(kind, &form, &offered) {
                let checked = state
                    .store
                    .check_clinical(patient.id, existing.map(|r| r.meta.id), readable, today())
                    .await?;
                messages.add_findings(fields, &offered, &checked.refusals, true);
                messages.add_findings(fields, &offered, &checked.warnings, false);
                warnings = !checked.warnings.is_empty();
            }
            return page(&messages, warnings, "").respond(StatusCode::UNPROCESSABLE_ENTITY);
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
        Err(StoreError::Refused(findings)) => page(
            &Messages::from_findings(fields, &offered, &findings, true),
            false,
            "",
        )
        .respond(StatusCode::UNPROCESSABLE_ENTITY),
        Err(StoreError::NeedsAcknowledgement(findings)) => page(
            &Messages::from_findings(fields, &offered, &findings, false),
            true,
            "",
        )
        .respond(StatusCode::UNPROCESSABLE_ENTITY),
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
    let mut form = Submitted::from_record(forms::fields_of(kind), &record_json(clinical));
    if let Some(patient) = caller.patient.as_ref() {
        let file = state.store.patient_file(patient.id).await?;
        prefill_index_limb(&mut form, &file, clinical);
    }
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
    general_warnings: Vec<String>,
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
        general_warnings: messages.general_warnings.clone(),
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
        Err(StoreError::Refused(f)) => refused(
            Messages::from_findings(forms::PATIENT, &Offered::default(), &f, true),
            false,
        ),
        Err(StoreError::NeedsAcknowledgement(f)) => refused(
            Messages::from_findings(forms::PATIENT, &Offered::default(), &f, false),
            true,
        ),
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
        general_warnings: messages.general_warnings.clone(),
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
            Messages::from_findings(forms::PATIENT_EDIT, &Offered::default(), &f, true),
            false,
        ),
        Err(StoreError::NeedsAcknowledgement(f)) => refused(
            Messages::from_findings(forms::PATIENT_EDIT, &Offered::default(), &f, false),
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
    /// The limb the record is of, or "Patient" for a record of the whole
    /// patient (consent, death).
    limb: &'static str,
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
    age_label: &'static str,
    sex: &'static str,
    site: String,
    follow_up_ended: String,
    death: String,
    procedures: Vec<ProcedureState>,
    timeline: Vec<TimelineEntry>,
    /// The limb the timeline is limited to ("left", "right"), or empty.
    limb: String,
    /// Links to read the timeline limb by limb: (code, label), when the
    /// patient has records of both limbs.
    limbs: Vec<(&'static str, &'static str)>,
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
            "Rutherford {}; WIfI W{} I{} fI{} (clinical stage {}); {}dialysis{}",
            b.rutherford_category,
            b.wifi_wound,
            b.wifi_ischaemia,
            b.wifi_foot_infection,
            b.wifi_clinical_stage(),
            if b.dialysis_dependent { "" } else { "no " },
            waiting(record)
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
            "VascuQoL-6 total {}; EQ-5D-5L index {}; EQ VAS {}{}",
            q.vascuqol6_total()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "incomplete".into()),
            q.eq5d_index()
                .map(|i| format!("{i:.3}"))
                .unwrap_or_else(|| "incomplete".into()),
            q.eq_vas
                .map(|v| v.to_string())
                .unwrap_or_else(|| "—".into()),
            waiting(record)
        ),
    }
}

/// The words a pre-operative record carries while no index procedure has
/// taken it up.
fn waiting(record: &ClinicalRecord) -> &'static str {
    if record.awaited_limb().is_some() {
        "; pre-operative, waiting for the limb's index procedure"
    } else {
        ""
    }
}

/// The limb a record is of: its own, or its index procedure's. None for a
/// record of the whole patient (consent, death).
fn limb_of(file: &PatientFile, record: &ClinicalRecord) -> Option<Limb> {
    match record {
        ClinicalRecord::Procedure(p) => Some(p.index_limb),
        ClinicalRecord::Amputation(a) => Some(a.limb),
        other => other
            .procedure_id()
            .and_then(|id| file.procedure(id))
            .map(|p| p.index_limb)
            // A pre-operative record waiting for its procedure names its limb.
            .or_else(|| other.awaited_limb()),
    }
}

/// The patient page's query: the limb to read the timeline of.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct PatientQuery {
    limb: Option<String>,
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
    axum::extract::Query(q): axum::extract::Query<PatientQuery>,
) -> Result<Html<String>, WebError> {
    let in_scope = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let user = caller.user();
    let only_limb = match q.limb.as_deref().unwrap_or_default() {
        "" => None,
        code => Some(
            Limb::parse_for("limb", code)
                .map_err(|e| WebError::Invalid(format!("limb: \"{}\" {}", e.value, e.rule)))?,
        ),
    };
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
        .map(|(s, c)| (s, c, limb_of(&file, c)))
        // A limb's reading keeps the records of the whole patient too.
        .filter(|(_, _, limb)| only_limb.is_none() || limb.is_none() || *limb == only_limb)
        .map(|(s, c, limb)| {
            (
                c.date(),
                TimelineEntry {
                    anchor: format!("record-{}", s.meta.id),
                    date: c.date().to_string(),
                    title: forms::title_of(c.kind()),
                    limb: limb.map_or("Patient", |l| l.label()),
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
    let bilateral = file
        .records
        .iter()
        .any(|(_, r)| limb_of(&file, r) == Some(Limb::Left))
        && file
            .records
            .iter()
            .any(|(_, r)| limb_of(&file, r) == Some(Limb::Right));
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
        // A patient seen before their procedure (the pre-operative
        // assessment) has no age at it yet.
        age_label: if first.is_some() {
            "Age at the index procedure"
        } else {
            "Age today"
        },
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
        limb: only_limb
            .map(|l| l.as_code().to_owned())
            .unwrap_or_default(),
        limbs: if bilateral {
            [Limb::Left, Limb::Right]
                .iter()
                .map(|l| (l.as_code(), l.label()))
                .collect()
        } else {
            Vec::new()
        },
        instruments: forms::INSTRUMENTS
            .iter()
            .map(|(slug, kind)| (*slug, forms::title_of(*kind)))
            .collect(),
        history,
    };
    Ok(Html(page.render()?))
}
