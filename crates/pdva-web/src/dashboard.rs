//! The outcome dashboard, laid out for a committee: the whole outcomes
//! report of a site, of all the user's sites or of the registry, for a
//! period, an operator and a device system (the filters of
//! `/api/v1/outcomes`, with the same authorisation and disclosure control).
//!
//! Every number comes from the outcomes engine (`pdva-outcomes`): the
//! sections the printed reports share (cases, technical success, 30-day
//! outcomes, survival and cumulative incidence with numbers at risk,
//! reinterventions, quality of life, anticoagulation, completeness,
//! comparisons, learning curves, benchmarks, trends by year) are laid out by
//! `pdva_reports::sections` and printed by `pdva_reports::html`, exactly as
//! in the governance review; the funnel plots, which name units as the
//! caller may see them, are drawn here from coordinates computed in Rust.
//! Everything is in black and grey so that it prints.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use pdva_domain::values::SiteCode;
use pdva_outcomes::{Filter, Funnel, OutcomesReport, ProportionEndpoint};
use pdva_reports::sections;
use serde::Deserialize;

use crate::authz::Caller;
use crate::outcomes::{FunnelNames, KeptReport, Trends};
use crate::patients::{Nav, today};
use crate::{AppState, WebError};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 36.0;

/// The query of `/dashboard`: the API's filters (empty values mean none).
/// Its `site` is read and checked by the guard (`Scope::SiteQueryOrOwn`),
/// which hands it over as `Caller::site`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DashboardQuery {
    /// An operator: clinician record id (or exact name).
    #[serde(default)]
    operator: Option<String>,
    /// A device system, as recorded.
    #[serde(default)]
    device: Option<String>,
    /// First procedure date (YYYY-MM-DD).
    #[serde(default)]
    from: Option<String>,
    /// Last procedure date (YYYY-MM-DD).
    #[serde(default)]
    to: Option<String>,
}

/// Whose outcomes the dashboard shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum View {
    /// One site.
    Site(SiteCode),
    /// All the user's sites together (a user of several).
    Sites(Vec<SiteCode>),
    /// The whole registry (administrators and users of every site).
    Registry,
}

impl View {
    /// The view of the request: the site the guard checked, else the
    /// user's only site, else all of theirs, else the registry.
    fn of(caller: &Caller) -> Result<Self, WebError> {
        if let Some(site) = &caller.site {
            return Ok(View::Site(site.clone()));
        }
        Ok(match crate::patients::visible_sites(caller.user()) {
            None => View::Registry,
            // A user granted no site sees no one's outcomes.
            Some(sites) if sites.is_empty() => return Err(WebError::NotFound),
            Some(sites) if sites.len() == 1 => View::Site(sites[0].clone()),
            Some(sites) => View::Sites(sites),
        })
    }

    /// The view in words, for the heading and the title.
    fn scope(&self) -> String {
        match self {
            View::Site(s) => format!("site {s}"),
            View::Sites(sites) => format!(
                "all my sites ({})",
                sites
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            View::Registry => "all sites".into(),
        }
    }
}

/// The filters as the caller gave them, checked for form: dates must be
/// dates. The names are checked by the engine and [`crate::outcomes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Chosen {
    operator: String,
    device: String,
    from: String,
    to: String,
}

impl Chosen {
    fn of(q: &DashboardQuery) -> Self {
        let text = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_owned();
        Chosen {
            operator: text(&q.operator),
            device: text(&q.device),
            from: text(&q.from),
            to: text(&q.to),
        }
    }

    /// The engine's filter of `view` with these choices, without the
    /// device system (`with_device` false) or with it.
    fn filter(&self, view: &View, with_device: bool) -> Result<Filter, WebError> {
        let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        let (site, sites) = match view {
            View::Site(s) => (Some(s.to_string()), Vec::new()),
            View::Sites(sites) => (None, sites.iter().map(ToString::to_string).collect()),
            View::Registry => (None, Vec::new()),
        };
        Ok(Filter {
            site,
            sites,
            operator: some(&self.operator),
            from: crate::api::date("from", some(&self.from))?,
            to: crate::api::date("to", some(&self.to))?,
            device: if with_device {
                some(&self.device)
            } else {
                None
            },
        })
    }

