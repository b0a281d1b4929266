//! Records awaiting sign-off: the clinician's and the governance lead's
//! queue, and the compliance view's "unsigned after 30 days".

use pdva_domain::{RecordId, RecordKind};
use sqlx::Row;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::users::SiteAccess;

/// One record that is not signed off yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingSignOff {
    /// The record.
    pub record_id: RecordId,
    /// Its patient.
    pub patient_id: RecordId,
    /// The patient's registry id.
    pub registry_id: String,
    /// Its kind (a procedure or a follow-up visit).
    pub kind: RecordKind,
    /// The clinical date of the record (procedure or visit date).
    pub record_date: String,
    /// The index procedure it belongs to (a visit's), if any.
    pub procedure_id: Option<RecordId>,
    /// The patient's home site.
    pub site_code: String,
    /// When it was entered (UTC, RFC 3339).
    pub entered_at: String,
    /// Who entered it.
    pub entered_by: String,
}

/// Which records a queue holds.
#[derive(Debug, Clone)]
pub struct SignOffQuery<'a> {
    /// The sites whose patients' records are listed.
    pub sites: &'a SiteAccess,
    /// Only records entered by this user.
    pub entered_by: Option<&'a str>,
    /// Only records entered before this time (UTC, RFC 3339 as stored).
    pub entered_before: Option<&'a str>,
    /// At most this many listed (the total is counted in full).
    pub limit: i64,
}

/// A queue: how many records await sign-off, and the oldest of them.
#[derive(Debug, Clone, Default)]
pub struct SignOffQueue {
    /// Every record the query holds.
    pub total: u64,
    /// The oldest (by clinical date, then entry), up to the limit.
    pub records: Vec<AwaitingSignOff>,
}

impl Store {
    /// The procedures and follow-up visits not yet signed off (nor voided)
    /// of patients of the query's sites, oldest first.
    pub async fn awaiting_sign_off(&self, query: &SignOffQuery<'_>) -> Result<SignOffQueue> {
        // The kinds and flags as literals, as the partial index
        // `record_awaiting_sign_off` (migration 0009) states them: a
        // planner uses a partial index only for a query that implies it.
        let mut binds: Vec<String> = Vec::new();
        let mut conditions = vec![
            format!(
                "r.kind IN ('{}', '{}')",
                RecordKind::Procedure.as_str(),
                RecordKind::FollowUpVisit.as_str()
            ),
            "r.voided = 0".to_owned(),
            "r.signed_off_at IS NULL".to_owned(),
            "p.voided = 0".to_owned(),
        ];
        if let SiteAccess::Sites(sites) = query.sites {
            if sites.is_empty() {
                return Ok(SignOffQueue::default());
            }
            let first = binds.len() + 1;
            let placeholders: Vec<String> = (first..first + sites.len())
                .map(|n| format!("${n}"))
                .collect();
            conditions.push(format!("p.site_code IN ({})", placeholders.join(", ")));
            binds.extend(sites.iter().map(|s| s.to_string()));
        }
        if let Some(user) = query.entered_by {
            binds.push(user.to_owned());
            conditions.push(format!("r.created_by = ${}", binds.len()));
        }
        if let Some(before) = query.entered_before {
            binds.push(before.to_owned());
            conditions.push(format!("r.created_at < ${}", binds.len()));
        }
        let from = format!(
            "FROM record r JOIN record p ON p.id = r.patient_id WHERE {}",
            conditions.join(" AND ")
        );
        let count_sql = format!("SELECT COUNT(*) {from}");
        let mut count = sqlx::query(&count_sql);
        for b in &binds {
            count = count.bind(b.clone());
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get(0)?;
        let list_sql = format!(
            "SELECT r.id, r.patient_id, r.kind, r.record_date, r.procedure_id, p.site_code, \
             r.created_at, r.created_by, p.natural_key {from} ORDER BY r.record_date, r.created_at, r.id LIMIT {}",
            query.limit.max(0)
        );
        let mut list = sqlx::query(&list_sql);
        for b in &binds {
            list = list.bind(b.clone());
        }
        let rows = list.fetch_all(&self.pool).await?;
        let id = |text: String, what: &str| -> Result<RecordId> {
            text.parse().map_err(|_| StoreError::Corrupt {
                id: text.clone(),
                kind: what.into(),
                detail: "not a record id".into(),
            })
        };
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get(2)?;
            let record_id = id(row.try_get(0)?, &kind)?;
            records.push(AwaitingSignOff {
                record_id,
                patient_id: id(row.try_get(1)?, "patient")?,
                kind: RecordKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                    id: record_id.to_string(),
                    kind: kind.clone(),
                    detail: "unknown record kind".into(),
                })?,
                record_date: row.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                procedure_id: row
                    .try_get::<Option<String>, _>(4)?
                    .map(|p| id(p, "procedure"))
                    .transpose()?,
                site_code: row.try_get::<Option<String>, _>(5)?.unwrap_or_default(),
                entered_at: row.try_get(6)?,
                entered_by: row.try_get(7)?,
                registry_id: row
                    .try_get::<Option<String>, _>(8)?
                    .as_deref()
                    .and_then(|k| k.strip_prefix("registry_id:"))
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        Ok(SignOffQueue {
            total: total as u64,
            records,
        })
    }
}
