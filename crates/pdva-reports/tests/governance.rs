//! The governance reports on a generated registry, on SQLite and (when
//! PDVA_TEST_POSTGRES_URL is set) on PostgreSQL:
//!
//! - the compliance checks count what an independent count over the
//!   patient files finds, with the same denominators;
//! - the governance review's figures are the site's outcomes report's (its
//!   JSON) for the whole period and for one year, and no other site is
//!   named in it;
//! - the audit-tool summary has one row per non-voided index procedure of
//!   the site, and its 30-day major amputation column agrees with the
//!   outcomes report.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use pdva_domain::{ClinicalRecord, PatientFile, RecordId, ReferenceData};
use pdva_outcomes::Audience;
use pdva_reports::compliance::{self, Compliance};
use pdva_reports::document::{Block, Cell, Report};
use pdva_reports::gather::{self, Generation, Period};
use pdva_reports::{audit_summary, governance};
use pdva_store::{Actor, AnyRecord, Store};
use serde_json::Value;

const PATIENTS: usize = 400;

fn today() -> NaiveDate {
    "2026-06-30".parse().unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A generated registry (sites, clinicians, governance meetings, patients
/// and the generator's voids) in `store`.
async fn generate(store: &Store) {
    let actor = Actor::new("cli:test");
    let mut generator = pdva_synth::Generator::new(pdva_synth::GeneratorConfig {
        patients: PATIENTS,
        seed: 11,
        today: today(),
    });
    let reference = generator.reference();
    let mut records: Vec<(RecordId, AnyRecord)> = Vec::new();
    records.extend(
        reference
            .sites
            .iter()
            .map(|(id, s)| (*id, AnyRecord::Site(s.clone()))),
    );
    records.extend(
        reference
            .clinicians
            .iter()
            .map(|(id, c)| (*id, AnyRecord::Clinician(c.clone()))),
    );
    records.extend(
        reference
            .governance_meetings
            .iter()
            .map(|(id, m)| (*id, AnyRecord::GovernanceMeeting(m.clone()))),
    );
    store.import_reference(&actor, &records).await.unwrap();
    let reference_data = generator.reference_data();
    let mut voided = 0;
    while let Some(batch) = generator.next_batch(100) {
        store
            .import_patient_files(&actor, &batch.files, &reference_data, today())
            .await
            .unwrap();
        if !batch.voids.is_empty() {
            voided += batch.voids.len();
            store.void_many(&actor, &batch.voids).await.unwrap();
        }
    }
    assert!(
        voided > 0,
        "the generator voids records: the tests need some"
    );
}

/// A PostgreSQL schema of the test's own, dropped when the test ends
/// (passing or not).
struct PgSchema {
    base: String,
    schema: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, schema) = (self.base.clone(), self.schema.clone());
        // Drop cannot await: a thread with a runtime of its own.
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(pdva_store::db::execute_on(
                    &base,
                    &format!("DROP SCHEMA {schema} CASCADE"),
                ))
        })
        .join()
        .unwrap()
        .unwrap();
    }
}

