//! REDCap: a data dictionary in REDCap's own 18 columns and the matching
//! data file of a longitudinal project with one event and repeating
//! instruments, both from the declared schema ([`crate::schema`]).
//!
//! Each patient is one REDCap record, keyed by their registry id (their
//! pseudonym when de-identified). The patient-level form `patients` is not
//! repeating; every clinical instrument is a repeating instrument whose
//! instances are numbered 1, 2, … within the patient in the export's row
//! order (record id order). Reference data (sites, governance meetings,
//! clinicians) are not REDCap records: they are written as tidy CSV files
//! in `reference/` beside the REDCap files.
//!
//! **Variable names.** REDCap needs names unique across the whole project,
//! lowercase, of letters, digits and underscores, starting with a letter. A
//! column keeps its tidy name unless that name is `record_id` (REDCap's own
//! record key) or is a column of more than one form (in either the
//! identified or the de-identified form of the schema); then it is
//! prefixed with its form's name and an underscore (`procedure_id` of the
//! baseline form is `baseline_procedure_id`, each form's own record id
//! `<form>_record_id`). The patient's registry id on each clinical row is
//! REDCap's `record_id`, so it is not repeated as a variable. The rule
//! depends on the schema only, so a variable's name is the same in every
//! export of one schema version.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::ExchangeError;
use crate::cells::{LIST_SEPARATOR, cell};
use crate::export::{Row, Sink};
use crate::schema::{Column, FieldType, INSTRUMENTS, Instrument, Level, SCHEMA_VERSION, columns};
use crate::tidy::{CsvSink, row_cell};
use pdva_domain::deident::Disclosure;

/// The REDCap data dictionary's file name.
pub const DICTIONARY_FILE: &str = "redcap_data_dictionary.csv";
/// The REDCap data file's name.
pub const DATA_FILE: &str = "redcap_data.csv";
/// The instrument–event mapping's file name.
pub const MAPPING_FILE: &str = "redcap_instrument_event_mapping.csv";
/// How to build the project from these files.
pub const README_FILE: &str = "README.txt";
/// The directory of the reference data's tidy CSV files.
pub const REFERENCE_DIR: &str = "reference";
/// The project's one event (event "Registry" of arm 1).
pub const EVENT: &str = "registry_arm_1";
/// REDCap's "complete" status of a form.
const COMPLETE: &str = "2";

/// REDCap's data dictionary columns, in REDCap's order.
pub const DICTIONARY_HEADER: [&str; 18] = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
];

/// The longest variable name REDCap allows for a checkbox (its data
/// columns append `___<code>`).
pub const MAX_CHECKBOX_NAME: usize = 26;
/// The longest variable name REDCap allows otherwise.
pub const MAX_NAME: usize = 100;

/// The columns of the data file before the forms' variables.
pub const DATA_KEYS: [&str; 4] = [
    "record_id",
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
];

/// Whether an instrument is a REDCap form (patient data); reference data
/// are not.
pub fn is_form(instrument: &Instrument) -> bool {
    instrument.level != Level::Registry
}

fn is_reference(instrument: &Instrument) -> bool {
    !is_form(instrument)
}

/// Whether a form is a repeating instrument (every clinical record form).
pub fn is_repeating(instrument: &Instrument) -> bool {
    instrument.level == Level::PatientRecord
}

/// The columns of an instrument that are REDCap variables of its form:
/// the tidy columns but the patient's registry id (REDCap's record key).
fn form_columns(instrument: &Instrument, deidentified: bool) -> Vec<Column> {
    columns(instrument, deidentified)
        .into_iter()
        .filter(|c| *c != Column::RegistryId)
        .collect()
}

/// The REDCap variable name of a column of a form (the rule in the module
/// documentation).
pub fn variable_name(instrument: &Instrument, column: &Column) -> String {
    let base = column.name();
    let forms_with_it = INSTRUMENTS
        .iter()
        .filter(|i| is_form(i))
        .filter(|i| {
            [false, true]
                .into_iter()
                .any(|d| form_columns(i, d).iter().any(|c| c.name() == base))
        })
        .count();
    if base == DATA_KEYS[0] || base.starts_with("redcap_") || forms_with_it > 1 {
        format!("{}_{base}", instrument.name)
    } else {
        base.to_owned()
    }
}

/// The data columns of a checkbox variable: one per code, 1 ticked, 0 not.
pub fn checkbox_column(variable: &str, code: &str) -> String {
    format!("{variable}___{code}")
}

/// A form's variables in the data file: each column with its variable name
/// and where its first data column is.
struct FormLayout {
    instrument: &'static Instrument,
    variables: Vec<(Column, usize)>,
    complete: usize,
}

