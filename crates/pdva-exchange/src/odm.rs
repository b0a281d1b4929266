//! CDISC ODM 1.3.2: one XML file, a snapshot of the patients' data with its
//! metadata, both from the declared schema ([`crate::schema`]).
//!
//! The metadata has one study event (`SE.REGISTRY`, not repeating) holding
//! one form per patient-level instrument: `patients` not repeating, every
//! clinical instrument repeating (its `FormRepeatKey` numbers the records of
//! the patient 1, 2, … in record id order). Each form has one item group;
//! each column of the instrument's tidy table is an item (`I.<form>.<column>`)
//! but the patient's registry id, which is the `SubjectKey` (their pseudonym
//! when de-identified). Coded fields refer to a code list of the stored code
//! spellings with their labels. ODM has no item of several codes, so a code
//! list field is one boolean item per code (`I.<form>.<column>.<code>`, 1
//! when ticked), as REDCap's checkboxes are. An empty cell has no `ItemData`.
//!
//! Reference data (sites, governance meetings, clinicians) are omitted: they
//! are not subjects, and the tidy CSV export carries them.
//!
//! The clinical data are streamed as rows come, so memory does not grow
//! with the registry; the file is written under a temporary name and
//! renamed into place when complete.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::ExchangeError;
use crate::cells::{LIST_SEPARATOR, cell};
use crate::export::{Row, Sink};
use crate::schema::{
    Column, ExportField, FieldType, INSTRUMENTS, Instrument, Level, SCHEMA_VERSION, columns,
};
use crate::tidy::{StagedFile, row_cell};

/// The ODM namespace.
pub const NAMESPACE: &str = "http://www.cdisc.org/ns/odm/v1.3";
/// The study's OID.
pub const STUDY_OID: &str = "PDVA";
/// The one study event's OID.
pub const STUDY_EVENT_OID: &str = "SE.REGISTRY";

/// Whether an instrument is an ODM form (patient data).
pub fn is_form(instrument: &Instrument) -> bool {
    instrument.level != Level::Registry
}

/// The columns of an instrument that are items of its form: every tidy
/// column but the patient's registry id (the subject key).
fn form_columns(instrument: &Instrument, deidentified: bool) -> Vec<Column> {
    columns(instrument, deidentified)
        .into_iter()
        .filter(|c| *c != Column::RegistryId)
        .collect()
}

/// The form OID of an instrument.
pub fn form_oid(instrument: &Instrument) -> String {
    format!("F.{}", instrument.name)
}

/// The item group OID of an instrument.
pub fn item_group_oid(instrument: &Instrument) -> String {
    format!("IG.{}", instrument.name)
}

/// The item OID of a column of an instrument.
pub fn item_oid(instrument: &Instrument, column: &Column) -> String {
    format!("I.{}.{}", instrument.name, column.name())
}

/// The item OID of one code of a code list field.
pub fn code_item_oid(instrument: &Instrument, field: &ExportField, code: &str) -> String {
    format!("I.{}.{}.{code}", instrument.name, field.name)
}

/// The code list OID of a coded field.
pub fn code_list_oid(instrument: &Instrument, field: &ExportField) -> String {
    format!("CL.{}.{}", instrument.name, field.name)
}

/// The measurement unit OID of a unit (UCUM's punctuation made `_`).
pub fn unit_oid(unit: &str) -> String {
    let safe: String = unit
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("MU.{safe}")
}

fn metadata_version_oid(deidentified: bool) -> String {
    format!(
        "MDV.PDVA.{SCHEMA_VERSION}{}",
        if deidentified { ".DEID" } else { "" }
    )
}

/// Writes the ODM file of an export as rows come.
pub struct OdmSink {
    file: StagedFile,
    /// Each instrument's item columns (`None` for reference data).
    forms: Vec<Option<Vec<Column>>>,
    /// Records written of each instrument for the current patient.
    instances: Vec<u32>,
    subject_open: bool,
    /// The XML of the row being written, reused from row to row.
    buffer: String,
}

impl OdmSink {
    /// Starts the file at `target` (which must not exist): the root, the
    /// study's metadata and the opening of the clinical data.
    pub fn create(
        target: &Path,
        deidentified: bool,
        created: DateTime<Utc>,
    ) -> Result<Self, ExchangeError> {
        let mut file = StagedFile::new(target)?;
        let head = metadata(deidentified, created);
        file.writer().write_all(head.as_bytes())?;
        Ok(Self {
            file,
            forms: INSTRUMENTS
                .iter()
                .map(|i| is_form(i).then(|| form_columns(i, deidentified)))
                .collect(),
            instances: vec![0; INSTRUMENTS.len()],
            subject_open: false,
            buffer: String::new(),
        })
    }

