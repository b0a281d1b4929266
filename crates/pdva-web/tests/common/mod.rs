//! Test harness of the web crate: a registry with two sites, a patient at
//! each, users of every role, and requests made in process with a session.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use pdva_domain::codes::*;
use pdva_domain::values::*;
use pdva_domain::*;
use pdva_store::{Actor, Change, NewUser, Password, Role, SiteAccess, Store, User, Username};
use tower::ServiceExt;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery staple";
/// The host the in-process requests name.
pub const HOST: &str = "registry.test";

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn site(code: &str) -> Site {
    Site {
        site_code: SiteCode::parse(code).unwrap(),
        name: RequiredText::parse_for("name", &format!("{code} General Hospital")).unwrap(),
        country: CountryCode::parse("GB").unwrap(),
        ods_code: None,
        governance_lead_name: Some("Dr Governance".into()),
        governance_lead_informed_on: Some(d("2023-11-01")),
        min_proctored_cases: 5,
    }
}

pub fn clinician(site_code: &str) -> Clinician {
    Clinician {
        display_name: RequiredText::parse_for("display_name", &format!("Ms {site_code} Surgeon"))
            .unwrap(),
        professional_registration: None,
        specialty: Specialty::VascularSurgeon,
        sites: vec![SiteCode::parse(site_code).unwrap()],
        pdva_training_completed_on: Some(d("2023-01-10")),
        pdva_training_description: None,
        proctored_cases: 8,
    }
}

/// One seeded patient, with names and numbers that must never reach a
/// researcher.
pub struct SeededPatient {
    pub id: RecordId,
    pub procedure: RecordId,
    pub nhs: &'static str,
    pub family_name: &'static str,
    pub given_name: &'static str,
    pub date_of_birth: &'static str,
}

pub struct World {
    pub store: Store,
    pub a: SeededPatient,
    pub b: SeededPatient,
    pub clinician_a: RecordId,
    pub clinician_b: RecordId,
    _dir: tempfile::TempDir,
    _schema: Option<PostgresSchema>,
}

impl World {
    /// The URL of the world's SQLite file, for a test that must set what
    /// no user can (when a record was entered); `None` on PostgreSQL.
    #[allow(dead_code)]
    pub fn sqlite_url(&self) -> Option<String> {
        self._schema
            .is_none()
            .then(|| format!("sqlite://{}", self._dir.path().join("t.db").display()))
    }
}

/// A PostgreSQL schema of one test, dropped with it.
struct PostgresSchema {
    store: Store,
    base: String,
    schema: String,
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let pool = self.store.pool().clone();
        let (base, schema) = (self.base.clone(), self.schema.clone());
        // From a thread of its own: Drop cannot await.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                pool.close().await;
                let _ = pdva_store::db::execute_on(&base, &format!("DROP SCHEMA {schema} CASCADE"))
                    .await;
            });
        })
        .join()
        .unwrap();
    }
}

