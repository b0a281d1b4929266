//! Data-entry forms: each instrument of DOMAIN.md section 4 is a list of
//! fields (label, unit, help, choices from the code enums), parsed at the
//! edge into the domain's types with their own `parse_for` constructors, so
//! that every error names the field, the value and the rule. A refused
//! submission comes back with every value as typed.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use pdva_domain::codes::*;
use pdva_domain::values::*;
use pdva_domain::{ClinicalRecord, FieldError, Finding, RecordId, RecordKind};
use serde_json::{Map, Value};

/// A choice offered by a select or a checkbox list: (stored code, label).
pub(crate) type Choice = (String, String);

/// Parses a typed value with the domain's constructor into the JSON the
/// domain type itself serialises to.
type Check = fn(&'static str, &str) -> Result<Value, FieldError>;

/// The code a stored (serialised) value of a code set stands for.
type ToCode = fn(&Value) -> Option<String>;

/// The JSON of a domain value.
fn json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("domain values serialise")
}

/// How a field is entered.
#[derive(Clone, Copy)]
pub(crate) enum Input {
    /// A heading between groups of fields.
    Heading,
    /// A date (YYYY-MM-DD).
    Date,
    /// A whole number, checked by the domain type's constructor if any.
    Int(Option<Check>),
    /// A decimal, checked by the domain type's constructor.
    Decimal(Check),
    /// One line of text, checked if need be.
    Text(Option<Check>),
    /// Free text.
    TextArea,
    /// A yes/no answer that is required.
    YesNo,
    /// A yes/no answer that may be left unrecorded.
    OptYesNo,
    /// One of a code set.
    Choice(fn() -> Vec<Choice>, Check, ToCode),
    /// Any of a code set.
    Choices(fn() -> Vec<Choice>, Check, ToCode),
    /// A clinician of the patient's site.
    Clinician,
    /// One of the patient's index procedures.
    Procedure,
    /// Any of the registry's sites (codes).
    Sites,
}

/// One field of a form.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    /// Data-dictionary name (the form field's name too).
    pub name: &'static str,
    /// Label in clinical language.
    pub label: &'static str,
    /// How it is entered.
    pub input: Input,
    /// Required.
    pub required: bool,
    /// Unit shown after the input.
    pub unit: &'static str,
    /// Help for the clinician.
    pub help: &'static str,
}

const fn f(name: &'static str, label: &'static str, input: Input, required: bool) -> Field {
    Field {
        name,
        label,
        input,
        required,
        unit: "",
        help: "",
    }
}

const fn heading(label: &'static str) -> Field {
    f("", label, Input::Heading, false)
}

impl Field {
    const fn unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }
    const fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }
}

macro_rules! codes {
    ($t:ty) => {
        || {
            <$t>::ALL
                .iter()
                .map(|c| (c.as_code().to_owned(), c.label().to_owned()))
                .collect()
        }
    };
}
macro_rules! to_code {
    ($t:ty) => {
        |v| {
            serde_json::from_value::<$t>(v.clone())
                .ok()
                .map(|c| c.as_code().to_owned())
        }
    };
}
macro_rules! choice {
    ($t:ty) => {
        Input::Choice(
            codes!($t),
            |f, s| <$t>::parse_for(f, s).map(json),
            to_code!($t),
        )
    };
}
macro_rules! choices {
    ($t:ty) => {
        Input::Choices(
            codes!($t),
            |f, s| <$t>::parse_for(f, s).map(json),
            to_code!($t),
        )
    };
}
macro_rules! int {
    ($t:ty) => {
        Input::Int(Some(|f, s| <$t>::parse_for(f, s).map(json)))
    };
}
macro_rules! dec {
    ($t:ty) => {
        Input::Decimal(|f, s| <$t>::parse_for(f, s).map(json))
    };
}

const WIFI_WOUND_HELP: &str = "SVS WIfI wound: 0 no ulcer or gangrene (rest pain only); 1 small shallow ulcer, no exposed bone unless distal phalanx, no gangrene; 2 deeper ulcer with exposed bone, joint or tendon (not heel), shallow heel ulcer, or gangrene limited to digits; 3 extensive deep ulcer of forefoot or midfoot, deep heel ulcer, or extensive gangrene.";
const WIFI_ISCHAEMIA_HELP: &str = "SVS WIfI ischaemia (worst of the measured values; ignore an ABI above 1.4): 0 ABI ≥ 0.80, ankle > 100, toe pressure or TcPO2 ≥ 60 mmHg; 1 ABI 0.60–0.79, ankle 70–100, toe/TcPO2 40–59; 2 ABI 0.40–0.59, ankle 50–70, toe/TcPO2 30–39; 3 ABI ≤ 0.39, ankle < 50, toe/TcPO2 < 30.";
const WIFI_INFECTION_HELP: &str = "SVS WIfI foot infection: 0 none; 1 local, skin and subcutis only, erythema 0.5–2 cm; 2 local, erythema > 2 cm or deeper structures, no SIRS; 3 local infection with systemic inflammatory response (2 or more SIRS signs).";
const RUTHERFORD_HELP: &str = "Rutherford category: 0 asymptomatic; 1 mild, 2 moderate, 3 severe claudication; 4 ischaemic rest pain; 5 minor tissue loss (non-healing ulcer, focal gangrene); 6 major tissue loss above the transmetatarsal level. CLTI is 4–6.";

/// A typed date: strictly `YYYY-MM-DD` (the domain's parser), and a date
/// of birth also from 1900-01-01 on (DOMAIN.md 4.3).
fn date_check(field: &'static str, s: &str) -> Result<NaiveDate, FieldError> {
    if field == "date_of_birth" {
        parse_date_of_birth(s)
    } else {
        parse_iso_date(field, s)
    }
}

/// The patient registration form (4.3); the registry id is assigned and the
/// home site is the site the form was opened for.
pub(crate) const PATIENT: &[Field] = &[
    f(
        "nhs_number",
        "NHS number",
        Input::Text(Some(|f, s| {
            NhsNumber::parse(s).map(json).map_err(|mut e| {
                e.field = f;
                e
            })
        })),
        false,
    )
    .help("10 digits; leave empty at non-UK sites or when the patient declined registry data consent."),
    f("hospital_number", "Hospital number", Input::Text(None), false),
    f("family_name", "Family name", Input::Text(None), false),
    f("given_name", "Given name", Input::Text(None), false),
    f("date_of_birth", "Date of birth", Input::Date, true),
    f("sex", "Sex", choice!(Sex), true),
];

