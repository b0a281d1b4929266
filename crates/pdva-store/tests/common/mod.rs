//! Test harness: a fresh database per test on each engine, and valid
//! domain records to start from.
#![allow(dead_code)]

use chrono::NaiveDate;
use pdva_domain::codes::*;
use pdva_domain::values::*;
use pdva_domain::*;
use pdva_store::{Actor, Store, db::Engine};

/// A fresh, empty registry; removed again when dropped.
pub struct TestDb {
    pub store: Store,
    /// The SQLite file (SQLite only).
    pub sqlite_file: Option<std::path::PathBuf>,
    /// The key file the store was opened with.
    pub key_file: std::path::PathBuf,
    /// The database URL the store was opened with.
    pub url: String,
    pub cleanup: Option<(String, String)>, // (postgres base url, schema)
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let store = Store::open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(store.engine(), Engine::Sqlite);
        TestDb {
            store,
            key_file: pdva_store::default_key_file(path.to_str().unwrap()),
            url: path.to_str().unwrap().to_owned(),
            sqlite_file: Some(path),
            cleanup: None,
            _dir: Some(dir),
        }
    }

    /// A fresh schema in the PostgreSQL database named by
    /// PDVA_TEST_POSTGRES_URL, or `None` when it is not set.
    pub async fn postgres() -> Option<TestDb> {
        let base = match std::env::var("PDVA_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                eprintln!("SKIPPED on PostgreSQL: PDVA_TEST_POSTGRES_URL is not set");
                return None;
            }
        };
        let schema = format!("pdva_test_{}", uuid::Uuid::new_v4().simple());
        pdva_store::db::execute_on(&base, &format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let url = pdva_store::db::with_search_path(&base, &schema);
        // The key file in a directory of the test's own, not the working
        // directory where a postgres:// URL's key file goes by default.
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("test.key");
        let store = Store::open_with_key_file(&url, &key_file).await.unwrap();
        assert_eq!(store.engine(), Engine::Postgres);
        Some(TestDb {
            store,
            key_file,
            url,
            sqlite_file: None,
            cleanup: Some((base, schema)),
            _dir: Some(dir),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.cleanup.take() {
            let pool = self.store.pool().clone();
            // Drop the schema from a thread of its own: Drop cannot await.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    pool.close().await;
                    let _ =
                        pdva_store::db::execute_on(&base, &format!("DROP SCHEMA {schema} CASCADE"))
                            .await;
                });
            })
            .join()
            .unwrap();
        }
    }
}

/// Runs one async test body on SQLite and, when configured, on PostgreSQL.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = common::TestDb::sqlite().await;
                ($body)(db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = common::TestDb::postgres().await {
                    ($body)(db).await;
                }
            }
        }
    };
}

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn today() -> NaiveDate {
    d("2026-06-30")
}

pub fn actor() -> Actor {
    Actor::new("test.clinician")
}

pub fn site(code: &str) -> Site {
    Site {
        site_code: SiteCode::parse(code).unwrap(),
        name: RequiredText::parse_for("name", "Test General Hospital").unwrap(),
        country: CountryCode::parse("GB").unwrap(),
        ods_code: None,
        governance_lead_name: Some("Dr Governance".into()),
        governance_lead_informed_on: Some(d("2023-11-01")),
        min_proctored_cases: 5,
    }
}

pub fn clinician(site_code: &str) -> Clinician {
    Clinician {
        display_name: RequiredText::parse_for("display_name", "Ms A Surgeon").unwrap(),
        professional_registration: Some("1234567".into()),
        specialty: Specialty::VascularSurgeon,
        sites: vec![SiteCode::parse(site_code).unwrap()],
        pdva_training_completed_on: Some(d("2023-01-10")),
        pdva_training_description: Some("Proctoring programme".into()),
        proctored_cases: 8,
    }
}

pub fn patient(site_code: &str, nhs: &str) -> Patient {
    Patient {
        registry_id: RegistryId::from_random(rand_bits()),
        nhs_number: Some(NhsNumber::parse(nhs).unwrap()),
        hospital_number: Some("H123".into()),
        family_name: Some("Testperson".into()),
        given_name: Some("Alex".into()),
        date_of_birth: d("1954-03-02"),
        sex: Sex::Male,
        home_site: SiteCode::parse(site_code).unwrap(),
        follow_up_ended_on: None,
        follow_up_end_reason: None,
    }
}

fn rand_bits() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