async fn seed_patient(
    store: &Store,
    site_code: &str,
    operator: RecordId,
    nhs: &'static str,
    family_name: &'static str,
    given_name: &'static str,
    research: ResearchConsent,
) -> SeededPatient {
    let actor = Actor::new("test.setup");
    let date_of_birth = "1951-04-17";
    let id = store
        .save_patient(
            &actor,
            Change::create(Patient {
                registry_id: RegistryId::parse(&format!("P-{site_code}-{}", &nhs[6..])).unwrap(),
                nhs_number: Some(NhsNumber::parse(nhs).unwrap()),
                hospital_number: Some(format!("HN{}", &nhs[5..])),
                family_name: Some(family_name.into()),
                given_name: Some(given_name.into()),
                date_of_birth: d(date_of_birth),
                sex: Sex::Female,
                home_site: SiteCode::parse(site_code).unwrap(),
                follow_up_ended_on: None,
                follow_up_end_reason: None,
            }),
            d("2026-06-30"),
        )
        .await
        .unwrap()
        .id;
    store
        .save_clinical(
            &actor,
            id,
            Change::create(ClinicalRecord::Consent(Consent {
                consent_date: d("2025-01-02"),
                taken_by: operator,
                uncertainties_explained: true,
                information_given: vec![InformationGiven::NiceInformationForThePublic],
                information_version: None,
                shared_decision_making_documented: true,
                lacks_capacity: false,
                best_interests_decision_documented: None,
                registry_data_consent: RegistryDataConsent::Yes,
                research_consent: research,
                research_consent_withdrawn_on: None,
            })),
            d("2026-06-30"),
        )
        .await
        .unwrap();
    let procedure = store
        .save_clinical(
            &actor,
            id,
            Change::create(ClinicalRecord::Procedure(IndexProcedure {
                procedure_date: d("2025-01-15"),
                index_limb: Limb::Right,
                primary_operator: operator,
                second_operator: None,
                proctor: None,
                anaesthesia: Anaesthesia::General,
                device_system: RequiredText::parse_for("device_system", "Test system").unwrap(),
                device_lot: None,
                arterial_access: ArterialAccess::AntegradeCommonFemoral,
                venous_access: VenousAccess::RetrogradeTibialVein,
                target_artery: TibialVessel::PosteriorTibial,
                target_vein: TibialVessel::PosteriorTibial,
                crossover_level: CrossoverLevel::DistalCalf,
                fistula_created: true,
                valvulotomy: true,
                valvulotomy_extent: None,
                venous_stents_count: None,
                stented_length_mm: None,
                crossing_stent: None,
                completion_angiography: true,
                venous_arch_flow: Some(VenousArchFlow::Complete),
                procedure_minutes: None,
                fluoroscopy_minutes: None,
                contrast_ml: None,
                air_kerma_mgy: None,
                dap_gycm2: None,
                discharge_date: None,
            })),
            d("2026-06-30"),
        )
        .await
        .unwrap()
        .id;
    SeededPatient {
        id,
        procedure,
        nhs,
        family_name,
        given_name,
        date_of_birth,
    }
}

/// Sites NGH and OTH, a clinician (operator) at each, a patient at each.
pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("t.db").to_str().unwrap())
        .await
        .unwrap();
    world_in(store, dir, None).await
}

/// The same world in a fresh schema of the PostgreSQL database named by
/// PDVA_TEST_POSTGRES_URL (dropped again with the world), or `None` when
/// it is not set: the tests that must hold on both engines run on both.
pub async fn world_postgres() -> Option<World> {
    let base = match std::env::var("PDVA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("SKIPPED on PostgreSQL: PDVA_TEST_POSTGRES_URL is not set");
            return None;
        }
    };
    let schema = format!("pdva_web_test_{}", &pdva_store::random_token()[..16]);
    pdva_store::db::execute_on(&base, &format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = pdva_store::db::with_search_path(&base, &schema);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with_key_file(&url, &dir.path().join("test.key"))
        .await
        .unwrap();
    let cleanup = PostgresSchema {
        store: store.clone(),
        base,
        schema,
    };
    Some(world_in(store, dir, Some(cleanup)).await)
}

async fn world_in(store: Store, dir: tempfile::TempDir, schema: Option<PostgresSchema>) -> World {
    let actor = Actor::new("test.setup");
    store.create_site(&actor, site("NGH")).await.unwrap();
    store.create_site(&actor, site("OTH")).await.unwrap();
    let clinician_a = store
        .create_clinician(&actor, clinician("NGH"))
        .await
        .unwrap();
    let clinician_b = store
        .create_clinician(&actor, clinician("OTH"))
        .await
        .unwrap();
    let a = seed_patient(
        &store,
        "NGH",
        clinician_a,
        "9990000018",
        "Zwiebelmann",
        "Ottilie",
        ResearchConsent::Yes,
    )
    .await;
    let b = seed_patient(
        &store,
        "OTH",
        clinician_b,
        "9990000026",
        "Quastenbury",
        "Perpetua",
        ResearchConsent::Yes,
    )
    .await;
    World {
        store,
        a,
        b,
        clinician_a,
        clinician_b,
        _dir: dir,
        _schema: schema,
    }
}

/// A user of `role` at `sites` (NGH when empty is not meant: pass the sites).
pub async fn user(store: &Store, name: &str, role: Role, sites: SiteAccess) -> User {
    store
        .create_user(
            &Actor::new("test.setup"),
            NewUser {
                username: Username::parse(name).unwrap(),
                display_name: name.into(),
                role,
                sites,
                password: Password::parse(PASSWORD).unwrap(),
                clinician: None,
            },
        )
        .await
        .unwrap()
}

