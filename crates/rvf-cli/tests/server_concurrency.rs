//! Many readers and one writer: a query sees every batch whole or not at all; a
//! shutdown finishes what was acknowledged.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::http::{request, try_request, Server};
use common::*;
use serde_json::json;

const BATCH: u64 = 100;
const BATCHES: u64 = 25;

fn batch(b: u64) -> String {
    let ids: Vec<u64> = (b * BATCH..(b + 1) * BATCH).collect();
    let vectors: Vec<[f32; 4]> = ids.iter().map(|&i| [i as f32, 1.0, 2.0, 3.0]).collect();
    json!({ "ids": ids, "vectors": vectors }).to_string()
}

#[test]
fn readers_never_see_a_partial_batch() {
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(d.path(), &[]);
    assert_eq!(
        srv.req("PUT", "/v1/collections/c", Some(r#"{"dimension": 4}"#))
            .status,
        201
    );
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (addr, done) = (srv.addr.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    let body =
                        json!({ "vector": [0, 1, 2, 3], "k": 100_000, "include_metadata": false })
                            .to_string();
                    let q = request(&addr, "POST", "/v1/collections/c/query", Some(&body), None);
                    assert_eq!(q.status, 200, "{}", q.body);
                    let n = q.json()["results"].as_array().unwrap().len() as u64;
                    assert_eq!(n % BATCH, 0, "reader {r} saw {n} vectors: a partial batch");
                    seen.push(n);
                    let st = request(&addr, "GET", "/v1/collections/c", None, None).json();
                    assert_eq!(st["total_vectors"].as_u64().unwrap() % BATCH, 0);
                }
                seen
            })
        })
        .collect();
    for b in 0..BATCHES {
        let r = srv.req("POST", "/v1/collections/c/vectors", Some(&batch(b)));
        assert_eq!(r.status, 200, "{}", r.body);
        // Gives the readers time to run between commits even on a slow machine.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    done.store(true, Ordering::Relaxed);
    let mut observed = std::collections::BTreeSet::new();
    for r in readers {
        observed.extend(r.join().unwrap());
    }
    assert!(
        observed.len() > 2,
        "readers ran alongside the writer: {observed:?}"
    );
    assert_eq!(
        srv.req("GET", "/v1/collections/c", None).json()["total_vectors"],
        BATCH * BATCHES
    );
}

#[test]
fn sigterm_finishes_and_keeps_every_acknowledged_batch() {
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(d.path(), &[]);
    srv.req("PUT", "/v1/collections/c", Some(r#"{"dimension": 4}"#));
    let addr = srv.addr.clone();
    let writer = std::thread::spawn(move || {
        let mut acked = 0;
        for b in 0..1000 {
            match try_request(&addr, "POST", "/v1/collections/c/vectors", Some(&batch(b))) {
                Some(r) if r.status == 200 => acked += 1,
                _ => break,
            }
        }
        acked
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, err) = srv.stop();
    let acked = writer.join().unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("closed cleanly"), "{err}");
    assert!(acked > 0);
    let st = json(&["status", p(&d.path().join("c.rvf"))]);
    let total = st["total_vectors"].as_u64().unwrap();
    assert_eq!(total % BATCH, 0);
    assert!(
        total >= acked * BATCH,
        "{total} stored, {acked} batches acknowledged"
    );
    assert_eq!(json(&["verify", p(&d.path().join("c.rvf"))])["ok"], true);
}
