//! Issue 17: the funnel plots compare every site and operator with the
//! mean of the whole registry, with the same limits on a site's page as on
//! the registry's, and a user of one site sees the other sites and their
//! operators unnamed.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use pdva_domain::RecordId;
use pdva_domain::values::SiteCode;
use pdva_outcomes::{IndexLimb, ResolvedFilter};
use pdva_store::{Role, SiteAccess};
use serde_json::Value;

const AFS: &str = "amputation_free_survival_6_months";

/// DOMAIN.md 6.4 worked here, apart from `pdva-stats`: with F the
/// Binomial(n, θ) distribution function (summed from the probabilities,
/// each from the last by the ratio of successive terms, in log space so
/// that a large n does not underflow), r_p the smallest r with F(r) ≥ p and
/// α = (F(r_p) − p) / (F(r_p) − F(r_p − 1)), the limit is
/// max(0, r_p − α) / n (a limit is a proportion: pdva-stats documents the
/// same floor at 0).
fn independent_limit(n: u64, theta: f64, p: f64) -> f64 {
    let odds = (theta / (1.0 - theta)).ln();
    let mut ln_pmf = n as f64 * (1.0 - theta).ln();
    let mut below = 0.0;
    for r in 0..=n {
        if r > 0 {
            ln_pmf += ((n - r + 1) as f64 / r as f64).ln() + odds;
        }
        let at = below + ln_pmf.exp();
        if at >= p {
            return (r as f64 - (at - p) / (at - below)).max(0.0) / n as f64;
        }
        below = at;
    }
    1.0
}

/// 6-month amputation-free survival as the indicator's definition states
/// it, read off the limbs here: alive without major amputation at day 182
/// (`Some(true)`), an event by day 182 (`Some(false)`), otherwise not
/// eligible.
fn afs_6_months(l: &IndexLimb) -> Option<bool> {
    let (t, event) = l.amputation_free_survival();
    if event && t <= 182 {
        Some(false)
    } else if t >= 182 {
        Some(true)
    } else {
        None
    }
}

/// The AFS funnel of `unit_type` in a served report.
fn funnel<'a>(doc: &'a Value, unit_type: &str) -> &'a Value {
    doc["monitoring"]["funnels"]
        .as_array()
        .expect("funnels")
        .iter()
        .find(|f| f["indicator"] == AFS && f["unit_type"] == unit_type)
        .unwrap_or_else(|| panic!("no AFS funnel by {unit_type}"))
}

/// A unit's four limits as served.
fn limits(funnel: &Value, unit: &str) -> [f64; 4] {
    let u = funnel["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"] == unit)
        .unwrap_or_else(|| panic!("{unit} is not on the funnel"));
    ["lower_998", "lower_95", "upper_95", "upper_998"].map(|l| u[l].as_f64().unwrap())
}

/// The section of a dashboard that holds one funnel plot and its table.
fn funnel_section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("<h3 id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no {id} on the page"));
    let rest = &page[start..];
    let end = rest.find("</table>").expect("the funnel's table");
    &rest[..end]
}

