//! The 64-byte header in front of every segment, and segment types.

use crate::bytes::{align_up, ByteReader};
use crate::error::{FormatError, Result};
use crate::layout::{self, segment, SEGMENT_ALIGN, SEGMENT_HEADER_LEN, SEGMENT_MAGIC};

/// What a segment holds. Codes are stable on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SegmentType {
    /// A run of vectors in slot order, plus their squared norms.
    Vec = 0x01,
    /// The ids and metadata of the slots of one VEC_SEG.
    Slot = 0x02,
    /// Checkpoint of the ids of the slots of the checkpoint's run table that its dead set
    /// does not name, in run-table order, so open reads them from one place whatever the
    /// history.
    IdIndex = 0x03,
    /// The root of one committed generation.
    Manifest = 0x05,
    /// Checkpoint of the dead-slot set, range coded.
    DeadSet = 0x06,
    /// Checkpoint of the dead-slot set as a bitmap (smaller for scattered deletes).
    DeadBitmap = 0x07,
    /// Checkpoint of the run table: which slot ranges this file stores, and where.
    CowMap = 0x20,
    /// Reserved for cross-file reference counts (garbage collection of shared slabs).
    Refcount = 0x21,
    /// Checkpoint of a branch's membership filter.
    Membership = 0x22,
    /// One commit's changes to the run table, dead set and membership (the journal).
    Delta = 0x23,
    /// One graph of the ANN index (see `graph.rs`).
    Index = 0x30,
    /// The ANN index of a generation: its options and the graphs of this file.
    IndexMap = 0x31,
}

