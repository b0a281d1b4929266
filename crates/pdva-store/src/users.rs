//! Users, their roles and sites, and their sign-in sessions (DOMAIN.md
//! section 3).
//!
//! A user account is audited in the same hash chain as the records: its
//! creation and every change of role, sites or status append an audit entry
//! (record kind `user`) attributed to whoever made it, whose `row_hash`
//! binds the account's audited state. `pdva audit verify` re-derives that
//! state from `app_user` and `app_user_site`, so a role or site granted by
//! raw SQL is found. The password hash, failed attempts and lock-out are
//! operational state, not audited.
//!
//! Passwords are hashed with Argon2id. A session is a random 256-bit token
//! held by the browser; the database keeps only its SHA-256, so a copy of
//! the sessions table signs nobody in.
//!
//! A user changes their own password by giving the current one; an
//! administrator resets one to a generated temporary password that the user
//! must replace at their next sign-in (`must_change_password`, part of the
//! audited state). Either is an audit entry, and ends the user's other
//! sessions. No change may leave the registry without an active
//! administrator ([`StoreError::LastAdministrator`]).

use std::sync::OnceLock;

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use pdva_domain::values::SiteCode;
use pdva_domain::{FieldError, RecordId};
use serde::Serialize;
use sqlx::Row;

use crate::Store;
use crate::chain::{Audited, ChainWriter, lock_head};
use crate::error::{Result, StoreError};
use crate::model::{Actor, AuditAction};
use crate::rows::sha256_hex;

/// The audit trail's record kind for user accounts.
pub const USER_KIND: &str = "user";