/// The patient's details when amended: as at registration, plus the end of
/// lifelong follow-up (4.3).
pub(crate) const PATIENT_EDIT: &[Field] = &[
    PATIENT[0],
    PATIENT[1],
    PATIENT[2],
    PATIENT[3],
    PATIENT[4],
    PATIENT[5],
    heading("End of follow-up"),
    f("follow_up_ended_on", "Follow-up ended on", Input::Date, false)
        .help("Lifelong follow-up stops only here: the patient withdrew from follow-up, moved away or was transferred out. Leave empty otherwise; death is recorded as an event."),
    f("follow_up_end_reason", "Why follow-up ended", choice!(FollowUpEndReason), false)
        .help("Required with the date."),
];

const CONSENT: &[Field] = &[
    f("consent_date", "Date consent was taken", Input::Date, true),
    f("taken_by", "Consent taken by", Input::Clinician, true),
    f(
        "uncertainties_explained",
        "Safety, efficacy and their uncertainties explained",
        Input::YesNo,
        true,
    )
    .help("NICE IPG773 1.2: the patient understands the procedure's safety and efficacy and the uncertainties about them."),
    f("information_given", "Information given", choices!(InformationGiven), true),
    f("information_version", "Version or date of the information", Input::Text(None), false),
    f(
        "shared_decision_making_documented",
        "Shared decision making documented",
        Input::YesNo,
        true,
    ),
    f("lacks_capacity", "The patient lacked capacity to consent", Input::YesNo, true),
    f(
        "best_interests_decision_documented",
        "Best-interests decision documented",
        Input::OptYesNo,
        false,
    )
    .help("Required when the patient lacked capacity."),
    f("registry_data_consent", "Registry data consent", choice!(RegistryDataConsent), true),
    f("research_consent", "Research consent", choice!(ResearchConsent), true),
    f(
        "research_consent_withdrawn_on",
        "Research consent withdrawn on",
        Input::Date,
        false,
    ),
];

const PROCEDURE: &[Field] = &[
    f("procedure_date", "Procedure date", Input::Date, true),
    f("index_limb", "Index limb", choice!(Limb), true),
    f("primary_operator", "Primary operator", Input::Clinician, true),
    f("second_operator", "Second operator", Input::Clinician, false),
    f("proctor", "Proctor", Input::Clinician, false),
    f("anaesthesia", "Anaesthesia", choice!(Anaesthesia), true),
    f("device_system", "Device system", Input::Text(Some(|f, s| RequiredText::parse_for(f, s).map(json))), true)
        .help("Name and model of the system used."),
    f("device_lot", "Device lot", Input::Text(None), false),
    heading("Technique"),
    f("arterial_access", "Arterial access", choice!(ArterialAccess), true),
    f("venous_access", "Venous access", choice!(VenousAccess), true),
    f("target_artery", "Target artery", choice!(TibialVessel), true),
    f("target_vein", "Target vein", choice!(TibialVessel), true),
    f("crossover_level", "Crossover level", choice!(CrossoverLevel), true),
    f("fistula_created", "Fistula created", Input::YesNo, true),
    f("valvulotomy", "Valvulotomy", Input::YesNo, true),
    f("valvulotomy_extent", "Extent of valvulotomy", choice!(ValvulotomyExtent), false),
    f("venous_stents_count", "Venous stents placed", int!(VenousStentCount), false),
    f("stented_length_mm", "Stented length", int!(StentedLength), false).unit("mm"),
    f("crossing_stent", "Crossing stent used", Input::OptYesNo, false),
    f("completion_angiography", "Completion angiography", Input::YesNo, true),
    f("venous_arch_flow", "Arterialised flow into the deep venous arch", choice!(VenousArchFlow), false)
        .help("Technical success is a fistula created with complete or partial flow into the deep venous arch."),
    heading("Duration, dose and discharge"),
    f("procedure_minutes", "Procedure duration", int!(ProcedureMinutes), false).unit("minutes"),
    f("fluoroscopy_minutes", "Fluoroscopy time", dec!(NonNegative), false).unit("minutes"),
    f("contrast_ml", "Contrast", Input::Int(None), false).unit("ml"),
    f("air_kerma_mgy", "Air kerma", dec!(NonNegative), false).unit("mGy"),
    f("dap_gycm2", "Dose–area product", dec!(NonNegative), false).unit("Gy·cm²"),
    f("discharge_date", "Discharge date", Input::Date, false),
];

/// Why the baseline and quality-of-life forms ask for the limb, not the
/// procedure: they are recorded before the procedure exists (DOMAIN.md 4.5).
const INDEX_LIMB_HELP: &str = "The limb to be treated. If its index procedure is \
    recorded, this belongs to it; if not yet, it waits for it and the procedure \
    takes it up when it is recorded.";

