//! Which vectors the graphs cover, and which are pending (scanned exactly).

use crate::index::ViewGraph;
use crate::store::RvfStore;
use crate::view::{Run, View};

/// A piece of a run: `(run, first index in the run, count)`.
pub(crate) type Piece<'a> = (&'a Run, usize, usize);

impl RvfStore {
    /// The graphs queries search: the view's (this file's and its ancestors') and any
    /// built in the background and not written yet.
    pub(crate) fn searched_graphs(&self) -> Vec<ViewGraph> {
        let mut graphs = self.view.graphs.clone();
        graphs.extend(self.background.ready_graphs());
        graphs
    }

    pub(crate) fn pending_pieces(&self, graphs: &[ViewGraph]) -> Vec<Piece<'_>> {
        pending_pieces(&self.view, graphs)
    }
}

/// The pieces of runs that no graph of the run's own file covers. (A graph of another
/// file never covers a run: a child's slab copy holds other vectors than the parent's
/// graph indexed at the same slots.)
pub(crate) fn pending_pieces<'v>(view: &'v View, graphs: &[ViewGraph]) -> Vec<Piece<'v>> {
    let mut covered: Vec<(u16, u64, u64)> = graphs
        .iter()
        .map(|g| (g.file, g.first_slot, g.end_slot()))
        .collect();
    covered.sort_unstable();
    let mut out = Vec::new();
    for run in view.runs.values() {
        let (start, end) = (run.first_slot, run.end_slot());
        let lo = covered.partition_point(|&(f, _, e)| (f, e) <= (run.file, start));
        let mut at = start;
        for &(f, a, b) in &covered[lo..] {
            if f != run.file || a >= end {
                break;
            }
            if a > at {
                out.push((run, (at - start) as usize, (a - at) as usize));
            }
            at = at.max(b);
            if at >= end {
                break;
            }
        }
        if at < end {
            out.push((run, (at - start) as usize, (end - at) as usize));
        }
    }
    out
}

/// The slot ranges of this file's own new vectors (append runs) that no graph covers:
/// what a build indexes. Adjacent pieces join.
pub(crate) fn own_pending_ranges(view: &View, graphs: &[ViewGraph]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for (run, start, count) in pending_pieces(view, graphs) {
        if run.file != 0 || run.kind != rvf_format::RunKind::Append {
            continue;
        }
        let a = run.first_slot + start as u64;
        let b = a + count as u64;
        match ranges.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => ranges.push((a, b)),
        }
    }
    ranges
}
