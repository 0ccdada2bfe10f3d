//! Payload layouts of VEC_SEG (vectors + squared norms) and SLOT_SEG (ids + metadata).

use crate::bytes::{align_up, put_u16, put_u32, put_u64, ByteReader};
use crate::error::{FormatError, Result};
use crate::metadata::{decode_metadata, Metadata};

/// Both payloads start with a 64-byte header so the arrays after it stay 64-byte aligned.
pub const RUN_HEADER_LEN: usize = 64;

/// Where the arrays of a VEC_SEG payload lie, as byte ranges of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VecSegLayout {
    pub first_slot: u64,
    pub count: u32,
    pub dim: u16,
    pub vectors_offset: usize,
    pub norms_offset: usize,
    pub payload_len: usize,
}

impl VecSegLayout {
    pub fn new(first_slot: u64, count: u32, dim: u16) -> VecSegLayout {
        let vectors_len = count as u64 * u64::from(dim) * 4;
        let norms_offset = align_up(RUN_HEADER_LEN as u64 + vectors_len, 64);
        VecSegLayout {
            first_slot,
            count,
            dim,
            vectors_offset: RUN_HEADER_LEN,
            norms_offset: norms_offset as usize,
            payload_len: (norms_offset + count as u64 * 4) as usize,
        }
    }

    pub fn encode_header(&self) -> [u8; RUN_HEADER_LEN] {
        let mut out = Vec::with_capacity(RUN_HEADER_LEN);
        put_u64(&mut out, self.first_slot);
        put_u32(&mut out, self.count);
        put_u16(&mut out, self.dim);
        put_u16(&mut out, 0);
        put_u64(&mut out, self.vectors_offset as u64);
        put_u64(&mut out, self.norms_offset as u64);
        out.resize(RUN_HEADER_LEN, 0);
        let mut arr = [0u8; RUN_HEADER_LEN];
        arr.copy_from_slice(&out);
        arr
    }

    /// Parses and checks the header against the payload it heads and the expected shape.
    pub fn decode(payload: &[u8], expect_dim: u16) -> Result<VecSegLayout> {
        let what = "VEC_SEG";
        let mut r = ByteReader::new(payload, what);
        let first_slot = r.u64()?;
        let count = r.u32()?;
        let dim = r.u16()?;
        r.expect_zeros(2)?;
        let vectors_offset = r.u64()?;
        let norms_offset = r.u64()?;
        r.expect_zeros(32)?;
        if dim != expect_dim {
            return Err(FormatError::invalid(
                what,
                format!("dimension {dim}, store has {expect_dim}"),
            ));
        }
        let expected = VecSegLayout::new(first_slot, count, dim);
        if vectors_offset != expected.vectors_offset as u64
            || norms_offset != expected.norms_offset as u64
            || payload.len() != expected.payload_len
        {
            return Err(FormatError::invalid(
                what,
                "array offsets or payload length disagree with count and dimension",
            ));
        }
        Ok(expected)
    }

    pub fn vectors_len(&self) -> usize {
        self.count as usize * self.dim as usize * 4
    }
}

/// A parsed SLOT_SEG payload, borrowing its arrays.
#[derive(Debug, Clone, Copy)]
pub struct SlotSeg<'a> {
    pub first_slot: u64,
    pub count: u32,
    ids: &'a [u8],
    meta_offsets: &'a [u8],
    meta_area: &'a [u8],
}

const SLOT_FLAG_METADATA: u32 = 1;

