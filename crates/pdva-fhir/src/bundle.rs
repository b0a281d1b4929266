//! A FHIR transaction Bundle of a small extract.

use pdva_domain::{PatientFile, ReferenceData};
use serde_json::{Value, json};

use crate::FhirError;
use crate::map::{patient_resources, reference_resources};
use crate::model::Resource;

/// One transaction Bundle holding the reference data's Organizations and
/// Practitioners and every resource of `files`: each entry's `fullUrl` is
/// `urn:uuid:<id>` and its request `PUT <Type>/<id>`, so loading it twice
/// changes nothing. For small extracts: the whole Bundle is built in memory
/// (use [`crate::NdjsonWriter`] for a registry).
pub fn transaction_bundle(
    reference: &ReferenceData,
    files: &[PatientFile],
    deidentified: bool,
) -> Result<Value, FhirError> {
    let mut entries = Vec::new();
    let mut push = |resource: Resource| -> Result<(), FhirError> {
        let url = resource.reference();
        let full_url = format!("urn:uuid:{}", resource.id());
        let body = serde_json::to_value(&resource).map_err(|source| FhirError::Json {
            resource_type: resource.resource_type().to_owned(),
            id: resource.id().to_owned(),
            source,
        })?;
        entries.push(json!({
            "fullUrl": full_url,
            "resource": body,
            "request": { "method": "PUT", "url": url },
        }));
        Ok(())
    };
    for resource in reference_resources(reference, deidentified) {
        push(resource)?;
    }
    for file in files {
        for resource in patient_resources(file, reference, deidentified)? {
            push(resource)?;
        }
    }
    Ok(json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": entries,
    }))
}