    /// The filters in one line, for the page and its print.
    fn line(&self, operator_name: Option<&str>) -> String {
        let mut parts = Vec::new();
        match (self.from.as_str(), self.to.as_str()) {
            ("", "") => parts.push("index procedures of any date".to_owned()),
            (f, "") => parts.push(format!("index procedures from {f}")),
            ("", t) => parts.push(format!("index procedures to {t}")),
            (f, t) => parts.push(format!("index procedures {f} to {t}")),
        }
        if !self.operator.is_empty() {
            parts.push(format!(
                "operator {}",
                operator_name.unwrap_or(self.operator.as_str())
            ));
        }
        if !self.device.is_empty() {
            parts.push(format!("device system {}", self.device));
        }
        parts.join("; ")
    }
}

struct Tick {
    at: String,
    label: String,
}

fn percent(p: Option<f64>) -> String {
    p.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn with_ci(p: Option<f64>, lo: Option<f64>, hi: Option<f64>) -> String {
    match (p, lo, hi) {
        (Some(_), Some(l), Some(h)) => {
            format!("{} ({}–{})", percent(p), percent(Some(l)), percent(Some(h)))
        }
        _ => percent(p),
    }
}

/// One unit on a funnel plot.
struct FunnelPoint {
    x: String,
    y: String,
    label: String,
    n: u64,
    k: u64,
    observed: String,
    limits_95: String,
    limits_998: String,
    /// `within`, `alert` or `alarm`.
    status: &'static str,
}

/// A funnel plot: the registry mean, the 95% and 99.8% control limits as
/// curves over n, and each unit as a point (open circle within the limits,
/// grey square beyond 95%, black diamond beyond 99.8%: legible in greyscale).
struct FunnelChart {
    id: String,
    title: String,
    definition: String,
    /// What each unit is compared with, in a sentence.
    compared_with: String,
    /// Some units are shown unnamed (not the reader's).
    unnamed: bool,
    mean_y: String,
    limits_95: Vec<String>,
    limits_998: Vec<String>,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
    points: Vec<FunnelPoint>,
}

/// The n at which the limit curves are drawn: every n up to 30, then 60
/// steps spread geometrically to `n_max`.
fn funnel_grid(n_max: u64) -> Vec<u64> {
    let mut grid: Vec<u64> = (1..=n_max.min(30)).collect();
    if n_max > 30 {
        let ratio = (n_max as f64 / 30.0).powf(1.0 / 60.0);
        let mut v = 30.0;
        for _ in 0..60 {
            v *= ratio;
            grid.push(v.round() as u64);
        }
        grid.push(n_max);
        grid.dedup();
    }
    grid
}

fn funnel_chart(funnel: &Funnel) -> Option<FunnelChart> {
    let theta = funnel.registry_mean?;
    let n_max = funnel.units.iter().map(|u| u.n).max()?.max(10);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_top = n_max as f64 * 1.05;
    let x = |n: f64| LEFT + n / x_top * plot_w;
    let y = |p: f64| TOP + (1.0 - p.clamp(0.0, 1.0)) * plot_h;
    let mut lower_95 = Vec::new();
    let mut upper_95 = Vec::new();
    let mut lower_998 = Vec::new();
    let mut upper_998 = Vec::new();
    for n in funnel_grid(n_max) {
        let Ok(l) = pdva_stats::funnel_limits(theta, n) else {
            continue;
        };
        let at = |p: f64| format!("{:.1},{:.1}", x(n as f64), y(p));
        lower_95.push(at(l.lower_95));
        upper_95.push(at(l.upper_95));
        lower_998.push(at(l.lower_998));
        upper_998.push(at(l.upper_998));
    }
    let step = nice_step(x_top);
    let mut x_ticks = Vec::new();
    let mut t = 0.0;
    while t <= x_top {
        x_ticks.push(Tick {
            at: format!("{:.1}", x(t)),
            label: format!("{t:.0}"),
        });
        t += step;
    }
    let y_ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
        .iter()
        .map(|v| Tick {
            at: format!("{:.1}", y(*v)),
            label: format!("{:.0}%", v * 100.0),
        })
        .collect();
    let unit_kind = if funnel.unit_type == "site" {
        "site"
    } else {
        "operator"
    };
    let mean = format!("{:.1}%", theta * 100.0);
    Some(FunnelChart {
        id: format!("funnel-{}-{}", funnel.indicator, funnel.unit_type),
        title: format!("{} by {unit_kind}", indicator_title(&funnel.indicator)),
        definition: funnel.definition.clone(),
        compared_with: format!(
            "Each {unit_kind} is compared with the mean of {}: {mean} of {} eligible index procedures; the 95% and 99.8% limits are drawn from that mean.",
            funnel.compared_with, funnel.n
        ),
        unnamed: funnel.units.iter().any(|u| u.unit.is_empty()),
        mean_y: format!("{:.1}", y(theta)),
        limits_95: vec![lower_95.join(" "), upper_95.join(" ")],
        limits_998: vec![lower_998.join(" "), upper_998.join(" ")],
        x_ticks,
        y_ticks,
        points: funnel
            .units
            .iter()
            .map(|u| FunnelPoint {
                x: format!("{:.1}", x(u.n as f64)),
                y: format!("{:.1}", y(u.observed)),
                label: u.label.clone(),
                n: u.n,
                k: u.k,
                observed: format!("{:.1}%", u.observed * 100.0),
                limits_95: format!("{:.1}–{:.1}%", u.lower_95 * 100.0, u.upper_95 * 100.0),
                limits_998: format!("{:.1}–{:.1}%", u.lower_998 * 100.0, u.upper_998 * 100.0),
                status: if u.alarm {
                    "alarm"
                } else if u.alert {
                    "alert"
                } else {
                    "within"
                },
            })
            .collect(),
    })
}

/// A round tick interval giving about five ticks up to `top`.
fn nice_step(top: f64) -> f64 {
    let raw = (top / 5.0).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn indicator_title(indicator: &str) -> &str {
    match indicator {
        "amputation_free_survival_6_months" => "Amputation-free survival at 6 months",
        "male_or_death_30_day" => "Major adverse limb event or death within 30 days",
        "unplanned_reintervention_1_year" => "Unplanned reintervention within 1 year",
        other => other,
    }
}

/// One line of the summary.
struct Line {
    label: String,
    value: String,
}

/// One choice of a select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// `choices` with the one whose value is `chosen` (ignoring case) selected.
fn select(mut choices: Vec<Choice>, chosen: &str) -> Vec<Choice> {
    for c in &mut choices {
        c.selected = c.value.eq_ignore_ascii_case(chosen);
    }
    choices
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    nav: Nav,
    scope: String,
    site: String,
    /// The site choices: the user's sites, with "all" first for a user of
    /// several (value empty).
    sites: Vec<Choice>,
    operators: Vec<Choice>,
    devices: Vec<Choice>,
    chosen: Chosen,
    filters: String,
    data_version: &'a str,
    as_of: &'a str,
    /// The research form (DOMAIN.md section 11): say what it counts.
    research: bool,
    /// Why a research cohort was refused, in place of the figures.
    refusal: Option<String>,
    /// The rendered [`DashboardBody`].
    body: &'a str,
}

/// Everything of the dashboard that comes from the report alone, so it is
/// rendered once per kept report and naming of the funnel units.
#[derive(Template)]
#[template(path = "dashboard_body.html")]
struct DashboardBody {
    summary: Vec<Line>,
    /// The shared report sections before the funnel plots, as HTML.
    before: String,
    funnels: Vec<FunnelChart>,
    /// The shared report sections after them (benchmarks, trends).
    after: String,
    width: f64,
    height: f64,
    left: f64,
    right_edge: f64,
    bottom_axis: f64,
}

/// A 30-day proportion's limbs of unknown status, shown beside it
/// (DOMAIN.md section 7); nothing for other proportions.
fn status_unknown(p: &ProportionEndpoint) -> String {
    p.status_unknown
        .map(|u| format!("; status unknown at 30 days: {u}"))
        .unwrap_or_default()
}

/// `k of n: p% (CI)`, with the limbs of unknown status beside it.
fn proportion_line(p: &ProportionEndpoint) -> String {
    format!(
        "{} of {}: {}{}",
        p.k,
        p.n,
        with_ci(p.estimate, p.ci_lower, p.ci_upper),
        status_unknown(p)
    )
}

/// The key figures a committee reads first.
fn summary(report: &OutcomesReport) -> Vec<Line> {
    let c = &report.cohort;
    let line = |label: &str, value: String| Line {
        label: label.into(),
        value,
    };
    let afs = report
        .amputation_free_survival
        .estimates
        .iter()
        .find(|e| e.t_days == 182.0);
    let unplanned = &report.unplanned_reintervention_rate;
    vec![
        line("Patients", c.patients.to_string()),
        line("Index procedures", c.index_procedures.to_string()),
        line(
            "Patients dependent on dialysis",
            c.dialysis_dependent_patients.to_string(),
        ),
        line("Deaths", c.deaths.to_string()),
        line("Follow-up ended early", c.follow_up_ended.to_string()),
        line(
            "Technical success",
            proportion_line(&report.technical_success),
        ),
        line(
            "Death within 30 days",
            proportion_line(&report.mortality_30_day),
        ),
        line(
            "Major amputation within 30 days",
            proportion_line(&report.major_amputation_30_day),
        ),
        line(
            "Amputation-free survival at 6 months",
            afs.map_or("—".into(), |e| {
                format!(
                    "{}; {} at risk",
                    with_ci(Some(e.survival), e.ci_lower, e.ci_upper),
                    e.at_risk
                )
            }),
        ),
        line(
            "Unplanned reinterventions per 100 patient-years",
            match (unplanned.rate, unplanned.ci_lower, unplanned.ci_upper) {
                (Some(v), Some(l), Some(h)) => format!(
                    "{v:.1} ({l:.1}–{h:.1}); {} in {:.0} patient-years",
                    unplanned.events, unplanned.patient_years
                ),
                (Some(v), _, _) => format!(
                    "{v:.1}; {} in {:.0} patient-years",
                    unplanned.events, unplanned.patient_years
                ),
                _ => "—".into(),
            },
        ),
    ]
}

/// Whose index procedures a report counts, for the trends' note.
fn whose(report: &OutcomesReport) -> &'static str {
    if report.filters.site.is_some() {
        "the site's"
    } else if !report.filters.sites.is_empty() {
        "these sites'"
    } else {
        "the registry's"
    }
}

/// The comparisons a dashboard shows: patient groups and technique, then
/// sites when it shows several and operators.
const COMPARISONS: [&str; 7] = [
    "dialysis_dependent",
    "diabetes",
    "wifi_clinical_stage",
    "device_system",
    "crossover_level",
    "site",
    "operator",
];

/// The shared report sections before and after the funnel plots.
fn report_sections(
    report: &OutcomesReport,
    by_year: Option<&[crate::outcomes::YearReport]>,
) -> (
    Vec<pdva_reports::document::Section>,
    Vec<pdva_reports::document::Section>,
) {
    let several_sites = report.follow_up_completeness.by_site.len() > 1;
    let comparisons: Vec<&str> = COMPARISONS
        .iter()
        .copied()
        .filter(|v| *v != "site" || several_sites)
        .collect();
    let before = vec![
        sections::cases(report, None),
        sections::technical_success(report),
        sections::thirty_day(report),
        sections::survival(report),
        sections::cumulative_incidence(report),
        sections::reinterventions(report),
        sections::quality_of_life(report),
        sections::anticoagulation(report),
        sections::completeness(report, several_sites),
        sections::comparisons(report, &comparisons),
        sections::learning_curves(
            report,
            "Learning curves of the operators (CUSUM)",
            sections::CusumCharts::Signalled,
        ),
    ];
    let years: Vec<sections::YearOutcomes<'_>> = by_year
        .unwrap_or_default()
        .iter()
        .map(|y| (y.year, y.report.as_ref().map_err(String::as_str)))
        .collect();
    let after = vec![
        sections::benchmarks(report),
        sections::trends(&years, whose(report)),
    ];
    (before, after)
}

/// The dashboard's report-dependent part, with the funnel units named as
/// `names` allows.
fn body_of(kept: &KeptReport, names: &FunnelNames) -> Result<DashboardBody, WebError> {
    let report = &kept.report;
    let mut funnels = report.monitoring.funnels.clone();
    names.apply(&mut funnels);
    let (before, after) = report_sections(report, kept.by_year.as_deref());
    Ok(DashboardBody {
        summary: summary(report),
        before: pdva_reports::html::sections(&before)?,
        funnels: funnels.iter().filter_map(funnel_chart).collect(),
        after: pdva_reports::html::sections(&after)?,
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right_edge: WIDTH - RIGHT,
        bottom_axis: HEIGHT - BOTTOM,
    })
}

/// The operators the caller may filter by (those they see named), by name.
async fn operator_choices(state: &AppState, names: &FunnelNames) -> Result<Vec<Choice>, WebError> {
    let reference = state.store.reference_data().await?;
    let mut choices: Vec<Choice> = reference
        .clinicians
        .iter()
        .filter(|(id, _)| names.names_operator(&id.to_string()))
        .map(|(id, c)| Choice {
            value: id.to_string(),
            label: c.display_name.to_string(),
            selected: false,
        })
        .collect();
    choices.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(choices)
}

/// The device systems of a report's index procedures (its strata by
/// device), by name.
fn devices_of(report: &OutcomesReport) -> Vec<String> {
    let mut devices: Vec<String> = sections::comparison(report, "device_system")
        .map(|c| c.strata.iter().map(|s| s.value.clone()).collect())
        .unwrap_or_default();
    devices.sort();
    devices
}

/// A research cohort under the minimum is not an error of the page: the
/// page says why there are no figures.
fn refused(
    answer: Result<Arc<KeptReport>, WebError>,
) -> Result<Result<Arc<KeptReport>, String>, WebError> {
    match answer {
        Ok(kept) => Ok(Ok(kept)),
        Err(WebError::Outcomes(
            e @ pdva_outcomes::OutcomesError::ResearchCohortTooSmall { .. },
        )) => Ok(Err(e.to_string())),
        Err(e) => Err(e),
    }
}

/// The site choices of the form.
async fn site_choices(state: &AppState, caller: &Caller) -> Result<Vec<Choice>, WebError> {
    let choice = |s: String| Choice {
        value: s.clone(),
        label: s,
        selected: false,
    };
    Ok(match crate::patients::visible_sites(caller.user()) {
        Some(sites) => {
            let mut choices: Vec<Choice> = sites.iter().map(|s| choice(s.to_string())).collect();
            if sites.len() > 1 {
                choices.insert(
                    0,
                    Choice {
                        value: String::new(),
                        label: "All my sites".into(),
                        selected: false,
                    },
                );
            }
            choices
        }
        None => std::iter::once(Choice {
            value: String::new(),
            label: "All sites (the whole registry)".into(),
            selected: false,
        })
        .chain(
            state
                .store
                .sites()
                .await?
                .into_iter()
                .map(|(_, s)| choice(s.site_code.to_string())),
        )
        .collect(),
    })
}

/// `GET /dashboard?site=&operator=&device=&from=&to=`: the outcomes of the
/// site named, or of the user's only site, or of all theirs, for the
/// filters given. A bad filter is answered 422 with the field, the value
/// and the rule.
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<DashboardQuery>,
) -> Result<Html<String>, WebError> {
    let view = View::of(&caller)?;
    let chosen = Chosen::of(&q);
    let research = caller.audience() == pdva_outcomes::Audience::Research;
    let names = FunnelNames::of(&state, &caller).await?;
    let today = today();
    // The device systems to choose from are those of the view without a
    // device filter; a device system not among them is refused.
    let without_device = chosen.filter(&view, false)?;
    let trends = if chosen.device.is_empty() {
        Trends::With
    } else {
        Trends::Without
    };
    let base = refused(
        crate::outcomes::report(&state, &caller, without_device, today, today, trends).await,
    )?;
    let devices = base
        .as_ref()
        .map(|k| devices_of(&k.report))
        .unwrap_or_default();
    let shown = match base {
        Ok(_) if !chosen.device.is_empty() => {
            if !devices
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&chosen.device))
            {
                return Err(WebError::Invalid(format!(
                    "device: \"{}\" is not a device system of the index procedures shown (choose one of: {})",
                    chosen.device,
                    if devices.is_empty() {
                        "none recorded".to_owned()
                    } else {
                        devices.join(", ")
                    }
                )));
            }
            let filter = chosen.filter(&view, true)?;
            refused(
                crate::outcomes::report(&state, &caller, filter, today, today, Trends::With).await,
            )?
        }
        other => other,
    };
    let (body, refusal): (Arc<str>, Option<String>) = match &shown {
        Ok(kept) => (
            kept.dashboard_html(&names, |_, names| Ok(body_of(kept, names)?.render()?))?,
            None,
        ),
        Err(why) => ("".into(), Some(why.clone())),
    };
    let today_text = today.to_string();
    let (data_version, as_of) = match &shown {
        Ok(kept) => (
            kept.report.data_version.as_str(),
            kept.report.as_of.as_str(),
        ),
        Err(_) => ("—", today_text.as_str()),
    };
    let operators = operator_choices(&state, &names).await?;
    let operator_name = operators
        .iter()
        .find(|o| o.value == chosen.operator)
        .map(|o| o.label.as_str());
    let mut nav = Nav::of(&caller);
    nav.data_version = data_version.to_owned();
    let site = match &view {
        View::Site(s) => s.to_string(),
        _ => String::new(),
    };
    let filters = chosen.line(operator_name);
    let devices = devices
        .into_iter()
        .map(|d| Choice {
            value: d.clone(),
            label: d,
            selected: false,
        })
        .collect();
    let page = DashboardPage {
        nav,
        scope: view.scope(),
        sites: select(site_choices(&state, &caller).await?, &site),
        site,
        filters,
        operators: select(operators, &chosen.operator),
        devices: select(devices, &chosen.device),
        chosen,
        data_version,
        as_of,
        research,
        refusal,
        body: &body,
    };
    Ok(Html(page.render()?))
}
