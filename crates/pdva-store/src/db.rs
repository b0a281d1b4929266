//! Connecting to SQLite or PostgreSQL, and the versioned migrations.
//!
//! One code path serves both engines through sqlx's `Any` driver: the schema
//! uses only TEXT and 64-bit integer columns, and queries use `$N`
//! placeholders, which both engines accept. Only the DDL differs per engine.

use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Result, StoreError};

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server (multi-site deployments).
    Postgres,
}

impl Engine {
    /// The engine a `--db` value names: a `postgres://` or `postgresql://`
    /// URL, or else a SQLite file (a plain path or a `sqlite:` URL).
    pub fn of(db: &str) -> Engine {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }

    /// `FOR UPDATE` where the engine has row locks; SQLite locks the whole
    /// database for a write transaction instead.
    pub fn for_update(self) -> &'static str {
        match self {
            Engine::Sqlite => "",
            Engine::Postgres => " FOR UPDATE",
        }
    }
}

/// The URL sqlx needs for a `--db` value.
pub fn connection_url(db: &str) -> Result<String> {
    match Engine::of(db) {
        Engine::Postgres => Ok(db.to_owned()),
        Engine::Sqlite => {
            if db.is_empty() {
                return Err(StoreError::BadUrl(db.to_owned()));
            }
            if db.starts_with("sqlite:") {
                Ok(db.to_owned())
            } else {
                Ok(format!("sqlite://{db}?mode=rwc"))
            }
        }
    }
}

/// Shows a database URL without its password, for logs and messages.
pub fn redact(db: &str) -> String {
    match (db.find("://"), db.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &db[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &db[..scheme + 3],
                    &userinfo[..colon],
                    &db[at..]
                ),
                None => db.to_owned(),
            }
        }
        _ => db.to_owned(),
    }
}

/// Opens a pool. SQLite gets WAL mode, foreign keys and a busy timeout on
/// every connection.
pub async fn connect(db: &str, max_connections: u32) -> Result<(AnyPool, Engine)> {
    sqlx::any::install_default_drivers();
    let engine = Engine::of(db);
    let url = connection_url(db)?;
    let options = AnyConnectOptions::from_str(&url).map_err(|_| StoreError::BadUrl(redact(db)))?;
    let pool = AnyPoolOptions::new()
        .max_connections(match engine {
            // One writer at a time in SQLite; readers use WAL snapshots.
            Engine::Sqlite => max_connections.clamp(1, 8),
            Engine::Postgres => max_connections.max(1),
        })
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if engine == Engine::Sqlite {
                    // WAL lets readers work while one writer writes; a
                    // 64 MiB page cache and memory-mapped reads keep index
                    // pages of a large registry off the system-call path.
                    // Secure delete zeroes what a delete or an update frees,
                    // so an erased patient's wrapped data key does not stay
                    // behind in a free page of the file.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL; \
                         PRAGMA cache_size = -65536; PRAGMA mmap_size = 4294967296; \
                         PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok((pool, engine))
}

/// A versioned migration, with its DDL for each engine.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, in order. Never edit one that has been applied: add a new one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sqlite: include_str!("../migrations/sqlite/0001_registry.sql"),
        postgres: include_str!("../migrations/postgres/0001_registry.sql"),
    },
    Migration {
        version: 2,
        name: "users",
        sqlite: include_str!("../migrations/sqlite/0002_users.sql"),
        postgres: include_str!("../migrations/postgres/0002_users.sql"),
    },
    Migration {
        version: 3,
        name: "audit_patient_index",
        sqlite: include_str!("../migrations/sqlite/0003_audit_patient_index.sql"),
        postgres: include_str!("../migrations/postgres/0003_audit_patient_index.sql"),
    },
    Migration {
        version: 4,
        name: "outcome_facts",
        sqlite: include_str!("../migrations/sqlite/0004_outcome_facts.sql"),
        postgres: include_str!("../migrations/postgres/0004_outcome_facts.sql"),
    },
    Migration {
        version: 5,
        name: "patient_keys",
        sqlite: include_str!("../migrations/sqlite/0005_patient_keys.sql"),
        postgres: include_str!("../migrations/postgres/0005_patient_keys.sql"),
    },
    Migration {
        version: 6,
        name: "access_log",
        sqlite: include_str!("../migrations/sqlite/0006_access_log.sql"),
        postgres: include_str!("../migrations/postgres/0006_access_log.sql"),
    },
    Migration {
        version: 7,
        name: "user_clinician",
        sqlite: include_str!("../migrations/sqlite/0007_user_clinician.sql"),
        postgres: include_str!("../migrations/postgres/0007_user_clinician.sql"),
    },
    Migration {
        version: 8,
        name: "api_tokens",
        sqlite: include_str!("../migrations/sqlite/0008_api_tokens.sql"),
        postgres: include_str!("../migrations/postgres/0008_api_tokens.sql"),
    },
    Migration {
        version: 9,
        name: "sign_off_queue",
        sqlite: include_str!("../migrations/sqlite/0009_sign_off_queue.sql"),
        postgres: include_str!("../migrations/postgres/0009_sign_off_queue.sql"),
    },
    Migration {
        version: 10,
        name: "must_change_password",
        sqlite: include_str!("../migrations/sqlite/0010_must_change_password.sql"),
        postgres: include_str!("../migrations/postgres/0010_must_change_password.sql"),
    },
];

