//! Checks every checksum of the committed generation of a store and of the generations
//! of its ancestors that it pins: manifests (and their hashes), checkpoints, the journal,
//! the VEC_SEG and SLOT_SEG of every run those generations list, and the INDEX_MAP and
//! every INDEX_SEG (graph) of their ANN index.

use std::path::{Path, PathBuf};

use rvf_format::{
    decode_run_table, manifest_hash, Delta, Manifest, RunDesc, SegRef, SegmentType, SlotSeg,
    VecSegLayout, RUN_HEADER_LEN,
};

use super::hex_id;
use super::reader::{FileReader, DATA_HEADER};
use crate::error::Result;
use crate::store::RvfStore;

/// One problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    /// Byte offset of the damaged structure, when there is one.
    pub offset: Option<u64>,
    pub detail: String,
}

/// One file of the lineage and what was checked in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedFile {
    pub path: PathBuf,
    pub file_id: [u8; 16],
    /// The generation checked: the current one for the store, the pinned one for an
    /// ancestor.
    pub epoch: u64,
    pub segments: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// The store first, then its ancestors, nearest first.
    pub files: Vec<VerifiedFile>,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the store at `path` and its ancestors. Damage is reported in the returned
/// report, problem by problem; `Err` means the file could not be read at all or is not
/// an RVF store.
pub fn verify(path: &Path) -> Result<VerifyReport> {
    let reader = FileReader::open(path)?;
    let root = reader.root()?;
    let mut report = VerifyReport::default();
    // Opening resolves the parent chain exactly as a reader would; its paths are the ones
    // checked below. A failure is itself a problem, and the file is still walked.
    let ancestors = match RvfStore::open_readonly(path) {
        Ok(store) => store.ancestor_paths(),
        Err(e) => {
            report.problems.push(Problem {
                path: path.to_path_buf(),
                offset: None,
                detail: format!("the store does not open: {e} [{}]", e.code()),
            });
            Vec::new()
        }
    };
    let mut target = Generation {
        mref: SegRef {
            offset: root.manifest_offset,
            len: root.manifest_len,
        },
        hash: root.manifest_hash,
        file_id: root.file_id,
        limit: root.committed_end,
    };
    let mut reader = reader;
    let mut depth = 0usize;
    loop {
        let mut checker = Checker {
            r: &reader,
            limit: target.limit,
            report: &mut report,
            segments: 0,
            bytes: 0,
        };
        let manifest = checker.generation(&target);
        let (segments, bytes) = (checker.segments, checker.bytes);
        report.files.push(VerifiedFile {
            path: reader.path.clone(),
            file_id: target.file_id,
            epoch: manifest.as_ref().map_or(0, |m| m.epoch),
            segments,
            bytes,
        });
        let Some(parent) = manifest.and_then(|m| m.parent) else {
            break;
        };
        let Some(ppath) = ancestors.get(depth) else {
            report.problems.push(Problem {
                path: reader.path.clone(),
                offset: None,
                detail: format!(
                    "parent {} was not found, so it was not verified",
                    hex_id(&parent.file_id)
                ),
            });
            break;
        };
        depth += 1;
        let next = match FileReader::open(ppath).and_then(|r| r.root().map(|root| (r, root))) {
            Ok(x) => x,
            Err(e) => {
                report.problems.push(Problem {
                    path: ppath.clone(),
                    offset: None,
                    detail: e.to_string(),
                });
                break;
            }
        };
        if next.1.file_id != parent.file_id {
            report.problems.push(Problem {
                path: ppath.clone(),
                offset: None,
                detail: format!(
                    "file id {} is not the parent's {}",
                    hex_id(&next.1.file_id),
                    hex_id(&parent.file_id)
                ),
            });
            break;
        }
        target = Generation {
            mref: parent.manifest,
            hash: parent.manifest_hash,
            file_id: parent.file_id,
            limit: next.1.committed_end,
        };
        reader = next.0;
    }
    Ok(report)
}

/// The generation of one file to check: its manifest and the hash that pins it.
struct Generation {
    mref: SegRef,
    hash: [u8; 32],
    file_id: [u8; 16],
    limit: u64,
}

struct Checker<'a> {
    r: &'a FileReader,
    limit: u64,
    report: &'a mut VerifyReport,
    segments: u64,
    bytes: u64,
}

