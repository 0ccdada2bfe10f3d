//! Side-by-side benchmarks of RVF: exact search against faiss flat indexes, ingest, open
//! after a long history, and copy-on-write branching against plain file copies.
//!
//! `cargo run --release -p rvf-bench -- all` runs everything, prints a markdown table on
//! stdout and writes it to `docs/benchmarks.md`. See `--help` for the parts.

mod ann;
mod branch;
mod data;
mod docs;
mod exact;
mod ingest;
mod machine;
mod open;
mod peer;
mod report;
mod search;
mod stores;
mod timing;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::data::Dataset;
use crate::peer::Peer;
use crate::report::Row;

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(about = "RVF benchmarks, side by side with faiss (flat) and file copies")]
struct Cli {
    #[command(subcommand)]
    part: Part,
    /// Smaller sizes and fewer repetitions, for a fast check of the harness.
    #[arg(long, global = true)]
    quick: bool,
    /// Skip the faiss peer (its columns show n/a).
    #[arg(long, global = true)]
    no_peer: bool,
    /// Where generated data and stores go (default: <workspace>/bench-data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Directory of the MiniLM files (default: <workspace>/../shared/data/minilm-a).
    #[arg(long, global = true)]
    minilm_dir: Option<PathBuf>,
    /// Write the report to this file (default for a full `all` run: docs/benchmarks.md).
    #[arg(long, global = true)]
    report: Option<PathBuf>,
    /// Do not write a report file, only print the table.
    #[arg(long, global = true)]
    no_report: bool,
    /// Before each part, wait up to this many seconds for other processes to leave the
    /// CPUs idle (under 10 % busy).
    #[arg(long, global = true, default_value_t = 0)]
    wait_quiet: u64,
    /// Keep the stores under <data-dir>/tmp and <data-dir>/stores (for profiling them).
    #[arg(long, global = true)]
    keep_scratch: bool,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    /// Every benchmark below, then the report.
    All,
    /// 1–2: single-query latency and 2-thread batch search against faiss.
    Search,
    /// 3: bulk ingest with `Durability::OnClose` against faiss add and write+fsync.
    Ingest,
    /// 4: open time after 10,000 commits and 100,000 deletes against a fresh store.
    Open,
    /// 5–7: branch time, query overhead on children, child disk growth.
    Branch,
    /// 8: the ANN index against hnswlib: build, bytes, recall against queries/s.
    Ann,
}

/// Sizes and repetition counts of one run.
pub struct Scale {
    pub quick: bool,
    /// Synthetic base sizes (128-d) searched; the last one is also ingested and branched.
    pub synthetic: Vec<usize>,
    pub dim: usize,
    /// Search rounds (ours then the peer's); each side keeps its best round.
    pub rounds: usize,
    pub single_queries: usize,
    pub batch_queries: usize,
    pub batch_reps: usize,
    pub warmup: usize,
    pub k: usize,
    pub ingest_batch: usize,
    pub ingest_reps: usize,
    pub open_commits: usize,
    pub open_deletes: usize,
    pub open_reps: usize,
    /// Parent sizes for branch timing (prefixes of the largest synthetic set).
    pub branch_parents: Vec<usize>,
    pub branch_reps: usize,
    pub copy_reps: usize,
    pub edit_fraction: f64,
    pub growth_batch: usize,
}

impl Scale {
    fn new(quick: bool) -> Scale {
        if quick {
            Scale {
                quick,
                synthetic: vec![20_000, 100_000],
                dim: 128,
                rounds: 1,
                single_queries: 50,
                batch_queries: 200,
                batch_reps: 1,
                warmup: 3,
                k: 10,
                ingest_batch: 10_000,
                ingest_reps: 1,
                open_commits: 1_000,
                open_deletes: 10_000,
                open_reps: 31,
                branch_parents: vec![10_000, 100_000],
                branch_reps: 5,
                copy_reps: 2,
                edit_fraction: 0.01,
                growth_batch: 100,
            }
        } else {
            Scale {
                quick,
                synthetic: vec![200_000, 1_000_000],
                dim: 128,
                rounds: 3,
                single_queries: 200,
                batch_queries: 1000,
                batch_reps: 3,
                warmup: 5,
                k: 10,
                ingest_batch: 100_000,
                ingest_reps: 5,
                open_commits: 10_000,
                open_deletes: 100_000,
                open_reps: 101,
                branch_parents: vec![10_000, 100_000, 1_000_000],
                branch_reps: 20,
                copy_reps: 5,
                edit_fraction: 0.01,
                growth_batch: 100,
            }
        }
    }

    /// Queries generated per synthetic set (enough for single and batch runs).
    fn queries(&self) -> usize {
        self.single_queries.max(self.batch_queries)
    }
}

/// Paths, sizes and the peer: what every benchmark reads.
pub struct Env {
    pub root: PathBuf,
    pub data_dir: PathBuf,
    pub minilm_dir: PathBuf,
    pub scale: Scale,
    pub peer: Peer,
    /// `--wait-quiet`: how long to wait for idle CPUs before a measurement.
    pub wait_quiet: Option<std::time::Duration>,
}

impl Env {
    /// Waits (up to `--wait-quiet`) for other processes to leave the CPUs idle.
    pub fn settle(&self) {
        if let Some(max) = self.wait_quiet {
            machine::wait_quiet(max);
        }
    }
}

/// The datasets, loaded (or generated) on first use and kept for later benchmarks.
pub struct Datasets {
    synthetic: Vec<Option<Dataset>>,
    minilm: Option<Dataset>,
}

