//! The JSON API of the registry's records (`/api/v1/`): sites, clinicians,
//! patients and each patient's clinical records.
//!
//! Every record comes back in one envelope, [`RecordView`]: its id, kind,
//! version, void and sign-off, who made and changed it when, and `record`,
//! the record itself with the data dictionary's field names (DOMAIN.md
//! section 4). Lists come a page at a time in id order ([`RecordList`],
//! an opaque `next_cursor`). Writes take `{"record": {…}}` (and, to amend,
//! the `version` read) and go through exactly the store calls the forms
//! use, so the same rules, acknowledgement of warnings and audit trail
//! apply. Rights are checked by the guard before a handler runs
//! ([`crate::authz`]); errors are [`ApiError`]s.

use axum::Json;
use axum::extract::{Extension, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use pdva_domain::values::{RegistryId, SiteCode};
use pdva_domain::{ClinicalRecord, Clinician, Patient, RecordId, RecordKind, Site};
use pdva_store::{AnyRecord, Change, Edit, PageQuery, StoredRecord};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::authz::Caller;
use crate::error::{ApiError, ApiErrorBody};
use crate::patients::{today, visible_sites};
use crate::{AppState, WebError};

/// Records per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest page.
pub const MAX_LIMIT: i64 = 1000;

/// A query string, parsed; a bad one is a 422 in the API's error shape.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map(ApiQuery)
            .map_err(|e| ApiError(WebError::Invalid(format!("query: {e}"))))
    }
}

/// A JSON body, parsed; a bad one is a 422 in the API's error shape.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|e| {
                // A body over the limit is 413 as elsewhere, not a bad record.
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError(WebError::TooLarge)
                } else {
                    ApiError(WebError::Invalid(format!("body: {}", e.body_text())))
                }
            })
    }
}

/// A record with its envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    /// The record's id (a UUID).
    pub id: String,
    /// Its kind: `site`, `clinician`, `patient`, `consent`, `baseline`,
    /// `procedure`, `antithrombotic_therapy`, `follow_up_visit`,
    /// `amputation`, `reintervention`, `death`, `adverse_event`,
    /// `quality_of_life`.
    pub kind: String,
    /// The patient a clinical record belongs to.
    pub patient_id: Option<String>,
    /// 1 when created, +1 on every change: send it back to amend.
    pub version: i64,
    /// A voided record is kept but never counts.
    pub voided: bool,
    /// Why it was voided.
    pub void_reason: Option<String>,
    /// When it was signed off (procedures and follow-up visits).
    pub signed_off_at: Option<String>,
    /// Who signed it off.
    pub signed_off_by: Option<String>,
    /// When it was created (UTC, RFC 3339).
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// When it last changed (UTC, RFC 3339).
    pub updated_at: String,
    /// Who last changed it.
    pub updated_by: String,
    /// The record, with the data dictionary's field names.
    #[schema(value_type = Object)]
    pub record: Value,
}

