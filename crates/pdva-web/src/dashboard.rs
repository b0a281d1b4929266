//! The outcome dashboard of a site or of every site the user sees: counts,
//! Kaplan–Meier curves with their 95% band and numbers at risk,
//! cumulative incidence of major amputation, 30-day adverse events,
//! reintervention rates and the published benchmarks beside the local
//! figures. Every number comes from the outcomes engine (`pdva-outcomes`);
//! this module only lays them out. Charts are SVG drawn by the template
//! from coordinates computed here, in black and grey so that they print.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use pdva_outcomes::{
    CompetingRiskEndpoint, Filter, Funnel, OutcomesReport, ProportionEndpoint, SurvivalEndpoint,
};

use crate::authz::Caller;
use crate::outcomes::FunnelNames;
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
    /// Numbers at risk under the x axis, at each year.
    at_risk: Vec<Tick>,
    estimates: Vec<Estimate>,
    summary: String,
    axis_label: String,
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

/// One step of a curve: time, estimate and its 95% limits.
struct Step {
    t_days: f64,
    value: f64,
    lower: Option<f64>,
    upper: Option<f64>,
    /// At risk just before `t_days`.
    at_risk: u64,
    /// Leaving the risk set at `t_days` (events of every kind and censorings).
    leaving: u64,
}

/// The number at risk at day `t` (DOMAIN.md section 7: still followed and
/// event-free at the start of the day, time ≥ `t`): the risk set of the
/// first step at or after `t`, or, after the last step, what remains of it.
/// The same number as the estimates' `at_risk` at `t`.
fn at_risk_at(steps: &[Step], t: f64) -> u64 {
    match steps.iter().find(|s| s.t_days >= t) {
        Some(s) => s.at_risk,
        None => steps
            .last()
            .map(|s| s.at_risk.saturating_sub(s.leaving))
            .unwrap_or(0),
    }
}

