//! The reports IPG773 names, read back from their PDFs: on a generated
//! registry, the clinician appraisal report, the governance review and the
//! research report are rendered to PDF, turned to text with poppler's
//! `pdftotext`, and every figure the test works out from the outcomes
//! engine's JSON for the same filters (formatted here, not by the
//! registry's printers) must be in the text; a report with one figure
//! changed must fail the same check. The research report must hold no
//! patient's identifiers or free text (checked against the database) and
//! count exactly the research population; the appraisal report names no
//! other clinician. The first pages of each PDF are kept as PNG artefacts
//! in `target/tmp/report-pngs/`.
//!
//! Needs poppler-utils (`pdftotext`, `pdftoppm`): CI installs it; without
//! it the test says so and passes, unless `PDVA_REQUIRE_PDF_TOOLS=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use pdva_domain::codes::ResearchConsent;
use pdva_domain::{ClinicalRecord, PatientFile};
use pdva_outcomes::{Audience, Filter};
use pdva_reports::Report;
use pdva_reports::document::{Block, Cell};
use pdva_reports::gather::{self, Generation, Period};
use pdva_store::Store;
use serde_json::Value;

const AS_OF: &str = "2026-06-30";

fn as_of() -> NaiveDate {
    AS_OF.parse().unwrap()
}

fn pdva(key_file: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pdva"))
        .args(args)
        .env("PDVA_KEY_FILE", key_file)
        .env_remove("PDVA_DB")
        .env_remove("PDVA_CONFIG")
        .env("PDVA_LOG", "warn")
        .output()
        .expect("pdva runs")
}

fn tools_present() -> bool {
    let present = Command::new("pdftotext").arg("-v").output().is_ok()
        && Command::new("pdftoppm").arg("-v").output().is_ok();
    if !present {
        assert!(
            std::env::var("PDVA_REQUIRE_PDF_TOOLS").as_deref() != Ok("1"),
            "pdftotext and pdftoppm (poppler-utils) are required"
        );
        eprintln!("skipped: pdftotext/pdftoppm not installed (apt-get install poppler-utils)");
    }
    present
}

/// The PDF's text, every run of whitespace removed (a cell may wrap).
fn pdf_text(pdf: &[u8], dir: &Path, name: &str) -> String {
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    assert!(out.status.success(), "pdftotext failed on {name}");
    String::from_utf8(out.stdout).unwrap()
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Keeps the first pages as PNG for a person to look at.
fn keep_pngs(pdf: &[u8], name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/report-pngs");
    std::fs::create_dir_all(&dir).unwrap();
    let pdf_path = dir.join(format!("{name}.pdf"));
    std::fs::write(&pdf_path, pdf).unwrap();
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "3"])
        .arg(&pdf_path)
        .arg(dir.join(name))
        .status()
        .expect("pdftoppm runs");
    assert!(status.success());
}

// ---- the expected figures, formatted here from the engine's JSON ----

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn pct_ci(v: &Value) -> Option<String> {
    let e = v.as_f64()?;
    Some(pct(e))
}

/// "61.2% (48.0–72.3)" from an estimate and its interval.
fn estimate_with_ci(value: &Value, lo: &Value, hi: &Value) -> Option<String> {
    let v = value.as_f64()?;
    Some(match (lo.as_f64(), hi.as_f64()) {
        (Some(l), Some(h)) => format!("{} ({:.1}–{:.1})", pct(v), l * 100.0, h * 100.0),
        _ => pct(v),
    })
}

fn count(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => panic!("not a count: {other}"),
    }
}

