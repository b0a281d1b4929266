//! XLSX: one workbook with a "Summary" sheet first, then one sheet per
//! instrument named as its tidy CSV file (`baseline`, …) with the same
//! columns ([`crate::schema::columns`]) and typed cells: dates as Excel
//! dates, whole numbers and decimals as numbers, yes/no as TRUE/FALSE,
//! everything else as text. Each sheet's header row is bold and frozen,
//! with an autofilter over the rows written.
//!
//! Every instrument's sheet is a constant-memory worksheet
//! (`rust_xlsxwriter`'s `constant_memory` feature): each keeps only its
//! current row in memory and writes the rows before it to a temporary file
//! of its own (in the output's directory), so rows of different instruments
//! may interleave as the export driver hands them over and memory stays the
//! same whatever the registry's size. The summary sheet is small and filled
//! in last, when the counts are known.

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};

use crate::ExchangeError;
use crate::cells::cell;
use crate::export::{ExportFilter, ExportSummary, Row, Sink};
use crate::schema::{Column, FieldType, INSTRUMENTS, SCHEMA_VERSION, columns};
use crate::tidy::StagedFile;

/// The first sheet's name.
pub const SUMMARY_SHEET: &str = "Summary";
/// The most rows an Excel sheet holds (the header included).
pub const MAX_ROWS: u32 = 1_048_576;
/// The date format of date cells.
pub const DATE_FORMAT: &str = "yyyy-mm-dd";

/// One instrument's sheet being written.
struct Sheet {
    columns: Vec<Column>,
    /// The next row to write (0 is the header).
    next_row: u32,
}

/// Writes the XLSX workbook of an export as rows come.
pub struct XlsxSink {
    file: StagedFile,
    workbook: Workbook,
    /// One per instrument of [`INSTRUMENTS`], in order; the worksheet of
    /// instrument `i` is the workbook's sheet `i + 1`.
    sheets: Vec<Sheet>,
    date: Format,
    deidentified: bool,
}

impl XlsxSink {
    /// Prepares the workbook for `target` (which must not exist): the
    /// summary sheet, and each instrument's sheet with its header.
    pub fn create(target: &Path, deidentified: bool) -> Result<Self, ExchangeError> {
        let file = StagedFile::new(target)?;
        let mut workbook = Workbook::new();
        // The sheets' temporary files go beside the output, on the disk
        // that must hold the export anyway.
        workbook.set_tempdir(file.dir())?;
        workbook.add_worksheet().set_name(SUMMARY_SHEET)?;
        let bold = Format::new().set_bold();
        let mut sheets = Vec::new();
        for instrument in INSTRUMENTS {
            let cols = columns(instrument, deidentified);
            let sheet = workbook.add_worksheet_with_constant_memory()?;
            sheet.set_name(instrument.name)?;
            for (c, column) in cols.iter().enumerate() {
                let c = col(c)?;
                sheet.write_string_with_format(0, c, column.name(), &bold)?;
                sheet.set_column_width(c, column.name().len().clamp(10, 40) as f64 + 2.0)?;
            }
            sheet.set_freeze_panes(1, 0)?;
            sheets.push(Sheet {
                columns: cols,
                next_row: 1,
            });
        }
        Ok(Self {
            file,
            workbook,
            sheets,
            date: Format::new().set_num_format(DATE_FORMAT),
            deidentified,
        })
    }

    /// Sets each sheet's autofilter over the rows written, fills in the
    /// summary sheet and puts the file in place. `outcomes` are lines of an
    /// outcomes summary (label, value) for the summary sheet, from a caller
    /// that computed one; none leaves the place marked as not included.
    pub fn finish(
        mut self,
        summary: &ExportSummary,
        filter: &ExportFilter,
        outcomes: &[(String, String)],
    ) -> Result<PathBuf, ExchangeError> {
        for (i, sheet) in self.sheets.iter().enumerate() {
            let last_col = col(sheet.columns.len().saturating_sub(1))?;
            self.workbook.worksheet_from_index(i + 1)?.autofilter(
                0,
                0,
                sheet.next_row - 1,
                last_col,
            )?;
        }
        let deidentified = self.deidentified;
        write_summary(
            self.workbook.worksheet_from_index(0)?,
            summary,
            filter,
            deidentified,
            outcomes,
        )?;
        self.workbook.save_to_writer(self.file.writer())?;
        self.file.commit()
    }

    /// Removes what was written (after a failure).
    pub fn abandon(self) {
        self.file.abandon();
    }
}

impl Sink for XlsxSink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), ExchangeError> {
        let i = INSTRUMENTS
            .iter()
            .position(|x| x.kind == row.instrument.kind)
            .expect("an instrument");
        let sheet = &mut self.sheets[i];
        if sheet.next_row >= MAX_ROWS {
            return Err(ExchangeError::SheetFull {
                sheet: row.instrument.name,
                rows: MAX_ROWS,
            });
        }
        let r = sheet.next_row;
        let worksheet = self.workbook.worksheet_from_index(i + 1)?;
        for (c, column) in sheet.columns.iter().enumerate() {
            write_cell(worksheet, r, col(c)?, column, row, &self.date)?;
        }
        sheet.next_row += 1;
        Ok(())
    }
}

