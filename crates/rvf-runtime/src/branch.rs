//! Copy-on-write branching: a child file that records its parent and inherits every
//! vector by reference.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rvf_format::layout::{MAX_LINEAGE_DEPTH, MAX_PATH_LEN};
use rvf_format::{Manifest, ParentRef, SegRef};

use crate::bitset::Bitset;
use crate::error::{Result, RvfError};
use crate::index::ViewGraph;
use crate::load::{path_to_bytes, Loaded};
use crate::local::{LocalState, MembershipFilter};
use crate::mmap::MappedFile;
use crate::options::Durability;
use crate::run::RunList;
use crate::store::{lock_writer, RvfStore};
use crate::view::View;

impl RvfStore {
    /// Creates a copy-on-write child at `path` and returns it open for writing.
    ///
    /// The child sees this store exactly as it is now; later writes on either side are
    /// invisible to the other. The cost is O(1) in the size of this store: the child file
    /// holds only its identity, the parent reference and an empty map of local clusters.
    pub fn branch(&self, path: &Path) -> Result<RvfStore> {
        let depth = self.local.manifest.lineage_depth;
        if depth >= MAX_LINEAGE_DEPTH {
            return Err(RvfError::LineageTooDeep {
                max: MAX_LINEAGE_DEPTH,
            });
        }
        // The child pins the last commit, so it must be on disk before the child exists.
        let durability = match &self.writer {
            Some(w) => {
                let mut w = lock_writer(w);
                w.flush()?;
                w.durability
            }
            None => Durability::EveryCommit,
        };
        let parent_abs = std::fs::canonicalize(&self.path)
            .map_err(|e| RvfError::io(&self.path, "resolving the parent path", e))?;
        let child_abs = absolute_in_existing_dir(path)?;
        let child_dir = child_abs.parent().unwrap_or(Path::new("/"));
        let relative = relative_path(child_dir, &parent_abs);
        // Paths are recorded within the reader's limit: a relative path longer than
        // that (deep directories far apart) is left out, and the absolute one serves.
        let original_path = path_to_bytes(&parent_abs);
        if original_path.len() > MAX_PATH_LEN {
            return Err(RvfError::InvalidArgument(format!(
                "the parent's path is longer than the {MAX_PATH_LEN} bytes a branch can record: {}",
                parent_abs.display()
            )));
        }
        let relative_path = Some(path_to_bytes(&relative))
            .filter(|p| p.len() <= MAX_PATH_LEN)
            .unwrap_or_default();
        let pm = &self.local.manifest;
        let vpc = u64::from(pm.vectors_per_cluster);
        let first_local = self.view.slot_count.div_ceil(vpc) * vpc;
        let manifest = Manifest {
            epoch: 1,
            prev_manifest: SegRef::NONE,
            file_id: rand::random(),
            frozen: false,
            lineage_depth: depth + 1,
            slot_count: first_local,
            first_local_slot: first_local,
            live_count: self.view.visible_count,
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
            parent: Some(ParentRef {
                file_id: pm.file_id,
                epoch: pm.epoch,
                manifest: self.local.manifest_ref,
                manifest_hash: self.local.manifest_hash,
                relative_path,
                original_path,
            }),
            ..pm.clone()
        };
        // The child keeps its parent's index options; its graphs start empty (it
        // searches the parent's).
        let index = rvf_format::IndexMap {
            settings: self.local.index.settings,
            graphs: Vec::new(),
        };
        let mut child = RvfStore::create_with_manifest(
            path,
            manifest,
            &index,
            durability,
            self.search.clone(),
            Some(&self.view),
        )?;
        child.refresh_member_count();
        Ok(child)
    }
}

/// The in-memory state of a fresh child, built from the parent's view without reading
/// the parent's file again.
pub(crate) fn child_view(
    file: Arc<MappedFile>,
    manifest: Manifest,
    mref: SegRef,
    hash: [u8; 32],
    parent: &View,
    index: rvf_format::IndexMap,
) -> Loaded {
    let mut files = vec![file];
    files.extend(parent.files.iter().cloned());
    let runs = parent.runs.inherited();
    let base_visible = Arc::new(parent.visible.clone());
    let view = View {
        config: parent.config,
        files,
        runs,
        dead: Bitset::complement_prefix(&parent.visible, parent.slot_count),
        visible: parent.visible.clone(),
        visible_count: parent.visible_count,
        ids: parent.ids.branch(),
        slot_count: manifest.slot_count,
        first_local_slot: manifest.first_local_slot,
        base_visible: Some(base_visible),
        graphs: parent.graphs.iter().map(ViewGraph::inherited).collect(),
    };
    let local = LocalState {
        membership: Some(MembershipFilter::new(parent.visible_count)),
        manifest,
        manifest_ref: mref,
        manifest_hash: hash,
        runs: RunList::new(parent.config.dim),
        own_dead: Bitset::default(),
        index,
    };
    Loaded { local, view }
}

/// `path` made absolute against its (existing) directory, without requiring the file.
fn absolute_in_existing_dir(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        RvfError::InvalidArgument(format!("{} is not a file path", path.display()))
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| RvfError::io(&dir, "resolving the directory", e))?;
    Ok(dir.join(name))
}

/// The path of `target` relative to directory `from` (both absolute).
pub(crate) fn relative_path(from: &Path, target: &Path) -> PathBuf {
    let f: Vec<Component<'_>> = from.components().collect();
    let t: Vec<Component<'_>> = target.components().collect();
    let common = f.iter().zip(t.iter()).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::relative_path;
    use std::path::{Path, PathBuf};

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(Path::new("/a/b"), Path::new("/a/b/p.rvf")),
            PathBuf::from("p.rvf")
        );
        assert_eq!(
            relative_path(Path::new("/a/b/c"), Path::new("/a/x/p.rvf")),
            PathBuf::from("../../x/p.rvf")
        );
    }
}
