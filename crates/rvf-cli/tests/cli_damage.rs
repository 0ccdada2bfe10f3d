//! Damaged and foreign files given to every subcommand: one `error[…]` line and a
//! non-zero exit, or (for damage a command does not read) success; never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Every subcommand that takes a store, as argument lists with `{}` for the store.
fn commands(vectors: &Path, scratch: &Path) -> Vec<Vec<String>> {
    let v = p(vectors).to_string();
    let child = p(&scratch.join("child-of-damaged.rvf")).to_string();
    let s = "{}".to_string();
    let list: Vec<Vec<&str>> = vec![
        vec!["status", &s],
        vec!["query", &s, "--id", "1", "-k", "3"],
        vec!["query", &s, "--vector", "[0, 0, 0, 0]", "-k", "3"],
        vec![
            "query",
            &s,
            "--vector",
            "[0, 0, 0, 0]",
            "--filter",
            "group = 1",
        ],
        vec!["get", &s, "1"],
        vec!["delete", &s, "1"],
        vec!["delete", &s, "--filter", "group = 1"],
        vec!["ingest", &s, &v],
        vec!["inspect", &s],
        vec!["verify", &s],
        vec!["lineage", &s],
        vec!["compact", &s],
        vec!["materialize", &s],
        vec!["branch", &s, &child],
        vec!["freeze", &s],
        vec!["membership", &s, "show"],
        vec!["membership", &s, "exclude", "1"],
        vec!["index", "status", &s],
        vec!["index", "build", &s],
    ];
    list.into_iter()
        .map(|c| c.into_iter().map(String::from).collect())
        .collect()
}

/// Runs every command on a fresh copy of `damaged`; returns the commands that failed.
fn run_all(damaged: &[u8], dir: &Path, vectors: &Path) -> Vec<String> {
    let mut failed = Vec::new();
    for cmd in commands(vectors, dir) {
        let target = dir.join("target.rvf");
        std::fs::write(&target, damaged).unwrap();
        let _ = std::fs::remove_file(dir.join("child-of-damaged.rvf"));
        let args: Vec<String> = cmd
            .iter()
            .map(|a| {
                if a == "{}" {
                    p(&target).to_string()
                } else {
                    a.clone()
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = rvf(&args);
        let err = stderr(&o);
        assert_ne!(o.status.code(), Some(101), "rvf {args:?} panicked: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("RVF_E_INTERNAL"),
            "rvf {args:?}: {err}"
        );
        if !o.status.success() {
            let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("note: ")).collect();
            assert_eq!(lines.len(), 1, "rvf {args:?}: {err:?}");
            assert!(
                lines[0].starts_with("error[RVF_E_"),
                "rvf {args:?}: {err:?}"
            );
            failed.push(cmd[0].clone() + " " + &cmd[1]);
        }
    }
    failed
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let store = sample_store(d.path(), "base", 40);
    let vectors = d.path().join("more.jsonl");
    std::fs::write(&vectors, "{\"vector\": [1, 2, 3, 4], \"group\": 1}\n").unwrap();
    (d, store, vectors)
}

#[test]
fn foreign_files_fail_every_subcommand_with_one_line() {
    let (d, _, vectors) = setup();
    let total = commands(&vectors, d.path()).len();
    for content in [
        &b""[..],
        b"hello, this is a text file\n",
        &[0u8; 4096],
        &[0xffu8; 1500],
    ] {
        let failed = run_all(content, d.path(), &vectors);
        assert_eq!(
            failed.len(),
            total,
            "content {:?}: only {failed:?} failed",
            &content[..content.len().min(8)]
        );
    }
}

#[test]
fn truncated_files_fail_cleanly() {
    let (d, store, vectors) = setup();
    let bytes = std::fs::read(&store).unwrap();
    for cut in [
        bytes.len() - 1,
        bytes.len() - 200,
        bytes.len() / 2,
        1024 + 64,
        700,
        100,
    ] {
        let failed = run_all(&bytes[..cut], d.path(), &vectors);
        // Cutting the committed part away leaves no generation to read: nothing works
        // except, at most, inspect listing what is left.
        assert!(
            failed.len() >= commands(&vectors, d.path()).len() - 1,
            "cut {cut}: {failed:?}"
        );
    }
}

#[test]
fn flipped_bytes_never_panic_and_damage_is_reported() {
    let (d, store, vectors) = setup();
    let bytes = std::fs::read(&store).unwrap();
    let layout = json(&["inspect", p(&store)]);
    let segs = layout["segments"].as_array().unwrap();
    let vec_seg = segs.iter().find(|s| s["type"] == "VEC_SEG").unwrap()["offset"]
        .as_u64()
        .unwrap() as usize;
    // Header bytes, root slots, a vector payload, the manifest, the last segment.
    let mut spots = vec![
        5,
        40,
        512 + 60,
        vec_seg + 10,
        vec_seg + 64 + 20,
        bytes.len() - 100,
        bytes.len() - 10,
    ];
    spots.extend(
        segs.iter()
            .map(|s| s["offset"].as_u64().unwrap() as usize + 70),
    );
    for at in spots {
        let mut damaged = bytes.clone();
        if at >= damaged.len() {
            continue;
        }
        damaged[at] ^= 0x5a;
        let failed = run_all(&damaged, d.path(), &vectors);
        if at == vec_seg + 64 + 20 {
            // The vectors are damaged: reading them must fail, and so must verify.
            for must in ["verify {}", "inspect {}", "query {}", "get {}"] {
                assert!(
                    failed.contains(&must.to_string()),
                    "flip at {at}: {must} passed ({failed:?})"
                );
            }
        }
    }
}
