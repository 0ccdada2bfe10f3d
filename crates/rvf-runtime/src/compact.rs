//! Compaction and materialization: rewrite the live state into a new file beside the
//! old one, sync it, and rename it over the old one.

use std::fs::OpenOptions as FsOpenOptions;
use std::path::{Path, PathBuf};

use rvf_format::layout::DATA_START;
use rvf_format::{Manifest, RunDesc, RunKind, SegRef};

use crate::bitset::Bitset;
use crate::commit::{write_checkpoint, write_manifest_and_root, CheckpointState, Txn};
use crate::error::{Result, RvfError};
use crate::options::{Durability, OpenOptions};
use crate::store::{lock_exclusive, lock_writer, RvfStore};
use crate::view::Run;
use crate::write::{write_run, RunRows};
use crate::writer::{sync_dir, Writer};

/// Vectors per run written by a rewrite: bounds the memory of one run's id and
/// metadata arrays.
const REWRITE_RUN: usize = 1 << 16;

/// Which slots a rewrite keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Alive local slots; a branch keeps its parent.
    Compact,
    /// Every visible slot, inherited or not; the result has no parent.
    Materialize,
}

impl RvfStore {
    /// Rewrites the file with only what the current generation needs, atomically (new
    /// file, sync, rename). Identity, lineage, membership and every visible vector are
    /// kept; history (earlier generations) is dropped, so branches that pinned an
    /// earlier generation of this store will refuse to open with a clear error.
    pub fn compact(&mut self) -> Result<()> {
        self.rewrite(Keep::Compact)
    }

    /// Turns a branch into a standalone store that no longer needs its ancestors: every
    /// visible vector is copied into this file. Identity is kept; lineage is cleared.
    pub fn materialize(&mut self) -> Result<()> {
        self.rewrite(Keep::Materialize)
    }

    fn rewrite(&mut self, keep: Keep) -> Result<()> {
        self.check_writable()?;
        let durability = match &self.writer {
            Some(w) => lock_writer(w).durability,
            None => Durability::EveryCommit,
        };
        self.flush()?;
        // Graphs over this file's slots do not survive the renumbering; a store that
        // had them gets them again below.
        let had_graphs = self
            .view
            .graphs
            .iter()
            .any(|g| g.file == 0 || keep == Keep::Materialize)
            || self.background.has_ready()
            || self.background.is_running();
        self.background.discard();
        let tmp = tmp_path(&self.path);
        let _ = std::fs::remove_file(&tmp);
        let result = self
            .write_rewrite(&tmp, keep)
            .and_then(|()| self.check_rewrite(&tmp));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Err(e) = crate::fileio::rename(&tmp, &self.path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(RvfError::io(&self.path, "replacing the file", e));
        }
        // The path now names the new file: from here on this store must write to it,
        // never to the old inode, whatever else fails.
        let synced = sync_dir(&self.path);
        // Release the old file before reopening the new one under the same lock.
        self.writer = None;
        let reopened = RvfStore::open_with(
            &self.path,
            OpenOptions {
                read_only: false,
                durability,
                parent_search_paths: self.search.search_paths.clone(),
                ..OpenOptions::default()
            },
        )?;
        *self = reopened;
        if let Err(e) = synced {
            // The rename may not survive a crash, and commits on top of it would go
            // with it: refuse them until the store is reopened.
            if let Some(w) = &self.writer {
                lock_writer(w).poison(format!("syncing the directory after compaction: {e}"));
            }
            return Err(e);
        }
        if had_graphs {
            self.build_index()?;
        }
        Ok(())
    }

