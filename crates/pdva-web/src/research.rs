//! Researchers' patient pages: the research population of their sites,
//! de-identified by the one function that does it for every output
//! ([`pdva_domain::deident::deidentify`]): keyed pseudonyms instead of
//! registry ids, days from the index procedure instead of dates, age in
//! whole years, no identifier and no free text.

use std::collections::HashMap;
use std::sync::Mutex;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use pdva_domain::RecordId;
use pdva_domain::deident::Pseudonym;
use pdva_domain::deident::{
    PseudonymKey, ResearchPatient, ResearchRecord, ResearchValue, deidentify,
};
use pdva_store::Store;
use serde_json::Value;

use crate::authz::{Caller, research_use_allowed};
use crate::patients::{Nav, today, visible_sites};
use crate::{AppState, WebError, forms};

/// Finds the patient behind a pseudonym. A keyed pseudonym cannot be
/// inverted, so the index maps every patient's pseudonym to their id; it is
/// rebuilt when a pseudonym is not in it and the registry has changed since
/// it was built (a new patient), never more often, so that guessing
/// pseudonyms costs the guesser, not the registry.
#[derive(Debug, Default)]
pub struct PseudonymIndex {
    built: Mutex<Option<(String, HashMap<Pseudonym, RecordId>)>>,
}

impl PseudonymIndex {
    /// The patient whose pseudonym this is, if any.
    pub(crate) async fn resolve(
        &self,
        store: &Store,
        pseudonym: &Pseudonym,
    ) -> Result<Option<RecordId>, pdva_store::StoreError> {
        let built_at = {
            let built = self.built.lock().expect("pseudonym index lock");
            match built.as_ref() {
                Some((_, map)) if map.contains_key(pseudonym) => {
                    return Ok(map.get(pseudonym).copied());
                }
                Some((at, _)) => Some(at.clone()),
                None => None,
            }
        };
        // Not in the index: rebuild it only if the registry has changed.
        let version = store.data_version().await?.to_string();
        if built_at.as_deref() == Some(version.as_str()) {
            return Ok(None);
        }
        let key = PseudonymKey::new(store.pseudonym_secret());
        let map: HashMap<Pseudonym, RecordId> = store
            .patient_ids()
            .await?
            .into_iter()
            .map(|id| (key.patient(id), id))
            .collect();
        let found = map.get(pseudonym).copied();
        *self.built.lock().expect("pseudonym index lock") = Some((version, map));
        Ok(found)
    }
}

struct ResearchRow {
    pseudonym: String,
    age: i32,
    sex: &'static str,
    site: String,
    limbs: usize,
}

#[derive(Template)]
#[template(path = "research_patients.html")]
struct ResearchPatientsPage {
    nav: Nav,
    query: String,
    message: String,
    patients: Vec<ResearchRow>,
}

/// The research list's search.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
}

/// Patients shown on the list at most.
const LISTED: usize = 200;

/// The de-identified patients of the researcher's sites: the research
/// population only, by pseudonym. A search by pseudonym goes to the patient.
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let query = q.q.unwrap_or_default().trim().to_owned();
    let mut message = String::new();
    if !query.is_empty() {
        match Pseudonym::parse(&query) {
            Some(p) => return Ok(Redirect::to(&format!("/research/patients/{p}")).into_response()),
            None => {
                message = format!(
                    "\"{query}\" is not a pseudonym: pseudonyms are R- and 16 letters or digits."
                )
            }
        }
    }
    let key = PseudonymKey::new(state.store.pseudonym_secret());
    let sites = visible_sites(caller.user());
    let today = today();
    let mut patients = Vec::new();
    // The newest patients first, each file read to check research consent,
    // until enough may be shown: not every file of the registry.
    for (id, _) in state
        .store
        .patients_at(sites.as_deref(), (LISTED * 10) as i64)
        .await?
    {
        if patients.len() >= LISTED {
            break;
        }
        let file = state.store.patient_file(id).await?;
        if !research_use_allowed(&file) {
            continue;
        }
        let research = deidentify(&file, &key, today);
        patients.push(ResearchRow {
            pseudonym: research.pseudonym.to_string(),
            age: research.age_at_day_zero,
            sex: research.sex.label(),
            site: research.site,
            limbs: file.procedures().count(),
        });
    }
    // By pseudonym, which says nothing of when a patient was registered.
    patients.sort_by(|a, b| a.pseudonym.cmp(&b.pseudonym));
    let page = ResearchPatientsPage {
        nav: Nav::of(&caller),
        query,
        message,
        patients,
    };
    Ok(Html(page.render()?).into_response())
}

struct ResearchLine {
    day: i64,
    title: &'static str,
    limb: String,
    fields: String,
}

#[derive(Template)]
#[template(path = "research_patient.html")]
struct ResearchPatientPage {
    nav: Nav,
    patient: ResearchPatient,
    sex: &'static str,
    follow_up_ended: String,
    lines: Vec<ResearchLine>,
}

/// A value as the page shows it: codes and numbers as stored.
fn shown(value: &ResearchValue) -> String {
    match value {
        ResearchValue::Day(d) => format!("day {d}"),
        ResearchValue::Reference(r) => r.clone(),
        ResearchValue::Value(v) => json_text(v),
    }
}

fn json_text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn line(record: &ResearchRecord) -> ResearchLine {
    ResearchLine {
        day: record.day,
        title: forms::title_of(record.kind),
        limb: record.limb.clone().unwrap_or_default(),
        fields: record
            .fields
            .iter()
            // The limb has its own column; empty answers say nothing.
            .filter(|(name, v)| {
                *name != "procedure_id"
                    && !matches!(v, ResearchValue::Value(Value::Null))
                    && !matches!(v, ResearchValue::Value(Value::Array(a)) if a.is_empty())
            })
            .map(|(name, v)| format!("{}: {}", name.replace('_', " "), shown(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// One de-identified patient. The guard has resolved the pseudonym and
/// checked the site and the research population.
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let in_scope = caller.patient.as_ref().ok_or(WebError::NotFound)?;
    let file = state.store.patient_file(in_scope.id).await?;
    let key = PseudonymKey::new(state.store.pseudonym_secret());
    let patient = deidentify(&file, &key, today());
    let page = ResearchPatientPage {
        nav: Nav::of(&caller),
        sex: patient.sex.label(),
        follow_up_ended: match (patient.follow_up_ended_day, patient.follow_up_end_reason) {
            (Some(d), Some(r)) => format!("day {d} ({})", r.label()),
            (Some(d), None) => format!("day {d}"),
            _ => String::new(),
        },
        lines: patient.records.iter().map(line).collect(),
        patient,
    };
    Ok(Html(page.render()?))
}