const BASELINE: &[Field] = &[
    f("index_limb", "Index limb", choice!(Limb), true).help(INDEX_LIMB_HELP),
    f("assessment_date", "Assessment date", Input::Date, true),
    heading("Limb"),
    f(
        "rutherford_category",
        "Rutherford category",
        int!(RutherfordCategory),
        true,
    )
    .help(RUTHERFORD_HELP),
    f("wifi_wound", "WIfI wound grade", int!(WifiGrade), true).help(WIFI_WOUND_HELP),
    f(
        "wifi_ischaemia",
        "WIfI ischaemia grade",
        int!(WifiGrade),
        true,
    )
    .help(WIFI_ISCHAEMIA_HELP),
    f(
        "wifi_foot_infection",
        "WIfI foot infection grade",
        int!(WifiGrade),
        true,
    )
    .help(WIFI_INFECTION_HELP),
    f("rest_pain", "Ischaemic rest pain", Input::OptYesNo, false),
    f("pain_score", "Pain score", int!(PainScore), false)
        .help("0 (no pain) to 10 (worst imaginable), numeric rating scale."),
    f("wound_count", "Number of wounds", Input::Int(None), false),
    f(
        "largest_wound_area_cm2",
        "Largest wound area",
        dec!(Positive),
        false,
    )
    .unit("cm²"),
    f(
        "wound_locations",
        "Wound locations",
        choices!(WoundLocation),
        false,
    ),
    f("gangrene", "Gangrene", choice!(Gangrene), false),
    heading("Perfusion"),
    f("abi", "Ankle–brachial index", dec!(Abi), false)
        .help("Above 1.4 suggests incompressible vessels: record the toe pressure."),
    f(
        "ankle_systolic_pressure_mmhg",
        "Ankle systolic pressure",
        int!(AnklePressure),
        false,
    )
    .unit("mmHg"),
    f(
        "toe_pressure_mmhg",
        "Toe pressure",
        int!(ToePressure),
        false,
    )
    .unit("mmHg"),
    f("tcpo2_mmhg", "TcPO2", int!(Tcpo2), false).unit("mmHg"),
    heading("Comorbidity"),
    f("diabetes", "Diabetes", choice!(Diabetes), true),
    f(
        "dialysis_dependent",
        "Dependent on dialysis",
        Input::YesNo,
        true,
    )
    .help("NICE IPG773 1.4 asks for the number dependent on dialysis."),
    f("ckd_stage", "CKD stage", int!(CkdStage), false),
    f("hypertension", "Hypertension", Input::OptYesNo, false),
    f("hyperlipidaemia", "Hyperlipidaemia", Input::OptYesNo, false),
    f(
        "coronary_artery_disease",
        "Coronary artery disease",
        Input::OptYesNo,
        false,
    ),
    f("heart_failure", "Heart failure", Input::OptYesNo, false),
    f("prior_stroke", "Prior stroke", Input::OptYesNo, false),
    f("copd", "COPD", Input::OptYesNo, false),
    f("smoking", "Smoking", choice!(Smoking), false),
    f("height_cm", "Height", dec!(Positive), false).unit("cm"),
    f("weight_kg", "Weight", dec!(Positive), false).unit("kg"),
    f(
        "ambulatory_status",
        "Ambulatory status",
        choice!(AmbulatoryStatus),
        false,
    ),
    f(
        "clinical_frailty_scale",
        "Clinical Frailty Scale",
        int!(ClinicalFrailtyScale),
        false,
    )
    .help("1 (very fit) to 9 (terminally ill)."),
    heading("Patient selection"),
    f(
        "no_option_reasons",
        "Why there was no ordinary revascularisation option",
        choices!(NoOptionReason),
        true,
    ),
    f(
        "mdt_decision_date",
        "Multidisciplinary team decision date",
        Input::Date,
        false,
    ),
    f(
        "prior_revascularisations_index_limb",
        "Prior revascularisations of the index limb",
        Input::Int(None),
        false,
    ),
    f(
        "prior_minor_amputation_index_limb",
        "Prior minor amputation of the index limb",
        Input::OptYesNo,
        false,
    ),
    f(
        "pedal_venous_anatomy_confirmed",
        "Pedal venous anatomy confirmed suitable",
        Input::YesNo,
        true,
    )
    .help("NICE IPG773 2.4."),
    f(
        "venous_imaging",
        "Venous imaging",
        choice!(VenousImaging),
        false,
    ),
];

const THERAPY: &[Field] = &[
    f("procedure_id", "Index procedure", Input::Procedure, true),
    f("drug", "Drug", choice!(AntithromboticDrug), true),
    f("dose", "Dose", Input::Text(None), false),
    f("start_date", "Start date", Input::Date, true),
    f("stop_date", "Stop date", Input::Date, false)
        .help("Leave empty while the drug is continued."),
    f("stop_reason", "Why stopped", choice!(StopReason), false),
];

const VISIT: &[Field] = &[
    f("procedure_id", "Index procedure", Input::Procedure, true),
    f("visit_date", "Visit date", Input::Date, true),
    f("contact", "Contact", choice!(ContactMode), true),
    f("limb_status", "Index limb", choice!(LimbStatus), true)
        .help("Record a major amputation as an amputation event too."),
    f("wound_status", "Wound", choice!(WoundStatus), false),
    f(
        "largest_wound_area_cm2",
        "Largest wound area",
        dec!(Positive),
        false,
    )
    .unit("cm²"),
    f(
        "rutherford_category",
        "Rutherford category",
        int!(RutherfordCategory),
        false,
    )
    .help(RUTHERFORD_HELP),
    f("wifi_wound", "WIfI wound grade", int!(WifiGrade), false).help(WIFI_WOUND_HELP),
    f(
        "wifi_ischaemia",
        "WIfI ischaemia grade",
        int!(WifiGrade),
        false,
    )
    .help(WIFI_ISCHAEMIA_HELP),
    f(
        "wifi_foot_infection",
        "WIfI foot infection grade",
        int!(WifiGrade),
        false,
    )
    .help(WIFI_INFECTION_HELP),
    f(
        "toe_pressure_mmhg",
        "Toe pressure",
        int!(ToePressure),
        false,
    )
    .unit("mmHg"),
    f("tcpo2_mmhg", "TcPO2", int!(Tcpo2), false).unit("mmHg"),
    f("pain_score", "Pain score", int!(PainScore), false)
        .help("0 (no pain) to 10 (worst imaginable)."),
    f(
        "ambulatory_status",
        "Ambulatory status",
        choice!(AmbulatoryStatus),
        false,
    ),
    f(
        "circuit_patency",
        "Circuit patency (duplex)",
        choice!(CircuitPatency),
        false,
    ),
];

const AMPUTATION: &[Field] = &[
    f("procedure_id", "Index procedure", Input::Procedure, true),
    f("date", "Date of amputation", Input::Date, true),
    f("limb", "Limb", choice!(Limb), true),
    f("level", "Level", choice!(AmputationLevel), true).help(
        "Syme and above are major amputations; toe, ray, transmetatarsal and midfoot are minor.",
    ),
    f(
        "revision",
        "Revision of an earlier amputation at the same level",
        Input::YesNo,
        true,
    ),
    f("reason", "Reason", Input::TextArea, false),
];

const REINTERVENTION: &[Field] = &[
    f("procedure_id", "Index procedure", Input::Procedure, true),
    f("date", "Date", Input::Date, true),
    f("limb", "Limb", choice!(Limb), true),
    f(
        "planned",
        "Planned (staged or scheduled in advance)",
        Input::YesNo,
        true,
    )
    .help("No if clinically driven."),
    f("kind", "What was done", choice!(ReinterventionKind), true),
    f(
        "related_to_pdva",
        "Related to pDVA",
        choice!(YesNoUnknown),
        false,
    ),
];

const DEATH: &[Field] = &[
    f("date", "Date of death", Input::Date, true),
    f("cause", "Cause", choice!(CauseOfDeath), true),
    f(
        "procedure_related",
        "Related to the procedure",
        choice!(YesNoUnknown),
        false,
    ),
];

const ADVERSE_EVENT: &[Field] = &[
    f("procedure_id", "Index procedure", Input::Procedure, true),
    f("onset_date", "Onset", Input::Date, true),
    f("kind", "Kind", choice!(AdverseEventKind), true),
    f("severity", "Severity", choice!(Severity), true),
    f("serious", "Serious adverse event", Input::OptYesNo, false).help(
        "Death, life-threatening, hospitalisation or its prolongation, persistent disability.",
    ),
    f(
        "device_or_procedure_related",
        "Related to the device or procedure",
        choice!(Relatedness),
        false,
    ),
    f("resolved_on", "Resolved on", Input::Date, false),
    f("description", "Description", Input::TextArea, false)
        .help("Free text is never exported to research."),
];

