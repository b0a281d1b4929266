//! Charts as SVG, for the HTML report (inline) and the PDF (as vector
//! images).
//!
//! Every coordinate is computed here, by scale functions from the data's
//! units (days, proportions, cases) to the drawing's; the templates in
//! `templates/*.svg` draw what they are given, and askama escapes every
//! label. The drawings read in greyscale: curves differ by dash pattern,
//! bands are a light grey fill, the 95% limits are dashed and the 99.8%
//! limits solid, and the one named funnel unit is a large filled marker.
//! Text uses Libertinus Serif, the serif typst embeds, so that the PDF and
//! the page set charts in the same face as the text.

use askama::Template;

use crate::document::{
    Chart, CusumChart, FunnelChart, StepChart, YearChart, count_text, fixed, percent,
};

/// Width of every chart, in SVG units. At 520 units a chart fills the text
/// width of an A4 page at about 93%, so 10-unit text prints near 9.5 pt.
const WIDTH: f64 = 520.0;
/// Left margin: room for the y tick labels and, under a step chart, the
/// names of the rows of numbers at risk.
const LEFT: f64 = 92.0;
/// Right margin.
const RIGHT: f64 = 18.0;
/// Height of the plotting area.
const PLOT_HEIGHT: f64 = 210.0;
/// Baseline of the title.
const TITLE_Y: f64 = 16.0;
/// Height of one legend row.
const LEGEND_ROW: f64 = 15.0;
/// Height of one row of numbers at risk.
const AT_RISK_ROW: f64 = 13.0;
/// Days of the x ticks of a step chart (then every further year).
const DAY_TICKS: [f64; 5] = [0.0, 30.0, 182.0, 365.0, 730.0];
/// The closest two tick labels may be, in SVG units, before the later is
/// left unlabelled (its tick mark stays).
const MIN_LABEL_GAP: f64 = 20.0;
/// Dash patterns of the curves, in order: solid, dashed, dotted, dash-dot.
/// A fifth curve starts again with markers added (see `Curve::marker`).
const DASHES: [&str; 4] = ["", "6 3", "1.5 2.5", "8 3 1.5 3"];

/// The chart as a self-contained SVG document (it needs no stylesheet and
/// no font beyond a serif).
pub fn svg(chart: &Chart) -> crate::Result<String> {
    let rendered = match chart {
        Chart::Survival(c) | Chart::CumulativeIncidence(c) => step_view(c).render(),
        Chart::Funnel(c) => funnel_view(c).render(),
        Chart::Cusum(c) => cusum_view(c).render(),
        Chart::ByYear(c) => year_view(c).render(),
    };
    rendered.map_err(|e| crate::ReportsError::Render(e.to_string()))
}

/// The chart's title, for a caption or an accessible name.
pub fn title(chart: &Chart) -> &str {
    match chart {
        Chart::Survival(c) | Chart::CumulativeIncidence(c) => &c.title,
        Chart::Funnel(c) => &c.title,
        Chart::Cusum(c) => &c.title,
        Chart::ByYear(c) => &c.title,
    }
}

/// Rounds a coordinate to a tenth of a unit: finer is invisible, and the
/// SVG stays small.
fn r(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A linear map from data units to drawing units.
#[derive(Debug, Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
}

impl Scale {
    fn new((d0, d1): (f64, f64), (p0, p1): (f64, f64)) -> Self {
        // A degenerate domain (one value) maps to the start of the range
        // rather than dividing by zero.
        let d1 = if d1 > d0 { d1 } else { d0 + 1.0 };
        Scale { d0, d1, p0, p1 }
    }

    fn at(&self, v: f64) -> f64 {
        r(self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0))
    }
}

/// A tick on an axis: where, and its label (empty when it would crowd its
/// neighbour).
#[derive(Debug)]
struct Tick {
    pos: f64,
    label: String,
}

/// The frame shared by every chart: plotting area, ticks, axis titles.
#[derive(Debug)]
struct Frame {
    height: f64,
    title: String,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
    x_label: String,
    x_label_y: f64,
    y_label: String,
    y_label_mid: f64,
    legend: Vec<LegendEntry>,
}

impl Frame {
    fn x_mid(&self) -> f64 {
        r((self.left + self.right) / 2.0)
    }
}

