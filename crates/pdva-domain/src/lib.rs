//! # pdva-domain
//!
//! The clinical domain of the pDVA registry (see `shared/DOMAIN.md`): the
//! records of the data dictionary, their validated value types, the hard and
//! soft rules, the lifelong follow-up schedule and every derived value.
//!
//! This crate does no I/O and knows nothing of SQL or HTTP. Values are parsed
//! into their types at the edge (a form, a file, a database row), so a value
//! inside the domain is always valid; the rules that need more than one value
//! live in [`validation`], each in one place.

pub mod codes;
pub mod deident;
pub mod derived;
pub mod disclosure;
pub mod error;
pub mod facts;
pub mod preoperative;
pub mod records;
pub mod schedule;
pub mod validation;
pub mod values;

pub use error::{DomainError, FieldError};
pub use facts::{PatientFacts, RecordFacts};
pub use records::*;
pub use validation::{
    Checked, Finding, PatientFile, ReferenceData, Rule, Severity, check_file, check_record,
};
