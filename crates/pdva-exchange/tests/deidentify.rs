//! A de-identified export of a generated registry, checked against the
//! database: no identifier of any patient, no patient outside the research
//! population, and every interval between a patient's dates exactly as in
//! the registry (one shift per patient, of at most 364 days).

mod common;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use common::{export_csv, generate, open, read_table, today};
use pdva_domain::deident::PseudonymKey;
use pdva_domain::disclosure::in_research_population;
use pdva_exchange::cells::serialised_fields;
use pdva_exchange::schema::{FieldType, INSTRUMENTS, Instrument};

#[tokio::test(flavor = "multi_thread")]
async fn a_deidentified_export_holds_no_identifier_no_withdrawn_patient_and_exact_intervals() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _) = open(tmp.path(), "a").await;
    generate(&store, 300, 21).await;
    let out = tmp.path().join("research");
    let summary = export_csv(&store, &out, true).await;
    let files = store.load_patient_files(None).await.unwrap();
    let key = PseudonymKey::new(store.pseudonym_secret());

    let included: Vec<_> = files
        .iter()
        .filter(|f| in_research_population(f, today()))
        .collect();
    assert!(
        included.len() < files.len(),
        "the generator makes some patients decline or withdraw"
    );
    assert!(!included.is_empty());
    assert_eq!(summary.patients, included.len());

    // Every cell of every file, and the whole text.
    let mut cells: HashSet<String> = HashSet::new();
    let mut text = String::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let (header, rows) = read_table(&path);
        cells.extend(header);
        for row in rows {
            cells.extend(row);
        }
        text.push_str(&std::fs::read_to_string(&path).unwrap());
    }
    for file in &files {
        let p = &file.patient;
        let mut identifiers = vec![
            p.registry_id.as_str().to_owned(),
            p.date_of_birth.to_string(),
        ];
        identifiers.extend(p.nhs_number.as_ref().map(|n| n.as_str().to_owned()));
        identifiers.extend(p.hospital_number.clone());
        identifiers.extend(p.family_name.clone());
        identifiers.extend(p.given_name.clone());
        for id in identifiers {
            assert!(!cells.contains(&id), "identifier {id} exported");
        }
        assert!(!text.contains(p.registry_id.as_str()));
        if let Some(nhs) = &p.nhs_number {
            assert!(!text.contains(nhs.as_str()));
        }
        assert!(
            !text.contains(&file.patient_id.to_string()),
            "a registry record id was exported"
        );
        for (id, _) in &file.records {
            assert!(
                !text.contains(&id.to_string()),
                "a registry record id was exported"
            );
        }
    }
    // Nobody outside the research population, by pseudonym.
    let (header, rows) = read_table(&out.join("patients.csv"));
    let pseudonym = header.iter().position(|h| h == "registry_id").unwrap();
    let exported: HashSet<&str> = rows.iter().map(|r| r[pseudonym].as_str()).collect();
    for file in &files {
        let shown = exported.contains(key.patient(file.patient_id).as_str());
        assert_eq!(shown, in_research_population(file, today()));
    }
    for column in [
        "nhs_number",
        "hospital_number",
        "family_name",
        "given_name",
        "date_of_birth",
    ] {
        assert!(!header.iter().any(|h| h == column), "{column} is a column");
    }
    assert!(header.iter().any(|h| h == "age_at_index"));

    // Intervals: every date of a patient moved by the same number of days.
    let mut shift_of: HashMap<String, i64> = HashMap::new();
    let mut dates_checked = 0;
    for instrument in INSTRUMENTS
        .iter()
        .filter(|i| i.level != pdva_exchange::schema::Level::Registry)
    {
        let (header, rows) = read_table(&out.join(format!("{}.csv", instrument.name)));
        let at = |name: &str| header.iter().position(|h| h == name);
        let by_id: HashMap<&str, &Vec<String>> = rows.iter().map(|r| (r[0].as_str(), r)).collect();
        for file in &included {
            let pseudonym = key.patient(file.patient_id).as_str().to_owned();
            let originals: Vec<(
                pdva_domain::RecordId,
                serde_json::Map<String, serde_json::Value>,
            )> = if instrument.kind == pdva_domain::RecordKind::Patient {
                vec![(file.patient_id, serialised_fields(&file.patient))]
            } else {
                file.records
                    .iter()
                    .filter(|(_, r)| r.kind() == instrument.kind)
                    .map(|(id, r)| (*id, serialised_fields(r)))
                    .collect()
            };
            for (id, fields) in originals {
                let row = by_id
                    .get(key.record_id(id).to_string().as_str())
                    .unwrap_or_else(|| panic!("{} record missing", instrument.name));
                for field in Instrument::of(instrument.kind).fields() {
                    if field.ty != FieldType::Date || !field.in_deidentified() {
                        continue;
                    }
                    let Some(original) = fields.get(field.name).and_then(|v| v.as_str()) else {
                        continue;
                    };
                    let original: NaiveDate = original.parse().unwrap();
                    let shown: NaiveDate = row[at(field.name).unwrap()].parse().unwrap();
                    let shift = (shown - original).num_days();
                    assert!(shift.abs() <= 364, "shift {shift}");
                    let first = *shift_of.entry(pseudonym.clone()).or_insert(shift);
                    assert_eq!(
                        first, shift,
                        "{pseudonym}: dates moved by different offsets"
                    );
                    dates_checked += 1;
                }
            }
        }
    }
    assert!(dates_checked > included.len() * 3, "{dates_checked}");
    let distinct: HashSet<i64> = shift_of.values().copied().collect();
    assert!(
        distinct.len() > 10,
        "patients share one shift: {distinct:?}"
    );
}
