//! The IPG773 compliance view of a site: each special arrangement NICE asks
//! for, whether the site meets it, with its count and the percentage of
//! what it is counted out of, and the records behind each finding (oldest
//! first, each list downloadable as CSV). The checks themselves are
//! `pdva_reports::compliance::check`, which the governance review prints
//! too; this module only reads what they need, keeps what they found for
//! the data version, and lays it out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{Html, Response};
use chrono::NaiveDate;
use pdva_domain::values::SiteCode;
use pdva_domain::{ClinicalRecord, Site};
use pdva_outcomes::OutcomesError;
use pdva_reports::compliance::{self, Compliance, Denominator};
use pdva_reports::gather::Period;
use serde::Deserialize;

use crate::authz::Caller;
use crate::patients::{Nav, today};
use crate::{AppState, WebError};

/// One record behind a finding, as the page lists it.
struct Item {
    /// The date that places it (procedure, overdue window, meeting, entry).
    date: String,
    /// The patient's record id, for the link; empty for a meeting.
    patient_id: String,
    /// The patient's registry id; empty for a meeting.
    registry_id: String,
    record: String,
    detail: String,
}

/// One arrangement of IPG773 and what was found.
struct Check {
    key: &'static str,
    paragraph: &'static str,
    title: &'static str,
    /// The finding in one sentence, from the counts.
    reading: String,
    /// The finding in a few words: for a check that does not count, the
    /// whole finding; for one that counts, what the counts do not say (the
    /// date the governance lead was informed), else empty.
    status: String,
    /// The count, its denominator and the percentage, for counted checks
    /// (empty otherwise).
    count: String,
    out_of: String,
    percent: String,
    met: bool,
    /// The records behind the finding, the first [`ITEMS_SHOWN`] of them.
    items: Vec<Item>,
    /// How many more there are than are shown.
    more: usize,
}

/// Records listed under each finding on the page: a large site has
/// thousands of overdue visits, which the CSV and the worklist give whole.
const ITEMS_SHOWN: usize = 100;

impl Check {
    fn of(c: &compliance::Check) -> Self {
        let (count, out_of, percent) = match (c.count, &c.denominator) {
            (Some(k), Some(d)) => (
                k.to_string(),
                format!("{} {}", d.n, d.of),
                c.proportion()
                    .map(pdva_reports::document::percent)
                    .unwrap_or_else(|| "–".into()),
            ),
            _ => Default::default(),
        };
        Check {
            key: c.key,
            paragraph: c.paragraph,
            title: c.title,
            reading: c.reading(),
            status: match c.count {
                Some(k) if c.status == "none" || c.status.starts_with(&format!("{k} of ")) => {
                    String::new()
                }
                _ => c.status.clone(),
            },
            count,
            out_of,
            percent,
            met: c.met,
            items: c
                .items
                .iter()
                .take(ITEMS_SHOWN)
                .map(|i| Item {
                    date: i.date.to_string(),
                    patient_id: i.patient_id.map(|p| p.to_string()).unwrap_or_default(),
                    registry_id: i.registry_id.clone().unwrap_or_default(),
                    record: i.record.to_string(),
                    detail: i.detail.clone(),
                })
                .collect(),
            more: c
                .count
                .unwrap_or(c.items.len())
                .max(c.items.len())
                .saturating_sub(ITEMS_SHOWN),
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
    /// The period's ends as typed back into the form, and as the CSV
    /// links repeat them.
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
/// sends an empty field for an end left open); for a CSV, the list too.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    /// The key of the check whose records a CSV lists.
    list: Option<String>,
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

/// A period whose ends are in order.
fn ordered(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Period, WebError> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(WebError::Outcomes(OutcomesError::EmptyDateRange {
            from,
            to,
        }));
    }
    Ok(Period { from, to })
}

/// What the checks found for a site, a period and a day, at a data version.
#[derive(Debug)]
struct Found {
    compliance: Compliance,
    /// The site's procedures and follow-up visits (of every period): what
    /// the unsigned records are counted out of.
    signable_records: usize,
    /// The records unsigned 30 days after entry (the oldest listed), kept
    /// with the rest: a sign-off is a write, so it moves the data version.
    unsigned: compliance::Check,
}

/// What identifies a [`Found`]: the registry as it was, and the question.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    data_version: String,
    site: SiteCode,
    period: Period,
    today: NaiveDate,
}

/// Findings kept while the registry does not change. The checks read every
/// record of the site (seconds at a site of 25,000 patients), so only the
/// first view after a change pays for them.
#[derive(Debug, Default)]
pub struct ComplianceCache {
    kept: Mutex<VecDeque<(Key, Arc<Found>)>>,
}

/// Findings kept at once: a few sites and periods being looked at.
const KEPT_FINDINGS: usize = 16;

impl ComplianceCache {
    fn get(&self, key: &Key) -> Option<Arc<Found>> {
        let kept = self.kept.lock().expect("compliance cache lock");
        kept.iter()
            .find(|(k, _)| k == key)
            .map(|(_, f)| Arc::clone(f))
    }

