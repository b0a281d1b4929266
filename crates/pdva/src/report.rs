//! `pdva report outcomes`: the outcomes report of DOMAIN.md section 7 as
//! JSON or as a summary table, and `pdva bench outcomes`, which times it
//! beside an equivalent Python (pandas, lifelines, scikit-survival) script.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use pdva_outcomes::{
    CohortBuilder, Filter, IndexLimb, OutcomesReport, PatientFacts, ReportRequest, ResolvedFilter,
};
use pdva_store::{Engine, Store};

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The JSON document (schema: crates/pdva-outcomes/schema/outcomes-report.schema.json).
    Json,
    /// A readable summary table.
    Text,
}

/// Reads the registry and computes the outcomes report: each patient's
/// limbs are derived as the store streams their outcome facts.
pub async fn outcomes(store: &Store, filter: &Filter, as_of: NaiveDate) -> Result<OutcomesReport> {
    let reference = store.reference_data().await?;
    let filter = filter.resolve(&reference)?;
    let data_version = store.data_version().await?.to_string();
    let mut cohort = CohortBuilder::new(&filter, as_of);
    store
        .for_each_patient_facts(filter.site.as_deref(), |facts| cohort.add(&facts))
        .await
        .context("could not read the patients' records")?;
    let limbs = cohort.finish();
    let request = ReportRequest {
        as_of,
        filter,
        data_version,
    };
    Ok(pdva_outcomes::report_from_limbs(
        &limbs, &reference, &request,
    )?)
}

/// Prints the report in the chosen format.
pub fn print(report: &OutcomesReport, format: Format) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Text => print!("{}", pdva_outcomes::render_text(report)),
    }
    Ok(())
}

/// The Python to run the comparison script with: `PDVA_ORACLE_PYTHON`, else
/// `.venv-oracles/bin/python` (made by scripts/test) if it exists.
fn oracle_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PDVA_ORACLE_PYTHON")
        && !p.is_empty()
    {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(".venv-oracles/bin/python");
    venv.exists().then_some(venv)
}

/// Time this thread has spent on a CPU (seconds), from
/// `/proc/thread-self/schedstat`: unlike the wall clock it does not count
/// time spent waiting for a core that another process holds, which on a
/// busy two-core machine can double a wall-clock figure. `None` where the
/// file does not exist (not Linux).
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// CPU time of the whole process, all threads (seconds), from
/// `/proc/self/stat` (user + system, in the kernel's fixed 100 ticks a
/// second); `None` where the file does not exist.
fn process_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses).
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// Where the bench reads the outcome facts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FactsSource {
    /// The outcome facts table, as the report reads them.
    Table,
    /// The record bodies (how the table is built and verified).
    Records,
}

/// What reading and deriving gave.
struct Derived {
    limbs: Vec<IndexLimb>,
    /// Wall time of reading, the derivation alongside.
    read: f64,
    /// CPU time of every thread but the derivation's.
    read_cpu: Option<f64>,
    /// CPU time of the derivation's thread.
    derive_cpu: Option<f64>,
    patients: usize,
    records: usize,
}

