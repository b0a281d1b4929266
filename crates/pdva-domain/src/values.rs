//! Validated value types. Each is parsed once, at the edge (a form, a file,
//! a database row), and cannot hold an invalid value afterwards.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// The earliest date of birth the registry accepts (DOMAIN.md 4.3).
pub const EARLIEST_DATE_OF_BIRTH: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();

/// Parses a calendar date written exactly as ISO 8601 `YYYY-MM-DD`: four
/// digits, two, two, zero-padded. chrono alone also takes `2025-1-1`,
/// which a clinician may have meant as 1 January or typed by mistake, so
/// the registry refuses anything but the one written form.
pub fn parse_iso_date(field: &'static str, value: &str) -> Result<NaiveDate, FieldError> {
    let text = value.trim();
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    let date = shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten();
    date.ok_or_else(|| {
        FieldError::new(
            field,
            value,
            "must be a real calendar date written as YYYY-MM-DD",
        )
    })
}

/// Parses a date of birth: an ISO date ([`parse_iso_date`]) from
/// 1900-01-01 on (DOMAIN.md 4.3, hard). That it is not in the future needs
/// today's date, which the domain does not read: the rules check it
/// ([`crate::validation`], `FutureDate`).
pub fn parse_date_of_birth(value: &str) -> Result<NaiveDate, FieldError> {
    let date = parse_iso_date("date_of_birth", value)?;
    if date < EARLIEST_DATE_OF_BIRTH {
        return Err(FieldError::new(
            "date_of_birth",
            value,
            "must be 1900-01-01 or later",
        ));
    }
    Ok(date)
}

/// An NHS number: ten digits whose last is the Modulus 11 check digit
/// (DOMAIN.md 4.3). Spaces and hyphens in the input are ignored; it is stored
/// as ten digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

impl NhsNumber {
    /// The check digit for the first nine digits, or `None` when the
    /// remainder makes it 10, which no valid NHS number can have.
    pub fn check_digit(first_nine: &[u8; 9]) -> Option<u8> {
        let sum: u32 = first_nine
            .iter()
            .zip((2..=10u32).rev())
            .map(|(d, w)| u32::from(*d) * w)
            .sum();
        match 11 - (sum % 11) {
            11 => Some(0),
            10 => None,
            d => Some(d as u8),
        }
    }

    /// Parses and checks a number as typed.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "nhs_number";
        let digits: String = value
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(FIELD, value, "must be 10 digits"));
        }
        let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
        let first_nine: [u8; 9] = d[..9].try_into().expect("ten digits");
        match Self::check_digit(&first_nine) {
            None => Err(FieldError::new(
                FIELD,
                value,
                "is not a valid NHS number: its Modulus 11 check digit would be 10",
            )),
            Some(check) if check != d[9] => Err(FieldError::new(
                FIELD,
                value,
                format!(
                    "is not a valid NHS number: the Modulus 11 check digit should be {check}, not {}",
                    d[9]
                ),
            )),
            Some(_) => Ok(Self(digits)),
        }
    }

    /// The ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number lies in the range reserved for testing
    /// (999 000 0000 – 999 999 9999), the only range synthetic data may use.
    pub fn is_test_range(&self) -> bool {
        self.0.starts_with("999")
    }

    /// The number in the familiar 3-3-4 grouping.
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NhsNumber> for String {
    fn from(value: NhsNumber) -> Self {
        value.0
    }
}

