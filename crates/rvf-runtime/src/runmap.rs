//! The runs of a view, sorted by first slot and disjoint, in one vector: opening a store
//! with thousands of runs (a long history of small commits) builds it in one pass with
//! one allocation, queries walk it in order, and a slot's run is found by bisection.

use crate::view::Run;

#[derive(Debug, Clone, Default)]
pub(crate) struct RunMap {
    runs: Vec<Run>,
}

impl RunMap {
    /// From runs already sorted by first slot and disjoint (the caller checked).
    pub fn from_sorted(runs: Vec<Run>) -> RunMap {
        RunMap { runs }
    }

    pub fn values(&self) -> std::slice::Iter<'_, Run> {
        self.runs.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The same runs, read from a file one step further down the lineage (a child's
    /// view of its parent's runs).
    pub fn inherited(&self) -> RunMap {
        let runs = self
            .runs
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.file += 1;
                r
            })
            .collect();
        RunMap { runs }
    }

    /// Index of the first run that ends after `slot`.
    fn first_ending_after(&self, slot: u64) -> usize {
        self.runs.partition_point(|r| r.end_slot() <= slot)
    }

    /// The runs holding any of the slots `first..end`, in slot order.
    pub fn overlapping(&self, first: u64, end: u64) -> &[Run] {
        let lo = self.first_ending_after(first);
        let hi = self.runs.partition_point(|r| r.first_slot < end).max(lo);
        self.runs.get(lo..hi).unwrap_or(&[])
    }

    pub fn run_of(&self, slot: u64) -> Option<&Run> {
        self.runs
            .get(self.first_ending_after(slot))
            .filter(|r| r.first_slot <= slot)
    }

    /// Inserts a run, cutting the runs it overlaps (a slab copy shadows inherited
    /// slots). Appending past every run, the usual case, costs no shifting.
    pub fn insert(&mut self, run: Run) {
        let (start, end) = (run.first_slot, run.end_slot());
        let lo = self.first_ending_after(start);
        let hi = self.runs.partition_point(|r| r.first_slot < end);
        let mut pieces = Vec::new();
        if let Some(first) = self.runs.get(lo).filter(|_| lo < hi) {
            if first.first_slot < start {
                let mut left = first.clone();
                left.count = (start - first.first_slot) as u32;
                pieces.push(left);
            }
        }
        pieces.push(run);
        if let Some(last) = hi
            .checked_sub(1)
            .filter(|&i| i >= lo)
            .and_then(|i| self.runs.get(i))
        {
            if last.end_slot() > end {
                let mut right = last.clone();
                right.first_slot = end;
                right.count = (last.end_slot() - end) as u32;
                pieces.push(right);
            }
        }
        self.runs.splice(lo..hi.max(lo), pieces);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rvf_format::{RunDesc, RunKind};

    fn run(first_slot: u64, count: u32, tag: u64) -> Run {
        let d = RunDesc {
            first_slot,
            count,
            kind: RunKind::Append,
            vec_seg: tag * 64,
            vec_seg_len: 0,
            slot_seg: 0,
            slot_seg_len: 0,
        };
        Run::single(d, 1, 0)
    }

    proptest! {
        /// After any inserts, each slot belongs to the run inserted last over it, and
        /// the runs stay sorted and disjoint.
        #[test]
        fn inserts_shadow_like_a_slot_table(ops in proptest::collection::vec((0u64..200, 1u32..40), 1..30)) {
            let mut map = RunMap::default();
            let mut owner = vec![None; 260];
            for (tag, &(start, count)) in ops.iter().enumerate() {
                map.insert(run(start, count, tag as u64 + 1));
                for s in start..start + u64::from(count) {
                    owner[s as usize] = Some(tag as u64 + 1);
                }
            }
            let runs: Vec<&Run> = map.values().collect();
            for w in runs.windows(2) {
                prop_assert!(w[0].end_slot() <= w[1].first_slot);
            }
            for (s, want) in owner.iter().enumerate() {
                let got = map.run_of(s as u64).map(|r| r.desc().vec_seg / 64);
                prop_assert_eq!(got, *want, "slot {}", s);
            }
        }
    }
}
