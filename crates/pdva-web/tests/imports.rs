//! The administrators' import page as they meet it: the tidy CSV export of
//! one registry uploaded into another, checked first (nothing written),
//! then imported as a zip archive, then uploaded again (nothing changes);
//! a broken file refused with its file, line, column, value and rule and
//! nothing written; an upload without the form's CSRF token refused; the
//! blank templates downloadable.

mod common;

use std::io::{Read, Write};
use std::path::Path;

use axum::body::Body;
use axum::http::Request;
use common::*;
use pdva_exchange::{ExportFilter, ExportKind};
use pdva_store::{NoProgress, Role, SiteAccess, Store};

const BOUNDARY: &str = "----pdva-test-boundary-7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body: text fields, then files.
fn multipart(fields: &[(&str, &str)], files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        write!(
            body,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .unwrap();
    }
    for (file_name, bytes) in files {
        write!(
            body,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{BOUNDARY}--\r\n").unwrap();
    body
}

async fn upload(store: &Store, who: &Signed, body: Vec<u8>) -> Answer {
    send(
        store,
        Request::post("/admin/import")
            .header("host", HOST)
            .header("origin", format!("http://{HOST}"))
            .header("cookie", &who.cookie)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// The instrument files of a directory, by name.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    for (name, bytes) in files {
        zip.start_file(
            format!("export/{name}"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    buffer.into_inner()
}

/// The tidy CSV export of a generated registry of `patients`: its
/// directory (kept while the files are used), its files, and what it wrote.
async fn exported_registry(
    patients: usize,
) -> (
    tempfile::TempDir,
    Vec<(String, Vec<u8>)>,
    pdva_exchange::ExportSummary,
) {
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = synthetic_registry(&dir, patients).await;
    let exported = dir.path().join("export");
    let summary = pdva_exchange::export_to(
        &source,
        ExportKind::Csv,
        &ExportFilter::default(),
        synthetic_today(),
        &exported,
        &NoProgress,
        &[],
    )
    .await
    .unwrap();
    (dir, files_of(&exported), summary)
}

async fn patients(store: &Store) -> usize {
    store.patient_ids_in_order(None).await.unwrap().len()
}

/// An empty registry with an administrator signed in.
async fn empty_registry(dir: &tempfile::TempDir) -> (Store, Signed) {
    let store = Store::open(dir.path().join("target.db").to_str().unwrap())
        .await
        .unwrap();
    let admin = user(&store, "admin.import", Role::Admin, SiteAccess::All).await;
    let who = session(&store, &admin).await;
    (store, who)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_checks_then_imports_an_export_and_a_second_upload_changes_nothing() {
    let (_source, files, summary) = exported_registry(25).await;

    let target_dir = tempfile::tempdir().unwrap();
    let (target, who) = empty_registry(&target_dir).await;
    let page = get(&target, "/admin/import", Some(&who)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("enctype=\"multipart/form-data\""));

    // Checked: every file read, nothing written.
    let as_parts: Vec<(&str, Vec<u8>)> =
        files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let checked = upload(
        &target,
        &who,
        multipart(&[("_csrf", &who.csrf), ("mode", "check")], &as_parts),
    )
    .await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(
        checked.body.contains("Checked: no problems"),
        "{}",
        checked.body
    );
    assert!(
        checked
            .body
            .contains(&format!("would add {} patient(s)", summary.patients)),
        "{}",
        checked.body
    );
    assert_eq!(patients(&target).await, 0, "a check writes nothing");

    // Imported from a zip archive whose files sit in a folder.
    let archive = zip_of(&files);
    let imported = upload(
        &target,
        &who,
        multipart(
            &[("_csrf", &who.csrf), ("mode", "import")],
            &[("export.zip", archive.clone())],
        ),
    )
    .await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert!(
        imported.body.contains(&format!(
            "Imported</strong> {} patient(s)",
            summary.patients
        )),
        "{}",
        imported.body
    );
    assert_eq!(patients(&target).await, summary.patients);
    // Under the administrator's name in the audit trail.
    let history = target
        .audit_log(
            Some(target.patient_ids_in_order(None).await.unwrap()[0]),
            10,
        )
        .await
        .unwrap();
    assert!(
        history.iter().any(|h| h.actor == "admin.import"),
        "{history:?}"
    );

    // The same files again: nothing new.
    let again = upload(
        &target,
        &who,
        multipart(
            &[("_csrf", &who.csrf), ("mode", "import")],
            &[("export.zip", archive)],
        ),
    )
    .await;
    assert!(
        again
            .body
            .contains("Imported</strong> 0 patient(s) and 0 record(s)"),
        "{}",
        again.body
    );
    assert_eq!(patients(&target).await, summary.patients);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_is_refused_with_its_place_and_nothing_is_written() {
    let (_source, mut files, _) = exported_registry(5).await;
    // The second patient's date of birth made impossible.
    let (_, patients_csv) = files.iter_mut().find(|(n, _)| n == "patients.csv").unwrap();
    let text = String::from_utf8(patients_csv.clone()).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "date_of_birth").unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[2].split(',').map(str::to_owned).collect();
    let original = cells[column].clone();
    cells[column] = "1950-02-30".into();
    lines[2] = cells.join(",");
    *patients_csv = format!("{}\n", lines.join("\n")).into_bytes();
    assert_ne!(original, "1950-02-30");

    let target_dir = tempfile::tempdir().unwrap();
    let (target, who) = empty_registry(&target_dir).await;
    let parts: Vec<(&str, Vec<u8>)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .chain([("notes.txt", b"hello".to_vec())])
        .collect();
    let refused = upload(
        &target,
        &who,
        multipart(&[("_csrf", &who.csrf), ("mode", "import")], &parts),
    )
    .await;
    assert_eq!(refused.status, 200, "{}", refused.body);
    assert!(
        refused.body.contains("Nothing was imported"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("<td>notes.txt</td>") && refused.body.contains("neither a CSV file"),
        "{}",
        refused.body
    );
    assert_eq!(patients(&target).await, 0);

    // Without the stray file, the bad date is named in its place.
    let parts: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let refused = upload(
        &target,
        &who,
        multipart(&[("_csrf", &who.csrf), ("mode", "import")], &parts),
    )
    .await;
    assert!(
        refused.body.contains(
            "<tr><td>patients.csv</td><td>3</td><td>date_of_birth</td><td>1950-02-30</td>"
        ),
        "{}",
        refused.body
    );
    assert_eq!(patients(&target).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_without_the_forms_token_is_refused_and_templates_download() {
    let dir = tempfile::tempdir().unwrap();
    let (store, who) = empty_registry(&dir).await;
    let forged = upload(
        &store,
        &who,
        multipart(
            &[("mode", "import")],
            &[("patients.csv", b"registry_id\n".to_vec())],
        ),
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let wrong = upload(
        &store,
        &who,
        multipart(
            &[("_csrf", "not-the-token"), ("mode", "import")],
            &[("patients.csv", b"registry_id\n".to_vec())],
        ),
    )
    .await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);

    // The upload's own limit, far above a form's 256 KiB.
    let large = "x".repeat(2 * 1024 * 1024);
    let big = upload(
        &store,
        &who,
        multipart(
            &[("_csrf", &who.csrf), ("mode", "check")],
            &[("notes.txt", large.into_bytes())],
        ),
    )
    .await;
    assert_eq!(big.status, 200, "{}", big.body);
    assert!(big.body.contains("neither a CSV file"), "{}", big.body);

    let nothing = upload(&store, &who, multipart(&[("_csrf", &who.csrf)], &[])).await;
    assert_eq!(nothing.status, 422, "{}", nothing.body);
    assert!(nothing.body.contains("no file was uploaded"));

    let response = download(&store, "/admin/import/templates", &who).await;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(response)).unwrap();
    let mut header = String::new();
    archive
        .by_name("patients.csv")
        .unwrap()
        .read_to_string(&mut header)
        .unwrap();
    assert!(
        header.starts_with("record_id,registry_id,") && header.lines().count() == 1,
        "{header}"
    );
    assert!(archive.by_name("data_dictionary.csv").is_ok());
}

/// A GET as the user, its body read as bytes.
async fn download(store: &Store, path: &str, who: &Signed) -> Vec<u8> {
    use tower::ServiceExt;
    let response = pdva_web::router(store.clone())
        .oneshot(
            Request::get(path)
                .header("host", HOST)
                .header("cookie", &who.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}
