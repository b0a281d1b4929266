//! API tokens: a user's bearer credentials for the JSON API.
//!
//! A token is `pdva_` and 256 random bits (hex). It is shown once, when it
//! is created; the database keeps only its SHA-256, so a copy of the table
//! authenticates nobody. A token acts as its user: it carries no rights of
//! its own, so a change of the user's role or sites applies to it at once,
//! and a disabled user's tokens are refused. Every token expires (90 days
//! unless asked otherwise, a year at most).
//!
//! Creation and revocation are audit entries (record kind `api_token`) in
//! the same chain as every record, attributed to whoever made them, whose
//! `row_hash` binds the token's audited state (everything but when it was
//! last used), so a token written or revived by raw SQL fails
//! `pdva audit verify`.

use chrono::{DateTime, Duration, Utc};
use pdva_domain::RecordId;
use serde::Serialize;
use sqlx::Row;

use crate::Store;
use crate::chain::{Audited, ChainWriter, lock_head};
use crate::error::{Result, StoreError};
use crate::model::{Actor, AuditAction};
use crate::rows::sha256_hex;
use crate::users::{USER_COLUMNS, User, parse_timestamp, random_token, timestamp};

/// The audit trail's record kind for API tokens.
pub const API_TOKEN_KIND: &str = "api_token";
/// What every token starts with, so that one pasted where it should not be
/// is recognisable (secret scanners, logs).
pub const API_TOKEN_PREFIX: &str = "pdva_";
/// Days a token lasts unless asked otherwise (registry choice).
pub const DEFAULT_TOKEN_DAYS: i64 = 90;
/// The longest a token may last (registry choice): a forgotten token dies.
pub const MAX_TOKEN_DAYS: i64 = 365;
/// Longest label.
const MAX_NAME_CHARS: usize = 100;

/// An API token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Its id (also its id in the audit trail).
    pub id: RecordId,
    /// The user it acts as.
    pub user_id: RecordId,
    /// A label chosen by its holder ("outcomes export script").
    pub name: String,
    /// When created (UTC, RFC 3339).
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// When it stops working.
    pub expires_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<String>,
}

impl ApiToken {
    /// Whether the token still authenticates at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && parse_timestamp(&self.expires_at).is_ok_and(|t| t > now)
    }

    /// The token's audited state (what its audit entries bind): everything
    /// but `last_used_at`, which changes on every use.
    fn audited_state(&self, token_hash: &str) -> String {
        #[derive(Serialize)]
        struct State<'a> {
            id: String,
            user_id: String,
            name: &'a str,
            token_hash: &'a str,
            created_at: &'a str,
            created_by: &'a str,
            expires_at: &'a str,
            revoked_at: Option<&'a str>,
            revoked_by: Option<&'a str>,
        }
        serde_json::to_string(&State {
            id: self.id.to_string(),
            user_id: self.user_id.to_string(),
            name: &self.name,
            token_hash,
            created_at: &self.created_at,
            created_by: &self.created_by,
            expires_at: &self.expires_at,
            revoked_at: self.revoked_at.as_deref(),
            revoked_by: self.revoked_by.as_deref(),
        })
        .expect("token state serialises")
    }
}

/// A token just created: the secret, shown once, and what is kept of it.
#[derive(Clone)]
pub struct NewApiToken {
    /// The secret (`pdva_` and 64 hex digits). Not kept anywhere.
    pub token: String,
    /// The token as listed.
    pub info: ApiToken,
}

impl std::fmt::Debug for NewApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiToken")
            .field("token", &"***")
            .field("info", &self.info)
            .finish()
    }
}

/// A request authenticated by a token.
#[derive(Debug, Clone)]
pub struct TokenUse {
    /// The token's user, as the account stands now.
    pub user: User,
    /// The token's id.
    pub token_id: RecordId,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

const TOKEN_COLUMNS: &str = "id, user_id, name, token_hash, created_at, created_by, expires_at, \
    revoked_at, revoked_by, last_used_at";

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<(ApiToken, String)> {
    let id: String = row.try_get(0)?;
    let corrupt = |detail: &str| StoreError::Corrupt {
        id: id.clone(),
        kind: API_TOKEN_KIND.into(),
        detail: detail.into(),
    };
    let user_id: String = row.try_get(1)?;
    let token = ApiToken {
        id: id.parse().map_err(|_| corrupt("id is not a record id"))?,
        user_id: user_id
            .parse()
            .map_err(|_| corrupt("user_id is not a record id"))?,
        name: row.try_get(2)?,
        created_at: row.try_get(4)?,
        created_by: row.try_get(5)?,
        expires_at: row.try_get(6)?,
        revoked_at: row.try_get(7)?,
        revoked_by: row.try_get(8)?,
        last_used_at: row.try_get(9)?,
    };
    Ok((token, row.try_get(3)?))
}

/// Checks a token's label.
fn token_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid(
            "name: \"\" is required: say what the token is for".into(),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "name: \"{name}\" must be at most {MAX_NAME_CHARS} characters on one line"
        )));
    }
    Ok(name.to_owned())
}

