//! Ingest, delete, membership changes and freeze.

use std::collections::{BTreeMap, HashMap, HashSet};

use rvf_format::{
    encode_metadata, encode_slot_seg, spans_of, validate_metadata, Delta, Metadata, RunDesc,
    RunKind, SegmentType, VecSegLayout,
};

use crate::commit::{writer_of, Txn};
use crate::error::{Result, RvfError};
use crate::filter::FilterExpr;
use crate::idmap::Change;
use crate::load::recompute_visible;
use crate::local::MembershipMode;
use crate::store::RvfStore;
use crate::vecwrite::all_finite;
use crate::view::Run;
use crate::writer::Writer;

/// Outcome of [`RvfStore::ingest_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestResult {
    /// Vectors stored (new ids and replacements).
    pub accepted: u64,
    /// Vectors refused for a wrong dimension or a non-finite value.
    pub rejected: u64,
    /// Generation number after the commit.
    pub epoch: u64,
}

/// Outcome of [`RvfStore::delete`] and [`RvfStore::delete_by_filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteResult {
    /// Ids that were present and are now gone.
    pub deleted: u64,
    pub epoch: u64,
}

/// The rows of one run to write: vectors, ids and encoded metadata, in slot order.
#[derive(Default)]
pub(crate) struct RunRows<'a> {
    pub vectors: Vec<&'a [f32]>,
    pub ids: Vec<u64>,
    pub metas: Vec<&'a [u8]>,
}

impl<'a> RunRows<'a> {
    pub fn with_capacity(n: usize) -> Self {
        RunRows {
            vectors: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            metas: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, vector: &'a [f32], id: u64, meta: &'a [u8]) {
        self.vectors.push(vector);
        self.ids.push(id);
        self.metas.push(meta);
    }
}

/// Writes one run's VEC_SEG and SLOT_SEG and returns its descriptor, or `None` (with
/// nothing written that the file keeps) if a vector has a NaN or an infinity.
pub(crate) fn write_run(
    writer: &mut Writer,
    txn: &mut Txn,
    dim: u16,
    first_slot: u64,
    kind: RunKind,
    rows: &RunRows<'_>,
) -> Result<Option<RunDesc>> {
    let (vectors, ids, metas) = (&rows.vectors, &rows.ids, &rows.metas);
    let count = u32::try_from(vectors.len())
        .map_err(|_| RvfError::InvalidArgument("a batch may hold at most 2^32-1 vectors".into()))?;
    let layout = VecSegLayout::new(first_slot, count, dim);
    // Both payloads are checked against the reader's limit before anything is written.
    let slot_payload = encode_slot_seg(first_slot, ids, metas);
    check_payload_len(layout.payload_len as u64, "vectors")?;
    check_payload_len(slot_payload.len() as u64, "ids and metadata")?;
    let epoch = txn.epoch;
    let (vec_id, slot_id) = (txn.seg_id(), txn.seg_id());
    let Some(vref) = crate::vecwrite::write_vec_segment(writer, layout, vectors, vec_id, epoch)?
    else {
        return Ok(None);
    };
    let sref = writer.append_segment(SegmentType::Slot, slot_id, epoch, &slot_payload)?;
    Ok(Some(RunDesc {
        first_slot,
        count,
        kind,
        vec_seg: vref.offset,
        vec_seg_len: vref.len,
        slot_seg: sref.offset,
        slot_seg_len: sref.len,
    }))
}

/// Refuses a segment the reader would refuse (payloads are at most 2^40 bytes).
fn check_payload_len(len: u64, what: &str) -> Result<()> {
    let max = rvf_format::layout::MAX_PAYLOAD_LEN;
    if len > max {
        return Err(RvfError::InvalidArgument(format!(
            "the batch's {what} take {len} bytes, more than one segment may hold ({max}); split the batch"
        )));
    }
    Ok(())
}

/// One vector to write into a run.
struct Item<'a> {
    id: u64,
    vector: &'a [f32],
    meta: Vec<u8>,
}