/// Applies the migrations not yet applied, each in its own transaction, and
/// refuses to start if an applied one was changed since.
pub async fn migrate(pool: &AnyPool, engine: Engine) -> Result<()> {
    pool.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration (
            version BIGINT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL)",
    )
    .await?;
    for m in MIGRATIONS {
        let sql = match engine {
            Engine::Sqlite => m.sqlite,
            Engine::Postgres => m.postgres,
        };
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        let applied: Option<String> =
            sqlx::query("SELECT checksum FROM schema_migration WHERE version = $1")
                .bind(m.version)
                .fetch_optional(pool)
                .await?
                .map(|row| row.get(0));
        match applied {
            Some(existing) if existing == checksum => continue,
            Some(_) => {
                return Err(StoreError::MigrationChanged {
                    version: m.version,
                    name: m.name,
                });
            }
            None => {
                let mut tx = pool.begin().await?;
                tx.execute(sql).await?;
                sqlx::query(
                    "INSERT INTO schema_migration (version, name, checksum, applied_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(m.version)
                .bind(m.name)
                .bind(checksum)
                .bind(crate::now_timestamp())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                tracing::info!(version = m.version, name = m.name, "applied migration");
            }
        }
    }
    Ok(())
}

/// A PostgreSQL URL whose connections use `schema` (for isolated test and
/// benchmark registries inside one database).
pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Runs one statement on a PostgreSQL database (creating or dropping a
/// schema for an isolated registry).
pub async fn execute_on(url: &str, sql: &str) -> Result<()> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    pool.execute(sql).await?;
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_from_url() {
        assert_eq!(Engine::of("pdva.db"), Engine::Sqlite);
        assert_eq!(Engine::of("sqlite://x.db"), Engine::Sqlite);
        assert_eq!(Engine::of("postgres://localhost/test"), Engine::Postgres);
        assert_eq!(Engine::of("postgresql://localhost/test"), Engine::Postgres);
        assert_eq!(
            connection_url("pdva.db").unwrap(),
            "sqlite://pdva.db?mode=rwc"
        );
    }

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://pdva:secret@db.example:5432/registry"),
            "postgres://pdva:***@db.example:5432/registry"
        );
        assert_eq!(
            redact("postgres://localhost/test"),
            "postgres://localhost/test"
        );
        assert_eq!(redact("pdva.db"), "pdva.db");
    }
}
