//! Property tests of the domain's invariants: the NHS number's Modulus 11
//! check, the follow-up schedule, the worklist and completeness, the WIfI
//! stage, the EQ-5D-5L index, the bounded value types, and the validation of
//! generated patient files. The seed is fixed, so every run is the same.

mod common;

use chrono::{NaiveDate, TimeDelta};
use common::*;
use pdva_domain::codes::{AmputationLevel, Limb, LimbStatus};
use pdva_domain::derived::{eq5d5l_index_england, wifi_clinical_stage};
use pdva_domain::schedule::{
    Completeness, FollowUpContext, Timepoint, WorklistState, completeness, day_of, worklist,
};
use pdva_domain::values::*;
use pdva_domain::{
    IndexProcedure, PatientFile, RecordId, Severity, check_file, check_record,
    validation::check_patient_file,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x00DA_7A5E_ED55),
        failure_persistence: None,
        ..Config::default()
    }
}

/// `date` moved by `days`, or `date` itself when that leaves chrono's range.
fn shift(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(TimeDelta::days(days))
        .unwrap_or(date)
}

fn epoch() -> NaiveDate {
    d("2000-01-01")
}

// ---------------------------------------------------------------------------
// NHS number
// ---------------------------------------------------------------------------

/// The weighted sum of all ten digits (weights 10…1): a number is valid
/// exactly when it is a multiple of 11.
fn weighted_sum(digits: &[u8; 10]) -> u32 {
    digits
        .iter()
        .zip((1..=10u32).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum()
}

fn oracle_check_digit(first_nine: &[u8; 9]) -> Option<u8> {
    (0..=9u8).find(|c| {
        let mut all = [0u8; 10];
        all[..9].copy_from_slice(first_nine);
        all[9] = *c;
        weighted_sum(&all).is_multiple_of(11)
    })
}

fn as_text(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

fn valid_nhs_digits() -> impl Strategy<Value = [u8; 10]> {
    proptest::array::uniform9(0u8..=9).prop_filter_map("check digit 10", |first_nine| {
        oracle_check_digit(&first_nine).map(|c| {
            let mut all = [0u8; 10];
            all[..9].copy_from_slice(&first_nine);
            all[9] = c;
            all
        })
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn nhs_numbers_with_a_computable_check_digit_parse_and_round_trip(
        first_nine in proptest::array::uniform9(0u8..=9),
    ) {
        let prefix = as_text(&first_nine);
        prop_assert_eq!(NhsNumber::check_digit(&first_nine), oracle_check_digit(&first_nine));
        match oracle_check_digit(&first_nine) {
            Some(c) => {
                let text = format!("{prefix}{c}");
                let n = NhsNumber::parse(&text).unwrap();
                prop_assert_eq!(n.as_str(), text.as_str());
                // Through serde and back.
                let json = serde_json::to_string(&n).unwrap();
                prop_assert_eq!(&json, &format!("\"{text}\""));
                let back: NhsNumber = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(&back, &n);
                // As displayed (3-3-4) it parses back to itself.
                prop_assert_eq!(NhsNumber::parse(&n.to_string()).unwrap(), n);
            }
            None => {
                for last in 0..=9 {
                    let text = format!("{prefix}{last}");
                    prop_assert!(NhsNumber::parse(&text).is_err(), "{}", text);
                    let json = format!("\"{text}\"");
                    prop_assert!(serde_json::from_str::<NhsNumber>(&json).is_err());
                }
            }
        }
    }

    #[test]
    fn changing_any_single_digit_makes_a_valid_nhs_number_invalid(
        digits in valid_nhs_digits(),
        position in 0usize..10,
        delta in 1u8..=9,
    ) {
        prop_assert!(NhsNumber::parse(&as_text(&digits)).is_ok());
        let mut changed = digits;
        changed[position] = (changed[position] + delta) % 10;
        let err = NhsNumber::parse(&as_text(&changed)).unwrap_err();
        prop_assert_eq!(err.field, "nhs_number");
    }

    #[test]
    fn swapping_two_adjacent_different_digits_makes_a_valid_nhs_number_invalid(
        digits in valid_nhs_digits(),
        position in 0usize..9,
    ) {
        prop_assume!(digits[position] != digits[position + 1]);
        let mut swapped = digits;
        swapped.swap(position, position + 1);
        prop_assert!(NhsNumber::parse(&as_text(&swapped)).is_err());
    }
}

// ---------------------------------------------------------------------------
// Follow-up schedule
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn the_timepoint_for_a_day_has_a_window_holding_it(day in prop_oneof![14i64..6000, 14i64..200_000_000]) {
        let t = Timepoint::for_day(day).unwrap();
        let (a, b) = t.window();
        prop_assert!(a <= day && day <= b, "day {} -> {:?} {:?}", day, t, (a, b));
        prop_assert!(a <= t.target_day() && t.target_day() <= b);
        // The next window starts after the day.
        prop_assert!(t.next().window().0 > day);
    }

    #[test]
    fn no_timepoint_before_day_14(day in -100_000i64..14) {
        prop_assert_eq!(Timepoint::for_day(day), None);
    }

    #[test]
    fn exactly_one_window_holds_each_day_from_14(day in 14i64..8000) {
        let holding: Vec<Timepoint> = Timepoint::iter()
            .take_while(|t| t.window().0 <= day)
            .filter(|t| {
                let (a, b) = t.window();
                a <= day && day <= b
            })
            .collect();
        prop_assert_eq!(holding.len(), 1);
        prop_assert_eq!(Some(holding[0]), Timepoint::for_day(day));
    }

    #[test]
    fn windows_never_overlap(i in 0usize..500, j in 0usize..500) {
        prop_assume!(i != j);
        let (i, j) = (i.min(j), i.max(j));
        let ti = Timepoint::iter().nth(i).unwrap();
        let tj = Timepoint::iter().nth(j).unwrap();
        let (a1, b1) = ti.window();
        let (a2, b2) = tj.window();
        prop_assert!(a1 <= b1 && a2 <= b2);
        // Earlier timepoints have earlier windows, and they are disjoint.
        prop_assert!(b1 < a2, "{:?} {:?} overlaps {:?} {:?}", ti, (a1, b1), tj, (a2, b2));
    }
}

/// A procedure, its visits, an optional death and end of follow-up, and today.
#[derive(Debug, Clone)]
struct Schedule {
    procedure: NaiveDate,
    visits: Vec<NaiveDate>,
    death: Option<NaiveDate>,
    ended: Option<NaiveDate>,
    today: NaiveDate,
}

fn schedules() -> impl Strategy<Value = Schedule> {
    (
        0i64..9000,
        proptest::collection::vec(1i64..5000, 0..10),
        proptest::option::weighted(0.2, 0i64..5000),
        proptest::option::weighted(0.1, 0i64..5000),
        -60i64..6000,
    )
        .prop_map(|(p, visits, death, ended, today)| {
            let procedure = shift(epoch(), p);
            Schedule {
                procedure,
                visits: visits.into_iter().map(|v| shift(procedure, v)).collect(),
                death: death.map(|x| shift(procedure, x)),
                ended: ended.map(|x| shift(procedure, x)),
                today: shift(procedure, today),
            }
        })
}

impl Schedule {
    fn ctx(&self) -> FollowUpContext<'_> {
        FollowUpContext {
            procedure_date: self.procedure,
            visit_dates: &self.visits,
            death_date: self.death,
            follow_up_ended_on: self.ended,
        }
    }

    /// Whether any visit falls in the timepoint's window (computed here, not
    /// by the crate).
    fn has_visit(&self, t: Timepoint) -> bool {
        let (a, b) = t.window();
        self.visits
            .iter()
            .any(|v| (a..=b).contains(&day_of(self.procedure, *v)))
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn the_worklist_never_asks_for_a_visit_already_made(s in schedules()) {
        let items = worklist(&s.ctx(), s.today);
        if s.death.is_some() || s.ended.is_some() {
            prop_assert!(items.is_empty(), "{:?}", items);
            return Ok(());
        }
        for state in [WorklistState::Due, WorklistState::DueSoon, WorklistState::Overdue] {
            prop_assert!(items.iter().filter(|i| i.state == state).count() <= 1, "{:?}", items);
        }
        for item in &items {
            prop_assert_eq!((item.window_opens, item.window_closes), {
                let (a, b) = item.timepoint.window();
                (shift(s.procedure, a), shift(s.procedure, b))
            });
            match item.state {
                WorklistState::Due => {
                    prop_assert!(!s.has_visit(item.timepoint), "{:?}", item);
                    prop_assert!(item.window_opens <= s.today && s.today <= item.window_closes);
                }
                WorklistState::Overdue => {
                    prop_assert!(!s.has_visit(item.timepoint), "{:?}", item);
                    prop_assert!(item.window_closes < s.today);
                }
                WorklistState::DueSoon => {
                    prop_assert!(item.window_opens > s.today);
                    prop_assert!((item.window_opens - s.today).num_days() <= 30);
                }
            }
        }
        // A window open today without a visit is always on the list.
        if let Some(t) = Timepoint::for_day(day_of(s.procedure, s.today))
            && !s.has_visit(t)
        {
            prop_assert!(items.iter().any(|i| i.timepoint == t && i.state == WorklistState::Due));
        }
    }

    #[test]
    fn the_worklist_is_empty_after_death(s in schedules(), died in 0i64..5000, after in 0i64..3000) {
        let death = shift(s.procedure, died);
        let s = Schedule { death: Some(death), today: shift(death, after), ..s };
        prop_assert!(worklist(&s.ctx(), s.today).is_empty());
    }

    #[test]
    fn completeness_never_exceeds_one(s in schedules(), later in 0i64..3000) {
        let c = completeness(&s.ctx(), s.today);
        prop_assert!(c.with_visit <= c.closed, "{:?}", c);
        if let Some(p) = c.proportion() {
            prop_assert!((0.0..=1.0).contains(&p));
        } else {
            prop_assert_eq!(c.closed, 0);
        }
        // The windows counted are exactly those that closed before death,
        // the end of follow-up and today.
        let end = [Some(s.today), s.death, s.ended].into_iter().flatten().min().unwrap();
        let end_day = day_of(s.procedure, end);
        let closed: Vec<Timepoint> = Timepoint::iter().take_while(|t| t.window().1 < end_day).collect();
        prop_assert_eq!(c.closed as usize, closed.len());
        prop_assert_eq!(
            c.with_visit as usize,
            closed.iter().filter(|t| s.has_visit(**t)).count()
        );
        // Time only closes more windows.
        let c_later = completeness(&s.ctx(), shift(s.today, later));
        prop_assert!(c_later.closed >= c.closed && c_later.with_visit >= c.with_visit);
        // Summing keeps the bound.
        let sum = c + c_later;
        prop_assert!(sum.with_visit <= sum.closed);
        prop_assert_eq!(Completeness::default() + c, c);
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_window_closes_at_the_end_of_its_last_day(p in 0i64..9000, k in 0usize..30) {
        let procedure = shift(epoch(), p);
        let none: [NaiveDate; 0] = [];
        let ctx = FollowUpContext {
            procedure_date: procedure,
            visit_dates: &none,
            death_date: None,
            follow_up_ended_on: None,
        };
        let t = Timepoint::iter().nth(k).unwrap();
        let last_day = shift(procedure, t.window().1);
        // On its last day the window is still open: due, not yet counted.
        prop_assert_eq!(completeness(&ctx, last_day).closed as usize, k);
        let items = worklist(&ctx, last_day);
        prop_assert!(items.iter().any(|i| i.timepoint == t && i.state == WorklistState::Due));
        // The next day it has closed without a visit: counted and overdue.
        let next_day = shift(last_day, 1);
        prop_assert_eq!(
            completeness(&ctx, next_day),
            Completeness { with_visit: 0, closed: k as u32 + 1 }
        );
        let items = worklist(&ctx, next_day);
        prop_assert!(items.iter().any(|i| i.timepoint == t && i.state == WorklistState::Overdue));
        // A death on the last day: the window did not close while alive.
        let died = FollowUpContext { death_date: Some(last_day), ..ctx.clone() };
        prop_assert_eq!(completeness(&died, shift(last_day, 1000)).closed as usize, k);
    }
}

// ---------------------------------------------------------------------------
// WIfI and EQ-5D-5L
// ---------------------------------------------------------------------------

fn grade(n: i64) -> WifiGrade {
    WifiGrade::new(n).unwrap()
}

/// EQ-5D-5L England decrements in thousandths (DOMAIN.md 6.3), levels 2–5.
const DECREMENTS: [[i64; 4]; 5] = [
    [58, 76, 207, 274],
    [50, 80, 164, 203],
    [50, 63, 162, 184],
    [63, 84, 276, 335],
    [78, 104, 285, 289],
];

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_wifi_stage_is_1_to_4_and_monotone(
        w in 0i64..4, i in 0i64..4, f in 0i64..4, which in 0usize..3, up in 1i64..4,
    ) {
        let stage = wifi_clinical_stage(grade(w), grade(i), grade(f));
        prop_assert!((1..=4).contains(&stage));
        let mut worse = [w, i, f];
        worse[which] = (worse[which] + up).min(3);
        let worse_stage = wifi_clinical_stage(grade(worse[0]), grade(worse[1]), grade(worse[2]));
        prop_assert!(worse_stage >= stage, "{:?} -> {:?}", (w, i, f), worse);
    }

    #[test]
    fn the_eq5d_index_is_within_its_range_and_1_only_for_11111(
        levels in proptest::array::uniform5(1i64..=5),
        which in 0usize..5,
    ) {
        let profile = levels.map(|l| Eq5dLevel::new(l).unwrap());
        let index = eq5d5l_index_england(profile);
        prop_assert!((-0.285..=1.0).contains(&index), "{:?} -> {}", levels, index);
        prop_assert_eq!(index == 1.0, levels == [1; 5]);
        // The value set, independently: 1 minus the decrements, in thousandths.
        let thousandths: i64 = 1000
            - levels
                .iter()
                .zip(DECREMENTS)
                .map(|(l, dec)| if *l == 1 { 0 } else { dec[(*l - 2) as usize] })
                .sum::<i64>();
        prop_assert!((index * 1000.0 - thousandths as f64).abs() < 1e-6, "{:?}: {} vs {}", levels, index, thousandths);
        // A worse level in one dimension never raises the index.
        if levels[which] < 5 {
            let mut worse = levels;
            worse[which] += 1;
            prop_assert!(eq5d5l_index_england(worse.map(|l| Eq5dLevel::new(l).unwrap())) < index);
        }
    }
}

// ---------------------------------------------------------------------------
// Bounded value types
// ---------------------------------------------------------------------------

macro_rules! bounded_int_properties {
    ($($name:ident: $ty:ident, $field:literal;)+) => {
        proptest! {
            #![proptest_config(config(256))]
            $(
                #[test]
                fn $name(v in prop_oneof![
                    any::<i64>(),
                    (i64::from($ty::MIN) - 5)..=(i64::from($ty::MAX) + 5),
                ]) {
                    let inside = (i64::from($ty::MIN)..=i64::from($ty::MAX)).contains(&v);
                    match $ty::new(v) {
                        Ok(x) => {
                            prop_assert!(inside, "{} accepted", v);
                            prop_assert_eq!(i64::from(x.get()), v);
                            prop_assert_eq!(i64::from(x), v);
                            prop_assert_eq!(x.to_string(), v.to_string());
                        }
                        Err(e) => {
                            prop_assert!(!inside, "{} refused", v);
                            prop_assert_eq!(e.field, $field);
                            prop_assert_eq!(e.value, v.to_string());
                            prop_assert!(e.rule.contains(&$ty::MIN.to_string()));
                            prop_assert!(e.rule.contains(&$ty::MAX.to_string()));
                        }
                    }
                    // Typed text and serde agree with `new`.
                    prop_assert_eq!($ty::parse_for($field, &format!(" {v} ")).is_ok(), inside);
                    prop_assert_eq!(serde_json::from_str::<$ty>(&v.to_string()).is_ok(), inside);
                    if inside {
                        let x = $ty::new(v).unwrap();
                        prop_assert_eq!(serde_json::to_string(&x).unwrap(), v.to_string());
                    }
                }
            )+
        }
    };
}

bounded_int_properties! {
    rutherford_category_bounds: RutherfordCategory, "rutherford_category";
    wifi_grade_bounds: WifiGrade, "wifi_grade";
    pain_score_bounds: PainScore, "pain_score";
    clinical_frailty_scale_bounds: ClinicalFrailtyScale, "clinical_frailty_scale";
    ckd_stage_bounds: CkdStage, "ckd_stage";
    ankle_pressure_bounds: AnklePressure, "ankle_systolic_pressure_mmhg";
    toe_pressure_bounds: ToePressure, "toe_pressure_mmhg";
    tcpo2_bounds: Tcpo2, "tcpo2_mmhg";
    venous_stent_count_bounds: VenousStentCount, "venous_stents_count";
    stented_length_bounds: StentedLength, "stented_length_mm";
    procedure_minutes_bounds: ProcedureMinutes, "procedure_minutes";
    vascuqol_item_bounds: VascuQolItem, "vascuqol";
    eq5d_level_bounds: Eq5dLevel, "eq5d";
    eq_vas_bounds: EqVas, "eq_vas";
}

#[test]
fn bounded_int_ranges_are_those_of_the_data_dictionary() {
    let ranges: [(i64, i64); 14] = [
        (
            RutherfordCategory::MIN.into(),
            RutherfordCategory::MAX.into(),
        ),
        (WifiGrade::MIN.into(), WifiGrade::MAX.into()),
        (PainScore::MIN.into(), PainScore::MAX.into()),
        (
            ClinicalFrailtyScale::MIN.into(),
            ClinicalFrailtyScale::MAX.into(),
        ),
        (CkdStage::MIN.into(), CkdStage::MAX.into()),
        (AnklePressure::MIN.into(), AnklePressure::MAX.into()),
        (ToePressure::MIN.into(), ToePressure::MAX.into()),
        (Tcpo2::MIN.into(), Tcpo2::MAX.into()),
        (VenousStentCount::MIN.into(), VenousStentCount::MAX.into()),
        (StentedLength::MIN.into(), StentedLength::MAX.into()),
        (ProcedureMinutes::MIN.into(), ProcedureMinutes::MAX.into()),
        (VascuQolItem::MIN.into(), VascuQolItem::MAX.into()),
        (Eq5dLevel::MIN.into(), Eq5dLevel::MAX.into()),
        (EqVas::MIN.into(), EqVas::MAX.into()),
    ];
    assert_eq!(
        ranges,
        [
            (0, 6),
            (0, 3),
            (0, 10),
            (1, 9),
            (1, 5),
            (0, 300),
            (0, 250),
            (0, 100),
            (0, 10),
            (0, 1000),
            (1, 900),
            (1, 4),
            (1, 5),
            (0, 100),
        ]
    );
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        -3.0f64..3.0,
        Just(0.0),
        Just(-0.0),
        Just(2.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn decimal_measurements_accept_exactly_their_range(v in any_f64()) {
        let finite = v.is_finite();
        let cases: [(Result<f64, _>, bool, &str); 3] = [
            (Abi::new(v).map(f64::from), finite && (0.0..=2.0).contains(&v), "abi"),
            (Positive::new(v).map(f64::from), finite && v > 0.0, "value"),
            (NonNegative::new(v).map(f64::from), finite && v >= 0.0, "value"),
        ];
        for (result, inside, field) in cases {
            match result {
                Ok(x) => {
                    prop_assert!(inside, "{} accepted as {}", v, field);
                    prop_assert_eq!(x.to_bits(), v.to_bits());
                }
                Err(e) => {
                    prop_assert!(!inside, "{} refused as {}", v, field);
                    prop_assert_eq!(e.field, field);
                }
            }
        }
        if finite {
            // JSON carries finite numbers only; serde agrees with `new`.
            let json = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(
                serde_json::from_str::<Abi>(&json).is_ok(),
                (0.0..=2.0).contains(&v)
            );
            prop_assert_eq!(serde_json::from_str::<Positive>(&json).is_ok(), v > 0.0);
        }
    }
}

// ---------------------------------------------------------------------------
// Validation of generated patient files
// ---------------------------------------------------------------------------

fn any_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        // Around the registry's lifetime.
        6 => (0i64..12_000).prop_map(|x| shift(d("1995-01-01"), x)),
        // Any date a four-digit-year form accepts.
        2 => (1i32..=3_652_059).prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).unwrap()),
        // chrono's extremes.
        1 => prop_oneof![Just(NaiveDate::MIN), Just(NaiveDate::MAX)],
    ]
}