/// Encodes a SLOT_SEG payload. `metadata[i]` is the encoded metadata of slot
/// `first_slot + i` (see [`crate::encode_metadata`]; empty = none). When every entry is
/// empty the segment carries no metadata area at all.
pub fn encode_slot_seg(first_slot: u64, ids: &[u64], metadata: &[&[u8]]) -> Vec<u8> {
    let has_meta = metadata.iter().any(|m| !m.is_empty());
    let mut out = Vec::with_capacity(RUN_HEADER_LEN + ids.len() * 8);
    put_u64(&mut out, first_slot);
    put_u32(&mut out, ids.len() as u32);
    put_u32(&mut out, if has_meta { SLOT_FLAG_METADATA } else { 0 });
    out.resize(RUN_HEADER_LEN, 0);
    for id in ids {
        put_u64(&mut out, *id);
    }
    if has_meta {
        let mut area = Vec::new();
        let mut offsets = Vec::with_capacity(ids.len() + 1);
        for i in 0..ids.len() {
            offsets.push(area.len() as u64);
            if let Some(m) = metadata.get(i) {
                area.extend_from_slice(m);
            }
        }
        offsets.push(area.len() as u64);
        for o in offsets {
            put_u64(&mut out, o);
        }
        out.extend_from_slice(&area);
    }
    out
}

