//! The lifelong follow-up worklist (DOMAIN.md section 5): visits due, due
//! soon and overdue per site and operator, with follow-up completeness.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::NaiveDate;
use pdva_domain::facts::FactDetail;
use pdva_domain::schedule::{self, Completeness, FollowUpContext, WorklistState};
use pdva_domain::{Patient, RecordId};
use pdva_store::AnyRecord;
use serde::Deserialize;

use crate::authz::Caller;
use crate::patients::{Nav, today, visible_sites};
use crate::{AppState, WebError};

#[derive(Clone)]
struct Row {
    patient: RecordId,
    patient_id: String,
    registry_id: String,
    name: String,
    hospital_number: String,
    /// The index limb whose visit is due.
    limb: &'static str,
    /// The limb's last follow-up visit, else "procedure only".
    last_seen: String,
    site: String,
    operator: String,
    procedure_date: NaiveDate,
    timepoint: String,
    state: &'static str,
    window: String,
}

struct CompletenessRow {
    group: String,
    with_visit: u32,
    closed: u32,
    percent: String,
    flagged: bool,
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage {
    nav: Nav,
    today: NaiveDate,
    site: String,
    sites: Vec<String>,
    operator: String,
    operators: Vec<String>,
    /// Visits to arrange in all (of the site and operator chosen).
    total_rows: usize,
    /// The first row of this page, counting from 1.
    first_row: usize,
    rows: Vec<Row>,
    pages: Vec<PageLink>,
    by_site: Vec<CompletenessRow>,
    by_operator: Vec<CompletenessRow>,
    compliance_links: bool,
}

/// Query of the worklist: one site, or all the user's sites; one primary
/// operator or all; the page of visits to arrange.
#[derive(Debug, Deserialize)]
pub(crate) struct WorklistQuery {
    site: Option<String>,
    operator: Option<String>,
    page: Option<usize>,
}

/// Visits to arrange shown on one page: a large site has thousands due at
/// once, overdue first.
const ROWS_PER_PAGE: usize = 100;

/// A link to another page of the worklist, with the same choices.
struct PageLink {
    label: String,
    href: String,
}

/// The visits to arrange of some sites as of a day, in the order shown
/// (overdue first), with follow-up completeness by site and operator.
struct Schedule {
    rows: Vec<Row>,
    by_site: BTreeMap<String, Completeness>,
    by_operator: BTreeMap<String, Completeness>,
}

/// What identifies a [`Schedule`]: the registry as it was, the sites and
/// the day (a window opens or closes as the days pass).
#[derive(PartialEq)]
struct ScheduleKey {
    data_version: String,
    sites: Vec<String>,
    today: NaiveDate,
}

/// Worklists kept for the data version they were computed at, as the
/// compliance view keeps its findings: a large site's schedule reads every
/// patient's outcome facts, and the worklist is opened many times a day
/// between changes.
#[derive(Default)]
pub struct WorklistCache {
    kept: Mutex<VecDeque<(ScheduleKey, Arc<Schedule>)>>,
}

impl std::fmt::Debug for WorklistCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorklistCache").finish_non_exhaustive()
    }
}

/// Worklists kept at once: a few sites (and "all my sites") being looked at.
const KEPT_WORKLISTS: usize = 16;

impl WorklistCache {
    fn get(&self, key: &ScheduleKey) -> Option<Arc<Schedule>> {
        let kept = self.kept.lock().expect("worklist cache lock");
        kept.iter()
            .find(|(k, _)| k == key)
            .map(|(_, s)| Arc::clone(s))
    }

    fn keep(&self, key: ScheduleKey, schedule: Arc<Schedule>) {
        let mut kept = self.kept.lock().expect("worklist cache lock");
        // Worklists of an older data version are never asked for again.
        kept.retain(|(k, _)| k.data_version == key.data_version);
        if kept.len() >= KEPT_WORKLISTS {
            kept.pop_front();
        }
        kept.push_back((key, schedule));
    }
}