/// Every check of this file on one generated registry.
async fn check_all(store: &Store) {
    compliance_counts_agree_with_an_independent_count(store).await;
    governance_review_prints_the_site_report(store).await;
    audit_summary_has_a_row_per_procedure(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("t.db").to_str().unwrap().to_owned();
    let store = Store::open_with_key_file(&url, &dir.path().join("t.key"))
        .await
        .unwrap();
    generate(&store).await;
    check_all(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let base = match std::env::var("PDVA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("SKIPPED on PostgreSQL: PDVA_TEST_POSTGRES_URL is not set");
            return;
        }
    };
    let schema = format!("pdva_test_{}", RecordId::new_random().0.simple());
    pdva_store::db::execute_on(&base, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let _drop = PgSchema {
        base: base.clone(),
        schema: schema.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let url = pdva_store::db::with_search_path(&base, &schema);
    let store = Store::open_with_key_file(&url, &dir.path().join("pg.key"))
        .await
        .unwrap();
    generate(&store).await;
    check_all(&store).await;
    store.close().await;
}

fn in_period(period: Period, date: NaiveDate) -> bool {
    period.from.is_none_or(|f| date >= f) && period.to.is_none_or(|t| date <= t)
}

/// The site's procedures in the period: (file, procedure id, date, limb
/// index).
fn procedures_of<'a>(
    files: &'a [PatientFile],
    site: &str,
    period: Period,
) -> Vec<(&'a PatientFile, RecordId, &'a pdva_domain::IndexProcedure)> {
    let mut out = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.patient.home_site.as_str() == site)
    {
        for (id, r) in &f.records {
            if let ClinicalRecord::Procedure(p) = r
                && in_period(period, p.procedure_date)
            {
                out.push((f, *id, p));
            }
        }
    }
    out
}

/// The follow-up windows of DOMAIN.md section 5, as (first day, last
/// day), up to `last_day`.
fn windows(last_day: i64) -> Vec<(i64, i64)> {
    let mut w = vec![(14, 60), (61, 135), (136, 273), (274, 547)];
    let mut n = 2;
    while 365 * n - 182 <= last_day {
        w.push((365 * n - 182, 365 * n + 182));
        n += 1;
    }
    w
}

/// Counts each compliance check independently from the patient files, as
/// DOMAIN.md defines it: (count, denominator) per check key.
fn independent_counts(
    files: &[PatientFile],
    reference: &ReferenceData,
    site_code: &str,
    period: Period,
    today: NaiveDate,
) -> HashMap<&'static str, (usize, usize)> {
    let site = reference
        .sites
        .iter()
        .find(|(c, _)| c.as_str() == site_code)
        .unwrap()
        .1;
    let procedures = procedures_of(files, site_code, period);
    let n = procedures.len();
    let mut no_consent = 0;
    let mut consented = 0;
    let mut not_explained = 0;
    let mut uncredentialed = 0;
    let mut closed_30 = 0;
    let mut no_visit_30 = 0;
    let mut before_informed = 0;
    let mut overdue_patients = std::collections::HashSet::new();
    let mut followed_patients = std::collections::HashSet::new();
    for (file, id, p) in &procedures {
        let date = p.procedure_date;
        if site.governance_lead_informed_on.is_some_and(|i| date < i) {
            before_informed += 1;
        }
        // The consent covering a procedure: the latest on or before it.
        let mut latest: Option<&pdva_domain::Consent> = None;
        for (_, r) in &file.records {
            if let ClinicalRecord::Consent(c) = r
                && c.consent_date <= date
                && latest.is_none_or(|l| c.consent_date > l.consent_date)
            {
                latest = Some(c);
            }
        }
        match latest {
            None => no_consent += 1,
            Some(c) => {
                consented += 1;
                not_explained += usize::from(!c.uncertainties_explained);
            }
        }
        // Credentialed (DOMAIN.md 4.2): training date recorded by the
        // procedure date and enough proctored cases.
        let op = reference.clinicians.get(&p.primary_operator);
        let credentialed = op.is_some_and(|c| {
            c.pdva_training_completed_on.is_some_and(|t| t <= date)
                && c.proctored_cases >= site.min_proctored_cases
        });
        uncredentialed += usize::from(!credentialed);
        // Visits of this procedure, as days.
        let visits: Vec<i64> = file
            .records
            .iter()
            .filter_map(|(_, r)| match r {
                ClinicalRecord::FollowUpVisit(v) if v.procedure_id == *id => {
                    Some((v.visit_date - date).num_days())
                }
                _ => None,
            })
            .collect();
        let death = file.records.iter().find_map(|(_, r)| match r {
            ClinicalRecord::Death(x) => Some(x.date),
            _ => None,
        });
        let ended = file.patient.follow_up_ended_on;
        let mut end = today;
        for x in [death, ended].into_iter().flatten() {
            end = end.min(x);
        }
        let end_day = (end - date).num_days();
        if 60 < end_day {
            closed_30 += 1;
            if !visits.iter().any(|v| (14..=60).contains(v)) {
                no_visit_30 += 1;
            }
        }
        if death.is_none() && ended.is_none() {
            followed_patients.insert(file.patient_id);
            let today_day = (today - date).num_days();
            // The most recent window that has closed, without a visit.
            if let Some((a, b)) = windows(today_day)
                .into_iter()
                .rfind(|(_, b)| *b < today_day)
                && !visits.iter().any(|v| (a..=b).contains(v))
            {
                overdue_patients.insert(file.patient_id);
            }
        }
    }
    HashMap::from([
        ("governance_lead_informed", (before_informed, n)),
        ("no_consent", (no_consent, n)),
        ("uncertainties_not_explained", (not_explained, consented)),
        ("operator_not_credentialed", (uncredentialed, n)),
        ("no_30_day_visit", (no_visit_30, closed_30)),
        (
            "overdue_follow_up",
            (overdue_patients.len(), followed_patients.len()),
        ),
    ])
}

