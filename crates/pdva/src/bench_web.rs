//! `pdva bench web`: how long the web application takes to answer its
//! heaviest pages on a generated registry: the outcome dashboard of each
//! site and of the whole registry, the largest site's worklist and
//! compliance view, search by name and hospital number, and patients'
//! pages. Requests go through
//! the real router (authorisation guard, handlers, templates) in process,
//! signed in as a governance lead of every site, so the figures are the
//! server's time to a complete page, without the network.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use pdva_store::{Actor, NewUser, NoProgress, Password, Role, SiteAccess, Store, Username};
use tower::ServiceExt;

use crate::generate::{BenchRegistry, generate};

/// Timings of one kind of page.
struct Timings {
    page: String,
    times: Vec<Duration>,
    bytes: usize,
}

impl Timings {
    fn new(page: String) -> Self {
        Self {
            page,
            times: Vec::new(),
            bytes: 0,
        }
    }

    fn add(&mut self, (time, bytes): (Duration, usize)) {
        self.times.push(time);
        self.bytes += bytes;
    }

    fn print(&mut self) {
        self.times.sort();
        let n = self.times.len();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let median = if n % 2 == 1 {
            ms(self.times[n / 2])
        } else {
            (ms(self.times[n / 2 - 1]) + ms(self.times[n / 2])) / 2.0
        };
        let p95 = ms(self.times[((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1]);
        println!(
            "  {:<46} n={:<4} median {:>9.1} ms   p95 {:>9.1} ms   max {:>9.1} ms   {:>7} bytes",
            self.page,
            n,
            median,
            p95,
            ms(self.times[n - 1]),
            self.bytes / n.max(1)
        );
    }
}

async fn time_page(router: &axum::Router, cookie: &str, path: &str) -> Result<(Duration, usize)> {
    let request = Request::get(path)
        .header("host", "bench.local")
        .header("cookie", cookie)
        .body(Body::empty())?;
    let started = Instant::now();
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let elapsed = started.elapsed();
    if status != StatusCode::OK {
        bail!(
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok((elapsed, body.len()))
}

/// Generates a registry of `patients` (SQLite or a fresh PostgreSQL schema,
/// as `bench generate`), then times `rounds` requests of each dashboard and
/// of `patient_pages` patients' pages.
pub async fn bench(
    db: Option<String>,
    patients: usize,
    seed: u64,
    rounds: usize,
    patient_pages: usize,
) -> Result<()> {
    let today: NaiveDate = "2026-06-30".parse().expect("date");
    let registry = BenchRegistry::new(db).await?;
    let result = async {
        let store = registry.open().await?;
        println!(
            "pdva bench web: {patients} patients, seed {seed}, engine {:?}",
            store.engine()
        );
        let generated = generate(&store, patients, seed, today, &NoProgress).await?;
        println!("  generated: {generated}");
        let result = measure(&store, rounds, patient_pages).await;
        store.close().await;
        result
    }
    .await;
    registry.remove().await?;
    result
}

async fn measure(store: &Store, rounds: usize, patient_pages: usize) -> Result<()> {
    let user = store
        .create_user(
            &Actor::new("system:bench"),
            NewUser {
                username: Username::parse("bench.governance")?,
                display_name: "Benchmark governance lead".into(),
                role: Role::GovernanceLead,
                sites: SiteAccess::All,
                password: Password::parse("benchmark passphrase, not secret")?,
                clinician: None,
            },
        )
        .await?;
    let session = store.start_session(&user, chrono::Utc::now()).await?;
    let cookie = format!("pdva_session={}", session.token);
    let router = pdva_web::router(store.clone());
    let sites: Vec<String> = store
        .sites()
        .await?
        .into_iter()
        .map(|(_, s)| s.site_code.to_string())
        .collect();
    let ids = store.patient_ids().await?;
    if ids.is_empty() {
        bail!("the registry has no patients");
    }

    // One untimed request first: the first touch reads the database's
    // pages from disk, which a server running for a while has in its cache.
    let largest_site = largest_site(store).await?;
    let fresh = || pdva_web::router(store.clone());
    time_page(
        &fresh(),
        &cookie,
        &format!("/dashboard?site={largest_site}"),
    )
    .await
    .context("warming up")?;

    // "computed": a new router for every request, so the outcomes report is
    // computed from the registry each time, as on the first view after a
    // change; "kept": the same router again, serving the report kept for
    // the unchanged data version.
    let mut all = Vec::new();
    let mut computed = Timings::new(format!(
        "dashboard, each of {} sites, computed",
        sites.len()
    ));
    let mut kept = Timings::new(format!("dashboard, each of {} sites, kept", sites.len()));
    for _ in 0..rounds.div_ceil(sites.len()).max(1) {
        for site in &sites {
            let path = format!("/dashboard?site={site}");
            computed.add(time_page(&fresh(), &cookie, &path).await?);
        }
    }
    for site in &sites {
        // The first view computes and keeps the report.
        time_page(&router, &cookie, &format!("/dashboard?site={site}")).await?;
    }
    for _ in 0..rounds.div_ceil(sites.len()).max(1) {
        for site in &sites {
            let path = format!("/dashboard?site={site}");
            kept.add(time_page(&router, &cookie, &path).await?);
        }
    }
    all.push(computed);
    all.push(kept);
    let mut largest = Timings::new(format!("dashboard, largest site {largest_site}, computed"));
    for _ in 0..rounds {
        let path = format!("/dashboard?site={largest_site}");
        largest.add(time_page(&fresh(), &cookie, &path).await?);
    }
    all.push(largest);
    // A filtered view (one year of the largest site's procedures) is
    // computed, then kept under its own filter like any other.
    let filtered = format!("/dashboard?site={largest_site}&from=2024-01-01&to=2024-12-31");
    let mut computed = Timings::new(format!(
        "dashboard, largest site {largest_site}, year 2024, computed"
    ));
    for _ in 0..rounds.min(5) {
        computed.add(time_page(&fresh(), &cookie, &filtered).await?);
    }
    all.push(computed);
    time_page(&router, &cookie, &filtered).await?;
    let mut kept = Timings::new(format!(
        "dashboard, largest site {largest_site}, year 2024, kept"
    ));
    for _ in 0..rounds {
        kept.add(time_page(&router, &cookie, &filtered).await?);
    }
    all.push(kept);
    let mut registry = Timings::new("dashboard, whole registry, computed".into());
    for _ in 0..rounds.min(5) {
        registry.add(time_page(&fresh(), &cookie, "/dashboard").await?);
    }
    all.push(registry);
    // The other per-site pages that read every patient of the site.
    // The worklist keeps its schedule for the data version and the day:
    // "computed" is the first view after a change, "kept" every view after.
    let worklist = format!("/worklist?site={largest_site}");
    let mut computed = Timings::new(format!("worklist, largest site {largest_site}, computed"));
    for _ in 0..rounds.min(5) {
        computed.add(time_page(&fresh(), &cookie, &worklist).await?);
    }
    all.push(computed);
    time_page(&router, &cookie, &worklist).await?;
    let mut kept = Timings::new(format!("worklist, largest site {largest_site}, kept"));
    for _ in 0..rounds {
        kept.add(time_page(&router, &cookie, &worklist).await?);
    }
    all.push(kept);
    // The compliance view keeps its findings for the data version, as the
    // dashboard keeps its report: "computed" is the first view after a
    // change, "kept" every view after it.
    let compliance = format!("/sites/{largest_site}/compliance");
    let mut computed = Timings::new(format!(
        "IPG773 compliance, largest site {largest_site}, computed"
    ));
    for _ in 0..rounds.min(5) {
        computed.add(time_page(&fresh(), &cookie, &compliance).await?);
    }
    all.push(computed);
    time_page(&router, &cookie, &compliance).await?;
    let mut kept = Timings::new(format!(
        "IPG773 compliance, largest site {largest_site}, kept"
    ));
    for _ in 0..rounds {
        kept.add(time_page(&router, &cookie, &compliance).await?);
    }
    all.push(kept);
    // Search: names and hospital numbers are sealed per patient, so a
    // search opens every patient of the searcher's sites. A clinician of
    // the largest site searches it; the governance lead, every site.
    let clinician = store
        .create_user(
            &Actor::new("system:bench"),
            NewUser {
                username: Username::parse("bench.clinician")?,
                display_name: "Benchmark clinician".into(),
                role: Role::Clinician,
                sites: SiteAccess::Sites(vec![largest_site.parse()?]),
                password: Password::parse("benchmark passphrase, not secret")?,
                clinician: None,
            },
        )
        .await?;
    let clinician_cookie = format!(
        "pdva_session={}",
        store
            .start_session(&clinician, chrono::Utc::now())
            .await?
            .token
    );
    let site_code: pdva_domain::values::SiteCode = largest_site.parse()?;
    let sample = store
        .patients_at(Some(std::slice::from_ref(&site_code)), 1)
        .await?
        .into_iter()
        .next()
        .map(|(_, p)| p)
        .context("the largest site has no patients")?;
    let name_part: String = sample
        .family_name
        .as_deref()
        .unwrap_or("son")
        .chars()
        .take(3)
        .collect();
    let hospital_number = sample.hospital_number.clone().unwrap_or_default();
    for (who, cookie, scope) in [
        (
            "clinician",
            &clinician_cookie,
            format!("site {largest_site}"),
        ),
        ("governance lead", &cookie, "every site".to_owned()),
    ] {
        for (what, text) in [
            ("part of a name", name_part.as_str()),
            ("hospital number", hospital_number.as_str()),
        ] {
            let path = format!("/patients?q={}", percent_encoded(text));
            let mut t = Timings::new(format!("search by {what}, {who}, {scope}"));
            for _ in 0..rounds.min(5) {
                t.add(time_page(&router, cookie, &path).await?);
            }
            all.push(t);
        }
    }
    let mut patient = Timings::new(format!("patient page, {patient_pages} patients"));
    // Patients spread evenly over the registry (ids are time-ordered, so
    // early and late registrations both appear).
    let step = (ids.len() / patient_pages.max(1)).max(1);
    for id in ids.iter().step_by(step).take(patient_pages) {
        patient.add(time_page(&router, &cookie, &format!("/patients/{id}")).await?);
    }
    all.push(patient);
    for t in &mut all {
        t.print();
    }
    Ok(())
}

/// A query value with every byte but letters and digits percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The site with the most patients.
async fn largest_site(store: &Store) -> Result<String> {
    store
        .site_counts()
        .await?
        .into_iter()
        .max_by_key(|c| c.patients)
        .map(|c| c.site_code.to_string())
        .context("the registry has no sites")
}