fn completeness_rows(groups: BTreeMap<String, Completeness>) -> Vec<CompletenessRow> {
    groups
        .into_iter()
        .map(|(group, c)| CompletenessRow {
            group,
            with_visit: c.with_visit,
            closed: c.closed,
            percent: c
                .proportion()
                .map(|p| format!("{:.0}%", p * 100.0))
                .unwrap_or_else(|| "—".into()),
            // DOMAIN.md section 5: below 80% is flagged (registry choice).
            flagged: c.proportion().is_some_and(|p| p < 0.8),
        })
        .collect()
}

/// The worklist of the user's sites (or the one chosen).
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<WorklistQuery>,
) -> Result<Html<String>, WebError> {
    let user = caller.user();
    let sites: Vec<String> = match visible_sites(user) {
        Some(s) => s.iter().map(ToString::to_string).collect(),
        None => state
            .store
            .sites()
            .await?
            .into_iter()
            .map(|(_, s)| s.site_code.to_string())
            .collect(),
    };
    let chosen: Vec<String> = match q.site.filter(|s| !s.is_empty()) {
        Some(s) if sites.contains(&s) => vec![s],
        Some(_) => return Err(WebError::NotFound),
        None => sites.clone(),
    };
    let today = today();
    let schedule = schedule_of(&state, &chosen, today).await?;
    let operators: Vec<String> = schedule.by_operator.keys().cloned().collect();
    let operator = q.operator.filter(|o| !o.is_empty()).unwrap_or_default();
    let shown: Vec<&Row> = schedule
        .rows
        .iter()
        .filter(|r| operator.is_empty() || r.operator == operator)
        .collect();
    let site = if chosen.len() == 1 {
        chosen[0].clone()
    } else {
        String::new()
    };
    let total_rows = shown.len();
    let page_count = total_rows.div_ceil(ROWS_PER_PAGE).max(1);
    let page_number = q.page.unwrap_or(1).clamp(1, page_count);
    let first = (page_number - 1) * ROWS_PER_PAGE;
    let mut rows: Vec<Row> = shown
        .into_iter()
        .skip(first)
        .take(ROWS_PER_PAGE)
        .cloned()
        .collect();
    // Names and hospital numbers only for the rows shown (each is
    // decrypted with its patient's own key).
    let mut identities: HashMap<RecordId, (String, String)> = HashMap::new();
    for row in &mut rows {
        if let Entry::Vacant(slot) = identities.entry(row.patient) {
            slot.insert(match state.store.get(row.patient).await?.record {
                AnyRecord::Patient(p) => (
                    display_name(&p),
                    p.hospital_number.clone().unwrap_or_default(),
                ),
                _ => Default::default(),
            });
        }
        let (name, hospital_number) = &identities[&row.patient];
        row.name = name.clone();
        row.hospital_number = hospital_number.clone();
    }
    let link = |n: usize, label: String| PageLink {
        label,
        href: format!(
            "/worklist?{}",
            serde_urlencoded::to_string([
                ("site", site.as_str()),
                ("operator", operator.as_str()),
                ("page", &n.to_string()),
            ])
            .expect("a query string encodes")
        ),
    };
    let mut pages = Vec::new();
    if page_number > 1 {
        pages.push(link(page_number - 1, "Previous page".into()));
    }
    if page_number < page_count {
        pages.push(link(page_number + 1, "Next page".into()));
    }
    let page = WorklistPage {
        nav: Nav::of(&caller),
        today,
        site,
        sites,
        operator,
        operators,
        total_rows,
        first_row: first + 1,
        rows,
        pages,
        by_site: completeness_rows(schedule.by_site.clone()),
        by_operator: completeness_rows(schedule.by_operator.clone()),
        compliance_links: matches!(
            user.role,
            pdva_store::Role::GovernanceLead | pdva_store::Role::Admin
        ),
    };
    Ok(Html(page.render()?))
}

