//! DEAD_BITMAP payload: a dead-slot set as a plain bitmap. A checkpoint writes it
//! instead of a range-coded DEAD_SET when it is smaller, which is the case for scattered
//! deletes (two varints per dead slot against one bit per slot); open then copies words
//! instead of decoding a range per dead slot.
//!
//! Layout: `u64 bit_len`, then `ceil(bit_len / 64)` little-endian `u64` words; bit `i`
//! (word `i / 64`, bit `i % 64`) set means slot `i` is dead. Bits at or beyond `bit_len`
//! must be zero.

use crate::bytes::ByteReader;
use crate::error::{FormatError, Result};

const WHAT: &str = "DEAD_BITMAP";

/// Encodes the set whose bitmap words are `words` (slot `i` is bit `i % 64` of word
/// `i / 64`), covering `bit_len` slots. Bits past `bit_len` are dropped.
pub fn encode_slot_bitmap(words: &[u64], bit_len: u64) -> Vec<u8> {
    let n = usize::try_from(bit_len.div_ceil(64)).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(8 + n.min(words.len()) * 8 + 8);
    out.extend_from_slice(&bit_len.to_le_bytes());
    for w in 0..n {
        let mut word = words.get(w).copied().unwrap_or(0);
        let last = w + 1 == n && !bit_len.is_multiple_of(64);
        if last {
            word &= (1u64 << (bit_len % 64)) - 1;
        }
        out.extend_from_slice(&word.to_le_bytes());
    }
    out
}

/// Decodes a bitmap payload into its words. `limit` is the number of slots the bitmap may
/// cover (the generation's slot count), which also bounds the allocation.
pub fn decode_slot_bitmap(payload: &[u8], limit: u64) -> Result<Vec<u64>> {
    let mut r = ByteReader::new(payload, WHAT);
    let bit_len = r.u64()?;
    if bit_len > limit {
        return Err(FormatError::invalid(
            WHAT,
            format!("covers {bit_len} slots, more than the {limit} that exist"),
        ));
    }
    let n = r.count(bit_len.div_ceil(64), 8)?;
    let body = r.take(n * 8)?;
    if !r.is_empty() {
        return Err(FormatError::invalid(WHAT, "trailing bytes"));
    }
    let words: Vec<u64> = body
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect();
    let tail_bits = bit_len % 64;
    if tail_bits != 0 && words.last().is_some_and(|&w| w >> tail_bits != 0) {
        return Err(FormatError::invalid(WHAT, "bits set past its length"));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words_of(slots: &[u64]) -> Vec<u64> {
        let mut words = Vec::new();
        for &s in slots {
            let w = (s / 64) as usize;
            if w >= words.len() {
                words.resize(w + 1, 0);
            }
            words[w] |= 1 << (s % 64);
        }
        words
    }

    proptest! {
        #[test]
        fn round_trip(slots in proptest::collection::btree_set(0u64..5_000, 0..400), extra in 0u64..200) {
            let slots: Vec<u64> = slots.into_iter().collect();
            let bit_len = slots.last().map_or(0, |&s| s + 1) + extra;
            let words = words_of(&slots);
            let enc = encode_slot_bitmap(&words, bit_len);
            prop_assert_eq!(enc.len() as u64, 8 + bit_len.div_ceil(64) * 8);
            let back = decode_slot_bitmap(&enc, bit_len).unwrap();
            let mut expected = words.clone();
            expected.resize(bit_len.div_ceil(64) as usize, 0);
            prop_assert_eq!(back, expected);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80), limit in 0u64..1000) {
            let _ = decode_slot_bitmap(&bytes, limit);
        }
    }

    #[test]
    fn limits_and_tail_bits_are_checked() {
        let enc = encode_slot_bitmap(&[0b1011], 70);
        assert!(decode_slot_bitmap(&enc, 70).is_ok());
        assert!(decode_slot_bitmap(&enc, 69).is_err(), "over the slot count");
        let mut bad = encode_slot_bitmap(&[0, 0], 70);
        bad[8 + 8] = 0x80; // bit 71 of a 70-bit map
        assert!(decode_slot_bitmap(&bad, 70).is_err());
        assert!(decode_slot_bitmap(&enc[..enc.len() - 1], 70).is_err());
        let mut long = enc.clone();
        long.push(0);
        assert!(decode_slot_bitmap(&long, 70).is_err());
        assert!(decode_slot_bitmap(&u64::MAX.to_le_bytes(), u64::MAX).is_err());
    }

    #[test]
    fn bits_past_the_length_are_dropped_on_encode() {
        let enc = encode_slot_bitmap(&[u64::MAX, u64::MAX], 65);
        assert_eq!(decode_slot_bitmap(&enc, 65).unwrap(), vec![u64::MAX, 1]);
    }
}
