//! INDEX_SEG: one immutable graph of the ANN index (HNSW layers over 8-bit codes), laid
//! out so a reader uses it in place through the memory map, with no per-node decoding.
//!
//! Node `i` of a graph is slot `first_slot + i` of the store. Payload, every array
//! starting at a multiple of 64 bytes (offsets in the header):
//!
//! | field | size |
//! |---|---|
//! | header | 128 bytes (below) |
//! | `mins` | `dim` f32: per-component offset of the codes |
//! | `steps` | `dim` f32: per-component scale of the codes |
//! | `code_norms` | `nodes` f32: squared norm of each node's decoded vector |
//! | `codes` | `nodes x code_stride` u8 (`code_stride` = `dim` rounded up to 32) |
//! | `level0` | `nodes x (1 + m0)` u32: neighbour count, then `m0` neighbour slots |
//! | `levels` | `nodes` u8: the top layer of each node |
//! | upper layers | for each layer `1..=max_level`: u32 count, `count` node ids (ascending), then `count x (1 + m)` u32 as in `level0`; each layer starts on a 64-byte boundary |
//!
//! A cosine graph holds the codes of the unit-normalised vectors. Neighbour ids and
//! counts are not checked when the graph is opened (that would read every node): the
//! search skips an id out of range and caps a count at the layer's degree, so damage
//! inside the arrays can cost recall, never a wrong answer (results are re-scored from
//! the vectors) or a read out of bounds.

use crate::bytes::{align_up, put_u16, put_u32, put_u64, ByteReader};
use crate::error::{FormatError, Result};
use crate::manifest::MetricCode;

pub const GRAPH_HEADER_LEN: usize = 128;
const WHAT: &str = "INDEX_SEG";

/// Codes of a node are padded to this many bytes, so SIMD loads stay in its row.
pub const CODE_ALIGN: usize = 32;

/// The largest degree a layer may have (bounds the per-node rows).
pub const MAX_DEGREE: u16 = 512;
/// The highest layer a node may reach.
pub const MAX_LEVEL: u8 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphHeader {
    pub dim: u16,
    pub metric: MetricCode,
    /// Degree of the upper layers.
    pub m: u16,
    /// Degree of layer 0.
    pub m0: u16,
    pub max_level: u8,
    pub entry: u32,
    pub nodes: u32,
    pub first_slot: u64,
    /// `ef_construction` the graph was built with (informational).
    pub ef_construction: u32,
}

impl GraphHeader {
    pub fn code_stride(&self) -> usize {
        align_up(u64::from(self.dim), CODE_ALIGN as u64) as usize
    }

    /// Offsets of the arrays in the payload, and the payload length without the upper
    /// layers (which follow at `upper`).
    fn layout(&self) -> Option<Layout> {
        let n = self.nodes as usize;
        let dim = usize::from(self.dim);
        let a = |x: usize| Some(align_up(x as u64, 64) as usize);
        let mins = GRAPH_HEADER_LEN;
        let steps = mins + dim * 4;
        let code_norms = a(steps + dim * 4)?;
        let codes = a(code_norms.checked_add(n.checked_mul(4)?)?)?;
        let level0 = a(codes.checked_add(n.checked_mul(self.code_stride())?)?)?;
        let row0 = 1 + usize::from(self.m0);
        let levels = a(level0.checked_add(n.checked_mul(row0)?.checked_mul(4)?)?)?;
        let upper = a(levels.checked_add(n)?)?;
        Some(Layout {
            mins,
            steps,
            code_norms,
            codes,
            level0,
            levels,
            upper,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.dim);
        out.push(self.metric as u8);
        out.push(self.max_level);
        put_u16(out, self.m);
        put_u16(out, self.m0);
        put_u32(out, self.entry);
        put_u32(out, self.nodes);
        put_u64(out, self.first_slot);
        put_u32(out, self.ef_construction);
        out.resize(GRAPH_HEADER_LEN, 0);
    }

    fn decode(r: &mut ByteReader<'_>) -> Result<GraphHeader> {
        let dim = r.u16()?;
        let metric = MetricCode::from_u8(r.u8()?)?;
        let max_level = r.u8()?;
        let h = GraphHeader {
            dim,
            metric,
            max_level,
            m: r.u16()?,
            m0: r.u16()?,
            entry: r.u32()?,
            nodes: r.u32()?,
            first_slot: r.u64()?,
            ef_construction: r.u32()?,
        };
        r.expect_zeros(GRAPH_HEADER_LEN - 32)?;
        let bad = |d: &str| Err(FormatError::invalid(WHAT, d.to_string()));
        if h.dim == 0 {
            return bad("dimension 0");
        }
        if h.m == 0 || h.m0 == 0 || h.m > MAX_DEGREE || h.m0 > MAX_DEGREE {
            return bad("layer degree out of range");
        }
        if h.max_level > MAX_LEVEL {
            return bad("too many layers");
        }
        if h.nodes == 0 || h.entry >= h.nodes {
            return bad("no nodes, or the entry point is not one");
        }
        if h.first_slot.checked_add(u64::from(h.nodes)).is_none() {
            return bad("slot range overflows");
        }
        Ok(h)
    }
}

struct Layout {
    mins: usize,
    steps: usize,
    code_norms: usize,
    codes: usize,
    level0: usize,
    levels: usize,
    upper: usize,
}

/// One upper layer: its nodes (ascending) and their neighbour rows.
#[derive(Debug, Clone, Copy)]
pub struct UpperLayer<'a> {
    pub nodes: &'a [u32],
    /// `nodes.len() x (1 + m)`.
    pub links: &'a [u32],
}

