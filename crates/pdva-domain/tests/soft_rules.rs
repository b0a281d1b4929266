//! The soft rules of DOMAIN.md 4.11 and the per-field warnings of section 4:
//! each is accepted with one warning naming the field and the value. And the
//! valid file of `common` has no findings at all.

mod common;

use chrono::Days;
use common::*;
use pdva_domain::codes::{AmputationLevel, LimbStatus};
use pdva_domain::values::{
    Abi, NonNegative, Positive, RutherfordCategory, SiteCode, ToePressure, WifiGrade,
};
use pdva_domain::{RecordId, Rule};

#[test]
fn the_valid_file_has_no_findings_at_all() {
    let fx = Fixture::valid();
    assert_clean(&fx.check_file());
    let mut ids: Vec<RecordId> = fx.file.records.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 12);
    ids.push(fx.ids.patient);
    for id in ids {
        assert_clean(&fx.check(id));
    }
    // Derived values of the valid file, as a sanity check of the builder.
    let bmi = match &fx.file.records[2].1 {
        pdva_domain::ClinicalRecord::Baseline(b) => b.bmi().unwrap(),
        other => panic!("{other:?}"),
    };
    assert!((bmi - 26.12).abs() < 0.01, "{bmi}");
}

// ---------------------------------------------------------------------------
// Age at the index procedure (4.3)
// ---------------------------------------------------------------------------

#[test]
fn an_age_under_18_at_the_procedure_is_a_warning() {
    let mut fx = Fixture::valid();
    // 17 years and 7 months on 2024-01-10.
    fx.file.patient.date_of_birth = d("2006-06-01");
    let f = assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::AgeOutsideRange,
        "procedure_date",
        PROCEDURE_DATE,
        &["age at the procedure of 17 years", "18–110"],
    );
    assert_eq!(f.counterpart.unwrap().record, fx.ids.patient);
    // Seen from the patient, the date of birth is named.
    assert_warned(
        &fx.check(fx.ids.patient),
        Rule::AgeOutsideRange,
        "date_of_birth",
        "2006-06-01",
        &["age of 17"],
    );
}

#[test]
fn an_age_over_110_at_the_procedure_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.file.patient.date_of_birth = d("1912-06-01");
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::AgeOutsideRange,
        "procedure_date",
        PROCEDURE_DATE,
        &["age at the procedure of 111 years"],
    );
}

#[test]
fn ages_18_and_110_are_inside_the_range() {
    let mut fx = Fixture::valid();
    // 18th birthday on the day of the procedure.
    fx.file.patient.date_of_birth = d("2006-01-10");
    assert_clean(&fx.check(fx.ids.procedure));
    // The day before the 111th birthday.
    fx.file.patient.date_of_birth = d("1913-01-11");
    assert_clean(&fx.check(fx.ids.procedure));
    // The day before the 18th birthday: still 17.
    fx.file.patient.date_of_birth = d("2006-01-11");
    assert_eq!(
        fx.check(fx.ids.procedure).warnings[0].rule,
        Rule::AgeOutsideRange
    );
}

// ---------------------------------------------------------------------------
// Baseline (4.5)
// ---------------------------------------------------------------------------

#[test]
fn a_baseline_more_than_90_days_before_the_procedure_is_a_warning() {
    let mut fx = Fixture::valid();
    let date = d(PROCEDURE_DATE) - Days::new(91);
    fx.baseline_mut().assessment_date = date;
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::AssessmentLongBefore,
        "assessment_date",
        "2023-10-11",
        &["more than 90 days before the procedure on 2024-01-10"],
    );
    fx.baseline_mut().assessment_date = d(PROCEDURE_DATE) - Days::new(90);
    assert_clean(&fx.check(fx.ids.baseline));
}

#[test]
fn a_rutherford_category_below_4_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.baseline_mut().rutherford_category = RutherfordCategory::new(3).unwrap();
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::NotClti,
        "rutherford_category",
        "3",
        &["is below 4", "CLTI"],
    );
    for ok in 4..=6 {
        fx.baseline_mut().rutherford_category = RutherfordCategory::new(ok).unwrap();
        assert_clean(&fx.check(fx.ids.baseline));
    }
}

