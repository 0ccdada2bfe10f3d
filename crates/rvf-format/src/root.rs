//! The double-buffered root: two fixed slots at the start of the file, each naming the
//! manifest of one committed generation. The valid slot with the higher epoch wins.

use crate::bytes::ByteReader;
use crate::error::{FormatError, Result};
use crate::layout::{self, features, root, ROOT_MAGIC, ROOT_SLOT_LEN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootSlot {
    pub format_version: u16,
    pub slot_index: u16,
    pub read_features: u64,
    pub write_features: u64,
    pub file_id: [u8; 16],
    pub epoch: u64,
    pub manifest_offset: u64,
    pub manifest_len: u64,
    pub committed_end: u64,
    pub manifest_hash: [u8; 32],
}

impl RootSlot {
    /// Byte offset of slot `index` (0 or 1).
    pub fn offset_of(index: u16) -> u64 {
        if index == 0 {
            layout::ROOT_SLOT_A_OFFSET
        } else {
            layout::ROOT_SLOT_B_OFFSET
        }
    }

    /// Commits alternate slots so the previous commit's slot is never overwritten.
    pub fn slot_for_epoch(epoch: u64) -> u16 {
        (epoch % 2) as u16
    }

    pub fn encode(&self) -> [u8; ROOT_SLOT_LEN] {
        let mut out = [0u8; ROOT_SLOT_LEN];
        out[root::MAGIC..root::MAGIC + 8].copy_from_slice(&ROOT_MAGIC);
        out[root::VERSION..root::VERSION + 2].copy_from_slice(&self.format_version.to_le_bytes());
        out[root::SLOT_INDEX..root::SLOT_INDEX + 2].copy_from_slice(&self.slot_index.to_le_bytes());
        out[root::READ_FEATURES..root::READ_FEATURES + 8]
            .copy_from_slice(&self.read_features.to_le_bytes());
        out[root::WRITE_FEATURES..root::WRITE_FEATURES + 8]
            .copy_from_slice(&self.write_features.to_le_bytes());
        out[root::FILE_ID..root::FILE_ID + 16].copy_from_slice(&self.file_id);
        out[root::EPOCH..root::EPOCH + 8].copy_from_slice(&self.epoch.to_le_bytes());
        out[root::MANIFEST_OFFSET..root::MANIFEST_OFFSET + 8]
            .copy_from_slice(&self.manifest_offset.to_le_bytes());
        out[root::MANIFEST_LEN..root::MANIFEST_LEN + 8]
            .copy_from_slice(&self.manifest_len.to_le_bytes());
        out[root::COMMITTED_END..root::COMMITTED_END + 8]
            .copy_from_slice(&self.committed_end.to_le_bytes());
        out[root::MANIFEST_HASH..root::MANIFEST_HASH + 32].copy_from_slice(&self.manifest_hash);
        let crc = crc32c::crc32c(&out[..root::CRC]);
        out[root::CRC..root::CRC + 4].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes one slot. A slot that is all zeros (never written) or torn fails here;
    /// the caller then falls back to the other slot.
    pub fn decode(bytes: &[u8]) -> Result<RootSlot> {
        let what = "root slot";
        if bytes.len() < ROOT_SLOT_LEN {
            return Err(FormatError::Truncated {
                what,
                need: ROOT_SLOT_LEN as u64,
                have: bytes.len() as u64,
            });
        }
        let bytes = &bytes[..ROOT_SLOT_LEN];
        let mut r = ByteReader::new(bytes, what);
        if r.array::<8>()? != ROOT_MAGIC {
            return Err(FormatError::BadMagic { what });
        }
        let computed = crc32c::crc32c(&bytes[..root::CRC]);
        let stored = u32::from_le_bytes([
            bytes[root::CRC],
            bytes[root::CRC + 1],
            bytes[root::CRC + 2],
            bytes[root::CRC + 3],
        ]);
        if computed != stored {
            return Err(FormatError::Checksum {
                what,
                stored,
                computed,
            });
        }
        let format_version = r.u16()?;
        if !(layout::MIN_READ_VERSION..=layout::FORMAT_VERSION).contains(&format_version) {
            return Err(FormatError::UnsupportedVersion {
                found: format_version,
                min: layout::MIN_READ_VERSION,
                max: layout::FORMAT_VERSION,
            });
        }
        let slot_index = r.u16()?;
        r.expect_zeros(4)?;
        let read_features = r.u64()?;
        let write_features = r.u64()?;
        let file_id = r.array::<16>()?;
        let epoch = r.u64()?;
        let manifest_offset = r.u64()?;
        let manifest_len = r.u64()?;
        let committed_end = r.u64()?;
        let manifest_hash = r.array::<32>()?;
        r.expect_zeros(12)?;
        if slot_index > 1 {
            return Err(FormatError::invalid(
                what,
                format!("slot index {slot_index}"),
            ));
        }
        if manifest_offset < layout::DATA_START
            || manifest_offset
                .checked_add(manifest_len)
                .is_none_or(|end| end > committed_end)
        {
            return Err(FormatError::invalid(
                what,
                format!(
                    "manifest at {manifest_offset}+{manifest_len} lies outside the committed end {committed_end}"
                ),
            ));
        }
        Ok(RootSlot {
            format_version,
            slot_index,
            read_features,
            write_features,
            file_id,
            epoch,
            manifest_offset,
            manifest_len,
            committed_end,
            manifest_hash,
        })
    }

    /// Refuses files that need read features this build does not implement.
    pub fn check_read_features(&self) -> Result<()> {
        let unknown = self.read_features & !features::KNOWN_READ;
        if unknown != 0 {
            return Err(FormatError::UnknownFeatures {
                kind: "read",
                unknown,
                version: layout::FORMAT_VERSION,
            });
        }
        Ok(())
    }

    /// Refuses to write to files that need write features this build does not implement.
    pub fn check_write_features(&self) -> Result<()> {
        let unknown = self.write_features & !features::KNOWN_WRITE;
        if unknown != 0 {
            return Err(FormatError::UnknownFeatures {
                kind: "write",
                unknown,
                version: layout::FORMAT_VERSION,
            });
        }
        Ok(())
    }
}

/// Picks the committed root from the two slots: the valid one with the higher epoch.
/// When both fail, the error of slot A is returned.
pub fn choose_root(slot_a: &[u8], slot_b: &[u8]) -> Result<RootSlot> {
    let a = RootSlot::decode(slot_a);
    let b = RootSlot::decode(slot_b);
    match (a, b) {
        (Ok(a), Ok(b)) => Ok(if b.epoch > a.epoch { b } else { a }),
        (Ok(a), Err(_)) => Ok(a),
        (Err(_), Ok(b)) => Ok(b),
        (Err(ea), Err(_)) => Err(ea),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(epoch: u64) -> RootSlot {
        RootSlot {
            format_version: layout::FORMAT_VERSION,
            slot_index: RootSlot::slot_for_epoch(epoch),
            read_features: 0,
            write_features: 0,
            file_id: [7; 16],
            epoch,
            manifest_offset: layout::DATA_START,
            manifest_len: 256,
            committed_end: layout::DATA_START + 256,
            manifest_hash: [9; 32],
        }
    }

    #[test]
    fn round_trip() {
        let s = sample(3);
        assert_eq!(RootSlot::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn newer_valid_slot_wins_and_torn_slot_falls_back() {
        let a = sample(2).encode();
        let b = sample(3).encode();
        assert_eq!(choose_root(&a, &b).unwrap().epoch, 3);
        let mut torn = b;
        torn[40] ^= 0xff;
        assert_eq!(choose_root(&a, &torn).unwrap().epoch, 2);
        assert!(choose_root(&[0u8; 128], &[0u8; 128]).is_err());
    }

    #[test]
    fn unknown_read_feature_is_refused() {
        let mut s = sample(1);
        s.read_features = 1 << 40;
        let d = RootSlot::decode(&s.encode()).unwrap();
        assert!(matches!(
            d.check_read_features(),
            Err(FormatError::UnknownFeatures { kind: "read", .. })
        ));
    }

    #[test]
    fn future_version_is_refused() {
        let mut s = sample(1);
        s.format_version = layout::FORMAT_VERSION + 1;
        assert!(matches!(
            RootSlot::decode(&s.encode()),
            Err(FormatError::UnsupportedVersion { .. })
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = RootSlot::decode(&bytes);
        }

        #[test]
        fn any_single_flip_is_detected(pos in 0usize..ROOT_SLOT_LEN, bit in 0u8..8) {
            let mut bytes = sample(5).encode();
            bytes[pos] ^= 1 << bit;
            prop_assert!(RootSlot::decode(&bytes).is_err());
        }
    }
}
