//! Patients' identifiers: their data keys, erasure, NHS-number conflicts
//! between sites, and rotation of the master key.

use std::path::{Path, PathBuf};

use pdva_domain::values::NhsNumber;
use pdva_domain::{RecordId, RecordKind};
use serde::Serialize;
use sqlx::{Any, Executor, Row, Transaction};

use crate::chain::ChainWriter;
use crate::db::Engine;
use crate::error::{Result, StoreError};
use crate::keys::{self, DataKey, Keyring};
use crate::model::{Actor, AuditAction};
use crate::rows::RecordRow;
use crate::{Store, now_timestamp};

/// What a clinician is told when an NHS number is held by another patient,
/// wherever that patient is: the same words whether the number is at their
/// own site or another, so that the refusal reveals nobody's care.
pub const NHS_NUMBER_REFUSED: &str = "this NHS number cannot be registered here; the registry administrator has been asked to review it";

/// An attempt to register an NHS number another patient holds, kept for an
/// administrator: who tried, where and when. The number itself is kept only
/// as its blind index; an administrator looks the holder up with the
/// number the site gives them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NhsConflict {
    /// Its id.
    pub id: String,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who tried.
    pub actor: String,
    /// The site of the patient they were registering or editing.
    pub site_code: String,
    /// The patient being edited (`None` for a new registration).
    pub patient_id: Option<String>,
    /// The patient who holds the number now, if they are still registered.
    pub holder_id: Option<String>,
    /// When it was resolved.
    pub resolved_at: Option<String>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// How.
    pub resolution: Option<String>,
}

/// A patient's wrapped data key, if they have one (none: erased).
pub(crate) async fn data_key<'e, E>(
    exec: E,
    keys: &Keyring,
    patient_id: &str,
) -> Result<Option<DataKey>>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query("SELECT wrapped_key FROM patient_key WHERE patient_id = $1")
        .bind(patient_id.to_owned())
        .fetch_optional(exec)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let wrapped: String = row.try_get(0)?;
            Ok(Some(keys.unwrap(patient_id, &wrapped)?))
        }
    }
}

