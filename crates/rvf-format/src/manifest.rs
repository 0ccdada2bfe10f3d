//! MANIFEST_SEG: the complete description of one committed generation. The root slot
//! names the newest one; each manifest names its predecessor (time travel) and the
//! checkpoint and journal that hold the generation's state.

use crate::bytes::{put_u16, put_u32, put_u64, ByteReader};
use crate::error::{FormatError, Result};
use crate::layout::{CLUSTER_ALIGN, MAX_CLUSTER_BYTES, MAX_LINEAGE_DEPTH, MAX_PATH_LEN};

/// Distance metric codes stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MetricCode {
    L2 = 0,
    InnerProduct = 1,
    Cosine = 2,
}

impl MetricCode {
    pub fn from_u8(v: u8) -> Result<MetricCode> {
        match v {
            0 => Ok(MetricCode::L2),
            1 => Ok(MetricCode::InnerProduct),
            2 => Ok(MetricCode::Cosine),
            other => Err(FormatError::invalid(
                "manifest",
                format!("unknown metric code {other}"),
            )),
        }
    }
}

pub const MANIFEST_FLAG_FROZEN: u8 = 1 << 0;
pub const MANIFEST_FLAG_CHILD: u8 = 1 << 1;
const KNOWN_MANIFEST_FLAGS: u8 = MANIFEST_FLAG_FROZEN | MANIFEST_FLAG_CHILD;

/// Pointer to a segment: its offset in the file and its total length (header, payload
/// and padding). Offset 0 means "none".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegRef {
    pub offset: u64,
    pub len: u64,
}

impl SegRef {
    pub const NONE: SegRef = SegRef { offset: 0, len: 0 };
    pub fn is_none(&self) -> bool {
        self.offset == 0
    }
}

/// Where a child finds the parent generation it inherits from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRef {
    pub file_id: [u8; 16],
    /// The parent generation (epoch) the child sees.
    pub epoch: u64,
    /// The parent's manifest of that generation.
    pub manifest: SegRef,
    /// BLAKE3 of that manifest segment's bytes: proves the parent file still holds it.
    pub manifest_hash: [u8; 32],
    /// Parent path relative to the child's directory, as raw OS bytes.
    pub relative_path: Vec<u8>,
    /// Parent path as the caller gave it when branching, as raw OS bytes.
    pub original_path: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub epoch: u64,
    pub prev_manifest: SegRef,
    pub file_id: [u8; 16],
    pub dimension: u16,
    pub metric: MetricCode,
    pub frozen: bool,
    pub lineage_depth: u16,
    pub cluster_bytes: u32,
    pub vectors_per_cluster: u32,
    /// One past the highest slot of this generation (a child's count includes the
    /// inherited slot range).
    pub slot_count: u64,
    /// First slot this file itself may allocate (0 for a root store; for a child, the
    /// parent's slot count rounded up to a whole cluster).
    pub first_local_slot: u64,
    pub live_count: u64,
    pub next_segment_id: u64,
    pub checkpoint_cow_map: SegRef,
    pub checkpoint_dead_set: SegRef,
    pub checkpoint_membership: SegRef,
    /// ID_INDEX of the last checkpoint (none when its run table is empty).
    pub checkpoint_id_index: SegRef,
    /// Newest DELTA written since the checkpoint (they chain backwards).
    pub journal_head: SegRef,
    pub journal_count: u64,
    pub journal_bytes: u64,
    pub checkpoint_bytes: u64,
    /// Bytes of segments no longer reachable from this generation or holding only dead
    /// vectors: what `compact` would reclaim.
    pub dead_bytes: u64,
    /// Reserved for the persisted ANN index root (none yet).
    pub index_root: SegRef,
    /// Reserved for the tag table (none yet).
    pub tag_table: SegRef,
    pub parent: Option<ParentRef>,
}

/// Exclusive bound of every counter in a manifest.
pub const MAX_COUNTER: u64 = 1 << 62;

/// Size of the fixed part of the manifest payload.
pub const MANIFEST_FIXED_LEN: usize = 232;

