//! Prints the DOMAIN.md section 10 quantities of a generated registry and
//! the time taken to generate it:
//! `cargo run --release -p pdva-synth --example calibrate -- [patients] [seed]`.

#[path = "../tests/common/metrics.rs"]
mod metrics;

use std::collections::HashSet;
use std::time::Instant;

use pdva_synth::{Generator, GeneratorConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let patients: usize = args
        .next()
        .map_or(100_000, |a| a.parse().expect("patients"));
    let seed: u64 = args.next().map_or(42, |a| a.parse().expect("seed"));
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
    let mut generator = Generator::new(GeneratorConfig {
        patients,
        seed,
        today,
    });
    let started = Instant::now();
    let mut files = Vec::with_capacity(patients);
    let mut voided = HashSet::new();
    let mut records = 0usize;
    while let Some(batch) = generator.next_batch(1000) {
        records += batch
            .files
            .iter()
            .map(|f| f.records.len() + 1)
            .sum::<usize>();
        voided.extend(batch.voids.into_iter().map(|(id, _)| id));
        files.extend(batch.files);
    }
    let elapsed = started.elapsed();
    println!(
        "generated {patients} patients ({records} records, {} voids) in {:.2} s",
        voided.len(),
        elapsed.as_secs_f64()
    );
    let started = Instant::now();
    let metrics = metrics::compute(&files, &voided, today);
    println!("metrics in {:.2} s", started.elapsed().as_secs_f64());
    println!("{metrics:#?}");
}
