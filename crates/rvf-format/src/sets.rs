//! A sorted set of u64 (dead slots, membership ids) stored as ranges: each range is
//! `varint(gap from the previous range's end)`, `varint(length - 1)`. Dense deletes and
//! long runs of ids cost a few bytes; scattered values cost about two varints each.

use crate::bytes::{put_varint, ByteReader};
use crate::error::{FormatError, Result};

/// Encodes ascending, distinct `values` (the caller sorts and dedups).
pub fn encode_sorted_set(values: &[u64], out: &mut Vec<u8>) {
    let ranges = to_ranges(values);
    put_varint(out, ranges.len() as u64);
    // Ends are u128: a range holding u64::MAX ends at 2^64.
    let mut prev_end = 0u128;
    for (start, len) in ranges {
        put_varint(out, (u128::from(start) - prev_end) as u64);
        put_varint(out, len - 1);
        prev_end = u128::from(start) + u128::from(len);
    }
}

/// Groups ascending distinct values into (start, len) runs.
pub fn to_ranges(values: &[u64]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for &v in values {
        match ranges.last_mut() {
            Some((start, len)) if start.checked_add(*len) == Some(v) => *len += 1,
            _ => ranges.push((v, 1)),
        }
    }
    ranges
}

/// Every value a set of u64 may hold: its exclusive limit is 2^64.
pub const NO_LIMIT: u128 = 1 << 64;

/// Decodes a set, calling `emit(start, len)` for each range. `limit` caps the values
/// allowed (exclusive; [`NO_LIMIT`] for any u64), so a hostile file cannot name slots
/// that do not exist; the caller bounds memory by choosing what `emit` does.
pub fn decode_sorted_set(
    r: &mut ByteReader<'_>,
    limit: u128,
    mut emit: impl FnMut(u64, u64),
) -> Result<()> {
    let raw = r.varint()?;
    let n = r.count(raw, 2)?;
    let mut prev_end = 0u128;
    for _ in 0..n {
        let gap = r.varint()?;
        let len = u128::from(r.varint()?) + 1;
        let start = prev_end + u128::from(gap);
        let end = start + len;
        if end > limit.min(NO_LIMIT) {
            return Err(FormatError::invalid(
                "sorted set",
                format!("range {start}..{end} exceeds the limit {limit}"),
            ));
        }
        if gap == 0 && prev_end != 0 {
            return Err(FormatError::invalid(
                "sorted set",
                "adjacent ranges are not merged",
            ));
        }
        // Both fit in u64: end <= 2^64 and len <= end - start.
        emit(start as u64, len as u64);
        prev_end = end;
    }
    Ok(())
}

/// Convenience decoder that expands ranges into values, refusing more than `max_values`.
pub fn decode_sorted_values(r: &mut ByteReader<'_>, max_values: u64) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut overflow = false;
    decode_sorted_set(r, NO_LIMIT, |start, len| {
        total = total.saturating_add(len);
        if total > max_values {
            overflow = true;
            return;
        }
        out.extend((0..len).map(|k| start + k));
    })?;
    if overflow {
        return Err(FormatError::TooLarge {
            what: "sorted set",
            len: total,
            max: max_values,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(mut values in proptest::collection::vec(0u64..10_000, 0..300)) {
            values.sort_unstable();
            values.dedup();
            let mut buf = Vec::new();
            encode_sorted_set(&values, &mut buf);
            let mut r = ByteReader::new(&buf, "t");
            let back = decode_sorted_values(&mut r, 1 << 20).unwrap();
            prop_assert_eq!(back, values);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = ByteReader::new(&bytes, "t");
            let _ = decode_sorted_values(&mut r, 1000);
        }
    }

    #[test]
    fn large_values_round_trip() {
        let values = [0, 1, 2, u64::MAX - 2, u64::MAX - 1, u64::MAX];
        let mut buf = Vec::new();
        encode_sorted_set(&values, &mut buf);
        let back = decode_sorted_values(&mut ByteReader::new(&buf, "t"), 10).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn limit_is_enforced() {
        let mut buf = Vec::new();
        encode_sorted_set(&[5, 6, 100], &mut buf);
        let mut r = ByteReader::new(&buf, "t");
        assert!(decode_sorted_set(&mut r, 50, |_, _| {}).is_err());
        let mut r = ByteReader::new(&buf, "t");
        assert!(decode_sorted_set(&mut r, 101, |_, _| {}).is_ok());
    }

    #[test]
    fn dense_runs_are_compact() {
        let values: Vec<u64> = (1000..101_000).collect();
        let mut buf = Vec::new();
        encode_sorted_set(&values, &mut buf);
        assert!(buf.len() < 8);
    }
}
