//! One synthetic patient's whole file: identity, consent, and for each index
//! procedure its baseline, technique, antithrombotic therapy, adverse events,
//! reinterventions, amputations, follow-up visits and quality of life, and
//! the patient's death or end of follow-up.
//!
//! The clinical course is drawn first (times to death, major amputation,
//! wound healing, reinterventions, end of follow-up, in days since the
//! procedure) and the records are then written from it, each only if its
//! date is on or before the patient's last observable day (today, the date
//! of death or the end of follow-up), so nothing is ever dated after today
//! or after death, and visits agree with the amputations recorded.

use chrono::NaiveDate;
use pdva_domain::codes::*;
use pdva_domain::schedule::Timepoint;
use pdva_domain::values::*;
use pdva_domain::{
    AdverseEvent, Amputation, AntithromboticTherapy, Baseline, ClinicalRecord, Consent, Death,
    FollowUpVisit, IndexProcedure, Patient, PatientFile, QualityOfLife, RecordId, Reintervention,
};
use rand::{Rng, SeedableRng};

use crate::identity::{FAMILY, GIVEN_FEMALE, GIVEN_MALE, IdentityKeys};
use crate::model;
use crate::reference::{SitePlan, World};
use crate::sample::{
    SynthRng, add_days, chance, days_between, exp1, int, normal, one_of, pick, uniform,
};

/// A generated patient file and the records in it to void after import.
pub(crate) struct Generated {
    pub file: PatientFile,
    pub voids: Vec<(RecordId, String)>,
}

/// Patient-level characteristics shared by both limbs.
struct Person {
    diabetes: Diabetes,
    dialysis: bool,
    ckd: Option<u8>,
    hypertension: bool,
    hyperlipidaemia: bool,
    coronary: bool,
    heart_failure: bool,
    stroke: bool,
    copd: bool,
    smoking: Smoking,
    height: f64,
    weight: f64,
    ambulatory: AmbulatoryStatus,
    frailty: u8,
}

/// One index limb's drawn course, in days since its procedure.
struct LimbCourse {
    procedure_id: RecordId,
    date: NaiveDate,
    side: Limb,
    /// Last day (since the procedure) on which anything can be recorded.
    limit: i64,
    operator: usize,
    rutherford: u8,
    wound: u8,
    ischaemia: u8,
    infection: u8,
    has_wound: bool,
    wound_area: Option<f64>,
    toe: Option<u16>,
    tcpo2: Option<u16>,
    technical_success: bool,
    major_amputation: f64,
    healing: f64,
    qol_baseline: f64,
    qol_trend: f64,
    /// Recorded amputations of this limb (date, level).
    amputations: Vec<(NaiveDate, AmputationLevel)>,
}

impl LimbCourse {
    fn day(&self, day: i64) -> NaiveDate {
        add_days(self.date, day)
    }

    fn major_amputation_day(&self) -> Option<i64> {
        self.major_amputation
            .is_finite()
            .then_some(self.major_amputation.floor() as i64)
    }

    /// Limb status from the amputations recorded up to `date`.
    fn status_on(&self, date: NaiveDate) -> LimbStatus {
        match self
            .amputations
            .iter()
            .filter(|(d, _)| *d <= date)
            .map(|(_, l)| *l)
            .max()
        {
            Some(level) if level.is_major() => LimbStatus::MajorAmputation,
            Some(_) => LimbStatus::MinorAmputation,
            None => LimbStatus::Intact,
        }
    }
}

struct Ctx<'a> {
    rng: SynthRng,
    index: usize,
    world: &'a World,
    records: Vec<(RecordId, ClinicalRecord)>,
}

impl Ctx<'_> {
    /// Ids lead with the patient's index, so one patient's records sit
    /// together and a bulk import appends to the database's indexes rather
    /// than scattering writes across them; the rest is random.
    fn id(&mut self) -> RecordId {
        let random = self.rng.random::<u128>() & ((1u128 << 80) - 1);
        RecordId::from_bits(((self.index as u128) << 80) | random)
    }

    fn push(&mut self, record: ClinicalRecord) -> RecordId {
        let id = self.id();
        self.records.push((id, record));
        id
    }

    fn clinician_id(&self, k: usize) -> RecordId {
        self.world.reference.clinicians[k].0
    }
}

fn wifi(g: u8) -> WifiGrade {
    WifiGrade::new(i64::from(g)).expect("WIfI grade 0-3")
}

fn rutherford(r: u8) -> RutherfordCategory {
    RutherfordCategory::new(i64::from(r)).expect("Rutherford 0-6")
}

fn pain(p: i64) -> PainScore {
    PainScore::new(p.clamp(0, 10)).expect("pain 0-10")
}

