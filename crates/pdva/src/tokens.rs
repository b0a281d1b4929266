//! `pdva token`: a user's API tokens for the JSON API (`/api/v1/`), made,
//! listed and revoked from a script. A token is printed once, when it is
//! created; the registry keeps only its hash.

use anyhow::{Context, Result};
use clap::Subcommand;
use pdva_domain::RecordId;
use pdva_store::{DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, Store, User};

use crate::DbArg;
use crate::users::cli_actor;

/// `pdva token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (once: it cannot be
    /// shown again). The token acts as the user, with their role and sites.
    Create {
        #[command(flatten)]
        db: DbArg,
        /// The user's sign-in name.
        #[arg(long)]
        user: String,
        /// What the token is for (kept with it and in the audit trail).
        #[arg(long, value_name = "LABEL", default_value = "API token")]
        name: String,
        /// Days until it expires (1 to 365).
        #[arg(long, value_name = "N", default_value_t = DEFAULT_TOKEN_DAYS,
              value_parser = clap::value_parser!(i64).range(1..=MAX_TOKEN_DAYS))]
        expires_days: i64,
    },
    /// List a user's API tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        db: DbArg,
        /// The user's sign-in name.
        #[arg(long)]
        user: String,
    },
    /// Revoke an API token by its id (as `pdva token list` shows it).
    Revoke {
        #[command(flatten)]
        db: DbArg,
        /// The token's id.
        #[arg(long)]
        id: String,
    },
}

async fn user_named(store: &Store, name: &str) -> Result<User> {
    store
        .users()
        .await?
        .into_iter()
        .find(|u| u.username.as_str() == name.trim().to_lowercase())
        .with_context(|| format!("--user: no user is called {name:?}"))
}

/// Runs `pdva token …`.
pub async fn run(config: &crate::config::Config, command: TokenCommand) -> Result<()> {
    let now = chrono::Utc::now();
    match command {
        TokenCommand::Create {
            db,
            user,
            name,
            expires_days,
        } => {
            let store = crate::open(&config.db(db.db)).await?;
            let user = user_named(&store, &user).await?;
            let new = store
                .create_api_token(&cli_actor(), user.id, &name, Some(expires_days), now)
                .await
                .context("the token was not created")?;
            eprintln!(
                "Created API token {} \"{}\" for {} ({}), expires {}.\n\
                 Copy it now: it will not be shown again (the registry keeps only its hash).",
                new.info.id,
                new.info.name,
                user.username,
                user.role.label(),
                new.info.expires_at
            );
            // The token alone on standard output, for scripts.
            println!("{}", new.token);
        }
        TokenCommand::List { db, user } => {
            let store = crate::open(&config.db(db.db)).await?;
            let user = user_named(&store, &user).await?;
            for t in store.api_tokens(user.id).await? {
                let status = match (&t.revoked_at, t.is_live(now)) {
                    (Some(at), _) => {
                        format!("revoked {at} by {}", t.revoked_by.unwrap_or_default())
                    }
                    (None, true) => "active".into(),
                    (None, false) => "expired".into(),
                };
                println!(
                    "{}  {:<30} created {}  expires {}  last used {}  {status}",
                    t.id,
                    t.name,
                    t.created_at,
                    t.expires_at,
                    t.last_used_at.as_deref().unwrap_or("never"),
                );
            }
        }
        TokenCommand::Revoke { db, id } => {
            let id: RecordId = id.parse().map_err(|e| anyhow::anyhow!("--id: {e}"))?;
            let store = crate::open(&config.db(db.db)).await?;
            let t = store
                .revoke_api_token(&cli_actor(), id, None, now)
                .await
                .context("the token was not revoked")?;
            println!(
                "Revoked API token {} \"{}\" ({})",
                t.id,
                t.name,
                t.revoked_at.unwrap_or_default()
            );
        }
    }
    Ok(())
}