/// The table row of the unit labelled `label` in a funnel's section.
fn row<'a>(section: &'a str, label: &str) -> &'a str {
    let start = section
        .find(&format!("<tr><td>{label}</td>"))
        .unwrap_or_else(|| panic!("no row for {label}"));
    let rest = &section[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// `/api/v1/outcomes?{query}` as `who` sees it.
async fn api(store: &pdva_store::Store, query: &str, who: &common::Signed) -> Value {
    let answer = common::get(store, &format!("/api/v1/outcomes?{query}"), Some(who)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

#[tokio::test]
async fn a_unit_has_the_registrys_mean_and_limits_on_every_page_and_others_are_unnamed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::synthetic_registry(&dir, 300).await;
    let as_of = common::synthetic_today();
    let reference = store.reference_data().await.unwrap();

    // The registry's mean over every eligible limb of every site, and each
    // unit's counts, from the limbs themselves.
    let files = store.load_patient_files(None).await.unwrap();
    let limbs = pdva_outcomes::cohort(&files, &ResolvedFilter::default(), as_of);
    let eligible: Vec<(&IndexLimb, bool)> = limbs
        .iter()
        .filter_map(|l| Some((l, afs_6_months(l)?)))
        .collect();
    let n = eligible.len() as u64;
    let theta = eligible.iter().filter(|(_, v)| *v).count() as f64 / n as f64;
    let site = eligible[0].0.site.to_string();
    // An operator of the site who is on its funnel, and one who works at
    // none of the site's hospitals.
    let works_at = |id: &RecordId, code: &str| {
        reference.clinicians[id]
            .sites
            .iter()
            .any(|s| s.as_str() == code)
    };
    // (One whose name HTML shows as it is, so that the page's row is found.)
    let plain = |id: &RecordId| {
        !reference.clinicians[id]
            .display_name
            .as_str()
            .contains(['\'', '&', '"', '<', '>'])
    };
    let operator = eligible
        .iter()
        .map(|(l, _)| l.operator)
        .find(|o| works_at(o, &site) && plain(o))
        .expect("an operator of the site");
    let stranger = eligible
        .iter()
        .map(|(l, _)| l.operator)
        .find(|o| !works_at(o, &site))
        .expect("an operator of another site only");
    let counts = |of: &dyn Fn(&IndexLimb) -> bool| {
        let n_u = eligible.iter().filter(|(l, _)| of(l)).count() as u64;
        let k_u = eligible.iter().filter(|(l, v)| *v && of(l)).count() as u64;
        (n_u, k_u)
    };
    let (site_n, site_k) = counts(&|l: &IndexLimb| *l.site == *site);
    let (operator_n, operator_k) = counts(&|l: &IndexLimb| l.operator == operator);
    assert!(
        site_n < n && operator_n < n,
        "the units are parts of the registry"
    );

    let admin = common::user(&store, "funnel.admin", Role::Admin, SiteAccess::All).await;
    let admin = common::session(&store, &admin).await;
    let lead = common::user(
        &store,
        "funnel.lead",
        Role::GovernanceLead,
        SiteAccess::Sites(vec![SiteCode::parse(&site).unwrap()]),
    )
    .await;
    let lead = common::session(&store, &lead).await;
    let registry = api(&store, &format!("as_of={as_of}"), &admin).await;
    let site_page = api(&store, &format!("site={site}&as_of={as_of}"), &admin).await;
    let leads_page = api(&store, &format!("site={site}&as_of={as_of}"), &lead).await;

    for (unit_type, unit, (n_u, k_u)) in [
        ("site", site.clone(), (site_n, site_k)),
        ("operator", operator.to_string(), (operator_n, operator_k)),
    ] {
        let want = [0.001, 0.025, 0.975, 0.999].map(|p| independent_limit(n_u, theta, p));
        for (page, doc) in [
            ("registry", &registry),
            ("site", &site_page),
            ("lead's site", &leads_page),
        ] {
            let f = funnel(doc, unit_type);
            assert_eq!(f["n"], n, "{page} page, {unit_type}s");
            let mean = f["registry_mean"].as_f64().unwrap();
            assert!(
                (mean - theta).abs() < 1e-12,
                "{page} page: mean {mean}, θ {theta}"
            );
            assert!(
                f["compared_with"]
                    .as_str()
                    .unwrap()
                    .starts_with("the whole registry"),
                "{page} page: {}",
                f["compared_with"]
            );
            let u = f["units"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["unit"] == unit.as_str())
                .unwrap_or_else(|| panic!("{page} page: {unit} not on the funnel"));
            assert_eq!((u["n"].as_u64(), u["k"].as_u64()), (Some(n_u), Some(k_u)));
            let got = limits(f, &unit);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() < 1e-9,
                    "{page} page, {unit}: {got:?} against {want:?}"
                );
            }
            // Not merely close: the very limits of the registry's page.
            assert_eq!(got, limits(funnel(&registry, unit_type), &unit));
        }
    }

    // The lead sees their site and its operators named, and every other
    // unit still plotted but with no id, code or name.
    let other_sites: Vec<(String, String)> = reference
        .sites
        .iter()
        .filter(|(code, _)| code.as_str() != site)
        .map(|(code, s)| (code.to_string(), s.name.to_string()))
        .collect();
    let others: BTreeSet<String> = reference
        .clinicians
        .iter()
        .filter(|(id, _)| !works_at(id, &site))
        .map(|(_, c)| c.display_name.to_string())
        .collect();
    assert!(!other_sites.is_empty() && !others.is_empty());
    for unit_type in ["site", "operator"] {
        let f = funnel(&leads_page, unit_type);
        let all = funnel(&registry, unit_type)["units"]
            .as_array()
            .unwrap()
            .len();
        let units = f["units"].as_array().unwrap();
        assert_eq!(units.len(), all, "every {unit_type} is still plotted");
        for u in units {
            let id = u["unit"].as_str().unwrap();
            if id.is_empty() {
                let another = if unit_type == "site" {
                    "Another site"
                } else {
                    "Another operator"
                };
                assert_eq!(u["label"], another);
            } else if unit_type == "site" {
                assert_eq!(id, site);
            } else {
                assert!(works_at(&id.parse().unwrap(), &site), "{u}");
            }
        }
    }
    assert!(
        funnel(&leads_page, "operator")["units"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["unit"] != stranger.to_string().as_str())
    );
    let funnels = leads_page["monitoring"]["funnels"].to_string();
    for (code, name) in &other_sites {
        assert!(
            !funnels.contains(&format!("\"{code}\"")),
            "{code} in the lead's funnels"
        );
        assert!(
            !funnels.contains(name.as_str()),
            "{name} in the lead's funnels"
        );
    }
    for name in &others {
        assert!(
            !funnels.contains(name.as_str()),
            "{name} in the lead's funnels"
        );
    }

    // The dashboards: the site's page (the lead's) and the registry's page
    // (the administrator's) show the same limits for the site and for the
    // operator, and say what they compare with.
    let registry_page = common::get(&store, "/dashboard", Some(&admin)).await;
    assert_eq!(
        registry_page.status,
        StatusCode::OK,
        "{}",
        registry_page.body
    );
    let site_page = common::get(&store, &format!("/dashboard?site={site}"), Some(&lead)).await;
    assert_eq!(site_page.status, StatusCode::OK, "{}", site_page.body);
    let site_name = reference.sites[&SiteCode::parse(&site).unwrap()]
        .name
        .to_string();
    let operator_name = reference.clinicians[&operator].display_name.to_string();
    for (unit_type, label) in [("site", &site_name), ("operator", &operator_name)] {
        let id = format!("funnel-{AFS}-{unit_type}");
        let on_registry = funnel_section(&registry_page.body, &id);
        let on_site = funnel_section(&site_page.body, &id);
        assert_eq!(row(on_site, label), row(on_registry, label), "{unit_type}");
        for section in [on_registry, on_site] {
            assert!(
                section.contains(&format!(
                    "Each {unit_type} is compared with the mean of the whole registry"
                )),
                "{section}"
            );
        }
        assert!(on_site.contains(&format!("Another {unit_type}")));
        assert!(!on_registry.contains(&format!("Another {unit_type}")));
    }
    let section_start = site_page.body.find("<h2 id=\"funnels\">").unwrap();
    let funnels_html = &site_page.body[section_start..];
    for (code, name) in &other_sites {
        assert!(
            !funnels_html.contains(&format!(">{code}<")),
            "{code} on the lead's page"
        );
        assert!(
            !funnels_html.contains(name.as_str()),
            "{name} on the lead's page"
        );
    }
    for name in &others {
        assert!(
            !funnels_html.contains(name.as_str()),
            "{name} on the lead's page"
        );
    }
}