    /// Closes the clinical data and the root, and puts the file in place.
    pub fn finish(mut self) -> Result<PathBuf, ExchangeError> {
        let mut tail = String::new();
        if self.subject_open {
            tail.push_str("</StudyEventData></SubjectData>\n");
        }
        tail.push_str("</ClinicalData>\n</ODM>\n");
        self.file.writer().write_all(tail.as_bytes())?;
        self.file.commit()
    }

    /// Removes what was written (after a failure).
    pub fn abandon(self) {
        self.file.abandon();
    }
}

impl Sink for OdmSink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), ExchangeError> {
        let i = INSTRUMENTS
            .iter()
            .position(|x| x.kind == row.instrument.kind)
            .expect("an instrument");
        let Some(items) = &self.forms[i] else {
            // Reference data are not subjects (module documentation).
            return Ok(());
        };
        let instrument = row.instrument;
        let out = &mut self.buffer;
        out.clear();
        if instrument.level == Level::Patient {
            if self.subject_open {
                out.push_str("</StudyEventData></SubjectData>\n");
            }
            self.instances.iter_mut().for_each(|n| *n = 0);
            out.push_str("<SubjectData SubjectKey=\"");
            escape(row.registry_id.unwrap_or_default(), out);
            let _ = writeln!(
                out,
                "\"><StudyEventData StudyEventOID=\"{STUDY_EVENT_OID}\">"
            );
            self.subject_open = true;
        }
        let _ = write!(out, "<FormData FormOID=\"{}\"", form_oid(instrument));
        if instrument.level == Level::PatientRecord {
            self.instances[i] += 1;
            let _ = write!(out, " FormRepeatKey=\"{}\"", self.instances[i]);
        }
        let _ = writeln!(
            out,
            "><ItemGroupData ItemGroupOID=\"{}\">",
            item_group_oid(instrument)
        );
        for column in items {
            match column {
                Column::Field(f) if matches!(f.ty, FieldType::Codes(_)) => {
                    let text = cell(f, &row.fields);
                    if text.is_empty() {
                        continue;
                    }
                    for (code, _) in f.ty.codes().unwrap_or_default() {
                        let ticked = text.split(LIST_SEPARATOR).any(|c| c == *code);
                        item_data(
                            &code_item_oid(instrument, f, code),
                            if ticked { "1" } else { "0" },
                            out,
                        );
                    }
                }
                _ => {
                    let text = row_cell(column, row);
                    if !text.is_empty() {
                        item_data(&item_oid(instrument, column), &text, out);
                    }
                }
            }
        }
        out.push_str("</ItemGroupData></FormData>\n");
        self.file.writer().write_all(self.buffer.as_bytes())?;
        Ok(())
    }
}

fn item_data(oid: &str, value: &str, out: &mut String) {
    out.push_str("<ItemData ItemOID=\"");
    escape(oid, out);
    out.push_str("\" Value=\"");
    escape(value, out);
    out.push_str("\"/>\n");
}

/// Appends `text` escaped for XML 1.0 character data or a double- or
/// single-quoted attribute value. Line breaks and tabs become character
/// references so an attribute keeps them; characters XML 1.0 cannot carry
/// (other control characters, U+FFFE, U+FFFF) become U+FFFD.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape(text, &mut out);
    out
}

fn translated(text: &str) -> String {
    format!(
        "<TranslatedText xml:lang=\"en\">{}</TranslatedText>",
        escaped(text)
    )
}

/// The ODM data type of a field (ODM 1.3.2 section 3.1.3 DataType).
fn data_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Date => "date",
        FieldType::Integer { .. } => "integer",
        FieldType::Decimal { .. } => "float",
        FieldType::Boolean => "boolean",
        FieldType::Text
        | FieldType::Code(_)
        | FieldType::Codes(_)
        | FieldType::Reference(_)
        | FieldType::SiteCodes => "text",
    }
}

