//! The disclosure table (`pdva_domain::deident::FIELDS`) against the records
//! themselves: every field each record serialises must be marked, and every
//! mark must name a field that exists, so a field added to a record without
//! a decision about what it discloses fails here. Then the de-identified form
//! of the valid file must hold no identifier, no free text and no date.

mod common;

use std::collections::BTreeSet;

use common::*;
use pdva_domain::codes::{AmputationLevel, Limb};
use pdva_domain::deident::{Disclosure, FIELDS, PseudonymKey, ResearchValue, deidentify};
use pdva_domain::{ClinicalRecord, GovernanceMeeting, RecordKind};
use serde_json::Value;

/// The field names a record serialises, as stored.
fn keys(value: Value) -> BTreeSet<String> {
    match value {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("a record serialises as an object, not {other}"),
    }
}

fn clinical_keys(record: &ClinicalRecord) -> BTreeSet<String> {
    match serde_json::to_value(record).unwrap() {
        Value::Object(mut tagged) => keys(tagged.remove("record").unwrap()),
        other => panic!("{other}"),
    }
}

#[test]
fn every_field_of_every_record_is_marked() {
    let fixture = Fixture::valid();
    let mut seen: Vec<(RecordKind, BTreeSet<String>)> = vec![
        (
            RecordKind::Patient,
            keys(serde_json::to_value(&fixture.file.patient).unwrap()),
        ),
        (
            RecordKind::Site,
            keys(serde_json::to_value(site("RFH", 5)).unwrap()),
        ),
        (
            RecordKind::Clinician,
            keys(serde_json::to_value(clinician("Ms A", "RFH", None, 1)).unwrap()),
        ),
        (
            RecordKind::GovernanceMeeting,
            keys(
                serde_json::to_value(GovernanceMeeting {
                    site_code: "RFH".parse().unwrap(),
                    held_on: d("2024-01-01"),
                    attendees: None,
                    report_data_version: None,
                    actions: None,
                })
                .unwrap(),
            ),
        ),
    ];
    let p = fixture.ids.procedure;
    let day = d(PROCEDURE_DATE);
    let mut records: Vec<ClinicalRecord> = fixture
        .file
        .records
        .iter()
        .map(|(_, r)| r.clone())
        .collect();
    records.extend([
        rec(death(day)),
        rec(amputation(p, day, Limb::Left, AmputationLevel::Toe, false)),
        rec(reintervention(p, day, Limb::Left)),
        rec(adverse_event(p, day, None)),
        rec(therapy(p, day, None)),
        rec(qol(p, day)),
    ]);
    for record in &records {
        seen.push((record.kind(), clinical_keys(record)));
    }
    seen.sort_by_key(|(k, _)| k.as_str());
    seen.dedup_by_key(|(k, _)| k.as_str());
    let kinds: BTreeSet<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds.len(),
        RecordKind::ALL.len(),
        "the fixture must hold a record of every kind to check them all"
    );
    for (kind, fields) in &seen {
        let marked: BTreeSet<String> = FIELDS
            .iter()
            .filter(|m| m.kind == *kind)
            .map(|m| m.field.to_owned())
            .collect();
        let unmarked: Vec<_> = fields.difference(&marked).collect();
        assert!(
            unmarked.is_empty(),
            "{} fields without a disclosure mark in deident::FIELDS: {unmarked:?}",
            kind.as_str()
        );
        let stale: Vec<_> = marked.difference(fields).collect();
        assert!(
            stale.is_empty(),
            "deident::FIELDS marks {} fields that do not exist: {stale:?}",
            kind.as_str()
        );
    }
}

#[test]
fn the_research_form_holds_no_identifier_free_text_or_date() {
    let mut fixture = Fixture::valid();
    fixture.file.patient.hospital_number = Some("H123456".into());
    let key = PseudonymKey::new([7; 32]);
    let research = deidentify(&fixture.file, &key, fixture.today);
    let text = serde_json::to_string(&research).unwrap();
    let p = &fixture.file.patient;
    let mut forbidden = vec![
        p.registry_id.to_string(),
        p.date_of_birth.to_string(),
        fixture.file.patient_id.to_string(),
        "H123456".to_owned(),
    ];
    forbidden.extend(p.nhs_number.iter().map(|n| n.as_str().to_owned()));
    forbidden.extend(p.family_name.clone());
    forbidden.extend(p.given_name.clone());
    for (id, record) in &fixture.file.records {
        forbidden.push(id.to_string());
        for (_, date) in record.dates() {
            forbidden.push(date.to_string());
        }
    }
    for bad in &forbidden {
        assert!(
            !text.contains(bad.as_str()),
            "{bad} reached the research form: {text}"
        );
    }
    // Every kept field is marked for research, and no identifying or
    // free-text field survives.
    for record in &research.records {
        for (name, value) in &record.fields {
            let mark = FIELDS
                .iter()
                .find(|m| m.kind == record.kind && m.field == *name)
                .unwrap();
            assert!(
                !matches!(
                    mark.disclosure,
                    Disclosure::Identifying | Disclosure::FreeText
                ),
                "{}.{name} was disclosed",
                record.kind.as_str()
            );
            if mark.disclosure == Disclosure::Date {
                assert!(matches!(value, ResearchValue::Day(_)));
            }
        }
    }
    // Day 0 is the index procedure, and intervals are exact.
    let procedure = research
        .records
        .iter()
        .find(|r| r.kind == RecordKind::Procedure)
        .unwrap();
    assert_eq!(procedure.day, 0);
    assert_eq!(procedure.limb.as_deref(), Some("limb 1"));
    let first = fixture.file.procedures().next().unwrap().1.procedure_date;
    assert_eq!(research.age_at_day_zero, p.age_on(first));
    for (_, record) in &fixture.file.records {
        let day = (record.date() - first).num_days();
        assert!(
            research
                .records
                .iter()
                .any(|r| r.kind == record.kind() && r.day == day),
            "{} on day {day} is missing",
            record.kind().as_str()
        );
    }
}
