//! What the store hands back: domain records in their envelope, audit
//! entries, the data version and verification results.

use pdva_domain::{
    ClinicalRecord, Clinician, GovernanceMeeting, Patient, RecordId, RecordKind, Site,
};
use serde::Serialize;

/// Any record the registry holds.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyRecord {
    /// A site.
    Site(Site),
    /// A governance review meeting.
    GovernanceMeeting(GovernanceMeeting),
    /// A clinician.
    Clinician(Clinician),
    /// A patient.
    Patient(Patient),
    /// A clinical record of a patient.
    Clinical(ClinicalRecord),
}

/// Identity, versioning, voiding, sign-off and authorship of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordMeta {
    /// The record's id.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The patient it belongs to (clinical records).
    pub patient_id: Option<RecordId>,
    /// 1 when created, +1 on every change.
    pub version: i64,
    /// Voided records are kept but never count.
    pub voided: bool,
    /// Why it was voided.
    pub void_reason: Option<String>,
    /// When it was signed off.
    pub signed_off_at: Option<String>,
    /// Who signed it off.
    pub signed_off_by: Option<String>,
    /// When created (UTC, RFC 3339).
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// When last changed.
    pub updated_at: String,
    /// Who last changed it.
    pub updated_by: String,
}

/// A record with its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Envelope.
    pub meta: RecordMeta,
    /// The domain record.
    pub record: AnyRecord,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A record was created.
    Create,
    /// A record's content changed.
    Update,
    /// A record was voided.
    Void,
    /// A record was signed off.
    SignOff,
    /// A patient's identifiers were erased (their data key destroyed).
    Erase,
}

impl AuditAction {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Void => "void",
            Self::SignOff => "sign_off",
            Self::Erase => "erase",
        }
    }
}

/// One entry of the append-only, hash-chained audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What kind of change (stored spelling of [`AuditAction`]).
    pub action: String,
    /// The record changed.
    pub record_id: String,
    /// Its kind.
    pub record_kind: String,
    /// Its patient.
    pub patient_id: Option<String>,
    /// Why (required for voids and for edits of signed-off records).
    pub reason: Option<String>,
    /// Soft warnings acknowledged with the change (JSON list).
    pub warnings: Option<String>,
    /// The row's state before the change (none for a creation). The state
    /// after a change is the next entry's `before_state`, or the current row.
    pub before_state: Option<String>,
    /// Hash of the row's state after the change.
    pub row_hash: String,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// Hash of this entry's content and `prev_hash`.
    pub hash: String,
}

/// The fields an entry's hash covers, in a fixed order.
#[derive(Serialize)]
struct HashedEntry<'a> {
    seq: i64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    record_id: &'a str,
    record_kind: &'a str,
    patient_id: Option<&'a str>,
    reason: Option<&'a str>,
    warnings: Option<&'a str>,
    before_state: Option<&'a str>,
    row_hash: &'a str,
    prev_hash: &'a str,
}

impl AuditEntry {
    /// The hash this entry should carry.
    pub fn compute_hash(&self) -> String {
        let hashed = HashedEntry {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            record_id: &self.record_id,
            record_kind: &self.record_kind,
            patient_id: self.patient_id.as_deref(),
            reason: self.reason.as_deref(),
            warnings: self.warnings.as_deref(),
            before_state: self.before_state.as_deref(),
            row_hash: &self.row_hash,
            prev_hash: &self.prev_hash,
        };
        crate::rows::sha256_hex(
            serde_json::to_string(&hashed)
                .expect("entry serialises")
                .as_bytes(),
        )
    }
}

/// The registry's data version: the head of the audit chain. Reports print
/// it so that any output can be traced to the registry state that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataVersion {
    /// Sequence number of the last audit entry.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

impl std::fmt::Display for DataVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.seq, &self.hash[..12.min(self.hash.len())])
    }
}

/// A break found by [`crate::Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Break {
    /// The audit entry concerned, if any.
    pub seq: Option<i64>,
    /// The record concerned.
    pub record_id: String,
    /// What is wrong.
    pub problem: String,
}

/// The result of verifying the audit trail and every data row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Entries checked.
    pub entries: i64,
    /// Record rows checked.
    pub records: i64,
    /// The chain head.
    pub data_version: DataVersion,
    /// Breaks found, first broken link first (at most [`VerifyReport::MAX_BREAKS`]).
    pub breaks: Vec<Break>,
}

impl VerifyReport {
    /// How many breaks are listed at most.
    pub const MAX_BREAKS: usize = 100;

    /// Whether nothing is broken.
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Counts for the registry's front page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteCounts {
    /// Site code.
    pub site_code: String,
    /// Site name.
    pub site_name: String,
    /// Patients registered.
    pub patients: i64,
    /// Index procedures.
    pub procedures: i64,
    /// Follow-up visits.
    pub visits: i64,
    /// Deaths.
    pub deaths: i64,
}

/// Who makes a change: a user name, or a named system process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// A user or process by name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name recorded in the audit trail.
    pub fn name(&self) -> &str {
        &self.0
    }
}
