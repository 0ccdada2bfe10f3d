//! INDEX_MAP: the ANN index of one generation of a file, named by the manifest's
//! `index_root`: the index options, and the graphs (INDEX_SEG) this file holds, each
//! covering a range of slots. A branch's inherited graphs are found in its ancestors'
//! INDEX_MAPs of the generations it pinned.
//!
//! Payload: `u32 flags` (bit 0: the index is on), `u16 m`, `u16 reserved`,
//! `u32 ef_construction`, `u32 ef_search` (0 = chosen per query), `u32 graph count`,
//! `u32 reserved`, then per graph 32 bytes: `u64 offset`, `u64 length` of its segment,
//! `u64 first_slot`, `u32 nodes`, `u32 reserved`.

use crate::bytes::{put_u16, put_u32, put_u64, ByteReader};
use crate::error::{FormatError, Result};
use crate::manifest::SegRef;

const WHAT: &str = "INDEX_MAP";
const FLAG_ENABLED: u32 = 1;
pub const GRAPH_ENTRY_LEN: usize = 32;

/// The index options stored in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSettings {
    pub enabled: bool,
    pub m: u16,
    pub ef_construction: u32,
    /// Default `ef_search` (0: chosen per query from k).
    pub ef_search: u32,
}

/// One graph of this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphEntry {
    pub segment: SegRef,
    pub first_slot: u64,
    pub nodes: u32,
}

impl GraphEntry {
    pub fn end_slot(&self) -> u64 {
        self.first_slot + u64::from(self.nodes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMap {
    pub settings: IndexSettings,
    pub graphs: Vec<GraphEntry>,
}

impl IndexMap {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.graphs.len() * GRAPH_ENTRY_LEN);
        put_u32(
            &mut out,
            if self.settings.enabled {
                FLAG_ENABLED
            } else {
                0
            },
        );
        put_u16(&mut out, self.settings.m);
        put_u16(&mut out, 0);
        put_u32(&mut out, self.settings.ef_construction);
        put_u32(&mut out, self.settings.ef_search);
        put_u32(&mut out, self.graphs.len() as u32);
        put_u32(&mut out, 0);
        for g in &self.graphs {
            put_u64(&mut out, g.segment.offset);
            put_u64(&mut out, g.segment.len);
            put_u64(&mut out, g.first_slot);
            put_u32(&mut out, g.nodes);
            put_u32(&mut out, 0);
        }
        out
    }

    pub fn decode(payload: &[u8]) -> Result<IndexMap> {
        let mut r = ByteReader::new(payload, WHAT);
        let flags = r.u32()?;
        if flags & !FLAG_ENABLED != 0 {
            return Err(FormatError::invalid(
                WHAT,
                format!("unknown flags {flags:#x}"),
            ));
        }
        let m = r.u16()?;
        r.expect_zeros(2)?;
        let settings = IndexSettings {
            enabled: flags & FLAG_ENABLED != 0,
            m,
            ef_construction: r.u32()?,
            ef_search: r.u32()?,
        };
        if settings.m < 2 || settings.m > 256 || settings.ef_construction == 0 {
            return Err(FormatError::invalid(WHAT, "index options out of range"));
        }
        let raw = u64::from(r.u32()?);
        r.expect_zeros(4)?;
        let n = r.count(raw, GRAPH_ENTRY_LEN)?;
        let mut graphs = Vec::with_capacity(n);
        for _ in 0..n {
            let g = GraphEntry {
                segment: SegRef {
                    offset: r.u64()?,
                    len: r.u64()?,
                },
                first_slot: r.u64()?,
                nodes: r.u32()?,
            };
            r.expect_zeros(4)?;
            if g.nodes == 0 || g.first_slot.checked_add(u64::from(g.nodes)).is_none() {
                return Err(FormatError::invalid(
                    WHAT,
                    "graph with no nodes or overflowing slots",
                ));
            }
            graphs.push(g);
        }
        if !r.is_empty() {
            return Err(FormatError::invalid(WHAT, "trailing bytes"));
        }
        Ok(IndexMap { settings, graphs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let m = IndexMap {
            settings: IndexSettings {
                enabled: true,
                m: 16,
                ef_construction: 200,
                ef_search: 0,
            },
            graphs: vec![GraphEntry {
                segment: SegRef {
                    offset: 4096,
                    len: 1 << 20,
                },
                first_slot: 0,
                nodes: 1000,
            }],
        };
        assert_eq!(IndexMap::decode(&m.encode()).unwrap(), m);
        let mut off = m.clone();
        off.settings.enabled = false;
        off.graphs.clear();
        assert_eq!(IndexMap::decode(&off.encode()).unwrap(), off);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = IndexMap::decode(&bytes);
        }
    }
}
