//! `pdva`: the command line of the pDVA outcomes registry.
//!
//! The only crate that does process-level I/O: it reads configuration,
//! shows progress and wires the store, the generator and the web server.

mod bench_reports;
mod bench_web;
mod config;
mod documents;
mod exchange;
mod generate;
mod progress;
mod report;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use pdva_domain::RecordId;
use pdva_reports::gather::Period;
use pdva_store::{Store, redact};

use crate::config::Config;

/// mimalloc instead of the system allocator: reading a large registry
/// allocates tens of millions of small strings and records from several
/// threads at once, where glibc's malloc spends most of its time in lock
/// contention and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use crate::progress::CliProgress;

/// The outcomes registry and audit system for percutaneous deep venous
/// arterialisation (pDVA), as NICE IPG773 asks: governance, consent and audit
/// of everyone having the procedure, with lifelong follow-up.
///
/// Every command that touches data takes --db: a SQLite file path (the
/// default, `pdva.db`) or a postgres:// URL. Settings come from flags, then
/// environment variables (PDVA_DB, PDVA_ADDR), then a TOML file (--config,
/// PDVA_CONFIG, or ./pdva.toml if present), then defaults.
#[derive(Debug, Parser)]
#[command(name = "pdva", version, about, long_about)]
struct Cli {
    /// TOML configuration file (keys: db, addr).
    #[arg(long, global = true, env = "PDVA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(flatten)]
    key_file: KeyFileArg,

    #[command(subcommand)]
    command: Command,
}

/// `pdva user`: accounts and demonstration logins.
mod tokens;
mod users;

#[derive(Debug, Args, Clone)]
struct DbArg {
    /// Registry database: a SQLite file path or a postgres:// URL [default: pdva.db].
    #[arg(long, env = "PDVA_DB", value_name = "URL")]
    db: Option<String>,
}

/// The key file, global so that every command that opens a registry takes it.
#[derive(Debug, Args, Clone)]
struct KeyFileArg {
    /// The registry's key file: the master key that opens every patient's
    /// identifiers and the pseudonym secret [default: beside a SQLite file
    /// `X`, `X.key`; for a postgres:// URL, `pdva-<host>_<port>_<database>.key`
    /// in the working directory]. Created (mode 0600) with a new registry;
    /// any other registry is refused without its own key file.
    #[arg(long, global = true, env = "PDVA_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
struct AddrArg {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PDVA_ADDR", value_name = "HOST:PORT")]
    addr: Option<String>,
    /// Mark the session cookies Secure: set this whenever the registry is
    /// reached over https (directly or through a TLS proxy).
    #[arg(long, env = "PDVA_SECURE_COOKIES")]
    secure_cookies: bool,
    /// A TOML file with the licensed wording of the VascuQoL-6 and
    /// EQ-5D-5L items, for registries that hold the licences: the
    /// quality-of-life form then shows each question and its answers.
    #[arg(long, env = "PDVA_INSTRUMENT_WORDING", value_name = "FILE")]
    instrument_wording: Option<std::path::PathBuf>,
    /// Seconds a connection may take to send a request's line and headers,
    /// and may stay open idle between requests, before it is closed: slow
    /// or silent clients must not hold connections open.
    #[arg(
        long,
        env = "PDVA_HEADER_READ_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    header_read_timeout: u64,
    /// Seconds a request's body may go without sending a byte before the
    /// request is abandoned.
    #[arg(
        long,
        env = "PDVA_IDLE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 60
    )]
    idle_timeout: u64,
}