/// Idle time after which a session ends (registry choice).
pub const SESSION_IDLE: Duration = Duration::minutes(30);
/// Time after sign-in at which a session ends however busy (registry choice).
pub const SESSION_ABSOLUTE: Duration = Duration::hours(12);
/// Consecutive failed sign-ins before the account is locked for a while.
pub const FAILURES_BEFORE_LOCK: i64 = 5;
/// The first lock-out; it doubles with each further failure (registry choice).
pub const FIRST_LOCK: Duration = Duration::minutes(1);
/// The longest lock-out.
pub const LONGEST_LOCK: Duration = Duration::hours(1);
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What a user may do (DOMAIN.md section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Vascular surgeon or interventional radiologist: identifiable data of
    /// their sites; registers patients and records their care.
    Clinician,
    /// Clinical governance lead: identifiable data and all clinicians'
    /// results of their sites; governance records.
    GovernanceLead,
    /// Researcher or auditor: de-identified data of the sites granted.
    Researcher,
    /// Administrator: users, roles, sites, clinicians, settings; sees everything.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: &'static [Role] = &[
        Role::Clinician,
        Role::GovernanceLead,
        Role::Researcher,
        Role::Admin,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::GovernanceLead => "governance_lead",
            Role::Researcher => "researcher",
            Role::Admin => "admin",
        }
    }

    /// The label shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Clinician => "Clinician",
            Role::GovernanceLead => "Governance lead",
            Role::Researcher => "Researcher / auditor",
            Role::Admin => "Administrator",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> std::result::Result<Self, FieldError> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == value.trim())
            .ok_or_else(|| {
                FieldError::new(
                    "role",
                    value,
                    "must be one of: clinician, governance_lead, researcher, admin",
                )
            })
    }

    /// Whether the role sees identifiable data (names, NHS and hospital
    /// numbers, dates of birth, free text).
    pub fn sees_identifiers(self) -> bool {
        !matches!(self, Role::Researcher)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sites a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteAccess {
    /// Every site of the registry.
    All,
    /// These sites only (sorted, no repeats).
    Sites(Vec<SiteCode>),
}

impl SiteAccess {
    /// Whether `site` is among them.
    pub fn includes(&self, site: &SiteCode) -> bool {
        match self {
            SiteAccess::All => true,
            SiteAccess::Sites(sites) => sites.contains(site),
        }
    }

    fn normalised(self) -> Self {
        match self {
            SiteAccess::All => SiteAccess::All,
            SiteAccess::Sites(mut sites) => {
                sites.sort();
                sites.dedup();
                SiteAccess::Sites(sites)
            }
        }
    }
}

/// A sign-in name: 3–64 characters of a–z, 0–9, `.`, `_` and `-`
/// (upper case is folded to lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Parses a username as typed.
    pub fn parse(value: &str) -> std::result::Result<Self, FieldError> {
        let name = value.trim().to_ascii_lowercase();
        let ok = (3..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !ok {
            return Err(FieldError::new(
                "username",
                value,
                "must be 3 to 64 characters of a–z, 0–9, '.', '_' and '-'",
            ));
        }
        Ok(Self(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: at least [`MIN_PASSWORD_CHARS`] characters. Never shown:
/// its `Debug` is redacted and errors do not repeat it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks a new password.
    pub fn parse(value: &str) -> std::result::Result<Self, FieldError> {
        let chars = value.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(FieldError::new(
                "password",
                format!("({chars} characters)"),
                format!("is too short: use at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if chars > 1024 {
            return Err(FieldError::new(
                "password",
                format!("({chars} characters)"),
                "is too long: use at most 1024 characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A temporary password made by an administrator's reset, to be shown to
/// the administrator once and passed to the user by a separate, safe route;
/// only its hash is kept. Its `Debug` is redacted.
#[derive(Clone)]
pub struct TemporaryPassword(String);

impl TemporaryPassword {
    /// Letters and digits that cannot be mistaken for one another when read
    /// aloud or copied by hand (no i, l, o, 0 or 1).
    const ALPHABET: &'static [u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

    /// Sixteen characters in four groups of four (about 79 bits).
    fn generate() -> Self {
        // The largest multiple of the alphabet's size below 256: bytes at or
        // above it are drawn again, so every character is equally likely.
        let limit = 256 - 256 % Self::ALPHABET.len();
        let mut password = String::with_capacity(19);
        let mut drawn = 0;
        while drawn < 16 {
            let mut byte = [0u8; 1];
            getrandom::fill(&mut byte).expect("the operating system's random source");
            let b = usize::from(byte[0]);
            if b >= limit {
                continue;
            }
            if drawn > 0 && drawn % 4 == 0 {
                password.push('-');
            }
            password.push(char::from(Self::ALPHABET[b % Self::ALPHABET.len()]));
            drawn += 1;
        }
        Self(password)
    }

    /// The password itself, to show the administrator once.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for TemporaryPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TemporaryPassword(***)")
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id (also its id in the audit trail).
    pub id: RecordId,
    /// Sign-in name; also the name the audit trail records for their changes.
    pub username: Username,
    /// Name as shown.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Sites.
    pub sites: SiteAccess,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// The clinician record of the person who holds the account, if linked:
    /// a clinician may generate their own appraisal report only.
    pub clinician: Option<RecordId>,
    /// Set when an administrator reset the password: the user must choose a
    /// new one before doing anything else.
    pub must_change_password: bool,
}

impl User {
    /// Whether the user may see the data of `site`: administrators see
    /// everything (DOMAIN.md section 3); others see their own sites.
    pub fn has_site(&self, site: &SiteCode) -> bool {
        self.role == Role::Admin || self.sites.includes(site)
    }

    /// Whether the account is an administrator's that can sign in.
    pub fn is_active_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled
    }

    /// The actor the audit trail records for this user's changes.
    pub fn actor(&self) -> Actor {
        Actor::new(self.username.as_str())
    }

    /// The account's audited state (what its audit entries bind).
    fn audited_state(&self) -> String {
        #[derive(Serialize)]
        struct State<'a> {
            id: String,
            username: &'a str,
            display_name: &'a str,
            role: &'a str,
            all_sites: bool,
            sites: Vec<&'a str>,
            disabled: bool,
            // Absent when unlinked, so that accounts audited before links
            // existed keep their state (and `audit verify` its hashes).
            #[serde(skip_serializing_if = "Option::is_none")]
            clinician: Option<String>,
            // Absent when clear, for the same reason.
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            must_change_password: bool,
        }
        let (all_sites, sites) = match &self.sites {
            SiteAccess::All => (true, Vec::new()),
            SiteAccess::Sites(s) => (false, s.iter().map(SiteCode::as_str).collect()),
        };
        serde_json::to_string(&State {
            id: self.id.to_string(),
            username: self.username.as_str(),
            display_name: &self.display_name,
            role: self.role.as_str(),
            all_sites,
            sites,
            disabled: self.disabled,
            clinician: self.clinician.map(|c| c.to_string()),
            must_change_password: self.must_change_password,
        })
        .expect("user state serialises")
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in name.
    pub username: Username,
    /// Name as shown.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Sites.
    pub sites: SiteAccess,
    /// First password.
    pub password: Password,
    /// The clinician record of the person, if any.
    pub clinician: Option<RecordId>,
}

/// The outcome of a sign-in attempt. A refusal does not say why, so that it
/// reveals neither whether the username exists nor whether it is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Right username and password, account enabled and not locked.
    Accepted(User),
    /// Anything else.
    Refused,
}

/// A new session: the token goes into the browser's cookie and nowhere else.
#[derive(Clone)]
pub struct NewSession {
    /// The secret token (256 random bits, hex).
    pub token: String,
    /// The session's CSRF token, for the hidden field of every form.
    pub csrf_token: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSession(***)")
    }
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who is signed in.
    pub user: User,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// When it ends unless used again.
    pub expires_at: DateTime<Utc>,
}

/// 256 random bits from the operating system, as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn parse_timestamp(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt {
            id: String::new(),
            kind: "timestamp".into(),
            detail: format!("{s} is not a timestamp"),
        })
}

fn hash_password(password: &Password) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
    Argon2::default()
        .hash_password(password.0.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("password: could not be hashed ({e})")))
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to verify against when the username is unknown, so that an
/// unknown name takes as long to refuse as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| hash_password(&Password(random_token())).expect("a random password hashes"))
}

pub(crate) const USER_COLUMNS: &str =
    "id, username, display_name, role, all_sites, disabled, clinician_id, must_change_password";

impl Store {
    pub(crate) async fn user_from_row(
        &self,
        conn: &mut sqlx::AnyConnection,
        row: &sqlx::any::AnyRow,
    ) -> Result<User> {
        let id: String = row.try_get(0)?;
        let corrupt = |detail: String| StoreError::Corrupt {
            id: id.clone(),
            kind: USER_KIND.into(),
            detail,
        };
        let username: String = row.try_get(1)?;
        let role: String = row.try_get(3)?;
        let all_sites: i64 = row.try_get(4)?;
        let disabled: i64 = row.try_get(5)?;
        let clinician: Option<String> = row.try_get(6)?;
        let must_change_password: i64 = row.try_get(7)?;
        let clinician = clinician
            .map(|c| {
                c.parse::<RecordId>()
                    .map_err(|_| corrupt("clinician_id is not a record id".into()))
            })
            .transpose()?;
        let sites = if all_sites != 0 {
            SiteAccess::All
        } else {
            let rows = sqlx::query(
                "SELECT site_code FROM app_user_site WHERE user_id = $1 ORDER BY site_code",
            )
            .bind(&id)
            .fetch_all(&mut *conn)
            .await?;
            let mut sites = Vec::with_capacity(rows.len());
            for r in rows {
                let code: String = r.try_get(0)?;
                sites.push(SiteCode::parse(&code).map_err(|e| corrupt(e.to_string()))?);
            }
            SiteAccess::Sites(sites)
        };
        Ok(User {
            id: id
                .parse()
                .map_err(|_| corrupt("id is not a record id".into()))?,
            username: Username::parse(&username).map_err(|e| corrupt(e.to_string()))?,
            display_name: row.try_get(2)?,
            role: Role::parse(&role).map_err(|e| corrupt(e.to_string()))?,
            sites,
            disabled: disabled != 0,
            clinician,
            must_change_password: must_change_password != 0,
        })
    }

    async fn check_clinician_exists(&self, clinician: Option<RecordId>) -> Result<()> {
        if let Some(id) = clinician
            && !self.reference_data().await?.clinicians.contains_key(&id)
        {
            return Err(StoreError::Invalid(format!(
                "clinician: \"{id}\" is not a clinician of this registry"
            )));
        }
        Ok(())
    }

    async fn check_sites_exist(&self, sites: &SiteAccess) -> Result<()> {
        if let SiteAccess::Sites(sites) = sites {
            if sites.is_empty() {
                return Err(StoreError::Invalid(
                    "sites: a user belongs to one site or more, or to all sites".into(),
                ));
            }
            let known = self.reference_data().await?.sites;
            if let Some(missing) = sites.iter().find(|s| !known.contains_key(*s)) {
                return Err(StoreError::Invalid(format!(
                    "site: \"{missing}\" is not a site of this registry"
                )));
            }
        }
        Ok(())
    }

    async fn write_user_sites(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user: &User,
    ) -> Result<()> {
        sqlx::query("DELETE FROM app_user_site WHERE user_id = $1")
            .bind(user.id.to_string())
            .execute(&mut **tx)
            .await?;
        if let SiteAccess::Sites(sites) = &user.sites {
            for site in sites {
                sqlx::query("INSERT INTO app_user_site (user_id, site_code) VALUES ($1, $2)")
                    .bind(user.id.to_string())
                    .bind(site.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Creates a user, audited as made by `actor`. The username must be
    /// free and every site named must exist.
    #[tracing::instrument(skip_all, fields(username = %new.username))]
    pub async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User> {
        let display_name = new.display_name.trim().to_owned();
        if display_name.is_empty() {
            return Err(StoreError::Invalid("display_name: \"\" is required".into()));
        }
        let sites = new.sites.normalised();
        self.check_sites_exist(&sites).await?;
        self.check_clinician_exists(new.clinician).await?;
        let password = new.password;
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .expect("hashing thread")?;
        let user = User {
            id: RecordId::new_random(),
            username: new.username,
            display_name,
            role: new.role,
            sites,
            disabled: false,
            clinician: new.clinician,
            must_change_password: false,
        };
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        let taken = sqlx::query("SELECT id FROM app_user WHERE username = $1")
            .bind(user.username.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Invalid(format!(
                "username: \"{}\" is already taken",
                user.username
            )));
        }
        let mut chain = ChainWriter::new(head, actor.name());
        sqlx::query(
            "INSERT INTO app_user (id, username, display_name, role, all_sites, password_hash, \
             failed_attempts, locked_until, created_at, disabled, clinician_id) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, NULL, $7, 0, $8)",
        )
        .bind(user.id.to_string())
        .bind(user.username.as_str())
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(i64::from(user.sites == SiteAccess::All))
        .bind(password_hash)
        .bind(chain.at().to_owned())
        .bind(user.clinician.map(|c| c.to_string()))
        .execute(&mut *tx)
        .await?;
        Self::write_user_sites(&mut tx, &user).await?;
        chain.append_entry(
            AuditAction::Create,
            Audited {
                record_id: user.id.to_string(),
                record_kind: USER_KIND.into(),
                patient_id: None,
                row_hash: sha256_hex(user.audited_state().as_bytes()),
            },
            None,
            Some(format!("user created with role {}", user.role)),
            None,
        );
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes a user's role, sites or status, audited as made by `actor`
    /// with `reason`.
    #[tracing::instrument(skip_all, fields(user = %user_id))]
    pub async fn change_user_access(
        &self,
        actor: &Actor,
        user_id: RecordId,
        role: Role,
        sites: SiteAccess,
        disabled: bool,
        reason: &str,
    ) -> Result<User> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::ReasonRequired(
                "give a reason for changing the user's access",
            ));
        }
        let sites = sites.normalised();
        self.check_sites_exist(&sites).await?;
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM app_user WHERE id = $1"
        ))
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(user_id))?;
        let before = self.user_from_row(&mut tx, &row).await?;
        let after = User {
            role,
            sites,
            disabled,
            ..before.clone()
        };
        if after == before {
            return Ok(after);
        }
        // Counted under the chain's lock, so two administrators demoting
        // each other at once cannot both succeed.
        if before.is_active_admin() && !after.is_active_admin() {
            let others: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM app_user WHERE role = $1 AND disabled = 0 AND id <> $2",
            )
            .bind(Role::Admin.as_str())
            .bind(before.id.to_string())
            .fetch_one(&mut *tx)
            .await?;
            if others == 0 {
                return Err(StoreError::LastAdministrator);
            }
        }
        let mut chain = ChainWriter::new(head, actor.name());
        sqlx::query("UPDATE app_user SET role = $1, all_sites = $2, disabled = $3 WHERE id = $4")
            .bind(after.role.as_str())
            .bind(i64::from(after.sites == SiteAccess::All))
            .bind(i64::from(after.disabled))
            .bind(after.id.to_string())
            .execute(&mut *tx)
            .await?;
        Self::write_user_sites(&mut tx, &after).await?;
        if after.disabled {
            sqlx::query("DELETE FROM app_session WHERE user_id = $1")
                .bind(after.id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        chain.append_entry(
            AuditAction::Update,
            Audited {
                record_id: after.id.to_string(),
                record_kind: USER_KIND.into(),
                patient_id: None,
                row_hash: sha256_hex(after.audited_state().as_bytes()),
            },
            Some(before.audited_state()),
            Some(reason.to_owned()),
            None,
        );
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Links a user account to the clinician record of the person who
    /// holds it (or unlinks it with `None`), audited as made by `actor` with
    /// `reason`.
    #[tracing::instrument(skip_all, fields(user = %user_id))]
    pub async fn link_user_clinician(
        &self,
        actor: &Actor,
        user_id: RecordId,
        clinician: Option<RecordId>,
        reason: &str,
    ) -> Result<User> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::ReasonRequired(
                "give a reason for linking the user to a clinician",
            ));
        }
        self.check_clinician_exists(clinician).await?;
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM app_user WHERE id = $1"
        ))
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(user_id))?;
        let before = self.user_from_row(&mut tx, &row).await?;
        let after = User {
            clinician,
            ..before.clone()
        };
        if after == before {
            return Ok(after);
        }
        let mut chain = ChainWriter::new(head, actor.name());
        sqlx::query("UPDATE app_user SET clinician_id = $1 WHERE id = $2")
            .bind(after.clinician.map(|c| c.to_string()))
            .bind(after.id.to_string())
            .execute(&mut *tx)
            .await?;
        chain.append_entry(
            AuditAction::Update,
            Audited {
                record_id: after.id.to_string(),
                record_kind: USER_KIND.into(),
                patient_id: None,
                row_hash: sha256_hex(after.audited_state().as_bytes()),
            },
            Some(before.audited_state()),
            Some(reason.to_owned()),
            None,
        );
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Changes a user's own password, given their current one. A wrong
    /// current password is refused with [`StoreError::WrongPassword`] and
    /// counts toward the sign-in lock-out (the lock ends the user's
    /// sessions; while locked, the right one is refused too), and a new one
    /// equal to it with [`StoreError::Invalid`]; neither changes the
    /// password. Clears `must_change_password` and any lock-out, and ends
    /// the user's other sessions (`keep_session`: the browser token of the
    /// one they are using). Audited as made by the user.
    #[tracing::instrument(skip_all, fields(user = %user_id))]
    pub async fn change_own_password(
        &self,
        user_id: RecordId,
        current: &str,
        new: Password,
        keep_session: Option<&str>,
    ) -> Result<User> {
        let now = Utc::now();
        let row = sqlx::query(
            "SELECT password_hash, failed_attempts, locked_until FROM app_user WHERE id = $1",
        )
        .bind(user_id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(user_id))?;
        let old_hash: String = row.try_get(0)?;
        let failed: i64 = row.try_get(1)?;
        let locked_until: Option<String> = row.try_get(2)?;
        // A session is not proof of knowing the password (a screen left
        // unlocked): guesses at the current one count toward the same
        // lock-out as sign-in's, and while locked even the right one is
        // refused, as at sign-in.
        let locked = match locked_until {
            Some(until) => parse_timestamp(&until)? > now,
            None => false,
        };
        let (hash, given) = (old_hash.clone(), current.to_owned());
        let right = tokio::task::spawn_blocking(move || {
            let hash = if locked { decoy_hash() } else { hash.as_str() };
            verify_password(hash, &given) && !locked
        })
        .await
        .expect("hashing thread");
        if !right {
            if !locked
                && self
                    .record_failed_password(&user_id.to_string(), failed, now)
                    .await?
            {
                // Guessing from a session until the account locks is what
                // someone at another's unlocked screen would do: the
                // sessions end with the lock, as a reset ends them.
                let mut tx = self.pool.begin().await?;
                Self::end_sessions_of(&mut tx, user_id, None).await?;
                tx.commit().await?;
                tracing::warn!("account locked by wrong current passwords; its sessions ended");
            }
            tracing::warn!(locked, "password change refused: wrong current password");
            return Err(StoreError::WrongPassword);
        }
        if new.0 == current {
            return Err(StoreError::Invalid(
                "new_password: is your current password; choose a different one".into(),
            ));
        }
        let new_hash = tokio::task::spawn_blocking(move || hash_password(&new))
            .await
            .expect("hashing thread")?;
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM app_user WHERE id = $1"
        ))
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(user_id))?;
        let before = self.user_from_row(&mut tx, &row).await?;
        let after = User {
            must_change_password: false,
            ..before.clone()
        };
        // Only over the hash the current password was checked against: if
        // the password changed meanwhile (a reset), the check no longer holds.
        let updated = sqlx::query(
            "UPDATE app_user SET password_hash = $1, must_change_password = 0, \
             failed_attempts = 0, locked_until = NULL WHERE id = $2 AND password_hash = $3",
        )
        .bind(new_hash)
        .bind(user_id.to_string())
        .bind(&old_hash)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::WrongPassword);
        }
        Self::end_sessions_of(&mut tx, user_id, keep_session).await?;
        let mut chain = ChainWriter::new(head, before.actor().name());
        chain.append_entry(
            AuditAction::Update,
            Audited {
                record_id: after.id.to_string(),
                record_kind: USER_KIND.into(),
                patient_id: None,
                row_hash: sha256_hex(after.audited_state().as_bytes()),
            },
            Some(before.audited_state()),
            Some(if before.must_change_password {
                "password changed by the user after an administrator's reset".to_owned()
            } else {
                "password changed by the user".to_owned()
            }),
            None,
        );
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Resets a user's password to a generated temporary one, returned to be
    /// shown once; the user must choose a new one at their next sign-in
    /// (`must_change_password`). Clears any lock-out and ends all the user's
    /// sessions. Audited as made by `actor` with `reason`.
    #[tracing::instrument(skip_all, fields(user = %user_id))]
    pub async fn reset_password(
        &self,
        actor: &Actor,
        user_id: RecordId,
        reason: &str,
    ) -> Result<TemporaryPassword> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::ReasonRequired(
                "give a reason for resetting the user's password",
            ));
        }
        let temporary = TemporaryPassword::generate();
        let password = Password(temporary.0.clone());
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .expect("hashing thread")?;
        let mut tx = self.pool.begin().await?;
        let head = lock_head(&mut tx).await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM app_user WHERE id = $1"
        ))
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(user_id))?;
        let before = self.user_from_row(&mut tx, &row).await?;
        let after = User {
            must_change_password: true,
            ..before.clone()
        };
        sqlx::query(
            "UPDATE app_user SET password_hash = $1, must_change_password = 1, \
             failed_attempts = 0, locked_until = NULL WHERE id = $2",
        )
        .bind(hash)
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
        Self::end_sessions_of(&mut tx, user_id, None).await?;
        let mut chain = ChainWriter::new(head, actor.name());
        chain.append_entry(
            AuditAction::Update,
            Audited {
                record_id: after.id.to_string(),
                record_kind: USER_KIND.into(),
                patient_id: None,
                row_hash: sha256_hex(after.audited_state().as_bytes()),
            },
            Some(before.audited_state()),
            Some(format!("password reset: {reason}")),
            None,
        );
        chain.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(temporary)
    }

    /// Ends every session of a user but the one whose browser token is
    /// `keep` (all of them when `None`).
    async fn end_sessions_of(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: RecordId,
        keep: Option<&str>,
    ) -> Result<()> {
        sqlx::query("DELETE FROM app_session WHERE user_id = $1 AND id <> $2")
            .bind(user_id.to_string())
            .bind(keep.map(|t| sha256_hex(t.as_bytes())).unwrap_or_default())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Every user, by username.
    pub async fn users(&self) -> Result<Vec<User>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM app_user ORDER BY username"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            users.push(self.user_from_row(&mut conn, row).await?);
        }
        Ok(users)
    }

    /// The audited state of every user account, with its id (for
    /// verification).
    pub(crate) async fn user_states(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .users()
            .await?
            .iter()
            .map(|u| (u.id.to_string(), u.audited_state()))
            .collect())
    }

    /// Checks a sign-in. After [`FAILURES_BEFORE_LOCK`] consecutive failures
    /// the account is locked for [`FIRST_LOCK`], doubling with each further
    /// failure up to [`LONGEST_LOCK`]; while locked, even the right password
    /// is refused. The answer never says which of these happened.
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<SignIn> {
        let Ok(username) = Username::parse(username) else {
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || verify_password(decoy_hash(), &password))
                .await
                .expect("hashing thread");
            return Ok(SignIn::Refused);
        };
        let row = sqlx::query(
            "SELECT id, password_hash, failed_attempts, locked_until, disabled FROM app_user \
             WHERE username = $1",
        )
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || verify_password(decoy_hash(), &password))
                .await
                .expect("hashing thread");
            return Ok(SignIn::Refused);
        };
        let id: String = row.try_get(0)?;
        let hash: String = row.try_get(1)?;
        let failed: i64 = row.try_get(2)?;
        let locked_until: Option<String> = row.try_get(3)?;
        let disabled: i64 = row.try_get(4)?;
        if let Some(until) = locked_until
            && parse_timestamp(&until)? > now
        {
            // As slow as a wrong password, so that the answer's timing does
            // not tell that the account exists and is locked.
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || verify_password(decoy_hash(), &password))
                .await
                .expect("hashing thread");
            return Ok(SignIn::Refused);
        }
        let password = password.to_owned();
        let right = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
            .await
            .expect("hashing thread");
        if !right {
            self.record_failed_password(&id, failed, now).await?;
            tracing::warn!(failed = failed + 1, "sign-in refused");
            return Ok(SignIn::Refused);
        }
        if disabled != 0 {
            return Ok(SignIn::Refused);
        }
        sqlx::query("UPDATE app_user SET failed_attempts = 0, locked_until = NULL WHERE id = $1")
            .bind(&id)
            .execute(&self.pool)
            .await?;
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM app_user WHERE id = $1"
        ))
        .bind(&id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(SignIn::Accepted(self.user_from_row(&mut conn, &row).await?))
    }

    /// Counts a wrong password (at sign-in or a password change) after
    /// `failed` earlier ones, locking the account from the
    /// [`FAILURES_BEFORE_LOCK`]th, for a time doubling with each further one.
    /// Whether the account is now locked.
    async fn record_failed_password(
        &self,
        id: &str,
        failed: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let failed = failed + 1;
        let locked_until = (failed >= FAILURES_BEFORE_LOCK).then(|| {
            let doublings = (failed - FAILURES_BEFORE_LOCK).min(10) as u32;
            let lock = (FIRST_LOCK * 2i32.pow(doublings)).min(LONGEST_LOCK);
            timestamp(now + lock)
        });
        sqlx::query("UPDATE app_user SET failed_attempts = $1, locked_until = $2 WHERE id = $3")
            .bind(failed)
            .bind(&locked_until)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(locked_until.is_some())
    }

    /// Starts a session for a user who has just signed in.
    pub async fn start_session(&self, user: &User, now: DateTime<Utc>) -> Result<NewSession> {
        let session = NewSession {
            token: random_token(),
            csrf_token: random_token(),
        };
        sqlx::query(
            "INSERT INTO app_session (id, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sha256_hex(session.token.as_bytes()))
        .bind(user.id.to_string())
        .bind(&session.csrf_token)
        .bind(timestamp(now))
        .bind(timestamp(now + SESSION_IDLE))
        .execute(&self.pool)
        .await?;
        Ok(session)
    }

    /// The live session a browser's token names, extending its idle expiry;
    /// `None` when there is none, it expired (idle or absolute) or the
    /// account was disabled.
    pub async fn session(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        let id = sha256_hex(token.as_bytes());
        let Some(row) = sqlx::query(
            "SELECT user_id, csrf_token, created_at, expires_at FROM app_session WHERE id = $1",
        )
        .bind(&id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let user_id: String = row.try_get(0)?;
        let csrf_token: String = row.try_get(1)?;
        let created_at = parse_timestamp(&row.try_get::<String, _>(2)?)?;
        let mut expires_at = parse_timestamp(&row.try_get::<String, _>(3)?)?;
        let absolute = created_at + SESSION_ABSOLUTE;
        if expires_at <= now || absolute <= now {
            self.end_session(token).await?;
            return Ok(None);
        }
        let mut conn = self.pool.acquire().await?;
        let Some(row) = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM app_user WHERE id = $1"
        ))
        .bind(&user_id)
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let user = self.user_from_row(&mut conn, &row).await?;
        if user.disabled {
            return Ok(None);
        }
        // Slide the idle expiry, writing at most once a minute.
        let slid = (now + SESSION_IDLE).min(absolute);
        if slid - expires_at > Duration::minutes(1) {
            sqlx::query("UPDATE app_session SET expires_at = $1 WHERE id = $2")
                .bind(timestamp(slid))
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            expires_at = slid;
        }
        Ok(Some(Session {
            user,
            csrf_token,
            expires_at,
        }))
    }

    /// Ends a session (sign-out).
    pub async fn end_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM app_session WHERE id = $1")
            .bind(sha256_hex(token.as_bytes()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_shorter_than_twelve_characters_are_refused_without_echo() {
        let err = Password::parse("short-pass").unwrap_err();
        assert_eq!(err.field, "password");
        assert!(!err.to_string().contains("short-pass"), "{err}");
        assert!(err.rule.contains("at least 12"));
        assert!(Password::parse("twelve chars").is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("a long secret!").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn usernames_and_roles_parse_and_name_the_field() {
        assert_eq!(
            Username::parse(" A.Surgeon ").unwrap().as_str(),
            "a.surgeon"
        );
        assert_eq!(Username::parse("a b").unwrap_err().field, "username");
        assert_eq!(
            Role::parse("governance_lead").unwrap(),
            Role::GovernanceLead
        );
        assert_eq!(Role::parse("boss").unwrap_err().field, "role");
    }

    #[test]
    fn temporary_passwords_are_long_unambiguous_and_differ() {
        let a = TemporaryPassword::generate();
        let b = TemporaryPassword::generate();
        assert_ne!(a.reveal(), b.reveal());
        assert_eq!(a.reveal().len(), 19, "{}", a.reveal());
        assert!(Password::parse(a.reveal()).is_ok());
        for (i, c) in a.reveal().chars().enumerate() {
            if i % 5 == 4 {
                assert_eq!(c, '-');
            } else {
                assert!(TemporaryPassword::ALPHABET.contains(&(c as u8)), "{c}");
            }
        }
        assert_eq!(format!("{a:?}"), "TemporaryPassword(***)");
    }

    #[test]
    fn argon2id_hashes_verify_and_differ_by_salt() {
        let p = Password::parse("correct horse battery").unwrap();
        let a = hash_password(&p).unwrap();
        let b = hash_password(&p).unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        assert!(verify_password(&a, "correct horse battery"));
        assert!(!verify_password(&a, "correct horse battery!"));
    }
}
