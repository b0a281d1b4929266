//! Tidy CSV: one file per instrument (one row per record, one column per
//! field, keyed by record id and registry id), plus the data dictionary,
//! readable by pandas, R and Stata without edits. Never one sparse wide
//! matrix.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::ExchangeError;
use crate::cells::cell;
use crate::export::{Row, Sink};
use crate::schema::{Column, INSTRUMENTS, Instrument, SCHEMA_VERSION, columns};

/// The data dictionary's file name.
pub const DICTIONARY_FILE: &str = "data_dictionary.csv";

/// The file of an instrument.
pub fn file_name(instrument: &Instrument) -> String {
    format!("{}.csv", instrument.name)
}

type CsvWriter = csv::Writer<BufWriter<File>>;

/// Writes the tidy CSV files of an export into a directory.
pub struct CsvSink {
    /// One writer per instrument of [`INSTRUMENTS`], in its order; `None`
    /// for an instrument this sink does not write.
    writers: Vec<Option<(Vec<Column>, CsvWriter)>>,
}

impl CsvSink {
    /// Creates every instrument's file (with its header) and the data
    /// dictionary in `dir`, which must exist and be empty.
    pub fn create(dir: &Path, deidentified: bool) -> Result<Self, ExchangeError> {
        Self::create_for(dir, deidentified, |_| true)
    }

    /// Like [`CsvSink::create`], for the instruments `include` admits only
    /// (the REDCap export writes the reference data this way beside its
    /// own files); rows of other instruments are not this sink's and are
    /// passed over.
    pub fn create_for(
        dir: &Path,
        deidentified: bool,
        include: fn(&Instrument) -> bool,
    ) -> Result<Self, ExchangeError> {
        write_dictionary_of(&dir.join(DICTIONARY_FILE), deidentified, include)?;
        let mut writers = Vec::new();
        for instrument in INSTRUMENTS {
            if !include(instrument) {
                writers.push(None);
                continue;
            }
            let cols = columns(instrument, deidentified);
            let path = dir.join(file_name(instrument));
            let mut writer = csv::Writer::from_writer(BufWriter::new(create(&path)?));
            writer.write_record(cols.iter().map(Column::name))?;
            writers.push(Some((cols, writer)));
        }
        Ok(Self { writers })
    }

    /// Flushes every file to disk.
    pub fn finish(self) -> Result<(), ExchangeError> {
        for (_, mut writer) in self.writers.into_iter().flatten() {
            writer.flush()?;
            let file = writer
                .into_inner()
                .map_err(|e| ExchangeError::Io(e.into_error()))?
                .into_inner()
                .map_err(|e| ExchangeError::Io(e.into_error()))?;
            file.sync_all()?;
        }
        Ok(())
    }
}

impl Sink for CsvSink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), ExchangeError> {
        let i = INSTRUMENTS
            .iter()
            .position(|x| x.kind == row.instrument.kind)
            .expect("an instrument");
        let Some((cols, writer)) = &mut self.writers[i] else {
            return Ok(());
        };
        let record: Vec<String> = cols.iter().map(|c| row_cell(c, row)).collect();
        writer.write_record(&record)?;
        Ok(())
    }
}

/// The text of one column of a row, in every tabular format.
pub fn row_cell(column: &Column, row: &Row<'_>) -> String {
    match column {
        Column::RecordId => row.record_id.to_string(),
        Column::RegistryId => row.registry_id.unwrap_or_default().to_owned(),
        Column::Field(f) => cell(f, &row.fields),
        Column::AgeAtIndex => row.age_at_index.map(|a| a.to_string()).unwrap_or_default(),
    }
}

fn create(path: &Path) -> Result<File, ExchangeError> {
    File::create(path).map_err(|e| ExchangeError::File {
        path: path.to_owned(),
        source: e,
    })
}

