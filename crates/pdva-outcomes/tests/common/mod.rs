//! Shared helpers: a generated registry, and the runner for the Python oracles.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chrono::NaiveDate;
use pdva_domain::{PatientFile, ReferenceData};
use pdva_synth::{Generator, GeneratorConfig};
use serde_json::Value;

/// A generated registry: reference data and every patient's file, with the
/// records entered in error already left out (as the store leaves voided
/// records out).
pub fn registry(patients: usize, seed: u64, today: NaiveDate) -> (ReferenceData, Vec<PatientFile>) {
    let mut generator = Generator::new(GeneratorConfig {
        patients,
        seed,
        today,
    });
    let reference = generator.reference_data();
    let mut files = Vec::with_capacity(patients);
    while let Some(batch) = generator.next_batch(1000) {
        let voided: std::collections::HashSet<_> = batch.voids.iter().map(|(id, _)| *id).collect();
        for mut file in batch.files {
            file.records.retain(|(id, _)| !voided.contains(id));
            files.push(file);
        }
    }
    (reference, files)
}

/// The Python to run the oracles with: `PDVA_ORACLE_PYTHON`, else the
/// workspace's `.venv-oracles` (made by `scripts/test`) if it exists.
fn oracle_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PDVA_ORACLE_PYTHON")
        && !p.is_empty()
    {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-oracles/bin/python");
    venv.exists().then_some(venv)
}

fn oracles_required() -> bool {
    std::env::var("PDVA_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

fn unavailable(script: &str, reason: &str) -> Option<Value> {
    if oracles_required() {
        panic!(
            "oracle {script} not available ({reason}) but PDVA_REQUIRE_ORACLES=1: \
             run scripts/test, which installs the oracles into .venv-oracles"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: oracles not installed, run scripts/test ({script}: {reason})"
    );
    None
}

/// Exit status the scripts use when a Python package is missing.
const MISSING_PACKAGE: i32 = 3;

/// Runs `tests/oracles/<script>` with `input` (JSON text) on stdin and
/// returns its JSON output, or `None` (after printing SKIPPED) when no oracle
/// Python is installed and the oracles are not required.
pub fn run_oracle(script: &str, input: String) -> Option<Value> {
    let Some(python) = oracle_python() else {
        return unavailable(script, "no PDVA_ORACLE_PYTHON and no .venv-oracles");
    };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("oracles")
        .join(script);
    let child = Command::new(&python)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return unavailable(script, &format!("cannot run {}: {e}", python.display())),
    };
    let mut stdin = child.stdin.take().expect("stdin piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("oracle finishes");
    writer.join().expect("stdin writer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(MISSING_PACKAGE) {
        return unavailable(script, stderr.trim());
    }
    assert!(
        out.status.success(),
        "oracle {script} failed ({}):\n{stderr}",
        out.status
    );
    Some(serde_json::from_slice(&out.stdout).expect("oracle prints JSON"))
}

/// A number from the oracle's JSON ("nan" for a missing one).
pub fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("number"),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::Null => f64::NAN,
        other => panic!("not a number: {other}"),
    }
}

/// Largest difference seen.
#[derive(Default)]
pub struct MaxDiff(pub f64);

impl MaxDiff {
    /// Asserts |a − b| ≤ tol and records the difference.
    pub fn check(&mut self, a: f64, b: f64, tol: f64, what: &dyn Fn() -> String) {
        let d = if a == b { 0.0 } else { (a - b).abs() };
        assert!(
            d <= tol,
            "{}: ours {a} vs oracle {b} (|Δ| = {d:e} > {tol:e})",
            what()
        );
        self.0 = self.0.max(d);
    }
}
