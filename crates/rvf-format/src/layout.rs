//! Every fixed offset and size of the file, defined once as a chain of constants.
//! `docs/format.md` repeats these tables; `tests::doc_tables_match` holds it to them.

/// Current format version written by this build.
pub const FORMAT_VERSION: u16 = 1;
/// Oldest format version this build can read.
pub const MIN_READ_VERSION: u16 = 1;

/// Segment payloads start on this boundary so vectors can be read in place through mmap
/// with aligned SIMD loads at the start of every payload.
pub const SEGMENT_ALIGN: u64 = 64;

/// Each root slot sits in its own 512-byte sector so that a torn write of one slot
/// cannot damage the other on devices with 512-byte atomic writes.
pub const ROOT_SLOT_REGION: u64 = 512;
/// Bytes of a root slot that carry data (the rest of its region is zero).
pub const ROOT_SLOT_LEN: usize = 128;
pub const ROOT_SLOT_COUNT: u64 = 2;
pub const ROOT_SLOT_A_OFFSET: u64 = 0;
pub const ROOT_SLOT_B_OFFSET: u64 = ROOT_SLOT_A_OFFSET + ROOT_SLOT_REGION;
/// First byte of the segment area.
pub const DATA_START: u64 = ROOT_SLOT_REGION * ROOT_SLOT_COUNT;

/// Root slot field offsets.
pub mod root {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = MAGIC + 8;
    pub const SLOT_INDEX: usize = VERSION + 2;
    pub const RESERVED0: usize = SLOT_INDEX + 2;
    pub const READ_FEATURES: usize = RESERVED0 + 4;
    pub const WRITE_FEATURES: usize = READ_FEATURES + 8;
    pub const FILE_ID: usize = WRITE_FEATURES + 8;
    pub const EPOCH: usize = FILE_ID + 16;
    pub const MANIFEST_OFFSET: usize = EPOCH + 8;
    pub const MANIFEST_LEN: usize = MANIFEST_OFFSET + 8;
    pub const COMMITTED_END: usize = MANIFEST_LEN + 8;
    pub const MANIFEST_HASH: usize = COMMITTED_END + 8;
    pub const RESERVED1: usize = MANIFEST_HASH + 32;
    pub const CRC: usize = RESERVED1 + 12;
    pub const END: usize = CRC + 4;
}

/// Segment header field offsets.
pub mod segment {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = MAGIC + 4;
    pub const SEG_TYPE: usize = VERSION + 2;
    pub const FLAGS: usize = SEG_TYPE + 1;
    pub const SEGMENT_ID: usize = FLAGS + 1;
    pub const EPOCH: usize = SEGMENT_ID + 8;
    pub const PAYLOAD_LEN: usize = EPOCH + 8;
    pub const PAYLOAD_CRC: usize = PAYLOAD_LEN + 8;
    pub const RESERVED: usize = PAYLOAD_CRC + 4;
    pub const HEADER_CRC: usize = RESERVED + 24;
    pub const END: usize = HEADER_CRC + 4;
}

pub const SEGMENT_HEADER_LEN: usize = segment::END;

pub const ROOT_MAGIC: [u8; 8] = *b"RVFROOT\0";
pub const SEGMENT_MAGIC: [u8; 4] = *b"RVFS";

/// Largest payload a segment may have, on write and on read alike.
pub const MAX_PAYLOAD_LEN: u64 = 1 << 40;
/// Largest vector dimension (the field is a u16).
pub const MAX_DIMENSION: u16 = u16::MAX;
/// Largest cluster (the unit a branch copies). Far above any useful size; it bounds
/// the slots a branch may skip to start on a cluster boundary.
pub const MAX_CLUSTER_BYTES: u32 = 1 << 24;
/// Smallest cluster, and the multiple every cluster size is.
pub const CLUSTER_ALIGN: u32 = 64;
/// Deepest chain of parents a branch may have.
pub const MAX_LINEAGE_DEPTH: u16 = 64;
/// Longest recorded parent path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Required-to-read feature bits (a reader must know every bit set).
pub mod features {
    /// The file is a copy-on-write child: its manifest carries a parent reference and
    /// reading it needs the parent file.
    pub const READ_COW_CHILD: u64 = 1 << 0;
    /// Every read feature this build understands.
    pub const KNOWN_READ: u64 = READ_COW_CHILD;
    /// Every write feature this build understands (none defined yet).
    pub const KNOWN_WRITE: u64 = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_sizes() {
        assert_eq!(root::END, ROOT_SLOT_LEN);
        assert!(ROOT_SLOT_LEN as u64 <= ROOT_SLOT_REGION);
        assert_eq!(SEGMENT_HEADER_LEN as u64, SEGMENT_ALIGN);
        assert_eq!(DATA_START % SEGMENT_ALIGN, 0);
    }