impl<'a> SlotSeg<'a> {
    pub fn decode(payload: &'a [u8]) -> Result<SlotSeg<'a>> {
        let what = "SLOT_SEG";
        let mut r = ByteReader::new(payload, what);
        let first_slot = r.u64()?;
        let count = r.u32()?;
        let flags = r.u32()?;
        if flags & !SLOT_FLAG_METADATA != 0 {
            return Err(FormatError::invalid(
                what,
                format!("unknown flags {flags:#x}"),
            ));
        }
        r.expect_zeros(RUN_HEADER_LEN - 16)?;
        let ids = r.take(count as usize * 8)?;
        let (meta_offsets, meta_area) = if flags & SLOT_FLAG_METADATA != 0 {
            let offsets = r.take((count as usize + 1) * 8)?;
            let area = r.take(r.remaining())?;
            let seg = SlotSeg {
                first_slot,
                count,
                ids,
                meta_offsets: offsets,
                meta_area: area,
            };
            // Offsets must be non-decreasing and end at the area's end: checked once here
            // so that per-slot lookups later cannot go out of bounds.
            let mut prev = 0u64;
            for i in 0..=count as usize {
                let o = seg.offset(i);
                if o < prev || o > area.len() as u64 {
                    return Err(FormatError::invalid(what, "metadata offsets out of order"));
                }
                prev = o;
            }
            if prev != area.len() as u64 {
                return Err(FormatError::invalid(
                    what,
                    "metadata area has trailing bytes",
                ));
            }
            (offsets, area)
        } else {
            if !r.is_empty() {
                return Err(FormatError::invalid(what, "trailing bytes"));
            }
            (&payload[..0], &payload[..0])
        };
        Ok(SlotSeg {
            first_slot,
            count,
            ids,
            meta_offsets,
            meta_area,
        })
    }

    /// Re-reads a payload that [`SlotSeg::decode`] has already accepted, without repeating
    /// the O(count) offset validation. Still total: a payload that changed since would
    /// yield wrong or empty metadata, never a panic or an out-of-bounds read.
    pub fn view(payload: &'a [u8]) -> SlotSeg<'a> {
        let header = |at: usize| -> u64 {
            payload
                .get(at..at + 8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                .unwrap_or(0)
        };
        let first_slot = header(0);
        let count_flags = header(8);
        let count = count_flags as u32;
        let flags = (count_flags >> 32) as u32;
        let ids_end = (RUN_HEADER_LEN + count as usize * 8).min(payload.len());
        let ids = payload.get(RUN_HEADER_LEN..ids_end).unwrap_or(&[]);
        let (meta_offsets, meta_area) = if flags & SLOT_FLAG_METADATA != 0 {
            let off_end = (ids_end + (count as usize + 1) * 8).min(payload.len());
            (
                payload.get(ids_end..off_end).unwrap_or(&[]),
                payload.get(off_end..).unwrap_or(&[]),
            )
        } else {
            (&payload[..0], &payload[..0])
        };
        SlotSeg {
            first_slot,
            count,
            ids,
            meta_offsets,
            meta_area,
        }
    }

    /// The ids array as raw little-endian bytes (8 per slot).
    pub fn id_bytes(&self) -> &'a [u8] {
        self.ids
    }

    fn offset(&self, i: usize) -> u64 {
        self.meta_offsets
            .get(i * 8..i * 8 + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .unwrap_or(0)
    }

    /// The stored bytes of the `i`-th id (empty when out of range), for a reader that
    /// prefetches them.
    pub fn id_bytes_of(&self, i: usize) -> &'a [u8] {
        self.ids.get(i * 8..i * 8 + 8).unwrap_or(&[])
    }

    /// Id of the `i`-th slot of the run (0 when out of range, which callers avoid).
    pub fn id(&self, i: usize) -> u64 {
        self.ids
            .get(i * 8..i * 8 + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .unwrap_or(0)
    }

    pub fn has_metadata(&self) -> bool {
        !self.meta_offsets.is_empty()
    }

    /// Raw encoded metadata of slot `i` (empty = none).
    pub fn metadata_bytes(&self, i: usize) -> &'a [u8] {
        if !self.has_metadata() || i >= self.count as usize {
            return &[];
        }
        let (a, b) = (self.offset(i) as usize, self.offset(i + 1) as usize);
        self.meta_area.get(a..b).unwrap_or(&[])
    }

    pub fn metadata(&self, i: usize) -> Result<Option<Metadata>> {
        let bytes = self.metadata_bytes(i);
        if bytes.is_empty() {
            return Ok(None);
        }
        decode_metadata(bytes).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{MetaValue, Metadata};

    #[test]
    fn vec_layout_round_trip() {
        let l = VecSegLayout::new(128, 10, 3);
        let mut payload = l.encode_header().to_vec();
        payload.resize(l.payload_len, 0);
        assert_eq!(VecSegLayout::decode(&payload, 3).unwrap(), l);
        assert_eq!(l.norms_offset % 64, 0);
        assert!(VecSegLayout::decode(&payload, 4).is_err());
        assert!(VecSegLayout::decode(&payload[..payload.len() - 1], 3).is_err());
    }

    #[test]
    fn slot_seg_round_trip() {
        let mut m = Metadata::new();
        m.insert("k".into(), MetaValue::Int(5));
        let mut enc = Vec::new();
        crate::metadata::encode_metadata(&m, &mut enc);
        let payload = encode_slot_seg(7, &[10, 20, 30], &[&[], &enc, &[]]);
        let s = SlotSeg::decode(&payload).unwrap();
        assert_eq!((s.first_slot, s.count), (7, 3));
        assert_eq!((s.id(0), s.id(1), s.id(2)), (10, 20, 30));
        assert_eq!(s.metadata(0).unwrap(), None);
        assert_eq!(s.metadata(1).unwrap(), Some(m));
        let v = SlotSeg::view(&payload);
        assert_eq!((v.first_slot, v.count, v.id(2)), (7, 3, 30));
        assert_eq!(v.metadata_bytes(1), &enc[..]);
        let plain = encode_slot_seg(0, &[1, 2], &[&[], &[]]);
        let s = SlotSeg::decode(&plain).unwrap();
        assert!(!s.has_metadata());
        assert_eq!(s.id(1), 2);
    }

    proptest::proptest! {
        #[test]
        fn slot_decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let v = SlotSeg::view(&bytes);
            for i in 0..v.count.min(64) as usize {
                let _ = v.metadata(i);
                let _ = v.id(i);
            }
            if let Ok(s) = SlotSeg::decode(&bytes) {
                for i in 0..s.count.min(64) as usize {
                    let _ = s.metadata(i);
                    let _ = s.id(i);
                }
            }
        }

        #[test]
        fn vec_decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), dim in 1u16..8) {
            let _ = VecSegLayout::decode(&bytes, dim);
        }
    }
}