/// A step curve with its 95% band, from `start` (1 for survival, 0 for
/// cumulative incidence) at day 0.
#[allow(clippy::too_many_arguments)]
fn step_chart(
    id: &'static str,
    title: &str,
    event: String,
    start: f64,
    steps: &[Step],
    estimates: Vec<Estimate>,
    summary: String,
    axis_label: &str,
) -> Chart {
    let x_max = steps
        .iter()
        .map(|r| r.t_days)
        .fold(365.0_f64, f64::max)
        .min(LONGEST_DAYS);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: f64| LEFT + t.min(x_max) / x_max * plot_w;
    let y = |s: f64| TOP + (1.0 - s.clamp(0.0, 1.0)) * plot_h;
    let point = |t: f64, s: f64| (x(t), y(s));
    let shown = steps.iter().filter(|r| r.t_days <= x_max);
    // The step function: flat until each time, then to the new value.
    let mut line = vec![point(0.0, start)];
    let mut upper = vec![point(0.0, start)];
    let mut lower = vec![point(0.0, start)];
    let (mut s, mut hi, mut lo) = (start, start, start);
    for r in shown {
        line.push(point(r.t_days, s));
        line.push(point(r.t_days, r.value));
        s = r.value;
        let (h, l) = (r.upper.unwrap_or(s), r.lower.unwrap_or(s));
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
    let mut lower = in_pixels(lower);
    lower.reverse();
    let band = in_pixels(upper)
        .into_iter()
        .chain(lower)
        .map(svg_point)
        .collect::<Vec<_>>()
        .join(" ");
    let line = in_pixels(line)
        .into_iter()
        .map(svg_point)
        .collect::<Vec<_>>()
        .join(" ");
    let mut x_ticks = Vec::new();
    let mut at_risk = Vec::new();
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
        at_risk.push(Tick {
            at: format!("{:.1}", x(t)),
            label: at_risk_at(steps, t).to_string(),
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
        at_risk,
        id,
        title: title.to_owned(),
        event,
        line,
        band,
        x_ticks,
        y_ticks,
        estimates,
        summary,
        axis_label: axis_label.to_owned(),
    }
}

/// The points of a step curve as drawn: a registry's curve has a step on
/// most days, thousands in a chart 570 pixels wide; within each pixel
/// column only the first and the last point show, so only they are kept
/// (the curve is drawn exactly as before, in a page a fraction the size).
fn in_pixels(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let column = |x: f64| x.round() as i64;
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(2400));
    let mut run_start = 0;
    for p in points {
        match out.last() {
            Some(&last) if column(last.0) == column(p.0) && out.len() - run_start >= 2 => {
                // Replace the run's last point: keep its first and newest.
                *out.last_mut().expect("not empty") = p;
            }
            Some(&last) if column(last.0) == column(p.0) => out.push(p),
            _ => {
                run_start = out.len();
                out.push(p);
            }
        }
    }
    out
}

fn svg_point((x, y): (f64, f64)) -> String {
    format!("{x:.1},{y:.1}")
}

/// A Kaplan–Meier chart.
fn survival_chart(id: &'static str, title: &str, endpoint: &SurvivalEndpoint) -> Chart {
    let steps: Vec<Step> = endpoint
        .rows
        .iter()
        .map(|r| Step {
            t_days: r.t_days,
            value: r.survival,
            lower: r.ci_lower,
            upper: r.ci_upper,
            at_risk: r.at_risk,
            leaving: r.events + r.censored,
        })
        .collect();
    step_chart(
        id,
        title,
        endpoint.event.clone(),
        1.0,
        &steps,
        endpoint
            .estimates
            .iter()
            .map(|e| Estimate {
                label: e.label.clone(),
                value: with_ci(Some(e.survival), e.ci_lower, e.ci_upper),
                at_risk: e.at_risk,
            })
            .collect(),
        format!(
            "{} index procedures, {} events, {} censored; median {}",
            endpoint.n,
            endpoint.events,
            endpoint.censored,
            endpoint
                .median_days
                .map(|d| format!("{d:.0} days"))
                .unwrap_or_else(|| "not reached".into())
        ),
        "Estimate",
    )
}

/// The Aalen–Johansen chart of a competing-risk endpoint.
fn incidence_chart(id: &'static str, title: &str, endpoint: &CompetingRiskEndpoint) -> Chart {
    let steps: Vec<Step> = endpoint
        .rows
        .iter()
        .map(|r| Step {
            t_days: r.t_days,
            value: r.cumulative_incidence,
            lower: r.ci_lower,
            upper: r.ci_upper,
            at_risk: r.at_risk,
            leaving: r.events + r.competing_events + r.censored,
        })
        .collect();
    step_chart(
        id,
        title,
        format!("{}; competing: {}", endpoint.event, endpoint.competing),
        0.0,
        &steps,
        endpoint
            .estimates
            .iter()
            .map(|e| Estimate {
                label: e.label.clone(),
                value: with_ci(Some(e.cumulative_incidence), e.ci_lower, e.ci_upper),
                at_risk: e.at_risk,
            })
            .collect(),
        format!(
            "{} index procedures, {} events, {} competing events, {} censored. {}",
            endpoint.n,
            endpoint.events,
            endpoint.competing_events,
            endpoint.censored,
            endpoint.why_competing_risks
        ),
        "Cumulative incidence",
    )
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
struct DashboardPage<'a> {
    nav: Nav,
    scope: String,
    site: String,
    sites: Vec<String>,
    data_version: &'a str,
    as_of: &'a str,
    /// The research form (DOMAIN.md section 11): say what it counts.
    research: bool,
    /// Why a research cohort was refused, in place of the figures.
    refusal: Option<String>,
    /// The rendered [`DashboardBody`].
    body: &'a str,
}

/// Everything of the dashboard that comes from the report alone.
#[derive(Template)]
#[template(path = "dashboard_body.html")]
struct DashboardBody {
    counts: Vec<Line>,
    charts: Vec<Chart>,
    funnels: Vec<FunnelChart>,
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

/// A 30-day proportion's limbs of unknown status, shown beside it
/// (DOMAIN.md section 7); nothing for other proportions.
fn status_unknown(p: &ProportionEndpoint) -> String {
    p.status_unknown
        .map(|u| format!("; status unknown at 30 days: {u}"))
        .unwrap_or_default()
}

/// The dashboard's report-dependent part, with the funnel units named as
/// `names` allows.
fn body_of(report: &OutcomesReport, names: &FunnelNames) -> DashboardBody {
    let c = &report.cohort;
    let mut funnels = report.monitoring.funnels.clone();
    names.apply(&mut funnels);
    let ae = &report.adverse_events_30_day;
    DashboardBody {
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
            survival_chart(
                "afs",
                "Amputation-free survival",
                &report.amputation_free_survival,
            ),
            survival_chart("os", "Overall survival", &report.overall_survival),
            incidence_chart(
                "cif",
                "Cumulative incidence of major amputation (death competing)",
                &report.cumulative_incidence_major_amputation,
            ),
        ],
        funnels: funnels.iter().filter_map(funnel_chart).collect(),
        adverse_events: ae
            .by_kind
            .iter()
            .map(|k| Line {
                label: k.label.clone(),
                value: format!(
                    "{} of {}: {}{}",
                    k.proportion.k,
                    k.proportion.n,
                    with_ci(
                        k.proportion.estimate,
                        k.proportion.ci_lower,
                        k.proportion.ci_upper
                    ),
                    status_unknown(&k.proportion)
                ),
            })
            .collect(),
        thirty_day: [
            ("Death within 30 days", &report.mortality_30_day),
            (
                "Major amputation within 30 days",
                &report.major_amputation_30_day,
            ),
        ]
        .into_iter()
        .map(|(label, p)| Line {
            label: label.into(),
            value: format!(
                "{} of {}: {}{}",
                p.k,
                p.n,
                with_ci(p.estimate, p.ci_lower, p.ci_upper),
                status_unknown(p)
            ),
        })
        .collect(),
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
    let filter = Filter {
        site: caller.site.as_ref().map(ToString::to_string),
        operator: None,
        from: None,
        to: None,
    };
    let mut refusal = None;
    let research = caller.audience() == pdva_outcomes::Audience::Research;
    let kept = match crate::outcomes::report(&state, &caller, filter, today(), today()).await {
        Ok(kept) => Some(kept),
        // A research cohort under the minimum is not an error of the page:
        // the page says why there are no figures.
        Err(WebError::Outcomes(
            e @ pdva_outcomes::OutcomesError::ResearchCohortTooSmall { .. },
        )) => {
            refusal = Some(e.to_string());
            None
        }
        Err(e) => return Err(e),
    };
    let body: Arc<str> = match &kept {
        Some(kept) => {
            let names = FunnelNames::of(&state, &caller).await?;
            kept.dashboard_html(&names, |report, names| Ok(body_of(report, names).render()?))?
        }
        None => "".into(),
    };
    let as_of = today().to_string();
    let (data_version, as_of) = match &kept {
        Some(kept) => (
            kept.report.data_version.as_str(),
            kept.report.as_of.as_str(),
        ),
        None => ("—", as_of.as_str()),
    };
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
    let page = DashboardPage {
        nav: Nav::of(&caller),
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
        data_version,
        as_of,
        research,
        refusal,
        body: &body,
    };
    Ok(Html(page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dense_step_curve_keeps_the_first_and_last_point_of_each_column() {
        // A survival curve falling a little on each of 3,000 days, drawn 570
        // pixels wide.
        let points: Vec<(f64, f64)> = (0..3000)
            .flat_map(|d| {
                let x = LEFT + d as f64 / 3000.0 * 570.0;
                [(x, d as f64), (x, d as f64 + 1.0)]
            })
            .collect();
        let kept = in_pixels(points.clone());
        assert!(kept.len() <= 2 * 572, "{} points kept", kept.len());
        assert_eq!(kept.first(), points.first());
        assert_eq!(kept.last(), points.last());
        // Every point kept is a point of the curve, in order.
        let mut rest = points.iter();
        for k in &kept {
            assert!(rest.any(|p| p == k), "{k:?} is not on the curve");
        }
        // In each column, the first and the last point are kept.
        let column = |x: f64| x.round() as i64;
        for w in points.windows(2) {
            if column(w[0].0) != column(w[1].0) {
                assert!(kept.contains(&w[0]) && kept.contains(&w[1]));
            }
        }
    }

    #[test]
    fn numbers_at_risk_are_read_from_the_risk_set_at_each_time() {
        let step = |t_days, at_risk, leaving| Step {
            t_days,
            value: 1.0,
            lower: None,
            upper: None,
            at_risk,
            leaving,
        };
        let steps = [step(10.0, 100, 5), step(400.0, 60, 10), step(800.0, 20, 3)];
        assert_eq!(at_risk_at(&steps, 0.0), 100);
        assert_eq!(at_risk_at(&steps, 365.0), 60);
        assert_eq!(at_risk_at(&steps, 400.0), 60);
        assert_eq!(at_risk_at(&steps, 730.0), 20);
        assert_eq!(at_risk_at(&steps, 1095.0), 17);
        assert_eq!(at_risk_at(&[], 0.0), 0);
    }

    /// DOMAIN.md section 7: the number at risk at day t is the same in the
    /// estimates table, the curve's row of day t and the chart's axis.
    #[test]
    fn the_axis_shows_the_estimates_numbers_at_risk() {
        use pdva_outcomes::{ReportRequest, ResolvedFilter, build_report};
        let today = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let mut generator = pdva_synth::Generator::new(pdva_synth::GeneratorConfig {
            patients: 1500,
            seed: 11,
            today,
        });
        let reference = generator.reference_data();
        let mut files = Vec::new();
        while let Some(batch) = generator.next_batch(500) {
            files.extend(batch.files);
        }
        let request = ReportRequest {
            as_of: today,
            filter: ResolvedFilter::default(),
            data_version: "t".into(),
        };
        let report = build_report(&files, &reference, &request).unwrap();
        let mut compared = 0;
        for (chart, estimates) in [
            (
                survival_chart("afs", "AFS", &report.amputation_free_survival),
                report
                    .amputation_free_survival
                    .estimates
                    .iter()
                    .map(|e| (e.t_days, e.at_risk))
                    .collect::<Vec<_>>(),
            ),
            (
                incidence_chart("cif", "CIF", &report.cumulative_incidence_major_amputation),
                report
                    .cumulative_incidence_major_amputation
                    .estimates
                    .iter()
                    .map(|e| (e.t_days, e.at_risk))
                    .collect(),
            ),
        ] {
            // The axis is labelled every 365 days from day 0.
            for (year, tick) in chart.at_risk.iter().enumerate() {
                let t = 365.0 * year as f64;
                if let Some((_, at_risk)) = estimates.iter().find(|(d, _)| *d == t) {
                    assert_eq!(tick.label, at_risk.to_string(), "{} at day {t}", chart.id);
                    compared += 1;
                }
            }
            // The estimates table shows the same numbers.
            for (e, (_, at_risk)) in chart.estimates.iter().zip(&estimates) {
                assert_eq!(e.at_risk, *at_risk);
            }
        }
        assert!(compared >= 4, "{compared} axis numbers compared");
    }

    #[test]
    fn a_sparse_curve_is_kept_whole() {
        let points = vec![(56.0, 12.0), (100.0, 12.0), (100.0, 40.0), (200.0, 40.0)];
        assert_eq!(in_pixels(points.clone()), points);
    }
}
