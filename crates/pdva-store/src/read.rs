//! Reading records back as domain types.

use std::collections::BTreeMap;

use pdva_domain::{Clinician, PatientFile, RecordId, ReferenceData, Site};
use sqlx::{Any, Executor, Row};

use crate::Store;
use crate::error::{Result, StoreError};
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

/// Builds a patient's file from their rows.
pub(crate) fn file_from_rows(patient_id: RecordId, rows: &[RecordRow]) -> Result<PatientFile> {
    let mut patient = None;
    let mut records = Vec::new();
    for row in rows {
        let stored = row.to_stored()?;
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

    /// Any record by id, voided or not.
    pub async fn get(&self, id: RecordId) -> Result<StoredRecord> {
        row_by_id(&self.pool, id)
            .await?
            .ok_or(StoreError::NotFound(id))?
            .to_stored()
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
        file_from_rows(patient_id, &rows)
    }

    /// The clinical records of a patient with their envelopes (non-voided).
    pub async fn patient_records(&self, patient_id: RecordId) -> Result<Vec<StoredRecord>> {
        patient_rows(&self.pool, patient_id)
            .await?
            .iter()
            .map(RecordRow::to_stored)
            .collect()
    }

    /// Counts of patients, procedures, visits and deaths per site.
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
        let patients = sqlx::query(
            "SELECT site_code, COUNT(*) FROM record WHERE kind = 'patient' AND voided = 0 \
             GROUP BY site_code",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in patients {
            let code: String = row.try_get(0)?;
            if let Some(c) = by_site.get_mut(&code) {
                c.patients = row.try_get(1)?;
            }
        }
        let clinical = sqlx::query(
            "SELECT p.site_code, r.kind, COUNT(*) FROM record r JOIN record p ON p.id = r.patient_id \
             WHERE r.voided = 0 AND p.voided = 0 AND r.kind IN ('procedure', 'follow_up_visit', 'death') \
             GROUP BY p.site_code, r.kind",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in clinical {
            let code: String = row.try_get(0)?;
            let kind: String = row.try_get(1)?;
            let n: i64 = row.try_get(2)?;
            if let Some(c) = by_site.get_mut(&code) {
                match kind.as_str() {
                    "procedure" => c.procedures = n,
                    "follow_up_visit" => c.visits = n,
                    "death" => c.deaths = n,
                    _ => {}
                }
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
                sqlx::query(&format!(
                    "{base} WHERE record_id = $1 OR patient_id = $1 ORDER BY seq DESC LIMIT $2"
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
