//! Appending segments and publishing roots: the commit protocol's I/O.
//!
//! A commit appends its segments past the committed end, syncs them, then writes the
//! root slot that names the new manifest and syncs again. Nothing below the committed
//! end is ever written, so a crash at any byte leaves the previous root and everything it
//! names intact.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rvf_format::layout::{SEGMENT_ALIGN, SEGMENT_HEADER_LEN};
use rvf_format::{
    align_up, encode_segment, RootSlot, SegRef, SegmentHeader, SegmentType, VecSegLayout,
};

use crate::error::{Result, RvfError};
use crate::options::Durability;

#[derive(Debug)]
pub(crate) struct Writer {
    pub file: File,
    pub path: PathBuf,
    /// Where the next segment goes (64-byte aligned).
    pub end: u64,
    pub durability: Durability,
    /// A root written in memory but not yet published (durability `OnClose`).
    pending_root: Option<RootSlot>,
    /// Slot holding the last published root; the next root goes to the other one, so a
    /// torn root write can only ever cost the generation being published. (With
    /// `OnClose`, several commits pass between publications, so the epoch's parity
    /// cannot choose the slot.)
    published_slot: u16,
    poisoned: Option<String>,
}

impl Writer {
    pub fn new(
        file: File,
        path: &Path,
        end: u64,
        durability: Durability,
        published_slot: u16,
    ) -> Writer {
        Writer {
            file,
            path: path.to_path_buf(),
            end: align_up(end, SEGMENT_ALIGN),
            durability,
            pending_root: None,
            published_slot,
            poisoned: None,
        }
    }

    pub fn check_usable(&self) -> Result<()> {
        match &self.poisoned {
            Some(detail) => Err(RvfError::Poisoned {
                path: self.path.clone(),
                detail: detail.clone(),
            }),
            None => Ok(()),
        }
    }

    fn fail(&mut self, op: &'static str, e: std::io::Error) -> RvfError {
        self.poisoned = Some(format!("{op}: {e}"));
        RvfError::io(&self.path, op, e)
    }

    pub fn append_segment(
        &mut self,
        seg_type: SegmentType,
        segment_id: u64,
        epoch: u64,
        payload: &[u8],
    ) -> Result<SegRef> {
        self.append_encoded(&encode_segment(seg_type, segment_id, epoch, payload))
    }

    /// Appends a segment already encoded with [`encode_segment`].
    pub fn append_encoded(&mut self, bytes: &[u8]) -> Result<SegRef> {
        self.check_usable()?;
        let offset = self.end;
        if let Err(e) = self.file.write_all_at(bytes, offset) {
            return Err(self.fail("appending a segment", e));
        }
        self.end += bytes.len() as u64;
        Ok(SegRef {
            offset,
            len: bytes.len() as u64,
        })
    }

    /// Streams a VEC_SEG straight from the caller's vectors: no copy of the batch is
    /// built in memory. The header, which needs the payload checksum, is written last;
    /// it lies past the committed end, so no reader can see it half-done.
    pub fn append_vec_segment<'v>(
        &mut self,
        segment_id: u64,
        epoch: u64,
        layout: &VecSegLayout,
        vectors: impl Iterator<Item = &'v [f32]>,
        norms: &[f32],
    ) -> Result<SegRef> {
        self.check_usable()?;
        let offset = self.end;
        let payload_start = offset + SEGMENT_HEADER_LEN as u64;
        let result = (|| -> std::io::Result<u32> {
            let mut f = &self.file;
            f.seek(SeekFrom::Start(payload_start))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            let mut crc = 0u32;
            let mut put = |w: &mut BufWriter<&File>, b: &[u8]| -> std::io::Result<()> {
                crc = crc32c::crc32c_append(crc, b);
                w.write_all(b)
            };
            put(&mut w, &layout.encode_header())?;
            let mut written = rvf_format::RUN_HEADER_LEN;
            for v in vectors {
                let b: &[u8] = bytemuck::cast_slice(v);
                put(&mut w, b)?;
                written += b.len();
            }
            let pad = layout.norms_offset.saturating_sub(written);
            put(&mut w, &vec![0u8; pad])?;
            put(&mut w, bytemuck::cast_slice(norms))?;
            w.flush()?;
            Ok(crc)
        })();
        let crc = match result {
            Ok(c) => c,
            Err(e) => return Err(self.fail("writing vectors", e)),
        };
        let header = SegmentHeader {
            seg_type: SegmentType::Vec,
            segment_id,
            epoch,
            payload_len: layout.payload_len as u64,
            payload_crc: crc,
        };
        let total = header.total_len();
        let tail_pad = total - SEGMENT_HEADER_LEN as u64 - layout.payload_len as u64;
        let res = self
            .file
            .write_all_at(&header.encode(), offset)
            .and_then(|_| {
                self.file.write_all_at(
                    &vec![0u8; tail_pad as usize],
                    payload_start + layout.payload_len as u64,
                )
            });
        if let Err(e) = res {
            return Err(self.fail("writing a segment header", e));
        }
        self.end += total;
        if self.durability == Durability::OnClose {
            crate::os::start_writeback(&self.file, offset, total);
        }
        Ok(SegRef { offset, len: total })
    }

    /// Makes a new root the committed one, according to the durability setting.
    pub fn publish(&mut self, root: RootSlot) -> Result<()> {
        self.check_usable()?;
        match self.durability {
            Durability::EveryCommit => self.write_root(root),
            Durability::OnClose => {
                self.pending_root = Some(root);
                Ok(())
            }
        }
    }

    /// Publishes a root held back by `Durability::OnClose`.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(root) = self.pending_root.take() {
            self.check_usable()?;
            self.write_root(root)?;
        }
        Ok(())
    }

    fn write_root(&mut self, mut root: RootSlot) -> Result<()> {
        if let Err(e) = self.file.sync_data() {
            return Err(self.fail("syncing data before the root", e));
        }
        root.slot_index = 1 - self.published_slot.min(1);
        let offset = RootSlot::offset_of(root.slot_index);
        if let Err(e) = self.file.write_all_at(&root.encode(), offset) {
            return Err(self.fail("writing the root", e));
        }
        if let Err(e) = self.file.sync_data() {
            return Err(self.fail("syncing the root", e));
        }
        self.published_slot = root.slot_index;
        Ok(())
    }
}

/// Syncs a directory so that a file created or renamed in it survives a crash.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RvfError::io(dir, "syncing the directory", e))
}