impl RecordView {
    fn of(stored: &StoredRecord) -> Self {
        let record = match &stored.record {
            AnyRecord::Site(r) => serde_json::to_value(r),
            AnyRecord::GovernanceMeeting(r) => serde_json::to_value(r),
            AnyRecord::Clinician(r) => serde_json::to_value(r),
            AnyRecord::Patient(r) => serde_json::to_value(r),
            // The kind is in the envelope; `record` is the record itself.
            AnyRecord::Clinical(c) => serde_json::to_value(c).map(|v| {
                v.get("record")
                    .cloned()
                    .unwrap_or(Value::Object(Default::default()))
            }),
        }
        .unwrap_or(Value::Null);
        let m = &stored.meta;
        Self {
            id: m.id.to_string(),
            kind: m.kind.as_str().to_owned(),
            patient_id: m.patient_id.map(|p| p.to_string()),
            version: m.version,
            voided: m.voided,
            void_reason: m.void_reason.clone(),
            signed_off_at: m.signed_off_at.clone(),
            signed_off_by: m.signed_off_by.clone(),
            created_at: m.created_at.clone(),
            created_by: m.created_by.clone(),
            updated_at: m.updated_at.clone(),
            updated_by: m.updated_by.clone(),
            record,
        }
    }
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordList {
    /// The records of this page, in id order.
    pub items: Vec<RecordView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Which page, and which records.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
    /// Records per page: 1 to 1000, default 100.
    pub limit: Option<i64>,
    /// Only records changed at or after this time (RFC 3339, or a date:
    /// midnight UTC).
    pub changed_since: Option<String>,
    /// Patients only: only those of this site (among the caller's sites).
    pub site: Option<String>,
    /// A patient's records only: only those of this kind (e.g. `consent`).
    pub kind: Option<String>,
}

impl ListQuery {
    fn page(&self) -> Result<PageQuery, WebError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(WebError::Invalid(format!(
                "limit: \"{limit}\" must be from 1 to {MAX_LIMIT}"
            )));
        }
        let after = match self.cursor.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(c.parse::<RecordId>().map_err(|_| {
                WebError::Invalid(format!("cursor: \"{c}\" is not a cursor this API gave"))
            })?),
        };
        let changed_since = match self.changed_since.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => Some(parse_instant(t).ok_or_else(|| {
                WebError::Invalid(format!(
                    "changed_since: \"{t}\" is not a time (RFC 3339) or a date (YYYY-MM-DD)"
                ))
            })?),
        };
        Ok(PageQuery {
            changed_since,
            after,
            limit,
        })
    }
}

fn parse_instant(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(t) {
        return Some(t.with_timezone(&Utc));
    }
    t.parse::<NaiveDate>()
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn list_of(records: &[StoredRecord], limit: i64) -> RecordList {
    let full = records.len() as i64 >= limit;
    RecordList {
        items: records.iter().map(RecordView::of).collect(),
        next_cursor: if full {
            records.last().map(|r| r.meta.id.to_string())
        } else {
            None
        },
    }
}

/// A new record.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRecord {
    /// A patient's clinical record only: its kind (`consent`, `baseline`,
    /// `procedure`, `antithrombotic_therapy`, `follow_up_visit`,
    /// `amputation`, `reintervention`, `death`, `adverse_event`,
    /// `quality_of_life`).
    #[serde(default)]
    pub kind: Option<String>,
    /// The record, with the data dictionary's field names. A patient's
    /// registry id and home site are set by the registry.
    #[schema(value_type = Object)]
    pub record: Value,
    /// The soft warnings of a previous answer were checked: save anyway.
    #[serde(default)]
    pub acknowledge_warnings: bool,
}

/// An amendment of a record.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordChange {
    /// The version that was read: if the record has changed since, the
    /// amendment is refused (409) and must be made again on the new version.
    pub version: i64,
    /// The record as it should now read, whole.
    #[schema(value_type = Object)]
    pub record: Value,
    /// Why: required for sites, clinicians and signed-off records.
    #[serde(default)]
    pub reason: Option<String>,
    /// The soft warnings of a previous answer were checked: save anyway.
    #[serde(default)]
    pub acknowledge_warnings: bool,
}

/// Why a record is voided.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VoidRequest {
    /// The reason, required.
    pub reason: String,
}

fn parse<T: DeserializeOwned>(what: &str, value: Value) -> Result<T, WebError> {
    serde_json::from_value(value)
        .map_err(|e| WebError::Invalid(format!("{what}: could not be read: {e}")))
}

fn reason_of(reason: Option<String>) -> Option<String> {
    reason.filter(|r| !r.trim().is_empty())
}

async fn view(state: &AppState, id: RecordId) -> Result<RecordView, ApiError> {
    Ok(RecordView::of(&state.store.get(id).await?))
}

/// The site record of a code, with its envelope.
async fn site_by_code(state: &AppState, code: &str) -> Result<StoredRecord, ApiError> {
    let code = SiteCode::parse(code).map_err(|_| WebError::NotFound)?;
    let id = state
        .store
        .sites()
        .await?
        .into_iter()
        .find(|(_, s)| s.site_code == code)
        .map(|(id, _)| id)
        .ok_or(WebError::NotFound)?;
    Ok(state.store.get(id).await?)
}

