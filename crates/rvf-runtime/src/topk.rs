//! Bounded top-k selection ordered by (distance, id).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One query result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchResult {
    pub id: u64,
    /// Smaller is closer (see [`crate::DistanceMetric`]).
    pub distance: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    distance: f32,
    id: u64,
}

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the k smallest (distance, id) pairs seen.
#[derive(Debug, Clone)]
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }

    /// Distance a candidate must not exceed to possibly enter (ties are decided by id).
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::INFINITY
        } else {
            self.heap.peek().map_or(f32::INFINITY, |e| e.distance)
        }
    }

    /// Whether (distance, id) would enter, without inserting it.
    #[inline]
    pub fn accepts(&self, distance: f32, id: u64) -> bool {
        if self.k == 0 {
            return false;
        }
        if self.heap.len() < self.k {
            return true;
        }
        self.heap
            .peek()
            .is_some_and(|top| Entry { distance, id } < *top)
    }

    #[inline]
    pub fn push(&mut self, distance: f32, id: u64) {
        if !self.accepts(distance, id) {
            return;
        }
        if self.heap.len() == self.k {
            self.heap.pop();
        }
        self.heap.push(Entry { distance, id });
    }

    pub fn merge(&mut self, other: TopK) {
        for e in other.heap {
            self.push(e.distance, e.id);
        }
    }

    pub fn into_sorted(self) -> Vec<SearchResult> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| SearchResult {
                id: e.id,
                distance: e.distance,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_k_smallest_with_id_tiebreak() {
        let mut t = TopK::new(3);
        for (d, id) in [(5.0, 1), (1.0, 9), (1.0, 3), (2.0, 4), (1.0, 7), (0.5, 100)] {
            t.push(d, id);
        }
        let r = t.into_sorted();
        let got: Vec<(f32, u64)> = r.iter().map(|r| (r.distance, r.id)).collect();
        assert_eq!(got, vec![(0.5, 100), (1.0, 3), (1.0, 7)]);
    }

    #[test]
    fn zero_k_accepts_nothing() {
        let mut t = TopK::new(0);
        t.push(1.0, 1);
        assert!(t.into_sorted().is_empty());
    }
}