/// Streams every patient's facts from `source` into a derivation on a
/// thread of its own, so that its CPU time is measured apart from the
/// reading's (its wall time overlaps the reading), as the report does.
async fn read_and_derive(
    store: &Store,
    filter: &ResolvedFilter,
    as_of: NaiveDate,
    source: FactsSource,
) -> Result<Derived> {
    let started = Instant::now();
    let cpu_at_start = process_cpu_seconds();
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<PatientFacts>>(64);
    let derive_filter = filter.clone();
    let deriver = std::thread::Builder::new()
        .name("derive".into())
        .spawn(move || {
            let cpu = thread_cpu_seconds();
            let mut cohort = CohortBuilder::new(&derive_filter, as_of);
            let (mut patients, mut records) = (0usize, 0usize);
            for batch in receiver {
                for facts in &batch {
                    patients += 1;
                    records += facts.records.len();
                    cohort.add(facts);
                }
            }
            let cpu = cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
            (cohort.finish(), cpu, patients, records)
        })?;
    const BATCH: usize = 256;
    let mut batch = Vec::with_capacity(BATCH);
    let visit = |facts| {
        batch.push(facts);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            // Only fails if the thread has gone, which join reports.
            let _ = sender.send(full);
        }
    };
    match source {
        FactsSource::Table => store.for_each_patient_facts(None, visit).await?,
        FactsSource::Records => {
            store
                .for_each_patient_facts_from_records(None, visit)
                .await?
        }
    }
    let _ = sender.send(batch);
    drop(sender);
    let (limbs, derive_cpu, patients, records) = tokio::task::block_in_place(|| deriver.join())
        .map_err(|_| anyhow::anyhow!("the derivation thread panicked"))?;
    let read = started.elapsed().as_secs_f64();
    let read_cpu = cpu_at_start
        .zip(process_cpu_seconds())
        .zip(derive_cpu)
        .map(|((a, b), d)| b - a - d);
    Ok(Derived {
        limbs,
        read,
        read_cpu,
        derive_cpu,
        patients,
        records,
    })
}