fn any_level() -> impl Strategy<Value = AmputationLevel> {
    proptest::sample::select(AmputationLevel::ALL)
}

fn any_limb() -> impl Strategy<Value = Limb> {
    prop_oneof![Just(Limb::Left), Just(Limb::Right)]
}

/// Dates and levels of an arbitrary file, coherent or not.
#[derive(Debug, Clone)]
struct AnyFile {
    date_of_birth: NaiveDate,
    procedures: Vec<(NaiveDate, Limb)>,
    visits: Vec<(NaiveDate, usize)>,
    amputations: Vec<(NaiveDate, AmputationLevel, bool, Limb, usize)>,
    deaths: Vec<NaiveDate>,
    others: Vec<(NaiveDate, Option<NaiveDate>, usize)>,
    consent: Option<NaiveDate>,
    today: NaiveDate,
}

fn any_files() -> impl Strategy<Value = AnyFile> {
    (
        any_date(),
        proptest::collection::vec((any_date(), any_limb()), 0..3),
        proptest::collection::vec((any_date(), 0usize..4), 0..5),
        proptest::collection::vec(
            (
                any_date(),
                any_level(),
                any::<bool>(),
                any_limb(),
                0usize..4,
            ),
            0..6,
        ),
        proptest::collection::vec(any_date(), 0..3),
        proptest::collection::vec(
            (any_date(), proptest::option::of(any_date()), 0usize..4),
            0..6,
        ),
        proptest::option::of(any_date()),
        any_date(),
    )
        .prop_map(
            |(date_of_birth, procedures, visits, amputations, deaths, others, consent, today)| {
                AnyFile {
                    date_of_birth,
                    procedures,
                    visits,
                    amputations,
                    deaths,
                    others,
                    consent,
                    today,
                }
            },
        )
}

