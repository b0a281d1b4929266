//! Pages of records for the JSON API: patients and a patient's clinical
//! records, in id order after a cursor, with the record's envelope, so a
//! client can copy the registry a page at a time and then fetch only what
//! changed since.

use chrono::{DateTime, Utc};
use pdva_domain::values::SiteCode;
use pdva_domain::{RecordId, RecordKind};
use sqlx::Row;

use crate::Store;
use crate::error::Result;
use crate::model::StoredRecord;
use crate::rows::{RECORD_COLUMNS, RecordRow};

/// Which page of a list to read.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// Only records changed at or after this time.
    pub changed_since: Option<DateTime<Utc>>,
    /// Only records whose id sorts after this one (the previous page's last).
    pub after: Option<RecordId>,
    /// At most this many.
    pub limit: i64,
}

fn prefixed_columns() -> String {
    RECORD_COLUMNS
        .split(',')
        .map(|c| format!("r.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// A page of the non-voided patients of `sites` (every site when
    /// `None`), with their identifiers, in id order.
    #[tracing::instrument(skip_all)]
    pub async fn patients_page(
        &self,
        sites: Option<&[SiteCode]>,
        page: &PageQuery,
    ) -> Result<Vec<StoredRecord>> {
        let mut sql = format!(
            "SELECT {}, k.wrapped_key FROM record r \
             LEFT JOIN patient_key k ON k.patient_id = r.id \
             WHERE r.kind = 'patient' AND r.voided = 0",
            prefixed_columns()
        );
        let mut binds: Vec<String> = Vec::new();
        if let Some(sites) = sites {
            if sites.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = sites
                .iter()
                .map(|s| {
                    binds.push(s.as_str().to_owned());
                    format!("${}", binds.len())
                })
                .collect();
            sql.push_str(&format!(" AND r.site_code IN ({})", marks.join(", ")));
        }
        if let Some(since) = &page.changed_since {
            binds.push(crate::users::timestamp(*since));
            sql.push_str(&format!(" AND r.updated_at >= ${}", binds.len()));
        }
        if let Some(after) = page.after {
            binds.push(after.to_string());
            sql.push_str(&format!(" AND r.id > ${}", binds.len()));
        }
        sql.push_str(&format!(" ORDER BY r.id LIMIT ${}", binds.len() + 1));
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = query.bind(b.clone());
        }
        let rows = query.bind(page.limit).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = RecordRow::from_any_row(row)?;
            let wrapped: Option<String> = row.try_get(crate::rows::RECORD_COLUMN_COUNT)?;
            let key = wrapped
                .as_deref()
                .map(|w| self.keys.unwrap(&record.id, w))
                .transpose()?;
            out.push(record.to_stored_with(key.as_ref())?);
        }
        Ok(out)
    }

    /// A page of a patient's clinical records (voided ones too, marked, so
    /// that a client copying the registry learns of a void), in id order.
    #[tracing::instrument(skip_all, fields(patient = %patient_id))]
    pub async fn patient_records_page(
        &self,
        patient_id: RecordId,
        kind: Option<RecordKind>,
        page: &PageQuery,
    ) -> Result<Vec<StoredRecord>> {
        let mut sql = format!("SELECT {RECORD_COLUMNS} FROM record WHERE patient_id = $1");
        let mut binds: Vec<String> = vec![patient_id.to_string()];
        if let Some(kind) = kind {
            binds.push(kind.as_str().to_owned());
            sql.push_str(&format!(" AND kind = ${}", binds.len()));
        }
        if let Some(since) = &page.changed_since {
            binds.push(crate::users::timestamp(*since));
            sql.push_str(&format!(" AND updated_at >= ${}", binds.len()));
        }
        if let Some(after) = page.after {
            binds.push(after.to_string());
            sql.push_str(&format!(" AND id > ${}", binds.len()));
        }
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", binds.len() + 1));
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = query.bind(b.clone());
        }
        let rows = query.bind(page.limit).fetch_all(&self.pool).await?;
        // Clinical records hold no identifiers: no data key is needed.
        rows.iter()
            .map(|r| RecordRow::from_any_row(r)?.to_stored())
            .collect()
    }
}
