//! The bulk import as a registry administrator meets it: the export of a
//! generated registry imports into an empty one and exports again to the
//! same bytes; importing twice changes nothing; and each kind of broken file
//! is refused with its precise place and rule, with nothing written.

mod common;

use std::path::Path;

use common::{copy_dir, export_csv, generate, open, read_table, today, write_table};
use pdva_exchange::{ExchangeError, ImportProblem};
use pdva_store::{Actor, AnyRecord, NoProgress, Store};

async fn import(store: &Store, dir: &Path) -> Result<pdva_exchange::ImportReport, ExchangeError> {
    pdva_exchange::import::import(store, dir, &Actor::new("cli:test"), today(), &NoProgress).await
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
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

#[tokio::test(flavor = "multi_thread")]
async fn an_export_imports_into_an_empty_registry_and_exports_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = open(tmp.path(), "a").await;
    generate(&a, 150, 5).await;
    let first = tmp.path().join("first");
    let summary = export_csv(&a, &first, false).await;
    assert_eq!(summary.patients, a.patient_ids().await.unwrap().len());
    assert!(summary.rows > summary.patients * 5, "{summary:?}");

    let (b, _) = open(tmp.path(), "b").await;
    let report = import(&b, &first).await.unwrap();
    assert_eq!(report.patients_written, summary.patients, "{report:?}");
    assert_eq!(report.records_written, summary.rows, "{report:?}");
    assert!(report.problems.is_empty());
    let second = tmp.path().join("second");
    export_csv(&b, &second, false).await;
    let (one, two) = (files_of(&first), files_of(&second));
    assert_eq!(one.len(), two.len());
    for ((name, bytes), (name2, bytes2)) in one.iter().zip(&two) {
        assert_eq!(name, name2);
        assert!(bytes == bytes2, "{name} differs after the round trip");
    }
    assert!(b.verify_audit(&NoProgress).await.unwrap().is_intact());

    // Idempotent: the same files again write nothing.
    let version = b.data_version().await.unwrap();
    let again = import(&b, &first).await.unwrap();
    assert_eq!(again.patients_written, 0, "{again:?}");
    assert_eq!(again.records_written, 0, "{again:?}");
    assert_eq!(again.unchanged, summary.rows);
    assert_eq!(b.data_version().await.unwrap(), version);
}

/// A baseline and a quality of life waiting for their limb's index
/// procedure (DOMAIN.md 4.5) are exported with an empty `procedure_id` and
/// their `index_limb`, and import again as they were.
#[tokio::test(flavor = "multi_thread")]
async fn records_waiting_for_their_procedure_round_trip() {
    use pdva_domain::ClinicalRecord;
    use pdva_domain::codes::Limb;
    use pdva_store::Change;

    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = open(tmp.path(), "a").await;
    generate(&a, 30, 11).await;
    // A living patient with one index procedure: the other limb is assessed.
    let mut chosen = None;
    for id in a.patient_ids().await.unwrap() {
        let file = a.patient_file(id).await.unwrap();
        if file.death().is_none() && file.procedures().count() == 1 {
            chosen = Some(file);
            break;
        }
    }
    let file = chosen.expect("a living patient with one limb treated");
    let (_, p) = file.procedures().next().unwrap();
    let other = match p.index_limb {
        Limb::Left => Limb::Right,
        Limb::Right => Limb::Left,
    };
    let date = today() - chrono::Days::new(10);
    let mut waiting = Vec::new();
    for (_, r) in &file.records {
        match r {
            ClinicalRecord::Baseline(b)
                if waiting
                    .iter()
                    .all(|w: &ClinicalRecord| w.kind() != r.kind()) =>
            {
                let mut b = b.clone();
                (b.procedure_id, b.index_limb, b.assessment_date) = (None, Some(other), date);
                b.mdt_decision_date = None;
                waiting.push(ClinicalRecord::Baseline(b));
            }
            ClinicalRecord::QualityOfLife(q)
                if waiting
                    .iter()
                    .all(|w: &ClinicalRecord| w.kind() != r.kind()) =>
            {
                let mut q = q.clone();
                (q.procedure_id, q.index_limb, q.assessment_date) = (None, Some(other), date);
                waiting.push(ClinicalRecord::QualityOfLife(q));
            }
            _ => {}
        }
    }
    assert_eq!(
        waiting.len(),
        2,
        "the patient has a baseline and a quality of life"
    );
    for record in waiting {
        let saved = a
            .save_clinical(
                &Actor::new("cli:test"),
                file.patient_id,
                Change::create(record),
                today(),
            )
            .await
            .unwrap();
        let AnyRecord::Clinical(stored) = a.get(saved.id).await.unwrap().record else {
            panic!("not clinical");
        };
        assert_eq!(stored.awaited_limb(), Some(other));
    }

    let first = tmp.path().join("first");
    export_csv(&a, &first, false).await;
    for table in ["baseline.csv", "quality_of_life.csv"] {
        let (header, rows) = read_table(&first.join(table));
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let waiting: Vec<_> = rows
            .iter()
            .filter(|r| r[col("procedure_id")].is_empty())
            .collect();
        assert_eq!(waiting.len(), 1, "{table}");
        assert_eq!(waiting[0][col("index_limb")], other.as_code(), "{table}");
    }
    let (b, _) = open(tmp.path(), "b").await;
    let report = import(&b, &first).await.unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    let second = tmp.path().join("second");
    export_csv(&b, &second, false).await;
    for ((name, bytes), (name2, bytes2)) in files_of(&first).iter().zip(&files_of(&second)) {
        assert_eq!(name, name2);
        assert!(bytes == bytes2, "{name} differs after the round trip");
    }
}

