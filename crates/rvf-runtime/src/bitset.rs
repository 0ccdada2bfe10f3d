//! A growable bitset indexed by slot.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    pub fn get(&self, i: u64) -> bool {
        let w = (i / 64) as usize;
        self.words
            .get(w)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    pub fn set(&mut self, i: u64) {
        let w = (i / 64) as usize;
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (i % 64);
    }

    pub fn clear(&mut self, i: u64) {
        if let Some(word) = self.words.get_mut((i / 64) as usize) {
            *word &= !(1 << (i % 64));
        }
    }

    /// Sets bits `start..start + len`, a word at a time.
    pub fn set_range(&mut self, start: u64, len: u64) {
        if len <= 1 {
            if len == 1 {
                self.set(start);
            }
            return;
        }
        let end = start + len;
        let last_word = ((end - 1) / 64) as usize;
        if last_word >= self.words.len() {
            self.words.resize(last_word + 1, 0);
        }
        for (w, mask) in word_masks(start, end) {
            self.words[w] |= mask;
        }
    }

    /// Sets the bits of `span` (which the caller has bounded by a slot count).
    pub fn set_span(&mut self, span: rvf_format::Span) {
        self.set_range(span.first, span.last - span.first + 1);
    }

    /// The set bits as ascending, disjoint, non-adjacent spans.
    pub fn spans(&self) -> Vec<rvf_format::Span> {
        let mut out: Vec<rvf_format::Span> = Vec::new();
        for bit in self.ones() {
            match out.last_mut() {
                Some(s) if s.last + 1 == bit => s.last = bit,
                _ => out.push(rvf_format::Span::single(bit)),
            }
        }
        out
    }

    /// Sets every bit that is set in `other`.
    pub fn or(&mut self, other: &Bitset) {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
    }

    /// Clears every bit that is set in `other`.
    pub fn and_not(&mut self, other: &Bitset) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w &= !o;
        }
    }

    pub fn count_ones(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Bits `0..len` of the complement of `other` (bits at `len` and above are clear).
    pub fn complement_prefix(other: &Bitset, len: u64) -> Bitset {
        let full_words = (len / 64) as usize;
        let mut words: Vec<u64> = (0..full_words).map(|w| !other.word(w)).collect();
        let rem = len % 64;
        if rem != 0 {
            words.push(!other.word(full_words) & ((1u64 << rem) - 1));
        }
        Bitset { words }
    }

    /// Ascending indices of set bits among `start..start + len`.
    pub fn ones_in_range(&self, start: u64, len: u64) -> impl Iterator<Item = u64> + '_ {
        word_masks(start, start.saturating_add(len)).flat_map(move |(w, mask)| {
            let mut bits = self.word(w) & mask;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let tz = bits.trailing_zeros();
                bits &= bits - 1;
                Some(w as u64 * 64 + u64::from(tz))
            })
        })
    }

    /// Ascending indices of set bits.
    pub fn ones(&self) -> impl Iterator<Item = u64> + '_ {
        self.ones_in_range(0, self.words.len() as u64 * 64)
    }

    pub fn from_words(words: Vec<u64>) -> Bitset {
        Bitset { words }
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// One past the highest set bit (0 when empty).
    pub fn bit_len(&self) -> u64 {
        self.words.iter().rposition(|&w| w != 0).map_or(0, |w| {
            w as u64 * 64 + 64 - u64::from(self.words[w].leading_zeros())
        })
    }

    /// The share of set bits among `start..start + len`, estimated from at most
    /// `SAMPLE_WORDS` evenly spaced words (exact for shorter ranges): the planner needs a
    /// ratio per query, and an exact count of a million-bit range costs more than the
    /// search it steers.
    pub fn share_in_range(&self, start: u64, len: u64) -> f64 {
        const SAMPLE_WORDS: u64 = 64;
        if len == 0 {
            return 0.0;
        }
        let words = len.div_ceil(64);
        if words <= 2 * SAMPLE_WORDS {
            return self.count_range(start, len) as f64 / len as f64;
        }
        let step = len / SAMPLE_WORDS;
        let (mut set, mut seen) = (0u64, 0u64);
        for i in 0..SAMPLE_WORDS {
            let at = start + i * step;
            set += self.count_range(at, 64);
            seen += 64;
        }
        set as f64 / seen as f64
    }

    /// Set bits among `start..start + len`, a word at a time.
    pub fn count_range(&self, start: u64, len: u64) -> u64 {
        word_masks(start, start.saturating_add(len))
            .map_while(|(w, mask)| self.words.get(w).map(|word| word & mask))
            .map(|bits| u64::from(bits.count_ones()))
            .sum()
    }

    /// The word holding bit `i`'s 64-bit neighbourhood (for fast scans).
    pub fn word(&self, w: usize) -> u64 {
        self.words.get(w).copied().unwrap_or(0)
    }
}

