//! The NHS number rule (DOMAIN.md 4.3, 4.11): ten digits whose last is the
//! Modulus 11 check digit of the first nine (weights 10…2; 11 − (sum mod 11);
//! 11 → 0; 10 → invalid), through `NhsNumber::parse` and through serde, as a
//! patient arrives from a file or a form.

use pdva_domain::Patient;
use pdva_domain::values::NhsNumber;

/// An independent statement of the rule, to check the crate against.
fn oracle_check_digit(first_nine: &str) -> Option<u32> {
    let sum: u32 = first_nine
        .chars()
        .map(|c| c.to_digit(10).unwrap())
        .zip([10, 9, 8, 7, 6, 5, 4, 3, 2])
        .map(|(d, w)| d * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        d => Some(d),
    }
}

#[test]
fn numbers_worked_by_hand_from_the_test_range_are_valid() {
    // 999 000 001 → 90+81+72+2 = 245; 245 mod 11 = 3; 11 − 3 = 8.
    // 999 000 002 → 247; 5; 6.   999 000 003 → 249; 7; 4.
    // 999 000 005 → 253 = 11·23; 11 − 0 = 11 → check digit 0.
    for n in ["9990000018", "9990000026", "9990000034", "9990000050"] {
        let parsed = NhsNumber::parse(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(parsed.as_str(), n);
        assert!(parsed.is_test_range());
    }
    // The NHS's own published example, outside the test range.
    let example = NhsNumber::parse("9434765919").unwrap();
    assert!(!example.is_test_range());
}

#[test]
fn every_number_of_a_block_of_the_test_range_agrees_with_the_oracle() {
    let mut valid = 0;
    for prefix in 999_000_000u32..999_002_000 {
        let first_nine = prefix.to_string();
        for last in 0..=9 {
            let number = format!("{first_nine}{last}");
            let expected = oracle_check_digit(&first_nine) == Some(last);
            assert_eq!(NhsNumber::parse(&number).is_ok(), expected, "{number}");
            valid += usize::from(expected);
        }
    }
    // One in eleven prefixes has no valid completion; the others have one.
    assert!((1800..=1830).contains(&valid), "{valid}");
}

#[test]
fn spaces_and_hyphens_are_ignored_and_the_number_stored_as_ten_digits() {
    for typed in ["999 000 0018", "999-000-0018", " 9990000018 "] {
        let n = NhsNumber::parse(typed).unwrap();
        assert_eq!(n.as_str(), "9990000018");
        assert_eq!(n.formatted(), "999 000 0018");
        assert_eq!(n.to_string(), "999 000 0018");
        assert_eq!(typed.parse::<NhsNumber>().unwrap(), n);
    }
}

#[test]
fn a_wrong_check_digit_is_refused_naming_the_right_one() {
    let err = NhsNumber::parse("9990000017").unwrap_err();
    assert_eq!(err.field, "nhs_number");
    assert_eq!(err.value, "9990000017");
    assert!(err.rule.contains("Modulus 11"), "{}", err.rule);
    assert!(err.rule.contains("should be 8, not 7"), "{}", err.rule);
    assert!(
        err.to_string().starts_with("nhs_number: \"9990000017\" "),
        "{err}"
    );
}

#[test]
fn a_check_digit_of_ten_is_refused_whatever_the_last_digit() {
    // 999 123 456 → 90+81+72+7+12+15+16+15+12 = 320; 320 mod 11 = 1;
    // 11 − 1 = 10: no valid NHS number starts with these nine digits.
    assert_eq!(oracle_check_digit("999123456"), None);
    assert_eq!(NhsNumber::check_digit(&[9, 9, 9, 1, 2, 3, 4, 5, 6]), None);
    for last in 0..=9 {
        let number = format!("999123456{last}");
        let err = NhsNumber::parse(&number).unwrap_err();
        assert_eq!(err.field, "nhs_number");
        assert_eq!(err.value, number);
        assert!(err.rule.contains("would be 10"), "{}", err.rule);
    }
}

#[test]
fn wrong_lengths_and_non_digits_are_refused() {
    for bad in [
        "",
        "999000001",
        "99900000180",
        "999000001X",
        "９９９０００００１８",
    ] {
        let err = NhsNumber::parse(bad).unwrap_err();
        assert_eq!(err.field, "nhs_number", "{bad}");
        assert_eq!(err.rule, "must be 10 digits", "{bad}");
    }
}

fn patient_json(nhs_number: &str) -> String {
    format!(
        r#"{{
            "registry_id": "P-0000TEST",
            "nhs_number": "{nhs_number}",
            "hospital_number": null,
            "family_name": null,
            "given_name": null,
            "date_of_birth": "1950-03-15",
            "sex": "female",
            "home_site": "RFH",
            "follow_up_ended_on": null,
            "follow_up_end_reason": null
        }}"#
    )
}

#[test]
fn a_patient_with_a_valid_nhs_number_deserializes_and_round_trips() {
    let p: Patient = serde_json::from_str(&patient_json("999 000 0018")).unwrap();
    assert_eq!(p.nhs_number.as_ref().unwrap().as_str(), "9990000018");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["nhs_number"], "9990000018");
    let back: Patient = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
}

#[test]
fn a_patient_with_a_bad_nhs_number_fails_to_deserialize_naming_the_field() {
    for (bad, why) in [
        ("9990000017", "should be 8, not 7"),
        ("9991234560", "would be 10"),
        ("12345", "must be 10 digits"),
    ] {
        let err = serde_json::from_str::<Patient>(&patient_json(bad))
            .expect_err(bad)
            .to_string();
        assert!(err.contains("nhs_number"), "{err}");
        assert!(err.contains(bad), "{err}");
        assert!(err.contains(why), "{err}");
    }
}

#[test]
fn a_bare_nhs_number_deserializes_only_when_valid() {
    let n: NhsNumber = serde_json::from_str("\"9990000026\"").unwrap();
    assert_eq!(serde_json::to_string(&n).unwrap(), "\"9990000026\"");
    assert!(serde_json::from_str::<NhsNumber>("\"9990000027\"").is_err());
    assert!(serde_json::from_str::<NhsNumber>("9990000026").is_err());
}
