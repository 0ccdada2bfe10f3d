//! Every `rvf` subcommand end to end on temp files, in human and JSON form.

mod common;

use common::*;
use serde_json::json as j;

#[test]
fn create_status_and_bad_arguments() {
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("a.rvf");
    let out = ok(&["create", p(&s), "--dim", "8", "--metric", "cosine"]);
    assert!(out.contains("created"), "{out}");
    let st = json(&["status", p(&s)]);
    assert_eq!(
        (st["dimension"].as_u64(), st["metric"].as_str()),
        (Some(8), Some("cosine"))
    );
    assert_eq!(st["total_vectors"], 0);
    assert_eq!(st["parent_id"], serde_json::Value::Null);
    assert!(ok(&["status", p(&s)]).contains("metric       cosine"));
    fails(
        &["create", p(&s), "--dim", "8", "--metric", "l2"],
        "RVF_E_EXISTS",
    );
    let t = d.path().join("b.rvf");
    fails(
        &["create", p(&t), "--dim", "0", "--metric", "l2"],
        "RVF_E_INVALID_ARGUMENT",
    );
    fails(
        &["create", p(&t), "--dim", "8", "--metric", "manhattan"],
        "RVF_E_USAGE",
    );
    fails(
        &["create", p(&t), "--dim", "70000", "--metric", "l2"],
        "RVF_E_USAGE",
    );
    fails(
        &[
            "create",
            p(&t),
            "--dim",
            "8",
            "--metric",
            "l2",
            "--cluster-bytes",
            "100",
        ],
        "RVF_E_INVALID_ARGUMENT",
    );
    fails(&["create", p(&t), "--metric", "l2"], "RVF_E_USAGE");
    fails(&["frobnicate"], "RVF_E_USAGE");
    fails(&["status"], "RVF_E_USAGE");
    fails(&["status", p(&t)], "RVF_E_NOT_FOUND");
    fails(&["status", p(d.path())], "RVF_E_IO");
    assert_eq!(
        rvf(&["create", p(&t), "--metric", "l2"]).status.code(),
        Some(2)
    );
}

#[test]
fn help_has_examples_for_every_subcommand() {
    let subcommands = [
        "create",
        "ingest",
        "query",
        "get",
        "delete",
        "status",
        "inspect",
        "verify",
        "compact",
        "materialize",
        "branch",
        "freeze",
        "membership",
        "lineage",
        "serve",
    ];
    for sc in subcommands {
        let out = ok(&[sc, "--help"]);
        assert!(
            out.contains("Example"),
            "rvf {sc} --help lacks examples: {out}"
        );
    }
    assert!(ok(&["index", "build", "--help"]).contains("Example"));
    assert!(ok(&["index", "status", "--help"]).contains("Example"));
    assert!(ok(&["--help"]).contains("Examples"));
}

#[test]
fn query_by_vector_file_and_id_with_filters() {
    let d = tempfile::tempdir().unwrap();
    let s = sample_store(d.path(), "q", 30);
    let r = json(&["query", p(&s), "--vector", "[0, 0.1, 0.2, 0.3]", "-k", "3"]);
    let ids: Vec<u64> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![0, 1, 2]);
    assert_eq!(r["results"][0]["distance"], 0.0);
    assert_eq!(r["results"][0]["metadata"], j!({"group": 0, "name": "v0"}));
    assert_eq!(r["exact"], true);
    let r = json(&[
        "query",
        p(&s),
        "--id",
        "10",
        "-k",
        "2",
        "--filter",
        "group = 2 and name != \"v11\"",
    ]);
    let ids: Vec<u64> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![8, 14]);
    let vf = d.path().join("q.json");
    std::fs::write(&vf, "[0.4, 0.5, 0.6, 0.7]").unwrap();
    assert_eq!(
        json(&["query", p(&s), "--vector-file", p(&vf), "-k", "1"])["results"][0]["id"],
        1
    );
    let npy = d.path().join("q.npy");
    write_npy(
        &npy,
        2,
        4,
        &[9.9; 8]
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i < 4 {
                    0.0
                } else {
                    2.0 + (i as f32 - 4.0) / 10.0
                }
            })
            .collect::<Vec<f32>>(),
    );
    assert_eq!(
        json(&[
            "query",
            p(&s),
            "--vector-file",
            p(&npy),
            "--row",
            "1",
            "-k",
            "1"
        ])["results"][0]["id"],
        5
    );
    fails(
        &["query", p(&s), "--vector-file", p(&npy), "--row", "2"],
        "RVF_E_INVALID_ARGUMENT",
    );
    let human = ok(&["query", p(&s), "--id", "3", "-k", "2", "--exact"]);
    assert!(human.contains("name=\"v3\""), "{human}");
    let o = rvf(&["query", p(&s), "--id", "3", "--ef", "64", "--exact"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("ef was ignored"), "{}", stderr(&o));
    assert!(rvf(&["query", p(&s), "--id", "3", "--ef", "64"])
        .status
        .success());
    assert!(
        ok(&["query", p(&s), "--id", "3", "--filter", "group = 99"]).contains("no vector matches")
    );
    fails(&["query", p(&s), "--vector", "[1, 2]"], "RVF_E_DIMENSION");
    fails(
        &["query", p(&s), "--vector", "[1, 2, x]"],
        "RVF_E_INVALID_ARGUMENT",
    );
    fails(&["query", p(&s), "--id", "999"], "RVF_E_ID_NOT_FOUND");
    let line = fails(
        &["query", p(&s), "--id", "1", "--filter", "group >= "],
        "RVF_E_INVALID_ARGUMENT",
    );
    assert!(line.contains("column"), "{line}");
    fails(&["query", p(&s), "-k", "3"], "RVF_E_USAGE");
    fails(
        &["query", p(&s), "--id", "1", "--vector", "[1,2,3,4]"],
        "RVF_E_USAGE",
    );
}

