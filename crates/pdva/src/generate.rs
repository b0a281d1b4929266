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

/// Patients `pdva demo` adds awaiting their procedure.
pub const DEMO_AWAITING_PATIENTS: usize = 12;

/// Adds `count` patients awaiting their index procedure to a registry that
/// [`generate`] filled with `patients` patients and `seed`: each has been
/// consented ten days ago and assessed a week ago (a baseline for the limb
/// to be treated and, where the generator drew one, a pre-operative quality
/// of life, both waiting for its procedure), so a newcomer to `pdva demo` meets the pre-operative
/// workflow. They are the generator's next patients (so as varied as the
/// rest, and no identifier clashes), cut back to those records and
/// re-dated. Returns how many patients were added, and how many of them
/// have a pre-operative quality of life (where the generator drew one).
pub async fn add_awaiting_patients(
    store: &Store,
    patients: usize,
    seed: u64,
    today: NaiveDate,
    count: usize,
) -> Result<(usize, usize)> {
    use pdva_domain::{ClinicalRecord, PatientFile};
    let actor = Actor::new(GENERATOR_ACTOR);
    let mut generator = Generator::new(GeneratorConfig {
        patients: patients + count,
        seed,
        today,
    });
    let reference_data = generator.reference_data();
    // Each patient is drawn from a stream of their own, so the first
    // `patients` (already in the registry) are drawn again and set aside.
    let mut skipped = 0;
    while skipped < patients {
        let batch = generator
            .next_batch(BATCH_PATIENTS.min(patients - skipped))
            .context("the generator ran out of patients")?;
        skipped += batch.files.len();
    }
    let consented = today - chrono::Duration::days(10);
    let assessed = today - chrono::Duration::days(7);
    let mut files = Vec::new();
    for file in generator
        .next_batch(count)
        .map(|b| b.files)
        .unwrap_or_default()
    {
        let Some((procedure_id, procedure)) = file.procedures().next() else {
            continue;
        };
        let limb = procedure.index_limb;
        let mut patient = file.patient.clone();
        patient.follow_up_ended_on = None;
        patient.follow_up_end_reason = None;
        let mut awaiting = PatientFile::new(file.patient_id, patient);
        for (id, record) in &file.records {
            let kept = match record {
                ClinicalRecord::Consent(c)
                    if !awaiting
                        .records
                        .iter()
                        .any(|(_, r)| matches!(r, ClinicalRecord::Consent(_))) =>
                {
                    ClinicalRecord::Consent(pdva_domain::Consent {
                        consent_date: consented,
                        research_consent_withdrawn_on: None,
                        ..c.clone()
                    })
                }
                ClinicalRecord::Baseline(b) if b.procedure_id == Some(procedure_id) => {
                    ClinicalRecord::Baseline(pdva_domain::Baseline {
                        procedure_id: None,
                        index_limb: Some(limb),
                        assessment_date: assessed,
                        ..b.clone()
                    })
                }
                ClinicalRecord::QualityOfLife(q)
                    if q.procedure_id == Some(procedure_id)
                        && q.assessment_date <= procedure.procedure_date =>
                {
                    ClinicalRecord::QualityOfLife(pdva_domain::QualityOfLife {
                        procedure_id: None,
                        index_limb: Some(limb),
                        assessment_date: assessed,
                        ..q.clone()
                    })
                }
                _ => continue,
            };
            awaiting.records.push((*id, kept));
        }
        files.push(awaiting);
    }
    let with_quality_of_life = files
        .iter()
        .filter(|f| {
            f.records
                .iter()
                .any(|(_, r)| matches!(r, ClinicalRecord::QualityOfLife(_)))
        })
        .count();
    let summary = store
        .import_patient_files(&actor, &files, &reference_data, today)
        .await
        .context("a patient awaiting their procedure was refused by the registry's rules")?;
    Ok((summary.patients, with_quality_of_life))
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

#[cfg(test)]
mod tests {
    use super::*;
    use pdva_domain::ClinicalRecord;

    /// The demo's awaiting patients enter through the registry's rules, each
    /// with a consent, a baseline and (where the generator drew one) a
    /// pre-operative quality of life waiting for the limb's procedure, and
    /// no procedure; the registry's other patients are not touched.
    #[tokio::test]
    async fn the_demo_adds_patients_awaiting_their_procedure() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.db").display().to_string();
        let store = Store::open(&db).await.unwrap();
        let today: NaiveDate = "2026-06-30".parse().unwrap();
        generate(&store, 40, 3, today, &NoProgress).await.unwrap();
        let before = store.load_patient_files(None).await.unwrap();
        let (added, with_quality_of_life) = add_awaiting_patients(&store, 40, 3, today, 6)
            .await
            .unwrap();
        assert!(added >= 4, "only {added} of 6 had a procedure to wait for");
        let after = store.load_patient_files(None).await.unwrap();
        assert_eq!(after.len(), before.len() + added);
        let mut waiting_qol = 0;
        for file in &after {
            if before.iter().any(|b| b.patient_id == file.patient_id) {
                continue;
            }
            assert_eq!(file.procedures().count(), 0);
            let mut kinds = Vec::new();
            for (_, record) in &file.records {
                match record {
                    ClinicalRecord::Consent(c) => {
                        assert_eq!(c.consent_date, today - chrono::Duration::days(10));
                        kinds.push("consent");
                    }
                    ClinicalRecord::Baseline(b) => {
                        assert!(b.procedure_id.is_none() && b.index_limb.is_some());
                        assert_eq!(b.assessment_date, today - chrono::Duration::days(7));
                        kinds.push("baseline");
                    }
                    ClinicalRecord::QualityOfLife(q) => {
                        assert!(q.procedure_id.is_none() && q.index_limb.is_some());
                        waiting_qol += 1;
                    }
                    other => panic!("an awaiting patient has {other:?}"),
                }
            }
            assert!(
                kinds.contains(&"consent") && kinds.contains(&"baseline"),
                "{kinds:?}"
            );
        }
        assert!(waiting_qol > 0, "no pre-operative quality of life waits");
        assert_eq!(waiting_qol, with_quality_of_life);
        assert!(store.verify_audit(&NoProgress).await.unwrap().is_intact());
    }
}
