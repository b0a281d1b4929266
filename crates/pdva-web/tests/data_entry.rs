//! The clinician's path through the forms, in process: register a patient,
//! record consent, the procedure, the baseline, a 30-day visit and a major
//! amputation; see the patient page and the worklist. A refused form comes
//! back with every value as typed and the message beside its field; soft
//! warnings need confirming; signed-off records need a reason to change;
//! voiding needs a reason.

mod common;

use common::*;
use pdva_domain::{ClinicalRecord, RecordId};
use pdva_store::Role;

fn id_after(location: &str, prefix: &str) -> RecordId {
    location
        .trim_start_matches(prefix)
        .split(['#', '/'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clinician_records_a_patients_care_from_registration_to_amputation() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let csrf = Some(who.csrf.as_str());
    let operator = world.clinician_a.to_string();

    // Registration: a wrong NHS number comes back with everything as typed.
    let form = get(store, "/sites/NGH/patients/new", Some(&who)).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("<label for=\"nhs_number\">NHS number</label>")
    );
    let refused = post(
        store,
        "/sites/NGH/patients/new",
        Some(&who),
        csrf,
        &[
            ("nhs_number", "999 000 0019"),
            ("family_name", "Featherstonehaugh"),
            ("given_name", "Imelda"),
            ("date_of_birth", "1948-02-29"),
            ("sex", "female"),
        ],
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("value=\"999 000 0019\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"Featherstonehaugh\""));
    assert!(refused.body.contains("value=\"1948-02-29\""));
    assert!(refused.body.contains("<option value=\"female\" selected>"));
    assert!(
        refused
            .body
            .contains("Modulus 11 check digit should be 8, not 9"),
        "{}",
        refused.body
    );
    let registered = post(
        store,
        "/sites/NGH/patients/new",
        Some(&who),
        csrf,
        &[
            ("nhs_number", "999 000 0034"),
            ("family_name", "Featherstonehaugh"),
            ("given_name", "Imelda"),
            ("date_of_birth", "1948-02-29"),
            ("sex", "female"),
        ],
    )
    .await;
    assert_eq!(registered.status, 303, "{}", registered.body);
    let patient = id_after(&registered.location, "/patients/");
    let base = format!("/patients/{patient}");

    // Consent.
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
            ("information_given", "local_leaflet"),
            ("shared_decision_making_documented", "yes"),
            ("lacks_capacity", "no"),
            ("registry_data_consent", "yes"),
            ("research_consent", "yes"),
        ],
    )
    .await;
    assert_eq!(consent.status, 303, "{}", consent.body);

    // The procedure.
    let procedure_fields: Vec<(&str, &str)> = vec![
        ("procedure_date", "2025-03-10"),
        ("index_limb", "left"),
        ("primary_operator", &operator),
        ("anaesthesia", "general"),
        ("device_system", "Test system"),
        ("arterial_access", "antegrade_common_femoral"),
        ("venous_access", "retrograde_tibial_vein"),
        ("target_artery", "posterior_tibial"),
        ("target_vein", "posterior_tibial"),
        ("crossover_level", "distal_calf"),
        ("fistula_created", "yes"),
        ("valvulotomy", "yes"),
        ("completion_angiography", "yes"),
        ("venous_arch_flow", "complete"),
        ("contrast_ml", "350"),
    ];
    // Contrast above 300 ml is a soft warning: confirm it.
    let warned = post(
        store,
        &format!("{base}/records/new/procedure"),
        Some(&who),
        csrf,
        &procedure_fields,
    )
    .await;
    assert_eq!(warned.status, 422);
    assert!(warned.body.contains("name=\"acknowledge_warnings\""));
    assert!(
        warned.body.contains("class=\"warning\">Check: Contrast"),
        "{}",
        warned.body
    );
    assert!(warned.body.contains("value=\"350\""));
    let mut confirmed = procedure_fields.clone();
    confirmed.push(("acknowledge_warnings", "yes"));
    let saved = post(
        store,
        &format!("{base}/records/new/procedure"),
        Some(&who),
        csrf,
        &confirmed,
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let file = store.patient_file(patient).await.unwrap();
    let (procedure, _) = file.procedures().next().unwrap();
    let procedure = procedure.to_string();

    // Baseline: a hard error (assessment after the procedure) names the field.
    let baseline = |date: &'static str| {
        vec![
            ("index_limb", "left".to_owned()),
            ("assessment_date", date.to_owned()),
            ("rutherford_category", "5".to_owned()),
            ("wifi_wound", "2".to_owned()),
            ("wifi_ischaemia", "3".to_owned()),
            ("wifi_foot_infection", "1".to_owned()),
            ("diabetes", "type_2".to_owned()),
            ("dialysis_dependent", "no".to_owned()),
            ("no_option_reasons", "no_bypass_target".to_owned()),
            ("pedal_venous_anatomy_confirmed", "yes".to_owned()),
        ]
    };
    let late = baseline("2025-03-20");
    let late: Vec<(&str, &str)> = late.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = post(
        store,
        &format!("{base}/records/new/baseline"),
        Some(&who),
        csrf,
        &late,
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("value=\"2025-03-20\""));
    assert!(
        refused
            .body
            .contains("<p class=\"error\">Assessment date: &#34;2025-03-20&#34;")
            || refused
                .body
                .contains("<p class=\"error\">Assessment date: &quot;2025-03-20&quot;"),
        "{}",
        refused.body
    );
    let good = baseline("2025-03-05");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = post(
        store,
        &format!("{base}/records/new/baseline"),
        Some(&who),
        csrf,
        &good,
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    // A 30-day visit and a major amputation.
    let visit = post(
        store,
        &format!("{base}/records/new/follow-up-visit"),
        Some(&who),
        csrf,
        &[
            ("procedure_id", &procedure),
            ("visit_date", "2025-04-09"),
            ("contact", "in_person"),
            ("limb_status", "major_amputation"),
            ("wound_status", "worse"),
            ("acknowledge_warnings", "yes"),
        ],
    )
    .await;
    assert_eq!(visit.status, 303, "{}", visit.body);
    let visit_id = id_after(visit.location.split('#').nth(1).unwrap(), "record-");
    let amputation = post(
        store,
        &format!("{base}/records/new/amputation"),
        Some(&who),
        csrf,
        &[
            ("procedure_id", &procedure),
            ("date", "2025-04-02"),
            ("limb", "left"),
            ("level", "below_knee"),
            ("revision", "no"),
        ],
    )
    .await;
    assert_eq!(amputation.status, 303, "{}", amputation.body);

    let file = store.patient_file(patient).await.unwrap();
    assert!(
        file.records
            .iter()
            .any(|(_, r)| matches!(r, ClinicalRecord::Amputation(a) if a.is_major()))
    );

    // The dashboard reflects the event: the one index procedure whose
    // 30-day status is known had a major amputation; the seeded one, never
    // seen after its procedure, is counted beside it as of unknown status
    // (DOMAIN.md section 7).
    let dashboard = get(store, "/dashboard?site=NGH", Some(&who)).await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    let row = dashboard
        .body
        .lines()
        .find(|l| l.contains("Major amputation within 30 days"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        row.contains("1 of 1: 100.0%") && row.contains("status unknown at 30 days: 1"),
        "{row}"
    );
    // The Kaplan–Meier charts are drawn, with their tables of estimates.
    assert!(
        dashboard
            .body
            .contains("aria-label=\"Amputation-free survival (Kaplan–Meier, 95% band)\""),
        "{}",
        dashboard.body
    );

    // The patient page: limb state, timeline, change history with who.
    let page = get(store, &base, Some(&who)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Major amputation (Below knee (transtibial)) on 2025-04-02"),
        "{}",
        page.body
    );
    assert!(page.body.contains("FEATHERSTONEHAUGH, Imelda"));
    assert!(page.body.contains("999 000 0034"));
    assert!(page.body.contains("<td>clin.ngh</td>"));
    for title in [
        "Consent",
        "Index procedure",
        "Baseline and patient selection",
        "Follow-up visit",
        "Amputation",
    ] {
        assert!(page.body.contains(&format!("<td>{title}</td>")), "{title}");
    }

    // Sign off the visit; an amendment then needs a reason.
    let signed = post(
        store,
        &format!("{base}/records/{visit_id}/sign-off"),
        Some(&who),
        csrf,
        &[],
    )
    .await;
    assert_eq!(signed.status, 303);
    let edit = get(
        store,
        &format!("{base}/records/{visit_id}/edit"),
        Some(&who),
    )
    .await;
    assert!(edit.body.contains("This record is signed off"));
    assert!(edit.body.contains("value=\"2025-04-09\""));
    let amend = [
        ("procedure_id", procedure.as_str()),
        ("visit_date", "2025-04-10"),
        ("contact", "in_person"),
        ("limb_status", "major_amputation"),
        ("expected_version", "2"),
        ("acknowledge_warnings", "yes"),
    ];
    let no_reason = post(
        store,
        &format!("{base}/records/{visit_id}/edit"),
        Some(&who),
        csrf,
        &amend,
    )
    .await;
    assert_eq!(no_reason.status, 422);
    assert!(no_reason.body.contains("give a reason for the change"));
    assert!(no_reason.body.contains("value=\"2025-04-10\""));
    let mut with_reason = amend.to_vec();
    with_reason.push(("reason", "visit date transcribed wrongly"));
    let amended = post(
        store,
        &format!("{base}/records/{visit_id}/edit"),
        Some(&who),
        csrf,
        &with_reason,
    )
    .await;
    assert_eq!(amended.status, 303, "{}", amended.body);
    let page = get(store, &base, Some(&who)).await;
    assert!(page.body.contains("visit date transcribed wrongly"));

    // Voiding needs a reason.
    let no_reason = post(
        store,
        &format!("{base}/records/{visit_id}/void"),
        Some(&who),
        csrf,
        &[("void_reason", " ")],
    )
    .await;
    assert_eq!(no_reason.status, 422);
    let voided = post(
        store,
        &format!("{base}/records/{visit_id}/void"),
        Some(&who),
        csrf,
        &[("void_reason", "entered for the wrong patient")],
    )
    .await;
    assert_eq!(voided.status, 303);
    let file = store.patient_file(patient).await.unwrap();
    assert!(
        !file
            .records
            .iter()
            .any(|(_, r)| matches!(r, ClinicalRecord::FollowUpVisit(_)))
    );

    // The worklist lists the patient (their visits are due or overdue now).
    let worklist = get(store, "/worklist?site=NGH", Some(&who)).await;
    assert_eq!(worklist.status, 200);
    assert!(
        worklist.body.contains(&format!("/patients/{patient}")),
        "{}",
        worklist.body
    );
    // The end of lifelong follow-up is recorded on the patient's details,
    // its reason required by the rules and the form kept on refusal; the
    // patient then leaves the worklist.
    let edit = get(store, &format!("{base}/edit"), Some(&who)).await;
    assert!(edit.body.contains("value=\"Featherstonehaugh\""));
    let details = |reason: &'static str| {
        vec![
            ("nhs_number", "9990000034"),
            ("family_name", "Featherstonehaugh"),
            ("given_name", "Imelda"),
            ("date_of_birth", "1948-02-29"),
            ("sex", "female"),
            ("follow_up_ended_on", "2026-01-05"),
            ("follow_up_end_reason", reason),
            ("expected_version", "1"),
            ("reason", "moved to Scotland"),
        ]
    };
    let refused = post(
        store,
        &format!("{base}/edit"),
        Some(&who),
        csrf,
        &details(""),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("value=\"2026-01-05\""));
    let saved = post(
        store,
        &format!("{base}/edit"),
        Some(&who),
        csrf,
        &details("moved_away"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = get(store, &base, Some(&who)).await;
    assert!(
        page.body.contains("2026-01-05 (Moved away)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("moved to Scotland"));
    let worklist = get(store, "/worklist?site=NGH", Some(&who)).await;
    assert!(!worklist.body.contains(&format!("/patients/{patient}")));

    assert!(
        store
            .verify_audit(&pdva_store::NoProgress)
            .await
            .unwrap()
            .is_intact()
    );
}

/// With the licensed wording installed, the quality-of-life form shows each
/// question and its answers as the patient reads them, scored as the
/// instrument scores them; without it, it asks for the scores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_of_life_form_shows_the_licensed_wording_when_installed() {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let path = format!("/patients/{}/records/new/quality-of-life", world.a.id);

    let without = get(store, &path, Some(&who)).await;
    assert_eq!(without.status, 200);
    assert!(
        without.body.contains("VascuQoL-6 item 1 score"),
        "{}",
        without.body
    );
    assert!(
        without
            .body
            .contains("Enter the score of each answer the patient gave")
    );

    let wording: pdva_web::InstrumentWording = toml::from_str(
        r#"
        [vascuqol_1]
        question = "Synthetic question one (test wording)"
        answers = ["worst answer", "second", "third", "best answer"]
        [eq_vas]
        question = "Synthetic health scale (test wording)"
        "#,
    )
    .unwrap();
    let settings = pdva_web::Settings {
        instrument_wording: Some(std::sync::Arc::new(wording.check().unwrap())),
        ..Default::default()
    };
    let response = pdva_web::router_with(store.clone(), settings)
        .oneshot(
            Request::get(&path)
                .header("host", HOST)
                .header("cookie", &who.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        body.contains("<label for=\"vascuqol_1\">Synthetic question one (test wording)</label>"),
        "{body}"
    );
    assert!(body.contains("<select id=\"vascuqol_1\" name=\"vascuqol_1\""));
    assert!(body.contains("<option value=\"1\">worst answer (scores 1)</option>"));
    assert!(body.contains("<option value=\"4\">best answer (scores 4)</option>"));
    assert!(body.contains("Recorded as: VascuQoL-6 item 1 score."));
    // The EQ VAS keeps its number box, with the question as its label.
    assert!(body.contains("<label for=\"eq_vas\">Synthetic health scale (test wording)</label>"));
    assert!(body.contains("<input id=\"eq_vas\" name=\"eq_vas\""));
    // Items without wording keep their score boxes.
    assert!(body.contains("VascuQoL-6 item 2 score"));
}
