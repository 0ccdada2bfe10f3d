//! Writing a VEC_SEG straight from the caller's vectors.
//!
//! The payload (run header, vectors, padding, squared norms) is never assembled in
//! memory: the vectors are handed to the kernel from where the caller keeps them, with
//! `pwritev`, in pieces that each end on a 2 MiB boundary of the file, so the page
//! cache can hold the segment in 2 MiB folios that readers map with huge pages (a scan
//! of a fresh 1M x 128 store measured 5-10 % faster than over 256 KiB writes).
//!
//! For a large segment the kernel's copy into the page cache runs on a second thread
//! while this one computes the norms and the checksum of the next piece: the copy is
//! the cost a raw write of the same bytes pays too, and the store's own work hides
//! behind it. A small segment is written inline (a thread costs more than it saves).
//! The segment header, which needs the payload checksum, is written last; everything
//! lies past the committed end, so no reader sees it half-done.

use std::sync::mpsc::sync_channel;

use rvf_format::layout::SEGMENT_HEADER_LEN;
use rvf_format::{SegRef, SegmentHeader, SegmentType, VecSegLayout};

use crate::error::{Result, RvfError};
use crate::fileio;
use crate::options::Durability;
use crate::writeback::Writeback;
use crate::writer::Writer;

/// Pieces end on multiples of this file offset (see the module note).
const PIECE: u64 = 2 << 20;
/// Segments at least this large are written by a second thread.
const PIPELINE_MIN: usize = 8 << 20;
/// Pieces queued for the writing thread: enough to keep it busy, few enough that a
/// piece is still in the cache when the kernel copies it.
const QUEUE: usize = 2;
/// During a long segment, writeback is started every this many bytes (`OnClose`), so
/// the disk works while the load goes on.
const WRITEBACK_STEP: u64 = 16 << 20;

/// Consecutive byte slices to write at one file offset.
struct Piece<'a> {
    offset: u64,
    len: u64,
    slices: Vec<&'a [u8]>,
}

/// Cuts a stream of byte slices into pieces ending on `PIECE` boundaries.
struct Cutter<'a> {
    current: Piece<'a>,
}

impl<'a> Cutter<'a> {
    fn new(offset: u64) -> Self {
        Cutter {
            current: Piece {
                offset,
                len: 0,
                slices: Vec::new(),
            },
        }
    }

    /// Adds `bytes`, calling `full` with every piece that reaches a boundary.
    fn push(&mut self, mut bytes: &'a [u8], full: &mut impl FnMut(Piece<'a>)) {
        while !bytes.is_empty() {
            let end = self.current.offset + self.current.len;
            let room = (PIECE - end % PIECE) as usize;
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            self.current.slices.push(now);
            self.current.len += now.len() as u64;
            if now.len() == room {
                let next = Piece {
                    offset: end + room as u64,
                    len: 0,
                    slices: Vec::new(),
                };
                full(std::mem::replace(&mut self.current, next));
            }
            bytes = later;
        }
    }

    fn finish(self) -> Piece<'a> {
        self.current
    }
}

/// Writes pieces, asking for early writeback as the written range grows (`OnClose`).
struct PieceWriter<'w> {
    file: &'w std::fs::File,
    writeback: Option<&'w Writeback>,
    /// Start of the range whose writeback has not been asked for yet.
    requested_to: u64,
}

impl PieceWriter<'_> {
    fn write(&mut self, piece: &Piece<'_>) -> std::io::Result<()> {
        fileio::write_vectored_at(self.file, &piece.slices, piece.offset)?;
        let end = piece.offset + piece.len;
        if let Some(wb) = self.writeback {
            if end - self.requested_to >= WRITEBACK_STEP {
                wb.request(self.requested_to, end - self.requested_to);
                self.requested_to = end;
            }
        }
        Ok(())
    }
}

