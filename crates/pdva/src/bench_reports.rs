//! `pdva bench reports`: how long the governance review, research report
//! and appraisal report take to make, from the registry to the finished
//! PDF, on an existing registry (make one with `pdva generate`), and the
//! process's peak memory after each. Run one report per process
//! (`--report governance`) for a peak that is that report's alone.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use pdva_reports::gather::{Generation, Period};
use pdva_store::Store;

/// Which report to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchedReport {
    /// The governance review of the largest site.
    Governance,
    /// The research report of the whole research population.
    Research,
    /// The appraisal report of the busiest operator.
    Appraisal,
    /// All three, one after the other.
    All,
}

/// The process's peak resident memory so far (VmHWM), in MiB.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

struct Timed {
    made: Duration,
    rendered: Duration,
    pdf_bytes: usize,
}

async fn time_one(
    store: &Store,
    which: BenchedReport,
    site: &str,
    clinician: &str,
    generation: &Generation,
) -> Result<Timed> {
    let started = Instant::now();
    let period = Period::default();
    let report = match which {
        BenchedReport::Governance => {
            pdva_reports::governance::make(store, site, period, generation).await?
        }
        BenchedReport::Research => pdva_reports::research::make(store, period, generation).await?,
        BenchedReport::Appraisal | BenchedReport::All => {
            pdva_reports::appraisal::make(store, clinician, period, generation).await?
        }
    };
    let made = started.elapsed();
    let started = Instant::now();
    let pdf = pdva_pdf::render(&report)?;
    Ok(Timed {
        made,
        rendered: started.elapsed(),
        pdf_bytes: pdf.len(),
    })
}

/// Times `rounds` of each report asked for on the registry at `db`.
pub async fn bench(
    store: &Store,
    which: BenchedReport,
    rounds: usize,
    as_of: NaiveDate,
) -> Result<()> {
    let generation = Generation {
        as_of,
        generated_at: "bench".into(),
        generated_by: "bench".into(),
    };
    let counts = store.site_counts().await?;
    let site = counts
        .iter()
        .max_by_key(|c| c.patients)
        .map(|c| c.site_code.clone())
        .context("the registry has no sites")?;
    let busiest_operator = {
        // The busiest operator, from a report of the whole registry.
        let whole = pdva_reports::gather::outcomes(
            store,
            &pdva_outcomes::Filter::default(),
            as_of,
            pdva_outcomes::Audience::Identifiable,
        )
        .await?;
        whole
            .comparisons
            .iter()
            .find(|c| c.variable == "operator")
            .and_then(|c| c.strata.iter().max_by_key(|s| s.n.exact().unwrap_or(0)))
            .map(|s| s.value.clone())
            .context("no operator")?
    };
    let kinds: Vec<BenchedReport> = match which {
        BenchedReport::All => vec![
            BenchedReport::Governance,
            BenchedReport::Research,
            BenchedReport::Appraisal,
        ],
        one => vec![one],
    };
    println!(
        "pdva bench reports: largest site {site}, busiest operator {busiest_operator}, {rounds} round(s); peak before: {:.0} MiB",
        peak_mib().unwrap_or(f64::NAN)
    );
    for kind in kinds {
        for round in 1..=rounds {
            let t = time_one(store, kind, &site, &busiest_operator, &generation).await?;
            println!(
                "  {kind:?} round {round}: made {:>8.1} ms, PDF {:>8.1} ms, total {:>8.1} ms, {:>8} bytes; peak so far {:.0} MiB",
                t.made.as_secs_f64() * 1e3,
                t.rendered.as_secs_f64() * 1e3,
                (t.made + t.rendered).as_secs_f64() * 1e3,
                t.pdf_bytes,
                peak_mib().unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}
