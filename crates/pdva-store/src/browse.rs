//! Reading patients for lists: a page of a site's patients without their
//! whole files.

use std::collections::HashMap;

use pdva_domain::values::{NhsNumber, RegistryId, SiteCode};
use pdva_domain::{Patient, RecordId};
use sqlx::Row;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::keys::{Keyring, patient_from_body};
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
    /// The patient an operator names by record id (taken as it is, so that
    /// a voided patient's accesses can still be looked up) or by registry
    /// id (`P-…`, any case; a non-voided patient), if the text names one.
    pub async fn patient_named(&self, text: &str) -> Result<Option<RecordId>> {
        let text = text.trim();
        if let Ok(id) = text.parse::<RecordId>() {
            return Ok(Some(id));
        }
        match RegistryId::parse(&text.to_ascii_uppercase()) {
            Ok(registry_id) => Ok(self
                .find_patient(&PatientKey::RegistryId(registry_id))
                .await?
                .map(|(id, _)| id)),
            Err(_) => Ok(None),
        }
    }

    /// The non-voided patient with this registry id or NHS number, if any.
    #[tracing::instrument(skip_all)]
    pub async fn find_patient(&self, key: &PatientKey) -> Result<Option<(RecordId, Patient)>> {
        let (sql, value) = match key {
            PatientKey::RegistryId(id) => (
                "SELECT r.id, r.body, k.wrapped_key FROM record r \
                 LEFT JOIN patient_key k ON k.patient_id = r.id \
                 WHERE r.natural_key = $1 AND r.voided = 0",
                format!("registry_id:{id}"),
            ),
            // Through the keyed blind index: the number is never stored.
            PatientKey::NhsNumber(n) => (
                "SELECT r.id, r.body, k.wrapped_key FROM patient_key k \
                 JOIN record r ON r.id = k.patient_id \
                 WHERE k.nhs_index = $1 AND r.kind = 'patient' AND r.voided = 0",
                self.keys.blind_index(n),
            ),
        };
        let rows = sqlx::query(sql).bind(value).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| patient_from_row(r, &self.keys))
            .next()
            .transpose()
    }

    /// The newest non-voided patients registered at `sites` (every site
    /// when `None`), at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn patients_at(
        &self,
        sites: Option<&[SiteCode]>,
        limit: i64,
    ) -> Result<Vec<(RecordId, Patient)>> {
        let mut sql = String::from(
            "SELECT r.id, r.body, k.wrapped_key FROM record r \
             LEFT JOIN patient_key k ON k.patient_id = r.id \
             WHERE r.kind = 'patient' AND r.voided = 0",
        );
        if let Some(sites) = sites {
            if sites.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = (1..=sites.len()).map(|i| format!("${i}")).collect();
            sql.push_str(&format!(" AND r.site_code IN ({})", marks.join(", ")));
        }
        let n = sites.map_or(0, <[SiteCode]>::len);
        sql.push_str(&format!(
            " ORDER BY r.created_at DESC, r.id LIMIT ${}",
            n + 1
        ));
        let mut query = sqlx::query(&sql);
        for site in sites.unwrap_or_default() {
            query = query.bind(site.as_str().to_owned());
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| patient_from_row(r, &self.keys))
            .collect()
    }
}

/// Patients whose name or hospital number a search text matches.
#[derive(Debug, Clone, Default)]
pub struct PatientMatches {
    /// How many patients match.
    pub total: usize,
    /// The first of them by name, at most the limit asked for.
    pub patients: Vec<(RecordId, Patient)>,
}

/// Whether a patient's name or hospital number matches a search: the
/// hospital number whole (ignoring case and spaces), or every word of the
/// text within the family or given name (ignoring case), so that "smi jo"
/// finds SMITH, John.
pub fn matches_patient(patient: &Patient, text: &str) -> bool {
    let squeezed = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    if let Some(number) = &patient.hospital_number
        && !number.trim().is_empty()
        && squeezed(number) == squeezed(text)
    {
        return true;
    }
    let names: Vec<String> = [&patient.family_name, &patient.given_name]
        .into_iter()
        .flatten()
        .map(|n| n.to_lowercase())
        .collect();
    let mut words = text.split_whitespace().peekable();
    words.peek().is_some()
        && words.all(|w| {
            let w = w.to_lowercase();
            names.iter().any(|n| n.contains(&w))
        })
}

