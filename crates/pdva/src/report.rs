//! `pdva report outcomes`: the outcomes report of DOMAIN.md section 7 as
//! JSON or as a summary table, and `pdva bench outcomes`, which times it
//! beside an equivalent Python (pandas, lifelines, scikit-survival) script.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use pdva_outcomes::{
    Audience, CohortBuilder, Filter, IndexLimb, OutcomesReport, PatientFacts, ReportRequest,
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

/// Reads the registry and computes the outcomes report for `audience`: each
/// patient's limbs are derived as the store streams their outcome facts.
pub async fn outcomes(
    store: &Store,
    filter: &Filter,
    as_of: NaiveDate,
    audience: Audience,
) -> Result<OutcomesReport> {
    pdva_reports::gather::outcomes(store, filter, as_of, audience)
        .await
        .context("could not make the outcomes report")
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

/// Every patient's outcome facts read into memory from `source`, with the
/// wall time and the process's CPU time it took.
async fn read_facts(
    store: &Store,
    source: FactsSource,
) -> Result<(Vec<PatientFacts>, f64, Option<f64>)> {
    let started = Instant::now();
    let cpu = process_cpu_seconds();
    let mut all = Vec::new();
    match source {
        FactsSource::Table => store.for_each_patient_facts(None, |f| all.push(f)).await?,
        FactsSource::Records => {
            store
                .for_each_patient_facts_from_records(None, |f| all.push(f))
                .await?
        }
    }
    let cpu = cpu.zip(process_cpu_seconds()).map(|(a, b)| b - a);
    Ok((all, started.elapsed().as_secs_f64(), cpu))
}

/// Limbs in one order, to compare two derivations.
fn by_limb(mut limbs: Vec<IndexLimb>) -> Vec<IndexLimb> {
    limbs.sort_by_key(|l| (l.patient_id, l.procedure_id));
    limbs
}

/// Wall and this thread's CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, Option<f64>) {
    let cpu = thread_cpu_seconds();
    let started = Instant::now();
    let out = f();
    let wall = started.elapsed().as_secs_f64();
    (out, wall, cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a))
}

