//! Run descriptors: a run is a contiguous range of slots stored by this file in one
//! VEC_SEG (vectors) and one SLOT_SEG (ids, metadata). COW_MAP checkpoints hold the full
//! run table; DELTA records add runs. Any slot below `first_local_slot` not covered by a
//! run is inherited from the parent.

use crate::bytes::{put_u32, put_u64, ByteReader};
use crate::error::{FormatError, Result};

pub const RUN_DESC_LEN: usize = 48;

/// Why a run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum RunKind {
    /// Newly written slots at the end of the slot space.
    Append = 0,
    /// A whole inherited cluster copied into the child (slab copy); its slots shadow the
    /// parent's.
    SlabCopy = 1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunDesc {
    pub first_slot: u64,
    pub count: u32,
    pub kind: RunKind,
    pub vec_seg: u64,
    pub vec_seg_len: u64,
    pub slot_seg: u64,
    pub slot_seg_len: u64,
}

impl RunDesc {
    pub fn end_slot(&self) -> u64 {
        self.first_slot + u64::from(self.count)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.first_slot);
        put_u32(out, self.count);
        put_u32(out, self.kind as u32);
        put_u64(out, self.vec_seg);
        put_u64(out, self.vec_seg_len);
        put_u64(out, self.slot_seg);
        put_u64(out, self.slot_seg_len);
    }

    pub fn decode(r: &mut ByteReader<'_>) -> Result<RunDesc> {
        Self::from_bytes(&r.array::<RUN_DESC_LEN>()?)
    }

    /// Decodes one descriptor from its 48 bytes (a COW_MAP of thousands of runs is read
    /// a fixed-size record at a time).
    pub fn from_bytes(b: &[u8; RUN_DESC_LEN]) -> Result<RunDesc> {
        let kind = match u32::from_le_bytes([b[12], b[13], b[14], b[15]]) {
            0 => RunKind::Append,
            1 => RunKind::SlabCopy,
            k => return Err(FormatError::invalid("run", format!("unknown run kind {k}"))),
        };
        let d = RunDesc {
            kind,
            ..Self::from_checked_bytes(b)
        };
        if d.count == 0 || d.first_slot.checked_add(u64::from(d.count)).is_none() {
            return Err(FormatError::invalid(
                "run",
                "empty or overflowing slot range",
            ));
        }
        Ok(d)
    }

    /// Decodes a descriptor that [`RunDesc::from_bytes`] accepted when the table was
    /// loaded, without checking it again (a table read in place is decoded at every
    /// use). Bytes that changed since (another program writing into the file) give a
    /// wrong run, which the reader refuses when it reads the run's segments; never a
    /// panic.
    #[inline]
    pub fn from_checked_bytes(b: &[u8; RUN_DESC_LEN]) -> RunDesc {
        let u64_at = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let u32_at = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&b[at..at + 4]);
            u32::from_le_bytes(w)
        };
        RunDesc {
            first_slot: u64_at(0),
            count: u32_at(8),
            vec_seg: u64_at(16),
            vec_seg_len: u64_at(24),
            slot_seg: u64_at(32),
            slot_seg_len: u64_at(40),
            kind: if u32_at(12) == RunKind::SlabCopy as u32 {
                RunKind::SlabCopy
            } else {
                RunKind::Append
            },
        }
    }
}

/// COW_MAP payload: `u64 count` then `count` run descriptors.
pub fn encode_run_table(runs: &[RunDesc]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + runs.len() * RUN_DESC_LEN);
    put_u64(&mut out, runs.len() as u64);
    for r in runs {
        r.encode(&mut out);
    }
    out
}

pub fn decode_run_table(payload: &[u8]) -> Result<Vec<RunDesc>> {
    Ok(RunTable::decode(payload)?.iter().collect())
}

/// A COW_MAP payload checked and read in place: opening a store with a long history
/// neither copies nor reallocates its thousands of descriptors.
#[derive(Debug, Clone, Copy)]
pub struct RunTable<'a> {
    body: &'a [u8],
}

