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

use chrono::{Datelike, NaiveDate};
use pdva_domain::values::SiteCode;
use pdva_domain::{RecordId, ReferenceData};
use pdva_outcomes::{
    Audience, CohortBuilder, Filter, Funnel, IndexLimb, OutcomesReport, ReportRequest,
    ResolvedFilter,
};

use crate::authz::Caller;
use crate::{AppState, WebError};

/// Reports kept: a dashboard per site and filter, and a few API filters.
const KEPT_REPORTS: usize = 32;

/// Whether a report is wanted with its trends by year of procedure (the
/// dashboard) or without (the API, which does not show them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trends {
    /// The report alone.
    Without,
    /// The report and one report per calendar year of procedure.
    With,
}

/// The report of one calendar year of procedure within a report's cohort,
/// or why it has no figures (a research cohort under the minimum).
#[derive(Debug)]
pub(crate) struct YearReport {
    /// The calendar year.
    pub year: i32,
    /// That year's report, or the engine's reason for none.
    pub report: Result<OutcomesReport, String>,
}

/// The key of a report: data version, report date and filter (with its
/// audience).
type Key = (String, NaiveDate, ResolvedFilter);

/// A computed report, and its dashboard for each naming of the funnel
/// units that has shown it.
#[derive(Debug)]
pub(crate) struct KeptReport {
    /// The engine's report; its funnels name every unit.
    pub report: OutcomesReport,
    /// The cohort's reports by calendar year of procedure, oldest first,
    /// when computed ([`Trends::With`]).
    pub by_year: Option<Vec<YearReport>>,
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

    /// Whether the operator of record id `id` is named for this caller
    /// (and so may be the operator filter of their reports).
    pub(crate) fn names_operator(&self, id: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only { operators, .. } => operators.contains(id),
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
    /// The kept report of `key`, if it has the trends asked for.
    fn get(&self, key: &Key, trends: Trends) -> Option<Arc<KeptReport>> {
        let reports = self.reports.lock().expect("report cache lock");
        reports
            .iter()
            .find(|(k, r)| k == key && (trends == Trends::Without || r.by_year.is_some()))
            .map(|(_, r)| Arc::clone(r))
    }

    fn keep(&self, key: Key, report: Arc<KeptReport>) {
        let mut reports = self.reports.lock().expect("report cache lock");
        // Reports of older data versions are never asked for again, and a
        // report kept without trends gives way to the same with them.
        reports.retain(|(k, _)| k.0 == key.0 && *k != key);
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
///
/// An operator filter is limited to the operators the caller sees named
/// ([`FunnelNames`]): anyone else is refused with the value and the rule.
pub(crate) async fn report(
    state: &AppState,
    caller: &Caller,
    filter: Filter,
    as_of: NaiveDate,
    today: NaiveDate,
    trends: Trends,
) -> Result<Arc<KeptReport>, WebError> {
    let audience = caller.audience();
    let as_of = match audience {
        Audience::Research => today,
        Audience::Identifiable => as_of,
    };
    let reference = state.store.reference_data().await?;
    let given_operator = filter.operator.clone().unwrap_or_default();
    let filter = filter.resolve_for(&reference, audience)?;
    if let Some((id, _)) = &filter.operator
        && !FunnelNames::of(state, caller)
            .await?
            .names_operator(&id.to_string())
    {
        return Err(WebError::Invalid(format!(
            "operator: \"{}\" is not an operator of your sites (an operator filter must name a clinician who works at one of the sites you see)",
            given_operator.trim()
        )));
    }
    let data_version = state.store.data_version().await?.to_string();
    if let Some(report) = state
        .reports
        .get(&(data_version, as_of, filter.clone()), trends)
    {
        return Ok(report);
    }
    let registry = if audience == Audience::Identifiable && !filter.is_whole_registry() {
        Some(
            kept(
                state,
                &reference,
                filter.comparison(),
                as_of,
                None,
                Trends::Without,
            )
            .await?,
        )
    } else {
        None
    };
    kept(
        state,
        &reference,
        filter,
        as_of,
        registry.as_deref(),
        trends,
    )
    .await
}

/// The reports of each calendar year of procedure of `limbs` (already the
/// cohort of `request`'s filter), from the first year to the last, each
/// over that year's part of the filter's dates.
fn by_year(
    limbs: &[IndexLimb],
    reference: &pdva_domain::ReferenceData,
    request: &ReportRequest,
) -> Vec<YearReport> {
    let years = limbs.iter().map(|l| l.procedure_date.year());
    let (Some(first), Some(last)) = (years.clone().min(), years.max()) else {
        return Vec::new();
    };
    (first..=last)
        .map(|year| {
            let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("a calendar year");
            let end = NaiveDate::from_ymd_opt(year, 12, 31).expect("a calendar year");
            let of_year: Vec<IndexLimb> = limbs
                .iter()
                .filter(|l| l.procedure_date.year() == year)
                .cloned()
                .collect();
            let filter = ResolvedFilter {
                from: Some(request.filter.from.map_or(start, |f| f.max(start))),
                to: Some(request.filter.to.map_or(end, |t| t.min(end))),
                ..request.filter.clone()
            };
            let year_request = ReportRequest {
                filter,
                ..request.clone()
            };
            YearReport {
                year,
                report: pdva_outcomes::report_from_limbs(&of_year, reference, &year_request)
                    .map_err(|e| e.to_string()),
            }
        })
        .collect()
}

/// The report of `filter`, kept or computed; with `registry`, its funnels
/// are replaced by that report's.
async fn kept(
    state: &AppState,
    reference: &ReferenceData,
    filter: ResolvedFilter,
    as_of: NaiveDate,
    registry: Option<&KeptReport>,
    trends: Trends,
) -> Result<Arc<KeptReport>, WebError> {
    let data_version = state.store.data_version().await?.to_string();
    let key = (data_version.clone(), as_of, filter.clone());
    if let Some(report) = state.reports.get(&key, trends) {
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
    let (report, by_year) = tokio::task::spawn_blocking(move || {
        let report = pdva_outcomes::report_from_limbs(&limbs, &reference, &request)?;
        let by_year = (trends == Trends::With).then(|| by_year(&limbs, &reference, &request));
        Ok::<_, pdva_outcomes::OutcomesError>((report, by_year))
    })
    .await
    .expect("report task")?;
    let mut report = report;
    if let Some(registry) = registry {
        report.compare_funnels_with(&registry.report);
    }
    let report = Arc::new(KeptReport {
        report,
        by_year,
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
