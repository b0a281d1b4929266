//! The bulk import of tidy CSV files (the export's own form, or the blank
//! templates filled in): **all or nothing**. Every file is read and every
//! row checked — cell types, codes, the domain's constructors, keys and
//! references across files, and the same clinical rules as a form — before
//! anything is written; any hard problem refuses the whole import and the
//! report lists every one (file, row, column, value, rule). Soft warnings
//! are listed and accepted. Records already in the registry with the same
//! content are skipped, so importing the same files twice changes nothing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use pdva_domain::{
    ClinicalRecord, Clinician, GovernanceMeeting, Patient, PatientFile, RecordId, RecordKind,
    ReferenceData, Site, check_file,
};
use pdva_store::{Actor, AnyRecord, Progress, Store};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ExchangeError;
use crate::cells::{place, value};
use crate::schema::{Column, INSTRUMENTS, Instrument, columns};
use crate::tidy::{DICTIONARY_FILE, file_name};

/// One problem (or warning) of an import, placed as precisely as it can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportProblem {
    /// The file.
    pub file: String,
    /// The line of the file (the header is line 1), if the problem is in a row.
    pub line: Option<u64>,
    /// The column, if one.
    pub column: Option<String>,
    /// The value found, if one.
    pub value: Option<String>,
    /// The rule broken, in words.
    pub rule: String,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, " column {column}")?;
        }
        if let Some(value) = &self.value {
            write!(f, " value \"{value}\"")?;
        }
        write!(f, ": {}", self.rule)
    }
}

/// What an import found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Hard problems: any one refuses the whole import.
    pub problems: Vec<ImportProblem>,
    /// Soft warnings, accepted and recorded in the audit trail.
    pub warnings: Vec<ImportProblem>,
    /// Rows read, over every file.
    pub rows_read: usize,
    /// Patients written.
    pub patients_written: usize,
    /// Records written (patients and reference records included).
    pub records_written: usize,
    /// Rows already in the registry with the same content (skipped).
    pub unchanged: usize,
    /// The data version after the import.
    pub data_version: Option<String>,
}

/// Where a record came from, to place the problems found in it.
#[derive(Debug, Clone)]
struct Origin {
    file: &'static str,
    line: u64,
}

/// One parsed row.
struct ParsedRow {
    origin: Origin,
    record_id: RecordId,
    registry_id: Option<String>,
    fields: Map<String, Value>,
}

/// Reads the files of `path` (a directory of tidy CSV files, or one file),
/// checks everything, and writes it in one transaction, or nothing.
pub async fn import(
    store: &Store,
    path: &Path,
    actor: &Actor,
    today: NaiveDate,
    progress: &dyn Progress,
) -> Result<ImportReport, ExchangeError> {
    read_check_and_write(store, path, Some(actor), today, progress).await
}

/// Reads and checks the files of `path` exactly as [`import`] does, and
/// writes nothing: the report says what an import would write
/// (`patients_written` and `records_written` count what it would add).
pub async fn check(
    store: &Store,
    path: &Path,
    today: NaiveDate,
    progress: &dyn Progress,
) -> Result<ImportReport, ExchangeError> {
    read_check_and_write(store, path, None, today, progress).await
}

