//! The in-memory view of one generation: which runs hold which slots (across the file
//! and its ancestors), which slots are alive and visible, and where each id lives.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rvf_format::{
    read_segment, FormatError, RunDesc, RunKind, SegmentType, SlotSeg, VecSegLayout, RUN_HEADER_LEN,
};

use crate::bitset::Bitset;
use crate::error::{Result, RvfError};
use crate::idmap::IdMap;
use crate::index::ViewGraph;
use crate::mmap::MappedFile;
use crate::options::DistanceMetric;
use crate::runmap::RunMap;

/// Shape of the vectors of a store (identical along a lineage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Config {
    pub dim: u16,
    pub metric: DistanceMetric,
    pub cluster_bytes: u32,
    pub vectors_per_cluster: u32,
}

/// Lazily verified state of one run's segments, shared by every piece cut from the
/// run. Segments are checked on first use rather than at open, so opening a large store
/// (or a branch of one, or one with a long history) reads neither every vector nor every
/// run's ids: the checkpoint's run table and ID_INDEX, themselves checksummed, suffice.
#[derive(Debug)]
pub(crate) struct RunCheck {
    desc: RunDesc,
    dim: u16,
    vectors: AtomicU8,
    slots: AtomicU8,
}

const UNCHECKED: u8 = 0;
const GOOD: u8 = 1;
const BAD: u8 = 2;

impl RunCheck {
    pub fn new(desc: RunDesc, dim: u16) -> RunCheck {
        RunCheck {
            desc,
            dim,
            vectors: AtomicU8::new(UNCHECKED),
            slots: AtomicU8::new(UNCHECKED),
        }
    }

    /// Verifies both segments of the run (once per process).
    pub fn ensure(&self, file: &MappedFile) -> Result<()> {
        self.ensure_slots(file)?;
        let d = self.desc;
        Self::once(&self.vectors, file, d.vec_seg, || {
            let (h, p) = read_segment(file.bytes(), d.vec_seg, SegmentType::Vec, true)?;
            let layout = VecSegLayout::decode(p, self.dim)?;
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
        let d = self.desc;
        Self::once(&self.slots, file, d.slot_seg, || {
            let (h, p) = read_segment(file.bytes(), d.slot_seg, SegmentType::Slot, true)?;
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

    fn once(
        state: &AtomicU8,
        file: &MappedFile,
        offset: u64,
        check: impl FnOnce() -> std::result::Result<(), FormatError>,
    ) -> Result<()> {
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
}

/// A run's [`RunCheck`], kept in a block shared by the runs loaded together: a
/// checkpoint of thousands of runs makes one allocation for them, not one each.
#[derive(Debug, Clone)]
pub(crate) struct CheckRef {
    block: Arc<[RunCheck]>,
    index: usize,
}

impl CheckRef {
    /// One check per descriptor, in one block; `refs()` hands out references to them.
    pub fn block(descs: &[RunDesc], dim: u16) -> Arc<[RunCheck]> {
        descs.iter().map(|d| RunCheck::new(*d, dim)).collect()
    }

    /// The reference to check `index` of `block` (which the caller made with as many).
    pub fn of(block: &Arc<[RunCheck]>, index: usize) -> CheckRef {
        CheckRef {
            block: block.clone(),
            index: index.min(block.len().saturating_sub(1)),
        }
    }

    pub fn single(desc: RunDesc, dim: u16) -> CheckRef {
        CheckRef {
            block: Arc::new([RunCheck::new(desc, dim)]),
            index: 0,
        }
    }
}

impl std::ops::Deref for CheckRef {
    type Target = RunCheck;

    fn deref(&self) -> &RunCheck {
        // In bounds: `of` clamps, and no block is empty.
        &self.block[self.index]
    }
}

/// A contiguous range of slots whose vectors and ids sit in one VEC_SEG / SLOT_SEG pair.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub first_slot: u64,
    pub count: u32,
    /// Index into `View::files`: 0 is this file, 1 its parent, and so on.
    pub file: u16,
    pub kind: RunKind,
    /// First slot stored by the segments this run was cut from.
    pub seg_first_slot: u64,
    /// Offset of the VEC_SEG payload in its file.
    pub vec_payload: u64,
    pub norms_offset: u64,
    /// Offset and length of the SLOT_SEG payload.
    pub slot_payload: u64,
    pub slot_payload_len: u64,
    pub check: CheckRef,
}

impl Run {
    pub fn end_slot(&self) -> u64 {
        self.first_slot + u64::from(self.count)
    }

    fn skip(&self) -> u64 {
        self.first_slot - self.seg_first_slot
    }

    /// Vectors of this run, `count * dim` floats.
    pub fn vectors<'a>(&self, file: &'a MappedFile, dim: u16) -> Result<&'a [f32]> {
        let floats = u64::from(self.count) * u64::from(dim);
        let start = self.vec_payload + RUN_HEADER_LEN as u64 + self.skip() * u64::from(dim) * 4;
        self.f32_slice(file, start, floats)
    }

    /// Squared norms of this run's vectors.
    pub fn norms<'a>(&self, file: &'a MappedFile) -> Result<&'a [f32]> {
        let start = self.vec_payload + self.norms_offset + self.skip() * 4;
        self.f32_slice(file, start, u64::from(self.count))
    }

    fn f32_slice<'a>(&self, file: &'a MappedFile, start: u64, floats: u64) -> Result<&'a [f32]> {
        let bytes = usize::try_from(start)
            .ok()
            .zip(usize::try_from(floats * 4).ok())
            .and_then(|(s, n)| file.bytes().get(s..s.checked_add(n)?))
            .ok_or_else(|| {
                RvfError::corrupt(&file.path, start, "vector run lies outside the file")
            })?;
        bytemuck::try_cast_slice(bytes)
            .map_err(|_| RvfError::corrupt(&file.path, start, "vector run is misaligned"))
    }

    pub fn slot_seg<'a>(&self, file: &'a MappedFile) -> SlotSeg<'a> {
        let bytes = usize::try_from(self.slot_payload)
            .ok()
            .zip(usize::try_from(self.slot_payload_len).ok())
            .and_then(|(s, n)| file.bytes().get(s..s.checked_add(n)?))
            .unwrap_or(&[]);
        SlotSeg::view(bytes)
    }

    /// Index of `slot` within the SLOT_SEG this run was cut from.
    pub fn seg_index(&self, slot: u64) -> usize {
        (slot - self.seg_first_slot) as usize
    }
}

