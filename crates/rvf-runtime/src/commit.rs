//! Turning a planned change into a commit: journal or checkpoint, manifest, root.

use rvf_format::layout::FORMAT_VERSION;
use rvf_format::{
    encode_dead_set, encode_id_index, encode_membership, encode_run_table, encode_slot_bitmap,
    manifest_hash, Delta, Manifest, RootSlot, RunDesc, SegRef, SegmentType, SlotSeg, Span,
};

use crate::bitset::Bitset;
use crate::error::{Result, RvfError};
use crate::local::{LocalState, MembershipFilter};
use crate::mmap::MappedFile;
use crate::options::Durability;
use crate::store::{lock_writer, RvfStore};
use crate::writer::Writer;

/// A checkpoint is written instead of a DELTA once the journal since the last checkpoint
/// outgrows half the checkpoint (and this floor): replaying the journal at open then
/// costs at most half of reading the checkpoint, so a long history opens within about
/// 1.5x of a fresh store, while checkpoints cost, amortised, about three times the
/// journal bytes they replace.
pub(crate) const MIN_CHECKPOINT_TRIGGER: u64 = 64 * 1024;

/// The open cost the journal may reach before the next commit writes a checkpoint.
pub(crate) fn journal_limit(checkpoint_bytes: u64) -> u64 {
    (checkpoint_bytes / 2).max(MIN_CHECKPOINT_TRIGGER)
}

/// Segment ids and the epoch of a commit under construction.
pub(crate) struct Txn {
    pub epoch: u64,
    pub next_segment_id: u64,
    /// Bytes this commit makes unreachable besides the previous manifest (a replaced
    /// index map or graph), for `dead_bytes`.
    pub dead_extra: u64,
}

impl Txn {
    pub fn seg_id(&mut self) -> u64 {
        let id = self.next_segment_id;
        self.next_segment_id += 1;
        id
    }
}

impl RvfStore {
    /// Refuses writes to read-only, frozen or poisoned stores.
    pub(crate) fn check_writable(&self) -> Result<()> {
        let Some(w) = &self.writer else {
            return Err(RvfError::ReadOnly {
                path: self.path.clone(),
            });
        };
        if self.local.manifest.frozen {
            return Err(RvfError::Frozen {
                path: self.path.clone(),
            });
        }
        lock_writer(w).check_usable()
    }

    pub(crate) fn begin(&self) -> Txn {
        Txn {
            epoch: self.local.manifest.epoch + 1,
            next_segment_id: self.local.manifest.next_segment_id,
            dead_extra: 0,
        }
    }

    pub(crate) fn writer_mut(&mut self) -> Result<&mut Writer> {
        writer_of(&mut self.writer, &self.path)
    }

    /// Writes the journal record (or a checkpoint), the manifest and the root.
    /// `next_local` is the file's own state after the change; on success it becomes
    /// `self.local`, and the caller then updates the view.
    pub(crate) fn commit(
        &mut self,
        mut txn: Txn,
        delta: Delta,
        mut next_local: LocalState,
        slot_count: u64,
        live_count: u64,
    ) -> Result<()> {
        // Graphs the background built go into this commit too.
        let ready = self.background.take_ready();
        let adopted = if ready.is_empty() {
            Vec::new()
        } else {
            match self.append_graphs(&mut txn, &mut next_local, &ready, &[]) {
                Ok(entries) => entries,
                Err(e) => {
                    self.background.put_back(ready);
                    return Err(e);
                }
            }
        };
        let result = self.commit_appended(txn, delta, next_local, slot_count, live_count);
        match result {
            Ok(()) => self.install_graphs(&adopted, &[]),
            Err(_) if !ready.is_empty() => self.background.put_back(ready),
            Err(_) => {}
        }
        result
    }

