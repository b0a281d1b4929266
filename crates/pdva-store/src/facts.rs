//! Reading the patients' outcome facts ([`PatientFacts`]) for a report over
//! the whole registry, without building whole patient files.
//!
//! Why: the outcomes report of a million patients reads some fifteen
//! million records. Through the `Any` driver each row is decoded into owned
//! values, and each JSON body into a whole domain record, before the
//! derivation reads a handful of fields. Here, on SQLite, a native
//! connection streams the rows in patient order, only the fields the
//! derivation needs are parsed from each body (borrowed from the row), and
//! each patient is handed on as soon as their rows are complete, so memory
//! stays flat. PostgreSQL streams the same query through the `Any` pool.

use std::collections::HashMap;
use std::str::FromStr;

use futures_util::TryStreamExt;
use pdva_domain::facts::{PatientView, deserialize_record_facts};
use pdva_domain::{PatientFacts, RecordFacts, RecordId, RecordKind};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};

use crate::Store;
use crate::db::Engine;
use crate::error::{Result, StoreError};

/// The non-voided patients (of one site), their facts so far.
const PATIENTS_SQL: &str = "SELECT id, body FROM record WHERE kind = 'patient' AND voided = 0";

/// Elsewhere, the non-voided clinical records, grouped by patient (any
/// order of patients does: only that a patient's rows come together
/// matters).
const RECORDS_SQL: &str = "SELECT id, kind, patient_id, created_at, body FROM record \
     WHERE patient_id IS NOT NULL AND voided = 0 ORDER BY patient_id";

/// The same, of one site's patients.
const SITE_RECORDS_SQL: &str = "SELECT id, kind, patient_id, created_at, body FROM record \
     WHERE patient_id IN (SELECT p.id FROM record p WHERE p.kind = 'patient' \
     AND p.voided = 0 AND p.site_code = $1) AND voided = 0 ORDER BY patient_id";

/// Between the fields of a record, and between the records, in
/// [`SQLITE_PATIENT_ROWS_SQL`]: ASCII unit and record separators, which a
/// JSON body cannot hold unescaped (nor can an id, kind or timestamp).
const FIELD_SEPARATOR: char = '\x1f';
const RECORD_SEPARATOR: char = '\x1e';

/// On SQLite, a patient's non-voided clinical rows as one row per patient
/// (kind, id, created_at and body, joined by the separators above). Why:
/// the native driver copies every value across threads, with SQLite's
/// allocator lock held on both sides; one value per patient instead of five
/// per record makes that cost small beside the scan.
const SQLITE_PATIENT_ROWS_SQL: &str = "SELECT patient_id, group_concat(kind || char(31) || id \
     || char(31) || created_at || char(31) || body, char(30)) FROM record \
     WHERE patient_id IS NOT NULL AND voided = 0 GROUP BY patient_id";

/// The same, of one site's patients.
const SQLITE_SITE_PATIENT_ROWS_SQL: &str = "SELECT patient_id, group_concat(kind || char(31) \
     || id || char(31) || created_at || char(31) || body, char(30)) FROM record \
     WHERE patient_id IN (SELECT p.id FROM record p WHERE p.kind = 'patient' \
     AND p.voided = 0 AND p.site_code = $1) AND voided = 0 GROUP BY patient_id";

fn corrupt(id: &str, kind: &str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        kind: kind.to_owned(),
        detail: detail.into(),
    }
}

fn parse_id(id: &str, kind: &str) -> Result<RecordId> {
    id.parse()
        .map_err(|_| corrupt(id, kind, "id is not a record id"))
}

/// `created_at` (UTC, RFC 3339 with a fixed number of digits) as a number
/// that sorts as the text does.
pub(crate) fn timestamp_key(created_at: &str) -> u128 {
    created_at
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u128, |acc, b| acc.wrapping_mul(10) + u128::from(b - b'0'))
}

/// Patients by id, and the rows of the patient being read.
struct Assembler<F> {
    patients: HashMap<RecordId, PatientView>,
    current: Option<(String, Vec<(u128, RecordFacts)>)>,
    visit: F,
}

