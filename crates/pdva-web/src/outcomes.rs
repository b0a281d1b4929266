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

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use pdva_domain::values::SiteCode;
use pdva_domain::{RecordId, ReferenceData};
use pdva_outcomes::{
    Audience, CohortBuilder, Filter, Funnel, OutcomesReport, ReportRequest, ResolvedFilter,
};

use crate::authz::Caller;
use crate::{AppState, WebError};

/// Reports kept: a dashboard per site and a few API filters.
const KEPT_REPORTS: usize = 32;

/// The key of a report: data version, report date and filter (with its
/// audience).
type Key = (String, NaiveDate, ResolvedFilter);

/// A computed report, and its dashboard for each naming of the funnel
/// units that has shown it.
#[derive(Debug)]
pub(crate) struct KeptReport {
    /// The engine's report; its funnels name every unit.
    pub report: OutcomesReport,
    /// The dashboard's report-dependent part, rendered once for each
    /// [`FunnelNames`] (the funnels differ between callers of different
    /// sites; everything else on it is the report's).
    dashboards: Mutex<Vec<(FunnelNames, Arc<str>)>>,
}

impl KeptReport {
    /// The dashboard's rendering of this report with the funnel units
    /// named as `names` says, rendered on first use.
    pub(crate) fn dashboard_html(
        &self,
        names: &FunnelNames,
        render: impl FnOnce(&OutcomesReport, &FunnelNames) -> Result<String, WebError>,
    ) -> Result<Arc<str>, WebError> {
        let kept = |dashboards: &[(FunnelNames, Arc<str>)]| {
            dashboards
                .iter()
                .find(|(n, _)| n == names)
                .map(|(_, html)| Arc::clone(html))
        };
        if let Some(html) = kept(&self.dashboards.lock().expect("dashboard lock")) {
            return Ok(html);
        }
        // Rendered without the lock; two requests may render at once, and
        // either rendering is the same.
        let html: Arc<str> = render(&self.report, names)?.into();
        let mut dashboards = self.dashboards.lock().expect("dashboard lock");
        if let Some(html) = kept(&dashboards) {
            return Ok(html);
        }
        dashboards.push((names.clone(), Arc::clone(&html)));
        Ok(html)
    }
}

/// Which units of the funnel plots a caller sees named. The engine names
/// every unit; a user who does not see every site (DOMAIN.md section 3)
/// sees named only their own sites, the operators who work at one of them
/// and the clinician their account is linked to. Every other unit is still
/// plotted, so that they see where they stand, but as "Another site" or
/// "Another operator", with no id, site code or name, in the HTML and in
/// `/api/v1/outcomes` alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FunnelNames {
    /// Every unit named: administrators and users of every site.
    All,
    /// Only these site codes and operator ids named.
    Only {
        sites: BTreeSet<String>,
        operators: BTreeSet<String>,
    },
}

impl FunnelNames {
    /// The naming for the signed-in caller.
    pub(crate) async fn of(state: &AppState, caller: &Caller) -> Result<Self, WebError> {
        let user = caller.user();
        let Some(sites) = crate::patients::visible_sites(user) else {
            return Ok(Self::All);
        };
        let reference = state.store.reference_data().await?;
        Ok(Self::for_sites(&sites, user.clinician, &reference))
    }

    /// The naming for a user of `sites` whose account is linked to
    /// `linked`: an operator is theirs when one of the clinician's sites is.
    fn for_sites(sites: &[SiteCode], linked: Option<RecordId>, reference: &ReferenceData) -> Self {
        let operators = reference
            .clinicians
            .iter()
            .filter(|(id, c)| Some(**id) == linked || c.sites.iter().any(|s| sites.contains(s)))
            .map(|(id, _)| id.to_string())
            .collect();
        Self::Only {
            sites: sites.iter().map(ToString::to_string).collect(),
            operators,
        }
    }