/// Pages through records of one kind held as `(id, _)` pairs (the small
/// reference lists, read whole).
async fn reference_page(
    state: &AppState,
    ids: Vec<RecordId>,
    q: &ListQuery,
) -> Result<RecordList, ApiError> {
    let page = q.page()?;
    let mut ids: Vec<RecordId> = ids
        .into_iter()
        .filter(|id| page.after.is_none_or(|a| *id > a))
        .collect();
    ids.sort();
    let mut records = Vec::new();
    for id in ids {
        if records.len() as i64 >= page.limit {
            break;
        }
        let stored = state.store.get(id).await?;
        let changed = page.changed_since.is_none_or(|since| {
            DateTime::parse_from_rfc3339(&stored.meta.updated_at)
                .is_ok_and(|t| t.with_timezone(&Utc) >= since)
        });
        if changed {
            records.push(stored);
        }
    }
    Ok(list_of(&records, page.limit))
}

/// `GET /api/v1/sites`: the registry's sites.
#[utoipa::path(get, path = "/api/v1/sites", tag = "reference",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of sites", body = RecordList),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 422, description = "A bad query", body = ApiErrorBody),
    ))]
pub(crate) async fn sites(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<RecordList>, ApiError> {
    let ids = state.store.sites().await?.into_iter().map(|(id, _)| id);
    Ok(Json(reference_page(&state, ids.collect(), &q).await?))
}

/// `GET /api/v1/sites/{site}`: one site.
#[utoipa::path(get, path = "/api/v1/sites/{site}", tag = "reference",
    params(("site" = String, Path, description = "The site code")),
    responses(
        (status = 200, description = "The site", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 404, description = "No such site", body = ApiErrorBody),
    ))]
pub(crate) async fn site(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(RecordView::of(&site_by_code(&state, &code).await?)))
}

/// `POST /api/v1/sites`: registers a site (administrators).
#[utoipa::path(post, path = "/api/v1/sites", tag = "reference",
    request_body = NewRecord,
    responses(
        (status = 201, description = "The site registered", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not an administrator", body = ApiErrorBody),
        (status = 422, description = "The site breaks a rule", body = ApiErrorBody),
    ))]
pub(crate) async fn create_site(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(new): ApiJson<NewRecord>,
) -> Result<(StatusCode, Json<RecordView>), ApiError> {
    let site: Site = parse("site", new.record)?;
    let id = state
        .store
        .create_site(&caller.user().actor(), site)
        .await?;
    Ok((StatusCode::CREATED, Json(view(&state, id).await?)))
}

/// `PUT /api/v1/sites/{site}`: amends a site (administrators; its code
/// never changes).
#[utoipa::path(put, path = "/api/v1/sites/{site}", tag = "reference",
    params(("site" = String, Path, description = "The site code")),
    request_body = RecordChange,
    responses(
        (status = 200, description = "The site as amended", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not an administrator", body = ApiErrorBody),
        (status = 404, description = "No such site", body = ApiErrorBody),
        (status = 409, description = "Changed since it was read", body = ApiErrorBody),
        (status = 422, description = "The change breaks a rule", body = ApiErrorBody),
    ))]
pub(crate) async fn update_site(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    ApiJson(change): ApiJson<RecordChange>,
) -> Result<Json<RecordView>, ApiError> {
    let stored = site_by_code(&state, &code).await?;
    let site: Site = parse("site", change.record)?;
    state
        .store
        .update_site(
            &caller.user().actor(),
            Change {
                edit: Some(Edit {
                    id: stored.meta.id,
                    expected_version: change.version,
                }),
                record: site,
                reason: reason_of(change.reason),
                acknowledge_warnings: change.acknowledge_warnings,
            },
        )
        .await?;
    Ok(Json(view(&state, stored.meta.id).await?))
}

/// `GET /api/v1/clinicians`: the registry's clinicians.
#[utoipa::path(get, path = "/api/v1/clinicians", tag = "reference",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of clinicians", body = RecordList),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 422, description = "A bad query", body = ApiErrorBody),
    ))]
