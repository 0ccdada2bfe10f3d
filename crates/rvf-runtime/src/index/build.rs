//! Building graphs over pending vectors and writing them into the file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rvf_format::{encode_graph, GraphEntry, GraphHeader, IndexMap, IndexSettings, SegmentType};

use crate::commit::Txn;
use crate::error::{Result, RvfError};
use crate::index::background::Built;
use crate::index::coverage::own_pending_ranges;
use crate::index::graphs::MemGraph;
use crate::index::{metric_of, ViewGraph, BACKGROUND_MIN, CLOSE_MIN};
use crate::load::metric_code;
use crate::mmap::MappedFile;
use crate::store::RvfStore;
use crate::view::{Config, Run, View};

/// A graph to build: the slots `first_slot..first_slot + nodes` of this file, with
/// handles on everything needed to read their vectors.
pub(crate) struct BuildJob {
    pub first_slot: u64,
    pub nodes: u32,
    files: Vec<Arc<MappedFile>>,
    runs: Vec<Run>,
    config: Config,
    settings: IndexSettings,
    threads: usize,
}

impl BuildJob {
    pub fn new(view: &View, range: (u64, u64), settings: IndexSettings, threads: usize) -> Self {
        let runs = view
            .runs
            .values()
            .filter(|r| r.file == 0 && r.end_slot() > range.0 && r.first_slot < range.1)
            .cloned()
            .collect();
        BuildJob {
            first_slot: range.0,
            nodes: (range.1 - range.0).min(u64::from(u32::MAX)) as u32,
            files: view.files.clone(),
            runs,
            config: view.config,
            settings,
            threads: threads.max(1),
        }
    }
}

/// All cores, for builds the caller waits for.
pub(crate) fn all_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Builds the graph of `job` (None when `cancel` is set meanwhile), encoded as it is
/// stored.
pub(crate) fn run_job(job: &BuildJob, cancel: &AtomicBool) -> Result<Option<MemGraph>> {
    run_job_with(job, cancel, &|_, _| {})
}

