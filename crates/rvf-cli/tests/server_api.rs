//! `rvf serve` end to end over loopback: every endpoint, and the errors clients see.

mod common;

use common::http::Server;
use common::*;
use serde_json::json;

fn vectors_body(ids: std::ops::Range<u64>, dim: usize) -> String {
    let ids: Vec<u64> = ids.collect();
    let vectors: Vec<Vec<f32>> = ids
        .iter()
        .map(|&i| (0..dim).map(|j| (i as f32) + j as f32 / 10.0).collect())
        .collect();
    let metadata: Vec<serde_json::Value> = ids
        .iter()
        .map(|&i| json!({"group": i % 3, "name": format!("v{i}")}))
        .collect();
    json!({"ids": ids, "vectors": vectors, "metadata": metadata}).to_string()
}

#[test]
fn every_endpoint_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(d.path(), &[]);
    assert_eq!(srv.req("GET", "/v1/health", None).json()["status"], "ok");
    assert_eq!(
        srv.req("GET", "/v1/collections", None).json()["collections"],
        json!([])
    );
    let r = srv.req(
        "PUT",
        "/v1/collections/docs",
        Some(r#"{"dimension": 3, "metric": "cosine"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["metric"], "cosine");
    assert_eq!(
        srv.req("PUT", "/v1/collections/docs", Some(r#"{"dimension": 3}"#))
            .code(),
        "RVF_E_EXISTS"
    );
    let r = srv.req(
        "POST",
        "/v1/collections/docs/vectors",
        Some(&vectors_body(0..10, 3)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["accepted"], 10);
    let list = srv.req("GET", "/v1/collections", None).json();
    assert_eq!(list["collections"][0]["name"], "docs");
    assert_eq!(list["collections"][0]["total_vectors"], 10);
    let st = srv.req("GET", "/v1/collections/docs", None).json();
    assert_eq!(
        (st["total_vectors"].as_u64(), st["dimension"].as_u64()),
        (Some(10), Some(3))
    );
    let v = srv
        .req("GET", "/v1/collections/docs/vectors/4", None)
        .json();
    assert_eq!(v["metadata"], json!({"group": 1, "name": "v4"}));
    assert_eq!(v["vector"], json!([4.0, 4.1, 4.2]));
    let q = srv
        .req(
            "POST",
            "/v1/collections/docs/query",
            Some(r#"{"id": 4, "k": 3, "filter": "group = 1"}"#),
        )
        .json();
    let ids: Vec<u64> = q["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids[0], 4);
    assert!(ids.iter().all(|i| i % 3 == 1), "{ids:?}");
    assert_eq!(q["exact"], true);
    let q = srv.req("POST", "/v1/collections/docs/query", Some(r#"{"vector": [0, 0.1, 0.2], "k": 2, "exact": true, "ef": 40, "include_metadata": false}"#)).json();
    assert_eq!(q["results"][0]["id"], 0);
    assert!(q["results"][0].get("metadata").is_none());
    assert!(q["notes"][0].as_str().unwrap().contains("ef was ignored"));
    let del = srv
        .req(
            "POST",
            "/v1/collections/docs/vectors/delete",
            Some(r#"{"ids": [0, 1, 99]}"#),
        )
        .json();
    assert_eq!(del["deleted"], 2);
    let del = srv
        .req(
            "POST",
            "/v1/collections/docs/vectors/delete",
            Some(r#"{"filter": "group = 2"}"#),
        )
        .json();
    assert_eq!(
        (del["deleted"].as_u64(), del["total_vectors"].as_u64()),
        (Some(3), Some(5))
    );
    let b = srv.req(
        "POST",
        "/v1/collections/docs/branch",
        Some(r#"{"name": "exp"}"#),
    );
    assert_eq!(b.status, 201, "{}", b.body);
    assert_eq!(b.json()["lineage_depth"], 1);
    let m = srv
        .req(
            "POST",
            "/v1/collections/exp/membership",
            Some(r#"{"exclude": [3, 4]}"#),
        )
        .json();
    assert_eq!(
        (m["mode"].as_str(), m["ids"].clone()),
        (Some("exclude"), json!([3, 4]))
    );
    let m = srv
        .req(
            "POST",
            "/v1/collections/exp/membership",
            Some(r#"{"mode": "include", "include": [6]}"#),
        )
        .json();
    assert_eq!(m["ids"], json!([6]));
    assert_eq!(
        srv.req("GET", "/v1/collections/exp/membership", None)
            .json()["member_count"],
        1
    );
    assert_eq!(
        srv.req("GET", "/v1/collections/exp", None).json()["total_vectors"],
        1
    );
    assert_eq!(
        srv.req("GET", "/v1/collections/docs", None).json()["total_vectors"],
        5
    );
    assert_eq!(
        srv.req("GET", "/v1/collections/docs/membership", None)
            .code(),
        "RVF_E_NOT_A_CHILD"
    );
    let f = srv.req("POST", "/v1/collections/docs/freeze", None).json();
    assert_eq!(f["frozen"], true);
    let r = srv.req(
        "POST",
        "/v1/collections/docs/vectors",
        Some(&vectors_body(50..51, 3)),
    );
    assert_eq!((r.status, r.code().as_str()), (409, "RVF_E_FROZEN"));
    let r = srv.req("DELETE", "/v1/collections/exp", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!d.path().join("exp.rvf").exists());
    assert_eq!(
        srv.req("GET", "/v1/collections/exp", None).code(),
        "RVF_E_COLLECTION_NOT_FOUND"
    );
    let (status, err) = srv.stop();
    assert!(status.success(), "{err}");
    // What the server wrote is a sound store for the CLI.
    assert_eq!(
        json_of(&["verify", p(&d.path().join("docs.rvf"))])["ok"],
        true
    );
}

fn json_of(args: &[&str]) -> serde_json::Value {
    common::json(args)
}

#[test]
fn every_documented_operation_is_routed() {
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(d.path(), &[]);
    let doc = srv.req("GET", "/v1/openapi.json", None).json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10);
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{name}", "nosuch").replace("{id}", "1");
            let body = (method != "get" && method != "delete").then_some("{}");
            let r = srv.req(&method.to_uppercase(), &concrete, body);
            assert!(
                !matches!(r.code().as_str(), "RVF_E_NO_ROUTE" | "RVF_E_METHOD"),
                "{method} {path} is documented but not routed: {}",
                r.body
            );
        }
    }
    assert_eq!(srv.req("GET", "/v1/nothing", None).code(), "RVF_E_NO_ROUTE");
    assert_eq!(
        srv.req("PATCH", "/v1/collections/x", Some("{}")).code(),
        "RVF_E_METHOD"
    );
}

#[test]
fn client_errors_are_json_with_codes_and_statuses() {
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(d.path(), &["--max-body-bytes", "2000"]);
    srv.req("PUT", "/v1/collections/c", Some(r#"{"dimension": 3}"#));
    let cases: Vec<(&str, &str, Option<&str>, u16, &str)> = vec![
        (
            "POST",
            "/v1/collections/c/vectors",
            Some("{not json"),
            400,
            "RVF_E_BAD_JSON",
        ),
        (
            "POST",
            "/v1/collections/c/vectors",
            Some(r#"{"ids": [1], "vectors": [[1, 2]]}"#),
            400,
            "RVF_E_DIMENSION",
        ),
        (
            "POST",
            "/v1/collections/c/vectors",
            Some(r#"{"ids": [1, 2], "vectors": [[1, 2, 3]]}"#),
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/collections/c/vectors",
            Some(r#"{"ids": [1], "vectors": [[1, 2, 3]], "extra": 1}"#),
            422,
            "RVF_E_BAD_JSON",
        ),
        (
            "POST",
            "/v1/collections/c/vectors",
            Some(r#"{"ids": [-1], "vectors": [[1, 2, 3]]}"#),
            422,
            "RVF_E_BAD_JSON",
        ),
        (
            "POST",
            "/v1/collections/c/vectors",
            Some(r#"{"ids": [1], "vectors": [[1, 2, 3]], "metadata": [{"t": [1]}]}"#),
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/collections/c/query",
            Some(r#"{"vector": [1, 2], "k": 1}"#),
            400,
            "RVF_E_DIMENSION",
        ),
        (
            "POST",
            "/v1/collections/c/query",
            Some(r#"{"vector": [1, 2, 3], "filter": "a = "}"#),
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/collections/c/query",
            Some(r#"{"k": 1}"#),
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/collections/c/query",
            Some(r#"{"id": 12345}"#),
            404,
            "RVF_E_ID_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/collections/c/vectors/delete",
            Some(r#"{}"#),
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "GET",
            "/v1/collections/c/vectors/abc",
            None,
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "GET",
            "/v1/collections/c/vectors/7",
            None,
            404,
            "RVF_E_ID_NOT_FOUND",
        ),
        (
            "GET",
            "/v1/collections/nope",
            None,
            404,
            "RVF_E_COLLECTION_NOT_FOUND",
        ),
        (
            "PUT",
            "/v1/collections/d",
            Some(r#"{"dimension": 0}"#),
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "PUT",
            "/v1/collections/d",
            Some(r#"{"dimension": 3, "metric": "hamming"}"#),
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/collections/c/membership",
            Some(r#"{"mode": "sideways"}"#),
            400,
            "RVF_E_INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/collections/c/membership",
            Some(r#"{"exclude": [1]}"#),
            409,
            "RVF_E_NOT_A_CHILD",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let r = srv.req(method, path, body);
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{method} {path} {body:?}: {}",
            r.body
        );
        assert!(r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let big = vectors_body(0..100, 3);
    assert!(big.len() > 2000);
    let r = srv.req("POST", "/v1/collections/c/vectors", Some(&big));
    assert_eq!(
        (r.status, r.code().as_str()),
        (413, "RVF_E_TOO_LARGE"),
        "{}",
        r.body
    );
    let r = common::http::request_raw(
        &srv.addr,
        "POST",
        "/v1/collections/c/query",
        Some(b"{}"),
        None,
        "text/plain",
    );
    assert_eq!((r.status, r.code().as_str()), (415, "RVF_E_CONTENT_TYPE"));
    assert_eq!(
        srv.req("GET", "/v1/collections/c", None).json()["total_vectors"],
        0
    );
}

#[test]
fn read_only_mode_refuses_writes_and_serves_reads() {
    let d = tempfile::tempdir().unwrap();
    sample_store(d.path(), "ro", 6);
    let srv = Server::start(d.path(), &["--read-only"]);
    assert_eq!(
        srv.req("GET", "/v1/collections/ro", None).json()["total_vectors"],
        6
    );
    assert_eq!(
        srv.req(
            "POST",
            "/v1/collections/ro/query",
            Some(r#"{"id": 1, "k": 1}"#)
        )
        .json()["results"][0]["id"],
        1
    );
    for (method, path, body) in [
        ("PUT", "/v1/collections/new", Some(r#"{"dimension": 4}"#)),
        ("DELETE", "/v1/collections/ro", None),
        (
            "POST",
            "/v1/collections/ro/vectors",
            Some(r#"{"ids": [1], "vectors": [[1, 2, 3, 4]]}"#),
        ),
        (
            "POST",
            "/v1/collections/ro/vectors/delete",
            Some(r#"{"ids": [1]}"#),
        ),
        (
            "POST",
            "/v1/collections/ro/branch",
            Some(r#"{"name": "b"}"#),
        ),
        ("POST", "/v1/collections/ro/freeze", None),
        (
            "POST",
            "/v1/collections/ro/membership",
            Some(r#"{"exclude": [1]}"#),
        ),
    ] {
        let r = srv.req(method, path, body);
        assert_eq!(
            (r.status, r.code().as_str()),
            (403, "RVF_E_READ_ONLY"),
            "{method} {path}"
        );
    }
    // Read-only servers take no writer lock: the CLI can still write.
    ok(&["delete", p(&d.path().join("ro.rvf")), "1"]);
}
