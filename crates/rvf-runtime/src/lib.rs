//! RVF runtime: an embedded, single-file vector store with copy-on-write branching.
//!
//! ```no_run
//! use rvf_runtime::options::DistanceMetric;
//! use rvf_runtime::{QueryOptions, RvfOptions, RvfStore};
//!
//! # fn main() -> Result<(), rvf_runtime::RvfError> {
//! let opts = RvfOptions { dimension: 3, metric: DistanceMetric::Cosine, ..Default::default() };
//! let mut store = RvfStore::create("docs.rvf".as_ref(), opts)?;
//! store.ingest_batch(&[&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0]], &[1, 2], None)?;
//! let mut branch = store.branch("experiment.rvf".as_ref())?;
//! branch.delete(&[1])?;
//! let hits = store.query(&[1.0, 0.1, 0.0], 1, &QueryOptions::default())?;
//! assert_eq!(hits[0].id, 1);
//! # Ok(()) }
//! ```
//!
//! The file format is specified in `docs/format.md`.

#[cfg(target_endian = "big")]
compile_error!(
    "RVF files are little-endian and are read in place; big-endian hosts are not supported"
);

mod bitset;
mod branch;
mod checksum;
mod commit;
mod compact;
mod error;
#[cfg(feature = "fault-injection")]
pub use fileio::faults;
mod fileio;
mod filter;
mod filter_parse;
mod idmap;
mod idset;
mod index;
pub mod inspect;
mod load;
mod local;
mod mmap;
pub mod options;
mod os;
mod query;
mod recover;
mod run;
mod runmap;
mod search;
mod store;
mod topk;
mod vecwrite;
mod view;
mod write;
mod writeback;
mod writer;

pub use error::{Result, RvfError};
pub use filter::FilterExpr;
pub use index::IndexStatus;
pub use local::{MembershipFilter, MembershipMode};
pub use options::{
    DistanceMetric, Durability, IndexOptions, OpenOptions, QueryOptions, RvfOptions,
};
pub use query::{cosine_distance, distance};
pub use recover::Recovery;
pub use rvf_format::{MetaValue, Metadata};
pub use store::{CowStats, RvfStore, StoreStatus, VectorRecord};
pub use topk::SearchResult;
pub use write::{DeleteResult, IngestResult};
