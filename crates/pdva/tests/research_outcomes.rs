//! The research form of the outcomes report (DOMAIN.md section 11) on a
//! generated registry: `GET /api/v1/outcomes` as a researcher under many
//! filters (every site, single days, quarters, every operator) and
//! `pdva report outcomes --research` count exactly the research population,
//! which this test works out itself from the consent records of the patient
//! files (not through `pdva_domain::disclosure`); a cohort under the minimum
//! is refused; and no count in the document is below the threshold or can be
//! worked out from a total and the other cells of its row or column.
//! On SQLite always; on PostgreSQL too when PDVA_TEST_POSTGRES_URL is set.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Datelike, NaiveDate};
use pdva_domain::codes::ResearchConsent;
use pdva_domain::{ClinicalRecord, PatientFile, RecordId};
use pdva_store::{Actor, Store, db};
use serde_json::Value;
use tower::ServiceExt;

/// The threshold and the minimum cohort of DOMAIN.md section 11, as the
/// rules state them (not the crate's constants, so a change there shows).
const T: u64 = 5;
const MINIMUM: u64 = 10;

fn generate(db_url: &str, key_file: &Path) {
    let out = pdva(
        key_file,
        &[
            "generate",
            "--db",
            db_url,
            "--patients",
            "400",
            "--seed",
            "11",
            "--today",
            "2026-06-30",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pdva(key_file: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pdva"))
        .args(args)
        // In the test's own folder: a PostgreSQL registry's default key
        // file would land in the working directory.
        .env("PDVA_KEY_FILE", key_file)
        .env_remove("PDVA_DB")
        .env_remove("PDVA_CONFIG")
        .env("PDVA_LOG", "warn")
        .output()
        .expect("pdva runs")
}

/// Whether the patient is in the research population as of `as_of`, from
/// the rule's words: the latest consent dated on or before the date (every
/// consent of that day) says research yes, not withdrawn on or before it;
/// no consent, not in it.
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

/// A report's filters as the test gives them.
#[derive(Debug, Clone, Default)]
struct Wanted {
    site: Option<String>,
    operator: Option<RecordId>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl Wanted {
    fn query(&self) -> String {
        let mut q = Vec::new();
        if let Some(s) = &self.site {
            q.push(format!("site={s}"));
        }
        if let Some(o) = &self.operator {
            q.push(format!("operator={o}"));
        }
        if let Some(d) = self.from {
            q.push(format!("from={d}"));
        }
        if let Some(d) = self.to {
            q.push(format!("to={d}"));
        }
        q.join("&")
    }
}

fn quarter_first_day(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(
        d.year(),
        [1, 1, 1, 4, 4, 4, 7, 7, 7, 10, 10, 10][d.month0() as usize],
        1,
    )
    .unwrap()
}

fn quarter_last_day(d: NaiveDate) -> NaiveDate {
    let first = quarter_first_day(d);
    let mut last = first;
    while quarter_first_day(last.succ_opt().unwrap()) == first {
        last = last.succ_opt().unwrap();
    }
    last
}

/// The research cohort the test expects: (patients, index procedures, and
/// index procedures of patients who died), counted from the files.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    patients: u64,
    limbs: u64,
    limbs_of_the_dead: u64,
}

fn expected(files: &[PatientFile], wanted: &Wanted, as_of: NaiveDate) -> Expected {
    let from = wanted.from.map(quarter_first_day);
    let to = wanted.to.map(quarter_last_day);
    let mut e = Expected {
        patients: 0,
        limbs: 0,
        limbs_of_the_dead: 0,
    };
    for file in files {
        if !member(file, as_of)
            || wanted
                .site
                .as_deref()
                .is_some_and(|s| s != file.patient.home_site.as_str())
        {
            continue;
        }
        // Nothing after the report date or the end of follow-up counts.
        let cut_off = file
            .patient
            .follow_up_ended_on
            .filter(|d| *d <= as_of)
            .map_or(as_of, |e| e.min(as_of));
        let limbs = file
            .records
            .iter()
            .filter(|(_, r)| match r {
                ClinicalRecord::Procedure(p) => {
                    p.procedure_date <= cut_off
                        && wanted.operator.is_none_or(|o| o == p.primary_operator)
                        && from.is_none_or(|f| p.procedure_date >= f)
                        && to.is_none_or(|t| p.procedure_date <= t)
                }
                _ => false,
            })
            .count() as u64;
        if limbs == 0 {
            continue;
        }
        let died = file
            .records
            .iter()
            .any(|(_, r)| matches!(r, ClinicalRecord::Death(d) if d.date <= cut_off));
        e.patients += 1;
        e.limbs += limbs;
        e.limbs_of_the_dead += if died { limbs } else { 0 };
    }
    e
}

fn number(v: &Value) -> Option<u64> {
    v.as_u64()
}

/// A count is shown as a number, `"<5"` or `"suppressed"`, never a number
/// from 1 to t − 1.
fn assert_count(v: &Value, at: &str) {
    match v {
        Value::Number(n) => {
            let n = n
                .as_u64()
                .unwrap_or_else(|| panic!("{at}: {v} is not a count"));
            assert!(n == 0 || n >= T, "{at}: small count {n} shown");
        }
        Value::String(s) => assert!(s == "<5" || s == "suppressed", "{at}: {s:?}"),
        _ => panic!("{at}: {v} is not a count"),
    }
}

const COUNT_KEYS: [&str; 14] = [
    "patients",
    "index_procedures",
    "bilateral_patients",
    "dialysis_dependent_patients",
    "deaths",
    "follow_up_ended",
    "procedures_without_baseline",
    "k",
    "n",
    "events",
    "completed",
    "observed",
    "status_unknown",
    "window_passed",
];

/// The whole cohort's curves keep their counts (section 11); everything
/// else is checked.
const CURVES: [&str; 8] = [
    "amputation_free_survival",
    "overall_survival",
    "freedom_from_major_amputation",
    "freedom_from_unplanned_reintervention",
    "freedom_from_any_reintervention",
    "freedom_from_male",
    "cumulative_incidence_major_amputation",
    "cumulative_incidence_wound_healing",
];

/// Every count outside the curves, wherever it is.
fn walk_counts(v: &Value, at: &str) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let here = format!("{at}.{k}");
                // A curve read at the standard days, shown only for groups
                // of at least the minimum (checked below).
                if k == "estimates" || k == "rows" {
                    continue;
                }
                if COUNT_KEYS.contains(&k.as_str()) {
                    match x {
                        Value::Array(a) => {
                            for (i, c) in a.iter().enumerate() {
                                assert_count(c, &format!("{here}[{i}]"));
                            }
                        }
                        _ => assert_count(x, &here),
                    }
                } else {
                    walk_counts(x, &here);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk_counts(x, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

/// A proportion shows neither a small count with the outcome nor a small
/// count without it (n − k), and no estimate of a withheld count.
fn walk_proportions(v: &Value, at: &str) {
    match v {
        Value::Object(o) => {
            if let (Some(k), Some(n)) = (o.get("k"), o.get("n")) {
                match (number(k), number(n)) {
                    (Some(k), Some(n)) => {
                        assert!(
                            !(1..T).contains(&(n - k)),
                            "{at}: {k} of {n} gives away the {} without",
                            n - k
                        );
                    }
                    _ => {
                        for e in ["estimate", "ci_lower", "ci_upper"] {
                            assert!(o[e].is_null(), "{at}: {e} of a withheld count shown");
                        }
                    }
                }
            }
            for (key, x) in o {
                walk_proportions(x, &format!("{at}.{key}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk_proportions(x, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

/// A row or column with a known total and exactly one withheld cell gives
/// that cell away.
fn assert_not_one_unknown(cells: &[&Value], total: Option<u64>, rest: Option<u64>, at: &str) {
    let (Some(total), Some(rest)) = (total, rest) else {
        return;
    };
    let unknown = cells.iter().filter(|c| number(c).is_none()).count();
    let known: u64 = cells.iter().filter_map(|c| number(c)).sum();
    assert!(
        unknown != 1,
        "{at}: the one withheld cell is {} (total {total})",
        total - known - rest
    );
}

fn assert_disclosure_safe(doc: &Value) {
    assert!(doc["disclosure"].is_object(), "not a research report");
    for (key, v) in doc.as_object().unwrap() {
        if !CURVES.contains(&key.as_str()) {
            walk_counts(v, &format!("$.{key}"));
        }
    }
    walk_proportions(doc, "$");

    // Each 30-day proportion's known count and status unknown add up to
    // the limbs whose window has passed: one must not give the other away.
    let ae = &doc["adverse_events_30_day"];
    let window = number(&ae["window_passed"]);
    let mut thirty_day = vec![
        &doc["mortality_30_day"],
        &doc["major_amputation_30_day"],
        &ae["any"],
    ];
    thirty_day.extend(
        ae["by_kind"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| &k["proportion"]),
    );
    for p in thirty_day {
        assert_not_one_unknown(
            &[&p["n"], &p["status_unknown"]],
            window,
            Some(0),
            "30-day window",
        );
    }

    let c = &doc["cohort"];
    let (p, i, b) = (
        number(&c["patients"]),
        number(&c["index_procedures"]),
        number(&c["bilateral_patients"]),
    );
    // The bilateral patients are index procedures − patients.
    assert_not_one_unknown(
        &[&c["patients"], &c["bilateral_patients"]],
        i,
        Some(0),
        "cohort",
    );
    if let (Some(p), Some(i), None) = (p, i, b) {
        panic!("cohort: the bilateral patients are {} − {}", i, p);
    }
    for subset in ["dialysis_dependent_patients", "deaths", "follow_up_ended"] {
        if let (Some(p), Some(x)) = (p, number(&c[subset])) {
            assert!(!(1..T).contains(&(p - x)), "cohort: {p} − {subset} {x}");
        }
    }
    for date in ["first_procedure", "last_procedure"] {
        if let Some(q) = c[date].as_str() {
            assert!(
                q.len() == 7 && &q[4..6] == "-Q",
                "cohort.{date}: {q} is not a quarter"
            );
        }
    }
    // Groups under the minimum show no curve, median or quantile.
    let without_baseline = number(&c["procedures_without_baseline"]);
    for cmp in doc["comparisons"].as_array().unwrap() {
        let variable = cmp["variable"].as_str().unwrap();
        let strata = cmp["strata"].as_array().unwrap();
        let rest = match variable {
            "dialysis_dependent" | "diabetes" | "wifi_clinical_stage" => without_baseline,
            _ => Some(0),
        };
        let ns: Vec<&Value> = strata.iter().map(|s| &s["n"]).collect();
        assert_not_one_unknown(&ns, i, rest, &format!("comparison {variable}: limbs"));
        if rest == Some(0) {
            let ks: Vec<&Value> = strata
                .iter()
                .map(|s| &s["technical_success"]["k"])
                .collect();
            assert_not_one_unknown(
                &ks,
                number(&doc["technical_success"]["k"]),
                Some(0),
                &format!("comparison {variable}: technical success"),
            );
            let ks: Vec<&Value> = strata.iter().map(|s| &s["mortality_30_day"]["k"]).collect();
            assert_not_one_unknown(
                &ks,
                number(&doc["mortality_30_day"]["k"]),
                Some(0),
                &format!("comparison {variable}: 30-day deaths"),
            );
            for key in ["n", "status_unknown"] {
                let cells: Vec<&Value> =
                    strata.iter().map(|s| &s["mortality_30_day"][key]).collect();
                assert_not_one_unknown(
                    &cells,
                    number(&doc["mortality_30_day"][key]),
                    Some(0),
                    &format!("comparison {variable}: 30-day mortality {key}"),
                );
            }
        }
        for s in strata {
            let small = number(&s["n"]).is_none_or(|n| n < MINIMUM);
            for e in s["endpoints"].as_array().unwrap() {
                // Estimates carry numbers at risk and cumulative events:
                // shown only where the limbs and events are.
                if small || number(&e["n"]).is_none() || number(&e["events"]).is_none() {
                    assert!(
                        e["median_days"].is_null(),
                        "{variable}: median of a small stratum"
                    );
                    assert!(
                        e["estimates"].as_array().unwrap().is_empty(),
                        "{variable}: curve of a small stratum"
                    );
                }
            }
        }
    }
    for inst in doc["quality_of_life"]["instruments"].as_array().unwrap() {
        let mut dists = vec![&inst["baseline"]];
        for tp in inst["timepoints"].as_array().unwrap() {
            dists.push(&tp["value"]);
            dists.push(&tp["change"]);
        }
        for d in dists {
            if number(&d["n"]).is_none_or(|n| n < MINIMUM) {
                assert!(d["median"].is_null() && d["q1"].is_null() && d["q3"].is_null());
            }
        }
    }
    // Completeness by site adds up to the whole.
    let fc = &doc["follow_up_completeness"];
    let sites = fc["by_site"].as_array().unwrap();
    for key in ["k", "n"] {
        let cells: Vec<&Value> = sites.iter().map(|s| &s["completeness"][key]).collect();
        assert_not_one_unknown(&cells, number(&fc["overall"][key]), Some(0), "completeness");
    }
    assert!(doc["monitoring"]["funnels"].as_array().unwrap().is_empty());
    assert!(
        doc["monitoring"]["learning_curves"]["charts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// The research document counts exactly the expected cohort.
fn assert_counts(doc: &Value, e: &Expected, what: &str) {
    let c = &doc["cohort"];
    assert_eq!(
        number(&c["index_procedures"]),
        Some(e.limbs),
        "{what}: limbs"
    );
    if let Some(p) = number(&c["patients"]) {
        assert_eq!(p, e.patients, "{what}: patients");
    }
    // Every curve counts the same limbs, and the deaths are the research
    // population's only.
    for curve in CURVES.iter().take(6) {
        assert_eq!(number(&doc[curve]["n"]), Some(e.limbs), "{what}: {curve}.n");
    }
    assert_eq!(
        number(&doc["overall_survival"]["events"]),
        Some(e.limbs_of_the_dead),
        "{what}: deaths"
    );
}

async fn get(store: &Store, token: &str, path: &str) -> (StatusCode, String) {
    let response = pdva_web::router(store.clone())
        .oneshot(
            Request::get(path)
                .header("cookie", format!("pdva_session={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn research_reports_count_the_research_population(db_url: &str, key_file: &Path) {
    generate(db_url, key_file);
    let store = Store::open_with_key_file(db_url, key_file).await.unwrap();
    let files = store.load_patient_files(None).await.unwrap();
    let reference = store.reference_data().await.unwrap();
    let researcher = store
        .create_user(
            &Actor::new("test.setup"),
            pdva_store::NewUser {
                username: pdva_store::Username::parse("research.test").unwrap(),
                display_name: "Researcher".into(),
                role: pdva_store::Role::Researcher,
                sites: pdva_store::SiteAccess::All,
                password: pdva_store::Password::parse("correct horse battery").unwrap(),
                clinician: None,
            },
        )
        .await
        .unwrap();
    let token = store
        .start_session(&researcher, chrono::Utc::now())
        .await
        .unwrap()
        .token;
    // The web makes research reports as of today, whatever is asked.
    let today = chrono::Local::now().date_naive();

    let everyone = files.len();
    let members = files.iter().filter(|f| member(f, today)).count();
    assert!(
        members > 0 && members < everyone,
        "the registry has {members} of {everyone} patients in the research population"
    );

    let mut wanted = vec![Wanted::default()];
    let mut site_codes: Vec<String> = reference.sites.keys().map(|s| s.to_string()).collect();
    site_codes.sort();
    for s in &site_codes {
        wanted.push(Wanted {
            site: Some(s.clone()),
            ..Wanted::default()
        });
    }
    // Single days: procedure dates of excluded patients among them (the
    // attack of issue 14), each of which snaps to its quarter or is refused.
    let mut days = BTreeSet::new();
    for f in files.iter().filter(|f| !member(f, today)).take(6) {
        for (_, r) in &f.records {
            if let ClinicalRecord::Procedure(p) = r {
                days.insert((f.patient.home_site.to_string(), p.procedure_date));
            }
        }
    }
    for (site, day) in days {
        for site in [Some(site), None] {
            wanted.push(Wanted {
                site,
                from: Some(day),
                to: Some(day),
                ..Wanted::default()
            });
        }
    }
    // Whole quarters, and spans that end in the middle of one.
    for (from, to) in [
        ("2022-01-01", "2022-03-31"),
        ("2023-04-01", "2023-09-30"),
        ("2021-02-15", "2024-11-03"),
        ("2025-10-01", "2026-06-30"),
    ] {
        wanted.push(Wanted {
            from: Some(from.parse().unwrap()),
            to: Some(to.parse().unwrap()),
            ..Wanted::default()
        });
    }
    let mut operators: Vec<RecordId> = reference.clinicians.keys().copied().collect();
    operators.sort();
    for o in operators {
        wanted.push(Wanted {
            operator: Some(o),
            ..Wanted::default()
        });
    }

    let (mut served, mut refused) = (0, 0);
    for w in &wanted {
        let e = expected(&files, w, today);
        let (status, body) = get(&store, &token, &format!("/api/v1/outcomes?{}", w.query())).await;
        if e.patients < MINIMUM {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{w:?}: {body}");
            assert!(body.contains("fewer than 10 patients"), "{w:?}: {body}");
            refused += 1;
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{w:?}: {body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_counts(&doc, &e, &format!("{w:?}"));
        assert_disclosure_safe(&doc);
        // The period reported is the snapped one.
        assert_eq!(
            doc["filters"]["from"].as_str(),
            w.from
                .map(quarter_first_day)
                .map(|d| d.to_string())
                .as_deref()
        );
        assert_eq!(
            doc["filters"]["to"].as_str(),
            w.to.map(quarter_last_day).map(|d| d.to_string()).as_deref()
        );
        served += 1;
    }
    assert!(
        served > 5 && refused > 0,
        "{served} served, {refused} refused"
    );

    // An administrator's report of the same registry counts everyone, so
    // the research one above really left patients out.
    let identifiable = pdva(
        key_file,
        &[
            "report",
            "outcomes",
            "--db",
            db_url,
            "--as-of",
            "2026-06-30",
            "--format",
            "json",
        ],
    );
    assert!(identifiable.status.success());
    let identifiable: Value = serde_json::from_slice(&identifiable.stdout).unwrap();
    assert!(identifiable.get("disclosure").is_none());

    // The command line's research form, as of the registry's date.
    let as_of: NaiveDate = "2026-06-30".parse().unwrap();
    let out = pdva(
        key_file,
        &[
            "report",
            "outcomes",
            "--db",
            db_url,
            "--as-of",
            "2026-06-30",
            "--research",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = expected(&files, &Wanted::default(), as_of);
    assert_counts(&doc, &e, "pdva report outcomes --research");
    assert_disclosure_safe(&doc);
    assert!(
        number(&identifiable["cohort"]["index_procedures"]).unwrap() > e.limbs,
        "the identifiable report counts the patients the research one leaves out"
    );
    // A single day of one site on the command line: snapped, or refused
    // with the reason.
    let (site, day) = files
        .iter()
        .find_map(|f| {
            f.records.iter().find_map(|(_, r)| match r {
                ClinicalRecord::Procedure(p) => {
                    Some((f.patient.home_site.to_string(), p.procedure_date))
                }
                _ => None,
            })
        })
        .unwrap();
    let day = day.to_string();
    let out = pdva(
        key_file,
        &[
            "report",
            "outcomes",
            "--db",
            db_url,
            "--as-of",
            "2026-06-30",
            "--research",
            "--site",
            &site,
            "--from",
            &day,
            "--to",
            &day,
            "--format",
            "json",
        ],
    );
    let w = Wanted {
        site: Some(site.clone()),
        from: Some(day.parse().unwrap()),
        to: Some(day.parse().unwrap()),
        ..Wanted::default()
    };
    let e = expected(&files, &w, as_of);
    if e.patients < MINIMUM {
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("fewer than 10 patients"));
    } else {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_counts(&doc, &e, "--research, one day");
        assert_disclosure_safe(&doc);
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn research_reports_count_the_research_population_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let key_file = dir.path().join("registry.key");
    research_reports_count_the_research_population(path.to_str().unwrap(), &key_file).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn research_reports_count_the_research_population_on_postgres() {
    let Ok(base) = std::env::var("PDVA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: PDVA_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!("pdva_research_test_{}", std::process::id());
    db::execute_on(&base, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = db::with_search_path(&base, &schema);
    let dir = tempfile::tempdir().unwrap();
    research_reports_count_the_research_population(&url, &dir.path().join("registry.key")).await;
    db::execute_on(&base, &format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