impl Store {
    /// Creates an API token for `user_id`, lasting `days` (default
    /// [`DEFAULT_TOKEN_DAYS`], 1 to [`MAX_TOKEN_DAYS`]), audited as made by
    /// `actor`. The returned secret is not kept: show it once.
    #[tracing::instrument(skip_all, fields(user = %user_id))]
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        user_id: RecordId,
        name: &str,
        days: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<NewApiToken> {
        let name = token_name(name)?;
        let days = days.unwrap_or(DEFAULT_TOKEN_DAYS);
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(StoreError::Invalid(format!(
                "expires_days: \"{days}\" must be from 1 to {MAX_TOKEN_DAYS}"
            )));
        }
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        let user = sqlx::query("SELECT disabled FROM app_user WHERE id = $1")
            .bind(user_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound(user_id))?;
        if user.try_get::<i64, _>(0)? != 0 {
            return Err(StoreError::Invalid(
                "user: a disabled account cannot be given an API token".into(),
            ));
        }
        let secret = format!("{API_TOKEN_PREFIX}{}", random_token());
        let hash = sha256_hex(secret.as_bytes());
        let mut chain = ChainWriter::new(head, actor.name());
        let info = ApiToken {
            id: RecordId::new_random(),
            user_id,
            name,
            created_at: timestamp(now),
            created_by: actor.name().to_owned(),
            expires_at: timestamp(now + Duration::days(days)),
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
        };
        sqlx::query(&format!(
            "INSERT INTO api_token ({TOKEN_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL)"
        ))
        .bind(info.id.to_string())
        .bind(info.user_id.to_string())
        .bind(&info.name)
        .bind(&hash)
        .bind(&info.created_at)
        .bind(&info.created_by)
        .bind(&info.expires_at)
        .execute(&mut *tx)
        .await?;
        chain.append_entry(
            AuditAction::Create,
            Audited {
                record_id: info.id.to_string(),
                record_kind: API_TOKEN_KIND.into(),
                patient_id: None,
                row_hash: sha256_hex(info.audited_state(&hash).as_bytes()),
            },
            None,
            Some(format!(
                "API token \"{}\" for user {user_id}, expires {}",
                info.name, info.expires_at
            )),
            None,
        );
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(NewApiToken {
            token: secret,
            info,
        })
    }

    /// A user's API tokens, newest first (live, expired and revoked).
    pub async fn api_tokens(&self, user_id: RecordId) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token WHERE user_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| token_from_row(r).map(|t| t.0))
            .collect()
    }

    /// One API token by id.
    pub async fn api_token(&self, id: RecordId) -> Result<ApiToken> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(id))?;
        Ok(token_from_row(&row)?.0)
    }

    /// Revokes a token, audited as made by `actor`. With `owner`, only a
    /// token of that user (anyone else's is "not found"). Revoking a
    /// revoked token changes nothing.
    #[tracing::instrument(skip_all, fields(token = %id))]
    pub async fn revoke_api_token(
        &self,
        actor: &Actor,
        id: RecordId,
        owner: Option<RecordId>,
        now: DateTime<Utc>,
    ) -> Result<ApiToken> {
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(id))?;
        let (before, hash) = token_from_row(&row)?;
        if owner.is_some_and(|o| o != before.user_id) {
            return Err(StoreError::NotFound(id));
        }
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        let mut chain = ChainWriter::new(head, actor.name());
        let after = ApiToken {
            revoked_at: Some(timestamp(now)),
            revoked_by: Some(actor.name().to_owned()),
            ..before.clone()
        };
        sqlx::query("UPDATE api_token SET revoked_at = $1, revoked_by = $2 WHERE id = $3")
            .bind(&after.revoked_at)
            .bind(&after.revoked_by)
            .bind(after.id.to_string())
            .execute(&mut *tx)
            .await?;
        chain.append_entry(
            AuditAction::Update,
            Audited {
                record_id: after.id.to_string(),
                record_kind: API_TOKEN_KIND.into(),
                patient_id: None,
                row_hash: sha256_hex(after.audited_state(&hash).as_bytes()),
            },
            Some(before.audited_state(&hash)),
            Some(format!("API token \"{}\" revoked", after.name)),
            None,
        );
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// The user a bearer token acts as: `None` for an unknown, expired or
    /// revoked token, or a disabled user. Notes the use, at most once a
    /// minute.
    pub async fn authenticate_api_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenUse>> {
        if !token.starts_with(API_TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let hash = sha256_hex(token.as_bytes());
        let Some(row) = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token WHERE token_hash = $1"
        ))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let (info, _) = token_from_row(&row)?;
        if !info.is_live(now) {
            return Ok(None);
        }
        let mut conn = self.pool.acquire().await?;
        let Some(row) = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM app_user WHERE id = $1"
        ))
        .bind(info.user_id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let user = self.user_from_row(&mut conn, &row).await?;
        if user.disabled {
            return Ok(None);
        }
        let stale = match &info.last_used_at {
            Some(t) => !parse_timestamp(t).is_ok_and(|t| now - t <= Duration::minutes(1)),
            None => true,
        };
        if stale {
            sqlx::query("UPDATE api_token SET last_used_at = $1 WHERE id = $2")
                .bind(timestamp(now))
                .bind(info.id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Ok(Some(TokenUse {
            user,
            token_id: info.id,
            expires_at: parse_timestamp(&info.expires_at)?,
        }))
    }

    /// The audited state of every API token, with its id (for verification).
    pub(crate) async fn api_token_states(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_token"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let (t, hash) = token_from_row(r)?;
                Ok((t.id.to_string(), t.audited_state(&hash)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_are_required_and_on_one_line() {
        assert_eq!(token_name("  export script ").unwrap(), "export script");
        assert!(token_name("   ").is_err());
        assert!(token_name("two\nlines").is_err());
        assert!(token_name(&"x".repeat(101)).is_err());
    }
}
