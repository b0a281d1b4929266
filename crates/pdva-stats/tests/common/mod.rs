//! Shared helpers for the integration tests: a deterministic PRNG for the
//! generated data sets and the runner for the Python oracles.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// SplitMix64: tiny, fast and fully deterministic, so every run of the suite
/// sees the same data sets (no dependence on `rand`'s version).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [lo, hi] (inclusive).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }
}

/// Where the oracle scripts live.
fn script_path(script: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("oracles")
        .join(script)
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

/// The oracle could not run: fail if the oracles are required, else skip.
fn unavailable(script: &str, reason: &str) -> Option<Value> {
    if oracles_required() {
        panic!(
            "oracle {script} not available ({reason}) but PDVA_REQUIRE_ORACLES=1: \
             run scripts/test, which installs the oracles into .venv-oracles"
        );
    }
    // Straight to the process's stderr: the test harness captures eprintln!
    // of passing tests, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: oracles not installed, run scripts/test ({script}: {reason})"
    );
    None
}

/// Exit status the scripts use when a Python package is missing.
const MISSING_PACKAGE: i32 = 3;

/// Runs `tests/oracles/<script>` with `input` as JSON on stdin and returns its
/// JSON output, or `None` (after printing SKIPPED) when no oracle Python is
/// installed and the oracles are not required.
pub fn run_oracle(script: &str, input: &Value) -> Option<Value> {
    let Some(python) = oracle_python() else {
        return unavailable(script, "no PDVA_ORACLE_PYTHON and no .venv-oracles");
    };
    let child = Command::new(&python)
        .arg(script_path(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return unavailable(script, &format!("cannot run {}: {e}", python.display())),
    };
    let payload = serde_json::to_vec(input).expect("input serialises");
    // To rerun or profile an oracle by hand: PDVA_ORACLE_DUMP=<dir> keeps
    // each script's input as <dir>/<script>.json.
    if let Some(dir) = std::env::var_os("PDVA_ORACLE_DUMP") {
        let path = PathBuf::from(dir).join(format!("{script}.json"));
        std::fs::write(&path, &payload).expect("write oracle dump");
    }
    // Feed stdin from another thread so that a large output cannot block a
    // large input. A write error (the script quit early, e.g. on a missing
    // package) is left to show in the exit status below.
    let mut stdin = child.stdin.take().expect("stdin piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&payload);
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

/// A number from the oracle's JSON: finite numbers as they are, and the
/// strings "inf", "-inf", "nan" that the scripts use for non-finite values.
pub fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("number"),
        Value::String(s) => match s.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            "nan" => f64::NAN,
            other => panic!("not a number: {other}"),
        },
        other => panic!("not a number: {other}"),
    }
}

pub fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

pub fn ints(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as usize)
        .collect()
}

/// Largest difference seen, for the summary line each oracle test prints.
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