fn assert_compliance_matches(c: &Compliance, expected: &HashMap<&'static str, (usize, usize)>) {
    for (key, (k, n)) in expected {
        let check = c.check(key).unwrap();
        if *key == "governance_lead_informed" && check.count.is_none() {
            // No date recorded: nothing to count before it.
            assert!(!check.met);
            continue;
        }
        assert_eq!(check.count, Some(*k), "{}: {key} count", c.site_code);
        assert_eq!(
            check.denominator.as_ref().map(|d| d.n),
            Some(*n),
            "{}: {key} denominator",
            c.site_code
        );
        assert_eq!(check.items.len(), *k, "{}: {key} items", c.site_code);
        assert_eq!(check.met, *k == 0, "{}: {key} met", c.site_code);
        if *n > 0 {
            assert_eq!(check.proportion(), Some(*k as f64 / *n as f64));
        }
        // Items by date, then registry id.
        let order: Vec<_> = check
            .items
            .iter()
            .map(|i| (i.date, i.registry_id.clone()))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "{key} sorted");
    }
}

async fn compliance_counts_agree_with_an_independent_count(store: &Store) {
    let reference = store.reference_data().await.unwrap();
    let mut unmet_somewhere = HashMap::new();
    for (_, site) in store.sites().await.unwrap() {
        let code = site.site_code.as_str();
        let files = store.load_patient_files(Some(code)).await.unwrap();
        let meetings = store.governance_meetings(&site.site_code).await.unwrap();
        for period in [
            Period::default(),
            Period {
                from: Some(d("2025-01-01")),
                to: Some(d("2025-12-31")),
            },
        ] {
            let c = compliance::check(&site, &meetings, &files, &reference, period, today());
            let expected = independent_counts(&files, &reference, code, period, today());
            assert_compliance_matches(&c, &expected);
            assert_eq!(c.procedures, expected["no_consent"].1);
            for check in &c.checks {
                if !check.met {
                    *unmet_somewhere.entry(check.key).or_insert(0) += 1;
                }
                // Every finding names its paragraph.
                assert!(!check.paragraph.is_empty());
                assert!(check.finding(10).paragraph == check.paragraph);
            }
        }
    }
    // The generator plants an uncredentialed operator and a site without a
    // governance notification (DOMAIN.md section 10): the checks find them.
    assert!(
        unmet_somewhere.contains_key("operator_not_credentialed"),
        "{unmet_somewhere:?}"
    );
    assert!(
        unmet_somewhere.contains_key("governance_lead_informed"),
        "{unmet_somewhere:?}"
    );
}

fn generation() -> Generation {
    Generation {
        as_of: today(),
        generated_at: "2026-06-30 12:00".into(),
        generated_by: "cli:test".into(),
    }
}

/// The site's outcomes report for `period`, as JSON.
async fn site_json(store: &Store, code: &str, period: Period) -> Value {
    let report = gather::outcomes(
        store,
        &gather::filter(period, Some(code.to_owned()), None),
        today(),
        Audience::Identifiable,
    )
    .await
    .unwrap();
    serde_json::to_value(report).unwrap()
}

/// The first table of the section `key`.
fn table<'a>(report: &'a Report, key: &str) -> &'a pdva_reports::document::Table {
    let section = report
        .sections
        .iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("a section {key}"));
    section
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a table in {key}"))
}

fn count(cell: &Cell) -> u64 {
    match cell {
        Cell::Count { count } => count.exact().expect("exact"),
        other => panic!("not a count: {other:?}"),
    }
}