#[test]
fn get_and_delete_by_ids_and_filter() {
    let d = tempfile::tempdir().unwrap();
    let s = sample_store(d.path(), "g", 12);
    let got = json(&["get", p(&s), "2", "3"]);
    assert_eq!(got[1]["vector"], j!([1.2, 1.3, 1.4, 1.5]));
    assert!(ok(&["get", p(&s), "2"]).contains("name=\"v2\""));
    fails(&["get", p(&s), "99"], "RVF_E_ID_NOT_FOUND");
    fails(&["get", p(&s)], "RVF_E_USAGE");
    let r = json(&["delete", p(&s), "1", "2", "77"]);
    assert_eq!(
        (r["deleted"].as_u64(), r["total_vectors"].as_u64()),
        (Some(2), Some(10))
    );
    let r = json(&["delete", p(&s), "--filter", "group = 0"]);
    assert_eq!(r["deleted"], 4);
    fails(&["get", p(&s), "3"], "RVF_E_ID_NOT_FOUND");
    fails(&["delete", p(&s)], "RVF_E_USAGE");
    fails(
        &["delete", p(&s), "1", "--filter", "group = 1"],
        "RVF_E_USAGE",
    );
    fails(
        &["delete", p(&s), "--filter", "group ="],
        "RVF_E_INVALID_ARGUMENT",
    );
}

#[test]
fn branch_freeze_membership_lineage() {
    let d = tempfile::tempdir().unwrap();
    let base = sample_store(d.path(), "base", 9);
    let child = d.path().join("child.rvf");
    let st = json(&["branch", p(&base), p(&child)]);
    assert_eq!(st["lineage_depth"], 1);
    assert_eq!(st["total_vectors"], 9);
    fails(&["branch", p(&base), p(&child)], "RVF_E_EXISTS");
    ok(&["delete", p(&child), "0"]);
    assert_eq!(
        json(&["status", p(&base)])["total_vectors"],
        9,
        "the parent is untouched"
    );
    let m = json(&["membership", p(&child), "exclude", "1", "2"]);
    assert_eq!(
        (m["mode"].as_str(), m["ids"].clone()),
        (Some("exclude"), j!([1, 2]))
    );
    let m = json(&["membership", p(&child), "include", "2"]);
    assert_eq!(m["ids"], j!([1]));
    assert_eq!(json(&["status", p(&child)])["total_vectors"], 7);
    let m = json(&["membership", p(&child), "mode", "include"]);
    assert_eq!(
        (m["mode"].as_str(), m["member_count"].as_u64()),
        (Some("include"), Some(0))
    );
    assert_eq!(json(&["status", p(&child)])["total_vectors"], 0);
    json(&["membership", p(&child), "include", "4", "5"]);
    assert_eq!(json(&["status", p(&child)])["total_vectors"], 2);
    assert!(ok(&["membership", p(&child), "show"]).contains("include mode"));
    fails(&["membership", p(&base), "show"], "RVF_E_NOT_A_CHILD");
    fails(
        &["membership", p(&base), "exclude", "1"],
        "RVF_E_NOT_A_CHILD",
    );
    let st = json(&["freeze", p(&base)]);
    assert_eq!(st["frozen"], true);
    fails(&["delete", p(&base), "1"], "RVF_E_FROZEN");
    let v = d.path().join("more.jsonl");
    std::fs::write(&v, "{\"vector\": [1, 2, 3, 4]}\n").unwrap();
    fails(&["ingest", p(&base), p(&v)], "RVF_E_FROZEN");
    let grandchild = d.path().join("gc.rvf");
    ok(&["branch", p(&child), p(&grandchild)]);
    let tree = json(&["lineage", p(&grandchild)]);
    assert_eq!(tree.as_array().unwrap().len(), 3);
    assert_eq!(tree[2]["path"].as_str(), Some(p(&base)));
    assert_eq!(tree[2]["frozen"], true);
    assert_eq!(tree[2]["vectors"], 9);
    assert!(tree[1]["pinned_epoch"].as_u64().is_some());
    let human = ok(&["lineage", p(&grandchild)]);
    assert!(
        human.contains("pinned epoch") && human.contains("frozen"),
        "{human}"
    );
}