impl RvfStore {
    /// [`RvfStore::ingest_batch`] of vectors stored row after row in one slice
    /// (`ids.len()` rows of the store's dimension), as numpy and most embedding
    /// libraries hold them. The rows are read in place, never copied.
    pub fn ingest_flat(
        &mut self,
        vectors: &[f32],
        ids: &[u64],
        metadata: Option<&[Metadata]>,
    ) -> Result<IngestResult> {
        let dim = usize::from(self.view.config.dim);
        if Some(vectors.len()) != ids.len().checked_mul(dim) {
            return Err(RvfError::InvalidArgument(format!(
                "{} floats for {} ids of dimension {dim}",
                vectors.len(),
                ids.len()
            )));
        }
        let rows: Vec<&[f32]> = vectors.chunks_exact(dim).collect();
        self.ingest_batch(&rows, ids, metadata)
    }

    /// Inserts or replaces vectors by id, in one commit. Vectors with the wrong dimension
    /// or a non-finite value are skipped and counted in `rejected`; when an id appears
    /// more than once, its last occurrence wins.
    pub fn ingest_batch(
        &mut self,
        vectors: &[&[f32]],
        ids: &[u64],
        metadata: Option<&[Metadata]>,
    ) -> Result<IngestResult> {
        self.check_writable()?;
        if vectors.len() != ids.len() {
            return Err(RvfError::InvalidArgument(format!(
                "{} vectors but {} ids",
                vectors.len(),
                ids.len()
            )));
        }
        if let Some(m) = metadata {
            if m.len() != ids.len() {
                return Err(RvfError::InvalidArgument(format!(
                    "{} metadata entries but {} ids",
                    m.len(),
                    ids.len()
                )));
            }
            for entry in m {
                validate_metadata(entry).map_err(RvfError::InvalidArgument)?;
            }
        }
        // Non-finite values are caught while the vectors are written (see
        // `vecwrite::feed`), which then refuses the batch; it is rare, and only then is
        // the batch looked at value by value and written again without them.
        let mut checked = false;
        loop {
            let (items, rejected) = self.items(vectors, ids, metadata, checked);
            let accepted = items.len() as u64;
            if items.is_empty() || self.write_items(items)? {
                self.maybe_start_background();
                return Ok(IngestResult {
                    accepted,
                    rejected,
                    epoch: self.epoch(),
                });
            }
            if checked {
                return Err(RvfError::internal("a vector checked finite was refused"));
            }
            checked = true;
        }
    }

    /// The vectors to write (each id once: its last occurrence wins), and how many were
    /// rejected: those of the wrong dimension, and (when `check_finite`) those with a NaN
    /// or an infinity.
    fn items<'a>(
        &self,
        vectors: &[&'a [f32]],
        ids: &[u64],
        metadata: Option<&[Metadata]>,
        check_finite: bool,
    ) -> (Vec<Item<'a>>, u64) {
        let dim = usize::from(self.view.config.dim);
        let mut rejected = 0u64;
        // Strictly ascending ids (the usual bulk load) cannot repeat: no set needed.
        let ascending = ids.windows(2).all(|w| w[0] < w[1]);
        let mut seen: HashSet<u64, ahash::RandomState> = HashSet::with_capacity_and_hasher(
            if ascending { 0 } else { ids.len() },
            ahash::RandomState::new(),
        );
        let mut items: Vec<Item<'a>> = Vec::with_capacity(ids.len());
        // Validity in memory order first: a forward scan streams at memory speed, while
        // the newest-first dedup below would read the vectors backwards.
        let valid: Vec<bool> = vectors
            .iter()
            .map(|v| v.len() == dim && (!check_finite || all_finite(v)))
            .collect();
        for i in (0..ids.len()).rev() {
            if !valid[i] {
                rejected += 1;
                continue;
            }
            if !ascending && !seen.insert(ids[i]) {
                continue;
            }
            let mut meta = Vec::new();
            if let Some(m) = metadata.and_then(|m| m.get(i)).filter(|m| !m.is_empty()) {
                encode_metadata(m, &mut meta);
            }
            items.push(Item {
                id: ids[i],
                vector: vectors[i],
                meta,
            });
        }
        items.reverse();
        (items, rejected)
    }

