//! Files uploaded for an import (the administrators' upload page): tidy CSV
//! files as they are, or zip archives of them, placed in one directory that
//! [`crate::import::import`] then reads. Only a file's own name is kept (a
//! zip's folders are dropped), so nothing is written outside the directory.

use std::io::Read;
use std::path::Path;

use crate::ExchangeError;
use crate::import::ImportProblem;

/// The largest file a zip archive may unpack to, against archives that
/// unpack to far more than they weigh.
pub const MAX_UNPACKED_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Places one uploaded file in `dir`: a `.csv` file as it is, a `.zip`
/// archive as the CSV files it holds (folders, hidden files and macOS
/// resource forks ignored). Anything else, a name given twice or a broken
/// archive is a problem of the upload, named by file.
pub fn place(
    dir: &Path,
    uploaded_name: &str,
    bytes: &[u8],
) -> Result<Vec<ImportProblem>, ExchangeError> {
    let name = own_name(uploaded_name);
    let problem = |file: &str, rule: String| ImportProblem {
        file: file.to_owned(),
        line: None,
        column: None,
        value: None,
        rule,
    };
    if name.is_empty() {
        return Ok(vec![problem(uploaded_name, "has no file name".into())]);
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        return Ok(write_new(dir, &name, bytes)?
            .then(|| {
                problem(
                    &name,
                    "was uploaded twice: upload each instrument's file once".into(),
                )
            })
            .into_iter()
            .collect());
    }
    if !lower.ends_with(".zip") {
        return Ok(vec![problem(
            &name,
            "is neither a CSV file (.csv) nor a zip archive of CSV files (.zip)".into(),
        )]);
    }
    let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            return Ok(vec![problem(
                &name,
                format!("is not a readable zip archive: {e}"),
            )]);
        }
    };
    let mut problems = Vec::new();
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(e) => e,
            Err(e) => {
                problems.push(problem(&name, format!("entry {index} cannot be read: {e}")));
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let full_name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                problems.push(problem(
                    &name,
                    format!("entry {index} has no readable name: {e}"),
                ));
                continue;
            }
        };
        let inner = own_name(&full_name);
        if inner.is_empty() || inner.starts_with('.') || full_name.starts_with("__MACOSX/") {
            continue;
        }
        let shown = format!("{name}: {inner}");
        if entry.size() > MAX_UNPACKED_FILE_BYTES {
            problems.push(problem(
                &shown,
                format!(
                    "unpacks to {} bytes, more than the {MAX_UNPACKED_FILE_BYTES} an uploaded file may hold: import it with `pdva import`",
                    entry.size()
                ),
            ));
            continue;
        }
        let mut content = Vec::with_capacity(entry.size() as usize);
        if let Err(e) = (&mut entry)
            .take(MAX_UNPACKED_FILE_BYTES)
            .read_to_end(&mut content)
        {
            problems.push(problem(&shown, format!("cannot be unpacked: {e}")));
            continue;
        }
        if write_new(dir, &inner, &content)? {
            problems.push(problem(
                &shown,
                "was uploaded twice: upload each instrument's file once".into(),
            ));
        }
    }
    Ok(problems)
}

/// The last component of a name as a browser or an archive gives it
/// (either slash), so that no path reaches the file system.
fn own_name(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Writes `dir/name` unless it exists; `true` when it did (a duplicate).
fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<bool, ExchangeError> {
    let path = dir.join(name);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, bytes).map_err(|e| ExchangeError::File {
                path: path.clone(),
                source: e,
            })?;
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(true),
        Err(e) => Err(ExchangeError::File { path, source: e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut buffer = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buffer);
        for (name, text) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        buffer.into_inner()
    }

    #[test]
    fn csv_files_are_placed_by_their_own_name_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            place(dir.path(), "../../etc/patients.csv", b"a\n")
                .unwrap()
                .is_empty()
        );
        assert!(
            place(dir.path(), "C:\\Users\\x\\sites.csv", b"b\n")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            std::fs::read(dir.path().join("patients.csv")).unwrap(),
            b"a\n"
        );
        assert_eq!(std::fs::read(dir.path().join("sites.csv")).unwrap(), b"b\n");
        let twice = place(dir.path(), "patients.csv", b"c\n").unwrap();
        assert_eq!(twice.len(), 1);
        assert!(twice[0].rule.contains("twice"), "{twice:?}");
        assert_eq!(
            std::fs::read(dir.path().join("patients.csv")).unwrap(),
            b"a\n"
        );
    }

    #[test]
    fn a_zip_unpacks_its_csv_files_without_folders() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = zip_of(&[
            ("export/patients.csv", "p\n"),
            ("export/../../consent.csv", "c\n"),
            ("__MACOSX/export/._patients.csv", "junk"),
            (".DS_Store", "junk"),
        ]);
        assert!(place(dir.path(), "export.zip", &bytes).unwrap().is_empty());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["consent.csv", "patients.csv"]);
    }

    #[test]
    fn other_files_and_broken_archives_are_problems() {
        let dir = tempfile::tempdir().unwrap();
        let other = place(dir.path(), "patients.xlsx", b"PK").unwrap();
        assert!(other[0].rule.contains("neither a CSV file"), "{other:?}");
        let broken = place(dir.path(), "export.zip", b"not a zip").unwrap();
        assert!(broken[0].rule.contains("not a readable zip"), "{broken:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