    /// Every segment type the code knows has its row in `docs/format.md`'s table, with
    /// the same code and name.
    #[test]
    fn segment_type_table_matches() {
        use crate::SegmentType;
        let doc = include_str!("../../../docs/format.md");
        for code in 0..=u8::MAX {
            let Ok(ty) = SegmentType::from_u8(code) else {
                continue;
            };
            let row = format!("| {code:#04x} | {} |", ty.name());
            assert!(doc.contains(&row), "docs/format.md lacks the row {row}");
        }
    }

    /// Holds `docs/format.md` to the constants: each `| offset | size | field |` row of
    /// the root-slot and segment-header tables must agree with the code.
    #[test]
    fn doc_tables_match() {
        let doc = include_str!("../../../docs/format.md");
        let table = |heading: &str| -> Vec<(usize, usize, String)> {
            let start = doc
                .find(heading)
                .unwrap_or_else(|| panic!("docs/format.md lacks {heading}"));
            doc[start..]
                .lines()
                .skip_while(|l| !l.starts_with('|'))
                .take_while(|l| l.starts_with('|'))
                .filter_map(|l| {
                    let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                    let off = cells.get(1)?.parse().ok()?;
                    let size = cells.get(2)?.parse().ok()?;
                    Some((off, size, cells.get(3)?.trim_matches('`').to_string()))
                })
                .collect()
        };
        let root_rows = table("### Root slot layout");
        let expected_root = [
            (root::MAGIC, 8, "magic"),
            (root::VERSION, 2, "format_version"),
            (root::SLOT_INDEX, 2, "slot_index"),
            (root::RESERVED0, 4, "reserved"),
            (root::READ_FEATURES, 8, "read_features"),
            (root::WRITE_FEATURES, 8, "write_features"),
            (root::FILE_ID, 16, "file_id"),
            (root::EPOCH, 8, "epoch"),
            (root::MANIFEST_OFFSET, 8, "manifest_offset"),
            (root::MANIFEST_LEN, 8, "manifest_len"),
            (root::COMMITTED_END, 8, "committed_end"),
            (root::MANIFEST_HASH, 32, "manifest_hash"),
            (root::RESERVED1, 12, "reserved"),
            (root::CRC, 4, "crc32c"),
        ];
        assert_eq!(root_rows.len(), expected_root.len(), "root slot table rows");
        for (row, exp) in root_rows.iter().zip(expected_root.iter()) {
            assert_eq!((row.0, row.1, row.2.as_str()), *exp);
        }
        let seg_rows = table("### Segment header layout");
        let expected_seg = [
            (segment::MAGIC, 4, "magic"),
            (segment::VERSION, 2, "format_version"),
            (segment::SEG_TYPE, 1, "seg_type"),
            (segment::FLAGS, 1, "flags"),
            (segment::SEGMENT_ID, 8, "segment_id"),
            (segment::EPOCH, 8, "epoch"),
            (segment::PAYLOAD_LEN, 8, "payload_len"),
            (segment::PAYLOAD_CRC, 4, "payload_crc32c"),
            (segment::RESERVED, 24, "reserved"),
            (segment::HEADER_CRC, 4, "header_crc32c"),
        ];
        assert_eq!(
            seg_rows.len(),
            expected_seg.len(),
            "segment header table rows"
        );
        for (row, exp) in seg_rows.iter().zip(expected_seg.iter()) {
            assert_eq!((row.0, row.1, row.2.as_str()), *exp);
        }
    }
}
