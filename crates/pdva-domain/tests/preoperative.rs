//! The pre-operative workflow (DOMAIN.md 4.5): a baseline and a quality of
//! life recorded for a limb before its index procedure exists, taken up by
//! that limb's procedure when it is saved, with the baseline timing rules
//! checked as it takes them up. The valid file of `common` has a right-limb
//! procedure; these tests work on the left limb.

mod common;

use common::*;
use pdva_domain::codes::Limb;
use pdva_domain::preoperative::save;
use pdva_domain::{ClinicalRecord, RecordId, Rule};

/// A baseline of the left limb waiting for its procedure.
fn waiting_baseline(date: &str) -> ClinicalRecord {
    let mut b = baseline(id(999), d(date));
    b.procedure_id = None;
    b.index_limb = Some(Limb::Left);
    ClinicalRecord::Baseline(b)
}

/// A quality of life of the left limb waiting for its procedure.
fn waiting_qol(date: &str) -> ClinicalRecord {
    let mut q = qol(id(999), d(date));
    q.procedure_id = None;
    q.index_limb = Some(Limb::Left);
    ClinicalRecord::QualityOfLife(q)
}

fn left_procedure(f: &Fixture, date: &str) -> ClinicalRecord {
    ClinicalRecord::Procedure(procedure(d(date), Limb::Left, f.ids.operator))
}

fn procedure_id_of(f: &pdva_domain::PatientFile, id: RecordId) -> Option<RecordId> {
    f.records
        .iter()
        .find(|(rid, _)| *rid == id)
        .and_then(|(_, r)| r.procedure_id())
}

/// The fixture with a waiting baseline and quality of life of the left limb.
fn with_waiting_records(baseline_on: &str, qol_on: &str) -> (Fixture, RecordId, RecordId) {
    let mut f = Fixture::valid();
    let b = f.add(waiting_baseline(baseline_on));
    let q = f.add(waiting_qol(qol_on));
    (f, b, q)
}

#[test]
fn a_baseline_and_quality_of_life_are_accepted_for_a_limb_without_a_procedure() {
    let (f, b, q) = with_waiting_records("2024-05-01", "2024-05-01");
    for record in [b, q] {
        let checked = f.check(record);
        assert!(checked.refusals.is_empty(), "{:#?}", checked.refusals);
        assert_eq!(procedure_id_of(&f.file, record), None);
    }
}

#[test]
fn the_procedure_of_the_limb_takes_them_up() {
    let (f, b, q) = with_waiting_records("2024-05-01", "2024-05-02");
    let p = id(500);
    let saving = save(
        f.file.clone(),
        p,
        left_procedure(&f, "2024-05-10"),
        &f.reference,
        f.today,
    );
    assert!(
        saving.checked.refusals.is_empty(),
        "{:#?}",
        saving.checked.refusals
    );
    let taken: Vec<RecordId> = saving.taken_up.iter().map(|(id, _)| *id).collect();
    assert_eq!(taken, [b, q]);
    for (_, record) in &saving.taken_up {
        assert_eq!(record.procedure_id(), Some(p));
        assert_eq!(record.named_limb(), Some(Limb::Left));
    }
    assert_eq!(procedure_id_of(&saving.file, b), Some(p));
    assert_eq!(procedure_id_of(&saving.file, q), Some(p));
    // Linked, the file is valid as a whole.
    let whole = pdva_domain::check_file(&saving.file, &f.reference, f.today);
    assert!(whole.refusals.is_empty(), "{:#?}", whole.refusals);
}

#[test]
fn the_other_limbs_procedure_does_not_take_them_up() {
    // The fixture's right-limb procedure is there already and has not
    // taken them up; an edit of it does not either.
    let (f, b, q) = with_waiting_records("2024-05-01", "2024-05-02");
    let right = f
        .file
        .records
        .iter()
        .find(|(id, _)| *id == f.ids.procedure)
        .map(|(_, r)| r.clone())
        .unwrap();
    let saving = save(
        f.file.clone(),
        f.ids.procedure,
        right,
        &f.reference,
        f.today,
    );
    assert!(saving.taken_up.is_empty(), "{:#?}", saving.taken_up);
    assert_eq!(procedure_id_of(&saving.file, b), None);
    assert_eq!(procedure_id_of(&saving.file, q), None);
}

