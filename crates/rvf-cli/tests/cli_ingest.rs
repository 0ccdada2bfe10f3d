//! `rvf ingest` end to end: every input format, ids, metadata side files, bad input.

mod common;

use common::*;

fn store(dir: &std::path::Path, dim: &str) -> std::path::PathBuf {
    let s = dir.join("s.rvf");
    ok(&["create", p(&s), "--dim", dim, "--metric", "l2"]);
    s
}

#[test]
fn npy_float32_and_float64_with_generated_ids() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "3");
    let f32_file = d.path().join("a.npy");
    let vals: Vec<f32> = (0..12).map(|i| i as f32).collect();
    write_npy(&f32_file, 4, 3, &vals);
    let r = json(&["ingest", p(&s), p(&f32_file), "--batch-size", "3"]);
    assert_eq!(r["accepted"], 4);
    assert_eq!(r["batches"], 2);
    assert_eq!(
        (r["min_id"].as_u64(), r["max_id"].as_u64()),
        (Some(0), Some(3))
    );
    // float64, big-endian: ids continue after the highest stored id.
    let f64_file = d.path().join("b.npy");
    let data: Vec<u8> = [100.0f64, 101.0, 102.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    write_npy_raw(&f64_file, ">f8", "(1, 3)", &data);
    let r = json(&["ingest", p(&s), p(&f64_file)]);
    assert_eq!(r["min_id"], 4);
    let got = json(&["get", p(&s), "4"]);
    assert_eq!(got[0]["vector"], serde_json::json!([100.0, 101.0, 102.0]));
    // A 1-D array is one vector; --id-start picks the ids.
    let one = d.path().join("c.npy");
    write_npy_raw(
        &one,
        "<f4",
        "(3,)",
        &[1f32, 2., 3.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    );
    let r = json(&["ingest", p(&s), p(&one), "--id-start", "1000"]);
    assert_eq!(r["min_id"], 1000);
    assert_eq!(json(&["status", p(&s)])["total_vectors"], 6);
}

#[test]
fn npy_that_lies_or_is_foreign_fails_cleanly() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "3");
    let short = d.path().join("short.npy");
    write_npy_raw(&short, "<f4", "(10, 3)", &[0u8; 12]);
    let line = fails(&["ingest", p(&s), p(&short)], "RVF_E_PARSE");
    assert!(line.contains("ends early"), "{line}");
    let ints = d.path().join("ints.npy");
    write_npy_raw(&ints, "<i8", "(1, 3)", &[0u8; 24]);
    assert!(fails(&["ingest", p(&s), p(&ints)], "RVF_E_PARSE").contains("float32"));
    let fortran = d.path().join("f.npy");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let h = "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3), }\n";
    bytes.extend_from_slice(&(h.len() as u16).to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(&[0u8; 12]);
    std::fs::write(&fortran, bytes).unwrap();
    fails(&["ingest", p(&s), p(&fortran)], "RVF_E_PARSE");
    let text = d.path().join("text.npy");
    std::fs::write(&text, "just text\n").unwrap();
    fails(&["ingest", p(&s), p(&text)], "RVF_E_PARSE");
    let wrong_dim = d.path().join("w.npy");
    write_npy(&wrong_dim, 1, 4, &[0.0; 4]);
    fails(&["ingest", p(&s), p(&wrong_dim)], "RVF_E_DIMENSION");
    assert_eq!(json(&["status", p(&s)])["total_vectors"], 0);
}

