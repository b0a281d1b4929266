//! The registry's reference data: sites, clinicians and governance meetings
//! (DOMAIN.md 4.1–4.2), with the two compliance gaps section 10 asks for: one
//! site whose governance lead was never recorded as informed, one site with
//! no governance review in the last 12 months, and operators who were not
//! credentialed for some of their procedures.

use chrono::NaiveDate;
use pdva_domain::codes::Specialty;
use pdva_domain::values::{CountryCode, RequiredText, SiteCode};
use pdva_domain::{Clinician, GovernanceMeeting, RecordId, Site};
use rand::Rng;

use crate::sample::{SynthRng, add_days, days_between, int};

/// Length of the enrolment period before `today`, in days (about six years).
pub(crate) const ENROLMENT_DAYS: i64 = 6 * 365;

/// The reference records, with their ids, in the order they should be
/// written (sites before clinicians before meetings).
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Participating sites.
    pub sites: Vec<(RecordId, Site)>,
    /// Clinicians (operators, and one consent-taking nurse specialist).
    pub clinicians: Vec<(RecordId, Clinician)>,
    /// Governance review meetings of the sites.
    pub governance_meetings: Vec<(RecordId, GovernanceMeeting)>,
}

/// What the patient generator needs to know of a site beyond its record.
#[derive(Debug, Clone)]
pub(crate) struct SitePlan {
    /// Index into [`Reference::sites`].
    pub site: usize,
    /// First possible procedure date at the site.
    pub joined: NaiveDate,
    /// Relative share of the registry's patients.
    pub weight: f64,
    /// UK site: patients have NHS numbers.
    pub uk: bool,
    /// Prefix of local hospital numbers.
    pub hospital_prefix: &'static str,
    /// Operators: clinician index, first date they operate, relative share.
    pub operators: Vec<(usize, NaiveDate, f64)>,
    /// Clinicians who take consent (operators and others).
    pub consent_takers: Vec<usize>,
}

impl SitePlan {
    /// The operators who may operate on `date`, with their shares.
    pub fn operators_on(&self, date: NaiveDate) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.operators
            .iter()
            .filter(move |(_, from, _)| *from <= date)
            .map(|(c, _, w)| (*c, *w))
    }
}

/// Reference data plus the plan the patient generator follows.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub reference: Reference,
    pub plans: Vec<SitePlan>,
}

struct SiteSpec {
    code: &'static str,
    name: &'static str,
    country: &'static str,
    ods: Option<&'static str>,
    lead: &'static str,
    /// Days after the start of enrolment the site joined (may be negative).
    joined: i64,
    informed: bool,
    min_proctored: u32,
    weight: f64,
    /// Meetings stop this many days before today (the lapsed site).
    meetings_stop_before_today: i64,
    meeting_interval: i64,
    hospital_prefix: &'static str,
}

const SITES: &[SiteSpec] = &[
    SiteSpec {
        code: "NGH",
        name: "Northgate General Hospital",
        country: "GB",
        ods: Some("ZZN01"),
        lead: "Dr Alison Merrow",
        joined: -30,
        informed: true,
        min_proctored: 5,
        weight: 0.25,
        meetings_stop_before_today: 40,
        meeting_interval: 182,
        hospital_prefix: "NG",
    },
    SiteSpec {
        code: "WVU",
        name: "Westvale University Hospital",
        country: "GB",
        ods: Some("ZZW02"),
        lead: "Mr Julian Fairbank",
        joined: 90,
        informed: true,
        min_proctored: 8,
        weight: 0.22,
        meetings_stop_before_today: 75,
        meeting_interval: 182,
        hospital_prefix: "WV",
    },
    SiteSpec {
        code: "SRI",
        name: "St Rowan's Infirmary",
        country: "GB",
        ods: Some("ZZS03"),
        lead: "Dr Harriet Collings",
        joined: 300,
        informed: true,
        min_proctored: 5,
        weight: 0.18,
        meetings_stop_before_today: 20,
        meeting_interval: 365,
        hospital_prefix: "SR",
    },
    SiteSpec {
        code: "ELM",
        name: "Elmbridge Royal Infirmary",
        country: "GB",
        ods: Some("ZZE04"),
        lead: "Dr Simon Tarrant",
        joined: 500,
        informed: true,
        min_proctored: 5,
        weight: 0.15,
        // The lapsed site: its last review was more than 12 months ago.
        meetings_stop_before_today: 430,
        meeting_interval: 365,
        hospital_prefix: "EL",
    },
    SiteSpec {
        code: "HAR",
        name: "Harrowfield District Hospital",
        country: "GB",
        ods: Some("ZZH05"),
        lead: "Ms Rachel Dunmore",
        joined: 1100,
        // The site whose governance lead was never recorded as informed.
        informed: false,
        min_proctored: 5,
        weight: 0.10,
        meetings_stop_before_today: 100,
        meeting_interval: 365,
        hospital_prefix: "HD",
    },
    SiteSpec {
        code: "LCU",
        name: "Lough Carran University Hospital",
        country: "IE",
        ods: None,
        lead: "Dr Sorcha Fennelly",
        joined: 700,
        informed: true,
        min_proctored: 5,
        weight: 0.10,
        meetings_stop_before_today: 150,
        meeting_interval: 365,
        hospital_prefix: "LC",
    },
];