/// A graph read in place.
#[derive(Debug, Clone)]
pub struct GraphView<'a> {
    pub header: GraphHeader,
    pub mins: &'a [f32],
    pub steps: &'a [f32],
    pub code_norms: &'a [f32],
    pub codes: &'a [u8],
    pub level0: &'a [u32],
    pub levels: &'a [u8],
    /// Layers `1..=max_level`.
    pub upper: Vec<UpperLayer<'a>>,
}

fn cast<T: bytemuck::Pod>(payload: &[u8], at: usize, count: usize) -> Result<&[T]> {
    let len = count
        .checked_mul(std::mem::size_of::<T>())
        .ok_or_else(|| FormatError::invalid(WHAT, "array size overflows"))?;
    let bytes = at
        .checked_add(len)
        .and_then(|end| payload.get(at..end))
        .ok_or(FormatError::Truncated {
            what: WHAT,
            need: (at + len) as u64,
            have: payload.len() as u64,
        })?;
    bytemuck::try_cast_slice(bytes).map_err(|_| FormatError::invalid(WHAT, "array is misaligned"))
}

impl<'a> GraphView<'a> {
    /// Reads a graph in place. The payload must start 4-byte aligned (segment payloads
    /// in a mapped file start 64-byte aligned).
    pub fn decode(payload: &'a [u8]) -> Result<GraphView<'a>> {
        Self::decode_inner(payload, true)
    }

    /// `decode` without the checks that read every node id of the upper layers (their
    /// order, and the entry point's place on the top one), for a payload that passed
    /// `decode` before: a search decodes its graph on every query, and those checks
    /// would cost more than the search on a small graph. Bounds are still checked, so
    /// a payload that would fail them gives an error here too, never a panic; the
    /// skipped checks only guard search quality.
    pub fn decode_checked_before(payload: &'a [u8]) -> Result<GraphView<'a>> {
        Self::decode_inner(payload, false)
    }

    fn decode_inner(payload: &'a [u8], check_order: bool) -> Result<GraphView<'a>> {
        let mut r = ByteReader::new(payload, WHAT);
        let header = GraphHeader::decode(&mut r)?;
        let l = header
            .layout()
            .ok_or_else(|| FormatError::invalid(WHAT, "sizes overflow"))?;
        let n = header.nodes as usize;
        let dim = usize::from(header.dim);
        let row0 = 1 + usize::from(header.m0);
        let mut g = GraphView {
            header,
            mins: cast(payload, l.mins, dim)?,
            steps: cast(payload, l.steps, dim)?,
            code_norms: cast(payload, l.code_norms, n)?,
            codes: cast(payload, l.codes, n * header.code_stride())?,
            level0: cast(payload, l.level0, n * row0)?,
            levels: cast(payload, l.levels, n)?,
            upper: Vec::new(),
        };
        let row = 1 + usize::from(header.m);
        let mut at = l.upper;
        for level in 1..=header.max_level {
            let count = cast::<u32>(payload, at, 1)?.first().copied().unwrap_or(0) as usize;
            if count == 0 || count > n {
                return Err(FormatError::invalid(
                    WHAT,
                    format!("layer {level} has {count} nodes"),
                ));
            }
            let nodes: &[u32] = cast(payload, at + 4, count)?;
            let links: &[u32] = cast(payload, at + 4 + count * 4, count * row)?;
            if check_order
                && (!nodes.windows(2).all(|w| w[0] < w[1])
                    || nodes.last().is_some_and(|&v| v as usize >= n))
            {
                return Err(FormatError::invalid(
                    WHAT,
                    format!("layer {level}: node ids not ascending or out of range"),
                ));
            }
            g.upper.push(UpperLayer { nodes, links });
            at = align_up((at + 4 + count * 4 + count * row * 4) as u64, 64) as usize;
        }
        if at != payload.len() {
            return Err(FormatError::invalid(
                WHAT,
                "payload length disagrees with the graph",
            ));
        }
        if check_order
            && g.upper
                .last()
                .is_some_and(|l| !l.nodes.contains(&header.entry))
        {
            return Err(FormatError::invalid(
                WHAT,
                "entry point is not on the top layer",
            ));
        }
        Ok(g)
    }

    /// The codes of node `i` (`code_stride` bytes; empty past the end).
    #[inline]
    pub fn codes_of(&self, i: u32) -> &'a [u8] {
        let s = self.header.code_stride();
        let at = i as usize * s;
        self.codes.get(at..at + s).unwrap_or(&[])
    }

    /// Neighbours of node `i` on layer 0 (at most `m0`; empty past the end).
    #[inline]
    pub fn neighbours0(&self, i: u32) -> &'a [u32] {
        let row = 1 + usize::from(self.header.m0);
        row_of(self.level0, i as usize * row, row)
    }

    /// The whole stored row of node `i` on layer 0 (count, then `m0` slots), read or
    /// not: a search prefetches it before it needs the neighbours.
    #[inline]
    pub fn row0(&self, i: u32) -> &'a [u32] {
        let row = 1 + usize::from(self.header.m0);
        let at = i as usize * row;
        self.level0.get(at..at + row).unwrap_or(&[])
    }

