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

/// The raw content of the registry: the SQLite file and its write-ahead
/// log after a checkpoint, or a data-only `pg_dump` of the schema.
async fn raw_database(store: &Store, db_url: &str, pg: Option<(&str, &str)>) -> Vec<u8> {
    match pg {
        None => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(store.pool())
                .await
                .unwrap();
            let mut bytes = std::fs::read(db_url).unwrap();
            if let Ok(mut wal) = std::fs::read(format!("{db_url}-wal")) {
                bytes.append(&mut wal);
            }
            bytes
        }
        Some((base, schema)) => {
            let out = Command::new("pg_dump")
                .args(["--data-only", "--schema", schema, "--dbname", base])
                .output()
                .expect("pg_dump runs");
            assert!(out.status.success());
            out.stdout
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// No patient's NHS number (either way written) or name is stored in clear.
async fn assert_no_plaintext_identifiers(store: &Store, db_url: &str, pg: Option<(&str, &str)>) {
    let files = store.load_patient_files(None).await.unwrap();
    let raw = raw_database(store, db_url, pg).await;
    let mut checked = 0;
    for f in &files {
        let p = &f.patient;
        let mut needles = Vec::new();
        if let Some(n) = &p.nhs_number {
            needles.push(n.as_str().to_owned());
            needles.push(n.to_string());
        }
        // Names are common words (a synthetic registry reuses them), so
        // each is searched as the JSON string it would be stored as.
        needles.extend(p.family_name.iter().map(|n| format!("\"{n}\"")));
        needles.extend(p.given_name.iter().map(|n| format!("\"{n}\"")));
        for n in needles {
            assert!(!contains(&raw, &n), "{n} is stored in plain text");
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} identifiers were read back");
}

async fn generate_verify_tamper(db_url: &str, key_file: &str, pg: Option<(&str, &str)>) {
    let pdva = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--key-file", key_file]);
        pdva(&args)
    };
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

    let store = Store::open_with_key_file(db_url, std::path::Path::new(key_file))
        .await
        .unwrap();
    assert_no_plaintext_identifiers(&store, db_url, pg).await;

    // An administrator erases one patient's identifiers: the identifiable
    // report is unchanged (but for its data version) and the chain verifies.
    let report = |pdva: &dyn Fn(&[&str]) -> Output| {
        let out = pdva(&[
            "report",
            "outcomes",
            "--db",
            db_url,
            "--as-of",
            "2026-06-30",
            "--format",
            "json",
        ]);
        assert!(out.status.success());
        let mut json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json.as_object_mut().unwrap().remove("data_version");
        json
    };
    let before = report(&pdva);
    let files = store.load_patient_files(None).await.unwrap();
    let target = files
        .iter()
        .find(|f| f.patient.nhs_number.is_some() && f.patient.family_name.is_some())
        .unwrap();
    let registry_id = target.patient.registry_id.to_string();
    let out = pdva(&[
        "patient",
        "erase",
        "--db",
        db_url,
        "--patient",
        &registry_id,
        "--reason",
        "erasure requested by the patient",
    ]);
    assert!(out.status.success());
    assert_eq!(report(&pdva), before);
    let erased = store.patient_file(target.patient_id).await.unwrap().patient;
    assert_eq!(erased.nhs_number, None);
    assert_eq!(erased.family_name, None);
    let out = pdva(&["audit", "verify", "--db", db_url]);
    assert!(out.status.success(), "{}", stdout(&out));

    // Without its key file the registry is refused, naming the file.
    let missing = format!("{key_file}.missing");
    let out = self::pdva(&["audit", "verify", "--db", db_url, "--key-file", &missing]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&missing));
    assert!(!std::path::Path::new(&missing).exists());

    // Change one procedure's device behind the application's back.
    let id: String =
        // One whose fistula was created, so that the change below changes
        // it (ids are random: the first by id may be a failed procedure).
        sqlx::query_scalar(
            "SELECT id FROM record WHERE kind = 'procedure' \
             AND body LIKE '%\"fistula_created\":true%' ORDER BY id LIMIT 1",
        )
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

    // A report run from the command line is in the access log.
    let out = pdva(&[
        "report", "outcomes", "--db", db_url, "--site", "NGH", "--format", "json",
    ]);
    assert!(out.status.success());
    let access = pdva(&["audit", "access", "--db", db_url]);
    assert!(access.status.success());
    let text = stdout(&access);
    assert!(
        text.contains("generated a report") && text.contains("site=NGH"),
        "{text}"
    );
    let none = pdva(&["audit", "access", "--db", db_url, "--user", "nobody.here"]);
    assert!(none.status.success());
    assert!(stdout(&none).trim().is_empty(), "{}", stdout(&none));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_verify_and_detect_tampering_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let key = dir.path().join("registry.key");
    generate_verify_tamper(path.to_str().unwrap(), key.to_str().unwrap(), None).await;
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
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("registry.key");
    generate_verify_tamper(&url, key.to_str().unwrap(), Some((&base, &schema))).await;
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

/// An administrator who cannot sign in has their password reset from the
/// command line: a temporary password printed once, which signs in and must
/// be changed; the old one no longer signs in; the reason is required.
#[tokio::test]
async fn a_password_is_reset_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("r.db");
    let db_path = db_file.to_str().unwrap();
    let key_file = dir.path().join("registry.key");
    let key_path = key_file.to_str().unwrap();
    let with_key = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--key-file", key_path]);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let out = pdva(
        &with_key(&["init", "--db", db_path])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(out.status.success());
    let old_password = "the first long passphrase";
    let mut add = Command::new(env!("CARGO_BIN_EXE_pdva"))
        .args(with_key(&[
            "user",
            "add",
            "--db",
            db_path,
            "--username",
            "admin.one",
            "--role",
            "admin",
            "--all-sites",
            "--password-stdin",
        ]))
        .env_remove("PDVA_DB")
        .env_remove("PDVA_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().unwrap();
        writeln!(stdin, "{old_password}").unwrap();
    }
    let added = add.wait_with_output().unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let reset = |username: &str, reason: &str| {
        pdva(
            &with_key(&[
                "user",
                "reset-password",
                "--db",
                db_path,
                "--username",
                username,
                "--reason",
                reason,
            ])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        )
    };
    let no_one = reset("no.such.user", "locked out");
    assert!(!no_one.status.success());
    assert!(String::from_utf8_lossy(&no_one.stderr).contains("--username: no user is called"));
    let no_reason = reset("admin.one", " ");
    assert!(!no_reason.status.success());
    assert!(String::from_utf8_lossy(&no_reason.stderr).contains("reason"));

    let out = reset(" Admin.One ", "locked out of the web after a holiday");
    assert!(out.status.success());
    let temporary = stdout(&out)
        .trim_end()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(temporary.len(), 19, "{temporary}");

    let store = Store::open_with_key_file(db_path, &key_file).await.unwrap();
    let now = chrono::Utc::now();
    match store.sign_in("admin.one", &temporary, now).await.unwrap() {
        pdva_store::SignIn::Accepted(user) => assert!(user.must_change_password),
        pdva_store::SignIn::Refused => panic!("the temporary password was refused"),
    }
    assert!(matches!(
        store.sign_in("admin.one", old_password, now).await.unwrap(),
        pdva_store::SignIn::Refused
    ));
}