/// The patient (other than `except`) whose NHS number has this blind index.
pub(crate) async fn nhs_holder(
    tx: &mut Transaction<'static, Any>,
    index: &str,
    except: &str,
) -> Result<Option<String>> {
    let row =
        sqlx::query("SELECT patient_id FROM patient_key WHERE nhs_index = $1 AND patient_id <> $2")
            .bind(index.to_owned())
            .bind(except.to_owned())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Sets a patient's NHS blind index (a new number, or none).
pub(crate) async fn set_nhs_index(
    tx: &mut Transaction<'static, Any>,
    patient_id: &str,
    index: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE patient_key SET nhs_index = $1 WHERE patient_id = $2")
        .bind(index.map(str::to_owned))
        .bind(patient_id.to_owned())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Destroys a patient's data key: every copy of their sealed identifiers,
/// in the row and in the audit trail's before-states, becomes noise.
pub(crate) async fn delete_key(tx: &mut Transaction<'static, Any>, patient_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM patient_key WHERE patient_id = $1")
        .bind(patient_id.to_owned())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Stages the erasure of a patient's identifiers: their row rewritten
/// without the sealed identifiers (year of birth kept), audited with `reason`
/// and no identifier, and their data key deleted. The caller flushes and
/// commits, then calls [`Store::scrub_after_erasure`].
pub(crate) async fn stage_erasure(
    tx: &mut Transaction<'static, Any>,
    chain: &mut ChainWriter,
    before: &RecordRow,
    reason: String,
) -> Result<()> {
    let patient = before.to_stored()?.record;
    let crate::model::AnyRecord::Patient(patient) = patient else {
        return Err(before.corrupt("not a patient"));
    };
    let mut after = before.clone();
    after.seal_patient(&patient, None);
    after.version += 1;
    after.updated_at = chain.at().to_owned();
    after.updated_by = chain.actor().to_owned();
    chain.change(AuditAction::Erase, before, after, Some(reason), None);
    delete_key(tx, &before.id).await
}

impl Store {
    /// Erases a patient's identifiers (names, NHS and hospital numbers, date
    /// of birth): their data key is destroyed, so the identifiers cannot be
    /// read again from the row, the audit trail or a backup taken after.
    /// The clinical record stays and counts for audit; the patient keeps
    /// their year of birth (and reads back born on 1 July of it). The
    /// erasure is an audit entry with `reason` and no identifier.
    pub async fn erase_identifiers(
        &self,
        actor: &Actor,
        patient_id: RecordId,
        reason: &str,
    ) -> Result<crate::DataVersion> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::ReasonRequired(
                "reason: erasing a patient's identifiers needs a reason",
            ));
        }
        let (mut tx, head) = self.begin_write().await?;
        let mut chain = ChainWriter::new(head, actor.name());
        let before = crate::read::row_by_id(&mut *tx, patient_id)
            .await?
            .filter(|r| r.kind == RecordKind::Patient.as_str())
            .ok_or(StoreError::NotFound(patient_id))?;
        let sealed = keys::body_is_sealed(&before.body).map_err(|e| before.corrupt(e))?;
        if !sealed {
            // Already erased: only a stray key (there should be none) to drop.
            delete_key(&mut tx, &before.id).await?;
            tx.commit().await?;
            self.scrub_after_erasure().await?;
            return Err(StoreError::Invalid(format!(
                "patient {patient_id}: their identifiers are already erased"
            )));
        }
        stage_erasure(&mut tx, &mut chain, &before, reason.to_owned()).await?;
        let version = chain.flush(&mut tx).await?;
        tx.commit().await?;
        self.scrub_after_erasure().await?;
        Ok(version)
    }

    /// Whether a patient's identifiers have been erased (or were never
    /// kept, their registry data consent being `no`): what reads back is
    /// then only the year of birth, as 1 July of it.
    pub async fn identifiers_erased(&self, patient_id: RecordId) -> Result<bool> {
        let row = crate::read::row_by_id(&self.pool, patient_id)
            .await?
            .filter(|r| r.kind == RecordKind::Patient.as_str())
            .ok_or(StoreError::NotFound(patient_id))?;
        Ok(!keys::body_is_sealed(&row.body).map_err(|e| row.corrupt(e))?)
    }

    /// After a data key is deleted, makes sure no copy of it stays in the
    /// database's files: on SQLite (secure delete zeroes the freed space)
    /// the write-ahead log is checkpointed into the file and truncated; on
    /// PostgreSQL the key table is vacuumed, so the deleted row's space is
    /// reclaimed.
    pub async fn scrub_after_erasure(&self) -> Result<()> {
        match self.engine {
            Engine::Sqlite => {
                // A reader holding an old snapshot makes the checkpoint
                // busy; try again briefly rather than leave the log behind.
                for attempt in 0..20 {
                    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&self.pool)
                        .await?;
                    let busy: i64 = row.try_get(0)?;
                    if busy == 0 {
                        return Ok(());
                    }
                    tracing::debug!(attempt, "checkpoint busy after erasure; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                tracing::warn!(
                    "the write-ahead log could not be checkpointed after an erasure (readers \
                     kept it busy); it will be at the next checkpoint"
                );
                Ok(())
            }
            Engine::Postgres => {
                self.pool.execute("VACUUM patient_key").await?;
                Ok(())
            }
        }
    }

    /// Records an attempt to register an NHS number another patient holds.
    pub(crate) async fn record_nhs_conflict(
        &self,
        actor: &Actor,
        site_code: &str,
        nhs: &NhsNumber,
        patient_id: Option<RecordId>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO nhs_conflict (id, at, actor, site_code, nhs_index, patient_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(now_timestamp())
        .bind(actor.name().to_owned())
        .bind(site_code.to_owned())
        .bind(self.keys.blind_index(nhs))
        .bind(patient_id.map(|p| p.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The NHS-number conflicts, oldest first: the unresolved ones, or all.
    pub async fn nhs_conflicts(&self, include_resolved: bool) -> Result<Vec<NhsConflict>> {
        let sql = format!(
            "SELECT c.id, c.at, c.actor, c.site_code, c.patient_id, k.patient_id, \
             c.resolved_at, c.resolved_by, c.resolution FROM nhs_conflict c \
             LEFT JOIN patient_key k ON k.nhs_index = c.nhs_index {} ORDER BY c.at, c.id",
            if include_resolved {
                ""
            } else {
                "WHERE c.resolved_at IS NULL"
            }
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(NhsConflict {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    site_code: r.try_get(3)?,
                    patient_id: r.try_get(4)?,
                    holder_id: r.try_get(5)?,
                    resolved_at: r.try_get(6)?,
                    resolved_by: r.try_get(7)?,
                    resolution: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Marks a conflict resolved, saying how (for example: the patient
    /// moved site and was transferred with `save_patient`).
    pub async fn resolve_nhs_conflict(
        &self,
        actor: &Actor,
        conflict_id: &str,
        resolution: &str,
    ) -> Result<()> {
        let resolution = resolution.trim();
        if resolution.is_empty() {
            return Err(StoreError::ReasonRequired(
                "resolution: say how the conflict was resolved",
            ));
        }
        let done = sqlx::query(
            "UPDATE nhs_conflict SET resolved_at = $1, resolved_by = $2, resolution = $3 \
             WHERE id = $4 AND resolved_at IS NULL",
        )
        .bind(now_timestamp())
        .bind(actor.name().to_owned())
        .bind(resolution.to_owned())
        .bind(conflict_id.to_owned())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Invalid(format!(
                "no unresolved NHS-number conflict {conflict_id}"
            )));
        }
        Ok(())
    }

    /// Re-wraps every patient's data key under a new master key, written to
    /// `new_key_file` (the current key file when it is the same path, whose
    /// old content is kept beside it as `<file>.old-<time>`). The audit
    /// chain and the rows are not touched: only `patient_key` and the key
    /// check change.
    ///
    /// Crash safety: the new key file is first written and flushed as
    /// `<new>.pending`; the database is re-wrapped in one transaction; then
    /// the pending file is renamed into place. Before the commit the old
    /// file opens the registry; after it, the pending (or renamed) one does,
    /// and the refusal of the old one names it.
    pub async fn rotate_master_key(&self, new_key_file: &Path) -> Result<Rotation> {
        let new = Keyring {
            file: self.keys.file.with_new_master(),
            path: new_key_file.to_path_buf(),
        };
        let pending = keys::sibling(new_key_file, ".pending");
        let _ = std::fs::remove_file(&pending);
        new.file.create(&pending)?;

        let (mut tx, _head) = self.begin_write().await?;
        let rows = sqlx::query("SELECT patient_id, wrapped_key FROM patient_key")
            .fetch_all(&mut *tx)
            .await?;
        let mut rewrapped = 0u64;
        for row in &rows {
            let patient_id: String = row.try_get(0)?;
            let wrapped: String = row.try_get(1)?;
            let again = new.rewrap_from(&self.keys, &patient_id, &wrapped)?;
            sqlx::query("UPDATE patient_key SET wrapped_key = $1 WHERE patient_id = $2")
                .bind(again)
                .bind(patient_id)
                .execute(&mut *tx)
                .await?;
            rewrapped += 1;
        }
        sqlx::query("UPDATE key_check SET master_check = $1 WHERE id = 1")
            .bind(new.master_check())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;

        let same = same_file(new_key_file, &self.keys.path);
        let backup = if same {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let backup = keys::sibling(&self.keys.path, &format!(".old-{stamp}"));
            self.keys.file.create(&backup)?;
            Some(backup)
        } else {
            None
        };
        std::fs::rename(&pending, new_key_file).map_err(|e| StoreError::KeyFile {
            path: new_key_file.display().to_string(),
            detail: format!(
                "could not be put in place ({e}); the registry now opens with {}",
                pending.display()
            ),
        })?;
        if let Some(dir) = new_key_file.parent()
            && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            let _ = d.sync_all();
        }
        Ok(Rotation {
            patient_keys: rewrapped,
            key_file: new_key_file.to_path_buf(),
            old_key_file: backup.unwrap_or_else(|| self.keys.path.clone()),
        })
    }
}

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Patients whose data key was re-wrapped.
    pub patient_keys: u64,
    /// The key file that opens the registry now.
    pub key_file: PathBuf,
    /// The old key file, kept (it opens backups taken before the rotation).
    pub old_key_file: PathBuf,
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