    /// Neighbours of node `i` on upper layer `level` (1-based; empty when the node is
    /// not on that layer).
    pub fn neighbours(&self, level: u8, i: u32) -> &'a [u32] {
        let Some(layer) = self.upper.get(usize::from(level).wrapping_sub(1)) else {
            return &[];
        };
        let row = 1 + usize::from(self.header.m);
        match layer.nodes.binary_search(&i) {
            Ok(k) => row_of(layer.links, k * row, row),
            Err(_) => &[],
        }
    }
}

/// The neighbours stored in the row at `at` of `rows` (count first, capped).
#[inline]
fn row_of(rows: &[u32], at: usize, row: usize) -> &[u32] {
    let Some(r) = rows.get(at..at + row) else {
        return &[];
    };
    let count = (r[0] as usize).min(row - 1);
    &r[1..1 + count]
}

/// A graph to write: the same arrays, owned.
#[derive(Debug, Clone, Default)]
pub struct GraphData {
    pub mins: Vec<f32>,
    pub steps: Vec<f32>,
    pub code_norms: Vec<f32>,
    pub codes: Vec<u8>,
    pub level0: Vec<u32>,
    pub levels: Vec<u8>,
    /// Per upper layer: nodes (ascending) and their rows.
    pub upper: Vec<(Vec<u32>, Vec<u32>)>,
}

