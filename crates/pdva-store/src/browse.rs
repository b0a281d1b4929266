//! Reading patients for lists: a page of a site's patients without their
//! whole files.

use std::collections::HashMap;

use pdva_domain::values::{NhsNumber, RegistryId, SiteCode};
use pdva_domain::{Patient, RecordId, RecordKind};
use sqlx::Row;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::model::AnyRecord;

/// What a patient search looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientKey {
    /// The registry's own id.
    RegistryId(RegistryId),
    /// The NHS number.
    NhsNumber(NhsNumber),
}

impl Store {
    /// The non-voided patient with this registry id or NHS number, if any.
    #[tracing::instrument(skip_all)]
    pub async fn find_patient(&self, key: &PatientKey) -> Result<Option<(RecordId, Patient)>> {
        let (sql, value) = match key {
            PatientKey::RegistryId(id) => (
                "SELECT id, body FROM record WHERE natural_key = $1 AND voided = 0",
                format!("registry_id:{id}"),
            ),
            PatientKey::NhsNumber(n) => (
                "SELECT id, body FROM record WHERE nhs_number = $1 AND kind = 'patient' AND voided = 0",
                n.as_str().to_owned(),
            ),
        };
        let rows = sqlx::query(sql).bind(value).fetch_all(&self.pool).await?;
        rows.iter().map(patient_from_row).next().transpose()
    }

    /// The newest non-voided patients registered at `sites` (every site
    /// when `None`), at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn patients_at(
        &self,
        sites: Option<&[SiteCode]>,
        limit: i64,
    ) -> Result<Vec<(RecordId, Patient)>> {
        let mut sql =
            String::from("SELECT id, body FROM record WHERE kind = 'patient' AND voided = 0");
        if let Some(sites) = sites {
            if sites.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = (1..=sites.len()).map(|i| format!("${i}")).collect();
            sql.push_str(&format!(" AND site_code IN ({})", marks.join(", ")));
        }
        let n = sites.map_or(0, <[SiteCode]>::len);
        sql.push_str(&format!(" ORDER BY created_at DESC, id LIMIT ${}", n + 1));
        let mut query = sqlx::query(&sql);
        for site in sites.unwrap_or_default() {
            query = query.bind(site.as_str().to_owned());
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(patient_from_row).collect()
    }
}

impl Store {
    /// The registry ids of the non-voided patients registered at `site`,
    /// by patient: what a list of many patients shows without their files.
    #[tracing::instrument(skip_all)]
    pub async fn registry_ids_at(&self, site: &str) -> Result<HashMap<RecordId, String>> {
        let rows = sqlx::query(
            "SELECT id, natural_key FROM record WHERE kind = 'patient' AND voided = 0 \
             AND site_code = $1",
        )
        .bind(site.to_owned())
        .fetch_all(&self.pool)
        .await?;
        let mut ids = HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get(0)?;
            let key: Option<String> = row.try_get(1)?;
            let registry_id = key
                .as_deref()
                .and_then(|k| k.strip_prefix("registry_id:"))
                .ok_or_else(|| StoreError::Corrupt {
                    id: id.clone(),
                    kind: "patient".into(),
                    detail: "has no registry id".into(),
                })?
                .to_owned();
            let id = id.parse().map_err(|_| StoreError::Corrupt {
                id: id.clone(),
                kind: "patient".into(),
                detail: "id is not a record id".into(),
            })?;
            ids.insert(id, registry_id);
        }
        Ok(ids)
    }

    /// The governance review meetings of a site (non-voided), latest first.
    pub async fn governance_meetings(
        &self,
        site: &SiteCode,
    ) -> Result<Vec<(RecordId, pdva_domain::GovernanceMeeting)>> {
        let mut meetings = Vec::new();
        for row in crate::read::rows_of_kind(&self.pool, "governance_meeting").await? {
            let stored = row.to_stored()?;
            if let AnyRecord::GovernanceMeeting(m) = stored.record
                && m.site_code == *site
            {
                meetings.push((stored.meta.id, m));
            }
        }
        meetings.sort_by_key(|m| std::cmp::Reverse(m.1.held_on));
        Ok(meetings)
    }
}

/// A patient selected as `id, body`.
fn patient_from_row(row: &sqlx::any::AnyRow) -> Result<(RecordId, Patient)> {
    let id: String = row.try_get(0)?;
    let body: String = row.try_get(1)?;
    let corrupt = |detail: String| StoreError::Corrupt {
        id: id.clone(),
        kind: "patient".into(),
        detail,
    };
    let patient = match AnyRecord::from_body(RecordKind::Patient, &body) {
        Ok(AnyRecord::Patient(p)) => p,
        Ok(_) => return Err(corrupt("not a patient".into())),
        Err(e) => return Err(corrupt(e.to_string())),
    };
    let id = id
        .parse()
        .map_err(|_| corrupt("id is not a record id".into()))?;
    Ok((id, patient))
}