impl<F: FnMut(PatientFacts)> Assembler<F> {
    fn patient(&mut self, id: &str, body: &str) -> Result<()> {
        let view: PatientView =
            serde_json::from_str(body).map_err(|e| corrupt(id, "patient", e.to_string()))?;
        self.patients.insert(parse_id(id, "patient")?, view);
        Ok(())
    }

    /// One clinical row; rows of a patient come together.
    fn record(
        &mut self,
        id: &str,
        kind: &str,
        patient_id: &str,
        created_at: &str,
        body: &str,
    ) -> Result<()> {
        if self
            .current
            .as_ref()
            .is_none_or(|(current, _)| current != patient_id)
        {
            self.flush()?;
            self.current = Some((patient_id.to_owned(), Vec::new()));
        }
        let record_kind =
            RecordKind::parse(kind).ok_or_else(|| corrupt(id, kind, "unknown kind"))?;
        let mut json = serde_json::Deserializer::from_str(body);
        let facts = deserialize_record_facts(record_kind, parse_id(id, kind)?, &mut json)
            .and_then(|f| json.end().map(|()| f))
            .map_err(|e| corrupt(id, kind, e.to_string()))?
            .ok_or_else(|| corrupt(id, kind, "not a clinical record"))?;
        let (_, rows) = self.current.as_mut().expect("set above");
        rows.push((timestamp_key(created_at), facts));
        Ok(())
    }

    /// Hands on the patient being read. Records of a patient who is not
    /// there (voided with their records, or of another site) are left out.
    fn flush(&mut self) -> Result<()> {
        let Some((patient, mut rows)) = self.current.take() else {
            return Ok(());
        };
        let patient_id = parse_id(&patient, "patient")?;
        if let Some(view) = self.patients.remove(&patient_id) {
            // Each kind's together, oldest first, as the facts of a
            // patient's file are.
            rows.sort_unstable_by_key(|(key, r)| (r.detail.group(), *key, r.id));
            (self.visit)(PatientFacts {
                patient_id,
                home_site: view.home_site,
                follow_up_ended_on: view.follow_up_ended_on,
                records: rows.into_iter().map(|(_, r)| r).collect(),
            });
        }
        Ok(())
    }

    /// The last patient, then the patients with no clinical record.
    fn finish(mut self) -> Result<()> {
        self.flush()?;
        for (patient_id, view) in self.patients.drain() {
            (self.visit)(PatientFacts {
                patient_id,
                home_site: view.home_site,
                follow_up_ended_on: view.follow_up_ended_on,
                records: Vec::new(),
            });
        }
        Ok(())
    }
}

impl Store {
    /// Every non-voided patient's outcome facts, of one home site or of the
    /// whole registry, handed to `visit` one patient at a time in no
    /// particular order: the facts of the files [`Store::load_patient_files`]
    /// returns, records in the same order (oldest first), read from the
    /// outcome facts table that every write keeps (one small row a patient).
    #[tracing::instrument(skip_all, fields(site = ?site))]
    pub async fn for_each_patient_facts(
        &self,
        site: Option<&str>,
        mut visit: impl FnMut(PatientFacts),
    ) -> Result<()> {
        let sql = match site {
            None => "SELECT patient_id, facts FROM outcome_facts",
            Some(_) => "SELECT patient_id, facts FROM outcome_facts WHERE site_code = $1",
        };
        match self.engine {
            Engine::Sqlite => {
                // The scan runs on a blocking thread of its own and hands
                // over decoded patients in batches, so the caller's work
                // (the derivation) overlaps the reading.
                let path = self.sqlite_path()?;
                let site = site.map(str::to_owned);
                let (sender, mut receiver) = tokio::sync::mpsc::channel(8);
                let reader = tokio::task::spawn_blocking(move || {
                    let outcome = scan_outcome_facts(&path, site.as_deref(), &sender);
                    if let Err(e) = outcome {
                        // The receiver reports it; if it has gone, so has the caller.
                        let _ = sender.blocking_send(Err(e));
                    }
                });
                while let Some(batch) = receiver.recv().await {
                    for facts in batch? {
                        visit(facts);
                    }
                }
                reader
                    .await
                    .map_err(|e| StoreError::ReadFailed(format!("the outcome facts scan: {e}")))?;
            }
            Engine::Postgres => {
                let mut query = sqlx::query(sql);
                if let Some(site) = site {
                    query = query.bind(site.to_owned());
                }
                let mut rows = query.fetch(&self.pool);
                while let Some(row) = rows.try_next().await? {
                    let id: String = row.try_get(0)?;
                    let facts: Vec<u8> = row.try_get(1)?;
                    visit(crate::projection::decode_row(&id, &facts)?);
                }
            }
        }
        Ok(())
    }

