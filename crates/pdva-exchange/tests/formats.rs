//! The REDCap, ODM and XLSX exports of a generated registry, identified and
//! de-identified, each against the tidy CSV export of the same registry:
//!
//! - REDCap: the dictionary has REDCap's 18 columns in order, its variable
//!   names are valid and unique, every data column is a dictionary
//!   variable, a checkbox's code column, a `<form>_complete` or a
//!   `redcap_*` key; each value fits its variable; the rows are the CSV's
//!   patients and records, instances numbered within the patient; the
//!   reference files are the CSV export's.
//! - ODM and XLSX: read back by Python (lxml against the ODM 1.3.2 XML
//!   schema that odmlib ships; openpyxl), through `tests/exchange/check.py`
//!   with the interpreter in PDVA_EXCHANGE_PYTHON (scripts/exchange-venv).
//!   Without it they are skipped with a notice, unless
//!   PDVA_REQUIRE_EXCHANGE_TOOLS=1 (scripts/test sets both).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{export_csv, today};

use chrono::NaiveDate;
use pdva_exchange::redcap::{self, RedcapSink};
use pdva_exchange::schema::{INSTRUMENTS, Level};
use pdva_exchange::{ExportFilter, export};
use pdva_store::{NoProgress, Store};

const PATIENTS: usize = 60;

/// A generated registry (reference data, patients, the generator's voids).
async fn generate(store: &Store) {
    common::generate(store, PATIENTS, 7).await;
}

fn filter(deidentified: bool) -> ExportFilter {
    ExportFilter {
        deidentify: deidentified,
        ..ExportFilter::default()
    }
}

type Table = (Vec<String>, Vec<Vec<String>>);

fn read_csv(path: &Path) -> Table {
    common::read_table(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_matches_the_csv_export() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("t.db").to_str().unwrap().to_owned();
    let store = Store::open_with_key_file(&url, &dir.path().join("t.key"))
        .await
        .unwrap();
    generate(&store).await;
    for deidentified in [false, true] {
        let out = dir.path().join(format!("deidentified-{deidentified}"));
        std::fs::create_dir(&out).unwrap();
        let csv_dir = out.join("csv");
        let summary = export_csv(&store, &csv_dir, deidentified).await;
        assert!(summary.patients > 0);

        let redcap_dir = out.join("redcap");
        std::fs::create_dir(&redcap_dir).unwrap();
        let mut sink = RedcapSink::create(&redcap_dir, deidentified).unwrap();
        let redcap_summary = export(
            &store,
            &filter(deidentified),
            today(),
            &mut sink,
            &NoProgress,
        )
        .await
        .unwrap();
        sink.finish().unwrap();
        assert_eq!(
            redcap_summary.rows_by_instrument,
            summary.rows_by_instrument
        );
        check_redcap(&redcap_dir, &csv_dir, deidentified);

        let odm = out.join("export.xml");
        let mut sink =
            pdva_exchange::odm::OdmSink::create(&odm, deidentified, chrono::Utc::now()).unwrap();
        let odm_summary = export(
            &store,
            &filter(deidentified),
            today(),
            &mut sink,
            &NoProgress,
        )
        .await
        .unwrap();
        sink.finish().unwrap();
        assert_eq!(odm_summary.patients, summary.patients);
        python_check("odm", &odm, &csv_dir, summary.patients, !deidentified);

        let xlsx = out.join("export.xlsx");
        let mut sink = pdva_exchange::xlsx::XlsxSink::create(&xlsx, deidentified).unwrap();
        let xlsx_summary = export(
            &store,
            &filter(deidentified),
            today(),
            &mut sink,
            &NoProgress,
        )
        .await
        .unwrap();
        sink.finish(&xlsx_summary, &filter(deidentified), &[])
            .unwrap();
        assert_eq!(xlsx_summary.patients, summary.patients);
        // Nothing but the workbook is left beside it (the sheets'
        // temporary files are gone).
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        python_check("xlsx", &xlsx, &csv_dir, summary.patients, !deidentified);
    }
    store.close().await;
}

#[test]
fn a_file_export_never_overwrites_and_an_abandoned_one_leaves_nothing() {
    use pdva_exchange::ExchangeError;
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken.xml");
    std::fs::write(&taken, "keep me").unwrap();
    let refused = pdva_exchange::odm::OdmSink::create(&taken, false, chrono::Utc::now());
    assert!(matches!(refused, Err(ExchangeError::OutputFileExists(_))));
    let refused = pdva_exchange::xlsx::XlsxSink::create(&taken, false);
    assert!(matches!(refused, Err(ExchangeError::OutputFileExists(_))));
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me");

    let odm =
        pdva_exchange::odm::OdmSink::create(&dir.path().join("new.xml"), false, chrono::Utc::now())
            .unwrap();
    odm.abandon();
    let xlsx = pdva_exchange::xlsx::XlsxSink::create(&dir.path().join("new.xlsx"), false).unwrap();
    drop(xlsx);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["taken.xml"]);
}

