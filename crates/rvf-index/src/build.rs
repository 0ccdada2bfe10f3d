//! Building a graph: HNSW insertion on several threads. The beam searches score codes
//! (as queries do); the choice of neighbours, which shapes the graph, uses exact
//! distances between the vectors.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use rvf_format::{GraphData, CODE_ALIGN, MAX_LEVEL};

use crate::quant::{normalized, Metric, Prepared, Sq8};
use crate::search::{beam, descend, Candidate, Layers, SearchStats};

/// How to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildParams {
    pub metric: Metric,
    /// Neighbours per node on the upper layers; twice as many on layer 0.
    pub m: usize,
    pub ef_construction: usize,
    /// Worker threads (at least one).
    pub threads: usize,
    /// Seed of the layer draws.
    pub seed: u64,
}

/// A built graph, ready for `rvf_format::encode_graph`.
#[derive(Debug, Clone)]
pub struct BuiltGraph {
    pub data: GraphData,
    pub m: u16,
    pub m0: u16,
    pub max_level: u8,
    pub entry: u32,
    pub nodes: u32,
}

/// Rows sampled to fit the quantizer.
const FIT_SAMPLE: usize = 100_000;

struct Building<'a> {
    metric: Metric,
    dim: usize,
    stride: usize,
    m: usize,
    m0: usize,
    ef: usize,
    vector: &'a (dyn Fn(u32) -> &'a [f32] + Sync),
    quant: Sq8,
    /// Norms of the exact vectors (cosine only).
    norms: Vec<f32>,
    codes: Vec<u8>,
    code_norms: Vec<f32>,
    levels: Vec<u8>,
    /// Layer 0: `n x (1 + m0)`: count, then neighbours. Read without a lock (a reader
    /// may see a list being replaced, which only steers its search differently);
    /// written under the node's lock.
    level0: Vec<AtomicU32>,
    locks: Vec<Mutex<()>>,
    /// Upper layers of each node above layer 0.
    upper: Vec<Vec<Mutex<Vec<u32>>>>,
    top: RwLock<(u32, u8)>,
}

