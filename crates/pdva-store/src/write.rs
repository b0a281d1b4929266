//! Creating, changing, voiding and signing off records — each validated by
//! the domain rules and audited in the same transaction.

use chrono::{Datelike, NaiveDate};
use pdva_domain::codes::RegistryDataConsent;
use pdva_domain::{
    ClinicalRecord, Clinician, Finding, GovernanceMeeting, Patient, PatientFacts, PatientFile,
    RecordId, RecordKind, Rule, Site, check_file, check_record,
};
use pdva_domain::{deident, preoperative};
use serde::Serialize;
use sqlx::{Any, Transaction};

use crate::Store;
use crate::chain::{ChainWriter, lock_head};
use crate::error::{Result, StoreError};
use crate::identity;
use crate::model::{Actor, AnyRecord, AuditAction, DataVersion};
use crate::projection;
use crate::read::{file_from_rows, patient_rows, reference_data, row_by_id};
use crate::rows::RecordRow;

/// A record saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Saved {
    /// Its id.
    pub id: RecordId,
    /// Its version now.
    pub version: i64,
    /// Soft warnings acknowledged with it.
    pub warnings: Vec<Finding>,
    /// The registry's data version after the change.
    pub data_version: DataVersion,
}

/// What a bulk import wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    /// Patients written.
    pub patients: usize,
    /// Records written (patients included).
    pub records: usize,
    /// Soft warnings acknowledged.
    pub warnings: usize,
}

/// A change to a record: a new record (no `edit`) or an edit of an
/// existing one, which always carries the version the user read.
#[derive(Debug, Clone)]
pub struct Change<T> {
    /// The record edited and the version it was read at, or `None` to
    /// create one.
    pub edit: Option<Edit>,
    /// The content.
    pub record: T,
    /// Why (required for edits of signed-off records).
    pub reason: Option<String>,
    /// The user has seen and accepted the soft warnings.
    pub acknowledge_warnings: bool,
}

/// Which record an edit changes, and the version the user read it at. The
/// version is not optional: an edit that does not say what it was made
/// from could silently overwrite a change saved since, so every edit is
/// checked and a different version is refused ([`StoreError::Conflict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// The record.
    pub id: RecordId,
    /// The version the user read and edited.
    pub expected_version: i64,
}

impl<T> Change<T> {
    /// A new record, warnings acknowledged (for scripts and tests).
    pub fn create(record: T) -> Self {
        Self {
            edit: None,
            record,
            reason: None,
            acknowledge_warnings: true,
        }
    }

    /// An edit of `id` as read at `expected_version`, warnings acknowledged
    /// (for scripts and tests).
    pub fn edit(id: RecordId, expected_version: i64, record: T) -> Self {
        Self {
            edit: Some(Edit {
                id,
                expected_version,
            }),
            record,
            reason: None,
            acknowledge_warnings: true,
        }
    }

    /// The id of the record edited, if this is an edit.
    pub fn id(&self) -> Option<RecordId> {
        self.edit.map(|e| e.id)
    }
}

/// Whether a finding's field is a patient identifier (the disclosure
/// table's word): a warning about one is audited without its value, which
/// the audit trail would otherwise keep for ever in clear.
fn is_identifier(field: &str) -> bool {
    deident::disclosure_of(RecordKind::Patient, field) == Some(deident::Disclosure::Identifying)
}

fn warnings_json(warnings: &[Finding]) -> Option<String> {
    (!warnings.is_empty()).then(|| {
        serde_json::to_string(
            &warnings
                .iter()
                .map(|w| {
                    let value = if is_identifier(w.field) {
                        "(identifier withheld)"
                    } else {
                        w.value.as_str()
                    };
                    serde_json::json!({"rule": w.rule, "field": w.field, "value": value, "message": w.message})
                })
                .collect::<Vec<_>>(),
        )
        .expect("warnings serialise")
    })
}

fn non_empty(reason: Option<String>) -> Option<String> {
    reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
}

impl Store {
    pub(crate) async fn begin_write(&self) -> Result<(Transaction<'static, Any>, DataVersion)> {
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        Ok((tx, head))
    }

