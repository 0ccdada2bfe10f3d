//! Authentication, bind policy and hostile collection names.

mod common;

use std::process::Command;

use common::http::{request, Server};
use common::*;

#[test]
fn api_key_is_required_on_every_route() {
    let d = tempfile::tempdir().unwrap();
    sample_store(d.path(), "c", 3);
    let srv = Server::start(d.path(), &["--api-key", "s3cret-key"]);
    let routes = [
        ("GET", "/v1/health"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/collections"),
        ("GET", "/v1/collections/c"),
        ("PUT", "/v1/collections/n"),
        ("DELETE", "/v1/collections/c"),
        ("POST", "/v1/collections/c/vectors"),
        ("GET", "/v1/collections/c/vectors/1"),
        ("POST", "/v1/collections/c/vectors/delete"),
        ("POST", "/v1/collections/c/query"),
        ("POST", "/v1/collections/c/branch"),
        ("POST", "/v1/collections/c/freeze"),
        ("GET", "/v1/collections/c/membership"),
        ("POST", "/v1/collections/c/membership"),
        ("GET", "/v1/no-such-route"),
    ];
    for (method, path) in routes {
        for key in [None, Some("wrong"), Some("s3cret-ke"), Some("s3cret-key-")] {
            let r = request(&srv.addr, method, path, Some("{}"), key);
            assert_eq!(
                (r.status, r.code().as_str()),
                (401, "RVF_E_UNAUTHORIZED"),
                "{method} {path} {key:?}"
            );
        }
    }
    let r = request(
        &srv.addr,
        "GET",
        "/v1/collections/c",
        None,
        Some("s3cret-key"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["total_vectors"],
        3,
        "nothing was changed by refused requests"
    );
}

#[test]
fn api_key_from_the_environment() {
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(RVF)
        .args(["serve", p(d.path()), "--addr", "127.0.0.1:0"])
        .env("RVF_API_KEY", "from-env")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.contains("API key required"), "{line}");
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(request(&addr, "GET", "/v1/health", None, None).status, 401);
    assert_eq!(
        request(&addr, "GET", "/v1/health", None, Some("from-env")).status,
        200
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn remote_bind_without_a_key_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let line = fails(
        &["serve", p(d.path()), "--addr", "0.0.0.0:0"],
        "RVF_E_INVALID_ARGUMENT",
    );
    assert!(line.contains("--api-key"), "{line}");
    fails(
        &[
            "serve",
            p(d.path()),
            "--addr",
            "127.0.0.1:0",
            "--api-key",
            "",
        ],
        "RVF_E_INVALID_ARGUMENT",
    );
    fails(
        &[
            "serve",
            p(&d.path().join("missing")),
            "--addr",
            "127.0.0.1:0",
        ],
        "RVF_E_INVALID_ARGUMENT",
    );
    fails(
        &["serve", p(d.path()), "--addr", "not an address"],
        "RVF_E_INVALID_ARGUMENT",
    );
    // The explicit opt-ins pass this check (tested in `server::tests` without binding
    // a reachable socket).
}

#[test]
fn hostile_names_never_reach_files_outside_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let served = root.path().join("served");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let secret = sample_store(&outside, "secret", 4);
    sample_store(&served, "ok", 2);
    std::os::unix::fs::symlink(&secret, served.join("evil.rvf")).unwrap();
    std::os::unix::fs::symlink(outside.join("nothing.rvf"), served.join("dangling.rvf")).unwrap();
    std::fs::write(outside.join("x.rvf"), b"").unwrap();
    let srv = Server::start(&served, &[]);
    let bad_names = [
        "..",
        "%2e%2e",
        "%2E%2E",
        ".",
        "a.b",
        "a%2Fb",
        "..%2F..%2Foutside%2Fsecret",
        "%2Fetc%2Fpasswd",
        "a%00b",
        "%20",
        "evil",
        "dangling",
        &"x".repeat(65),
    ];
    for name in bad_names {
        for (method, suffix, body) in [
            ("GET", "", None),
            ("PUT", "", Some(r#"{"dimension": 4}"#)),
            ("DELETE", "", None),
            ("POST", "/query", Some(r#"{"vector": [0, 0, 0, 0]}"#)),
            (
                "POST",
                "/vectors",
                Some(r#"{"ids": [9], "vectors": [[1, 2, 3, 4]]}"#),
            ),
        ] {
            let r = srv.req(method, &format!("/v1/collections/{name}{suffix}"), body);
            assert!(
                r.status == 400 || r.status == 404,
                "{method} {name}{suffix}: {} {}",
                r.status,
                r.body
            );
            assert_ne!(r.status / 100, 2, "{method} {name}{suffix}");
        }
    }
    for target in ["../outside/x", "..", "a/b", "/tmp/x", "evil"] {
        let body = serde_json::json!({ "name": target }).to_string();
        let r = srv.req("POST", "/v1/collections/ok/branch", Some(&body));
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "RVF_E_BAD_NAME"),
            "branch to {target}"
        );
    }
    for raw in [
        "/v1/collections//etc/passwd",
        "/v1/collections/../../etc/passwd",
        "/v1/collections/a/b",
    ] {
        let r = srv.req("GET", raw, None);
        assert_ne!(r.status / 100, 2, "{raw}: {}", r.body);
    }
    let list = srv.req("GET", "/v1/collections", None).json();
    let names: Vec<&str> = list["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("error").is_none())
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, vec!["ok"]);
    drop(srv);
    // Nothing outside changed, and nothing new appeared there.
    assert_eq!(json(&["status", p(&secret)])["total_vectors"], 4);
    assert_eq!(json(&["status", p(&secret)])["epoch"], 2);
    let mut entries: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, vec!["secret-input.jsonl", "secret.rvf", "x.rvf"]);
    assert_eq!(std::fs::metadata(outside.join("x.rvf")).unwrap().len(), 0);
}
