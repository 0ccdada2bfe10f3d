//! The graphs a view searches, wherever they are: in this file or an ancestor (read in
//! place through the map, checksummed on first use), or built and not yet written.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rvf_format::{read_segment, GraphView, SegRef, SegmentType};

use crate::checksum::read_verified;
use crate::error::{Result, RvfError};
use crate::load::metric_code;
use crate::view::View;

const UNCHECKED: u8 = 0;
const GOOD: u8 = 1;
const BAD: u8 = 2;

/// An encoded graph in memory, 8-byte aligned like a mapped payload.
#[derive(Debug)]
pub(crate) struct MemGraph {
    words: Vec<u64>,
    len: usize,
}

impl MemGraph {
    pub fn new(bytes: &[u8]) -> MemGraph {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        MemGraph {
            words,
            len: bytes.len(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        let all: &[u8] = bytemuck::cast_slice(&self.words);
        all.get(..self.len).unwrap_or(all)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum GraphSource {
    /// An INDEX_SEG of `View::files[file]`; its payload checksum is verified once.
    Mapped {
        segment: SegRef,
        check: Arc<AtomicU8>,
    },
    /// Built by this process and not written yet (this file's own).
    Memory(Arc<MemGraph>),
}

/// One graph a view searches: it covers slots `first_slot..first_slot + nodes` of
/// the file `file` (an index into `View::files`).
#[derive(Debug, Clone)]
pub(crate) struct ViewGraph {
    pub file: u16,
    pub first_slot: u64,
    pub nodes: u32,
    pub source: GraphSource,
}

impl ViewGraph {
    pub fn mapped(file: u16, entry: &rvf_format::GraphEntry, verified: bool) -> ViewGraph {
        ViewGraph {
            file,
            first_slot: entry.first_slot,
            nodes: entry.nodes,
            source: GraphSource::Mapped {
                segment: entry.segment,
                check: Arc::new(AtomicU8::new(if verified { GOOD } else { UNCHECKED })),
            },
        }
    }

    pub fn end_slot(&self) -> u64 {
        self.first_slot + u64::from(self.nodes)
    }

    /// Bytes of the graph's segment in its file (0 for one not written yet).
    pub fn stored_bytes(&self) -> u64 {
        match &self.source {
            GraphSource::Mapped { segment, .. } => segment.len,
            GraphSource::Memory(_) => 0,
        }
    }

    /// The same graph seen from a child (its file is one step further down the list).
    pub fn inherited(&self) -> ViewGraph {
        ViewGraph {
            file: self.file + 1,
            ..self.clone()
        }
    }

    /// The graph, read in place. Its checksum is verified on first use, and its header
    /// must agree with what the index map and the store say it is.
    pub fn view<'a>(&'a self, view: &'a View) -> Result<GraphView<'a>> {
        // Full checks the first time (a graph built here passed them when it was
        // encoded), bounds-only afterwards.
        let mut first_use = false;
        let (payload, path) = match &self.source {
            GraphSource::Memory(g) => (g.bytes(), None),
            GraphSource::Mapped { segment, check } => {
                let file = view
                    .files
                    .get(usize::from(self.file))
                    .ok_or_else(|| RvfError::internal("graph refers to an unknown file"))?;
                let bad = |e: &dyn std::fmt::Display| {
                    RvfError::corrupt(&file.path, segment.offset, format!("INDEX_SEG: {e}"))
                };
                let verify = match check.load(Ordering::Acquire) {
                    GOOD => false,
                    BAD => return Err(bad(&"segment failed its check")),
                    _ => true,
                };
                let read = match verify {
                    true => read_verified(file.bytes(), segment.offset, SegmentType::Index),
                    false => read_segment(file.bytes(), segment.offset, SegmentType::Index, false),
                };
                if read.is_err() {
                    self.mark(BAD);
                }
                let (_, payload) = read.map_err(|e| bad(&e))?;
                first_use = verify;
                (payload, Some((&file.path, segment.offset)))
            }
        };
        let decoded = if first_use {
            GraphView::decode(payload)
        } else {
            GraphView::decode_checked_before(payload)
        };
        // A graph that fails a check is marked, so later queries fail at once.
        let fail = |detail: String| {
            self.mark(BAD);
            match path {
                Some((p, off)) => RvfError::corrupt(p, off, detail),
                None => RvfError::internal(detail),
            }
        };
        let g = decoded.map_err(|e| fail(e.to_string()))?;
        let h = &g.header;
        if h.first_slot != self.first_slot
            || h.nodes != self.nodes
            || h.dim != view.config.dim
            || h.metric != metric_code(view.config.metric)
        {
            return Err(fail(
                "INDEX_SEG: graph does not match its index map or the store".into(),
            ));
        }
        if first_use {
            self.mark(GOOD);
        }
        Ok(g)
    }

    fn mark(&self, state: u8) {
        if let GraphSource::Mapped { check, .. } = &self.source {
            check.store(state, Ordering::Release);
        }
    }
}