    fn commit_appended(
        &mut self,
        mut txn: Txn,
        mut delta: Delta,
        mut next_local: LocalState,
        slot_count: u64,
        live_count: u64,
    ) -> Result<()> {
        let old = self.local.manifest.clone();
        let mut m: Manifest = Manifest {
            epoch: txn.epoch,
            prev_manifest: self.local.manifest_ref,
            slot_count,
            live_count,
            ..next_local.manifest.clone()
        };
        m.dead_bytes = old.dead_bytes + self.local.manifest_ref.len + txn.dead_extra;
        if !delta.is_empty() {
            delta.prev = old.journal_head;
            let payload = delta.encode();
            let cost = open_cost(payload.len() as u64, &delta);
            // An `OnClose` writer publishes nothing before the flush, so its checkpoint
            // waits for the flush too: a bulk load then writes one checkpoint, not one
            // per batch (see `checkpoint_before_publishing`).
            let deferred = self.writer_mut()?.durability == Durability::OnClose;
            if old.journal_bytes + cost > journal_limit(old.checkpoint_bytes) && !deferred {
                // The checkpoint's ID_INDEX reads ids from the runs' SLOT_SEGs, including
                // the ones this commit just appended: map them first.
                let end = self.writer_mut()?.end;
                self.remap(end)?;
                let file = self.view.files.first().cloned();
                let file = file.ok_or_else(|| RvfError::internal("store has no file"))?;
                let writer = self.writer_mut()?;
                write_checkpoint(
                    writer,
                    &mut txn,
                    &mut m,
                    &CheckpointState::of(&next_local),
                    &file,
                )?;
                m.dead_bytes += old.checkpoint_bytes + self.journal_segment_bytes();
            } else {
                let writer = self.writer_mut()?;
                let r =
                    writer.append_segment(SegmentType::Delta, txn.seg_id(), txn.epoch, &payload)?;
                m.journal_head = r;
                m.journal_count = old.journal_count + 1;
                m.journal_bytes = old.journal_bytes + cost;
            }
        }
        let writer = self.writer_mut()?;
        let (mref, hash) = write_manifest_and_root(writer, &mut txn, &mut m)?;
        let end = writer.end;
        next_local.manifest = m;
        next_local.manifest_ref = mref;
        next_local.manifest_hash = hash;
        self.local = next_local;
        self.remap(end)
    }

    /// Before publishing held-back commits (`Durability::OnClose`): if their journal has
    /// outgrown the checkpoint bound, one more generation with the same contents and a
    /// fresh checkpoint is committed, so every published root keeps open bounded.
    pub(crate) fn checkpoint_before_publishing(&mut self) -> Result<()> {
        let writer = self.writer_mut()?;
        if !writer.has_pending_root() {
            return Ok(());
        }
        writer.check_usable()?;
        let m = &self.local.manifest;
        if m.journal_bytes <= journal_limit(m.checkpoint_bytes) {
            return Ok(());
        }
        let old = self.local.manifest.clone();
        let mut txn = self.begin();
        let mut m = Manifest {
            epoch: txn.epoch,
            prev_manifest: self.local.manifest_ref,
            ..old.clone()
        };
        m.dead_bytes = old.dead_bytes + self.local.manifest_ref.len;
        let journal_bytes = self.journal_segment_bytes();
        let end = self.writer_mut()?.end;
        self.remap(end)?;
        let file = self.view.files.first().cloned();
        let file = file.ok_or_else(|| RvfError::internal("store has no file"))?;
        let state = CheckpointState::of(&self.local);
        let writer = writer_of(&mut self.writer, &self.path)?;
        write_checkpoint(writer, &mut txn, &mut m, &state, &file)?;
        m.dead_bytes += old.checkpoint_bytes + journal_bytes;
        let (mref, hash) = write_manifest_and_root(writer, &mut txn, &mut m)?;
        let end = writer.end;
        self.local.manifest = m;
        self.local.manifest_ref = mref;
        self.local.manifest_hash = hash;
        self.remap(end)
    }