#[test]
fn a_procedure_dated_before_the_waiting_baseline_is_refused_naming_its_date() {
    let (f, _, _) = with_waiting_records("2024-05-08", "2024-05-01");
    let saving = save(
        f.file.clone(),
        id(500),
        left_procedure(&f, "2024-05-05"),
        &f.reference,
        f.today,
    );
    assert_refused(
        &saving.checked,
        Rule::BaselineAfterProcedure,
        "procedure_date",
        "2024-05-05",
        &[
            "before the baseline assessment",
            "2024-05-08",
            "on or before",
        ],
    );
}

#[test]
fn a_procedure_dated_before_the_waiting_quality_of_life_is_refused_naming_its_date() {
    let (f, _, _) = with_waiting_records("2024-05-01", "2024-05-08");
    let saving = save(
        f.file.clone(),
        id(500),
        left_procedure(&f, "2024-05-05"),
        &f.reference,
        f.today,
    );
    assert_refused(
        &saving.checked,
        Rule::PreoperativeAfterProcedure,
        "procedure_date",
        "2024-05-05",
        &[
            "pre-operative quality of life",
            "2024-05-08",
            "on or before",
        ],
    );
}

#[test]
fn a_baseline_long_before_the_procedure_that_takes_it_up_is_a_warning_on_its_date() {
    let (f, _, _) = with_waiting_records("2024-01-02", "2024-05-01");
    let saving = save(
        f.file.clone(),
        id(500),
        left_procedure(&f, "2024-05-10"),
        &f.reference,
        f.today,
    );
    assert!(
        saving.checked.refusals.is_empty(),
        "{:#?}",
        saving.checked.refusals
    );
    assert!(
        saving
            .checked
            .warnings
            .iter()
            .any(|w| w.rule == Rule::AssessmentLongBefore
                && w.field == "procedure_date"
                && w.message.contains("2024-01-02")),
        "{:#?}",
        saving.checked.warnings
    );
}

#[test]
fn a_second_waiting_baseline_of_a_limb_is_refused() {
    let (mut f, _, _) = with_waiting_records("2024-05-01", "2024-05-01");
    let second = f.add(waiting_baseline("2024-05-03"));
    assert_refused(
        &f.check(second),
        Rule::DuplicateBaseline,
        "index_limb",
        "left",
        &["already has a baseline waiting", "amend that one"],
    );
}

#[test]
fn a_record_for_a_limb_with_a_procedure_is_linked_to_it_at_once() {
    let f = Fixture::valid();
    let mut q = qol(id(999), d("2024-09-01"));
    q.procedure_id = None;
    q.index_limb = Some(Limb::Right);
    let saving = save(
        f.file.clone(),
        id(501),
        ClinicalRecord::QualityOfLife(q),
        &f.reference,
        f.today,
    );
    assert_eq!(saving.record.procedure_id(), Some(f.ids.procedure));
    assert!(
        saving.checked.refusals.is_empty(),
        "{:#?}",
        saving.checked.refusals
    );
}

#[test]
fn a_waiting_record_beside_its_limbs_procedure_or_without_a_limb_is_refused() {
    // What an import could bring: a record waiting for a limb that has a
    // procedure in the same file.
    let mut f = Fixture::valid();
    let mut q = qol(id(999), d("2024-09-01"));
    q.procedure_id = None;
    q.index_limb = Some(Limb::Right);
    let waiting = f.add(ClinicalRecord::QualityOfLife(q.clone()));
    assert_refused(
        &f.check(waiting),
        Rule::NotTakenUp,
        "procedure_id",
        "",
        &["right limb has an index procedure"],
    );
    q.index_limb = None;
    f.replace(waiting, ClinicalRecord::QualityOfLife(q));
    assert_refused(
        &f.check(waiting),
        Rule::RequiredWith,
        "index_limb",
        "",
        &["limb to be treated"],
    );
}

#[test]
fn a_linked_record_naming_another_limb_is_refused() {
    let mut f = Fixture::valid();
    f.baseline_mut().index_limb = Some(Limb::Left);
    assert_refused(
        &f.check(f.ids.baseline),
        Rule::WrongLimb,
        "index_limb",
        "left",
        &["not the index limb (right)"],
    );
}