    /// Writes and commits `items`; false (with nothing committed) when one holds a NaN
    /// or an infinity.
    fn write_items(&mut self, items: Vec<Item<'_>>) -> Result<bool> {
        let vpc = u64::from(self.view.config.vectors_per_cluster);
        let dim = self.view.config.dim;
        // Decide which inherited clusters to copy whole: those where this batch replaces
        // at least half of the alive vectors. Copying such a cluster costs no more than
        // twice the replaced vectors' bytes and spares queries the masked originals.
        let mut per_cluster: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        let mut current = Vec::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            let slot = self.view.alive_slot(it.id);
            current.push(slot);
            if let Some(s) = slot {
                if self.view.run_of(s).is_some_and(|r| r.file != 0) {
                    per_cluster.entry(s / vpc).or_default().push(i);
                }
            }
        }
        let mut copies: Vec<(u64, u64, Vec<usize>)> = Vec::new();
        for (cluster, members) in per_cluster {
            let start = cluster * vpc;
            let Some(end) = self.copyable_cluster_end(start, vpc) else {
                continue;
            };
            let alive = (start..end).filter(|&s| !self.view.dead.get(s)).count();
            if members.len() * 2 >= alive {
                copies.push((start, end, members));
            }
        }
        let in_copy: HashSet<usize> = copies.iter().flat_map(|c| c.2.iter().copied()).collect();

        let mut txn = self.begin();
        let mut next_local = self.local.clone();
        let mut delta = Delta::default();
        let mut changes = Vec::with_capacity(items.len());
        let mut dead = Vec::new();
        let mut new_visible = Vec::new();
        let mut visible_lost = 0u64;

        // Appended run: every item not carried by a slab copy.
        let first_slot = self.view.slot_count;
        let appended: Vec<usize> = (0..items.len()).filter(|i| !in_copy.contains(i)).collect();
        for (k, &i) in appended.iter().enumerate() {
            let slot = first_slot + k as u64;
            let id = items[i].id;
            if let Some(old) = current[i] {
                dead.push(old);
                if self.view.visible.get(old) {
                    visible_lost += 1;
                }
            }
            changes.push(Change::Set(id, slot));
            if self.shows_new(id) {
                new_visible.push(slot);
            }
        }
        let mut new_runs = Vec::new();
        let start_end = writer_of(&mut self.writer, &self.path)?.end;
        if !appended.is_empty() {
            let mut rows = RunRows::with_capacity(appended.len());
            for &i in &appended {
                rows.push(items[i].vector, items[i].id, &items[i].meta);
            }
            let writer = writer_of(&mut self.writer, &self.path)?;
            let run = write_run(writer, &mut txn, dim, first_slot, RunKind::Append, &rows)?;
            let Some(run) = run else {
                writer.end = start_end;
                return Ok(false);
            };
            new_runs.push(run);
        }
        for (start, end, members) in &copies {
            let replaced: HashMap<u64, usize> = members
                .iter()
                .filter_map(|&i| current[i].map(|s| (s, i)))
                .collect();
            let mut rows = RunRows::with_capacity((end - start) as usize);
            let mut s = *start;
            while s < *end {
                let run = self
                    .view
                    .run_of(s)
                    .ok_or_else(|| RvfError::corrupt_state(&self.path, "cluster has a gap"))?;
                let file = self.view.file(run)?;
                run.ensure(file)?;
                let run_vecs = run.vectors(file, dim)?;
                let seg = run.slot_seg(file);
                let stop = run.end_slot().min(*end);
                for slot in s..stop {
                    let i = (slot - run.first_slot) as usize;
                    let d = usize::from(dim);
                    if let Some(&item) = replaced.get(&slot) {
                        let it = &items[item];
                        rows.push(it.vector, it.id, &it.meta);
                    } else {
                        let vector = run_vecs.get(i * d..(i + 1) * d).ok_or_else(|| {
                            RvfError::corrupt(&file.path, run.vec_payload(), "vector out of range")
                        })?;
                        let idx = run.seg_index(slot);
                        rows.push(vector, seg.id(idx), seg.metadata_bytes(idx));
                    }
                }
                s = stop;
            }
            for (&slot, &item) in &replaced {
                changes.push(Change::Set(items[item].id, slot));
            }
            let writer = writer_of(&mut self.writer, &self.path)?;
            let run = write_run(writer, &mut txn, dim, *start, RunKind::SlabCopy, &rows)?;
            let Some(run) = run else {
                // Segments written so far lie past the committed end.
                writer.end = start_end;
                return Ok(false);
            };
            new_runs.push(run);
        }
        dead.sort_unstable();
        dead.dedup();
        for &s in &dead {
            next_local.own_dead.set(s);
        }
        for &d in &new_runs {
            next_local.runs.push(d);
        }
        delta.runs_added = new_runs.clone();
        delta.dead_slots = spans_of(&dead);
        let slot_count = first_slot + appended.len() as u64;
        let live = self.view.visible_count + new_visible.len() as u64 - visible_lost;
        self.commit(txn, delta, next_local, slot_count, live)?;

