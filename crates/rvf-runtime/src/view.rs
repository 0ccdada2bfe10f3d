//! The in-memory view of one generation: which runs hold which slots (across the file
//! and its ancestors), which slots are alive and visible, and where each id lives.

use std::sync::Arc;

use crate::bitset::Bitset;
use crate::error::{Result, RvfError};
use crate::idmap::IdMap;
use crate::index::ViewGraph;
use crate::mmap::MappedFile;
use crate::options::DistanceMetric;
pub(crate) use crate::run::Run;
use crate::runmap::RunMap;

/// Shape of the vectors of a store (identical along a lineage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Config {
    pub dim: u16,
    pub metric: DistanceMetric,
    pub cluster_bytes: u32,
    pub vectors_per_cluster: u32,
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