impl Manifest {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MANIFEST_FIXED_LEN + 128);
        put_u64(&mut out, self.epoch);
        put_segref(&mut out, self.prev_manifest);
        out.extend_from_slice(&self.file_id);
        put_u16(&mut out, self.dimension);
        out.push(self.metric as u8);
        let mut flags = 0u8;
        if self.frozen {
            flags |= MANIFEST_FLAG_FROZEN;
        }
        if self.parent.is_some() {
            flags |= MANIFEST_FLAG_CHILD;
        }
        out.push(flags);
        put_u16(&mut out, self.lineage_depth);
        put_u16(&mut out, 0);
        put_u32(&mut out, self.cluster_bytes);
        put_u32(&mut out, self.vectors_per_cluster);
        put_u64(&mut out, self.slot_count);
        put_u64(&mut out, self.first_local_slot);
        put_u64(&mut out, self.live_count);
        put_u64(&mut out, self.next_segment_id);
        put_segref(&mut out, self.checkpoint_cow_map);
        put_segref(&mut out, self.checkpoint_dead_set);
        put_segref(&mut out, self.checkpoint_membership);
        put_segref(&mut out, self.checkpoint_id_index);
        put_segref(&mut out, self.journal_head);
        put_u64(&mut out, self.journal_count);
        put_u64(&mut out, self.journal_bytes);
        put_u64(&mut out, self.checkpoint_bytes);
        put_u64(&mut out, self.dead_bytes);
        put_segref(&mut out, self.index_root);
        put_segref(&mut out, self.tag_table);
        debug_assert_eq!(out.len(), MANIFEST_FIXED_LEN);
        if let Some(p) = &self.parent {
            out.extend_from_slice(&p.file_id);
            put_u64(&mut out, p.epoch);
            put_segref(&mut out, p.manifest);
            out.extend_from_slice(&p.manifest_hash);
            put_u16(&mut out, p.relative_path.len() as u16);
            out.extend_from_slice(&p.relative_path);
            put_u16(&mut out, p.original_path.len() as u16);
            out.extend_from_slice(&p.original_path);
        }
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Manifest> {
        let what = "manifest";
        let mut r = ByteReader::new(payload, what);
        let epoch = r.u64()?;
        let prev_manifest = get_segref(&mut r)?;
        let file_id = r.array::<16>()?;
        let dimension = r.u16()?;
        let metric = MetricCode::from_u8(r.u8()?)?;
        let flags = r.u8()?;
        if flags & !KNOWN_MANIFEST_FLAGS != 0 {
            return Err(FormatError::invalid(
                what,
                format!("unknown flags {flags:#x}"),
            ));
        }
        let lineage_depth = r.u16()?;
        r.expect_zeros(2)?;
        let cluster_bytes = r.u32()?;
        let vectors_per_cluster = r.u32()?;
        let m = Manifest {
            epoch,
            prev_manifest,
            file_id,
            dimension,
            metric,
            frozen: flags & MANIFEST_FLAG_FROZEN != 0,
            lineage_depth,
            cluster_bytes,
            vectors_per_cluster,
            slot_count: r.u64()?,
            first_local_slot: r.u64()?,
            live_count: r.u64()?,
            next_segment_id: r.u64()?,
            checkpoint_cow_map: get_segref(&mut r)?,
            checkpoint_dead_set: get_segref(&mut r)?,
            checkpoint_membership: get_segref(&mut r)?,
            checkpoint_id_index: get_segref(&mut r)?,
            journal_head: get_segref(&mut r)?,
            journal_count: r.u64()?,
            journal_bytes: r.u64()?,
            checkpoint_bytes: r.u64()?,
            dead_bytes: r.u64()?,
            index_root: get_segref(&mut r)?,
            tag_table: get_segref(&mut r)?,
            parent: None,
        };
        let parent = if flags & MANIFEST_FLAG_CHILD != 0 {
            let file_id = r.array::<16>()?;
            let epoch = r.u64()?;
            let manifest = get_segref(&mut r)?;
            let manifest_hash = r.array::<32>()?;
            let rel_len = r.u16()? as usize;
            let relative_path = r.take(rel_len)?.to_vec();
            let orig_len = r.u16()? as usize;
            let original_path = r.take(orig_len)?.to_vec();
            Some(ParentRef {
                file_id,
                epoch,
                manifest,
                manifest_hash,
                relative_path,
                original_path,
            })
        } else {
            None
        };
        if !r.is_empty() {
            return Err(FormatError::invalid(
                what,
                "trailing bytes after the manifest",
            ));
        }
        let m = Manifest { parent, ..m };
        m.validate()?;
        Ok(m)
    }

    /// Structural rules every manifest obeys, checked on encode (debug) and decode.
    pub fn validate(&self) -> Result<()> {
        let what = "manifest";
        let fail = |d: String| Err(FormatError::invalid(what, d));
        if self.dimension == 0 {
            return fail("dimension is 0".into());
        }
        if self.cluster_bytes < CLUSTER_ALIGN
            || self.cluster_bytes > MAX_CLUSTER_BYTES
            || !self.cluster_bytes.is_multiple_of(CLUSTER_ALIGN)
        {
            return fail(format!(
                "cluster size {} is not allowed",
                self.cluster_bytes
            ));
        }
        if self.vectors_per_cluster != vectors_per_cluster(self.dimension, self.cluster_bytes) {
            return fail("vectors_per_cluster does not follow the cluster size".into());
        }
        if self.lineage_depth > MAX_LINEAGE_DEPTH {
            return fail(format!(
                "lineage depth {} exceeds {MAX_LINEAGE_DEPTH}",
                self.lineage_depth
            ));
        }
        if self.parent.is_some() != (self.lineage_depth > 0) {
            return fail("lineage depth and parent reference disagree".into());
        }
        if self.parent.is_none() && self.first_local_slot != 0 {
            return fail("a store without a parent has inherited slots".into());
        }
        if self.first_local_slot > self.slot_count {
            return fail("first local slot lies beyond the slot count".into());
        }
        if !self
            .first_local_slot
            .is_multiple_of(u64::from(self.vectors_per_cluster))
        {
            return fail("first local slot is not on a cluster boundary".into());
        }
        if self.live_count > self.slot_count {
            return fail("more live vectors than slots".into());
        }
        // No real file reaches 2^62 of anything; bounding every counter here lets the
        // writer add to them without overflow checks.
        let counters = [
            self.epoch,
            self.slot_count,
            self.next_segment_id,
            self.journal_count,
            self.journal_bytes,
            self.checkpoint_bytes,
            self.dead_bytes,
        ];
        if counters.iter().any(|&c| c >= MAX_COUNTER) {
            return fail("a counter is impossibly large".into());
        }
        if let Some(p) = &self.parent {
            if p.relative_path.len() > MAX_PATH_LEN || p.original_path.len() > MAX_PATH_LEN {
                return fail("parent path too long".into());
            }
            if p.manifest.is_none() {
                return fail("parent reference has no manifest".into());
            }
        }
        Ok(())
    }
}

