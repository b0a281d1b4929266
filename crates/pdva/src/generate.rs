//! `pdva generate`, `pdva demo` and `pdva bench generate`: writing a synthetic
//! registry through the store's validated, audited bulk path.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use pdva_store::{Actor, AnyRecord, NoProgress, Progress, Store, db, db::Engine};
use pdva_synth::{Generator, GeneratorConfig};

/// Patients written per transaction.
const BATCH_PATIENTS: usize = 500;

/// The audit trail's name for the generator.
const GENERATOR_ACTOR: &str = "system:pdva-generate";

/// What a generation wrote.
#[derive(Debug)]
pub struct GenerateSummary {
    patients: usize,
    records: usize,
    voided: usize,
    warnings: usize,
    seed: u64,
    elapsed: Duration,
    data_version: pdva_store::DataVersion,
}

impl fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Generated {} synthetic patients ({} records, {} voided as entered in error, {} soft warnings acknowledged) with seed {} in {:.1} s; data version {}",
            self.patients,
            self.records,
            self.voided,
            self.warnings,
            self.seed,
            self.elapsed.as_secs_f64(),
            self.data_version
        )
    }
}

/// Generates `patients` synthetic patients into an empty registry.
pub async fn generate(
    store: &Store,
    patients: usize,
    seed: u64,
    today: NaiveDate,
    progress: &dyn Progress,
) -> Result<GenerateSummary> {
    let started = Instant::now();
    if store.data_version().await?.seq > 0 {
        bail!(
            "the registry already holds data (data version {}); generate into a new, empty database",
            store.data_version().await?
        );
    }
    let actor = Actor::new(GENERATOR_ACTOR);
    let mut generator = Generator::new(GeneratorConfig {
        patients,
        seed,
        today,
    });
    let reference = generator.reference();
    let mut reference_records: Vec<(pdva_domain::RecordId, AnyRecord)> = Vec::new();
    reference_records.extend(
        reference
            .sites
            .iter()
            .map(|(id, s)| (*id, AnyRecord::Site(s.clone()))),
    );
    reference_records.extend(
        reference
            .clinicians
            .iter()
            .map(|(id, c)| (*id, AnyRecord::Clinician(c.clone()))),
    );
    reference_records.extend(
        reference
            .governance_meetings
            .iter()
            .map(|(id, m)| (*id, AnyRecord::GovernanceMeeting(m.clone()))),
    );
    store.import_reference(&actor, &reference_records).await?;
    let reference_data = generator.reference_data();

    progress.start("generating patients", patients as u64);
    let (mut written, mut records, mut voided, mut warnings) = (0, 0, 0, 0);
    while let Some(batch) = generator.next_batch(BATCH_PATIENTS) {
        let summary = store
            .import_patient_files(&actor, &batch.files, &reference_data, today)
            .await
            .context("a generated patient was refused by the registry's rules")?;
        if !batch.voids.is_empty() {
            store.void_many(&actor, &batch.voids).await?;
        }
        written += summary.patients;
        records += summary.records;
        warnings += summary.warnings;
        voided += batch.voids.len();
        progress.advance(summary.patients as u64);
    }
    store.refresh_statistics().await?;
    Ok(GenerateSummary {
        patients: written,
        records,
        voided,
        warnings,
        seed,
        elapsed: started.elapsed(),
        data_version: store.data_version().await?,
    })
}

/// Removes a demonstration SQLite database and its WAL files, so `pdva demo`
/// always starts fresh. Refuses anything but a plain SQLite path.
pub fn remove_sqlite_files(path: &str) -> Result<()> {
    if Engine::of(path) != Engine::Sqlite || path.starts_with("sqlite:") {
        bail!("pdva demo takes a plain SQLite file path for --db, not {path}");
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("could not remove {file}")),
        }
    }
    Ok(())
}

/// A fresh registry for a benchmark: the SQLite file given (replaced), a
/// temporary SQLite file, or a new schema in the PostgreSQL database given,
/// dropped by [`BenchRegistry::remove`].
pub struct BenchRegistry {
    /// Where the registry is.
    pub url: String,
    schema: Option<(String, String)>,
    _temp: tempfile::TempDir,
}

impl BenchRegistry {
    /// Opens the registry with a key file of the benchmark's own (beside a
    /// SQLite file as usual; in the temporary directory for PostgreSQL,
    /// not the working directory).
    pub async fn open(&self) -> Result<Store> {
        let key_file = match &self.schema {
            Some(_) => self._temp.path().join("bench.key"),
            None => pdva_store::default_key_file(&self.url),
        };
        Store::open_with_key_file(&self.url, &key_file)
            .await
            .with_context(|| format!("could not open the registry at {}", db::redact(&self.url)))
    }

    /// Makes the registry's place (empty).
    pub async fn new(db: Option<String>) -> Result<Self> {
        let temp = tempfile::TempDir::new()?;
        let (url, schema) = match db {
            Some(url) if Engine::of(&url) == Engine::Postgres => {
                let schema = format!("pdva_bench_{}", std::process::id());
                db::execute_on(&url, &format!("CREATE SCHEMA {schema}")).await?;
                (db::with_search_path(&url, &schema), Some((url, schema)))
            }
            Some(path) => {
                remove_sqlite_files(&path)?;
                (path, None)
            }
            None => (temp.path().join("bench.db").display().to_string(), None),
        };
        Ok(Self {
            url,
            schema,
            _temp: temp,
        })
    }

    /// Drops the PostgreSQL schema (a SQLite file is left for inspection,
    /// unless it was temporary).
    pub async fn remove(self) -> Result<()> {
        if let Some((url, schema)) = &self.schema {
            db::execute_on(url, &format!("DROP SCHEMA {schema} CASCADE")).await?;
        }
        Ok(())
    }
}

/// `pdva bench generate`: times generating and verifying a registry.
pub async fn bench(db: Option<String>, patients: usize, seed: u64) -> Result<()> {
    let today: NaiveDate = "2026-06-30".parse().expect("date");
    let registry = BenchRegistry::new(db).await?;
    let result = async {
        let store = registry.open().await?;
        println!(
            "pdva bench: {patients} patients, seed {seed}, engine {:?}",
            store.engine()
        );
        let generated = generate(&store, patients, seed, today, &NoProgress).await?;
        println!(
            "  generate       {:>8.2} s   {generated}",
            generated.elapsed.as_secs_f64()
        );
        let started = Instant::now();
        let report = store.verify_audit(&NoProgress).await?;
        let verify = started.elapsed();
        println!(
            "  audit verify   {:>8.2} s   {} entries, {} records, intact: {}",
            verify.as_secs_f64(),
            report.entries,
            report.records,
            report.is_intact()
        );
        store.close().await;
        anyhow::Ok(())
    }
    .await;
    registry.remove().await?;
    result
}