#[test]
fn a_wound_over_200_cm2_is_a_warning_at_baseline_and_at_a_visit() {
    let mut fx = Fixture::valid();
    fx.baseline_mut().largest_wound_area_cm2 = Some(Positive::new(200.5).unwrap());
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::WoundAreaLarge,
        "largest_wound_area_cm2",
        "200.5",
        &["over 200 cm²"],
    );
    fx.baseline_mut().largest_wound_area_cm2 = Some(Positive::new(200.0).unwrap());
    assert_clean(&fx.check(fx.ids.baseline));

    fx.visit_mut(fx.ids.visit_30d).largest_wound_area_cm2 = Some(Positive::new(250.0).unwrap());
    assert_warned(
        &fx.check(fx.ids.visit_30d),
        Rule::WoundAreaLarge,
        "largest_wound_area_cm2",
        "250",
        &["over 200 cm²"],
    );
}

#[test]
fn an_abi_over_1_4_is_a_warning() {
    // The other perfusion values still suggest grade 3, as recorded.
    let mut fx = Fixture::valid();
    fx.baseline_mut().abi = Some(Abi::new(1.5).unwrap());
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::AbiIncompressible,
        "abi",
        "1.5",
        &["above 1.4", "incompressible", "toe pressure"],
    );
    fx.baseline_mut().abi = Some(Abi::new(0.39).unwrap());
    assert_clean(&fx.check(fx.ids.baseline));
}

#[test]
fn an_implausible_bmi_is_a_warning() {
    let mut fx = Fixture::valid();
    // 230 kg at 175 cm: BMI 75.1.
    fx.baseline_mut().weight_kg = Some(Positive::new(230.0).unwrap());
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::BmiImplausible,
        "weight_kg",
        "230",
        &["BMI of 75.1", "outside 12–70"],
    );
    // 35 kg at 180 cm: BMI 10.8.
    fx.baseline_mut().weight_kg = Some(Positive::new(35.0).unwrap());
    fx.baseline_mut().height_cm = Some(Positive::new(180.0).unwrap());
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::BmiImplausible,
        "weight_kg",
        "35",
        &["BMI of 10.8"],
    );
    // Without a height no BMI is derived, so nothing to warn about.
    fx.baseline_mut().height_cm = None;
    assert_clean(&fx.check(fx.ids.baseline));
}

#[test]
fn a_recorded_ischaemia_grade_disagreeing_with_the_measurements_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.baseline_mut().wifi_ischaemia = WifiGrade::new(1).unwrap();
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::WifiIschaemiaDisagrees,
        "wifi_ischaemia",
        "1",
        &["suggest grade 3"],
    );
}

#[test]
fn the_worst_measurement_sets_the_suggested_ischaemia_grade() {
    // Toe pressure 35 alone suggests grade 2; an ABI of 0.9 (grade 0) does
    // not make it milder.
    let mut fx = Fixture::valid();
    let b = fx.baseline_mut();
    b.abi = Some(Abi::new(0.9).unwrap());
    b.ankle_systolic_pressure_mmhg = None;
    b.tcpo2_mmhg = None;
    b.toe_pressure_mmhg = Some(ToePressure::new(35).unwrap());
    b.wifi_ischaemia = WifiGrade::new(2).unwrap();
    assert_clean(&fx.check(fx.ids.baseline));
    fx.baseline_mut().wifi_ischaemia = WifiGrade::new(0).unwrap();
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::WifiIschaemiaDisagrees,
        "wifi_ischaemia",
        "0",
        &["suggest grade 2"],
    );
}

#[test]
fn nothing_measured_but_an_incompressible_abi_suggests_no_grade() {
    let mut fx = Fixture::valid();
    let b = fx.baseline_mut();
    b.abi = Some(Abi::new(1.6).unwrap());
    b.ankle_systolic_pressure_mmhg = None;
    b.toe_pressure_mmhg = None;
    b.tcpo2_mmhg = None;
    b.wifi_ischaemia = WifiGrade::new(0).unwrap();
    // Only the ABI warning, no disagreement.
    assert_warned(
        &fx.check(fx.ids.baseline),
        Rule::AbiIncompressible,
        "abi",
        "1.6",
        &[],
    );
}

