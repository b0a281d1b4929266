//! The store's fast reads of the patients' outcome facts, from the outcome
//! facts table (`Store::for_each_patient_facts`) and from the record bodies
//! (`Store::for_each_patient_facts_from_records`), against the whole patient
//! files (`Store::load_patient_files`) on a generated registry: the same
//! facts, the same derived limbs and the same report, after voids of records
//! and of a whole patient and a patient's move to another site, with the
//! site filter applied. Then the table's guards: `audit verify` finds a row
//! changed behind the application's back, `rebuild_outcome_facts` mends it,
//! and a store opened without the table (or with an older format) builds it.
//! On SQLite always; on PostgreSQL too when PDVA_TEST_POSTGRES_URL is set.

use std::process::Command;

use chrono::NaiveDate;
use pdva_domain::{PatientFacts, RecordKind};
use pdva_outcomes::{CohortBuilder, Filter, IndexLimb, ReportRequest};
use pdva_store::{Actor, AnyRecord, Change, Edit, Engine, NoProgress, Store, db};

/// The key file of a registry under test: beside a SQLite file, or in the
/// system's temporary directory for a PostgreSQL schema (not the working
/// directory, where a postgres:// URL's key file goes by default).
fn key_file(db_url: &str) -> std::path::PathBuf {
    match Engine::of(db_url) {
        Engine::Sqlite => pdva_store::default_key_file(db_url),
        Engine::Postgres => std::env::temp_dir().join(pdva_store::default_key_file(db_url)),
    }
}

async fn open(db_url: &str) -> Store {
    Store::open_with_key_file(db_url, &key_file(db_url))
        .await
        .unwrap()
}

fn generate(db_url: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_pdva"))
        .args([
            "generate",
            "--key-file",
            key_file(db_url).to_str().unwrap(),
            "--db",
            db_url,
            "--patients",
            "400",
            "--seed",
            "11",
            "--today",
            "2026-06-30",
        ])
        .env_remove("PDVA_DB")
        .env_remove("PDVA_CONFIG")
        .env("PDVA_LOG", "warn")
        .output()
        .expect("pdva runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn by_limb(mut limbs: Vec<IndexLimb>) -> Vec<IndexLimb> {
    limbs.sort_by_key(|l| (l.patient_id, l.procedure_id));
    limbs
}

/// Where a test reads the facts from.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// The outcome facts table (what reports read).
    Table,
    /// The record bodies (what the table is built and verified from).
    Bodies,
}

/// Every patient's facts by `route`, ordered by patient.
async fn facts_by(store: &Store, route: Route, site: Option<&str>) -> Vec<PatientFacts> {
    let mut all = Vec::new();
    let visit = |f| all.push(f);
    match route {
        Route::Table => store.for_each_patient_facts(site, visit).await,
        Route::Bodies => store.for_each_patient_facts_from_records(site, visit).await,
    }
    .unwrap();
    all.sort_by_key(|f| f.patient_id);
    all
}

async fn streamed(store: &Store, site: Option<&str>) -> Vec<PatientFacts> {
    facts_by(store, Route::Table, site).await
}

/// Both fast reads give the facts of the patient files.
async fn assert_facts_match_files(store: &Store, site: Option<&str>) {
    let files = store.load_patient_files(site).await.unwrap();
    assert!(!files.is_empty());
    let mut expected: Vec<PatientFacts> = files.iter().map(PatientFacts::from).collect();
    expected.sort_by_key(|f| f.patient_id);
    // The hint made before a scan bounds it from above on SQLite; on
    // PostgreSQL it is the planner's estimate.
    let hint = store.outcome_facts_size_hint().await.unwrap();
    if store.engine() == Engine::Sqlite {
        assert!(
            hint >= expected.len(),
            "site {site:?}: hint {hint} < {}",
            expected.len()
        );
    }
    for route in [Route::Table, Route::Bodies] {
        let facts = facts_by(store, route, site).await;
        assert_eq!(
            facts.len(),
            expected.len(),
            "{route:?}, site {site:?}: patients"
        );
        for (ours, theirs) in facts.iter().zip(&expected) {
            assert_eq!(
                ours, theirs,
                "{route:?}, site {site:?}: patient {}",
                theirs.patient_id
            );
        }
    }
}