/// What a legend entry shows beside its label.
#[derive(Debug)]
enum Key {
    /// A line sample in a dash pattern, of a stroke width and grey.
    Line {
        dash: &'static str,
        width: f64,
        grey: &'static str,
    },
    /// A grey swatch (a confidence band).
    Band,
    /// A small hollow circle (an unnamed unit).
    Hollow,
    /// A large filled circle (the unit the report is about).
    Filled,
    /// A filled triangle (a CUSUM signal).
    Triangle,
}

/// One legend entry, placed.
#[derive(Debug)]
struct LegendEntry {
    x: f64,
    y: f64,
    key: Key,
    label: String,
}

/// Lays legend entries out in rows from the top left, wrapping at the
/// chart's width; returns the entries and the number of rows.
fn legend(entries: Vec<(Key, String)>, top: f64) -> (Vec<LegendEntry>, usize) {
    let mut placed = Vec::with_capacity(entries.len());
    let mut x = LEFT;
    let mut row = 0;
    for (key, label) in entries {
        // About 5.2 units a character at 10 units; the key takes 28.
        let width = 28.0 + 5.2 * label.chars().count() as f64 + 16.0;
        if x > LEFT && x + width > WIDTH - RIGHT {
            row += 1;
            x = LEFT;
        }
        placed.push(LegendEntry {
            x: r(x),
            y: r(top + row as f64 * LEGEND_ROW),
            key,
            label,
        });
        x += width;
    }
    let rows = if placed.is_empty() { 0 } else { row + 1 };
    (placed, rows)
}

/// Ticks at `values`, labelled by `label`, leaving a label out when it
/// would sit closer than `MIN_LABEL_GAP` to the previous labelled tick.
fn ticks(values: &[f64], scale: Scale, label: impl Fn(f64) -> String) -> Vec<Tick> {
    let mut last: Option<f64> = None;
    values
        .iter()
        .map(|&v| {
            let pos = scale.at(v);
            let crowded = last.is_some_and(|l| (pos - l).abs() < MIN_LABEL_GAP);
            if !crowded {
                last = Some(pos);
            }
            Tick {
                pos,
                label: if crowded { String::new() } else { label(v) },
            }
        })
        .collect()
}

/// A tick label in percent (`25%`): proportions on an axis, in whole
/// percent when the step allows.
fn percent_tick(v: f64, decimals: u8) -> String {
    format!("{}%", fixed(v * 100.0, decimals))
}