/// Builds the file; a record's procedure index beyond the procedures made
/// refers to a procedure the patient does not have.
fn build(spec: &AnyFile) -> Fixture {
    let mut fx = Fixture::valid();
    fx.file = PatientFile::new(fx.ids.patient, patient(spec.date_of_birth));
    fx.today = spec.today;
    let mut procedure_ids: Vec<RecordId> = spec
        .procedures
        .iter()
        .map(|(date, limb)| fx.add(procedure(*date, *limb, fx.ids.operator)))
        .collect();
    procedure_ids.extend([id(9_999_001), id(9_999_002), id(9_999_003), id(9_999_004)]);
    let pid = |i: usize| procedure_ids[i];
    if let Some(c) = spec.consent {
        fx.add(consent(c, fx.ids.operator));
    }
    for (date, p) in &spec.visits {
        fx.add(visit(pid(*p), *date, LimbStatus::Intact));
    }
    for (date, level, revision, limb, p) in &spec.amputations {
        fx.add(amputation(pid(*p), *date, *limb, *level, *revision));
    }
    for date in &spec.deaths {
        fx.add(death(*date));
    }
    for (i, (start, end, p)) in spec.others.iter().enumerate() {
        let p = pid(*p);
        let record = match i % 5 {
            0 => rec(therapy(p, *start, *end)),
            1 => rec(adverse_event(p, *start, *end)),
            2 => rec(reintervention(p, *start, Limb::Right)),
            3 => rec(qol(p, *start)),
            _ => rec(baseline(p, *start)),
        };
        fx.add(record);
    }
    fx
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn validation_never_panics_and_check_record_agrees_with_check_file(spec in any_files()) {
        let fx = build(&spec);
        let all = check_file(&fx.file, &fx.reference, fx.today);
        let raw = check_patient_file(&fx.file, &fx.reference, fx.today);
        prop_assert_eq!(all.refusals.len() + all.warnings.len(), raw.len());
        let mut ids: Vec<RecordId> = fx.file.records.iter().map(|(id, _)| *id).collect();
        ids.push(fx.ids.patient);
        for f in all.refusals.iter().chain(&all.warnings) {
            prop_assert_eq!(f.severity, f.rule.severity());
            prop_assert!(ids.contains(&f.record), "{:?}", f);
            // The record the finding is about sees it too.
            let own = check_record(&fx.file, f.record, &fx.reference, fx.today);
            prop_assert!(own.refusals.contains(f) || own.warnings.contains(f), "{:?}", f);
        }
        for id in ids {
            let own = check_record(&fx.file, id, &fx.reference, fx.today);
            for f in own.refusals.iter().chain(&own.warnings) {
                prop_assert_eq!(f.record, id);
            }
            prop_assert!(own.refusals.iter().all(|f| f.severity == Severity::Hard));
            prop_assert!(own.warnings.iter().all(|f| f.severity == Severity::Soft));
        }
    }
}