fn run_job_with(
    job: &BuildJob,
    cancel: &AtomicBool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Option<MemGraph>> {
    let dim = usize::from(job.config.dim);
    // One slice per node: the build reads vectors at random, many times each.
    let mut rows: Vec<&[f32]> = Vec::with_capacity(job.nodes as usize);
    let end = job.first_slot + u64::from(job.nodes);
    for run in &job.runs {
        let file = job
            .files
            .get(usize::from(run.file))
            .ok_or_else(|| RvfError::internal("run refers to an unknown file"))?;
        run.ensure(file)?;
        let vectors = run.vectors(file, job.config.dim)?;
        let from = job.first_slot.max(run.first_slot);
        let to = end.min(run.end_slot());
        for s in from..to {
            let i = (s - run.first_slot) as usize;
            rows.push(vectors.get(i * dim..(i + 1) * dim).unwrap_or(&[]));
        }
    }
    if rows.len() != job.nodes as usize || rows.iter().any(|r| r.len() != dim) {
        return Err(RvfError::internal("a graph's range is not covered by runs"));
    }
    let vector = |i: u32| rows.get(i as usize).copied().unwrap_or(&[]);
    let params = rvf_index::BuildParams {
        metric: metric_of(job.config.metric),
        m: usize::from(job.settings.m),
        ef_construction: job.settings.ef_construction as usize,
        threads: job.threads,
        seed: job.first_slot ^ 0x5256_4649_4e44_4558,
    };
    let total = u64::from(job.nodes);
    let keep_going = |done: usize| {
        progress(done as u64, total);
        !cancel.load(Ordering::Relaxed)
    };
    let Some(built) = rvf_index::build(dim, job.nodes, &vector, params, &keep_going) else {
        return Ok(None);
    };
    let header = GraphHeader {
        dim: job.config.dim,
        metric: metric_code(job.config.metric),
        m: built.m,
        m0: built.m0,
        max_level: built.max_level,
        entry: built.entry,
        nodes: built.nodes,
        first_slot: job.first_slot,
        ef_construction: job.settings.ef_construction,
    };
    Ok(Some(MemGraph::new(&encode_graph(&header, &built.data))))
}

/// A new graph may absorb the graph of this file that ends where it starts, when that
/// one is not much larger (or the file has many graphs): sizes then grow geometrically,
/// so a file keeps few graphs and each vector is rebuilt a logarithmic number of times.
const ABSORB_RATIO: u64 = 4;
const MAX_OWN_GRAPHS: usize = 4;

impl RvfStore {
    /// Brings the ANN index up to date now: every vector of this file that no graph
    /// covers is indexed (with all cores), and the graphs are written in one commit.
    /// Does nothing when the index is off.
    pub fn build_index(&mut self) -> Result<()> {
        self.build_index_with_progress(&|_, _| {})
    }

    /// [`RvfStore::build_index`], telling `progress(done, total)` how many vectors of
    /// the current graph are in, now and then.
    pub fn build_index_with_progress(
        &mut self,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<()> {
        self.check_writable()?;
        if !self.local.index.settings.enabled {
            return Ok(());
        }
        // A build that is running finishes first; what it built is written below.
        self.background.join();
        if let Some(e) = self.background.take_error() {
            return Err(RvfError::internal(format!(
                "background index build failed: {e}"
            )));
        }
        let graphs = self.searched_graphs();
        let mut built = self.background.take_ready();
        let mut replaced: Vec<GraphEntry> = Vec::new();
        for (mut a, b) in own_pending_ranges(&self.view, &graphs) {
            // Absorb the graphs of this file that end where the range starts, while they
            // are small next to it (a graph the background built included: its work is
            // redone, and the file keeps one graph where it would have had two).
            loop {
                let own = self.local.index.graphs.len() - replaced.len();
                let written = self
                    .local
                    .index
                    .graphs
                    .iter()
                    .find(|g| g.end_slot() == a && !replaced.contains(g))
                    .copied();
                if let Some(prev) = written {
                    if u64::from(prev.nodes) <= ABSORB_RATIO * (b - a) || own >= MAX_OWN_GRAPHS {
                        replaced.push(prev);
                        a = prev.first_slot;
                        continue;
                    }
                }
                let fresh = built.iter().position(|g| {
                    g.first_slot + u64::from(g.nodes) == a
                        && u64::from(g.nodes) <= ABSORB_RATIO * (b - a)
                });
                if let Some(k) = fresh {
                    a = built.remove(k).first_slot;
                    continue;
                }
                break;
            }
            let job = BuildJob::new(&self.view, (a, b), self.local.index.settings, all_threads());
            let never = AtomicBool::new(false);
            if let Some(graph) = run_job_with(&job, &never, progress)? {
                built.push(Built {
                    first_slot: job.first_slot,
                    nodes: job.nodes,
                    graph: Arc::new(graph),
                });
            }
        }
        if built.is_empty() {
            return Ok(());
        }
        self.write_graphs(built, replaced)
    }

    /// Writes built graphs (replacing `replaced`) and a new index map, in one commit.
    fn write_graphs(&mut self, built: Vec<Built>, replaced: Vec<GraphEntry>) -> Result<()> {
        let mut txn = self.begin();
        let mut next_local = self.local.clone();
        let entries = self.append_graphs(&mut txn, &mut next_local, &built, &replaced)?;
        let (slots, live) = (self.view.slot_count, self.view.visible_count);
        self.commit(txn, rvf_format::Delta::default(), next_local, slots, live)?;
        self.install_graphs(&entries, &replaced);
        Ok(())
    }

    /// Appends INDEX_SEGs for `built` and the INDEX_MAP listing this file's graphs
    /// after the change, and points `next_local` at it. Returns the new entries.
    pub(crate) fn append_graphs(
        &mut self,
        txn: &mut Txn,
        next_local: &mut crate::local::LocalState,
        built: &[Built],
        replaced: &[GraphEntry],
    ) -> Result<Vec<GraphEntry>> {
        let writer = crate::commit::writer_of(&mut self.writer, &self.path)?;
        let mut entries = Vec::with_capacity(built.len());
        for b in built {
            let seg = writer.append_payload(
                SegmentType::Index,
                txn.seg_id(),
                txn.epoch,
                b.graph.bytes(),
            )?;
            entries.push(GraphEntry {
                segment: seg,
                first_slot: b.first_slot,
                nodes: b.nodes,
            });
        }
        let mut map: IndexMap = next_local.index.clone();
        map.graphs.retain(|g| !replaced.contains(g));
        map.graphs.extend(entries.iter().copied());
        map.graphs.sort_by_key(|g| g.first_slot);
        let map_ref = writer.append_segment(
            SegmentType::IndexMap,
            txn.seg_id(),
            txn.epoch,
            &map.encode(),
        )?;
        txn.dead_extra += replaced.iter().map(|g| g.segment.len).sum::<u64>()
            + self.local.manifest.index_root.len;
        next_local.index = map;
        next_local.manifest.index_root = map_ref;
        Ok(entries)
    }

    /// After the commit: the view searches the written graphs (from the file) instead of
    /// the in-memory ones and the replaced ones.
    pub(crate) fn install_graphs(&mut self, entries: &[GraphEntry], replaced: &[GraphEntry]) {
        self.view.graphs.retain(|g| {
            g.file != 0
                || !replaced
                    .iter()
                    .any(|r| r.first_slot == g.first_slot && r.nodes == g.nodes)
        });
        for e in entries {
            self.view.graphs.push(ViewGraph::mapped(0, e, true));
        }
    }

    /// Vectors of this file that no graph covers.
    pub(crate) fn own_pending(&self) -> u64 {
        let graphs = self.searched_graphs();
        own_pending_ranges(&self.view, &graphs)
            .iter()
            .map(|r| r.1 - r.0)
            .sum()
    }

    /// Whether `close` would bring the index up to date (enough of this file's vectors
    /// are pending): a caller can do it first with `build_index_with_progress`, to show
    /// progress or time it apart from the writes.
    pub fn close_would_build_index(&self) -> bool {
        self.index_writable() && self.own_pending() >= CLOSE_MIN
    }

    /// Whether this handle may write graphs: a writer on an unfrozen store, index on.
    fn index_writable(&self) -> bool {
        self.writer.is_some() && !self.local.manifest.frozen && self.local.index.settings.enabled
    }

    /// At `close` (and `freeze`): the index catches up when enough is pending, and
    /// what the background built is written.
    pub(crate) fn index_before_closing(&mut self) -> Result<()> {
        if !self.index_writable() {
            return Ok(());
        }
        self.background.join();
        if self.own_pending() >= CLOSE_MIN || self.background.has_ready() {
            self.build_index()?;
        }
        Ok(())
    }

    /// Starts a background build when enough of this file's vectors are pending.
    pub(crate) fn maybe_start_background(&mut self) {
        // A bulk load (`OnClose`) builds at close, over everything at once.
        let bulk = self.writer.as_ref().is_none_or(|w| {
            crate::store::lock_writer(w).durability == crate::options::Durability::OnClose
        });
        if !self.local.index.settings.enabled || self.background.is_running() || bulk {
            return;
        }
        let graphs = self.searched_graphs();
        let ranges = own_pending_ranges(&self.view, &graphs);
        let Some(&largest) = ranges.iter().max_by_key(|r| r.1 - r.0) else {
            return;
        };
        if largest.1 - largest.0 < BACKGROUND_MIN {
            return;
        }
        // One core for the build: the other keeps serving the caller.
        let job = BuildJob::new(&self.view, largest, self.local.index.settings, 1);
        self.background.start(job);
    }
}