/// A round step for an axis from 0 to `top` with about five intervals.
fn nice_step(top: f64) -> f64 {
    if !top.is_finite() || top <= 0.0 {
        return 1.0;
    }
    let raw = top / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let unit = raw / magnitude;
    let nice = if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 2.5 {
        2.5
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// The values 0, step, 2·step, ... up to `top` (which a caller has rounded
/// up to a multiple of `step`).
fn multiples(from: f64, top: f64, step: f64) -> Vec<f64> {
    let n = ((top - from) / step).round().max(0.0) as usize;
    (0..=n).map(|i| from + i as f64 * step).collect()
}

/// One drawn curve of a step chart.
#[derive(Debug)]
struct CurveView {
    /// The step path (`d` attribute).
    path: String,
    /// The band's outlines (`d` attributes), one for each stretch of
    /// steps with both limits defined.
    bands: Vec<String>,
    dash: &'static str,
    /// Markers placed along the curve when dash patterns run out.
    markers: Vec<(f64, f64)>,
}

/// One row of numbers at risk under a step chart.
#[derive(Debug)]
struct AtRiskRow {
    /// Where the curve's name is written.
    label_y: f64,
    /// Where its numbers are written.
    y: f64,
    label: String,
    cells: Vec<Tick>,
}

#[derive(Template)]
#[template(path = "step_chart.svg")]
struct StepView {
    frame: Frame,
    curves: Vec<CurveView>,
    at_risk_title_y: f64,
    at_risk: Vec<AtRiskRow>,
}

fn step_view(chart: &StepChart) -> StepView {
    let x_max = if chart.x_max_days > 0.0 {
        chart.x_max_days
    } else {
        365.0
    };
    let mut entries: Vec<(Key, String)> = chart
        .curves
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                Key::Line {
                    dash: DASHES[i % DASHES.len()],
                    width: 1.6,
                    grey: "#000",
                },
                c.label.clone(),
            )
        })
        .collect();
    if chart.curves.iter().any(|c| {
        c.steps
            .iter()
            .any(|s| s.lower.is_some() && s.upper.is_some())
    }) {
        entries.push((Key::Band, "95% confidence band".into()));
    }
    let (legend, rows) = legend(entries, TITLE_Y + 18.0);
    let top = TITLE_Y + 18.0 + rows as f64 * LEGEND_ROW + 4.0;
    let bottom = top + PLOT_HEIGHT;
    let x = Scale::new((0.0, x_max), (LEFT, WIDTH - RIGHT));
    let y = Scale::new((0.0, 1.0), (bottom, top));

    let mut days: Vec<f64> = DAY_TICKS.iter().copied().filter(|&d| d <= x_max).collect();
    let mut year = 3.0 * 365.0;
    while year <= x_max {
        days.push(year);
        year += 365.0;
    }
    let x_ticks = ticks(&days, x, |d| fixed(d, 0));
    let y_ticks = ticks(&multiples(0.0, 1.0, 0.2), y, |v| percent_tick(v, 0));

    let curves = chart
        .curves
        .iter()
        .enumerate()
        .map(|(i, c)| curve_view(c, i, x_max, x, y))
        .collect();

    let x_label_y = bottom + 30.0;
    let at_risk_title_y = x_label_y + 20.0;
    let at_risk: Vec<AtRiskRow> = if chart.at_risk_days.is_empty() {
        Vec::new()
    } else {
        chart
            .curves
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // The curve's name on a line of its own, its numbers under
                // it: a long name would run into the first numbers.
                let label_y = at_risk_title_y + (2 * i + 1) as f64 * AT_RISK_ROW;
                let cells: Vec<Tick> = chart
                    .at_risk_days
                    .iter()
                    .zip(&c.at_risk)
                    .filter(|(d, _)| **d <= x_max)
                    .map(|(d, n)| Tick {
                        pos: x.at(*d),
                        label: count_text(*n),
                    })
                    .collect();
                AtRiskRow {
                    label_y: r(label_y),
                    y: r(label_y + AT_RISK_ROW),
                    label: c.label.clone(),
                    cells,
                }
            })
            .collect()
    };
    let height = match at_risk.last() {
        Some(row) => row.y + 8.0,
        None => x_label_y + 10.0,
    };
    StepView {
        frame: Frame {
            height: r(height),
            title: chart.title.clone(),
            left: LEFT,
            right: WIDTH - RIGHT,
            top: r(top),
            bottom: r(bottom),
            x_ticks,
            y_ticks,
            x_label: "Days since the index procedure".into(),
            x_label_y: r(x_label_y),
            y_label: chart.y_label.clone(),
            y_label_mid: r((top + bottom) / 2.0),
            legend,
        },
        curves,
        at_risk_title_y: r(at_risk_title_y),
        at_risk,
    }
}