/// The data dictionary: one row per column of every instrument's file, with
/// its type, unit, allowed codes and range, whether it is required, and
/// what it discloses.
pub fn write_dictionary(path: &Path, deidentified: bool) -> Result<(), ExchangeError> {
    write_dictionary_of(path, deidentified, |_| true)
}

/// The data dictionary of the instruments `include` admits.
fn write_dictionary_of(
    path: &Path,
    deidentified: bool,
    include: fn(&Instrument) -> bool,
) -> Result<(), ExchangeError> {
    let mut w = csv::Writer::from_writer(BufWriter::new(create(path)?));
    w.write_record([
        "file",
        "column",
        "label",
        "type",
        "unit",
        "codes",
        "min",
        "max",
        "required",
        "disclosure",
        "schema_version",
    ])?;
    for instrument in INSTRUMENTS.iter().filter(|i| include(i)) {
        for column in columns(instrument, deidentified) {
            let file = file_name(instrument);
            let line: [String; 11] = match column {
                Column::RecordId => key_line(
                    &file,
                    "record_id",
                    if deidentified {
                        "Record id (pseudonymous)"
                    } else {
                        "Record id"
                    },
                    "reference",
                ),
                Column::RegistryId => key_line(
                    &file,
                    "registry_id",
                    if deidentified {
                        "Patient pseudonym"
                    } else {
                        "Patient's registry id"
                    },
                    "text",
                ),
                Column::AgeAtIndex => key_line(
                    &file,
                    "age_at_index",
                    "Age in whole years at the first index procedure",
                    "integer",
                ),
                Column::Field(f) => {
                    let (min, max) = match f.ty {
                        crate::schema::FieldType::Integer { min, max } => (
                            min.map(|m| m.to_string()).unwrap_or_default(),
                            max.map(|m| m.to_string()).unwrap_or_default(),
                        ),
                        crate::schema::FieldType::Decimal { min, max } => (
                            min.map(|m| m.to_string()).unwrap_or_default(),
                            max.map(|m| m.to_string()).unwrap_or_default(),
                        ),
                        _ => (String::new(), String::new()),
                    };
                    let label = if deidentified && f.ty == crate::schema::FieldType::Date {
                        format!("{} (shifted by a secret offset per patient)", f.label)
                    } else {
                        f.label.to_owned()
                    };
                    [
                        file,
                        f.name.to_owned(),
                        label,
                        f.ty.name().to_owned(),
                        f.unit.unwrap_or_default().to_owned(),
                        f.ty.codes()
                            .map(|codes| {
                                codes
                                    .iter()
                                    .map(|(c, l)| format!("{c}={l}"))
                                    .collect::<Vec<_>>()
                                    .join(" | ")
                            })
                            .unwrap_or_default(),
                        min,
                        max,
                        if f.required { "yes" } else { "no" }.to_owned(),
                        serde_json::to_value(f.disclosure())
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        SCHEMA_VERSION.to_owned(),
                    ]
                }
            };
            w.write_record(&line)?;
        }
    }
    w.flush()?;
    Ok(())
}

fn key_line(file: &str, column: &str, label: &str, ty: &str) -> [String; 11] {
    [
        file.to_owned(),
        column.to_owned(),
        label.to_owned(),
        ty.to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        "yes".to_owned(),
        "key".to_owned(),
        SCHEMA_VERSION.to_owned(),
    ]
}

/// Writes blank import templates (each instrument's header only) and the
/// data dictionary into `dir` (created if missing).
pub fn write_templates(dir: &Path) -> Result<Vec<PathBuf>, ExchangeError> {
    std::fs::create_dir_all(dir).map_err(|e| ExchangeError::File {
        path: dir.to_owned(),
        source: e,
    })?;
    let mut written = Vec::new();
    let dictionary = dir.join(DICTIONARY_FILE);
    write_dictionary(&dictionary, false)?;
    written.push(dictionary);
    for instrument in INSTRUMENTS {
        let path = dir.join(file_name(instrument));
        let mut w = csv::Writer::from_writer(BufWriter::new(create(&path)?));
        w.write_record(columns(instrument, false).iter().map(Column::name))?;
        w.flush()?;
        written.push(path);
    }
    Ok(written)
}

