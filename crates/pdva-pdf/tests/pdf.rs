//! The PDF printer, read back with poppler's `pdftotext` (CI installs
//! poppler-utils).

#[path = "../../pdva-reports/tests/sample/mod.rs"]
mod sample;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes the sample's PDF under the test's temporary directory (so that
/// it can be looked at: `pdftoppm -png -r 60 target/tmp/report.pdf ...`).
/// Prints the sample to a file of the calling test's own: the tests run in
/// parallel, and one shared file let a test read another's half-written PDF.
fn sample_pdf(test: &str) -> PathBuf {
    let bytes = pdva_pdf::render(&sample::report()).expect("the sample prints");
    assert!(bytes.starts_with(b"%PDF-"));
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{test}.pdf"));
    std::fs::write(&path, bytes).expect("the PDF is written");
    path
}

fn pdftotext(path: &Path, args: &[&str]) -> String {
    let out = Command::new("pdftotext")
        .args(args)
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext runs (apt-get install poppler-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("pdftotext writes UTF-8")
}

/// Whitespace (line breaks of wrapped text included) as single spaces.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pages(path: &Path) -> usize {
    let out = Command::new("pdfinfo")
        .arg(path)
        .output()
        .expect("pdfinfo runs (apt-get install poppler-utils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo gives the number of pages")
}

#[test]
fn the_pdf_prints_every_section_cell_and_the_stamp() {
    let report = sample::report();
    let path = sample_pdf("the_pdf_prints_every_section_cell_and_the_stamp");
    let layout = pdftotext(&path, &["-layout"]);
    let text = words(&pdftotext(&path, &[]));

    for section in &report.sections {
        assert!(text.contains(&section.title), "section {:?}", section.title);
    }
    for cell in sample::cell_texts(&report) {
        assert!(layout.contains(&cell), "cell {cell:?} missing");
    }
    for line in &report.summary {
        assert!(text.contains(&words(line)), "summary {line:?}");
    }
    assert!(layout.contains("<5"));
    assert!(layout.contains("suppressed"));
    assert!(
        text.contains(sample::DATA_VERSION),
        "the full data version on the title page"
    );
    assert!(layout.contains("page 1 of"));
    assert!(text.contains("NOT MET") && text.contains("MET"));
    assert!(text.contains("and 1 more") && text.contains("and 9 more"));
    // Chart labels are text in the PDF (vector, not pictures).
    assert!(text.contains("Number at risk"));
    assert!(text.contains("Northern Vascular Centre"));
}

#[test]
fn every_page_carries_the_stamp() {
    let report = sample::report();
    let path = sample_pdf("every_page_carries_the_stamp");
    let n = pages(&path);
    assert!(n >= 4, "a title page and the sections: {n} pages");
    let stamp = &report.stamp;
    for page in 1..=n {
        let p = page.to_string();
        let text = words(&pdftotext(&path, &["-f", &p, "-l", &p]));
        for needed in [
            stamp.period(),
            format!("filters: {}", stamp.filters_line()),
            stamp.generated_at.clone(),
            stamp.software.clone(),
            stamp.data_version_short().to_owned(),
            words(stamp.audience.marking()),
            format!("page {page} of {n}"),
        ] {
            assert!(
                text.contains(&needed),
                "page {page} lacks {needed:?}:\n{text}"
            );
        }
    }
}

#[test]
fn the_title_page_names_the_report() {
    let report = sample::report();
    let path = sample_pdf("the_title_page_names_the_report");
    let text = words(&pdftotext(&path, &["-f", "1", "-l", "1"]));
    for needed in [&report.title, &report.subject, &report.stamp.generated_by] {
        assert!(text.contains(needed.as_str()), "{needed:?}");
    }
    assert!(text.contains("Summary") && text.contains("Contents"));
}

/// Prints how long a report of about 20 pages takes; run by hand:
/// `cargo test -p pdva-pdf --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_a_long_report() {
    let report = sample::long_report();
    pdva_pdf::render(&sample::report()).expect("warm-up");
    let start = std::time::Instant::now();
    let bytes = pdva_pdf::render(&report).expect("the long report prints");
    let elapsed = start.elapsed();
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("long-report.pdf");
    std::fs::write(&path, &bytes).expect("the PDF is written");
    println!(
        "{} pages, {} bytes in {elapsed:?}",
        pages(&path),
        bytes.len()
    );
}
