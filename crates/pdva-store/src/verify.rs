//! Verifying the audit trail and every data row against it.
//!
//! Three passes, each streaming so memory stays flat on a large registry:
//! 1. the chain in sequence order: contiguous numbers, each entry's hash
//!    recomputed, each `prev_hash` equal to the previous entry's hash, and the
//!    chain head equal to the last entry;
//! 2. each record's entries in order: the first is its creation, and the
//!    state before each later change hashes to the previous entry's row hash;
//! 3. each data row: its current state hashes to the row hash of its latest
//!    entry (a row changed by raw SQL fails here; a row with no entry too);
//! 4. each user account and API token against its latest entry;
//! 5. each patient's outcome facts row against the facts their records give.

use futures_util::TryStreamExt;
use sqlx::Row;

use crate::error::Result;
use crate::model::{Break, DataVersion, VerifyReport};
use crate::read::audit_entry_from_row;
use crate::rows::{RECORD_COLUMNS, RecordRow, sha256_hex};
use crate::{Progress, Store};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

struct Breaks(Vec<Break>);

impl Breaks {
    fn push(&mut self, seq: Option<i64>, record_id: &str, problem: impl Into<String>) {
        if self.0.len() < VerifyReport::MAX_BREAKS {
            self.0.push(Break {
                seq,
                record_id: record_id.to_owned(),
                problem: problem.into(),
            });
        }
    }
}

