//! Issue 17 item 5: the whole outcomes report on the dashboard, with the
//! API's filters (period, operator, device system) under the API's
//! authorisation, an "All my sites" view, and trends by year. Every count
//! the page shows is compared with what `/api/v1/outcomes` gives for the
//! same filter, never with numbers typed in here.

mod common;

use axum::http::StatusCode;
use pdva_domain::values::SiteCode;
use pdva_store::{Role, SiteAccess, Store};
use serde_json::Value;

/// The section headings the committee's dashboard must show, each with at
/// least one table (and, where said, a chart).
const SECTIONS: [(&str, bool); 15] = [
    ("Summary", false),
    ("Cases", false),
    ("Technical success", false),
    ("30-day outcomes and adverse events", false),
    ("Amputation-free survival, survival and limb salvage", true),
    ("Major amputation and wound healing (competing risks)", true),
    ("Reinterventions", false),
    ("Quality of life", false),
    ("Duration of anticoagulation", false),
    ("Follow-up completeness", false),
    ("Outcomes compared by patient group and technique", false),
    ("Learning curves of the operators (CUSUM)", false),
    (
        "Funnel plots: operators and sites against the registry",
        true,
    ),
    ("Published benchmarks", false),
    ("Trends by year of procedure", true),
];

/// The HTML of the section whose `<h2>` reads `title`: from its heading to
/// the next `<h2`.
fn section<'a>(page: &'a str, title: &str) -> &'a str {
    let start = page
        .find(&format!(">{title}</h2>"))
        .unwrap_or_else(|| panic!("no section {title:?}"));
    let rest = &page[start..];
    let end = rest[5..].find("<h2").map_or(rest.len(), |e| e + 5);
    &rest[..end]
}

/// The summary's value of the row headed `label`.
fn summary_value(page: &str, label: &str) -> String {
    let head = format!("<th scope=\"row\">{label}</th><td>");
    let start = page
        .find(&head)
        .unwrap_or_else(|| panic!("no summary row {label:?}"))
        + head.len();
    page[start..][..page[start..].find("</td>").unwrap()].to_owned()
}

async fn page(store: &Store, query: &str, who: &common::Signed) -> common::Answer {
    common::get(store, &format!("/dashboard{query}"), Some(who)).await
}