#[test]
fn a_visit_ischaemia_grade_disagreeing_with_its_toe_pressure_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.visit_mut(fx.ids.visit_30d).wifi_ischaemia = Some(WifiGrade::new(0).unwrap());
    assert_warned(
        &fx.check(fx.ids.visit_30d),
        Rule::WifiIschaemiaDisagrees,
        "wifi_ischaemia",
        "0",
        &["suggest grade 2"],
    );
}

// ---------------------------------------------------------------------------
// Procedure (4.6)
// ---------------------------------------------------------------------------

#[test]
fn fluoroscopy_over_180_minutes_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.procedure_mut().fluoroscopy_minutes = Some(NonNegative::new(180.5).unwrap());
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::FluoroscopyLong,
        "fluoroscopy_minutes",
        "180.5",
        &["over 180 minutes"],
    );
    fx.procedure_mut().fluoroscopy_minutes = Some(NonNegative::new(180.0).unwrap());
    assert_clean(&fx.check(fx.ids.procedure));
}

#[test]
fn contrast_over_300_ml_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.procedure_mut().contrast_ml = Some(301);
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::ContrastHigh,
        "contrast_ml",
        "301",
        &["over 300 ml"],
    );
    fx.procedure_mut().contrast_ml = Some(300);
    assert_clean(&fx.check(fx.ids.procedure));
}

// ---------------------------------------------------------------------------
// Limb status at a visit against the amputations (4.8)
// ---------------------------------------------------------------------------

#[test]
fn a_visit_calling_the_limb_intact_after_a_toe_amputation_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.visit_mut(fx.ids.visit_6m).limb_status = LimbStatus::Intact;
    assert_warned(
        &fx.check(fx.ids.visit_6m),
        Rule::LimbStatusDisagrees,
        "limb_status",
        "intact",
        &["worst: Toe", "Minor amputation"],
    );
}

#[test]
fn a_visit_reporting_a_major_amputation_that_is_not_recorded_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.visit_mut(fx.ids.visit_3m).limb_status = LimbStatus::MajorAmputation;
    assert_warned(
        &fx.check(fx.ids.visit_3m),
        Rule::LimbStatusDisagrees,
        "limb_status",
        "major_amputation",
        &["none up to this visit", "Intact"],
    );
}

#[test]
fn a_visit_after_a_major_amputation_must_say_major() {
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-06-01", AmputationLevel::BelowKnee, false);
    assert_warned(
        &fx.check(fx.ids.visit_6m),
        Rule::LimbStatusDisagrees,
        "limb_status",
        "minor_amputation",
        &["worst: Below knee (transtibial)", "Major amputation"],
    );
    fx.visit_mut(fx.ids.visit_6m).limb_status = LimbStatus::MajorAmputation;
    assert_clean(&fx.check(fx.ids.visit_6m));
    // Syme's counts as major (DOMAIN.md glossary).
    let mut fx = Fixture::valid();
    fx.add_amputation("2024-06-01", AmputationLevel::Syme, false);
    fx.visit_mut(fx.ids.visit_6m).limb_status = LimbStatus::MajorAmputation;
    assert_clean(&fx.check(fx.ids.visit_6m));
}

#[test]
fn an_amputation_on_the_day_of_a_visit_counts_for_that_visit() {
    let mut fx = Fixture::valid();
    fx.remove(fx.ids.toe_amputation);
    fx.add_amputation("2024-07-10", AmputationLevel::Toe, false);
    assert_clean(&fx.check(fx.ids.visit_6m));
}

// ---------------------------------------------------------------------------
// Consent (4.4)
// ---------------------------------------------------------------------------

#[test]
fn a_procedure_without_consent_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.remove(fx.ids.consent);
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::NoConsent,
        "procedure_date",
        PROCEDURE_DATE,
        &["no consent recorded on or before it"],
    );
}