/// A broken copy of the good export: what to do to it, and the problem it
/// must be refused with.
struct Case {
    name: &'static str,
    break_it: Box<dyn Fn(&Path)>,
    expect: Box<dyn Fn(&ImportProblem) -> bool>,
}

fn set_cell(dir: &Path, file: &str, row: usize, column: &str, value: &str) {
    let path = dir.join(file);
    let (header, mut rows) = read_table(&path);
    let i = header.iter().position(|h| h == column).unwrap();
    rows[row][i] = value.to_owned();
    write_table(&path, &header, &rows);
}

fn cell(dir: &Path, file: &str, row: usize, column: &str) -> String {
    let (header, rows) = read_table(&dir.join(file));
    let i = header.iter().position(|h| h == column).unwrap();
    rows[row][i].clone()
}

fn is(file: &str, line: Option<u64>, column: Option<&str>, rule: &str, p: &ImportProblem) -> bool {
    p.file == file
        && (line.is_none() || p.line == line)
        && p.column.as_deref() == column
        && p.rule.contains(rule)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "missing column",
            break_it: Box::new(|d| {
                let path = d.join("baseline.csv");
                let (header, rows) = read_table(&path);
                let i = header.iter().position(|h| h == "diabetes").unwrap();
                let drop = |r: &Vec<String>| {
                    let mut r = r.clone();
                    r.remove(i);
                    r
                };
                write_table(
                    &path,
                    &drop(&header),
                    &rows.iter().map(drop).collect::<Vec<_>>(),
                );
            }),
            expect: Box::new(|p| is("baseline.csv", Some(1), Some("diabetes"), "missing", p)),
        },
        Case {
            name: "extra column",
            break_it: Box::new(|d| {
                let path = d.join("consent.csv");
                let (mut header, mut rows) = read_table(&path);
                header.push("favourite_colour".into());
                for r in &mut rows {
                    r.push("blue".into());
                }
                write_table(&path, &header, &rows);
            }),
            expect: Box::new(|p| {
                is(
                    "consent.csv",
                    Some(1),
                    Some("favourite_colour"),
                    "not a column",
                    p,
                )
            }),
        },
        Case {
            name: "bad date",
            break_it: Box::new(|d| set_cell(d, "procedure.csv", 0, "procedure_date", "2024-13-01")),
            expect: Box::new(|p| {
                is(
                    "procedure.csv",
                    Some(2),
                    Some("procedure_date"),
                    "not a date",
                    p,
                ) && p.value.as_deref() == Some("2024-13-01")
            }),
        },
        Case {
            name: "bad NHS number",
            break_it: Box::new(|d| {
                let (header, rows) = read_table(&d.join("patients.csv"));
                let i = header.iter().position(|h| h == "nhs_number").unwrap();
                let row = rows.iter().position(|r| !r[i].is_empty()).unwrap();
                let mut bad = rows[row][i].clone();
                let last = bad.pop().unwrap();
                bad.push(if last == '0' { '1' } else { '0' });
                set_cell(d, "patients.csv", row, "nhs_number", &bad);
            }),
            expect: Box::new(|p| {
                p.file == "patients.csv" && p.column.as_deref() == Some("nhs_number")
            }),
        },
        Case {
            name: "duplicate key",
            break_it: Box::new(|d| {
                let path = d.join("consent.csv");
                let (header, mut rows) = read_table(&path);
                rows.push(rows[0].clone());
                write_table(&path, &header, &rows);
            }),
            expect: Box::new(|p| is("consent.csv", None, Some("record_id"), "duplicate", p)),
        },
        Case {
            name: "record of a missing patient",
            break_it: Box::new(|d| {
                set_cell(d, "follow_up_visit.csv", 0, "registry_id", "P-NOSUCH99")
            }),
            expect: Box::new(|p| {
                is(
                    "follow_up_visit.csv",
                    Some(2),
                    Some("registry_id"),
                    "not a patient",
                    p,
                )
            }),
        },
        Case {
            name: "hard rule across files",
            break_it: Box::new(|d| {
                // A visit the day before its own index procedure.
                let procedure = cell(d, "follow_up_visit.csv", 0, "procedure_id");
                let (header, rows) = read_table(&d.join("procedure.csv"));
                let id = header.iter().position(|h| h == "record_id").unwrap();
                let date = header.iter().position(|h| h == "procedure_date").unwrap();
                let on: chrono::NaiveDate = rows.iter().find(|r| r[id] == procedure).unwrap()[date]
                    .parse()
                    .unwrap();
                let before = (on - chrono::Duration::days(1)).to_string();
                set_cell(d, "follow_up_visit.csv", 0, "visit_date", &before);
            }),
            expect: Box::new(|p| {
                is(
                    "follow_up_visit.csv",
                    Some(2),
                    Some("visit_date"),
                    "before_index_procedure",
                    p,
                )
            }),
        },
        Case {
            name: "Latin-1 text",
            break_it: Box::new(|d| {
                set_cell(d, "procedure.csv", 0, "device_system", "LATIN1MARK");
                let path = d.join("procedure.csv");
                let bytes = std::fs::read(&path).unwrap();
                let at = bytes.windows(10).position(|w| w == b"LATIN1MARK").unwrap();
                let mut out = bytes[..at].to_vec();
                out.extend_from_slice(b"Caf\xe9");
                out.extend_from_slice(&bytes[at + 10..]);
                std::fs::write(&path, out).unwrap();
            }),
            expect: Box::new(|p| {
                is(
                    "procedure.csv",
                    Some(2),
                    Some("device_system"),
                    "not UTF-8",
                    p,
                )
            }),
        },
        Case {
            name: "byte-order mark",
            break_it: Box::new(|d| {
                let path = d.join("sites.csv");
                let mut bytes = b"\xEF\xBB\xBF".to_vec();
                bytes.extend(std::fs::read(&path).unwrap());
                std::fs::write(&path, bytes).unwrap();
            }),
            expect: Box::new(|p| is("sites.csv", Some(1), None, "byte-order mark", p)),
        },
        Case {
            name: "truncated last line",
            break_it: Box::new(|d| {
                let path = d.join("quality_of_life.csv");
                let text = std::fs::read_to_string(&path).unwrap();
                let body = text.trim_end_matches('\n');
                let last_start = body.rfind('\n').unwrap() + 1;
                let cut = last_start + (body.len() - last_start) / 3;
                std::fs::write(&path, &body[..cut]).unwrap();
            }),
            expect: Box::new(|p| p.file == "quality_of_life.csv" && p.rule.contains("truncated")),
        },
        Case {
            name: "empty file",
            break_it: Box::new(|d| std::fs::write(d.join("death.csv"), b"").unwrap()),
            expect: Box::new(|p| is("death.csv", None, None, "is empty", p)),
        },
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn each_broken_file_is_refused_with_its_place_and_rule_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = open(tmp.path(), "a").await;
    generate(&a, 60, 9).await;
    let good = tmp.path().join("good");
    export_csv(&a, &good, false).await;
    for (n, case) in cases().into_iter().enumerate() {
        let dir = tmp.path().join(format!("case{n}"));
        copy_dir(&good, &dir);
        (case.break_it)(&dir);
        let (store, _) = open(tmp.path(), &format!("target{n}")).await;
        let version = store.data_version().await.unwrap();
        let refused = match import(&store, &dir).await {
            Err(ExchangeError::ImportRefused(report)) => report,
            other => panic!("{}: not refused: {other:?}", case.name),
        };
        assert!(
            refused.problems.iter().any(|p| (case.expect)(p)),
            "{}: the expected problem is not among:\n{}",
            case.name,
            refused
                .problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_eq!(
            store.data_version().await.unwrap(),
            version,
            "{}",
            case.name
        );
        assert!(
            store.patient_ids().await.unwrap().is_empty(),
            "{}",
            case.name
        );
        assert!(store.sites().await.unwrap().is_empty(), "{}", case.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_problem_is_listed_not_only_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = open(tmp.path(), "a").await;
    generate(&a, 30, 4).await;
    let dir = tmp.path().join("export");
    export_csv(&a, &dir, false).await;
    set_cell(&dir, "procedure.csv", 0, "procedure_date", "yesterday");
    set_cell(&dir, "procedure.csv", 1, "index_limb", "middle");
    set_cell(&dir, "baseline.csv", 0, "wifi_wound", "7");
    let (store, _) = open(tmp.path(), "target").await;
    let Err(ExchangeError::ImportRefused(report)) = import(&store, &dir).await else {
        panic!("not refused");
    };
    let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|p| p.contains("procedure.csv line 2 column procedure_date value \"yesterday\"")),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|p| p
            .contains("procedure.csv line 3 column index_limb value \"middle\": must be one of")),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|p| p.contains(
            "baseline.csv line 2 column wifi_wound value \"7\": must be a whole number from 0 to 3"
        )),
        "{shown:#?}"
    );
}