/// The data file's header and each form's place in it.
fn layout(deidentified: bool) -> (Vec<String>, Vec<Option<FormLayout>>) {
    let mut header: Vec<String> = DATA_KEYS.iter().map(|k| (*k).to_owned()).collect();
    let mut forms = Vec::new();
    for instrument in INSTRUMENTS {
        if !is_form(instrument) {
            forms.push(None);
            continue;
        }
        let mut variables = Vec::new();
        for column in form_columns(instrument, deidentified) {
            let name = variable_name(instrument, &column);
            variables.push((column, header.len()));
            match column {
                Column::Field(f) if matches!(f.ty, FieldType::Codes(_)) => {
                    let codes = f.ty.codes().unwrap_or_default();
                    header.extend(codes.iter().map(|(code, _)| checkbox_column(&name, code)));
                }
                _ => header.push(name),
            }
        }
        let complete = header.len();
        header.push(format!("{}_complete", instrument.name));
        forms.push(Some(FormLayout {
            instrument,
            variables,
            complete,
        }));
    }
    (header, forms)
}

type CsvWriter = csv::Writer<BufWriter<File>>;

/// Writes a REDCap project's files into a directory as rows come: the data
/// file is streamed (one line per patient and per record), so memory does
/// not grow with the registry.
pub struct RedcapSink {
    forms: Vec<Option<FormLayout>>,
    data: CsvWriter,
    reference: CsvSink,
    /// Instances written of each instrument for the current patient.
    instances: Vec<u32>,
    /// The line being written, reused from row to row.
    line: Vec<String>,
}

impl RedcapSink {
    /// Writes the data dictionary, the instrument–event mapping, the README
    /// and the data file's header into `dir`, which must exist and be
    /// empty, and the reference data's tidy files into `dir/reference`.
    pub fn create(dir: &Path, deidentified: bool) -> Result<Self, ExchangeError> {
        write_dictionary(&dir.join(DICTIONARY_FILE), deidentified)?;
        write_mapping(&dir.join(MAPPING_FILE))?;
        write_readme(&dir.join(README_FILE), deidentified)?;
        let reference_dir = dir.join(REFERENCE_DIR);
        std::fs::create_dir(&reference_dir).map_err(|e| ExchangeError::File {
            path: reference_dir.clone(),
            source: e,
        })?;
        let reference = CsvSink::create_for(&reference_dir, deidentified, is_reference)?;
        let (header, forms) = layout(deidentified);
        let mut data = csv::Writer::from_writer(BufWriter::new(create(&dir.join(DATA_FILE))?));
        data.write_record(&header)?;
        Ok(Self {
            forms,
            data,
            reference,
            instances: vec![0; INSTRUMENTS.len()],
            line: vec![String::new(); header.len()],
        })
    }

    /// Flushes every file to disk.
    pub fn finish(self) -> Result<(), ExchangeError> {
        self.reference.finish()?;
        let mut data = self.data;
        data.flush()?;
        data.into_inner()
            .map_err(|e| ExchangeError::Io(e.into_error()))?
            .into_inner()
            .map_err(|e| ExchangeError::Io(e.into_error()))?
            .sync_all()?;
        Ok(())
    }
}

impl Sink for RedcapSink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), ExchangeError> {
        let i = INSTRUMENTS
            .iter()
            .position(|x| x.kind == row.instrument.kind)
            .expect("an instrument");
        let Some(form) = &self.forms[i] else {
            return self.reference.row(row);
        };
        if form.instrument.level == Level::Patient {
            // A new patient: their instances count from 1 again.
            self.instances.iter_mut().for_each(|n| *n = 0);
        }
        for text in &mut self.line {
            text.clear();
        }
        let line = &mut self.line;
        line[0].push_str(row.registry_id.unwrap_or_default());
        line[1].push_str(EVENT);
        if is_repeating(form.instrument) {
            self.instances[i] += 1;
            line[2].push_str(form.instrument.name);
            line[3] = self.instances[i].to_string();
        }
        for (column, at) in &form.variables {
            match column {
                Column::Field(f) if matches!(f.ty, FieldType::Codes(_)) => {
                    let text = cell(f, &row.fields);
                    let codes = f.ty.codes().unwrap_or_default();
                    for (k, (code, _)) in codes.iter().enumerate() {
                        let ticked = text.split(LIST_SEPARATOR).any(|c| c == *code);
                        line[at + k].push(if ticked { '1' } else { '0' });
                    }
                }
                _ => line[*at] = row_cell(column, row),
            }
        }
        line[form.complete].push_str(COMPLETE);
        self.data.write_record(&self.line)?;
        Ok(())
    }
}

fn create(path: &Path) -> Result<File, ExchangeError> {
    File::create(path).map_err(|e| ExchangeError::File {
        path: path.to_owned(),
        source: e,
    })
}