impl SegmentType {
    pub fn from_u8(v: u8) -> Result<SegmentType> {
        Ok(match v {
            0x01 => SegmentType::Vec,
            0x02 => SegmentType::Slot,
            0x03 => SegmentType::IdIndex,
            0x05 => SegmentType::Manifest,
            0x06 => SegmentType::DeadSet,
            0x07 => SegmentType::DeadBitmap,
            0x20 => SegmentType::CowMap,
            0x21 => SegmentType::Refcount,
            0x22 => SegmentType::Membership,
            0x23 => SegmentType::Delta,
            0x30 => SegmentType::Index,
            0x31 => SegmentType::IndexMap,
            other => return Err(FormatError::UnknownSegmentType(other)),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SegmentType::Vec => "VEC_SEG",
            SegmentType::Slot => "SLOT_SEG",
            SegmentType::IdIndex => "ID_INDEX",
            SegmentType::Manifest => "MANIFEST_SEG",
            SegmentType::DeadSet => "DEAD_SET",
            SegmentType::DeadBitmap => "DEAD_BITMAP",
            SegmentType::CowMap => "COW_MAP",
            SegmentType::Refcount => "REFCOUNT",
            SegmentType::Membership => "MEMBERSHIP",
            SegmentType::Delta => "DELTA",
            SegmentType::Index => "INDEX_SEG",
            SegmentType::IndexMap => "INDEX_MAP",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub seg_type: SegmentType,
    pub segment_id: u64,
    pub epoch: u64,
    pub payload_len: u64,
    pub payload_crc: u32,
}

impl SegmentHeader {
    pub fn new(seg_type: SegmentType, segment_id: u64, epoch: u64, payload: &[u8]) -> Self {
        SegmentHeader {
            seg_type,
            segment_id,
            epoch,
            payload_len: payload.len() as u64,
            payload_crc: crc32c::crc32c(payload),
        }
    }

    /// Bytes the whole segment occupies on disk: header, payload and padding to the
    /// next 64-byte boundary.
    pub fn total_len(&self) -> u64 {
        SEGMENT_HEADER_LEN as u64 + align_up(self.payload_len, SEGMENT_ALIGN)
    }

    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_LEN];
        out[segment::MAGIC..segment::MAGIC + 4].copy_from_slice(&SEGMENT_MAGIC);
        out[segment::VERSION..segment::VERSION + 2]
            .copy_from_slice(&layout::FORMAT_VERSION.to_le_bytes());
        out[segment::SEG_TYPE] = self.seg_type as u8;
        out[segment::FLAGS] = 0;
        out[segment::SEGMENT_ID..segment::SEGMENT_ID + 8]
            .copy_from_slice(&self.segment_id.to_le_bytes());
        out[segment::EPOCH..segment::EPOCH + 8].copy_from_slice(&self.epoch.to_le_bytes());
        out[segment::PAYLOAD_LEN..segment::PAYLOAD_LEN + 8]
            .copy_from_slice(&self.payload_len.to_le_bytes());
        out[segment::PAYLOAD_CRC..segment::PAYLOAD_CRC + 4]
            .copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c::crc32c(&out[..segment::HEADER_CRC]);
        out[segment::HEADER_CRC..segment::HEADER_CRC + 4].copy_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader> {
        let what = "segment header";
        let mut r = ByteReader::new(bytes, what);
        let header = r.take(SEGMENT_HEADER_LEN)?;
        let mut r = ByteReader::new(header, what);
        if r.array::<4>()? != SEGMENT_MAGIC {
            return Err(FormatError::BadMagic { what });
        }
        let computed = crc32c::crc32c(&header[..segment::HEADER_CRC]);
        let stored = u32::from_le_bytes([
            header[segment::HEADER_CRC],
            header[segment::HEADER_CRC + 1],
            header[segment::HEADER_CRC + 2],
            header[segment::HEADER_CRC + 3],
        ]);
        if computed != stored {
            return Err(FormatError::Checksum {
                what,
                stored,
                computed,
            });
        }
        let version = r.u16()?;
        if !(layout::MIN_READ_VERSION..=layout::FORMAT_VERSION).contains(&version) {
            return Err(FormatError::UnsupportedVersion {
                found: version,
                min: layout::MIN_READ_VERSION,
                max: layout::FORMAT_VERSION,
            });
        }
        let seg_type = SegmentType::from_u8(r.u8()?)?;
        if r.u8()? != 0 {
            return Err(FormatError::invalid(what, "unknown flags"));
        }
        let segment_id = r.u64()?;
        let epoch = r.u64()?;
        let payload_len = r.u64()?;
        let payload_crc = r.u32()?;
        r.expect_zeros(24)?;
        if payload_len > layout::MAX_PAYLOAD_LEN {
            return Err(FormatError::TooLarge {
                what: "segment payload",
                len: payload_len,
                max: layout::MAX_PAYLOAD_LEN,
            });
        }
        Ok(SegmentHeader {
            seg_type,
            segment_id,
            epoch,
            payload_len,
            payload_crc,
        })
    }

    /// Checks `payload` (exactly `payload_len` bytes) against the stored checksum.
    pub fn verify_payload(&self, payload: &[u8]) -> Result<()> {
        if payload.len() as u64 != self.payload_len {
            return Err(FormatError::Truncated {
                what: self.seg_type.name(),
                need: self.payload_len,
                have: payload.len() as u64,
            });
        }
        self.verify_crc(crc32c::crc32c(payload))
    }

    /// Checks `payload` against the stored checksum, given its CRC32C computed elsewhere
    /// (in parallel pieces, say).
    pub fn verify_payload_crc(&self, payload: &[u8], computed: u32) -> Result<()> {
        if payload.len() as u64 != self.payload_len {
            return Err(FormatError::Truncated {
                what: self.seg_type.name(),
                need: self.payload_len,
                have: payload.len() as u64,
            });
        }
        self.verify_crc(computed)
    }

    fn verify_crc(&self, computed: u32) -> Result<()> {
        if computed != self.payload_crc {
            return Err(FormatError::Checksum {
                what: self.seg_type.name(),
                stored: self.payload_crc,
                computed,
            });
        }
        Ok(())
    }
}

/// Parses the segment starting at `offset` of `file` (the committed bytes of a file) and
/// returns its header and payload slice, checking that it lies inside `file`, that it has
/// the `expected` type, and (when `verify` is set) its payload checksum.
pub fn read_segment(
    file: &[u8],
    offset: u64,
    expected: SegmentType,
    verify: bool,
) -> Result<(SegmentHeader, &[u8])> {
    read_segment_of(file, offset, &[expected], verify)
}

/// [`read_segment`] for a place that may hold any of several types (the first one names
/// the segment in errors); the returned header tells which one it is.
pub fn read_segment_of<'a>(
    file: &'a [u8],
    offset: u64,
    expected: &[SegmentType],
    verify: bool,
) -> Result<(SegmentHeader, &'a [u8])> {
    let what = expected.first().map_or("segment", |t| t.name());
    let start = usize::try_from(offset)
        .ok()
        .filter(|&s| s <= file.len() && offset.is_multiple_of(SEGMENT_ALIGN))
        .ok_or_else(|| {
            FormatError::invalid(
                what,
                format!("offset {offset} is outside the file or unaligned"),
            )
        })?;
    let rest = &file[start..];
    let header = SegmentHeader::decode(rest)?;
    if !expected.contains(&header.seg_type) {
        return Err(FormatError::invalid(
            what,
            format!("found a {} segment instead", header.seg_type.name()),
        ));
    }
    let payload = usize::try_from(header.payload_len)
        .ok()
        .and_then(|len| rest.get(SEGMENT_HEADER_LEN..SEGMENT_HEADER_LEN.checked_add(len)?))
        .ok_or(FormatError::Truncated {
            what,
            need: header.payload_len,
            have: rest.len().saturating_sub(SEGMENT_HEADER_LEN) as u64,
        })?;
    if verify {
        header.verify_payload(payload)?;
    }
    Ok((header, payload))
}

/// Encodes a complete segment (header, payload, zero padding) into a new buffer.
pub fn encode_segment(
    seg_type: SegmentType,
    segment_id: u64,
    epoch: u64,
    payload: &[u8],
) -> Vec<u8> {
    let header = SegmentHeader::new(seg_type, segment_id, epoch, payload);
    let mut out = Vec::with_capacity(header.total_len() as usize);
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(payload);
    out.resize(header.total_len() as usize, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_read() {
        let payload = b"hello segment".to_vec();
        let seg = encode_segment(SegmentType::Delta, 4, 9, &payload);
        assert_eq!(seg.len() % 64, 0);
        let (h, p) = read_segment(&seg, 0, SegmentType::Delta, true).unwrap();
        assert_eq!(h.segment_id, 4);
        assert_eq!(h.epoch, 9);
        assert_eq!(p, &payload[..]);
        assert!(read_segment(&seg, 0, SegmentType::Vec, true).is_err());
    }

    #[test]
    fn payload_flip_is_detected() {
        let mut seg = encode_segment(SegmentType::Slot, 1, 1, &[1, 2, 3, 4]);
        seg[SEGMENT_HEADER_LEN + 1] ^= 0x10;
        assert!(matches!(
            read_segment(&seg, 0, SegmentType::Slot, true),
            Err(FormatError::Checksum { .. })
        ));
    }

    #[test]
    fn lying_length_is_caught() {
        let mut h = SegmentHeader::new(SegmentType::Vec, 1, 1, &[0u8; 8]);
        h.payload_len = 1 << 30;
        let mut seg = h.encode().to_vec();
        seg.extend_from_slice(&[0u8; 64]);
        assert!(matches!(
            read_segment(&seg, 0, SegmentType::Vec, false),
            Err(FormatError::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), off in 0u64..256) {
            let _ = read_segment(&bytes, off, SegmentType::Manifest, true);
        }

        #[test]
        fn payload_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..300), id in any::<u64>()) {
            let seg = encode_segment(SegmentType::Membership, id, 3, &payload);
            let (h, p) = read_segment(&seg, 0, SegmentType::Membership, true).unwrap();
            prop_assert_eq!(h.segment_id, id);
            prop_assert_eq!(p, &payload[..]);
        }
    }
}