/// A variable of the REDCap dictionary: its form, type, choices and range.
struct Variable {
    form: String,
    ty: String,
    choices: Vec<String>,
    validation: String,
    min: String,
    max: String,
    identifier: bool,
}

fn check_redcap(dir: &Path, csv_dir: &Path, deidentified: bool) {
    let (header, lines) = read_csv(&dir.join(redcap::DICTIONARY_FILE));
    assert_eq!(
        header,
        redcap::DICTIONARY_HEADER,
        "REDCap's 18 columns in order"
    );
    assert_eq!(lines[0][0], "record_id", "record_id is the first variable");
    assert_eq!(lines[0][1], "patients", "in the first form");
    let mut variables: HashMap<String, Variable> = HashMap::new();
    for line in &lines {
        assert_eq!(line.len(), 18);
        let name = &line[0];
        assert!(redcap::is_valid_name(name), "{name}");
        let limit = if line[3] == "checkbox" {
            redcap::MAX_CHECKBOX_NAME
        } else {
            redcap::MAX_NAME
        };
        assert!(name.len() <= limit, "{name}");
        let choices: Vec<String> = if line[5].is_empty() {
            vec![]
        } else {
            line[5]
                .split(" | ")
                .map(|c| c.split_once(", ").unwrap().0.to_owned())
                .collect()
        };
        for code in &choices {
            assert!(redcap::is_raw_value(code), "{name}: {code}");
        }
        let previous = variables.insert(
            name.clone(),
            Variable {
                form: line[1].clone(),
                ty: line[3].clone(),
                choices,
                validation: line[7].clone(),
                min: line[8].clone(),
                max: line[9].clone(),
                identifier: line[10] == "y",
            },
        );
        assert!(previous.is_none(), "{name} is declared twice");
    }
    if deidentified {
        let identifying: Vec<_> = variables
            .iter()
            .filter(|(_, v)| v.identifier)
            .map(|(n, _)| n)
            .collect();
        assert!(identifying.is_empty(), "identifiers: {identifying:?}");
    } else {
        for name in ["record_id", "nhs_number", "family_name", "date_of_birth"] {
            assert!(variables[name].identifier, "{name} is an identifier");
        }
    }
    let forms: HashSet<&str> = variables.values().map(|v| v.form.as_str()).collect();

    // Every data column is declared.
    let (data_header, data) = read_csv(&dir.join(redcap::DATA_FILE));
    assert_eq!(data_header[..4], redcap::DATA_KEYS);
    let mut column_of: Vec<(&str, Option<&str>)> = Vec::new();
    for column in &data_header {
        if let Some((variable, code)) = column.split_once("___") {
            let v = &variables[variable];
            assert_eq!(v.ty, "checkbox", "{column}");
            assert!(v.choices.iter().any(|c| c == code), "{column}");
            column_of.push((variable, Some(code)));
        } else if let Some(form) = column.strip_suffix("_complete") {
            assert!(forms.contains(form), "{column}");
            column_of.push((column, None));
        } else if column.starts_with("redcap_") {
            column_of.push((column, None));
        } else {
            assert!(variables.contains_key(column), "{column} is not declared");
            column_of.push((column, None));
        }
    }

    // Each value fits its variable; each line fills only its form.
    let date = regex_free_date;
    let mut instances: HashMap<(String, String), u32> = HashMap::new();
    let mut rows_per_form: HashMap<String, usize> = HashMap::new();
    for line in &data {
        assert_eq!(line[1], redcap::EVENT);
        let form = if line[2].is_empty() {
            "patients".to_owned()
        } else {
            line[2].clone()
        };
        *rows_per_form.entry(form.clone()).or_default() += 1;
        if form != "patients" {
            let n = instances
                .entry((line[0].clone(), form.clone()))
                .or_default();
            *n += 1;
            assert_eq!(line[3], n.to_string(), "instances count within the patient");
        }
        if deidentified {
            assert!(line[0].starts_with("R-"), "a pseudonym: {}", line[0]);
        }
        for ((column, value), (variable, code)) in
            data_header.iter().zip(line).zip(&column_of).skip(4)
        {
            let in_form = match variables.get(*variable) {
                Some(v) => v.form == form,
                None => column.strip_suffix("_complete") == Some(form.as_str()),
            };
            if !in_form {
                assert!(value.is_empty(), "{column} filled on a {form} line");
                continue;
            }
            if column.ends_with("_complete") {
                assert_eq!(value, "2");
                continue;
            }
            let v = &variables[*variable];
            if code.is_some() {
                assert!(value == "0" || value == "1", "{column}: {value}");
                continue;
            }
            if value.is_empty() {
                continue;
            }
            match (v.ty.as_str(), v.validation.as_str()) {
                ("dropdown", _) => assert!(v.choices.contains(value), "{column}: {value}"),
                ("yesno", _) => assert!(value == "0" || value == "1", "{column}: {value}"),
                (_, "date_ymd") => assert!(date(value), "{column}: {value}"),
                (_, "integer") => {
                    let n: i64 = value.parse().unwrap();
                    assert!(v.min.is_empty() || n >= v.min.parse().unwrap(), "{column}");
                    assert!(v.max.is_empty() || n <= v.max.parse().unwrap(), "{column}");
                }
                (_, "number") => {
                    let n: f64 = value.parse().unwrap();
                    assert!(v.min.is_empty() || n >= v.min.parse().unwrap(), "{column}");
                    assert!(v.max.is_empty() || n <= v.max.parse().unwrap(), "{column}");
                }
                _ => {}
            }
        }
    }

    // The same patients and records as the CSV export, and the same
    // reference files.
    for instrument in INSTRUMENTS {
        let csv_file = csv_dir.join(format!("{}.csv", instrument.name));
        let (_, csv_rows) = read_csv(&csv_file);
        if instrument.level == Level::Registry {
            let reference = dir
                .join(redcap::REFERENCE_DIR)
                .join(format!("{}.csv", instrument.name));
            assert_eq!(
                std::fs::read(&reference).unwrap(),
                std::fs::read(&csv_file).unwrap(),
                "{}",
                instrument.name
            );
        } else {
            assert_eq!(
                rows_per_form.get(instrument.name).copied().unwrap_or(0),
                csv_rows.len(),
                "{}",
                instrument.name
            );
        }
    }
    for file in [redcap::MAPPING_FILE, redcap::README_FILE] {
        assert!(dir.join(file).is_file(), "{file}");
    }
}

fn regex_free_date(text: &str) -> bool {
    text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// Runs `tests/exchange/check.py` on a file, or says why it is skipped.
fn python_check(kind: &str, file: &Path, csv_dir: &Path, patients: usize, same_values: bool) {
    let Some(python) = std::env::var_os("PDVA_EXCHANGE_PYTHON") else {
        assert!(
            std::env::var("PDVA_REQUIRE_EXCHANGE_TOOLS").as_deref() != Ok("1"),
            "PDVA_REQUIRE_EXCHANGE_TOOLS=1 but PDVA_EXCHANGE_PYTHON is not set \
             (scripts/exchange-venv prints it)"
        );
        eprintln!(
            "skipping the {kind} read-back: set PDVA_EXCHANGE_PYTHON to the python of \
             scripts/exchange-venv (scripts/test does)"
        );
        return;
    };
    let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "../../tests/exchange/check.py"]
        .iter()
        .collect();
    let output = Command::new(python)
        .arg(script)
        .args([kind, file.to_str().unwrap(), csv_dir.to_str().unwrap()])
        .arg(patients.to_string())
        .arg(if same_values { "1" } else { "0" })
        .output()
        .expect("the exchange python runs");
    assert!(
        output.status.success(),
        "{kind} read-back failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
}