/// Times reading and computing the full outcomes report on `db`, then runs
/// `benchmarks/outcomes_python.py` on the same database and prints both,
/// split into reading and computing, and their ratios.
pub async fn bench(db: &str, as_of: NaiveDate, script: &str) -> Result<()> {
    let started = Instant::now();
    let store = Store::open(db).await?;
    let reference = store.reference_data().await?;
    let data_version = store.data_version().await?.to_string();
    let filter = Filter::default().resolve(&reference)?;
    let Derived {
        limbs,
        read,
        read_cpu,
        derive_cpu,
        patients,
        records,
    } = read_and_derive(&store, &filter, as_of, FactsSource::Table).await?;
    // Without /proc the derivation's CPU time is unknown: count it as 0.
    let derive = derive_cpu.unwrap_or(0.0);
    let request = ReportRequest {
        as_of,
        filter: filter.clone(),
        data_version,
    };
    // The statistics run on this one thread; their CPU time is measured too.
    let (statistics, statistics_cpu, report, curves, curves_cpu) =
        tokio::task::block_in_place(|| -> Result<_> {
            let cpu = thread_cpu_seconds();
            let computing = Instant::now();
            let report = pdva_outcomes::report_from_limbs(&limbs, &reference, &request)?;
            let statistics = computing.elapsed().as_secs_f64();
            let statistics_cpu = cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
            // The same curves as the Python script: Kaplan–Meier of AFS, OS
            // and freedom from major amputation, Aalen–Johansen of major
            // amputation (plus the derivation, measured above).
            let cpu = thread_cpu_seconds();
            let started = Instant::now();
            let curves = pdva_outcomes::core_curves(&limbs)?;
            let same = started.elapsed().as_secs_f64();
            let same_cpu = cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
            std::hint::black_box(curves);
            Ok((statistics, statistics_cpu, report, same, same_cpu))
        })?;
    let compute = derive + statistics;
    let same_curves = derive + curves;
    let compute_cpu = statistics_cpu.map(|c| c + derive);
    let same_curves_cpu = curves_cpu.map(|c| c + derive);
    let json = serde_json::to_string(&report)?;
    let total = started.elapsed().as_secs_f64();
    // Beside it, the same read from the record bodies, which is how the
    // table is built and verified, and what a report without it would cost.
    let from_bodies = read_and_derive(&store, &filter, as_of, FactsSource::Records).await?;
    let by_limb = |mut limbs: Vec<IndexLimb>| {
        limbs.sort_by_key(|l| (l.patient_id, l.procedure_id));
        limbs
    };
    if by_limb(from_bodies.limbs) != by_limb(limbs) {
        bail!(
            "the outcome facts table and the record bodies give different limbs: run `pdva audit verify`"
        );
    }
    println!(
        "pdva bench outcomes: {} patients, {} records, {} index procedures; data version {}",
        patients, records, report.cohort.index_procedures, report.data_version
    );
    let on_cpus = |c: Option<f64>| {
        c.map_or(String::new(), |c| {
            format!("; {c:.2} s on the CPUs, all threads but the derivation's")
        })
    };
    println!(
        "  Rust   read    {read:>8.2} s   (the outcome facts table, streamed, the derivation alongside on its own thread{})",
        on_cpus(read_cpu)
    );
    println!(
        "         (from the record bodies instead: {:.2} s{}; derivation {:.3} s on the CPU)",
        from_bodies.read,
        on_cpus(from_bodies.read_cpu),
        from_bodies.derive_cpu.unwrap_or(0.0)
    );
    let cpu = |x: Option<f64>| x.map_or(String::new(), |c| format!(", {c:.3} s on the CPU"));
    println!(
        "  Rust   compute {compute:>8.3} s   (full outcomes report, one core: derivation {derive:.3} s on the CPU, statistics {statistics:.3} s{})",
        cpu(compute_cpu)
    );
    println!(
        "  Rust   compute {same_curves:>8.3} s   (the Python script's curves only: derivation, 3 Kaplan–Meier, 1 Aalen–Johansen{})",
        cpu(same_curves_cpu)
    );
    println!(
        "  Rust   total   {total:>8.2} s   (report JSON {:.1} MB)",
        json.len() as f64 / 1e6
    );
    let afs = |t: f64| {
        report
            .amputation_free_survival
            .estimates
            .iter()
            .find(|e| e.t_days == t)
            .map(|e| e.survival)
    };
    println!(
        "  Rust   AFS at 365 d {:?}, CIF of major amputation at 365 d {:?}",
        afs(365.0),
        report
            .cumulative_incidence_major_amputation
            .estimates
            .iter()
            .find(|e| e.t_days == 365.0)
            .map(|e| e.cumulative_incidence)
    );
    store.close().await;

    if Engine::of(db) != Engine::Sqlite {
        bail!("the Python comparison reads a SQLite file; give a SQLite --db");
    }
    let Some(python) = oracle_python() else {
        bail!(
            "no Python for the comparison: set PDVA_ORACLE_PYTHON or run scripts/test (which makes .venv-oracles)"
        );
    };
    let out = Command::new(&python)
        .arg(script)
        .arg(db)
        .arg(as_of.to_string())
        .output()
        .with_context(|| format!("could not run {} {script}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{script} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let py: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{script} did not print JSON"))?;
    let f = |k: &str| py[k].as_f64().unwrap_or(f64::NAN);
    let (py_read, py_compute) = (f("read_seconds"), f("compute_seconds"));
    let py_total = py_read + py_compute;
    println!(
        "  Python read    {py_read:>8.2} s   (sqlite3 + json.loads; {:.2} s on the CPU)",
        f("read_cpu_seconds")
    );
    println!(
        "  Python compute {py_compute:>8.3} s   (pandas derivation; lifelines KM of AFS, OS, freedom from major amputation; scikit-survival Aalen–Johansen of major amputation; {:.3} s on the CPU)",
        f("compute_cpu_seconds")
    );
    println!("  Python total   {py_total:>8.2} s");
    println!(
        "  Python AFS at 365 d {:?}, CIF of major amputation at 365 d {:?}",
        py["afs_365"].as_f64(),
        py["cif_major_amputation_365"].as_f64()
    );
    println!(
        "  ratios (Python / Rust): read {:.1}×, compute {:.1}× (full report) and {:.1}× (same curves), end to end {:.1}×",
        py_read / read,
        py_compute / compute,
        py_compute / same_curves,
        py_total / total
    );
    if let (Some(rust), Some(same)) = (compute_cpu, same_curves_cpu) {
        let py_cpu = f("compute_cpu_seconds");
        println!(
            "  compute on the CPU (Python / Rust): {:.1}× (full report), {:.1}× (same curves)",
            py_cpu / rust,
            py_cpu / same
        );
    }
    Ok(())
}