    /// `funnels` as the caller may see them: a unit not theirs loses its
    /// id and name, and such units follow the named ones in order of size,
    /// not in the engine's order (by id or site code, which would tell
    /// which is which).
    pub(crate) fn apply(&self, funnels: &mut [Funnel]) {
        let Self::Only { sites, operators } = self else {
            return;
        };
        for f in funnels {
            let (theirs, another) = if f.unit_type == "site" {
                (sites, "Another site")
            } else {
                (operators, "Another operator")
            };
            let (mut named, mut unnamed): (Vec<_>, Vec<_>) = std::mem::take(&mut f.units)
                .into_iter()
                .partition(|u| theirs.contains(&u.unit));
            for u in &mut unnamed {
                u.unit.clear();
                another.clone_into(&mut u.label);
            }
            unnamed.sort_by_key(|u| (u.n, u.k));
            named.append(&mut unnamed);
            f.units = named;
        }
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
///
/// The funnel plots of a report filtered by site or operator are those of
/// the whole registry for the same dates (issue 17): each site and operator
/// against the registry's mean, with the same limits on every page. The
/// whole registry's report is kept like any other, so it is derived once
/// per data version however many sites' pages are viewed. (A research
/// report shows no funnels, DOMAIN.md section 11, and needs none.) The
/// funnels name every unit: callers hide what [`FunnelNames`] hides.
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
    if let Some(report) = state.reports.get(&(data_version, as_of, filter.clone())) {
        return Ok(report);
    }
    let registry = if audience == Audience::Identifiable && !filter.is_whole_registry() {
        Some(kept(state, &reference, filter.comparison(), as_of, None).await?)
    } else {
        None
    };
    kept(state, &reference, filter, as_of, registry.as_deref()).await
}

/// The report of `filter`, kept or computed; with `registry`, its funnels
/// are replaced by that report's.
async fn kept(
    state: &AppState,
    reference: &ReferenceData,
    filter: ResolvedFilter,
    as_of: NaiveDate,
    registry: Option<&KeptReport>,
) -> Result<Arc<KeptReport>, WebError> {
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
    // So is one whose funnels come from a registry report of another
    // version: the page would mix two states of the registry.
    let unchanged = state.store.data_version().await?.to_string() == data_version
        && registry.is_none_or(|r| r.report.data_version == data_version);
    let request = ReportRequest {
        as_of,
        filter,
        data_version,
    };
    // The statistics are CPU-bound: keep them off the async workers.
    let reference = reference.clone();
    let mut report = tokio::task::spawn_blocking(move || {
        pdva_outcomes::report_from_limbs(&limbs, &reference, &request)
    })
    .await
    .expect("report task")?;
    if let Some(registry) = registry {
        report.compare_funnels_with(&registry.report);
    }
    let report = Arc::new(KeptReport {
        report,
        dashboards: Mutex::new(Vec::new()),
    });
    if unchanged {
        state.reports.keep(key, Arc::clone(&report));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdva_outcomes::FunnelUnit;

    fn unit(code: &str, n: u64, k: u64) -> FunnelUnit {
        FunnelUnit {
            unit: code.to_owned(),
            label: format!("{code} General Hospital"),
            n,
            k,
            observed: k as f64 / n as f64,
            lower_998: 0.1,
            lower_95: 0.2,
            upper_95: 0.8,
            upper_998: 0.9,
            alert: false,
            alarm: false,
        }
    }

    #[test]
    fn a_user_of_some_sites_sees_only_theirs_named_and_the_rest_in_order_of_size() {
        let registry = vec![Funnel {
            indicator: "male_or_death_30_day".into(),
            definition: "d".into(),
            unit_type: "site".into(),
            bad_direction: "high".into(),
            compared_with: "the whole registry".into(),
            registry_mean: Some(0.5),
            n: 60,
            units: vec![unit("AAA", 30, 10), unit("BBB", 10, 5), unit("CCC", 20, 10)],
        }];
        let mut all = registry.clone();
        FunnelNames::All.apply(&mut all);
        assert_eq!(all, registry);

        let mut theirs = registry.clone();
        FunnelNames::Only {
            sites: BTreeSet::from(["BBB".to_owned()]),
            operators: BTreeSet::new(),
        }
        .apply(&mut theirs);
        let shown: Vec<(&str, &str, u64)> = theirs[0]
            .units
            .iter()
            .map(|u| (u.unit.as_str(), u.label.as_str(), u.n))
            .collect();
        assert_eq!(
            shown,
            [
                ("BBB", "BBB General Hospital", 10),
                ("", "Another site", 20),
                ("", "Another site", 30),
            ]
        );
        // The mean, the limits and the counts are the registry's.
        assert_eq!(theirs[0].registry_mean, registry[0].registry_mean);
        assert_eq!(theirs[0].units[1].upper_95, 0.8);
    }
}
