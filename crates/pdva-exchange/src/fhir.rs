//! FHIR R4 exports through `pdva-fhir`: Bulk Data NDJSON (one file per
//! resource type, a patient at a time) or one transaction Bundle of a small
//! extract. The driver hands over each patient's file already de-identified
//! when asked; `pdva-fhir` then also leaves out what FHIR would otherwise
//! carry (identifiers, names, birth date, free text).

use std::collections::BTreeMap;
use std::path::Path;

use pdva_domain::{PatientFile, ReferenceData};
use pdva_fhir::NdjsonWriter;

use crate::ExchangeError;
use crate::export::{Row, Sink};

/// The most patients one transaction Bundle may hold: a Bundle is one JSON
/// document, read whole by its receiver, so it is for small extracts.
pub const BUNDLE_MAX_PATIENTS: usize = 1000;

/// Writes FHIR Bulk Data NDJSON into a directory.
pub struct FhirNdjsonSink {
    writer: NdjsonWriter,
}

impl FhirNdjsonSink {
    /// Writes `<ResourceType>.ndjson` files into `dir`.
    pub fn create(dir: &Path, deidentified: bool) -> Result<Self, ExchangeError> {
        Ok(Self {
            writer: NdjsonWriter::create_dir(dir, deidentified)?,
        })
    }

    /// Flushes the files; how many resources of each type were written.
    pub fn finish(self) -> Result<BTreeMap<&'static str, u64>, ExchangeError> {
        Ok(self.writer.finish()?)
    }
}

impl Sink for FhirNdjsonSink {
    fn row(&mut self, _row: &Row<'_>) -> Result<(), ExchangeError> {
        Ok(())
    }

    fn reference_data(&mut self, reference: &ReferenceData) -> Result<(), ExchangeError> {
        Ok(self.writer.write_reference(reference)?)
    }

    fn patient_file(
        &mut self,
        file: &PatientFile,
        _age_at_index: Option<i32>,
    ) -> Result<(), ExchangeError> {
        Ok(self.writer.write_patient(file)?)
    }
}

/// Gathers a small extract for one transaction Bundle.
pub struct FhirBundleSink {
    deidentified: bool,
    reference: ReferenceData,
    files: Vec<PatientFile>,
}

impl FhirBundleSink {
    /// An empty extract.
    pub fn new(deidentified: bool) -> Self {
        Self {
            deidentified,
            reference: ReferenceData::default(),
            files: Vec::new(),
        }
    }

    /// The transaction Bundle of the extract.
    pub fn finish(self) -> Result<serde_json::Value, ExchangeError> {
        Ok(pdva_fhir::transaction_bundle(
            &self.reference,
            &self.files,
            self.deidentified,
        )?)
    }
}

impl Sink for FhirBundleSink {
    fn row(&mut self, _row: &Row<'_>) -> Result<(), ExchangeError> {
        Ok(())
    }

    fn reference_data(&mut self, reference: &ReferenceData) -> Result<(), ExchangeError> {
        self.reference = reference.clone();
        Ok(())
    }

    fn patient_file(
        &mut self,
        file: &PatientFile,
        _age_at_index: Option<i32>,
    ) -> Result<(), ExchangeError> {
        if self.files.len() == BUNDLE_MAX_PATIENTS {
            return Err(ExchangeError::TooLargeForBundle(BUNDLE_MAX_PATIENTS));
        }
        self.files.push(file.clone());
        Ok(())
    }
}