impl Store {
    /// The non-voided patients of `sites` (every site when `None`) whose
    /// name or hospital number matches `text` ([`matches_patient`]), by
    /// family then given name, at most `limit` of them, counting all.
    ///
    /// Names and hospital numbers are sealed under each patient's own key,
    /// so no index can look them up: each patient of the sites is opened
    /// and compared, and nothing opened is kept.
    #[tracing::instrument(skip_all)]
    pub async fn search_patients(
        &self,
        sites: Option<&[SiteCode]>,
        text: &str,
        limit: usize,
    ) -> Result<PatientMatches> {
        use futures_util::TryStreamExt;
        let mut sql = String::from(
            "SELECT r.id, r.body, k.wrapped_key FROM record r \
             JOIN patient_key k ON k.patient_id = r.id \
             WHERE r.kind = 'patient' AND r.voided = 0",
        );
        if let Some(sites) = sites {
            if sites.is_empty() {
                return Ok(PatientMatches::default());
            }
            let marks: Vec<String> = (1..=sites.len()).map(|i| format!("${i}")).collect();
            sql.push_str(&format!(" AND r.site_code IN ({})", marks.join(", ")));
        }
        let mut query = sqlx::query(&sql);
        for site in sites.unwrap_or_default() {
            query = query.bind(site.as_str().to_owned());
        }
        let mut found = Vec::new();
        let mut rows = query.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let (id, patient) = patient_from_row(&row, &self.keys)?;
            if matches_patient(&patient, text) {
                found.push((id, patient));
            }
        }
        let total = found.len();
        found.sort_by(|(_, a), (_, b)| {
            let key = |p: &Patient| {
                (
                    p.family_name.as_deref().unwrap_or_default().to_lowercase(),
                    p.given_name.as_deref().unwrap_or_default().to_lowercase(),
                    p.registry_id.to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        found.truncate(limit);
        Ok(PatientMatches {
            total,
            patients: found,
        })
    }

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

/// A patient selected as `id, body, wrapped_key`, with their identifiers.
fn patient_from_row(row: &sqlx::any::AnyRow, keys: &Keyring) -> Result<(RecordId, Patient)> {
    let id: String = row.try_get(0)?;
    let body: String = row.try_get(1)?;
    let wrapped: Option<String> = row.try_get(2)?;
    let corrupt = |detail: String| StoreError::Corrupt {
        id: id.clone(),
        kind: "patient".into(),
        detail,
    };
    let key = wrapped
        .as_deref()
        .map(|w| keys.unwrap(&id, w))
        .transpose()?;
    let patient = patient_from_body(&body, &id, key.as_ref()).map_err(corrupt)?;
    let id = id
        .parse()
        .map_err(|_| corrupt("id is not a record id".into()))?;
    Ok((id, patient))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(family: Option<&str>, given: Option<&str>, hospital: Option<&str>) -> Patient {
        Patient {
            registry_id: RegistryId::from_random(7),
            nhs_number: None,
            hospital_number: hospital.map(Into::into),
            family_name: family.map(Into::into),
            given_name: given.map(Into::into),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap(),
            sex: pdva_domain::codes::Sex::Female,
            home_site: SiteCode::parse("RX1").unwrap(),
            follow_up_ended_on: None,
            follow_up_end_reason: None,
        }
    }

    #[test]
    fn a_name_matches_by_any_part_of_it_in_any_case_word_by_word() {
        let p = patient(Some("Smith-Jones"), Some("Ólafur"), Some("RX1 123456"));
        for text in ["smith", "JONES", "ith-jo", "ólaf", "smi óla", "  jones  "] {
            assert!(matches_patient(&p, text), "{text:?} should match");
        }
        for text in ["smyth", "smith john", "", "   "] {
            assert!(!matches_patient(&p, text), "{text:?} should not match");
        }
    }

    #[test]
    fn a_hospital_number_matches_whole_ignoring_case_and_spaces() {
        let p = patient(None, None, Some("rx1 123456"));
        assert!(matches_patient(&p, "RX1123456"));
        assert!(matches_patient(&p, "rx1 123 456"));
        // Part of a number is not a match: numbers are looked up whole.
        assert!(!matches_patient(&p, "123456"));
        assert!(!matches_patient(&patient(None, None, None), "123456"));
    }
}