impl AddrArg {
    /// The web server's settings from these flags.
    fn settings(&self) -> Result<pdva_web::Settings> {
        let instrument_wording = match &self.instrument_wording {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("could not read {}", path.display()))?;
                let wording: pdva_web::InstrumentWording = toml::from_str(&text)
                    .with_context(|| format!("{} is not valid TOML wording", path.display()))?;
                let wording = wording.check().map_err(|problems| {
                    anyhow::anyhow!("{}:\n  {}", path.display(), problems.join("\n  "))
                })?;
                Some(std::sync::Arc::new(wording))
            }
        };
        Ok(pdva_web::Settings {
            secure_cookies: self.secure_cookies,
            instrument_wording,
            timeouts: pdva_web::Timeouts {
                header_read: std::time::Duration::from_secs(self.header_read_timeout.max(1)),
                idle: std::time::Duration::from_secs(self.idle_timeout.max(1)),
            },
        })
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the registry database (or bring its schema up to date).
    Init {
        #[command(flatten)]
        db: DbArg,
    },
    /// Serve the registry's web interface.
    Serve {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        addr: AddrArg,
    },
    /// Fill an empty registry with realistic synthetic patients (never real data).
    Generate {
        #[command(flatten)]
        db: DbArg,
        /// Number of patients.
        #[arg(long, default_value_t = 2000)]
        patients: usize,
        /// Seed: the same seed gives the same registry.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The date the registry is generated "as of" (YYYY-MM-DD) [default: today].
        #[arg(long, value_name = "DATE")]
        today: Option<chrono::NaiveDate>,
    },
    /// Generate a fresh demonstration registry and serve it.
    Demo {
        /// Demonstration database; it is replaced on every run.
        #[arg(long, default_value = "pdva-demo.db", value_name = "PATH")]
        db: String,
        /// Number of synthetic patients.
        #[arg(long, default_value_t = 2000)]
        patients: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        addr: AddrArg,
    },
    /// Create and list user accounts (there is no default account).
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Create, list and revoke a user's API tokens (for /api/v1/).
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// Check or read the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Reports computed from the registry.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Measure how long the registry's heavy work takes.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// The key file: rotate its master key.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Patients' identifiers: erase them, and review NHS-number conflicts.
    Patient {
        #[command(subcommand)]
        command: PatientCommand,
    },
    /// Export the registry, streamed in constant memory, in a form other tools
    /// read; every export is logged in the access log (who, kind, filters,
    /// de-identified or not, patients, rows, data version).
    Export {
        /// The format.
        #[arg(value_enum)]
        kind: exchange::ExportKind,
        #[command(flatten)]
        db: DbArg,
        /// Where to write it: a directory (csv, redcap, fhir) that must not exist yet
        /// or be empty, or a file (odm, xlsx, fhir --bundle) that must not exist yet.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Only the patients of this home site (reference data of every site is kept).
        #[arg(long, value_name = "CODE")]
        site: Option<String>,
        /// Only patients with an index procedure on or after this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: Option<chrono::NaiveDate>,
        /// Only patients with an index procedure on or before this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: Option<chrono::NaiveDate>,
        /// The de-identified form (DOMAIN.md section 11): only patients in the
        /// research population; no names, NHS or hospital numbers, dates of birth
        /// (age at the index procedure instead) or free text; every date of a
        /// patient shifted by one secret offset of up to ±364 days (intervals stay
        /// exact); ids replaced by keyed pseudonyms (the key file's pseudonym secret).
        #[arg(long)]
        deidentify: bool,
        /// Export with this registry user's rights: a researcher gets only the
        /// de-identified form, and a user with some sites only names one with --site.
        #[arg(long, value_name = "USERNAME")]
        as_user: Option<String>,
        /// fhir: write one FHIR transaction Bundle (a JSON file) of a small
        /// extract (at most 1,000 patients) instead of Bulk Data NDJSON.
        #[arg(long)]
        bundle: bool,
    },
    /// Import tidy CSV files (one per instrument, as `pdva template` and
    /// `pdva export csv` write them): all or nothing. Every problem is listed
    /// (file, line, column, value, rule) and nothing is written unless there
    /// are none; soft warnings are listed and accepted; records already in the
    /// registry unchanged are skipped, so importing the same files twice changes
    /// nothing. A registry that does not exist yet is created, with its key file.
    Import {
        #[command(flatten)]
        db: DbArg,
        /// A directory of instrument files, or one file.
        #[arg(value_name = "DIR_OR_FILE")]
        path: PathBuf,
        /// Read and check everything and write nothing: list the problems and
        /// what an import would add.
        #[arg(long)]
        check: bool,
    },
    /// Write blank import templates (the header of each instrument's CSV) and
    /// the data dictionary.
    Template {
        /// The directory to write them in (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-wrap every patient's data key under a new master key (the audit
    /// trail is not touched). The new key file is written beside as
    /// `<file>.pending`, flushed, then put in place once the database is
    /// re-wrapped; rotating in place keeps the old file as `<file>.old-<time>`
    /// (it still opens backups taken before the rotation).
    Rotate {
        #[command(flatten)]
        db: DbArg,
        /// Where to write the new key file [default: over --key-file].
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PatientCommand {
    /// Erase a patient's identifiers (names, NHS and hospital numbers, date
    /// of birth but its year): their data key is destroyed, so they cannot be
    /// read again anywhere; the clinical record stays for audit.
    Erase {
        #[command(flatten)]
        db: DbArg,
        /// The patient's registry id.
        #[arg(long, value_name = "REGISTRY_ID")]
        patient: String,
        /// Why (recorded in the audit trail).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Attempts to register an NHS number another patient holds.
    Conflicts {
        #[command(flatten)]
        db: DbArg,
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
    },
    /// Mark an NHS-number conflict resolved, saying how.
    ResolveConflict {
        #[command(flatten)]
        db: DbArg,
        /// The conflict's id (from `pdva patient conflicts`).
        #[arg(long, value_name = "ID")]
        id: String,
        /// How it was resolved.
        #[arg(long, value_name = "TEXT")]
        resolution: String,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// The outcomes report (DOMAIN.md section 7): survival, competing risks,
    /// proportions, rates, quality of life, comparisons, published
    /// benchmarks and monitoring, for the whole registry or a filtered part.
    Outcomes {
        #[command(flatten)]
        db: DbArg,
        /// Only patients registered at this site (site code).
        #[arg(long, value_name = "SITE")]
        site: Option<String>,
        /// Only index procedures by this primary operator (record id or display name).
        #[arg(long, value_name = "ID_OR_NAME")]
        operator: Option<String>,
        /// Only index procedures on or after this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: Option<chrono::NaiveDate>,
        /// Only index procedures on or before this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: Option<chrono::NaiveDate>,
        /// The report date: nothing dated after it counts [default: today].
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: report::Format,
        /// The research form (DOMAIN.md section 11), what researchers get
        /// from the web: only the research population (research consent
        /// yes, not withdrawn by the report date), dates snapped to whole
        /// quarters, counts 1–4 shown as "<5" with complementary
        /// suppression, and a cohort of fewer than 10 patients refused.
        #[arg(long)]
        research: bool,
    },
    /// The clinician appraisal report (IPG773 1.2): one clinician's
    /// outcomes as primary operator, in the period and cumulatively, beside
    /// the published benchmarks, with their position on the site's and the
    /// registry's funnel plots (no other clinician named).
    Appraisal {
        #[command(flatten)]
        db: DbArg,
        /// The clinician: their record id or professional registration number.
        #[arg(long, value_name = "ID")]
        clinician: String,
        #[command(flatten)]
        document: DocumentArgs,
    },
    /// The organisation governance review (IPG773 1.3) of a site: its
    /// outcomes, by operator, compliance with the special arrangements,
    /// funnel-plot alerts, trends by year, serious adverse events and deaths
    /// within 30 days.
    Governance {
        #[command(flatten)]
        db: DbArg,
        /// The site code.
        #[arg(long, value_name = "CODE")]
        site: String,
        #[command(flatten)]
        document: DocumentArgs,
    },
    /// The research report (IPG773 1.4): patient selection, technique,
    /// duration of anticoagulation and patient outcomes of the research
    /// population, de-identified and disclosure-controlled (DOMAIN.md
    /// section 11).
    Research {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        document: DocumentArgs,
    },
    /// The audit-tool summary (IPG773 3.2–3.3): one CSV row per index
    /// procedure with its efficacy and safety outcomes at 30 days, 6 months
    /// and 1 year, for sites that also keep NICE's audit tool.
    AuditSummary {
        #[command(flatten)]
        db: DbArg,
        /// Only patients registered at this site.
        #[arg(long, value_name = "CODE")]
        site: Option<String>,
        /// Only index procedures on or after this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: Option<chrono::NaiveDate>,
        /// Only index procedures on or before this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: Option<chrono::NaiveDate>,
        /// The report date: nothing dated after it counts [default: today].
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
        /// The CSV file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// The period, report date, format and output file of a report document.
#[derive(Debug, clap::Args)]
struct DocumentArgs {
    /// Only index procedures on or after this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    from: Option<chrono::NaiveDate>,
    /// Only index procedures on or before this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    to: Option<chrono::NaiveDate>,
    /// The report date: nothing dated after it counts [default: today].
    #[arg(long, value_name = "DATE")]
    as_of: Option<chrono::NaiveDate>,
    /// Output format.
    #[arg(long, value_enum, default_value = "pdf")]
    format: documents::DocumentFormat,
    /// The file to write [default: named after the report, its subject,
    /// period and data version, in the working folder].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Time generating and verifying a registry.
    Generate {
        /// Database to fill: a SQLite path (a temporary file if omitted) or a
        /// postgres:// URL (a fresh schema is made in it and dropped after).
        #[arg(long, env = "PDVA_DB", value_name = "URL")]
        db: Option<String>,
        /// Number of patients.
        #[arg(long, default_value_t = 100_000)]
        patients: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Time the heaviest web pages (each site's dashboard, the whole
    /// registry's, the largest site's worklist and compliance view, search,
    /// patients' pages) on a freshly generated registry.
    Web {
        /// Database to fill: a SQLite path (a temporary file if omitted) or a
        /// postgres:// URL (a fresh schema is made in it and dropped after).
        #[arg(long, env = "PDVA_DB", value_name = "URL")]
        db: Option<String>,
        /// Number of patients.
        #[arg(long, default_value_t = 100_000)]
        patients: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Requests of each dashboard measured.
        #[arg(long, default_value_t = 15)]
        rounds: usize,
        /// Patients' pages measured.
        #[arg(long, default_value_t = 100)]
        patient_pages: usize,
    },
    /// Time reading and computing the full outcomes report on an existing
    /// SQLite registry, beside benchmarks/outcomes_python.py (pandas,
    /// lifelines, scikit-survival) run on the same database.
    Outcomes {
        #[command(flatten)]
        db: DbArg,
        /// The report date [default: today].
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
        /// The Python script to compare with.
        #[arg(
            long,
            default_value = "benchmarks/outcomes_python.py",
            value_name = "PATH"
        )]
        script: String,
        /// Time the Rust report only: skip the read from the record bodies
        /// and the Python script (each takes minutes at a million patients).
        #[arg(long)]
        rust_only: bool,
    },
    /// Time the governance review, research report and appraisal report
    /// from the registry to the finished PDF on an existing registry (make
    /// one with `pdva generate`), with the process's peak memory; one
    /// report per run gives that report's own peak.
    Reports {
        #[command(flatten)]
        db: DbArg,
        /// Which report.
        #[arg(long, value_enum, default_value = "all")]
        report: bench_reports::BenchedReport,
        /// Rounds of each.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The report date [default: today].
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain and every data row against it; exits with
    /// status 1 and names the first broken link if anything was changed
    /// behind the application's back.
    Verify {
        #[command(flatten)]
        db: DbArg,
    },
    /// Rebuild every patient's outcome facts (the table reports read) from
    /// their records, after `audit verify` found it changed outside the
    /// application. The records and the audit trail are not touched.
    RebuildOutcomeFacts {
        #[command(flatten)]
        db: DbArg,
    },
    /// Show the newest audit entries, of one record or patient or of all.
    Log {
        #[command(flatten)]
        db: DbArg,
        /// Only this record (or patient, with all their records).
        #[arg(long, value_name = "ID")]
        record: Option<RecordId>,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show who saw which patient, report or export (the access log),
    /// newest first.
    Access {
        #[command(flatten)]
        db: DbArg,
        /// Only accesses to this patient: a registry id (P-…) or record id.
        #[arg(long, value_name = "ID")]
        patient: Option<String>,
        /// Only accesses by this user (or `cli:<login>`).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PDVA_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The key file named by `--key-file` or PDVA_KEY_FILE, set once at start.
static KEY_FILE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// The key file for `db`: the one given, else the default beside it.
fn key_file_for(db: &str) -> PathBuf {
    KEY_FILE
        .get()
        .cloned()
        .flatten()
        .unwrap_or_else(|| pdva_store::default_key_file(db))
}

async fn open(db: &str) -> Result<Store> {
    Store::open_with_key_file(db, &key_file_for(db))
        .await
        .with_context(|| format!("could not open the registry at {}", redact(db)))
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    let _ = KEY_FILE.set(cli.key_file.key_file.clone());
    match cli.command {
        Command::Init { db } => {
            let db = config.db(db.db);
            let store = open(&db).await?;
            println!(
                "Registry ready at {} ({:?}); data version {}",
                redact(&db),
                store.engine(),
                store.data_version().await?
            );
        }
        Command::Serve { db, addr } => {
            let store = open(&config.db(db.db)).await?;
            let settings = addr.settings()?;
            serve(store, &config.addr(addr.addr), settings).await?;
        }
        Command::Generate {
            db,
            patients,
            seed,
            today,
        } => {
            let store = open(&config.db(db.db)).await?;
            let today = today.unwrap_or_else(|| chrono::Local::now().date_naive());
            let summary =
                generate::generate(&store, patients, seed, today, &CliProgress::new()).await?;
            println!("{summary}");
        }
        Command::Demo {
            db,
            patients,
            seed,
            addr,
        } => {
            let settings = addr.settings()?;
            generate::remove_sqlite_files(&db)?;
            let store = open(&db).await?;
            let today = chrono::Local::now().date_naive();
            let summary =
                generate::generate(&store, patients, seed, today, &CliProgress::new()).await?;
            println!("{summary}");
            let (awaiting, with_quality_of_life) = generate::add_awaiting_patients(
                &store,
                patients,
                seed,
                today,
                generate::DEMO_AWAITING_PATIENTS,
            )
            .await?;
            println!(
                "Added {awaiting} patients awaiting their procedure, each with a baseline waiting for it ({with_quality_of_life} with a pre-operative quality of life too)"
            );
            let logins = users::create_demo_users(&store).await?;
            users::print_demo_logins(&logins);
            serve(store, &config.addr(addr.addr), settings).await?;
        }
        Command::User { command } => users::run(&config, command).await?,
        Command::Export {
            kind,
            db,
            out,
            site,
            from,
            to,
            deidentify,
            as_user,
            bundle,
        } => {
            let store = open(&config.db(db.db)).await?;
            let request = exchange::ExportRequest {
                kind,
                out,
                site,
                from,
                to,
                deidentify,
                as_user,
                bundle,
            };
            let result = exchange::export(&store, request).await;
            store.close().await;
            result?;
        }
        Command::Import { db, path, check } => {
            let store = open(&config.db(db.db)).await?;
            let result = exchange::import(&store, &path, check).await;
            store.close().await;
            result?;
        }
        Command::Template { out } => exchange::template(&out)?,
        Command::Token { command } => tokens::run(&config, command).await?,
        Command::Audit {
            command: AuditCommand::Verify { db },
        } => {
            let store = open(&config.db(db.db)).await?;
            let report = store.verify_audit(&CliProgress::new()).await?;
            if report.is_intact() {
                println!(
                    "Audit trail intact: {} entries, {} records; data version {}",
                    report.entries, report.records, report.data_version
                );
            } else {
                println!(
                    "AUDIT TRAIL BROKEN: {} problem(s) in {} entries and {} records (data version {})",
                    report.breaks.len(),
                    report.entries,
                    report.records,
                    report.data_version
                );
                for b in &report.breaks {
                    let at = b
                        .seq
                        .map(|s| format!("entry {s}"))
                        .unwrap_or_else(|| "chain".into());
                    println!("  {at}, record {}: {}", b.record_id, b.problem);
                }
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Audit {
            command: AuditCommand::RebuildOutcomeFacts { db },
        } => {
            let store = open(&config.db(db.db)).await?;
            let patients = store.rebuild_outcome_facts().await?;
            println!("Rebuilt the outcome facts of {patients} patients from their records.");
        }
        Command::Audit {
            command: AuditCommand::Log { db, record, limit },
        } => {
            let store = open(&config.db(db.db)).await?;
            for e in store.audit_log(record, limit).await? {
                println!(
                    "{:>8}  {}  {:<20} {:<9} {:<22} {}{}",
                    e.seq,
                    e.at,
                    e.actor,
                    e.action,
                    e.record_kind,
                    e.record_id,
                    e.reason.map(|r| format!("  — {r}")).unwrap_or_default()
                );
            }
        }
        Command::Audit {
            command:
                AuditCommand::Access {
                    db,
                    patient,
                    user,
                    limit,
                },
        } => {
            let store = open(&config.db(db.db)).await?;
            let patient_id = match patient.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(text) => Some(store.patient_named(text).await?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "--patient: \"{text}\" is neither a record id nor the registry id of a patient"
                    )
                })?),
            };
            let events = store
                .access_log(&pdva_store::AccessQuery {
                    patient_id,
                    actor: user,
                    limit: Some(limit),
                })
                .await?;
            for e in events {
                println!(
                    "{}  {:<20} {:<16} {:<32} {}  {}",
                    e.at,
                    e.actor,
                    e.role,
                    e.action.label(),
                    e.patient_id.map(|p| p.to_string()).unwrap_or_default(),
                    e.detail.unwrap_or_default()
                );
            }
        }
        Command::Report {
            command:
                ReportCommand::Outcomes {
                    db,
                    site,
                    operator,
                    from,
                    to,
                    as_of,
                    format,
                    research,
                },
        } => {
            let store = open(&config.db(db.db)).await?;
            let filter = pdva_outcomes::Filter {
                site,
                operator,
                from,
                to,
                ..Default::default()
            };
            let as_of = as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
            let audience = if research {
                pdva_outcomes::Audience::Research
            } else {
                pdva_outcomes::Audience::Identifiable
            };
            let outcomes = report::outcomes(&store, &filter, as_of, audience).await?;
            report::print(&outcomes, format)?;
            // Whoever holds the database and key file ran a report: logged.
            store.log_access(pdva_store::AccessEvent::now(
                users::cli_actor().name(),
                "command_line",
                pdva_store::AccessAction::Report,
                None,
                Some(format!(
                    "outcomes {:?} as of {as_of}: site={} operator={} from={} to={}",
                    audience,
                    filter.site.as_deref().unwrap_or(""),
                    filter.operator.as_deref().unwrap_or(""),
                    filter.from.map(|d| d.to_string()).unwrap_or_default(),
                    filter.to.map(|d| d.to_string()).unwrap_or_default(),
                )),
            ));
            store.flush_access_log().await?;
        }
        Command::Report {
            command:
                ReportCommand::Appraisal {
                    db,
                    clinician,
                    document,
                },
        } => {
            let store = open(&config.db(db.db)).await?;
            let period = Period::new(document.from, document.to)?;
            let generation = documents::generation(document.as_of);
            let report =
                pdva_reports::appraisal::make(&store, &clinician, period, &generation).await?;
            let filters = format!(
                "clinician={clinician} {} as_of={}",
                documents::period_words(&period),
                generation.as_of
            );
            let path = documents::deliver(&store, &report, document.format, document.out, &filters)
                .await?;
            println!("{}", path.display());
        }
        Command::Report {
            command: ReportCommand::Governance { db, site, document },
        } => {
            let store = open(&config.db(db.db)).await?;
            let period = Period::new(document.from, document.to)?;
            let generation = documents::generation(document.as_of);
            let report = pdva_reports::governance::make(&store, &site, period, &generation).await?;
            let filters = format!(
                "site={site} {} as_of={}",
                documents::period_words(&period),
                generation.as_of
            );
            let path = documents::deliver(&store, &report, document.format, document.out, &filters)
                .await?;
            println!("{}", path.display());
        }
        Command::Report {
            command: ReportCommand::Research { db, document },
        } => {
            let store = open(&config.db(db.db)).await?;
            let period = Period::new(document.from, document.to)?;
            let generation = documents::generation(document.as_of);
            let report = pdva_reports::research::make(&store, period, &generation).await?;
            let filters = format!(
                "research population {} as_of={}",
                documents::period_words(&period),
                generation.as_of
            );
            let path = documents::deliver(&store, &report, document.format, document.out, &filters)
                .await?;
            println!("{}", path.display());
        }
        Command::Report {
            command:
                ReportCommand::AuditSummary {
                    db,
                    site,
                    from,
                    to,
                    as_of,
                    out,
                },
        } => {
            let store = open(&config.db(db.db)).await?;
            let period = Period::new(from, to)?;
            let generation = documents::generation(as_of);
            let mut csv = Vec::new();
            let rows = pdva_reports::audit_summary::write(
                &store,
                site.as_deref(),
                period,
                generation.as_of,
                &mut csv,
            )
            .await?;
            documents::write_whole(&out, &csv)?;
            let data_version = store.data_version().await?.to_string();
            let filters = format!(
                "site={} {} as_of={}",
                site.as_deref().unwrap_or("all"),
                documents::period_words(&period),
                generation.as_of
            );
            documents::log_generation(&store, "audit-summary", "csv", &filters, &data_version)
                .await?;
            println!("{}: {rows} index procedures", out.display());
        }
        Command::Bench {
            command: BenchCommand::Generate { db, patients, seed },
        } => {
            generate::bench(db, patients, seed).await?;
        }
        Command::Bench {
            command:
                BenchCommand::Web {
                    db,
                    patients,
                    seed,
                    rounds,
                    patient_pages,
                },
        } => {
            bench_web::bench(db, patients, seed, rounds, patient_pages).await?;
        }
        Command::Bench {
            command:
                BenchCommand::Outcomes {
                    db,
                    as_of,
                    script,
                    rust_only,
                },
        } => {
            let as_of = as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
            let script = (!rust_only).then_some(script.as_str());
            report::bench(&config.db(db.db), as_of, script).await?;
        }
        Command::Bench {
            command:
                BenchCommand::Reports {
                    db,
                    report,
                    rounds,
                    as_of,
                },
        } => {
            let store = open(&config.db(db.db)).await?;
            let as_of = as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
            bench_reports::bench(&store, report, rounds, as_of).await?;
            store.close().await;
        }
        Command::Keys {
            command: KeysCommand::Rotate { db, new_key_file },
        } => {
            let db = config.db(db.db);
            let store = open(&db).await?;
            let target = new_key_file.unwrap_or_else(|| store.key_file().to_path_buf());
            let rotation = store
                .rotate_master_key(&target)
                .await
                .context("the master key was not rotated")?;
            println!(
                "Re-wrapped {} patient keys. The registry now opens with {}; the old key file \
                 is {} (keep it with the backups taken before now, apart from them).",
                rotation.patient_keys,
                rotation.key_file.display(),
                rotation.old_key_file.display()
            );
        }
        Command::Patient { command } => return patient(&config, command).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn patient(config: &Config, command: PatientCommand) -> Result<ExitCode> {
    let actor = users::cli_actor();
    match command {
        PatientCommand::Erase {
            db,
            patient,
            reason,
        } => {
            let store = open(&config.db(db.db)).await?;
            let registry_id = pdva_domain::values::RegistryId::parse(patient.trim())
                .map_err(|e| anyhow::anyhow!("--patient {patient}: {e}"))?;
            let (id, _) = store
                .find_patient(&pdva_store::PatientKey::RegistryId(registry_id))
                .await?
                .with_context(|| format!("no patient with registry id {patient}"))?;
            let version = store
                .erase_identifiers(&actor, id, &reason)
                .await
                .context("the identifiers were not erased")?;
            println!("Erased the identifiers of patient {patient}; data version {version}");
        }
        PatientCommand::Conflicts { db, all } => {
            let store = open(&config.db(db.db)).await?;
            let conflicts = store.nhs_conflicts(all).await?;
            if conflicts.is_empty() {
                println!("No NHS-number conflicts to review.");
            }
            for c in conflicts {
                println!(
                    "{}  {}  {:<20} site {:<6} editing {:<38} held by {:<38} {}",
                    c.id,
                    c.at,
                    c.actor,
                    c.site_code,
                    c.patient_id.as_deref().unwrap_or("(new patient)"),
                    c.holder_id.as_deref().unwrap_or("(no one now)"),
                    match (&c.resolved_at, &c.resolution) {
                        (Some(at), Some(how)) => format!("resolved {at}: {how}"),
                        _ => "unresolved".into(),
                    }
                );
            }
        }
        PatientCommand::ResolveConflict { db, id, resolution } => {
            let store = open(&config.db(db.db)).await?;
            store.resolve_nhs_conflict(&actor, &id, &resolution).await?;
            println!("Conflict {id} resolved.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(store: Store, addr: &str, settings: pdva_web::Settings) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not listen on {addr}"))?;
    let local = listener.local_addr()?;
    println!("pdva-registry is serving at http://{local}/  (Ctrl-C to stop)");
    pdva_web::serve_with(listener, store, settings, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