fn positive(v: f64) -> Positive {
    Positive::new(v).expect("positive")
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A toe pressure or TcPO₂ (mmHg) inside the WIfI ischaemia band of `grade`.
fn toe_in_band(rng: &mut SynthRng, grade: u8) -> u16 {
    (match grade {
        0 => int(rng, 60, 90),
        1 => int(rng, 40, 59),
        2 => int(rng, 30, 39),
        _ => int(rng, 4, 29),
    }) as u16
}

/// The WIfI ischaemia band a toe pressure or TcPO₂ falls in.
fn toe_grade(p: u16) -> u8 {
    match p {
        60.. => 0,
        40..=59 => 1,
        30..=39 => 2,
        _ => 3,
    }
}

fn ankle_in_band(rng: &mut SynthRng, grade: u8) -> u16 {
    (match grade {
        0 => int(rng, 101, 160),
        1 => int(rng, 70, 100),
        2 => int(rng, 50, 69),
        _ => int(rng, 15, 49),
    }) as u16
}

/// An ABI (two decimals) inside the band of `grade`.
fn abi_in_band(rng: &mut SynthRng, grade: u8) -> f64 {
    let hundredths = match grade {
        0 => int(rng, 80, 110),
        1 => int(rng, 60, 79),
        2 => int(rng, 40, 59),
        _ => int(rng, 10, 39),
    };
    hundredths as f64 / 100.0
}

/// Generates patient `index` of the registry.
pub(crate) fn generate(
    world: &World,
    keys: &IdentityKeys,
    seed: u64,
    index: usize,
    today: NaiveDate,
) -> Generated {
    let mut rng = SynthRng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    let mut ctx = Ctx {
        rng,
        index,
        world,
        records: Vec::with_capacity(40),
    };
    let patient_id = ctx.id();

    // Site and date of the first index procedure.
    let weights: Vec<(usize, f64)> = world
        .plans
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.weight))
        .collect();
    let plan = &world.plans[pick(&mut ctx.rng, &weights)];
    let span = days_between(plan.joined, today).max(0);
    let first_date = add_days(plan.joined, int(&mut ctx.rng, 0, span));

    // Demographics and comorbidities.
    let female = chance(&mut ctx.rng, 0.314);
    let age = normal(&mut ctx.rng, 69.8, 11.0).round().clamp(18.0, 95.0) as i32;
    let dob = first_date
        .checked_sub_months(chrono::Months::new(12 * age as u32))
        .expect("date in range");
    let dob = add_days(dob, -int(&mut ctx.rng, 0, 364));
    let person = person(&mut ctx.rng, female, age);

    // Consent choices.
    let registry_data_consent = pick(
        &mut ctx.rng,
        &[
            (RegistryDataConsent::Yes, 0.85),
            (RegistryDataConsent::NotRequired, 0.11),
            (RegistryDataConsent::No, 0.04),
        ],
    );
    let research_consent = if chance(&mut ctx.rng, 0.8) {
        ResearchConsent::Yes
    } else {
        ResearchConsent::No
    };

    // Patient-level course, in days since the first procedure.
    let mut death = model::DEATH.sample(
        &mut ctx.rng,
        model::death_multiplier(
            f64::from(age),
            person.dialysis,
            person.heart_failure,
            person.frailty,
        ),
    );
    let follow_up_end = (exp1(&mut ctx.rng) / model::FOLLOW_UP_END_PER_DAY).max(20.0);

    let side = if chance(&mut ctx.rng, 0.5) {
        Limb::Left
    } else {
        Limb::Right
    };
    let mut first = limb_course(&mut ctx, plan, &person, first_date, side);
    if first.major_amputation.is_finite() {
        let after =
            first.major_amputation + exp1(&mut ctx.rng) / model::DEATH_AFTER_MAJOR_AMPUTATION;
        death = death.min(after);
    }

    let mut second = None;
    if chance(&mut ctx.rng, model::BILATERAL) {
        let gap = int(&mut ctx.rng, 60, 540);
        let date = add_days(first_date, gap);
        if date <= today && (gap as f64) < death && (gap as f64) < follow_up_end {
            let other = match side {
                Limb::Left => Limb::Right,
                Limb::Right => Limb::Left,
            };
            let course = limb_course(&mut ctx, plan, &person, date, other);
            if course.major_amputation.is_finite() {
                let after = gap as f64
                    + course.major_amputation
                    + exp1(&mut ctx.rng) / model::DEATH_AFTER_MAJOR_AMPUTATION;
                death = death.min(after);
            }
            second = Some(course);
        }
    }

    // What is observable by today.
    let death_date = (death.is_finite() && death < follow_up_end)
        .then(|| add_days(first_date, death.floor() as i64))
        .filter(|d| *d <= today);
    let follow_up_ended_on = (follow_up_end < death)
        .then(|| add_days(first_date, follow_up_end.floor() as i64))
        .filter(|d| *d <= today);
    let end = [Some(today), death_date, follow_up_ended_on]
        .into_iter()
        .flatten()
        .min()
        .expect("today");
    first.limit = days_between(first.date, end);
    if let Some(s) = second.as_mut() {
        s.limit = days_between(s.date, end);
    }

    // Consents: one before each index procedure.
    let mut last_consent = consent(
        &mut ctx,
        plan,
        &first,
        registry_data_consent,
        research_consent,
        end,
    );
    if let Some(s) = &second {
        last_consent = consent(
            &mut ctx,
            plan,
            s,
            registry_data_consent,
            research_consent,
            end,
        );
    }
    if research_consent == ResearchConsent::Yes && chance(&mut ctx.rng, 0.03) {
        let (from, _) = last_consent;
        let room = days_between(from, end);
        if room >= 30 {
            let withdrawn = add_days(from, int(&mut ctx.rng, 30, room));
            if let Some((_, ClinicalRecord::Consent(c))) =
                ctx.records.iter_mut().find(|(id, _)| *id == last_consent.1)
            {
                c.research_consent_withdrawn_on = Some(withdrawn);
            }
        }
    }

    // Each index limb's records.
    let mut limbs = vec![first];
    if let Some(s) = second {
        limbs.push(s);
    }
    for limb in limbs.iter_mut() {
        limb_records(&mut ctx, plan, &person, limb, death_date);
    }

    if let Some(date) = death_date {
        let after_major = limbs.iter().any(|l| {
            l.amputations
                .iter()
                .any(|(d, lvl)| lvl.is_major() && days_between(*d, date) <= 90)
        });
        let early = limbs.iter().any(|l| days_between(l.date, date) <= 30);
        let cause = if after_major && chance(&mut ctx.rng, 0.35) {
            CauseOfDeath::LimbRelated
        } else {
            pick(
                &mut ctx.rng,
                &[
                    (CauseOfDeath::Cardiovascular, 0.45),
                    (CauseOfDeath::Infection, 0.2),
                    (CauseOfDeath::LimbRelated, 0.08),
                    (CauseOfDeath::Other, 0.17),
                    (CauseOfDeath::Unknown, 0.10),
                ],
            )
        };
        let related = if early {
            pick(
                &mut ctx.rng,
                &[
                    (YesNoUnknown::Yes, 0.15),
                    (YesNoUnknown::Unknown, 0.35),
                    (YesNoUnknown::No, 0.5),
                ],
            )
        } else {
            pick(
                &mut ctx.rng,
                &[(YesNoUnknown::No, 0.85), (YesNoUnknown::Unknown, 0.15)],
            )
        };
        ctx.push(ClinicalRecord::Death(Death {
            date,
            cause,
            procedure_related: Some(related),
        }));
    }

    // A record entered in error, to be voided after import.
    let mut voids = Vec::new();
    if chance(&mut ctx.rng, model::VOIDED_RECORD) {
        voids.extend(duplicate_for_void(&mut ctx));
    }

    // Identity.
    let identified = registry_data_consent != RegistryDataConsent::No;
    let (given, family) = if identified {
        let given = if female {
            one_of(&mut ctx.rng, GIVEN_FEMALE)
        } else {
            one_of(&mut ctx.rng, GIVEN_MALE)
        };
        let family = one_of(&mut ctx.rng, FAMILY);
        (Some((*given).to_owned()), Some((*family).to_owned()))
    } else {
        (None, None)
    };
    let hospital_number = identified.then(|| keys.hospital_number(plan.hospital_prefix, index));
    let follow_up_end_reason = follow_up_ended_on.map(|_| {
        pick(
            &mut ctx.rng,
            &[
                (FollowUpEndReason::Withdrew, 0.4),
                (FollowUpEndReason::MovedAway, 0.3),
                (FollowUpEndReason::Transferred, 0.25),
                (FollowUpEndReason::Other, 0.05),
            ],
        )
    });
    let site_code = world.reference.sites[plan.site].1.site_code.clone();
    let patient = Patient {
        registry_id: keys.registry_id(index),
        nhs_number: (identified && plan.uk)
            .then(|| keys.nhs_number(index))
            .flatten(),
        hospital_number,
        family_name: family,
        given_name: given,
        date_of_birth: dob,
        sex: if female { Sex::Female } else { Sex::Male },
        home_site: site_code,
        follow_up_ended_on,
        follow_up_end_reason,
    };

    let Ctx { mut records, .. } = ctx;
    // The order in which they were made: by date, stable for same-day records.
    records.sort_by_key(|(_, r)| r.date());
    Generated {
        file: PatientFile {
            patient_id,
            patient,
            records,
        },
        voids,
    }
}

