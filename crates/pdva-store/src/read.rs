//! Reading records back as domain types.

use std::collections::{BTreeMap, HashMap};

use futures_util::TryStreamExt;
use pdva_domain::{
    ClinicalRecord, Clinician, PatientFile, RecordId, RecordKind, ReferenceData, Site,
};
use sqlx::{Any, Executor, Row};

use crate::Store;
use crate::error::{Result, StoreError};
use crate::facts::timestamp_key;
use crate::identity::data_key;
use crate::keys::{DataKey, Keyring, patient_from_body};
use crate::model::{AnyRecord, AuditEntry, DataVersion, SiteCounts, StoredRecord};
use crate::rows::{RECORD_COLUMNS, RecordRow};

/// Reads one row by id (voided or not).
pub(crate) async fn row_by_id<'e, E>(exec: E, id: RecordId) -> Result<Option<RecordRow>>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {RECORD_COLUMNS} FROM record WHERE id = $1");
    sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(exec)
        .await?
        .map(|r| RecordRow::from_any_row(&r))
        .transpose()
}

/// Reads every non-voided row of one kind.
pub(crate) async fn rows_of_kind<'e, E>(exec: E, kind: &str) -> Result<Vec<RecordRow>>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM record WHERE kind = $1 AND voided = 0 ORDER BY created_at, id"
    );
    sqlx::query(&sql)
        .bind(kind)
        .fetch_all(exec)
        .await?
        .iter()
        .map(RecordRow::from_any_row)
        .collect()
}

/// The patient's row and all their non-voided clinical rows, oldest first.
pub(crate) async fn patient_rows<'e, E>(exec: E, patient_id: RecordId) -> Result<Vec<RecordRow>>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM record WHERE (id = $1 OR patient_id = $1) AND voided = 0 \
         ORDER BY created_at, id"
    );
    sqlx::query(&sql)
        .bind(patient_id.to_string())
        .fetch_all(exec)
        .await?
        .iter()
        .map(RecordRow::from_any_row)
        .collect()
}

/// Builds a patient's file from their rows, their identifiers opened with
/// their data key `key` (none: read as erased).
pub(crate) fn file_from_rows(
    patient_id: RecordId,
    rows: &[RecordRow],
    key: Option<&DataKey>,
) -> Result<PatientFile> {
    let mut patient = None;
    let mut records = Vec::new();
    for row in rows {
        let stored = row.to_stored_with(key)?;
        match stored.record {
            AnyRecord::Patient(p) if stored.meta.id == patient_id => patient = Some(p),
            AnyRecord::Clinical(c) => records.push((stored.meta.id, c)),
            _ => return Err(row.corrupt("unexpected record in a patient's file")),
        }
    }
    let patient = patient.ok_or(StoreError::NotFound(patient_id))?;
    Ok(PatientFile {
        patient_id,
        patient,
        records,
    })
}

/// Sites and clinicians, as the rules need them.
pub(crate) async fn reference_data(conn: &mut sqlx::AnyConnection) -> Result<ReferenceData> {
    let mut reference = ReferenceData::default();
    for row in rows_of_kind(&mut *conn, "site").await? {
        if let AnyRecord::Site(s) = row.to_stored()?.record {
            reference.sites.insert(s.site_code.clone(), s);
        }
    }
    for row in rows_of_kind(&mut *conn, "clinician").await? {
        let stored = row.to_stored()?;
        if let AnyRecord::Clinician(c) = stored.record {
            reference.clinicians.insert(stored.meta.id, c);
        }
    }
    Ok(reference)
}

impl Store {
    /// The registry's data version (the head of the audit chain).
    pub async fn data_version(&self) -> Result<DataVersion> {
        let row = sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(DataVersion {
            seq: row.try_get(0)?,
            hash: row.try_get(1)?,
        })
    }

    /// Any record by id, voided or not (a patient with their identifiers).
    pub async fn get(&self, id: RecordId) -> Result<StoredRecord> {
        let row = row_by_id(&self.pool, id)
            .await?
            .ok_or(StoreError::NotFound(id))?;
        if row.kind == RecordKind::Patient.as_str() {
            let key = data_key(&self.pool, &self.keys, &row.id).await?;
            return row.to_stored_with(key.as_ref());
        }
        row.to_stored()
    }

    /// Sites and clinicians (non-voided), as the validation rules use them.
    pub async fn reference_data(&self) -> Result<ReferenceData> {
        let mut conn = self.pool.acquire().await?;
        reference_data(&mut conn).await
    }

