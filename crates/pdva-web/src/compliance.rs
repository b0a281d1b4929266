//! The IPG773 compliance view of a site: each special arrangement NICE asks
//! for, whether the site meets it, with its count and percentage, and links
//! to the records behind each finding. The checks themselves are
//! `pdva_reports::compliance::check`, which the governance review prints
//! too; this handler only reads what they need and lays them out.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::NaiveDate;
use pdva_outcomes::OutcomesError;
use pdva_reports::compliance;
use pdva_reports::gather::Period;
use serde::Deserialize;

use crate::authz::Caller;
use crate::patients::{Nav, today};
use crate::{AppState, WebError};

/// One finding: a record to look at.
struct Item {
    /// The patient's record id, for the link; empty for a meeting.
    patient_id: String,
    /// The patient's registry id; empty for a meeting.
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
    check.more = check
        .more
        .max(check.items.len().saturating_sub(ITEMS_SHOWN));
    check.items.truncate(ITEMS_SHOWN);
    check
}

impl From<&compliance::Check> for Check {
    fn from(c: &compliance::Check) -> Self {
        Check {
            paragraph: c.paragraph,
            title: c.title,
            status: c.status.clone(),
            met: c.met,
            items: c
                .items
                .iter()
                .map(|i| Item {
                    patient_id: i.patient_id.map(|p| p.to_string()).unwrap_or_default(),
                    registry_id: i.registry_id.clone().unwrap_or_default(),
                    record: i.record.to_string(),
                    detail: i.detail.clone(),
                })
                .collect(),
            more: 0,
        }
    }
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    nav: Nav,
    site: String,
    site_name: String,
    today: NaiveDate,
    /// The period in words.
    period: String,
    /// The period's ends as typed back into the form.
    from: String,
    to: String,
    /// A date of the form that could not be read, and what was done.
    problem: Option<String>,
    procedures: usize,
    patients: usize,
    checks: Vec<Check>,
    can_record: bool,
}

/// The period of index procedures asked for: both ends optional (a form
/// sends an empty field for an end left open).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A date end of the period: empty is open; anything else must be a date.
fn date_end(value: Option<&str>) -> Result<Option<NaiveDate>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("\u{201c}{v}\u{201d} is not a date (YYYY-MM-DD)")),
    }
}

/// The compliance view of the site in the path, over the index procedures
/// of the period asked for (all of them by default).
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PeriodQuery>,
) -> Result<Html<String>, WebError> {
    let site_code = caller.site.clone().ok_or(WebError::NotFound)?;
    let reference = state.store.reference_data().await?;
    let site = reference
        .sites
        .get(&site_code)
        .cloned()
        .ok_or(WebError::NotFound)?;
    // A date that cannot be read leaves that end open, and the page says so.
    let mut problems = Vec::new();
    let mut end = |v: Option<&str>| {
        date_end(v).unwrap_or_else(|e| {
            problems.push(e);
            None
        })
    };
    let (from, to) = (end(q.from.as_deref()), end(q.to.as_deref()));
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(WebError::Outcomes(OutcomesError::EmptyDateRange {
            from,
            to,
        }));
    }
    let period = Period { from, to };
    let today = today();
    let meetings = state.store.governance_meetings(&site_code).await?;
    let files = state
        .store
        .load_patient_files(Some(site_code.as_str()))
        .await?;
    let found = compliance::check(&site, &meetings, &files, &reference, period, today);
    let unsigned = unsigned_after_30_days(&state, &site_code).await?;
    let page = CompliancePage {
        nav: Nav::of(&caller),
        site: site_code.to_string(),
        site_name: site.name.to_string(),
        today,
        period: period_words(period),
        from: from.map(|d| d.to_string()).unwrap_or_default(),
        to: to.map(|d| d.to_string()).unwrap_or_default(),
        problem: (!problems.is_empty()).then(|| {
            format!(
                "{}: that end of the period is left open.",
                problems.join("; ")
            )
        }),
        procedures: found.procedures,
        patients: found.patients,
        checks: found
            .checks
            .iter()
            .map(Check::from)
            .chain([unsigned])
            .map(shown)
            .collect(),
        can_record: caller.user().role == pdva_store::Role::GovernanceLead,
    };
    Ok(Html(page.render()?))
}

/// Procedures and follow-up visits entered more than 30 days ago and not
/// signed off (of every period: an unsigned record is a finding whatever
/// its procedure's date).
async fn unsigned_after_30_days(
    state: &AppState,
    site: &pdva_domain::values::SiteCode,
) -> Result<Check, WebError> {
    let cutoff = (chrono::Utc::now() - chrono::Duration::days(30))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let sites = pdva_store::SiteAccess::Sites(vec![site.clone()]);
    let queue = state
        .store
        .awaiting_sign_off(&pdva_store::SignOffQuery {
            sites: &sites,
            entered_by: None,
            entered_before: Some(&cutoff),
            limit: ITEMS_SHOWN as i64,
        })
        .await?;
    let total = queue.total as usize;
    Ok(Check {
        paragraph: "1.2",
        title: "Records unsigned after 30 days",
        status: match total {
            0 => "every procedure and follow-up visit entered more than 30 days ago is signed off"
                .into(),
            n => format!(
                "{n} procedure(s) and follow-up visit(s) entered more than 30 days ago are not \
                 signed off: the sign-off queue lists them"
            ),
        },
        met: total == 0,
        items: queue
            .records
            .into_iter()
            .map(|r| Item {
                patient_id: r.patient_id.to_string(),
                registry_id: r.registry_id,
                record: r.record_id.to_string(),
                detail: format!(
                    "{} of {}, entered {} by {}",
                    crate::forms::title_of(r.kind),
                    r.record_date,
                    r.entered_at.get(..10).unwrap_or_default(),
                    r.entered_by
                ),
            })
            .collect(),
        // Counted in full by the store; `shown` keeps it when under the limit.
        more: total.saturating_sub(ITEMS_SHOWN),
    })
}

/// The period in words, as the reports print it.
fn period_words(period: Period) -> String {
    match (period.from, period.to) {
        (None, None) => "all index procedures".into(),
        (Some(f), None) => format!("index procedures from {f}"),
        (None, Some(t)) => format!("index procedures to {t}"),
        (Some(f), Some(t)) => format!("index procedures {f} to {t}"),
    }
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
    fn an_end_of_the_period_is_open_when_empty_and_otherwise_a_date() {
        assert_eq!(date_end(None), Ok(None));
        assert_eq!(date_end(Some(" ")), Ok(None));
        assert_eq!(
            date_end(Some("2025-01-31")),
            Ok(NaiveDate::from_ymd_opt(2025, 1, 31))
        );
        assert!(
            date_end(Some("31/01/2025"))
                .unwrap_err()
                .contains("not a date")
        );
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