/// Writes the REDCap data dictionary: `record_id` first (in the first
/// form), then every form's variables in the schema's order.
pub fn write_dictionary(path: &Path, deidentified: bool) -> Result<(), ExchangeError> {
    let mut w = csv::Writer::from_writer(BufWriter::new(create(path)?));
    w.write_record(DICTIONARY_HEADER)?;
    let first_form = INSTRUMENTS
        .iter()
        .find(|i| is_form(i))
        .expect("the patients form");
    let mut key = empty_line();
    key[0] = DATA_KEYS[0].to_owned();
    key[1] = first_form.name.to_owned();
    key[3] = "text".to_owned();
    key[4] = if deidentified {
        "Patient pseudonym".to_owned()
    } else {
        "Patient's registry id".to_owned()
    };
    // The registry id is what clinicians search by: identifying. A
    // pseudonym is not.
    key[10] = if deidentified { "" } else { "y" }.to_owned();
    key[12] = "y".to_owned();
    key[17] = "pdva: the patient's registry id (pseudonym when de-identified)".to_owned();
    w.write_record(&key)?;
    for instrument in INSTRUMENTS.iter().filter(|i| is_form(i)) {
        for column in form_columns(instrument, deidentified) {
            w.write_record(dictionary_line(instrument, &column, deidentified))?;
        }
    }
    w.flush()?;
    Ok(())
}

fn empty_line() -> [String; 18] {
    Default::default()
}

/// A column's line of the REDCap data dictionary.
fn dictionary_line(instrument: &Instrument, column: &Column, deidentified: bool) -> [String; 18] {
    let mut line = empty_line();
    line[0] = variable_name(instrument, column);
    line[1] = instrument.name.to_owned();
    line[17] = format!("pdva: {}.csv column {}", instrument.name, column.name());
    let (ty, label, validation, min, max) = match column {
        Column::RecordId => (
            "text",
            if deidentified {
                format!("{} record id (pseudonymous)", instrument.label)
            } else {
                format!("{} record id", instrument.label)
            },
            "",
            String::new(),
            String::new(),
        ),
        Column::RegistryId => unreachable!("the registry id is REDCap's record_id"),
        Column::AgeAtIndex => (
            "text",
            "Age in whole years at the first index procedure".to_owned(),
            "integer",
            "0".to_owned(),
            String::new(),
        ),
        Column::Field(f) => {
            let label = if deidentified && f.ty == FieldType::Date {
                format!("{} (shifted by a secret offset per patient)", f.label)
            } else {
                f.label.to_owned()
            };
            let text = |v: Option<String>| v.unwrap_or_default();
            let (ty, validation, min, max) = match f.ty {
                FieldType::Date => ("text", "date_ymd", String::new(), String::new()),
                FieldType::Integer { min, max } => (
                    "text",
                    "integer",
                    text(min.map(|m| m.to_string())),
                    text(max.map(|m| m.to_string())),
                ),
                FieldType::Decimal { min, max } => (
                    "text",
                    "number",
                    text(min.map(|m| m.to_string())),
                    text(max.map(|m| m.to_string())),
                ),
                FieldType::Boolean => ("yesno", "", String::new(), String::new()),
                FieldType::Code(_) => ("dropdown", "", String::new(), String::new()),
                FieldType::Codes(_) => ("checkbox", "", String::new(), String::new()),
                FieldType::Text if f.disclosure() == Disclosure::FreeText => {
                    ("notes", "", String::new(), String::new())
                }
                FieldType::Text | FieldType::Reference(_) | FieldType::SiteCodes => {
                    ("text", "", String::new(), String::new())
                }
            };
            if let Some(codes) = f.ty.codes() {
                line[5] = choices(codes);
            }
            line[6] = f.unit.unwrap_or_default().to_owned();
            if f.disclosure() == Disclosure::Identifying {
                line[10] = "y".to_owned();
            }
            if f.required {
                line[12] = "y".to_owned();
            }
            (ty, label, validation, min, max)
        }
    };
    line[3] = ty.to_owned();
    line[4] = label;
    line[7] = validation.to_owned();
    line[8] = min;
    line[9] = max;
    line
}

