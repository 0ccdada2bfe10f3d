//! Appending segments and publishing roots: the commit protocol's I/O.
//!
//! A commit appends its segments past the committed end, syncs them, then writes the
//! root slot that names the new manifest and syncs again. Nothing below the committed
//! end is ever written, so a crash at any byte leaves the previous root and everything it
//! names intact.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::fileio;
use std::path::{Path, PathBuf};

use rvf_format::layout::{ROOT_SLOT_LEN, SEGMENT_ALIGN, SEGMENT_HEADER_LEN};
use rvf_format::{
    align_up, encode_segment, RootSlot, SegRef, SegmentHeader, SegmentType, VecSegLayout,
};

use crate::error::{Result, RvfError};
use crate::options::Durability;
use crate::writeback::Writeback;

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
    /// Started on the first bulk segment of an `OnClose` writer.
    writeback: Option<Writeback>,
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
            writeback: None,
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

    /// Starts writing `offset..offset + len` to disk in the background (`OnClose` only:
    /// other modes sync every commit anyway).
    fn start_writeback(&mut self, offset: u64, len: u64) {
        if self.durability != Durability::OnClose {
            return;
        }
        if self.writeback.is_none() {
            self.writeback = Writeback::new(&self.file);
        }
        match &self.writeback {
            Some(w) => w.request(offset, len),
            None => {
                let _ = fileio::start_writeback(&self.file, offset, len);
            }
        }
    }

    /// Refuses every later write of this handle (until the store is reopened).
    pub fn poison(&mut self, detail: String) {
        self.poisoned.get_or_insert(detail);
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
        if let Err(e) = fileio::write_at(&self.file, bytes, offset) {
            return Err(self.fail("appending a segment", e));
        }
        self.end += bytes.len() as u64;
        Ok(SegRef {
            offset,
            len: bytes.len() as u64,
        })
    }

    /// Starts a VEC_SEG of `layout` at the end of the file. Vectors are then written in
    /// 2 MiB-aligned chunks without building the segment in memory (see
    /// [`VecSegWriter`]); the header, which needs
    /// the payload checksum, is written last by [`VecSegWriter::finish`]. Everything lies
    /// past the committed end, so no reader can see it half-done, and an abandoned
    /// segment is simply overwritten by the next append.
    pub fn begin_vec_segment(&mut self, layout: VecSegLayout) -> Result<VecSegWriter<'_>> {
        self.check_usable()?;
        let offset = self.end;
        let mut seg = VecSegWriter {
            offset,
            pos: offset + SEGMENT_HEADER_LEN as u64,
            synced_to: offset,
            crc: 0,
            written: 0,
            staging: Vec::with_capacity(STREAM_CHUNK as usize),
            layout,
            writer: self,
        };
        seg.put(&layout.encode_header())?;
        Ok(seg)
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

    pub fn has_pending_root(&self) -> bool {
        self.pending_root.is_some()
    }

    /// Publishes a root held back by `Durability::OnClose`.
    /// The root stays pending until it is durable, so that after a failed flush every
    /// later flush (and `close`) reports the commits it could not publish.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(root) = self.pending_root {
            self.check_usable()?;
            self.write_root(root)?;
            self.pending_root = None;
        }
        Ok(())
    }

    fn write_root(&mut self, mut root: RootSlot) -> Result<()> {
        if let Err(e) = fileio::sync_data(&self.file) {
            return Err(self.fail("syncing data before the root", e));
        }
        root.slot_index = 1 - self.published_slot.min(1);
        let offset = RootSlot::offset_of(root.slot_index);
        // What the slot held (the root before the last published one, or zeros): put
        // back if the new root cannot be made durable, so that a reopen shows the last
        // commit that returned Ok rather than one that returned an error.
        let mut previous = [0u8; ROOT_SLOT_LEN];
        if let Err(e) = self.file.read_exact_at(&mut previous, offset) {
            return Err(self.fail("reading the root slot", e));
        }
        let written = fileio::write_at(&self.file, &root.encode(), offset)
            .map_err(|e| ("writing the root", e))
            .and_then(|()| fileio::sync_data(&self.file).map_err(|e| ("syncing the root", e)));
        if let Err((op, e)) = written {
            let _ = fileio::write_at(&self.file, &previous, offset)
                .and_then(|()| fileio::sync_data(&self.file));
            return Err(self.fail(op, e));
        }
        self.published_slot = root.slot_index;
        Ok(())
    }
}