    /// Bytes of the DELTA segments of the current journal (what a checkpoint makes
    /// dead: the runs those deltas added stay alive). The manifest's `journal_bytes`
    /// counts open cost, which includes those runs' SLOT_SEGs.
    pub(crate) fn journal_segment_bytes(&self) -> u64 {
        let Some(file) = self.view.files.first() else {
            return 0;
        };
        let mut total = 0u64;
        let mut next = self.local.manifest.journal_head;
        let mut left = self.local.manifest.journal_count;
        while !next.is_none() && left > 0 {
            total += next.len;
            left -= 1;
            let prev =
                rvf_format::read_segment(file.bytes(), next.offset, SegmentType::Delta, false)
                    .ok()
                    .and_then(|(_, p)| Delta::decode(p).ok())
                    .map(|d| d.prev);
            match prev {
                Some(p) if p.offset < next.offset => next = p,
                _ => break,
            }
        }
        total
    }

    /// Maps the file up to `end` so the view can read what was just written.
    pub(crate) fn remap(&mut self, end: u64) -> Result<()> {
        let writer = self.writer_mut()?;
        let mapped = crate::mmap::MappedFile::map(&writer.path, end)?;
        if let Some(f) = self.view.files.first_mut() {
            *f = std::sync::Arc::new(mapped);
        }
        Ok(())
    }
}

/// The writer of a store, borrowed through its field so the view can stay borrowed.
pub(crate) fn writer_of<'a>(
    writer: &'a mut Option<std::sync::Mutex<Writer>>,
    path: &std::path::Path,
) -> Result<&'a mut Writer> {
    match writer {
        Some(w) => Ok(w.get_mut().unwrap_or_else(|p| p.into_inner())),
        None => Err(RvfError::ReadOnly {
            path: path.to_path_buf(),
        }),
    }
}

/// What a DELTA adds to the work of the next open: its own bytes, plus, for each run
/// it adds, that run's SLOT_SEG (read for its ids) counted as at least a page. Bounding
/// the journal by this cost bounds open time by the checkpoint's size.
fn open_cost(delta_len: u64, delta: &Delta) -> u64 {
    let runs: u64 = delta
        .runs_added
        .iter()
        .map(|r| r.slot_seg_len.max(4096))
        .sum();
    delta_len + 64 + runs
}

/// The state a checkpoint records.
pub(crate) struct CheckpointState<'a> {
    /// Owned when the list is gathered from a loaded table and the runs added since.
    pub runs: std::borrow::Cow<'a, [RunDesc]>,
    pub own_dead: &'a Bitset,
    pub membership: Option<&'a MembershipFilter>,
}

impl<'a> CheckpointState<'a> {
    pub fn of(local: &'a LocalState) -> Self {
        CheckpointState {
            runs: local.runs.to_vec().into(),
            own_dead: &local.own_dead,
            membership: local.membership.as_ref(),
        }
    }
}

/// Appends a checkpoint (COW_MAP, ID_INDEX, DEAD_SET, MEMBERSHIP) and points `m` at it
/// with an empty journal. `file` must map every SLOT_SEG of `state.runs`.
pub(crate) fn write_checkpoint(
    writer: &mut Writer,
    txn: &mut Txn,
    m: &mut Manifest,
    state: &CheckpointState<'_>,
    file: &MappedFile,
) -> Result<()> {
    let mut append = |ty: SegmentType, payload: &[u8]| {
        writer.append_segment(ty, txn.seg_id(), txn.epoch, payload)
    };
    let cow = append(SegmentType::CowMap, &encode_run_table(&state.runs))?;
    let ids = collect_ids(file, &state.runs, state.own_dead)?;
    let id_index = match ids.is_empty() {
        true => SegRef::NONE,
        false => append(SegmentType::IdIndex, &encode_id_index(&ids))?,
    };
    let dead = match state.own_dead.bit_len() {
        0 => SegRef::NONE,
        _ => {
            let (ty, payload) = encode_dead(state.own_dead);
            append(ty, &payload)?
        }
    };
    let members = match state.membership {
        Some(f) if !f.is_transparent() => {
            let spans: Vec<Span> = f.ids.spans().collect();
            append(
                SegmentType::Membership,
                &encode_membership(f.mode().code(), &spans),
            )?
        }
        _ => SegRef::NONE,
    };
    m.checkpoint_cow_map = cow;
    m.checkpoint_id_index = id_index;
    m.checkpoint_dead_set = dead;
    m.checkpoint_membership = members;
    m.checkpoint_bytes = cow.len + id_index.len + dead.len + members.len;
    m.journal_head = SegRef::NONE;
    m.journal_count = 0;
    m.journal_bytes = 0;
    Ok(())
}