/// A percentage cell's value and interval.
fn percent(cell: &Cell) -> (Option<f64>, Option<f64>, Option<f64>) {
    match cell {
        Cell::Percent {
            value,
            lower,
            upper,
        } => (*value, *lower, *upper),
        other => panic!("not a percentage: {other:?}"),
    }
}

/// A proportion of the JSON: estimate, lower, upper.
fn proportion(v: &Value) -> (Option<f64>, Option<f64>, Option<f64>) {
    (
        v["estimate"].as_f64(),
        v["ci_lower"].as_f64(),
        v["ci_upper"].as_f64(),
    )
}

/// The 6-month estimate of a survival endpoint of the JSON.
fn at_six_months(endpoint: &Value) -> (Option<f64>, Option<f64>, Option<f64>) {
    let e = endpoint["estimates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["t_days"].as_f64() == Some(182.0));
    match e {
        Some(e) => (
            e["survival"].as_f64(),
            e["ci_lower"].as_f64(),
            e["ci_upper"].as_f64(),
        ),
        None => (None, None, None),
    }
}

async fn governance_review_prints_the_site_report(store: &Store) {
    let sites = store.sites().await.unwrap();
    let files_all = store.load_patient_files(None).await.unwrap();
    // What the comparisons below compared, over every site and period: a
    // comparison of nothing would pass whatever the review printed.
    let (mut operator_rows, mut year_rows, mut site_positions, mut deaths_listed) = (0, 0, 0, 0);
    for (_, site) in &sites {
        let code = site.site_code.as_str();
        for period in [
            Period::default(),
            Period {
                from: Some(d("2025-01-01")),
                to: Some(d("2025-12-31")),
            },
        ] {
            let started = std::time::Instant::now();
            let report = governance::make(store, code, period, &generation())
                .await
                .unwrap();
            eprintln!(
                "governance review of {code} {period:?}: {} sections in {:?}",
                report.sections.len(),
                started.elapsed()
            );
            let json = site_json(store, code, period).await;

            // Traceable to the same registry state and filters.
            assert_eq!(report.stamp.data_version, json["data_version"]);
            assert_eq!(
                report.stamp.filters_line(),
                format!("site: {code} — {}", site.name)
            );

            // By operator: the site report's operator comparison.
            let strata = json["comparisons"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["variable"] == "operator")
                .unwrap()["strata"]
                .as_array()
                .unwrap()
                .clone();
            let operators = table(&report, "operators");
            assert_eq!(operators.rows.len(), strata.len(), "{code}");
            for (row, stratum) in operators.rows.iter().zip(&strata) {
                assert_eq!(row[0].display(), stratum["label"].as_str().unwrap());
                assert_eq!(count(&row[1]), stratum["n"].as_u64().unwrap());
                assert_eq!(percent(&row[2]), proportion(&stratum["technical_success"]));
                assert_eq!(percent(&row[3]), proportion(&stratum["mortality_30_day"]));
                let afs = stratum["endpoints"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["endpoint"] == "amputation_free_survival")
                    .unwrap();
                assert_eq!(percent(&row[4]), at_six_months(afs));
            }
            operator_rows += operators.rows.len();
            let cases: u64 = operators.rows.iter().map(|r| count(&r[1])).sum();
            assert_eq!(cases, json["cohort"]["index_procedures"].as_u64().unwrap());

            // Trends: each year is that year's report, and the years
            // together are the period's procedures.
            let trends = table(&report, "trends");
            let mut by_year_total = 0;
            for row in &trends.rows {
                let year: i32 = row[0].display().parse().unwrap();
                let y = site_json(store, code, governance::year_period(year, period)).await;
                assert_eq!(
                    count(&row[1]),
                    y["cohort"]["index_procedures"].as_u64().unwrap()
                );
                assert_eq!(percent(&row[2]), proportion(&y["technical_success"]));
                assert_eq!(
                    percent(&row[3]),
                    at_six_months(&y["amputation_free_survival"])
                );
                let at_risk = y["amputation_free_survival"]["estimates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["t_days"].as_f64() == Some(182.0))
                    .map(|e| e["at_risk"].as_u64().unwrap());
                if let Some(n) = at_risk {
                    assert_eq!(count(&row[4]), n);
                }
                assert_eq!(
                    percent(&row[5]),
                    proportion(&y["follow_up_completeness"]["overall"])
                );
                by_year_total += count(&row[1]);
                year_rows += 1;
                assert!(period.from.is_none_or(|f| year >= f.year()));
            }
            assert_eq!(
                by_year_total,
                json["cohort"]["index_procedures"].as_u64().unwrap(),
                "{code} {period:?}: the years partition the period"
            );

            // Monitoring: the site against the registry, from the registry
            // report's funnels of sites.
            let registry = serde_json::to_value(
                gather::outcomes(
                    store,
                    &gather::filter(period, None, None),
                    today(),
                    Audience::Identifiable,
                )
                .await
                .unwrap(),
            )
            .unwrap();
            let monitoring = table(&report, "monitoring");
            let own_site_rows: Vec<_> = monitoring
                .rows
                .iter()
                .filter(|r| r[2].display() == "registry")
                .collect();
            let site_units: Vec<&Value> = registry["monitoring"]["funnels"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["unit_type"] == "site")
                .flat_map(|f| f["units"].as_array().unwrap().iter())
                .filter(|u| u["unit"] == code)
                .collect();
            assert_eq!(own_site_rows.len(), site_units.len());
            site_positions += site_units.len();
            for (row, unit) in own_site_rows.iter().zip(&site_units) {
                assert_eq!(count(&row[3]), unit["n"].as_u64().unwrap());
                assert_eq!(count(&row[4]), unit["k"].as_u64().unwrap());
            }

            // Deaths within 30 days: counted here from the files.
            let mut deaths = 0;
            for (file, _, p) in procedures_of(&files_all, code, period) {
                for (_, r) in &file.records {
                    if let ClinicalRecord::Death(x) = r
                        && (0..=30).contains(&(x.date - p.procedure_date).num_days())
                    {
                        deaths += 1;
                    }
                }
            }
            let listed = table(&report, "serious_events")
                .rows
                .iter()
                .filter(|r| r[2].display().starts_with("Death"))
                .count();
            assert_eq!(listed, deaths, "{code} {period:?}: deaths within 30 days");
            deaths_listed += listed;

            // The compliance findings are the checks', paragraph and all.
            let findings = report
                .sections
                .iter()
                .find(|s| s.key == "compliance")
                .unwrap()
                .blocks
                .iter()
                .find_map(|b| match b {
                    Block::Findings(f) => Some(f),
                    _ => None,
                })
                .unwrap();
            assert_eq!(findings.findings.len(), 7);
            assert!(findings.findings.iter().all(|f| !f.paragraph.is_empty()));

            // No other site is named anywhere in the paper.
            let text = serde_json::to_string(&report).unwrap();
            for (_, other) in sites.iter().filter(|(_, s)| s.site_code != site.site_code) {
                assert!(
                    !text.contains(other.name.as_str()),
                    "{code}'s review names {}",
                    other.name
                );
                assert!(
                    !text.contains(&format!("\"{}\"", other.site_code))
                        && !text.contains(&format!("{} ", other.site_code))
                        && !text.contains(&format!("{} —", other.site_code)),
                    "{code}'s review names {}",
                    other.site_code
                );
            }
        }
    }
    assert!(
        operator_rows > 0 && year_rows > 0 && site_positions > 0 && deaths_listed > 0,
        "operators {operator_rows}, years {year_rows}, site positions {site_positions}, deaths {deaths_listed}"
    );
}

async fn audit_summary_has_a_row_per_procedure(store: &Store) {
    let sites = store.sites().await.unwrap();
    let mut all_rows = 0;
    for (_, site) in &sites {
        let code = site.site_code.as_str();
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        let written = audit_summary::write(store, Some(code), Period::default(), today(), &mut out)
            .await
            .unwrap();
        eprintln!(
            "audit summary of {code}: {written} rows in {:?}",
            started.elapsed()
        );
        all_rows += written;
        let mut csv = csv::Reader::from_reader(out.as_slice());
        let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header, audit_summary::header());
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), written);

        // One row per non-voided index procedure of the site's patients.
        let files = store.load_patient_files(Some(code)).await.unwrap();
        let mut expected: Vec<(String, String, String)> =
            procedures_of(&files, code, Period::default())
                .into_iter()
                .filter(|(_, _, p)| p.procedure_date <= today())
                .map(|(f, _, p)| {
                    (
                        f.patient.registry_id.to_string(),
                        p.procedure_date.to_string(),
                        p.index_limb.as_code().to_owned(),
                    )
                })
                .collect();
        expected.sort();
        let mut got: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r[col("registry_id")].to_owned(),
                    r[col("procedure_date")].to_owned(),
                    r[col("limb")].to_owned(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, expected, "{code}");
        assert!(rows.iter().all(|r| &r[col("site")] == code));

        // The 30-day columns agree with the outcomes report.
        let json = site_json(store, code, Period::default()).await;
        // DOMAIN.md section 7, which the engine and the CSV both follow: a
        // limb counts in a 30-day proportion once its window has passed by
        // the report date and its status for that outcome at day 30 is
        // known; the rest are counted beside it as status unknown.
        let day_30 = |r: &csv::StringRecord| d(&r[col("procedure_date")]) + chrono::Days::new(30);
        let died_by_30 = |r: &csv::StringRecord| {
            r[col("death_date")]
                .parse::<NaiveDate>()
                .is_ok_and(|x| x <= day_30(r))
        };
        let passed = |r: &csv::StringRecord| day_30(r) <= today();
        let engine_counts = |r: &csv::StringRecord| {
            passed(r) && matches!(&r[col("30d_major_amputation")], "yes" | "no")
        };
        // The status at day 30 is known when the event happened by then,
        // the patient died by then, or was last known alive on or after it
        // (the last only once the day has passed).
        let known_at_30 = |r: &csv::StringRecord, event: &str| {
            &r[col(event)] == "yes"
                || died_by_30(r)
                || (day_30(r) <= today() && d(&r[col("last_known_date")]) >= day_30(r))
        };
        let yes = |name: &str| {
            rows.iter()
                .filter(|r| &r[col(name)] == "yes" && passed(r))
                .count() as u64
        };
        let amputation = &json["major_amputation_30_day"];
        assert_eq!(
            yes("30d_major_amputation"),
            amputation["k"].as_u64().unwrap(),
            "{code}"
        );
        assert_eq!(
            rows.iter().filter(|r| engine_counts(r)).count() as u64,
            amputation["n"].as_u64().unwrap(),
            "{code}"
        );
        assert_eq!(
            rows.iter()
                .filter(|r| passed(r) && &r[col("30d_major_amputation")] == "unknown")
                .count() as u64,
            amputation["status_unknown"].as_u64().unwrap(),
            "{code}"
        );
        for r in &rows {
            for event in ["30d_major_amputation", "30d_death", "30d_pain"] {
                let known = matches!(&r[col(event)], "yes" | "no");
                assert_eq!(known, known_at_30(r, event), "{code} {event} {r:?}");
                if !known {
                    let not_due = day_30(r) > today();
                    assert_eq!(&r[col(event)], if not_due { "not_due" } else { "unknown" });
                }
            }
        }
        let mortality = &json["mortality_30_day"];
        assert_eq!(yes("30d_death"), mortality["k"].as_u64().unwrap(), "{code}");
        for kind in json["adverse_events_30_day"]["by_kind"].as_array().unwrap() {
            let name = format!("30d_{}", kind["kind"].as_str().unwrap());
            if header.contains(&name) {
                assert_eq!(
                    yes(&name),
                    kind["proportion"]["k"].as_u64().unwrap(),
                    "{code} {name}"
                );
            }
        }
        // Every status is one of the four words.
        for r in &rows {
            for (h, v) in header.iter().zip(r.iter()) {
                if h.ends_with("_major_amputation") || h.ends_with("_death") {
                    assert!(
                        matches!(v, "yes" | "no" | "unknown" | "not_due"),
                        "{h}: {v}"
                    );
                }
            }
        }
    }
    let mut out = Vec::new();
    let everyone = audit_summary::write(store, None, Period::default(), today(), &mut out)
        .await
        .unwrap();
    assert_eq!(everyone, all_rows);
}
