//! A set of u64 ids kept as disjoint spans, as the file stores it: a membership filter
//! of a million consecutive ids is one entry, so the memory of a set read from a file
//! is bounded by the file's bytes rather than by the number of ids the spans cover.

use std::collections::BTreeMap;

use rvf_format::Span;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdSet {
    /// first -> last (inclusive); disjoint and never adjacent.
    spans: BTreeMap<u64, u64>,
}

impl IdSet {
    pub fn contains(&self, id: u64) -> bool {
        self.spans
            .range(..=id)
            .next_back()
            .is_some_and(|(_, &last)| id <= last)
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Number of ids (up to 2^64).
    pub fn len(&self) -> u128 {
        self.spans().map(|s| s.len()).sum()
    }

    pub fn clear(&mut self) {
        self.spans.clear();
    }

    pub fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        self.spans
            .iter()
            .map(|(&first, &last)| Span::new(first, last))
    }

    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.spans().flat_map(|s| s.values())
    }

    /// Adds `span`, merging it with the spans it overlaps or touches.
    pub fn insert(&mut self, span: Span) {
        let (mut first, mut last) = (span.first, span.last);
        // A span that starts at or before `first` and reaches it (or `first - 1`).
        if let Some((&f, &l)) = self.spans.range(..=first).next_back() {
            if u128::from(l) + 1 >= u128::from(first) {
                first = f;
                last = last.max(l);
            }
        }
        // Spans that start inside `first..=last + 1` are absorbed.
        let upper = last.saturating_add(1);
        let absorbed: Vec<(u64, u64)> = self
            .spans
            .range(first..=upper)
            .map(|(&f, &l)| (f, l))
            .collect();
        for (f, l) in absorbed {
            self.spans.remove(&f);
            last = last.max(l);
        }
        self.spans.insert(first, last);
    }

    /// Removes every id of `span`.
    pub fn remove(&mut self, span: Span) {
        let (first, last) = (span.first, span.last);
        let mut touched: Vec<(u64, u64)> = self
            .spans
            .range(first..=last)
            .map(|(&f, &l)| (f, l))
            .collect();
        if let Some((&f, &l)) = self.spans.range(..first).next_back() {
            if l >= first {
                touched.push((f, l));
            }
        }
        for (f, l) in touched {
            self.spans.remove(&f);
            if f < first {
                self.spans.insert(f, first - 1);
            }
            if l > last {
                self.spans.insert(last + 1, l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Span operations agree with a set of values.
        #[test]
        fn behaves_like_a_set_of_values(
            ops in proptest::collection::vec((any::<bool>(), 0u64..200, 0u64..20), 0..60)
        ) {
            let mut set = IdSet::default();
            let mut model = BTreeSet::new();
            for (add, first, len) in ops {
                let span = Span::new(first, first + len);
                if add {
                    set.insert(span);
                    model.extend(span.values());
                } else {
                    set.remove(span);
                    for v in span.values() {
                        model.remove(&v);
                    }
                }
                let spans: Vec<Span> = set.spans().collect();
                for w in spans.windows(2) {
                    prop_assert!(u128::from(w[0].last) + 1 < u128::from(w[1].first));
                }
            }
            prop_assert_eq!(set.ids().collect::<BTreeSet<u64>>(), model.clone());
            prop_assert_eq!(set.len(), model.len() as u128);
            for v in 0..230 {
                prop_assert_eq!(set.contains(v), model.contains(&v));
            }
        }
    }

    #[test]
    fn extreme_spans() {
        let mut s = IdSet::default();
        s.insert(Span::new(0, u64::MAX));
        assert_eq!(s.len(), 1u128 << 64);
        assert!(s.contains(u64::MAX) && s.contains(0));
        s.remove(Span::new(5, 9));
        s.remove(Span::single(u64::MAX));
        assert!(!s.contains(7) && !s.contains(u64::MAX) && s.contains(u64::MAX - 1));
        assert_eq!(s.len(), (1u128 << 64) - 6);
        s.insert(Span::new(5, 9));
        s.insert(Span::single(u64::MAX));
        assert_eq!(s.spans().collect::<Vec<_>>(), vec![Span::new(0, u64::MAX)]);
    }
}
