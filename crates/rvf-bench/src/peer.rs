//! Running the faiss peer (`bench/run_peer.sh` → `bench/peer_faiss.py`) and reading the
//! JSON lines it prints.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::BenchResult;

/// The peer process, or nothing when `--no-peer` is given or it failed to start.
pub struct Peer {
    script: Option<PathBuf>,
}

impl Peer {
    pub fn new(root: &std::path::Path, enabled: bool) -> Peer {
        Peer {
            script: enabled.then(|| root.join("bench/run_peer.sh")),
        }
    }

    pub fn enabled(&self) -> bool {
        self.script.is_some()
    }

    /// Runs the peer with `args` and returns the objects it printed. A failing peer is
    /// reported on stderr and yields no objects, so our own figures still get printed.
    pub fn run(&self, args: &[String]) -> Vec<Value> {
        let Some(script) = &self.script else {
            return Vec::new();
        };
        match run_script(script, args) {
            Ok(v) => v,
            Err(e) => {
                crate::progress(format!("peer failed ({}): {e}", args.join(" ")));
                Vec::new()
            }
        }
    }

    /// The first object of `kind` printed by a run.
    pub fn find<'a>(values: &'a [Value], kind: &str) -> Option<&'a Value> {
        values.iter().find(|v| v["kind"] == kind)
    }
}

fn run_script(script: &PathBuf, args: &[String]) -> BenchResult<Vec<Value>> {
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("exit status {}", out.status).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let values = text
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()?;
    Ok(values)
}

/// `value[key]` as f64 (NaN when missing).
pub fn num(value: Option<&Value>, key: &str) -> f64 {
    value.and_then(|v| v[key].as_f64()).unwrap_or(f64::NAN)
}
