//! Bounds-checked positioned reads of a file that may be damaged or changing.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rvf_format::layout::{self, DATA_START};
use rvf_format::{RootSlot, SegmentHeader, SegmentType};

use crate::error::{Result, RvfError};

/// Bytes read per call when checksumming a large payload: bounds the memory of a walk
/// whatever the segment sizes a file claims.
const CHUNK: usize = 4 << 20;

pub(crate) struct FileReader {
    pub path: PathBuf,
    file: File,
    pub len: u64,
}

impl FileReader {
    pub fn open(path: &Path) -> Result<FileReader> {
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RvfError::FileNotFound {
                path: path.to_path_buf(),
            },
            _ => RvfError::io(path, "opening the file", e),
        })?;
        let meta = file
            .metadata()
            .map_err(|e| RvfError::io(path, "reading file metadata", e))?;
        if meta.is_dir() {
            return Err(RvfError::NotAStore {
                path: path.to_path_buf(),
                detail: "it is a directory".into(),
            });
        }
        Ok(FileReader {
            path: path.to_path_buf(),
            file,
            len: meta.len(),
        })
    }

    /// Reads `len` bytes at `offset`, or fails when they are not all below `limit`.
    pub fn read(&self, offset: u64, len: u64, limit: u64) -> Result<Vec<u8>> {
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= limit.min(self.len))
            .ok_or_else(|| {
                RvfError::corrupt(
                    &self.path,
                    offset,
                    format!("{len} bytes at {offset} run past the end ({limit})"),
                )
            })?;
        let n = usize::try_from(end - offset)
            .map_err(|_| RvfError::corrupt(&self.path, offset, "length does not fit in memory"))?;
        let mut buf = vec![0u8; n];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| RvfError::io(&self.path, "reading", e))?;
        Ok(buf)
    }

    /// CRC32C of `len` bytes at `offset` (all below `limit`), read in bounded chunks.
    pub fn crc(&self, offset: u64, len: u64, limit: u64) -> Result<u32> {
        if offset
            .checked_add(len)
            .is_none_or(|e| e > limit.min(self.len))
        {
            return Err(RvfError::corrupt(
                &self.path,
                offset,
                format!("{len} bytes at {offset} run past the end ({limit})"),
            ));
        }
        let mut crc = 0u32;
        let mut buf = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK))];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(buf.len() as u64) as usize;
            let part = &mut buf[..n];
            self.file
                .read_exact_at(part, offset + done)
                .map_err(|e| RvfError::io(&self.path, "reading", e))?;
            crc = crc32c::crc32c_append(crc, part);
            done += n as u64;
        }
        Ok(crc)
    }

    /// Decodes the segment header at `offset`, checking that its payload lies below
    /// `limit`.
    pub fn header(&self, offset: u64, limit: u64) -> std::result::Result<SegmentHeader, String> {
        let bytes = self
            .read(offset, layout::SEGMENT_HEADER_LEN as u64, limit)
            .map_err(|e| match e {
                RvfError::Io { source, .. } => format!("I/O error: {source}"),
                _ => "segment header runs past the end".to_string(),
            })?;
        let h = SegmentHeader::decode(&bytes).map_err(|e| e.to_string())?;
        let end = offset.checked_add(h.total_len());
        if end.is_none_or(|e| e > limit.min(self.len)) {
            return Err(format!(
                "{} payload of {} bytes runs past the end ({})",
                h.seg_type.name(),
                h.payload_len,
                limit.min(self.len)
            ));
        }
        Ok(h)
    }

    /// Reads and checks a whole segment of one of the `expected` types.
    pub fn segment(
        &self,
        offset: u64,
        expected: &[SegmentType],
        limit: u64,
    ) -> std::result::Result<(SegmentHeader, Vec<u8>), String> {
        let h = self.header(offset, limit)?;
        if !expected.contains(&h.seg_type) {
            let want: Vec<&str> = expected.iter().map(|t| t.name()).collect();
            return Err(format!(
                "expected {}, found {}",
                want.join(" or "),
                h.seg_type.name()
            ));
        }
        let payload = self
            .read(offset + DATA_HEADER, h.payload_len, limit)
            .map_err(|e| e.to_string())?;
        h.verify_payload(&payload).map_err(|e| e.to_string())?;
        Ok((h, payload))
    }

    /// Both root slots, decoded independently.
    pub fn root_slots(&self) -> Result<[(u64, std::result::Result<RootSlot, String>); 2]> {
        let area = self.read(0, self.len.min(DATA_START), self.len)?;
        let slot = |off: u64| -> (u64, std::result::Result<RootSlot, String>) {
            let bytes = area.get(off as usize..).unwrap_or(&[]);
            let decoded = RootSlot::decode(bytes)
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    r.check_read_features().map_err(|e| e.to_string())?;
                    if r.committed_end > self.len {
                        return Err(format!(
                            "commits {} bytes but the file has {}",
                            r.committed_end, self.len
                        ));
                    }
                    Ok(r)
                });
            (off, decoded)
        };
        Ok([
            slot(layout::ROOT_SLOT_A_OFFSET),
            slot(layout::ROOT_SLOT_B_OFFSET),
        ])
    }

    /// The committed root: the valid slot with the higher epoch.
    pub fn root(&self) -> Result<RootSlot> {
        let slots = self.root_slots()?;
        let mut best: Option<RootSlot> = None;
        for (_, s) in &slots {
            if let Ok(r) = s {
                if best.is_none_or(|b| r.epoch > b.epoch) {
                    best = Some(*r);
                }
            }
        }
        best.ok_or_else(|| RvfError::NotAStore {
            path: self.path.clone(),
            detail: match &slots[0].1 {
                Err(e) => e.clone(),
                Ok(_) => "no valid root slot".into(),
            },
        })
    }
}

/// Bytes of a segment header: where the payload starts.
pub(crate) const DATA_HEADER: u64 = layout::SEGMENT_HEADER_LEN as u64;