    /// The non-voided sites, oldest first.
    pub async fn sites(&self) -> Result<Vec<(RecordId, Site)>> {
        let mut out = Vec::new();
        for row in rows_of_kind(&self.pool, "site").await? {
            let stored = row.to_stored()?;
            if let AnyRecord::Site(s) = stored.record {
                out.push((stored.meta.id, s));
            }
        }
        Ok(out)
    }

    /// The non-voided clinicians, oldest first.
    pub async fn clinicians(&self) -> Result<Vec<(RecordId, Clinician)>> {
        let mut out = Vec::new();
        for row in rows_of_kind(&self.pool, "clinician").await? {
            let stored = row.to_stored()?;
            if let AnyRecord::Clinician(c) = stored.record {
                out.push((stored.meta.id, c));
            }
        }
        Ok(out)
    }

    /// A patient's whole non-voided record.
    pub async fn patient_file(&self, patient_id: RecordId) -> Result<PatientFile> {
        let rows = patient_rows(&self.pool, patient_id).await?;
        let key = data_key(&self.pool, &self.keys, &patient_id.to_string()).await?;
        file_from_rows(patient_id, &rows, key.as_ref())
    }

    /// What [`Store::save_clinical`] would find of `record` (the new record
    /// when `id` is none, else the edit of record `id`) within the patient's
    /// whole file, without saving anything: the web checks the rules on a
    /// form's readable values beside its format errors.
    pub async fn check_clinical(
        &self,
        patient_id: RecordId,
        id: Option<RecordId>,
        record: ClinicalRecord,
        today: chrono::NaiveDate,
    ) -> Result<pdva_domain::Checked> {
        let file = self.patient_file(patient_id).await?;
        let reference = self.reference_data().await?;
        let id = id.unwrap_or_else(RecordId::new_random);
        // Checked as it would be saved (a procedure's take-up included).
        Ok(pdva_domain::preoperative::save(file, id, record, &reference, today).checked)
    }

    /// The clinical records of a patient with their envelopes (non-voided).
    pub async fn patient_records(&self, patient_id: RecordId) -> Result<Vec<StoredRecord>> {
        let rows = patient_rows(&self.pool, patient_id).await?;
        let key = data_key(&self.pool, &self.keys, &patient_id.to_string()).await?;
        rows.iter()
            .map(|r| r.to_stored_with(key.as_ref()))
            .collect()
    }

    /// Counts of (non-voided) patients, index procedures, visits and deaths
    /// per site, summed from the outcome facts table.
    pub async fn site_counts(&self) -> Result<Vec<SiteCounts>> {
        let mut by_site: BTreeMap<String, SiteCounts> = BTreeMap::new();
        for (_, site) in self.sites().await? {
            let code = site.site_code.to_string();
            by_site.insert(
                code.clone(),
                SiteCounts {
                    site_code: code,
                    site_name: site.name.to_string(),
                    patients: 0,
                    procedures: 0,
                    visits: 0,
                    deaths: 0,
                },
            );
        }
        // From the outcome facts table, one row a non-voided patient with
        // their counts, instead of a join of `record` with itself.
        let rows = sqlx::query(
            "SELECT site_code, COUNT(*), CAST(SUM(procedures) AS BIGINT), \
             CAST(SUM(visits) AS BIGINT), CAST(SUM(deaths) AS BIGINT) \
             FROM outcome_facts GROUP BY site_code",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let code: String = row.try_get(0)?;
            if let Some(c) = by_site.get_mut(&code) {
                c.patients = row.try_get(1)?;
                c.procedures = row.try_get(2)?;
                c.visits = row.try_get(3)?;
                c.deaths = row.try_get(4)?;
            }
        }
        Ok(by_site.into_values().collect())
    }

    /// The newest audit entries, of one record (or patient) or of the whole
    /// registry, newest first.
    pub async fn audit_log(&self, record: Option<RecordId>, limit: i64) -> Result<Vec<AuditEntry>> {
        let base = "SELECT seq, at, actor, action, record_id, record_kind, patient_id, reason, \
                    warnings, before_state, row_hash, prev_hash, hash FROM audit_entry";
        let rows = match record {
            Some(id) => {
                // Two index searches, not `record_id = $1 OR patient_id = $1`:
                // with the LIMIT, PostgreSQL would walk the whole trail
                // backwards by seq testing each entry (0.37 s a patient page
                // at 100,000 patients, against 1 ms on SQLite).
                sqlx::query(&format!(
                    "{base} WHERE seq IN (SELECT seq FROM audit_entry WHERE record_id = $1 \
                     UNION SELECT seq FROM audit_entry WHERE patient_id = $1) \
                     ORDER BY seq DESC LIMIT $2"
                ))
                .bind(id.to_string())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("{base} ORDER BY seq DESC LIMIT $1"))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(audit_entry_from_row).collect()
    }

    /// Ids of the non-voided patients, oldest first.
    pub async fn patient_ids(&self) -> Result<Vec<RecordId>> {
        let rows = sqlx::query(
            "SELECT id FROM record WHERE kind = 'patient' AND voided = 0 ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                id.parse().map_err(|_| StoreError::Corrupt {
                    id,
                    kind: "patient".into(),
                    detail: "id is not a record id".into(),
                })
            })
            .collect()
    }
}