/// Everything a query, a lookup or a write needs to know about the current generation.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub config: Config,
    pub files: Vec<Arc<MappedFile>>,
    /// Non-overlapping runs keyed by first slot.
    pub runs: RunMap,
    /// Slots that are not alive (deleted, superseded, or not visible in the parent).
    pub dead: Bitset,
    /// Slots a query returns: alive and allowed by the membership filter.
    pub visible: Bitset,
    pub visible_count: u64,
    pub ids: IdMap,
    pub slot_count: u64,
    /// First slot this file allocates itself (0 for a root store).
    pub first_local_slot: u64,
    /// The parent's visible slots as of branch time (children only).
    pub base_visible: Option<Arc<Bitset>>,
    /// The ANN graphs this view searches: its ancestors' (as of the generations it
    /// pinned) and this file's.
    pub graphs: Vec<ViewGraph>,
}

impl View {
    pub fn file(&self, run: &Run) -> Result<&MappedFile> {
        self.files
            .get(run.file as usize)
            .map(|f| f.as_ref())
            .ok_or_else(|| RvfError::internal("run refers to an unknown file"))
    }

    pub fn run_of(&self, slot: u64) -> Option<&Run> {
        self.runs.run_of(slot)
    }

    /// The live slot of `id`, if any (visible or hidden by membership).
    pub fn alive_slot(&self, id: u64) -> Option<u64> {
        self.ids.get(id).filter(|&s| !self.dead.get(s))
    }

    pub fn visible_slot(&self, id: u64) -> Option<u64> {
        self.ids.get(id).filter(|&s| self.visible.get(s))
    }

    /// Whether `id` was visible in the parent at branch time.
    pub fn is_inherited(&self, id: u64) -> bool {
        match (&self.base_visible, self.ids.get_base(id)) {
            (Some(base), Some(slot)) => base.get(slot),
            _ => false,
        }
    }

    /// Inserts a run, cutting any runs it overlaps (a slab copy shadows inherited slots).
    pub fn insert_run(&mut self, run: Run) {
        self.runs.insert(run);
    }
}
