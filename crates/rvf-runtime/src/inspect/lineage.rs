//! A store's family tree: the store and each ancestor, with the generation it pins.

use std::path::{Path, PathBuf};

use rvf_format::{Manifest, SegRef, SegmentType};

use super::reader::FileReader;
use crate::error::{Result, RvfError};
use crate::store::RvfStore;

/// The store itself (depth 0) or one of its ancestors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageEntry {
    /// 0 for the store, 1 for its parent, and so on.
    pub depth: u16,
    pub path: PathBuf,
    pub file_id: [u8; 16],
    /// The generation the child below pins (`None` for the store itself).
    pub pinned_epoch: Option<u64>,
    /// Vectors visible in the pinned generation (the current one for the store).
    pub pinned_vectors: u64,
    /// The file's own last committed generation.
    pub current_epoch: u64,
    /// Whether the file's last committed generation is frozen.
    pub frozen: bool,
    pub file_size: u64,
}

/// The lineage of the store at `path`, the store first. The parent chain is resolved as
/// opening the store resolves it, so this fails when opening would.
pub fn lineage(path: &Path) -> Result<Vec<LineageEntry>> {
    let store = RvfStore::open_readonly(path)?;
    let mut paths = vec![path.to_path_buf()];
    paths.extend(store.ancestor_paths());
    drop(store);
    let mut out = Vec::new();
    let mut pinned: Option<(u64, SegRef)> = None;
    for (depth, p) in paths.iter().enumerate() {
        let r = FileReader::open(p)?;
        let root = r.root()?;
        let current = manifest_at(
            &r,
            SegRef {
                offset: root.manifest_offset,
                len: root.manifest_len,
            },
            root.committed_end,
        )?;
        let at = match pinned {
            Some((_, mref)) => manifest_at(&r, mref, root.committed_end)?,
            None => current.clone(),
        };
        out.push(LineageEntry {
            depth: depth as u16,
            path: p.clone(),
            file_id: root.file_id,
            pinned_epoch: pinned.map(|(e, _)| e),
            pinned_vectors: at.live_count,
            current_epoch: current.epoch,
            frozen: current.frozen,
            file_size: r.len,
        });
        pinned = at.parent.map(|pr| (pr.epoch, pr.manifest));
    }
    Ok(out)
}

fn manifest_at(r: &FileReader, mref: SegRef, limit: u64) -> Result<Manifest> {
    let (_, payload) = r
        .segment(mref.offset, &[SegmentType::Manifest], limit)
        .map_err(|e| RvfError::corrupt(&r.path, mref.offset, e))?;
    Manifest::decode(&payload).map_err(|e| RvfError::corrupt(&r.path, mref.offset, e))
}
