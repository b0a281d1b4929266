//! `pdva user`: creating, listing and resetting user accounts from a
//! script, and the demonstration users of `pdva demo`. There is no default
//! account: the first administrator is created with `pdva user add` too.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Subcommand};
use pdva_domain::values::SiteCode;
use pdva_store::{Actor, NewUser, Password, Role, SiteAccess, Store, User, Username};

use crate::DbArg;

/// `pdva user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read as one line from standard input,
    /// never from the command line (where other users could see it).
    #[command(group(ArgGroup::new("sites").required(true).args(["site", "all_sites"])))]
    Add {
        #[command(flatten)]
        db: DbArg,
        /// Sign-in name (3–64 characters of a–z, 0–9, '.', '_', '-').
        #[arg(long)]
        username: String,
        /// Name as shown [default: the username].
        #[arg(long)]
        display_name: Option<String>,
        /// Role: clinician, governance_lead, researcher or admin.
        #[arg(long)]
        role: String,
        /// A site the user belongs to (repeat for several).
        #[arg(long, value_name = "CODE")]
        site: Vec<String>,
        /// The user belongs to every site.
        #[arg(long)]
        all_sites: bool,
        /// Read the password (at least 12 characters) from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The clinician record of the person (record id or professional
        /// registration number): a clinician may then generate their own
        /// appraisal report, and only theirs.
        #[arg(long, value_name = "ID")]
        clinician: Option<String>,
    },
    /// Link a user to the clinician record of the person who holds the
    /// account (or unlink with --none); audited with the reason.
    #[command(group(ArgGroup::new("link").required(true).args(["clinician", "none"])))]
    LinkClinician {
        #[command(flatten)]
        db: DbArg,
        /// The user's sign-in name.
        #[arg(long)]
        username: String,
        /// The clinician: record id or professional registration number.
        #[arg(long, value_name = "ID")]
        clinician: Option<String>,
        /// Remove the link.
        #[arg(long)]
        none: bool,
        /// Why (kept in the audit trail).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Reset a user's password to a temporary one, printed once: they must
    /// choose their own at their next sign-in, and their sessions end. For
    /// an administrator who can no longer sign in to do it on the web.
    ResetPassword {
        #[command(flatten)]
        db: DbArg,
        /// The user's sign-in name.
        #[arg(long)]
        username: String,
        /// Why (kept in the audit trail).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// List the users, their roles and sites.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

/// Who the audit trail names for changes made from this command line.
pub fn cli_actor() -> Actor {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Actor::new(format!("cli:{who}"))
}

/// Parses the options of `pdva user add` into a new user; every error names
/// the option at fault.
pub fn new_user(
    username: &str,
    display_name: Option<&str>,
    role: &str,
    sites: &[String],
    all_sites: bool,
    password: &str,
) -> Result<NewUser> {
    let username = Username::parse(username).map_err(|e| anyhow::anyhow!("--username: {e}"))?;
    let role = Role::parse(role).map_err(|e| anyhow::anyhow!("--role: {e}"))?;
    let sites = if all_sites {
        SiteAccess::All
    } else {
        SiteAccess::Sites(
            sites
                .iter()
                .map(|s| SiteCode::parse(s).map_err(|e| anyhow::anyhow!("--site: {e}")))
                .collect::<Result<_>>()?,
        )
    };
    let password =
        Password::parse(password).map_err(|e| anyhow::anyhow!("--password-stdin: {e}"))?;
    Ok(NewUser {
        display_name: display_name
            .map(str::to_owned)
            .unwrap_or_else(|| username.to_string()),
        username,
        role,
        sites,
        password,
        clinician: None,
    })
}

/// Reads one line (the password) from `input`, without its line ending.
pub fn read_password(mut input: impl BufRead) -> Result<String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("could not read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("password (standard input): give the password as one line on standard input");
    }
    Ok(password)
}

/// Describes a user's sites.
pub fn sites_text(user: &User) -> String {
    match &user.sites {
        SiteAccess::All => "all sites".into(),
        SiteAccess::Sites(s) => s
            .iter()
            .map(SiteCode::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A demonstration login.
pub struct DemoLogin {
    /// The user.
    pub user: User,
    /// Their password (random for each demonstration).
    pub password: String,
}

/// Creates one demonstration user per role: a clinician and a governance
/// lead of the first site, a researcher granted the first two sites, and an
/// administrator; each with a fresh random password.
pub async fn create_demo_users(store: &Store) -> Result<Vec<DemoLogin>> {
    let sites: Vec<SiteCode> = store
        .sites()
        .await?
        .into_iter()
        .map(|(_, s)| s.site_code)
        .collect();
    let Some(first) = sites.first().cloned() else {
        bail!("the demonstration registry has no sites");
    };
    let granted: Vec<SiteCode> = sites.iter().take(2).cloned().collect();
    let actor = Actor::new("system:pdva-demo");
    // The demonstration clinician holds the first clinician record of the
    // first site, so that their appraisal report has cases.
    let demo_clinician = store
        .clinicians()
        .await?
        .into_iter()
        .find(|(_, c)| c.sites.contains(&first))
        .map(|(id, _)| id);
    let mut logins = Vec::new();
    for (username, display_name, role, access) in [
        (
            "demo.clinician",
            "Demo Clinician",
            Role::Clinician,
            SiteAccess::Sites(vec![first.clone()]),
        ),
        (
            "demo.governance",
            "Demo Governance Lead",
            Role::GovernanceLead,
            SiteAccess::Sites(vec![first.clone()]),
        ),
        (
            "demo.researcher",
            "Demo Researcher",
            Role::Researcher,
            SiteAccess::Sites(granted.clone()),
        ),
        (
            "demo.admin",
            "Demo Administrator",
            Role::Admin,
            SiteAccess::All,
        ),
    ] {
        let password = pdva_store::random_token()[..20].to_owned();
        let user = store
            .create_user(
                &actor,
                NewUser {
                    username: Username::parse(username)?,
                    display_name: display_name.into(),
                    role,
                    sites: access,
                    password: Password::parse(&password)?,
                    clinician: if role == Role::Clinician {
                        demo_clinician
                    } else {
                        None
                    },
                },
            )
            .await?;
        logins.push(DemoLogin { user, password });
    }
    Ok(logins)
}

/// Prints the demonstration logins.
pub fn print_demo_logins(logins: &[DemoLogin]) {
    println!("Demonstration logins (synthetic data only; new passwords on every run):");
    for l in logins {
        println!(
            "  {:<18} password {:<22} {} — {}",
            l.user.username.as_str(),
            l.password,
            l.user.role.label(),
            sites_text(&l.user)
        );
    }
}

/// The user called `username` (as typed: case and spaces around it do not
/// matter).
async fn find_user(store: &Store, username: &str) -> Result<User> {
    store
        .users()
        .await?
        .into_iter()
        .find(|u| u.username.as_str() == username.trim().to_lowercase())
        .with_context(|| format!("--username: no user is called {username:?}"))
}

/// Runs `pdva user …`.
pub async fn run(config: &crate::config::Config, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add {
            db,
            username,
            display_name,
            role,
            site,
            all_sites,
            password_stdin: _,
            clinician,
        } => {
            let password = read_password(std::io::stdin().lock())?;
            let mut new = new_user(
                &username,
                display_name.as_deref(),
                &role,
                &site,
                all_sites,
                &password,
            )?;
            let store = crate::open(&config.db(db.db)).await?;
            if let Some(c) = clinician {
                new.clinician = Some(
                    pdva_reports::appraisal::find_clinician(&store, &c)
                        .await
                        .context("--clinician")?
                        .id,
                );
            }
            let user = store
                .create_user(&cli_actor(), new)
                .await
                .context("the user was not created")?;
            println!(
                "Created user {} ({}, {}); data version {}",
                user.username,
                user.role.label(),
                sites_text(&user),
                store.data_version().await?
            );
        }
        UserCommand::LinkClinician {
            db,
            username,
            clinician,
            none: _,
            reason,
        } => {
            let store = crate::open(&config.db(db.db)).await?;
            let user = find_user(&store, &username).await?;
            let clinician = match clinician {
                Some(c) => Some(
                    pdva_reports::appraisal::find_clinician(&store, &c)
                        .await
                        .context("--clinician")?,
                ),
                None => None,
            };
            let user = store
                .link_user_clinician(
                    &cli_actor(),
                    user.id,
                    clinician.as_ref().map(|c| c.id),
                    &reason,
                )
                .await
                .context("the link was not changed")?;
            match clinician {
                Some(c) => println!(
                    "{} is linked to clinician {} ({})",
                    user.username, c.clinician.display_name, c.id
                ),
                None => println!("{} is linked to no clinician", user.username),
            }
        }
        UserCommand::ResetPassword {
            db,
            username,
            reason,
        } => {
            let store = crate::open(&config.db(db.db)).await?;
            let user = find_user(&store, &username).await?;
            let temporary = store
                .reset_password(&cli_actor(), user.id, &reason)
                .await
                .context("the password was not reset")?;
            println!(
                "Temporary password for {} (shown once; they choose their own at sign-in): {}",
                user.username,
                temporary.reveal()
            );
        }
        UserCommand::List { db } => {
            let store = crate::open(&config.db(db.db)).await?;
            for u in store.users().await? {
                println!(
                    "{:<24} {:<22} {:<30} {}{}",
                    u.username,
                    u.role.label(),
                    u.display_name,
                    sites_text(&u),
                    if u.disabled { "  (disabled)" } else { "" }
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_option_error_names_its_option() {
        let pw = "a long enough password";
        let e = new_user("x", None, "clinician", &["AB".into()], false, pw).unwrap_err();
        assert!(e.to_string().starts_with("--username:"), "{e}");
        let e = new_user("a.user", None, "surgeon", &["AB".into()], false, pw).unwrap_err();
        assert!(e.to_string().starts_with("--role:"), "{e}");
        let e = new_user("a.user", None, "admin", &["A B".into()], false, pw).unwrap_err();
        assert!(e.to_string().starts_with("--site:"), "{e}");
        let e = new_user("a.user", None, "admin", &[], true, "short").unwrap_err();
        assert!(e.to_string().contains("at least 12"), "{e}");
        assert!(!e.to_string().contains("short\""), "{e}");
        let ok = new_user("A.User", None, "admin", &[], true, pw).unwrap();
        assert_eq!(ok.display_name, "a.user");
        assert_eq!(ok.sites, SiteAccess::All);
    }

    #[test]
    fn the_password_is_one_line_of_standard_input() {
        assert_eq!(
            read_password(&b"secret words here\r\nmore"[..]).unwrap(),
            "secret words here"
        );
        assert!(read_password(&b"\n"[..]).is_err());
    }
}