/// Everything before the first subject: the root, the study and its
/// metadata, and the opening of the clinical data.
fn metadata(deidentified: bool, created: DateTime<Utc>) -> String {
    let mdv = metadata_version_oid(deidentified);
    let created_text = created.to_rfc3339_opts(SecondsFormat::Secs, true);
    let file_oid = format!("PDVA.EXPORT.{}", created.format("%Y%m%dT%H%M%SZ"));
    let forms: Vec<&Instrument> = INSTRUMENTS.iter().filter(|i| is_form(i)).collect();
    let mut x = String::new();
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ODM xmlns=\"{NAMESPACE}\" ODMVersion=\"1.3.2\" FileType=\"Snapshot\" \
         FileOID=\"{file_oid}\" CreationDateTime=\"{created_text}\" Granularity=\"All\" \
         SourceSystem=\"pdva-registry\" SourceSystemVersion=\"{}\">\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        x,
        "<Study OID=\"{STUDY_OID}\">\n<GlobalVariables>\
         <StudyName>pDVA registry</StudyName>\
         <StudyDescription>Clinical outcomes registry of percutaneous deep venous \
         arterialisation (NICE IPG773){}</StudyDescription>\
         <ProtocolName>pDVA registry export schema {SCHEMA_VERSION}</ProtocolName>\
         </GlobalVariables>\n",
        if deidentified {
            "; de-identified: pseudonymous keys, dates shifted by a secret offset per \
             patient, no identifiers or free text"
        } else {
            ""
        }
    );

    // Units, once each, in the order of first use.
    let mut units: Vec<&str> = Vec::new();
    for instrument in &forms {
        for column in form_columns(instrument, deidentified) {
            if let Column::Field(f) = column
                && let Some(unit) = f.unit
                && !units.contains(&unit)
            {
                units.push(unit);
            }
        }
    }
    if !units.is_empty() {
        x.push_str("<BasicDefinitions>\n");
        for unit in &units {
            let _ = writeln!(
                x,
                "<MeasurementUnit OID=\"{}\" Name=\"{}\"><Symbol>{}</Symbol></MeasurementUnit>",
                escaped(&unit_oid(unit)),
                escaped(unit),
                translated(unit)
            );
        }
        x.push_str("</BasicDefinitions>\n");
    }

    let _ = write!(
        x,
        "<MetaDataVersion OID=\"{mdv}\" Name=\"pDVA export schema {SCHEMA_VERSION}{}\">\n\
         <Protocol><StudyEventRef StudyEventOID=\"{STUDY_EVENT_OID}\" OrderNumber=\"1\" \
         Mandatory=\"Yes\"/></Protocol>\n",
        if deidentified { " (de-identified)" } else { "" }
    );
    let _ = writeln!(
        x,
        "<StudyEventDef OID=\"{STUDY_EVENT_OID}\" Name=\"Registry\" Repeating=\"No\" \
         Type=\"Common\">"
    );
    for (n, instrument) in forms.iter().enumerate() {
        let _ = writeln!(
            x,
            "<FormRef FormOID=\"{}\" OrderNumber=\"{}\" Mandatory=\"{}\"/>",
            form_oid(instrument),
            n + 1,
            yes_no(instrument.level == Level::Patient)
        );
    }
    x.push_str("</StudyEventDef>\n");
    for instrument in &forms {
        let _ = writeln!(
            x,
            "<FormDef OID=\"{}\" Name=\"{}\" Repeating=\"{}\">\
             <ItemGroupRef ItemGroupOID=\"{}\" Mandatory=\"Yes\"/></FormDef>",
            form_oid(instrument),
            escaped(instrument.label),
            yes_no(instrument.level == Level::PatientRecord),
            item_group_oid(instrument)
        );
    }
    for instrument in &forms {
        let _ = writeln!(
            x,
            "<ItemGroupDef OID=\"{}\" Name=\"{}\" Repeating=\"No\">",
            item_group_oid(instrument),
            escaped(instrument.label)
        );
        let mut order = 0;
        for column in form_columns(instrument, deidentified) {
            let mandatory = match column {
                Column::Field(f) => f.required,
                _ => true,
            };
            let oids: Vec<String> = match column {
                Column::Field(f) if matches!(f.ty, FieldType::Codes(_)) => {
                    f.ty.codes()
                        .unwrap_or_default()
                        .iter()
                        .map(|(code, _)| code_item_oid(instrument, f, code))
                        .collect()
                }
                _ => vec![item_oid(instrument, &column)],
            };
            for oid in oids {
                order += 1;
                let _ = writeln!(
                    x,
                    "<ItemRef ItemOID=\"{}\" OrderNumber=\"{order}\" Mandatory=\"{}\"/>",
                    escaped(&oid),
                    yes_no(mandatory)
                );
            }
        }
        x.push_str("</ItemGroupDef>\n");
    }
    for instrument in &forms {
        for column in form_columns(instrument, deidentified) {
            item_defs(instrument, &column, deidentified, &mut x);
        }
    }
    for instrument in &forms {
        for column in form_columns(instrument, deidentified) {
            if let Column::Field(f) = column
                && let FieldType::Code(codes) = f.ty
            {
                let _ = writeln!(
                    x,
                    "<CodeList OID=\"{}\" Name=\"{}\" DataType=\"text\">",
                    escaped(&code_list_oid(instrument, f)),
                    escaped(f.label)
                );
                for (code, label) in codes {
                    let _ = writeln!(
                        x,
                        "<CodeListItem CodedValue=\"{}\"><Decode>{}</Decode></CodeListItem>",
                        escaped(code),
                        translated(label)
                    );
                }
                x.push_str("</CodeList>\n");
            }
        }
    }
    x.push_str("</MetaDataVersion>\n</Study>\n");
    let _ = writeln!(
        x,
        "<ClinicalData StudyOID=\"{STUDY_OID}\" MetaDataVersionOID=\"{mdv}\">"
    );
    x
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "Yes" } else { "No" }
}