#[test]
fn fvecs_rows_and_mixed_dimensions() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "2");
    let f = d.path().join("a.fvecs");
    write_fvecs(&f, &rows(5, 2));
    assert_eq!(json(&["ingest", p(&s), p(&f)])["accepted"], 5);
    let bad = d.path().join("b.fvecs");
    write_fvecs(&bad, &[vec![1.0, 2.0], vec![1.0, 2.0, 3.0]]);
    let line = fails(&["ingest", p(&s), p(&bad)], "RVF_E_PARSE");
    assert!(line.contains("row 1"), "{line}");
    let cut = d.path().join("c.fvecs");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&cut, bytes).unwrap();
    fails(&["ingest", p(&s), p(&cut)], "RVF_E_PARSE");
    let empty = d.path().join("e.fvecs");
    std::fs::write(&empty, "").unwrap();
    fails(&["ingest", p(&s), p(&empty)], "RVF_E_PARSE");
}

#[test]
fn jsonl_ids_metadata_and_errors_with_line_numbers() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "2");
    let f = d.path().join("a.jsonl");
    std::fs::write(
        &f,
        "{\"id\": 10, \"vector\": [1, 2], \"lang\": \"en\", \"year\": 2020, \"score\": 0.5, \"ok\": true, \"gone\": null}\n\n{\"id\": 11, \"vector\": [3, 4], \"lang\": \"de\"}\n",
    )
    .unwrap();
    assert_eq!(json(&["ingest", p(&s), p(&f)])["accepted"], 2);
    let got = json(&["get", p(&s), "10"]);
    assert_eq!(
        got[0]["metadata"],
        serde_json::json!({"lang": "en", "year": 2020, "score": 0.5, "ok": true})
    );
    let cases = [
        (
            "{\"id\": 1, \"vector\": [1, 2]}\n{\"vector\": [1, 2]}\n",
            "line 2",
        ),
        ("{\"id\": 1, \"vector\": [1, \"x\"]}\n", "not a number"),
        ("{\"id\": -1, \"vector\": [1, 2]}\n", "non-negative"),
        (
            "{\"id\": 1, \"vector\": [1, 2], \"tags\": [1]}\n",
            "array or object",
        ),
        (
            "{\"id\": 1, \"vector\": [1, 2]}\n{\"id\": 2, \"vector\": [1]}\n",
            "line 2",
        ),
        ("{\"id\": 1}\n", "`vector`"),
        ("not json\n", "line 1"),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let bad = d.path().join(format!("bad{i}.jsonl"));
        std::fs::write(&bad, text).unwrap();
        let line = fails(&["ingest", p(&s), p(&bad)], "RVF_E_PARSE");
        assert!(line.contains(expect), "case {i}: {line}");
    }
}

#[test]
fn csv_split_columns_json_column_and_typed_metadata() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "3");
    let split = d.path().join("a.csv");
    std::fs::write(&split, "id,v0,v1,v2,lang,year,score,draft,note\n5,1,2,3,en,2020,0.5,false,\n6,4,5,6,de,2021,1e3,true,hi there\n").unwrap();
    assert_eq!(json(&["ingest", p(&s), p(&split)])["accepted"], 2);
    let got = json(&["get", p(&s), "5", "6"]);
    assert_eq!(
        got[0]["metadata"],
        serde_json::json!({"lang": "en", "year": 2020, "score": 0.5, "draft": false})
    );
    assert_eq!(got[1]["metadata"]["note"], "hi there");
    assert_eq!(got[1]["metadata"]["score"], 1000.0);
    let col = d.path().join("b.csv");
    std::fs::write(&col, "vector,src\n\"[7, 8, 9]\",x\n").unwrap();
    let r = json(&["ingest", p(&s), p(&col)]);
    assert_eq!(r["min_id"], 7, "generated ids start after the highest id");
    for (i, text) in [
        "a,b\n1,2\n",
        "id,v0,v1,v2\nx,1,2,3\n",
        "id,v0,v1,v2\n1,1,2,zz\n",
        "vector\n\"[1, 2]\"\n",
        "id,v0,v1,v2\n1,1,2\n",
    ]
    .iter()
    .enumerate()
    {
        let bad = d.path().join(format!("bad{i}.csv"));
        std::fs::write(&bad, text).unwrap();
        fails_cleanly(&["ingest", p(&s), p(&bad)]);
    }
}