impl FromStr for NhsNumber {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

/// A site's code: 2–16 characters of A–Z, 0–9 and `-` (DOMAIN.md 4.1).
/// Lower-case input is accepted and upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteCode(String);

impl SiteCode {
    /// Parses a site code as typed.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let code = value.trim().to_ascii_uppercase();
        let ok_chars = code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !(2..=16).contains(&code.len()) || !ok_chars {
            return Err(FieldError::new(
                "site_code",
                value,
                "must be 2 to 16 characters of A–Z, 0–9 and '-'",
            ));
        }
        Ok(Self(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SiteCode {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SiteCode> for String {
    fn from(value: SiteCode) -> Self {
        value.0
    }
}

impl FromStr for SiteCode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SiteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code. The shape (two letters) is checked;
/// the code is upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    /// Parses a country code as typed.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let code = value.trim().to_ascii_uppercase();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(FieldError::new(
                "country",
                value,
                "must be an ISO 3166-1 alpha-2 code of two letters, such as GB",
            ));
        }
        Ok(Self(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CountryCode {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.0
    }
}

/// The registry's own patient identifier: opaque, assigned by the registry,
/// never reused (DOMAIN.md 4.3). 4–32 characters of A–Z, 0–9 and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegistryId(String);

impl RegistryId {
    /// Parses a registry id.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let id = value.trim();
        let ok = (4..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(FieldError::new(
                "registry_id",
                value,
                "must be 4 to 32 characters of A–Z, 0–9 and '-'",
            ));
        }
        Ok(Self(id.to_owned()))
    }

    /// Makes a registry id from 40 random bits: `P-` and eight Crockford
    /// base-32 characters (no I, L, O or U, so it reads aloud without doubt).
    pub fn from_random(bits: u64) -> Self {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut s = String::from("P-");
        for i in (0..8).rev() {
            s.push(ALPHABET[((bits >> (i * 5)) & 31) as usize] as char);
        }
        Self(s)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RegistryId {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RegistryId> for String {
    fn from(value: RegistryId) -> Self {
        value.0
    }
}

impl fmt::Display for RegistryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text that is required: trimmed and not empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequiredText(String);

impl RequiredText {
    /// Parses required text for `field`.
    pub fn parse_for(field: &'static str, value: &str) -> Result<Self, FieldError> {
        let text = value.trim();
        if text.is_empty() {
            return Err(FieldError::new(field, value, "is required"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RequiredText {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse_for("text", &value)
    }
}

impl From<RequiredText> for String {
    fn from(value: RequiredText) -> Self {
        value.0
    }
}

impl fmt::Display for RequiredText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Defines a whole-number scale or measurement with an inclusive range.
macro_rules! bounded_int {
    ($(#[$meta:meta])* $name:ident($repr:ty), field = $field:literal, $min:literal ..= $max:literal, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name($repr);

        impl $name {
            /// Smallest allowed value.
            pub const MIN: $repr = $min;
            /// Largest allowed value.
            pub const MAX: $repr = $max;

            /// Checks a value for `field`.
            pub fn new_for(field: &'static str, value: i64) -> Result<Self, FieldError> {
                if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&value) {
                    Ok(Self(value as $repr))
                } else {
                    Err(FieldError::new(
                        field,
                        value.to_string(),
                        format!("must be a {} from {} to {}", $what, $min, $max),
                    ))
                }
            }

            /// Checks a value.
            pub fn new(value: i64) -> Result<Self, FieldError> {
                Self::new_for($field, value)
            }

            /// Parses typed text for `field`.
            pub fn parse_for(field: &'static str, value: &str) -> Result<Self, FieldError> {
                let n: i64 = value.trim().parse().map_err(|_| {
                    FieldError::new(field, value, format!("must be a whole number ({})", $what))
                })?;
                Self::new_for(field, n)
            }

            /// The value.
            pub fn get(self) -> $repr {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = FieldError;
            fn try_from(value: i64) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> Self {
                i64::from(value.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

bounded_int!(
    /// Rutherford category 0–6 (DOMAIN.md 6.2); CLTI is 4–6.
    RutherfordCategory(u8), field = "rutherford_category", 0..=6, "Rutherford category");
bounded_int!(
    /// One SVS WIfI grade 0–3 (wound, ischaemia or foot infection; DOMAIN.md 6.1).
    WifiGrade(u8), field = "wifi_grade", 0..=3, "WIfI grade");
bounded_int!(
    /// Pain on the 0–10 numeric rating scale.
    PainScore(u8), field = "pain_score", 0..=10, "pain score");
bounded_int!(
    /// Clinical Frailty Scale 1–9.
    ClinicalFrailtyScale(u8), field = "clinical_frailty_scale", 1..=9, "Clinical Frailty Scale score");
bounded_int!(
    /// Chronic kidney disease stage 1–5.
    CkdStage(u8), field = "ckd_stage", 1..=5, "CKD stage");
bounded_int!(
    /// Ankle systolic pressure, mmHg.
    AnklePressure(u16), field = "ankle_systolic_pressure_mmhg", 0..=300, "pressure in mmHg");
bounded_int!(
    /// Toe pressure, mmHg.
    ToePressure(u16), field = "toe_pressure_mmhg", 0..=250, "pressure in mmHg");
bounded_int!(
    /// Transcutaneous oxygen pressure, mmHg.
    Tcpo2(u16), field = "tcpo2_mmhg", 0..=100, "TcPO2 in mmHg");
bounded_int!(
    /// Number of venous stents placed.
    VenousStentCount(u8), field = "venous_stents_count", 0..=10, "number of stents");
bounded_int!(
    /// Stented length, mm.
    StentedLength(u16), field = "stented_length_mm", 0..=1000, "length in mm");
bounded_int!(
    /// Procedure duration, minutes.
    ProcedureMinutes(u16), field = "procedure_minutes", 1..=900, "duration in minutes");
bounded_int!(
    /// One VascuQoL-6 answer, 1 (worst) to 4 (best) (DOMAIN.md 6.3).
    VascuQolItem(u8), field = "vascuqol", 1..=4, "VascuQoL-6 answer");
bounded_int!(
    /// One EQ-5D-5L dimension level, 1 (no problems) to 5 (extreme problems).
    Eq5dLevel(u8), field = "eq5d", 1..=5, "EQ-5D-5L level");
bounded_int!(
    /// EQ VAS, 0 (worst imaginable health) to 100 (best).
    EqVas(u8), field = "eq_vas", 0..=100, "EQ VAS score");

/// Defines a decimal measurement with a lower bound (inclusive or not) and an
/// optional inclusive upper bound.
macro_rules! bounded_decimal {
    ($(#[$meta:meta])* $name:ident, field = $field:literal, check = |$v:ident| $check:expr, $rule:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(f64);

        impl $name {
            /// Checks a value for `field`.
            pub fn new_for(field: &'static str, value: f64) -> Result<Self, FieldError> {
                let $v = value;
                // "NaN" and "inf" parse as f64; they are not numbers a
                // clinician measured, and no range rule describes them.
                if !value.is_finite() {
                    return Err(FieldError::new(field, value.to_string(), "must be a number"));
                }
                if $check {
                    Ok(Self(value))
                } else {
                    Err(FieldError::new(field, value.to_string(), $rule))
                }
            }

            /// Checks a value.
            pub fn new(value: f64) -> Result<Self, FieldError> {
                Self::new_for($field, value)
            }

            /// Parses typed text for `field`.
            pub fn parse_for(field: &'static str, value: &str) -> Result<Self, FieldError> {
                let n: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| FieldError::new(field, value, "must be a number"))?;
                Self::new_for(field, n)
            }

            /// The value.
            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl TryFrom<f64> for $name {
            type Error = FieldError;
            fn try_from(value: f64) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for f64 {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

bounded_decimal!(
    /// Ankle–brachial index, 0–2.0 (above 1.4 suggests incompressible vessels).
    Abi, field = "abi", check = |v| (0.0..=2.0).contains(&v), "must be an ankle–brachial index from 0 to 2.0");
bounded_decimal!(
    /// A quantity that must be greater than zero (wound area, height, weight).
    Positive, field = "value", check = |v| v > 0.0, "must be greater than 0");
bounded_decimal!(
    /// A quantity that cannot be negative (screening time, radiation dose).
    NonNegative, field = "value", check = |v| v >= 0.0, "must not be negative");

#[cfg(test)]
mod tests {
    use super::*;

    /// "NaN" and "inf" parse as f64: they must be told they are not
    /// numbers, not that they break a range ("must not be negative").
    #[test]
    fn non_numbers_in_numeric_fields_are_told_they_must_be_numbers() {
        for typed in ["NaN", "nan", "inf", "-inf", "infinity", "abc", ""] {
            for e in [
                NonNegative::parse_for("contrast_ml", typed).unwrap_err(),
                Positive::parse_for("wound_area_cm2", typed).unwrap_err(),
                Abi::parse_for("abi", typed).unwrap_err(),
            ] {
                assert_eq!(e.rule, "must be a number", "{typed}: {e}");
            }
        }
        assert_eq!(
            NonNegative::parse_for("contrast_ml", "-1")
                .unwrap_err()
                .rule,
            "must not be negative"
        );
    }

    #[test]
    fn nhs_number_accepts_valid_and_normalises_spacing() {
        // 943 476 5919 is the NHS's own published example of a valid number.
        let n = NhsNumber::parse("943 476 5919").unwrap();
        assert_eq!(n.as_str(), "9434765919");
        assert_eq!(n.formatted(), "943 476 5919");
        assert!(!n.is_test_range());
        assert!(NhsNumber::parse("9990000018").unwrap().is_test_range());
    }

    #[test]
    fn nhs_number_rejects_wrong_check_digit_with_the_right_one() {
        let err = NhsNumber::parse("9434765918").unwrap_err();
        assert_eq!(err.field, "nhs_number");
        assert_eq!(err.value, "9434765918");
        assert!(err.rule.contains("should be 9, not 8"), "{}", err.rule);
    }

    #[test]
    fn nhs_number_rejects_check_digit_ten() {
        // Search the test range for a prefix whose remainder is 1 (check digit
        // 10): every completion of it must be refused.
        let prefix = (0..1000u32)
            .map(|i| {
                let s = format!("999000{i:03}");
                let d: [u8; 9] = s
                    .bytes()
                    .map(|b| b - b'0')
                    .collect::<Vec<_>>()
                    .try_into()
                    .unwrap();
                (s, d)
            })
            .find(|(_, d)| NhsNumber::check_digit(d).is_none())
            .expect("some prefix has check digit 10");
        for last in 0..=9 {
            let err = NhsNumber::parse(&format!("{}{last}", prefix.0)).unwrap_err();
            assert!(err.rule.contains("would be 10"), "{}", err.rule);
        }
    }

    #[test]
    fn nhs_number_rejects_wrong_length_and_letters() {
        for bad in ["", "123", "99900000181", "99900A0018"] {
            let err = NhsNumber::parse(bad).unwrap_err();
            assert_eq!(err.rule, "must be 10 digits");
        }
    }

    #[test]
    fn nhs_number_check_digit_eleven_becomes_zero() {
        // Find a prefix whose sum is divisible by 11: its check digit is 0.
        let s = (0..1000u32)
            .map(|i| format!("999100{i:03}"))
            .find(|s| {
                let sum: u32 = s
                    .bytes()
                    .zip((2..=10u32).rev())
                    .map(|(b, w)| u32::from(b - b'0') * w)
                    .sum();
                sum.is_multiple_of(11)
            })
            .unwrap();
        assert!(NhsNumber::parse(&format!("{s}0")).is_ok());
    }

    #[test]
    fn site_code_rules() {
        assert_eq!(SiteCode::parse(" rfh-1 ").unwrap().as_str(), "RFH-1");
        assert!(SiteCode::parse("A").is_err());
        assert!(SiteCode::parse("ABCDEFGHIJKLMNOPQ").is_err());
        assert!(SiteCode::parse("AB C").is_err());
    }

    #[test]
    fn bounded_values_name_the_rule() {
        let err = RutherfordCategory::new(7).unwrap_err();
        assert_eq!(err.field, "rutherford_category");
        assert_eq!(err.value, "7");
        assert_eq!(err.rule, "must be a Rutherford category from 0 to 6");
        assert!(WifiGrade::parse_for("wifi_wound", "x").is_err());
        assert_eq!(Abi::new(2.1).unwrap_err().field, "abi");
        assert!(Positive::new(0.0).is_err());
        assert!(NonNegative::new(0.0).is_ok());
        assert!(NonNegative::new(f64::NAN).is_err());
    }

    #[test]
    fn registry_id_from_random_is_parseable() {
        let id = RegistryId::from_random(0xFF_FFFF_FFFF);
        assert_eq!(id.as_str(), "P-ZZZZZZZZ");
        assert_eq!(RegistryId::parse(id.as_str()).unwrap(), id);
    }
}