/// The worklist of `chosen` sites as of `today`, kept for the data version
/// it was computed at.
async fn schedule_of(
    state: &AppState,
    chosen: &[String],
    today: NaiveDate,
) -> Result<Arc<Schedule>, WebError> {
    // Read before the facts, so that what is kept is at least as new as the
    // version it is kept under.
    let key = ScheduleKey {
        data_version: state.store.data_version().await?.to_string(),
        sites: chosen.to_vec(),
        today,
    };
    if let Some(schedule) = state.worklists.get(&key) {
        return Ok(schedule);
    }
    let clinicians: HashMap<RecordId, String> = state
        .store
        .clinicians()
        .await?
        .into_iter()
        .map(|(id, c)| (id, c.display_name.to_string()))
        .collect();
    let mut rows = Vec::new();
    let mut by_site: BTreeMap<String, Completeness> = BTreeMap::new();
    let mut by_operator: BTreeMap<String, Completeness> = BTreeMap::new();
    for site in chosen {
        // The schedule needs only each patient's procedures, visits, death
        // and end of follow-up, which their outcome facts carry: one small
        // row a patient instead of every record (the names of the rows
        // shown are read afterwards).
        let registry_ids = state.store.registry_ids_at(site).await?;
        let mut visits: Vec<NaiveDate> = Vec::new();
        state
            .store
            .for_each_patient_facts(Some(site), |facts| {
                let death = facts
                    .records
                    .iter()
                    .find_map(|r| matches!(r.detail, FactDetail::Death).then_some(r.date));
                for procedure in &facts.records {
                    let FactDetail::Procedure {
                        primary_operator,
                        index_limb,
                        ..
                    } = &procedure.detail
                    else {
                        continue;
                    };
                    visits.clear();
                    visits.extend(facts.records.iter().filter_map(|r| {
                        (matches!(r.detail, FactDetail::FollowUpVisit { .. })
                            && r.procedure_id == Some(procedure.id))
                        .then_some(r.date)
                    }));
                    let ctx = FollowUpContext {
                        procedure_date: procedure.date,
                        visit_dates: &visits,
                        death_date: death,
                        follow_up_ended_on: facts.follow_up_ended_on,
                    };
                    let operator = clinicians
                        .get(primary_operator)
                        .cloned()
                        .unwrap_or_else(|| "unknown operator".into());
                    let c = schedule::completeness(&ctx, today);
                    *by_site.entry(site.clone()).or_default() =
                        by_site.get(site).copied().unwrap_or_default() + c;
                    *by_operator.entry(operator.clone()).or_default() =
                        by_operator.get(&operator).copied().unwrap_or_default() + c;
                    for item in schedule::worklist(&ctx, today) {
                        rows.push(Row {
                            patient: facts.patient_id,
                            patient_id: facts.patient_id.to_string(),
                            registry_id: registry_ids
                                .get(&facts.patient_id)
                                .cloned()
                                .unwrap_or_default(),
                            name: String::new(),
                            hospital_number: String::new(),
                            limb: index_limb.label(),
                            last_seen: visits
                                .iter()
                                .max()
                                .map_or_else(|| "no visit yet".into(), ToString::to_string),
                            site: site.clone(),
                            operator: operator.clone(),
                            procedure_date: procedure.date,
                            timepoint: item.timepoint.label(),
                            state: match item.state {
                                WorklistState::Overdue => "Overdue",
                                WorklistState::Due => "Due",
                                WorklistState::DueSoon => "Due soon",
                            },
                            window: format!("{} to {}", item.window_opens, item.window_closes),
                        });
                    }
                }
            })
            .await?;
    }
    rows.sort_by(|a, b| {
        (
            a.state != "Overdue",
            a.state != "Due",
            &a.window,
            &a.registry_id,
        )
            .cmp(&(
                b.state != "Overdue",
                b.state != "Due",
                &b.window,
                &b.registry_id,
            ))
    });
    let schedule = Arc::new(Schedule {
        rows,
        by_site,
        by_operator,
    });
    state.worklists.keep(key, Arc::clone(&schedule));
    Ok(schedule)
}

/// "FAMILY, Given" as the worklist shows a patient.
fn display_name(p: &Patient) -> String {
    match (&p.family_name, &p.given_name) {
        (Some(f), Some(g)) => format!("{}, {g}", f.to_uppercase()),
        (Some(f), None) => f.to_uppercase(),
        (None, Some(g)) => g.clone(),
        (None, None) => String::new(),
    }
}