pub(crate) async fn clinicians(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<RecordList>, ApiError> {
    let ids = state
        .store
        .clinicians()
        .await?
        .into_iter()
        .map(|(id, _)| id);
    Ok(Json(reference_page(&state, ids.collect(), &q).await?))
}

async fn clinician_by_id(state: &AppState, id: &str) -> Result<StoredRecord, ApiError> {
    let id: RecordId = id.parse().map_err(|_| WebError::NotFound)?;
    match state.store.get(id).await? {
        stored @ StoredRecord {
            record: AnyRecord::Clinician(_),
            ..
        } if !stored.meta.voided => Ok(stored),
        _ => Err(WebError::NotFound.into()),
    }
}

/// `GET /api/v1/clinicians/{clinician_id}`: one clinician.
#[utoipa::path(get, path = "/api/v1/clinicians/{clinician_id}", tag = "reference",
    params(("clinician_id" = String, Path, description = "The clinician's record id")),
    responses(
        (status = 200, description = "The clinician", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 404, description = "No such clinician", body = ApiErrorBody),
    ))]
pub(crate) async fn clinician(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(RecordView::of(&clinician_by_id(&state, &id).await?)))
}

/// `POST /api/v1/clinicians`: registers a clinician (administrators).
#[utoipa::path(post, path = "/api/v1/clinicians", tag = "reference",
    request_body = NewRecord,
    responses(
        (status = 201, description = "The clinician registered", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not an administrator", body = ApiErrorBody),
        (status = 422, description = "The clinician breaks a rule", body = ApiErrorBody),
    ))]
pub(crate) async fn create_clinician(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(new): ApiJson<NewRecord>,
) -> Result<(StatusCode, Json<RecordView>), ApiError> {
    let clinician: Clinician = parse("clinician", new.record)?;
    let id = state
        .store
        .create_clinician(&caller.user().actor(), clinician)
        .await?;
    Ok((StatusCode::CREATED, Json(view(&state, id).await?)))
}

/// `PUT /api/v1/clinicians/{clinician_id}`: amends a clinician
/// (administrators).
#[utoipa::path(put, path = "/api/v1/clinicians/{clinician_id}", tag = "reference",
    params(("clinician_id" = String, Path, description = "The clinician's record id")),
    request_body = RecordChange,
    responses(
        (status = 200, description = "The clinician as amended", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not an administrator", body = ApiErrorBody),
        (status = 404, description = "No such clinician", body = ApiErrorBody),
        (status = 409, description = "Changed since it was read", body = ApiErrorBody),
        (status = 422, description = "The change breaks a rule", body = ApiErrorBody),
    ))]
pub(crate) async fn update_clinician(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<RecordChange>,
) -> Result<Json<RecordView>, ApiError> {
    let stored = clinician_by_id(&state, &id).await?;
    let clinician: Clinician = parse("clinician", change.record)?;
    state
        .store
        .update_clinician(
            &caller.user().actor(),
            Change {
                edit: Some(Edit {
                    id: stored.meta.id,
                    expected_version: change.version,
                }),
                record: clinician,
                reason: reason_of(change.reason),
                acknowledge_warnings: change.acknowledge_warnings,
            },
        )
        .await?;
    Ok(Json(view(&state, stored.meta.id).await?))
}

/// `GET /api/v1/patients`: the patients of the caller's sites.
#[utoipa::path(get, path = "/api/v1/patients", tag = "patients",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of patients", body = RecordList),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "The role sees no identifiable data", body = ApiErrorBody),
        (status = 422, description = "A bad query", body = ApiErrorBody),
    ))]
