//! The hard rules of DOMAIN.md 4.11 (and the per-field hard rules of section
//! 4 that need more than one value): each test takes the valid file of
//! `common`, breaks it in exactly one way, and checks that `check_record`
//! refuses the offending record naming the rule, the field, the value and the
//! rule in words.

mod common;

use chrono::Days;
use common::*;
use pdva_domain::codes::{
    AmputationLevel, FollowUpEndReason, InformationGiven, Limb, LimbStatus, RegistryDataConsent,
};
use pdva_domain::values::{NhsNumber, SiteCode};
use pdva_domain::{ClinicalRecord, IndexProcedure, PatientFile, Rule, Severity};

/// The rules DOMAIN.md calls hard (4.11 and the per-field "(hard)" rules of
/// section 4) are hard in code, and the warnings are soft. The match is
/// exhaustive, so a new rule must be classified here too.
#[test]
fn every_rule_has_the_severity_domain_md_gives_it() {
    use Rule::*;
    let all = [
        FutureDate,
        AfterDeath,
        BeforeIndexProcedure,
        EndBeforeStart,
        AmputationLevel,
        SecondDeath,
        NhsNumberInUse,
        IdentifiersWithoutConsent,
        BeforeBirth,
        BirthBefore1900,
        RequiredWith,
        InvalidChoices,
        BaselineAfterProcedure,
        DuplicateBaseline,
        DuplicateIndexProcedure,
        NotTakenUp,
        PreoperativeAfterProcedure,
        WrongLimb,
        UnknownProcedure,
        UnknownClinician,
        UnknownSite,
        AgeOutsideRange,
        AssessmentLongBefore,
        NotClti,
        WoundAreaLarge,
        AbiIncompressible,
        BmiImplausible,
        FluoroscopyLong,
        ContrastHigh,
        WifiIschaemiaDisagrees,
        LimbStatusDisagrees,
        NoConsent,
        UncertaintiesNotExplained,
        OperatorNotCredentialed,
        OperatorNotAtSite,
    ];
    for rule in all {
        let expected = match rule {
            FutureDate
            | AfterDeath
            | BeforeIndexProcedure
            | EndBeforeStart
            | AmputationLevel
            | SecondDeath
            | NhsNumberInUse
            | BeforeBirth
            | BirthBefore1900
            | RequiredWith
            | InvalidChoices
            | BaselineAfterProcedure
            | DuplicateBaseline
            | DuplicateIndexProcedure
            | NotTakenUp
            | PreoperativeAfterProcedure
            | WrongLimb
            | UnknownProcedure
            | UnknownClinician
            | UnknownSite
            | IdentifiersWithoutConsent => Severity::Hard,
            AgeOutsideRange
            | AssessmentLongBefore
            | NotClti
            | WoundAreaLarge
            | AbiIncompressible
            | BmiImplausible
            | FluoroscopyLong
            | ContrastHigh
            | WifiIschaemiaDisagrees
            | LimbStatusDisagrees
            | NoConsent
            | UncertaintiesNotExplained
            | OperatorNotCredentialed
            | OperatorNotAtSite => Severity::Soft,
        };
        assert_eq!(rule.severity(), expected, "{rule:?}");
    }
}

// ---------------------------------------------------------------------------
// Nothing after the date of death (4.9, 4.11)
// ---------------------------------------------------------------------------

const DEATH: &str = "2024-08-01";
const AFTER_DEATH: &str = "2024-08-02";

#[test]
fn a_visit_after_death_is_refused() {
    let mut fx = Fixture::valid();
    fx.add_death(DEATH);
    let v = fx.add_visit(AFTER_DEATH, LimbStatus::MinorAmputation);
    let f = assert_refused(
        &fx.check(v),
        Rule::AfterDeath,
        "visit_date",
        AFTER_DEATH,
        &["is after the patient's death on 2024-08-01"],
    );
    assert_eq!(f.record, v);
}

#[test]
fn a_visit_on_the_day_of_death_is_accepted() {
    let mut fx = Fixture::valid();
    fx.add_death(DEATH);
    let v = fx.add_visit(DEATH, LimbStatus::MinorAmputation);
    assert_clean(&fx.check(v));
}

#[test]
fn an_amputation_after_death_is_refused() {
    let mut fx = Fixture::valid();
    fx.add_death(DEATH);
    let a = fx.add_amputation(AFTER_DEATH, AmputationLevel::BelowKnee, false);
    assert_refused(
        &fx.check(a),
        Rule::AfterDeath,
        "date",
        AFTER_DEATH,
        &["is after the patient's death on 2024-08-01"],
    );
}

#[test]
fn a_quality_of_life_assessment_after_death_is_refused() {
    let mut fx = Fixture::valid();
    fx.add_death(DEATH);
    let q = fx.add(qol(fx.ids.procedure, d(AFTER_DEATH)));
    assert_refused(
        &fx.check(q),
        Rule::AfterDeath,
        "assessment_date",
        AFTER_DEATH,
        &["is after the patient's death on 2024-08-01"],
    );
}