/// Vectors of `dim` floats in a cluster of `cluster_bytes`: `max(1, bytes / (4 dim))`.
pub fn vectors_per_cluster(dim: u16, cluster_bytes: u32) -> u32 {
    (cluster_bytes / (u32::from(dim) * 4).max(1)).max(1)
}

fn put_segref(out: &mut Vec<u8>, r: SegRef) {
    put_u64(out, r.offset);
    put_u64(out, r.len);
}

fn get_segref(r: &mut ByteReader<'_>) -> Result<SegRef> {
    Ok(SegRef {
        offset: r.u64()?,
        len: r.u64()?,
    })
}

/// BLAKE3 of a manifest segment's bytes; what a child records to pin its parent.
pub fn manifest_hash(segment_bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(segment_bytes).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample(parent: bool) -> Manifest {
        Manifest {
            epoch: 12,
            prev_manifest: SegRef {
                offset: 1024,
                len: 320,
            },
            file_id: [3; 16],
            dimension: 128,
            metric: MetricCode::Cosine,
            frozen: true,
            lineage_depth: u16::from(parent),
            cluster_bytes: 65536,
            vectors_per_cluster: 128,
            slot_count: 1000,
            first_local_slot: if parent { 512 } else { 0 },
            live_count: 900,
            next_segment_id: 77,
            checkpoint_cow_map: SegRef {
                offset: 4096,
                len: 128,
            },
            checkpoint_dead_set: SegRef::NONE,
            checkpoint_membership: SegRef::NONE,
            checkpoint_id_index: SegRef {
                offset: 6144,
                len: 128,
            },
            journal_head: SegRef {
                offset: 8192,
                len: 128,
            },
            journal_count: 3,
            journal_bytes: 384,
            checkpoint_bytes: 128,
            dead_bytes: 0,
            index_root: SegRef::NONE,
            tag_table: SegRef::NONE,
            parent: parent.then(|| ParentRef {
                file_id: [5; 16],
                epoch: 4,
                manifest: SegRef {
                    offset: 2048,
                    len: 320,
                },
                manifest_hash: [8; 32],
                relative_path: b"base.rvf".to_vec(),
                original_path: b"/tmp/x/base.rvf".to_vec(),
            }),
        }
    }

    #[test]
    fn round_trip_root_and_child() {
        for parent in [false, true] {
            let m = sample(parent);
            let bytes = m.encode();
            assert_eq!(Manifest::decode(&bytes).unwrap(), m);
        }
    }

    #[test]
    fn inconsistent_manifest_is_rejected() {
        let mut m = sample(false);
        m.lineage_depth = 2;
        assert!(Manifest::decode(&m.encode()).is_err());
        let mut m = sample(false);
        m.dimension = 0;
        assert!(Manifest::decode(&m.encode()).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Manifest::decode(&bytes);
        }

        #[test]
        fn truncation_is_an_error(cut in 0usize..300) {
            let bytes = sample(true).encode();
            if cut < bytes.len() {
                prop_assert!(Manifest::decode(&bytes[..cut]).is_err());
            }
        }
    }
}
