//! The pre-operative workflow (DOMAIN.md 4.5, 4.10): the baseline and the
//! pre-operative quality of life are recorded for a patient's limb before
//! its index procedure exists, and belong to that procedure once it is
//! recorded.
//!
//! A baseline or quality of life names its limb (`index_limb`) and links to
//! an index procedure (`procedure_id`) as soon as its limb has one. The
//! store saves every clinical record through [`save`], so that
//! - a record for a limb that already has an index procedure is linked to
//!   it at once (a waiting record never sits beside its procedure: the rule
//!   `NotTakenUp` refuses that state wherever else it could arrive from);
//! - an index procedure takes up the records waiting for its limb in the
//!   same transaction, each an audited change of its own;
//! - the timing rules are checked as the procedure takes them up: a baseline
//!   after the procedure is refused by `BaselineAfterProcedure` (seen from
//!   the procedure's date too), more than 90 days before it is a warning on
//!   the procedure's date, and a quality of life recorded as pre-operative
//!   but dated after the procedure is refused (`PreoperativeAfterProcedure`),
//!   since after the take-up nothing would tell it from a follow-up one.

use crate::records::{ClinicalRecord, RecordId};
use crate::validation::{Checked, Finding, PatientFile, ReferenceData, Rule, check_record};
use chrono::NaiveDate;

/// A clinical record as the store saves it, with what saving it does to the
/// patient's other records.
#[derive(Debug, Clone)]
pub struct Saving {
    /// The record as saved (a waiting record linked when its limb has an
    /// index procedure).
    pub record: ClinicalRecord,
    /// Records waiting for the limb of the index procedure saved, now linked
    /// to it: each is written as a change of its own.
    pub taken_up: Vec<(RecordId, ClinicalRecord)>,
    /// The patient's file after the save.
    pub file: PatientFile,
    /// The findings of the record saved, and of the take-up.
    pub checked: Checked,
}

/// Saves `record` as `id` into the patient's `file` (a new record, or a
/// change of the record of that id) as the store writes it, and checks it:
/// the rules of [`check_record`], the timing of every record the saved
/// procedure takes up, and the hard rules those records would break once
/// linked.
pub fn save(
    file: PatientFile,
    id: RecordId,
    record: ClinicalRecord,
    reference: &ReferenceData,
    today: NaiveDate,
) -> Saving {
    let record = link(&file, record);
    let mut file = file.with_record(id, record.clone());
    let (taken_up, take_up_findings) = take_up(&file, id);
    for (rid, r) in &taken_up {
        file = file.with_record(*rid, r.clone());
    }
    let mut checked = check_record(&file, id, reference, today);
    checked.add(take_up_findings);
    // A record taken up must not break a hard rule once linked (one the
    // procedure's own check does not already show).
    for (rid, _) in &taken_up {
        let theirs = check_record(&file, *rid, reference, today);
        checked.add(theirs.refusals.into_iter().filter(|f| !f.involves(id)));
    }
    Saving {
        record,
        taken_up,
        file,
        checked,
    }
}

/// `record` linked to its limb's index procedure, if it waits for a limb
/// that has one; otherwise unchanged.
pub fn link(file: &PatientFile, record: ClinicalRecord) -> ClinicalRecord {
    let Some(limb) = record.awaited_limb() else {
        return record;
    };
    let Some((pid, _)) = file.procedures().find(|(_, p)| p.index_limb == limb) else {
        return record;
    };
    linked_to(record, pid)
}

fn linked_to(record: ClinicalRecord, procedure_id: RecordId) -> ClinicalRecord {
    match record {
        ClinicalRecord::Baseline(mut b) => {
            b.procedure_id = Some(procedure_id);
            ClinicalRecord::Baseline(b)
        }
        ClinicalRecord::QualityOfLife(mut q) => {
            q.procedure_id = Some(procedure_id);
            ClinicalRecord::QualityOfLife(q)
        }
        other => other,
    }
}

/// The records waiting for the limb of index procedure `procedure_id` of
/// `file`, linked to it, with what taking them up finds from the
/// procedure's side: a pre-operative quality of life dated after the
/// procedure (hard), a baseline more than 90 days before it (soft). Nothing
/// when `procedure_id` is not an index procedure of the file.
pub fn take_up(
    file: &PatientFile,
    procedure_id: RecordId,
) -> (Vec<(RecordId, ClinicalRecord)>, Vec<Finding>) {
    let Some(p) = file.procedure(procedure_id) else {
        return (Vec::new(), Vec::new());
    };
    let mut taken_up = Vec::new();
    let mut findings = Vec::new();
    for (rid, record) in &file.records {
        if record.awaited_limb() != Some(p.index_limb) {
            continue;
        }
        match record {
            ClinicalRecord::QualityOfLife(q) if q.assessment_date > p.procedure_date => {
                findings.push(
                    Finding::new(
                        Rule::PreoperativeAfterProcedure,
                        procedure_id,
                        "procedure_date",
                        p.procedure_date,
                        format!(
                            "is before the pre-operative quality of life of the {} limb assessed on {}; a pre-operative assessment must be on or before the procedure (correct the procedure date, or that assessment's date)",
                            p.index_limb, q.assessment_date
                        ),
                    )
                    .with_counterpart(
                        *rid,
                        "assessment_date",
                        q.assessment_date,
                        format!(
                            "is after the {} limb's index procedure on {}; a pre-operative assessment must be on or before it",
                            p.index_limb, p.procedure_date
                        ),
                    ),
                );
            }
            ClinicalRecord::Baseline(b)
                if b.assessment_date <= p.procedure_date
                    && (p.procedure_date - b.assessment_date).num_days() > 90 =>
            {
                findings.push(
                    Finding::new(
                        Rule::AssessmentLongBefore,
                        procedure_id,
                        "procedure_date",
                        p.procedure_date,
                        format!(
                            "is more than 90 days after the baseline assessment of the {} limb on {}; please check the dates, or reassess",
                            p.index_limb, b.assessment_date
                        ),
                    )
                    .with_counterpart(
                        *rid,
                        "assessment_date",
                        b.assessment_date,
                        format!(
                            "is more than 90 days before the procedure on {}",
                            p.procedure_date
                        ),
                    ),
                );
            }
            _ => {}
        }
        taken_up.push((*rid, linked_to(record.clone(), procedure_id)));
    }
    (taken_up, findings)
}
