//! Payload checksums of large segments on every core. The first query on a store of a
//! million vectors verifies its vector segments and its graph, over 700 MiB; one core
//! takes tens of milliseconds for that, so the payload is cut into pieces checked in
//! parallel, whose CRCs combine into the payload's. Each piece is checked by
//! `crc-fast`, whose carry-less-multiply folding runs near memory speed (26 GB/s on
//! one core here, where the `crc32c` crate's CRC instruction loop gives 15).

use rvf_format::{read_segment, FormatError, SegmentHeader, SegmentType};

/// Below this many bytes one core checks the payload alone (a thread costs more).
const PARALLEL_FROM: usize = 4 << 20;
/// At most this many threads check one payload.
const MAX_THREADS: usize = 8;

/// CRC32C of `bytes`, computed on up to all cores when `bytes` is large.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(bytes.len() / (PARALLEL_FROM / 2).max(1));
    if bytes.len() < PARALLEL_FROM || threads < 2 {
        return piece_crc(bytes);
    }
    let piece = bytes.len().div_ceil(threads);
    let parts: Option<Vec<(u32, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bytes
            .chunks(piece)
            .map(|p| scope.spawn(move || (piece_crc(p), p.len())))
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    match parts {
        Some(parts) => parts
            .into_iter()
            .reduce(|(a, _), (b, len)| (crc32c::crc32c_combine(a, b, len), 0))
            .map_or(0, |(crc, _)| crc),
        // A thread that could not run its piece: one core does the whole.
        None => piece_crc(bytes),
    }
}

/// CRC32C (CRC-32/ISCSI) of one piece, on one core.
fn piece_crc(bytes: &[u8]) -> u32 {
    // The 32-bit CRC comes back in the low half of the u64.
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes) as u32
}

/// [`read_segment`] with its payload checksum verified by [`crc32c`].
pub(crate) fn read_verified(
    file: &[u8],
    offset: u64,
    expected: SegmentType,
) -> Result<(SegmentHeader, &[u8]), FormatError> {
    let (header, payload) = read_segment(file, offset, expected, false)?;
    header.verify_payload_crc(payload, crc32c(payload))?;
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_combine_into_the_whole_payloads_crc() {
        for len in [
            0usize,
            1,
            1000,
            PARALLEL_FROM - 1,
            PARALLEL_FROM,
            3 * PARALLEL_FROM + 7,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
            assert_eq!(crc32c(&bytes), crc32c::crc32c(&bytes), "{len} bytes");
        }
    }

    #[test]
    fn a_damaged_large_payload_is_refused() {
        let payload: Vec<u8> = (0..PARALLEL_FROM * 2).map(|i| (i % 253) as u8).collect();
        let mut file = vec![0u8; rvf_format::layout::DATA_START as usize];
        let at = file.len() as u64;
        file.extend_from_slice(&rvf_format::encode_segment(
            SegmentType::Vec,
            1,
            1,
            &payload,
        ));
        assert!(read_verified(&file, at, SegmentType::Vec).is_ok());
        let flip = at as usize + rvf_format::layout::SEGMENT_HEADER_LEN + PARALLEL_FROM + 5;
        file[flip] ^= 1;
        assert!(matches!(
            read_verified(&file, at, SegmentType::Vec),
            Err(FormatError::Checksum { .. })
        ));
    }
}