/// The `ItemDef`s of one column (one per code for a code list).
fn item_defs(instrument: &Instrument, column: &Column, deidentified: bool, x: &mut String) {
    let alias = format!(
        "<Alias Context=\"pdva\" Name=\"{}\"/>",
        escaped(&format!("{}.csv:{}", instrument.name, column.name()))
    );
    match column {
        Column::RecordId => {
            let label = if deidentified {
                format!("{} record id (pseudonymous)", instrument.label)
            } else {
                format!("{} record id", instrument.label)
            };
            let _ = writeln!(
                x,
                "<ItemDef OID=\"{}\" Name=\"record_id\" DataType=\"text\">\
                 <Description>{}</Description>{alias}</ItemDef>",
                escaped(&item_oid(instrument, column)),
                translated(&label)
            );
        }
        Column::RegistryId => unreachable!("the registry id is the subject key"),
        Column::AgeAtIndex => {
            let _ = writeln!(
                x,
                "<ItemDef OID=\"{}\" Name=\"age_at_index\" DataType=\"integer\">\
                 <Description>{}</Description>{alias}</ItemDef>",
                escaped(&item_oid(instrument, column)),
                translated("Age in whole years at the first index procedure")
            );
        }
        Column::Field(f) => {
            let label = if deidentified && f.ty == FieldType::Date {
                format!("{} (shifted by a secret offset per patient)", f.label)
            } else {
                f.label.to_owned()
            };
            if let FieldType::Codes(codes) = f.ty {
                for (code, code_label) in codes {
                    let _ = writeln!(
                        x,
                        "<ItemDef OID=\"{}\" Name=\"{}\" DataType=\"boolean\">\
                         <Description>{}</Description>{alias}</ItemDef>",
                        escaped(&code_item_oid(instrument, f, code)),
                        escaped(&format!("{}___{code}", f.name)),
                        translated(&format!("{label}: {code_label}"))
                    );
                }
                return;
            }
            let mut inner = format!("<Description>{}</Description>", translated(&label));
            if let Some(unit) = f.unit {
                let _ = write!(
                    inner,
                    "<MeasurementUnitRef MeasurementUnitOID=\"{}\"/>",
                    escaped(&unit_oid(unit))
                );
            }
            let (min, max) = match f.ty {
                FieldType::Integer { min, max } => {
                    (min.map(|m| m.to_string()), max.map(|m| m.to_string()))
                }
                FieldType::Decimal { min, max } => {
                    (min.map(|m| m.to_string()), max.map(|m| m.to_string()))
                }
                _ => (None, None),
            };
            for (comparator, value) in [("GE", min), ("LE", max)] {
                if let Some(value) = value {
                    let _ = write!(
                        inner,
                        "<RangeCheck Comparator=\"{comparator}\" SoftHard=\"Hard\">\
                         <CheckValue>{}</CheckValue></RangeCheck>",
                        escaped(&value)
                    );
                }
            }
            if let FieldType::Code(_) = f.ty {
                let _ = write!(
                    inner,
                    "<CodeListRef CodeListOID=\"{}\"/>",
                    escaped(&code_list_oid(instrument, f))
                );
            }
            let _ = writeln!(
                x,
                "<ItemDef OID=\"{}\" Name=\"{}\" DataType=\"{}\">{inner}{alias}</ItemDef>",
                escaped(&item_oid(instrument, column)),
                escaped(f.name),
                data_type(f.ty)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_markup_out_and_every_character_xml_can_carry() {
        let mut out = String::new();
        escape("a<b>&\"c'\n\td\u{1}\u{FFFF}é", &mut out);
        assert_eq!(
            out,
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;&#9;d\u{FFFD}\u{FFFD}é"
        );
    }

    #[test]
    fn unit_oids_are_distinct() {
        let mut units: Vec<&str> = crate::schema::FIELDS
            .iter()
            .filter_map(|f| f.unit)
            .collect();
        units.sort_unstable();
        units.dedup();
        let mut oids: Vec<String> = units.iter().map(|u| unit_oid(u)).collect();
        oids.sort();
        oids.dedup();
        assert_eq!(oids.len(), units.len());
    }
}
