//! The outcomes report as the dashboard and the API get it: computed by the
//! engine from the registry, and kept for the data version it was computed
//! at. Every change to the registry moves the data version (the head of the
//! audit chain), so a kept report is exactly what recomputing would give
//! until the next change; then it is simply never asked for again.
//!
//! The audience of every report comes from the caller's role, here and
//! nowhere else ([`crate::authz::audience_of`], through `Caller::audience`): researchers get the research form
//! (research population only, disclosure-controlled, DOMAIN.md section 11),
//! everyone else the identifiable form. The resolved filter, and so the
//! cache key, carries the audience, so the two forms are never confused.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDate;
use pdva_outcomes::{
    Audience, CohortBuilder, Filter, OutcomesReport, ReportRequest, ResolvedFilter,
};

use crate::authz::Caller;
use crate::{AppState, WebError};

/// Reports kept: a dashboard per site and a few API filters.
const KEPT_REPORTS: usize = 32;

/// The key of a report: data version, report date and filter (with its
/// audience).
type Key = (String, NaiveDate, ResolvedFilter);

/// A computed report, and its dashboard once a dashboard has shown it.
#[derive(Debug)]
pub(crate) struct KeptReport {
    /// The engine's report.
    pub report: OutcomesReport,
    /// The dashboard's report-dependent part, rendered once.
    dashboard: OnceLock<String>,
}

impl KeptReport {
    /// The dashboard's rendering of this report, rendered on first use.
    pub(crate) fn dashboard_html(
        &self,
        render: impl FnOnce(&OutcomesReport) -> Result<String, WebError>,
    ) -> Result<&str, WebError> {
        if let Some(html) = self.dashboard.get() {
            return Ok(html);
        }
        let html = render(&self.report)?;
        // Two requests may render at once; either rendering is the same.
        Ok(self.dashboard.get_or_init(|| html))
    }
}

/// Recently computed reports, newest last.
#[derive(Debug, Default)]
pub struct ReportCache {
    reports: Mutex<VecDeque<(Key, Arc<KeptReport>)>>,
}

impl ReportCache {
    fn get(&self, key: &Key) -> Option<Arc<KeptReport>> {
        let reports = self.reports.lock().expect("report cache lock");
        reports
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| Arc::clone(r))
    }

    fn keep(&self, key: Key, report: Arc<KeptReport>) {
        let mut reports = self.reports.lock().expect("report cache lock");
        // Reports of older data versions are never asked for again.
        reports.retain(|(k, _)| k.0 == key.0);
        if reports.len() >= KEPT_REPORTS {
            reports.pop_front();
        }
        reports.push_back((key, report));
    }
}

/// The outcomes report for `filter` as of `as_of`, in the form the caller's
/// role may see, from the cache when the registry has not changed since it
/// was computed. A research report is always as of `today`: a patient who
/// has withdrawn research consent is excluded from then on, whatever report
/// date a researcher asks for.
pub(crate) async fn report(
    state: &AppState,
    caller: &Caller,
    filter: Filter,
    as_of: NaiveDate,
    today: NaiveDate,
) -> Result<Arc<KeptReport>, WebError> {
    let audience = caller.audience();
    let as_of = match audience {
        Audience::Research => today,
        Audience::Identifiable => as_of,
    };
    let reference = state.store.reference_data().await?;
    let filter = filter.resolve_for(&reference, audience)?;
    let data_version = state.store.data_version().await?.to_string();
    let key = (data_version.clone(), as_of, filter.clone());
    if let Some(report) = state.reports.get(&key) {
        return Ok(report);
    }
    // Each patient's limbs are derived as the store streams their outcome
    // facts: no patient file is built and at most one patient's rows are held.
    let mut cohort = CohortBuilder::new(&filter, as_of);
    if cohort.makes_room_for_patients() {
        cohort.reserve_for_patients(state.store.outcome_facts_size_hint().await?);
    }
    state
        .store
        .for_each_patient_facts(filter.site.as_deref(), |facts| cohort.add(&facts))
        .await?;
    let limbs = cohort.finish();
    // A change that landed while the registry was read would make the
    // report newer than its stamp: such a report is served, not kept.
    let unchanged = state.store.data_version().await?.to_string() == data_version;
    let request = ReportRequest {
        as_of,
        filter,
        data_version,
    };
    // The statistics are CPU-bound: keep them off the async workers.
    let report = tokio::task::spawn_blocking(move || {
        pdva_outcomes::report_from_limbs(&limbs, &reference, &request)
    })
    .await
    .expect("report task")?;
    let report = Arc::new(KeptReport {
        report,
        dashboard: OnceLock::new(),
    });
    if unchanged {
        state.reports.keep(key, Arc::clone(&report));
    }
    Ok(report)
}