#[test]
fn every_other_kind_of_record_after_death_is_refused_naming_its_date_field() {
    let p = Fixture::valid().ids.procedure;
    let operator = Fixture::valid().ids.operator;
    let after = d(AFTER_DEATH);
    let cases: Vec<(ClinicalRecord, &str)> = vec![
        (rec(reintervention(p, after, Limb::Right)), "date"),
        (rec(adverse_event(p, after, None)), "onset_date"),
        (rec(therapy(p, after, None)), "start_date"),
        // Started before death, stopped after it.
        (rec(therapy(p, d("2024-07-01"), Some(after))), "stop_date"),
        // Resolved after death.
        (
            rec(adverse_event(p, d("2024-07-01"), Some(after))),
            "resolved_on",
        ),
        (rec(consent(after, operator)), "consent_date"),
    ];
    for (record, field) in cases {
        let mut fx = Fixture::valid();
        fx.add_death(DEATH);
        let kind = record.kind();
        let r = fx.add(record);
        let f = assert_refused(
            &fx.check(r),
            Rule::AfterDeath,
            field,
            AFTER_DEATH,
            &["is after the patient's death on 2024-08-01"],
        );
        assert_eq!(f.record, r, "{kind:?}");
    }
}

#[test]
fn a_death_dated_before_an_existing_visit_is_refused_naming_the_death_date() {
    // The visit at 6 months (2024-07-10) is the only record after 2024-06-01.
    let mut fx = Fixture::valid();
    let death = fx.add_death("2024-06-01");
    let f = assert_refused(
        &fx.check(death),
        Rule::AfterDeath,
        "date",
        "2024-06-01",
        &[
            "is before the follow up visit dated 2024-07-10",
            "nothing may be dated after death",
        ],
    );
    assert_eq!(f.record, death);
    let other = f.counterpart.expect("names the visit");
    assert_eq!(other.record, fx.ids.visit_6m);
    assert_eq!(other.field, "visit_date");
    // The visit, checked in turn, is refused from its side.
    let f = assert_refused(
        &fx.check(fx.ids.visit_6m),
        Rule::AfterDeath,
        "visit_date",
        "2024-07-10",
        &["is after the patient's death on 2024-06-01"],
    );
    assert_eq!(f.counterpart.unwrap().record, death);
    // Records before the death are untouched.
    assert_clean(&fx.check(fx.ids.visit_3m));
}

#[test]
fn a_death_before_several_records_is_refused_once_for_each() {
    // On 2024-04-01: the 3-month visit, the 3-month QoL, the stop of the drug
    // course, the toe amputation and the 6-month visit are all after it.
    let mut fx = Fixture::valid();
    let death = fx.add_death("2024-04-01");
    let checked = fx.check(death);
    assert!(checked.warnings.is_empty());
    assert_eq!(checked.refusals.len(), 5, "{:#?}", checked.refusals);
    for f in &checked.refusals {
        assert_eq!(f.rule, Rule::AfterDeath);
        assert_eq!(f.record, death);
        assert_eq!(f.field, "date");
        assert_eq!(f.value, "2024-04-01");
    }
    let involved: Vec<_> = checked
        .refusals
        .iter()
        .map(|f| f.counterpart.as_ref().unwrap().record)
        .collect();
    for r in [
        fx.ids.visit_3m,
        fx.ids.qol_3m,
        fx.ids.therapy,
        fx.ids.toe_amputation,
        fx.ids.visit_6m,
    ] {
        assert!(involved.contains(&r), "{r} not named");
    }
}

// ---------------------------------------------------------------------------
// A second death
// ---------------------------------------------------------------------------

#[test]
fn a_second_death_is_refused() {
    let mut fx = Fixture::valid();
    let first = fx.add_death(DEATH);
    let second = fx.add_death(DEATH);
    let f = assert_refused(
        &fx.check(second),
        Rule::SecondDeath,
        "date",
        DEATH,
        &[
            "is a second death",
            "the patient's death on 2024-08-01 is already recorded",
        ],
    );
    assert_eq!(f.counterpart.unwrap().record, first);
    // The first death, checked in turn, names the conflict from its side.
    assert_refused(
        &fx.check(first),
        Rule::SecondDeath,
        "date",
        DEATH,
        &["a patient has at most one death"],
    );
}

#[test]
fn a_second_death_on_a_later_date_is_also_after_the_first() {
    let mut fx = Fixture::valid();
    fx.add_death(DEATH);
    let second = fx.add_death(AFTER_DEATH);
    let rules: Vec<_> = fx.check(second).refusals.iter().map(|f| f.rule).collect();
    assert!(rules.contains(&Rule::SecondDeath), "{rules:?}");
    assert!(rules.contains(&Rule::AfterDeath), "{rules:?}");
}

// ---------------------------------------------------------------------------
// Nothing before the index procedure (4.8, 4.9, 4.11)
// ---------------------------------------------------------------------------

