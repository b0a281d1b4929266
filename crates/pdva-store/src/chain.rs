//! Writing records and their audit entries in one transaction.
//!
//! Every write locks the chain head first, so appends are serialised, then
//! stages row inserts, row updates and audit entries, and writes them in
//! batches before moving the head and committing. A record and its audit
//! entries commit together or not at all.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

use sqlx::{Any, Row, Transaction};

use pdva_domain::PatientFacts;

use crate::error::Result;
use crate::model::{AuditAction, AuditEntry, DataVersion};
use crate::projection;
use crate::rows::{RECORD_COLUMN_COUNT, RECORD_COLUMNS, RecordRow};

/// Rows per multi-row INSERT: well under both engines' parameter limits
/// (SQLite 32766, PostgreSQL 65535).
pub(crate) const BATCH_ROWS: usize = 400;
const AUDIT_COLUMNS: &str = "seq, at, actor, action, record_id, record_kind, patient_id, \
    reason, warnings, before_state, row_hash, prev_hash, hash";
const AUDIT_COLUMN_COUNT: usize = 13;

/// Changes staged within one transaction.
pub(crate) struct ChainWriter {
    head: DataVersion,
    at: String,
    actor: String,
    inserts: Vec<RecordRow>,
    updates: Vec<RecordRow>,
    entries: Vec<AuditEntry>,
    /// Outcome facts of patients written whole (imports), as their records
    /// will read back: written as they are instead of recomputed.
    given_facts: Vec<PatientFacts>,
    /// New patients' wrapped data keys and NHS blind indexes, for
    /// `patient_key` (outside the chain).
    keys: Vec<(String, String, Option<String>)>,
}

/// What an audit entry names and binds: the thing changed and the hash of
/// its state after the change.
pub(crate) struct Audited {
    pub record_id: String,
    pub record_kind: String,
    pub patient_id: Option<String>,
    pub row_hash: String,
}

/// Locks the chain head for this transaction and returns it.
pub(crate) async fn lock_head(tx: &mut Transaction<'static, Any>) -> Result<DataVersion> {
    // A no-op update takes the write lock (the row lock in PostgreSQL, the
    // database write lock in SQLite) before anything is read.
    sqlx::query("UPDATE chain_head SET seq = seq WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    Ok(DataVersion {
        seq: row.try_get(0)?,
        hash: row.try_get(1)?,
    })
}

impl ChainWriter {
    pub fn new(head: DataVersion, actor: &str) -> Self {
        Self {
            head,
            at: crate::now_timestamp(),
            actor: actor.to_owned(),
            inserts: Vec::new(),
            updates: Vec::new(),
            entries: Vec::new(),
            given_facts: Vec::new(),
            keys: Vec::new(),
        }
    }