/// The smaller of the two encodings of a dead set: ranges (few, long runs of deletes) or
/// a bitmap (scattered deletes, which also decode much faster at open).
fn encode_dead(dead: &Bitset) -> (SegmentType, Vec<u8>) {
    let bit_len = dead.bit_len();
    let ranges = encode_dead_set(&dead.spans());
    if ranges.len() as u64 <= 8 + bit_len.div_ceil(64) * 8 {
        (SegmentType::DeadSet, ranges)
    } else {
        (
            SegmentType::DeadBitmap,
            encode_slot_bitmap(dead.words(), bit_len),
        )
    }
}

/// The root slot naming manifest `mref` (with `hash`) of generation `m`.
pub(crate) fn root_for(m: &Manifest, mref: SegRef, committed_end: u64, hash: [u8; 32]) -> RootSlot {
    RootSlot {
        format_version: FORMAT_VERSION,
        slot_index: RootSlot::slot_for_epoch(m.epoch),
        read_features: if m.parent.is_some() {
            rvf_format::layout::features::READ_COW_CHILD
        } else {
            0
        },
        write_features: 0,
        file_id: m.file_id,
        epoch: m.epoch,
        manifest_offset: mref.offset,
        manifest_len: mref.len,
        committed_end,
        manifest_hash: hash,
    }
}

/// Appends the manifest of `m` (taking its segment id from `txn`) and publishes the
/// root naming it. Returns the manifest's location and hash.
pub(crate) fn write_manifest_and_root(
    writer: &mut Writer,
    txn: &mut Txn,
    m: &mut Manifest,
) -> Result<(SegRef, [u8; 32])> {
    let manifest_id = txn.seg_id();
    m.next_segment_id = txn.next_segment_id;
    let seg = rvf_format::encode_segment(SegmentType::Manifest, manifest_id, m.epoch, &m.encode());
    let mref = writer.append_encoded(&seg)?;
    let hash = manifest_hash(&seg);
    writer.publish(root_for(m, mref, writer.end, hash))?;
    Ok((mref, hash))
}

