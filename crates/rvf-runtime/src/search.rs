//! Where a query goes: the exact scan (`query.rs`), or the graphs of the ANN index with
//! an exact scan of the pending vectors, merged. Either way every distance returned is
//! computed exactly from the stored vector, with the kernels the scan uses, so results
//! of the two paths compare and merge bit for bit.
//!
//! The planner, per graph: a search admits only vectors the view shows (alive, allowed
//! by the membership filter) that match the metadata filter; others still lead the
//! search on. The share `s` of a graph's nodes that can be admitted is estimated (the
//! visible share from up to 64 words of the visibility bitset, the metadata filter's
//! share from a sample of 64 nodes per graph). The graph's admissible vectors are
//! scanned exactly instead of searched when `s < MIN_SELECTIVITY`, or when
//! `admissible · s² ≤ SCAN_PER_VISIT · ef · m` (the scan reads fewer rows than the
//! filtered search would do work; see `plan`). Otherwise the search breadth is
//! `ef / s`, at most `MAX_EF`, so that about `ef` admitted candidates are found.

use rvf_distance::dot;
use rvf_index::{Prepared, SearchStats};

use crate::error::{Result, RvfError};
use crate::filter::FilterExpr;
use crate::index::{default_ef, Piece, ViewGraph};
use crate::options::{DistanceMetric, QueryOptions};
use crate::query::row_distance;
use crate::store::RvfStore;
use crate::topk::{SearchResult, TopK};
use crate::view::View;

/// Below this admissible fraction a graph is scanned instead of searched.
pub(crate) const MIN_SELECTIVITY: f64 = 0.02;
/// The broadest search the planner asks for.
pub(crate) const MAX_EF: usize = 4096;
/// The planner's exchange rate between rows a scan reads and the work of a search
/// (see `plan`): the cost of one unit of search work (`ef · m / s²`) over the cost of
/// one row scanned. Measured with membership filters: a unit costs 22–24 ns on 100k
/// and 1M × 128; a row scanned 26 ns on 100k and 36–70 ns on 1M (a larger store's rows
/// come from memory, not the cache). At 1M and a 10 % filter the search is then picked
/// up to ef ≈ 125, where it takes 2.3 ms at ef 48 against 7 ms for the scan.
pub(crate) const SCAN_PER_VISIT: f64 = 0.5;
/// Nodes sampled per graph to estimate a metadata filter's selectivity.
const FILTER_SAMPLE: u64 = 64;

/// What to do with one graph.
enum GraphPlan {
    Search { ef: usize },
    Scan,
}

impl RvfStore {
    /// The `k` visible vectors closest to `query`, sorted by distance then id.
    ///
    /// With the ANN index on (the default) and `options.exact` unset, the index's graphs
    /// are searched and the vectors they do not cover yet are scanned; the results may
    /// miss some true neighbours (see `QueryOptions::ef_search`), but every distance is
    /// exact. Otherwise every vector is scanned.
    pub fn query(
        &self,
        query: &[f32],
        k: usize,
        options: &QueryOptions,
    ) -> Result<Vec<SearchResult>> {
        self.check_query(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let graphs = self.graphs_for(options);
        let mut top = TopK::new(k);
        if graphs.is_empty() {
            self.scan_into(query, options, None, &mut top)?;
        } else {
            self.indexed_query(query, k, options, &graphs, &mut top)?;
        }
        Ok(top.into_sorted())
    }

    /// The graphs a query with `options` searches (none: an exact scan).
    fn graphs_for(&self, options: &QueryOptions) -> Vec<ViewGraph> {
        if options.exact || !self.local.index.settings.enabled {
            return Vec::new();
        }
        self.searched_graphs()
    }

    pub(crate) fn batch_checked(
        &self,
        flat: &[f32],
        k: usize,
        options: &QueryOptions,
    ) -> Result<Vec<Vec<SearchResult>>> {
        let dim = usize::from(self.view.config.dim);
        let graphs = self.graphs_for(options);
        if graphs.is_empty() || k == 0 {
            return self.scan_batch(flat, k, options);
        }
        let queries: Vec<&[f32]> = flat.chunks_exact(dim).collect();
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t,
        }
        .clamp(1, queries.len().max(1));
        let one = |q: &[f32]| -> Result<Vec<SearchResult>> {
            let mut top = TopK::new(k);
            self.indexed_query(q, k, options, &graphs, &mut top)?;
            Ok(top.into_sorted())
        };
        if threads == 1 {
            return queries.iter().map(|q| one(q)).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut results: Vec<Option<Result<Vec<SearchResult>>>> =
            (0..queries.len()).map(|_| None).collect();
        let parts: Vec<Vec<(usize, Result<Vec<SearchResult>>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(q) = queries.get(i) else { break };
                            mine.push((i, one(q)));
                        }
                        mine
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (i, r) in parts.into_iter().flatten() {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(RvfError::internal("query thread panicked"))))
            .collect()
    }

