//! Writing results: human text or JSON, to stdout.

use std::io::Write;

use rvf_runtime::{MetaValue, Metadata};
use serde_json::Value;

use crate::error::{CliError, Result};

/// Prints `human` or, with `--json`, the pretty JSON `json`.
pub fn emit(json_mode: bool, human: &str, json: &Value) -> Result<()> {
    let text = if json_mode {
        serde_json::to_string_pretty(json).unwrap_or_default()
    } else {
        human.trim_end().to_string()
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| CliError::io("<stdout>", e))
}

/// `key=value` pairs for a terminal, long strings shortened to `max` characters.
pub fn meta_line(m: Option<&Metadata>, max: usize) -> String {
    let Some(m) = m else {
        return String::new();
    };
    m.iter()
        .map(|(k, v)| format!("{k}={}", value_text(v, max)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_text(v: &MetaValue, max: usize) -> String {
    match v {
        MetaValue::Int(i) => i.to_string(),
        MetaValue::Float(f) => f.to_string(),
        MetaValue::Bool(b) => b.to_string(),
        MetaValue::Str(s) => {
            let short: String = s.chars().take(max).collect();
            let tail = if short.len() < s.len() { "…" } else { "" };
            format!("{:?}", format!("{short}{tail}"))
        }
    }
}

/// A vector shortened for a terminal: the first few values and the count.
pub fn vector_text(v: &[f32]) -> String {
    const SHOW: usize = 6;
    let head: Vec<String> = v.iter().take(SHOW).map(|x| format!("{x:.4}")).collect();
    if v.len() > SHOW {
        format!("[{}, … ({} values)]", head.join(", "), v.len())
    } else {
        format!("[{}]", head.join(", "))
    }
}

/// Bytes in a human unit.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