impl Layers for Building<'_> {
    fn node_count(&self) -> usize {
        self.levels.len()
    }

    fn neighbours(&self, level: u8, node: u32, out: &mut Vec<u32>) {
        let i = node as usize;
        if level == 0 {
            let row = 1 + self.m0;
            let Some(r) = self.level0.get(i * row..(i + 1) * row) else {
                return;
            };
            let count = (r[0].load(Ordering::Acquire) as usize).min(self.m0);
            out.extend(r[1..=count].iter().map(|a| a.load(Ordering::Relaxed)));
        } else if let Some(l) = self
            .upper
            .get(i)
            .and_then(|u| u.get(usize::from(level) - 1))
        {
            out.extend_from_slice(&l.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    fn codes(&self, node: u32) -> &[u8] {
        let at = node as usize * self.stride;
        self.codes.get(at..at + self.stride).unwrap_or(&[])
    }
}

impl Building<'_> {
    /// Exact distance between two nodes' vectors.
    fn exact(&self, a: u32, b: u32) -> f32 {
        let (va, vb) = ((self.vector)(a), (self.vector)(b));
        match self.metric {
            Metric::L2 => rvf_distance::l2_sq(va, vb),
            Metric::InnerProduct => -rvf_distance::dot(va, vb),
            Metric::Cosine => {
                let (na, nb) = (self.norms[a as usize], self.norms[b as usize]);
                if na > 0.0 && nb > 0.0 {
                    1.0 - rvf_distance::dot(va, vb) / (na * nb)
                } else {
                    1.0
                }
            }
        }
    }

    /// The HNSW neighbour heuristic: nearest first, skipping a candidate that is nearer
    /// to an already chosen neighbour than to `base` (it is reached through that one).
    fn select(&self, base: u32, mut cands: Vec<Candidate>, max: usize) -> Vec<u32> {
        for c in &mut cands {
            c.distance = self.exact(base, c.node);
        }
        cands.sort();
        cands.dedup_by_key(|c| c.node);
        let mut chosen: Vec<u32> = Vec::with_capacity(max);
        for c in cands {
            if chosen.len() >= max {
                break;
            }
            if c.node == base {
                continue;
            }
            if chosen.iter().all(|&r| self.exact(c.node, r) >= c.distance) {
                chosen.push(c.node);
            }
        }
        chosen
    }

    fn set_links(&self, level: u8, node: u32, links: &[u32]) {
        let i = node as usize;
        if level == 0 {
            let row = 1 + self.m0;
            let Some(r) = self.level0.get(i * row..(i + 1) * row) else {
                return;
            };
            let n = links.len().min(self.m0);
            for (slot, &v) in r[1..].iter().zip(&links[..n]) {
                slot.store(v, Ordering::Relaxed);
            }
            r[0].store(n as u32, Ordering::Release);
        } else if let Some(l) = self
            .upper
            .get(i)
            .and_then(|u| u.get(usize::from(level) - 1))
        {
            *l.lock().unwrap_or_else(|p| p.into_inner()) = links.to_vec();
        }
    }

    /// Adds `new` to the neighbours of `node` on `level`, pruning when over degree.
    fn link_back(&self, level: u8, node: u32, new: u32) {
        let max = if level == 0 { self.m0 } else { self.m };
        let _guard = self.locks[node as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut current = Vec::with_capacity(max + 1);
        self.neighbours(level, node, &mut current);
        if current.contains(&new) {
            return;
        }
        if current.len() < max {
            current.push(new);
            self.set_links(level, node, &current);
            return;
        }
        current.push(new);
        let cands = current
            .iter()
            .map(|&c| Candidate {
                distance: 0.0,
                node: c,
            })
            .collect();
        let kept = self.select(node, cands, max);
        self.set_links(level, node, &kept);
    }

    fn insert(&self, node: u32, stats: &mut SearchStats) {
        let level = self.levels[node as usize];
        let exact = (self.vector)(node);
        let q = match self.metric {
            Metric::Cosine => normalized(exact),
            _ => exact.to_vec(),
        };
        let prepared = Prepared::new(self.metric, (&self.quant.mins, &self.quant.steps), &q);
        let (entry, top) = *self.top.read().unwrap_or_else(|p| p.into_inner());
        if entry == node {
            return;
        }
        let mut cur = if top > level {
            descend_from(self, &prepared, entry, top, level)
        } else {
            entry
        };
        // Every layer's neighbours are chosen and set before any other node links to
        // this one: a node reachable on an upper layer whose base layer were still
        // empty would be a dead end to the searches of other threads, and the nodes
        // they insert meanwhile would link only to it.
        let mut chosen_by_layer = Vec::with_capacity(usize::from(level.min(top)) + 1);
        for l in (0..=level.min(top)).rev() {
            let found = beam(self, &prepared, l, &[cur], self.ef, &mut |_| true, stats);
            if let Some(best) = found.first() {
                cur = best.node;
            }
            let max = if l == 0 { self.m0 } else { self.m };
            let chosen = self.select(node, found, max);
            {
                let _guard = self.locks[node as usize]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                self.set_links(l, node, &chosen);
            }
            chosen_by_layer.push((l, chosen));
        }
        for (l, chosen) in chosen_by_layer {
            for nb in chosen {
                self.link_back(l, nb, node);
            }
        }
        if level > top {
            let mut t = self.top.write().unwrap_or_else(|p| p.into_inner());
            if level > t.1 {
                *t = (node, level);
            }
        }
    }
}

/// Greedy descent from `top` down to just above `level`.
fn descend_from<L: Layers + ?Sized>(g: &L, q: &Prepared, entry: u32, top: u8, level: u8) -> u32 {
    // `descend` walks layers `top..=1`; stopping above `level` is the same walk over
    // fewer layers, so it is done by walking a graph whose bottom layer is `level + 1`.
    struct Above<'g, L: ?Sized> {
        g: &'g L,
        shift: u8,
    }
    impl<L: Layers + ?Sized> Layers for Above<'_, L> {
        fn node_count(&self) -> usize {
            self.g.node_count()
        }
        fn neighbours(&self, level: u8, node: u32, out: &mut Vec<u32>) {
            self.g.neighbours(level + self.shift, node, out)
        }
        fn codes(&self, node: u32) -> &[u8] {
            self.g.codes(node)
        }
    }
    let above = Above { g, shift: level };
    descend(&above, q, entry, top - level)
}