struct ClinicianSpec {
    name: &'static str,
    specialty: Specialty,
    /// Indices into [`SITES`].
    sites: &'static [usize],
    /// Training completed, days after the start of enrolment; `None`: untrained.
    trained: Option<i64>,
    /// Starts operating this many days after training (negative: before it).
    operates_after_training: Option<i64>,
    proctored_cases: u32,
    /// Share of the site's procedures relative to its colleagues.
    weight: f64,
}

const VS: Specialty = Specialty::VascularSurgeon;
const IR: Specialty = Specialty::InterventionalRadiologist;

const CLINICIANS: &[ClinicianSpec] = &[
    // Northgate
    ClinicianSpec {
        name: "Ms Helen Ashcroft",
        specialty: VS,
        sites: &[0],
        trained: Some(-200),
        operates_after_training: Some(0),
        proctored_cases: 12,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Dr Marcus Feld",
        specialty: IR,
        sites: &[0, 4],
        trained: Some(-180),
        operates_after_training: Some(0),
        proctored_cases: 9,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Mr Tomasz Kowal",
        specialty: VS,
        sites: &[0],
        trained: Some(800),
        operates_after_training: Some(14),
        proctored_cases: 6,
        weight: 0.7,
    },
    // Westvale (requires 8 proctored cases)
    ClinicianSpec {
        name: "Prof Anjali Rao",
        specialty: VS,
        sites: &[1],
        trained: Some(-100),
        operates_after_training: Some(0),
        proctored_cases: 20,
        weight: 1.2,
    },
    ClinicianSpec {
        name: "Dr Owen Pryce",
        specialty: IR,
        sites: &[1],
        trained: Some(50),
        operates_after_training: Some(0),
        proctored_cases: 10,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Mr David Lintott",
        specialty: VS,
        sites: &[1],
        trained: Some(1200),
        operates_after_training: Some(30),
        proctored_cases: 8,
        weight: 0.6,
    },
    // St Rowan's: Dr Menon operates with too few proctored cases.
    ClinicianSpec {
        name: "Mr Samuel Oduya",
        specialty: VS,
        sites: &[2],
        trained: Some(100),
        operates_after_training: Some(0),
        proctored_cases: 7,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Dr Claire Beaumont",
        specialty: IR,
        sites: &[2],
        trained: Some(150),
        operates_after_training: Some(0),
        proctored_cases: 11,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Dr Ravi Menon",
        specialty: IR,
        sites: &[2],
        trained: Some(900),
        operates_after_training: Some(20),
        proctored_cases: 3,
        weight: 0.05,
    },
    // Elmbridge
    ClinicianSpec {
        name: "Ms Fiona Gallagher",
        specialty: VS,
        sites: &[3],
        trained: Some(300),
        operates_after_training: Some(0),
        proctored_cases: 6,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Dr Peter Hollis",
        specialty: IR,
        sites: &[3],
        trained: Some(350),
        operates_after_training: Some(0),
        proctored_cases: 8,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Mr Neil Ambrose",
        specialty: VS,
        sites: &[3],
        trained: Some(1500),
        operates_after_training: Some(10),
        proctored_cases: 5,
        weight: 0.8,
    },
    // Harrowfield (Dr Feld also operates here)
    ClinicianSpec {
        name: "Dr Sunita Varma",
        specialty: IR,
        sites: &[4],
        trained: Some(900),
        operates_after_training: Some(0),
        proctored_cases: 7,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Mr George Whitcombe",
        specialty: VS,
        sites: &[4],
        trained: Some(950),
        operates_after_training: Some(0),
        proctored_cases: 5,
        weight: 1.0,
    },
    // Lough Carran: Dr Keane began operating before her training was recorded.
    ClinicianSpec {
        name: "Dr Aoife Brennan",
        specialty: IR,
        sites: &[5],
        trained: Some(500),
        operates_after_training: Some(0),
        proctored_cases: 9,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Mr Cian Moloney",
        specialty: VS,
        sites: &[5],
        trained: Some(600),
        operates_after_training: Some(0),
        proctored_cases: 6,
        weight: 1.0,
    },
    ClinicianSpec {
        name: "Dr Niamh Keane",
        specialty: VS,
        sites: &[5],
        trained: Some(1400),
        operates_after_training: Some(-45),
        proctored_cases: 5,
        weight: 0.4,
    },
    // A vascular nurse specialist who takes consent but never operates.
    ClinicianSpec {
        name: "Ms Laura Pemberton",
        specialty: Specialty::Other,
        sites: &[0],
        trained: None,
        operates_after_training: None,
        proctored_cases: 0,
        weight: 0.0,
    },
];