/// Encodes a graph payload. The arrays must have the sizes the header implies.
pub fn encode_graph(header: &GraphHeader, g: &GraphData) -> Vec<u8> {
    let mut out = Vec::new();
    header.encode(&mut out);
    let pad = |out: &mut Vec<u8>| out.resize(align_up(out.len() as u64, 64) as usize, 0);
    for x in g.mins.iter().chain(&g.steps) {
        out.extend_from_slice(&x.to_le_bytes());
    }
    pad(&mut out);
    for x in &g.code_norms {
        out.extend_from_slice(&x.to_le_bytes());
    }
    pad(&mut out);
    out.extend_from_slice(&g.codes);
    pad(&mut out);
    for x in &g.level0 {
        out.extend_from_slice(&x.to_le_bytes());
    }
    pad(&mut out);
    out.extend_from_slice(&g.levels);
    pad(&mut out);
    for (nodes, links) in &g.upper {
        put_u32(&mut out, nodes.len() as u32);
        for x in nodes.iter().chain(links) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        pad(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (GraphHeader, GraphData) {
        let n = 5u32;
        let (dim, m, m0) = (3u16, 2u16, 4u16);
        let header = GraphHeader {
            dim,
            metric: MetricCode::L2,
            m,
            m0,
            max_level: 1,
            entry: 2,
            nodes: n,
            first_slot: 100,
            ef_construction: 40,
        };
        let stride = header.code_stride();
        let mut level0 = Vec::new();
        for i in 0..n {
            level0.push(2);
            level0.extend([(i + 1) % n, (i + 2) % n, 0, 0]);
        }
        let g = GraphData {
            mins: vec![0.0, -1.0, 2.0],
            steps: vec![0.5, 0.25, 1.0],
            code_norms: (0..n).map(|i| i as f32).collect(),
            codes: (0..n as usize * stride).map(|i| i as u8).collect(),
            level0,
            levels: vec![0, 0, 1, 0, 1],
            upper: vec![(vec![2, 4], vec![1, 4, 0, 1, 2, 0])],
        };
        (header, g)
    }

    /// Bytes read back through a 64-byte aligned buffer, as a mapped payload is.
    fn aligned(bytes: &[u8]) -> Vec<u64> {
        let mut v = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut v)[..bytes.len()].copy_from_slice(bytes);
        v
    }

    #[test]
    fn round_trip_in_place() {
        let (h, g) = sample();
        let bytes = encode_graph(&h, &g);
        let buf = aligned(&bytes);
        let payload = &bytemuck::cast_slice::<u64, u8>(&buf)[..bytes.len()];
        let v = GraphView::decode(payload).unwrap();
        assert_eq!(v.header, h);
        assert_eq!(v.mins, &g.mins[..]);
        assert_eq!(v.neighbours0(0), &[1, 2]);
        assert_eq!(v.neighbours0(4), &[0, 1]);
        assert_eq!(v.neighbours0(5), &[] as &[u32]);
        assert_eq!(v.neighbours(1, 2), &[4]);
        assert_eq!(v.neighbours(1, 4), &[2]);
        assert_eq!(v.neighbours(1, 3), &[] as &[u32]);
        assert_eq!(v.neighbours(2, 2), &[] as &[u32]);
        assert_eq!(v.codes_of(1)[0], h.code_stride() as u8);
        assert!(v.codes_of(9).is_empty());
    }

    #[test]
    fn damage_is_refused_or_harmless() {
        let (h, g) = sample();
        let bytes = encode_graph(&h, &g);
        for cut in [0, 10, 127, 128, bytes.len() - 1] {
            let buf = aligned(&bytes[..cut]);
            assert!(GraphView::decode(&bytemuck::cast_slice::<u64, u8>(&buf)[..cut]).is_err());
        }
        let bad = GraphHeader { entry: 7, ..h };
        let bytes = encode_graph(&bad, &g);
        let buf = aligned(&bytes);
        assert!(GraphView::decode(&bytemuck::cast_slice::<u64, u8>(&buf)[..bytes.len()]).is_err());
        // A count larger than the degree is capped.
        let mut g2 = g.clone();
        g2.level0[0] = 1000;
        let bytes = encode_graph(&h, &g2);
        let buf = aligned(&bytes);
        let v = GraphView::decode(&bytemuck::cast_slice::<u64, u8>(&buf)[..bytes.len()]).unwrap();
        assert_eq!(v.neighbours0(0).len(), 4);
    }
}