/// Vectors reach the file in writes that end on multiples of this file offset, so each
/// write of a long segment covers a whole aligned 2 MiB range: the page cache can then
/// hold it as one 2 MiB folio, which readers map with one huge page (see `mmap.rs`).
/// Measured on a 1M x 128 store: single-query scans 5-10% faster than over the same
/// file written in 256 KiB pieces.
const STREAM_CHUNK: u64 = 2 << 20;
/// During a long segment, writeback is started every this many bytes (`OnClose`), so
/// the disk works while the caller's vectors are still being read.
const WRITEBACK_STEP: u64 = 16 << 20;

/// A VEC_SEG being written; see [`Writer::begin_vec_segment`].
pub(crate) struct VecSegWriter<'w> {
    writer: &'w mut Writer,
    layout: VecSegLayout,
    offset: u64,
    /// File position of the first byte in `staging`.
    pos: u64,
    /// Start of the range whose writeback has not been started yet.
    synced_to: u64,
    crc: u32,
    /// Payload bytes so far.
    written: usize,
    /// Bytes gathered up to the next `STREAM_CHUNK` boundary of the file.
    staging: Vec<u8>,
}

impl VecSegWriter<'_> {
    /// Appends vectors, in slot order.
    pub fn write_vectors(&mut self, vectors: &[&[f32]]) -> Result<()> {
        for v in vectors {
            self.put(bytemuck::cast_slice(v))?;
        }
        Ok(())
    }

    /// Adds bytes to the segment, writing out each chunk as it fills.
    fn put(&mut self, mut bytes: &[u8]) -> Result<()> {
        self.written += bytes.len();
        while !bytes.is_empty() {
            let room =
                (STREAM_CHUNK - (self.pos + self.staging.len() as u64) % STREAM_CHUNK) as usize;
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            self.staging.extend_from_slice(now);
            if now.len() == room {
                self.flush_staging()?;
            }
            bytes = later;
        }
        Ok(())
    }

    /// Checksums and writes the gathered bytes: one pass over memory that is still in
    /// cache, and one long checksum run instead of one per vector.
    fn flush_staging(&mut self) -> Result<()> {
        if self.staging.is_empty() {
            return Ok(());
        }
        self.crc = crc32c::crc32c_append(self.crc, &self.staging);
        if let Err(e) = fileio::write_at(&self.writer.file, &self.staging, self.pos) {
            return Err(self.writer.fail("writing vectors", e));
        }
        self.pos += self.staging.len() as u64;
        self.staging.clear();
        if self.pos - self.synced_to >= WRITEBACK_STEP {
            let from = self.synced_to;
            self.writer.start_writeback(from, self.pos - from);
            self.synced_to = self.pos;
        }
        Ok(())
    }

    /// Writes the padding, the squared norms and the header; the segment is then part
    /// of the file (not yet of a commit).
    pub fn finish(mut self, segment_id: u64, epoch: u64, norms: &[f32]) -> Result<SegRef> {
        let expected = self.layout.norms_offset;
        if self.written > expected || norms.len() != self.layout.count as usize {
            return Err(RvfError::internal(
                "vector segment does not match its layout",
            ));
        }
        let pad = vec![0u8; expected - self.written];
        self.put(&pad)?;
        self.put(bytemuck::cast_slice(norms))?;
        self.flush_staging()?;
        let header = SegmentHeader {
            seg_type: SegmentType::Vec,
            segment_id,
            epoch,
            payload_len: self.layout.payload_len as u64,
            payload_crc: self.crc,
        };
        let total = header.total_len();
        let payload_end = self.offset + SEGMENT_HEADER_LEN as u64 + self.layout.payload_len as u64;
        let tail_pad = (self.offset + total).saturating_sub(payload_end);
        let file = &self.writer.file;
        let res = fileio::write_at(file, &header.encode(), self.offset)
            .and_then(|_| fileio::write_at(file, &vec![0u8; tail_pad as usize], payload_end));
        if let Err(e) = res {
            return Err(self.writer.fail("writing a segment header", e));
        }
        let from = self.synced_to;
        self.writer
            .start_writeback(from, self.offset + total - from);
        self.writer.end = self.offset + total;
        Ok(SegRef {
            offset: self.offset,
            len: total,
        })
    }
}

/// Syncs a directory so that a file created or renamed in it survives a crash.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fileio::sync_dir(dir).map_err(|e| RvfError::io(dir, "syncing the directory", e))
}