/// A coherent file: every event after the procedure, none after death or
/// today, amputation levels rising.
#[derive(Debug, Clone)]
struct CoherentFile {
    procedure: NaiveDate,
    /// Last day anything may happen, as days after the procedure.
    last: i64,
    death: bool,
    today: NaiveDate,
    visits: Vec<i64>,
    amputations: Vec<(i64, AmputationLevel, bool)>,
    events: Vec<(i64, i64)>,
    baseline_days_before: i64,
    age: i64,
}

fn coherent_files() -> impl Strategy<Value = CoherentFile> {
    (0i64..9000, 0i64..4000, any::<bool>(), 0i64..400)
        .prop_flat_map(|(p, last, death, to_today)| {
            let minor = proptest::collection::vec(
                prop_oneof![Just(AmputationLevel::Toe), Just(AmputationLevel::Ray)],
                0..3,
            );
            // Constraining levels, strictly rising, each perhaps revised.
            let constraining = proptest::sample::subsequence(
                AmputationLevel::ALL
                    .iter()
                    .copied()
                    .filter(|l| l.constrains_later_amputations())
                    .collect::<Vec<_>>(),
                0..4,
            );
            let revisions = proptest::collection::vec(any::<bool>(), 4);
            let dates = proptest::collection::vec(0..=last, 0..10).prop_map(|mut days| {
                days.sort_unstable();
                days.dedup();
                days
            });
            (
                Just((p, last, death, to_today)),
                proptest::collection::vec(1..=last.max(1), 0..6),
                minor,
                constraining,
                revisions,
                dates,
                proptest::collection::vec((0..=last, 0..=last), 0..5),
                0i64..=90,
                18i64..=110,
            )
        })
        .prop_map(
            |(
                (p, last, death, to_today),
                visits,
                minor,
                constraining,
                revisions,
                dates,
                events,
                before,
                age,
            )| {
                let procedure = shift(epoch(), p);
                // Amputations in date order: minor first, then rising levels,
                // each followed by its revision when drawn.
                let mut levels: Vec<(AmputationLevel, bool)> =
                    minor.into_iter().map(|l| (l, false)).collect();
                for (level, revised) in constraining.into_iter().zip(revisions) {
                    levels.push((level, false));
                    if revised {
                        levels.push((level, true));
                    }
                }
                let amputations = dates
                    .into_iter()
                    .zip(levels)
                    .map(|(day, (level, revision))| (day, level, revision))
                    .collect();
                CoherentFile {
                    procedure,
                    last,
                    death,
                    today: shift(procedure, last + if death { to_today } else { 0 }),
                    visits: visits.into_iter().filter(|v| *v <= last).collect(),
                    amputations,
                    events: events
                        .into_iter()
                        .map(|(a, b)| (a.min(b), a.max(b)))
                        .collect(),
                    baseline_days_before: before,
                    age,
                }
            },
        )
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_coherent_file_has_no_hard_findings(spec in coherent_files()) {
        let mut fx = Fixture::valid();
        let p0 = spec.procedure;
        // No earlier than 1900-01-01, the earliest date of birth the
        // registry takes (a hard rule): a drawn age of 107 in 2000 would
        // otherwise be born in 1893.
        let dob = shift(p0, -(spec.age * 366 - 200))
            .max(NaiveDate::from_ymd_opt(1900, 1, 1).unwrap());
        fx.file = PatientFile::new(fx.ids.patient, patient(dob));
        fx.today = spec.today;
        let at = |day: i64| shift(p0, day);
        fx.add(consent(shift(p0, -spec.baseline_days_before), fx.ids.operator));
        let p = fx.add(IndexProcedure {
            discharge_date: None,
            ..procedure(p0, Limb::Right, fx.ids.operator)
        });
        fx.add(baseline(p, shift(p0, -spec.baseline_days_before)));
        fx.add(qol(p, shift(p0, -spec.baseline_days_before)));
        for v in &spec.visits {
            fx.add(visit(p, at(*v), LimbStatus::Intact));
        }
        for (day, level, revision) in &spec.amputations {
            fx.add(amputation(p, at(*day), Limb::Right, *level, *revision));
        }
        for (i, (start, end)) in spec.events.iter().enumerate() {
            let record = match i % 4 {
                0 => rec(therapy(p, at(*start), Some(at(*end)))),
                1 => rec(adverse_event(p, at(*start), Some(at(*end)))),
                2 => rec(reintervention(p, at(*start), Limb::Right)),
                _ => rec(qol(p, at(*start))),
            };
            fx.add(record);
        }
        if spec.death {
            fx.add(death(at(spec.last)));
        }
        let checked = fx.check_file();
        prop_assert!(checked.refusals.is_empty(), "{:#?}", checked.refusals);
        // The constraining amputations really do rise.
        let levels: Vec<AmputationLevel> = spec
            .amputations
            .iter()
            .filter(|(_, l, revision)| l.constrains_later_amputations() && !revision)
            .map(|(_, l, _)| *l)
            .collect();
        prop_assert!(levels.windows(2).all(|w| w[0] < w[1]));
    }
}