#[test]
fn inspect_verify_compact_materialize_index() {
    let d = tempfile::tempdir().unwrap();
    let base = sample_store(d.path(), "base", 20);
    let child = d.path().join("child.rvf");
    ok(&["branch", p(&base), p(&child)]);
    ok(&["delete", p(&child), "3"]);
    let ins = json(&["inspect", p(&base)]);
    let segs = ins["segments"].as_array().unwrap();
    assert!(segs
        .iter()
        .all(|s| s["checksum_ok"] == true && s["committed"] == true));
    assert!(segs.iter().any(|s| s["type"] == "VEC_SEG"));
    assert_eq!(ins["root_slots"].as_array().unwrap().len(), 2);
    assert!(ok(&["inspect", p(&base)]).contains("MANIFEST_SEG"));
    let v = json(&["verify", p(&child)]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    assert!(ok(&["verify", p(&child)]).contains("OK"));
    ok(&["delete", p(&base), "0", "1", "2"]);
    let before = json(&["status", p(&base)])["file_size"].as_u64().unwrap();
    let after = json(&["compact", p(&base)])["file_size"].as_u64().unwrap();
    assert!(after < before, "{after} < {before}");
    // The child pinned a generation that compaction dropped: verify says so.
    let o = rvf(&["verify", p(&child)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("RVF_E_PARENT_MISMATCH"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).starts_with("error[RVF_E_VERIFY]"),
        "{}",
        stderr(&o)
    );
    let grand = d.path().join("g.rvf");
    ok(&["branch", p(&base), p(&grand)]);
    ok(&["delete", p(&grand), "4"]);
    let m = json(&["materialize", p(&grand)]);
    assert_eq!(
        (m["lineage_depth"].as_u64(), m["total_vectors"].as_u64()),
        (Some(0), Some(16))
    );
    std::fs::remove_file(&base).unwrap();
    assert_eq!(json(&["status", p(&grand)])["total_vectors"], 16);
    assert_eq!(json(&["verify", p(&grand)])["ok"], true);
    let base = grand;
    let st = json(&["index", "status", p(&base)]);
    assert_eq!(
        (st["exists"].as_bool(), st["pending_vectors"].as_u64()),
        (Some(false), Some(16))
    );
    assert!(ok(&["index", "status", p(&base)]).contains("16 pending"));
    ok(&["index", "build", p(&base)]);
    let st = json(&["index", "status", p(&base)]);
    assert_eq!(
        (
            st["exists"].as_bool(),
            st["indexed_vectors"].as_u64(),
            st["pending_vectors"].as_u64()
        ),
        (Some(true), Some(16), Some(0))
    );
    // A query on the graph, and an exact one, agree on this tiny store.
    let q = json(&["query", p(&base), "--id", "3", "-k", "3"]);
    let e = json(&["query", p(&base), "--id", "3", "-k", "3", "--exact"]);
    assert_eq!(q["results"], e["results"]);
    assert_eq!(
        (q["exact"].as_bool(), e["exact"].as_bool()),
        (Some(false), Some(true))
    );
}

#[test]
fn a_second_writer_gets_locked_and_readers_still_work() {
    let d = tempfile::tempdir().unwrap();
    let s = sample_store(d.path(), "l", 5);
    let mut server = std::process::Command::new(RVF)
        .args(["serve", p(d.path()), "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // The server opens the store (and takes its writer lock) on first use.
    assert_eq!(
        common::http::request(&addr, "GET", "/v1/collections/l", None, None).status,
        200
    );
    fails(&["delete", p(&s), "1"], "RVF_E_LOCKED");
    assert_eq!(json(&["status", p(&s)])["total_vectors"], 5);
    let _ = server.kill();
    let _ = server.wait();
}
