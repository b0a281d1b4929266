//! # pdva-store
//!
//! Storage of the pDVA registry on SQLite (embedded default) or PostgreSQL
//! (multi-site), through one code path. It returns domain types, runs the
//! domain's validation inside the same transaction as the write, and keeps an
//! append-only, hash-chained audit trail that binds every data row.
//!
//! Invariants:
//! - nothing is deleted: a record is voided with a reason;
//! - every create, update, void and sign-off appends an audit entry in the
//!   same transaction as the change;
//! - the chain head is the registry's data version;
//! - no HTTP here: callers map [`StoreError`] to their own responses.

mod access;
mod browse;
mod chain;
pub mod db;
mod error;
mod facts;
mod identity;
pub mod keys;
mod listing;
mod model;
mod projection;
mod read;
mod rows;
mod signoff;
mod sites;
mod tokens;
mod users;
mod verify;
mod write;

pub use access::{AccessAction, AccessEvent, AccessQuery};
pub use browse::{PatientKey, PatientMatches, matches_patient};
pub use db::{Engine, redact};
pub use error::{Result, StoreError};
pub use identity::{NHS_NUMBER_REFUSED, NhsConflict, Rotation};
pub use keys::{KeyFile, default_key_file};
pub use listing::PageQuery;
pub use model::{
    Actor, AnyRecord, AuditAction, AuditEntry, Break, DataVersion, RecordMeta, SiteCounts,
    StoredRecord, VerifyReport,
};
pub use signoff::{AwaitingSignOff, SignOffQuery, SignOffQueue};
pub use tokens::{
    API_TOKEN_KIND, API_TOKEN_PREFIX, ApiToken, DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, NewApiToken,
    TokenUse,
};
pub use users::{
    FAILURES_BEFORE_LOCK, FIRST_LOCK, NewSession, NewUser, Password, Role, SESSION_ABSOLUTE,
    SESSION_IDLE, Session, SignIn, SiteAccess, TemporaryPassword, User, Username, random_token,
};
pub use write::{Change, Edit, ImportSummary, Saved};

use std::path::Path;
use std::sync::Arc;

use sqlx::{AnyPool, Row};

use keys::Keyring;

/// Reports the progress of long work (a progress bar on a terminal, log
/// lines elsewhere). The store knows nothing of how it is shown.
pub trait Progress: Send + Sync {
    /// Work of `total` units starts.
    fn start(&self, what: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
}

/// Progress that is not shown.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _what: &str, _total: u64) {}
    fn advance(&self, _n: u64) {}
}

/// The registry's storage.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    /// The connection URL, for a native SQLite connection where the `Any`
    /// driver's row decoding would dominate (reading a whole registry).
    url: String,
    /// The key file's secrets: what opens every patient's identifiers.
    keys: Arc<Keyring>,
    /// Accesses waiting to be written to the access log.
    access: std::sync::Arc<access::AccessBuffer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .finish()
    }
}

impl Store {
    /// Opens (creating if need be) the registry at `db` — a SQLite file path
    /// or a `postgres://` URL — with its key file where it is by default
    /// ([`default_key_file`]), and applies any pending migrations.
    pub async fn open(db: &str) -> Result<Self> {
        Self::open_with_key_file(db, &default_key_file(db)).await
    }

