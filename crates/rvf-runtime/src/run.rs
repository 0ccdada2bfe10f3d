//! Runs: contiguous slot ranges whose vectors and ids sit in one VEC_SEG / SLOT_SEG pair.
//!
//! A long history leaves thousands of runs, and opening such a store must not cost much
//! more than opening a fresh one. So a run's descriptor is stored once, in a
//! [`RunBlock`] shared by every run loaded with it (a checkpoint's whole run table is one
//! block), together with the lazily verified state of its segments; the file's own run
//! list ([`RunList`]) and the view's runs ([`Run`], 32 bytes each) both point into it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rvf_format::layout::SEGMENT_HEADER_LEN;
use rvf_format::{
    FormatError, RunDesc, RunKind, RunTable, SegmentType, SlotSeg, VecSegLayout, RUN_DESC_LEN,
    RUN_HEADER_LEN,
};

use crate::checksum::read_verified;
use crate::error::{Result, RvfError};
use crate::mmap::MappedFile;

const UNCHECKED: u8 = 0;
const GOOD: u8 = 1;
const BAD: u8 = 2;

/// Run descriptors loaded together, each with the check state of its two segments.
/// Segments are checked on first use rather than at open, so opening a large store (or
/// a branch of one, or one with a long history) reads neither every vector nor every
/// run's ids: the checkpoint's run table and ID_INDEX, themselves checksummed, suffice.
#[derive(Debug)]
pub(crate) struct RunBlock {
    descs: Descs,
    dim: u16,
    vectors: Box<[AtomicU8]>,
    slots: Box<[AtomicU8]>,
}

/// The descriptors as their encoded bytes, which a table read in place from its file
/// already is: decoding one is a few loads, cheaper than keeping a decoded copy.
#[derive(Debug)]
enum Descs {
    /// A checkpoint's run table (checked when it was loaded): `body` is the byte range
    /// of its descriptors in `file`.
    Mapped {
        file: Arc<MappedFile>,
        body: std::ops::Range<usize>,
    },
    Owned(Vec<u8>),
}

impl RunBlock {
    pub fn new(descs: Vec<RunDesc>, dim: u16) -> Arc<RunBlock> {
        let mut bytes = Vec::with_capacity(descs.len() * RUN_DESC_LEN);
        for d in &descs {
            d.encode(&mut bytes);
        }
        Self::with(Descs::Owned(bytes), dim)
    }

    /// A run table that [`RunTable::decode`] accepted, whose descriptors lie at `body`
    /// in `file`.
    pub fn mapped(
        file: &Arc<MappedFile>,
        body: std::ops::Range<usize>,
        dim: u16,
    ) -> Result<Arc<RunBlock>> {
        if file.bytes().get(body.clone()).is_none() || !body.len().is_multiple_of(RUN_DESC_LEN) {
            return Err(RvfError::internal("run table outside its file"));
        }
        Ok(Self::with(
            Descs::Mapped {
                file: file.clone(),
                body,
            },
            dim,
        ))
    }

    fn with(descs: Descs, dim: u16) -> Arc<RunBlock> {
        let len = match &descs {
            Descs::Mapped { body, .. } => body.len(),
            Descs::Owned(v) => v.len(),
        } / RUN_DESC_LEN;
        let states = || (0..len).map(|_| AtomicU8::new(UNCHECKED)).collect();
        Arc::new(RunBlock {
            vectors: states(),
            slots: states(),
            descs,
            dim,
        })
    }

    fn table(&self) -> RunTable<'_> {
        let body = match &self.descs {
            Descs::Mapped { file, body } => file.bytes().get(body.clone()).unwrap_or(&[]),
            Descs::Owned(v) => v,
        };
        RunTable::checked(body)
    }

    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Descriptor `i` (a harmless impossible run past the end, which callers avoid).
    pub fn desc(&self, i: usize) -> RunDesc {
        self.table().get(i).unwrap_or(RunDesc {
            first_slot: 0,
            count: 0,
            kind: RunKind::Append,
            vec_seg: u64::MAX,
            vec_seg_len: 0,
            slot_seg: u64::MAX,
            slot_seg_len: 0,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = RunDesc> + Clone + '_ {
        self.table().iter()
    }

    /// The run of every descriptor, whole, read from file `file` of a view.
    pub fn runs(self: &Arc<Self>, file: u16) -> impl Iterator<Item = Run> + '_ {
        self.iter().enumerate().map(move |(i, d)| Run {
            first_slot: d.first_slot,
            count: d.count,
            file,
            kind: d.kind,
            block: self.clone(),
            // A block never holds more runs than a u32 counts: each costs a segment pair.
            index: i as u32,
        })
    }
}

