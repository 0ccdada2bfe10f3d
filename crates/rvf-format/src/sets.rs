//! A sorted set of u64 (dead slots, membership ids) stored as ranges: each range is
//! `varint(gap from the previous range's end)`, `varint(length - 1)`. Dense deletes and
//! long runs of ids cost a few bytes; scattered values cost about two varints each.
//!
//! Sets are decoded into [`Span`]s, never expanded into values: a range of a million ids
//! costs a few bytes on disk and one `Span` in memory, so the memory of a decoded set is
//! bounded by its encoded size (each span takes at least two bytes), which is a real
//! bound, unlike the number of values the spans cover.

use crate::bytes::{put_varint, ByteReader};
use crate::error::{FormatError, Result};

/// The values `first..=last` (inclusive, so that a span can end at `u64::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub first: u64,
    pub last: u64,
}

impl Span {
    pub fn new(first: u64, last: u64) -> Span {
        debug_assert!(first <= last);
        Span { first, last }
    }

    pub fn single(v: u64) -> Span {
        Span { first: v, last: v }
    }

    /// Number of values covered (up to 2^64, hence u128).
    pub fn len(&self) -> u128 {
        u128::from(self.last) - u128::from(self.first) + 1
    }

    /// Never true: a span holds at least one value (kept for clippy's `len` convention).
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn contains(&self, v: u64) -> bool {
        self.first <= v && v <= self.last
    }

    pub fn values(&self) -> impl Iterator<Item = u64> {
        self.first..=self.last
    }
}

/// Total number of values the spans cover.
pub fn span_count(spans: &[Span]) -> u128 {
    spans.iter().map(Span::len).sum()
}

/// Encodes spans that are ascending, disjoint and not adjacent (what [`spans_of`] and
/// the decoder produce). Adjacent or overlapping input is merged on the way, so any
/// ascending input encodes to a set the decoder accepts.
pub fn encode_spans(spans: &[Span], out: &mut Vec<u8>) {
    let merged = merge_sorted(spans);
    put_varint(out, merged.len() as u64);
    // Ends are u128: a span holding u64::MAX ends at 2^64.
    let mut prev_end = 0u128;
    for s in merged {
        put_varint(out, (u128::from(s.first) - prev_end) as u64);
        put_varint(out, s.last - s.first);
        prev_end = u128::from(s.last) + 1;
    }
}

/// Merges ascending spans that touch or overlap.
fn merge_sorted(spans: &[Span]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for &s in spans {
        match out.last_mut() {
            Some(prev) if u128::from(s.first) <= u128::from(prev.last) + 1 => {
                prev.last = prev.last.max(s.last);
            }
            _ => out.push(s),
        }
    }
    out
}

/// Encodes ascending, distinct `values` (the caller sorts and dedups).
pub fn encode_sorted_set(values: &[u64], out: &mut Vec<u8>) {
    encode_spans(&spans_of(values), out);
}

/// Groups ascending distinct values into spans.
pub fn spans_of(values: &[u64]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for &v in values {
        match spans.last_mut() {
            Some(s) if s.last.checked_add(1) == Some(v) => s.last = v,
            _ => spans.push(Span::single(v)),
        }
    }
    spans
}

/// Every value a set of u64 may hold: its exclusive limit is 2^64.
pub const NO_LIMIT: u128 = 1 << 64;

/// Decodes a set, calling `emit(span)` for each range. `limit` caps the values allowed
/// (exclusive; [`NO_LIMIT`] for any u64), so a hostile file cannot name slots that do
/// not exist. The number of spans is bounded by the bytes present (two per span).
pub fn decode_sorted_set(
    r: &mut ByteReader<'_>,
    limit: u128,
    mut emit: impl FnMut(Span),
) -> Result<()> {
    let raw = r.varint()?;
    let n = r.count(raw, 2)?;
    let limit = limit.min(NO_LIMIT);
    let mut prev_end = 0u128;
    for i in 0..n {
        let gap = r.varint()?;
        let len = u128::from(r.varint()?) + 1;
        let first = prev_end + u128::from(gap);
        let end = first + len;
        if end > limit {
            return Err(FormatError::invalid(
                "sorted set",
                format!("range {first}..{end} exceeds the limit {limit}"),
            ));
        }
        if gap == 0 && i > 0 {
            return Err(FormatError::invalid(
                "sorted set",
                "adjacent ranges are not merged",
            ));
        }
        // Both fit in u64: end <= 2^64, so first and end - 1 are below 2^64.
        emit(Span::new(first as u64, (end - 1) as u64));
        prev_end = end;
    }
    Ok(())
}