    fn keep(&self, key: Key, found: Arc<Found>) {
        let mut kept = self.kept.lock().expect("compliance cache lock");
        // Findings of an older data version are never asked for again.
        kept.retain(|(k, _)| k.data_version == key.data_version);
        if kept.len() >= KEPT_FINDINGS {
            kept.pop_front();
        }
        kept.push_back((key, found));
    }
}

/// The checks of `site` over `period` as of `today`, from the cache when
/// the registry has not changed since they were made.
async fn found(
    state: &AppState,
    site: &Site,
    period: Period,
    today: NaiveDate,
) -> Result<(Arc<Found>, String), WebError> {
    // Read before the records, so that what is kept is at least as new as
    // the version it is kept under.
    let data_version = state.store.data_version().await?.to_string();
    let key = Key {
        data_version: data_version.clone(),
        site: site.site_code.clone(),
        period,
        today,
    };
    if let Some(found) = state.compliance.get(&key) {
        return Ok((found, data_version));
    }
    let reference = state.store.reference_data().await?;
    let meetings = state.store.governance_meetings(&site.site_code).await?;
    let files = state
        .store
        .load_patient_files(Some(site.site_code.as_str()))
        .await?;
    let signable_records = files
        .iter()
        .flat_map(|f| &f.records)
        .filter(|(_, r)| {
            matches!(
                r,
                ClinicalRecord::Procedure(_) | ClinicalRecord::FollowUpVisit(_)
            )
        })
        .count();
    let compliance = compliance::check(site, &meetings, &files, &reference, period, today);
    let unsigned = unsigned_after_30_days(
        state,
        &site.site_code,
        today,
        ITEMS_SHOWN as i64,
        signable_records,
    )
    .await?;
    let found = Arc::new(Found {
        compliance,
        signable_records,
        unsigned,
    });
    state.compliance.keep(key, Arc::clone(&found));
    Ok((found, data_version))
}

/// The site of the path, as the guard checked it.
async fn site_of(state: &AppState, caller: &Caller) -> Result<Site, WebError> {
    let site_code = caller.site.clone().ok_or(WebError::NotFound)?;
    state
        .store
        .reference_data()
        .await?
        .sites
        .remove(&site_code)
        .ok_or(WebError::NotFound)
}

/// The compliance view of the site in the path, over the index procedures
/// of the period asked for (all of them by default).
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PeriodQuery>,
) -> Result<Html<String>, WebError> {
    let site = site_of(&state, &caller).await?;
    // A date that cannot be read leaves that end open, and the page says so.
    let mut problems = Vec::new();
    let mut end = |v: Option<&str>| {
        date_end(v).unwrap_or_else(|e| {
            problems.push(e);
            None
        })
    };
    let (from, to) = (end(q.from.as_deref()), end(q.to.as_deref()));
    let period = ordered(from, to)?;
    let today = today();
    let (found, data_version) = found(&state, &site, period, today).await?;
    let mut nav = Nav::of(&caller);
    nav.data_version = data_version;
    let page = CompliancePage {
        nav,
        site: site.site_code.to_string(),
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
        procedures: found.compliance.procedures,
        patients: found.compliance.patients,
        checks: found
            .compliance
            .checks
            .iter()
            .chain([&found.unsigned])
            .map(Check::of)
            .collect(),
        can_record: caller.user().role == pdva_store::Role::GovernanceLead,
    };
    Ok(Html(page.render()?))
}