fn person(rng: &mut SynthRng, female: bool, age: i32) -> Person {
    let diabetes = pick(
        rng,
        &[
            (Diabetes::Type2, 0.64),
            (Diabetes::Type1, 0.06),
            (Diabetes::None, 0.30),
        ],
    );
    let dialysis = chance(rng, 0.30);
    let ckd = if dialysis {
        Some(5)
    } else if chance(rng, 0.85) {
        Some(pick(rng, &[(1, 0.15), (2, 0.3), (3, 0.4), (4, 0.15)]))
    } else {
        None
    };
    let height = if female {
        normal(rng, 161.0, 6.5)
    } else {
        normal(rng, 174.0, 7.0)
    }
    .clamp(140.0, 200.0);
    let bmi = normal(rng, 27.0, 4.5).clamp(16.0, 45.0);
    let weight = bmi * (height / 100.0).powi(2);
    let frailty_base = 4.0 + f64::from(age - 70) / 15.0 + if dialysis { 0.8 } else { 0.0 };
    let frailty = normal(rng, frailty_base, 1.0).round().clamp(2.0, 8.0) as u8;
    Person {
        diabetes,
        dialysis,
        ckd,
        hypertension: chance(rng, 0.85),
        hyperlipidaemia: chance(rng, 0.7),
        coronary: chance(rng, 0.45),
        heart_failure: chance(rng, 0.2),
        stroke: chance(rng, 0.12),
        copd: chance(rng, 0.15),
        smoking: pick(
            rng,
            &[
                (Smoking::Never, 0.3),
                (Smoking::Former, 0.55),
                (Smoking::Current, 0.15),
            ],
        ),
        height: round1(height),
        weight: round1(weight),
        ambulatory: pick(
            rng,
            &[
                (AmbulatoryStatus::Independent, 0.45),
                (AmbulatoryStatus::WithAid, 0.35),
                (AmbulatoryStatus::Wheelchair, 0.15),
                (AmbulatoryStatus::Bedbound, 0.05),
            ],
        ),
        frailty,
    }
}

/// Draws one index limb's presentation and course.
fn limb_course(
    ctx: &mut Ctx<'_>,
    plan: &SitePlan,
    person: &Person,
    date: NaiveDate,
    side: Limb,
) -> LimbCourse {
    let rng = &mut ctx.rng;
    let operators: Vec<(usize, f64)> = plan.operators_on(date).collect();
    let operator = pick(rng, &operators);
    let r = pick(rng, &[(5u8, 0.62), (6, 0.33), (4, 0.05)]);
    let wound = match r {
        4 => 0,
        5 => pick(rng, &[(1u8, 0.55), (2, 0.45)]),
        _ => pick(rng, &[(2u8, 0.35), (3, 0.65)]),
    };
    let infection = if r == 4 {
        0
    } else {
        pick(rng, &[(0u8, 0.45), (1, 0.33), (2, 0.19), (3, 0.03)])
    };
    let ischaemia = pick(rng, &[(3u8, 0.68), (2, 0.24), (1, 0.07), (0, 0.01)]);
    let has_wound = r >= 5;
    let wound_area = has_wound.then(|| {
        if chance(rng, 0.001) {
            round1(uniform(rng, 205.0, 260.0))
        } else {
            let median: f64 = if r == 6 { 14.0 } else { 3.0 };
            round1(
                (median.ln() + normal(rng, 0.0, 0.8))
                    .exp()
                    .clamp(0.2, 190.0),
            )
        }
    });
    let fistula = chance(rng, 0.988);
    let angiography = chance(rng, 0.997);
    let technical_success = fistula && angiography && chance(rng, 0.988);
    let stage =
        pdva_domain::derived::wifi_clinical_stage(wifi(wound), wifi(ischaemia), wifi(infection));
    let major_amputation = model::MAJOR_AMPUTATION.sample(
        rng,
        model::amputation_multiplier(person.dialysis, r, stage, technical_success),
    );
    let healing = if !has_wound || chance(rng, model::NEVER_HEALS) {
        f64::INFINITY
    } else {
        (model::HEALING_MEDIAN_DAYS.ln() + normal(rng, 0.0, model::HEALING_LOG_SD)).exp()
    };
    let qol_baseline = normal(rng, 0.32, 0.12).clamp(0.02, 0.85);
    let qol_trend = normal(rng, 0.0, 0.08);
    let procedure_id = ctx.id();
    LimbCourse {
        procedure_id,
        date,
        side,
        limit: 0,
        operator,
        rutherford: r,
        wound,
        ischaemia,
        infection,
        has_wound,
        wound_area,
        toe: None,
        tcpo2: None,
        technical_success,
        major_amputation,
        healing,
        qol_baseline,
        qol_trend,
        amputations: Vec::new(),
    }
}

/// A consent before `limb`'s procedure; returns its date and id.
fn consent(
    ctx: &mut Ctx<'_>,
    plan: &SitePlan,
    limb: &LimbCourse,
    registry_data_consent: RegistryDataConsent,
    research_consent: ResearchConsent,
    end: NaiveDate,
) -> (NaiveDate, RecordId) {
    let rng = &mut ctx.rng;
    // A few consent forms were only documented the day after the procedure,
    // which the registry flags.
    let date = if chance(rng, 0.002) && add_days(limb.date, 1) <= end {
        add_days(limb.date, 1)
    } else {
        add_days(limb.date, -int(rng, 0, 21))
    };
    let taker = if chance(rng, 0.8) {
        limb.operator
    } else {
        let operators: Vec<usize> = plan.operators_on(date).map(|(c, _)| c).collect();
        let pool: Vec<usize> = plan
            .consent_takers
            .iter()
            .copied()
            .filter(|c| operators.contains(c) || !plan.operators.iter().any(|(o, _, _)| o == c))
            .collect();
        if pool.is_empty() {
            limb.operator
        } else {
            *one_of(rng, &pool)
        }
    };
    let information_given = pick(
        rng,
        &[
            (
                &[
                    InformationGiven::NiceInformationForThePublic,
                    InformationGiven::LocalLeaflet,
                ][..],
                0.55,
            ),
            (&[InformationGiven::NiceInformationForThePublic][..], 0.2),
            (
                &[
                    InformationGiven::LocalLeaflet,
                    InformationGiven::DeviceLeaflet,
                ][..],
                0.12,
            ),
            (
                &[
                    InformationGiven::NiceInformationForThePublic,
                    InformationGiven::DeviceLeaflet,
                ][..],
                0.1,
            ),
            (&[InformationGiven::None][..], 0.03),
        ],
    )
    .to_vec();
    let information_version = (!information_given.contains(&InformationGiven::None)).then(|| {
        pick(
            rng,
            &[
                ("NICE IPG773 information for the public (2023)", 0.5),
                ("Local leaflet v2.1", 0.3),
                ("Local leaflet v3.0", 0.2),
            ],
        )
        .to_owned()
    });
    let lacks_capacity = chance(rng, 0.02);
    let record = Consent {
        consent_date: date,
        taken_by: ctx.clinician_id(taker),
        uncertainties_explained: chance(&mut ctx.rng, 0.99),
        information_given,
        information_version,
        shared_decision_making_documented: chance(&mut ctx.rng, 0.96),
        lacks_capacity,
        best_interests_decision_documented: lacks_capacity.then_some(true),
        registry_data_consent,
        research_consent,
        research_consent_withdrawn_on: None,
    };
    (date, ctx.push(ClinicalRecord::Consent(record)))
}

/// Writes every record of one index limb.
fn limb_records(
    ctx: &mut Ctx<'_>,
    plan: &SitePlan,
    person: &Person,
    limb: &mut LimbCourse,
    death_date: Option<NaiveDate>,
) {
    baseline(ctx, person, limb);
    procedure(ctx, plan, limb);
    let bleeding_day = adverse_events(ctx, person, limb);
    antithrombotics(ctx, limb, bleeding_day, death_date);
    amputations(ctx, limb);
    reinterventions(ctx, limb);
    visits_and_qol(ctx, person, limb);
}