/// A row as [`Store::load_patient_files`] reads it.
struct RawRow {
    id: String,
    kind: String,
    patient_id: Option<String>,
    created_at: String,
    body: String,
    /// A patient's wrapped data key (none for a clinical record, or an
    /// erased patient).
    wrapped_key: Option<String>,
}

/// A row parsed: a patient, or a clinical record of a patient with its
/// order key.
enum Parsed {
    Patient(RecordId, pdva_domain::Patient),
    Record(RecordId, u128, RecordId, ClinicalRecord),
}

/// Rows parsed per batch on a blocking thread.
const PARSE_BATCH: usize = 4096;

/// Batches being parsed at once, at most (bounds the memory held in raw rows).
const PARSE_IN_FLIGHT: usize = 4;

fn parse_batch(rows: Vec<RawRow>, keys: &Keyring) -> Result<Vec<Parsed>> {
    rows.into_iter()
        .map(|row| {
            let corrupt = |detail: String| StoreError::Corrupt {
                id: row.id.clone(),
                kind: row.kind.clone(),
                detail,
            };
            let kind =
                RecordKind::parse(&row.kind).ok_or_else(|| corrupt("unknown kind".into()))?;
            let id: RecordId = row
                .id
                .parse()
                .map_err(|_| corrupt("id is not a record id".into()))?;
            if kind == RecordKind::Patient {
                let key = row
                    .wrapped_key
                    .as_deref()
                    .map(|w| keys.unwrap(&row.id, w))
                    .transpose()?;
                let patient =
                    patient_from_body(&row.body, &row.id, key.as_ref()).map_err(corrupt)?;
                return Ok(Parsed::Patient(id, patient));
            }
            match AnyRecord::from_body(kind, &row.body) {
                Ok(AnyRecord::Clinical(record)) => {
                    let patient: RecordId = row
                        .patient_id
                        .as_deref()
                        .unwrap_or_default()
                        .parse()
                        .map_err(|_| corrupt("bad patient id".into()))?;
                    Ok(Parsed::Record(
                        patient,
                        timestamp_key(&row.created_at),
                        id,
                        record,
                    ))
                }
                Ok(_) => Err(corrupt("not a patient or clinical record".into())),
                Err(e) => Err(corrupt(e.to_string())),
            }
        })
        .collect()
}

/// A patient being assembled: the patient (once their row is read) and
/// their records with order keys.
type Slot = (
    Option<(RecordId, pdva_domain::Patient)>,
    Vec<(u128, RecordId, ClinicalRecord)>,
);

impl Store {
    /// Every non-voided patient's whole file (non-voided records), of one
    /// home site or of the whole registry, in no particular order: the same
    /// files as [`Store::patient_file`] returns one at a time, with their
    /// records in the same order (oldest first), but read in one pass over
    /// the table. The JSON bodies are parsed on blocking threads while the
    /// rows stream in, so a large registry loads at the speed of the scan.
    #[tracing::instrument(skip_all, fields(site = ?site))]
    pub async fn load_patient_files(&self, site: Option<&str>) -> Result<Vec<PatientFile>> {
        let sql = match site {
            None => "SELECT r.id, r.kind, r.patient_id, r.created_at, r.body, k.wrapped_key \
                     FROM record r LEFT JOIN patient_key k ON k.patient_id = r.id \
                     WHERE r.voided = 0 AND (r.kind = 'patient' OR r.patient_id IS NOT NULL)"
                .to_owned(),
            Some(_) => "SELECT r.id, r.kind, r.patient_id, r.created_at, r.body, k.wrapped_key \
                        FROM record r LEFT JOIN patient_key k ON k.patient_id = r.id \
                        WHERE r.voided = 0 AND ((r.kind = 'patient' AND r.site_code = $1) \
                        OR r.patient_id IN (SELECT p.id FROM record p WHERE p.kind = 'patient' \
                        AND p.voided = 0 AND p.site_code = $1))"
                .to_owned(),
        };
        let binds: Vec<String> = site.map(str::to_owned).into_iter().collect();
        self.load_files(&sql, binds).await
    }

