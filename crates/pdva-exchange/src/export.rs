//! The export driver: reads the registry patient batch by patient batch
//! (constant memory whatever its size), applies the filters, the research
//! population and the de-identification, and hands each record to a
//! [`Sink`] that writes one format. Every format sees the same rows.

use chrono::NaiveDate;
use pdva_domain::deident::{DateShiftKey, PseudonymKey, deidentify_file};
use pdva_domain::disclosure::in_research_population;
use pdva_domain::{
    Clinician, GovernanceMeeting, PatientFile, RecordId, RecordKind, ReferenceData, Site,
};
use pdva_store::{DataVersion, Progress, Store};
use serde::Serialize;

use crate::ExchangeError;
use crate::cells::serialised_fields;
use crate::schema::{Instrument, Level};

/// Patients read per query: large enough that a query's cost is spread,
/// small enough that memory does not grow with the registry.
pub const PATIENT_BATCH: usize = 256;

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Only patients of this home site (and the reference data of all sites).
    pub site: Option<String>,
    /// Only patients with an index procedure on or after this date.
    pub from: Option<NaiveDate>,
    /// Only patients with an index procedure on or before this date.
    pub to: Option<NaiveDate>,
    /// The de-identified form (DOMAIN.md section 11): the research
    /// population only, identifiers and free text dropped, dates shifted,
    /// ids pseudonymous, age instead of date of birth.
    pub deidentify: bool,
}

impl ExportFilter {
    /// The filter as the audit entry records it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(site) = &self.site {
            parts.push(format!("site={site}"));
        }
        if let Some(from) = self.from {
            parts.push(format!("from={from}"));
        }
        if let Some(to) = self.to {
            parts.push(format!("to={to}"));
        }
        parts.push(format!("deidentified={}", self.deidentify));
        parts.join(" ")
    }

    fn admits(&self, file: &PatientFile) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        file.procedures().any(|(_, p)| {
            self.from.is_none_or(|from| p.procedure_date >= from)
                && self.to.is_none_or(|to| p.procedure_date <= to)
        })
    }
}

/// One row handed to a sink: an instrument's record with its serialised
/// fields, and the keys that place it.
#[derive(Debug)]
pub struct Row<'a> {
    /// The instrument (record kind).
    pub instrument: &'static Instrument,
    /// The record's id (pseudonymous in a de-identified export).
    pub record_id: RecordId,
    /// The patient's registry id (their pseudonym when de-identified), for
    /// a patient's records.
    pub registry_id: Option<&'a str>,
    /// The index procedure a limb-level record belongs to.
    pub procedure_id: Option<RecordId>,
    /// The record's serialised fields.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Age in whole years at the first index procedure (patients of a
    /// de-identified export only).
    pub age_at_index: Option<i32>,
}

