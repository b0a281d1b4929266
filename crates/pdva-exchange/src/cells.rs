//! One field's value as a cell of an exported table, and back: the only
//! place that turns a record's serialised value into text for a file, and
//! text from a file into a value for the domain's constructors.

use chrono::NaiveDate;
use serde_json::{Map, Number, Value};

use crate::schema::{ExportField, FieldType, Source};

/// Separates the codes of a code list (and the sites of a clinician) in one
/// cell: never part of a code or a site code.
pub const LIST_SEPARATOR: char = '|';

/// A record's serialised fields (a JSON object), whatever its kind.
pub fn serialised_fields<T: serde::Serialize>(record: &T) -> Map<String, Value> {
    match serde_json::to_value(record).expect("records serialise") {
        Value::Object(mut object) => match object.remove("record") {
            // A clinical record is tagged {"kind": …, "record": {…}}.
            Some(Value::Object(fields)) if object.contains_key("kind") => fields,
            Some(other) => {
                object.insert("record".into(), other);
                object
            }
            None => object,
        },
        _ => Map::new(),
    }
}

/// The cell text of `field` in a record's serialised fields.
pub fn cell(field: &ExportField, fields: &Map<String, Value>) -> String {
    let value = match field.source {
        Source::Key(key) => fields.get(key),
        Source::Item(key, index) => fields
            .get(key)
            .and_then(Value::as_array)
            .and_then(|items| items.get(index)),
    };
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::Bool(true)) => "1".into(),
        Some(Value::Bool(false)) => "0".into(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(&LIST_SEPARATOR.to_string()),
        Some(other) => other.to_string(),
    }
}

/// Why a cell's text is not a value of its field: the rule broken, in
/// words that finish "…column X value Y …".
pub type CellError = String;

/// The serialised value of a cell's text for `field` (an empty cell is
/// `null`, or an empty list for a list).
pub fn value(field: &ExportField, text: &str) -> Result<Value, CellError> {
    if text.is_empty() {
        return match field.ty {
            FieldType::Codes(_) | FieldType::SiteCodes if !field.required => {
                Ok(Value::Array(vec![]))
            }
            _ if field.required => Err("is required".into()),
            _ => Ok(Value::Null),
        };
    }
    match field.ty {
        FieldType::Date => {
            let ok = text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok();
            if ok {
                Ok(Value::String(text.into()))
            } else {
                Err("is not a date (YYYY-MM-DD)".into())
            }
        }
        FieldType::Integer { min, max } => {
            let n: i64 = text
                .parse()
                .map_err(|_| "is not a whole number".to_string())?;
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(range_rule("a whole number", min, max));
            }
            Ok(Value::Number(n.into()))
        }
        FieldType::Decimal { min, max } => {
            let n: f64 = text
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| "is not a number".to_string())?;
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(range_rule("a number", min, max));
            }
            Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| "is not a number".into())
        }
        FieldType::Boolean => match text {
            "1" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
            "0" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
            _ => Err("must be 1 (yes) or 0 (no)".into()),
        },
        FieldType::Text => Ok(Value::String(text.into())),
        FieldType::Code(codes) => {
            if codes.iter().any(|(c, _)| *c == text) {
                Ok(Value::String(text.into()))
            } else {
                Err(one_of(codes))
            }
        }
        FieldType::Codes(codes) => text
            .split(LIST_SEPARATOR)
            .map(|code| {
                if codes.iter().any(|(c, _)| *c == code) {
                    Ok(Value::String(code.into()))
                } else {
                    Err(format!(
                        "has \"{code}\", which is not a code: each code separated by '{LIST_SEPARATOR}' {}",
                        one_of(codes)
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        FieldType::Reference(_) => text
            .parse::<pdva_domain::RecordId>()
            .map(|id| Value::String(id.to_string()))
            .map_err(|_| "is not a record id (a UUID)".into()),
        FieldType::SiteCodes => Ok(Value::Array(
            text.split(LIST_SEPARATOR)
                .map(|s| Value::String(s.into()))
                .collect(),
        )),
    }
}

fn one_of(codes: &[(&str, &str)]) -> String {
    format!(
        "must be one of: {}",
        codes.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
    )
}

fn range_rule<T: std::fmt::Display>(what: &str, min: Option<T>, max: Option<T>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("must be {what} from {lo} to {hi}"),
        (Some(lo), None) => format!("must be {what} of at least {lo}"),
        (None, Some(hi)) => format!("must be {what} of at most {hi}"),
        (None, None) => format!("must be {what}"),
    }
}

/// Puts a parsed cell's value into a record's serialised fields being
/// built (items of an array field go to their place).
pub fn place(field: &ExportField, value: Value, fields: &mut Map<String, Value>) {
    match field.source {
        Source::Key(key) => {
            fields.insert(key.into(), value);
        }
        Source::Item(key, index) => {
            let slot = fields
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = slot {
                if items.len() <= index {
                    items.resize(index + 1, Value::Null);
                }
                items[index] = value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FIELDS;

    fn field(kind: pdva_domain::RecordKind, name: &str) -> &'static ExportField {
        FIELDS
            .iter()
            .find(|f| f.kind == kind && f.name == name)
            .unwrap()
    }

    #[test]
    fn cells_read_back_as_the_values_they_came_from() {
        use pdva_domain::RecordKind as K;
        let cases = [
            (field(K::Baseline, "abi"), "0.45"),
            (field(K::Baseline, "diabetes"), "type_2"),
            (field(K::Baseline, "wound_locations"), "toe|heel"),
            (field(K::Baseline, "dialysis_dependent"), "1"),
            (field(K::Procedure, "procedure_date"), "2024-02-29"),
            (field(K::QualityOfLife, "vascuqol_3"), "4"),
        ];
        for (f, text) in cases {
            let v = value(f, text).unwrap_or_else(|e| panic!("{}: {e}", f.name));
            let mut fields = Map::new();
            place(f, v, &mut fields);
            assert_eq!(cell(f, &fields), text, "{}", f.name);
        }
    }

    #[test]
    fn bad_cells_say_which_rule_they_break() {
        use pdva_domain::RecordKind as K;
        let date = field(K::Procedure, "procedure_date");
        assert_eq!(
            value(date, "2024-02-30").unwrap_err(),
            "is not a date (YYYY-MM-DD)"
        );
        assert_eq!(value(date, "").unwrap_err(), "is required");
        let grade = field(K::Baseline, "wifi_wound");
        assert_eq!(
            value(grade, "4").unwrap_err(),
            "must be a whole number from 0 to 3"
        );
        let limb = field(K::Procedure, "index_limb");
        assert!(
            value(limb, "middle")
                .unwrap_err()
                .starts_with("must be one of: left")
        );
        assert_eq!(
            value(field(K::Baseline, "rest_pain"), "").unwrap(),
            Value::Null
        );
    }
}
