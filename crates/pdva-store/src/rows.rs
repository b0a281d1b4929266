//! How a domain record becomes a row, and how a row's content is hashed.

use pdva_domain::{ClinicalRecord, RecordId, RecordKind};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::keys::{DataKey, patient_body, patient_from_body};
use crate::model::{AnyRecord, RecordMeta, StoredRecord};

/// A row of the `record` table, exactly as stored. Its JSON serialisation
/// (fields in this order) is the row's state, which the audit trail binds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RecordRow {
    pub id: String,
    pub kind: String,
    pub patient_id: Option<String>,
    pub procedure_id: Option<String>,
    pub site_code: Option<String>,
    pub natural_key: Option<String>,
    /// No longer written (always `None`): the NHS number's blind index
    /// lives in `patient_key`, outside the audited row, so erasure removes it.
    pub nhs_number: Option<String>,
    pub record_date: Option<String>,
    pub body: String,
    pub version: i64,
    pub voided: i64,
    pub void_reason: Option<String>,
    pub signed_off_at: Option<String>,
    pub signed_off_by: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

/// The columns of `record`, in [`RecordRow`] order.
pub(crate) const RECORD_COLUMNS: &str = "id, kind, patient_id, procedure_id, site_code, \
    natural_key, nhs_number, record_date, body, version, voided, void_reason, \
    signed_off_at, signed_off_by, created_at, created_by, updated_at, updated_by";

/// Number of columns in [`RECORD_COLUMNS`].
pub(crate) const RECORD_COLUMN_COUNT: usize = 18;

/// Hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha256(bytes))
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl RecordRow {
    /// The row's state as canonical JSON.
    pub fn state(&self) -> String {
        serde_json::to_string(self).expect("a row always serialises")
    }

    /// The hash of the row's state.
    pub fn hash(&self) -> String {
        sha256_hex(self.state().as_bytes())
    }

    /// Reads a row selected with [`RECORD_COLUMNS`].
    pub fn from_any_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get(0)?,
            kind: row.try_get(1)?,
            patient_id: row.try_get(2)?,
            procedure_id: row.try_get(3)?,
            site_code: row.try_get(4)?,
            natural_key: row.try_get(5)?,
            nhs_number: row.try_get(6)?,
            record_date: row.try_get(7)?,
            body: row.try_get(8)?,
            version: row.try_get(9)?,
            voided: row.try_get(10)?,
            void_reason: row.try_get(11)?,
            signed_off_at: row.try_get(12)?,
            signed_off_by: row.try_get(13)?,
            created_at: row.try_get(14)?,
            created_by: row.try_get(15)?,
            updated_at: row.try_get(16)?,
            updated_by: row.try_get(17)?,
        })
    }

    /// Binds the row's values, in column order, to a query.
    pub fn bind<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        q.bind(&self.id)
            .bind(&self.kind)
            .bind(&self.patient_id)
            .bind(&self.procedure_id)
            .bind(&self.site_code)
            .bind(&self.natural_key)
            .bind(&self.nhs_number)
            .bind(&self.record_date)
            .bind(&self.body)
            .bind(self.version)
            .bind(self.voided)
            .bind(&self.void_reason)
            .bind(&self.signed_off_at)
            .bind(&self.signed_off_by)
            .bind(&self.created_at)
            .bind(&self.created_by)
            .bind(&self.updated_at)
            .bind(&self.updated_by)
    }

    /// The record id.
    pub fn record_id(&self) -> Result<RecordId> {
        self.id
            .parse()
            .map_err(|_| self.corrupt("id is not a record id"))
    }

    pub(crate) fn corrupt(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            id: self.id.clone(),
            kind: self.kind.clone(),
            detail: detail.into(),
        }
    }

    /// Parses the row back into its domain record and envelope; a patient
    /// without their identifiers (see [`RecordRow::to_stored_with`]).
    pub fn to_stored(&self) -> Result<StoredRecord> {
        self.to_stored_with(None)
    }

    /// Parses the row back into its domain record and envelope, a patient's
    /// identifiers opened with their data key `key` (none: read as erased).
    pub fn to_stored_with(&self, key: Option<&DataKey>) -> Result<StoredRecord> {
        let kind = RecordKind::parse(&self.kind).ok_or_else(|| self.corrupt("unknown kind"))?;
        let record = if kind == RecordKind::Patient {
            AnyRecord::Patient(
                patient_from_body(&self.body, &self.id, key).map_err(|e| self.corrupt(e))?,
            )
        } else {
            AnyRecord::from_body(kind, &self.body).map_err(|e| self.corrupt(e.to_string()))?
        };
        let parse_id = |s: &Option<String>| -> Result<Option<RecordId>> {
            s.as_deref()
                .map(|s| s.parse().map_err(|_| self.corrupt("bad reference id")))
                .transpose()
        };
        Ok(StoredRecord {
            meta: RecordMeta {
                id: self.record_id()?,
                kind,
                patient_id: parse_id(&self.patient_id)?,
                version: self.version,
                voided: self.voided != 0,
                void_reason: self.void_reason.clone(),
                signed_off_at: self.signed_off_at.clone(),
                signed_off_by: self.signed_off_by.clone(),
                created_at: self.created_at.clone(),
                created_by: self.created_by.clone(),
                updated_at: self.updated_at.clone(),
                updated_by: self.updated_by.clone(),
            },
            record,
        })
    }

    /// A new row (version 1) for a record.
    pub fn new(
        id: RecordId,
        patient_id: Option<RecordId>,
        record: &AnyRecord,
        actor: &str,
        at: &str,
    ) -> Self {
        let mut row = Self {
            id: id.to_string(),
            kind: record.kind().as_str().to_owned(),
            patient_id: patient_id.map(|p| p.to_string()),
            procedure_id: None,
            site_code: None,
            natural_key: None,
            nhs_number: None,
            record_date: None,
            body: String::new(),
            version: 1,
            voided: 0,
            void_reason: None,
            signed_off_at: None,
            signed_off_by: None,
            created_at: at.to_owned(),
            created_by: actor.to_owned(),
            updated_at: at.to_owned(),
            updated_by: actor.to_owned(),
        };
        row.set_record(record);
        row
    }

    /// Replaces the row's content with `record` and its index columns. A
    /// patient's identifiers are left out (as if erased): a writer that
    /// keeps them seals them with [`RecordRow::seal_patient`], so a path that
    /// forgets writes too little, never a plaintext identifier.
    pub fn set_record(&mut self, record: &AnyRecord) {
        self.body = match record {
            AnyRecord::Patient(p) => patient_body(p, &self.id, None),
            _ => record.body_json(),
        };
        self.procedure_id = None;
        self.site_code = None;
        self.natural_key = None;
        self.nhs_number = None;
        self.record_date = None;
        match record {
            AnyRecord::Site(s) => {
                self.site_code = Some(s.site_code.to_string());
                self.natural_key = Some(format!("site:{}", s.site_code));
            }
            AnyRecord::GovernanceMeeting(m) => {
                self.site_code = Some(m.site_code.to_string());
                self.record_date = Some(m.held_on.to_string());
            }
            AnyRecord::Clinician(_) => {}
            AnyRecord::Patient(p) => {
                self.site_code = Some(p.home_site.to_string());
                self.natural_key = Some(format!("registry_id:{}", p.registry_id));
            }
            AnyRecord::Clinical(c) => {
                self.procedure_id = c.procedure_id().map(|p| p.to_string());
                self.record_date = Some(c.date().to_string());
            }
        }
    }

    /// Stores a patient's identifiers sealed with their data key (`None`:
    /// none kept, as after erasure).
    pub fn seal_patient(&mut self, patient: &pdva_domain::Patient, key: Option<&DataKey>) {
        self.body = patient_body(patient, &self.id, key);
    }
}

