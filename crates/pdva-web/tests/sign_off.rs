//! The sign-off queue as a clinician and a governance lead meet it: the
//! unsigned records of their own site only, signed off in one action from
//! the queue (which then empties) or from the patient's timeline; the
//! governance lead follows the queue but has no sign-off button; the
//! compliance view carries "Records unsigned after 30 days".

mod common;

use common::*;
use pdva_store::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_empties_as_a_clinician_signs_off_from_it() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;

    let queue = get(store, "/sign-off", Some(&who)).await;
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.contains("1 record(s) await sign-off"),
        "{}",
        queue.body
    );
    assert!(queue.body.contains("P-NGH-"), "own site's patient listed");
    assert!(!queue.body.contains("P-OTH-"), "never another site's");
    let action = format!(
        "/patients/{}/records/{}/sign-off",
        world.a.id, world.a.procedure
    );
    assert!(queue.body.contains(&action), "{}", queue.body);
    // The menu leads there.
    assert!(queue.body.contains("href=\"/sign-off\""));

    // Nothing entered by the clinician themself.
    let mine = get(store, "/sign-off?mine=1", Some(&who)).await;
    assert!(
        mine.body.contains("Nothing awaits sign-off"),
        "{}",
        mine.body
    );

    let signed = post(
        store,
        &action,
        Some(&who),
        Some(&who.csrf),
        &[("from", "queue")],
    )
    .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.location, "/sign-off");
    let after = get(store, "/sign-off", Some(&who)).await;
    assert!(
        after.body.contains("Nothing awaits sign-off"),
        "{}",
        after.body
    );
    let record = store.get(world.a.procedure).await.unwrap();
    assert_eq!(record.meta.signed_off_by.as_deref(), Some("clin.ngh"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_signs_off_in_one_action_and_a_lead_follows_the_queue() {
    let world = world().await;
    let store = &world.store;
    let clinician = user(store, "clin.ngh", Role::Clinician, ngh()).await;
    let who = session(store, &clinician).await;
    let action = format!(
        "/patients/{}/records/{}/sign-off",
        world.a.id, world.a.procedure
    );
    let page = get(store, &format!("/patients/{}", world.a.id), Some(&who)).await;
    assert!(
        page.body.contains(&format!("action=\"{action}\"")),
        "{}",
        page.body
    );

    let lead = user(store, "gov.ngh", Role::GovernanceLead, ngh()).await;
    let lead_session = session(store, &lead).await;
    let queue = get(store, "/sign-off", Some(&lead_session)).await;
    assert!(
        queue.body.contains("1 record(s) await sign-off"),
        "{}",
        queue.body
    );
    assert!(!queue.body.contains(&action), "a lead does not sign off");
    let compliance = get(store, "/sites/NGH/compliance", Some(&lead_session)).await;
    assert!(
        compliance.body.contains("Records unsigned after 30 days"),
        "{}",
        compliance.body
    );

    // Signed from the timeline, back to the record's row.
    let signed = post(store, &action, Some(&who), Some(&who.csrf), &[]).await;
    assert_eq!(signed.status, 303);
    assert_eq!(
        signed.location,
        format!("/patients/{}#record-{}", world.a.id, world.a.procedure)
    );
    let queue = get(store, "/sign-off", Some(&lead_session)).await;
    assert!(
        queue.body.contains("Nothing awaits sign-off"),
        "{}",
        queue.body
    );
}

/// "Unsigned after 30 days" counts what was entered on or before the day 30
/// days ago, whatever the hour, and nothing entered since: entry times set
/// in the file, since no user can backdate an entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_entered_more_than_30_days_ago_and_unsigned_are_a_compliance_finding() {
    use pdva_store::{Actor, Change};
    let world = world().await;
    let store = &world.store;
    let visit = store
        .save_clinical(
            &Actor::new("test.setup"),
            world.a.id,
            Change::create(in_person_visit(world.a.procedure, "2025-02-14")),
            d("2026-06-30"),
        )
        .await
        .unwrap();
    let lead = user(store, "gov.ngh", Role::GovernanceLead, ngh()).await;
    let who = session(store, &lead).await;
    let listed = |csv: &str| csv.lines().skip(1).count();
    let csv = "/sites/NGH/compliance.csv?list=unsigned_after_30_days";

    // Entered today: not yet a finding.
    let now = get(store, csv, Some(&who)).await;
    assert_eq!(now.status, 200, "{}", now.body);
    assert_eq!(listed(&now.body), 0, "{}", now.body);

    // The procedure entered late on the day 30 days ago, the visit early on
    // the day after it.
    let today = chrono::Local::now().date_naive();
    let url = world.sqlite_url().expect("a SQLite world");
    for (id, at) in [
        (
            world.a.procedure,
            format!("{}T23:59:59.999999Z", today - chrono::Duration::days(30)),
        ),
        (
            visit.id,
            format!("{}T00:00:00.000001Z", today - chrono::Duration::days(29)),
        ),
    ] {
        pdva_store::db::execute_on(
            &url,
            &format!("UPDATE record SET created_at = '{at}' WHERE id = '{id}'"),
        )
        .await
        .unwrap();
    }
    let later = get(store, csv, Some(&who)).await;
    assert_eq!(listed(&later.body), 1, "{}", later.body);
    assert!(
        later.body.contains(&world.a.procedure.to_string()),
        "{}",
        later.body
    );
    let page = get(store, "/sites/NGH/compliance", Some(&who)).await;
    assert!(
        page.body.contains("1 not signed off 30 days after entry"),
        "{}",
        page.body
    );

    // Signed off, it is no longer a finding.
    store
        .sign_off(&Actor::new("clin.ngh"), world.a.procedure)
        .await
        .unwrap();
    let signed = get(store, csv, Some(&who)).await;
    assert_eq!(listed(&signed.body), 0, "{}", signed.body);
}