impl Checker<'_> {
    fn problem(&mut self, offset: u64, detail: impl Into<String>) {
        self.report.problems.push(Problem {
            path: self.r.path.clone(),
            offset: Some(offset),
            detail: detail.into(),
        });
    }

    fn segment(&mut self, offset: u64, types: &[SegmentType]) -> Option<Vec<u8>> {
        match self.r.segment(offset, types, self.limit) {
            Ok((h, payload)) => {
                self.segments += 1;
                self.bytes += h.total_len();
                Some(payload)
            }
            Err(e) => {
                self.problem(offset, e);
                None
            }
        }
    }

    /// Checks one generation; returns its manifest when it decodes.
    fn generation(&mut self, g: &Generation) -> Option<Manifest> {
        let payload = self.segment(g.mref.offset, &[SegmentType::Manifest])?;
        match self.r.read(g.mref.offset, g.mref.len, self.limit) {
            Ok(bytes) if manifest_hash(&bytes) == g.hash => {}
            Ok(_) => self.problem(g.mref.offset, "manifest hash does not match its pin"),
            Err(e) => self.problem(g.mref.offset, e.to_string()),
        }
        let m = match Manifest::decode(&payload) {
            Ok(m) => m,
            Err(e) => {
                self.problem(g.mref.offset, e.to_string());
                return None;
            }
        };
        if m.file_id != g.file_id {
            self.problem(g.mref.offset, "manifest belongs to another file");
        }
        let mut runs = Vec::new();
        if !m.checkpoint_cow_map.is_none() {
            let off = m.checkpoint_cow_map.offset;
            if let Some(p) = self.segment(off, &[SegmentType::CowMap]) {
                match decode_run_table(&p) {
                    Ok(r) => runs = r,
                    Err(e) => self.problem(off, e.to_string()),
                }
            }
        }
        let others = [
            (
                m.checkpoint_dead_set,
                &[SegmentType::DeadSet, SegmentType::DeadBitmap][..],
            ),
            (m.checkpoint_membership, &[SegmentType::Membership][..]),
            (m.checkpoint_id_index, &[SegmentType::IdIndex][..]),
        ];
        for (seg, types) in others {
            if !seg.is_none() {
                self.segment(seg.offset, types);
            }
        }
        runs.extend(self.journal(&m));
        for run in &runs {
            self.run(run, m.dimension);
        }
        if !m.index_root.is_none() {
            self.index(&m);
        }
        Some(m)
    }

    /// Checks the INDEX_MAP and each graph it lists: checksums, that the graph decodes,
    /// and that it is the graph its entry says (slots, size, dimension).
    fn index(&mut self, m: &Manifest) {
        let off = m.index_root.offset;
        let Some(p) = self.segment(off, &[SegmentType::IndexMap]) else {
            return;
        };
        let map = match rvf_format::IndexMap::decode(&p) {
            Ok(map) => map,
            Err(e) => return self.problem(off, e.to_string()),
        };
        for g in &map.graphs {
            let at = g.segment.offset;
            let Some(payload) = self.segment(at, &[SegmentType::Index]) else {
                continue;
            };
            // A graph is read in place from aligned memory; a Vec<u8> need not be.
            let aligned = crate::index::MemGraph::new(&payload);
            match rvf_format::GraphView::decode(aligned.bytes()) {
                Ok(v)
                    if v.header.first_slot == g.first_slot
                        && v.header.nodes == g.nodes
                        && v.header.dim == m.dimension => {}
                Ok(_) => self.problem(at, "INDEX_SEG: graph does not match its INDEX_MAP entry"),
                Err(e) => self.problem(at, format!("INDEX_SEG: {e}")),
            }
        }
    }

    /// Checks the journal chain and returns the runs it adds.
    fn journal(&mut self, m: &Manifest) -> Vec<RunDesc> {
        let mut runs = Vec::new();
        let mut next = m.journal_head;
        let mut seen = 0u64;
        while !next.is_none() {
            if seen >= m.journal_count {
                self.problem(next.offset, "journal is longer than the manifest says");
                return runs;
            }
            seen += 1;
            let Some(p) = self.segment(next.offset, &[SegmentType::Delta]) else {
                return runs;
            };
            match Delta::decode(&p) {
                Ok(d) => {
                    if !d.prev.is_none() && d.prev.offset >= next.offset {
                        self.problem(next.offset, "journal points forwards");
                        return runs;
                    }
                    runs.extend(d.runs_added);
                    next = d.prev;
                }
                Err(e) => {
                    self.problem(next.offset, e.to_string());
                    return runs;
                }
            }
        }
        if seen != m.journal_count {
            self.problem(
                m.journal_head.offset,
                "journal is shorter than the manifest says",
            );
        }
        runs
    }

    fn run(&mut self, d: &RunDesc, dim: u16) {
        // VEC_SEG: the header must be exactly the one the descriptor implies; the payload
        // is checksummed in chunks rather than read whole.
        let expected = VecSegLayout::new(d.first_slot, d.count, dim);
        match self.r.header(d.vec_seg, self.limit) {
            Err(e) => self.problem(d.vec_seg, e),
            Ok(h) if h.seg_type != SegmentType::Vec => self.problem(
                d.vec_seg,
                format!("expected VEC_SEG, found {}", h.seg_type.name()),
            ),
            Ok(h) => {
                let start = d.vec_seg + DATA_HEADER;
                let head_ok = self
                    .r
                    .read(start, RUN_HEADER_LEN as u64, self.limit)
                    .is_ok_and(|b| b == expected.encode_header());
                if !head_ok
                    || h.payload_len != expected.payload_len as u64
                    || h.total_len() != d.vec_seg_len
                {
                    self.problem(d.vec_seg, "VEC_SEG does not match its run descriptor");
                }
                match self.r.crc(start, h.payload_len, self.limit) {
                    Ok(crc) if crc == h.payload_crc => {
                        self.segments += 1;
                        self.bytes += h.total_len();
                    }
                    Ok(crc) => self.problem(
                        d.vec_seg,
                        format!(
                            "VEC_SEG payload checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                            h.payload_crc
                        ),
                    ),
                    Err(e) => self.problem(d.vec_seg, e.to_string()),
                }
            }
        }
        if let Some(p) = self.segment(d.slot_seg, &[SegmentType::Slot]) {
            let total = DATA_HEADER + rvf_format::align_up(p.len() as u64, 64);
            match SlotSeg::decode(&p) {
                Ok(s)
                    if s.first_slot == d.first_slot
                        && s.count == d.count
                        && total == d.slot_seg_len => {}
                Ok(_) => self.problem(d.slot_seg, "SLOT_SEG does not match its run descriptor"),
                Err(e) => self.problem(d.slot_seg, e.to_string()),
            }
        }
    }
}