/// Writes into a sibling directory and renames it into place only when
/// everything is written, so an interrupted export leaves no half-written
/// directory under the name asked for.
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
}

impl StagedDir {
    /// Prepares `target`, which must not exist yet (or be an empty
    /// directory).
    pub fn new(target: &Path) -> Result<Self, ExchangeError> {
        if target.exists() {
            let empty = std::fs::read_dir(target)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                return Err(ExchangeError::OutputExists(target.to_owned()));
            }
            std::fs::remove_dir(target).map_err(|e| ExchangeError::File {
                path: target.to_owned(),
                source: e,
            })?;
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        let staging = target.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| ExchangeError::File {
                path: staging.clone(),
                source: e,
            })?;
        }
        std::fs::create_dir_all(&staging).map_err(|e| ExchangeError::File {
            path: staging.clone(),
            source: e,
        })?;
        Ok(Self {
            target: target.to_owned(),
            staging,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Puts the written directory in place.
    pub fn commit(self) -> Result<PathBuf, ExchangeError> {
        std::fs::rename(&self.staging, &self.target).map_err(|e| ExchangeError::File {
            path: self.target.clone(),
            source: e,
        })?;
        Ok(self.target.clone())
    }

    /// Removes what was written (after a failure).
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// A single file written under a temporary sibling name and renamed into
/// place only when everything is written, so an interrupted export leaves
/// no half-written file under the name asked for. For a format streamed
/// over a whole export (ODM, XLSX), whose writing outlives one closure.
pub struct StagedFile {
    target: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl StagedFile {
    /// Prepares `target`, which must not exist yet: an export never
    /// overwrites a file.
    pub fn new(target: &Path) -> Result<Self, ExchangeError> {
        if target.exists() {
            return Err(ExchangeError::OutputFileExists(target.to_owned()));
        }
        Self::replacing(target)
    }

    fn replacing(target: &Path) -> Result<Self, ExchangeError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = target.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        let out = BufWriter::new(create(&temp)?);
        Ok(Self {
            target: target.to_owned(),
            temp,
            out: Some(out),
        })
    }

    /// Where to write.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.out
            .as_mut()
            .expect("a staged file is open until committed")
    }

    /// The temporary file's directory (the target's), for a writer's own
    /// temporary files: they then fill the disk the output goes to.
    pub fn dir(&self) -> PathBuf {
        self.temp
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Flushes the file to disk and puts it in place.
    pub fn commit(mut self) -> Result<PathBuf, ExchangeError> {
        let result = (|| {
            let mut out = self.out.take().expect("committed once");
            out.flush()?;
            out.into_inner()
                .map_err(|e| ExchangeError::Io(e.into_error()))?
                .sync_all()?;
            std::fs::rename(&self.temp, &self.target).map_err(|e| ExchangeError::File {
                path: self.target.clone(),
                source: e,
            })
        })();
        match result {
            Ok(()) => Ok(self.target.clone()),
            Err(e) => {
                let _ = std::fs::remove_file(&self.temp);
                Err(e)
            }
        }
    }

    /// Removes what was written (after a failure).
    pub fn abandon(self) {
        // Drop removes it.
    }
}

impl Drop for StagedFile {
    /// A staged file neither committed nor abandoned (an error returned
    /// early, a panic) is removed, never left half-written beside the target.
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes a single file through a temporary sibling renamed into place
/// (replacing a file already there).
pub fn write_file_atomically(
    target: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), ExchangeError>,
) -> Result<(), ExchangeError> {
    let mut staged = StagedFile::replacing(target)?;
    match write(staged.writer()) {
        Ok(()) => staged.commit().map(|_| ()),
        Err(e) => {
            staged.abandon();
            Err(e)
        }
    }
}