/// A format being written.
pub trait Sink {
    /// One row. Rows come instrument by instrument for the reference data
    /// (sites, meetings, clinicians), then patient by patient in id order,
    /// each patient's row first and then their records in id order.
    fn row(&mut self, row: &Row<'_>) -> Result<(), ExchangeError>;

    /// The sites and clinicians every patient's records refer to, before any
    /// patient (for formats that resolve references, such as FHIR); in a
    /// de-identified export, clinicians under their pseudonymous ids and with
    /// no name or registration. The default ignores it.
    fn reference_data(&mut self, _reference: &ReferenceData) -> Result<(), ExchangeError> {
        Ok(())
    }

    /// A patient's whole file, after their rows (for formats that write a
    /// patient at a time, such as FHIR). The default ignores it.
    fn patient_file(
        &mut self,
        _file: &PatientFile,
        _age_at_index: Option<i32>,
    ) -> Result<(), ExchangeError> {
        Ok(())
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ExportSummary {
    /// Patients exported.
    pub patients: usize,
    /// Rows written, over every instrument (reference data included).
    pub rows: usize,
    /// Rows per instrument.
    pub rows_by_instrument: Vec<(String, usize)>,
    /// The registry's data version when the export began.
    pub data_version: String,
    /// Whether the registry changed while it was read (then the export is a
    /// mix of two versions and should be taken again).
    pub changed_during_export: bool,
}

/// Reads the registry and hands every row to `sink`.
pub async fn export(
    store: &Store,
    filter: &ExportFilter,
    today: NaiveDate,
    sink: &mut (dyn Sink + Send),
    progress: &dyn Progress,
) -> Result<ExportSummary, ExchangeError> {
    let version_at_start: DataVersion = store.data_version().await?;
    let key = PseudonymKey::new(store.pseudonym_secret());
    let shift = DateShiftKey::new(random_secret()?);
    let mut counts = vec![0usize; crate::schema::INSTRUMENTS.len()];
    let mut emit = |sink: &mut (dyn Sink + Send), row: Row<'_>| -> Result<(), ExchangeError> {
        let i = crate::schema::INSTRUMENTS
            .iter()
            .position(|x| x.kind == row.instrument.kind)
            .expect("an instrument");
        counts[i] += 1;
        sink.row(&row)
    };

    // Reference data, each in id order.
    let mut sites = store.sites().await?;
    sites.sort_by_key(|(id, _)| *id);
    let meetings = governance_meetings(store, &sites).await?;
    let mut clinicians = store.clinicians().await?;
    clinicians.sort_by_key(|(id, _)| *id);
    for (id, site) in &sites {
        emit(
            sink,
            reference_row(RecordKind::Site, *id, serialised_fields(site)),
        )?;
    }
    for (id, meeting) in &meetings {
        emit(
            sink,
            reference_row(
                RecordKind::GovernanceMeeting,
                *id,
                serialised_fields(meeting),
            ),
        )?;
    }
    for (id, clinician) in &clinicians {
        let shown_id = if filter.deidentify {
            key.record_id(*id)
        } else {
            *id
        };
        emit(
            sink,
            reference_row(
                RecordKind::Clinician,
                shown_id,
                clinician_fields(clinician, filter),
            ),
        )?;
    }

    let mut reference = ReferenceData::default();
    for (_, site) in &sites {
        reference.sites.insert(site.site_code.clone(), site.clone());
    }
    for (id, clinician) in &clinicians {
        if filter.deidentify {
            reference.clinicians.insert(
                key.record_id(*id),
                deidentified_clinician(&key, *id, clinician),
            );
        } else {
            reference.clinicians.insert(*id, clinician.clone());
        }
    }
    sink.reference_data(&reference)?;
    drop(reference);

    let ids = store.patient_ids_in_order(filter.site.as_deref()).await?;
    progress.start("exporting patients", ids.len() as u64);
    let mut patients = 0;
    for chunk in ids.chunks(PATIENT_BATCH) {
        let mut files = store.patient_files_of(chunk).await?;
        files.sort_by_key(|f| f.patient_id);
        for file in files {
            if !filter.admits(&file) {
                continue;
            }
            if filter.deidentify && !in_research_population(&file, today) {
                continue;
            }
            let (mut file, age) = if filter.deidentify {
                let d = deidentify_file(&file, &key, &shift, today);
                (d.file, Some(d.age_at_index))
            } else {
                (file, None)
            };
            file.records.sort_by_key(|(id, _)| *id);
            let registry_id = file.patient.registry_id.as_str().to_owned();
            emit(
                sink,
                Row {
                    instrument: Instrument::of(RecordKind::Patient),
                    record_id: file.patient_id,
                    registry_id: Some(&registry_id),
                    procedure_id: None,
                    fields: serialised_fields(&file.patient),
                    age_at_index: age,
                },
            )?;
            for (id, record) in &file.records {
                emit(
                    sink,
                    Row {
                        instrument: Instrument::of(record.kind()),
                        record_id: *id,
                        registry_id: Some(&registry_id),
                        procedure_id: match record {
                            pdva_domain::ClinicalRecord::Procedure(_) => Some(*id),
                            other => other.procedure_id(),
                        },
                        fields: serialised_fields(record),
                        age_at_index: None,
                    },
                )?;
            }
            sink.patient_file(&file, age)?;
            patients += 1;
        }
        progress.advance(chunk.len() as u64);
    }
    let version_at_end = store.data_version().await?;
    let rows_by_instrument: Vec<(String, usize)> = crate::schema::INSTRUMENTS
        .iter()
        .zip(&counts)
        .map(|(i, n)| (i.name.to_owned(), *n))
        .collect();
    Ok(ExportSummary {
        patients,
        rows: counts.iter().sum(),
        rows_by_instrument,
        changed_during_export: version_at_end != version_at_start,
        data_version: version_at_start.to_string(),
    })
}

fn reference_row(
    kind: RecordKind,
    id: RecordId,
    fields: serde_json::Map<String, serde_json::Value>,
) -> Row<'static> {
    let instrument = Instrument::of(kind);
    debug_assert_eq!(instrument.level, Level::Registry);
    Row {
        instrument,
        record_id: id,
        registry_id: None,
        procedure_id: None,
        fields,
        age_at_index: None,
    }
}

fn clinician_fields(
    clinician: &Clinician,
    filter: &ExportFilter,
) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serialised_fields(clinician);
    if filter.deidentify {
        // A clinician's training date could single them out; researchers
        // get the specialty, sites and proctored cases only.
        fields.insert("pdva_training_completed_on".into(), serde_json::Value::Null);
    }
    fields
}

/// A clinician as a de-identified export may show them: their pseudonym for
/// a name, specialty, sites and proctored cases; no registration, training
/// date or description.
fn deidentified_clinician(key: &PseudonymKey, id: RecordId, clinician: &Clinician) -> Clinician {
    Clinician {
        display_name: pdva_domain::values::RequiredText::parse_for(
            "display_name",
            &key.clinician(id),
        )
        .expect("a pseudonym is not empty"),
        professional_registration: None,
        specialty: clinician.specialty,
        sites: clinician.sites.clone(),
        pdva_training_completed_on: None,
        pdva_training_description: None,
        proctored_cases: clinician.proctored_cases,
    }
}

async fn governance_meetings(
    store: &Store,
    sites: &[(RecordId, Site)],
) -> Result<Vec<(RecordId, GovernanceMeeting)>, ExchangeError> {
    let mut all = Vec::new();
    for (_, site) in sites {
        all.extend(store.governance_meetings(&site.site_code).await?);
    }
    all.sort_by_key(|(id, _)| *id);
    Ok(all)
}

fn random_secret() -> Result<[u8; 32], ExchangeError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| ExchangeError::Io(std::io::Error::other(e.to_string())))?;
    Ok(secret)
}