async fn api(store: &Store, query: &str, who: &common::Signed) -> Value {
    let answer = common::get(store, &format!("/api/v1/outcomes?{query}"), Some(who)).await;
    assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

/// The page's count of index procedures equals the API's for the query.
async fn same_count(store: &Store, query: &str, who: &common::Signed) -> u64 {
    let shown = page(store, &format!("?{query}"), who).await;
    assert_eq!(shown.status, StatusCode::OK, "{query}: {}", shown.body);
    let doc = api(store, query, who).await;
    let want = doc["cohort"]["index_procedures"].as_u64().unwrap();
    assert_eq!(
        summary_value(&shown.body, "Index procedures"),
        want.to_string(),
        "{query}"
    );
    assert_eq!(
        summary_value(&shown.body, "Patients"),
        doc["cohort"]["patients"].as_u64().unwrap().to_string(),
        "{query}"
    );
    want
}

#[tokio::test]
async fn the_dashboard_shows_every_section_and_its_filters_agree_with_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::synthetic_registry(&dir, 300).await;
    let reference = store.reference_data().await.unwrap();
    let admin = common::user(&store, "dash.admin", Role::Admin, SiteAccess::All).await;
    let admin = common::session(&store, &admin).await;

    // Every section, each with its table, charts where drawn, each kept
    // whole on paper; the print stamp carries the data version.
    let whole = page(&store, "", &admin).await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.body);
    for (title, chart) in SECTIONS {
        let s = section(&whole.body, title);
        assert!(s.contains("<table"), "{title} has no table");
        if chart {
            assert!(s.contains("<svg"), "{title} has no chart");
        }
    }
    assert!(whole.body.matches("class=\"keep\"").count() >= SECTIONS.len());
    let registry = api(&store, "", &admin).await;
    let version = registry["data_version"].as_str().unwrap();
    let stamp = &whole.body[whole.body.find("print-stamp").unwrap()..];
    assert!(
        stamp[..stamp.find("</p>").unwrap()].contains(version),
        "the print stamp lacks the data version"
    );
    // The comparisons the engine computes are all there, by their labels.
    let comparisons = section(
        &whole.body,
        "Outcomes compared by patient group and technique",
    );
    for variable in [
        "dialysis_dependent",
        "diabetes",
        "wifi_clinical_stage",
        "device_system",
        "crossover_level",
    ] {
        let c = registry["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["variable"] == variable)
            .unwrap_or_else(|| panic!("the engine has no {variable} comparison"));
        let caption = format!("By {}", c["label"].as_str().unwrap().to_lowercase());
        assert!(comparisons.contains(&caption), "no {caption:?}");
    }

    // A site's lead: bare /dashboard is their site, as the API gives it.
    let site = registry["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["variable"] == "site")
        .map(|c| c["strata"][0]["value"].as_str().unwrap().to_owned())
        .expect("a site stratum");
    let code = SiteCode::parse(&site).unwrap();
    let lead = common::user(
        &store,
        "dash.lead",
        Role::GovernanceLead,
        SiteAccess::Sites(vec![code.clone()]),
    )
    .await;
    let lead = common::session(&store, &lead).await;
    let bare = page(&store, "", &lead).await;
    assert_eq!(bare.status, StatusCode::OK, "{}", bare.body);
    assert!(
        bare.body
            .contains(&format!("<h1>Outcomes: site {site}</h1>"))
    );
    let all_of_site = same_count(&store, &format!("site={site}"), &lead).await;
    assert_eq!(
        summary_value(&bare.body, "Index procedures"),
        all_of_site.to_string()
    );

    // A period: the counts are the engine's for that period, and fewer.
    let year = same_count(
        &store,
        &format!("site={site}&from=2024-01-01&to=2024-12-31"),
        &lead,
    )
    .await;
    assert!(year > 0 && year < all_of_site, "{year} of {all_of_site}");
    let period = page(
        &store,
        &format!("?site={site}&from=2024-01-01&to=2024-12-31"),
        &lead,
    )
    .await;
    let trends = section(&period.body, "Trends by year of procedure");
    assert!(trends.contains("<td>2024</td>") && !trends.contains("<td>2023</td>"));
    assert!(
        period
            .body
            .contains("index procedures 2024-01-01 to 2024-12-31")
    );

    // An operator of the site, and a device system of its procedures.
    let site_doc = api(&store, &format!("site={site}"), &lead).await;
    let strata = |doc: &Value, variable: &str| -> Vec<(String, u64)> {
        doc["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["variable"] == variable)
            .unwrap()["strata"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["value"].as_str().unwrap().to_owned(),
                    s["n"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let works_here = |id: &str| {
        reference
            .clinicians
            .get(&id.parse().unwrap())
            .is_some_and(|c| c.sites.contains(&code))
    };
    let (operator, operator_n) = strata(&site_doc, "operator")
        .into_iter()
        .find(|(id, n)| works_here(id) && *n < all_of_site)
        .expect("an operator of the site");
    let n = same_count(&store, &format!("site={site}&operator={operator}"), &lead).await;
    assert_eq!(n, operator_n);
    let (device, device_n) = strata(&site_doc, "device_system")
        .into_iter()
        .find(|(_, n)| *n < all_of_site)
        .expect("a device system of some of the site's procedures");
    let device_query = format!(
        "site={site}&device={}",
        serde_urlencoded::to_string([("d", &device)]).unwrap()[2..].to_owned()
    );
    let n = same_count(&store, &device_query, &lead).await;
    assert_eq!(n, device_n);
    // Both at once, and a period too.
    same_count(
        &store,
        &format!("{device_query}&operator={operator}&from=2023-01-01"),
        &lead,
    )
    .await;

    // Refused: another site (not found, as everywhere), an operator who
    // works at none of the lead's sites, a device system not recorded,
    // dates that are not dates or run backwards.
    let other = reference
        .sites
        .keys()
        .find(|c| **c != code)
        .unwrap()
        .to_string();
    assert_eq!(
        page(&store, &format!("?site={other}"), &lead).await.status,
        StatusCode::NOT_FOUND
    );
    let stranger = reference
        .clinicians
        .iter()
        .find(|(_, c)| !c.sites.contains(&code))
        .map(|(id, _)| id.to_string())
        .unwrap();
    for query in [
        format!("?site={site}&operator={stranger}"),
        format!("?operator={stranger}"),
    ] {
        let refused = page(&store, &query, &lead).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(refused.body.contains("operator") && refused.body.contains(&stranger));
    }
    let refused = common::get(
        &store,
        &format!("/api/v1/outcomes?site={site}&operator={stranger}"),
        Some(&lead),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let refused = page(
        &store,
        &format!("?site={site}&device=No%20such%20stent"),
        &lead,
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("device") && refused.body.contains("No such stent"));
    for (query, field, value) in [
        ("from=2024-13-01", "from", "2024-13-01"),
        ("to=yesterday", "to", "yesterday"),
    ] {
        let refused = page(&store, &format!("?site={site}&{query}"), &lead).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            refused.body.contains(field)
                && refused.body.contains(value)
                && refused.body.contains("YYYY-MM-DD"),
            "{}",
            refused.body
        );
    }
    let backwards = page(
        &store,
        &format!("?site={site}&from=2025-01-01&to=2024-01-01"),
        &lead,
    )
    .await;
    assert_eq!(backwards.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A user of two sites: bare /dashboard is all of theirs together,
    // which is the sum of the API's two sites (a patient has one home).
    let second = reference
        .sites
        .keys()
        .find(|c| **c != code)
        .unwrap()
        .clone();
    let both = common::user(
        &store,
        "dash.two",
        Role::Clinician,
        SiteAccess::Sites(vec![code.clone(), second.clone()]),
    )
    .await;
    let both = common::session(&store, &both).await;
    let all_mine = page(&store, "", &both).await;
    assert_eq!(all_mine.status, StatusCode::OK, "{}", all_mine.body);
    assert!(
        all_mine.body.contains(&format!(
            "<h1>Outcomes: all my sites ({code}, {second})</h1>"
        )),
        "{}",
        &all_mine.body[..2000.min(all_mine.body.len())]
    );
    assert!(
        all_mine
            .body
            .contains("<option value=\"\" selected>All my sites</option>")
    );
    let mut sum = 0;
    for s in [&code, &second] {
        sum += api(&store, &format!("site={s}"), &both).await["cohort"]["index_procedures"]
            .as_u64()
            .unwrap();
    }
    assert_eq!(
        summary_value(&all_mine.body, "Index procedures"),
        sum.to_string()
    );
    // Both sites' completeness, each named.
    let completeness = section(&all_mine.body, "Follow-up completeness");
    assert!(completeness.contains(code.as_str()) && completeness.contains(second.as_str()));
    // Another site than theirs stays out of reach.
    let third = reference
        .sites
        .keys()
        .find(|c| **c != code && **c != second)
        .map(ToString::to_string);
    if let Some(third) = third {
        assert_eq!(
            page(&store, &format!("?site={third}"), &both).await.status,
            StatusCode::NOT_FOUND
        );
    }

    // Kept: the same filter again gives the same page, from the cache.
    let again = page(
        &store,
        &format!("?site={site}&from=2024-01-01&to=2024-12-31"),
        &lead,
    )
    .await;
    let body = |p: &str| p[p.find("<h2>Summary</h2>").unwrap()..].to_owned();
    assert_eq!(body(&again.body), body(&period.body));
}

/// Disclosure control as in the API: a researcher's filtered dashboard is
/// the research form, its dates snapped to quarters.
#[tokio::test]
async fn a_researchers_filtered_dashboard_is_the_research_form() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::synthetic_registry(&dir, 300).await;
    let researcher = common::user(&store, "dash.research", Role::Researcher, SiteAccess::All).await;
    let researcher = common::session(&store, &researcher).await;
    let query = "from=2023-02-10&to=2025-11-20";
    let shown = page(&store, &format!("?{query}"), &researcher).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(shown.body.contains("Research view"));
    let doc = api(&store, query, &researcher).await;
    assert_eq!(doc["disclosure"]["period_from"], "2023-01-01");
    let want = match &doc["cohort"]["index_procedures"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => panic!("{other}"),
    };
    assert_eq!(summary_value(&shown.body, "Index procedures"), want);
}