const QUALITY_OF_LIFE: &[Field] = &[
    f("index_limb", "Index limb", choice!(Limb), true).help(INDEX_LIMB_HELP),
    f("assessment_date", "Assessment date", Input::Date, true)
        .help("On or before the procedure date it is the baseline assessment."),
    heading("VascuQoL-6 (two-week recall; each item scored 1 worst to 4 best)"),
    f(
        "vascuqol_1",
        "VascuQoL-6 item 1 score",
        int!(VascuQolItem),
        false,
    ),
    f(
        "vascuqol_2",
        "VascuQoL-6 item 2 score",
        int!(VascuQolItem),
        false,
    ),
    f(
        "vascuqol_3",
        "VascuQoL-6 item 3 score",
        int!(VascuQolItem),
        false,
    ),
    f(
        "vascuqol_4",
        "VascuQoL-6 item 4 score",
        int!(VascuQolItem),
        false,
    ),
    f(
        "vascuqol_5",
        "VascuQoL-6 item 5 score",
        int!(VascuQolItem),
        false,
    ),
    f(
        "vascuqol_6",
        "VascuQoL-6 item 6 score",
        int!(VascuQolItem),
        false,
    ),
    heading("EQ-5D-5L (levels 1 no problems to 5 extreme problems or unable)"),
    f(
        "eq5d_mobility",
        "EQ-5D-5L mobility level",
        int!(Eq5dLevel),
        false,
    ),
    f(
        "eq5d_self_care",
        "EQ-5D-5L self-care level",
        int!(Eq5dLevel),
        false,
    ),
    f(
        "eq5d_usual_activities",
        "EQ-5D-5L usual activities level",
        int!(Eq5dLevel),
        false,
    ),
    f(
        "eq5d_pain_discomfort",
        "EQ-5D-5L pain/discomfort level",
        int!(Eq5dLevel),
        false,
    ),
    f(
        "eq5d_anxiety_depression",
        "EQ-5D-5L anxiety/depression level",
        int!(Eq5dLevel),
        false,
    ),
    f("eq_vas", "EQ VAS", int!(EqVas), false).help("0 worst to 100 best imaginable health today."),
];

/// A governance review meeting of a site (4.1, IPG773 1.3).
pub(crate) const GOVERNANCE_MEETING: &[Field] = &[
    f("held_on", "Date held", Input::Date, true),
    f("attendees", "Attendees", Input::TextArea, false),
    f("report_data_version", "Data version of the report reviewed", Input::Text(None), false)
        .help("Printed on every report, so that the meeting can be traced to the registry state it reviewed."),
    f("actions", "Actions agreed", Input::TextArea, false),
];

/// The site's clinical governance lead and when they were informed (IPG773 1.2).
pub(crate) const GOVERNANCE_LEAD: &[Field] = &[
    f("governance_lead_name", "Name of the clinical governance lead", Input::Text(None), false),
    f("governance_lead_informed_on", "Date the governance lead was informed", Input::Date, true)
        .help("NICE IPG773 1.2: clinicians should inform their organisation's clinical governance leads before offering pDVA."),
    f("reason", "Reason for the change", Input::TextArea, false),
];

/// A site of the registry (4.1), as an administrator registers it.
pub(crate) const SITE: &[Field] = &[
    f(
        "site_code",
        "Site code",
        Input::Text(Some(|f, s| {
            SiteCode::parse(s).map(json).map_err(|mut e| {
                e.field = f;
                e
            })
        })),
        true,
    )
    .help(
        "A short unique code (letters and digits). It never changes once the site is registered.",
    ),
    SITE_EDIT[0],
    SITE_EDIT[1],
    SITE_EDIT[2],
    SITE_EDIT[3],
    SITE_EDIT[4],
    SITE_EDIT[5],
];

/// A site's details when amended (the code never changes).
pub(crate) const SITE_EDIT: &[Field] = &[
    f(
        "name",
        "Hospital name",
        Input::Text(Some(|f, s| RequiredText::parse_for(f, s).map(json))),
        true,
    ),
    f(
        "country",
        "Country",
        Input::Text(Some(|f, s| {
            CountryCode::parse(s).map(json).map_err(|mut e| {
                e.field = f;
                e
            })
        })),
        true,
    )
    .help("ISO 3166-1 two-letter code, e.g. GB."),
    f("ods_code", "NHS ODS code", Input::Text(None), false),
    f(
        "governance_lead_name",
        "Clinical governance lead",
        Input::Text(None),
        false,
    ),
    f(
        "governance_lead_informed_on",
        "Date the governance lead was informed",
        Input::Date,
        false,
    )
    .help("NICE IPG773 1.2. Left empty, the site is flagged on its compliance view."),
    f(
        "min_proctored_cases",
        "Proctored cases required before operating unsupervised",
        Input::Int(None),
        true,
    )
    .help("Registry choice; 5 unless the site's governance sets another number."),
];

/// A clinician and their pDVA credentials (4.2).
pub(crate) const CLINICIAN: &[Field] = &[
    f("display_name", "Name", Input::Text(Some(|f, s| RequiredText::parse_for(f, s).map(json))), true),
    f("professional_registration", "Professional registration", Input::Text(None), false)
        .help("e.g. GMC number."),
    f("specialty", "Specialty", choice!(Specialty), true),
    f("sites", "Sites where the clinician works", Input::Sites, true),
    heading("pDVA training and experience (NICE IPG773 1.5)"),
    f("pdva_training_completed_on", "pDVA training completed on", Input::Date, false)
        .help("An operator is credentialed on a procedure date when training was completed on or before it and the proctored cases reach the site's requirement."),
    f("pdva_training_description", "Training (course, proctoring programme)", Input::TextArea, false),
    f("proctored_cases", "Proctored pDVA cases performed", Input::Int(None), true),
];

/// The instruments a clinician records for a patient, in the order of care,
/// with their URL slug.
pub(crate) const INSTRUMENTS: &[(&str, RecordKind)] = &[
    ("consent", RecordKind::Consent),
    ("procedure", RecordKind::Procedure),
    ("baseline", RecordKind::Baseline),
    ("antithrombotic-therapy", RecordKind::AntithromboticTherapy),
    ("follow-up-visit", RecordKind::FollowUpVisit),
    ("amputation", RecordKind::Amputation),
    ("reintervention", RecordKind::Reintervention),
    ("adverse-event", RecordKind::AdverseEvent),
    ("quality-of-life", RecordKind::QualityOfLife),
    ("death", RecordKind::Death),
];

