//! The follow-up worklist and the compliance view on a synthetic registry,
//! in process: visits to arrange are shown a page at a time, overdue first,
//! and can be narrowed to one primary operator; the compliance view lists
//! the records behind a finding (the first hundred, and how many more).

mod common;

use common::*;
use pdva_store::{Role, SiteAccess};

/// The data rows of the visits-to-arrange table.
fn rows(body: &str) -> Vec<&str> {
    let table = body
        .split("<h2>Visits to arrange")
        .nth(1)
        .expect("the visits table");
    table
        .split("<tr>")
        .skip(2) // the text before the table and the header row
        .collect()
}

fn showing(body: &str) -> &str {
    let start = body.find("Showing ").expect("a 'Showing' line");
    &body[start..start + body[start..].find('.').unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worklist_pages_its_visits_and_narrows_to_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = synthetic_registry(&dir, 1200).await;
    let admin = user(&store, "admin", Role::Admin, SiteAccess::All).await;
    let who = session(&store, &admin).await;

    let first = get(&store, "/worklist", Some(&who)).await;
    assert_eq!(first.status, 200);
    let total: usize = showing(&first.body)
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        total > 100,
        "1,200 patients should have more than 100 visits to arrange: {total}"
    );
    assert_eq!(showing(&first.body), format!("Showing 1–100 of {total}"));
    // The page reads outcome facts, not files: it lists exactly the visits
    // the schedule gives for the patient files, each with the patient's name.
    let today = chrono::Local::now().date_naive();
    let mut expected = 0;
    let mut names = std::collections::HashSet::new();
    for file in store.load_patient_files(None).await.unwrap() {
        let death = file.death().map(|(_, d)| d.date);
        for (procedure_id, procedure) in file.procedures() {
            let visits: Vec<chrono::NaiveDate> = file
                .records
                .iter()
                .filter_map(|(_, r)| match r {
                    pdva_domain::ClinicalRecord::FollowUpVisit(v)
                        if v.procedure_id == procedure_id =>
                    {
                        Some(v.visit_date)
                    }
                    _ => None,
                })
                .collect();
            let ctx = pdva_domain::schedule::FollowUpContext {
                procedure_date: procedure.procedure_date,
                visit_dates: &visits,
                death_date: death,
                follow_up_ended_on: file.patient.follow_up_ended_on,
            };
            let items = pdva_domain::schedule::worklist(&ctx, today).len();
            expected += items;
            if items > 0 {
                let p = &file.patient;
                names.insert(match (&p.family_name, &p.given_name) {
                    (Some(f), Some(g)) => format!("{}, {g}", f.to_uppercase()),
                    (Some(f), None) => f.to_uppercase(),
                    (None, Some(g)) => g.clone(),
                    (None, None) => String::new(),
                });
            }
        }
    }
    assert_eq!(total, expected);
    let named = names.iter().filter(|n| !n.is_empty()).count();
    assert!(named > 0, "the synthetic patients have names");
    let mut shown = 0;
    for row in rows(&first.body) {
        let name = names
            .iter()
            .find(|n| row.contains(&format!("<td data-label=\"Name\">{n}</td>")))
            .unwrap_or_else(|| panic!("no patient's name in {row}"));
        shown += usize::from(!name.is_empty());
    }
    assert!(shown > 0, "no name on the first page");
    assert_eq!(rows(&first.body).len(), 100);
    assert!(rows(&first.body)[0].starts_with("<td data-label=\"State\">Overdue</td>"));
    assert!(first.body.contains(">Next page</a>"));
    assert!(!first.body.contains(">Previous page</a>"));

    let second = get(&store, "/worklist?site=&operator=&page=2", Some(&who)).await;
    assert!(
        showing(&second.body).starts_with("Showing 101–"),
        "{}",
        showing(&second.body)
    );
    assert!(second.body.contains(">Previous page</a>"));
    // No row is on both pages.
    for row in rows(&second.body) {
        assert!(!rows(&first.body).contains(&row));
    }
    // A page past the end shows the last page.
    let last = get(&store, "/worklist?page=9999", Some(&who)).await;
    assert!(!last.body.contains(">Next page</a>"));
    assert!(showing(&last.body).ends_with(&format!("of {total}")));

    // One operator: fewer visits, each of theirs.
    let operator = first
        .body
        .split("<select id=\"operator\" name=\"operator\">")
        .nth(1)
        .unwrap()
        .split("<option value=\"")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let query = serde_urlencoded::to_string([("operator", operator.as_str())]).unwrap();
    let narrowed = get(&store, &format!("/worklist?{query}"), Some(&who)).await;
    assert_eq!(narrowed.status, 200);
    let theirs: usize = showing(&narrowed.body)
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(theirs > 0 && theirs < total, "{theirs} of {total}");
    for row in rows(&narrowed.body) {
        assert!(
            row.contains(&format!(
                "<td data-label=\"Primary operator\">{operator}</td>"
            )),
            "{row}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliance_view_lists_the_records_behind_each_count() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = synthetic_registry(&dir, 1200).await;
    let admin = user(&store, "admin", Role::Admin, SiteAccess::All).await;
    let who = session(&store, &admin).await;
    for (_, site) in store.sites().await.unwrap() {
        let page = get(
            &store,
            &format!("/sites/{}/compliance", site.site_code),
            Some(&who),
        )
        .await;
        assert_eq!(page.status, 200);
        // The finding's count, from its row of the table.
        let row = page
            .body
            .split("<tr>")
            .find(|r| r.contains("href=\"#overdue_follow_up\""))
            .expect("the overdue follow-up row");
        let found: usize = row
            .split("<td class=\"n\">")
            .nth(1)
            .and_then(|c| c.split("</td>").next())
            .expect("a count")
            .parse()
            .unwrap();
        let listed = page
            .body
            .split("<section class=\"keep\" id=\"overdue_follow_up\">")
            .nth(1)
            .map(|list| {
                list.split("</section>")
                    .next()
                    .unwrap()
                    .split("<tbody>")
                    .nth(1)
                    .map_or(0, |rows| rows.matches("<tr>").count())
            })
            .unwrap_or(0);
        assert_eq!(listed, found.min(100), "{}", site.site_code);
        if found > 100 {
            assert!(
                page.body
                    .contains(&format!("And {} more, in the CSV", found - 100)),
                "{}",
                site.site_code
            );
        }
    }
    // (No site of this registry has more than 100; the cut itself is
    // unit-tested in compliance.rs.)
}