    /// At least about as many patients as [`Store::for_each_patient_facts`]
    /// visits for the whole registry (so also for one site), read without
    /// a scan, so that a caller can make room for what it derives before
    /// the scan: on SQLite the table's largest row id (an upper bound: rows
    /// of voided patients leave gaps), on PostgreSQL the planner's estimate
    /// of its rows (0 before the table was first analysed). A hint, never a
    /// count to report: a count of a million rows costs a second when the
    /// table is not in the cache.
    pub async fn outcome_facts_size_hint(&self) -> Result<usize> {
        let sql = match self.engine {
            Engine::Sqlite => "SELECT CAST(COALESCE(MAX(rowid), 0) AS BIGINT) FROM outcome_facts",
            Engine::Postgres => {
                "SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class \
                 WHERE oid = CAST('outcome_facts' AS regclass)"
            }
        };
        let rows: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
        Ok(usize::try_from(rows).unwrap_or(0))
    }

    /// The SQLite database file.
    fn sqlite_path(&self) -> Result<std::path::PathBuf> {
        let options = SqliteConnectOptions::from_str(&self.url)
            .map_err(|_| StoreError::BadUrl(crate::redact(&self.url)))?;
        Ok(options.get_filename().to_path_buf())
    }

    /// A read-only native SQLite connection, where the `Any` driver's
    /// decoding into owned values would cost more than the scan.
    async fn native_sqlite_reader(&self) -> Result<SqliteConnection> {
        let options = SqliteConnectOptions::from_str(&self.url)
            .map_err(|_| StoreError::BadUrl(crate::redact(&self.url)))?
            .read_only(true)
            .disable_statement_logging();
        let mut conn = SqliteConnection::connect_with(&options).await?;
        // Memory-mapped reads: the scan reads the whole table.
        sqlx::query("PRAGMA mmap_size = 17179869184")
            .execute(&mut conn)
            .await?;
        Ok(conn)
    }

    /// The same facts as [`Store::for_each_patient_facts`], read from the
    /// records themselves (parsing only the fields the facts need from
    /// each body) without holding more than one patient's rows: the source
    /// the outcome facts table is built and verified from.
    #[tracing::instrument(skip_all, fields(site = ?site))]
    pub async fn for_each_patient_facts_from_records(
        &self,
        site: Option<&str>,
        visit: impl FnMut(PatientFacts),
    ) -> Result<()> {
        let mut assembler = Assembler {
            patients: HashMap::new(),
            current: None,
            visit,
        };
        match self.engine {
            Engine::Sqlite => {
                let mut conn = self.native_sqlite_reader().await?;
                read_sqlite(&mut conn, site, &mut assembler).await?;
                conn.close().await?;
            }
            Engine::Postgres => read_any(self, site, &mut assembler).await?,
        }
        assembler.finish()
    }
}

/// [`PATIENTS_SQL`], of one site's patients if `site` is given (bound as `$1`).
fn patients_sql(site: Option<&str>) -> String {
    match site {
        None => PATIENTS_SQL.to_owned(),
        Some(_) => format!("{PATIENTS_SQL} AND site_code = $1"),
    }
}