/// The kind a URL slug names.
pub(crate) fn kind_of_slug(slug: &str) -> Option<RecordKind> {
    INSTRUMENTS
        .iter()
        .find(|(s, _)| *s == slug)
        .map(|(_, k)| *k)
}

/// The URL slug of a kind.
pub(crate) fn slug_of(kind: RecordKind) -> &'static str {
    INSTRUMENTS
        .iter()
        .find(|(_, k)| *k == kind)
        .map(|(s, _)| *s)
        .unwrap_or("")
}

/// The title of an instrument's form.
pub(crate) fn title_of(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Consent => "Consent",
        RecordKind::Baseline => "Baseline and patient selection",
        RecordKind::Procedure => "Index procedure",
        RecordKind::AntithromboticTherapy => "Antithrombotic therapy",
        RecordKind::FollowUpVisit => "Follow-up visit",
        RecordKind::Amputation => "Amputation",
        RecordKind::Reintervention => "Reintervention",
        RecordKind::Death => "Death",
        RecordKind::AdverseEvent => "Adverse event",
        RecordKind::QualityOfLife => "Quality of life",
        RecordKind::Patient => "Patient",
        RecordKind::Site => "Site",
        RecordKind::Clinician => "Clinician",
        RecordKind::GovernanceMeeting => "Governance review meeting",
    }
}

/// The fields of a clinical instrument.
pub(crate) fn fields_of(kind: RecordKind) -> &'static [Field] {
    match kind {
        RecordKind::Consent => CONSENT,
        RecordKind::Baseline => BASELINE,
        RecordKind::Procedure => PROCEDURE,
        RecordKind::AntithromboticTherapy => THERAPY,
        RecordKind::FollowUpVisit => VISIT,
        RecordKind::Amputation => AMPUTATION,
        RecordKind::Reintervention => REINTERVENTION,
        RecordKind::Death => DEATH,
        RecordKind::AdverseEvent => ADVERSE_EVENT,
        RecordKind::QualityOfLife => QUALITY_OF_LIFE,
        RecordKind::Patient => PATIENT,
        RecordKind::Site | RecordKind::Clinician | RecordKind::GovernanceMeeting => &[],
    }
}

/// A submitted form: every value as typed, several for a checkbox list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Submitted(pub HashMap<String, Vec<String>>);

/// Every form described here, to know which of their fields are lists.
const ALL_FORMS: &[&[Field]] = &[
    PATIENT,
    PATIENT_EDIT,
    CONSENT,
    PROCEDURE,
    BASELINE,
    THERAPY,
    VISIT,
    AMPUTATION,
    REINTERVENTION,
    DEATH,
    ADVERSE_EVENT,
    QUALITY_OF_LIFE,
    GOVERNANCE_MEETING,
    GOVERNANCE_LEAD,
    SITE,
    SITE_EDIT,
    CLINICIAN,
];

/// Checkbox lists of pages whose fields are not described here: the sites
/// of the user form.
const OTHER_LISTS: &[&str] = &["site"];

/// Whether a field may carry several values: a checkbox list.
fn is_list(name: &str) -> bool {
    OTHER_LISTS.contains(&name)
        || ALL_FORMS.iter().any(|fields| {
            fields
                .iter()
                .any(|f| f.name == name && matches!(f.input, Input::Choices(..) | Input::Sites))
        })
}

impl Submitted {
    /// From the decoded body's pairs. A field sent more than once that is
    /// not a checkbox list is refused, naming it: taking the first (or the
    /// last) value would save something the user may not have meant, and
    /// no page of the registry sends one twice.
    pub fn parse(pairs: Vec<(String, String)>) -> Result<Self, crate::WebError> {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        let mut repeated: Vec<&str> = map
            .iter()
            .filter(|(k, v)| v.len() > 1 && !is_list(k))
            .map(|(k, _)| k.as_str())
            .collect();
        repeated.sort_unstable();
        if let Some(first) = repeated.first() {
            return Err(crate::WebError::Invalid(format!(
                "{first}: the field was sent more than once; send it once"
            )));
        }
        Ok(Self(map))
    }

    /// From pairs, without the check of [`Submitted::parse`] (tests).
    #[cfg(test)]
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        Self(map)
    }

    /// The version of the record the form was read at, from its hidden
    /// `expected_version` field: `None` when it is missing or garbled, which
    /// the caller refuses as it refuses a stale version (a save must never
    /// fall back to the version stored now, which would overwrite a change
    /// made since the form was opened).
    pub fn expected_version(&self) -> Option<i64> {
        match self.0.get("expected_version").map(Vec::as_slice) {
            Some([v]) => v.trim().parse().ok().filter(|v| *v >= 1),
            _ => None,
        }
    }

    /// The first value of a field, trimmed ("" when absent).
    pub fn one(&self, name: &str) -> &str {
        self.0
            .get(name)
            .and_then(|v| v.first())
            .map(|s| s.trim())
            .unwrap_or("")
    }

    /// Every non-empty value of a field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The form values of a stored record (for editing).
    pub fn from_record(fields: &[Field], record: &Value) -> Self {
        let mut map = HashMap::new();
        for field in fields {
            let value = match field.name.strip_prefix("vascuqol_") {
                Some(i) => {
                    let i: usize = i.parse().unwrap_or(1);
                    record
                        .get("vascuqol")
                        .and_then(|a| a.get(i - 1))
                        .cloned()
                        .unwrap_or(Value::Null)
                }
                None => record.get(field.name).cloned().unwrap_or(Value::Null),
            };
            let to_code = match field.input {
                Input::Choice(_, _, to_code) | Input::Choices(_, _, to_code) => Some(to_code),
                _ => None,
            };
            let value = match (to_code, value) {
                (Some(to_code), Value::Array(items)) => Value::Array(
                    items
                        .iter()
                        .map(|v| to_code(v).map(Value::String).unwrap_or(Value::Null))
                        .collect(),
                ),
                (Some(to_code), v @ Value::String(_)) => {
                    to_code(&v).map(Value::String).unwrap_or(Value::Null)
                }
                (_, v) => v,
            };
            let values = match value {
                Value::Null => vec![],
                Value::Bool(b) => vec![if b { "yes" } else { "no" }.to_owned()],
                Value::String(s) => vec![s],
                Value::Number(n) => vec![n.to_string()],
                Value::Array(a) => a
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
                Value::Object(_) => vec![],
            };
            map.insert(field.name.to_owned(), values);
        }
        Self(map)
    }
}

/// What a form offers in its clinician and procedure choices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Offered {
    /// Clinicians of the patient's site.
    pub clinicians: Vec<Choice>,
    /// The patient's index procedures.
    pub procedures: Vec<Choice>,
    /// The limb and date of each of the patient's index procedures.
    pub index_procedures: Vec<(Limb, NaiveDate)>,
    /// The registry's sites.
    pub sites: Vec<Choice>,
    /// The licensed wording of the quality-of-life items, when given.
    pub wording: Option<std::sync::Arc<crate::InstrumentWording>>,
}