/// splitmix64: the layer draw of each node, from the seed and the node alone (so the
/// layers do not depend on which thread inserts a node).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn draw_level(seed: u64, node: u32, ml: f64) -> u8 {
    let u = ((mix(seed ^ u64::from(node)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    ((-u.ln() * ml) as u64).min(u64::from(MAX_LEVEL)) as u8
}

/// Builds a graph over the `n` vectors `vector(0..n)` of `dim` floats. `progress` is
/// told how many nodes are in, now and then; when it returns false the build stops and
/// returns `None`.
pub fn build<'a>(
    dim: usize,
    n: u32,
    vector: &'a (dyn Fn(u32) -> &'a [f32] + Sync),
    params: BuildParams,
    progress: &(dyn Fn(usize) -> bool + Sync),
) -> Option<BuiltGraph> {
    let m = params.m.clamp(2, 256);
    let m0 = 2 * m;
    let threads = params.threads.max(1);
    let stride = dim.div_ceil(CODE_ALIGN) * CODE_ALIGN;
    let count = n as usize;
    let norms: Vec<f32> = match params.metric {
        Metric::Cosine => (0..n)
            .map(|i| rvf_distance::dot(vector(i), vector(i)).sqrt())
            .collect(),
        _ => Vec::new(),
    };
    // Fit the codes on a spread-out sample.
    let step = (count / FIT_SAMPLE).max(1);
    let sample: Vec<Vec<f32>> = (0..count)
        .step_by(step)
        .map(|i| match params.metric {
            Metric::Cosine => normalized(vector(i as u32)),
            _ => vector(i as u32).to_vec(),
        })
        .collect();
    let quant = Sq8::fit(dim, sample.iter().map(|r| r.as_slice()));
    drop(sample);
    let mut codes = vec![0u8; count * stride];
    let mut code_norms = vec![0f32; count];
    std::thread::scope(|scope| {
        let per = count.div_ceil(threads).max(1);
        for (t, (cs, ns)) in codes
            .chunks_mut(per * stride)
            .zip(code_norms.chunks_mut(per))
            .enumerate()
        {
            let quant = &quant;
            let metric = params.metric;
            scope.spawn(move || {
                for (k, (row, norm)) in cs.chunks_mut(stride).zip(ns.iter_mut()).enumerate() {
                    let v = vector((t * per + k) as u32);
                    match metric {
                        Metric::Cosine => quant.encode(&normalized(v), row),
                        _ => quant.encode(v, row),
                    }
                    *norm = quant.decoded_norm(&row[..dim]);
                }
            });
        }
    });
    let ml = 1.0 / (m as f64).ln();
    let levels: Vec<u8> = (0..n).map(|i| draw_level(params.seed, i, ml)).collect();
    let upper = levels
        .iter()
        .map(|&l| (0..l).map(|_| Mutex::new(Vec::new())).collect())
        .collect();
    let g = Building {
        metric: params.metric,
        dim,
        stride,
        m,
        m0,
        ef: params.ef_construction.max(m0),
        vector,
        quant,
        norms,
        codes,
        code_norms,
        top: RwLock::new((0, levels.first().copied().unwrap_or(0))),
        levels,
        level0: (0..count * (1 + m0)).map(|_| AtomicU32::new(0)).collect(),
        locks: (0..count).map(|_| Mutex::new(())).collect(),
        upper,
    };
    let next = AtomicUsize::new(1);
    let done = AtomicUsize::new(1);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut stats = SearchStats::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    g.insert(i as u32, &mut stats);
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if d.is_multiple_of(4096) && !progress(d) {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    if stop.into_inner() || !progress(count) {
        return None;
    }
    Some(export(g, n))
}

fn export(g: Building<'_>, n: u32) -> BuiltGraph {
    let (entry, top) = *g.top.read().unwrap_or_else(|p| p.into_inner());
    let level0 = g.level0.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let row = 1 + g.m;
    let mut upper = Vec::new();
    for level in 1..=top {
        let nodes: Vec<u32> = (0..n).filter(|&i| g.levels[i as usize] >= level).collect();
        let mut links = Vec::with_capacity(nodes.len() * row);
        let mut buf = Vec::new();
        for &v in &nodes {
            buf.clear();
            g.neighbours(level, v, &mut buf);
            buf.truncate(g.m);
            links.push(buf.len() as u32);
            links.extend_from_slice(&buf);
            links.resize(links.len() + g.m - buf.len(), 0);
        }
        upper.push((nodes, links));
    }
    let _ = g.dim;
    BuiltGraph {
        m: g.m as u16,
        m0: g.m0 as u16,
        max_level: top,
        entry,
        nodes: n,
        data: GraphData {
            mins: g.quant.mins,
            steps: g.quant.steps,
            code_norms: g.code_norms,
            codes: g.codes,
            level0,
            levels: g.levels,
            upper,
        },
    }
}