impl<'a> RunTable<'a> {
    /// Checks the whole payload: its count, its length and every descriptor.
    pub fn decode(payload: &'a [u8]) -> Result<RunTable<'a>> {
        let mut r = ByteReader::new(payload, "COW_MAP");
        let raw = r.u64()?;
        let n = r.count(raw, RUN_DESC_LEN)?;
        let body = r.take(n * RUN_DESC_LEN)?;
        if !r.is_empty() {
            return Err(FormatError::invalid("COW_MAP", "trailing bytes"));
        }
        for c in body.chunks_exact(RUN_DESC_LEN) {
            let mut b = [0u8; RUN_DESC_LEN];
            b.copy_from_slice(c);
            RunDesc::from_bytes(&b)?;
        }
        Ok(RunTable { body })
    }

    /// The descriptors of a payload [`RunTable::decode`] accepted, given as the bytes
    /// after its count.
    pub fn checked(body: &'a [u8]) -> RunTable<'a> {
        RunTable { body }
    }

    /// Bytes of the descriptors, which follow the payload's 8-byte count.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    pub fn len(&self) -> usize {
        self.body.len() / RUN_DESC_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// Descriptor `i`, or None past the end.
    pub fn get(&self, i: usize) -> Option<RunDesc> {
        let at = i.checked_mul(RUN_DESC_LEN)?;
        let c = self.body.get(at..)?.first_chunk::<RUN_DESC_LEN>()?;
        Some(RunDesc::from_checked_bytes(c))
    }

    pub fn iter(&self) -> impl Iterator<Item = RunDesc> + Clone + 'a {
        self.body
            .chunks_exact(RUN_DESC_LEN)
            .filter_map(|c| c.first_chunk::<RUN_DESC_LEN>())
            .map(RunDesc::from_checked_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_run() -> impl Strategy<Value = RunDesc> {
        (
            0u64..1 << 40,
            1u32..,
            any::<bool>(),
            any::<u64>(),
            any::<u64>(),
        )
            .prop_map(|(first_slot, count, copy, a, b)| RunDesc {
                first_slot,
                count,
                kind: if copy {
                    RunKind::SlabCopy
                } else {
                    RunKind::Append
                },
                vec_seg: a,
                vec_seg_len: a / 3,
                slot_seg: b,
                slot_seg_len: b / 5,
            })
    }

    proptest! {
        #[test]
        fn round_trip(runs in proptest::collection::vec(arb_run(), 0..20)) {
            let bytes = encode_run_table(&runs);
            prop_assert_eq!(bytes.len(), 8 + runs.len() * RUN_DESC_LEN);
            prop_assert_eq!(decode_run_table(&bytes).unwrap(), runs);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_run_table(&bytes);
        }
    }

    #[test]
    fn id_index_round_trip_and_size_check() {
        let bytes = encode_id_index(&[5, 6, 7]);
        let index = IdIndex::decode(&bytes, 3).unwrap();
        assert_eq!(
            (index.len(), index.get(0), index.get(2), index.get(3)),
            (3, 5, 7, 0)
        );
        assert!(IdIndex::decode(&bytes[..16], 3).is_err());
        assert!(IdIndex::decode(&bytes, 4).is_err());
        assert!(IdIndex::decode(&[], u64::MAX).is_err());
    }

    #[test]
    fn lying_count_is_refused() {
        let mut bytes = Vec::new();
        put_u64(&mut bytes, 1 << 50);
        assert!(decode_run_table(&bytes).is_err());
    }
}

/// An ID_INDEX payload checked against its run table, read in place.
#[derive(Debug, Clone, Copy)]
pub struct IdIndex<'a> {
    bytes: &'a [u8],
}

impl<'a> IdIndex<'a> {
    /// The payload holds `slots` ids: one per slot of the checkpoint's run table that
    /// its dead set does not name, in run-table order (the caller counts them).
    pub fn decode(payload: &'a [u8], slots: u64) -> Result<IdIndex<'a>> {
        if payload.len() as u64 != slots.saturating_mul(8) {
            return Err(FormatError::invalid(
                "ID_INDEX",
                format!("{} bytes for {slots} slots", payload.len()),
            ));
        }
        Ok(IdIndex { bytes: payload })
    }

    /// The `i`-th id (0 past the end, which callers avoid).
    #[inline]
    pub fn get(&self, i: usize) -> u64 {
        self.bytes
            .get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / 8
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

pub fn encode_id_index(ids: &[u64]) -> Vec<u8> {
    ids.iter().flat_map(|id| id.to_le_bytes()).collect()
}
