//! The store's fast read of the patients' outcome facts
//! (`Store::for_each_patient_facts`) against the whole patient files
//! (`Store::load_patient_files`) on a generated registry: the same facts, the
//! same derived limbs and the same report, with voided records left out and
//! the site filter applied. On SQLite always; on PostgreSQL too when
//! PDVA_TEST_POSTGRES_URL is set.

use std::process::Command;

use chrono::NaiveDate;
use pdva_domain::PatientFacts;
use pdva_outcomes::{CohortBuilder, Filter, IndexLimb, ReportRequest};
use pdva_store::{Actor, Store, db};

fn generate(db_url: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_pdva"))
        .args([
            "generate",
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

async fn streamed(store: &Store, site: Option<&str>) -> Vec<PatientFacts> {
    let mut all = Vec::new();
    store
        .for_each_patient_facts(site, |f| all.push(f))
        .await
        .unwrap();
    all.sort_by_key(|f| f.patient_id);
    all
}

async fn fast_path_equals_patient_files(db_url: &str) {
    generate(db_url);
    let store = Store::open(db_url).await.unwrap();
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
    let voided: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM record WHERE voided = 1")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(voided >= 3);

    let reference = store.reference_data().await.unwrap();
    let mut sites: Vec<String> = reference.sites.keys().map(|s| s.to_string()).collect();
    sites.sort();
    for (site, as_of) in [
        (None, "2026-06-30"),
        (None, "2025-01-31"),
        (Some(sites[0].as_str()), "2026-06-30"),
    ] {
        let as_of: NaiveDate = as_of.parse().unwrap();
        let files = store.load_patient_files(site).await.unwrap();
        assert!(!files.is_empty());
        let mut expected: Vec<PatientFacts> = files.iter().map(PatientFacts::from).collect();
        expected.sort_by_key(|f| f.patient_id);
        let facts = streamed(&store, site).await;
        assert_eq!(facts.len(), expected.len(), "site {site:?}: patients");
        for (ours, theirs) in facts.iter().zip(&expected) {
            assert_eq!(ours, theirs, "site {site:?}: patient {}", theirs.patient_id);
        }

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
}