    /// Graph searches plus the exact scan of what they do not cover, into `top`.
    fn indexed_query(
        &self,
        query: &[f32],
        k: usize,
        options: &QueryOptions,
        graphs: &[ViewGraph],
        top: &mut TopK,
    ) -> Result<()> {
        let view = &self.view;
        let settings = self.local.index.settings;
        let ef = options
            .ef_search
            .or((settings.ef_search > 0).then_some(settings.ef_search as usize))
            .unwrap_or_else(|| default_ef(k))
            .max(k);
        let filter_share = match &options.filter {
            Some(f) => filter_selectivity(view, graphs, f),
            None => 1.0,
        };
        let mut pieces: Vec<Piece<'_>> = self.pending_pieces(graphs);
        let all_nodes: u64 = graphs.iter().map(|g| u64::from(g.nodes)).sum();
        for g in graphs {
            // A graph holding a share `p` of the nodes holds about `p · k` of the answers
            // (a branch's own graph of its 1 % of changed vectors, next to its parent's):
            // it is searched `sqrt(p)` as broadly, never below `k`.
            let graph_share = f64::from(g.nodes) / all_nodes.max(1) as f64;
            let ef = ((ef as f64 * graph_share.sqrt()).ceil() as usize).clamp(k.min(ef), ef);
            match plan(view, g, ef, filter_share, usize::from(settings.m)) {
                GraphPlan::Scan => pieces.extend(graph_pieces(view, g)),
                GraphPlan::Search { ef } => {
                    self.search_graph(g, query, ef, options.filter.as_ref(), top)?
                }
            }
        }
        self.scan_into(query, options, Some(&pieces), top)
    }

    /// Searches one graph and re-scores what it finds exactly, into `top`.
    fn search_graph(
        &self,
        g: &ViewGraph,
        query: &[f32],
        ef: usize,
        filter: Option<&FilterExpr>,
        top: &mut TopK,
    ) -> Result<()> {
        let view = &self.view;
        let gv = g.view(view)?;
        let prepared = Prepared::new(
            crate::index::metric_of(view.config.metric),
            (gv.mins, gv.steps),
            query,
        );
        // Slots of this graph's range that another file's run shadows (a branch's slab
        // copy) hold other vectors than the graph indexed: refused.
        let shadowed = view
            .runs
            .overlapping(g.first_slot, g.end_slot())
            .iter()
            .any(|r| r.file != g.file);
        let mut accept = |node: u32| -> bool {
            let slot = g.first_slot + u64::from(node);
            if !view.visible.get(slot) {
                return false;
            }
            if !shadowed && filter.is_none() {
                return true;
            }
            let Some(run) = view.run_of(slot) else {
                return false;
            };
            if run.file != g.file {
                return false;
            }
            match filter {
                None => true,
                Some(f) => matches_filter(view, run, slot, f),
            }
        };
        let mut stats = SearchStats::default();
        let found = rvf_index::search(&gv, &prepared, ef, &mut accept, &mut stats);
        // Re-score the candidates exactly. Their vectors lie at random places of a large
        // file: start loading all of them (and their ids) before scoring any, so their
        // cache misses overlap instead of following one another.
        let dim = usize::from(view.config.dim);
        let mut rows = Vec::with_capacity(found.len());
        for c in &found {
            let slot = g.first_slot + u64::from(c.node);
            let Some(run) = view.run_of(slot) else {
                continue;
            };
            let file = view.file(run)?;
            run.ensure(file)?;
            let i = (slot - run.first_slot) as usize;
            let Some(v) = run
                .vectors(file, view.config.dim)?
                .get(i * dim..(i + 1) * dim)
            else {
                continue;
            };
            rvf_distance::prefetch(bytemuck::cast_slice(v));
            let seg = run.slot_seg(file);
            let k = run.seg_index(slot);
            rvf_distance::prefetch(seg.id_bytes_of(k));
            rows.push((run, file, i, v, seg, k));
        }
        let q_norm = dot(query, query);
        for (run, file, i, v, seg, k) in rows {
            let norm = match view.config.metric {
                DistanceMetric::Cosine => run.norms(file)?.get(i).copied().unwrap_or(0.0),
                _ => 0.0,
            };
            let d = row_distance(view.config.metric, query, q_norm, v, norm);
            top.push(d, seg.id(k));
        }
        Ok(())
    }
}

