//! Argument definitions (clap derive). Every subcommand's help ends with examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rvf",
    version,
    about = "Create, fill, query, inspect, branch and serve RVF vector stores (.rvf files)",
    after_help = "Examples:
  rvf create docs.rvf --dim 384 --metric cosine
  rvf ingest docs.rvf minilm-a.npy --metadata minilm-a-texts.jsonl
  rvf query docs.rvf --id 42 -k 5
  rvf branch docs.rvf experiment.rvf
  rvf serve ./stores --addr 127.0.0.1:8080

Errors print one line `error[RVF_E_...]: message` on stderr; the exit status is 2 for a
command line that does not parse and 1 for every other failure."
)]
pub struct Cli {
    /// Print results as JSON (for scripts)
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an empty store
    #[command(after_help = "Examples:
  rvf create docs.rvf --dim 384 --metric cosine
  rvf create sift.rvf --dim 128 --metric l2 --cluster-bytes 131072")]
    Create(CreateArgs),
    /// Add vectors from a .npy, .fvecs, .jsonl or .csv file (upsert by id)
    #[command(after_help = "Formats (chosen by extension):
  .npy    float32 or float64, shape (rows, dim) or (dim,), C order; no ids
  .fvecs  per row an i32 dimension then that many f32; no ids
  .jsonl  {\"id\": 7, \"vector\": [..], \"lang\": \"en\"}: `id` optional (on every line or
          on none), other fields become metadata (int, float, string, bool; null = absent)
  .csv    a header row; an optional `id` column; the vector as a `vector` column holding
          a JSON array, or as columns v0, v1, ...; other columns become metadata, typed
          per cell (integer, float, true/false, else string; empty = absent)

Ids: taken from the file (or from an `id` field of the --metadata file); otherwise
generated, counting up from --id-start, which defaults to one more than the highest id in
the store (0 for an empty store). Re-ingesting an id replaces its vector and metadata.

--metadata F.jsonl joins line i of F to row i of INPUT: its fields become that row's
metadata, and its `id`, if any, the row's id.

The whole file is written with one sync at the end; if ingest fails part-way, the
batches before the failure are kept.

Examples:
  rvf ingest docs.rvf minilm-a.npy --metadata minilm-a-texts.jsonl
  rvf ingest docs.rvf extra.jsonl --batch-size 5000
  rvf ingest sift.rvf sift_base.fvecs --quiet")]
    Ingest(IngestArgs),
    /// Find the k nearest vectors to a query vector
    #[command(
        after_help = "Filter syntax: field = value, != < <= > >=, field in [v, ...], and, or, not,
parentheses; values are integers, floats, \"strings\" and true/false.

Examples:
  rvf query docs.rvf --id 42 -k 5
  rvf query docs.rvf --vector '[0.1, 0.2, 0.3]' -k 10 --json
  rvf query docs.rvf --vector-file queries.npy --row 3 -k 5 --filter 'source = \"man:ls.1\"'
  rvf query docs.rvf --id 7 -k 3 --filter 'year >= 2020 and lang in [\"en\", \"de\"]'"
    )]
    Query(QueryArgs),
    /// Print stored vectors and their metadata by id
    #[command(after_help = "Examples:
  rvf get docs.rvf 42
  rvf get docs.rvf 1 2 3 --json")]
    Get(GetArgs),
    /// Delete vectors by id or by a metadata filter
    #[command(after_help = "Examples:
  rvf delete docs.rvf 1 2 3
  rvf delete experiment.rvf --filter 'source = \"man:top.1\"'")]
    Delete(DeleteArgs),
    /// Show a store's counters (vectors, dimension, metric, size, lineage, ...)
    #[command(after_help = "Examples:
  rvf status docs.rvf
  rvf status docs.rvf --json")]
    Status(StoreArg),
    /// List every segment of the file and both root slots, with checksum results
    #[command(
        after_help = "Lists every segment from byte 1024 to the end of the file: offset, type,
segment id, epoch, payload length, whether its checksums hold, and whether it lies past
the committed end (an uncommitted tail, dropped by the next writer).

Examples:
  rvf inspect docs.rvf
  rvf inspect docs.rvf --json"
    )]
    Inspect(StoreArg),
    /// Check every checksum of the committed state and its ancestors (exit 1 on any problem)
    #[command(
        after_help = "Checks the manifest, checkpoint, journal and every VEC_SEG and SLOT_SEG of the
committed generation, then of each ancestor's pinned generation, and that the parent
chain resolves. Lists every problem found and exits with status 1 if there is any.

Examples:
  rvf verify docs.rvf
  rvf verify experiment.rvf --json"
    )]
    Verify(StoreArg),
    /// Rewrite the file keeping only what the current state needs
    #[command(
        after_help = "Branches that pinned an earlier generation of this store stop opening
afterwards (with an error that says so).

Example:
  rvf compact docs.rvf"
    )]
    Compact(StoreArg),
    /// Copy every inherited vector into a branch so it no longer needs its parent
    #[command(after_help = "Example:
  rvf materialize experiment.rvf")]
    Materialize(StoreArg),
    /// Create a copy-on-write branch CHILD of STORE
    #[command(
        after_help = "The child sees STORE as it is now; later writes on either side are invisible to
the other. Branching is O(1) in the size of STORE.

Example:
  rvf branch docs.rvf experiment.rvf"
    )]
    Branch(BranchArgs),
    /// Make the store's current state immutable (branch from it to write)
    #[command(after_help = "Example:
  rvf freeze docs.rvf")]
    Freeze(StoreArg),
    /// Show or change which inherited vectors a branch sees
    #[command(
        after_help = "`include IDS` makes inherited ids visible and `exclude IDS` hides them, in either