pub(crate) async fn patients(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<RecordList>, ApiError> {
    let page = q.page()?;
    let user = caller.user();
    // The caller's sites, narrowed to the one asked for: another site's
    // patients are simply not among them.
    let sites = match q.site.as_deref().map(str::trim) {
        None | Some("") => visible_sites(user),
        Some(code) => match SiteCode::parse(code) {
            Ok(site) if user.has_site(&site) => Some(vec![site]),
            _ => Some(Vec::new()),
        },
    };
    let records = state.store.patients_page(sites.as_deref(), &page).await?;
    Ok(Json(list_of(&records, page.limit)))
}

/// Saves a patient through the same store call as the registration and
/// edit forms, then reads them back.
async fn save_patient(
    state: &AppState,
    caller: &Caller,
    change: Change<Patient>,
) -> Result<RecordView, ApiError> {
    let saved = state
        .store
        .save_patient(&caller.user().actor(), change, today())
        .await?;
    view(state, saved.id).await
}

/// The fields of a patient as sent, with what the registry sets itself.
fn patient_fields(
    record: Value,
    registry_id: String,
    site: &SiteCode,
) -> Result<Patient, WebError> {
    let Value::Object(mut fields) = record else {
        return Err(WebError::Invalid(
            "patient: the record must be an object of fields".into(),
        ));
    };
    // The date of birth is parsed as a form parses it (strict YYYY-MM-DD
    // from 1900-01-01 on): chrono's own reading would take `2025-1-1`.
    if let Some(Value::String(typed)) = fields.get("date_of_birth") {
        pdva_domain::values::parse_date_of_birth(typed)
            .map_err(|e| WebError::Invalid(e.to_string()))?;
    }
    fields.insert("registry_id".into(), Value::String(registry_id));
    fields.insert("home_site".into(), Value::String(site.to_string()));
    parse("patient", Value::Object(fields))
}

/// `POST /api/v1/sites/{site}/patients`: registers a patient at one of the
/// caller's sites (clinicians); the registry assigns the registry id.
#[utoipa::path(post, path = "/api/v1/sites/{site}/patients", tag = "patients",
    params(("site" = String, Path, description = "The site code")),
    request_body = NewRecord,
    responses(
        (status = 201, description = "The patient registered", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not a clinician", body = ApiErrorBody),
        (status = 404, description = "Not one of the caller's sites", body = ApiErrorBody),
        (status = 422, description = "Refused by the rules, or warnings to acknowledge", body = ApiErrorBody),
    ))]
pub(crate) async fn register_patient(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(new): ApiJson<NewRecord>,
) -> Result<(StatusCode, Json<RecordView>), ApiError> {
    let site = caller.site.clone().ok_or(WebError::NotFound)?;
    let bits = u64::from_str_radix(&pdva_store::random_token()[..16], 16).expect("hex");
    let registry_id = RegistryId::from_random(bits).to_string();
    let patient = patient_fields(new.record, registry_id, &site)?;
    let change = Change {
        edit: None,
        record: patient,
        reason: None,
        acknowledge_warnings: new.acknowledge_warnings,
    };
    Ok((
        StatusCode::CREATED,
        Json(save_patient(&state, &caller, change).await?),
    ))
}

/// `GET /api/v1/patients/{patient_id}`: one patient, identifiable (the
/// view is in the access log).
#[utoipa::path(get, path = "/api/v1/patients/{patient_id}", tag = "patients",
    params(("patient_id" = String, Path, description = "The patient's record id")),
    responses(
        (status = 200, description = "The patient", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "The role sees no identifiable data", body = ApiErrorBody),
        (status = 404, description = "No such patient at the caller's sites", body = ApiErrorBody),
    ))]
pub(crate) async fn patient(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<RecordView>, ApiError> {
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    Ok(Json(view(&state, patient.id).await?))
}

/// `PUT /api/v1/patients/{patient_id}`: amends a patient's details
/// (clinicians); the registry id and home site do not change.
#[utoipa::path(put, path = "/api/v1/patients/{patient_id}", tag = "patients",
    params(("patient_id" = String, Path, description = "The patient's record id")),
    request_body = RecordChange,
    responses(
        (status = 200, description = "The patient as amended", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not a clinician", body = ApiErrorBody),
        (status = 404, description = "No such patient at the caller's sites", body = ApiErrorBody),
        (status = 409, description = "Changed since it was read", body = ApiErrorBody),
        (status = 422, description = "Refused by the rules, or warnings to acknowledge", body = ApiErrorBody),
    ))]