    /// Ids of the non-voided patients of one home site or of the whole
    /// registry, in id order: the order of every export, so that the same
    /// registry exports the same files whenever (and wherever) it is read.
    pub async fn patient_ids_in_order(&self, site: Option<&str>) -> Result<Vec<RecordId>> {
        let sql = match site {
            None => "SELECT id FROM record WHERE kind = 'patient' AND voided = 0 ORDER BY id",
            Some(_) => {
                "SELECT id FROM record WHERE kind = 'patient' AND voided = 0 AND site_code = $1 \
                 ORDER BY id"
            }
        };
        let mut query = sqlx::query(sql);
        if let Some(site) = site {
            query = query.bind(site.to_owned());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                id.parse().map_err(|_| StoreError::Corrupt {
                    id,
                    kind: "patient".into(),
                    detail: "id is not a record id".into(),
                })
            })
            .collect()
    }

    /// The whole files of these patients (non-voided ones; in no particular
    /// order), read in one query: how an export streams a registry in
    /// batches of patients, in constant memory.
    pub async fn patient_files_of(&self, ids: &[RecordId]) -> Result<Vec<PatientFile>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = (1..=ids.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT r.id, r.kind, r.patient_id, r.created_at, r.body, k.wrapped_key \
             FROM record r LEFT JOIN patient_key k ON k.patient_id = r.id \
             WHERE r.voided = 0 AND ((r.kind = 'patient' AND r.id IN ({list})) \
             OR r.patient_id IN ({list}))"
        );
        self.load_files(&sql, ids.iter().map(ToString::to_string).collect())
            .await
    }

    /// Reads patient and clinical rows selected by `sql` (the columns of
    /// [`RawRow`], in order) and assembles them into files.
    async fn load_files(&self, sql: &str, binds: Vec<String>) -> Result<Vec<PatientFile>> {
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = query.bind(bind);
        }
        let mut index: HashMap<RecordId, usize> = HashMap::new();
        let mut slots: Vec<Slot> = Vec::new();
        let mut place = |parsed: Vec<Parsed>| {
            for p in parsed {
                let patient_id = match &p {
                    Parsed::Patient(id, _) => *id,
                    Parsed::Record(patient, ..) => *patient,
                };
                let i = *index.entry(patient_id).or_insert_with(|| {
                    slots.push((None, Vec::new()));
                    slots.len() - 1
                });
                match p {
                    Parsed::Patient(id, patient) => slots[i].0 = Some((id, patient)),
                    Parsed::Record(_, key, id, record) => slots[i].1.push((key, id, record)),
                }
            }
        };
        let mut in_flight = std::collections::VecDeque::new();
        let mut batch = Vec::with_capacity(PARSE_BATCH);
        let mut stream = query.fetch(&self.pool);
        loop {
            let row = stream.try_next().await?;
            let done = row.is_none();
            if let Some(row) = row {
                batch.push(RawRow {
                    id: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    patient_id: row.try_get(2)?,
                    created_at: row.try_get(3)?,
                    body: row.try_get(4)?,
                    wrapped_key: row.try_get(5)?,
                });
            }
            if batch.len() == PARSE_BATCH || (done && !batch.is_empty()) {
                let rows = std::mem::replace(&mut batch, Vec::with_capacity(PARSE_BATCH));
                let keys = self.keys.clone();
                in_flight.push_back(tokio::task::spawn_blocking(move || {
                    parse_batch(rows, &keys)
                }));
                if in_flight.len() > PARSE_IN_FLIGHT {
                    let oldest = in_flight.pop_front().expect("in flight");
                    place(oldest.await.expect("parser thread")?);
                }
            }
            if done {
                break;
            }
        }
        drop(stream);
        for handle in in_flight {
            place(handle.await.expect("parser thread")?);
        }
        // Records of a patient who is not there (voided with their records)
        // are left out.
        Ok(slots
            .into_iter()
            .filter_map(|(patient, mut records)| {
                let (patient_id, patient) = patient?;
                records.sort_unstable_by_key(|r| (r.0, r.1));
                Some(PatientFile {
                    patient_id,
                    patient,
                    records: records.into_iter().map(|(_, id, r)| (id, r)).collect(),
                })
            })
            .collect())
    }
}

/// Reads an audit entry selected in column order.
pub(crate) fn audit_entry_from_row(row: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        record_id: row.try_get(4)?,
        record_kind: row.try_get(5)?,
        patient_id: row.try_get(6)?,
        reason: row.try_get(7)?,
        warnings: row.try_get(8)?,
        before_state: row.try_get(9)?,
        row_hash: row.try_get(10)?,
        prev_hash: row.try_get(11)?,
        hash: row.try_get(12)?,
    })
}