/// The import, writing only when an actor is given.
async fn read_check_and_write(
    store: &Store,
    path: &Path,
    actor: Option<&Actor>,
    today: NaiveDate,
    progress: &dyn Progress,
) -> Result<ImportReport, ExchangeError> {
    let mut report = ImportReport::default();
    let files = files_to_read(path, &mut report)?;
    let total: u64 = files
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    progress.start("reading import files", total);
    let mut rows: Vec<(&'static Instrument, Vec<ParsedRow>)> = Vec::new();
    for (instrument, file) in &files {
        let parsed = read_file(instrument, file, &mut report, progress)?;
        rows.push((instrument, parsed));
    }
    let staged = assemble(store, rows, &mut report).await?;
    let Some(staged) = staged else {
        return Err(ExchangeError::ImportRefused(Box::new(report)));
    };

    // The same clinical rules as a form, over every new patient's file.
    let reference = staged.reference.clone();
    progress.start("checking patients", staged.files.len() as u64);
    for file in &staged.files {
        let checked = check_file(file, &reference, today);
        for finding in checked.refusals {
            report
                .problems
                .push(finding_problem(&staged.origins, &finding));
        }
        for finding in checked.warnings {
            report
                .warnings
                .push(finding_problem(&staged.origins, &finding));
        }
        progress.advance(1);
    }
    if !report.problems.is_empty() {
        return Err(ExchangeError::ImportRefused(Box::new(report)));
    }
    if staged.reference_records.is_empty() && staged.files.is_empty() {
        report.data_version = Some(store.data_version().await?.to_string());
        return Ok(report);
    }
    let Some(actor) = actor else {
        report.patients_written = staged.files.len();
        report.records_written = staged.reference_records.len()
            + staged
                .files
                .iter()
                .map(|f| 1 + f.records.len())
                .sum::<usize>();
        report.data_version = Some(store.data_version().await?.to_string());
        return Ok(report);
    };
    progress.start("writing", 1);
    let (summary, version) = store
        .import_registry(
            actor,
            &staged.reference_records,
            &staged.files,
            &reference,
            today,
        )
        .await?;
    progress.advance(1);
    report.patients_written = summary.patients;
    report.records_written = summary.records;
    report.data_version = Some(version.to_string());
    Ok(report)
}

/// The instrument files to read, in the schema's order.
fn files_to_read(
    path: &Path,
    report: &mut ImportReport,
) -> Result<Vec<(&'static Instrument, PathBuf)>, ExchangeError> {
    let io = |e: std::io::Error| ExchangeError::File {
        path: path.to_owned(),
        source: e,
    };
    let mut found: Vec<PathBuf> = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?;
            let p = entry.path();
            if p.is_file() {
                found.push(p);
            }
        }
    } else if path.is_file() {
        found.push(path.to_owned());
    } else {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or directory",
        )));
    }
    let mut files = Vec::new();
    for p in found {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == DICTIONARY_FILE || name.starts_with('.') {
            continue;
        }
        let instrument = name.strip_suffix(".csv").and_then(Instrument::named);
        match instrument {
            Some(i) => files.push((i, p)),
            None => report.problems.push(ImportProblem {
                file: name,
                line: None,
                column: None,
                value: None,
                rule: format!(
                    "is not an instrument file: the files are {}",
                    INSTRUMENTS
                        .iter()
                        .map(file_name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
    files.sort_by_key(|(i, _)| INSTRUMENTS.iter().position(|x| x == *i));
    Ok(files)
}

/// Reads one instrument's file: encoding, header, every row's cells.
fn read_file(
    instrument: &'static Instrument,
    path: &Path,
    report: &mut ImportReport,
    progress: &dyn Progress,
) -> Result<Vec<ParsedRow>, ExchangeError> {
    let file: &'static str = leak_name(instrument);
    let problem = |line: Option<u64>, column: Option<&str>, value: Option<&str>, rule: String| {
        ImportProblem {
            file: file.to_owned(),
            line,
            column: column.map(str::to_owned),
            value: value.map(str::to_owned),
            rule,
        }
    };
    let bytes = std::fs::read(path).map_err(|e| ExchangeError::File {
        path: path.to_owned(),
        source: e,
    })?;
    progress.advance(bytes.len() as u64);
    if bytes.is_empty() {
        report.problems.push(problem(
            None,
            None,
            None,
            "is empty: a file needs at least its header row (see `pdva template`)".into(),
        ));
        return Ok(Vec::new());
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        report.problems.push(problem(
            Some(1),
            None,
            None,
            "starts with a byte-order mark (as Excel's \"CSV UTF-8\" writes): save it as plain \
             UTF-8 CSV without a byte-order mark"
                .into(),
        ));
        return Ok(Vec::new());
    }
    let expected = columns(instrument, false);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes.as_slice());
    let header = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            report.problems.push(problem(
                Some(1),
                None,
                None,
                format!("header row unreadable: {e}"),
            ));
            return Ok(Vec::new());
        }
    };
    let mut names = Vec::with_capacity(header.len());
    for raw in header.iter() {
        match std::str::from_utf8(raw) {
            Ok(n) => names.push(n.to_owned()),
            Err(_) => {
                report.problems.push(problem(
                    Some(1),
                    None,
                    Some(&String::from_utf8_lossy(raw)),
                    "is not UTF-8 text (Latin-1 or Windows-1252?): save the file as UTF-8".into(),
                ));
                return Ok(Vec::new());
            }
        }
    }
    let mut header_ok = true;
    for col in &expected {
        if !names.iter().any(|n| n == col.name()) {
            report.problems.push(problem(
                Some(1),
                Some(col.name()),
                None,
                "column is missing from the header".into(),
            ));
            header_ok = false;
        }
    }
    let mut seen = HashSet::new();
    for n in &names {
        if !expected.iter().any(|c| c.name() == n) {
            report.problems.push(problem(
                Some(1),
                Some(n),
                None,
                format!("is not a column of {file}"),
            ));
            header_ok = false;
        } else if !seen.insert(n.clone()) {
            report.problems.push(problem(
                Some(1),
                Some(n),
                None,
                "column appears twice".into(),
            ));
            header_ok = false;
        }
    }
    if !header_ok {
        return Ok(Vec::new());
    }
    // Where each expected column is in this file.
    let at: Vec<usize> = expected
        .iter()
        .map(|c| names.iter().position(|n| n == c.name()).expect("checked"))
        .collect();

    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let rule = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!(
                        "has {len} field(s) where the header has {expected_len}: a truncated or \
                         broken line"
                    ),
                    _ => format!("unreadable: {e}"),
                };
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                report.problems.push(problem(Some(line), None, None, rule));
                continue;
            }
        }
        report.rows_read += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        let mut fields = Map::new();
        let mut record_id = None;
        let mut registry_id = None;
        let mut row_ok = true;
        for (col, &i) in expected.iter().zip(&at) {
            let raw = &record[i];
            let Ok(text) = std::str::from_utf8(raw) else {
                report.problems.push(problem(
                    Some(line),
                    Some(col.name()),
                    Some(&String::from_utf8_lossy(raw)),
                    "is not UTF-8 text (Latin-1 or Windows-1252?): save the file as UTF-8".into(),
                ));
                row_ok = false;
                continue;
            };
            match col {
                Column::RecordId => match text.parse::<RecordId>() {
                    Ok(id) => record_id = Some(id),
                    Err(_) => {
                        report.problems.push(problem(
                            Some(line),
                            Some("record_id"),
                            Some(text),
                            "is not a record id (a UUID)".into(),
                        ));
                        row_ok = false;
                    }
                },
                Column::RegistryId => {
                    if text.is_empty() {
                        report.problems.push(problem(
                            Some(line),
                            Some("registry_id"),
                            Some(text),
                            "is required: the patient whose record this is".into(),
                        ));
                        row_ok = false;
                    }
                    registry_id = Some(text.to_owned());
                }
                Column::Field(f) => match value(f, text) {
                    Ok(v) => place(f, v, &mut fields),
                    Err(rule) => {
                        report
                            .problems
                            .push(problem(Some(line), Some(f.name), Some(text), rule));
                        row_ok = false;
                    }
                },
                Column::AgeAtIndex => {}
            }
        }
        if row_ok && let Some(record_id) = record_id {
            rows.push(ParsedRow {
                origin: Origin { file, line },
                record_id,
                registry_id,
                fields,
            });
        }
    }
    Ok(rows)
}