/// Decodes a set into its spans (at most one per two bytes of input).
pub fn decode_spans(r: &mut ByteReader<'_>, limit: u128) -> Result<Vec<Span>> {
    let mut out = Vec::new();
    decode_sorted_set(r, limit, |s| out.push(s))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn expand(spans: &[Span]) -> Vec<u64> {
        spans.iter().flat_map(Span::values).collect()
    }

    proptest! {
        #[test]
        fn round_trip(mut values in proptest::collection::vec(0u64..10_000, 0..300)) {
            values.sort_unstable();
            values.dedup();
            let mut buf = Vec::new();
            encode_sorted_set(&values, &mut buf);
            let mut r = ByteReader::new(&buf, "t");
            let back = decode_spans(&mut r, NO_LIMIT).unwrap();
            prop_assert_eq!(expand(&back), values);
            prop_assert!(r.is_empty());
        }

        /// Ranges of any length, anywhere in the u64 space, round-trip as spans.
        #[test]
        fn long_ranges_round_trip(mut bounds in proptest::collection::vec(any::<u64>(), 0..20)) {
            bounds.sort_unstable();
            bounds.dedup();
            let spans: Vec<Span> = bounds
                .chunks_exact(2)
                .map(|p| Span::new(p[0], p[1]))
                .collect();
            let mut buf = Vec::new();
            encode_spans(&spans, &mut buf);
            let back = decode_spans(&mut ByteReader::new(&buf, "t"), NO_LIMIT).unwrap();
            prop_assert_eq!(span_count(&back), span_count(&spans));
            prop_assert_eq!(back, merge_sorted(&spans));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = ByteReader::new(&bytes, "t");
            let _ = decode_spans(&mut r, 1000);
        }
    }

    #[test]
    fn extreme_values_round_trip() {
        let values = [0, 1, 2, u64::MAX - 2, u64::MAX - 1, u64::MAX];
        let mut buf = Vec::new();
        encode_sorted_set(&values, &mut buf);
        let back = decode_spans(&mut ByteReader::new(&buf, "t"), NO_LIMIT).unwrap();
        assert_eq!(
            back,
            vec![Span::new(0, 2), Span::new(u64::MAX - 2, u64::MAX)]
        );
        // The whole u64 space is one span of 2^64 values, a few bytes on disk.
        let mut all = Vec::new();
        encode_spans(&[Span::new(0, u64::MAX)], &mut all);
        assert!(all.len() <= 12);
        let back = decode_spans(&mut ByteReader::new(&all, "t"), NO_LIMIT).unwrap();
        assert_eq!(span_count(&back), 1u128 << 64);
    }

    #[test]
    fn limit_is_enforced() {
        let mut buf = Vec::new();
        encode_sorted_set(&[5, 6, 100], &mut buf);
        assert!(decode_spans(&mut ByteReader::new(&buf, "t"), 100).is_err());
        assert!(decode_spans(&mut ByteReader::new(&buf, "t"), 101).is_ok());
    }

    /// The size of what a set decodes to follows its spans, not the values they cover:
    /// the bug this module once had refused a 300-id range in a 20-byte payload.
    #[test]
    fn a_million_values_in_one_span_decode_to_one_span() {
        let values: Vec<u64> = (1000..1_001_000).collect();
        let mut buf = Vec::new();
        encode_sorted_set(&values, &mut buf);
        assert!(buf.len() < 8);
        let back = decode_spans(&mut ByteReader::new(&buf, "t"), NO_LIMIT).unwrap();
        assert_eq!(back, vec![Span::new(1000, 1_000_999)]);
    }

    #[test]
    fn adjacent_and_overlapping_spans_are_merged_on_encode() {
        let mut buf = Vec::new();
        encode_spans(
            &[Span::new(0, 4), Span::new(5, 9), Span::new(7, 20)],
            &mut buf,
        );
        let back = decode_spans(&mut ByteReader::new(&buf, "t"), NO_LIMIT).unwrap();
        assert_eq!(back, vec![Span::new(0, 20)]);
    }

    #[test]
    fn unmerged_adjacent_ranges_are_refused() {
        // Two ranges [0,1) and [1,2): the second has gap 0.
        let bytes = [2u8, 0, 0, 0, 0];
        assert!(decode_spans(&mut ByteReader::new(&bytes, "t"), NO_LIMIT).is_err());
    }
}