#[test]
fn a_visit_on_the_day_of_the_procedure_is_refused() {
    let mut fx = Fixture::valid();
    let v = fx.add_visit(PROCEDURE_DATE, LimbStatus::Intact);
    let f = assert_refused(
        &fx.check(v),
        Rule::BeforeIndexProcedure,
        "visit_date",
        PROCEDURE_DATE,
        &["is not after the index procedure on 2024-01-10"],
    );
    assert_eq!(f.counterpart.unwrap().record, fx.ids.procedure);
}

#[test]
fn a_visit_the_day_after_the_procedure_is_accepted() {
    let mut fx = Fixture::valid();
    let v = fx.add_visit("2024-01-11", LimbStatus::Intact);
    assert_clean(&fx.check(v));
}

#[test]
fn a_visit_before_the_procedure_is_refused() {
    let mut fx = Fixture::valid();
    let v = fx.add_visit("2023-12-01", LimbStatus::Intact);
    assert_refused(
        &fx.check(v),
        Rule::BeforeIndexProcedure,
        "visit_date",
        "2023-12-01",
        &["is not after the index procedure on 2024-01-10"],
    );
}

#[test]
fn an_amputation_before_the_procedure_is_refused() {
    let mut fx = Fixture::valid();
    let a = fx.add_amputation("2024-01-09", AmputationLevel::Toe, false);
    let f = assert_refused(
        &fx.check(a),
        Rule::BeforeIndexProcedure,
        "date",
        "2024-01-09",
        &["is before the index procedure on 2024-01-10"],
    );
    // The procedure, checked in turn, is refused from its side.
    let seen = assert_refused(
        &fx.check(fx.ids.procedure),
        Rule::BeforeIndexProcedure,
        "procedure_date",
        PROCEDURE_DATE,
        &["2024-01-09"],
    );
    assert_eq!(seen.counterpart.unwrap().record, f.record);
}

#[test]
fn an_amputation_on_the_day_of_the_procedure_is_accepted() {
    let mut fx = Fixture::valid();
    let a = fx.add_amputation(PROCEDURE_DATE, AmputationLevel::Toe, false);
    assert_clean(&fx.check(a));
}

#[test]
fn a_reintervention_before_the_procedure_is_refused() {
    let mut fx = Fixture::valid();
    let r = fx.add(reintervention(
        fx.ids.procedure,
        d("2023-11-30"),
        Limb::Right,
    ));
    assert_refused(
        &fx.check(r),
        Rule::BeforeIndexProcedure,
        "date",
        "2023-11-30",
        &["is before the index procedure on 2024-01-10"],
    );
}

#[test]
fn an_adverse_event_on_the_day_of_the_procedure_is_accepted() {
    let mut fx = Fixture::valid();
    let e = fx.add(adverse_event(fx.ids.procedure, d(PROCEDURE_DATE), None));
    assert_clean(&fx.check(e));
}

#[test]
fn an_adverse_event_before_the_procedure_is_refused() {
    let mut fx = Fixture::valid();
    let e = fx.add(adverse_event(fx.ids.procedure, d("2024-01-09"), None));
    assert_refused(
        &fx.check(e),
        Rule::BeforeIndexProcedure,
        "onset_date",
        "2024-01-09",
        &["is before the index procedure on 2024-01-10"],
    );
}

#[test]
fn a_quality_of_life_assessment_before_the_procedure_is_its_baseline() {
    // DOMAIN.md 4.11 excepts the baseline QoL; an assessment on or before the
    // procedure is the baseline.
    let mut fx = Fixture::valid();
    let q = fx.add(qol(fx.ids.procedure, d("2023-12-20")));
    assert_clean(&fx.check(q));
}

#[test]
fn a_baseline_after_the_procedure_is_refused() {
    let mut fx = Fixture::valid();
    fx.baseline_mut().assessment_date = d("2024-01-11");
    fx.baseline_mut().mdt_decision_date = None;
    assert_refused(
        &fx.check(fx.ids.baseline),
        Rule::BaselineAfterProcedure,
        "assessment_date",
        "2024-01-11",
        &["is after the procedure on 2024-01-10", "on or before it"],
    );
}

#[test]
fn a_baseline_on_the_day_of_the_procedure_is_accepted() {
    let mut fx = Fixture::valid();
    fx.baseline_mut().assessment_date = d(PROCEDURE_DATE);
    assert_clean(&fx.check(fx.ids.baseline));
}

#[test]
fn a_second_baseline_for_one_procedure_is_refused() {
    let mut fx = Fixture::valid();
    let b = fx.add(baseline(fx.ids.procedure, d("2024-01-03")));
    let f = assert_refused(
        &fx.check(b),
        Rule::DuplicateBaseline,
        "procedure_id",
        &fx.ids.procedure.to_string(),
        &["already has a baseline"],
    );
    assert_eq!(f.counterpart.unwrap().record, fx.ids.baseline);
}

// ---------------------------------------------------------------------------
// End before start (4.6, 4.7, 4.9, 4.4)
// ---------------------------------------------------------------------------