impl Store {
    /// Verifies the audit chain and binds every data row to it. Reports the
    /// first broken link first, naming the entry and the record.
    #[tracing::instrument(skip_all)]
    pub async fn verify_audit(&self, progress: &dyn Progress) -> Result<VerifyReport> {
        let mut breaks = Breaks(Vec::new());
        let head = self.data_version().await?;
        let total_entries: i64 = sqlx::query("SELECT COUNT(*) FROM audit_entry")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let total_rows: i64 = sqlx::query("SELECT COUNT(*) FROM record")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;

        // 1. The chain.
        progress.start("verifying the audit chain", total_entries as u64);
        let mut expected_seq = 1;
        let mut prev_hash = GENESIS.to_owned();
        let mut last = DataVersion {
            seq: 0,
            hash: GENESIS.to_owned(),
        };
        {
            let mut stream = sqlx::query(
                "SELECT seq, at, actor, action, record_id, record_kind, patient_id, reason, \
                 warnings, before_state, row_hash, prev_hash, hash FROM audit_entry ORDER BY seq",
            )
            .fetch(&self.pool);
            let mut n = 0u64;
            while let Some(row) = stream.try_next().await? {
                let entry = audit_entry_from_row(&row)?;
                if entry.seq != expected_seq {
                    breaks.push(
                        Some(entry.seq),
                        &entry.record_id,
                        format!(
                            "audit entry {} follows entry {}: entries are missing",
                            entry.seq,
                            expected_seq - 1
                        ),
                    );
                }
                if entry.prev_hash != prev_hash {
                    breaks.push(
                        Some(entry.seq),
                        &entry.record_id,
                        format!(
                            "audit entry {} does not link to the entry before it",
                            entry.seq
                        ),
                    );
                }
                if entry.compute_hash() != entry.hash {
                    breaks.push(
                        Some(entry.seq),
                        &entry.record_id,
                        format!("audit entry {} was changed after it was written (its hash does not match its content)", entry.seq),
                    );
                }
                expected_seq = entry.seq + 1;
                prev_hash = entry.hash.clone();
                last = DataVersion {
                    seq: entry.seq,
                    hash: entry.hash,
                };
                n += 1;
                if n.is_multiple_of(10_000) {
                    progress.advance(10_000);
                }
            }
            progress.advance(n % 10_000);
        }
        if last != head {
            breaks.push(
                None,
                "",
                format!(
                    "the chain head says {} but the last audit entry is {}: entries were removed or added outside the application",
                    head, last
                ),
            );
        }

        // 2. Each record's history.
        progress.start("verifying each record's history", total_entries as u64);
        {
            let mut stream = sqlx::query(
                "SELECT record_id, seq, action, before_state, row_hash FROM audit_entry \
                 ORDER BY record_id, seq",
            )
            .fetch(&self.pool);
            let mut current: Option<(String, String)> = None; // (record_id, row_hash)
            let mut n = 0u64;
            while let Some(row) = stream.try_next().await? {
                let record_id: String = row.try_get(0)?;
                let seq: i64 = row.try_get(1)?;
                let action: String = row.try_get(2)?;
                let before_state: Option<String> = row.try_get(3)?;
                let row_hash: String = row.try_get(4)?;
                let previous = match &current {
                    Some((id, hash)) if *id == record_id => Some(hash.as_str()),
                    _ => None,
                };
                match (previous, before_state) {
                    (None, None) if action == "create" => {}
                    (None, _) => breaks.push(
                        Some(seq),
                        &record_id,
                        format!("the first audit entry of record {record_id} is not its creation"),
                    ),
                    (Some(_), None) => breaks.push(
                        Some(seq),
                        &record_id,
                        format!("audit entry {seq} changes record {record_id} without its previous state"),
                    ),
                    (Some(prev), Some(state)) => {
                        if sha256_hex(state.as_bytes()) != prev {
                            breaks.push(
                                Some(seq),
                                &record_id,
                                format!("audit entry {seq}: the state of record {record_id} before the change is not the state its previous entry recorded"),
                            );
                        }
                    }
                }
                current = Some((record_id, row_hash));
                n += 1;
                if n.is_multiple_of(10_000) {
                    progress.advance(10_000);
                }
            }
            progress.advance(n % 10_000);
        }

        // 3. Each data row against its latest entry.
        progress.start("verifying every record row", total_rows as u64);
        {
            let sql = format!(
                "SELECT {}, a.row_hash, a.seq FROM record r LEFT JOIN audit_entry a \
                 ON a.seq = (SELECT MAX(l.seq) FROM audit_entry l WHERE l.record_id = r.id)",
                RECORD_COLUMNS
                    .split(',')
                    .map(|c| format!("r.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut stream = sqlx::query(&sql).fetch(&self.pool);
            let mut n = 0u64;
            while let Some(row) = stream.try_next().await? {
                let record = RecordRow::from_any_row(&row)?;
                let bound: Option<String> = row.try_get(18)?;
                let seq: Option<i64> = row.try_get(19)?;
                match bound {
                    None => breaks.push(
                        None,
                        &record.id,
                        format!("record {} ({}) has no audit entry: it was written outside the application", record.id, record.kind),
                    ),
                    Some(hash) if hash != record.hash() => breaks.push(
                        seq,
                        &record.id,
                        format!(
                            "record {} ({}) differs from its state in audit entry {}: it was changed outside the application",
                            record.id,
                            record.kind,
                            seq.unwrap_or_default()
                        ),
                    ),
                    Some(_) => {}
                }
                n += 1;
                if n.is_multiple_of(10_000) {
                    progress.advance(10_000);
                }
            }
            progress.advance(n % 10_000);
        }

        // 4. Each user account against its latest entry: a role or site
        // granted by raw SQL is found here.
        {
            for (id, state) in self.user_states().await? {
                let latest = sqlx::query(
                    "SELECT row_hash, seq FROM audit_entry WHERE record_id = $1 \
                     ORDER BY seq DESC LIMIT 1",
                )
                .bind(&id)
                .fetch_optional(&self.pool)
                .await?;
                match latest {
                    None => breaks.push(
                        None,
                        &id,
                        format!(
                            "user {id} has no audit entry: it was written outside the application"
                        ),
                    ),
                    Some(row) => {
                        let hash: String = row.try_get(0)?;
                        let seq: i64 = row.try_get(1)?;
                        if hash != sha256_hex(state.as_bytes()) {
                            breaks.push(
                                Some(seq),
                                &id,
                                format!(
                                    "user {id} differs from its state in audit entry {seq}: its role, sites or status were changed outside the application"
                                ),
                            );
                        }
                    }
                }
            }
        }

        // 4b. Each API token against its latest entry: a token written,
        // extended or revived by raw SQL is found here.
        for (id, state) in self.api_token_states().await? {
            let latest = sqlx::query(
                "SELECT row_hash, seq FROM audit_entry WHERE record_id = $1 \
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?;
            match latest {
                None => breaks.push(
                    None,
                    &id,
                    format!(
                        "API token {id} has no audit entry: it was written outside the application"
                    ),
                ),
                Some(row) => {
                    let hash: String = row.try_get(0)?;
                    let seq: i64 = row.try_get(1)?;
                    if hash != sha256_hex(state.as_bytes()) {
                        breaks.push(
                            Some(seq),
                            &id,
                            format!("API token {id} differs from its state in audit entry {seq}: it was changed outside the application"),
                        );
                    }
                }
            }
        }

        // 5. The outcome facts table against the records it is derived from:
        // a report must never read facts that the records do not say.
        for (patient, problem) in self.outcome_facts_differences(progress).await? {
            breaks.push(
                None,
                &patient,
                format!(
                    "patient {patient} {problem}: the table or the records were changed outside \
                     the application (once the records are intact, rebuild the table with \
                     `pdva audit rebuild-outcome-facts`)"
                ),
            );
        }

        let mut breaks = breaks.0;
        // First broken link first: entries by sequence, then row breaks.
        breaks.sort_by_key(|b| b.seq.unwrap_or(i64::MAX));
        Ok(VerifyReport {
            entries: total_entries,
            records: total_rows,
            data_version: head,
            breaks,
        })
    }
}
