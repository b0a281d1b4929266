//! `pdva export`, `pdva import` and `pdva template` as an administrator
//! and a researcher use them: a generated registry exported as tidy CSV
//! imports into a registry that does not exist yet (created with its key
//! file), exports again to the same bytes, and verifies; every export is in
//! the access log; a researcher gets only the de-identified form; the FHIR
//! export writes NDJSON and a Bundle.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn pdva_with_input(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pdva"))
        .args(args)
        .env_remove("PDVA_DB")
        .env_remove("PDVA_CONFIG")
        .env("PDVA_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pdva runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "pdva {args:?}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn pdva(args: &[&str]) -> Output {
    pdva_with_input(args, "")
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "pdva failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn csv_round_trip_through_a_new_registry_is_byte_identical_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.db");
    let b = tmp.path().join("new").join("b.db");
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    ok(&pdva(&[
        "generate",
        "--db",
        a,
        "--patients",
        "120",
        "--seed",
        "7",
        "--today",
        "2026-06-30",
    ]));
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    let said = ok(&pdva(&[
        "export",
        "csv",
        "--db",
        a,
        "--out",
        first.to_str().unwrap(),
    ]));
    assert!(said.contains("Exported 120 patient(s)"), "{said}");

    assert!(!Path::new(b).exists());
    // Checked first: everything read, nothing written.
    let said = ok(&pdva(&[
        "import",
        "--check",
        "--db",
        b,
        first.to_str().unwrap(),
    ]));
    assert!(
        said.contains("Checked: no problems. An import would add 120 patient(s)"),
        "{said}"
    );
    let said = ok(&pdva(&["import", "--db", b, first.to_str().unwrap()]));
    assert!(said.contains("Imported 120 patient(s)"), "{said}");
    assert!(
        Path::new(&format!("{b}.key")).exists(),
        "the import made the key file"
    );
    ok(&pdva(&[
        "export",
        "csv",
        "--db",
        b,
        "--out",
        second.to_str().unwrap(),
    ]));
    assert_eq!(
        files_of(&first),
        files_of(&second),
        "the round trip changed the files"
    );
    ok(&pdva(&["audit", "verify", "--db", b]));

    // Again: nothing changes.
    let said = ok(&pdva(&["import", "--db", b, first.to_str().unwrap()]));
    assert!(
        said.contains("Imported 0 patient(s), 0 record(s)"),
        "{said}"
    );

    // The output is never overwritten.
    let out = pdva(&["export", "csv", "--db", a, "--out", first.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists and is not empty"));

    // Every export is in the access log, with its kind, filters and counts.
    let log = ok(&pdva(&["audit", "access", "--db", a]));
    assert!(
        log.contains("export csv: deidentified=false; 120 patients"),
        "{log}"
    );
}

#[test]
fn a_researcher_gets_only_the_deidentified_form_and_fhir_exports_as_ndjson_and_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("r.db");
    let db = db.to_str().unwrap();
    ok(&pdva(&[
        "generate",
        "--db",
        db,
        "--patients",
        "60",
        "--seed",
        "3",
        "--today",
        "2026-06-30",
    ]));
    ok(&pdva_with_input(
        &[
            "user",
            "add",
            "--db",
            db,
            "--username",
            "rita",
            "--role",
            "researcher",
            "--all-sites",
            "--password-stdin",
        ],
        "a long enough passphrase for rita\n",
    ));
    let refused = pdva(&[
        "export",
        "csv",
        "--db",
        db,
        "--out",
        tmp.path().join("x").to_str().unwrap(),
        "--as-user",
        "rita",
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("researchers receive only the de-identified form")
    );
    assert!(!tmp.path().join("x").exists());

    let fhir = tmp.path().join("fhir");
    let said = ok(&pdva(&[
        "export",
        "fhir",
        "--db",
        db,
        "--out",
        fhir.to_str().unwrap(),
        "--deidentify",
        "--as-user",
        "rita",
    ]));
    assert!(said.contains("de-identified"), "{said}");
    let patients = std::fs::read_to_string(fhir.join("Patient.ndjson")).unwrap();
    assert!(patients.lines().count() > 0);
    assert!(
        !patients.contains("nhs-number"),
        "an NHS number in a de-identified FHIR export"
    );
    assert!(!patients.contains("birthDate"));

    let bundle = tmp.path().join("bundle.json");
    ok(&pdva(&[
        "export",
        "fhir",
        "--bundle",
        "--db",
        db,
        "--out",
        bundle.to_str().unwrap(),
    ]));
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "transaction");

    let log = ok(&pdva(&["audit", "access", "--db", db]));
    assert!(log.contains("export fhir: deidentified=true"), "{log}");
    assert!(log.contains("rita"), "{log}");
}

#[test]
fn templates_are_blank_files_with_the_headers_the_import_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("templates");
    ok(&pdva(&["template", "--out", dir.to_str().unwrap()]));
    let procedure = std::fs::read_to_string(dir.join("procedure.csv")).unwrap();
    assert!(
        procedure.starts_with("record_id,registry_id,procedure_date,index_limb"),
        "{procedure}"
    );
    assert_eq!(procedure.lines().count(), 1);
    assert!(dir.join("data_dictionary.csv").exists());
    // Blank templates import as nothing, into a new registry.
    let db = tmp.path().join("t.db");
    let said = ok(&pdva(&[
        "import",
        "--db",
        db.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]));
    assert!(said.contains("Imported 0 patient(s)"), "{said}");
}