    pub fn at(&self) -> &str {
        &self.at
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    fn append(
        &mut self,
        action: AuditAction,
        row: &RecordRow,
        before_state: Option<String>,
        reason: Option<String>,
        warnings: Option<String>,
    ) {
        self.append_entry(
            action,
            Audited {
                record_id: row.id.clone(),
                record_kind: row.kind.clone(),
                patient_id: row.patient_id.clone(),
                row_hash: row.hash(),
            },
            before_state,
            reason,
            warnings,
        );
    }

    /// Appends an entry for something audited outside the `record` table (a
    /// user account): `audited.row_hash` binds its state after the change.
    pub fn append_entry(
        &mut self,
        action: AuditAction,
        audited: Audited,
        before_state: Option<String>,
        reason: Option<String>,
        warnings: Option<String>,
    ) {
        let mut entry = AuditEntry {
            seq: self.head.seq + 1,
            at: self.at.clone(),
            actor: self.actor.clone(),
            action: action.as_str().to_owned(),
            record_id: audited.record_id,
            record_kind: audited.record_kind,
            patient_id: audited.patient_id,
            reason,
            warnings,
            before_state,
            row_hash: audited.row_hash,
            prev_hash: self.head.hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        self.head = DataVersion {
            seq: entry.seq,
            hash: entry.hash.clone(),
        };
        self.entries.push(entry);
    }

    /// Stages a new row.
    pub fn create(&mut self, row: RecordRow, reason: Option<String>, warnings: Option<String>) {
        self.append(AuditAction::Create, &row, None, reason, warnings);
        self.inserts.push(row);
    }

    /// Stages a changed row; `after.version` must already be `before.version + 1`.
    pub fn change(
        &mut self,
        action: AuditAction,
        before: &RecordRow,
        after: RecordRow,
        reason: Option<String>,
        warnings: Option<String>,
    ) {
        self.append(action, &after, Some(before.state()), reason, warnings);
        self.updates.push(after);
    }

    /// Stages a new patient's wrapped data key and NHS blind index.
    pub fn put_key(&mut self, patient_id: String, wrapped: String, nhs_index: Option<String>) {
        self.keys.push((patient_id, wrapped, nhs_index));
    }

    /// Gives the outcome facts of a patient whose whole file this
    /// transaction creates, so that they are not read back and recomputed.
    pub fn give_facts(&mut self, facts: PatientFacts) {
        self.given_facts.push(facts);
    }

    /// The patients whose records this transaction changes (a patient row
    /// is its own patient's).
    fn touched_patients(&self) -> BTreeSet<String> {
        self.inserts
            .iter()
            .chain(&self.updates)
            .filter_map(|row| {
                if row.kind == "patient" {
                    Some(row.id.clone())
                } else {
                    row.patient_id.clone()
                }
            })
            .collect()
    }

    /// Writes everything staged, brings the touched patients' outcome facts
    /// up to date, and moves the chain head. The caller commits.
    pub async fn flush(self, tx: &mut Transaction<'static, Any>) -> Result<DataVersion> {
        let mut touched = self.touched_patients();
        for given in &self.given_facts {
            touched.remove(&given.patient_id.to_string());
        }
        let style = Placeholders::of(tx);
        for chunk in self.inserts.chunks(BATCH_ROWS) {
            let sql = insert_sql(
                "record",
                RECORD_COLUMNS,
                RECORD_COLUMN_COUNT,
                chunk.len(),
                style,
            );
            let mut q = sqlx::query(&sql);
            for row in chunk {
                q = row.bind(q);
            }
            q.execute(&mut **tx).await?;
        }
        for chunk in self.keys.chunks(BATCH_ROWS) {
            let sql = insert_sql(
                "patient_key",
                "patient_id, wrapped_key, nhs_index",
                3,
                chunk.len(),
                style,
            );
            let mut q = sqlx::query(&sql);
            for (patient, wrapped, index) in chunk {
                q = q.bind(patient).bind(wrapped).bind(index);
            }
            q.execute(&mut **tx).await?;
        }
        for row in &self.updates {
            let done = row
                .bind(sqlx::query(update_sql()))
                .execute(&mut **tx)
                .await?;
            if done.rows_affected() != 1 {
                // The row was read in this transaction; losing it means the
                // database was changed underneath us. Roll back.
                return Err(row.corrupt("the row to update is no longer there"));
            }
        }
        for chunk in self.entries.chunks(BATCH_ROWS) {
            let sql = insert_sql(
                "audit_entry",
                AUDIT_COLUMNS,
                AUDIT_COLUMN_COUNT,
                chunk.len(),
                style,
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.seq)
                    .bind(&e.at)
                    .bind(&e.actor)
                    .bind(&e.action)
                    .bind(&e.record_id)
                    .bind(&e.record_kind)
                    .bind(&e.patient_id)
                    .bind(&e.reason)
                    .bind(&e.warnings)
                    .bind(&e.before_state)
                    .bind(&e.row_hash)
                    .bind(&e.prev_hash)
                    .bind(&e.hash);
            }
            q.execute(&mut **tx).await?;
        }
        projection::write_given(tx, &self.given_facts).await?;
        projection::refresh(tx, &touched).await?;
        sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(self.head.seq)
            .bind(&self.head.hash)
            .execute(&mut **tx)
            .await?;
        Ok(self.head)
    }
}

/// How a statement marks its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Placeholders {
    /// `$1, $2, …`: PostgreSQL's only form.
    Numbered,
    /// `?, ?, …`: bound in order. SQLite looks each named or numbered
    /// parameter up by a linear scan, so a many-row INSERT with `$N`
    /// placeholders costs time quadratic in its parameters; `?` does not.
    Positional,
}

impl Placeholders {
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Self::Positional
        } else {
            Self::Numbered
        }
    }
}

/// `INSERT INTO table (columns) VALUES ($1, …), (…)` for `rows` rows, cached
/// so that each statement shape is built (and prepared) once.
pub(crate) fn insert_sql(
    table: &'static str,
    columns: &'static str,
    width: usize,
    rows: usize,
    style: Placeholders,
) -> String {
    type Key = (&'static str, usize, Placeholders);
    static CACHE: LazyLock<Mutex<HashMap<Key, String>>> = LazyLock::new(Mutex::default);
    let mut cache = CACHE.lock().expect("cache lock");
    cache
        .entry((table, rows, style))
        .or_insert_with(|| {
            let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
            for r in 0..rows {
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for c in 0..width {
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    match style {
                        Placeholders::Numbered => {
                            sql.push('$');
                            sql.push_str(&(r * width + c + 1).to_string());
                        }
                        Placeholders::Positional => sql.push('?'),
                    }
                }
                sql.push(')');
            }
            sql
        })
        .clone()
}

/// Updates a row by id, binding the same column order as an insert.
fn update_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let sets: Vec<String> = RECORD_COLUMNS
            .split(',')
            .map(str::trim)
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        format!("UPDATE record SET {} WHERE id = $1", sets.join(", "))
    });
    &SQL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_numbers_placeholders_across_rows() {
        assert_eq!(
            insert_sql("t", "a, b", 2, 2, Placeholders::Numbered),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_sql("t", "a, b", 2, 2, Placeholders::Positional),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }

    #[test]
    fn update_sql_sets_every_column_but_id() {
        let sql = update_sql();
        assert!(sql.starts_with("UPDATE record SET kind = $2, patient_id = $3"));
        assert!(sql.ends_with("updated_by = $18 WHERE id = $1"));
    }
}
