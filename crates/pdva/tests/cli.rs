//! The `pdva` command as an operator uses it: generate a registry, verify
//! its audit trail, tamper with it behind the application's back and watch
//! `pdva audit verify` fail naming the record. On SQLite always; on
//! PostgreSQL too when PDVA_TEST_POSTGRES_URL is set.

use std::process::{Command, Output};

use pdva_store::{Store, db};

fn pdva(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pdva"))
        .args(args)
        .env_remove("PDVA_DB")
        .env_remove("PDVA_CONFIG")
        .env("PDVA_LOG", "warn")
        .output()
        .expect("pdva runs");
    eprintln!(
        "pdva {args:?}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn generate_verify_tamper(db_url: &str) {
    let out = pdva(&[
        "generate",
        "--db",
        db_url,
        "--patients",
        "120",
        "--seed",
        "7",
        "--today",
        "2026-06-30",
    ]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("Generated 120 synthetic patients"),
        "{}",
        stdout(&out)
    );

    // Generating again into the same registry is refused, not duplicated.
    let again = pdva(&["generate", "--db", db_url, "--patients", "10"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));

    let out = pdva(&["audit", "verify", "--db", db_url]);
    assert!(out.status.success());
    assert!(
        stdout(&out).starts_with("Audit trail intact:"),
        "{}",
        stdout(&out)
    );

    // Change one procedure's device behind the application's back.
    let store = Store::open(db_url).await.unwrap();
    let id: String =
        sqlx::query_scalar("SELECT id FROM record WHERE kind = 'procedure' ORDER BY id LIMIT 1")
            .fetch_one(store.pool())
            .await
            .unwrap();
    sqlx::query("UPDATE record SET body = REPLACE(body, '\"fistula_created\":true', '\"fistula_created\":false') WHERE id = $1")
        .bind(&id)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;

    let out = pdva(&["audit", "verify", "--db", db_url]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("AUDIT TRAIL BROKEN"), "{text}");
    assert!(text.contains(&format!("record {id}")), "{text}");
    assert!(text.contains("changed outside the application"), "{text}");

    let log = pdva(&["audit", "log", "--db", db_url, "--record", &id]);
    assert!(log.status.success());
    assert!(stdout(&log).contains("create"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_verify_and_detect_tampering_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    generate_verify_tamper(path.to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_verify_and_detect_tampering_on_postgres() {
    let Ok(base) = std::env::var("PDVA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: PDVA_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!("pdva_cli_test_{}", std::process::id());
    db::execute_on(&base, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = db::with_search_path(&base, &schema);
    generate_verify_tamper(&url).await;
    db::execute_on(&base, &format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[test]
fn help_names_every_command() {
    let out = pdva(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for command in ["init", "serve", "generate", "demo", "audit", "bench"] {
        assert!(
            text.contains(command),
            "{command} missing from --help:\n{text}"
        );
    }
}

#[test]
fn a_bad_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pdva.toml");
    std::fs::write(&config, "database = \"x.db\"\n").unwrap();
    let out = pdva(&["--config", config.to_str().unwrap(), "init"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid"));
}