#[test]
fn a_drug_stopped_before_it_started_is_refused() {
    let mut fx = Fixture::valid();
    let t = fx.add(therapy(
        fx.ids.procedure,
        d("2024-03-01"),
        Some(d("2024-02-28")),
    ));
    assert_refused(
        &fx.check(t),
        Rule::EndBeforeStart,
        "stop_date",
        "2024-02-28",
        &["is before the start date 2024-03-01"],
    );
}

#[test]
fn a_drug_stopped_the_day_it_started_is_accepted() {
    let mut fx = Fixture::valid();
    let t = fx.add(therapy(
        fx.ids.procedure,
        d("2024-03-01"),
        Some(d("2024-03-01")),
    ));
    assert_clean(&fx.check(t));
}

#[test]
fn an_adverse_event_resolved_before_its_onset_is_refused() {
    let mut fx = Fixture::valid();
    let e = fx.add(adverse_event(
        fx.ids.procedure,
        d("2024-02-10"),
        Some(d("2024-02-01")),
    ));
    assert_refused(
        &fx.check(e),
        Rule::EndBeforeStart,
        "resolved_on",
        "2024-02-01",
        &["is before the onset date 2024-02-10"],
    );
}

#[test]
fn a_discharge_before_the_procedure_is_refused() {
    let mut fx = Fixture::valid();
    fx.procedure_mut().discharge_date = Some(d("2024-01-09"));
    assert_refused(
        &fx.check(fx.ids.procedure),
        Rule::EndBeforeStart,
        "discharge_date",
        "2024-01-09",
        &["is before the procedure date 2024-01-10"],
    );
}

#[test]
fn research_consent_withdrawn_before_consent_is_refused() {
    let mut fx = Fixture::valid();
    fx.consent_mut().research_consent_withdrawn_on = Some(d("2024-01-04"));
    assert_refused(
        &fx.check(fx.ids.consent),
        Rule::EndBeforeStart,
        "research_consent_withdrawn_on",
        "2024-01-04",
        &["is before the consent date 2024-01-05"],
    );
}

// ---------------------------------------------------------------------------
// Amputation levels (4.9)
// ---------------------------------------------------------------------------

#[test]
fn a_toe_amputation_after_a_toe_amputation_is_accepted() {
    // The valid file already has a toe amputation on 2024-05-01.
    let mut fx = Fixture::valid();
    let a = fx.add_amputation("2024-06-01", AmputationLevel::Toe, false);
    assert_clean(&fx.check(a));
    let ray = fx.add_amputation("2024-06-15", AmputationLevel::Ray, false);
    let toe_again = fx.add_amputation("2024-07-01", AmputationLevel::Toe, false);
    assert_clean(&fx.check(ray));
    assert_clean(&fx.check(toe_again));
}

#[test]
fn a_toe_amputation_after_a_transmetatarsal_one_is_refused() {
    let mut fx = Fixture::valid();
    let tmt = fx.add_amputation("2024-05-15", AmputationLevel::Transmetatarsal, false);
    let toe = fx.add_amputation("2024-06-01", AmputationLevel::Toe, false);
    let f = assert_refused(
        &fx.check(toe),
        Rule::AmputationLevel,
        "level",
        "toe",
        &[
            "is not above the earlier amputation of the right limb on 2024-05-15 (Transmetatarsal)",
            "revision",
        ],
    );
    assert_eq!(f.counterpart.unwrap().record, tmt);
    // Entered out of order, the earlier amputation names the conflict too.
    assert_refused(
        &fx.check(tmt),
        Rule::AmputationLevel,
        "level",
        "transmetatarsal",
        &["(Toe on 2024-06-01)"],
    );
}

#[test]
fn a_toe_amputation_marked_as_revision_after_a_transmetatarsal_one_is_still_refused() {
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-05-15", AmputationLevel::Transmetatarsal, false);
    let toe = fx.add_amputation("2024-06-01", AmputationLevel::Toe, true);
    assert_refused(
        &fx.check(toe),
        Rule::AmputationLevel,
        "level",
        "toe",
        &["(Transmetatarsal)"],
    );
}

#[test]
fn a_second_below_knee_amputation_is_refused_unless_a_revision() {
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-05-15", AmputationLevel::BelowKnee, false);
    let again = fx.add_amputation("2024-06-01", AmputationLevel::BelowKnee, false);
    assert_refused(
        &fx.check(again),
        Rule::AmputationLevel,
        "level",
        "below_knee",
        &[
            "is not above the earlier amputation of the right limb on 2024-05-15 (Below knee (transtibial))",
        ],
    );
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-05-15", AmputationLevel::BelowKnee, false);
    let revision = fx.add_amputation("2024-06-01", AmputationLevel::BelowKnee, true);
    assert_clean(&fx.check(revision));
}

#[test]
fn an_above_knee_amputation_after_a_below_knee_one_is_accepted() {
    let mut fx = Fixture::valid();
    let bka = fx.add_amputation("2024-05-15", AmputationLevel::BelowKnee, false);
    let aka = fx.add_amputation("2024-06-01", AmputationLevel::AboveKnee, false);
    assert_clean(&fx.check(aka));
    assert_clean(&fx.check(bka));
}

