//! The pre-operative workflow on the web (DOMAIN.md 4.5): for a patient
//! with no index procedure, the baseline and quality-of-life forms say so
//! at the top and ask for the limb (never for a procedure that cannot be
//! chosen); both are saved waiting for that limb's procedure; a procedure
//! dated before them is refused naming its date; the other limb's
//! procedure leaves them waiting; the limb's own procedure takes them up,
//! and the patient page shows them linked.

mod common;

use common::*;
use pdva_domain::codes::Limb;
use pdva_domain::{ClinicalRecord, RecordId};
use pdva_store::{AnyRecord, Role};

fn id_after(location: &str, prefix: &str) -> RecordId {
    location
        .trim_start_matches(prefix)
        .split(['#', '/'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The timeline row of a record on the patient page.
fn row_of(page: &str, id: RecordId) -> &str {
    let start = page
        .find(&format!("id=\"record-{id}\""))
        .unwrap_or_else(|| panic!("no row for {id}: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// The index procedure a stored record is linked to.
async fn linked_procedure(store: &pdva_store::Store, id: RecordId) -> Option<RecordId> {
    match store.get(id).await.unwrap().record {
        AnyRecord::Clinical(r) => r.procedure_id(),
        _ => panic!("not clinical"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_and_quality_of_life_recorded_before_the_procedure_are_taken_up_by_it() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let csrf = Some(who.csrf.as_str());
    let operator = world.clinician_a.to_string();

    let registered = post(
        store,
        "/sites/NGH/patients/new",
        Some(&who),
        csrf,
        &[
            ("nhs_number", "999 000 0034"),
            ("family_name", "Featherstonehaugh"),
            ("given_name", "Imelda"),
            ("date_of_birth", "1948-02-28"),
            ("sex", "female"),
        ],
    )
    .await;
    assert_eq!(registered.status, 303, "{}", registered.body);
    let patient = id_after(&registered.location, "/patients/");
    let base = format!("/patients/{patient}");
    let consent = post(
        store,
        &format!("{base}/records/new/consent"),
        Some(&who),
        csrf,
        &[
            ("consent_date", "2025-03-01"),
            ("taken_by", &operator),
            ("uncertainties_explained", "yes"),
            ("information_given", "nice_information_for_the_public"),
            ("shared_decision_making_documented", "yes"),
            ("lacks_capacity", "no"),
            ("registry_data_consent", "yes"),
            ("research_consent", "yes"),
        ],
    )
    .await;
    assert_eq!(consent.status, 303, "{}", consent.body);

    // With no procedure, both forms say so first and ask for the limb.
    for slug in ["baseline", "quality-of-life"] {
        let form = get(store, &format!("{base}/records/new/{slug}"), Some(&who)).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let note = form
            .body
            .find("No index procedure is recorded for this patient yet")
            .unwrap_or_else(|| panic!("{slug}: no note: {}", form.body));
        let first_field = form
            .body
            .find(&format!(
                "<form method=\"post\" action=\"{base}/records/new/{slug}\""
            ))
            .unwrap();
        assert!(note < first_field, "{slug}: the note is not above the form");
        assert!(
            form.body.contains("name=\"index_limb\""),
            "{slug}: {}",
            form.body
        );
        assert!(
            !form.body.contains("name=\"procedure_id\""),
            "{slug}: a procedure list no one can fill: {}",
            form.body
        );
    }

    let baseline = post(
        store,
        &format!("{base}/records/new/baseline"),
        Some(&who),
        csrf,
        &[
            ("index_limb", "left"),
            ("assessment_date", "2025-03-04"),
            ("rutherford_category", "5"),
            ("wifi_wound", "2"),
            ("wifi_ischaemia", "3"),
            ("wifi_foot_infection", "1"),
            ("diabetes", "type_2"),
            ("dialysis_dependent", "no"),
            ("no_option_reasons", "no_bypass_target"),
            ("pedal_venous_anatomy_confirmed", "yes"),
        ],
    )
    .await;
    assert_eq!(baseline.status, 303, "{}", baseline.body);
    let baseline = id_after(baseline.location.split('#').nth(1).unwrap(), "record-");
    let qol = post(
        store,
        &format!("{base}/records/new/quality-of-life"),
        Some(&who),
        csrf,
        &[
            ("index_limb", "left"),
            ("assessment_date", "2025-03-04"),
            ("vascuqol_1", "2"),
            ("vascuqol_2", "2"),
            ("vascuqol_3", "3"),
            ("vascuqol_4", "1"),
            ("vascuqol_5", "2"),
            ("vascuqol_6", "3"),
            ("eq_vas", "45"),
        ],
    )
    .await;
    assert_eq!(qol.status, 303, "{}", qol.body);
    let qol = id_after(qol.location.split('#').nth(1).unwrap(), "record-");

    let page = get(store, &base, Some(&who)).await;
    assert_eq!(page.status, 200);
    // No procedure yet: no age at it either.
    assert!(page.body.contains("Age today"), "{}", page.body);
    for id in [baseline, qol] {
        let row = row_of(&page.body, id);
        assert!(row.contains(">Left<"), "{row}");
        assert!(
            row.contains("waiting for the limb&#39;s index procedure")
                || row.contains("waiting for the limb's index procedure"),
            "{row}"
        );
        assert_eq!(linked_procedure(store, id).await, None);
    }

    let procedure = |date: &'static str, limb: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("procedure_date", date.to_owned()),
            ("index_limb", limb.to_owned()),
            ("primary_operator", operator.clone()),
            ("anaesthesia", "general".to_owned()),
            ("device_system", "Test system".to_owned()),
            ("arterial_access", "antegrade_common_femoral".to_owned()),
            ("venous_access", "retrograde_tibial_vein".to_owned()),
            ("target_artery", "posterior_tibial".to_owned()),
            ("target_vein", "posterior_tibial".to_owned()),
            ("crossover_level", "distal_calf".to_owned()),
            ("fistula_created", "yes".to_owned()),
            ("valvulotomy", "yes".to_owned()),
            ("completion_angiography", "yes".to_owned()),
            ("venous_arch_flow", "complete".to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let base = base.clone();
        let who = &who;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(
                store,
                &format!("{base}/records/new/procedure"),
                Some(who),
                Some(who.csrf.as_str()),
                &fields,
            )
            .await
        }
    };

    // A left procedure dated before the baseline is refused, naming the
    // procedure date, its value and the rule.
    let refused = send(procedure("2025-03-02", "left")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("is before the baseline assessment of the left limb on 2025-03-04"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Procedure date"), "{}", refused.body);

    // The right limb's procedure leaves them waiting, and the forms now say
    // which limb has none.
    let right = send(procedure("2025-03-10", "right")).await;
    assert_eq!(right.status, 303, "{}", right.body);
    for id in [baseline, qol] {
        assert_eq!(linked_procedure(store, id).await, None);
    }
    let form = get(store, &format!("{base}/records/new/baseline"), Some(&who)).await;
    assert!(
        form.body
            .contains("The right limb&#39;s index procedure is recorded (2025-03-10); the left limb has none yet")
            || form
                .body
                .contains("The right limb's index procedure is recorded (2025-03-10); the left limb has none yet"),
        "{}",
        form.body
    );

    // The left limb's procedure takes them up.
    let left = send(procedure("2025-03-12", "left")).await;
    assert_eq!(left.status, 303, "{}", left.body);
    let file = store.patient_file(patient).await.unwrap();
    let (left_id, _) = file
        .procedures()
        .find(|(_, p)| p.index_limb == Limb::Left)
        .unwrap();
    for id in [baseline, qol] {
        assert_eq!(linked_procedure(store, id).await, Some(left_id));
    }
    assert!(file.records.iter().all(|(_, r)| match r {
        ClinicalRecord::Baseline(_) | ClinicalRecord::QualityOfLife(_) =>
            r.awaited_limb().is_none(),
        _ => true,
    }));

    let page = get(store, &base, Some(&who)).await;
    for id in [baseline, qol] {
        let row = row_of(&page.body, id);
        assert!(row.contains(">Left<"), "{row}");
        assert!(!row.contains("waiting"), "{row}");
    }
    assert!(
        page.body
            .contains("taken up by the left limb&#39;s index procedure of 2025-03-12")
            || page
                .body
                .contains("taken up by the left limb's index procedure of 2025-03-12"),
        "the change history does not say why: {}",
        page.body
    );
    // The baseline's own page names its procedure.
    let edit = get(
        store,
        &format!("{base}/records/{baseline}/edit"),
        Some(&who),
    )
    .await;
    assert!(
        edit.body
            .contains("Left limb, 2025-03-12 (index procedure)"),
        "{}",
        edit.body
    );
    assert!(
        !edit.body.contains("id=\"preoperative-note\""),
        "{}",
        edit.body
    );
}
