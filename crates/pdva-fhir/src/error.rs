//! The crate's one error type.

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FhirError {
    /// Writing an NDJSON file (or the caller's writer) failed.
    #[error("writing the FHIR {resource_type} NDJSON: {source}")]
    Io {
        /// The resource type whose file it was.
        resource_type: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A resource could not be serialised.
    #[error("serialising FHIR {resource_type} {id}: {source}")]
    Json {
        /// The resource type.
        resource_type: String,
        /// The resource's id.
        id: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// The patient's home site is not in the reference data.
    #[error(
        "patient {patient}: home site {site_code} is not in the reference data (write the reference data first, with the same ids)"
    )]
    UnknownSite {
        /// The patient's id.
        patient: String,
        /// The site code.
        site_code: String,
    },
    /// A record names a clinician who is not in the reference data.
    #[error(
        "patient {patient}: {field} is clinician {clinician}, who is not in the reference data (write the reference data first, with the same ids)"
    )]
    UnknownClinician {
        /// The patient's id.
        patient: String,
        /// The field naming the clinician.
        field: &'static str,
        /// The clinician's id.
        clinician: String,
    },
}
