//! `RvfStore`: creating and opening files, identity, status and reads.

use std::fs::{File, OpenOptions as FsOpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rvf_format::layout::{self, DATA_START};
use rvf_format::{manifest_hash, Manifest, Metadata, RootSlot, SegRef, SegmentType};

use crate::error::{Result, RvfError};
use crate::load::{self, metric_code, read_root, Loaded, ParentSearch};
use crate::local::{LocalState, MembershipFilter};
use crate::mmap::MappedFile;
use crate::options::{DistanceMetric, Durability, OpenOptions, RvfOptions};
use crate::recover::Recovery;
use crate::view::{Config, View};
use crate::writer::{sync_dir, Writer};

/// An open RVF store: one `.rvf` file (plus, for a branch, its read-only ancestors).
///
/// Queries take `&self` and may run from many threads at once; writes take `&mut self`.
#[derive(Debug)]
pub struct RvfStore {
    pub(crate) path: PathBuf,
    pub(crate) writer: Option<Mutex<Writer>>,
    pub(crate) local: LocalState,
    pub(crate) view: View,
    pub(crate) search: ParentSearch,
    /// Set when the store was opened with `OpenOptions::recover`.
    pub(crate) recovery: Option<Recovery>,
    /// The background index builder.
    pub(crate) background: crate::index::Background,
}

/// A stored vector and its metadata, as returned by [`RvfStore::get`].
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRecord {
    pub id: u64,
    pub vector: Vec<f32>,
    pub metadata: Option<Metadata>,
}

/// Counters describing a store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStatus {
    /// Vectors a query can return.
    pub total_vectors: u64,
    /// Bytes of this file (a branch's ancestors are not counted).
    pub file_size: u64,
    pub dimension: u16,
    pub metric: DistanceMetric,
    /// Generation number of the last commit.
    pub epoch: u64,
    /// Segments written to this file since it was created or last compacted.
    pub segment_count: u64,
    /// Bytes `compact` would reclaim: superseded metadata and dead local vectors.
    pub dead_bytes: u64,
    pub read_only: bool,
    pub frozen: bool,
    pub lineage_depth: u16,
    /// Commits journaled since the last checkpoint (what open replays).
    pub journal_commits: u64,
    /// Bytes of the last checkpoint (what open reads besides the journal).
    pub checkpoint_bytes: u64,
}

/// Copy-on-write statistics of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CowStats {
    /// Clusters in the store's slot space (inherited and local).
    pub cluster_count: u64,
    /// Clusters with vectors stored in this file (new or copied).
    pub local_cluster_count: u64,
    /// Byte size of a cluster.
    pub cluster_size: u32,
    pub vectors_per_cluster: u32,
    pub frozen: bool,
}

