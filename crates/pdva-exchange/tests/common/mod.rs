//! A generated registry in a temporary SQLite file, for the exchange tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use pdva_domain::RecordId;
use pdva_store::{Actor, AnyRecord, NoProgress, Store};

/// The date the registry is generated as of.
pub fn today() -> NaiveDate {
    "2026-06-30".parse().unwrap()
}

/// A registry file in `dir`, with its key file beside it.
pub async fn open(dir: &Path, name: &str) -> (Store, PathBuf) {
    let path = dir.join(format!("{name}.db"));
    let key = dir.join(format!("{name}.key"));
    let store = Store::open_with_key_file(path.to_str().unwrap(), &key)
        .await
        .unwrap();
    (store, path)
}

/// Fills `store` with `patients` generated patients (and some voided records).
pub async fn generate(store: &Store, patients: usize, seed: u64) {
    let actor = Actor::new("cli:test");
    let mut generator = pdva_synth::Generator::new(pdva_synth::GeneratorConfig {
        patients,
        seed,
        today: today(),
    });
    let reference = generator.reference();
    let mut records: Vec<(RecordId, AnyRecord)> = Vec::new();
    records.extend(
        reference
            .sites
            .iter()
            .map(|(id, s)| (*id, AnyRecord::Site(s.clone()))),
    );
    records.extend(
        reference
            .clinicians
            .iter()
            .map(|(id, c)| (*id, AnyRecord::Clinician(c.clone()))),
    );
    records.extend(
        reference
            .governance_meetings
            .iter()
            .map(|(id, m)| (*id, AnyRecord::GovernanceMeeting(m.clone()))),
    );
    store.import_reference(&actor, &records).await.unwrap();
    let reference_data = generator.reference_data();
    while let Some(batch) = generator.next_batch(100) {
        store
            .import_patient_files(&actor, &batch.files, &reference_data, today())
            .await
            .unwrap();
        if !batch.voids.is_empty() {
            store.void_many(&actor, &batch.voids).await.unwrap();
        }
    }
}

/// Exports `store` as tidy CSV into `out`.
pub async fn export_csv(
    store: &Store,
    out: &Path,
    deidentify: bool,
) -> pdva_exchange::ExportSummary {
    std::fs::create_dir_all(out).unwrap();
    let mut sink = pdva_exchange::tidy::CsvSink::create(out, deidentify).unwrap();
    let filter = pdva_exchange::ExportFilter {
        deidentify,
        ..Default::default()
    };
    let summary = pdva_exchange::export(store, &filter, today(), &mut sink, &NoProgress)
        .await
        .unwrap();
    sink.finish().unwrap();
    summary
}

/// A CSV file as its header and rows.
pub fn read_table(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// Writes a header and rows as a CSV file.
pub fn write_table(path: &Path, header: &[String], rows: &[Vec<String>]) {
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer.write_record(header).unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    writer.flush().unwrap();
}

/// Copies every file of `from` into a new directory `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