/// A contiguous range of slots read from one run's segments: the whole run, or the part
/// of it another run does not shadow.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub first_slot: u64,
    pub count: u32,
    /// Index into `View::files`: 0 is this file, 1 its parent, and so on.
    pub file: u16,
    pub kind: RunKind,
    block: Arc<RunBlock>,
    index: u32,
}

impl Run {
    /// A run of its own block (a run a commit just wrote).
    pub fn single(desc: RunDesc, dim: u16, file: u16) -> Run {
        Run {
            first_slot: desc.first_slot,
            count: desc.count,
            file,
            kind: desc.kind,
            block: RunBlock::new(vec![desc], dim),
            index: 0,
        }
    }

    /// The descriptor of the segments this run was cut from.
    pub fn desc(&self) -> RunDesc {
        self.block.desc(self.index as usize)
    }

    pub fn end_slot(&self) -> u64 {
        self.first_slot + u64::from(self.count)
    }

    /// First slot stored by the segments this run was cut from.
    pub fn seg_first_slot(&self) -> u64 {
        self.desc().first_slot
    }

    /// Offset of the VEC_SEG payload in its file.
    pub fn vec_payload(&self) -> u64 {
        self.desc()
            .vec_seg
            .saturating_add(SEGMENT_HEADER_LEN as u64)
    }

    /// Offset and length of the SLOT_SEG payload.
    pub fn slot_payload(&self) -> (u64, u64) {
        let d = self.desc();
        let header = SEGMENT_HEADER_LEN as u64;
        (
            d.slot_seg.saturating_add(header),
            d.slot_seg_len.saturating_sub(header),
        )
    }

    fn skip(&self) -> u64 {
        self.first_slot.saturating_sub(self.seg_first_slot())
    }

    /// Vectors of this run, `count * dim` floats.
    pub fn vectors<'a>(&self, file: &'a MappedFile, dim: u16) -> Result<&'a [f32]> {
        let floats = u64::from(self.count) * u64::from(dim);
        let start = self.vec_payload() + RUN_HEADER_LEN as u64 + self.skip() * u64::from(dim) * 4;
        f32_slice(file, start, floats)
    }

    /// Squared norms of this run's vectors.
    pub fn norms<'a>(&self, file: &'a MappedFile) -> Result<&'a [f32]> {
        let d = self.desc();
        let layout = VecSegLayout::new(d.first_slot, d.count, self.block.dim);
        let start = self.vec_payload() + layout.norms_offset as u64 + self.skip() * 4;
        f32_slice(file, start, u64::from(self.count))
    }

    pub fn slot_seg<'a>(&self, file: &'a MappedFile) -> SlotSeg<'a> {
        let (start, len) = self.slot_payload();
        let bytes = usize::try_from(start)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(s, n)| file.bytes().get(s..s.checked_add(n)?))
            .unwrap_or(&[]);
        SlotSeg::view(bytes)
    }

    /// Index of `slot` within the SLOT_SEG this run was cut from.
    pub fn seg_index(&self, slot: u64) -> usize {
        slot.saturating_sub(self.seg_first_slot()) as usize
    }

    /// Verifies both segments of the run (once per process).
    pub fn ensure(&self, file: &MappedFile) -> Result<()> {
        self.ensure_slots(file)?;
        let d = self.desc();
        let dim = self.block.dim;
        once(&self.block.vectors, self.index, file, d.vec_seg, || {
            let (h, p) = read_verified(file.bytes(), d.vec_seg, SegmentType::Vec)?;
            let layout = VecSegLayout::decode(p, dim)?;
            if layout.first_slot != d.first_slot
                || layout.count != d.count
                || h.total_len() != d.vec_seg_len
            {
                return Err(FormatError::Invalid {
                    what: "VEC_SEG",
                    detail: "does not match its run descriptor".into(),
                });
            }
            Ok(())
        })
    }

    /// Verifies the run's SLOT_SEG (ids and metadata) only.
    pub fn ensure_slots(&self, file: &MappedFile) -> Result<()> {
        let d = self.desc();
        once(&self.block.slots, self.index, file, d.slot_seg, || {
            let (h, p) = read_verified(file.bytes(), d.slot_seg, SegmentType::Slot)?;
            let seg = SlotSeg::decode(p)?;
            if seg.first_slot != d.first_slot
                || seg.count != d.count
                || h.total_len() != d.slot_seg_len
            {
                return Err(FormatError::Invalid {
                    what: "SLOT_SEG",
                    detail: "does not match its run descriptor".into(),
                });
            }
            Ok(())
        })
    }
}