    fn write_rewrite(&self, tmp: &std::path::Path, keep: Keep) -> Result<()> {
        let file = FsOpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(|e| RvfError::io(tmp, "creating the compacted file", e))?;
        lock_exclusive(tmp, &file)?;
        let mut writer = Writer::new(file, tmp, DATA_START, Durability::EveryCommit, 1);
        let old = &self.local.manifest;
        let mut txn = Txn {
            epoch: old.epoch + 1,
            next_segment_id: 1,
            dead_extra: 0,
        };
        let view = &self.view;
        let detach = keep == Keep::Materialize || old.parent.is_none();
        let first_local = if detach { 0 } else { view.first_local_slot };
        let mut runs: Vec<RunDesc> = Vec::new();

        // Slab copies shadow their parent's slots, so a branch keeps them slot for slot.
        if !detach {
            for run in view
                .runs
                .values()
                .filter(|r| r.file == 0 && r.kind == RunKind::SlabCopy)
            {
                let slots: Vec<u64> = (run.first_slot..run.end_slot()).collect();
                runs.push(self.copy_slots(
                    &mut writer,
                    &mut txn,
                    run.first_slot,
                    RunKind::SlabCopy,
                    &slots,
                )?);
            }
        }
        let wanted = |run: &Run, s: u64| match keep {
            Keep::Materialize => view.visible.get(s),
            Keep::Compact => {
                !view.dead.get(s) && (run.file == 0 && run.kind == RunKind::Append || detach)
            }
        };
        let mut kept: Vec<u64> = Vec::new();
        for run in view.runs.values() {
            kept.extend((run.first_slot..run.end_slot()).filter(|&s| wanted(run, s)));
        }
        let mut next_slot = first_local;
        for chunk in kept.chunks(REWRITE_RUN) {
            runs.push(self.copy_slots(&mut writer, &mut txn, next_slot, RunKind::Append, chunk)?);
            next_slot += chunk.len() as u64;
        }

        let mut m: Manifest = old.clone();
        m.epoch = txn.epoch;
        m.prev_manifest = SegRef::NONE;
        m.slot_count = next_slot.max(first_local);
        m.first_local_slot = first_local;
        m.live_count = match keep {
            Keep::Materialize => kept.len() as u64,
            Keep::Compact => view.visible_count,
        };
        m.dead_bytes = 0;
        // The index options stay; the graphs indexed the old slot numbers and are
        // rebuilt once the new file is in place.
        let map = rvf_format::IndexMap {
            settings: self.local.index.settings,
            graphs: Vec::new(),
        };
        m.index_root = writer.append_segment(
            rvf_format::SegmentType::IndexMap,
            txn.seg_id(),
            txn.epoch,
            &map.encode(),
        )?;
        let mut own_dead = Bitset::default();
        if !detach {
            for s in self.local.own_dead.ones().take_while(|&s| s < first_local) {
                own_dead.set(s);
            }
        }
        let state = CheckpointState {
            runs: runs.as_slice().into(),
            own_dead: &own_dead,
            membership: self.local.membership.as_ref().filter(|_| !detach),
        };
        let written = crate::mmap::MappedFile::map(tmp, writer.end)?;
        write_checkpoint(&mut writer, &mut txn, &mut m, &state, &written)?;
        if detach {
            m.parent = None;
            m.lineage_depth = 0;
        }
        write_manifest_and_root(&mut writer, &mut txn, &mut m).map(|_| ())
    }

    /// Opens the rewritten file as a reader would, verifies every segment it uses and
    /// compares what it shows with this store, so that a rewrite this build cannot read
    /// back never replaces a good file.
    fn check_rewrite(&self, tmp: &Path) -> Result<()> {
        let options = OpenOptions {
            read_only: true,
            parent_search_paths: self.search.search_paths.clone(),
            ..OpenOptions::default()
        };
        let rewritten = RvfStore::open_with(tmp, options)?;
        for run in rewritten.view.runs.values() {
            run.ensure(rewritten.view.file(run)?)?;
        }
        let mismatch = |what: &str| {
            Err(RvfError::internal(format!(
                "the rewrite of {} does not match the store ({what}); the original file is unchanged",
                self.path.display()
            )))
        };
        if rewritten.view.visible_count != self.view.visible_count {
            return mismatch("number of vectors");
        }
        if rewritten.ids()? != self.ids()? {
            return mismatch("ids");
        }
        if rewritten.local.membership != self.local.membership
            && self.local.manifest.parent.is_some()
            && rewritten.local.manifest.parent.is_some()
        {
            return mismatch("membership filter");
        }
        Ok(())
    }

    /// Writes the vectors, ids and metadata of `slots` (of the current view) as one run
    /// starting at `first_slot`.
    fn copy_slots(
        &self,
        writer: &mut Writer,
        txn: &mut Txn,
        first_slot: u64,
        kind: RunKind,
        slots: &[u64],
    ) -> Result<RunDesc> {
        let view = &self.view;
        let dim = usize::from(view.config.dim);
        let mut rows = RunRows::with_capacity(slots.len());
        for &s in slots {
            let run = view.run_of(s).ok_or_else(|| {
                RvfError::corrupt_state(&self.path, format!("slot {s} has no run"))
            })?;
            let file = view.file(run)?;
            run.ensure(file)?;
            let i = (s - run.first_slot) as usize;
            let v = run
                .vectors(file, view.config.dim)?
                .get(i * dim..(i + 1) * dim)
                .ok_or_else(|| {
                    RvfError::corrupt(&file.path, run.vec_payload(), "vector out of range")
                })?;
            let seg = run.slot_seg(file);
            let idx = run.seg_index(s);
            rows.push(v, seg.id(idx), seg.metadata_bytes(idx));
        }
        write_run(writer, txn, view.config.dim, first_slot, kind, &rows)?
            .ok_or_else(|| RvfError::corrupt_state(&self.path, "a stored vector is not finite"))
    }
}

fn tmp_path(path: &std::path::Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".compact-tmp");
    path.with_file_name(name)
}
