//! The store's one error type.

use pdva_domain::{DomainError, Finding, RecordId};

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one the store understands.
    #[error("database URL not understood: {0} (give a SQLite file path or a postgres:// URL)")]
    BadUrl(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite file failed, read without sqlx (the outcome facts scan).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An applied migration differs from the one this program carries.
    #[error(
        "migration {version} ({name}) was changed after it was applied; never edit an applied migration"
    )]
    MigrationChanged {
        /// Migration version.
        version: i64,
        /// Migration name.
        name: &'static str,
    },
    /// The key file is missing, unreadable, or not this registry's: the
    /// store refuses to open rather than write what it could not read back.
    #[error("key file {path} {detail}")]
    KeyFile {
        /// The key file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The record broke one or more hard rules.
    #[error("record refused: {}", .0.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Finding>),
    /// The record raises warnings that the user has not acknowledged.
    #[error("record has warnings to acknowledge: {}", .0.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "))]
    NeedsAcknowledgement(Vec<Finding>),
    /// No (non-voided) record with this id.
    #[error("no record {0}")]
    NotFound(RecordId),
    /// Someone else changed the record since it was read.
    #[error(
        "record {id} was changed by someone else (version {found}, expected {expected}); reload it"
    )]
    Conflict {
        /// The record.
        id: RecordId,
        /// The version the caller edited.
        expected: i64,
        /// The version now stored.
        found: i64,
    },
    /// A change that needs a reason was given none.
    #[error("{0}")]
    ReasonRequired(&'static str),
    /// The password given as the user's current one is not: nothing was
    /// changed.
    #[error("current_password: is not your current password")]
    WrongPassword,
    /// The change would leave the registry without an active administrator,
    /// and so no one to manage its users (the last one cannot remove their
    /// own rights or disable themself).
    #[error(
        "refused: this would leave the registry without an active administrator; make another user an administrator first"
    )]
    LastAdministrator,
    /// The request is not valid for this record.
    #[error("{0}")]
    Invalid(String),
    /// A reading thread stopped without finishing (it panicked or was
    /// cancelled): a fault of the program, not of the data or the request.
    #[error("reading the registry failed: {0}")]
    ReadFailed(String),
    /// A stored row could not be read back into its domain type: the row was
    /// changed outside the application, or the schema is newer than the program.
    #[error("stored record {id} ({kind}) cannot be read: {detail}")]
    Corrupt {
        /// The record.
        id: String,
        /// Its kind.
        kind: String,
        /// What failed.
        detail: String,
    },
}

impl From<DomainError> for StoreError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Refused(findings) => StoreError::Refused(findings),
            DomainError::Field(f) => StoreError::Invalid(f.to_string()),
        }
    }
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