impl Datasets {
    fn new(scale: &Scale) -> Datasets {
        Datasets {
            synthetic: scale.synthetic.iter().map(|_| None).collect(),
            minilm: None,
        }
    }

    /// The `i`-th synthetic dataset of the scale.
    pub fn synthetic(&mut self, env: &Env, i: usize) -> BenchResult<&Dataset> {
        let slot = &mut self.synthetic[i];
        if slot.is_none() {
            let n = env.scale.synthetic[i];
            let s = &env.scale;
            *slot = Some(data::synthetic(&env.data_dir, n, s.dim, s.queries())?);
        }
        Ok(slot.as_ref().expect("just loaded"))
    }

    /// The largest synthetic dataset (ingested and branched).
    pub fn largest(&mut self, env: &Env) -> BenchResult<&Dataset> {
        self.synthetic(env, env.scale.synthetic.len() - 1)
    }

    pub fn minilm(&mut self, env: &Env) -> BenchResult<&Dataset> {
        if self.minilm.is_none() {
            progress(format!("reading MiniLM from {}", env.minilm_dir.display()));
            self.minilm = Some(data::minilm(&env.minilm_dir)?);
        }
        Ok(self.minilm.as_ref().expect("just loaded"))
    }
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// A progress line on stderr, stamped with the time since start.
pub fn progress(msg: impl AsRef<str>) {
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("[{t:7.1}s] {}", msg.as_ref());
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> BenchResult<()> {
    let cli = Cli::parse();
    progress("rvf-bench starting");
    stores::KEEP_SCRATCH.store(cli.keep_scratch, std::sync::atomic::Ordering::Relaxed);
    let root = workspace_root();
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(|| root.join("bench-data"));
    std::fs::create_dir_all(&data_dir)?;
    let minilm_dir = cli
        .minilm_dir
        .clone()
        .unwrap_or_else(|| root.join("../shared/data/minilm-a"));
    let scale = Scale::new(cli.quick);
    let mut data = Datasets::new(&scale);
    let env = Env {
        peer: Peer::new(&root, !cli.no_peer),
        root,
        data_dir,
        minilm_dir,
        scale,
        wait_quiet: (cli.wait_quiet > 0).then(|| std::time::Duration::from_secs(cli.wait_quiet)),
    };
    let peer_info = env.peer.run(&["info".into()]);

    let mut rows: Vec<Row> = Vec::new();
    let part = cli.part;
    let load_start = machine::loadavg();
    env.settle();
    let stream_before = machine::stream_read_gbps(5);
    progress(format!(
        "one core streams memory at {stream_before:.1} GB/s"
    ));
    let mut contention = Vec::new();
    type Bench = fn(&Env, &mut Datasets, &mut Vec<Row>) -> BenchResult<()>;
    let parts: [(Part, &str, Bench); 5] = [
        (Part::Ingest, "ingest", ingest::run),
        (Part::Search, "search", search::run),
        (Part::Open, "open", open::run),
        (Part::Branch, "branch", branch::run),
        (Part::Ann, "ann", ann::run),
    ];
    for (p, name, bench) in parts {
        if part != Part::All && part != p {
            continue;
        }
        env.settle();
        let before = machine::CpuSample::now();
        bench(&env, &mut data, &mut rows)?;
        if let (Some(a), Some(b)) = (before, machine::CpuSample::now()) {
            contention.push((name.to_string(), a.others_percent(&b)));
        }
    }
    rows.sort_by_key(|r| r.section);
    // Stores are rebuilt by every run (see `stores::cached`), so none is worth keeping.
    if !cli.keep_scratch {
        let _ = std::fs::remove_dir_all(env.data_dir.join("stores"));
        let _ = std::fs::remove_dir(env.data_dir.join("tmp"));
    }

    let run = docs::RunInfo {
        command: command_line(&cli),
        contention,
        load_start,
        load_end: machine::loadavg(),
        stream_gbps: (stream_before, machine::stream_read_gbps(5)),
    };
    let doc = docs::render(&env, &run, Peer::find(&peer_info, "info"), &rows);
    println!("{doc}");
    let report = match (&cli.report, cli.no_report) {
        (_, true) => None,
        (Some(p), false) => Some(p.clone()),
        (None, false) if part == Part::All && !cli.quick => {
            Some(env.root.join("docs/benchmarks.md"))
        }
        _ => None,
    };
    if let Some(path) = report {
        let doc = doc + &kept_sections(&path);
        std::fs::write(&path, &doc)?;
        progress(format!("report written to {}", path.display()));
    }
    Ok(())
}

/// Lines of the report that mark where the sections of other benchmark commands begin
/// (the server's load run, the Python package): they are carried over when this
/// program rewrites the file.
const KEPT_MARKER: &str =
    "<!-- sections below are written by other benchmark commands; rvf-bench keeps them -->";

/// The kept sections of the report at `path` (from the marker on), or nothing.
fn kept_sections(path: &std::path::Path) -> String {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    match old.find(KEPT_MARKER) {
        Some(at) => format!("\n{}", old.get(at..).unwrap_or_default()),
        None => String::new(),
    }
}

/// The command that reproduces this run.
fn command_line(cli: &Cli) -> String {
    let mut cmd = format!(
        "cargo run --release -p rvf-bench -- {}",
        format!("{:?}", cli.part).to_lowercase()
    );
    if cli.quick {
        cmd.push_str(" --quick");
    }
    if cli.no_peer {
        cmd.push_str(" --no-peer");
    }
    if cli.wait_quiet > 0 {
        cmd.push_str(&format!(" --wait-quiet {}", cli.wait_quiet));
    }
    cmd
}