/// Draws one curve: its steps up to `x_max`, and its band where both
/// limits are known.
fn curve_view(
    curve: &crate::document::Curve,
    index: usize,
    x_max: f64,
    x: Scale,
    y: Scale,
) -> CurveView {
    let steps: Vec<_> = curve
        .steps
        .iter()
        .filter(|s| s.t_days <= x_max && s.value.is_finite())
        .collect();
    let mut path = String::new();
    for (k, s) in steps.iter().enumerate() {
        let (px, py) = (x.at(s.t_days), y.at(s.value.clamp(0.0, 1.0)));
        if k == 0 {
            path.push_str(&format!("M{px} {py}"));
        } else {
            // Horizontal to the new day at the old value, then vertical.
            path.push_str(&format!(" H{px} V{py}"));
        }
    }

    // The band of step k holds from its day to the next step's day (the
    // last one to its own day: the curve ends there).
    let mut bands = Vec::new();
    let mut run: Vec<(f64, f64, f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64, f64, f64)>, bands: &mut Vec<String>| {
        if !run.is_empty() {
            let mut d = String::new();
            for (k, (x0, x1, _, hi)) in run.iter().enumerate() {
                let cmd = if k == 0 { "M" } else { "L" };
                d.push_str(&format!("{cmd}{x0} {hi} L{x1} {hi} "));
            }
            for (x0, x1, lo, _) in run.iter().rev() {
                d.push_str(&format!("L{x1} {lo} L{x0} {lo} "));
            }
            d.push('Z');
            bands.push(d);
        }
        run.clear();
    };
    for (k, s) in steps.iter().enumerate() {
        let end = steps.get(k + 1).map_or(s.t_days, |n| n.t_days);
        match (s.lower, s.upper) {
            (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => run.push((
                x.at(s.t_days),
                x.at(end),
                y.at(lo.clamp(0.0, 1.0)),
                y.at(hi.clamp(0.0, 1.0)),
            )),
            _ => flush(&mut run, &mut bands),
        }
    }
    flush(&mut run, &mut bands);

    // After four dash patterns, curves also carry a marker every tenth of
    // the axis, so that a fifth curve is still told apart.
    let markers = if index >= DASHES.len() {
        let mut at = Vec::new();
        let mut next = 0.0;
        for (k, s) in steps.iter().enumerate() {
            let end = steps.get(k + 1).map_or(s.t_days, |n| n.t_days);
            while next <= end && next <= x_max {
                if next >= s.t_days {
                    at.push((x.at(next), y.at(s.value.clamp(0.0, 1.0))));
                }
                next += x_max / 10.0;
            }
        }
        at
    } else {
        Vec::new()
    };

    CurveView {
        path,
        bands,
        dash: DASHES[index % DASHES.len()],
        markers,
    }
}

/// One unit on a funnel plot, placed.
#[derive(Debug)]
struct UnitView {
    x: f64,
    y: f64,
}

/// The named unit, placed with its label.
#[derive(Debug)]
struct HighlightView {
    x: f64,
    y: f64,
    label: String,
    label_x: f64,
    label_y: f64,
    anchor: &'static str,
}

#[derive(Template)]
#[template(path = "funnel.svg")]
struct FunnelView {
    frame: Frame,
    mean_y: f64,
    limits_95: Vec<String>,
    limits_998: Vec<String>,
    units: Vec<UnitView>,
    highlighted: Vec<HighlightView>,
}

fn funnel_view(chart: &FunnelChart) -> FunnelView {
    let mut entries = vec![
        (
            Key::Line {
                dash: "",
                width: 0.8,
                grey: "#555",
            },
            format!("{} mean {}", chart.comparator, percent(chart.mean)),
        ),
        (
            Key::Line {
                dash: "5 3",
                width: 1.1,
                grey: "#000",
            },
            "95% limits".into(),
        ),
        (
            Key::Line {
                dash: "",
                width: 1.1,
                grey: "#000",
            },
            "99.8% limits".into(),
        ),
    ];
    for u in chart.units.iter().filter(|u| u.highlighted) {
        entries.push((Key::Filled, u.label.clone().unwrap_or_default()));
    }
    if chart.units.iter().any(|u| !u.highlighted) {
        entries.push((Key::Hollow, "other units (not named)".into()));
    }
    let (legend, rows) = legend(entries, TITLE_Y + 18.0);
    let top = TITLE_Y + 18.0 + rows as f64 * LEGEND_ROW + 4.0;
    let bottom = top + PLOT_HEIGHT;

    let n_top = chart
        .units
        .iter()
        .map(|u| u.n as f64)
        .chain(chart.limits.iter().map(|l| l.n))
        .fold(1.0, f64::max);
    let x_step = nice_step(n_top);
    let x_top = (n_top / x_step).ceil() * x_step;
    let x = Scale::new((0.0, x_top), (LEFT, WIDTH - RIGHT));

    // The y axis reaches the highest unit and the limits from the smallest
    // unit's number of cases on (limits at a handful of cases would flatten
    // everything else), with headroom, never past 100%.
    let n_min = chart
        .units
        .iter()
        .map(|u| u.n as f64)
        .fold(f64::INFINITY, f64::min);
    let y_want = chart
        .units
        .iter()
        .map(|u| u.observed)
        .chain(
            chart
                .limits
                .iter()
                .filter(|l| l.n >= n_min.min(x_top / 10.0))
                .map(|l| l.upper_998),
        )
        .chain([chart.mean * 2.0, 0.05])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .min(1.0);
    let y_step = nice_step(y_want * 1.05);
    let y_top = ((y_want * 1.05 / y_step).ceil() * y_step).min(1.0);
    let y = Scale::new((0.0, y_top), (bottom, top));
    let y_decimals = if y_step * 100.0 >= 1.0 { 0 } else { 1 };

    let limit = |f: fn(&crate::document::FunnelLimitPoint) -> f64| {
        clipped(chart.limits.iter().map(|l| (l.n, f(l))), (0.0, y_top), x, y)
    };
    let mut limits_95 = limit(|l| l.lower_95);
    limits_95.extend(limit(|l| l.upper_95));
    let mut limits_998 = limit(|l| l.lower_998);
    limits_998.extend(limit(|l| l.upper_998));

    let place =
        |u: &crate::document::FunnelPoint| (x.at(u.n as f64), y.at(u.observed.clamp(0.0, y_top)));
    let units = chart
        .units
        .iter()
        .filter(|u| !u.highlighted)
        .map(|u| {
            let (px, py) = place(u);
            UnitView { x: px, y: py }
        })
        .collect();
    let highlighted = chart
        .units
        .iter()
        .filter(|u| u.highlighted)
        .map(|u| {
            let (px, py) = place(u);
            // The label sits to the right of the marker, or to its left
            // in the right third of the plot.
            let left_side = px > LEFT + (WIDTH - RIGHT - LEFT) * 2.0 / 3.0;
            HighlightView {
                x: px,
                y: py,
                label: u.label.clone().unwrap_or_default(),
                label_x: if left_side { px - 10.0 } else { px + 10.0 },
                label_y: r(if py < top + 12.0 { py + 14.0 } else { py - 8.0 }),
                anchor: if left_side { "end" } else { "start" },
            }
        })
        .collect();

    let x_label_y = bottom + 30.0;
    FunnelView {
        frame: Frame {
            height: r(x_label_y + 10.0),
            title: chart.title.clone(),
            left: LEFT,
            right: WIDTH - RIGHT,
            top: r(top),
            bottom: r(bottom),
            x_ticks: ticks(&multiples(0.0, x_top, x_step), x, |v| fixed(v, 0)),
            y_ticks: ticks(&multiples(0.0, y_top, y_step), y, |v| {
                percent_tick(v, y_decimals)
            }),
            x_label: "Number of cases".into(),
            x_label_y: r(x_label_y),
            y_label: format!("{} (%)", chart.indicator),
            y_label_mid: r((top + bottom) / 2.0),
            legend,
        },
        mean_y: y.at(chart.mean),
        limits_95,
        limits_998,
        units,
        highlighted,
    }
}

/// A polyline in data units, cut to the y range `(lo, hi)` (a limit curve
/// leaves the plot at small numbers of cases), as `points` attributes, one
/// per stretch inside the range.
fn clipped(
    points: impl Iterator<Item = (f64, f64)>,
    (lo, hi): (f64, f64),
    x: Scale,
    y: Scale,
) -> Vec<String> {
    let inside = |v: f64| v >= lo && v <= hi;
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    let mut prev: Option<(f64, f64)> = None;
    for (n, v) in points.filter(|(n, v)| n.is_finite() && v.is_finite()) {
        if let Some((pn, pv)) = prev
            && inside(pv) != inside(v)
        {
            // Where the segment crosses the edge it leaves or enters by.
            let edge = if inside(pv) {
                if v > hi { hi } else { lo }
            } else if pv > hi {
                hi
            } else {
                lo
            };
            let t = (edge - pv) / (v - pv);
            run.push((pn + t * (n - pn), edge));
            if inside(pv) {
                runs.push(std::mem::take(&mut run));
            }
        }
        if inside(v) {
            run.push((n, v));
        }
        prev = Some((n, v));
    }
    runs.push(run);
    runs.into_iter()
        .filter(|run| run.len() > 1)
        .map(|run| {
            run.iter()
                .map(|&(n, v)| format!("{},{}", x.at(n), y.at(v)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// A CUSUM signal, placed.
#[derive(Debug)]
struct SignalView {
    x: f64,
    y: f64,
}

#[derive(Template)]
#[template(path = "cusum.svg")]
struct CusumView {
    frame: Frame,
    line: String,
    zero_y: f64,
    threshold_y: f64,
    threshold_label: String,
    signals: Vec<SignalView>,
}

fn cusum_view(chart: &CusumChart) -> CusumView {
    let mut entries = vec![
        (
            Key::Line {
                dash: "",
                width: 1.4,
                grey: "#000",
            },
            "CUSUM after each case".into(),
        ),
        (
            Key::Line {
                dash: "5 3",
                width: 1.1,
                grey: "#000",
            },
            format!("signal threshold h = {}", fixed(chart.threshold, 2)),
        ),
    ];
    if chart.points.iter().any(|p| p.signal) {
        entries.push((Key::Triangle, "signal".into()));
    }
    let (legend, rows) = legend(entries, TITLE_Y + 18.0);
    let top = TITLE_Y + 18.0 + rows as f64 * LEGEND_ROW + 4.0;
    let bottom = top + PLOT_HEIGHT;

    let n_top = chart
        .points
        .iter()
        .map(|p| p.case as f64)
        .fold(1.0, f64::max);
    let x_step = nice_step(n_top);
    let x_top = (n_top / x_step).ceil() * x_step;
    let x = Scale::new((0.0, x_top), (LEFT, WIDTH - RIGHT));

    let finite = || {
        chart
            .points
            .iter()
            .map(|p| p.value)
            .filter(|v| v.is_finite())
    };
    let v_max = finite().chain([chart.threshold]).fold(0.0, f64::max) * 1.1;
    let v_min = finite().fold(0.0, f64::min);
    let y_step = nice_step(v_max - v_min);
    let y_bottom = (v_min / y_step).floor() * y_step;
    let y_top = (v_max / y_step).ceil() * y_step;
    let y = Scale::new((y_bottom, y_top), (bottom, top));
    let y_decimals = if y_step >= 1.0 {
        0
    } else if y_step >= 0.1 {
        1
    } else {
        2
    };

    // The CUSUM starts at 0 before the first case.
    let line = std::iter::once((0.0, 0.0))
        .chain(
            chart
                .points
                .iter()
                .filter(|p| p.value.is_finite())
                .map(|p| (p.case as f64, p.value)),
        )
        .map(|(c, v)| format!("{},{}", x.at(c), y.at(v)))
        .collect::<Vec<_>>()
        .join(" ");
    let signals = chart
        .points
        .iter()
        .filter(|p| p.signal && p.value.is_finite())
        .map(|p| SignalView {
            x: x.at(p.case as f64),
            y: y.at(p.value),
        })
        .collect();

    let x_label_y = bottom + 30.0;
    CusumView {
        frame: Frame {
            height: r(x_label_y + 10.0),
            title: chart.title.clone(),
            left: LEFT,
            right: WIDTH - RIGHT,
            top: r(top),
            bottom: r(bottom),
            x_ticks: ticks(&multiples(0.0, x_top, x_step), x, |v| fixed(v, 0)),
            y_ticks: ticks(&multiples(y_bottom, y_top, y_step), y, |v| {
                fixed(v, y_decimals)
            }),
            x_label: "Case number".into(),
            x_label_y: r(x_label_y),
            y_label: "CUSUM".into(),
            y_label_mid: r((top + bottom) / 2.0),
            legend,
        },
        line,
        zero_y: y.at(0.0),
        threshold_y: y.at(chart.threshold),
        threshold_label: format!("h = {}", fixed(chart.threshold, 2)),
        signals,
    }
}

/// One year drawn: where, its estimate and interval (if any), its cases.
#[derive(Debug)]
struct YearView {
    x: f64,
    y: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    cases: String,
}

#[derive(Template)]
#[template(path = "year_chart.svg")]
struct YearChartView {
    frame: Frame,
    years: Vec<YearView>,
    /// The estimates joined, year to year (`points` attribute).
    line: String,
    cases_y: f64,
}

fn year_view(chart: &YearChart) -> YearChartView {
    let entries = vec![
        (Key::Filled, format!("{} (95% CI)", chart.y_label)),
        (
            Key::Line {
                dash: "",
                width: 1.0,
                grey: "#000",
            },
            "95% confidence interval".into(),
        ),
    ];
    let (legend, rows) = legend(entries, TITLE_Y + 18.0);
    let top = TITLE_Y + 18.0 + rows as f64 * LEGEND_ROW + 4.0;
    let bottom = top + PLOT_HEIGHT;
    let first = chart.years.first().map_or(0, |y| y.year) as f64;
    let last = chart.years.last().map_or(0, |y| y.year) as f64;
    let x = Scale::new((first - 0.5, last + 0.5), (LEFT, WIDTH - RIGHT));
    let y = Scale::new((0.0, 1.0), (bottom, top));
    let years: Vec<YearView> = chart
        .years
        .iter()
        .map(|p| YearView {
            x: x.at(p.year as f64),
            y: p.estimate.map(|v| y.at(v)),
            lower: p.lower.map(|v| y.at(v)),
            upper: p.upper.map(|v| y.at(v)),
            cases: p.cases.map_or("–".into(), count_text),
        })
        .collect();
    let line = years
        .iter()
        .filter_map(|v| v.y.map(|y| format!("{},{}", v.x, y)))
        .collect::<Vec<_>>()
        .join(" ");
    let year_values: Vec<f64> = chart.years.iter().map(|p| p.year as f64).collect();
    let x_label_y = bottom + 30.0;
    let cases_y = x_label_y + 2.0 * AT_RISK_ROW;
    YearChartView {
        frame: Frame {
            height: r(cases_y + 8.0),
            title: chart.title.clone(),
            left: LEFT,
            right: WIDTH - RIGHT,
            top: r(top),
            bottom: r(bottom),
            x_ticks: ticks(&year_values, x, |v| fixed(v, 0)),
            y_ticks: ticks(&multiples(0.0, 1.0, 0.25), y, |v| percent_tick(v, 0)),
            x_label: "Calendar year of the index procedure".into(),
            x_label_y: r(x_label_y),
            y_label: chart.y_label.clone(),
            y_label_mid: r((top + bottom) / 2.0),
            legend,
        },
        years,
        line,
        cases_y: r(cases_y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_curve_is_cut_where_it_leaves_the_plot() {
        let x = Scale::new((0.0, 10.0), (0.0, 10.0));
        let y = Scale::new((0.0, 1.0), (0.0, 1.0));
        let runs = clipped(
            [(1.0, 2.0), (2.0, 0.5), (3.0, 0.4)].into_iter(),
            (0.0, 1.0),
            x,
            y,
        );
        // From (1, 2) to (2, 0.5) the curve enters at y = 1, a third of
        // the way along.
        assert_eq!(runs, vec!["1.7,1 2,0.5 3,0.4".to_string()]);
    }

    #[test]
    fn crowded_tick_labels_are_left_out() {
        let x = Scale::new((0.0, 1000.0), (0.0, 100.0));
        let t = ticks(&[0.0, 30.0, 500.0], x, |v| fixed(v, 0));
        assert_eq!(t[0].label, "0");
        assert_eq!(t[1].label, "");
        assert_eq!(t[2].label, "500");
    }

    #[test]
    fn a_year_chart_places_each_year_and_its_cases() {
        use crate::document::YearPoint;
        let point = |year, cases, estimate| YearPoint {
            year,
            cases: Some(pdva_outcomes::Count::Exact(cases)),
            estimate,
            lower: estimate.map(|e: f64| e - 0.1),
            upper: estimate.map(|e: f64| e + 0.1),
        };
        let view = year_view(&YearChart {
            title: "AFS by year".into(),
            y_label: "6-month AFS".into(),
            years: vec![
                point(2023, 12, Some(0.5)),
                point(2024, 30, None),
                point(2025, 7, Some(1.0)),
            ],
        });
        assert_eq!(view.years.len(), 3);
        assert!(view.years[0].x < view.years[1].x && view.years[1].x < view.years[2].x);
        assert_eq!(view.years[1].y, None);
        assert_eq!(view.years[2].y, Some(view.frame.top));
        assert_eq!(view.years[0].cases, "12");
        // The line joins only the years with an estimate.
        assert_eq!(view.line.split(' ').count(), 2);
        let svg = svg(&Chart::ByYear(YearChart {
            title: "AFS by year".into(),
            y_label: "6-month AFS".into(),
            years: vec![point(2025, 7, Some(0.8))],
        }))
        .unwrap();
        assert!(svg.contains(">2025<") && svg.contains(">7<"), "{svg}");
    }

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(100.0), 20.0);
        assert!((nice_step(0.3) - 0.1).abs() < 1e-12);
        assert_eq!(nice_step(12.0), 2.5);
    }
}
