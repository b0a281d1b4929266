//! The reports IPG773 asks for, built from the outcomes engine and the
//! registry: the clinician appraisal report (1.2), the organisation
//! governance review (1.3), the research report (1.4) and the audit-tool
//! summary (3.2–3.3).
//!
//! Each report is built into one document ([`document::Report`]): every
//! figure is computed once by a builder and then printed as HTML
//! ([`html`]), JSON (serde) or PDF (the `pdva-pdf` crate). `gather` reads
//! what a report needs from the store; the builders are pure.

pub mod appraisal;
pub mod audit_summary;
pub mod casemix;
pub mod chart;
pub mod compliance;
pub mod document;
mod error;
pub mod gather;
pub mod governance;
pub mod html;
pub mod reading;
pub mod research;
pub mod sections;

pub use document::{Report, ReportKind};
pub use error::{ReportsError, Result};
