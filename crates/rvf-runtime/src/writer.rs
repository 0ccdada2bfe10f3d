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

use rvf_format::layout::{ROOT_SLOT_LEN, SEGMENT_ALIGN};
use rvf_format::{align_up, encode_segment, RootSlot, SegRef, SegmentType};

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

    /// Starts the early-writeback helper of bulk loads (`OnClose`: other modes sync
    /// every commit anyway) if it is not running yet.
    pub fn start_writeback_helper(&mut self) {
        if self.writeback.is_none() {
            self.writeback = Writeback::new(&self.file);
        }
    }

    pub fn writeback_helper(&self) -> Option<&Writeback> {
        self.writeback.as_ref()
    }

    /// Refuses every later write of this handle (until the store is reopened).
    pub fn poison(&mut self, detail: String) {
        self.poisoned.get_or_insert(detail);
    }

    pub fn fail(&mut self, op: &'static str, e: std::io::Error) -> RvfError {
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

    /// Appends a segment whose payload is written from where it lies (a graph of
    /// hundreds of megabytes is not copied into an encoded segment first).
    pub fn append_payload(
        &mut self,
        seg_type: SegmentType,
        segment_id: u64,
        epoch: u64,
        payload: &[u8],
    ) -> Result<SegRef> {
        self.check_usable()?;
        let header = rvf_format::SegmentHeader::new(seg_type, segment_id, epoch, payload);
        let total = header.total_len();
        let pad = vec![0u8; (total as usize).saturating_sub(64 + payload.len())];
        let offset = self.end;
        let parts: [&[u8]; 3] = [&header.encode(), payload, &pad];
        if let Err(e) = fileio::write_vectored_at(&self.file, &parts, offset) {
            return Err(self.fail("appending a segment", e));
        }
        self.end += total;
        Ok(SegRef { offset, len: total })
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

/// Syncs a directory so that a file created or renamed in it survives a crash.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fileio::sync_dir(dir).map_err(|e| RvfError::io(dir, "syncing the directory", e))
}