/// Parses a submitted form into the JSON object of the domain record:
/// every value through its domain constructor; every error collected.
pub(crate) fn parse_fields(
    fields: &[Field],
    form: &Submitted,
    offered: &Offered,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let (out, errors) = parse_what_can_be_read(fields, form, offered);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Every value of the form that can be read, with each one that cannot left
/// unrecorded (an empty list for a list), and the errors of those.
fn parse_what_can_be_read(
    fields: &[Field],
    form: &Submitted,
    offered: &Offered,
) -> (Map<String, Value>, Vec<FieldError>) {
    let mut out = Map::new();
    let mut errors = Vec::new();
    let mut vascuqol = vec![Value::Null; 6];
    for field in fields {
        let name = field.name;
        let raw = form.one(name);
        let value: Result<Value, FieldError> = match field.input {
            Input::Heading => continue,
            Input::Choices(_, check, _) => {
                let picked = form.all(name);
                if picked.is_empty() && field.required {
                    Err(FieldError::new(name, "", "is required: choose one or more"))
                } else {
                    picked
                        .iter()
                        .map(|p| check(name, p))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Value::Array)
                }
            }
            Input::Sites => {
                let picked = form.all(name);
                match picked
                    .iter()
                    .find(|p| !offered.sites.iter().any(|(c, _)| c == *p))
                {
                    Some(unknown) => Err(FieldError::new(
                        name,
                        unknown.as_str(),
                        "must be one of the sites offered",
                    )),
                    None if picked.is_empty() && field.required => {
                        Err(FieldError::new(name, "", "is required: choose one or more"))
                    }
                    None => Ok(Value::Array(
                        picked.into_iter().map(Value::String).collect(),
                    )),
                }
            }
            _ if raw.is_empty() => {
                if field.required {
                    Err(FieldError::new(name, "", "is required"))
                } else {
                    Ok(Value::Null)
                }
            }
            Input::Date => date_check(name, raw).map(|d| Value::String(d.to_string())),
            Input::Int(check) => match raw.parse::<i64>() {
                Err(_) => Err(FieldError::new(name, raw, "must be a whole number")),
                Ok(n) => match check {
                    Some(check) => check(name, raw),
                    None if n < 0 => Err(FieldError::new(name, raw, "must be 0 or more")),
                    None if n > i64::from(u32::MAX) => {
                        Err(FieldError::new(name, raw, "is too large"))
                    }
                    None => Ok(Value::from(n)),
                },
            },
            Input::Decimal(check) => check(name, raw),
            Input::Text(check) => match check {
                Some(check) => check(name, raw),
                None => Ok(Value::String(raw.to_owned())),
            },
            Input::TextArea => Ok(Value::String(raw.to_owned())),
            Input::YesNo | Input::OptYesNo => match raw {
                "yes" => Ok(Value::Bool(true)),
                "no" => Ok(Value::Bool(false)),
                other => Err(FieldError::new(name, other, "must be yes or no")),
            },
            Input::Choice(_, check, _) => check(name, raw),
            Input::Clinician | Input::Procedure => {
                let list = if matches!(field.input, Input::Clinician) {
                    &offered.clinicians
                } else {
                    &offered.procedures
                };
                match raw.parse::<RecordId>() {
                    Ok(id) if list.iter().any(|(c, _)| *c == id.to_string()) => {
                        Ok(Value::String(id.to_string()))
                    }
                    _ => Err(FieldError::new(
                        name,
                        raw,
                        "must be one of the choices offered",
                    )),
                }
            }
        };
        match value {
            Ok(v) => {
                if let Some(i) = name.strip_prefix("vascuqol_") {
                    let i: usize = i.parse().expect("vascuqol item number");
                    vascuqol[i - 1] = v;
                } else {
                    out.insert(name.to_owned(), v);
                }
            }
            Err(e) => {
                errors.push(e);
                if !name.starts_with("vascuqol_") {
                    let unread = match field.input {
                        Input::Choices(..) | Input::Sites => Value::Array(Vec::new()),
                        _ => Value::Null,
                    };
                    out.insert(name.to_owned(), unread);
                }
            }
        }
    }
    if fields.iter().any(|f| f.name.starts_with("vascuqol_")) {
        out.insert("vascuqol".into(), Value::Array(vascuqol));
    }
    (out, errors)
}

/// Parses a clinical instrument's form into its record.
pub(crate) fn parse_clinical(
    kind: RecordKind,
    form: &Submitted,
    offered: &Offered,
) -> Result<ClinicalRecord, Vec<FieldError>> {
    let fields = parse_fields(fields_of(kind), form, offered)?;
    let tagged = serde_json::json!({"kind": kind.as_str(), "record": Value::Object(fields)});
    serde_json::from_value(tagged).map_err(|e| {
        vec![FieldError::new(
            "record",
            "",
            format!("could not be read: {e}"),
        )]
    })
}

/// The record a refused form would make with the values that could not be
/// read left unrecorded, so that the domain's rules are checked in the same
/// round as the format errors (a clinician fixes everything at once). None
/// when a required value could not be read: the rules that need it wait
/// for it.
pub(crate) fn readable_part_of_clinical(
    kind: RecordKind,
    form: &Submitted,
    offered: &Offered,
) -> Option<ClinicalRecord> {
    let (fields, _) = parse_what_can_be_read(fields_of(kind), form, offered);
    let tagged = serde_json::json!({"kind": kind.as_str(), "record": Value::Object(fields)});
    serde_json::from_value(tagged).ok()
}

/// One choice as a template shows it.
pub(crate) struct OptionView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One field as a template shows it.
pub(crate) struct FieldView {
    pub name: &'static str,
    pub label: Cow<'static, str>,
    /// `heading`, `date`, `number`, `decimal`, `text`, `textarea`, `yesno`, `select`, `checkboxes`.
    pub kind: &'static str,
    pub required: bool,
    pub unit: &'static str,
    pub help: Cow<'static, str>,
    pub value: String,
    pub options: Vec<OptionView>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Messages for the fields of a form, from the parser and the domain rules.
#[derive(Debug, Default)]
pub(crate) struct Messages {
    /// Errors by field.
    pub errors: BTreeMap<String, Vec<String>>,
    /// Soft warnings by field.
    pub warnings: BTreeMap<String, Vec<String>>,
    /// Errors that belong to no field of the form.
    pub general: Vec<String>,
    /// Warnings that belong to no field of the form.
    pub general_warnings: Vec<String>,
}

impl Messages {
    /// From the parser's field errors.
    pub fn from_field_errors(fields: &[Field], errors: &[FieldError]) -> Self {
        let mut m = Self::default();
        for e in errors {
            let text = if e.value.is_empty() {
                e.rule.clone()
            } else {
                format!("\"{}\" {}", e.value, e.rule)
            };
            if fields.iter().any(|f| f.name == e.field) {
                m.errors.entry(e.field.to_owned()).or_default().push(text);
            } else {
                m.general
                    .push(format!("{}: {text}", label_of_field(e.field)));
            }
        }
        m
    }

