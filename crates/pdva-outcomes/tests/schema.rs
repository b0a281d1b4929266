//! The report's JSON Schema is generated from the report types and checked
//! in; it cannot drift from them, and a generated report validates against it.

mod common;

use std::path::PathBuf;

use chrono::NaiveDate;
use pdva_outcomes::{Filter, ReportRequest, build_report, report_schema};
use serde_json::Value;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/outcomes-report.schema.json")
}

#[test]
fn checked_in_schema_is_the_generated_one() {
    let generated = serde_json::to_string_pretty(&report_schema()).unwrap() + "\n";
    if std::env::var("PDVA_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(schema_path(), &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schema/outcomes-report.schema.json is out of date: rerun with PDVA_UPDATE_SCHEMA=1 and commit it"
    );
}

/// A small validator for the subset of JSON Schema that schemars emits:
/// `$ref` into `$defs`, `type` (one or several), `properties`, `required`,
/// `additionalProperties: false`, `items`, `anyOf`/`oneOf`, `enum`, `const`,
/// `minimum`, `format: uint64/double`.
fn validate(schema: &Value, root: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return validate(&root["$defs"][name], root, value, path, errors);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let mut matching = 0;
            for option in options {
                let mut e = Vec::new();
                validate(option, root, value, path, &mut e);
                matching += usize::from(e.is_empty());
            }
            if matching == 0 || (key == "oneOf" && matching > 1) {
                errors.push(format!("{path}: matches {matching} of {key}"));
            }
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_u64() || value.is_i64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{path}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && value.as_f64().is_some_and(|v| v < min)
    {
        errors.push(format!("{path}: {value} below {min}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{path}: {value} not in enum"));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{path}: {value} is not {c}"));
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (k, sub) in props {
            if let Some(v) = obj.get(k) {
                validate(sub, root, v, &format!("{path}.{k}"), errors);
            }
        }
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap();
            if !obj.contains_key(req) {
                errors.push(format!("{path}: required {req} missing"));
            }
        }
        if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
            for k in obj.keys() {
                if !props.contains_key(k) {
                    errors.push(format!("{path}: unexpected property {k}"));
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(items, root, v, &format!("{path}[{i}]"), errors);
        }
    }
}

#[test]
fn a_generated_report_validates_against_the_checked_in_schema() {
    let today: NaiveDate = "2026-06-30".parse().unwrap();
    let (reference, files) = common::registry(400, 11, today);
    let request = ReportRequest {
        as_of: today,
        filter: Filter::default().resolve(&reference).unwrap(),
        data_version: "test".into(),
    };
    let report = build_report(&files, &reference, &request).unwrap();
    let value = serde_json::to_value(&report).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    let mut errors = Vec::new();
    validate(&schema, &schema, &value, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator does reject what it should.
    let mut broken = value.clone();
    broken["amputation_free_survival"]["n"] = Value::String("many".into());
    broken.as_object_mut().unwrap().remove("overall_survival");
    let mut errors = Vec::new();
    validate(&schema, &schema, &broken, "$", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    // Every endpoint of DOMAIN.md section 7 is named in the document.
    for name in [
        "amputation_free_survival",
        "overall_survival",
        "freedom_from_major_amputation",
        "freedom_from_unplanned_reintervention",
        "freedom_from_any_reintervention",
        "freedom_from_male",
        "cumulative_incidence_major_amputation",
        "cumulative_incidence_wound_healing",
        "technical_success",
        "adverse_events_30_day",
        "mortality_30_day",
        "major_amputation_30_day",
        "planned_reintervention_rate",
        "unplanned_reintervention_rate",
        "quality_of_life",
        "follow_up_completeness",
        "duration_of_anticoagulation",
    ] {
        assert!(value.get(name).is_some(), "{name} missing");
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == name)
        );
    }
}

#[test]
fn a_research_report_validates_against_the_checked_in_schema() {
    let today: NaiveDate = "2026-06-30".parse().unwrap();
    let (reference, files) = common::registry(400, 11, today);
    let request = ReportRequest {
        as_of: today,
        filter: Filter::default()
            .resolve_for(&reference, pdva_outcomes::Audience::Research)
            .unwrap(),
        data_version: "test".into(),
    };
    let report = build_report(&files, &reference, &request).unwrap();
    let value = serde_json::to_value(&report).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    let mut errors = Vec::new();
    validate(&schema, &schema, &value, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(value.get("disclosure").is_some());
    // Suppressed counts are there to validate (a registry of 400 has small
    // strata), and a count that is neither a number nor a marker is refused.
    let text = value.to_string();
    assert!(text.contains("\"<5\""), "no count was suppressed");
    let mut broken = value.clone();
    broken["cohort"]["patients"] = Value::String("<3".into());
    let mut errors = Vec::new();
    validate(&schema, &schema, &broken, "$", &mut errors);
    assert_eq!(errors.len(), 1, "{errors:#?}");
}