    /// Opens the registry at `db` with the key file `key_file`.
    ///
    /// A registry that holds no keys yet (a new one) is bound to the key
    /// file, which is created (mode 0600) if it does not exist. A registry
    /// bound to a key file opens only with that file: with none, or with
    /// another, it is refused before anything is changed, naming the file.
    #[tracing::instrument(skip_all, fields(db = %redact(db)))]
    pub async fn open_with_key_file(db: &str, key_file: &Path) -> Result<Self> {
        let (pool, engine) = db::connect(db, 8).await?;
        let keys = match load_keys(&pool, key_file).await {
            Ok(keys) => keys,
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        db::migrate(&pool, engine).await?;
        // Bind a new registry to its key file; a concurrent opening with
        // another file loses and is refused by the check below.
        sqlx::query(
            "INSERT INTO key_check (id, key_id, master_check) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(keys.key_id())
        .bind(keys.master_check())
        .execute(&pool)
        .await?;
        if let Some(check) = key_check(&pool).await {
            check_keys(&keys, &check)?;
        }
        let store = Self {
            pool,
            engine,
            url: db::connection_url(db)?,
            keys: Arc::new(keys),
            access: Default::default(),
        };
        store.ensure_outcome_facts().await?;
        Ok(store)
    }

    /// The per-deployment secret of researchers' keyed pseudonyms, from the
    /// key file (never stored in the database). It survives key rotation.
    pub fn pseudonym_secret(&self) -> [u8; 32] {
        self.keys.file.pseudonym_secret()
    }

    /// The key file this store was opened with.
    pub fn key_file(&self) -> &Path {
        &self.keys.path
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The connection pool, for maintenance and for tests that must reach
    /// behind the application (for example to tamper with a row).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Refreshes the query planner's statistics (`ANALYZE`) after a bulk
    /// load. PostgreSQL's planner otherwise still sees the tables as they
    /// were before the load, and picks plans that walk whole tables: a
    /// patient page took 0.14 s instead of 1 ms at 100,000 patients.
    /// SQLite plans these queries well without statistics, and gets
    /// `PRAGMA optimize`, which analyses only where it would help.
    pub async fn refresh_statistics(&self) -> Result<()> {
        let sql = match self.engine {
            Engine::Postgres => "ANALYZE",
            Engine::Sqlite => "PRAGMA optimize",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Writes the accesses still waiting, then closes the pool.
    pub async fn close(&self) {
        if let Err(e) = self.flush_access_log().await {
            tracing::error!(error = %e, "the last accesses could not be written to the access log");
        }
        self.pool.close().await;
    }
}

/// The registry's key check (`key_id`, `master_check`), or `None` when the
/// registry has none yet (new, or made before its schema had keys).
async fn key_check(pool: &AnyPool) -> Option<(String, String)> {
    let row = sqlx::query("SELECT key_id, master_check FROM key_check WHERE id = 1")
        .fetch_optional(pool)
        .await
        .ok()??;
    Some((row.try_get(0).ok()?, row.try_get(1).ok()?))
}

/// Refuses a key file that is not the registry's, saying which way.
fn check_keys(keys: &Keyring, (key_id, master_check): &(String, String)) -> Result<()> {
    let refuse = |detail: String| StoreError::KeyFile {
        path: keys.path.display().to_string(),
        detail,
    };
    if keys.key_id() != *key_id {
        return Err(refuse(
            "is not this registry's key file (its secrets belong to another registry); \
             nothing was changed"
                .into(),
        ));
    }
    if !keys.opens_master_check(master_check) {
        return Err(refuse(format!(
            "holds another master key than the one this registry's patient keys are wrapped \
             with (an older key file, from before `pdva keys rotate`?); if a rotation was \
             interrupted, the new key file is {}; nothing was changed",
            keys::sibling(&keys.path, ".pending").display()
        )));
    }
    Ok(())
}

/// Reads, or for a registry without keys creates, the key file, and checks
/// it against the registry before anything is written.
async fn load_keys(pool: &AnyPool, path: &Path) -> Result<Keyring> {
    let check = key_check(pool).await;
    let exists = path.exists();
    let keyring = |file| Keyring {
        file,
        path: path.to_path_buf(),
    };
    match (check, exists) {
        (Some(check), true) => {
            let keys = keyring(KeyFile::read(path)?);
            check_keys(&keys, &check)?;
            Ok(keys)
        }
        (Some(_), false) => Err(StoreError::KeyFile {
            path: path.display().to_string(),
            detail: "does not exist, and this registry's patient identifiers are encrypted with \
                     the keys it holds: give its path with --key-file (or PDVA_KEY_FILE), or \
                     restore it from its backup; nothing was changed"
                .into(),
        }),
        (None, true) => Ok(keyring(KeyFile::read(path)?)),
        (None, false) => {
            // Patients written by a program from before encryption cannot be
            // read by this one: say so instead of creating keys for them.
            let old_patients: i64 =
                sqlx::query("SELECT COUNT(*) FROM record WHERE kind = 'patient'")
                    .fetch_one(pool)
                    .await
                    .and_then(|r| r.try_get(0))
                    .unwrap_or(0);
            if old_patients > 0 {
                return Err(StoreError::KeyFile {
                    path: path.display().to_string(),
                    detail: "does not exist, and this registry was made before patient \
                             identifiers were encrypted: make it again (see the upgrade notes \
                             in README.md)"
                        .into(),
                });
            }
            let file = KeyFile::generate();
            if let Err(e) = file.create(path) {
                // Another process may have just created it: use theirs.
                if path.exists() {
                    return Ok(keyring(KeyFile::read(path)?));
                }
                return Err(e);
            }
            tracing::info!(key_file = %path.display(), "created the registry's key file");
            Ok(keyring(file))
        }
    }
}

/// The current time as stored: UTC, RFC 3339 with microseconds.
pub(crate) fn now_timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}
