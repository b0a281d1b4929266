//! Changing a site's record: the date its clinical governance lead was
//! informed (IPG773 1.2), audited like every other change.

use pdva_domain::Site;
use pdva_domain::values::SiteCode;

use crate::Store;
use crate::chain::{ChainWriter, lock_head};
use crate::error::{Result, StoreError};
use crate::model::{Actor, AnyRecord, AuditAction};
use crate::rows::{RECORD_COLUMNS, RecordRow};

impl Store {
    /// Records who the site's clinical governance lead is and when they were
    /// informed, with a reason for the change.
    #[tracing::instrument(skip_all, fields(site = %site_code))]
    pub async fn record_governance_lead_informed(
        &self,
        actor: &Actor,
        site_code: &SiteCode,
        governance_lead_name: Option<String>,
        informed_on: chrono::NaiveDate,
        reason: Option<String>,
    ) -> Result<Site> {
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        let sql =
            format!("SELECT {RECORD_COLUMNS} FROM record WHERE natural_key = $1 AND voided = 0");
        let row = sqlx::query(&sql)
            .bind(format!("site:{site_code}"))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "site: \"{site_code}\" is not a site of this registry"
                ))
            })?;
        let before = RecordRow::from_any_row(&row)?;
        let AnyRecord::Site(mut site) = before.to_stored()?.record else {
            return Err(before.corrupt("not a site"));
        };
        site.governance_lead_name = governance_lead_name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .or(site.governance_lead_name);
        site.governance_lead_informed_on = Some(informed_on);
        let mut chain = ChainWriter::new(head, actor.name());
        let mut after = before.clone();
        after.set_record(&AnyRecord::Site(site.clone()));
        after.version += 1;
        after.updated_at = chain.at().to_owned();
        after.updated_by = chain.actor().to_owned();
        chain.change(
            AuditAction::Update,
            &before,
            after,
            reason
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty()),
            None,
        );
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(site)
    }
}
