//! The IPG773 compliance view of a site: each special arrangement NICE asks
//! for, whether the site meets it, and links to the records behind each
//! finding.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use chrono::{Days, NaiveDate};
use pdva_domain::schedule::{self, FollowUpContext, Timepoint, WorklistState};
use pdva_domain::{ClinicalRecord, RecordId};

use crate::authz::Caller;
use crate::patients::{Nav, today};
use crate::{AppState, WebError};

/// One finding: a record to look at.
struct Item {
    patient_id: String,
    registry_id: String,
    record: String,
    detail: String,
}

/// One arrangement of IPG773 and what was found.
struct Check {
    paragraph: &'static str,
    title: &'static str,
    status: String,
    met: bool,
    /// The records behind the finding, the first [`ITEMS_SHOWN`] of them.
    items: Vec<Item>,
    /// How many more there are than are shown.
    more: usize,
}

/// Records listed under each finding: a large site has thousands of
/// overdue visits, which the worklist pages through.
const ITEMS_SHOWN: usize = 100;

/// A finding with its first [`ITEMS_SHOWN`] records, counting the rest.
fn shown(mut check: Check) -> Check {
    check.more = check.items.len().saturating_sub(ITEMS_SHOWN);
    check.items.truncate(ITEMS_SHOWN);
    check
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    nav: Nav,
    site: String,
    site_name: String,
    today: NaiveDate,
    procedures: usize,
    checks: Vec<Check>,
    can_record: bool,
}

/// Governance review meetings are overdue after 12 months without one
/// (DOMAIN.md 1.3, registry choice).
const MEETING_INTERVAL_DAYS: u64 = 365;