pub(crate) async fn update_patient(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(change): ApiJson<RecordChange>,
) -> Result<Json<RecordView>, ApiError> {
    let in_scope = caller.patient.clone().ok_or(WebError::NotFound)?;
    let patient = patient_fields(
        change.record,
        in_scope.patient.registry_id.to_string(),
        &in_scope.patient.home_site,
    )?;
    let change = Change {
        edit: Some(Edit {
            id: in_scope.id,
            expected_version: change.version,
        }),
        record: patient,
        reason: reason_of(change.reason),
        acknowledge_warnings: change.acknowledge_warnings,
    };
    Ok(Json(save_patient(&state, &caller, change).await?))
}

/// `GET /api/v1/patients/{patient_id}/records`: the patient's clinical
/// records (voided ones too, marked).
#[utoipa::path(get, path = "/api/v1/patients/{patient_id}/records", tag = "patients",
    params(("patient_id" = String, Path, description = "The patient's record id"), ListQuery),
    responses(
        (status = 200, description = "A page of the patient's records", body = RecordList),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "The role sees no identifiable data", body = ApiErrorBody),
        (status = 404, description = "No such patient at the caller's sites", body = ApiErrorBody),
        (status = 422, description = "A bad query", body = ApiErrorBody),
    ))]
pub(crate) async fn records(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<RecordList>, ApiError> {
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let page = q.page()?;
    let kind = match q.kind.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => Some(clinical_kind(k)?),
    };
    let records = state
        .store
        .patient_records_page(patient.id, kind, &page)
        .await?;
    Ok(Json(list_of(&records, page.limit)))
}

fn clinical_kind(kind: &str) -> Result<RecordKind, WebError> {
    RecordKind::parse(kind)
        .filter(|k| {
            !matches!(
                k,
                RecordKind::Site
                    | RecordKind::GovernanceMeeting
                    | RecordKind::Clinician
                    | RecordKind::Patient
            )
        })
        .ok_or_else(|| {
            WebError::Invalid(format!("kind: \"{kind}\" is not a kind of clinical record"))
        })
}

/// A clinical record of a kind from its fields.
fn clinical_record(kind: RecordKind, record: Value) -> Result<ClinicalRecord, WebError> {
    parse(
        kind.as_str(),
        serde_json::json!({"kind": kind.as_str(), "record": record}),
    )
}

/// `POST /api/v1/patients/{patient_id}/records`: records a clinical record
/// of the patient (clinicians).
#[utoipa::path(post, path = "/api/v1/patients/{patient_id}/records", tag = "patients",
    params(("patient_id" = String, Path, description = "The patient's record id")),
    request_body = NewRecord,
    responses(
        (status = 201, description = "The record saved", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not a clinician", body = ApiErrorBody),
        (status = 404, description = "No such patient at the caller's sites", body = ApiErrorBody),
        (status = 422, description = "Refused by the rules, or warnings to acknowledge", body = ApiErrorBody),
    ))]
pub(crate) async fn create_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(new): ApiJson<NewRecord>,
) -> Result<(StatusCode, Json<RecordView>), ApiError> {
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let kind = clinical_kind(new.kind.as_deref().unwrap_or(""))?;
    let record = clinical_record(kind, new.record)?;
    let saved = state
        .store
        .save_clinical(
            &caller.user().actor(),
            patient.id,
            Change {
                edit: None,
                record,
                reason: None,
                acknowledge_warnings: new.acknowledge_warnings,
            },
            today(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(&state, saved.id).await?)))
}

/// The record of the path, as the guard checked it belongs to the patient.
fn record_in_scope(caller: &Caller) -> Result<&StoredRecord, WebError> {
    match &caller.record {
        Some(
            r @ StoredRecord {
                record: AnyRecord::Clinical(_),
                ..
            },
        ) => Ok(r),
        _ => Err(WebError::NotFound),
    }
}

/// `GET /api/v1/patients/{patient_id}/records/{record_id}`: one clinical
/// record (the view is in the access log).
#[utoipa::path(get, path = "/api/v1/patients/{patient_id}/records/{record_id}", tag = "patients",
    params(
        ("patient_id" = String, Path, description = "The patient's record id"),
        ("record_id" = String, Path, description = "The clinical record's id"),
    ),
    responses(
        (status = 200, description = "The record", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "The role sees no identifiable data", body = ApiErrorBody),
        (status = 404, description = "No such record of a patient at the caller's sites", body = ApiErrorBody),
    ))]