/// The figures of the engine's document that every report with outcome
/// sections prints: (where, text).
fn expected_figures(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut push = |at: String, text: Option<String>| {
        if let Some(t) = text {
            out.push((at, t));
        }
    };
    for name in [
        "technical_success",
        "mortality_30_day",
        "major_amputation_30_day",
    ] {
        let p = &doc[name];
        push(
            name.into(),
            estimate_with_ci(&p["estimate"], &p["ci_lower"], &p["ci_upper"]),
        );
    }
    let p = &doc["adverse_events_30_day"]["any"];
    push(
        "adverse_events_30_day.any".into(),
        estimate_with_ci(&p["estimate"], &p["ci_lower"], &p["ci_upper"]),
    );
    for endpoint in [
        "amputation_free_survival",
        "overall_survival",
        "freedom_from_major_amputation",
        "freedom_from_unplanned_reintervention",
        "freedom_from_male",
    ] {
        for e in doc[endpoint]["estimates"].as_array().unwrap() {
            let at = format!("{endpoint} at {}", e["t_days"]);
            push(
                at.clone(),
                estimate_with_ci(&e["survival"], &e["ci_lower"], &e["ci_upper"]),
            );
        }
    }
    for e in doc["cumulative_incidence_major_amputation"]["estimates"]
        .as_array()
        .unwrap()
    {
        push(
            format!("cumulative_incidence_major_amputation at {}", e["t_days"]),
            estimate_with_ci(&e["cumulative_incidence"], &e["ci_lower"], &e["ci_upper"]),
        );
        push(
            format!("one_minus_kaplan_meier at {}", e["t_days"]),
            pct_ci(&e["one_minus_kaplan_meier"]),
        );
    }
    for rate in [
        "planned_reintervention_rate",
        "unplanned_reintervention_rate",
    ] {
        let r = &doc[rate];
        if let Some(v) = r["rate"].as_f64() {
            let text = match (r["ci_lower"].as_f64(), r["ci_upper"].as_f64()) {
                (Some(l), Some(h)) => format!("{v:.1} ({l:.1}–{h:.1})"),
                _ => format!("{v:.1}"),
            };
            push(rate.into(), Some(text));
        }
        push(
            format!("{rate}.patient_years"),
            r["patient_years"].as_f64().map(|y| format!("{y:.1}")),
        );
    }
    let c = &doc["follow_up_completeness"]["overall"];
    push(
        "follow_up_completeness".into(),
        estimate_with_ci(&c["estimate"], &c["ci_lower"], &c["ci_upper"]),
    );
    for instrument in doc["quality_of_life"]["instruments"].as_array().unwrap() {
        let b = &instrument["baseline"];
        if let (Some(m), Some(a), Some(z)) =
            (b["median"].as_f64(), b["q1"].as_f64(), b["q3"].as_f64())
        {
            push(
                format!("{} baseline", instrument["instrument"]),
                Some(format!("{m:.2} ({a:.2}–{z:.2})")),
            );
        }
        for tp in instrument["timepoints"].as_array().unwrap() {
            let ch = &tp["change"];
            if let (Some(m), Some(a), Some(z)) =
                (ch["median"].as_f64(), ch["q1"].as_f64(), ch["q3"].as_f64())
            {
                push(
                    format!("{} change at {}", instrument["instrument"], tp["timepoint"]),
                    Some(format!("{m:.2} ({a:.2}–{z:.2})")),
                );
            }
        }
    }
    let overall = &doc["duration_of_anticoagulation"]["overall"];
    if let (Some(m), Some(a), Some(z)) = (
        overall["km_median_days"].as_f64(),
        overall["km_q1_days"].as_f64(),
        overall["km_q3_days"].as_f64(),
    ) {
        push(
            "duration_of_anticoagulation".into(),
            Some(format!("{m:.0} ({a:.0}–{z:.0})")),
        );
    }
    out
}

/// The figures missing from the text.
fn missing(doc: &Value, text: &str) -> Vec<(String, String)> {
    let text = squeeze(text);
    expected_figures(doc)
        .into_iter()
        .filter(|(_, t)| !text.contains(&squeeze(t)))
        .collect()
}