impl AnyRecord {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            AnyRecord::Site(_) => RecordKind::Site,
            AnyRecord::GovernanceMeeting(_) => RecordKind::GovernanceMeeting,
            AnyRecord::Clinician(_) => RecordKind::Clinician,
            AnyRecord::Patient(_) => RecordKind::Patient,
            AnyRecord::Clinical(c) => c.kind(),
        }
    }

    /// The stored body: the domain record as JSON (a patient's without
    /// their identifiers, which only [`RecordRow::seal_patient`] stores).
    pub fn body_json(&self) -> String {
        let json = match self {
            AnyRecord::Site(r) => serde_json::to_string(r),
            AnyRecord::GovernanceMeeting(r) => serde_json::to_string(r),
            AnyRecord::Clinician(r) => serde_json::to_string(r),
            AnyRecord::Patient(r) => return patient_body(r, "", None),
            AnyRecord::Clinical(c) => match c {
                ClinicalRecord::Consent(r) => serde_json::to_string(r),
                ClinicalRecord::Baseline(r) => serde_json::to_string(r),
                ClinicalRecord::Procedure(r) => serde_json::to_string(r),
                ClinicalRecord::AntithromboticTherapy(r) => serde_json::to_string(r),
                ClinicalRecord::FollowUpVisit(r) => serde_json::to_string(r),
                ClinicalRecord::Amputation(r) => serde_json::to_string(r),
                ClinicalRecord::Reintervention(r) => serde_json::to_string(r),
                ClinicalRecord::Death(r) => serde_json::to_string(r),
                ClinicalRecord::AdverseEvent(r) => serde_json::to_string(r),
                ClinicalRecord::QualityOfLife(r) => serde_json::to_string(r),
            },
        };
        json.expect("domain records always serialise")
    }

    /// Parses a stored body; the domain types re-check every value. A
    /// patient reads back without identifiers (they need the data key).
    pub fn from_body(kind: RecordKind, body: &str) -> serde_json::Result<Self> {
        use serde_json::from_str as parse;
        Ok(match kind {
            RecordKind::Site => AnyRecord::Site(parse(body)?),
            RecordKind::GovernanceMeeting => AnyRecord::GovernanceMeeting(parse(body)?),
            RecordKind::Clinician => AnyRecord::Clinician(parse(body)?),
            RecordKind::Patient => AnyRecord::Patient(
                patient_from_body(body, "", None).map_err(serde::de::Error::custom)?,
            ),
            RecordKind::Consent => AnyRecord::Clinical(ClinicalRecord::Consent(parse(body)?)),
            RecordKind::Baseline => AnyRecord::Clinical(ClinicalRecord::Baseline(parse(body)?)),
            RecordKind::Procedure => AnyRecord::Clinical(ClinicalRecord::Procedure(parse(body)?)),
            RecordKind::AntithromboticTherapy => {
                AnyRecord::Clinical(ClinicalRecord::AntithromboticTherapy(parse(body)?))
            }
            RecordKind::FollowUpVisit => {
                AnyRecord::Clinical(ClinicalRecord::FollowUpVisit(parse(body)?))
            }
            RecordKind::Amputation => AnyRecord::Clinical(ClinicalRecord::Amputation(parse(body)?)),
            RecordKind::Reintervention => {
                AnyRecord::Clinical(ClinicalRecord::Reintervention(parse(body)?))
            }
            RecordKind::Death => AnyRecord::Clinical(ClinicalRecord::Death(parse(body)?)),
            RecordKind::AdverseEvent => {
                AnyRecord::Clinical(ClinicalRecord::AdverseEvent(parse(body)?))
            }
            RecordKind::QualityOfLife => {
                AnyRecord::Clinical(ClinicalRecord::QualityOfLife(parse(body)?))
            }
        })
    }
}
