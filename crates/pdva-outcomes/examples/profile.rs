//! Times the engine's phases on a generated registry held in memory:
//! `cargo run --release -p pdva-outcomes --example profile -- 100000`.

use std::time::Instant;

use pdva_outcomes::{CohortBuilder, Filter, PatientFacts, ReportRequest, report_from_limbs};
use pdva_synth::{Generator, GeneratorConfig};

// The allocator of the `pdva` binary, so that allocation costs what it
// costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// This thread's time on a CPU (Linux), which a busy machine does not inflate.
fn cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

fn main() {
    let patients: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let today = "2026-06-30".parse().unwrap();
    let mut generator = Generator::new(GeneratorConfig {
        patients,
        seed: 1,
        today,
    });
    let reference = generator.reference_data();
    let mut files = Vec::with_capacity(patients);
    while let Some(batch) = generator.next_batch(10_000) {
        files.extend(batch.files);
    }
    // The facts a store streams, made once: the derivation is timed from
    // them, as `pdva bench outcomes` times it.
    let mut facts: Vec<PatientFacts> = files.iter().map(PatientFacts::from).collect();
    // In the order a store reads them back: a generated registry's records
    // were imported in one transaction each, so each kind's by id (at
    // random) rather than in the generator's order.
    for f in &mut facts {
        f.records.sort_by_key(|r| (r.detail.group(), r.id));
    }
    drop(files);
    // A profiler can attach from here (`perf record -p PID`): what follows
    // is only the timed runs.
    eprintln!(
        "facts of {patients} patients ready (pid {})",
        std::process::id()
    );
    let repeats: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let filter = Filter::default().resolve(&reference).unwrap();
    let request = ReportRequest {
        as_of: today,
        filter: filter.clone(),
        data_version: "profile".into(),
    };
    // The fastest of a few runs: the machine may be busy.
    let (mut derived, mut computed) = (f64::INFINITY, f64::INFINITY);
    let (mut derived_cpu, mut computed_cpu) = (f64::INFINITY, f64::INFINITY);
    let mut report = None;
    for _ in 0..repeats {
        let (started, c0) = (Instant::now(), cpu());
        let mut builder = CohortBuilder::new(&filter, today);
        // As the streamed report does.
        builder.reserve_for_patients(facts.len());
        for f in &facts {
            builder.add(f);
        }
        let limbs = builder.finish();
        let derivation_run = started.elapsed().as_secs_f64();
        derived = derived.min(derivation_run);
        derived_cpu = derived_cpu.min(cpu() - c0);
        let (started, c0) = (Instant::now(), cpu());
        report = Some(report_from_limbs(&limbs, &reference, &request).unwrap());
        computed = computed.min(started.elapsed().as_secs_f64());
        computed_cpu = computed_cpu.min(cpu() - c0);
        // Each run too: the first pays for fresh memory, which the fastest
        // hides.
        eprintln!(
            "  run: derivation {:.3} s, statistics {:.3} s",
            derivation_run,
            started.elapsed().as_secs_f64()
        );
    }
    let report = report.unwrap();
    println!(
        "{patients} patients, {} limbs: derivation {derived:.3} s, statistics {computed:.3} s, total {:.3} s wall; on the CPU {derived_cpu:.3} + {computed_cpu:.3} = {:.3} s",
        report.cohort.index_procedures,
        derived + computed,
        derived_cpu + computed_cpu
    );
}
