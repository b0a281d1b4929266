//! The domain crate's one error type.

use crate::validation::Finding;

/// A value that breaks a rule of the data dictionary, named so that a
/// clinician can correct it: the field, the value given and the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: \"{value}\" {rule}")]
pub struct FieldError {
    /// Data-dictionary field name, e.g. `nhs_number`.
    pub field: &'static str,
    /// The value as given.
    pub value: String,
    /// The rule it breaks, in words a clinician understands.
    pub rule: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: &'static str, value: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field,
            value: value.into(),
            rule: rule.into(),
        }
    }
}

/// Everything the domain can refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// A single value could not be parsed into its domain type.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A record broke one or more hard rules (DOMAIN.md 4.11).
    #[error("record refused: {}", .0.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Finding>),
}