async fn engine(
    store: &Store,
    period: Period,
    site: Option<&str>,
    operator: Option<&str>,
    audience: Audience,
) -> Value {
    let filter = Filter {
        site: site.map(str::to_owned),
        operator: operator.map(str::to_owned),
        from: period.from,
        to: period.to,
        ..Default::default()
    };
    let report = gather::outcomes(store, &filter, as_of(), audience)
        .await
        .unwrap();
    serde_json::to_value(report).unwrap()
}

fn generation() -> Generation {
    Generation {
        as_of: as_of(),
        generated_at: "2026-06-30 12:00 UTC".into(),
        generated_by: "test".into(),
    }
}

fn assert_figures(report: &Report, doc: &Value, dir: &Path, name: &str) {
    let pdf = pdva_pdf::render(report).expect("the report renders");
    let text = pdf_text(&pdf, dir, name);
    let gone = missing(doc, &text);
    assert!(
        gone.is_empty(),
        "{name}: figures of the engine's JSON not printed in the PDF: {gone:#?}"
    );
    assert!(
        expected_figures(doc).len() >= 20,
        "{name}: too few figures to check"
    );
    assert!(
        squeeze(&text).contains(&squeeze(report.stamp.data_version_short())),
        "{name}: the data version is not printed"
    );
    keep_pngs(&pdf, name);
}

/// Prints technical success a tenth of a percentage point higher wherever
/// the report shows it (its table cell, and the same text in readings and
/// other cells): the figure check must then fail.
fn with_one_figure_changed(report: &Report) -> Report {
    let mut changed = report.clone();
    let section = changed
        .sections
        .iter_mut()
        .find(|s| s.key == "technical_success")
        .expect("a technical success section");
    let mut swap = None;
    'find: for block in &mut section.blocks {
        if let Block::Table(t) = block {
            for row in &mut t.rows {
                for cell in row {
                    if let Cell::Percent { value: Some(v), .. } = cell {
                        let before = pdva_reports::document::percent(*v);
                        *v += 0.001;
                        swap = Some((before, pdva_reports::document::percent(*v)));
                        break 'find;
                    }
                }
            }
        }
    }
    let (before, after) = swap.expect("no percentage to change");
    let replace = |text: &mut String| *text = text.replace(&before, &after);
    changed.summary.iter_mut().for_each(replace);
    for section in &mut changed.sections {
        section.reading.iter_mut().for_each(replace);
        for block in &mut section.blocks {
            if let Block::Table(t) = block {
                for cell in t.rows.iter_mut().flatten() {
                    if let Cell::Text { text } = cell {
                        replace(text);
                    }
                }
            }
        }
    }
    changed
}

/// Research population membership from the rule's words (DOMAIN.md
/// section 11), written here independently of the registry's function.
fn member(file: &PatientFile, as_of: NaiveDate) -> bool {
    let consents: Vec<_> = file
        .records
        .iter()
        .filter_map(|(_, r)| match r {
            ClinicalRecord::Consent(c) if c.consent_date <= as_of => Some(c),
            _ => None,
        })
        .collect();
    let Some(latest) = consents.iter().map(|c| c.consent_date).max() else {
        return false;
    };
    consents
        .iter()
        .filter(|c| c.consent_date == latest)
        .all(|c| {
            c.research_consent == ResearchConsent::Yes
                && c.research_consent_withdrawn_on.is_none_or(|w| w > as_of)
        })
}

/// Every identifier and free text of every patient: none may be in a
/// research report.
fn identifiers_and_free_text(files: &[PatientFile]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let p = &f.patient;
        if let Some(n) = &p.nhs_number {
            out.push(n.to_string());
        }
        if let Some(h) = &p.hospital_number {
            out.push(h.clone());
        }
        if let (Some(g), Some(fam)) = (&p.given_name, &p.family_name) {
            out.push(format!("{g} {fam}"));
        }
        out.push(p.date_of_birth.to_string());
        out.push(f.patient.registry_id.to_string());
        for (_, r) in &f.records {
            let text = match r {
                ClinicalRecord::Procedure(p) => p.device_lot.clone(),
                ClinicalRecord::AdverseEvent(a) => a.description.clone(),
                ClinicalRecord::Amputation(a) => a.reason.clone(),
                ClinicalRecord::AntithromboticTherapy(t) => t.dose.clone(),
                _ => None,
            };
            if let Some(t) = text.filter(|t| t.trim().len() >= 6) {
                out.push(t);
            }
        }
    }
    out
}