pub(crate) async fn record(
    Extension(caller): Extension<Caller>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(RecordView::of(record_in_scope(&caller)?)))
}

/// `PUT /api/v1/patients/{patient_id}/records/{record_id}`: amends a
/// clinical record (clinicians; a signed-off one needs a reason).
#[utoipa::path(put, path = "/api/v1/patients/{patient_id}/records/{record_id}", tag = "patients",
    params(
        ("patient_id" = String, Path, description = "The patient's record id"),
        ("record_id" = String, Path, description = "The clinical record's id"),
    ),
    request_body = RecordChange,
    responses(
        (status = 200, description = "The record as amended", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not a clinician", body = ApiErrorBody),
        (status = 404, description = "No such record of a patient at the caller's sites", body = ApiErrorBody),
        (status = 409, description = "Changed since it was read", body = ApiErrorBody),
        (status = 422, description = "Refused by the rules, warnings to acknowledge, or a reason needed", body = ApiErrorBody),
    ))]
pub(crate) async fn update_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(change): ApiJson<RecordChange>,
) -> Result<Json<RecordView>, ApiError> {
    let patient = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let existing = record_in_scope(&caller)?;
    if existing.meta.voided {
        return Err(WebError::NotFound.into());
    }
    let record = clinical_record(existing.meta.kind, change.record)?;
    let saved = state
        .store
        .save_clinical(
            &caller.user().actor(),
            patient.id,
            Change {
                edit: Some(Edit {
                    id: existing.meta.id,
                    expected_version: change.version,
                }),
                record,
                reason: reason_of(change.reason),
                acknowledge_warnings: change.acknowledge_warnings,
            },
            today(),
        )
        .await?;
    Ok(Json(view(&state, saved.id).await?))
}

/// `POST /api/v1/patients/{patient_id}/records/{record_id}/void`: voids a
/// clinical record with a reason (clinicians).
#[utoipa::path(post, path = "/api/v1/patients/{patient_id}/records/{record_id}/void", tag = "patients",
    params(
        ("patient_id" = String, Path, description = "The patient's record id"),
        ("record_id" = String, Path, description = "The clinical record's id"),
    ),
    request_body = VoidRequest,
    responses(
        (status = 200, description = "The record, voided", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not a clinician", body = ApiErrorBody),
        (status = 404, description = "No such record of a patient at the caller's sites", body = ApiErrorBody),
        (status = 422, description = "No reason, or already voided", body = ApiErrorBody),
    ))]
pub(crate) async fn void_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(void): ApiJson<VoidRequest>,
) -> Result<Json<RecordView>, ApiError> {
    let record = record_in_scope(&caller)?;
    state
        .store
        .void(&caller.user().actor(), record.meta.id, &void.reason)
        .await?;
    Ok(Json(view(&state, record.meta.id).await?))
}

/// `POST /api/v1/patients/{patient_id}/records/{record_id}/sign-off`: signs
/// off a procedure or follow-up visit (clinicians).
#[utoipa::path(post, path = "/api/v1/patients/{patient_id}/records/{record_id}/sign-off", tag = "patients",
    params(
        ("patient_id" = String, Path, description = "The patient's record id"),
        ("record_id" = String, Path, description = "The clinical record's id"),
    ),
    responses(
        (status = 200, description = "The record, signed off", body = RecordView),
        (status = 401, description = "No session and no valid API token", body = ApiErrorBody),
        (status = 403, description = "Not a clinician", body = ApiErrorBody),
        (status = 404, description = "No such record of a patient at the caller's sites", body = ApiErrorBody),
        (status = 422, description = "Not a procedure or visit, voided, or already signed off", body = ApiErrorBody),
    ))]
pub(crate) async fn sign_off_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<RecordView>, ApiError> {
    let record = record_in_scope(&caller)?;
    state
        .store
        .sign_off(&caller.user().actor(), record.meta.id)
        .await?;
    Ok(Json(view(&state, record.meta.id).await?))
}
