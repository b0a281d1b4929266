//! FHIR Bulk Data output: one NDJSON file per resource type.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use pdva_domain::{PatientFile, ReferenceData};

use crate::FhirError;
use crate::map::{patient_resources, reference_resources};
use crate::model::Resource;

/// Opens the writer of one resource type's NDJSON (given the type's name).
type Opener<W> = Box<dyn FnMut(&str) -> io::Result<W> + Send>;

/// Writes a registry as FHIR Bulk Data NDJSON, one file (or writer) per
/// resource type, one resource per line.
///
/// Write the reference data first ([`NdjsonWriter::write_reference`]), then
/// each patient's file ([`NdjsonWriter::write_patient`]) as they are read:
/// only one patient's resources are held at a time. [`NdjsonWriter::finish`]
/// flushes every writer and gives the count of resources of each type. A
/// resource type with no resource gets no file.
pub struct NdjsonWriter<W: Write = BufWriter<File>> {
    open: Opener<W>,
    deidentified: bool,
    reference: ReferenceData,
    writers: BTreeMap<&'static str, W>,
    counts: BTreeMap<&'static str, u64>,
}

impl NdjsonWriter<BufWriter<File>> {
    /// A writer of `<dir>/<ResourceType>.ndjson` files (buffered); creates
    /// `dir` if missing, and replaces files of the same names.
    pub fn create_dir(dir: &Path, deidentified: bool) -> Result<Self, FhirError> {
        std::fs::create_dir_all(dir).map_err(|source| FhirError::Io {
            resource_type: "(directory)".to_owned(),
            source,
        })?;
        let dir: PathBuf = dir.to_owned();
        Ok(Self::with_opener(deidentified, move |resource_type| {
            File::create(dir.join(format!("{resource_type}.ndjson"))).map(BufWriter::new)
        }))
    }
}

impl<W: Write> NdjsonWriter<W> {
    /// A writer that asks `open` for the writer of each resource type (by
    /// its name, e.g. `Patient`) the first time it has a resource of it.
    pub fn with_opener(
        deidentified: bool,
        open: impl FnMut(&str) -> io::Result<W> + Send + 'static,
    ) -> Self {
        Self {
            open: Box::new(open),
            deidentified,
            reference: ReferenceData::default(),
            writers: BTreeMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// Writes the Organizations (sites) and Practitioners (clinicians), and
    /// keeps the reference data for the patients' references to them.
    pub fn write_reference(&mut self, reference: &ReferenceData) -> Result<(), FhirError> {
        for resource in reference_resources(reference, self.deidentified) {
            self.write(&resource)?;
        }
        self.reference
            .sites
            .extend(reference.sites.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.reference
            .clinicians
            .extend(reference.clinicians.iter().map(|(k, v)| (*k, v.clone())));
        Ok(())
    }

    /// Writes every resource of one patient's file.
    pub fn write_patient(&mut self, file: &PatientFile) -> Result<(), FhirError> {
        for resource in patient_resources(file, &self.reference, self.deidentified)? {
            self.write(&resource)?;
        }
        Ok(())
    }

    /// Writes one resource as one line of its type's NDJSON.
    pub fn write(&mut self, resource: &Resource) -> Result<(), FhirError> {
        let resource_type = resource.resource_type();
        let io_error = |source| FhirError::Io {
            resource_type: resource_type.to_owned(),
            source,
        };
        if !self.writers.contains_key(resource_type) {
            let w = (self.open)(resource_type).map_err(io_error)?;
            self.writers.insert(resource_type, w);
        }
        let w = self.writers.get_mut(resource_type).expect("inserted above");
        serde_json::to_writer(&mut *w, resource).map_err(|source| {
            if source.is_io() {
                FhirError::Io {
                    resource_type: resource_type.to_owned(),
                    source: source.into(),
                }
            } else {
                FhirError::Json {
                    resource_type: resource_type.to_owned(),
                    id: resource.id().to_owned(),
                    source,
                }
            }
        })?;
        w.write_all(b"\n").map_err(io_error)?;
        *self.counts.entry(resource_type).or_default() += 1;
        Ok(())
    }

    /// Flushes every writer and returns how many resources of each type were written.
    pub fn finish(self) -> Result<BTreeMap<&'static str, u64>, FhirError> {
        Ok(self.finish_with_writers()?.0)
    }

    /// As [`NdjsonWriter::finish`], also handing back each type's writer.
    #[allow(clippy::type_complexity)]
    pub fn finish_with_writers(
        mut self,
    ) -> Result<(BTreeMap<&'static str, u64>, BTreeMap<&'static str, W>), FhirError> {
        for (resource_type, w) in &mut self.writers {
            w.flush().map_err(|source| FhirError::Io {
                resource_type: (*resource_type).to_owned(),
                source,
            })?;
        }
        Ok((self.counts, self.writers))
    }
}