pub fn consent(taken_by: RecordId, date: &str) -> ClinicalRecord {
    ClinicalRecord::Consent(Consent {
        consent_date: d(date),
        taken_by,
        uncertainties_explained: true,
        information_given: vec![InformationGiven::NiceInformationForThePublic],
        information_version: Some("IPG773 IFP 2023".into()),
        shared_decision_making_documented: true,
        lacks_capacity: false,
        best_interests_decision_documented: None,
        registry_data_consent: RegistryDataConsent::Yes,
        research_consent: ResearchConsent::Yes,
        research_consent_withdrawn_on: None,
    })
}

pub fn procedure(operator: RecordId, date: &str, limb: Limb) -> ClinicalRecord {
    ClinicalRecord::Procedure(IndexProcedure {
        procedure_date: d(date),
        index_limb: limb,
        primary_operator: operator,
        second_operator: None,
        proctor: None,
        anaesthesia: Anaesthesia::General,
        device_system: RequiredText::parse_for("device_system", "Synthetic pDVA system").unwrap(),
        device_lot: None,
        arterial_access: ArterialAccess::AntegradeCommonFemoral,
        venous_access: VenousAccess::RetrogradeTibialVein,
        target_artery: TibialVessel::PosteriorTibial,
        target_vein: TibialVessel::PosteriorTibial,
        crossover_level: CrossoverLevel::DistalCalf,
        fistula_created: true,
        valvulotomy: true,
        valvulotomy_extent: Some(ValvulotomyExtent::CrossoverToForefoot),
        venous_stents_count: Some(VenousStentCount::new(2).unwrap()),
        stented_length_mm: Some(StentedLength::new(120).unwrap()),
        crossing_stent: Some(true),
        completion_angiography: true,
        venous_arch_flow: Some(VenousArchFlow::Complete),
        procedure_minutes: Some(ProcedureMinutes::new(150).unwrap()),
        fluoroscopy_minutes: Some(NonNegative::new(40.0).unwrap()),
        contrast_ml: Some(120),
        air_kerma_mgy: None,
        dap_gycm2: None,
        discharge_date: None,
    })
}

pub fn visit(procedure_id: RecordId, date: &str, limb_status: LimbStatus) -> ClinicalRecord {
    ClinicalRecord::FollowUpVisit(FollowUpVisit {
        procedure_id,
        visit_date: d(date),
        contact: ContactMode::InPerson,
        limb_status,
        wound_status: Some(WoundStatus::Healing),
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

pub fn death(date: &str) -> ClinicalRecord {
    ClinicalRecord::Death(Death {
        date: d(date),
        cause: CauseOfDeath::Cardiovascular,
        procedure_related: Some(YesNoUnknown::No),
    })
}

pub fn amputation(procedure_id: RecordId, date: &str, level: AmputationLevel) -> ClinicalRecord {
    ClinicalRecord::Amputation(Amputation {
        procedure_id,
        date: d(date),
        limb: Limb::Right,
        level,
        revision: false,
        reason: None,
    })
}

/// A registry with one site, one clinician and one patient with consent
/// and a right-limb index procedure on 2025-01-15.
pub struct Seeded {
    pub clinician: RecordId,
    pub patient: RecordId,
    pub procedure: RecordId,
}

/// Site TST, a clinician of it and a consented patient with no index
/// procedure yet: the clinician and the patient.
pub async fn seed_patient(store: &Store) -> (RecordId, RecordId) {
    let actor = actor();
    store.create_site(&actor, site("TST")).await.unwrap();
    let clinician = store
        .create_clinician(&actor, clinician("TST"))
        .await
        .unwrap();
    let patient = store
        .save_patient(
            &actor,
            pdva_store::Change::create(patient("TST", "9990000018")),
            today(),
        )
        .await
        .unwrap()
        .id;
    store
        .save_clinical(
            &actor,
            patient,
            pdva_store::Change::create(consent(clinician, "2025-01-02")),
            today(),
        )
        .await
        .unwrap();
    (clinician, patient)
}

pub async fn seed(store: &Store) -> Seeded {
    let actor = actor();
    let (clinician, patient) = seed_patient(store).await;
    let procedure = store
        .save_clinical(
            &actor,
            patient,
            pdva_store::Change::create(procedure(clinician, "2025-01-15", Limb::Right)),
            today(),
        )
        .await
        .unwrap()
        .id;
    Seeded {
        clinician,
        patient,
        procedure,
    }
}