/// Times the full outcomes report on `db` end to end, as `pdva report
/// outcomes` makes it; then the same work split into reading (every
/// patient's facts into memory) and computing (derivation and statistics on
/// one thread), as the Python script splits its own; then the read from the
/// record bodies instead of the table. Runs the Python `script`
/// (`benchmarks/outcomes_python.py`) on the same database and prints both,
/// with their ratios; without a script, only the Rust figures (neither the
/// read from the bodies nor the script).
pub async fn bench(db: &str, as_of: NaiveDate, script: Option<&str>) -> Result<()> {
    let store = crate::open(db).await?;
    let reference = store.reference_data().await?;
    let data_version = store.data_version().await?.to_string();
    let filter = Filter::default().resolve(&reference)?;

    // 1. End to end: what `pdva report outcomes --format json` does, the
    // derivation running patient by patient as the rows arrive. Twice: the
    // first run reads the table from wherever the operating system has it
    // (on a registry larger than memory, a scan of the record bodies
    // evicts it); the second finds it in the page cache, as a server
    // reading it often does.
    let started = Instant::now();
    let report = outcomes(&store, &Filter::default(), as_of, Audience::Identifiable).await?;
    let json = serde_json::to_string(&report)?;
    let total = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = serde_json::to_string(
        &outcomes(&store, &Filter::default(), as_of, Audience::Identifiable).await?,
    )?;
    let total_cached = started.elapsed().as_secs_f64();
    if again != json {
        bail!("two reports of an unchanged registry differ");
    }

    // 1b. The streamed run once more, its derivation timed batch by batch
    // as the patients arrive (still in the cache from decoding), then its
    // statistics: the computation as the report does it.
    let mut cohort = CohortBuilder::new(&filter, as_of);
    if cohort.makes_room_for_patients() {
        cohort.reserve_for_patients(store.outcome_facts_size_hint().await?);
    }
    let mut pending: Vec<PatientFacts> = Vec::with_capacity(512);
    let mut streamed_derive = 0.0;
    let mut derive_pending = |pending: &mut Vec<PatientFacts>, cohort: &mut CohortBuilder| {
        let started = Instant::now();
        for facts in pending.drain(..) {
            cohort.add(&facts);
        }
        streamed_derive += started.elapsed().as_secs_f64();
    };
    store
        .for_each_patient_facts(None, |facts| {
            pending.push(facts);
            if pending.len() == pending.capacity() {
                derive_pending(&mut pending, &mut cohort);
            }
        })
        .await?;
    derive_pending(&mut pending, &mut cohort);
    let streamed_limbs = cohort.finish();
    let streamed_request = ReportRequest {
        as_of,
        filter: filter.clone(),
        data_version: report.data_version.clone(),
    };
    let (streamed_report, streamed_statistics, _) = tokio::task::block_in_place(|| {
        timed(|| pdva_outcomes::report_from_limbs(&streamed_limbs, &reference, &streamed_request))
    });
    if serde_json::to_string(&streamed_report?)? != json {
        bail!("the batch-timed streamed report differs from the report");
    }
    drop(streamed_limbs);
    let streamed_compute = streamed_derive + streamed_statistics;

    // 2. Reading, then computing on one thread.
    let (facts, read, read_cpu) = read_facts(&store, FactsSource::Table).await?;
    let patients = facts.len();
    let records: usize = facts.iter().map(|f| f.records.len()).sum();
    let request = ReportRequest {
        as_of,
        filter: filter.clone(),
        data_version,
    };
    let derive_all = || {
        let mut cohort = CohortBuilder::new(&filter, as_of);
        // Room for the limbs, as the streamed report makes.
        cohort.reserve_for_patients(facts.len());
        for f in &facts {
            cohort.add(f);
        }
        cohort.finish()
    };
    let computed = tokio::task::block_in_place(|| -> Result<_> {
        let (limbs, derive, derive_cpu) = timed(derive_all);
        let (split_report, statistics, statistics_cpu) =
            timed(|| pdva_outcomes::report_from_limbs(&limbs, &reference, &request));
        // The same curves as the Python script: Kaplan–Meier of AFS, OS and
        // freedom from major amputation, Aalen–Johansen of major amputation.
        let (curves, curves_wall, curves_cpu) = timed(|| pdva_outcomes::core_curves(&limbs));
        std::hint::black_box(curves?);
        // Once more in the memory the first run freed: what the first run
        // took beyond this is the cost of fresh memory (on this kind of
        // machine, faulting in a page costs microseconds).
        drop(limbs);
        let (limbs, again_derive, _) = timed(derive_all);
        let (again_report, again_statistics, _) =
            timed(|| pdva_outcomes::report_from_limbs(&limbs, &reference, &request));
        Ok((
            limbs,
            [split_report?, again_report?],
            (derive, derive_cpu),
            (statistics, statistics_cpu),
            (curves_wall, curves_cpu),
            (again_derive, again_statistics),
        ))
    })?;
    let (limbs, reports, (derive, derive_cpu), (statistics, statistics_cpu), curves, again) =
        computed;
    drop(facts);
    for split_report in reports {
        if serde_json::to_string(&split_report)? != json {
            bail!("the streamed report and the report from facts in memory differ");
        }
    }
    let compute = derive + statistics;
    let same_curves = derive + curves.0;
    let sum = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a + b);
    let compute_cpu = sum(derive_cpu, statistics_cpu);
    let same_curves_cpu = sum(derive_cpu, curves.1);

    // 3. The same facts read from the record bodies: how the table is built
    // and verified, and what a report without it would read.
    let body_read = match script {
        Some(_) => {
            let (body_facts, read, read_cpu) = read_facts(&store, FactsSource::Records).await?;
            let mut cohort = CohortBuilder::new(&filter, as_of);
            for f in &body_facts {
                cohort.add(f);
            }
            drop(body_facts);
            if by_limb(cohort.finish()) != by_limb(limbs) {
                bail!(
                    "the outcome facts table and the record bodies give different limbs: run `pdva audit verify`"
                );
            }
            Some((read, read_cpu))
        }
        None => None,
    };

    println!(
        "pdva bench outcomes: {} patients, {} records, {} index procedures; data version {}",
        patients, records, report.cohort.index_procedures, report.data_version
    );
    let cpu = |x: Option<f64>| x.map_or(String::new(), |c| format!("; {c:.3} s on the CPU"));
    println!(
        "  Rust   total   {total:>8.2} s   (end to end as `pdva report outcomes` runs: read the outcome facts table streamed with the derivation alongside, statistics, JSON of {:.1} MB)",
        json.len() as f64 / 1e6
    );
    println!("                 ({total_cached:.2} s the second time, the table in the page cache)");
    println!(
        "  Rust   read    {read:>8.2} s   (every patient's facts from the outcome facts table into memory{})",
        cpu(read_cpu)
    );
    if let Some((body_read, body_read_cpu)) = body_read {
        println!(
            "                 ({body_read:.2} s from the record bodies instead{})",
            cpu(body_read_cpu)
        );
    }
    println!(
        "  Rust   compute {compute:>8.3} s   (full outcomes report from the facts in memory, one thread: derivation {derive:.3} s, statistics {statistics:.3} s{})",
        cpu(compute_cpu)
    );
    println!(
        "                 ({:.3} s the second time, in the memory the first run freed: derivation {:.3} s, statistics {:.3} s)",
        again.0 + again.1,
        again.0,
        again.1
    );
    println!(
        "  Rust   compute {streamed_compute:>8.3} s   (full outcomes report as the streamed report computes it: derivation {streamed_derive:.3} s, timed batch by batch as the patients arrive, statistics {streamed_statistics:.3} s)"
    );
    println!(
        "  Rust   compute {same_curves:>8.3} s   (the Python script's curves only: derivation, 3 Kaplan–Meier, 1 Aalen–Johansen{})",
        cpu(same_curves_cpu)
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
    let Some(script) = script else {
        return Ok(());
    };

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
        "  ratios (Python / Rust): read {:.1}×, compute {:.1}× (full report; {:.1}× as streamed) and {:.1}× (same curves), end to end {:.1}× ({:.1}× with the table cached)",
        py_read / read,
        py_compute / compute,
        py_compute / streamed_compute,
        py_compute / same_curves,
        py_total / total,
        py_total / total_cached
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
