//! Edits refused rather than guessed at (issue 17, hardening): a form
//! field sent twice, and an edit made from a version other than the stored
//! one, or from none, which two sessions editing one record would otherwise
//! turn into a silently lost change.

mod common;

use common::*;
use pdva_store::Role;

#[tokio::test]
async fn a_repeated_form_field_is_refused_naming_it() {
    let w = world().await;
    let clin = user(&w.store, "clin", Role::Clinician, ngh()).await;
    let who = session(&w.store, &clin).await;
    let answer = post(
        &w.store,
        &format!("/patients/{}/edit", w.a.id),
        Some(&who),
        Some(&who.csrf),
        &[
            ("family_name", "Zwiebelmann"),
            ("family_name", "Other"),
            ("expected_version", "1"),
        ],
    )
    .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(answer.body.contains("family_name"), "{}", answer.body);
    assert!(answer.body.contains("more than once"), "{}", answer.body);
    let unchanged = w.store.patient_file(w.a.id).await.unwrap().patient;
    assert_eq!(unchanged.family_name.as_deref(), Some(w.a.family_name));
}

fn patient_details<'a>(family_name: &'a str, version: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("nhs_number", "9990000018"),
        ("family_name", family_name),
        ("given_name", "Ottilie"),
        ("date_of_birth", "1951-04-17"),
        ("sex", "female"),
        ("expected_version", version),
        ("reason", "name corrected"),
        ("acknowledge_warnings", "yes"),
    ]
}

/// Two sessions open the same patient at the same version; the first save
/// wins and the second is refused with 409, showing the patient as the first
/// left them. A missing or garbled version is refused the same way.
#[tokio::test]
async fn a_second_edit_of_a_patient_from_the_same_version_is_409_on_sqlite() {
    second_edit_of_a_patient(world().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_edit_of_a_patient_from_the_same_version_is_409_on_postgres() {
    if let Some(w) = world_postgres().await {
        second_edit_of_a_patient(w).await;
    }
}

async fn second_edit_of_a_patient(w: World) {
    let one = user(&w.store, "clin.one", Role::Clinician, ngh()).await;
    let two = user(&w.store, "clin.two", Role::Clinician, ngh()).await;
    let (one, two) = (session(&w.store, &one).await, session(&w.store, &two).await);
    let path = format!("/patients/{}/edit", w.a.id);
    let version = w.store.get(w.a.id).await.unwrap().meta.version.to_string();
    for who in [&one, &two] {
        let form = get(&w.store, &path, Some(who)).await;
        assert!(
            form.body
                .contains(&format!("name=\"expected_version\" value=\"{version}\"")),
            "{}",
            form.body
        );
    }
    let first = post(
        &w.store,
        &path,
        Some(&one),
        Some(&one.csrf),
        &patient_details("Firstsaved", &version),
    )
    .await;
    assert_eq!(first.status, 303, "{}", first.body);
    let second = post(
        &w.store,
        &path,
        Some(&two),
        Some(&two.csrf),
        &patient_details("Secondsaved", &version),
    )
    .await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(
        second.body.contains("changed by someone else"),
        "{}",
        second.body
    );
    assert!(
        second.body.contains("value=\"Firstsaved\""),
        "{}",
        second.body
    );
    assert!(!second.body.contains("Secondsaved"), "{}", second.body);
    for garbled in ["", "two", "0"] {
        let answer = post(
            &w.store,
            &path,
            Some(&two),
            Some(&two.csrf),
            &patient_details("Thirdsaved", garbled),
        )
        .await;
        assert_eq!(answer.status, 409, "{garbled:?}: {}", answer.body);
    }
    let mut no_version = patient_details("Thirdsaved", "");
    no_version.retain(|(k, _)| *k != "expected_version");
    let answer = post(&w.store, &path, Some(&two), Some(&two.csrf), &no_version).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    let kept = w.store.patient_file(w.a.id).await.unwrap().patient;
    assert_eq!(kept.family_name.as_deref(), Some("Firstsaved"));
}

/// The same for a clinical record and for a site.
#[tokio::test]
async fn a_second_edit_of_a_record_or_site_from_the_same_version_is_409_on_sqlite() {
    second_edit_of_a_record_or_site(world().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_edit_of_a_record_or_site_from_the_same_version_is_409_on_postgres() {
    if let Some(w) = world_postgres().await {
        second_edit_of_a_record_or_site(w).await;
    }
}

async fn second_edit_of_a_record_or_site(w: World) {
    let one = user(&w.store, "clin.one", Role::Clinician, ngh()).await;
    let two = user(&w.store, "clin.two", Role::Clinician, ngh()).await;
    let (one, two) = (session(&w.store, &one).await, session(&w.store, &two).await);
    let base = format!("/patients/{}", w.a.id);
    let procedure = w.a.procedure.to_string();
    let visit = |date: &'static str, version: &'static str| {
        vec![
            ("procedure_id", procedure.clone()),
            ("visit_date", date.to_owned()),
            ("contact", "in_person".to_owned()),
            ("limb_status", "intact".to_owned()),
            ("expected_version", version.to_owned()),
            ("acknowledge_warnings", "yes".to_owned()),
        ]
    };
    let created = {
        let v = visit("2025-04-09", "");
        let v: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post(
            &w.store,
            &format!("{base}/records/new/follow-up-visit"),
            Some(&one),
            Some(&one.csrf),
            &v,
        )
        .await
    };
    assert_eq!(created.status, 303, "{}", created.body);
    let visit_id = created
        .location
        .rsplit("record-")
        .next()
        .unwrap()
        .to_owned();
    let edit = format!("{base}/records/{visit_id}/edit");
    for (who, date, status) in [(&one, "2025-04-10", 303), (&two, "2025-04-11", 409)] {
        let v = visit(date, "1");
        let v: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = post(&w.store, &edit, Some(who), Some(&who.csrf), &v).await;
        assert_eq!(answer.status, status, "{date}: {}", answer.body);
        if status == 409 {
            assert!(
                answer.body.contains("value=\"2025-04-10\""),
                "{}",
                answer.body
            );
            assert!(
                answer
                    .body
                    .contains("name=\"expected_version\" value=\"2\""),
                "{}",
                answer.body
            );
        }
    }

    let admin_one = user(
        &w.store,
        "admin.one",
        Role::Admin,
        pdva_store::SiteAccess::All,
    )
    .await;
    let admin_two = user(
        &w.store,
        "admin.two",
        Role::Admin,
        pdva_store::SiteAccess::All,
    )
    .await;
    let (admin_one, admin_two) = (
        session(&w.store, &admin_one).await,
        session(&w.store, &admin_two).await,
    );
    let site = |cases: &'static str| {
        vec![
            ("name", "NGH General Hospital"),
            ("country", "GB"),
            ("governance_lead_name", "Dr Governance"),
            ("governance_lead_informed_on", "2023-11-01"),
            ("min_proctored_cases", cases),
            ("expected_version", "1"),
            ("reason", "governance decision"),
        ]
    };
    let first = post(
        &w.store,
        "/admin/sites/NGH/edit",
        Some(&admin_one),
        Some(&admin_one.csrf),
        &site("6"),
    )
    .await;
    assert_eq!(first.status, 303, "{}", first.body);
    let second = post(
        &w.store,
        "/admin/sites/NGH/edit",
        Some(&admin_two),
        Some(&admin_two.csrf),
        &site("7"),
    )
    .await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(second.body.contains("value=\"6\""), "{}", second.body);
}