    /// From the domain's findings; `hard` says whether they refused the record.
    pub fn from_findings(
        fields: &[Field],
        offered: &Offered,
        findings: &[Finding],
        hard: bool,
    ) -> Self {
        let mut m = Self::default();
        m.add_findings(fields, offered, findings, hard);
        m
    }

    /// Adds the domain's findings, each value shown as the form offers it
    /// (a code by its label, a clinician by name). A finding on a field that
    /// already has a format error is left out: its value was not read, so
    /// the rule will be checked once it can be.
    pub fn add_findings(
        &mut self,
        fields: &[Field],
        offered: &Offered,
        findings: &[Finding],
        hard: bool,
    ) {
        for finding in findings {
            if self.errors.contains_key(finding.field) {
                continue;
            }
            let field = fields.iter().find(|f| f.name == finding.field);
            let value = shown_value(field, &finding.value, offered);
            let text = if value.is_empty() {
                finding.message.clone()
            } else {
                format!("\"{value}\" {}", finding.message)
            };
            match (field, hard) {
                (Some(_), true) => self.errors.entry(finding.field.to_owned()),
                (Some(_), false) => self.warnings.entry(finding.field.to_owned()),
                (None, true) => {
                    self.general
                        .push(format!("{}: {text}", label_of_field(finding.field)));
                    continue;
                }
                (None, false) => {
                    self.general_warnings
                        .push(format!("{}: {text}", label_of_field(finding.field)));
                    continue;
                }
            }
            .or_default()
            .push(text);
        }
    }
}

/// A stored value as the form offers it: a code by its label, yes or no, a
/// clinician by name, an index procedure by limb and date.
fn shown_value(field: Option<&Field>, value: &str, offered: &Offered) -> String {
    let Some(field) = field else {
        return value.to_owned();
    };
    let label_in = |choices: &[Choice], code: &str| {
        choices
            .iter()
            .find(|(c, _)| c == code)
            .map_or_else(|| code.to_owned(), |(_, label)| label.clone())
    };
    match field.input {
        Input::Choice(choices, ..) | Input::Choices(choices, ..) => {
            let choices = choices();
            value
                .split(", ")
                .map(|code| label_in(&choices, code))
                .collect::<Vec<_>>()
                .join(", ")
        }
        Input::YesNo | Input::OptYesNo => match value {
            "true" => "Yes".into(),
            "false" => "No".into(),
            other => other.into(),
        },
        Input::Clinician => label_in(&offered.clinicians, value),
        Input::Procedure => label_in(&offered.procedures, value),
        _ => value.to_owned(),
    }
}

/// The clinical label of a data-dictionary field of any form (a rule may
/// name a field of another record, such as the procedure's date).
pub(crate) fn label_of_field(name: &str) -> &str {
    ALL_FORMS
        .iter()
        .flat_map(|form| form.iter())
        .find(|f| f.name == name && !matches!(f.input, Input::Heading))
        .map_or(name, |f| f.label)
}

/// The fields of a form as a template shows them, filled with `form`.
pub(crate) fn field_views(
    fields: &[Field],
    form: &Submitted,
    offered: &Offered,
    messages: &Messages,
) -> Vec<FieldView> {
    fields
        .iter()
        .map(|field| {
            let picked = form.all(field.name);
            let value = form.one(field.name).to_owned();
            let options_from = |choices: Vec<Choice>, blank: bool| {
                let mut out = Vec::new();
                if blank {
                    out.push(OptionView {
                        value: String::new(),
                        label: if field.required {
                            "— choose —".into()
                        } else {
                            "— not recorded —".into()
                        },
                        selected: value.is_empty(),
                    });
                }
                out.extend(choices.into_iter().map(|(code, label)| OptionView {
                    selected: picked.contains(&code),
                    value: code,
                    label,
                }));
                out
            };
            let yes_no = || {
                vec![
                    ("yes".to_owned(), "Yes".to_owned()),
                    ("no".to_owned(), "No".to_owned()),
                ]
            };
            let (kind, options) = match field.input {
                Input::Heading => ("heading", vec![]),
                Input::Date => ("date", vec![]),
                Input::Int(_) => ("number", vec![]),
                Input::Decimal(_) => ("decimal", vec![]),
                Input::Text(_) => ("text", vec![]),
                Input::TextArea => ("textarea", vec![]),
                Input::YesNo => ("select", options_from(yes_no(), true)),
                Input::OptYesNo => ("select", options_from(yes_no(), true)),
                Input::Choice(choices, _, _) => ("select", options_from(choices(), true)),
                Input::Choices(choices, _, _) => ("checkboxes", options_from(choices(), false)),
                Input::Clinician => ("select", options_from(offered.clinicians.clone(), true)),
                Input::Procedure => ("select", options_from(offered.procedures.clone(), true)),
                Input::Sites => ("checkboxes", options_from(offered.sites.clone(), false)),
            };
            let mut view = FieldView {
                name: field.name,
                label: Cow::Borrowed(field.label),
                kind,
                required: field.required,
                unit: field.unit,
                help: Cow::Borrowed(field.help),
                value,
                options,
                errors: messages.errors.get(field.name).cloned().unwrap_or_default(),
                warnings: messages
                    .warnings
                    .get(field.name)
                    .cloned()
                    .unwrap_or_default(),
            };
            if let Some(item) = offered.wording.as_ref().and_then(|w| w.item(field.name)) {
                with_wording(&mut view, item);
            }
            view
        })
        .collect()
}

/// Shows an item with its licensed wording: the question as the label, and
/// the answers as choices scored from 1 (the form still submits the score).
fn with_wording(view: &mut FieldView, item: &crate::ItemWording) {
    view.help = Cow::Owned(format!("Recorded as: {}.", view.label));
    view.label = Cow::Owned(item.question.clone());
    if item.answers.is_empty() {
        return;
    }
    let mut options = vec![OptionView {
        value: String::new(),
        label: "— not recorded —".into(),
        selected: view.value.is_empty(),
    }];
    options.extend(item.answers.iter().enumerate().map(|(i, answer)| {
        let score = (i + 1).to_string();
        OptionView {
            selected: view.value == score,
            label: format!("{answer} (scores {score})"),
            value: score,
        }
    }));
    view.kind = "select";
    view.options = options;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// `a=1&a=2` is refused naming the field, never read as its first
    /// value; a checkbox list may repeat.
    #[test]
    fn a_repeated_field_is_refused_naming_it() {
        let e = Submitted::parse(pairs(&[("abi", "0.4"), ("abi", "0.9")])).unwrap_err();
        assert!(
            matches!(&e, crate::WebError::Invalid(m) if m.starts_with("abi:") && m.contains("more than once")),
            "{e:?}"
        );
        let ok = Submitted::parse(pairs(&[
            ("no_option_reasons", "a"),
            ("no_option_reasons", "b"),
            ("site", "NGH"),
            ("site", "OTH"),
            ("abi", "0.4"),
        ]))
        .unwrap();
        assert_eq!(ok.all("no_option_reasons").len(), 2);
    }

    /// A missing, repeated or garbled version is no version at all.
    #[test]
    fn the_expected_version_is_read_strictly() {
        let v = |p: &[(&str, &str)]| Submitted::from_pairs(pairs(p)).expected_version();
        assert_eq!(v(&[("expected_version", "3")]), Some(3));
        assert_eq!(v(&[]), None);
        assert_eq!(v(&[("expected_version", "")]), None);
        assert_eq!(v(&[("expected_version", "3x")]), None);
        assert_eq!(v(&[("expected_version", "0")]), None);
        assert_eq!(
            v(&[("expected_version", "1"), ("expected_version", "2")]),
            None
        );
    }

    /// Non-numbers in decimal fields are told they must be numbers.
    #[test]
    fn non_numbers_are_told_they_must_be_numbers() {
        let offered = Offered::default();
        for typed in ["NaN", "inf", "abc"] {
            let errors = parse_fields(
                &[f("contrast_ml", "Contrast", dec!(NonNegative), false)],
                &Submitted::from_pairs(pairs(&[("contrast_ml", typed)])),
                &offered,
            )
            .unwrap_err();
            assert_eq!(errors[0].rule, "must be a number", "{typed}");
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Submitted {
        Submitted::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn every_error_names_field_value_and_rule() {
        let offered = Offered {
            clinicians: vec![],
            procedures: vec![(RecordId::new_random().to_string(), "p".into())],
            ..Offered::default()
        };
        let errors = parse_clinical(
            RecordKind::Amputation,
            &form(&[
                ("date", "2025-13-01"),
                ("level", "knee"),
                ("revision", "maybe"),
            ]),
            &offered,
        )
        .unwrap_err();
        let named: Vec<_> = errors.iter().map(|e| (e.field, e.value.as_str())).collect();
        assert!(named.contains(&("date", "2025-13-01")), "{named:?}");
        assert!(named.contains(&("level", "knee")), "{named:?}");
        assert!(named.contains(&("revision", "maybe")), "{named:?}");
        assert!(named.contains(&("procedure_id", "")), "{named:?}");
        assert!(named.contains(&("limb", "")), "{named:?}");
        let level = errors.iter().find(|e| e.field == "level").unwrap();
        assert!(level.rule.contains("below_knee"), "{}", level.rule);
    }

    #[test]
    fn a_valid_form_becomes_the_domain_record_and_back() {
        let procedure = RecordId::new_random().to_string();
        let offered = Offered {
            clinicians: vec![],
            procedures: vec![(procedure.clone(), "p".into())],
            ..Offered::default()
        };
        let submitted = form(&[
            ("index_limb", "left"),
            ("assessment_date", "2025-03-01"),
            ("vascuqol_1", "2"),
            ("vascuqol_6", "4"),
            ("eq5d_mobility", "3"),
            ("eq_vas", "55"),
        ]);
        let record = parse_clinical(RecordKind::QualityOfLife, &submitted, &offered).unwrap();
        let ClinicalRecord::QualityOfLife(q) = &record else {
            panic!("not QoL")
        };
        assert_eq!(q.vascuqol[0].unwrap().get(), 2);
        assert!(q.vascuqol[1].is_none());
        // The store links it to the limb's procedure, if there is one.
        assert_eq!((q.procedure_id, q.index_limb), (None, Some(Limb::Left)));
        let json = serde_json::to_value(q).unwrap();
        let back = Submitted::from_record(QUALITY_OF_LIFE, &json);
        assert_eq!(back.one("vascuqol_6"), "4");
        assert_eq!(back.one("eq_vas"), "55");
        assert_eq!(back.one("assessment_date"), "2025-03-01");
    }

    #[test]
    fn codes_whose_stored_spelling_differs_round_trip() {
        // The form speaks codes and the record its own serialisation; a
        // code with a digit (`type_2`) must survive the round trip.
        let procedure = RecordId::new_random().to_string();
        let offered = Offered {
            clinicians: vec![],
            procedures: vec![(procedure.clone(), "p".into())],
            ..Offered::default()
        };
        let submitted = form(&[
            ("index_limb", "right"),
            ("assessment_date", "2025-03-01"),
            ("rutherford_category", "5"),
            ("wifi_wound", "1"),
            ("wifi_ischaemia", "2"),
            ("wifi_foot_infection", "0"),
            ("diabetes", "type_2"),
            ("dialysis_dependent", "yes"),
            ("no_option_reasons", "no_bypass_target"),
            ("no_option_reasons", "no_autologous_conduit"),
            ("pedal_venous_anatomy_confirmed", "yes"),
            ("abi", "0.45"),
        ]);
        let record = parse_clinical(RecordKind::Baseline, &submitted, &offered).unwrap();
        let ClinicalRecord::Baseline(b) = &record else {
            panic!("not a baseline")
        };
        assert_eq!(b.diabetes, Diabetes::Type2);
        assert_eq!(b.no_option_reasons.len(), 2);
        let back = Submitted::from_record(BASELINE, &serde_json::to_value(b).unwrap());
        assert_eq!(back.one("diabetes"), "type_2");
        assert_eq!(back.all("no_option_reasons").len(), 2);
        assert_eq!(back.one("abi"), "0.45");
        assert_eq!(back.one("dialysis_dependent"), "yes");
        assert_eq!(back.one("index_limb"), "right");
    }

    #[test]
    fn every_instrument_has_a_form() {
        for (slug, kind) in INSTRUMENTS {
            assert_eq!(kind_of_slug(slug), Some(*kind));
            assert!(!fields_of(*kind).is_empty());
            for field in fields_of(*kind) {
                if !matches!(field.input, Input::Heading) {
                    assert!(!field.label.is_empty(), "{slug}: {}", field.name);
                }
            }
        }
    }
}