fn f32_slice(file: &MappedFile, start: u64, floats: u64) -> Result<&[f32]> {
    let bytes = usize::try_from(start)
        .ok()
        .zip(usize::try_from(floats * 4).ok())
        .and_then(|(s, n)| file.bytes().get(s..s.checked_add(n)?))
        .ok_or_else(|| RvfError::corrupt(&file.path, start, "vector run lies outside the file"))?;
    bytemuck::try_cast_slice(bytes)
        .map_err(|_| RvfError::corrupt(&file.path, start, "vector run is misaligned"))
}

/// Runs `check` the first time segment `index` of a block is used; later calls reuse
/// its verdict.
fn once(
    states: &[AtomicU8],
    index: u32,
    file: &MappedFile,
    offset: u64,
    check: impl FnOnce() -> std::result::Result<(), FormatError>,
) -> Result<()> {
    let state = states
        .get(index as usize)
        .ok_or_else(|| RvfError::internal("run check out of its block"))?;
    match state.load(Ordering::Acquire) {
        GOOD => return Ok(()),
        BAD => {
            return Err(RvfError::corrupt(
                &file.path,
                offset,
                "segment failed its check",
            ))
        }
        _ => {}
    }
    let result = check();
    state.store(if result.is_ok() { GOOD } else { BAD }, Ordering::Release);
    result.map_err(|e| RvfError::corrupt(&file.path, offset, e))
}

/// The runs a file stores itself, in the order its run table lists them: the
/// checkpoint's table as loaded (shared with the views built from it, so neither open
/// nor a commit copies it) and the runs added since.
#[derive(Debug, Clone)]
pub(crate) struct RunList {
    loaded: Arc<RunBlock>,
    added: Vec<RunDesc>,
}

impl RunList {
    pub fn new(dim: u16) -> RunList {
        RunList::loaded(RunBlock::new(Vec::new(), dim))
    }

    pub fn loaded(block: Arc<RunBlock>) -> RunList {
        RunList {
            loaded: block,
            added: Vec::new(),
        }
    }

    /// The block of the checkpoint's runs.
    pub fn loaded_block(&self) -> &Arc<RunBlock> {
        &self.loaded
    }

    /// Runs added after the checkpoint was loaded.
    pub fn added(&self) -> &[RunDesc] {
        &self.added
    }

    pub fn iter(&self) -> impl Iterator<Item = RunDesc> + Clone + '_ {
        self.loaded.iter().chain(self.added.iter().copied())
    }

    pub fn len(&self) -> usize {
        self.loaded.len() + self.added.len()
    }

    pub fn push(&mut self, d: RunDesc) {
        self.added.push(d);
    }

    pub fn to_vec(&self) -> Vec<RunDesc> {
        self.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(first_slot: u64, count: u32) -> RunDesc {
        RunDesc {
            first_slot,
            count,
            kind: RunKind::Append,
            vec_seg: 4096,
            vec_seg_len: 1000,
            slot_seg: 8192,
            slot_seg_len: 500,
        }
    }

    #[test]
    fn a_cut_run_reads_from_its_segments_offsets() {
        let block = RunBlock::new(vec![desc(0, 10), desc(10, 6)], 4);
        let mut runs: Vec<Run> = block.runs(0).collect();
        assert_eq!(runs.len(), 2);
        assert!(std::mem::size_of::<Run>() <= 32);
        let mut cut = runs.remove(1);
        cut.first_slot = 12;
        cut.count = 4;
        assert_eq!(cut.seg_first_slot(), 10);
        assert_eq!(cut.seg_index(13), 3);
        assert_eq!(cut.vec_payload(), 4096 + SEGMENT_HEADER_LEN as u64);
        assert_eq!(
            cut.slot_payload(),
            (
                8192 + SEGMENT_HEADER_LEN as u64,
                500 - SEGMENT_HEADER_LEN as u64
            )
        );
    }

    #[test]
    fn a_run_list_lists_loaded_then_added_runs() {
        let mut list = RunList::loaded(RunBlock::new(vec![desc(0, 10)], 4));
        let shared = list.clone();
        list.push(desc(10, 5));
        assert_eq!(list.len(), 2);
        assert_eq!(shared.len(), 1);
        assert_eq!(
            list.iter().map(|d| d.first_slot).collect::<Vec<_>>(),
            vec![0, 10]
        );
        assert!(Arc::ptr_eq(list.loaded_block(), shared.loaded_block()));
    }
}