/// REDCap's choices: `code, Label | code, Label`, the stored code
/// spellings as raw values.
fn choices(codes: &[(&str, &str)]) -> String {
    codes
        .iter()
        .map(|(code, label)| format!("{code}, {label}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Whether a code can be a REDCap raw value (and a checkbox column's
/// suffix): lowercase letters, digits and underscores.
pub fn is_raw_value(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether a variable name is one REDCap accepts: lowercase letters,
/// digits and underscores, starting with a letter.
pub fn is_valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase()) && is_raw_value(name)
}

fn write_mapping(path: &Path) -> Result<(), ExchangeError> {
    let mut w = csv::Writer::from_writer(BufWriter::new(create(path)?));
    w.write_record(["arm_num", "unique_event_name", "form"])?;
    for instrument in INSTRUMENTS.iter().filter(|i| is_form(i)) {
        w.write_record(["1", EVENT, instrument.name])?;
    }
    w.flush()?;
    Ok(())
}

fn write_readme(path: &Path, deidentified: bool) -> Result<(), ExchangeError> {
    let repeating: Vec<String> = INSTRUMENTS
        .iter()
        .filter(|i| is_repeating(i))
        .map(|i| format!("       - {} ({})", i.name, i.label))
        .collect();
    let reference: Vec<String> = INSTRUMENTS
        .iter()
        .filter(|i| is_reference(i))
        .map(|i| format!("  - {REFERENCE_DIR}/{}.csv ({})", i.name, i.label))
        .collect();
    let text = format!(
        "pDVA registry export for REDCap (export schema version {SCHEMA_VERSION}{deid})

Files
  {DICTIONARY_FILE}   the data dictionary (REDCap's 18 columns)
  {DATA_FILE}              the data: one line per patient, then one per clinical record
  {MAPPING_FILE}   every form in the one event
  {REFERENCE_DIR}/                      sites, governance meetings and clinicians as tidy CSV
                                  with their own data_dictionary.csv (not REDCap records)

Building the project
  1. Create a new project (from scratch).
  2. Project Setup > Data Dictionary: upload {DICTIONARY_FILE}.
  3. Project Setup > enable \"Use longitudinal data collection\"; Define My Events:
     one arm (Arm 1) with one event named \"Registry\" (unique name {EVENT}).
  4. Designate Instruments for My Events: tick every form for {EVENT}, or upload
     {MAPPING_FILE} there.
  5. Project Setup > Enable optional modules > Repeating instruments and events:
     for event {EVENT} make these forms repeating instruments:
{repeating}
     (the form patients is not repeating).
  6. Data Import Tool: upload {DATA_FILE} (format: rows are records, dates Y-M-D).

Records and variables
  - record_id is the patient's {key}; every clinical record is an instance of its
    repeating form, numbered 1, 2, ... within the patient in record id order.
  - A variable keeps its column name in the tidy CSV export unless the name is
    record_id or is a column of more than one form: then it is prefixed with its
    form's name (baseline_procedure_id, <form>_record_id). The Field Annotation
    names each variable's tidy file and column.
  - A code list is a checkbox: one data column per code (variable___code), 1 ticked;
    a list not recorded reads as nothing ticked, as REDCap cannot tell them apart.
  - Every form is marked complete (<form>_complete = 2).

Reference data
{reference}
",
        deid = if deidentified { ", de-identified" } else { "" },
        key = if deidentified {
            "pseudonym"
        } else {
            "registry id"
        },
        repeating = repeating.join("\n"),
        reference = reference.join("\n"),
    );
    let mut out = BufWriter::new(create(path)?);
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FIELDS;

    #[test]
    fn every_code_is_a_redcap_raw_value_and_no_label_breaks_the_choices() {
        for f in FIELDS {
            for (code, label) in f.ty.codes().unwrap_or_default() {
                assert!(is_raw_value(code), "{}: code {code:?}", f.name);
                assert!(!label.contains('|'), "{}: label {label:?}", f.name);
            }
        }
    }

    #[test]
    fn variable_names_are_valid_short_enough_and_unique_across_the_project() {
        for deidentified in [false, true] {
            let mut names = vec![DATA_KEYS[0].to_owned()];
            for instrument in INSTRUMENTS.iter().filter(|i| is_form(i)) {
                for column in form_columns(instrument, deidentified) {
                    let name = variable_name(instrument, &column);
                    assert!(is_valid_name(&name), "{name}");
                    let limit = match column {
                        Column::Field(f) if matches!(f.ty, FieldType::Codes(_)) => {
                            MAX_CHECKBOX_NAME
                        }
                        _ => MAX_NAME,
                    };
                    assert!(name.len() <= limit, "{name} is longer than {limit}");
                    names.push(name);
                }
            }
            let count = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), count, "a variable name repeats");
        }
    }

    #[test]
    fn a_name_of_several_forms_is_prefixed_and_a_name_of_one_is_not() {
        let baseline = Instrument::of(pdva_domain::RecordKind::Baseline);
        let procedure_id = baseline
            .fields()
            .find(|f| f.name == "procedure_id")
            .unwrap();
        assert_eq!(
            variable_name(baseline, &Column::Field(procedure_id)),
            "baseline_procedure_id"
        );
        assert_eq!(
            variable_name(baseline, &Column::RecordId),
            "baseline_record_id"
        );
        let abi = baseline.fields().find(|f| f.name == "abi").unwrap();
        assert_eq!(variable_name(baseline, &Column::Field(abi)), "abi");
    }
}