pub(crate) fn lock_writer(w: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    w.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RvfStore {
    /// Creates a new, empty store at `path` (which must not exist).
    pub fn create(path: &Path, options: RvfOptions) -> Result<RvfStore> {
        if options.dimension == 0 {
            return Err(RvfError::InvalidArgument(
                "dimension must be at least 1".into(),
            ));
        }
        let (align, max) = (layout::CLUSTER_ALIGN, layout::MAX_CLUSTER_BYTES);
        if options.cluster_bytes < align
            || options.cluster_bytes > max
            || !options.cluster_bytes.is_multiple_of(align)
        {
            return Err(RvfError::InvalidArgument(format!(
                "cluster_bytes must be a multiple of {align} between {align} and {max}"
            )));
        }
        let config = Config {
            dim: options.dimension,
            metric: options.metric,
            cluster_bytes: options.cluster_bytes,
            vectors_per_cluster: rvf_format::vectors_per_cluster(
                options.dimension,
                options.cluster_bytes,
            ),
        };
        let manifest = Manifest {
            epoch: 1,
            prev_manifest: SegRef::NONE,
            file_id: rand::random(),
            dimension: config.dim,
            metric: metric_code(config.metric),
            frozen: false,
            lineage_depth: 0,
            cluster_bytes: config.cluster_bytes,
            vectors_per_cluster: config.vectors_per_cluster,
            slot_count: 0,
            first_local_slot: 0,
            live_count: 0,
            next_segment_id: 1,
            checkpoint_cow_map: SegRef::NONE,
            checkpoint_dead_set: SegRef::NONE,
            checkpoint_membership: SegRef::NONE,
            checkpoint_id_index: SegRef::NONE,
            journal_head: SegRef::NONE,
            journal_count: 0,
            journal_bytes: 0,
            checkpoint_bytes: 0,
            dead_bytes: 0,
            index_root: SegRef::NONE,
            tag_table: SegRef::NONE,
            parent: None,
        };
        let index = rvf_format::IndexMap {
            settings: crate::index::settings_of(options.index.as_ref()),
            graphs: Vec::new(),
        };
        Self::create_with_manifest(
            path,
            manifest,
            &index,
            options.durability,
            ParentSearch::default(),
            None,
        )
    }

    /// Writes a brand-new file holding one manifest, then opens it. `parent` supplies the
    /// in-memory state of a branch's parent so the child need not re-read it.
    pub(crate) fn create_with_manifest(
        path: &Path,
        manifest: Manifest,
        index: &rvf_format::IndexMap,
        durability: Durability,
        search: ParentSearch,
        parent: Option<&View>,
    ) -> Result<RvfStore> {
        let file = FsOpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => RvfError::AlreadyExists {
                    path: path.to_path_buf(),
                },
                _ => RvfError::io(path, "creating the file", e),
            })?;
        // A file that could not be fully written is removed, so a retry is not refused
        // with `AlreadyExists` and no unreadable file is left behind.
        let result = Self::init_new_file(path, file, manifest, index, durability, search, parent);
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn init_new_file(
        path: &Path,
        file: File,
        mut manifest: Manifest,
        index: &rvf_format::IndexMap,
        durability: Durability,
        search: ParentSearch,
        parent: Option<&View>,
    ) -> Result<RvfStore> {
        lock_exclusive(path, &file)?;
        // The new file holds an empty COW map (and, for a branch, an empty membership
        // filter) as its checkpoint, then the manifest: a few hundred bytes whatever the
        // size of the parent.
        let mut body = Vec::new();
        let mut seg_id = 1u64;
        let mut push = |body: &mut Vec<u8>, ty: SegmentType, payload: &[u8]| -> SegRef {
            let seg = rvf_format::encode_segment(ty, seg_id, manifest.epoch, payload);
            seg_id += 1;
            let r = SegRef {
                offset: DATA_START + body.len() as u64,
                len: seg.len() as u64,
            };
            body.extend_from_slice(&seg);
            r
        };
        manifest.checkpoint_cow_map = push(
            &mut body,
            SegmentType::CowMap,
            &rvf_format::encode_run_table(&[]),
        );
        if manifest.parent.is_some() {
            manifest.checkpoint_membership = push(
                &mut body,
                SegmentType::Membership,
                &rvf_format::encode_membership(rvf_format::MembershipModeCode::Exclude, &[]),
            );
        }
        manifest.index_root = push(&mut body, SegmentType::IndexMap, &index.encode());
        manifest.checkpoint_bytes =
            manifest.checkpoint_cow_map.len + manifest.checkpoint_membership.len;
        manifest.next_segment_id = seg_id + 1;
        let payload = manifest.encode();
        let seg =
            rvf_format::encode_segment(SegmentType::Manifest, seg_id, manifest.epoch, &payload);
        let mref = SegRef {
            offset: DATA_START + body.len() as u64,
            len: seg.len() as u64,
        };
        body.extend_from_slice(&seg);
        let root = crate::commit::root_for(
            &manifest,
            mref,
            DATA_START + body.len() as u64,
            manifest_hash(&seg),
        );
        // One write of root area and segments, one sync: a crash before the sync leaves
        // either nothing or a file whose root hash check fails, never a misread store.
        let mut image = vec![0u8; DATA_START as usize];
        let slot_at = RootSlot::offset_of(root.slot_index) as usize;
        image[slot_at..slot_at + layout::ROOT_SLOT_LEN].copy_from_slice(&root.encode());
        image.extend_from_slice(&body);
        let io = |e| RvfError::io(path, "writing the new file", e);
        crate::fileio::write_at(&file, &image, 0).map_err(io)?;
        crate::fileio::sync_all(&file).map_err(io)?;
        sync_dir(path)?;
        let mapped = Arc::new(MappedFile::map(path, root.committed_end)?);
        let loaded = match parent {
            // Building the child's view from the parent's memory keeps branching O(1) in
            // the parent's size.
            Some(pview) => crate::branch::child_view(
                mapped,
                manifest.clone(),
                mref,
                root.manifest_hash,
                pview,
                index.clone(),
            ),
            None => load::load_generation(mapped, mref, None, &search, 0)?,
        };
        let writer = Writer::new(file, path, root.committed_end, durability, root.slot_index);
        Ok(RvfStore::from_loaded(
            path,
            Some(Mutex::new(writer)),
            loaded,
            search,
            None,
        ))
    }

    /// Opens an existing store for reading and writing.
    pub fn open(path: &Path) -> Result<RvfStore> {
        Self::open_with(path, OpenOptions::default())
    }

    /// Opens an existing store without the writer lock; sees the last commit even while
    /// another process writes.
    pub fn open_readonly(path: &Path) -> Result<RvfStore> {
        Self::open_with(
            path,
            OpenOptions {
                read_only: true,
                ..OpenOptions::default()
            },
        )
    }

    pub fn open_with(path: &Path, options: OpenOptions) -> Result<RvfStore> {
        if options.recover {
            return crate::recover::open_recovered(path, &options);
        }
        let file = FsOpenOptions::new()
            .read(true)
            .write(!options.read_only)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => RvfError::FileNotFound {
                    path: path.to_path_buf(),
                },
                _ => RvfError::io(path, "opening the file", e),
            })?;
        if !options.read_only {
            lock_exclusive(path, &file)?;
        }
        let root = read_root(path, &file)?;
        if !options.read_only {
            root.check_write_features()
                .map_err(|e| RvfError::Incompatible {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })?;
            // A torn tail from an interrupted commit is dropped by the next writer.
            let len = file
                .metadata()
                .map_err(|e| RvfError::io(path, "reading file metadata", e))?
                .len();
            if len > root.committed_end {
                crate::fileio::set_len(&file, root.committed_end)
                    .and_then(|_| crate::fileio::sync_all(&file))
                    .map_err(|e| RvfError::io(path, "truncating an uncommitted tail", e))?;
            }
        }
        let mapped = Arc::new(MappedFile::map(path, root.committed_end)?);
        let search = ParentSearch {
            search_paths: options.parent_search_paths.clone(),
        };
        let mref = SegRef {
            offset: root.manifest_offset,
            len: root.manifest_len,
        };
        let Loaded { local, view } =
            load::load_generation(mapped, mref, Some(root.manifest_hash), &search, 0)?;
        if local.manifest.file_id != root.file_id {
            return Err(RvfError::corrupt(
                path,
                mref.offset,
                "manifest belongs to another file",
            ));
        }
        let writer = (!options.read_only).then(|| {
            Mutex::new(Writer::new(
                file,
                path,
                root.committed_end,
                options.durability,
                root.slot_index,
            ))
        });
        Ok(RvfStore::from_loaded(
            path,
            writer,
            Loaded { local, view },
            search,
            None,
        ))
    }

    pub(crate) fn from_loaded(
        path: &Path,
        writer: Option<Mutex<Writer>>,
        loaded: Loaded,
        search: ParentSearch,
        recovery: Option<Recovery>,
    ) -> RvfStore {
        let mut store = RvfStore {
            path: path.to_path_buf(),
            writer,
            local: loaded.local,
            view: loaded.view,
            search,
            recovery,
            background: crate::index::Background::default(),
        };
        store.refresh_member_count();
        store
    }

    /// What `OpenOptions::recover` found: the epoch opened and the ones dropped
    /// (`None` for a normal open).
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// Indexes what is pending (when there is enough of it to be worth a graph; see
    /// `IndexOptions`), publishes pending commits (durability `OnClose`) and releases
    /// the file.
    pub fn close(mut self) -> Result<()> {
        self.index_before_closing()?;
        self.flush()
    }

    /// Publishes and syncs commits held back by `Durability::OnClose`.
    pub fn flush(&mut self) -> Result<()> {
        if self.writer.is_none() {
            return Ok(());
        }
        self.checkpoint_before_publishing()?;
        match &self.writer {
            Some(w) => lock_writer(w).flush(),
            None => Ok(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file_id(&self) -> &[u8; 16] {
        &self.local.manifest.file_id
    }

    /// The parent's file id (all zeros for a root store).
    pub fn parent_id(&self) -> &[u8; 16] {
        const ZERO: [u8; 16] = [0; 16];
        self.local
            .manifest
            .parent
            .as_ref()
            .map_or(&ZERO, |p| &p.file_id)
    }

    pub fn lineage_depth(&self) -> u16 {
        self.local.manifest.lineage_depth
    }

    pub fn is_cow_child(&self) -> bool {
        self.local.manifest.parent.is_some()
    }

    pub fn dimension(&self) -> u16 {
        self.view.config.dim
    }

    pub fn metric(&self) -> DistanceMetric {
        self.view.config.metric
    }

    pub fn epoch(&self) -> u64 {
        self.local.manifest.epoch
    }

    pub fn is_frozen(&self) -> bool {
        self.local.manifest.frozen
    }

    pub fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    /// Paths of the ancestors this store reads, nearest first.
    pub fn ancestor_paths(&self) -> Vec<PathBuf> {
        self.view
            .files
            .iter()
            .skip(1)
            .map(|f| f.path.clone())
            .collect()
    }

    pub fn status(&self) -> StoreStatus {
        let m = &self.local.manifest;
        let file_size = match &self.writer {
            Some(w) => lock_writer(w).end,
            None => self.view.files.first().map_or(0, |f| f.len()),
        };
        let per_slot = u64::from(self.view.config.dim) * 4 + 4 + 8;
        let dead_local = self
            .local
            .own_dead
            .ones()
            .filter(|&s| self.view.run_of(s).is_some_and(|r| r.file == 0))
            .count() as u64;
        StoreStatus {
            total_vectors: self.view.visible_count,
            file_size,
            dimension: self.view.config.dim,
            metric: self.view.config.metric,
            epoch: m.epoch,
            segment_count: m.next_segment_id.saturating_sub(1),
            dead_bytes: m
                .dead_bytes
                .saturating_add(dead_local.saturating_mul(per_slot)),
            read_only: self.writer.is_none(),
            frozen: m.frozen,
            lineage_depth: m.lineage_depth,
            journal_commits: m.journal_count,
            checkpoint_bytes: m.checkpoint_bytes,
        }
    }

    pub fn cow_stats(&self) -> Option<CowStats> {
        let vpc = u64::from(self.view.config.vectors_per_cluster);
        let mut local_clusters = std::collections::BTreeSet::new();
        for r in self.view.runs.values().filter(|r| r.file == 0) {
            let (a, b) = (r.first_slot / vpc, (r.end_slot() - 1) / vpc);
            local_clusters.extend(a..=b);
        }
        Some(CowStats {
            cluster_count: self.view.slot_count.div_ceil(vpc),
            local_cluster_count: local_clusters.len() as u64,
            cluster_size: self.view.config.cluster_bytes,
            vectors_per_cluster: self.view.config.vectors_per_cluster,
            frozen: self.local.manifest.frozen,
        })
    }

    /// The membership filter of a branch (`None` for a root store).
    pub fn membership_filter(&self) -> Option<&MembershipFilter> {
        self.local.membership.as_ref()
    }

    /// Number of vectors a query can return.
    pub fn len(&self) -> u64 {
        self.view.visible_count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The vector and metadata stored under `id`, if it is visible.
    pub fn get(&self, id: u64) -> Result<Option<VectorRecord>> {
        let Some(slot) = self.view.visible_slot(id) else {
            return Ok(None);
        };
        let run = self.view.run_of(slot).ok_or_else(|| {
            RvfError::corrupt_state(&self.path, format!("slot {slot} has no run"))
        })?;
        let file = self.view.file(run)?;
        run.ensure(file)?;
        let dim = usize::from(self.view.config.dim);
        let i = (slot - run.first_slot) as usize;
        let vector = run
            .vectors(file, self.view.config.dim)?
            .get(i * dim..(i + 1) * dim)
            .map(<[f32]>::to_vec)
            .ok_or_else(|| {
                RvfError::corrupt(&file.path, run.vec_payload(), "vector out of range")
            })?;
        let metadata = run
            .slot_seg(file)
            .metadata(run.seg_index(slot))
            .map_err(|e| RvfError::corrupt(&file.path, run.slot_payload().0, e))?;
        Ok(Some(VectorRecord {
            id,
            vector,
            metadata,
        }))
    }

    /// Ids of every visible vector, ascending.
    pub fn ids(&self) -> Result<Vec<u64>> {
        let mut out = Vec::with_capacity(self.view.visible_count as usize);
        for run in self.view.runs.values() {
            let file = self.view.file(run)?;
            run.ensure_slots(file)?;
            let seg = run.slot_seg(file);
            out.extend(
                (run.first_slot..run.end_slot())
                    .filter(|&s| self.view.visible.get(s))
                    .map(|s| seg.id(run.seg_index(s))),
            );
        }
        out.sort_unstable();
        Ok(out)
    }
}

impl Drop for RvfStore {
    fn drop(&mut self) {
        // Best effort: an `OnClose` store dropped without `close` still publishes its
        // commits; errors have nowhere to go here, and `close` reports them.
        let _ = self.flush();
    }
}

pub(crate) fn lock_exclusive(path: &Path, file: &File) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(RvfError::Locked {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(RvfError::io(path, "locking the file", e)),
    }
}