mode. `mode include` starts from an empty include set (hides every inherited vector);
`mode exclude` from an empty exclude set (shows them all).

Examples:
  rvf membership experiment.rvf show
  rvf membership experiment.rvf exclude 3 4 5
  rvf membership experiment.rvf mode include
  rvf membership experiment.rvf include 1 2"
    )]
    Membership(MembershipArgs),
    /// Show the store's ancestors: file ids, pinned generations, paths, state, sizes
    #[command(after_help = "Example:
  rvf lineage experiment.rvf")]
    Lineage(StoreArg),
    /// The ANN index: build it now, or show how much of the store it covers
    #[command(subcommand)]
    Index(IndexCommand),
    /// Serve the stores of a directory over HTTP/JSON (one NAME.rvf = one collection)
    #[command(
        after_help = "Routes live under /v1 (GET /v1/openapi.json describes them all). With
--api-key (or RVF_API_KEY), every request needs `Authorization: Bearer KEY`. Binding an
address other than loopback without a key is refused unless
--allow-unauthenticated-remote is given. Stops cleanly on Ctrl-C or SIGTERM.

Examples:
  rvf serve ./stores
  rvf serve ./stores --addr 127.0.0.1:8080 --api-key s3cret
  rvf serve ./stores --addr 0.0.0.0:8080 --api-key s3cret --read-only"
    )]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct StoreArg {
    /// The .rvf file
    pub store: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MetricArg {
    /// Squared Euclidean distance
    L2,
    /// Inner product (reported negated: smaller is closer)
    Ip,
    /// 1 - cosine similarity
    Cosine,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The .rvf file to create (must not exist)
    pub store: PathBuf,
    /// Vector dimension (1..=65535)
    #[arg(long)]
    pub dim: u16,
    /// Distance metric
    #[arg(long, value_enum)]
    pub metric: MetricArg,
    /// Bytes per cluster, the unit a branch copies (a multiple of 64)
    #[arg(long, default_value_t = 65536)]
    pub cluster_bytes: u32,
    /// Keep no ANN index: every query scans every vector
    #[arg(long)]
    pub no_index: bool,
    /// ANN graph degree (neighbours per node on the upper layers; twice that on the base)
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    /// ANN build breadth: larger builds slower and finds better neighbours
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    pub store: PathBuf,
    /// Vector file: .npy, .fvecs, .jsonl or .csv
    pub input: PathBuf,
    /// A .jsonl file whose line i holds the metadata (and optionally the id) of row i
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// Vectors per commit
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// First generated id (default: one more than the highest id in the store)
    #[arg(long)]
    pub id_start: Option<u64>,
    /// No progress bar
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    pub store: PathBuf,
    /// The query vector as a JSON array
    #[arg(long)]
    pub vector: Option<String>,
    /// A file holding the query: a JSON array, or a row of a .npy/.fvecs/.jsonl/.csv file
    #[arg(long)]
    pub vector_file: Option<PathBuf>,
    /// Row of --vector-file to use
    #[arg(long, default_value_t = 0, requires = "vector_file")]
    pub row: usize,
    /// Query with the stored vector of this id (it is its own nearest neighbour)
    #[arg(long)]
    pub id: Option<u64>,
    /// How many neighbours
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Only vectors whose metadata matches this expression
    #[arg(long)]
    pub filter: Option<String>,
    /// Scan every vector instead of searching the ANN index (the reference answer)
    #[arg(long)]
    pub exact: bool,
    /// ANN search breadth (default: the store's setting, else max(4k, 40)); higher is slower and finds more true neighbours
    #[arg(long)]
    pub ef: Option<usize>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    pub store: PathBuf,
    /// Ids to print
    #[arg(required = true)]
    pub ids: Vec<u64>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    pub store: PathBuf,
    /// Ids to delete
    pub ids: Vec<u64>,
    /// Delete every vector whose metadata matches this expression
    #[arg(long)]
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct BranchArgs {
    /// The parent store
    pub store: PathBuf,
    /// The new branch file (must not exist)
    pub child: PathBuf,
}

#[derive(Debug, Args)]
pub struct MembershipArgs {
    pub store: PathBuf,
    #[command(subcommand)]
    pub action: MembershipAction,
}

#[derive(Debug, Subcommand)]
pub enum MembershipAction {
    /// Print the mode and the listed ids
    Show,
    /// Make these inherited ids visible
    Include {
        #[arg(required = true)]
        ids: Vec<u64>,
    },
    /// Hide these inherited ids
    Exclude {
        #[arg(required = true)]
        ids: Vec<u64>,
    },
    /// Reset the filter to an empty set in this mode
    Mode { mode: ModeArg },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Include,
    Exclude,
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Index every vector no graph covers yet, with every core (close does it too
    /// when 4,096 or more are pending)
    #[command(after_help = "Example:
  rvf index build docs.rvf")]
    Build(StoreArg),
    /// Vectors indexed and pending, graphs, bytes, options
    #[command(after_help = "Example:
  rvf index status docs.rvf --json")]
    Status(StoreArg),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory whose NAME.rvf files are the collections
    pub dir: PathBuf,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Require `Authorization: Bearer KEY` on every request
    #[arg(long, env = "RVF_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Refuse every write
    #[arg(long)]
    pub read_only: bool,
    /// Allow a non-loopback address without --api-key
    #[arg(long)]
    pub allow_unauthenticated_remote: bool,
    /// Largest request body accepted, in bytes
    #[arg(long, default_value_t = 64 << 20)]
    pub max_body_bytes: usize,
}