/// The file name of an instrument, for the life of the process (a handful
/// of short static strings).
fn leak_name(instrument: &'static Instrument) -> &'static str {
    static NAMES: std::sync::OnceLock<Vec<(RecordKind, &'static str)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        INSTRUMENTS
            .iter()
            .map(|i| (i.kind, &*Box::leak(file_name(i).into_boxed_str())))
            .collect()
    });
    names
        .iter()
        .find(|(k, _)| *k == instrument.kind)
        .map(|(_, n)| *n)
        .expect("an instrument")
}

/// The records to write, the reference data to check them against, and
/// where each came from.
struct Staged {
    reference_records: Vec<(RecordId, AnyRecord)>,
    files: Vec<PatientFile>,
    reference: ReferenceData,
    origins: HashMap<RecordId, Origin>,
}

/// A domain value from a row's fields, or the problem naming the field.
fn build<T: serde::de::DeserializeOwned>(
    row: &ParsedRow,
    tagged_kind: Option<RecordKind>,
    report: &mut ImportReport,
) -> Option<T> {
    let value = match tagged_kind {
        Some(kind) => serde_json::json!({"kind": kind.as_str(), "record": row.fields}),
        None => Value::Object(row.fields.clone()),
    };
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let path = e.path().to_string();
            let column = path
                .trim_start_matches("record.")
                .split('.')
                .next()
                .unwrap_or_default()
                .to_owned();
            let shown = row
                .fields
                .get(&column)
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .filter(|s| s != "null");
            report.problems.push(ImportProblem {
                file: row.origin.file.to_owned(),
                line: Some(row.origin.line),
                column: (!column.is_empty() && column != "?").then_some(column),
                value: shown,
                rule: e.into_inner().to_string(),
            });
            None
        }
    }
}