fn baseline(ctx: &mut Ctx<'_>, person: &Person, limb: &mut LimbCourse) {
    let rng = &mut ctx.rng;
    let assessment_date = if chance(rng, 0.003) {
        add_days(limb.date, -int(rng, 91, 130))
    } else {
        add_days(limb.date, -int(rng, 0, 30))
    };
    // Perfusion values match the recorded ischaemia grade, except for a few
    // that suggest the neighbouring grade (a soft warning).
    let apparent = if chance(rng, 0.015) {
        if limb.ischaemia == 3 {
            2
        } else {
            limb.ischaemia + 1
        }
    } else {
        limb.ischaemia
    };
    let incompressible =
        (person.diabetes != Diabetes::None || person.dialysis) && chance(rng, 0.03);
    let abi = if incompressible {
        Some(f64::from(int(rng, 141, 180) as u32) / 100.0)
    } else if chance(rng, 0.65) {
        Some(abi_in_band(rng, apparent))
    } else {
        None
    };
    let ankle = (!incompressible && abi.is_some() && chance(rng, 0.9))
        .then(|| ankle_in_band(rng, apparent));
    let toe = chance(rng, 0.6).then(|| toe_in_band(rng, apparent));
    let tcpo2 = (toe.is_none() || chance(rng, 0.3)).then(|| toe_in_band(rng, apparent).min(100));
    limb.toe = toe;
    limb.tcpo2 = tcpo2;
    let r = limb.rutherford;
    let wound_locations = if limb.has_wound {
        let primary = if r == 6 {
            pick(
                rng,
                &[
                    (WoundLocation::Forefoot, 0.45),
                    (WoundLocation::Midfoot, 0.2),
                    (WoundLocation::Heel, 0.2),
                    (WoundLocation::Toe, 0.1),
                    (WoundLocation::Ankle, 0.05),
                ],
            )
        } else {
            pick(
                rng,
                &[
                    (WoundLocation::Toe, 0.6),
                    (WoundLocation::Forefoot, 0.25),
                    (WoundLocation::Heel, 0.1),
                    (WoundLocation::Leg, 0.05),
                ],
            )
        };
        let mut v = vec![primary];
        if chance(rng, 0.25) {
            let extra = pick(
                rng,
                &[
                    (WoundLocation::Toe, 0.4),
                    (WoundLocation::Forefoot, 0.3),
                    (WoundLocation::Heel, 0.2),
                    (WoundLocation::Ankle, 0.1),
                ],
            );
            if extra != primary {
                v.push(extra);
            }
        }
        v
    } else {
        Vec::new()
    };
    let gangrene = match r {
        4 => Gangrene::None,
        5 => pick(
            rng,
            &[
                (Gangrene::None, 0.6),
                (Gangrene::Dry, 0.35),
                (Gangrene::Wet, 0.05),
            ],
        ),
        _ => pick(
            rng,
            &[
                (Gangrene::None, 0.25),
                (Gangrene::Dry, 0.5),
                (Gangrene::Wet, 0.25),
            ],
        ),
    };
    let mut no_option_reasons = Vec::with_capacity(4);
    for (reason, p) in [
        (NoOptionReason::NoBypassTarget, 0.7),
        (NoOptionReason::NoEndovascularTarget, 0.6),
        (NoOptionReason::FailedPriorRevascularisation, 0.74),
        (NoOptionReason::NoAutologousConduit, 0.3),
        (NoOptionReason::ProhibitiveSurgicalRisk, 0.2),
        (NoOptionReason::Other, 0.03),
    ] {
        if chance(rng, p) {
            no_option_reasons.push(reason);
        }
    }
    if no_option_reasons.is_empty() {
        no_option_reasons.push(NoOptionReason::NoBypassTarget);
    }
    let failed_prior = no_option_reasons.contains(&NoOptionReason::FailedPriorRevascularisation);
    let rest_pain = r == 4 || chance(rng, 0.65);
    let pain_score = if rest_pain {
        int(rng, 5, 9)
    } else {
        int(rng, 2, 6)
    };
    let mdt = add_days(
        assessment_date,
        int(rng, 0, days_between(assessment_date, limb.date)),
    );
    let record = Baseline {
        procedure_id: Some(limb.procedure_id),
        index_limb: Some(limb.side),
        assessment_date,
        rutherford_category: rutherford(r),
        wifi_wound: wifi(limb.wound),
        wifi_ischaemia: wifi(limb.ischaemia),
        wifi_foot_infection: wifi(limb.infection),
        rest_pain: Some(rest_pain),
        pain_score: Some(pain(pain_score)),
        wound_count: Some(if limb.has_wound {
            pick(rng, &[(1, 0.6), (2, 0.3), (3, 0.1)])
        } else {
            0
        }),
        largest_wound_area_cm2: limb.wound_area.map(positive),
        wound_locations,
        gangrene: Some(gangrene),
        abi: abi.map(|a| Abi::new(a).expect("ABI 0-2")),
        ankle_systolic_pressure_mmhg: ankle
            .map(|p| AnklePressure::new(i64::from(p)).expect("pressure")),
        toe_pressure_mmhg: toe.map(|p| ToePressure::new(i64::from(p)).expect("pressure")),
        tcpo2_mmhg: tcpo2.map(|p| Tcpo2::new(i64::from(p)).expect("tcpo2")),
        diabetes: person.diabetes,
        dialysis_dependent: person.dialysis,
        ckd_stage: person
            .ckd
            .map(|s| CkdStage::new(i64::from(s)).expect("CKD 1-5")),
        hypertension: Some(person.hypertension),
        hyperlipidaemia: Some(person.hyperlipidaemia),
        coronary_artery_disease: Some(person.coronary),
        heart_failure: Some(person.heart_failure),
        prior_stroke: Some(person.stroke),
        copd: Some(person.copd),
        smoking: Some(person.smoking),
        height_cm: Some(positive(person.height)),
        weight_kg: Some(positive(person.weight)),
        ambulatory_status: Some(person.ambulatory),
        clinical_frailty_scale: Some(
            ClinicalFrailtyScale::new(i64::from(person.frailty)).expect("CFS 1-9"),
        ),
        no_option_reasons,
        mdt_decision_date: Some(mdt),
        prior_revascularisations_index_limb: Some(if failed_prior {
            int(rng, 1, 4) as u32
        } else {
            0
        }),
        prior_minor_amputation_index_limb: Some(chance(rng, 0.2)),
        pedal_venous_anatomy_confirmed: chance(rng, 0.995),
        venous_imaging: Some(pick(
            rng,
            &[
                (VenousImaging::Duplex, 0.7),
                (VenousImaging::Venography, 0.25),
                (VenousImaging::Ct, 0.03),
                (VenousImaging::Mr, 0.02),
            ],
        )),
    };
    ctx.push(ClinicalRecord::Baseline(record));

    // Baseline quality of life, on the assessment date.
    if chance(&mut ctx.rng, 0.9) {
        let q = limb.qol_baseline;
        let record = qol(&mut ctx.rng, limb.procedure_id, assessment_date, q, false);
        ctx.push(ClinicalRecord::QualityOfLife(record));
    }
}

