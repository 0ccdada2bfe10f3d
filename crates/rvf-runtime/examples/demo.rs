//! A tour of RVF on real text embeddings: 50,000 sentence embeddings (all-MiniLM-L6-v2,
//! from `../shared/data/minilm-a`) go into one `.rvf` file; we search it, branch it for
//! an experiment, change the branch, and show that the base never changes.
//!
//! Run with: cargo run --release --example demo
//! (Without the data folder it falls back to random vectors with made-up texts.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{FilterExpr, MetaValue, Metadata, QueryOptions, RvfOptions, RvfStore};

struct Corpus {
    dim: usize,
    vectors: Vec<f32>,
    texts: Vec<(String, String)>,
    queries: Vec<f32>,
    query_texts: Vec<String>,
    ground_truth: Vec<Vec<u64>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = load_corpus()?;
    let n = corpus.texts.len();
    let work = PathBuf::from("target/rvf-demo");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    println!("== 1. One file holds the collection ==");
    let base_path = work.join("docs.rvf");
    let t = Instant::now();
    let mut base = RvfStore::create(
        &base_path,
        RvfOptions {
            dimension: corpus.dim as u16,
            metric: DistanceMetric::Cosine,
            ..Default::default()
        },
    )?;
    let refs: Vec<&[f32]> = corpus.vectors.chunks(corpus.dim).collect();
    let ids: Vec<u64> = (0..n as u64).collect();
    let metas: Vec<Metadata> = corpus
        .texts
        .iter()
        .map(|(_, source)| {
            let (kind, page) = source.split_once(':').unwrap_or((source, ""));
            let mut m = Metadata::new();
            m.insert("kind".into(), MetaValue::Str(kind.into()));
            m.insert("page".into(), MetaValue::Str(page.into()));
            m
        })
        .collect();
    for start in (0..n).step_by(10_000) {
        let end = (start + 10_000).min(n);
        base.ingest_batch(
            &refs[start..end],
            &ids[start..end],
            Some(&metas[start..end]),
        )?;
    }
    let st = base.status();
    println!(
        "  {} embeddings of {} dimensions in {} ({:.1} MB), stored in {:.2} s",
        st.total_vectors,
        st.dimension,
        base_path.display(),
        st.file_size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    println!("\n== 2. Exact nearest-neighbour search ==");
    for qi in [0usize, 1, 2] {
        show_query(&base, &corpus, qi, Some("exact"), true)?;
    }
    let exact = QueryOptions {
        exact: true,
        ..QueryOptions::default()
    };
    batch_recall(
        &base,
        &corpus,
        &exact,
        "exact scan, one batch on every core",
    )?;

    println!("\n== 2b. The ANN index ==");
    let t = Instant::now();
    base.build_index()?;
    let st = base.index_status().unwrap_or_else(|| unreachable!());
    println!(
        "  graph of {} vectors built in {:.1} s ({:.1} MB in the file, read in place after a reopen)",
        st.indexed_vectors,
        t.elapsed().as_secs_f64(),
        st.bytes as f64 / 1e6
    );
    show_query(&base, &corpus, 0, Some("ANN"), false)?;
    batch_recall(&base, &corpus, &QueryOptions::default(), "ANN, one batch")?;

    println!("\n== 3. Branch the collection for an experiment ==");
    let t = Instant::now();
    let mut experiment = base.branch(&work.join("stdlib-only.rvf"))?;
    println!(
        "  branched in {:.2} ms; the branch file is {} bytes and sees all {} vectors",
        t.elapsed().as_secs_f64() * 1e3,
        experiment.status().file_size,
        experiment.status().total_vectors
    );
    let removed =
        experiment.delete_by_filter(&FilterExpr::eq("kind", MetaValue::Str("man".into())))?;
    println!(
        "  experiment: drop every man-page chunk -> {} deleted; branch now {} vectors, {:.1} KB on disk",
        removed.deleted,
        experiment.status().total_vectors,
        experiment.status().file_size as f64 / 1024.0
    );
    show_query(
        &experiment,
        &corpus,
        0,
        Some("branch, ANN over the base's graph"),
        false,
    )?;
    show_query(&base, &corpus, 0, Some("base, unchanged"), false)?;

    println!("\n== 4. Freeze the base as a reproducible snapshot ==");
    base.freeze()?;
    match base.delete(&[0]) {
        Err(e) => println!("  writing to the frozen base fails: {e}"),
        Ok(_) => println!("  unexpected: the frozen base accepted a write"),
    }
    let stats = experiment.cow_stats().unwrap_or_else(|| unreachable!());
    println!(
        "  the branch holds {} of {} clusters locally; lineage depth {}",
        stats.local_cluster_count,
        stats.cluster_count,
        experiment.lineage_depth()
    );
    experiment.close()?;
    base.close()?;
    println!(
        "\nFiles are in {} — reopen them with RvfStore::open.",
        work.display()
    );
    Ok(())
}

/// Runs the first 200 queries in one batch and prints their rate and recall@10 against
/// the dataset's exact ground truth.
fn batch_recall(
    store: &RvfStore,
    c: &Corpus,
    options: &QueryOptions,
    what: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let nq = c.query_texts.len().min(200);
    if c.ground_truth.is_empty() {
        return Ok(());
    }
    let t = Instant::now();
    let qrefs: Vec<&[f32]> = c.queries.chunks(c.dim).take(nq).collect();
    let results = store.query_batch(&qrefs, 10, options)?;
    let secs = t.elapsed().as_secs_f64();
    let mut hits = 0usize;
    for (r, gt) in results.iter().zip(&c.ground_truth) {
        hits += r
            .iter()
            .filter(|x| gt.iter().take(10).any(|g| *g == x.id))
            .count();
    }
    println!(
        "  {nq} queries ({what}): {:.0} queries/s, recall@10 against the dataset's exact ground truth = {:.3}",
        nq as f64 / secs,
        hits as f64 / (nq * 10) as f64
    );
    Ok(())
}

fn show_query(
    store: &RvfStore,
    c: &Corpus,
    qi: usize,
    label: Option<&str>,
    exact: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let q = &c.queries[qi * c.dim..(qi + 1) * c.dim];
    let options = QueryOptions {
        exact,
        ..QueryOptions::default()
    };
    let t = Instant::now();
    let hits = store.query(q, 3, &options)?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let tag = label.map(|l| format!(" [{l}]")).unwrap_or_default();
    println!("  query{tag}: \"{}\"  ({ms:.1} ms)", c.query_texts[qi]);
    for h in hits {
        let (text, source) = &c.texts[h.id as usize];
        println!(
            "    {:.3}  {:<28} {}",
            h.distance,
            source,
            shorten(text, 90)
        );
    }
    Ok(())
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn load_corpus() -> Result<Corpus, Box<dyn std::error::Error>> {
    let dir = ["../shared/data/minilm-a", "../../shared/data/minilm-a"]
        .iter()
        .map(Path::new)
        .find(|p| p.join("minilm-a.npy").exists());
    let Some(dir) = dir else {
        eprintln!("(../shared/data/minilm-a not found: using 20,000 random vectors)");
        return Ok(random_corpus());
    };
    let (shape, vectors) = read_npy_f32(&dir.join("minilm-a.npy"))?;
    let (_, queries) = read_npy_f32(&dir.join("minilm-a-queries.npy"))?;
    let texts = read_texts(&dir.join("minilm-a-texts.jsonl"))?;
    let query_texts = read_texts(&dir.join("minilm-a-queries-texts.jsonl"))?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let (gt_shape, gt) = read_npy_i64(&dir.join("minilm-a-gt.npy"))?;
    let ground_truth = gt
        .chunks(gt_shape.get(1).copied().unwrap_or(1))
        .map(|r| r.iter().map(|&x| x as u64).collect())
        .collect();
    Ok(Corpus {
        dim: shape.get(1).copied().unwrap_or(0),
        vectors,
        texts,
        queries,
        query_texts,
        ground_truth,
    })
}

fn random_corpus() -> Corpus {
    let dim = 64;
    let mut x = 42u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let vectors = (0..20_000 * dim).map(|_| next()).collect();
    let queries = (0..10 * dim).map(|_| next()).collect();
    let texts = (0..20_000)
        .map(|i| {
            (
                format!("random document {i}"),
                format!("{}:doc{i}", if i % 2 == 0 { "man" } else { "stdlib" }),
            )
        })
        .collect();
    Corpus {
        dim,
        vectors,
        texts,
        queries,
        query_texts: (0..10).map(|i| format!("random query {i}")).collect(),
        ground_truth: Vec::new(),
    }
}

fn read_texts(path: &Path) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path)?.lines() {
        let v: HashMap<String, serde_json::Value> = serde_json::from_str(line)?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        out.push((field("text"), field("source")));
    }
    Ok(out)
}

/// Reads a little-endian, C-order `.npy` array: returns its shape and raw data bytes.
fn read_npy(path: &Path, descr: &str) -> Result<(Vec<usize>, Vec<u8>), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(format!("{}: not a .npy file", path.display()).into());
    }
    let (header_len, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(bytes.get(start..start + header_len).ok_or("short header")?)?;
    if !header.contains(descr) || header.contains("'fortran_order': True") {
        return Err(format!("{}: expected {descr} in C order", path.display()).into());
    }
    let shape_str = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or("no shape")?;
    let shape = shape_str
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok((shape, bytes[start + header_len..].to_vec()))
}

fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>), Box<dyn std::error::Error>> {
    let (shape, data) = read_npy(path, "<f4")?;
    Ok((
        shape,
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    ))
}

fn read_npy_i64(path: &Path) -> Result<(Vec<usize>, Vec<i64>), Box<dyn std::error::Error>> {
    let (shape, data) = read_npy(path, "<i8")?;
    Ok((
        shape,
        data.chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect(),
    ))
}
