//! Reading patients for lists: a page of a site's patients without their
//! whole files.

use pdva_domain::values::SiteCode;
use pdva_domain::{Patient, RecordId, RecordKind};
use sqlx::Row;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::model::AnyRecord;

impl Store {
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
        rows.iter()
            .map(|row| {
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
            })
            .collect()
    }
}