/// Builds the domain records, checks keys and references across files and
/// against the registry, and sets aside what is already there unchanged.
/// `None` when problems were found.
async fn assemble(
    store: &Store,
    rows: Vec<(&'static Instrument, Vec<ParsedRow>)>,
    report: &mut ImportReport,
) -> Result<Option<Staged>, ExchangeError> {
    let mut origins: HashMap<RecordId, Origin> = HashMap::new();
    let mut duplicate = |row: &ParsedRow, report: &mut ImportReport| {
        if let Some(first) = origins.insert(row.record_id, row.origin.clone()) {
            report.problems.push(ImportProblem {
                file: row.origin.file.to_owned(),
                line: Some(row.origin.line),
                column: Some("record_id".into()),
                value: Some(row.record_id.to_string()),
                rule: format!(
                    "is a duplicate key: the same record id is on {} line {}",
                    first.file, first.line
                ),
            });
            true
        } else {
            false
        }
    };

    let existing_sites: HashMap<RecordId, Site> = store.sites().await?.into_iter().collect();
    let existing_clinicians: HashMap<RecordId, Clinician> =
        store.clinicians().await?.into_iter().collect();
    let mut reference = store.reference_data().await?;
    let mut reference_records = Vec::new();
    let mut patients: Vec<(RecordId, Patient, Origin)> = Vec::new();
    let mut records: Vec<(RecordId, String, ClinicalRecord, Origin)> = Vec::new();
    let mut meetings: Vec<(RecordId, GovernanceMeeting, Origin)> = Vec::new();

    for (instrument, parsed) in rows {
        for row in parsed {
            if duplicate(&row, report) {
                continue;
            }
            match instrument.kind {
                RecordKind::Site => {
                    let Some(site) = build::<Site>(&row, None, report) else {
                        continue;
                    };
                    match existing_sites.get(&row.record_id) {
                        Some(old) if *old == site => report.unchanged += 1,
                        Some(_) => report.problems.push(changed(&row)),
                        None => {
                            if reference.sites.contains_key(&site.site_code) {
                                report.problems.push(ImportProblem {
                                    file: row.origin.file.into(),
                                    line: Some(row.origin.line),
                                    column: Some("site_code".into()),
                                    value: Some(site.site_code.to_string()),
                                    rule: "is already the code of another site".into(),
                                });
                                continue;
                            }
                            reference.sites.insert(site.site_code.clone(), site.clone());
                            reference_records.push((row.record_id, AnyRecord::Site(site)));
                        }
                    }
                }
                RecordKind::GovernanceMeeting => {
                    if let Some(m) = build::<GovernanceMeeting>(&row, None, report) {
                        meetings.push((row.record_id, m, row.origin.clone()));
                    }
                }
                RecordKind::Clinician => {
                    let Some(clinician) = build::<Clinician>(&row, None, report) else {
                        continue;
                    };
                    match existing_clinicians.get(&row.record_id) {
                        Some(old) if *old == clinician => report.unchanged += 1,
                        Some(_) => report.problems.push(changed(&row)),
                        None => {
                            reference
                                .clinicians
                                .insert(row.record_id, clinician.clone());
                            reference_records
                                .push((row.record_id, AnyRecord::Clinician(clinician)));
                        }
                    }
                }
                RecordKind::Patient => {
                    if let Some(p) = build::<Patient>(&row, None, report) {
                        patients.push((row.record_id, p, row.origin.clone()));
                    }
                }
                kind => {
                    if let Some(r) = build::<ClinicalRecord>(&row, Some(kind), report) {
                        records.push((
                            row.record_id,
                            row.registry_id.clone().unwrap_or_default(),
                            r,
                            row.origin.clone(),
                        ));
                    }
                }
            }
        }
    }
    // Sites of clinicians and meetings must exist (in the registry or the import).
    for (id, record) in &reference_records {
        if let AnyRecord::Clinician(c) = record {
            for site in &c.sites {
                if !reference.sites.contains_key(site) {
                    let origin = &origins[id];
                    report.problems.push(ImportProblem {
                        file: origin.file.into(),
                        line: Some(origin.line),
                        column: Some("sites".into()),
                        value: Some(site.to_string()),
                        rule: "is not a site of the registry or of sites.csv".into(),
                    });
                }
            }
        }
    }
    let existing_meetings: HashMap<RecordId, GovernanceMeeting> = {
        let mut all = HashMap::new();
        for site in reference.sites.keys() {
            all.extend(store.governance_meetings(site).await?);
        }
        all
    };
    for (id, meeting, origin) in meetings {
        if !reference.sites.contains_key(&meeting.site_code) {
            report.problems.push(ImportProblem {
                file: origin.file.into(),
                line: Some(origin.line),
                column: Some("site_code".into()),
                value: Some(meeting.site_code.to_string()),
                rule: "is not a site of the registry or of sites.csv".into(),
            });
            continue;
        }
        match existing_meetings.get(&id) {
            Some(old) if *old == meeting => report.unchanged += 1,
            Some(_) => report.problems.push(changed_at(&origin, id)),
            None => reference_records.push((id, AnyRecord::GovernanceMeeting(meeting))),
        }
    }

    // Patients: by registry id, new or unchanged.
    let mut by_registry: HashMap<String, usize> = HashMap::with_capacity(patients.len());
    let mut files: Vec<PatientFile> = Vec::with_capacity(patients.len());
    let mut nhs_seen: HashMap<String, Origin> = HashMap::new();
    for (id, patient, origin) in patients {
        let registry_id = patient.registry_id.as_str().to_owned();
        if let Some(&i) = by_registry.get(&registry_id) {
            let first = &origins[&files[i].patient_id];
            report.problems.push(ImportProblem {
                file: origin.file.into(),
                line: Some(origin.line),
                column: Some("registry_id".into()),
                value: Some(registry_id),
                rule: format!(
                    "is a duplicate key: the same registry id is on {} line {}",
                    first.file, first.line
                ),
            });
            continue;
        }
        if let Some(nhs) = &patient.nhs_number
            && let Some(first) = nhs_seen.insert(nhs.as_str().to_owned(), origin.clone())
        {
            report.problems.push(ImportProblem {
                file: origin.file.into(),
                line: Some(origin.line),
                column: Some("nhs_number".into()),
                value: Some(nhs.as_str().to_owned()),
                rule: format!(
                    "is the NHS number of another patient of this import ({} line {})",
                    first.file, first.line
                ),
            });
        }
        by_registry.insert(registry_id, files.len());
        files.push(PatientFile::new(id, patient));
    }
    for (id, registry_id, record, origin) in records {
        match by_registry.get(&registry_id) {
            Some(&i) => files[i].records.push((id, record)),
            None => report.problems.push(ImportProblem {
                file: origin.file.into(),
                line: Some(origin.line),
                column: Some("registry_id".into()),
                value: Some(registry_id),
                rule: "is not a patient of patients.csv: a record needs its patient in the \
                       same import"
                    .into(),
            }),
        }
    }
    // References inside a patient's file: a limb's records name one of the
    // patient's own index procedures.
    for file in &files {
        let procedures: HashSet<RecordId> = file.procedures().map(|(id, _)| id).collect();
        for (id, record) in &file.records {
            if let Some(p) = record.procedure_id()
                && !matches!(record, ClinicalRecord::Procedure(_))
                && !procedures.contains(&p)
            {
                let origin = &origins[id];
                report.problems.push(ImportProblem {
                    file: origin.file.into(),
                    line: Some(origin.line),
                    column: Some("procedure_id".into()),
                    value: Some(p.to_string()),
                    rule: "is not an index procedure of this patient in procedure.csv".into(),
                });
            }
        }
    }

    // What is in the registry already: unchanged files are skipped; a file
    // that differs is refused (an import adds, it does not edit).
    let ids: Vec<RecordId> = files.iter().map(|f| f.patient_id).collect();
    let mut existing: HashMap<RecordId, PatientFile> = HashMap::new();
    for chunk in ids.chunks(crate::export::PATIENT_BATCH) {
        for mut file in store.patient_files_of(chunk).await? {
            file.records.sort_by_key(|(id, _)| *id);
            existing.insert(file.patient_id, file);
        }
    }
    let mut new_files = Vec::with_capacity(files.len());
    for mut file in files {
        file.records.sort_by_key(|(id, _)| *id);
        match existing.get(&file.patient_id) {
            Some(old) if *old == file => report.unchanged += 1 + file.records.len(),
            Some(_) => report
                .problems
                .push(changed_at(&origins[&file.patient_id], file.patient_id)),
            None => new_files.push(file),
        }
    }
    if !report.problems.is_empty() {
        return Ok(None);
    }
    // Written in the order the rules expect: records as the files list them.
    Ok(Some(Staged {
        reference_records,
        files: new_files,
        reference,
        origins,
    }))
}

fn changed(row: &ParsedRow) -> ImportProblem {
    changed_at(&row.origin, row.record_id)
}

fn changed_at(origin: &Origin, id: RecordId) -> ImportProblem {
    ImportProblem {
        file: origin.file.into(),
        line: Some(origin.line),
        column: Some("record_id".into()),
        value: Some(id.to_string()),
        rule: "is already in the registry with different content: an import adds records; \
               change existing ones in the forms or through the API"
            .into(),
    }
}

fn finding_problem(
    origins: &HashMap<RecordId, Origin>,
    finding: &pdva_domain::Finding,
) -> ImportProblem {
    let origin = origins.get(&finding.record);
    ImportProblem {
        file: origin.map(|o| o.file).unwrap_or("?").to_owned(),
        line: origin.map(|o| o.line),
        column: Some(finding.field.to_owned()),
        value: Some(finding.value.clone()),
        rule: format!(
            "{} ({})",
            finding.message,
            serde_json::to_value(finding.rule)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
    }
}