/// `GET /sites/{site}/compliance.csv?list=KEY&from=&to=`: every record
/// behind one finding, oldest first, as CSV (date, registry id, record,
/// what is wrong). A period end that is not a date is refused here (a
/// file should not quietly cover another period than asked).
#[tracing::instrument(skip_all)]
pub(crate) async fn list_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, WebError> {
    let site = site_of(&state, &caller).await?;
    let end = |name: &str, v: Option<&str>| {
        date_end(v).map_err(|e| WebError::Invalid(format!("{name}: {e}")))
    };
    let period = ordered(end("from", q.from.as_deref())?, end("to", q.to.as_deref())?)?;
    let key = q.list.as_deref().unwrap_or_default();
    let today = today();
    let (found, data_version) = found(&state, &site, period, today).await?;
    let unsigned;
    let check = if key == UNSIGNED {
        // Every record, not only the oldest the page lists.
        unsigned = unsigned_after_30_days(
            &state,
            &site.site_code,
            today,
            i64::MAX,
            found.signable_records,
        )
        .await?;
        &unsigned
    } else {
        found.compliance.check(key).ok_or_else(|| {
            let keys: Vec<&str> = found
                .compliance
                .checks
                .iter()
                .map(|c| c.key)
                .chain([UNSIGNED])
                .collect();
            WebError::Invalid(format!(
                "list: \u{201c}{key}\u{201d} is not a finding of the compliance view (one of: {})",
                keys.join(", ")
            ))
        })?
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| WebError::Report(format!("compliance CSV: {e}"));
    out.write_record(["date", "registry_id", "record_id", "finding"])
        .map_err(csv_error)?;
    for item in &check.items {
        out.write_record([
            item.date.to_string().as_str(),
            item.registry_id.as_deref().unwrap_or_default(),
            item.record.to_string().as_str(),
            item.detail.as_str(),
        ])
        .map_err(csv_error)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| WebError::Report(format!("compliance CSV: {e}")))?;
    let name = format!(
        "compliance_{}_{}_{}.csv",
        site.site_code,
        check.key,
        period.file_part()
    );
    Ok(crate::reports::attachment(
        bytes,
        "text/csv; charset=utf-8",
        &name,
        &data_version,
    ))
}

/// The key of the unsigned-records finding.
const UNSIGNED: &str = "unsigned_after_30_days";

/// Procedures and follow-up visits entered more than 30 days ago and not
/// signed off (of every period: an unsigned record is a finding whatever
/// its procedure's date), the oldest `limit` of them listed, counted out
/// of the site's procedures and visits.
async fn unsigned_after_30_days(
    state: &AppState,
    site: &SiteCode,
    today: NaiveDate,
    limit: i64,
    signable_records: usize,
) -> Result<compliance::Check, WebError> {
    // Entered on or before the day 30 days ago (whole days, so that the
    // finding is the same all day and can be kept for the day).
    let cutoff = format!("{}T00:00:00.000000Z", today - chrono::Duration::days(29));
    let sites = pdva_store::SiteAccess::Sites(vec![site.clone()]);
    let queue = state
        .store
        .awaiting_sign_off(&pdva_store::SignOffQuery {
            sites: &sites,
            entered_by: None,
            entered_before: Some(&cutoff),
            limit,
        })
        .await?;
    let total = queue.total as usize;
    let denominator = Denominator {
        // A record entered since the files were read is counted by the
        // queue; the denominator is never below its count.
        n: signable_records.max(total),
        of: "procedures and follow-up visits of the site",
    };
    Ok(compliance::Check {
        key: UNSIGNED,
        paragraph: "1.2",
        title: "Records unsigned after 30 days",
        met: total == 0,
        status: match total {
            0 => "none".into(),
            n => format!("{n} not signed off 30 days after entry"),
        },
        count: Some(total),
        denominator: Some(denominator),
        shortfall: "were entered more than 30 days ago and are not signed off (the sign-off queue lists them)",
        // Oldest first, as the store lists them.
        items: queue
            .records
            .into_iter()
            .map(|r| compliance::Item {
                date: r.record_date.parse().unwrap_or_default(),
                patient_id: Some(r.patient_id),
                registry_id: Some(r.registry_id),
                record: r.record_id,
                detail: format!(
                    "{} of {}, entered {} by {}",
                    crate::forms::title_of(r.kind),
                    r.record_date,
                    r.entered_at.get(..10).unwrap_or_default(),
                    r.entered_by
                ),
            })
            .collect(),
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

    fn check_with(items: usize) -> compliance::Check {
        compliance::Check {
            key: "overdue_follow_up",
            paragraph: "3.6",
            title: "Overdue follow-up visits",
            met: items == 0,
            status: String::new(),
            count: Some(items),
            denominator: Some(Denominator {
                n: 1000,
                of: "index procedures",
            }),
            shortfall: "are overdue",
            items: (0..items)
                .map(|i| compliance::Item {
                    date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
                        + chrono::Days::new(i as u64),
                    patient_id: None,
                    registry_id: Some(format!("P-{i}")),
                    record: pdva_domain::RecordId::new_random(),
                    detail: String::new(),
                })
                .collect(),
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
        let c = Check::of(&check_with(250));
        assert_eq!((c.items.len(), c.more), (100, 150));
        assert_eq!(c.items[99].registry_id, "P-99");
        assert_eq!((c.count.as_str(), c.percent.as_str()), ("250", "25.0%"));
        assert_eq!(c.out_of, "1000 index procedures");
        let c = Check::of(&check_with(100));
        assert_eq!((c.items.len(), c.more), (100, 0));
        let c = Check::of(&check_with(3));
        assert_eq!((c.items.len(), c.more), (3, 0));
    }

    #[test]
    fn a_counted_list_shorter_than_its_count_says_how_many_more() {
        // The unsigned records come from the store with a limit and a full
        // count: the page says how many it does not list.
        let mut c = check_with(100);
        c.count = Some(180);
        assert_eq!(Check::of(&c).more, 80);
    }
}