/// The words covering bits `start..end`, each with the mask of its bits in the range.
pub(crate) fn word_masks(start: u64, end: u64) -> impl Iterator<Item = (usize, u64)> {
    let mut i = start;
    std::iter::from_fn(move || {
        if i >= end {
            return None;
        }
        let lo = i % 64;
        let hi = (end - (i - lo)).min(64);
        let mask = if hi - lo == 64 {
            u64::MAX
        } else {
            ((1u64 << (hi - lo)) - 1) << lo
        };
        let w = (i / 64) as usize;
        i += hi - lo;
        Some((w, mask))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_clear_ones() {
        let mut b = Bitset::default();
        assert!(!b.get(1000));
        b.set(3);
        b.set(130);
        b.set_range(64, 2);
        assert!(b.get(3) && b.get(64) && b.get(65) && b.get(130));
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![3, 64, 65, 130]);
        b.clear(64);
        b.clear(99_999);
        assert_eq!(b.count_ones(), 3);
        b.clear(3);
        assert!(!b.get(3));
        let mut r = Bitset::default();
        r.set_range(60, 70);
        assert_eq!(r.ones().collect::<Vec<_>>(), (60..130).collect::<Vec<_>>());
        r.set_range(0, 64);
        assert_eq!(r.count_ones(), 130);
        r.and_not(&b);
        let mut o = Bitset::default();
        o.or(&b);
        assert_eq!(o, b);
        assert!(!r.get(65) && r.get(64) && r.get(129));
        let c = Bitset::complement_prefix(&b, 70);
        assert!(c.get(0) && !c.get(65) && c.get(69) && !c.get(70) && !c.get(130));
        assert_eq!(c.count_ones(), 69);
    }

    #[test]
    fn bit_len_and_count_range() {
        let mut b = Bitset::default();
        assert_eq!((b.bit_len(), b.count_range(0, 1000)), (0, 0));
        b.set(5);
        b.set_range(60, 10);
        b.set(200);
        b.clear(200);
        assert_eq!(b.bit_len(), 70);
        for (start, len) in [(0, 0), (0, 6), (5, 1), (6, 54), (0, 300), (61, 3), (64, 64)] {
            let naive = (start..start + len).filter(|&i| b.get(i)).count() as u64;
            assert_eq!(b.count_range(start, len), naive, "{start}+{len}");
        }
        assert_eq!(Bitset::from_words(b.words().to_vec()), b);
    }

    #[test]
    fn ones_in_range_and_share() {
        let mut b = Bitset::default();
        for i in (0..100_000).step_by(10) {
            b.set(i);
        }
        b.set_range(200_000, 50_000);
        for (start, len) in [
            (0, 0),
            (0, 1),
            (3, 61),
            (60, 200),
            (199_990, 100),
            (0, 300_000),
        ] {
            let naive: Vec<u64> = (start..start + len).filter(|&i| b.get(i)).collect();
            let got: Vec<u64> = b.ones_in_range(start, len).collect();
            assert_eq!(got, naive, "{start}+{len}");
        }
        // Short ranges are counted exactly; long ones sampled, close to the truth.
        assert_eq!(b.share_in_range(0, 640), 0.1);
        let sampled = b.share_in_range(0, 100_000);
        assert!((sampled - 0.1).abs() < 0.01, "{sampled}");
        assert_eq!(b.share_in_range(200_000, 50_000), 1.0);
        assert_eq!(b.share_in_range(300_000, 50_000), 0.0);
        assert_eq!(b.share_in_range(5, 0), 0.0);
    }
}