fn new_id(rng: &mut SynthRng) -> RecordId {
    RecordId::from_bits(rng.random::<u128>())
}

/// Builds the reference data and the site plans for a registry whose last
/// day is `today`.
pub(crate) fn build(rng: &mut SynthRng, today: NaiveDate) -> World {
    let start = add_days(today, -ENROLMENT_DAYS);
    let codes: Vec<SiteCode> = SITES
        .iter()
        .map(|s| SiteCode::parse(s.code).expect("valid site code"))
        .collect();

    let mut sites = Vec::with_capacity(SITES.len());
    for (spec, code) in SITES.iter().zip(&codes) {
        let joined = add_days(start, spec.joined);
        let informed = spec
            .informed
            .then(|| add_days(joined, -int(rng, 30, 120)).min(today));
        sites.push((
            new_id(rng),
            Site {
                site_code: code.clone(),
                name: RequiredText::parse_for("name", spec.name).expect("site name"),
                country: CountryCode::parse(spec.country).expect("country"),
                ods_code: spec.ods.map(str::to_owned),
                governance_lead_name: Some(spec.lead.to_owned()),
                governance_lead_informed_on: informed,
                min_proctored_cases: spec.min_proctored,
            },
        ));
    }

    let mut clinicians = Vec::with_capacity(CLINICIANS.len());
    for (k, spec) in CLINICIANS.iter().enumerate() {
        let uk = SITES[spec.sites[0]].country == "GB";
        let registration = if uk {
            format!("GMC {:07}", 101 + k)
        } else {
            format!("IMC {:06}", 501 + k)
        };
        let trained = spec.trained.map(|d| add_days(start, d).min(today));
        clinicians.push((
            new_id(rng),
            Clinician {
                display_name: RequiredText::parse_for("display_name", spec.name)
                    .expect("clinician name"),
                professional_registration: Some(registration),
                specialty: spec.specialty,
                sites: spec.sites.iter().map(|&s| codes[s].clone()).collect(),
                pdva_training_completed_on: trained,
                pdva_training_description: trained.map(|_| {
                    "Manufacturer's pDVA training course and proctoring programme".to_owned()
                }),
                proctored_cases: spec.proctored_cases,
            },
        ));
    }

    let mut governance_meetings = Vec::new();
    for (spec, code) in SITES.iter().zip(&codes) {
        let joined = add_days(start, spec.joined);
        let last = add_days(today, -spec.meetings_stop_before_today);
        // Backwards from the last meeting, so every site but the lapsed one
        // has met within the last year.
        let mut dates = Vec::new();
        let mut held = last;
        while days_between(joined, held) >= spec.meeting_interval / 2 {
            dates.push(add_days(held, -int(rng, 0, 14)));
            held = add_days(held, -spec.meeting_interval);
        }
        for held_on in dates.into_iter().rev() {
            governance_meetings.push((
                new_id(rng),
                GovernanceMeeting {
                    site_code: code.clone(),
                    held_on,
                    attendees: Some(format!(
                        "{}; pDVA operators; clinical audit lead",
                        spec.lead
                    )),
                    report_data_version: None,
                    actions: Some(
                        "Reviewed pDVA outcomes against published benchmarks; follow-up completeness to be chased"
                            .to_owned(),
                    ),
                },
            ));
        }
    }

    let plans = SITES
        .iter()
        .enumerate()
        .map(|(s, spec)| {
            let operators = CLINICIANS
                .iter()
                .enumerate()
                .filter(|(_, c)| c.sites.contains(&s))
                .filter_map(|(k, c)| {
                    let from = add_days(start, c.trained? + c.operates_after_training?);
                    // A clinician shared between sites does fewer cases at the
                    // second one.
                    let share = if c.sites[0] == s { 1.0 } else { 0.4 };
                    Some((k, from, c.weight * share))
                })
                .collect();
            let consent_takers = CLINICIANS
                .iter()
                .enumerate()
                .filter(|(_, c)| c.sites.contains(&s))
                .map(|(k, _)| k)
                .collect();
            SitePlan {
                site: s,
                joined: add_days(start, spec.joined).max(start),
                weight: spec.weight,
                uk: spec.country == "GB",
                hospital_prefix: spec.hospital_prefix,
                operators,
                consent_takers,
            }
        })
        .collect();

    World {
        reference: Reference {
            sites,
            clinicians,
            governance_meetings,
        },
        plans,
    }
}