/// Whether the vector at `slot` (in `run`) matches `filter` (damaged metadata: no).
fn matches_filter(view: &View, run: &crate::view::Run, slot: u64, filter: &FilterExpr) -> bool {
    let Ok(file) = view.file(run) else {
        return false;
    };
    if run.ensure_slots(file).is_err() {
        return false;
    }
    match run.slot_seg(file).metadata(run.seg_index(slot)) {
        Ok(meta) => filter.matches(meta.as_ref()),
        Err(_) => false,
    }
}

fn plan(view: &View, g: &ViewGraph, ef: usize, filter_share: f64, m: usize) -> GraphPlan {
    let nodes = u64::from(g.nodes);
    let visible_share = view.visible.share_in_range(g.first_slot, nodes);
    let share = visible_share * filter_share;
    if share < MIN_SELECTIVITY {
        return GraphPlan::Scan;
    }
    // A search asked for `ef` results expands about `ef / s` nodes, and with only a
    // share `s` of them admissible its path grows by about `1 / s` again (measured: 10×
    // the unfiltered time at s = 0.1, 21× at s = 0.02); each expansion scores up to
    // `2m` neighbour codes at random places. A scan reads the admissible rows only. The
    // scan is chosen when it reads no more rows than `SCAN_PER_VISIT · ef · m / s²`.
    let admissible = share * nodes as f64;
    if admissible * share * share <= SCAN_PER_VISIT * (ef * m.max(1)) as f64 {
        return GraphPlan::Scan;
    }
    let ef = ((ef as f64 / share).ceil() as usize).clamp(ef, MAX_EF.max(ef));
    GraphPlan::Search { ef }
}

/// The pieces of runs holding a graph's slots (for a graph the planner scans).
fn graph_pieces<'v>(view: &'v View, g: &ViewGraph) -> Vec<Piece<'v>> {
    view.runs
        .overlapping(g.first_slot, g.end_slot())
        .iter()
        .filter(|r| r.file == g.file)
        .map(|r| {
            let a = g.first_slot.max(r.first_slot);
            let b = g.end_slot().min(r.end_slot());
            (r, (a - r.first_slot) as usize, (b - a) as usize)
        })
        .collect()
}

/// The share of visible nodes that match `filter`, from an even sample of each graph.
fn filter_selectivity(view: &View, graphs: &[ViewGraph], filter: &FilterExpr) -> f64 {
    let (mut seen, mut matched) = (0u64, 0u64);
    for g in graphs {
        let n = u64::from(g.nodes);
        let step = (n / FILTER_SAMPLE).max(1);
        let mut slot = g.first_slot;
        while slot < g.end_slot() {
            if view.visible.get(slot) {
                if let Some(run) = view.run_of(slot) {
                    seen += 1;
                    matched += u64::from(matches_filter(view, run, slot, filter));
                }
            }
            slot += step;
        }
    }
    if seen == 0 {
        1.0
    } else {
        matched as f64 / seen as f64
    }
}
