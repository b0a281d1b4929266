//! End-to-end tests in a real browser: Debian's Chromium, driven through
//! ChromeDriver (WebDriver, by fantoccini), against the real server on a
//! loopback port. What a user does, a click at a time: a clinician records
//! a patient's care from registration to a major amputation and sees it on
//! the worklist and the dashboard; a refused form keeps what was typed; a
//! researcher follows every link and never meets an identifier.
//!
//! Screenshots of the main pages are written to
//! `target/tmp/screenshots/` (or `PDVA_SCREENSHOT_DIR`) as test artefacts.
//!
//! Without `chromedriver` on the PATH (or at `PDVA_CHROMEDRIVER`) the test
//! says so and passes, unless `PDVA_REQUIRE_BROWSER=1` (set by `.ci/run`,
//! which installs Chromium), where a missing browser fails the run.

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::net::TcpListener as StdListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::{Client, Locator};
use pdva_store::{Role, SiteAccess};
use serde_json::json;

/// ChromeDriver and Chromium, or why there are none.
fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let find = |env: &str, names: &[&str]| -> Option<PathBuf> {
        if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
            .find(|p| p.is_file())
    };
    let driver = find("PDVA_CHROMEDRIVER", &["chromedriver"])?;
    let chromium = find(
        "PDVA_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )?;
    Some((driver, chromium))
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A headless Chromium session; the driver process dies with it.
struct Browser {
    driver: Child,
    client: Client,
    base: String,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends ChromeDriver and every browser process it started, even when
    /// the test failed before it could close the session: they all run in
    /// the driver's own process group.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

impl Browser {
    async fn start(base: String) -> Option<Self> {
        let Some((driver_path, chromium)) = browser_binaries() else {
            assert!(
                std::env::var("PDVA_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "PDVA_REQUIRE_BROWSER=1 but chromedriver or chromium was not found \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "skipped: no chromedriver/chromium (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    "--disable-breakpad",
                    "--disable-crash-reporter",
                    "--lang=en-GB",
                    "--window-size=1280,1400",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let capabilities = capabilities.as_object().unwrap().clone();
        let address = format!("http://127.0.0.1:{port}");
        // ChromeDriver takes a moment to listen.
        let mut last_error = None;
        let mut client = None;
        for _ in 0..100 {
            match Client::with_capabilities_and_connector(
                &address,
                &capabilities,
                hyper_util::client::legacy::connect::HttpConnector::new(),
            )
            .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(e) => {
                    last_error = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let client = client.unwrap_or_else(|| panic!("no WebDriver session: {last_error:?}"));
        let shots = std::env::var_os("PDVA_SCREENSHOT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
        std::fs::create_dir_all(&shots).unwrap();
        Some(Self {
            driver,
            client,
            base,
            shots,
            _profile: profile,
        })
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// The visible text of the page.
    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn screenshot(&self, name: &str) {
        self.client
            .execute("window.scrollTo(0, 0)", vec![])
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Clicks something that loads a page, and waits until the new page
    /// has replaced the old one (a click returns before a form's response
    /// has arrived).
    async fn click_and_wait(&self, element: fantoccini::elements::Element) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        element.click().await.unwrap();
        for _ in 0..400 {
            // The old document's element goes stale when the new page loads.
            if old.tag_name().await.is_err() {
                let ready = self
                    .client
                    .execute("return document.readyState", vec![])
                    .await
                    .unwrap();
                if ready == json!("complete") {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no new page within 10 s of the click");
    }

    async fn click_link(&self, text: &str) {
        let path = self.path().await;
        let link = self
            .client
            .find(Locator::LinkText(text))
            .await
            .unwrap_or_else(|e| panic!("no link {text:?} on {path}: {e}"));
        self.click_and_wait(link).await;
    }

    /// Fills one field as a user would: types into text boxes, picks the
    /// option of a select, ticks a checkbox. Date inputs are set by script,
    /// because how Chromium takes typed dates depends on the locale.
    async fn fill(&self, name: &str, value: &str) {
        let inputs = self
            .client
            .find_all(Locator::Css(&format!("main [name='{name}']")))
            .await
            .unwrap();
        let first = inputs
            .first()
            .unwrap_or_else(|| panic!("no field {name:?}"));
        let tag = first.tag_name().await.unwrap();
        let kind = first.attr("type").await.unwrap().unwrap_or_default();
        match (tag.as_str(), kind.as_str()) {
            ("select", _) => {
                if value.is_empty() {
                    // The first real choice (a clinician, a procedure).
                    let options = first.find_all(Locator::Css("option")).await.unwrap();
                    for o in options {
                        if !o
                            .attr("value")
                            .await
                            .unwrap()
                            .unwrap_or_default()
                            .is_empty()
                        {
                            o.click().await.unwrap();
                            break;
                        }
                    }
                } else {
                    first.select_by_value(value).await.unwrap();
                }
            }
            (_, "checkbox") => {
                for i in inputs {
                    if i.attr("value").await.unwrap().as_deref() == Some(value) {
                        if !i.is_selected().await.unwrap() {
                            i.click().await.unwrap();
                        }
                        return;
                    }
                }
                panic!("no choice {value:?} for {name:?}");
            }
            (_, "date") => {
                self.client
                    .execute(
                        "document.querySelector(arguments[0]).value = arguments[1];",
                        vec![json!(format!("main [name='{name}']")), json!(value)],
                    )
                    .await
                    .unwrap();
            }
            _ => {
                first.clear().await.unwrap();
                first.send_keys(value).await.unwrap();
            }
        }
    }

    /// Submits the page's first form in `main` (the record form; the
    /// sign-off and void forms come after it).
    async fn submit(&self) {
        let button = self
            .client
            .find(Locator::Css(
                "main form[method='post'] button[type='submit']",
            ))
            .await
            .unwrap();
        self.click_and_wait(button).await;
    }

    /// Fills and submits a form; where the domain asks to confirm soft
    /// warnings, ticks the confirmation and submits again. Ends on the
    /// patient page.
    async fn record(&self, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            self.fill(name, value).await;
        }
        self.submit().await;
        if self
            .client
            .find(Locator::Css("input[name='acknowledge_warnings']"))
            .await
            .is_ok()
        {
            self.fill("acknowledge_warnings", "yes").await;
            self.submit().await;
        }
        let path = self.path().await;
        assert!(
            path.starts_with("/patients/") && !path.contains("/records/"),
            "the form was not saved: still on {path}\n{}",
            self.text().await
        );
    }

    async fn sign_in(&self, username: &str) {
        self.goto("/sign-in").await;
        self.fill_sign_in(username).await;
    }

    async fn fill_sign_in(&self, username: &str) {
        let form = |id: &'static str| self.client.find(Locator::Id(id));
        form("username")
            .await
            .unwrap()
            .send_keys(username)
            .await
            .unwrap();
        form("password")
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        let button = self
            .client
            .find(Locator::Css("form button[type='submit']"))
            .await
            .unwrap();
        self.click_and_wait(button).await;
        assert!(
            !self.path().await.starts_with("/sign-in"),
            "sign-in of {username} failed: {}",
            self.text().await
        );
    }

    async fn sign_out(&self) {
        let button = self
            .client
            .find(Locator::Css("nav form button[type='submit']"))
            .await
            .unwrap();
        self.click_and_wait(button).await;
    }

    /// The value cell of the dashboard row headed `label`.
    async fn dashboard_value(&self, label: &str) -> String {
        self.client
            .find(Locator::XPath(&format!(
                "//tr[th[normalize-space(.)='{label}']]/td"
            )))
            .await
            .unwrap_or_else(|e| panic!("no dashboard row {label:?}: {e}"))
            .text()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clinician_records_care_to_amputation_and_researcher_sees_no_identifier() {
    let world = world().await;
    let store = world.store.clone();
    user(&store, "clin.ngh", Role::Clinician, ngh()).await;
    user(&store, "research.all", Role::Researcher, SiteAccess::All).await;
    user(&store, "gov.ngh", Role::GovernanceLead, ngh()).await;
    user(&store, "admin", Role::Admin, SiteAccess::All).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pdva_web::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));

    let Some(b) = Browser::start(base).await else {
        return;
    };

    // Not signed in: sent to sign in, and back to the page asked for.
    b.goto("/patients").await;
    assert!(b.path().await.starts_with("/sign-in"));
    b.screenshot("01-sign-in").await;
    b.fill_sign_in("clin.ngh").await;
    assert_eq!(b.path().await, "/patients");
    // The stylesheet loaded under the Content-Security-Policy (no inline
    // styles are allowed, so a blocked sheet would leave the page unstyled).
    let nav_display = b
        .client
        .execute(
            "return getComputedStyle(document.querySelector('nav')).display",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(nav_display, json!("flex"));
    b.screenshot("02-patients").await;

    // The dashboard before: the site's one seeded patient, never seen
    // after the procedure, so of unknown status at 30 days (DOMAIN.md
    // section 7: counted beside the proportion, not as event-free).
    b.click_link("Outcomes").await;
    let before = b.dashboard_value("Major amputation within 30 days").await;
    assert!(
        before.starts_with("0 of 0") && before.contains("status unknown at 30 days: 1"),
        "{before}"
    );

    // Registration: a wrong NHS number is refused and everything typed stays.
    b.goto("/patients").await;
    b.click_link("Register a patient at NGH").await;
    let registration = [
        ("nhs_number", "999 000 0043"),
        ("hospital_number", "HN-E2E-1"),
        ("family_name", "Brackenridge-Voss"),
        ("given_name", "Winifred"),
        ("date_of_birth", "1944-07-19"),
        ("sex", "female"),
    ];
    for (name, value) in registration {
        b.fill(name, value).await;
    }
    b.submit().await;
    let refused = b.source().await;
    assert!(b.path().await.ends_with("/patients/new"));
    assert!(refused.contains("class=\"error\">NHS number:"), "{refused}");
    for (name, value) in registration {
        let kept = b
            .client
            .find(Locator::Css(&format!("[name='{name}']")))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        assert_eq!(kept, value, "{name} was not kept after a refused submit");
    }
    b.screenshot("03-registration-refused").await;
    b.fill("nhs_number", "999 000 0042").await;
    b.submit().await;
    let patient_path = b.path().await;
    assert!(patient_path.starts_with("/patients/"), "{patient_path}");
    let heading = b
        .client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let registry_id = heading.trim_start_matches("Patient ").to_owned();
    assert!(b.text().await.contains("999 000 0042"));

    // Consent, procedure, baseline, a 30-day visit and the amputation, each
    // from the patient page's own links.
    b.click_link("Consent").await;
    b.record(&[
        ("consent_date", "2025-03-01"),
        ("taken_by", ""),
        ("uncertainties_explained", "yes"),
        ("information_given", "nice_information_for_the_public"),
        ("shared_decision_making_documented", "yes"),
        ("lacks_capacity", "no"),
        ("registry_data_consent", "yes"),
        ("research_consent", "yes"),
    ])
    .await;
    b.click_link("Index procedure").await;
    b.screenshot("04-procedure-form").await;
    b.record(&[
        ("procedure_date", "2025-03-10"),
        ("index_limb", "left"),
        ("primary_operator", ""),
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
    ])
    .await;
    b.click_link("Baseline and patient selection").await;
    b.record(&[
        ("index_limb", ""),
        ("assessment_date", "2025-03-05"),
        ("rutherford_category", "5"),
        ("wifi_wound", "2"),
        ("wifi_ischaemia", "3"),
        ("wifi_foot_infection", "1"),
        ("diabetes", "type_2"),
        ("dialysis_dependent", "no"),
        ("no_option_reasons", "no_bypass_target"),
        ("pedal_venous_anatomy_confirmed", "yes"),
    ])
    .await;
    b.click_link("Follow-up visit").await;
    b.record(&[
        ("procedure_id", ""),
        ("visit_date", "2025-04-09"),
        ("contact", "in_person"),
        ("limb_status", "major_amputation"),
        ("wound_status", "worse"),
    ])
    .await;
    b.click_link("Amputation").await;
    b.record(&[
        ("procedure_id", ""),
        ("date", "2025-04-02"),
        ("limb", "left"),
        ("level", "below_knee"),
        ("revision", "no"),
    ])
    .await;
    let page = b.text().await;
    assert!(page.contains("Below knee"), "{page}");
    b.screenshot("05-patient-page").await;

    // The worklist lists the patient (lifelong follow-up continues after
    // an amputation while the patient lives).
    b.click_link("Follow-up worklist").await;
    assert!(b.text().await.contains(&registry_id), "{}", b.text().await);
    b.screenshot("06-worklist").await;

    // The dashboard now counts the amputation: the one limb whose status
    // at 30 days is known, the seeded one still beside it as unknown.
    b.click_link("Outcomes").await;
    let after = b.dashboard_value("Major amputation within 30 days").await;
    assert!(
        after.starts_with("1 of 1: 100.0%") && after.contains("status unknown at 30 days: 1"),
        "{after}"
    );
    assert_eq!(
        b.client.title().await.unwrap(),
        "Outcomes, site NGH — pDVA registry"
    );
    b.screenshot("07-dashboard").await;
    b.sign_out().await;

    // The governance lead's compliance view and the administrator's users.
    b.sign_in("gov.ngh").await;
    b.click_link("IPG773 compliance NGH").await;
    b.screenshot("08-compliance").await;
    b.sign_out().await;
    b.sign_in("admin").await;
    b.click_link("Users").await;
    b.screenshot("09-users").await;
    b.sign_out().await;

    // The researcher follows every link and never meets an identifier.
    b.sign_in("research.all").await;
    let forbidden = [
        world.a.nhs,
        world.a.family_name,
        world.a.given_name,
        world.a.date_of_birth,
        world.b.nhs,
        world.b.family_name,
        world.b.given_name,
        "9990000042",
        "999 000 0042",
        "Brackenridge",
        "Winifred",
        "1944-07-19",
        "HN-E2E-1",
    ];
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/".to_owned(), "/research/patients".to_owned()]);
    let mut patient_pages = 0;
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) || seen.len() > 300 {
            continue;
        }
        b.goto(&path).await;
        let source = b.source().await;
        let title = b.client.title().await.unwrap();
        assert!(
            title.ends_with("— pDVA registry") && !title.contains('<'),
            "{path} has the title {title:?}"
        );
        for word in forbidden {
            assert!(
                !source.contains(word),
                "the researcher saw {word:?} on {path}"
            );
        }
        if path.starts_with("/patients/") {
            panic!("the researcher reached an identifiable patient page: {path}");
        }
        if path.starts_with("/research/patients/") {
            assert!(
                !source.contains("P-NGH-") && !source.contains("P-OTH-"),
                "a registry id on {path}"
            );
            // Days from the index procedure, never a calendar date.
            let bytes = source.as_bytes();
            assert!(
                !bytes.windows(10).any(|w| w.iter().enumerate().all(
                    |(i, c)| if i == 4 || i == 7 {
                        *c == b'-'
                    } else {
                        c.is_ascii_digit()
                    }
                )),
                "a calendar date on {path}"
            );
            patient_pages += 1;
            if patient_pages == 1 {
                b.screenshot("10-researcher-patient").await;
            }
        }
        let links = b.client.find_all(Locator::Css("a[href]")).await.unwrap();
        for link in links {
            let href = link.attr("href").await.unwrap().unwrap_or_default();
            let href = href.split('#').next().unwrap_or_default().to_owned();
            // Pages only: `/api/` links (the OpenAPI document) are JSON for
            // programs, with no title and no patient data.
            if href.starts_with('/') && !href.starts_with("/api/") && !seen.contains(&href) {
                queue.push_back(href);
            }
        }
    }
    assert!(
        patient_pages >= 3,
        "the researcher should reach every research-consented patient's page: {seen:?}"
    );
    assert!(seen.iter().any(|p| p.starts_with("/dashboard")));
    eprintln!(
        "researcher followed {} pages; screenshots in {}",
        seen.len(),
        b.shots.display()
    );

    let Browser { ref client, .. } = b;
    client.clone().close().await.unwrap();
    drop(b);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

impl Browser {
    /// Searches the patient list as a user types into its search box.
    async fn search_patients(&self, text: &str) {
        self.goto("/patients").await;
        self.fill("q", text).await;
        let button = self
            .client
            .find(Locator::Css("form[role='search'] button"))
            .await
            .unwrap();
        self.click_and_wait(button).await;
    }

    /// The page's width beyond the window's, in CSS pixels (0 when nothing
    /// scrolls sideways).
    async fn sideways_overflow(&self) -> i64 {
        self.client
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth",
                vec![],
            )
            .await
            .unwrap()
            .as_i64()
            .unwrap()
    }

    /// The texts of the timeline's limb cells, in the page's order.
    async fn timeline_limbs(&self) -> Vec<String> {
        let mut out = Vec::new();
        for cell in self
            .client
            .find_all(Locator::Css("tr[id^='record-'] td[data-label='Limb']"))
            .await
            .unwrap()
        {
            out.push(cell.text().await.unwrap());
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_use_search_both_limbs_sign_off_and_a_narrow_screen() {
    let world = world().await;
    let store = world.store.clone();
    user(&store, "clin.ngh", Role::Clinician, ngh()).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pdva_web::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    let Some(b) = Browser::start(base).await else {
        return;
    };
    b.sign_in("clin.ngh").await;

    // Search by part of the family name, in lower case, and by hospital
    // number: the patient is listed with their hospital number.
    b.search_patients("zwieb").await;
    let text = b.text().await;
    assert!(text.contains("1 patient matches"), "{text}");
    let hospital_number = format!("HN{}", &world.a.nhs[5..]);
    assert!(text.contains(&hospital_number), "{text}");
    b.screenshot("11-search-by-name").await;
    b.search_patients(&hospital_number.to_lowercase()).await;
    assert!(b.text().await.contains("1 patient matches"));
    // The other site's patient is not found.
    b.search_patients("quasten").await;
    assert!(b.text().await.contains("No patient of your sites"));

    // A second index procedure, on the left limb: every timeline row then
    // names its limb, and the page reads limb by limb.
    b.goto(&format!("/patients/{}", world.a.id)).await;
    b.click_link("Index procedure").await;
    b.record(&[
        ("procedure_date", "2025-06-02"),
        ("index_limb", "left"),
        ("primary_operator", ""),
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
    ])
    .await;
    let file = store.patient_file(world.a.id).await.unwrap();
    let left = file
        .procedures()
        .find(|(_, p)| p.index_limb == pdva_domain::codes::Limb::Left)
        .map(|(id, _)| id.to_string())
        .expect("the left limb's procedure");
    b.click_link("Follow-up visit").await;
    b.record(&[
        ("procedure_id", &left),
        ("visit_date", "2025-07-01"),
        ("contact", "in_person"),
        ("limb_status", "intact"),
    ])
    .await;
    b.click_link("Follow-up visit").await;
    b.record(&[
        ("procedure_id", &world.a.procedure.to_string()),
        ("visit_date", "2025-02-14"),
        ("contact", "in_person"),
        ("limb_status", "intact"),
    ])
    .await;
    let limbs = b.timeline_limbs().await;
    assert_eq!(
        limbs,
        ["Patient", "Right", "Right", "Left", "Left"],
        "consent, the right limb's procedure and visit, the left's"
    );
    b.screenshot("12-patient-both-limbs").await;
    b.click_link("Left limb").await;
    assert_eq!(b.timeline_limbs().await, ["Patient", "Left", "Left"]);

    // The sign-off queue empties as the clinician signs each record off.
    b.click_link("Sign-off").await;
    let waiting = b
        .client
        .find_all(Locator::Css("main form[action$='/sign-off'] button"))
        .await
        .unwrap()
        .len();
    assert!(waiting >= 4, "two procedures and two visits await sign-off");
    b.screenshot("13-sign-off-queue").await;
    for left in (0..waiting).rev() {
        let button = b
            .client
            .find(Locator::Css("main form[action$='/sign-off'] button"))
            .await
            .unwrap();
        b.click_and_wait(button).await;
        assert_eq!(b.path().await, "/sign-off");
        let now = b
            .client
            .find_all(Locator::Css("main form[action$='/sign-off'] button"))
            .await
            .unwrap()
            .len();
        assert_eq!(now, left, "one fewer after each sign-off");
    }
    assert!(b.text().await.contains("Nothing awaits sign-off"));

    // The keyboard's first stop is the skip link, visibly focused.
    b.goto(&format!("/patients/{}", world.a.id)).await;
    b.client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(&fantoccini::key::Key::Tab.to_string())
        .await
        .unwrap();
    let focused = b
        .client
        .execute(
            "const a = document.activeElement; \
             return [a.className, getComputedStyle(a).outlineStyle, a.getBoundingClientRect().left >= 0];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused, json!(["skip", "solid", true]), "the skip link");

    // At 400 px nothing scrolls sideways: the patient page, the worklist,
    // the patient list and a form.
    b.client.set_window_size(400, 900).await.unwrap();
    for (path, shot) in [
        (format!("/patients/{}", world.a.id), "14-narrow-patient"),
        ("/worklist".to_owned(), "15-narrow-worklist"),
        ("/patients".to_owned(), "16-narrow-patients"),
        (
            format!("/patients/{}/records/new/follow-up-visit", world.a.id),
            "17-narrow-form",
        ),
    ] {
        b.goto(&path).await;
        let overflow = b.sideways_overflow().await;
        assert!(
            overflow <= 0,
            "{path} scrolls {overflow} px sideways at 400 px"
        );
        b.screenshot(shot).await;
    }

    let Browser { ref client, .. } = b;
    client.clone().close().await.unwrap();
    drop(b);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_a_password_change_and_an_administrators_reset() {
    let world = world().await;
    let store = world.store.clone();
    user(&store, "clin.ngh", Role::Clinician, ngh()).await;
    user(&store, "admin", Role::Admin, SiteAccess::All).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pdva_web::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    let Some(b) = Browser::start(base).await else {
        return;
    };

    /// Signs in with a password of the test's own; where it lands.
    async fn sign_in_with(b: &Browser, username: &str, password: &str) -> String {
        b.goto("/sign-in").await;
        for (id, value) in [("username", username), ("password", password)] {
            b.client
                .find(Locator::Id(id))
                .await
                .unwrap()
                .send_keys(value)
                .await
                .unwrap();
        }
        let button = b
            .client
            .find(Locator::Css("form button[type='submit']"))
            .await
            .unwrap();
        b.click_and_wait(button).await;
        b.path().await
    }

    /// Fills and sends the change-password form.
    async fn change_password(b: &Browser, current: &str, new: &str) {
        b.fill("current_password", current).await;
        b.fill("new_password", new).await;
        b.fill("repeat_password", new).await;
        b.submit().await;
    }

    // A clinician changes their password from the menu; a wrong current
    // password is refused on the form.
    let chosen = "lantern orchard pebble tide";
    b.sign_in("clin.ngh").await;
    b.click_link("Change password").await;
    assert_eq!(b.path().await, "/account/password");
    b.screenshot("accounts-01-change-password").await;
    change_password(&b, "not my password at all", chosen).await;
    let text = b.text().await;
    assert!(
        text.contains("This is not your current password, or there were too many wrong tries"),
        "{text}"
    );
    b.screenshot("accounts-02-wrong-current-password").await;
    change_password(&b, PASSWORD, chosen).await;
    assert_eq!(b.path().await, "/account/password?changed=yes");
    assert!(b.text().await.contains("Your password has been changed"));
    b.screenshot("accounts-03-password-changed").await;
    b.sign_out().await;
    // The old password no longer signs in; the new one does.
    assert!(
        sign_in_with(&b, "clin.ngh", PASSWORD)
            .await
            .starts_with("/sign-in")
    );
    assert_eq!(sign_in_with(&b, "clin.ngh", chosen).await, "/");
    // A page of another role: refused in the layout, with the menu.
    b.goto("/admin/users").await;
    let text = b.text().await;
    assert!(
        text.contains("Not allowed") && text.contains("Change password"),
        "{text}"
    );
    b.screenshot("accounts-04-error-403").await;
    b.sign_out().await;

    // The administrator resets it: a temporary password, shown once.
    b.sign_in("admin").await;
    b.click_link("Users").await;
    let reset = b
        .client
        .find(Locator::XPath(
            "//tr[td[normalize-space(.)='clin.ngh']]//a[normalize-space(.)='Reset password']",
        ))
        .await
        .unwrap();
    b.click_and_wait(reset).await;
    b.screenshot("accounts-05-reset-form").await;
    b.fill("reason", "forgot it; identity checked in person")
        .await;
    b.submit().await;
    let temporary = b
        .client
        .find(Locator::Css("code.temporary-password"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(temporary.len(), 19, "{temporary}");
    b.screenshot("accounts-06-temporary-password").await;
    b.sign_out().await;

    // At the next sign-in the user must choose a new password before
    // anything else.
    assert_eq!(
        sign_in_with(&b, "clin.ngh", &temporary).await,
        "/account/password"
    );
    assert!(
        b.text()
            .await
            .contains("An administrator has reset your password")
    );
    b.screenshot("accounts-07-forced-change").await;
    b.goto("/patients").await;
    assert_eq!(b.path().await, "/account/password");
    let own = "quiet harbour violet engine";
    change_password(&b, &temporary, own).await;
    assert_eq!(b.path().await, "/account/password?changed=yes");
    // Then normal use.
    b.click_link("Patients").await;
    assert_eq!(b.path().await, "/patients");
    assert!(b.text().await.to_uppercase().contains("ZWIEBELMANN"));
    b.screenshot("accounts-08-after-forced-change").await;

    let Browser { ref client, .. } = b;
    client.clone().close().await.unwrap();
    drop(b);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Issue 17 items 5, 8 and 10: a governance lead of two sites opens the
/// dashboard (all their sites together), reads every section, narrows it
/// to one site and a year, then to an operator and a device system through
/// the form, each time the counts the API gives for the same filter; the
/// page prints on A4 in a bounded number of pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_for_a_committee_with_its_filters_and_print() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = synthetic_registry(&dir, 300).await;
    let reference = store.reference_data().await.unwrap();
    let mut codes: Vec<pdva_domain::values::SiteCode> = reference.sites.keys().cloned().collect();
    codes.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let (first, second) = (codes[0].clone(), codes[1].clone());
    let lead = user(
        &store,
        "gov.two",
        Role::GovernanceLead,
        SiteAccess::Sites(vec![first.clone(), second.clone()]),
    )
    .await;
    // The same user's API session, to read what the engine gives.
    let api_session = session(&store, &lead).await;
    let api_count = |query: String| {
        let store = store.clone();
        let cookie = api_session.cookie.clone();
        async move {
            let signed = Signed {
                cookie,
                csrf: String::new(),
            };
            let answer = get(&store, &format!("/api/v1/outcomes?{query}"), Some(&signed)).await;
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
            let doc: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
            doc
        }
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pdva_web::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    let Some(b) = Browser::start(base).await else {
        return;
    };
    b.sign_in("gov.two").await;

    // Bare /dashboard: all the lead's sites together, every section.
    b.goto("/dashboard").await;
    assert_eq!(
        b.client.title().await.unwrap(),
        format!("Outcomes, all my sites ({first}, {second}) — pDVA registry")
    );
    let mut headings = Vec::new();
    for h in b.client.find_all(Locator::Css("main h2")).await.unwrap() {
        headings.push(h.text().await.unwrap());
    }
    for expected in [
        "Summary",
        "Cases",
        "Technical success",
        "30-day outcomes and adverse events",
        "Amputation-free survival, survival and limb salvage",
        "Major amputation and wound healing (competing risks)",
        "Reinterventions",
        "Quality of life",
        "Duration of anticoagulation",
        "Follow-up completeness",
        "Outcomes compared by patient group and technique",
        "Learning curves of the operators (CUSUM)",
        "Funnel plots: operators and sites against the registry",
        "Published benchmarks",
        "Trends by year of procedure",
    ] {
        assert!(
            headings.iter().any(|h| h == expected),
            "no {expected:?} in {headings:?}"
        );
    }
    let together: u64 = b.dashboard_value("Index procedures").await.parse().unwrap();
    let mut sum = 0;
    for s in [&first, &second] {
        sum += api_count(format!("site={s}")).await["cohort"]["index_procedures"]
            .as_u64()
            .unwrap();
    }
    assert_eq!(together, sum);
    // Nothing wider than the window.
    let wide = b
        .client
        .execute(
            "const w = document.documentElement.clientWidth; return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > w + 1).slice(0, 3).map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + e.textContent.slice(0, 300));",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        b.sideways_overflow().await <= 0,
        "wider than the window: {wide}"
    );
    b.screenshot("21-dashboard-all-my-sites").await;

    // One site and a year, through the form.
    b.fill("site", first.as_str()).await;
    b.fill("from", "2024-01-01").await;
    b.fill("to", "2024-12-31").await;
    let show = b
        .client
        .find(Locator::Css("form.filters button[type='submit']"))
        .await
        .unwrap();
    b.click_and_wait(show).await;
    let path = b.path().await;
    assert!(
        path.contains(&format!("site={first}")) && path.contains("from=2024-01-01"),
        "{path}"
    );
    let period = format!("site={first}&from=2024-01-01&to=2024-12-31");
    let doc = api_count(period.clone()).await;
    assert_eq!(
        b.dashboard_value("Index procedures").await,
        doc["cohort"]["index_procedures"].to_string()
    );
    assert!(
        b.text()
            .await
            .contains("index procedures 2024-01-01 to 2024-12-31")
    );
    b.screenshot("22-dashboard-site-and-year").await;

    // An operator of the site and a device system of its procedures.
    let strata = |doc: &serde_json::Value, variable: &str| -> Vec<String> {
        doc["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["variable"] == variable)
            .unwrap()["strata"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["value"].as_str().unwrap().to_owned())
            .collect()
    };
    let operator = strata(&doc, "operator")
        .into_iter()
        .find(|id| {
            reference.clinicians[&id.parse().unwrap()]
                .sites
                .contains(&first)
        })
        .expect("an operator of the site in 2024");
    let device = strata(&doc, "device_system")[0].clone();
    b.fill("operator", &operator).await;
    b.fill("device", &device).await;
    let show = b
        .client
        .find(Locator::Css("form.filters button[type='submit']"))
        .await
        .unwrap();
    b.click_and_wait(show).await;
    let query = format!(
        "{period}&operator={operator}&{}",
        serde_urlencoded::to_string([("device", &device)]).unwrap()
    );
    let doc = api_count(query).await;
    assert_eq!(
        b.dashboard_value("Index procedures").await,
        doc["cohort"]["index_procedures"].to_string()
    );
    let text = b.text().await;
    assert!(text.contains(&format!("device system {device}")), "{text}");
    b.screenshot("23-dashboard-operator-and-device").await;

    // Printed on A4: each section a block kept whole, the stamp on every
    // page; the whole view of both sites in a bounded number of sheets.
    b.goto("/dashboard").await;
    // WebDriver prints with margins of its own (1 cm): those of the
    // stylesheet's @page, as a browser's print dialog takes them.
    let pdf = b
        .client
        .print(
            fantoccini::wd::PrintConfigurationBuilder::default()
                .margins(fantoccini::wd::PrintMargins {
                    top: 1.5,
                    bottom: 2.2,
                    left: 1.2,
                    right: 1.2,
                })
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    std::fs::write(b.shots.join("24-dashboard-print.pdf"), &pdf).unwrap();
    let pages = count_pages(&pdf);
    eprintln!("the dashboard of two sites prints on {pages} A4 pages");
    assert!((1..=32).contains(&pages), "{pages} pages");
    stamp_on_every_sheet(&b.shots.join("24-dashboard-print.pdf"), pages, "gov.two");
    // The compliance view prints the same way.
    b.goto(&format!("/sites/{first}/compliance")).await;
    let pdf = b
        .client
        .print(
            fantoccini::wd::PrintConfigurationBuilder::default()
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    std::fs::write(b.shots.join("25-compliance-print.pdf"), &pdf).unwrap();
    let pages = count_pages(&pdf);
    stamp_on_every_sheet(&b.shots.join("25-compliance-print.pdf"), pages, "gov.two");

    let Browser { ref client, .. } = b;
    client.clone().close().await.unwrap();
    drop(b);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// The sheets of a PDF that Chromium printed.
fn count_pages(pdf: &[u8]) -> usize {
    let count = |needle: &[u8]| pdf.windows(needle.len()).filter(|w| *w == needle).count();
    count(b"/Type /Page") - count(b"/Type /Pages")
}

/// Who printed it, when and the data version on every sheet of a printed
/// page, read back from the PDF (poppler's pdftotext; CI installs it).
fn stamp_on_every_sheet(printed: &Path, pages: usize, who: &str) {
    match Command::new("pdftotext").arg(printed).arg("-").output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let sheets: Vec<&str> = text
                .split('\u{c}')
                .filter(|sheet| !sheet.trim().is_empty())
                .collect();
            assert_eq!(sheets.len(), pages, "pdftotext's sheets of {printed:?}");
            for (number, sheet) in sheets.iter().enumerate() {
                let flat = sheet.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    flat.contains(&format!("Printed from the pDVA registry by {who}"))
                        && flat.contains("data version"),
                    "sheet {} of {pages} of {printed:?} has no print stamp: {flat}",
                    number + 1
                );
            }
        }
        _ => assert!(
            std::env::var_os("PDVA_REQUIRE_PDF_TOOLS").is_none(),
            "pdftotext is needed to read the printed page back"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preoperative_baseline_and_quality_of_life_are_taken_up_by_the_procedure() {
    let world = world().await;
    let store = world.store.clone();
    user(&store, "clin.ngh", Role::Clinician, ngh()).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pdva_web::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    let Some(b) = Browser::start(base).await else {
        return;
    };
    b.sign_in("clin.ngh").await;

    // A patient seen at the pre-operative assessment: registered and
    // consented, no procedure yet.
    b.goto("/patients").await;
    b.click_link("Register a patient at NGH").await;
    for (name, value) in [
        ("nhs_number", "999 000 0034"),
        ("hospital_number", "HN-PREOP-1"),
        ("family_name", "Ashdown-Pike"),
        ("given_name", "Rosalind"),
        ("date_of_birth", "1950-05-17"),
        ("sex", "female"),
    ] {
        b.fill(name, value).await;
    }
    b.submit().await;
    let patient_path = b.path().await;
    assert!(patient_path.starts_with("/patients/"), "{patient_path}");
    let patient: pdva_domain::RecordId = patient_path
        .trim_start_matches("/patients/")
        .parse()
        .unwrap();
    b.click_link("Consent").await;
    b.record(&[
        ("consent_date", "2025-03-01"),
        ("taken_by", ""),
        ("uncertainties_explained", "yes"),
        ("information_given", "nice_information_for_the_public"),
        ("shared_decision_making_documented", "yes"),
        ("lacks_capacity", "no"),
        ("registry_data_consent", "yes"),
        ("research_consent", "yes"),
    ])
    .await;

    // The baseline form says at the top that there is no procedure yet and
    // asks for the limb; no procedure list stands empty.
    b.click_link("Baseline and patient selection").await;
    let note = b
        .client
        .find(Locator::Id("preoperative-note"))
        .await
        .expect("the pre-operative note")
        .text()
        .await
        .unwrap();
    assert!(
        note.starts_with("No index procedure is recorded for this patient yet"),
        "{note}"
    );
    assert!(
        b.client
            .find(Locator::Css("main [name='procedure_id']"))
            .await
            .is_err(),
        "a procedure list no one can fill"
    );
    b.screenshot("30-preoperative-baseline-form").await;
    b.record(&[
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
    ])
    .await;
    b.click_link("Quality of life").await;
    assert!(
        b.text()
            .await
            .contains("No index procedure is recorded for this patient yet")
    );
    b.screenshot("31-preoperative-quality-of-life-form").await;
    b.record(&[
        ("index_limb", "left"),
        ("assessment_date", "2025-03-04"),
        ("vascuqol_1", "2"),
        ("vascuqol_2", "2"),
        ("vascuqol_3", "3"),
        ("vascuqol_4", "1"),
        ("vascuqol_5", "2"),
        ("vascuqol_6", "3"),
        ("eq_vas", "45"),
    ])
    .await;
    let waiting = b.text().await;
    assert_eq!(
        waiting
            .matches("pre-operative, waiting for the limb's index procedure")
            .count(),
        2,
        "{waiting}"
    );
    assert_eq!(b.timeline_limbs().await, ["Patient", "Left", "Left"]);
    b.screenshot("32-preoperative-records-waiting").await;

    // The index procedure of the left limb takes both up.
    b.click_link("Index procedure").await;
    b.record(&[
        ("procedure_date", "2025-03-12"),
        ("index_limb", "left"),
        ("primary_operator", ""),
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
    ])
    .await;
    let taken_up = b.text().await;
    assert!(!taken_up.contains("waiting for the limb"), "{taken_up}");
    assert!(
        taken_up.contains("taken up by the left limb's index procedure of 2025-03-12"),
        "{taken_up}"
    );
    assert_eq!(
        b.timeline_limbs().await,
        ["Patient", "Left", "Left", "Left"]
    );
    let file = store.patient_file(patient).await.unwrap();
    let (left, _) = file.procedures().next().expect("the procedure");
    let linked: Vec<_> = file
        .records
        .iter()
        .filter(|(_, r)| {
            matches!(
                r,
                pdva_domain::ClinicalRecord::Baseline(_)
                    | pdva_domain::ClinicalRecord::QualityOfLife(_)
            )
        })
        .map(|(_, r)| r.procedure_id())
        .collect();
    assert_eq!(linked, [Some(left), Some(left)]);
    b.screenshot("33-preoperative-records-taken-up").await;

    let Browser { ref client, .. } = b;
    client.clone().close().await.unwrap();
    drop(b);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
