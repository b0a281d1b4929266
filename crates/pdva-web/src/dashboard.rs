//! The outcome dashboard of a site or of every site the user sees: counts,
//! Kaplan–Meier curves with their 95% band and numbers at risk,
//! cumulative incidence of major amputation, 30-day adverse events,
//! reintervention rates and the published benchmarks beside the local
//! figures. Every number comes from the outcomes engine (`pdva-outcomes`);
//! this module only lays them out. Charts are SVG drawn by the template
//! from coordinates computed here, in black and grey so that they print.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use pdva_outcomes::{Filter, OutcomesReport, ReportRequest, SurvivalEndpoint};

use crate::authz::Caller;
use crate::patients::{Nav, today};
use crate::{AppState, WebError};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 36.0;
/// The curves are drawn to five years at most.
const LONGEST_DAYS: f64 = 5.0 * 365.0;

struct Tick {
    at: String,
    label: String,
}

struct Estimate {
    label: String,
    value: String,
    at_risk: u64,
}

/// One Kaplan–Meier chart.
struct Chart {
    id: &'static str,
    title: String,
    event: String,
    line: String,
    band: String,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
    estimates: Vec<Estimate>,
    summary: String,
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

fn chart(id: &'static str, title: &str, endpoint: &SurvivalEndpoint) -> Chart {
    let x_max = endpoint
        .rows
        .iter()
        .map(|r| r.t_days)
        .fold(365.0_f64, f64::max)
        .min(LONGEST_DAYS);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: f64| LEFT + t.min(x_max) / x_max * plot_w;
    let y = |s: f64| TOP + (1.0 - s.clamp(0.0, 1.0)) * plot_h;
    let point = |t: f64, s: f64| format!("{:.1},{:.1}", x(t), y(s));
    let rows: Vec<_> = endpoint.rows.iter().filter(|r| r.t_days <= x_max).collect();
    // The step function: flat until each time, then down.
    let mut line = vec![point(0.0, 1.0)];
    let mut upper = vec![point(0.0, 1.0)];
    let mut lower = vec![point(0.0, 1.0)];
    let (mut s, mut hi, mut lo) = (1.0, 1.0, 1.0);
    for r in &rows {
        line.push(point(r.t_days, s));
        line.push(point(r.t_days, r.survival));
        s = r.survival;
        let (h, l) = (r.ci_upper.unwrap_or(s), r.ci_lower.unwrap_or(s));
        upper.push(point(r.t_days, hi));
        upper.push(point(r.t_days, h));
        lower.push(point(r.t_days, lo));
        lower.push(point(r.t_days, l));
        hi = h;
        lo = l;
    }
    line.push(point(x_max, s));
    upper.push(point(x_max, hi));
    lower.push(point(x_max, lo));
    lower.reverse();
    let band = upper.into_iter().chain(lower).collect::<Vec<_>>().join(" ");
    let mut x_ticks = Vec::new();
    let mut t = 0.0;
    while t <= x_max + 0.5 {
        x_ticks.push(Tick {
            at: format!("{:.1}", x(t)),
            label: if t == 0.0 {
                "0".into()
            } else {
                format!("{:.0} y", t / 365.0)
            },
        });
        t += 365.0;
    }
    let y_ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
        .iter()
        .map(|v| Tick {
            at: format!("{:.1}", y(*v)),
            label: format!("{:.0}%", v * 100.0),
        })
        .collect();
    Chart {
        id,
        title: title.to_owned(),
        event: endpoint.event.clone(),
        line: line.join(" "),
        band,
        x_ticks,
        y_ticks,
        estimates: endpoint
            .estimates
            .iter()
            .map(|e| Estimate {
                label: e.label.clone(),
                value: with_ci(Some(e.survival), e.ci_lower, e.ci_upper),
                at_risk: e.at_risk,
            })
            .collect(),
        summary: format!(
            "{} index procedures, {} events, {} censored; median {}",
            endpoint.n,
            endpoint.events,
            endpoint.censored,
            endpoint
                .median_days
                .map(|d| format!("{d:.0} days"))
                .unwrap_or_else(|| "not reached".into())
        ),
    }
}

struct Line {
    label: String,
    value: String,
}

struct BenchmarkRow {
    benchmark: String,
    published: String,
    source: String,
    local: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    scope: String,
    site: String,
    sites: Vec<String>,
    data_version: String,
    as_of: String,
    counts: Vec<Line>,
    charts: Vec<Chart>,
    cumulative_incidence: Vec<Estimate>,
    adverse_events: Vec<Line>,
    thirty_day: Vec<Line>,
    rates: Vec<Line>,
    benchmarks: Vec<BenchmarkRow>,
    width: f64,
    height: f64,
    left: f64,
    right_edge: f64,
    bottom_axis: f64,
}

fn page_of(caller: &Caller, report: &OutcomesReport, sites: Vec<String>) -> DashboardPage {
    let c = &report.cohort;
    let ae = &report.adverse_events_30_day;
    DashboardPage {
        nav: Nav::of(caller),
        scope: caller
            .site
            .as_ref()
            .map(|s| format!("site {s}"))
            .unwrap_or_else(|| "all sites".into()),
        site: caller
            .site
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        sites,
        data_version: report.data_version.clone(),
        as_of: report.as_of.clone(),
        counts: vec![
            Line {
                label: "Patients".into(),
                value: c.patients.to_string(),
            },
            Line {
                label: "Index procedures".into(),
                value: c.index_procedures.to_string(),
            },
            Line {
                label: "Patients dependent on dialysis".into(),
                value: c.dialysis_dependent_patients.to_string(),
            },
            Line {
                label: "Deaths".into(),
                value: c.deaths.to_string(),
            },
            Line {
                label: "Follow-up ended early".into(),
                value: c.follow_up_ended.to_string(),
            },
            Line {
                label: "Technical success".into(),
                value: with_ci(
                    report.technical_success.estimate,
                    report.technical_success.ci_lower,
                    report.technical_success.ci_upper,
                ),
            },
        ],
        charts: vec![
            chart(
                "afs",
                "Amputation-free survival",
                &report.amputation_free_survival,
            ),
            chart("os", "Overall survival", &report.overall_survival),
        ],
        cumulative_incidence: report
            .cumulative_incidence_major_amputation
            .estimates
            .iter()
            .map(|e| Estimate {
                label: e.label.clone(),
                value: with_ci(Some(e.cumulative_incidence), e.ci_lower, e.ci_upper),
                at_risk: e.at_risk,
            })
            .collect(),
        adverse_events: ae
            .by_kind
            .iter()
            .map(|k| Line {
                label: k.label.clone(),
                value: format!(
                    "{} of {}: {}",
                    k.proportion.k,
                    k.proportion.n,
                    with_ci(
                        k.proportion.estimate,
                        k.proportion.ci_lower,
                        k.proportion.ci_upper
                    )
                ),
            })
            .collect(),
        thirty_day: vec![
            Line {
                label: "Death within 30 days".into(),
                value: with_ci(
                    report.mortality_30_day.estimate,
                    report.mortality_30_day.ci_lower,
                    report.mortality_30_day.ci_upper,
                ),
            },
            Line {
                label: "Major amputation within 30 days".into(),
                value: with_ci(
                    report.major_amputation_30_day.estimate,
                    report.major_amputation_30_day.ci_lower,
                    report.major_amputation_30_day.ci_upper,
                ),
            },
        ],
        rates: [
            (
                "Unplanned reinterventions",
                &report.unplanned_reintervention_rate,
            ),
            (
                "Planned reinterventions",
                &report.planned_reintervention_rate,
            ),
        ]
        .into_iter()
        .map(|(label, r)| Line {
            label: format!("{label} per 100 patient-years"),
            value: match (r.rate, r.ci_lower, r.ci_upper) {
                (Some(v), Some(l), Some(h)) => format!(
                    "{v:.1} ({l:.1}–{h:.1}); {} in {:.0} patient-years",
                    r.events, r.patient_years
                ),
                (Some(v), _, _) => format!(
                    "{v:.1}; {} in {:.0} patient-years",
                    r.events, r.patient_years
                ),
                _ => "—".into(),
            },
        })
        .collect(),
        benchmarks: report
            .benchmarks
            .iter()
            .map(|b| BenchmarkRow {
                benchmark: format!("{} ({})", b.benchmark, b.time),
                published: b.figure.clone(),
                source: b.source.clone(),
                local: b
                    .local
                    .iter()
                    .map(|l| with_ci(l.estimate, l.ci_lower, l.ci_upper))
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect(),
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right_edge: WIDTH - RIGHT,
        bottom_axis: HEIGHT - BOTTOM,
    }
}

/// The dashboard of `?site=` (or of every site, for users who see them all).
#[tracing::instrument(skip_all)]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, WebError> {
    let reference = state.store.reference_data().await?;
    let filter = Filter {
        site: caller.site.as_ref().map(ToString::to_string),
        operator: None,
        from: None,
        to: None,
    }
    .resolve(&reference)?;
    let files = state
        .store
        .load_patient_files(filter.site.as_deref())
        .await?;
    let request = ReportRequest {
        as_of: today(),
        filter,
        data_version: state.store.data_version().await?.to_string(),
    };
    let report = tokio::task::spawn_blocking(move || {
        pdva_outcomes::build_report(&files, &reference, &request)
    })
    .await
    .expect("report task")?;
    let user = caller.user();
    let sites = match crate::patients::visible_sites(user) {
        Some(s) => s.iter().map(ToString::to_string).collect(),
        None => state
            .store
            .sites()
            .await?
            .into_iter()
            .map(|(_, s)| s.site_code.to_string())
            .collect(),
    };
    Ok(Html(page_of(&caller, &report, sites).render()?))
}