async fn fast_path_equals_patient_files(db_url: &str) {
    generate(db_url);
    let store = open(db_url).await;
    let actor = Actor::new("cli:test");

    // Void a few more records, of kinds that move the endpoints (a death,
    // an amputation, a visit), besides the generator's own voids.
    for kind in ["death", "amputation", "follow_up_visit"] {
        let id: String = sqlx::query_scalar(
            "SELECT id FROM record WHERE kind = $1 AND voided = 0 ORDER BY id LIMIT 1",
        )
        .bind(kind)
        .fetch_one(store.pool())
        .await
        .unwrap();
        store
            .void(&actor, id.parse().unwrap(), "entered in error (test)")
            .await
            .unwrap();
    }
    // Void a whole patient, and move another to a second site: both change
    // which site's report the patient's facts belong to.
    let reference = store.reference_data().await.unwrap();
    let mut sites: Vec<String> = reference.sites.keys().map(|s| s.to_string()).collect();
    sites.sort();
    let patients = store.patient_ids().await.unwrap();
    store
        .void(&actor, patients[0], "registered in error (test)")
        .await
        .unwrap();
    let moved = store.get(patients[1]).await.unwrap();
    let AnyRecord::Patient(mut patient) = moved.record else {
        panic!("not a patient")
    };
    let other_site = sites
        .iter()
        .find(|s| s.as_str() != patient.home_site.as_str())
        .unwrap();
    patient.home_site = other_site.parse().unwrap();
    store
        .save_patient(
            &actor,
            Change {
                edit: Some(Edit {
                    id: patients[1],
                    expected_version: moved.meta.version,
                }),
                record: patient,
                reason: Some("moved to another site (test)".into()),
                acknowledge_warnings: true,
            },
            "2026-06-30".parse().unwrap(),
        )
        .await
        .unwrap();
    let moved_facts = streamed(&store, Some(other_site)).await;
    assert!(moved_facts.iter().any(|f| f.patient_id == patients[1]));
    assert!(
        !streamed(&store, None)
            .await
            .iter()
            .any(|f| f.patient_id == patients[0])
    );

    let voided: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM record WHERE voided = 1")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(voided >= 3);

    for (site, as_of) in [
        (None, "2026-06-30"),
        (None, "2025-01-31"),
        (Some(sites[0].as_str()), "2026-06-30"),
    ] {
        let as_of: NaiveDate = as_of.parse().unwrap();
        assert_facts_match_files(&store, site).await;
        let files = store.load_patient_files(site).await.unwrap();

        let filter = Filter {
            site: site.map(str::to_owned),
            ..Filter::default()
        }
        .resolve(&reference)
        .unwrap();
        let mut cohort = CohortBuilder::new(&filter, as_of);
        store
            .for_each_patient_facts(site, |f| cohort.add(&f))
            .await
            .unwrap();
        let limbs = cohort.finish();
        let from_files = pdva_outcomes::cohort(&files, &filter, as_of);
        assert!(!limbs.is_empty());
        assert_eq!(by_limb(limbs.clone()), by_limb(from_files.clone()));

        let request = ReportRequest {
            as_of,
            filter,
            data_version: store.data_version().await.unwrap().to_string(),
        };
        let ours = pdva_outcomes::report_from_limbs(&limbs, &reference, &request).unwrap();
        let theirs = pdva_outcomes::build_report(&files, &reference, &request).unwrap();
        assert_eq!(
            serde_json::to_value(&ours).unwrap(),
            serde_json::to_value(&theirs).unwrap(),
            "site {site:?}, as of {as_of}: report"
        );
    }
    assert!(store.verify_audit(&NoProgress).await.unwrap().is_intact());

    // Each site's counts (read from the table) add up its patient files.
    let files = store.load_patient_files(None).await.unwrap();
    let counts = store.site_counts().await.unwrap();
    assert_eq!(
        counts.iter().map(|c| c.patients).sum::<i64>(),
        files.len() as i64
    );
    for c in &counts {
        let mine: Vec<_> = files
            .iter()
            .filter(|f| f.patient.home_site.as_str() == c.site_code)
            .collect();
        let n = |kind: RecordKind| {
            mine.iter()
                .flat_map(|f| &f.records)
                .filter(|(_, r)| r.kind() == kind)
                .count() as i64
        };
        assert_eq!(
            (c.patients, c.procedures, c.visits, c.deaths),
            (
                mine.len() as i64,
                n(RecordKind::Procedure),
                n(RecordKind::FollowUpVisit),
                n(RecordKind::Death)
            ),
            "site {}",
            c.site_code
        );
    }

    // Rows changed behind the application's back are found, and mended: a
    // site moved, one patient's facts replaced by another's, and a count.
    sqlx::query("UPDATE outcome_facts SET site_code = 'ZZ' WHERE patient_id = $1")
        .bind(patients[2].to_string())
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE outcome_facts SET facts = (SELECT o.facts FROM outcome_facts o \
         WHERE o.patient_id = $1) WHERE patient_id = $2",
    )
    .bind(patients[4].to_string())
    .bind(patients[3].to_string())
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE outcome_facts SET visits = visits + 1 WHERE patient_id = $1")
        .bind(patients[5].to_string())
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify_audit(&NoProgress).await.unwrap();
    let mut named: Vec<String> = report.breaks.iter().map(|b| b.record_id.clone()).collect();
    named.sort();
    let mut expected = vec![
        patients[2].to_string(),
        patients[3].to_string(),
        patients[5].to_string(),
    ];
    expected.sort();
    assert_eq!(named, expected, "{:?}", report.breaks);
    assert!(
        report
            .breaks
            .iter()
            .all(|b| b.problem.contains("rebuild-outcome-facts"))
    );
    let rebuilt = store.rebuild_outcome_facts().await.unwrap();
    assert_eq!(rebuilt, store.patient_ids().await.unwrap().len());
    assert!(store.verify_audit(&NoProgress).await.unwrap().is_intact());
    assert_facts_match_files(&store, None).await;

    // A registry whose table is missing or of another format gets it built
    // when it is opened.
    sqlx::query("DELETE FROM outcome_facts")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE projection_state SET format = format + 100")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let store = open(db_url).await;
    assert_facts_match_files(&store, None).await;
    assert_facts_match_files(&store, Some(other_site)).await;
    assert!(store.verify_audit(&NoProgress).await.unwrap().is_intact());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_path_equals_patient_files_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    fast_path_equals_patient_files(path.to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_path_equals_patient_files_on_postgres() {
    let Ok(base) = std::env::var("PDVA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: PDVA_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!("pdva_facts_test_{}", std::process::id());
    db::execute_on(&base, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = db::with_search_path(&base, &schema);
    fast_path_equals_patient_files(&url).await;
    db::execute_on(&base, &format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    let _ = std::fs::remove_file(key_file(&url));
}
