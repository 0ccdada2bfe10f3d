//! On-disk types and codecs of RVF, the single-file vector store.
//!
//! This crate does no I/O: every decoder takes `&[u8]` and every encoder returns bytes.
//! Decoders are total — any input gives a value or a [`FormatError`], never a panic —
//! and cap every length they read by the bytes actually present. The byte-level
//! specification is `docs/format.md` at the repository root.

mod bitmap;
mod bytes;
mod delta;
mod error;
mod graph;
mod indexmap;
pub mod layout;
mod manifest;
mod metadata;
mod root;
mod runs;
mod segment;
mod sets;
mod vecseg;

pub use bitmap::{decode_slot_bitmap, encode_slot_bitmap};
pub use bytes::{align_up, ByteReader};
pub use delta::{decode_membership, encode_dead_set, encode_membership, Delta, MembershipModeCode};
pub use error::{FormatError, Result};
pub use graph::{
    encode_graph, GraphData, GraphHeader, GraphView, UpperLayer, CODE_ALIGN, GRAPH_HEADER_LEN,
    MAX_DEGREE, MAX_LEVEL,
};
pub use indexmap::{GraphEntry, IndexMap, IndexSettings, GRAPH_ENTRY_LEN};
pub use manifest::{
    manifest_hash, vectors_per_cluster, Manifest, MetricCode, ParentRef, SegRef, MANIFEST_FIXED_LEN,
};
pub use metadata::{
    decode_metadata, encode_metadata, validate_metadata, MetaValue, Metadata, MAX_META_NAME_LEN,
    MAX_META_STR_LEN,
};
pub use root::{choose_root, RootSlot};
pub use runs::{
    decode_run_table, encode_id_index, encode_run_table, IdIndex, RunDesc, RunKind, RunTable,
    RUN_DESC_LEN,
};
pub use segment::{encode_segment, read_segment, read_segment_of, SegmentHeader, SegmentType};
pub use sets::{
    decode_sorted_set, decode_spans, encode_sorted_set, encode_spans, span_count, spans_of, Span,
    NO_LIMIT,
};
pub use vecseg::{encode_slot_seg, SlotSeg, VecSegLayout, RUN_HEADER_LEN};
