//! A sorted set of u64 (dead slots, membership ids) stored as ranges: each range is
//! `varint(gap from the previous range's end)`, `varint(length - 1)`. Dense deletes and
//! long runs of ids cost a few bytes; scattered values cost about two varints each.

use crate::bytes::{put_varint, ByteReader};
use crate::error::{FormatError, Result};

/// Encodes ascending, distinct `values` (the caller sorts and dedups).
pub fn encode_sorted_set(values: &[u64], out: &mut Vec<u8>) {
    let ranges = to_ranges(values);
    put_varint(out, ranges.len() as u64);
    let mut prev_end = 0u64;
    for (start, len) in ranges {
        put_varint(out, start - prev_end);
        put_varint(out, len - 1);
        prev_end = start + len;
    }
}

/// Groups ascending distinct values into (start, len) runs.
pub fn to_ranges(values: &[u64]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for &v in values {
        match ranges.last_mut() {
            Some((start, len)) if *start + *len == v => *len += 1,
            _ => ranges.push((v, 1)),
        }
    }
    ranges
}

/// Decodes a set, calling `emit(start, len)` for each range. `limit` caps the largest
/// value allowed (exclusive), so a hostile file cannot name slots that do not exist;
/// the caller bounds memory by choosing what `emit` does (a bitset of `limit` bits).
pub fn decode_sorted_set(
    r: &mut ByteReader<'_>,
    limit: u64,
    mut emit: impl FnMut(u64, u64),
) -> Result<()> {
    let raw = r.varint()?;
    let n = r.count(raw, 2)?;
    let mut prev_end = 0u64;
    for _ in 0..n {
        let gap = r.varint()?;
        let len = r.varint()?.checked_add(1);
        let start = prev_end.checked_add(gap);
        let end = match (start, len) {
            (Some(s), Some(l)) => s.checked_add(l),
            _ => None,
        };
        let (Some(start), Some(len), Some(end)) = (start, len, end) else {
            return Err(FormatError::invalid("sorted set", "range overflows u64"));
        };
        if end > limit {
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
        emit(start, len);
        prev_end = end;
    }
    Ok(())
}

/// Convenience decoder that expands ranges into values, refusing more than `max_values`.
pub fn decode_sorted_values(r: &mut ByteReader<'_>, max_values: u64) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut overflow = false;
    decode_sorted_set(r, u64::MAX, |start, len| {
        total = total.saturating_add(len);
        if total > max_values {
            overflow = true;
            return;
        }
        out.extend(start..start + len);
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
        let values = [0, 1, 2, u64::MAX - 2, u64::MAX - 1];
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
    }

    #[test]
    fn dense_runs_are_compact() {
        let values: Vec<u64> = (1000..101_000).collect();
        let mut buf = Vec::new();
        encode_sorted_set(&values, &mut buf);
        assert!(buf.len() < 8);
    }
}