#[test]
fn side_file_metadata_joins_rows_and_gives_ids() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "2");
    let v = d.path().join("v.npy");
    write_npy(&v, 3, 2, &[1., 0., 0., 1., 1., 1.]);
    let m = d.path().join("m.jsonl");
    std::fs::write(&m, "{\"id\": 100, \"text\": \"a\"}\n{\"id\": 101, \"text\": \"b\"}\n{\"id\": 102, \"text\": \"c\"}\n").unwrap();
    let r = json(&[
        "ingest",
        p(&s),
        p(&v),
        "--metadata",
        p(&m),
        "--batch-size",
        "2",
    ]);
    assert_eq!(
        (r["min_id"].as_u64(), r["max_id"].as_u64()),
        (Some(100), Some(102))
    );
    assert_eq!(json(&["get", p(&s), "101"])[0]["metadata"]["text"], "b");
    let short = d.path().join("short.jsonl");
    std::fs::write(&short, "{\"text\": \"a\"}\n").unwrap();
    fails(
        &["ingest", p(&s), p(&v), "--metadata", p(&short)],
        "RVF_E_INVALID_ARGUMENT",
    );
    let long = d.path().join("long.jsonl");
    std::fs::write(&long, "{}\n{}\n{}\n{}\n").unwrap();
    fails(
        &["ingest", p(&s), p(&v), "--metadata", p(&long)],
        "RVF_E_INVALID_ARGUMENT",
    );
    fails(
        &["ingest", p(&s), p(&v), "--metadata", p(&v)],
        "RVF_E_UNSUPPORTED_FORMAT",
    );
}

#[test]
fn unknown_extension_missing_file_and_non_finite_values() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "2");
    let txt = d.path().join("a.txt");
    std::fs::write(&txt, "1 2\n").unwrap();
    fails(&["ingest", p(&s), p(&txt)], "RVF_E_UNSUPPORTED_FORMAT");
    fails(
        &["ingest", p(&s), p(&d.path().join("none.npy"))],
        "RVF_E_IO",
    );
    fails(
        &["ingest", p(&d.path().join("none.rvf")), p(&txt)],
        "RVF_E_UNSUPPORTED_FORMAT",
    );
    let nan = d.path().join("nan.npy");
    write_npy(&nan, 2, 2, &[f32::NAN, 1.0, 2.0, 3.0]);
    let r = json(&["ingest", p(&s), p(&nan)]);
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn a_large_ingest_builds_the_index_and_reports_it_apart() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "8");
    let f = d.path().join("big.fvecs");
    // Rows that are not all on one line, so the graph has something to do.
    let big: Vec<Vec<f32>> = (0..5_000)
        .map(|i| (0..8).map(|j| ((i * 31 + j * 17) % 97) as f32).collect())
        .collect();
    write_fvecs(&f, &big);
    let r = json(&["ingest", p(&s), p(&f)]);
    assert_eq!(r["accepted"], 5_000);
    assert_eq!(r["indexed_vectors"], 5_000, "{r}");
    assert!(r["index_seconds"].as_f64().is_some(), "{r}");
    let st = json(&["index", "status", p(&s)]);
    assert_eq!(
        (
            st["indexed_vectors"].as_u64(),
            st["pending_vectors"].as_u64()
        ),
        (Some(5_000), Some(0)),
        "{st}"
    );
    let text = ok(&["ingest", p(&s), p(&f)]);
    assert!(
        text.contains("indexed 5000 vectors for ANN search"),
        "{text}"
    );
    // A small ingest leaves its few vectors to the exact scan, as `close` does.
    let small = d.path().join("small.fvecs");
    write_fvecs(&small, &rows(5, 8));
    let r = json(&["ingest", p(&s), p(&small), "--id-start", "100000"]);
    assert_eq!(
        (r["indexed_vectors"].as_u64(), r["index_seconds"].is_null()),
        (Some(0), true),
        "{r}"
    );
}