pub fn ngh() -> SiteAccess {
    SiteAccess::Sites(vec![SiteCode::parse("NGH").unwrap()])
}

/// A signed-in session: the cookie header and the CSRF token.
pub struct Signed {
    pub cookie: String,
    pub csrf: String,
}

pub async fn session(store: &Store, user: &User) -> Signed {
    let s = store.start_session(user, chrono::Utc::now()).await.unwrap();
    Signed {
        cookie: format!("pdva_session={}", s.token),
        csrf: s.csrf_token,
    }
}

/// A response, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub location: String,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Answer {
    /// Whether the request got past authorisation: not refused (401, 403,
    /// 404) and not sent to sign in first.
    pub fn allowed(&self) -> bool {
        !matches!(self.status.as_u16(), 401 | 403 | 404)
            && !self.location.starts_with("/sign-in?next=")
    }
}

pub async fn send(store: &Store, request: Request<Body>) -> Answer {
    let response = pdva_web::router(store.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let set_cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        location,
        set_cookies,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub async fn get(store: &Store, path: &str, who: Option<&Signed>) -> Answer {
    let mut r = Request::get(path).header("host", HOST);
    if let Some(s) = who {
        r = r.header("cookie", &s.cookie);
    }
    send(store, r.body(Body::empty()).unwrap()).await
}

/// A form POST from this site's own page, with the session's CSRF token
/// unless `csrf` says otherwise.
pub async fn post(
    store: &Store,
    path: &str,
    who: Option<&Signed>,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
) -> Answer {
    let mut pairs: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if let Some(token) = csrf {
        pairs.push(("_csrf".into(), token.to_owned()));
    }
    let body = serde_urlencoded::to_string(&pairs).unwrap();
    let mut r = Request::post(path)
        .header("host", HOST)
        .header("origin", format!("http://{HOST}"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(s) = who {
        r = r.header("cookie", &s.cookie);
    }
    send(store, r.body(Body::from(body)).unwrap()).await
}

/// An in-person follow-up visit of `procedure` on `date` with the limb
/// intact, and nothing else recorded.
pub fn in_person_visit(procedure: RecordId, date: &str) -> ClinicalRecord {
    ClinicalRecord::FollowUpVisit(FollowUpVisit {
        procedure_id: procedure,
        visit_date: d(date),
        contact: ContactMode::InPerson,
        limb_status: LimbStatus::Intact,
        wound_status: None,
        largest_wound_area_cm2: None,
        rutherford_category: None,
        wifi_wound: None,
        wifi_ischaemia: None,
        wifi_foot_infection: None,
        toe_pressure_mmhg: None,
        tcpo2_mmhg: None,
        pain_score: None,
        ambulatory_status: None,
        circuit_patency: None,
    })
}

/// The date the synthetic registries are generated for.
pub fn synthetic_today() -> NaiveDate {
    d("2026-06-30")
}

/// A registry of `patients` synthetic patients in a temporary SQLite file.
pub async fn synthetic_registry(
    dir: &tempfile::TempDir,
    patients: usize,
) -> (Store, pdva_synth::Generator) {
    let store = Store::open(dir.path().join("t.db").to_str().unwrap())
        .await
        .unwrap();
    let actor = Actor::new("test");
    let mut generator = pdva_synth::Generator::new(pdva_synth::GeneratorConfig {
        patients,
        seed: 7,
        today: synthetic_today(),
    });
    let reference = generator.reference();
    let mut records: Vec<(RecordId, pdva_store::AnyRecord)> = Vec::new();
    records.extend(
        reference
            .sites
            .iter()
            .map(|(id, s)| (*id, pdva_store::AnyRecord::Site(s.clone()))),
    );
    records.extend(
        reference
            .clinicians
            .iter()
            .map(|(id, c)| (*id, pdva_store::AnyRecord::Clinician(c.clone()))),
    );
    store.import_reference(&actor, &records).await.unwrap();
    let reference_data = generator.reference_data();
    while let Some(batch) = generator.next_batch(100) {
        store
            .import_patient_files(&actor, &batch.files, &reference_data, synthetic_today())
            .await
            .unwrap();
    }
    (store, generator)
}
