//! The report's filters: site (or several sites), operator, device system
//! and procedure dates, checked against the registry's reference data
//! before anything is computed.

use chrono::NaiveDate;
use pdva_domain::disclosure::{Audience, quarter_end, quarter_start};
use pdva_domain::{RecordId, ReferenceData};
use serde::{Deserialize, Serialize};

use crate::error::{OutcomesError, Result};

/// Filters as a user gives them (command line, query string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Only patients registered at this site (home site code).
    pub site: Option<String>,
    /// Only patients registered at one of these sites (a user's own sites,
    /// seen together); empty for no such limit. With `site`, both apply.
    pub sites: Vec<String>,
    /// Only index procedures whose primary operator is this clinician: a
    /// record id or an exact display name (case-insensitive).
    pub operator: Option<String>,
    /// Only index procedures on or after this date.
    pub from: Option<NaiveDate>,
    /// Only index procedures on or before this date.
    pub to: Option<NaiveDate>,
    /// Only index procedures with this device system (as recorded,
    /// compared without regard to case).
    pub device: Option<String>,
}

/// A filter whose site and operator are known to exist, for one audience.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedFilter {
    /// Site code.
    pub site: Option<String>,
    /// Site codes, sorted, one of which the patient's home site must be;
    /// empty for no such limit.
    pub sites: Vec<String>,
    /// Primary operator's id and display name.
    pub operator: Option<(RecordId, String)>,
    /// First procedure date.
    pub from: Option<NaiveDate>,
    /// Last procedure date.
    pub to: Option<NaiveDate>,
    /// Device system, as given (trimmed).
    pub device: Option<String>,
    /// Who the report is for: a research cohort is the research population
    /// only, and its report is disclosure-controlled. Set by the caller from
    /// the user's role, never from the filter a user gives.
    pub audience: Audience,
}

impl Filter {
    /// Checks the filter against the registry: an unknown site or operator,
    /// an ambiguous operator name or an empty date range is an error that
    /// names the value. The filter is for the identifiable audience.
    pub fn resolve(&self, reference: &ReferenceData) -> Result<ResolvedFilter> {
        self.resolve_for(reference, Audience::Identifiable)
    }

    /// [`Filter::resolve`] for `audience`. For research, the dates snap to
    /// whole calendar quarters (`from` to the first day of its quarter, `to`
    /// to the last day of its quarter), so that two research cohorts cannot
    /// differ by the patients of one day (DOMAIN.md section 11).
    pub fn resolve_for(
        &self,
        reference: &ReferenceData,
        audience: Audience,
    ) -> Result<ResolvedFilter> {
        let mut resolved = self.resolve_names(reference)?;
        if audience == Audience::Research {
            resolved.from = resolved.from.map(quarter_start);
            resolved.to = resolved.to.map(quarter_end);
        }
        resolved.audience = audience;
        Ok(resolved)
    }

    fn resolve_names(&self, reference: &ReferenceData) -> Result<ResolvedFilter> {
        let site = match self.site.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => Some(known_site(code, reference)?),
        };
        let mut sites = self
            .sites
            .iter()
            .map(|code| known_site(code.trim(), reference))
            .collect::<Result<Vec<_>>>()?;
        sites.sort_unstable();
        sites.dedup();
        let device = self
            .device
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        let operator = match self.operator.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(wanted) => Some(resolve_operator(wanted, reference)?),
        };
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(OutcomesError::EmptyDateRange { from, to });
        }
        Ok(ResolvedFilter {
            site,
            sites,
            operator,
            from: self.from,
            to: self.to,
            device,
            audience: Audience::Identifiable,
        })
    }
}

/// `code` if it is a site of the registry, else an error naming the known
/// ones.
fn known_site(code: &str, reference: &ReferenceData) -> Result<String> {
    if reference.sites.keys().any(|c| c.as_str() == code) {
        return Ok(code.to_owned());
    }
    let mut known: Vec<&str> = reference.sites.keys().map(|c| c.as_str()).collect();
    known.sort_unstable();
    Err(OutcomesError::UnknownSite {
        code: code.to_owned(),
        known: if known.is_empty() {
            "(none)".to_owned()
        } else {
            known.join(", ")
        },
    })
}

fn resolve_operator(wanted: &str, reference: &ReferenceData) -> Result<(RecordId, String)> {
    if let Ok(id) = wanted.parse::<RecordId>() {
        return reference
            .clinicians
            .get(&id)
            .map(|c| (id, c.display_name.to_string()))
            .ok_or_else(|| OutcomesError::UnknownOperator(wanted.to_owned()));
    }
    let mut matches: Vec<(RecordId, String)> = reference
        .clinicians
        .iter()
        .filter(|(_, c)| c.display_name.as_str().eq_ignore_ascii_case(wanted))
        .map(|(id, c)| (*id, c.display_name.to_string()))
        .collect();
    matches.sort();
    match matches.len() {
        0 => Err(OutcomesError::UnknownOperator(wanted.to_owned())),
        1 => Ok(matches.remove(0)),
        count => Err(OutcomesError::AmbiguousOperator {
            name: wanted.to_owned(),
            count,
            ids: matches
                .iter()
                .map(|(id, _)| id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

impl ResolvedFilter {
    /// Whether patients registered at `site` may be in the report.
    pub fn admits_site(&self, site: &str) -> bool {
        self.site.as_deref().is_none_or(|s| s == site)
            && (self.sites.is_empty() || self.sites.iter().any(|s| s == site))
    }

    /// Whether an index procedure on `date` by `operator` with
    /// `device_system` of a patient registered at `site` is in the report.
    pub fn admits(
        &self,
        site: &str,
        operator: RecordId,
        device_system: &str,
        date: NaiveDate,
    ) -> bool {
        self.admits_site(site)
            && self.operator.as_ref().is_none_or(|(id, _)| *id == operator)
            && self
                .device
                .as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case(device_system.trim()))
            && self.from.is_none_or(|f| date >= f)
            && self.to.is_none_or(|t| date <= t)
    }

    /// The population a report's funnel plots compare each unit with
    /// (DOMAIN.md 6.4): the whole registry, every site and every operator,
    /// over the same procedure dates and for the same audience. The site
    /// and operator filters are dropped (so are several sites), because a
    /// unit compared with a mean of its own limbs (a site against itself, a
    /// site's operators against the site) cannot stand out; the dates are
    /// kept, because a committee reviews a period, and so are the research
    /// population's quarter-snapped dates and a device system (each unit's
    /// cases of that device against the registry's cases of it).
    pub fn comparison(&self) -> ResolvedFilter {
        ResolvedFilter {
            site: None,
            sites: Vec::new(),
            operator: None,
            ..self.clone()
        }
    }

    /// Whether this filter is its own [`ResolvedFilter::comparison`]: no
    /// site and no operator, so its report's funnels already compare each
    /// unit with the whole registry (of one device system, if the filter
    /// names one).
    pub fn is_whole_registry(&self) -> bool {
        self.site.is_none() && self.sites.is_empty() && self.operator.is_none()
    }
}