async fn read_sqlite<F: FnMut(PatientFacts)>(
    conn: &mut SqliteConnection,
    site: Option<&str>,
    assembler: &mut Assembler<F>,
) -> Result<()> {
    let patients_sql = patients_sql(site);
    let mut query = sqlx::query(&patients_sql);
    if let Some(site) = site {
        query = query.bind(site);
    }
    let mut rows = query.fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        assembler.patient(row.try_get(0)?, row.try_get(1)?)?;
    }
    drop(rows);
    let mut query = sqlx::query(if site.is_some() {
        SQLITE_SITE_PATIENT_ROWS_SQL
    } else {
        SQLITE_PATIENT_ROWS_SQL
    });
    if let Some(site) = site {
        query = query.bind(site);
    }
    let mut rows = query.fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        let patient_id: &str = row.try_get(0)?;
        let joined: &str = row.try_get(1)?;
        for record in joined.split(RECORD_SEPARATOR) {
            let mut fields = record.splitn(4, FIELD_SEPARATOR);
            let mut next = || {
                fields
                    .next()
                    .ok_or_else(|| corrupt(patient_id, "patient", "a record row is cut short"))
            };
            let (kind, id, created_at, body) = (next()?, next()?, next()?, next()?);
            assembler.record(id, kind, patient_id, created_at, body)?;
        }
    }
    Ok(())
}

async fn read_any<F: FnMut(PatientFacts)>(
    store: &Store,
    site: Option<&str>,
    assembler: &mut Assembler<F>,
) -> Result<()> {
    let patients_sql = patients_sql(site);
    let mut query = sqlx::query(&patients_sql);
    if let Some(site) = site {
        query = query.bind(site.to_owned());
    }
    let mut rows = query.fetch(&store.pool);
    while let Some(row) = rows.try_next().await? {
        let (id, body): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        assembler.patient(&id, &body)?;
    }
    drop(rows);
    let mut query = sqlx::query(if site.is_some() {
        SITE_RECORDS_SQL
    } else {
        RECORDS_SQL
    });
    if let Some(site) = site {
        query = query.bind(site.to_owned());
    }
    let mut rows = query.fetch(&store.pool);
    while let Some(row) = rows.try_next().await? {
        let id: String = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        let patient_id: String = row.try_get(2)?;
        let created_at: String = row.try_get(3)?;
        let body: String = row.try_get(4)?;
        assembler.record(&id, &kind, &patient_id, &created_at, &body)?;
    }
    Ok(())
}

/// Patients handed over at a time by [`scan_outcome_facts`].
const SCAN_BATCH: usize = 512;

/// Reads the outcome facts table of the SQLite file at `path` (one site's
/// rows or all) and sends the decoded patients in batches. Why not sqlx:
/// its SQLite driver copies each row's values under SQLite's allocator lock
/// and hands them between threads one row at a time, which at a million
/// rows costs several times the scan itself.
fn scan_outcome_facts(
    path: &std::path::Path,
    site: Option<&str>,
    sender: &tokio::sync::mpsc::Sender<Result<Vec<PatientFacts>>>,
) -> Result<()> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Memory-mapped reads: the scan reads the whole table.
    conn.pragma_update(None, "mmap_size", 17_179_869_184_i64)?;
    let mut statement = match site {
        None => conn.prepare("SELECT patient_id, facts FROM outcome_facts")?,
        Some(_) => {
            conn.prepare("SELECT patient_id, facts FROM outcome_facts WHERE site_code = ?1")?
        }
    };
    let mut rows = match site {
        None => statement.query([])?,
        Some(site) => statement.query([site])?,
    };
    let mut batch = Vec::with_capacity(SCAN_BATCH);
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let bytes = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        batch.push(crate::projection::decode_row(id, bytes)?);
        if batch.len() == SCAN_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(SCAN_BATCH));
            if sender.blocking_send(Ok(full)).is_err() {
                // The caller stopped listening (it failed): stop reading.
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = sender.blocking_send(Ok(batch));
    }
    Ok(())
}
