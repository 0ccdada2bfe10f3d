//! Helpers shared by the end-to-end tests: run the real `rvf` binary, write input files,
//! and check the one-line error contract.
#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const RVF: &str = env!("CARGO_BIN_EXE_rvf");

pub fn rvf(args: &[&str]) -> Output {
    Command::new(RVF)
        .args(args)
        .env_remove("RVF_API_KEY")
        .output()
        .expect("the rvf binary runs")
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `rvf args` and expects success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let o = rvf(args);
    assert!(
        o.status.success(),
        "rvf {args:?} failed: {}{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

/// Runs `rvf args --json` and parses stdout.
pub fn json(args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = ok(&a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("rvf {args:?}: {e}: {out}"))
}

/// Expects failure with exactly one `error[CODE]: …` line on stderr (plus, for ingest,
/// an optional `note:` line), no panic, and a non-zero status. Returns the error line.
pub fn fails(args: &[&str], code: &str) -> String {
    let o = rvf(args);
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "rvf {args:?} succeeded: {}",
        stdout(&o)
    );
    assert_ne!(o.status.code(), Some(101), "rvf {args:?} panicked: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RVF_E_INTERNAL"),
        "{err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("note: ")).collect();
    assert_eq!(
        lines.len(),
        1,
        "rvf {args:?}: expected one error line, got {err:?}"
    );
    let prefix = format!("error[{code}]: ");
    assert!(
        lines[0].starts_with(&prefix),
        "rvf {args:?}: expected {prefix}…, got {err:?}"
    );
    lines[0].to_string()
}

/// Like [`fails`], for any error code; returns the code.
pub fn fails_cleanly(args: &[&str]) -> String {
    let o = rvf(args);
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "rvf {args:?} succeeded: {}",
        stdout(&o)
    );
    assert_ne!(o.status.code(), Some(101), "rvf {args:?} panicked: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RVF_E_INTERNAL"),
        "{err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("note: ")).collect();
    assert_eq!(
        lines.len(),
        1,
        "rvf {args:?}: expected one error line, got {err:?}"
    );
    let line = lines[0];
    assert!(line.starts_with("error[RVF_E_"), "{line}");
    line[6..line.find(']').unwrap_or(6)].to_string()
}

/// Writes a float32 C-order `.npy` of `rows × dim`.
pub fn write_npy(path: &Path, rows: usize, dim: usize, values: &[f32]) {
    write_npy_raw(
        path,
        "<f4",
        &format!("({rows}, {dim})"),
        &values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    );
}

pub fn write_npy_raw(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

pub fn write_fvecs(path: &Path, rows: &[Vec<f32>]) {
    let mut bytes = Vec::new();
    for r in rows {
        bytes.extend_from_slice(&(r.len() as i32).to_le_bytes());
        for v in r {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// `n` deterministic vectors of dimension `dim`: row i is (i, i+1, …) scaled.
pub fn rows(n: usize, dim: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| (0..dim).map(|j| (i * dim + j) as f32 / 10.0).collect())
        .collect()
}

/// A store at `dir/name.rvf` holding `n` vectors of dimension 4 with ids 0..n and
/// metadata `{"group": i % 3, "name": "v{i}"}`.
pub fn sample_store(dir: &Path, name: &str, n: usize) -> PathBuf {
    let store = dir.join(format!("{name}.rvf"));
    let input = dir.join(format!("{name}-input.jsonl"));
    let mut text = String::new();
    for (i, r) in rows(n, 4).iter().enumerate() {
        text += &format!(
            "{{\"id\": {i}, \"vector\": {r:?}, \"group\": {}, \"name\": \"v{i}\"}}\n",
            i % 3
        );
    }
    std::fs::write(&input, text).unwrap();
    ok(&[
        "create",
        p(&store),
        "--dim",
        "4",
        "--metric",
        "l2",
        "--cluster-bytes",
        "256",
    ]);
    ok(&["ingest", p(&store), p(&input), "--quiet"]);
    store
}