fn col(c: usize) -> Result<u16, ExchangeError> {
    u16::try_from(c).map_err(|_| ExchangeError::Io(std::io::Error::other("too many columns")))
}

/// One typed cell; an empty value is left blank.
fn write_cell(
    sheet: &mut Worksheet,
    r: u32,
    c: u16,
    column: &Column,
    row: &Row<'_>,
    date: &Format,
) -> Result<(), ExchangeError> {
    match column {
        Column::RecordId => {
            sheet.write_string(r, c, row.record_id.to_string())?;
        }
        Column::RegistryId => {
            if let Some(id) = row.registry_id {
                sheet.write_string(r, c, id)?;
            }
        }
        Column::AgeAtIndex => {
            if let Some(age) = row.age_at_index {
                sheet.write_number(r, c, age)?;
            }
        }
        Column::Field(f) => {
            let text = cell(f, &row.fields);
            if text.is_empty() {
                return Ok(());
            }
            match f.ty {
                FieldType::Date => match excel_date(&text) {
                    Some(d) => sheet.write_datetime_with_format(r, c, &d, date)?,
                    // A date Excel cannot show (before 1900) stays text.
                    None => sheet.write_string(r, c, text)?,
                },
                FieldType::Integer { .. } | FieldType::Decimal { .. } => {
                    match text.parse::<f64>() {
                        Ok(n) if n.is_finite() => sheet.write_number(r, c, n)?,
                        _ => sheet.write_string(r, c, text)?,
                    }
                }
                FieldType::Boolean => sheet.write_boolean(r, c, text == "1")?,
                FieldType::Text
                | FieldType::Code(_)
                | FieldType::Codes(_)
                | FieldType::Reference(_)
                | FieldType::SiteCodes => sheet.write_string(r, c, text)?,
            };
        }
    }
    Ok(())
}

fn excel_date(text: &str) -> Option<ExcelDateTime> {
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    ExcelDateTime::from_ymd(
        u16::try_from(d.year()).ok()?,
        u8::try_from(d.month()).ok()?,
        u8::try_from(d.day()).ok()?,
    )
    .ok()
}

fn write_summary(
    sheet: &mut Worksheet,
    summary: &ExportSummary,
    filter: &ExportFilter,
    deidentified: bool,
    outcomes: &[(String, String)],
) -> Result<(), ExchangeError> {
    let bold = Format::new().set_bold();
    sheet.set_column_width(0, 34)?;
    sheet.set_column_width(1, 40)?;
    sheet.set_column_width(2, 12)?;
    sheet.write_string_with_format(0, 0, "pDVA registry export", &bold)?;
    let facts: [(&str, String); 6] = [
        ("Export schema version", SCHEMA_VERSION.to_owned()),
        ("Data version", summary.data_version.clone()),
        ("Filter", filter.describe()),
        (
            "De-identified",
            if deidentified { "yes" } else { "no" }.to_owned(),
        ),
        ("Patients", summary.patients.to_string()),
        (
            "Registry changed during the export",
            if summary.changed_during_export {
                "yes: take the export again for one consistent version"
            } else {
                "no"
            }
            .to_owned(),
        ),
    ];
    let mut r = 2;
    for (label, value) in &facts {
        sheet.write_string(r, 0, *label)?;
        if *label == "Patients" {
            sheet.write_number(r, 1, summary.patients as f64)?;
        } else {
            sheet.write_string(r, 1, value)?;
        }
        r += 1;
    }
    r += 1;
    sheet.write_string_with_format(r, 0, "Instrument", &bold)?;
    sheet.write_string_with_format(r, 1, "Sheet", &bold)?;
    sheet.write_string_with_format(r, 2, "Rows", &bold)?;
    r += 1;
    for instrument in INSTRUMENTS {
        let rows = summary
            .rows_by_instrument
            .iter()
            .find(|(name, _)| name == instrument.name)
            .map_or(0, |(_, n)| *n);
        sheet.write_string(r, 0, instrument.label)?;
        sheet.write_string(r, 1, instrument.name)?;
        sheet.write_number(r, 2, rows as f64)?;
        r += 1;
    }
    r += 1;
    sheet.write_string_with_format(r, 0, "Outcomes summary", &bold)?;
    r += 1;
    if outcomes.is_empty() {
        sheet.write_string(r, 0, "not included in this export")?;
    }
    for (label, value) in outcomes {
        sheet.write_string(r, 0, label)?;
        sheet.write_string(r, 1, value)?;
        r += 1;
    }
    Ok(())
}
