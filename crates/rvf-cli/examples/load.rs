//! A bounded load run of `rvf serve` over loopback: builds a collection of random
//! vectors, serves it in-process on 127.0.0.1 (an ephemeral port), fires queries from
//! concurrent keep-alive clients, and prints queries/s and latency percentiles.
//!
//! ```sh
//! cargo run --release -p rvf-cli --example load -- --vectors 100000 --dim 128 \
//!     --queries 3000 --clients 4 --k 10
//! ```
//!
//! Bounded in count (`--queries`) and time (`--max-seconds`): the run stops at whichever
//! comes first and reports what it measured. Queries use the ANN index (built before
//! serving); `--exact 1` makes every query a full scan instead.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rvf_cli::server::{serve, ServerConfig};
use rvf_runtime::{DistanceMetric, Durability, QueryOptions, RvfOptions, RvfStore};

struct Args {
    vectors: usize,
    dim: usize,
    queries: usize,
    clients: usize,
    k: usize,
    max_seconds: f64,
    exact: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        vectors: 100_000,
        dim: 128,
        queries: 3000,
        clients: 4,
        k: 10,
        max_seconds: 120.0,
        exact: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let v = pair.get(1).map(String::as_str).unwrap_or("");
        let n = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{} needs a number, got {v:?}", pair[0]))
        };
        match pair[0].as_str() {
            "--vectors" => a.vectors = n(v)?,
            "--dim" => a.dim = n(v)?.clamp(1, 65535),
            "--queries" => a.queries = n(v)?,
            "--clients" => a.clients = n(v)?.max(1),
            "--k" => a.k = n(v)?,
            "--max-seconds" => a.max_seconds = n(v)? as f64,
            "--exact" => a.exact = n(v)? != 0,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn random_rows(rng: &mut impl Rng, n: usize, dim: usize) -> Vec<f32> {
    (0..n * dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// One keep-alive HTTP/1.1 connection; responses are read by their Content-Length.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    addr: String,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Client {
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
            addr: addr.to_string(),
        }
    }

    fn post(&mut self, path: &str, body: &str) -> (u16, String) {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.writer.write_all(req.as_bytes()).expect("send");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0u8; len];
        self.reader.read_exact(&mut body).expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("rvf-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("load.rvf");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let t = Instant::now();
    let mut store = RvfStore::create(
        &path,
        RvfOptions {
            dimension: a.dim as u16,
            metric: DistanceMetric::L2,
            durability: Durability::OnClose,
            ..RvfOptions::default()
        },
    )
    .expect("create");
    let chunk = 10_000;
    for start in (0..a.vectors).step_by(chunk) {
        let n = chunk.min(a.vectors - start);
        let ids: Vec<u64> = (start as u64..(start + n) as u64).collect();
        store
            .ingest_flat(&random_rows(&mut rng, n, a.dim), &ids, None)
            .expect("ingest");
    }
    if !a.exact {
        store.build_index().expect("build index");
    }
    let options = QueryOptions {
        exact: a.exact,
        ..QueryOptions::default()
    };
    // The same queries through the library, for the cost of HTTP and JSON around them.
    let queries = random_rows(&mut rng, a.queries, a.dim);
    let mut direct: Vec<Duration> = queries
        .chunks_exact(a.dim)
        .take(50)
        .map(|q| {
            let t = Instant::now();
            store.query(q, a.k, &options).expect("query");
            t.elapsed()
        })
        .collect();
    direct.sort();
    store.close().expect("close");
    println!(
        "collection: {} x {} random f32 (L2) built in {:.1} s; {} queries; direct library query p50 {:.2} ms (1 thread, 50 queries)",
        a.vectors,
        a.dim,
        t.elapsed().as_secs_f64(),
        if a.exact { "exact" } else { "ANN (default ef)" },
        ms(percentile(&direct, 0.5))
    );

    let config = ServerConfig {
        dir: dir.clone(),
        api_key: None,
        read_only: false,
        max_body_bytes: 64 << 20,
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(async move {
        serve(listener, &config, async {
            let _ = stop_rx.await;
        })
        .await
    });

    // Warm-up: opens the collection and touches its pages.
    let mut warm = Client::connect(&addr);
    for q in queries.chunks_exact(a.dim).take(10) {
        let body = format!(
            "{{\"vector\": {q:?}, \"k\": {}, \"exact\": {}}}",
            a.k, a.exact
        );
        assert_eq!(warm.post("/v1/collections/load/query", &body).0, 200);
    }
    let deadline = Instant::now() + Duration::from_secs_f64(a.max_seconds);
    let per_client = a.queries.div_ceil(a.clients);
    let started = Instant::now();
    let handles: Vec<_> = (0..a.clients)
        .map(|c| {
            let addr = addr.clone();
            let mine: Vec<f32> = queries
                .chunks_exact(a.dim)
                .skip(c * per_client)
                .take(per_client)
                .flatten()
                .copied()
                .collect();
            let (dim, k, exact) = (a.dim, a.k, a.exact);
            std::thread::spawn(move || {
                let mut client = Client::connect(&addr);
                let mut lat = Vec::with_capacity(mine.len() / dim);
                for q in mine.chunks_exact(dim) {
                    if Instant::now() > deadline {
                        break;
                    }
                    let body =
                        format!("{{\"vector\": {q:?}, \"k\": {k}, \"exact\": {exact}, \"include_metadata\": false}}");
                    let t = Instant::now();
                    let (status, resp) = client.post("/v1/collections/load/query", &body);
                    lat.push(t.elapsed());
                    assert_eq!(status, 200, "{resp}");
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client"))
        .collect();
    let wall = started.elapsed();
    let _ = stop_tx.send(());
    let closed = rt.block_on(server).expect("server task").expect("serve");
    assert!(closed.is_empty(), "{closed:?}");
    lat.sort();
    println!(
        "load: {} queries (k={}) from {} concurrent keep-alive clients in {:.2} s{}",
        lat.len(),
        a.k,
        a.clients,
        wall.as_secs_f64(),
        if lat.len() < a.queries {
            " (stopped by --max-seconds)"
        } else {
            ""
        }
    );
    println!(
        "queries/s {:.0}; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