fn procedure(ctx: &mut Ctx<'_>, plan: &SitePlan, limb: &LimbCourse) {
    let plan_operator = limb.operator;
    let world = ctx.world;
    let rng = &mut ctx.rng;
    let fistula_created;
    let completion_angiography;
    let venous_arch_flow;
    if limb.technical_success {
        fistula_created = true;
        completion_angiography = true;
        venous_arch_flow = pick(
            rng,
            &[
                (VenousArchFlow::Complete, 0.8),
                (VenousArchFlow::Partial, 0.2),
            ],
        );
    } else {
        fistula_created = chance(rng, 0.6);
        completion_angiography = fistula_created && chance(rng, 0.9);
        venous_arch_flow = if completion_angiography {
            VenousArchFlow::None
        } else if fistula_created {
            VenousArchFlow::NotAssessed
        } else {
            VenousArchFlow::None
        };
    }
    let device = pick(
        rng,
        &[
            ("LimFlow System", 0.82),
            (
                "Generic: re-entry catheter, valvulotome and covered stents",
                0.13,
            ),
            ("Other: physician-assembled off-label kit", 0.05),
        ],
    );
    let device_lot =
        (device == "LimFlow System").then(|| format!("LF{:06}", rng.random_range(0..1_000_000u32)));
    let target_artery = pick(
        rng,
        &[
            (TibialVessel::PosteriorTibial, 0.7),
            (TibialVessel::Peroneal, 0.15),
            (TibialVessel::AnteriorTibial, 0.12),
            (TibialVessel::Other, 0.03),
        ],
    );
    let target_vein = if chance(rng, 0.9) {
        target_artery
    } else {
        TibialVessel::PosteriorTibial
    };
    let valvulotomy = fistula_created && chance(rng, 0.95);
    let stents = if fistula_created {
        pick(rng, &[(1i64, 0.2), (2, 0.4), (3, 0.3), (4, 0.1)])
    } else {
        0
    };
    let stented_length = stents * int(rng, 60, 120);
    let fluoroscopy = if chance(rng, 0.001) {
        uniform(rng, 181.0, 220.0)
    } else {
        normal(rng, 45.0, 15.0).clamp(8.0, 150.0)
    };
    let contrast = if chance(rng, 0.005) {
        int(rng, 310, 420)
    } else {
        normal(rng, 140.0, 50.0).clamp(30.0, 290.0).round() as i64
    };
    let kerma = normal(rng, 900.0, 350.0).clamp(100.0, 3000.0).round();
    let stay = pick(rng, &[((1, 3), 0.6), ((4, 10), 0.3), ((11, 30), 0.1)]);
    let discharge = add_days(limb.date, int(rng, stay.0, stay.1));
    let discharge_date = (days_between(limb.date, discharge) <= limb.limit).then_some(discharge);
    let colleagues: Vec<usize> = plan
        .operators_on(limb.date)
        .map(|(c, _)| c)
        .filter(|c| *c != plan_operator)
        .collect();
    let second_operator =
        (chance(rng, 0.4) && !colleagues.is_empty()).then(|| *one_of(rng, &colleagues));
    // Operators with fewer proctored cases than required are often proctored.
    let operator = &world.reference.clinicians[plan_operator].1;
    let proctor = (operator.proctored_cases < 5 && chance(rng, 0.5) || chance(rng, 0.02))
        .then(|| {
            // The most experienced operator in the registry proctors.
            world
                .reference
                .clinicians
                .iter()
                .enumerate()
                .max_by_key(|(_, (_, c))| c.proctored_cases)
                .map(|(k, _)| k)
                .expect("clinicians")
        })
        .filter(|k| *k != plan_operator);
    let record = IndexProcedure {
        procedure_date: limb.date,
        index_limb: limb.side,
        primary_operator: ctx.clinician_id(plan_operator),
        second_operator: second_operator.map(|k| ctx.clinician_id(k)),
        proctor: proctor.map(|k| ctx.clinician_id(k)),
        anaesthesia: pick(
            &mut ctx.rng,
            &[
                (Anaesthesia::General, 0.35),
                (Anaesthesia::Regional, 0.25),
                (Anaesthesia::LocalWithSedation, 0.35),
                (Anaesthesia::Local, 0.05),
            ],
        ),
        device_system: RequiredText::parse_for("device_system", device).expect("device"),
        device_lot,
        arterial_access: pick(
            &mut ctx.rng,
            &[
                (ArterialAccess::AntegradeCommonFemoral, 0.9),
                (ArterialAccess::RetrogradePedal, 0.07),
                (ArterialAccess::Other, 0.03),
            ],
        ),
        venous_access: if chance(&mut ctx.rng, 0.95) {
            VenousAccess::RetrogradeTibialVein
        } else {
            VenousAccess::Other
        },
        target_artery,
        target_vein,
        crossover_level: pick(
            &mut ctx.rng,
            &[
                (CrossoverLevel::ProximalCalf, 0.2),
                (CrossoverLevel::MidCalf, 0.4),
                (CrossoverLevel::DistalCalf, 0.3),
                (CrossoverLevel::Ankle, 0.1),
            ],
        ),
        fistula_created,
        valvulotomy,
        valvulotomy_extent: valvulotomy.then(|| {
            pick(
                &mut ctx.rng,
                &[
                    (ValvulotomyExtent::CrossoverToForefoot, 0.5),
                    (ValvulotomyExtent::CrossoverToMidfoot, 0.3),
                    (ValvulotomyExtent::CrossoverToAnkle, 0.15),
                    (ValvulotomyExtent::Other, 0.05),
                ],
            )
        }),
        venous_stents_count: Some(VenousStentCount::new(stents).expect("0-10 stents")),
        stented_length_mm: Some(StentedLength::new(stented_length).expect("0-1000 mm")),
        crossing_stent: Some(fistula_created && chance(&mut ctx.rng, 0.85)),
        completion_angiography,
        venous_arch_flow: Some(venous_arch_flow),
        procedure_minutes: Some(
            ProcedureMinutes::new(normal(&mut ctx.rng, 170.0, 45.0).clamp(60.0, 420.0) as i64)
                .expect("minutes"),
        ),
        fluoroscopy_minutes: Some(NonNegative::new(round1(fluoroscopy)).expect("minutes")),
        contrast_ml: Some(contrast as u32),
        air_kerma_mgy: Some(NonNegative::new(kerma).expect("dose")),
        dap_gycm2: Some(NonNegative::new(round1(kerma * 0.12)).expect("dose")),
        discharge_date,
    };
    let id = limb.procedure_id;
    ctx.records.push((id, ClinicalRecord::Procedure(record)));
}

/// Adverse events of one limb; returns the day of a bleeding event, if any.
fn adverse_events(ctx: &mut Ctx<'_>, person: &Person, limb: &LimbCourse) -> Option<i64> {
    let mut bleeding = None;
    let amputation_day = limb.major_amputation_day().unwrap_or(i64::MAX);
    for (early, table) in [
        (true, model::EARLY_ADVERSE_EVENTS),
        (false, model::LATE_ADVERSE_EVENTS),
    ] {
        for &(kind, p, lo, hi) in table {
            let rng = &mut ctx.rng;
            if !chance(rng, p) {
                continue;
            }
            if kind == AdverseEventKind::AcuteKidneyInjury && person.dialysis {
                continue;
            }
            let day = int(rng, lo, hi);
            if day > limb.limit || (!early && day >= amputation_day) {
                continue;
            }
            let severity = match kind {
                AdverseEventKind::Pain | AdverseEventKind::LimbOedema => pick(
                    rng,
                    &[
                        (Severity::Mild, 0.6),
                        (Severity::Moderate, 0.35),
                        (Severity::Severe, 0.05),
                    ],
                ),
                AdverseEventKind::StealSyndrome | AdverseEventKind::WorseningPerfusion => pick(
                    rng,
                    &[
                        (Severity::Moderate, 0.5),
                        (Severity::Severe, 0.45),
                        (Severity::LifeThreatening, 0.05),
                    ],
                ),
                _ => pick(
                    rng,
                    &[
                        (Severity::Mild, 0.35),
                        (Severity::Moderate, 0.45),
                        (Severity::Severe, 0.17),
                        (Severity::LifeThreatening, 0.03),
                    ],
                ),
            };
            let serious = matches!(severity, Severity::Severe | Severity::LifeThreatening)
                || chance(rng, 0.1);
            let related = if early {
                pick(
                    rng,
                    &[
                        (Relatedness::Yes, 0.6),
                        (Relatedness::Possible, 0.3),
                        (Relatedness::No, 0.1),
                    ],
                )
            } else {
                pick(
                    rng,
                    &[
                        (Relatedness::Yes, 0.2),
                        (Relatedness::Possible, 0.4),
                        (Relatedness::No, 0.4),
                    ],
                )
            };
            let resolved = day + int(rng, 1, 60);
            let description = match kind {
                AdverseEventKind::Pain => "Calf and foot pain after arterialisation; analgesia",
                AdverseEventKind::Bleeding => "Bleeding from access site; compression",
                AdverseEventKind::Infection => "Wound infection of the index foot; antibiotics",
                AdverseEventKind::WorseningPerfusion => "Foot colder and paler; duplex and review",
                AdverseEventKind::StealSyndrome => "Steal from the foot; circuit reviewed",
                AdverseEventKind::AccessSiteComplication => "Groin haematoma",
                AdverseEventKind::AcuteKidneyInjury => "Rise in creatinine after contrast",
                AdverseEventKind::LimbOedema => "Swelling of the index leg; elevation",
                AdverseEventKind::Other => "Other event; see notes",
            };
            if kind == AdverseEventKind::Bleeding && bleeding.is_none() {
                bleeding = Some(day);
            }
            let record = AdverseEvent {
                procedure_id: limb.procedure_id,
                onset_date: limb.day(day),
                kind,
                severity,
                serious: Some(serious),
                device_or_procedure_related: Some(related),
                resolved_on: (resolved <= limb.limit).then(|| limb.day(resolved)),
                description: Some(description.to_owned()),
            };
            ctx.push(ClinicalRecord::AdverseEvent(record));
        }
    }
    bleeding
}