#[test]
fn a_midfoot_amputation_after_a_transmetatarsal_one_is_accepted() {
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-05-15", AmputationLevel::Transmetatarsal, false);
    let midfoot = fx.add_amputation("2024-06-01", AmputationLevel::Midfoot, false);
    assert_clean(&fx.check(midfoot));
}

#[test]
fn a_revision_at_the_same_level_is_accepted() {
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-05-15", AmputationLevel::Transmetatarsal, false);
    let first = fx.add_amputation("2024-06-01", AmputationLevel::Transmetatarsal, true);
    let second = fx.add_amputation("2024-06-20", AmputationLevel::Transmetatarsal, true);
    assert_clean(&fx.check(first));
    assert_clean(&fx.check(second));
}

#[test]
fn a_below_knee_amputation_after_an_above_knee_one_is_refused_even_as_revision() {
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-05-15", AmputationLevel::AboveKnee, false);
    let bka = fx.add_amputation("2024-06-01", AmputationLevel::BelowKnee, true);
    assert_refused(
        &fx.check(bka),
        Rule::AmputationLevel,
        "level",
        "below_knee",
        &["Above knee (transfemoral)"],
    );
}

#[test]
fn amputation_levels_are_per_limb() {
    // Bilateral: a left index procedure too. A toe amputation of the left
    // limb after a transmetatarsal amputation of the right is fine.
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-05-15", AmputationLevel::Transmetatarsal, false);
    let left = fx.add(procedure(d("2024-03-01"), Limb::Left, fx.ids.operator));
    let toe = fx.add(amputation(
        left,
        d("2024-06-01"),
        Limb::Left,
        AmputationLevel::Toe,
        false,
    ));
    assert_clean(&fx.check(toe));
}

#[test]
fn amputations_on_the_same_day_are_taken_distal_first_whatever_the_entry_order() {
    // A transmetatarsal amputation entered before the toe amputation of the
    // same day: the toe is taken first, so neither is refused.
    let mut fx = Fixture::valid();
    let tmt = fx.add_amputation("2024-06-01", AmputationLevel::Transmetatarsal, false);
    let toe = fx.add_amputation("2024-06-01", AmputationLevel::Toe, false);
    assert_clean(&fx.check(tmt));
    assert_clean(&fx.check(toe));
    // Two transmetatarsal amputations on one day: one of them is refused.
    let again = fx.add_amputation("2024-06-01", AmputationLevel::Transmetatarsal, false);
    let refused: Vec<_> = [tmt, again]
        .into_iter()
        .filter(|a| !fx.check(*a).refusals.is_empty())
        .collect();
    assert_eq!(
        refused.len(),
        2,
        "both records are involved in the one conflict"
    );
    assert_eq!(fx.check_file().refusals.len(), 1);
}

// ---------------------------------------------------------------------------
// A date in the future
// ---------------------------------------------------------------------------

const TOMORROW: &str = "2025-06-02";

#[test]
fn a_date_after_today_is_refused_for_every_kind_of_record() {
    let base = Fixture::valid();
    let p = base.ids.procedure;
    let tomorrow = d(TOMORROW);
    let cases: Vec<(ClinicalRecord, &str)> = vec![
        (
            rec(visit(p, tomorrow, LimbStatus::MinorAmputation)),
            "visit_date",
        ),
        (
            rec(amputation(
                p,
                tomorrow,
                Limb::Right,
                AmputationLevel::BelowKnee,
                false,
            )),
            "date",
        ),
        (rec(reintervention(p, tomorrow, Limb::Right)), "date"),
        (rec(death(tomorrow)), "date"),
        (rec(adverse_event(p, tomorrow, None)), "onset_date"),
        (
            rec(adverse_event(p, d("2025-05-01"), Some(tomorrow))),
            "resolved_on",
        ),
        (rec(qol(p, tomorrow)), "assessment_date"),
        (rec(consent(tomorrow, base.ids.operator)), "consent_date"),
        (
            rec(therapy(p, d("2025-05-01"), Some(tomorrow))),
            "stop_date",
        ),
        // A second index procedure, on the other limb, not yet discharged.
        (
            rec(IndexProcedure {
                discharge_date: None,
                ..procedure(tomorrow, Limb::Left, base.ids.operator)
            }),
            "procedure_date",
        ),
    ];
    for (record, field) in cases {
        let mut fx = base.clone();
        let kind = record.kind();
        let r = fx.add(record);
        let f = assert_refused(
            &fx.check(r),
            Rule::FutureDate,
            field,
            TOMORROW,
            &["is in the future"],
        );
        assert_eq!(f.record, r, "{kind:?}");
    }
}

#[test]
fn a_record_dated_today_is_accepted() {
    let mut fx = Fixture::valid();
    let v = fx.add_visit(TODAY, LimbStatus::MinorAmputation);
    assert_clean(&fx.check(v));
    let death = fx.add_death(TODAY);
    assert_clean(&fx.check(death));
}

