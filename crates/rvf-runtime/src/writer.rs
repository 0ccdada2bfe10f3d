//! Appending segments and publishing roots: the commit protocol's I/O.
//!
//! A commit appends its segments past the committed end, syncs them, then writes the
//! root slot that names the new manifest and syncs again. Nothing below the committed
//! end is ever written, so a crash at any byte leaves the previous root and everything it
//! names intact.

use std::fs::File;
use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rvf_format::layout::{SEGMENT_ALIGN, SEGMENT_HEADER_LEN};
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
            None => crate::os::start_writeback(&self.file, offset, len),
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

    /// Starts a VEC_SEG of `layout` at the end of the file. Vectors are then streamed
    /// straight from the caller's memory (see [`VecSegWriter`]); the header, which needs
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

/// Bytes handed to one `writev`: large enough that syscalls cost little, small enough
/// that a chunk is still in L2 when the kernel copies it right after its checksum.
const STREAM_CHUNK: usize = 256 * 1024;
/// Most pieces one `writev` takes (Linux's IOV_MAX is 1024).
const MAX_PIECES: usize = 1024;
/// During a long segment, writeback is started every this many bytes (`OnClose`), so
/// the disk works while the caller's vectors are still being read.
const WRITEBACK_STEP: u64 = 16 << 20;

/// A VEC_SEG being written; see [`Writer::begin_vec_segment`].
pub(crate) struct VecSegWriter<'w> {
    writer: &'w mut Writer,
    layout: VecSegLayout,
    offset: u64,
    /// File position of the next payload byte.
    pos: u64,
    /// Start of the range whose writeback has not been started yet.
    synced_to: u64,
    crc: u32,
    /// Payload bytes so far.
    written: usize,
}

impl VecSegWriter<'_> {
    /// Appends vectors, in slot order, straight from the caller's memory: each chunk is
    /// checksummed and then handed to one `writev`, with no copy in between.
    pub fn write_vectors(&mut self, vectors: &[&[f32]]) -> Result<()> {
        let mut rest = vectors;
        while !rest.is_empty() {
            let mut n = 0;
            let mut bytes = 0;
            while let Some(v) = rest.get(n) {
                if n == MAX_PIECES || (n > 0 && bytes + v.len() * 4 > STREAM_CHUNK) {
                    break;
                }
                bytes += v.len() * 4;
                n += 1;
            }
            let (chunk, tail) = rest.split_at(n);
            let mut pieces: Vec<IoSlice<'_>> = Vec::with_capacity(n);
            for v in chunk {
                let b: &[u8] = bytemuck::cast_slice(v);
                self.crc = crc32c::crc32c_append(self.crc, b);
                pieces.push(IoSlice::new(b));
            }
            self.write_pieces(&mut pieces, bytes)?;
            rest = tail;
        }
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.write_pieces(&mut [IoSlice::new(bytes)], bytes.len())
    }

    fn write_pieces(&mut self, pieces: &mut [IoSlice<'_>], bytes: usize) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let file = &self.writer.file;
        let res = (|| -> std::io::Result<()> {
            let mut f = file;
            f.seek(SeekFrom::Start(self.pos))?;
            let mut pieces = pieces;
            while !pieces.is_empty() {
                match f.write_vectored(pieces) {
                    Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) => IoSlice::advance_slices(&mut pieces, n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })();
        if let Err(e) = res {
            return Err(self.writer.fail("writing vectors", e));
        }
        self.written += bytes;
        self.pos += bytes as u64;
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
            return Err(RvfError::InvalidArgument(
                "vector segment does not match its layout".into(),
            ));
        }
        let pad = vec![0u8; expected - self.written];
        self.put(&pad)?;
        self.put(bytemuck::cast_slice(norms))?;
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
        let res = file
            .write_all_at(&header.encode(), self.offset)
            .and_then(|_| file.write_all_at(&vec![0u8; tail_pad as usize], payload_end));
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
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RvfError::io(dir, "syncing the directory", e))
}
