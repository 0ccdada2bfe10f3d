//! Every segment of a file, from the first byte after the root area to the end of the
//! file, and both root slots.

use std::path::{Path, PathBuf};

use rvf_format::layout::{self, DATA_START, SEGMENT_ALIGN, SEGMENT_MAGIC};
use rvf_format::SegmentHeader;

use super::reader::{FileReader, DATA_HEADER};
use crate::error::Result;

/// One of the two root slots.
#[derive(Debug, Clone, PartialEq)]
pub struct RootSlotInfo {
    /// Byte offset of the slot (0 or 512).
    pub offset: u64,
    /// Why the slot is not usable (`None` when it is valid).
    pub problem: Option<String>,
    pub epoch: Option<u64>,
    pub file_id: Option<[u8; 16]>,
    pub manifest_offset: Option<u64>,
    pub committed_end: Option<u64>,
    /// True for the valid slot with the higher epoch: the one a reader opens.
    pub current: bool,
}

impl RootSlotInfo {
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }
}

/// One segment, or a stretch of bytes where no segment header could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentInfo {
    pub offset: u64,
    /// Bytes from `offset` to the next segment (header, payload and padding).
    pub len: u64,
    /// The header, when it decoded.
    pub header: Option<SegmentHeader>,
    /// Header and payload checksums both hold.
    pub checksum_ok: bool,
    /// The segment lies below the committed end (it may belong to the current
    /// generation, an earlier one, or a commit that never reached its root).
    pub committed: bool,
    /// What is wrong, when something is.
    pub problem: Option<String>,
}

impl SegmentInfo {
    pub fn type_name(&self) -> &'static str {
        self.header.map_or("?", |h| h.seg_type.name())
    }
}

/// What [`segments`] found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLayout {
    pub path: PathBuf,
    pub file_len: u64,
    pub roots: Vec<RootSlotInfo>,
    /// The committed end named by the current root (`None` when no root is valid).
    pub committed_end: Option<u64>,
    pub segments: Vec<SegmentInfo>,
}

impl FileLayout {
    /// Segments (or unreadable stretches) that have a problem.
    pub fn damaged(&self) -> impl Iterator<Item = &SegmentInfo> {
        self.segments.iter().filter(|s| s.problem.is_some())
    }
}

/// Walks the file at `path` segment by segment from byte 1024 to its end. A header that
/// does not decode starts an unreadable stretch, which ends at the next 64-byte boundary
/// holding a valid header. Fails only when the file cannot be opened or read.
pub fn segments(path: &Path) -> Result<FileLayout> {
    let r = FileReader::open(path)?;
    let slots = r.root_slots()?;
    let current = slots
        .iter()
        .filter_map(|(_, s)| s.as_ref().ok())
        .max_by_key(|s| s.epoch)
        .copied();
    let roots = slots
        .iter()
        .map(|(offset, s)| match s {
            Ok(root) => RootSlotInfo {
                offset: *offset,
                problem: None,
                epoch: Some(root.epoch),
                file_id: Some(root.file_id),
                manifest_offset: Some(root.manifest_offset),
                committed_end: Some(root.committed_end),
                current: current.is_some_and(|c| c.slot_index == root.slot_index),
            },
            Err(e) => RootSlotInfo {
                offset: *offset,
                problem: Some(e.clone()),
                epoch: None,
                file_id: None,
                manifest_offset: None,
                committed_end: None,
                current: false,
            },
        })
        .collect();
    let committed_end = current.map(|c| c.committed_end);
    let committed_limit = committed_end.unwrap_or(0);
    let mut out = Vec::new();
    let mut off = DATA_START;
    while off < r.len {
        match r.header(off, r.len) {
            Ok(h) => {
                let len = h.total_len();
                let problem = match r.crc(off + DATA_HEADER, h.payload_len, r.len) {
                    Ok(crc) if crc == h.payload_crc => None,
                    Ok(crc) => Some(format!(
                        "payload checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                        h.payload_crc
                    )),
                    Err(e) => Some(e.to_string()),
                };
                out.push(SegmentInfo {
                    offset: off,
                    len,
                    header: Some(h),
                    checksum_ok: problem.is_none(),
                    committed: off + len <= committed_limit,
                    problem,
                });
                off += len;
            }
            Err(why) => {
                let next = next_header(&r, off + SEGMENT_ALIGN)?;
                let len = next - off;
                out.push(SegmentInfo {
                    offset: off,
                    len,
                    header: None,
                    checksum_ok: false,
                    committed: next <= committed_limit,
                    problem: Some(format!(
                        "no readable segment here ({why}); {len} bytes skipped"
                    )),
                });
                off = next;
            }
        }
    }
    Ok(FileLayout {
        path: path.to_path_buf(),
        file_len: r.len,
        roots,
        committed_end,
        segments: out,
    })
}

/// The first 64-byte aligned offset at or after `from` that holds a valid segment
/// header, or the end of the file. Scans in large reads: a damaged header in front of a
/// big payload would otherwise cost one read per 64 bytes.
fn next_header(r: &FileReader, from: u64) -> Result<u64> {
    const WINDOW: u64 = 1 << 20;
    let header_len = layout::SEGMENT_HEADER_LEN as u64;
    let mut start = from;
    while start < r.len {
        let n = WINDOW.min(r.len - start);
        let buf = r.read(start, n, r.len)?;
        let mut at = 0u64;
        while at < n {
            let i = at as usize;
            if buf.get(i..i + 4) == Some(&SEGMENT_MAGIC[..]) {
                let ok = match buf.get(i..i + header_len as usize) {
                    Some(h) => SegmentHeader::decode(h).is_ok(),
                    // The header straddles this window: read it on its own.
                    None => r.header(start + at, r.len).is_ok(),
                };
                if ok {
                    return Ok(start + at);
                }
            }
            at += SEGMENT_ALIGN;
        }
        start += n;
    }
    Ok(r.len)
}
