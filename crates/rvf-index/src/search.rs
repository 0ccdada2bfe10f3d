//! Beam search over the layers of a graph (HNSW), scoring nodes by their codes.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use rvf_format::GraphView;

use crate::quant::Prepared;
use crate::visited::with_visited;

/// A node and its approximate distance to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub distance: f32,
    pub node: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.node.cmp(&other.node))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a search did, for tests and tuning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    pub visited: usize,
}

/// The graph operations a search needs: the stored graph read in place, or one being
/// built.
pub(crate) trait Layers {
    fn node_count(&self) -> usize;
    /// Neighbours of `node` on `level` (0 = the base layer), appended to `out`.
    fn neighbours(&self, level: u8, node: u32, out: &mut Vec<u32>);
    fn codes(&self, node: u32) -> &[u8];
    /// Starts loading the neighbours of `node` on layer 0 (a hint; may do nothing).
    fn prefetch_neighbours0(&self, _node: u32) {}
}

impl Layers for GraphView<'_> {
    fn node_count(&self) -> usize {
        self.header.nodes as usize
    }

    #[inline]
    fn neighbours(&self, level: u8, node: u32, out: &mut Vec<u32>) {
        let list = if level == 0 {
            self.neighbours0(node)
        } else {
            GraphView::neighbours(self, level, node)
        };
        out.extend_from_slice(list);
    }

    #[inline]
    fn codes(&self, node: u32) -> &[u8] {
        self.codes_of(node)
    }

    #[inline]
    fn prefetch_neighbours0(&self, node: u32) {
        rvf_distance::prefetch(bytemuck::cast_slice(self.row0(node)));
    }
}

#[inline]
fn score<L: Layers + ?Sized>(g: &L, q: &Prepared, node: u32) -> f32 {
    q.distance(g.codes(node))
}

/// Greedy descent through the upper layers: the node of layer 1 nearest the query.
pub(crate) fn descend<L: Layers + ?Sized>(g: &L, q: &Prepared, entry: u32, top: u8) -> u32 {
    let mut cur = entry;
    let mut best = score(g, q, cur);
    let mut nbrs = Vec::new();
    for level in (1..=top).rev() {
        loop {
            nbrs.clear();
            g.neighbours(level, cur, &mut nbrs);
            let mut moved = false;
            for &nb in &nbrs {
                if nb as usize >= g.node_count() {
                    continue;
                }
                let d = score(g, q, nb);
                if d < best {
                    best = d;
                    cur = nb;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    }
    cur
}

/// Beam search of one layer from `starts`: the `ef` nearest nodes that `accept` lets
/// through, nearest first. Nodes it refuses still lead the search on.
pub(crate) fn beam<L: Layers + ?Sized>(
    g: &L,
    q: &Prepared,
    level: u8,
    starts: &[u32],
    ef: usize,
    accept: &mut dyn FnMut(u32) -> bool,
    stats: &mut SearchStats,
) -> Vec<Candidate> {
    let n = g.node_count();
    let ef = ef.max(1);
    with_visited(n, |visited| {
        let mut frontier: BinaryHeap<Reverse<Candidate>> = BinaryHeap::with_capacity(ef * 2);
        let mut found: BinaryHeap<Candidate> = BinaryHeap::with_capacity(ef + 1);
        for &s in starts {
            if s as usize >= n || !visited.insert(s) {
                continue;
            }
            let c = Candidate {
                distance: score(g, q, s),
                node: s,
            };
            frontier.push(Reverse(c));
            if accept(s) {
                found.push(c);
            }
        }
        let mut bound = if found.len() >= ef {
            found.peek().map_or(f32::INFINITY, |c| c.distance)
        } else {
            f32::INFINITY
        };
        let mut nbrs: Vec<u32> = Vec::with_capacity(64);
        while let Some(Reverse(c)) = frontier.pop() {
            if c.distance > bound {
                break;
            }
            // The next node to expand is likely the frontier's nearest now: its
            // neighbour list loads while this node's neighbours are scored.
            if level == 0 {
                if let Some(Reverse(next)) = frontier.peek() {
                    g.prefetch_neighbours0(next.node);
                }
            }
            nbrs.clear();
            g.neighbours(level, c.node, &mut nbrs);
            // Drop visited and out-of-range ids, then start loading the codes of the
            // rest before scoring any: their cache misses overlap.
            nbrs.retain(|&nb| (nb as usize) < n && visited.insert(nb));
            for &nb in &nbrs {
                rvf_distance::prefetch(g.codes(nb));
            }
            stats.visited += nbrs.len();
            for &nb in &nbrs {
                let d = score(g, q, nb);
                if found.len() < ef || d < bound {
                    let cand = Candidate {
                        distance: d,
                        node: nb,
                    };
                    frontier.push(Reverse(cand));
                    if accept(nb) {
                        found.push(cand);
                        if found.len() > ef {
                            found.pop();
                        }
                        if found.len() >= ef {
                            bound = found.peek().map_or(f32::INFINITY, |c| c.distance);
                        }
                    }
                }
            }
        }
        found.into_sorted_vec()
    })
}

/// The `ef` nodes nearest `query` that `accept` lets through (nearest first), by the
/// codes of a stored graph.
pub fn search(
    g: &GraphView<'_>,
    query: &Prepared,
    ef: usize,
    accept: &mut dyn FnMut(u32) -> bool,
    stats: &mut SearchStats,
) -> Vec<Candidate> {
    let entry = descend(g, query, g.header.entry, g.header.max_level);
    beam(g, query, 0, &[entry], ef, accept, stats)
}