    /// Creates a reference record (site, clinician, governance meeting) with
    /// its per-field rules already enforced by its types.
    async fn create_reference(&self, actor: &Actor, record: AnyRecord) -> Result<RecordId> {
        let (mut tx, head) = self.begin_write().await?;
        let mut chain = ChainWriter::new(head, actor.name());
        let id = RecordId::new_random();
        let row = RecordRow::new(id, None, &record, chain.actor(), chain.at());
        if let Some(key) = &row.natural_key {
            let taken = sqlx::query("SELECT id FROM record WHERE natural_key = $1 AND voided = 0")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::Invalid(format!(
                    "{key} already exists in the registry"
                )));
            }
        }
        chain.create(row, None, None);
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Registers a site.
    pub async fn create_site(&self, actor: &Actor, site: Site) -> Result<RecordId> {
        self.create_reference(actor, AnyRecord::Site(site)).await
    }

    /// Registers a clinician. Every site named must exist.
    pub async fn create_clinician(&self, actor: &Actor, clinician: Clinician) -> Result<RecordId> {
        self.check_clinician_sites(&clinician).await?;
        self.create_reference(actor, AnyRecord::Clinician(clinician))
            .await
    }

    /// Records a governance review meeting of a site.
    pub async fn create_governance_meeting(
        &self,
        actor: &Actor,
        meeting: GovernanceMeeting,
    ) -> Result<RecordId> {
        self.create_reference(actor, AnyRecord::GovernanceMeeting(meeting))
            .await
    }

    /// Edits a site. Its code cannot change (patients, clinicians and users
    /// name it); a reason for the change is required.
    pub async fn update_site(&self, actor: &Actor, change: Change<Site>) -> Result<DataVersion> {
        let edit = change
            .edit
            .ok_or_else(|| StoreError::Invalid("site: no id to edit".into()))?;
        let id = edit.id;
        let new_code = change.record.site_code.clone();
        self.update_reference(actor, edit, change.reason, |before| match before {
            AnyRecord::Site(old) if old.site_code == new_code => Ok(AnyRecord::Site(change.record)),
            AnyRecord::Site(old) => Err(StoreError::Invalid(format!(
                "site_code: \"{new_code}\" cannot replace \"{}\": a site's code never changes",
                old.site_code
            ))),
            _ => Err(StoreError::NotFound(id)),
        })
        .await
    }

    /// Edits a clinician (their sites, pDVA training and proctored cases);
    /// every site named must exist, and a reason for the change is required.
    pub async fn update_clinician(
        &self,
        actor: &Actor,
        change: Change<Clinician>,
    ) -> Result<DataVersion> {
        let edit = change
            .edit
            .ok_or_else(|| StoreError::Invalid("clinician: no id to edit".into()))?;
        let id = edit.id;
        self.check_clinician_sites(&change.record).await?;
        self.update_reference(actor, edit, change.reason, |before| match before {
            AnyRecord::Clinician(_) => Ok(AnyRecord::Clinician(change.record)),
            _ => Err(StoreError::NotFound(id)),
        })
        .await
    }

    async fn check_clinician_sites(&self, clinician: &Clinician) -> Result<()> {
        if clinician.sites.is_empty() {
            return Err(StoreError::Invalid(
                "sites: a clinician must work at one site or more".into(),
            ));
        }
        let reference = self.reference_data().await?;
        if let Some(missing) = clinician
            .sites
            .iter()
            .find(|s| !reference.sites.contains_key(*s))
        {
            return Err(StoreError::Invalid(format!(
                "sites: \"{missing}\" is not a site of this registry"
            )));
        }
        Ok(())
    }

    /// Replaces a reference record (site, clinician) with what `replace`
    /// makes of it, in one audited transaction checked against the version
    /// the user edited.
    async fn update_reference(
        &self,
        actor: &Actor,
        edit: Edit,
        reason: Option<String>,
        replace: impl FnOnce(AnyRecord) -> Result<AnyRecord>,
    ) -> Result<DataVersion> {
        let reason = non_empty(reason).ok_or(StoreError::ReasonRequired(
            "reason: a change to a site or clinician needs a reason",
        ))?;
        let (mut tx, head) = self.begin_write().await?;
        let before = row_by_id(&mut *tx, edit.id)
            .await?
            .ok_or(StoreError::NotFound(edit.id))?;
        let record = replace(before.to_stored()?.record)?;
        let mut chain = ChainWriter::new(head, actor.name());
        let after = edited(&before, &record, edit.expected_version, &chain)?;
        chain.change(AuditAction::Update, &before, after, Some(reason), None);
        let version = chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Creates or edits a patient, checked against the rules and the NHS
    /// number's uniqueness. Their identifiers are stored sealed with their
    /// data key (a new one for a new patient, or for one whose identifiers
    /// were erased and are entered again); a patient whose latest consent
    /// declines registry data keeps none (their date of birth only as its
    /// year). An NHS number another patient holds is refused with the same
    /// neutral words wherever that patient is, and the attempt is recorded
    /// for an administrator ([`Store::nhs_conflicts`]).
    pub async fn save_patient(
        &self,
        actor: &Actor,
        change: Change<Patient>,
        today: NaiveDate,
    ) -> Result<Saved> {
        let (mut tx, head) = self.begin_write().await?;
        let mut chain = ChainWriter::new(head, actor.name());
        let id = change.id().unwrap_or_else(RecordId::new_random);
        let id_text = id.to_string();
        let key = match change.edit {
            Some(_) => identity::data_key(&mut *tx, &self.keys, &id_text).await?,
            None => None,
        };
        let (mut file, before) = match change.id() {
            Some(id) => {
                let rows = patient_rows(&mut *tx, id).await?;
                let before = rows
                    .iter()
                    .find(|r| r.id == id_text)
                    .cloned()
                    .ok_or(StoreError::NotFound(id))?;
                (file_from_rows(id, &rows, key.as_ref())?, Some(before))
            }
            None => (PatientFile::new(id, change.record.clone()), None),
        };
        file.patient = change.record.clone();
        let reference = reference_data(&mut tx).await?;
        let mut checked = check_record(&file, id, &reference, today);
        let nhs_index = file
            .patient
            .nhs_number
            .as_ref()
            .map(|n| self.keys.blind_index(n));
        let mut conflict = None;
        if let (Some(nhs), Some(index)) = (&file.patient.nhs_number, &nhs_index)
            && identity::nhs_holder(&mut tx, index, &id_text)
                .await?
                .is_some()
        {
            checked.refusals.push(Finding {
                rule: Rule::NhsNumberInUse,
                severity: Rule::NhsNumberInUse.severity(),
                record: id,
                field: "nhs_number",
                value: nhs.to_string(),
                message: identity::NHS_NUMBER_REFUSED.into(),
                counterpart: None,
            });
            conflict = Some(nhs.clone());
        }
        let warnings = match accept(checked, change.acknowledge_warnings) {
            Ok(warnings) => warnings,
            Err(e) => {
                if let Some(nhs) = conflict {
                    // Recorded outside the refused transaction, which rolls back.
                    drop(tx);
                    self.record_nhs_conflict(
                        actor,
                        change.record.home_site.as_str(),
                        &nhs,
                        change.id(),
                    )
                    .await?;
                }
                return Err(e);
            }
        };
        // Which data key seals the identifiers, if any is kept.
        let declined = declined_registry_data(&file);
        let was_erased = match &before {
            Some(b) => !crate::keys::body_is_sealed(&b.body).map_err(|e| b.corrupt(e))?,
            None => false,
        };
        let p = &change.record;
        let nothing_entered = p.nhs_number.is_none()
            && p.hospital_number.is_none()
            && p.family_name.is_none()
            && p.given_name.is_none()
            && p.date_of_birth == crate::keys::erased_date_of_birth(p.date_of_birth.year());
        let mut deleted_key = false;
        let key = if declined || (was_erased && nothing_entered) {
            if key.is_some() {
                identity::delete_key(&mut tx, &id_text).await?;
                deleted_key = true;
            }
            None
        } else if let Some(key) = key {
            identity::set_nhs_index(&mut tx, &id_text, nhs_index.as_deref()).await?;
            Some(key)
        } else {
            let (key, wrapped) = self.keys.new_data_key(&id_text);
            chain.put_key(id_text.clone(), wrapped, nhs_index);
            Some(key)
        };
        let record = AnyRecord::Patient(change.record.clone());
        let version = match (before, change.edit) {
            (None, _) => {
                let mut row = RecordRow::new(id, None, &record, chain.actor(), chain.at());
                row.seal_patient(&change.record, key.as_ref());
                chain.create(row, non_empty(change.reason), warnings_json(&warnings));
                1
            }
            (Some(before), Some(edit)) => {
                if before.natural_key != RecordRow::new(id, None, &record, "", "").natural_key {
                    return Err(StoreError::Invalid(
                        "registry_id: a patient's registry id is assigned once and never changes"
                            .into(),
                    ));
                }
                let mut after = edited(&before, &record, edit.expected_version, &chain)?;
                after.seal_patient(&change.record, key.as_ref());
                let version = after.version;
                chain.change(
                    AuditAction::Update,
                    &before,
                    after,
                    non_empty(change.reason),
                    warnings_json(&warnings),
                );
                version
            }
            (Some(_), None) => unreachable!("a patient row is read only for an edit"),
        };
        let data_version = chain.flush(&mut tx).await?;
        tx.commit().await?;
        if deleted_key {
            self.scrub_after_erasure().await?;
        }
        Ok(Saved {
            id,
            version,
            warnings,
            data_version,
        })
    }

    /// Creates or edits a clinical record of a patient, checked against the
    /// patient's whole record. Edits of signed-off records need a reason.
    pub async fn save_clinical(
        &self,
        actor: &Actor,
        patient_id: RecordId,
        change: Change<ClinicalRecord>,
        today: NaiveDate,
    ) -> Result<Saved> {
        let (mut tx, head) = self.begin_write().await?;
        let mut chain = ChainWriter::new(head, actor.name());
        let rows = patient_rows(&mut *tx, patient_id).await?;
        let key = identity::data_key(&mut *tx, &self.keys, &patient_id.to_string()).await?;
        let file = file_from_rows(patient_id, &rows, key.as_ref())?;
        let edit = change.edit;
        let id = change.id().unwrap_or_else(RecordId::new_random);
        let before = match edit {
            Some(Edit { id, .. }) => {
                let before = rows
                    .iter()
                    .find(|r| r.id == id.to_string())
                    .cloned()
                    .ok_or(StoreError::NotFound(id))?;
                if before.kind != change.record.kind().as_str() {
                    return Err(StoreError::Invalid(format!(
                        "record {id} is a {}, not a {}",
                        before.kind,
                        change.record.kind().as_str()
                    )));
                }
                Some(before)
            }
            None => None,
        };
        let reason = non_empty(change.reason);
        if let Some(before) = &before
            && before.signed_off_at.is_some()
            && reason.is_none()
        {
            return Err(StoreError::ReasonRequired(
                "this record is signed off: give a reason for the change",
            ));
        }
        let reference = reference_data(&mut tx).await?;
        // A pre-operative record joins its limb's index procedure, and an
        // index procedure takes up the records waiting for its limb, in
        // this transaction (DOMAIN.md 4.5).
        let saving = preoperative::save(file, id, change.record, &reference, today);
        let warnings = accept(saving.checked, change.acknowledge_warnings)?;
        let file = saving.file;
        // Why each record taken up changes, in its audit entry.
        let taken_up_by = match &saving.record {
            ClinicalRecord::Procedure(p) => format!(
                "taken up by the {} limb's index procedure of {} (record {id})",
                p.index_limb, p.procedure_date
            ),
            _ => format!("taken up by the index procedure {id}"),
        };
        // Declining registry data destroys the patient's data key in the
        // same transaction (DOMAIN.md 4.4; the rules have already refused
        // the consent while names or numbers are held).
        let erase = key.is_some() && declined_registry_data(&file);
        if erase {
            let patient_row = rows
                .iter()
                .find(|r| r.id == patient_id.to_string())
                .ok_or(StoreError::NotFound(patient_id))?;
            identity::stage_erasure(
                &mut tx,
                &mut chain,
                patient_row,
                "registry data consent declined".into(),
            )
            .await?;
        }
        let record = AnyRecord::Clinical(saving.record);
        // No natural-key check here (a patient's save has one): a clinical
        // row has no natural key, and its kind was checked above.
        let version = match (before, edit) {
            (Some(before), Some(edit)) => {
                let after = edited(&before, &record, edit.expected_version, &chain)?;
                let version = after.version;
                chain.change(
                    AuditAction::Update,
                    &before,
                    after,
                    reason,
                    warnings_json(&warnings),
                );
                version
            }
            _ => {
                let row = RecordRow::new(id, Some(patient_id), &record, chain.actor(), chain.at());
                chain.create(row, reason, warnings_json(&warnings));
                1
            }
        };
        for (taken_id, taken) in saving.taken_up {
            let before = rows
                .iter()
                .find(|r| r.id == taken_id.to_string())
                .ok_or(StoreError::NotFound(taken_id))?;
            let after = edited(before, &AnyRecord::Clinical(taken), before.version, &chain)?;
            chain.change(
                AuditAction::Update,
                before,
                after,
                Some(taken_up_by.clone()),
                None,
            );
        }
        let data_version = chain.flush(&mut tx).await?;
        tx.commit().await?;
        if erase {
            self.scrub_after_erasure().await?;
        }
        Ok(Saved {
            id,
            version,
            warnings,
            data_version,
        })
    }

    /// Voids a record with a reason. Voiding a patient or an index procedure
    /// voids the records that belong to it too, each with its own audit entry.
    pub async fn void(&self, actor: &Actor, id: RecordId, reason: &str) -> Result<DataVersion> {
        self.void_many(actor, &[(id, reason.to_owned())]).await
    }

    /// Voids several records, each with its reason, in one transaction (as
    /// [`Store::void`] does one).
    pub async fn void_many(
        &self,
        actor: &Actor,
        voids: &[(RecordId, String)],
    ) -> Result<DataVersion> {
        let (mut tx, head) = self.begin_write().await?;
        let mut chain = ChainWriter::new(head, actor.name());
        for (id, reason) in voids {
            let id = *id;
            let reason = non_empty(Some(reason.clone())).ok_or(StoreError::ReasonRequired(
                "give a reason for voiding the record",
            ))?;
            let target = row_by_id(&mut *tx, id)
                .await?
                .ok_or(StoreError::NotFound(id))?;
            if target.voided != 0 {
                return Err(StoreError::Invalid(format!(
                    "record {id} is already voided"
                )));
            }
            if target.kind == "patient" {
                // A voided patient's NHS number may be registered again.
                identity::set_nhs_index(&mut tx, &target.id, None).await?;
            }
            let mut to_void = vec![target.clone()];
            let dependants = match target.kind.as_str() {
                "patient" => Some("patient_id = $1"),
                "procedure" => Some("procedure_id = $1"),
                _ => None,
            };
            if let Some(filter) = dependants {
                let sql = format!(
                    "SELECT {} FROM record WHERE {filter} AND voided = 0 ORDER BY created_at, id",
                    crate::rows::RECORD_COLUMNS
                );
                for row in sqlx::query(&sql)
                    .bind(&target.id)
                    .fetch_all(&mut *tx)
                    .await?
                {
                    to_void.push(RecordRow::from_any_row(&row)?);
                }
            }
            for before in to_void {
                let mut after = before.clone();
                after.voided = 1;
                after.void_reason = Some(reason.clone());
                after.version += 1;
                after.updated_at = chain.at().to_owned();
                after.updated_by = chain.actor().to_owned();
                chain.change(
                    AuditAction::Void,
                    &before,
                    after,
                    Some(reason.clone()),
                    None,
                );
            }
        }
        let version = chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Writes reference records (sites, clinicians, governance meetings) with
    /// the ids given, in one transaction: the bulk path of imports and of the
    /// synthetic-data generator.
    pub async fn import_reference(
        &self,
        actor: &Actor,
        records: &[(RecordId, AnyRecord)],
    ) -> Result<DataVersion> {
        let (mut tx, head) = self.begin_write().await?;
        let mut chain = ChainWriter::new(head, actor.name());
        for (id, record) in records {
            if matches!(record, AnyRecord::Patient(_) | AnyRecord::Clinical(_)) {
                return Err(StoreError::Invalid(format!(
                    "record {id}: patients and clinical records are imported with their patient file"
                )));
            }
            let row = RecordRow::new(*id, None, record, chain.actor(), chain.at());
            chain.create(row, None, None);
        }
        let version = chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Signs off a procedure or follow-up visit record.
    pub async fn sign_off(&self, actor: &Actor, id: RecordId) -> Result<DataVersion> {
        let (mut tx, head) = self.begin_write().await?;
        let mut chain = ChainWriter::new(head, actor.name());
        let before = row_by_id(&mut *tx, id)
            .await?
            .ok_or(StoreError::NotFound(id))?;
        let kind = RecordKind::parse(&before.kind).ok_or_else(|| before.corrupt("unknown kind"))?;
        if !kind.is_signed_off_kind() {
            return Err(StoreError::Invalid(format!(
                "only procedure and follow-up visit records are signed off, not a {}",
                before.kind
            )));
        }
        if before.voided != 0 {
            return Err(StoreError::Invalid(format!("record {id} is voided")));
        }
        if before.signed_off_at.is_some() {
            return Err(StoreError::Invalid(format!(
                "record {id} is already signed off"
            )));
        }
        let mut after = before.clone();
        after.signed_off_at = Some(chain.at().to_owned());
        after.signed_off_by = Some(chain.actor().to_owned());
        after.version += 1;
        after.updated_at = chain.at().to_owned();
        after.updated_by = chain.actor().to_owned();
        chain.change(AuditAction::SignOff, &before, after, None, None);
        let version = chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Writes whole patient files in one transaction: each file is checked by
    /// the same rules as a record typed in a form (a hard finding refuses the
    /// whole batch), its soft warnings are acknowledged in the audit trail, and
    /// every record gets its audit entry. This is the path of bulk imports and
    /// of the synthetic-data generator.
    pub async fn import_patient_files(
        &self,
        actor: &Actor,
        files: &[PatientFile],
        reference: &pdva_domain::ReferenceData,
        today: NaiveDate,
    ) -> Result<ImportSummary> {
        self.import_registry(actor, &[], files, reference, today)
            .await
            .map(|(summary, _)| summary)
    }

    /// Writes reference records (sites, clinicians, governance meetings, with
    /// the ids given) and whole patient files in **one** transaction, so that
    /// an import is all or nothing: every file is checked first (a hard
    /// finding refuses everything, before anything is written), soft warnings
    /// are acknowledged in the audit trail, and every record gets its audit
    /// entry. `reference` must already hold the sites and clinicians being
    /// written.
    pub async fn import_registry(
        &self,
        actor: &Actor,
        reference_records: &[(RecordId, AnyRecord)],
        files: &[PatientFile],
        reference: &pdva_domain::ReferenceData,
        today: NaiveDate,
    ) -> Result<(ImportSummary, DataVersion)> {
        let mut summary = ImportSummary::default();
        let mut checked_files = Vec::with_capacity(files.len());
        for file in files {
            let checked = check_file(file, reference, today);
            if !checked.refusals.is_empty() {
                return Err(StoreError::Refused(checked.refusals));
            }
            checked_files.push(checked.warnings);
        }
        let (mut tx, head) = self.begin_write().await?;
        let mut chain = ChainWriter::new(head, actor.name());
        for (id, record) in reference_records {
            if matches!(record, AnyRecord::Patient(_) | AnyRecord::Clinical(_)) {
                return Err(StoreError::Invalid(format!(
                    "record {id}: patients and clinical records are imported with their patient file"
                )));
            }
            let row = RecordRow::new(*id, None, record, chain.actor(), chain.at());
            chain.create(row, None, None);
            summary.records += 1;
        }
        for (file, warnings) in files.iter().zip(checked_files) {
            let warnings_of = |id: RecordId| {
                let mine: Vec<Finding> = warnings
                    .iter()
                    .filter(|w| w.record == id)
                    .cloned()
                    .collect();
                warnings_json(&mine)
            };
            summary.warnings += warnings.len();
            let patient = AnyRecord::Patient(file.patient.clone());
            let mut row =
                RecordRow::new(file.patient_id, None, &patient, chain.actor(), chain.at());
            if !declined_registry_data(file) {
                let id = file.patient_id.to_string();
                let (key, wrapped) = self.keys.new_data_key(&id);
                let index = file
                    .patient
                    .nhs_number
                    .as_ref()
                    .map(|n| self.keys.blind_index(n));
                chain.put_key(id, wrapped, index);
                row.seal_patient(&file.patient, Some(&key));
            }
            chain.create(row, None, warnings_of(file.patient_id));
            // Index procedures first, so that rows referring to them follow.
            let ordered = file
                .records
                .iter()
                .filter(|(_, r)| matches!(r, ClinicalRecord::Procedure(_)))
                .chain(
                    file.records
                        .iter()
                        .filter(|(_, r)| !matches!(r, ClinicalRecord::Procedure(_))),
                );
            for (id, record) in ordered {
                let record = AnyRecord::Clinical(record.clone());
                let row = RecordRow::new(
                    *id,
                    Some(file.patient_id),
                    &record,
                    chain.actor(),
                    chain.at(),
                );
                chain.create(row, None, warnings_of(*id));
                summary.records += 1;
            }
            chain.give_facts(projection::in_stored_order(PatientFacts::from(file)));
            summary.patients += 1;
            summary.records += 1;
        }
        let version = chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok((summary, version))
    }
}

/// Whether the patient's latest consent declines registry data (DOMAIN.md
/// 4.4): then the registry keeps none of their identifiers.
fn declined_registry_data(file: &PatientFile) -> bool {
    file.consents()
        .max_by_key(|(id, c)| (c.consent_date, *id))
        .is_some_and(|(_, c)| c.registry_data_consent == RegistryDataConsent::No)
}

/// Applies the acknowledgement rule: hard findings refuse; soft ones need
/// the user's acknowledgement.
fn accept(checked: pdva_domain::Checked, acknowledged: bool) -> Result<Vec<Finding>> {
    if !checked.refusals.is_empty() {
        return Err(StoreError::Refused(checked.refusals));
    }
    if !checked.warnings.is_empty() && !acknowledged {
        return Err(StoreError::NeedsAcknowledgement(checked.warnings));
    }
    Ok(checked.warnings)
}

/// The row after an edit: new content, version + 1, checked against the
/// version the user edited (always: an edit without one cannot be made).
fn edited(
    before: &RecordRow,
    record: &AnyRecord,
    expected_version: i64,
    chain: &ChainWriter,
) -> Result<RecordRow> {
    let id = before.record_id()?;
    if before.voided != 0 {
        return Err(StoreError::Invalid(format!("record {id} is voided")));
    }
    if expected_version != before.version {
        return Err(StoreError::Conflict {
            id,
            expected: expected_version,
            found: before.version,
        });
    }
    let mut after = before.clone();
    after.set_record(record);
    after.version += 1;
    after.updated_at = chain.at().to_owned();
    after.updated_by = chain.actor().to_owned();
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(field: &'static str, value: &str) -> Finding {
        Finding {
            rule: Rule::AgeOutsideRange,
            severity: Rule::AgeOutsideRange.severity(),
            record: RecordId::from_bits(1),
            field,
            value: value.into(),
            message: "needs a look".into(),
            counterpart: None,
        }
    }

    #[test]
    fn audited_warnings_withhold_the_values_of_identifiers_only() {
        let json = warnings_json(&[
            warning("date_of_birth", "1954-03-02"),
            warning("nhs_number", "9990000018"),
            warning("family_name", "Testperson"),
            warning("procedure_date", "2024-01-10"),
        ])
        .unwrap();
        for identifier in ["1954-03-02", "9990000018", "Testperson"] {
            assert!(!json.contains(identifier), "{identifier} audited in {json}");
        }
        assert!(json.contains("2024-01-10"), "{json}");
        assert_eq!(json.matches("(identifier withheld)").count(), 3);
    }
}