/// The run header, then each vector: its squared norm (as queries compute it) and its
/// checksum are taken while it is in cache, and its bytes go into the current piece.
/// Returns false, having stopped, at the first vector with a NaN or an infinity: a
/// finite norm proves every component finite (a NaN or infinite component makes the
/// sum of squares NaN or infinite), so only a vector whose norm overflowed needs its
/// components looked at, and the check costs no pass over memory of its own.
fn feed<'a>(
    run_header: &'a [u8],
    vectors: &[&'a [f32]],
    norms: &mut Vec<f32>,
    crc: &mut u32,
    cutter: &mut Cutter<'a>,
    full: &mut dyn FnMut(Piece<'a>),
) -> bool {
    let mut full = |p: Piece<'a>| full(p);
    *crc = crc32c::crc32c_append(*crc, run_header);
    cutter.push(run_header, &mut full);
    for v in vectors {
        let bytes: &[u8] = bytemuck::cast_slice(v);
        let norm = rvf_distance::dot(v, v);
        if !norm.is_finite() && !all_finite(v) {
            return false;
        }
        norms.push(norm);
        *crc = crc32c::crc32c_append(*crc, bytes);
        cutter.push(bytes, &mut full);
    }
    true
}

/// True when no value is NaN or infinite. Tests the exponent bits with integer ops,
/// which the compiler vectorises, instead of a short-circuiting float loop.
pub(crate) fn all_finite(v: &[f32]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    v.iter()
        .fold(0u32, |bad, x| bad | u32::from(x.to_bits() & EXP == EXP))
        == 0
}

/// Writes a VEC_SEG of `layout` holding `vectors` at the end of the file. Returns
/// `None`, having written nothing the file keeps, if a vector has a NaN or an infinity.
pub(crate) fn write_vec_segment(
    writer: &mut Writer,
    layout: VecSegLayout,
    vectors: &[&[f32]],
    segment_id: u64,
    epoch: u64,
) -> Result<Option<SegRef>> {
    writer.check_usable()?;
    if vectors.len() != layout.count as usize {
        return Err(RvfError::internal(
            "vector segment does not match its layout",
        ));
    }
    if writer.durability == Durability::OnClose {
        writer.start_writeback_helper();
    }
    let offset = writer.end;
    let run_header = layout.encode_header();
    let mut norms = Vec::with_capacity(vectors.len());
    let mut crc = 0u32;
    let w: &Writer = writer;
    let mut out = PieceWriter {
        file: &w.file,
        writeback: w.writeback_helper(),
        requested_to: offset,
    };
    let mut cutter = Cutter::new(offset + SEGMENT_HEADER_LEN as u64);
    let mut finite = true;
    let written: std::io::Result<u64> = if layout.payload_len >= PIPELINE_MIN {
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel(QUEUE);
            let thread = scope.spawn(move || -> std::io::Result<u64> {
                for piece in rx.iter() {
                    let piece: Piece<'_> = piece;
                    out.write(&piece)?;
                }
                Ok(out.requested_to)
            });
            // A failed send means the writing thread stopped on an error, which its
            // join reports; the vectors after it need not be sent.
            let mut send = |p| {
                let _ = tx.send(p);
            };
            finite = feed(
                &run_header,
                vectors,
                &mut norms,
                &mut crc,
                &mut cutter,
                &mut send,
            );
            send(cutter.finish());
            drop(tx);
            thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the writing thread panicked")))
        })
    } else {
        let mut result = Ok(());
        let mut write = |p| {
            if result.is_ok() {
                result = out.write(&p);
            }
        };
        finite = feed(
            &run_header,
            vectors,
            &mut norms,
            &mut crc,
            &mut cutter,
            &mut write,
        );
        write(cutter.finish());
        result.map(|()| out.requested_to)
    };
    let requested_to = match written {
        Ok(r) => r,
        Err(e) => return Err(writer.fail("writing vectors", e)),
    };
    if !finite {
        // What was written lies past the end, for the next append to overwrite.
        return Ok(None);
    }
    // Padding to the norms, the norms, and the segment's tail padding.
    let vectors_end = layout.vectors_offset + layout.count as usize * usize::from(layout.dim) * 4;
    let mut tail = vec![0u8; layout.norms_offset.saturating_sub(vectors_end)];
    tail.extend_from_slice(bytemuck::cast_slice(&norms));
    crc = crc32c::crc32c_append(crc, &tail);
    let header = SegmentHeader {
        seg_type: SegmentType::Vec,
        segment_id,
        epoch,
        payload_len: layout.payload_len as u64,
        payload_crc: crc,
    };
    let total = header.total_len();
    let payload_start = offset + SEGMENT_HEADER_LEN as u64;
    tail.resize(total as usize - SEGMENT_HEADER_LEN - vectors_end, 0);
    let res = fileio::write_at(&writer.file, &tail, payload_start + vectors_end as u64)
        .and_then(|()| fileio::write_at(&writer.file, &header.encode(), offset));
    if let Err(e) = res {
        return Err(writer.fail("writing a segment header", e));
    }
    if let Some(wb) = writer.writeback_helper() {
        wb.request(requested_to, offset + total - requested_to);
    }
    writer.end = offset + total;
    Ok(Some(SegRef { offset, len: total }))
}