#[test]
fn a_consent_dated_after_the_procedure_does_not_cover_it() {
    let mut fx = Fixture::valid();
    fx.consent_mut().consent_date = d("2024-01-11");
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::NoConsent,
        "procedure_date",
        PROCEDURE_DATE,
        &["no consent"],
    );
    fx.consent_mut().consent_date = d(PROCEDURE_DATE);
    assert_clean(&fx.check(fx.ids.procedure));
}

#[test]
fn a_consent_without_the_uncertainties_explained_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.consent_mut().uncertainties_explained = false;
    assert_warned(
        &fx.check(fx.ids.consent),
        Rule::UncertaintiesNotExplained,
        "uncertainties_explained",
        "no",
        &["IPG773 1.2", "uncertainties"],
    );
}

// ---------------------------------------------------------------------------
// The operator (4.2, 4.6)
// ---------------------------------------------------------------------------

#[test]
fn an_operator_trained_after_the_procedure_was_not_credentialed_on_the_day() {
    let mut fx = Fixture::valid();
    fx.operator_mut().pdva_training_completed_on = Some(d("2024-02-01"));
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::OperatorNotCredentialed,
        "primary_operator",
        OPERATOR_NAME,
        &[
            "was not credentialed for pDVA on 2024-01-10",
            "at least 5 proctored cases",
        ],
    );
    // Trained on the day of the procedure counts.
    fx.operator_mut().pdva_training_completed_on = Some(d(PROCEDURE_DATE));
    assert_clean(&fx.check(fx.ids.procedure));
}

#[test]
fn an_operator_without_recorded_training_is_not_credentialed() {
    let mut fx = Fixture::valid();
    fx.operator_mut().pdva_training_completed_on = None;
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::OperatorNotCredentialed,
        "primary_operator",
        OPERATOR_NAME,
        &["not credentialed"],
    );
}

#[test]
fn too_few_proctored_cases_for_the_site_is_not_credentialed() {
    let mut fx = Fixture::valid();
    fx.operator_mut().proctored_cases = 4;
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::OperatorNotCredentialed,
        "primary_operator",
        OPERATOR_NAME,
        &["at least 5 proctored cases"],
    );
    // The site's own minimum decides: 4 cases suffice where 3 are required…
    fx.site_mut().min_proctored_cases = 3;
    assert_clean(&fx.check(fx.ids.procedure));
    // …and exactly the minimum suffices.
    fx.site_mut().min_proctored_cases = 4;
    assert_clean(&fx.check(fx.ids.procedure));
    // The valid operator's 8 cases are too few where 10 are required.
    let mut fx = Fixture::valid();
    fx.site_mut().min_proctored_cases = 10;
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::OperatorNotCredentialed,
        "primary_operator",
        OPERATOR_NAME,
        &["at least 10 proctored cases"],
    );
}

#[test]
fn an_operator_not_working_at_the_patients_site_is_a_warning() {
    let mut fx = Fixture::valid();
    fx.operator_mut().sites = vec![SiteCode::parse("KCH").unwrap()];
    assert_warned(
        &fx.check(fx.ids.procedure),
        Rule::OperatorNotAtSite,
        "primary_operator",
        OPERATOR_NAME,
        &["does not work at site RFH"],
    );
}

// ---------------------------------------------------------------------------
// Several warnings together
// ---------------------------------------------------------------------------

#[test]
fn warnings_accumulate_and_never_refuse() {
    let mut fx = Fixture::valid();
    fx.procedure_mut().fluoroscopy_minutes = Some(NonNegative::new(200.0).unwrap());
    fx.procedure_mut().contrast_ml = Some(400);
    fx.remove(fx.ids.consent);
    fx.operator_mut().proctored_cases = 0;
    let checked = fx.check(fx.ids.procedure);
    assert!(checked.refusals.is_empty());
    let mut rules: Vec<_> = checked
        .warnings
        .iter()
        .map(|f| format!("{:?}", f.rule))
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "ContrastHigh",
            "FluoroscopyLong",
            "NoConsent",
            "OperatorNotCredentialed"
        ]
    );
    assert_eq!(checked.into_result().unwrap().len(), 4);
}