async fn documents_print_the_engines_figures(db_url: &str, dir: &Path, key_file: &Path) {
    let out = pdva(
        key_file,
        &[
            "generate",
            "--db",
            db_url,
            "--patients",
            "600",
            "--seed",
            "21",
            "--today",
            AS_OF,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open_with_key_file(db_url, key_file).await.unwrap();
    let reference = store.reference_data().await.unwrap();
    let files = store.load_patient_files(None).await.unwrap();

    // The busiest clinician, and the first site.
    let mut cases: std::collections::HashMap<_, usize> = Default::default();
    for f in &files {
        for (_, p) in f.procedures() {
            *cases.entry(p.primary_operator).or_default() += 1;
        }
    }
    let (&clinician, _) = cases.iter().max_by_key(|(id, n)| (**n, **id)).unwrap();
    let mut site_codes: Vec<String> = reference.sites.keys().map(|s| s.to_string()).collect();
    site_codes.sort();
    let site = site_codes[0].clone();
    let all = Period::default();
    let last_year = Period::new(
        Some("2025-01-01".parse().unwrap()),
        Some("2025-12-31".parse().unwrap()),
    )
    .unwrap();
    let generation = generation();

    // Appraisal: two periods.
    for (label, period) in [("all", all), ("2025", last_year)] {
        let report =
            pdva_reports::appraisal::make(&store, &clinician.to_string(), period, &generation)
                .await
                .unwrap();
        let doc = engine(
            &store,
            period,
            None,
            Some(&clinician.to_string()),
            Audience::Identifiable,
        )
        .await;
        let name = format!("appraisal-{label}");
        assert_figures(&report, &doc, dir, &name);
        // No other clinician is named, in the PDF or the JSON.
        let pdf = pdva_pdf::render(&report).unwrap();
        let text = pdf_text(&pdf, dir, &format!("{name}-names"));
        let json = serde_json::to_string(&report).unwrap();
        for (id, c) in &reference.clinicians {
            if *id != clinician {
                let other = c.display_name.to_string();
                assert!(!text.contains(&other), "{name} names {other}");
                assert!(!json.contains(&other), "{name} (JSON) names {other}");
                assert!(
                    !json.contains(&id.to_string()),
                    "{name} holds another clinician's id"
                );
            }
        }
        if label == "all" {
            // A changed figure is caught.
            let changed = with_one_figure_changed(&report);
            let pdf = pdva_pdf::render(&changed).unwrap();
            let text = pdf_text(&pdf, dir, "appraisal-changed");
            let gone = missing(&doc, &text);
            assert!(
                gone.iter().any(|(at, _)| at == "technical_success"),
                "a changed technical success was not caught: {gone:?}"
            );
        }
    }

    // Governance review: two periods.
    for (label, period) in [("all", all), ("2025", last_year)] {
        let report = pdva_reports::governance::make(&store, &site, period, &generation)
            .await
            .unwrap();
        let doc = engine(&store, period, Some(&site), None, Audience::Identifiable).await;
        assert_figures(&report, &doc, dir, &format!("governance-{label}"));
        let json = serde_json::to_string(&report).unwrap();
        for (code, s) in &reference.sites {
            if code.as_str() != site {
                assert!(
                    !json.contains(s.name.as_str()),
                    "the governance review of {site} names {}",
                    s.name
                );
            }
        }
    }

    // Research report: two periods; de-identified, research population only.
    let secrets = identifiers_and_free_text(&files);
    for (label, period) in [("all", all), ("2025", last_year)] {
        let report = pdva_reports::research::make(&store, period, &generation)
            .await
            .unwrap();
        let doc = engine(&store, period, None, None, Audience::Research).await;
        let name = format!("research-{label}");
        assert_figures(&report, &doc, dir, &name);
        let pdf = pdva_pdf::render(&report).unwrap();
        let text = pdf_text(&pdf, dir, &format!("{name}-secrets"));
        let json = serde_json::to_string(&report).unwrap();
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{name} holds {secret:?}");
            assert!(
                !json.contains(secret.as_str()),
                "{name} (JSON) holds {secret:?}"
            );
        }
        // Exactly the research population's index procedures, counted here.
        let limbs: u64 = files
            .iter()
            .filter(|f| member(f, as_of()))
            .flat_map(|f| f.procedures())
            .filter(|(_, p)| {
                p.procedure_date <= as_of()
                    && doc["filters"]["from"]
                        .as_str()
                        .is_none_or(|d| p.procedure_date >= d.parse::<NaiveDate>().unwrap())
                    && doc["filters"]["to"]
                        .as_str()
                        .is_none_or(|d| p.procedure_date <= d.parse::<NaiveDate>().unwrap())
            })
            .count() as u64;
        let shown = &doc["cohort"]["index_procedures"];
        if let Some(n) = shown.as_u64() {
            assert!(
                n <= limbs,
                "{name}: {n} index procedures, more than the research population's {limbs}"
            );
        }
        assert!(squeeze(&text).contains(&squeeze(&count(shown))));
        assert_tallies_safe(&report, &name);
    }
    store.close().await;
}

/// No `<5` cell of a selection or technique table can be worked out from
/// its total and the other cells: with the withheld cells at their least
/// (5) and the other small ones at 1, at least 4 must remain for it.
fn assert_tallies_safe(report: &Report, name: &str) {
    use pdva_outcomes::Count;
    for section in &report.sections {
        for block in &section.blocks {
            let Block::Table(t) = block else { continue };
            let Some(total_text) = t.columns.get(2).and_then(|c| c.strip_prefix("% of ")) else {
                continue;
            };
            let Ok(total) = total_text.parse::<u64>() else {
                continue;
            };
            let counts: Vec<Count> = t
                .rows
                .iter()
                .filter_map(|r| match r.get(1) {
                    Some(Cell::Count { count }) => Some(*count),
                    _ => None,
                })
                .collect();
            let exclusive = !t.caption.contains("more than one may apply")
                && !t.caption.contains("each of all");
            for (i, c) in counts.iter().enumerate() {
                if *c != Count::Small {
                    continue;
                }
                if exclusive {
                    let others: u64 = counts
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, c)| match c {
                            Count::Exact(n) => *n,
                            Count::Small => 1,
                            Count::Suppressed => 5,
                        })
                        .sum();
                    assert!(
                        total.saturating_sub(others) >= 4,
                        "{name}: a <5 in {:?} can be narrowed from its total {total}",
                        t.caption
                    );
                }
            }
            if !exclusive {
                // Each yes is its own proportion: never total − 1 … total − 4.
                for c in &counts {
                    if let Count::Exact(n) = c {
                        assert!(
                            *n == total || total - n >= 5 || *n == 0 || total == 0,
                            "{name}: {n} of {total} in {:?} gives a small complement away",
                            t.caption
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_print_the_engines_figures_on_sqlite() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let key = dir.path().join("registry.key");
    documents_print_the_engines_figures(db.to_str().unwrap(), dir.path(), &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_print_the_engines_figures_on_postgres() {
    let Ok(base) = std::env::var("PDVA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: PDVA_TEST_POSTGRES_URL is not set");
        return;
    };
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("registry.key");
    let schema = format!("pdva_report_documents_{}", std::process::id());
    pdva_store::db::execute_on(&base, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = pdva_store::db::with_search_path(&base, &schema);
    documents_print_the_engines_figures(&url, dir.path(), &key).await;
    pdva_store::db::execute_on(&base, &format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