/// The compliance view of the site in the path.
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let site_code = caller.site.clone().ok_or(WebError::NotFound)?;
    let reference = state.store.reference_data().await?;
    let site = reference
        .sites
        .get(&site_code)
        .cloned()
        .ok_or(WebError::NotFound)?;
    let today = today();
    let meetings = state.store.governance_meetings(&site_code).await?;
    let files = state
        .store
        .load_patient_files(Some(site_code.as_str()))
        .await?;
    let name_of = |id: &RecordId| {
        reference
            .clinicians
            .get(id)
            .map(|c| c.display_name.to_string())
            .unwrap_or_else(|| "unknown clinician".into())
    };

    let mut no_consent = Vec::new();
    let mut uncertainties = Vec::new();
    let mut uncredentialed = Vec::new();
    let mut no_30_day = Vec::new();
    let mut overdue = Vec::new();
    let mut procedures = 0;
    for file in &files {
        let item = |record: RecordId, detail: String| Item {
            patient_id: file.patient_id.to_string(),
            registry_id: file.patient.registry_id.to_string(),
            record: record.to_string(),
            detail,
        };
        let death = file.death().map(|(_, d)| d.date);
        for (procedure_id, procedure) in file.procedures() {
            procedures += 1;
            let date = procedure.procedure_date;
            match file.consent_for(date) {
                None => no_consent.push(item(
                    procedure_id,
                    format!("procedure on {date}: no consent recorded on or before it"),
                )),
                Some((consent_id, c)) if !c.uncertainties_explained => uncertainties.push(item(
                    consent_id,
                    format!(
                        "consent of {} for the procedure on {date}: uncertainties not recorded as explained",
                        c.consent_date
                    ),
                )),
                Some(_) => {}
            }
            if let Some(operator) = reference.clinicians.get(&procedure.primary_operator)
                && !operator.credentialed_on(date, site.min_proctored_cases)
            {
                uncredentialed.push(item(
                    procedure_id,
                    format!(
                        "procedure on {date} by {}: not credentialed on that date",
                        name_of(&procedure.primary_operator)
                    ),
                ));
            }
            let visits: Vec<NaiveDate> = file
                .records
                .iter()
                .filter_map(|(_, r)| match r {
                    ClinicalRecord::FollowUpVisit(v) if v.procedure_id == procedure_id => {
                        Some(v.visit_date)
                    }
                    _ => None,
                })
                .collect();
            let (_, closes) = schedule::window_dates(date, Timepoint::Day30);
            let followed_until = [Some(today), death, file.patient.follow_up_ended_on]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(today);
            if closes < followed_until
                && schedule::representative_visit(date, Timepoint::Day30, &visits).is_none()
            {
                no_30_day.push(item(
                    procedure_id,
                    format!("procedure on {date}: no visit between day 14 and day 60"),
                ));
            }
            let ctx = FollowUpContext {
                procedure_date: date,
                visit_dates: &visits,
                death_date: death,
                follow_up_ended_on: file.patient.follow_up_ended_on,
            };
            for w in schedule::worklist(&ctx, today) {
                if w.state == WorklistState::Overdue {
                    overdue.push(item(
                        procedure_id,
                        format!(
                            "{} visit after the procedure on {date}: window closed {}",
                            w.timepoint.label(),
                            w.window_closes
                        ),
                    ));
                }
            }
        }
    }
    let last_meeting = meetings.first().map(|(_, m)| m.held_on);
    let meeting_due = last_meeting
        .and_then(|d| d.checked_add_days(Days::new(MEETING_INTERVAL_DAYS)))
        .is_none_or(|due| due < today);
    // `what` is the singular; one item is "1 procedure", more "2 procedures".
    let count = |items: &Vec<Item>, what: &str| match items.len() {
        0 => "none".to_owned(),
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    };
    let checks = vec![
        Check {
            paragraph: "1.2",
            title: "Clinical governance lead informed",
            status: match site.governance_lead_informed_on {
                Some(d) => format!(
                    "informed on {d}{}",
                    site.governance_lead_name
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
                None => "no date recorded: the governance lead has not been informed".into(),
            },
            met: site.governance_lead_informed_on.is_some(),
            items: Vec::new(),
            more: 0,
        },
        Check {
            paragraph: "1.3",
            title: "Governance review meeting in the last 12 months",
            status: match last_meeting {
                Some(d) => format!(
                    "last meeting on {d}{}",
                    if meeting_due { ": overdue" } else { "" }
                ),
                None => "no meeting recorded".into(),
            },
            met: !meeting_due,
            items: Vec::new(),
            more: 0,
        },
        Check {
            paragraph: "1.2",
            title: "Procedures without recorded consent",
            status: count(&no_consent, "procedure"),
            met: no_consent.is_empty(),
            items: no_consent,
            more: 0,
        },
        Check {
            paragraph: "1.2",
            title: "Consent without the uncertainties explained",
            status: count(&uncertainties, "procedure"),
            met: uncertainties.is_empty(),
            items: uncertainties,
            more: 0,
        },
        Check {
            paragraph: "3.7",
            title: "Operators not credentialed on the procedure date",
            status: count(&uncredentialed, "procedure"),
            met: uncredentialed.is_empty(),
            items: uncredentialed,
            more: 0,
        },
        Check {
            paragraph: "1.2, 3.6",
            title: "Procedures without a 30-day visit",
            status: count(&no_30_day, "procedure"),
            met: no_30_day.is_empty(),
            items: no_30_day,
            more: 0,
        },
        Check {
            paragraph: "3.6",
            title: "Overdue follow-up visits",
            status: count(&overdue, "visit"),
            met: overdue.is_empty(),
            items: overdue,
            more: 0,
        },
    ];
    let checks = checks.into_iter().map(shown).collect();
    let page = CompliancePage {
        nav: Nav::of(&caller),
        site: site_code.to_string(),
        site_name: site.name.to_string(),
        today,
        procedures,
        checks,
        can_record: caller.user().role == pdva_store::Role::GovernanceLead,
    };
    Ok(Html(page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_with(items: usize) -> Check {
        Check {
            paragraph: "3.6",
            title: "Overdue follow-up visits",
            status: String::new(),
            met: items == 0,
            items: (0..items)
                .map(|i| Item {
                    patient_id: String::new(),
                    registry_id: format!("P-{i}"),
                    record: String::new(),
                    detail: String::new(),
                })
                .collect(),
            more: 0,
        }
    }

    #[test]
    fn a_finding_lists_its_first_hundred_records_and_counts_the_rest() {
        let c = shown(check_with(250));
        assert_eq!((c.items.len(), c.more), (100, 150));
        assert_eq!(c.items[99].registry_id, "P-99");
        let c = shown(check_with(100));
        assert_eq!((c.items.len(), c.more), (100, 0));
        let c = shown(check_with(3));
        assert_eq!((c.items.len(), c.more), (3, 0));
    }
}
