//! The web application as clinicians and governance leads meet it every
//! day (issue 17): a refused form shows every error at once in clinical
//! words; the quality-of-life form's note on licensed wording is said once
//! and to administrators only; search finds a patient by part of a name or
//! by hospital number, within the user's sites; the worklist and the
//! patient page name the limb; the compliance view gives each finding as a
//! count and a percentage, its lists oldest first and as CSV.

mod common;

use common::*;
use pdva_domain::codes::Limb;
use pdva_store::{Actor, Change, Role};

fn pairs<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_shows_its_format_and_rule_errors_together_in_clinical_words() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let base = format!("/patients/{}", world.a.id);

    // An assessment after the procedure (a rule) and an ABI that is not a
    // number (a format error), in one submission: both are named at once.
    let baseline = [
        ("index_limb", "right".to_owned()),
        ("assessment_date", "2025-02-01".to_owned()),
        ("rutherford_category", "5".to_owned()),
        ("wifi_wound", "2".to_owned()),
        ("wifi_ischaemia", "3".to_owned()),
        ("wifi_foot_infection", "1".to_owned()),
        ("abi", "abc".to_owned()),
        ("diabetes", "type_2".to_owned()),
        ("dialysis_dependent", "no".to_owned()),
        ("no_option_reasons", "no_bypass_target".to_owned()),
        ("pedal_venous_anatomy_confirmed", "yes".to_owned()),
    ];
    let refused = post(
        store,
        &format!("{base}/records/new/baseline"),
        Some(&who),
        Some(&who.csrf),
        &pairs(&baseline),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("must be a number"),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("is after the procedure on 2025-01-15; the baseline must be on or before it"),
        "the rule was not checked beside the format error: {}",
        refused.body
    );

    // A rule about a code list names the answers by their labels.
    let consent = [
        ("consent_date", "2025-01-02".to_owned()),
        ("taken_by", world.clinician_a.to_string()),
        ("uncertainties_explained", "yes".to_owned()),
        ("information_given", "none".to_owned()),
        ("information_given", "local_leaflet".to_owned()),
        ("shared_decision_making_documented", "yes".to_owned()),
        ("lacks_capacity", "no".to_owned()),
        ("registry_data_consent", "yes".to_owned()),
        ("research_consent", "yes".to_owned()),
    ];
    let refused = post(
        store,
        &format!("{base}/records/new/consent"),
        Some(&who),
        Some(&who.csrf),
        &pairs(&consent),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("None, Local leaflet"),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains("none, local_leaflet"),
        "a code reached the clinician: {}",
        refused.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_note_on_licensed_wording_is_said_once_and_to_administrators_only() {
    let world = world().await;
    let store = &world.store;
    let path = format!("/patients/{}/records/new/quality-of-life", world.a.id);
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let form = get(store, &path, Some(&session(store, &clinician).await)).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(
        form.body
            .matches("Enter the score of each answer the patient gave")
            .count(),
        1
    );
    assert!(
        !form.body.contains("--instrument-wording"),
        "the command-line note reached a clinician: {}",
        form.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_a_patient_by_part_of_a_name_or_a_hospital_number_within_the_users_sites() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;

    // Part of the family name, in another case: listed with the hospital
    // number.
    let found = get(store, "/patients?q=ZWIEBEL", Some(&who)).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(found.body.contains("1 patient matches"), "{}", found.body);
    assert!(found.body.contains(&world.a.id.to_string()));
    let hospital_number = format!("HN{}", &world.a.nhs[5..]);
    assert!(found.body.contains(&hospital_number), "{}", found.body);

    // Parts of the given and family names together.
    let found = get(store, "/patients?q=otti%20zwie", Some(&who)).await;
    assert!(found.body.contains("1 patient matches"), "{}", found.body);

    // The hospital number, with a space and in lower case.
    let spaced = format!("hn {}", &world.a.nhs[5..]);
    let found = get(
        store,
        &format!("/patients?q={}", spaced.replace(' ', "%20")),
        Some(&who),
    )
    .await;
    assert!(found.body.contains("1 patient matches"), "{}", found.body);
    assert!(found.body.contains(&world.a.id.to_string()));

    // The other site's patient is not found by name or hospital number.
    let other = get(store, "/patients?q=Quasten", Some(&who)).await;
    assert_eq!(other.status, 200);
    assert!(!other.body.contains(&world.b.id.to_string()));
    assert!(
        other.body.contains("No patient of your sites"),
        "{}",
        other.body
    );
    let other_number = format!("HN{}", &world.b.nhs[5..]);
    let other = get(store, &format!("/patients?q={other_number}"), Some(&who)).await;
    assert!(!other.body.contains(&world.b.id.to_string()));

    // A registry id still goes straight to the patient.
    let registry_id = store
        .patient_file(world.a.id)
        .await
        .unwrap()
        .patient
        .registry_id
        .to_string();
    let straight = get(store, &format!("/patients?q={registry_id}"), Some(&who)).await;
    assert_eq!(straight.status, 303);
    assert_eq!(straight.location, format!("/patients/{}", world.a.id));

    // One letter is too little to search by.
    let short = get(store, "/patients?q=z", Some(&who)).await;
    assert!(
        short.body.contains("at least two letters"),
        "{}",
        short.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_page_names_the_limb_of_every_row_and_reads_limb_by_limb() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let actor = Actor::new("test.setup");
    // A visit of the right limb's procedure.
    store
        .save_clinical(
            &actor,
            world.a.id,
            Change::create(in_person_visit(world.a.procedure, "2025-02-14")),
            d("2026-06-30"),
        )
        .await
        .unwrap();
    let page = get(store, &format!("/patients/{}", world.a.id), Some(&who)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let rows: Vec<&str> = page
        .body
        .split("<tr id=\"record-")
        .skip(1)
        .map(|r| r.split("</tr>").next().unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "consent, procedure, visit");
    for row in &rows {
        let limb = if row.contains(">Consent<") {
            "Patient"
        } else {
            Limb::Right.label()
        };
        assert!(
            row.contains(&format!("<td data-label=\"Limb\">{limb}</td>")),
            "a row does not name its limb: {row}"
        );
    }

    // Read by limb: the left limb has none of the right limb's records.
    let left = get(
        store,
        &format!("/patients/{}?limb=left", world.a.id),
        Some(&who),
    )
    .await;
    assert_eq!(left.status, 200);
    assert_eq!(
        left.body.matches("<tr id=\"record-").count(),
        1,
        "consent only"
    );
    let wrong = get(
        store,
        &format!("/patients/{}?limb=middle", world.a.id),
        Some(&who),
    )
    .await;
    assert_eq!(wrong.status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worklist_shows_hospital_number_limb_and_last_seen() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let page = get(store, "/worklist?site=NGH", Some(&who)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let hospital_number = format!("HN{}", &world.a.nhs[5..]);
    assert!(
        page.body.contains(&format!(
            "<td data-label=\"Hospital number\">{hospital_number}</td>"
        )),
        "{}",
        page.body
    );
    assert!(page.body.contains("<td data-label=\"Limb\">Right</td>"));
    assert!(
        page.body
            .contains("<td data-label=\"Last seen\">no visit yet</td>")
    );
}

/// The worklist of one server is kept between views; a change to the
/// registry shows on the next view of the same server, which then agrees
/// with a server that has kept nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_worklist_shows_a_visit_recorded_since() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let server = pdva_web::router(store.clone());
    let view = |router: axum::Router| {
        let cookie = who.cookie.clone();
        async move {
            let response = router
                .oneshot(
                    axum::http::Request::get("/worklist?site=NGH")
                        .header("host", HOST)
                        .header("cookie", cookie)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    let before = view(server.clone()).await;
    assert!(before.contains("<td data-label=\"Last seen\">no visit yet</td>"));
    assert_eq!(
        view(server.clone()).await,
        before,
        "a second view is the same"
    );

    store
        .save_clinical(
            &Actor::new("test.setup"),
            world.a.id,
            Change::create(in_person_visit(world.a.procedure, "2025-02-14")),
            d("2026-06-30"),
        )
        .await
        .unwrap();
    let after = view(server.clone()).await;
    assert!(
        after.contains("<td data-label=\"Last seen\">2025-02-14</td>"),
        "the kept worklist did not follow the visit: {after}"
    );
    assert!(!after.contains("<td data-label=\"Last seen\">no visit yet</td>"));
    assert_eq!(after, view(pdva_web::router(store.clone())).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_gives_counts_with_percentages_and_each_list_as_csv_oldest_first() {
    let world = world().await;
    let store = &world.store;
    let lead = user(store, "lead.ngh", Role::GovernanceLead, ngh()).await;
    let who = session(store, &lead).await;
    let page = get(store, "/sites/NGH/compliance", Some(&who)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // The seeded procedure has no 30-day visit: 1 of 1 index procedures.
    let overdue_30 = page
        .body
        .split("<tr>")
        .find(|r| r.contains("#no_30_day_visit"))
        .expect("the 30-day visit check");
    assert!(
        overdue_30.contains("<td class=\"n\">1</td><td>1 index procedures")
            && overdue_30.contains("100.0%"),
        "{overdue_30}"
    );
    assert!(page.body.contains("compliance.csv?list=no_30_day_visit"));

    let csv = get(
        store,
        "/sites/NGH/compliance.csv?list=no_30_day_visit&from=&to=",
        Some(&who),
    )
    .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    let mut lines = csv.body.lines();
    assert_eq!(lines.next(), Some("date,registry_id,record_id,finding"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{}", csv.body);
    assert!(rows[0].contains(&world.a.procedure.to_string()) || rows[0].contains("P-NGH"));
    let dates: Vec<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "oldest first");

    // A list that is not a finding is refused naming the choices.
    let wrong = get(
        store,
        "/sites/NGH/compliance.csv?list=everything",
        Some(&who),
    )
    .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("no_consent"), "{}", wrong.body);
    // Another site's list is not the lead's.
    let other = get(
        store,
        "/sites/OTH/compliance.csv?list=no_consent",
        Some(&who),
    )
    .await;
    assert!(!other.allowed());
}
