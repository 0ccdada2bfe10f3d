//! The ANN index of RVF: a graph per range of slots, HNSW layers whose traversal reads
//! 8-bit codes of the vectors (a quarter of the memory traffic of `f32`), stored by
//! `rvf-format` as an INDEX_SEG and searched in place.
//!
//! * [`Metric`] and [`Prepared`]: how a query is scored against codes.
//! * [`build`]: builds a graph over vectors, on several threads.
//! * [`search`]: a beam search over a [`rvf_format::GraphView`], admitting to the
//!   results only the nodes a filter accepts (the others still route).
//!
//! Distances here are approximate and only steer the search; callers re-score the
//! candidates with exact kernels.

mod build;
mod quant;
mod search;
mod visited;

pub use build::{build, BuildParams, BuiltGraph};
pub use quant::{Metric, Prepared, Sq8};
pub use search::{search, Candidate, SearchStats};
