//! The HTML printer and the charts, on a hand-built report with every kind
//! of block.

mod sample;

use pdva_reports::document::{Block, Chart};
use pdva_reports::{chart, html};

/// Text as askama's HTML escaper writes it.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[test]
fn the_page_prints_every_section_and_every_cell() {
    let report = sample::report();
    let page = html::render(&report).expect("the sample renders");
    // Kept for looking at (e.g. `chromium --headless --screenshot`).
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.html");
    std::fs::write(path, &page).expect("the page is written");

    assert!(page.starts_with("<!DOCTYPE html>"));
    for section in &report.sections {
        assert!(page.contains(&escaped(&section.title)), "{}", section.title);
    }
    for text in sample::cell_texts(&report) {
        assert!(
            page.contains(&format!(">{}</td>", escaped(&text))),
            "cell {text:?} missing"
        );
    }
    for line in &report.summary {
        assert!(page.contains(&escaped(line)));
    }
    // The stamp.
    assert!(page.contains(&escaped(&report.stamp.period())));
    assert!(page.contains(&escaped(&report.stamp.filters_line())));
    assert!(page.contains(sample::DATA_VERSION));
    assert!(page.contains(&escaped(report.stamp.audience.marking())));
    // The research-style counts.
    assert!(page.contains(">&#60;5</td>"));
    assert!(page.contains(">suppressed</td>"));
    // Numbers right-aligned.
    assert!(page.contains("<td class=\"num\">44</td>"));
    // Findings in words, not colour alone.
    assert!(page.contains(">Met</span>"));
    assert!(page.contains(">Not met</span>"));
    assert!(page.contains("and 1 more"));
    assert!(page.contains("and 9 more"));
}

#[test]
fn the_page_stands_alone() {
    let page = html::render(&sample::report()).expect("the sample renders");
    let lower = page.to_lowercase();
    assert!(
        !lower.contains("<script"),
        "no script, and a cell's <script> is escaped"
    );
    assert!(!lower.contains("<link"));
    assert!(!lower.contains("src="));
    assert!(!lower.contains("http://") || only_svg_namespaces(&lower));
    assert!(!lower.contains("https://"));
    assert!(lower.contains("<style>"));
    // One inline SVG per chart.
    let charts = sample::report()
        .sections
        .iter()
        .flat_map(|s| &s.blocks)
        .filter(|b| matches!(b, Block::Chart(_)))
        .count();
    assert_eq!(lower.matches("<svg ").count(), charts);
}

fn only_svg_namespaces(page: &str) -> bool {
    page.matches("http://").count() == page.matches("http://www.w3.org/2000/svg").count()
}

#[test]
fn every_chart_is_a_self_contained_svg_with_escaped_labels() {
    let mut report = sample::report();
    for section in &mut report.sections {
        for block in &mut section.blocks {
            if let Block::Chart(c) = block {
                match c {
                    Chart::Survival(s) | Chart::CumulativeIncidence(s) => {
                        s.title = sample::AWKWARD.into();
                        s.curves[0].label = sample::AWKWARD.into();
                    }
                    Chart::Funnel(f) => {
                        f.title = sample::AWKWARD.into();
                        for u in f.units.iter_mut().filter(|u| u.highlighted) {
                            u.label = Some(sample::AWKWARD.into());
                        }
                    }
                    Chart::Cusum(c) => c.title = sample::AWKWARD.into(),
                    Chart::ByYear(y) => {
                        y.title = sample::AWKWARD.into();
                        y.y_label = sample::AWKWARD.into();
                    }
                }
                let svg = chart::svg(c).expect("the chart draws");
                assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
                assert!(svg.trim_end().ends_with("</svg>"));
                assert!(!svg.contains("<b>"), "labels are escaped");
                assert!(svg.contains(&escaped(sample::AWKWARD)));
                assert!(svg.contains("Libertinus Serif"));
                assert!(!svg.contains("NaN") && !svg.contains("\"inf"));
            }
        }
    }
}

#[test]
fn step_charts_print_the_numbers_at_risk() {
    let report = sample::report();
    let Some(Block::Chart(c @ Chart::Survival(s))) = report.sections[1].blocks.first() else {
        panic!("the sample's survival section starts with its chart");
    };
    let svg = chart::svg(c).expect("the chart draws");
    for curve in &s.curves {
        for n in &curve.at_risk {
            let text = pdva_reports::document::count_text(*n);
            assert!(
                svg.contains(&format!(">{}</text>", escaped(&text))),
                "{text}"
            );
        }
    }
    assert!(svg.contains(">Number at risk</text>"));
    for tick in ["0", "182", "365", "730"] {
        assert!(svg.contains(&format!(">{tick}</text>")), "tick {tick}");
    }
    assert!(svg.contains(">100%</text>"));
}

#[test]
fn funnel_units_are_not_named_but_the_one_the_report_is_about() {
    let report = sample::report();
    let Some(Block::Chart(c @ Chart::Funnel(_))) = report.sections[2].blocks.first() else {
        panic!("the sample's monitoring section starts with its funnel");
    };
    let svg = chart::svg(c).expect("the chart draws");
    assert_eq!(
        svg.matches("Northern Vascular Centre").count(),
        2,
        "label and legend"
    );
    assert_eq!(
        svg.matches("r=\"3\"").count(),
        10 + 1,
        "ten units and the legend"
    );
    assert!(
        svg.contains("stroke-dasharray=\"5 3\""),
        "95% limits dashed"
    );
}