        // The commit is durable (or published, per durability): update the view.
        for d in &new_runs {
            let run = self.run_from_desc(d);
            self.view.insert_run(run);
        }
        for &s in &dead {
            self.view.dead.set(s);
            self.view.visible.clear(s);
        }
        for &s in &new_visible {
            self.view.visible.set(s);
        }
        self.view.ids.apply(changes);
        self.view.slot_count = slot_count;
        self.view.visible_count = live;
        Ok(true)
    }

    /// Whether a newly written slot for `id` is visible under the membership filter.
    fn shows_new(&self, id: u64) -> bool {
        match &self.local.membership {
            Some(f) if !f.is_transparent() => !self.view.is_inherited(id) || f.allows(id),
            _ => true,
        }
    }

    /// End of the contiguous inherited slots of the cluster starting at `start`, or None
    /// when the cluster is not a single inherited stretch (then it is never copied).
    fn copyable_cluster_end(&self, start: u64, vpc: u64) -> Option<u64> {
        let limit = (start + vpc).min(self.view.first_local_slot);
        let mut s = start;
        while s < limit {
            let run = self.view.run_of(s)?;
            if run.file == 0 {
                return None;
            }
            s = run.end_slot().min(limit);
        }
        (s > start).then_some(s)
    }

    pub(crate) fn run_from_desc(&self, d: &RunDesc) -> Run {
        Run::single(*d, self.view.config.dim, 0)
    }

    /// Deletes ids (absent ids are ignored). A later ingest of the same id brings it back.
    pub fn delete(&mut self, ids: &[u64]) -> Result<DeleteResult> {
        self.check_writable()?;
        let mut slots: Vec<(u64, u64)> = ids
            .iter()
            .filter_map(|&id| self.view.alive_slot(id).map(|s| (s, id)))
            .collect();
        slots.sort_unstable();
        slots.dedup();
        if slots.is_empty() {
            return Ok(DeleteResult {
                deleted: 0,
                epoch: self.epoch(),
            });
        }
        let txn = self.begin();
        let mut next_local = self.local.clone();
        let dead: Vec<u64> = slots.iter().map(|&(s, _)| s).collect();
        for &s in &dead {
            next_local.own_dead.set(s);
        }
        let lost = dead.iter().filter(|&&s| self.view.visible.get(s)).count() as u64;
        let live = self.view.visible_count - lost;
        let delta = Delta {
            dead_slots: spans_of(&dead),
            ..Delta::default()
        };
        let slot_count = self.view.slot_count;
        self.commit(txn, delta, next_local, slot_count, live)?;
        for &s in &dead {
            self.view.dead.set(s);
            self.view.visible.clear(s);
        }
        self.view
            .ids
            .apply(slots.iter().map(|&(_, id)| Change::Remove(id)).collect());
        self.view.visible_count = live;
        Ok(DeleteResult {
            deleted: dead.len() as u64,
            epoch: self.epoch(),
        })
    }

    /// Deletes every visible vector whose metadata matches `filter`.
    pub fn delete_by_filter(&mut self, filter: &FilterExpr) -> Result<DeleteResult> {
        self.check_writable()?;
        let mut ids = Vec::new();
        for run in self.view.runs.values() {
            let file = self.view.file(run)?;
            run.ensure_slots(file)?;
            let seg = run.slot_seg(file);
            for s in run.first_slot..run.end_slot() {
                if !self.view.visible.get(s) {
                    continue;
                }
                let i = run.seg_index(s);
                let meta = seg
                    .metadata(i)
                    .map_err(|e| RvfError::corrupt(&file.path, run.slot_payload().0, e))?;
                if filter.matches(meta.as_ref()) {
                    ids.push(seg.id(i));
                }
            }
        }
        self.delete(&ids)
    }

    /// Makes the current generation immutable, persistently: later writes fail with
    /// `Frozen`. Branch from a frozen store to keep writing.
    pub fn freeze(&mut self) -> Result<()> {
        self.check_writable()?;
        // A frozen generation cannot grow its index later: it catches up now.
        self.index_before_closing()?;
        let txn = self.begin();
        let mut next_local = self.local.clone();
        next_local.manifest.frozen = true;
        let (slots, live) = (self.view.slot_count, self.view.visible_count);
        self.commit(txn, Delta::default(), next_local, slots, live)
    }

    /// Switches a branch's membership filter to `mode`, starting from an empty id set
    /// (so `Include` hides every inherited vector until ids are added).
    pub fn set_membership_mode(&mut self, mode: MembershipMode) -> Result<()> {
        let delta = Delta {
            membership_mode: Some(mode.code()),
            ..Delta::default()
        };
        self.change_membership(delta)
    }

    /// Adds ids to the membership set (included or excluded, depending on the mode).
    pub fn membership_add(&mut self, ids: &[u64]) -> Result<()> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        self.change_membership(Delta {
            members_added: spans_of(&ids),
            ..Delta::default()
        })
    }

    /// Removes ids from the membership set.
    pub fn membership_remove(&mut self, ids: &[u64]) -> Result<()> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        self.change_membership(Delta {
            members_removed: spans_of(&ids),
            ..Delta::default()
        })
    }

    fn change_membership(&mut self, delta: Delta) -> Result<()> {
        self.check_writable()?;
        if self.local.membership.is_none() {
            return Err(RvfError::NotAChild {
                path: self.path.clone(),
            });
        }
        let mut next_local = self.local.clone();
        if let Some(f) = &mut next_local.membership {
            f.apply(&delta);
        }
        let mut view = self.view.clone();
        recompute_visible(&mut view, next_local.membership.as_ref())?;
        let txn = self.begin();
        let slots = self.view.slot_count;
        self.commit(txn, delta, next_local, slots, view.visible_count)?;
        self.view.visible = view.visible;
        self.view.visible_count = view.visible_count;
        self.refresh_member_count();
        Ok(())
    }

    /// Recounts the inherited ids the membership filter lets through.
    pub(crate) fn refresh_member_count(&mut self) {
        let Some(f) = &self.local.membership else {
            return;
        };
        // Walk whichever side is smaller: the listed ids, or the inherited ones (a
        // listed range may cover far more ids than exist).
        let listed_inherited = if f.ids.len() <= u128::from(f.vector_count) {
            f.ids.ids().filter(|&id| self.view.is_inherited(id)).count() as u64
        } else {
            let mut n = 0u64;
            self.view.ids.for_each_base(|id, _| {
                if f.ids.contains(id) && self.view.is_inherited(id) {
                    n += 1;
                }
            });
            n
        };
        let count = match f.mode {
            MembershipMode::Include => listed_inherited,
            MembershipMode::Exclude => f.vector_count.saturating_sub(listed_inherited),
        };
        if let Some(f) = &mut self.local.membership {
            f.member_count = count;
        }
    }
}
