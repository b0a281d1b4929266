//! Shared test helpers.

pub mod metrics;