fn antithrombotics(
    ctx: &mut Ctx<'_>,
    limb: &LimbCourse,
    bleeding_day: Option<i64>,
    death_date: Option<NaiveDate>,
) {
    let died_day = death_date.map(|d| days_between(limb.date, d));
    // Stop on a planned day, for bleeding, at death, or still ongoing at the
    // last observable day.
    type Stop = (Option<i64>, Option<StopReason>);
    let stop =
        |rng: &mut SynthRng, start: i64, planned: Option<i64>, anticoagulant: bool| -> Stop {
            if anticoagulant
                && let Some(b) = bleeding_day
                && b >= start
                && planned.is_none_or(|p| b < p)
                && b <= limb.limit
                && chance(rng, 0.6)
            {
                return (Some(b), Some(StopReason::Bleeding));
            }
            match planned {
                Some(p) if p <= limb.limit => (Some(p), Some(StopReason::Planned)),
                _ => match died_day {
                    Some(d) if d <= limb.limit && chance(rng, 0.7) => {
                        (Some(d), Some(StopReason::Death))
                    }
                    _ => (None, None),
                },
            }
        };
    /// One drug course: drug, dose, start day, stop day and reason.
    struct Course(AntithromboticDrug, &'static str, i64, Stop);
    let mut courses: Vec<Course> = Vec::with_capacity(4);
    let rng = &mut ctx.rng;
    let (drug, dose) = if chance(rng, 0.8) {
        (AntithromboticDrug::Aspirin, "75 mg once daily")
    } else {
        (AntithromboticDrug::Clopidogrel, "75 mg once daily")
    };
    courses.push(Course(drug, dose, 0, stop(rng, 0, None, false)));
    if drug == AntithromboticDrug::Aspirin && chance(rng, 0.3) {
        let planned = pick(rng, &[(30, 0.3), (91, 0.4), (182, 0.3)]);
        courses.push(Course(
            AntithromboticDrug::Clopidogrel,
            "75 mg once daily",
            0,
            stop(rng, 0, Some(planned), false),
        ));
    }
    if chance(rng, 0.75) {
        let mut start = 0;
        if chance(rng, 0.4) {
            let bridge = int(rng, 3, 14);
            courses.push(Course(
                AntithromboticDrug::Lmwh,
                "enoxaparin 1 mg/kg twice daily",
                0,
                stop(rng, 0, Some(bridge), true),
            ));
            start = bridge;
        }
        let (drug, dose) = pick(
            rng,
            &[
                (
                    (AntithromboticDrug::Rivaroxaban, "2.5 mg twice daily"),
                    0.38,
                ),
                ((AntithromboticDrug::Rivaroxaban, "20 mg once daily"), 0.14),
                ((AntithromboticDrug::Apixaban, "2.5 mg twice daily"), 0.2),
                ((AntithromboticDrug::Apixaban, "5 mg twice daily"), 0.1),
                ((AntithromboticDrug::Edoxaban, "60 mg once daily"), 0.04),
                ((AntithromboticDrug::Dabigatran, "110 mg twice daily"), 0.03),
                (
                    (AntithromboticDrug::Warfarin, "dose by INR, target 2-3"),
                    0.11,
                ),
            ],
        );
        let planned = pick(
            rng,
            &[
                (Some(30), 0.15),
                (Some(91), 0.33),
                (Some(182), 0.3),
                (Some(365), 0.12),
                (None, 0.1),
            ],
        )
        .map(|p| p + int(rng, -7, 14));
        if start <= limb.limit {
            let until = stop(rng, start, planned.map(|p| p.max(start + 1)), true);
            courses.push(Course(drug, dose, start, until));
        }
    }
    for Course(drug, dose, start, (stop_day, reason)) in courses {
        let record = AntithromboticTherapy {
            procedure_id: limb.procedure_id,
            drug,
            dose: Some(dose.to_owned()),
            start_date: limb.day(start),
            stop_date: stop_day.map(|d| limb.day(d)),
            stop_reason: reason,
        };
        ctx.push(ClinicalRecord::AntithromboticTherapy(record));
    }
}

fn amputations(ctx: &mut Ctx<'_>, limb: &mut LimbCourse) {
    let rng = &mut ctx.rng;
    let major_day = limb.major_amputation_day();
    let mut planned: Vec<(i64, AmputationLevel, bool, &str)> = Vec::new();
    // Minor amputations, before any major one.
    let p_minor = match limb.rutherford {
        4 => 0.05,
        5 => 0.28,
        _ => 0.35,
    };
    if chance(rng, p_minor) {
        let day = int(rng, 3, 150);
        let level = pick(
            rng,
            &[
                (AmputationLevel::Toe, 0.5),
                (AmputationLevel::Ray, 0.25),
                (AmputationLevel::Transmetatarsal, 0.2),
                (AmputationLevel::Midfoot, 0.05),
            ],
        );
        planned.push((
            day,
            level,
            false,
            "Non-healing wound; debridement and minor amputation",
        ));
        if !level.constrains_later_amputations() && chance(rng, 0.12) {
            let later = day + int(rng, 20, 200);
            let next = pick(
                rng,
                &[
                    (AmputationLevel::Toe, 0.5),
                    (AmputationLevel::Ray, 0.3),
                    (AmputationLevel::Transmetatarsal, 0.2),
                ],
            );
            planned.push((later, next, false, "Progression of forefoot tissue loss"));
        }
    }
    if let Some(day) = major_day {
        planned.retain(|(d, _, _, _)| *d < day);
        let level = pick(
            rng,
            &[
                (AmputationLevel::BelowKnee, 0.7),
                (AmputationLevel::AboveKnee, 0.22),
                (AmputationLevel::ThroughKnee, 0.05),
                (AmputationLevel::Syme, 0.03),
            ],
        );
        planned.push((
            day,
            level,
            false,
            "Unsalvageable limb: rest pain and tissue loss despite pDVA",
        ));
        if chance(rng, 0.06) {
            let later = day + int(rng, 14, 120);
            if level == AmputationLevel::AboveKnee || chance(rng, 0.5) {
                planned.push((later, level, true, "Stump revision"));
            } else {
                planned.push((
                    later,
                    AmputationLevel::AboveKnee,
                    false,
                    "Failed stump; conversion to above knee",
                ));
            }
        }
    }
    for (day, level, revision, reason) in planned {
        if day > limb.limit {
            continue;
        }
        let date = limb.day(day);
        limb.amputations.push((date, level));
        let record = Amputation {
            procedure_id: limb.procedure_id,
            date,
            limb: limb.side,
            level,
            revision,
            reason: Some(reason.to_owned()),
        };
        ctx.push(ClinicalRecord::Amputation(record));
    }
}

fn reinterventions(ctx: &mut Ctx<'_>, limb: &LimbCourse) {
    let stop = limb
        .major_amputation_day()
        .unwrap_or(i64::MAX)
        .min(limb.limit + 1);
    let mut events: Vec<(i64, bool, ReinterventionKind)> = Vec::new();
    let rng = &mut ctx.rng;
    // Staged (planned) procedures.
    if chance(rng, model::PLANNED_REINTERVENTION) {
        let kind = pick(
            rng,
            &[
                (ReinterventionKind::VenousAngioplasty, 0.4),
                (ReinterventionKind::CoilEmbolisation, 0.25),
                (ReinterventionKind::VenousStentExtension, 0.2),
                (ReinterventionKind::ArterialInflowAngioplasty, 0.1),
                (ReinterventionKind::Other, 0.05),
            ],
        );
        events.push((int(rng, 14, 150), true, kind));
        if chance(rng, 0.15) {
            events.push((
                int(rng, 180, 400),
                true,
                ReinterventionKind::VenousAngioplasty,
            ));
        }
    }
    // Clinically driven (unplanned) procedures.
    let multiplier = if limb.technical_success { 1.0 } else { 2.5 };
    let mut t = model::UNPLANNED_REINTERVENTION.sample(rng, multiplier);
    let mut count = 0;
    while t.is_finite() && count < 4 {
        let kind = if !limb.technical_success && count == 0 && t < 45.0 {
            ReinterventionKind::RedoPdva
        } else {
            pick(
                rng,
                &[
                    (ReinterventionKind::VenousAngioplasty, 0.3),
                    (ReinterventionKind::ThrombectomyOrThrombolysis, 0.18),
                    (ReinterventionKind::VenousStentExtension, 0.14),
                    (ReinterventionKind::ArterialInflowAngioplasty, 0.12),
                    (ReinterventionKind::RedoPdva, 0.07),
                    (ReinterventionKind::CoilEmbolisation, 0.06),
                    (ReinterventionKind::OpenSurgicalRevision, 0.04),
                    (ReinterventionKind::Bypass, 0.03),
                    (ReinterventionKind::Other, 0.06),
                ],
            )
        };
        events.push((t.floor() as i64, false, kind));
        count += 1;
        t += model::FURTHER_UNPLANNED_REINTERVENTION.sample(rng, 1.0);
    }
    events.sort_by_key(|e| e.0);
    for (day, planned, kind) in events {
        if day >= stop {
            continue;
        }
        let related = match kind {
            ReinterventionKind::ArterialInflowAngioplasty | ReinterventionKind::Bypass => pick(
                &mut ctx.rng,
                &[
                    (YesNoUnknown::No, 0.5),
                    (YesNoUnknown::Unknown, 0.3),
                    (YesNoUnknown::Yes, 0.2),
                ],
            ),
            ReinterventionKind::Other => YesNoUnknown::Unknown,
            _ => YesNoUnknown::Yes,
        };
        let record = Reintervention {
            procedure_id: limb.procedure_id,
            date: limb.day(day),
            limb: limb.side,
            planned,
            kind,
            related_to_pdva: Some(related),
        };
        ctx.push(ClinicalRecord::Reintervention(record));
    }
}

fn visits_and_qol(ctx: &mut Ctx<'_>, person: &Person, limb: &LimbCourse) {
    let major_day = limb.major_amputation_day().unwrap_or(i64::MAX);
    let mut healed_seen = false;
    for timepoint in Timepoint::iter() {
        let (lo, hi) = timepoint.window();
        if lo > limb.limit {
            break;
        }
        let rng = &mut ctx.rng;
        let sd = match timepoint {
            Timepoint::Day30 => 7.0,
            Timepoint::Month3 => 12.0,
            Timepoint::Month6 => 20.0,
            Timepoint::Month12 => 35.0,
            Timepoint::Year(_) => 45.0,
        };
        let day = (timepoint.target_day() as f64 + normal(rng, 0.0, sd))
            .round()
            .clamp(lo as f64, hi as f64) as i64;
        let missed = chance(rng, model::VISIT_MISSED);
        if missed || day > limb.limit {
            continue;
        }
        let date = limb.day(day);
        let status = limb.status_on(date);
        let contact = pick(
            rng,
            &[
                (ContactMode::InPerson, 0.75),
                (ContactMode::Telephone, 0.15),
                (ContactMode::RecordsReview, 0.1),
            ],
        );
        let in_person = contact == ContactMode::InPerson;
        let amputated = status == LimbStatus::MajorAmputation;
        // A clinician occasionally records the limb as intact before a
        // minor amputation has been entered (a soft warning).
        let recorded_status = if status == LimbStatus::MinorAmputation && chance(rng, 0.004) {
            LimbStatus::Intact
        } else {
            status
        };
        let wound_status = if amputated {
            None
        } else if !limb.has_wound {
            Some(if chance(rng, 0.08) {
                WoundStatus::NewWound
            } else {
                WoundStatus::NoWound
            })
        } else if day as f64 >= limb.healing {
            let recurred = healed_seen && chance(rng, 0.05);
            healed_seen = true;
            Some(if recurred {
                WoundStatus::NewWound
            } else {
                WoundStatus::Healed
            })
        } else if major_day - day <= 90 {
            Some(pick(
                rng,
                &[
                    (WoundStatus::Worse, 0.55),
                    (WoundStatus::Unchanged, 0.3),
                    (WoundStatus::Healing, 0.15),
                ],
            ))
        } else {
            Some(pick(
                rng,
                &[
                    (WoundStatus::Healing, 0.70),
                    (WoundStatus::Unchanged, 0.17),
                    (WoundStatus::Worse, 0.13),
                ],
            ))
        };
        let area = match (wound_status, limb.wound_area) {
            (Some(WoundStatus::Healing), Some(a)) => {
                Some(round1((a * uniform(rng, 0.2, 0.8)).max(0.1)))
            }
            (Some(WoundStatus::Unchanged), Some(a)) => Some(round1(a * uniform(rng, 0.85, 1.15))),
            (Some(WoundStatus::Worse), Some(a)) => {
                Some(round1((a * uniform(rng, 1.1, 1.8)).min(195.0)))
            }
            (Some(WoundStatus::NewWound), _) => Some(round1(uniform(rng, 0.5, 6.0))),
            _ => None,
        }
        .filter(|_| in_person);
        let improving = matches!(
            wound_status,
            Some(WoundStatus::Healed | WoundStatus::Healing | WoundStatus::NoWound)
        ) && limb.technical_success;
        let rutherford_now = match wound_status {
            None => None,
            Some(WoundStatus::Healed) => {
                Some(pick(rng, &[(2u8, 0.3), (3, 0.3), (1, 0.2), (4, 0.2)]))
            }
            Some(WoundStatus::NoWound) => Some(if improving { int(rng, 2, 4) as u8 } else { 4 }),
            Some(WoundStatus::Worse) => Some(if limb.rutherford == 6 {
                6
            } else {
                pick(rng, &[(5u8, 0.6), (6, 0.4)])
            }),
            Some(_) => Some(limb.rutherford.max(5)),
        }
        .filter(|_| in_person);
        // Perfusion after arterialisation: toe pressure and TcPO2 mostly rise.
        let measured = in_person && !amputated && chance(rng, 0.6);
        let shift = if improving {
            int(rng, 0, 25)
        } else {
            int(rng, -10, 5)
        };
        let toe = measured.then(|| {
            let base = limb.toe.unwrap_or_else(|| toe_in_band(rng, limb.ischaemia));
            (i64::from(base) + shift).clamp(0, 250) as u16
        });
        let tcpo2 = (measured && chance(rng, 0.4)).then(|| {
            let base = limb
                .tcpo2
                .unwrap_or_else(|| toe_in_band(rng, limb.ischaemia));
            (i64::from(base) + shift).clamp(0, 100) as u16
        });
        let suggested = [toe, tcpo2].into_iter().flatten().map(toe_grade).max();
        let wifi_ischaemia = suggested.map(|g| {
            if chance(rng, 0.002) {
                if g == 0 { 1 } else { g - 1 }
            } else {
                g
            }
        });
        let wound_grade = wound_status.filter(|_| in_person).map(|w| match w {
            WoundStatus::Healed | WoundStatus::NoWound => 0,
            WoundStatus::Healing => limb.wound.saturating_sub(1).max(1),
            WoundStatus::NewWound => 1,
            _ => limb.wound,
        });
        let infection = wound_grade.map(|_| pick(rng, &[(0u8, 0.75), (1, 0.18), (2, 0.07)]));
        let pain_now = if improving {
            int(rng, 0, 4)
        } else {
            int(rng, 3, 8)
        };
        let ambulatory = if amputated {
            pick(
                rng,
                &[
                    (AmbulatoryStatus::Wheelchair, 0.6),
                    (AmbulatoryStatus::WithAid, 0.3),
                    (AmbulatoryStatus::Bedbound, 0.1),
                ],
            )
        } else {
            person.ambulatory
        };
        let patency = if in_person && !amputated && chance(rng, 0.5) {
            if chance(rng, if limb.technical_success { 0.15 } else { 0.6 }) {
                CircuitPatency::Occluded
            } else {
                CircuitPatency::Patent
            }
        } else {
            CircuitPatency::NotAssessed
        };
        let record = FollowUpVisit {
            procedure_id: limb.procedure_id,
            visit_date: date,
            contact,
            limb_status: recorded_status,
            wound_status,
            largest_wound_area_cm2: area.map(positive),
            rutherford_category: rutherford_now.map(rutherford),
            wifi_wound: wound_grade.map(wifi),
            wifi_ischaemia: wifi_ischaemia.map(wifi),
            wifi_foot_infection: infection.map(wifi),
            toe_pressure_mmhg: toe.map(|p| ToePressure::new(i64::from(p)).expect("pressure")),
            tcpo2_mmhg: tcpo2.map(|p| Tcpo2::new(i64::from(p)).expect("tcpo2")),
            pain_score: (contact != ContactMode::RecordsReview).then(|| pain(pain_now)),
            ambulatory_status: Some(ambulatory),
            circuit_patency: Some(patency),
        };
        ctx.push(ClinicalRecord::FollowUpVisit(record));

        // Quality of life at 6 months, 12 months and yearly.
        let qol_due = matches!(
            timepoint,
            Timepoint::Month6 | Timepoint::Month12 | Timepoint::Year(_)
        );
        if qol_due && contact != ContactMode::RecordsReview && chance(&mut ctx.rng, 0.75) {
            let years = day as f64 / 365.0;
            let change = match wound_status {
                None => -0.08,
                Some(WoundStatus::Healed) => 0.3,
                Some(WoundStatus::Healing) => 0.15,
                Some(WoundStatus::NoWound) => {
                    if improving {
                        0.2
                    } else {
                        -0.03
                    }
                }
                Some(WoundStatus::Unchanged) => 0.0,
                Some(WoundStatus::Worse) => -0.12,
                Some(WoundStatus::NewWound) => -0.05,
            };
            let q = limb.qol_baseline + change + limb.qol_trend * years.min(3.0);
            let record = qol(&mut ctx.rng, limb.procedure_id, date, q, amputated);
            ctx.push(ClinicalRecord::QualityOfLife(record));
        }
    }
}

/// A quality-of-life record whose answers reflect a latent level `q` (0 worst, 1 best).
fn qol(
    rng: &mut SynthRng,
    procedure_id: RecordId,
    assessment_date: NaiveDate,
    q: f64,
    amputated: bool,
) -> QualityOfLife {
    let q = q.clamp(0.0, 1.0);
    let mut vascuqol = [None; 6];
    for item in vascuqol.iter_mut() {
        let v = (1.0 + 3.0 * q + normal(rng, 0.0, 0.45))
            .round()
            .clamp(1.0, 4.0);
        *item = Some(VascuQolItem::new(v as i64).expect("1-4"));
    }
    if chance(rng, 0.03) {
        vascuqol[int(rng, 0, 5) as usize] = None;
    }
    let mut dimension = |extra: f64| {
        let v = (5.0 - 4.0 * q + extra + normal(rng, 0.0, 0.6))
            .round()
            .clamp(1.0, 5.0);
        Some(Eq5dLevel::new(v as i64).expect("1-5"))
    };
    let mobility = dimension(if amputated { 0.8 } else { 0.3 });
    let self_care = dimension(-0.6);
    let usual = dimension(0.2);
    let pain_discomfort = dimension(0.5);
    let anxiety = dimension(-0.8);
    let mut record = QualityOfLife {
        procedure_id: Some(procedure_id),
        index_limb: None,
        assessment_date,
        vascuqol,
        eq5d_mobility: mobility,
        eq5d_self_care: self_care,
        eq5d_usual_activities: usual,
        eq5d_pain_discomfort: pain_discomfort,
        eq5d_anxiety_depression: anxiety,
        eq_vas: Some(
            EqVas::new(
                (15.0 + 75.0 * q + normal(rng, 0.0, 8.0))
                    .round()
                    .clamp(0.0, 100.0) as i64,
            )
            .expect("0-100"),
        ),
    };
    if chance(rng, 0.02) {
        record.eq5d_anxiety_depression = None;
    }
    record
}

/// Copies one record of the file under a new id: entered twice, to be voided.
fn duplicate_for_void(ctx: &mut Ctx<'_>) -> Option<(RecordId, String)> {
    let candidates: Vec<(usize, &'static str)> = ctx
        .records
        .iter()
        .enumerate()
        .filter_map(|(i, (_, r))| match r {
            ClinicalRecord::FollowUpVisit(_) => Some((i, "duplicate entry")),
            ClinicalRecord::QualityOfLife(_) => {
                Some((i, "duplicate entry of the same questionnaire"))
            }
            ClinicalRecord::AdverseEvent(_) => Some((
                i,
                "entered in error: duplicate of an event already recorded",
            )),
            _ => None,
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let (i, reason) = *one_of(&mut ctx.rng, &candidates);
    let copy = ctx.records[i].1.clone();
    let id = ctx.push(copy);
    Some((id, reason.to_owned()))
}