/// The same round trip across engines: a SQLite registry's export imports
/// into PostgreSQL and exports to the same bytes (when
/// PDVA_TEST_POSTGRES_URL is set).
#[tokio::test(flavor = "multi_thread")]
async fn an_export_round_trips_through_postgresql_to_the_same_bytes() {
    let Ok(base) = std::env::var("PDVA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: PDVA_TEST_POSTGRES_URL is not set");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = open(tmp.path(), "a").await;
    generate(&a, 80, 13).await;
    let first = tmp.path().join("first");
    let summary = export_csv(&a, &first, false).await;

    let schema = format!("pdva_exchange_test_{}", std::process::id());
    pdva_store::db::execute_on(&base, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = pdva_store::db::with_search_path(&base, &schema);
    let b = Store::open_with_key_file(&url, &tmp.path().join("pg.key"))
        .await
        .unwrap();
    let report = import(&b, &first).await.unwrap();
    assert_eq!(report.patients_written, summary.patients);
    let second = tmp.path().join("second");
    export_csv(&b, &second, false).await;
    let again = import(&b, &first).await.unwrap();
    assert_eq!(again.records_written, 0);
    assert!(b.verify_audit(&NoProgress).await.unwrap().is_intact());
    b.close().await;
    pdva_store::db::execute_on(&base, &format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    let (one, two) = (files_of(&first), files_of(&second));
    assert_eq!(one.len(), two.len());
    for ((name, bytes), (_, bytes2)) in one.iter().zip(&two) {
        assert!(
            bytes == bytes2,
            "{name} differs after the round trip through PostgreSQL"
        );
    }
}
