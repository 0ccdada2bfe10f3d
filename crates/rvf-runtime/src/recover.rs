//! Opening a file that lost its tail: the newest generation whose every byte is still
//! in the file, found from the root slots and the chain of previous manifests, or, when
//! the manifests the roots name are gone too, by walking the segments from the start
//! of the file (they are contiguous: each header gives the next one's offset).
//!
//! A commit writes its manifest last, after every segment it names, so a generation
//! whose manifest lies within the file has all its segments within it too; what is
//! left is to check them, which this does eagerly (every checksum of every segment the
//! generation uses) rather than on first use as a normal open does.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;

use rvf_format::layout::DATA_START;
use rvf_format::{read_segment, Manifest, SegRef, SegmentHeader, SegmentType};

use crate::error::{Result, RvfError};
use crate::load::{self, read_roots, Loaded, ParentSearch};
use crate::mmap::MappedFile;
use crate::options::OpenOptions;
use crate::store::RvfStore;

/// What [`OpenOptions::recover`] opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The epoch the newest root slot names.
    pub newest_epoch: u64,
    /// The epoch opened: the newest one the file still holds intact.
    pub opened_epoch: u64,
    /// Why each newer generation could not be used, newest first.
    pub reasons: Vec<String>,
}

impl Recovery {
    /// The generations lost (empty when the newest one opened).
    pub fn dropped_epochs(&self) -> RangeInclusive<u64> {
        self.opened_epoch + 1..=self.newest_epoch
    }
}

/// A manifest to try, keyed by epoch so the newest is tried first.
struct Candidate {
    mref: SegRef,
    hash: Option<[u8; 32]>,
    manifest: Manifest,
}

fn decode_manifest(map: &MappedFile, mref: SegRef) -> std::result::Result<Manifest, String> {
    let (_, payload) = read_segment(map.bytes(), mref.offset, SegmentType::Manifest, true)
        .map_err(|e| format!("manifest at byte {}: {e}", mref.offset))?;
    Manifest::decode(payload).map_err(|e| format!("manifest at byte {}: {e}", mref.offset))
}

pub(crate) fn open_recovered(path: &Path, options: &OpenOptions) -> Result<RvfStore> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RvfError::FileNotFound {
            path: path.to_path_buf(),
        },
        _ => RvfError::io(path, "opening the file", e),
    })?;
    let roots = read_roots(path, &file)?;
    let map = Arc::new(MappedFile::map(path, roots.file_len)?);
    let search = ParentSearch {
        search_paths: options.parent_search_paths.clone(),
    };
    let mut reasons = Vec::new();
    let mut queue: BTreeMap<u64, Candidate> = BTreeMap::new();
    let mut seen = HashSet::new();
    for root in std::iter::once(roots.newest).chain(roots.older) {
        let mref = SegRef {
            offset: root.manifest_offset,
            len: root.manifest_len,
        };
        if root.committed_end > roots.file_len {
            reasons.push(format!(
                "epoch {}: commits {} bytes, the file has {}",
                root.epoch, root.committed_end, roots.file_len
            ));
        }
        match decode_manifest(&map, mref) {
            Ok(manifest) if manifest.epoch == root.epoch => {
                seen.insert(mref.offset);
                queue.insert(
                    manifest.epoch,
                    Candidate {
                        mref,
                        hash: Some(root.manifest_hash),
                        manifest,
                    },
                );
            }
            Ok(_) => reasons.push(format!(
                "epoch {}: its manifest names another epoch",
                root.epoch
            )),
            Err(e) => reasons.push(format!("epoch {}: {e}", root.epoch)),
        }
    }
    let mut scanned = false;
    loop {
        let Some((epoch, cand)) = queue.pop_last() else {
            if scanned {
                break;
            }
            // The chains from the roots are exhausted: look for every manifest left in
            // the file. Only published epochs count (a newer manifest is a commit that
            // never returned).
            scanned = true;
            for (mref, manifest) in scan_manifests(&map) {
                if manifest.epoch <= roots.newest.epoch && seen.insert(mref.offset) {
                    let hash = None;
                    queue.insert(
                        manifest.epoch,
                        Candidate {
                            mref,
                            hash,
                            manifest,
                        },
                    );
                }
            }
            continue;
        };
        match load_verified(&map, &cand, &search) {
            Ok(loaded) => {
                let recovery = Recovery {
                    newest_epoch: roots.newest.epoch,
                    opened_epoch: epoch,
                    reasons,
                };
                return Ok(RvfStore::from_loaded(
                    path,
                    None,
                    loaded,
                    search,
                    Some(recovery),
                ));
            }
            Err(e) => reasons.push(format!("epoch {epoch}: {e}")),
        }
        // Its predecessor: manifests only point back, so the chain ends.
        let prev = cand.manifest.prev_manifest;
        if prev.is_none() || prev.offset >= cand.mref.offset || !seen.insert(prev.offset) {
            continue;
        }
        match decode_manifest(&map, prev) {
            Ok(manifest) if manifest.epoch < epoch => {
                queue.insert(
                    manifest.epoch,
                    Candidate {
                        mref: prev,
                        hash: None,
                        manifest,
                    },
                );
            }
            Ok(_) => reasons.push(format!("epoch {epoch}: its predecessor is not older")),
            Err(e) => reasons.push(format!("before epoch {epoch}: {e}")),
        }
    }
    Err(RvfError::corrupt_state(
        path,
        format!("no intact generation to recover ({})", reasons.join("; ")),
    ))
}

/// Every readable manifest in the file, walking segments from the first.
fn scan_manifests(map: &MappedFile) -> Vec<(SegRef, Manifest)> {
    let bytes = map.bytes();
    let mut out = Vec::new();
    let mut offset = DATA_START;
    while let Some(rest) = usize::try_from(offset).ok().and_then(|o| bytes.get(o..)) {
        let Ok(header) = SegmentHeader::decode(rest) else {
            break;
        };
        let len = header.total_len();
        if len == 0 || offset.saturating_add(len) > map.len() {
            break;
        }
        if header.seg_type == SegmentType::Manifest {
            let mref = SegRef { offset, len };
            if let Ok(m) = decode_manifest(map, mref) {
                out.push((mref, m));
            }
        }
        offset += len;
    }
    out
}

/// Loads a generation and checks every segment it uses, here and in its ancestors.
fn load_verified(map: &Arc<MappedFile>, cand: &Candidate, search: &ParentSearch) -> Result<Loaded> {
    let loaded = load::load_generation(map.clone(), cand.mref, cand.hash, search, 0)?;
    for run in loaded.view.runs.values() {
        run.ensure(loaded.view.file(run)?)?;
    }
    Ok(loaded)
}