/// The ids of the slots of `runs` not in `skip`, in run order, read from their SLOT_SEGs
/// (each verified first: a checkpoint must not copy damaged ids).
pub(crate) fn collect_ids(file: &MappedFile, runs: &[RunDesc], skip: &Bitset) -> Result<Vec<u64>> {
    let mut ids = Vec::with_capacity(runs.iter().map(|r| r.count as usize).sum());
    for d in runs {
        let (_, payload) =
            rvf_format::read_segment(file.bytes(), d.slot_seg, SegmentType::Slot, true)
                .map_err(|e| RvfError::corrupt(&file.path, d.slot_seg, e))?;
        let seg =
            SlotSeg::decode(payload).map_err(|e| RvfError::corrupt(&file.path, d.slot_seg, e))?;
        if seg.count != d.count {
            return Err(RvfError::corrupt(
                &file.path,
                d.slot_seg,
                "SLOT_SEG does not match its run",
            ));
        }
        ids.extend(
            (0..d.count)
                .filter(|&i| !skip.get(d.first_slot + u64::from(i)))
                .map(|i| seg.id(i as usize)),
        );
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::journal_limit;
    use crate::{Durability, RvfOptions, RvfStore};

    /// The journal that open must replay stays within its bound at every published root,
    /// however many commits a store has seen: after each commit when every commit is
    /// published, after each flush when commits are held back (`OnClose`).
    #[test]
    fn journal_stays_bounded_by_the_checkpoint() {
        for durability in [Durability::EveryCommit, Durability::OnClose] {
            let dir = tempfile::TempDir::new().unwrap();
            let path = dir.path().join("j.rvf");
            let opts = RvfOptions {
                dimension: 4,
                durability,
                ..Default::default()
            };
            let mut s = RvfStore::create(&path, opts).unwrap();
            let mut checkpoints = 0;
            let mut over_limit = 0;
            for i in 0..600u64 {
                let before = s.local.manifest.checkpoint_cow_map;
                s.ingest_batch(&[&[i as f32, 1.0, 2.0, 3.0]], &[i], None)
                    .unwrap();
                if i % 3 == 0 {
                    s.delete(&[i / 2]).unwrap();
                }
                if durability == Durability::OnClose && i % 50 == 49 {
                    s.flush().unwrap();
                }
                let m = &s.local.manifest;
                let published = durability == Durability::EveryCommit || i % 50 == 49;
                if m.journal_bytes > journal_limit(m.checkpoint_bytes) {
                    assert!(
                        !published,
                        "{durability:?}: commit {i} published a long journal"
                    );
                    over_limit += 1;
                }
                if m.checkpoint_cow_map != before {
                    checkpoints += 1;
                }
            }
            assert!(
                checkpoints >= 10,
                "{durability:?}: only {checkpoints} checkpoints in 600 commits"
            );
            if durability == Durability::OnClose {
                assert!(
                    over_limit > 0,
                    "OnClose defers its checkpoints to the flush"
                );
            }
            s.close().unwrap();
            let s = RvfStore::open(&path).unwrap();
            let m = &s.local.manifest;
            assert!(m.journal_bytes <= journal_limit(m.checkpoint_bytes));
            assert_eq!(s.status().total_vectors, 600 - 200);
        }
    }

    /// Scattered deletes are checkpointed as a bitmap, long runs of them as ranges, and
    /// both reopen to the same state (the ID_INDEX then skips the dead slots).
    #[test]
    fn dead_set_encoding_follows_the_shape_of_the_deletes() {
        use rvf_format::{read_segment_of, SegmentType};
        let dir = tempfile::TempDir::new().unwrap();
        for (name, dead, expected) in [
            (
                "scattered.rvf",
                (0..3000u64).step_by(3).collect::<Vec<_>>(),
                SegmentType::DeadBitmap,
            ),
            (
                "dense.rvf",
                (500..2500u64).collect::<Vec<_>>(),
                SegmentType::DeadSet,
            ),
        ] {
            let path = dir.path().join(name);
            let opts = RvfOptions {
                dimension: 2,
                ..Default::default()
            };
            let mut s = RvfStore::create(&path, opts).unwrap();
            let ids: Vec<u64> = (0..3000).collect();
            let vecs: Vec<[f32; 2]> = ids.iter().map(|&i| [i as f32, 1.0]).collect();
            let refs: Vec<&[f32]> = vecs.iter().map(|v| v.as_slice()).collect();
            s.ingest_batch(&refs, &ids, None).unwrap();
            s.delete(&dead).unwrap();
            // Enough small commits to force a checkpoint after the deletes.
            let mut next = 10_000u64;
            while s.local.manifest.journal_count > 0 {
                s.ingest_batch(&[&[0.5, 0.5]], &[next], None).unwrap();
                next += 1;
            }
            let added = next - 10_000;
            let dref = s.local.manifest.checkpoint_dead_set;
            let bytes = std::fs::read(&path).unwrap();
            let (h, _) = read_segment_of(
                &bytes,
                dref.offset,
                &[SegmentType::DeadSet, SegmentType::DeadBitmap],
                true,
            )
            .unwrap();
            assert_eq!(h.seg_type, expected, "{name}");
            s.close().unwrap();
            let s = RvfStore::open(&path).unwrap();
            assert_eq!(s.status().total_vectors, 3000 - dead.len() as u64 + added);
            for id in [0u64, 1, 2, 499, 500, 2499, 2500, 2999] {
                assert_eq!(
                    s.get(id).unwrap().is_some(),
                    !dead.contains(&id),
                    "{name} id {id}"
                );
            }
            assert!(s.get(10_000).unwrap().is_some());
        }
    }
}
