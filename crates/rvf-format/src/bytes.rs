//! Bounds-checked little-endian reading and writing helpers shared by every codec.

use crate::error::{FormatError, Result};

/// A cursor over a byte slice whose every read is bounds checked.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> ByteReader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        ByteReader { buf, pos: 0, what }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let out = &self.buf[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(FormatError::Truncated {
                what: self.what,
                need: n as u64,
                have: self.remaining() as u64,
            }),
        }
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// LEB128 unsigned varint, at most 10 bytes.
    pub fn varint(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && byte > 1 {
                return Err(FormatError::invalid(self.what, "varint overflows 64 bits"));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(FormatError::invalid(
            self.what,
            "varint longer than 10 bytes",
        ))
    }

    /// A count read from the file, capped by how many items of `min_item_bytes`
    /// could possibly remain, so a lying length can never trigger a huge allocation.
    pub fn count(&mut self, raw: u64, min_item_bytes: usize) -> Result<usize> {
        let max = (self.remaining() / min_item_bytes.max(1)) as u64;
        if raw > max {
            return Err(FormatError::TooLarge {
                what: self.what,
                len: raw,
                max,
            });
        }
        Ok(raw as usize)
    }

    pub fn expect_zeros(&mut self, n: usize) -> Result<()> {
        let s = self.take(n)?;
        if s.iter().any(|&b| b != 0) {
            return Err(FormatError::invalid(
                self.what,
                "reserved bytes are not zero",
            ));
        }
        Ok(())
    }
}

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Rounds `n` up to a multiple of `align` (a power of two).
pub const fn align_up(n: u64, align: u64) -> u64 {
    (n + align - 1) & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_round_trip(v in any::<u64>()) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r = ByteReader::new(&buf, "test");
            prop_assert_eq!(r.varint().unwrap(), v);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn varint_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = ByteReader::new(&bytes, "test").varint();
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let bytes = [0xffu8; 11];
        assert!(ByteReader::new(&bytes, "t").varint().is_err());
        let mut too_big = vec![0xffu8; 9];
        too_big.push(0x02);
        assert!(ByteReader::new(&too_big, "t").varint().is_err());
    }

    #[test]
    fn count_is_capped_by_remaining_bytes() {
        let bytes = [0u8; 16];
        let mut r = ByteReader::new(&bytes, "t");
        assert_eq!(r.count(2, 8).unwrap(), 2);
        assert!(r.count(3, 8).is_err());
    }

    #[test]
    fn take_past_end_is_an_error() {
        let bytes = [1u8, 2, 3];
        let mut r = ByteReader::new(&bytes, "t");
        assert!(r.take(4).is_err());
        assert_eq!(r.take(3).unwrap(), &bytes);
    }
}