#[test]
fn a_date_of_birth_in_the_future_is_refused() {
    let mut fx = Fixture::valid();
    fx.file = PatientFile::new(fx.ids.patient, patient(d(TOMORROW)));
    assert_refused(
        &fx.check(fx.ids.patient),
        Rule::FutureDate,
        "date_of_birth",
        TOMORROW,
        &["is in the future"],
    );
}

/// DOMAIN.md 4.3: a date of birth is 1900-01-01 or later (hard), whichever
/// way the patient arrives; the day itself is accepted.
#[test]
fn a_date_of_birth_before_1900_is_refused() {
    let mut fx = Fixture::valid();
    fx.file = PatientFile::new(fx.ids.patient, patient(d("1899-12-31")));
    assert_refused(
        &fx.check(fx.ids.patient),
        Rule::BirthBefore1900,
        "date_of_birth",
        "1899-12-31",
        &["1900-01-01 or later"],
    );
    fx.file = PatientFile::new(fx.ids.patient, patient(d("1900-01-01")));
    assert!(fx.check(fx.ids.patient).refusals.is_empty());
}

/// A typed date of birth is refused at parse unless it is a real date
/// written as YYYY-MM-DD from 1900-01-01 on, and the error names the field,
/// the value and the rule.
#[test]
fn a_date_of_birth_is_parsed_strictly() {
    use pdva_domain::values::parse_date_of_birth;
    assert_eq!(parse_date_of_birth("1951-04-17"), Ok(d("1951-04-17")));
    assert_eq!(parse_date_of_birth("1900-01-01"), Ok(d("1900-01-01")));
    for (typed, rule) in [
        ("0000-01-01", "1900-01-01 or later"),
        ("1899-12-31", "1900-01-01 or later"),
        ("2025-1-1", "YYYY-MM-DD"),
        ("1951-02-30", "real calendar date"),
        ("17/04/1951", "YYYY-MM-DD"),
        ("+1951-04-17", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
    ] {
        let e = parse_date_of_birth(typed).unwrap_err();
        assert_eq!(e.field, "date_of_birth", "{typed}");
        assert_eq!(e.value, typed);
        assert!(e.rule.contains(rule), "{typed}: {}", e.rule);
    }
}

#[test]
fn a_follow_up_end_in_the_future_is_refused() {
    let mut fx = Fixture::valid();
    fx.file.patient.follow_up_ended_on = Some(d(TOMORROW));
    fx.file.patient.follow_up_end_reason = Some(FollowUpEndReason::MovedAway);
    assert_refused(
        &fx.check(fx.ids.patient),
        Rule::FutureDate,
        "follow_up_ended_on",
        TOMORROW,
        &["is in the future"],
    );
}

// ---------------------------------------------------------------------------
// The procedure and the patient
// ---------------------------------------------------------------------------

#[test]
fn a_procedure_before_birth_is_refused() {
    let mut fx = Fixture::valid();
    fx.file.patient.date_of_birth = d("2024-02-01");
    let f = assert_refused(
        &fx.check(fx.ids.procedure),
        Rule::BeforeBirth,
        "procedure_date",
        PROCEDURE_DATE,
        &["is before the date of birth 2024-02-01"],
    );
    assert_eq!(f.counterpart.unwrap().record, fx.ids.patient);
    // Correcting the date of birth is refused from the patient's side.
    assert_refused(
        &fx.check(fx.ids.patient),
        Rule::BeforeBirth,
        "date_of_birth",
        "2024-02-01",
        &["is after the procedure on 2024-01-10"],
    );
}

#[test]
fn a_procedure_on_the_day_of_birth_is_not_before_birth() {
    // An absurd age (0) is only a warning; the hard rule is "≥ date of birth".
    let mut fx = Fixture::valid();
    fx.file.patient.date_of_birth = d(PROCEDURE_DATE);
    let checked = fx.check(fx.ids.procedure);
    assert!(checked.refusals.is_empty(), "{checked:#?}");
    assert_eq!(checked.warnings.len(), 1);
    assert_eq!(checked.warnings[0].rule, Rule::AgeOutsideRange);
}

#[test]
fn a_second_index_procedure_on_the_same_limb_is_refused() {
    let mut fx = Fixture::valid();
    let again = fx.add(procedure(d("2024-09-01"), Limb::Right, fx.ids.operator));
    let f = assert_refused(
        &fx.check(again),
        Rule::DuplicateIndexProcedure,
        "index_limb",
        "right",
        &[
            "already has an index procedure (on 2024-01-10)",
            "Repeat pDVA",
        ],
    );
    assert_eq!(f.counterpart.unwrap().record, fx.ids.procedure);
}

#[test]
fn an_index_procedure_on_the_other_limb_is_accepted() {
    let mut fx = Fixture::valid();
    let left = fx.add(procedure(d("2024-09-01"), Limb::Left, fx.ids.operator));
    assert_clean(&fx.check(left));
    assert_clean(&fx.check(fx.ids.procedure));
}

#[test]
fn an_event_on_the_other_limb_than_its_procedure_is_refused() {
    let mut fx = Fixture::valid();
    let a = fx.add(amputation(
        fx.ids.procedure,
        d("2024-06-01"),
        Limb::Left,
        AmputationLevel::Toe,
        false,
    ));
    assert_refused(
        &fx.check(a),
        Rule::WrongLimb,
        "limb",
        "left",
        &["is not the index limb (right)"],
    );
    let r = fx.add(reintervention(
        fx.ids.procedure,
        d("2024-06-01"),
        Limb::Left,
    ));
    assert_refused(
        &fx.check(r),
        Rule::WrongLimb,
        "limb",
        "left",
        &["is not the index limb (right)"],
    );
}

#[test]
fn a_record_of_an_unknown_procedure_is_refused() {
    let base = Fixture::valid();
    let unknown = id(424_242);
    let cases: Vec<ClinicalRecord> = vec![
        rec(baseline(unknown, d("2024-01-02"))),
        rec(therapy(unknown, d("2024-02-01"), None)),
        rec(visit(unknown, d("2024-02-01"), LimbStatus::MinorAmputation)),
        rec(amputation(
            unknown,
            d("2024-06-01"),
            Limb::Right,
            AmputationLevel::Toe,
            false,
        )),
        rec(reintervention(unknown, d("2024-02-01"), Limb::Right)),
        rec(adverse_event(unknown, d("2024-02-01"), None)),
        rec(qol(unknown, d("2024-02-01"))),
    ];
    for record in cases {
        let mut fx = base.clone();
        let kind = record.kind();
        let r = fx.add(record);
        let f = assert_refused(
            &fx.check(r),
            Rule::UnknownProcedure,
            "procedure_id",
            &unknown.to_string(),
            &["is not an index procedure of this patient"],
        );
        assert_eq!(f.record, r, "{kind:?}");
    }
}

#[test]
fn an_unknown_clinician_is_refused() {
    let unknown = id(777_777);
    let mut fx = Fixture::valid();
    fx.consent_mut().taken_by = unknown;
    assert_refused(
        &fx.check(fx.ids.consent),
        Rule::UnknownClinician,
        "taken_by",
        &unknown.to_string(),
        &["is not a clinician of this registry"],
    );

    for field in ["primary_operator", "second_operator", "proctor"] {
        let mut fx = Fixture::valid();
        let p = fx.procedure_mut();
        match field {
            "primary_operator" => p.primary_operator = unknown,
            "second_operator" => p.second_operator = Some(unknown),
            _ => p.proctor = Some(unknown),
        }
        assert_refused(
            &fx.check(fx.ids.procedure),
            Rule::UnknownClinician,
            field,
            &unknown.to_string(),
            &["is not a clinician of this registry"],
        );
    }
}

#[test]
fn an_unknown_home_site_is_refused() {
    let mut fx = Fixture::valid();
    fx.file.patient.home_site = SiteCode::parse("NOWHERE").unwrap();
    assert_refused(
        &fx.check(fx.ids.patient),
        Rule::UnknownSite,
        "home_site",
        "NOWHERE",
        &["is not a site of this registry"],
    );
}

// ---------------------------------------------------------------------------
// Fields required by another field, and choice lists (4.3, 4.4, 4.5)
// ---------------------------------------------------------------------------

#[test]
fn an_end_of_follow_up_needs_its_reason() {
    let mut fx = Fixture::valid();
    fx.file.patient.follow_up_ended_on = Some(d("2025-01-01"));
    assert_refused(
        &fx.check(fx.ids.patient),
        Rule::RequiredWith,
        "follow_up_end_reason",
        "",
        &["is required when follow-up has ended"],
    );
    fx.file.patient.follow_up_end_reason = Some(FollowUpEndReason::Transferred);
    assert_clean(&fx.check(fx.ids.patient));
}

#[test]
fn lacking_capacity_needs_the_best_interests_decision() {
    let mut fx = Fixture::valid();
    fx.consent_mut().lacks_capacity = true;
    assert_refused(
        &fx.check(fx.ids.consent),
        Rule::RequiredWith,
        "best_interests_decision_documented",
        "",
        &["is required when the patient lacks capacity"],
    );
    fx.consent_mut().best_interests_decision_documented = Some(true);
    assert_clean(&fx.check(fx.ids.consent));
}

#[test]
fn information_given_cannot_be_empty() {
    let mut fx = Fixture::valid();
    fx.consent_mut().information_given.clear();
    assert_refused(
        &fx.check(fx.ids.consent),
        Rule::InvalidChoices,
        "information_given",
        "",
        &["is required", "\"None\""],
    );
}

#[test]
fn information_given_cannot_mix_none_with_information() {
    let mut fx = Fixture::valid();
    fx.consent_mut().information_given =
        vec![InformationGiven::None, InformationGiven::LocalLeaflet];
    assert_refused(
        &fx.check(fx.ids.consent),
        Rule::InvalidChoices,
        "information_given",
        "none, local_leaflet",
        &["cannot combine \"None\""],
    );
    // 'none' alone is a valid answer.
    fx.consent_mut().information_given = vec![InformationGiven::None];
    assert_clean(&fx.check(fx.ids.consent));
}

#[test]
fn no_option_reasons_cannot_be_empty() {
    let mut fx = Fixture::valid();
    fx.baseline_mut().no_option_reasons.clear();
    assert_refused(
        &fx.check(fx.ids.baseline),
        Rule::InvalidChoices,
        "no_option_reasons",
        "",
        &["is required"],
    );
}

// ---------------------------------------------------------------------------
// Whole file
// ---------------------------------------------------------------------------

#[test]
fn check_file_reports_what_check_record_reports() {
    // A file broken in three places: check_file finds all three, each
    // check_record finds its own.
    let mut fx = Fixture::valid();
    fx.add_death(DEATH);
    let late = fx.add_visit(AFTER_DEATH, LimbStatus::MinorAmputation);
    let early = fx.add_visit(PROCEDURE_DATE, LimbStatus::Intact);
    let t = fx.add(therapy(
        fx.ids.procedure,
        d("2024-03-01"),
        Some(d("2024-02-01")),
    ));
    let all = fx.check_file();
    let mut rules: Vec<_> = all.refusals.iter().map(|f| (f.record, f.rule)).collect();
    rules.sort_by_key(|(r, _)| *r);
    let mut expected = vec![
        (late, Rule::AfterDeath),
        (early, Rule::BeforeIndexProcedure),
        (t, Rule::EndBeforeStart),
    ];
    expected.sort_by_key(|(r, _)| *r);
    assert_eq!(rules, expected);
    assert!(all.warnings.is_empty(), "{:#?}", all.warnings);
    assert_eq!(fx.check(late).refusals.len(), 1);
    assert_eq!(fx.check(early).refusals.len(), 1);
    assert_eq!(fx.check(t).refusals.len(), 1);
    assert_clean(&fx.check(fx.ids.visit_3m));
}

#[test]
fn editing_a_record_replaces_it() {
    // Correcting a refused visit by an edit (same id) clears the refusal.
    let mut fx = Fixture::valid();
    let v = fx.add_visit(PROCEDURE_DATE, LimbStatus::Intact);
    assert_eq!(fx.check(v).refusals.len(), 1);
    fx.replace(
        v,
        visit(
            fx.ids.procedure,
            d(PROCEDURE_DATE) + Days::new(1),
            LimbStatus::Intact,
        ),
    );
    assert_clean(&fx.check(v));
}

#[test]
fn dates_at_the_end_of_the_calendar_are_refused_not_a_crash() {
    // chrono (and so serde) accepts years beyond 9999. A baseline and
    // procedure dated at the very end of the calendar, as an import might
    // bring them, are refused as future dates; the check must not panic.
    let last: chrono::NaiveDate = serde_json::from_str("\"+262142-12-31\"").unwrap();
    assert_eq!(last, chrono::NaiveDate::MAX);
    let mut fx = Fixture::valid();
    fx.procedure_mut().procedure_date = last;
    fx.procedure_mut().discharge_date = None;
    fx.baseline_mut().assessment_date = last;
    fx.baseline_mut().mdt_decision_date = None;
    assert_refused(
        &fx.check(fx.ids.baseline),
        Rule::FutureDate,
        "assessment_date",
        "+262142-12-31",
        &["is in the future"],
    );
    // The earliest date too.
    fx.baseline_mut().assessment_date = chrono::NaiveDate::MIN;
    let checked = fx.check(fx.ids.baseline);
    assert!(checked.refusals.is_empty(), "{checked:#?}");
    assert_eq!(checked.warnings[0].rule, Rule::AssessmentLongBefore);
}

// ---------------------------------------------------------------------------
// Registry data consent declined: no direct identifiers (4.4)
// ---------------------------------------------------------------------------

#[test]
fn a_consent_declining_registry_data_is_refused_while_identifiers_are_held() {
    let mut fx = Fixture::valid();
    let mut declined = consent(d("2024-01-05"), fx.ids.operator);
    declined.registry_data_consent = RegistryDataConsent::No;
    let declined_id = fx.add(declined);
    let checked = fx.check(declined_id);
    // One refusal per identifier held, each naming what to remove first.
    assert_eq!(checked.refusals.len(), 4, "{:#?}", checked.refusals);
    assert!(
        checked
            .refusals
            .iter()
            .all(|f| f.rule == Rule::IdentifiersWithoutConsent
                && f.field == "registry_data_consent"
                && f.value == "no")
    );
    assert!(
        checked
            .refusals
            .iter()
            .any(|f| f.message.contains("nhs number to be removed"))
    );

    // Without identifiers the same consent is accepted; adding one back is refused.
    fx.file.patient.nhs_number = None;
    fx.file.patient.hospital_number = None;
    fx.file.patient.family_name = None;
    fx.file.patient.given_name = None;
    assert!(fx.check(declined_id).refusals.is_empty());
    fx.file.patient.nhs_number = Some(NhsNumber::parse("9990000018").unwrap());
    assert_refused(
        &fx.check(fx.ids.patient),
        Rule::IdentifiersWithoutConsent,
        "nhs_number",
        "999 000 0018",
        &["declined registry data consent on 2024-01-05"],
    );
}
