//! A model-based fuzzer of whole stores, shared by `tests/store_fuzz.rs` (bounded, in
//! `cargo test`) and the cargo-fuzz target `store_ops` (long runs).
//!
//! A *family* of stores — a root, its branches, their branches — takes a random
//! sequence of operations: ingest and upsert (one id, scattered ids, or contiguous ranges
//! of up to `Config::max_range` ids), delete (the same shapes), delete by filter,
//! membership mode / add / remove (ranges too), branch, freeze, compact, materialize,
//! reopen read-write or read-only, and a second read-only handle opened beside the
//! writer. Each store is mirrored by a brute-force [`Model`]; after every step the
//! store is checked against it: status, the id list, `get` of every visible id (and of
//! the ids the step touched), and exact queries with and without a filter, single and
//! batched. Operations the store must refuse (writes to frozen or read-only stores,
//! membership on a root, branches past depth 64, reopening a branch whose parent was
//! compacted away) are checked for the right error code.
#![allow(dead_code)]

#[path = "../common/mod.rs"]
pub mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{random_vector, sample_metadata, Model};
use rvf_runtime::options::{DistanceMetric, IndexOptions};
use rvf_runtime::{
    Durability, FilterExpr, MembershipMode, MetaValue, Metadata, OpenOptions, QueryOptions,
    RvfError, RvfOptions, RvfStore,
};

pub const DIM: usize = 4;

#[derive(Debug, Clone)]
pub struct Config {
    /// Longest contiguous id range one operation may touch.
    pub max_range: u64,
    /// Scattered and single ids are drawn below this.
    pub id_space: u64,
    /// Stores in a family (the root and its branches).
    pub max_nodes: usize,
    /// Operations per run.
    pub steps: usize,
    /// The stores' ANN index options. The fuzz target uses a small graph (m 4,
    /// ef_construction 16): a default build of 100,000 vectors takes minutes under the
    /// fuzzer's coverage instrumentation, and the graph's code paths are the same.
    pub index: IndexOptions,
}

/// Where the random choices come from: a seeded generator in tests, the fuzzer's
/// bytes in the fuzz target (a run ends when they do).
pub trait Source {
    fn next(&mut self) -> Option<u64>;

    fn below(&mut self, n: u64) -> Option<u64> {
        Some(self.next()? % n.max(1))
    }
}

pub struct Rng(pub u64);

impl Source for Rng {
    fn next(&mut self) -> Option<u64> {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Some(z ^ (z >> 31))
    }
}

pub struct Bytes<'a>(pub &'a [u8]);

impl Source for Bytes<'_> {
    fn next(&mut self) -> Option<u64> {
        // Two bytes per choice: enough to reach every id of a small id space.
        let (&hi, rest) = self.0.split_first()?;
        let (&lo, rest) = rest.split_first().unwrap_or((&0, rest));
        self.0 = rest;
        Some(u64::from(hi) << 8 | u64::from(lo))
    }
}

#[derive(Debug, Clone)]
pub enum Ids {
    One(u64),
    Scattered(Vec<u64>),
    /// `start, len`
    Range(u64, u64),
}

impl Ids {
    pub fn list(&self) -> Vec<u64> {
        match self {
            Ids::One(id) => vec![*id],
            Ids::Scattered(v) => v.clone(),
            Ids::Range(start, len) => (*start..start + len).collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Op {
    Ingest {
        node: usize,
        ids: Ids,
        version: u64,
    },
    Delete {
        node: usize,
        ids: Ids,
    },
    DeleteByFilter {
        node: usize,
        tag: i64,
    },
    Mode {
        node: usize,
        include: bool,
    },
    MembersAdd {
        node: usize,
        ids: Ids,
    },
    MembersRemove {
        node: usize,
        ids: Ids,
    },
    Branch {
        node: usize,
    },
    Freeze {
        node: usize,
    },
    Compact {
        node: usize,
    },
    Materialize {
        node: usize,
    },
    Reopen {
        node: usize,
        read_only: bool,
        on_close: bool,
    },
    PeekReadOnly {
        node: usize,
    },
    BuildIndex {
        node: usize,
    },
}

fn gen_ids(src: &mut dyn Source, cfg: &Config) -> Option<Ids> {
    Some(match src.below(8)? {
        0..=2 => Ids::One(src.below(cfg.id_space)?),
        3..=5 => {
            let n = 1 + src.below(24)?;
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(src.below(cfg.id_space)?);
            }
            Ids::Scattered(v)
        }
        6 => Ids::Range(src.below(cfg.id_space)?, 1 + src.below(400)?),
        // Long ranges, up to the configured maximum (a byte source reaches them by
        // scaling its byte, so the fuzzer gets there too).
        _ => {
            let start = src.below(cfg.id_space)?;
            let frac = src.below(256)?;
            Ids::Range(start, 1 + cfg.max_range * frac / 255)
        }
    })
}

pub fn gen_op(src: &mut dyn Source, cfg: &Config, nodes: usize) -> Option<Op> {
    let node = src.below(nodes as u64)? as usize;
    Some(match src.below(30)? {
        0..=8 => Op::Ingest {
            node,
            ids: gen_ids(src, cfg)?,
            version: 1 + src.below(1000)?,
        },
        9..=12 => Op::Delete {
            node,
            ids: gen_ids(src, cfg)?,
        },
        13 => Op::DeleteByFilter {
            node,
            tag: src.below(5)? as i64,
        },
        14 => Op::Mode {
            node,
            include: src.below(2)? == 1,
        },
        15..=16 => Op::MembersAdd {
            node,
            ids: gen_ids(src, cfg)?,
        },
        17 => Op::MembersRemove {
            node,
            ids: gen_ids(src, cfg)?,
        },
        18..=20 => Op::Branch { node },
        // A frozen store stays frozen, so freezing often would leave little to write to.
        21 if src.below(3)? == 0 => Op::Freeze { node },
        21 if src.below(2)? == 0 => Op::BuildIndex { node },
        21 => Op::PeekReadOnly { node },
        22 => Op::Compact { node },
        23 => Op::Materialize { node },
        24..=26 => Op::Reopen {
            node,
            read_only: src.below(4)? == 0,
            on_close: src.below(4)? == 0,
        },
        _ => Op::PeekReadOnly { node },
    })
}

/// One store of the family and its model.
struct Node {
    path: PathBuf,
    /// None once it failed to reopen (an ancestor's pinned generation is gone).
    store: Option<RvfStore>,
    model: Model,
    /// The model as of the last published commit (what another process sees).
    published: Model,
    parent: Option<usize>,
    depth: u16,
    frozen: bool,
    read_only: bool,
    on_close: bool,
    /// An ancestor was compacted or materialized: the generation this store pinned is
    /// gone, so it can no longer be opened (its open handle still works).
    broken: bool,
}

pub struct Family {
    dir: tempfile::TempDir,
    metric: DistanceMetric,
    nodes: Vec<Node>,
    cfg: Config,
    pub log: Vec<String>,
}

fn meta_for(id: u64, version: u64) -> Metadata {
    sample_metadata(id, version)
}

fn materialized(model: &Model) -> Model {
    let rows = model
        .rows
        .iter()
        .filter(|(id, _)| model.visible(**id))
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    Model {
        rows,
        ..Model::default()
    }
}

/// The error code `r` carries, or "ok".
fn code<T>(r: &Result<T, RvfError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

impl Family {
    pub fn new(metric: DistanceMetric, cluster_bytes: u32, cfg: Config) -> Family {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("n0.rvf");
        let store = RvfStore::create(
            &path,
            RvfOptions {
                dimension: DIM as u16,
                metric,
                cluster_bytes,
                index: Some(cfg.index),
                ..Default::default()
            },
        )
        .expect("create");
        let node = Node {
            path,
            store: Some(store),
            model: Model::default(),
            published: Model::default(),
            parent: None,
            depth: 0,
            frozen: false,
            read_only: false,
            on_close: false,
            broken: false,
        };
        Family {
            dir,
            metric,
            nodes: vec![node],
            cfg,
            log: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Runs up to `cfg.steps` operations drawn from `src`, checking after each.
    pub fn run(&mut self, src: &mut dyn Source) {
        for _ in 0..self.cfg.steps {
            let Some(op) = gen_op(src, &self.cfg, self.nodes.len()) else {
                return;
            };
            self.step(op);
        }
    }

    fn fail(&self, msg: String) -> ! {
        panic!(
            "{msg}\nmetric {:?}; operations so far:\n  {}",
            self.metric,
            self.log.join("\n  ")
        );
    }

    /// The code a write to `n` must fail with before it looks at its arguments.
    fn write_refusal(&self, n: usize) -> Option<&'static str> {
        let node = &self.nodes[n];
        if node.read_only {
            Some("RVF_E_READ_ONLY")
        } else if node.frozen {
            Some("RVF_E_FROZEN")
        } else {
            None
        }
    }

    fn expect(&self, what: &str, got: &'static str, want: &'static str) {
        if got != want {
            self.fail(format!("{what}: got {got}, expected {want}"));
        }
    }

    pub fn step(&mut self, op: Op) {
        self.log.push(format!("{op:?}").chars().take(160).collect());
        let n = match &op {
            Op::Ingest { node, .. }
            | Op::Delete { node, .. }
            | Op::DeleteByFilter { node, .. }
            | Op::Mode { node, .. }
            | Op::MembersAdd { node, .. }
            | Op::MembersRemove { node, .. }
            | Op::Branch { node }
            | Op::Freeze { node }
            | Op::Compact { node }
            | Op::Materialize { node }
            | Op::Reopen { node, .. }
            | Op::PeekReadOnly { node }
            | Op::BuildIndex { node } => *node,
        };
        if self.nodes[n].store.is_none() {
            // A store that could not reopen stays closed; reopening still must fail.
            if let Op::Reopen { .. } = op {
                self.reopen(n, false, false);
            }
            return;
        }
        let refusal = self.write_refusal(n);
        let mut touched: Vec<u64> = Vec::new();
        match op {
            Op::Ingest { ids, version, .. } => {
                let list = ids.list();
                touched = list.clone();
                let flat: Vec<f32> = list
                    .iter()
                    .flat_map(|&id| random_vector(id, version, DIM))
                    .collect();
                let metas: Vec<Metadata> = list.iter().map(|&id| meta_for(id, version)).collect();
                let r = self.store(n).ingest_flat(&flat, &list, Some(&metas));
                self.expect("ingest", code(&r), refusal.unwrap_or("ok"));
                if r.is_ok() {
                    let items: Vec<_> = list
                        .iter()
                        .map(|&id| {
                            (
                                id,
                                random_vector(id, version, DIM),
                                Some(meta_for(id, version)),
                            )
                        })
                        .collect();
                    self.nodes[n].model.ingest(&items);
                }
            }
            Op::Delete { ids, .. } => {
                let list = ids.list();
                touched = list.clone();
                let r = self.store(n).delete(&list);
                self.expect("delete", code(&r), refusal.unwrap_or("ok"));
                if let Ok(d) = r {
                    let model = &mut self.nodes[n].model;
                    let present: BTreeSet<u64> = list
                        .iter()
                        .copied()
                        .filter(|id| model.rows.contains_key(id))
                        .collect();
                    if d.deleted != present.len() as u64 {
                        self.fail(format!("delete removed {} of {}", d.deleted, present.len()));
                    }
                    self.nodes[n].model.delete(&list);
                }
            }
            Op::DeleteByFilter { tag, .. } => {
                let filter = FilterExpr::eq("tag", MetaValue::Int(tag));
                let r = self.store(n).delete_by_filter(&filter);
                self.expect("delete_by_filter", code(&r), refusal.unwrap_or("ok"));
                if r.is_ok() {
                    let model = &self.nodes[n].model;
                    let gone: Vec<u64> = model
                        .rows
                        .iter()
                        .filter(|(id, (_, m))| model.visible(**id) && filter.matches(m.as_ref()))
                        .map(|(id, _)| *id)
                        .collect();
                    self.nodes[n].model.delete(&gone);
                }
            }
            Op::Mode { include, .. } => {
                let mode = if include {
                    MembershipMode::Include
                } else {
                    MembershipMode::Exclude
                };
                let r = self.store(n).set_membership_mode(mode);
                self.expect("set_membership_mode", code(&r), self.membership_refusal(n));
                if r.is_ok() {
                    self.nodes[n].model.set_mode(mode);
                }
            }
            Op::MembersAdd { ids, .. } => {
                let list = ids.list();
                let r = self.store(n).membership_add(&list);
                self.expect("membership_add", code(&r), self.membership_refusal(n));
                if r.is_ok() {
                    self.nodes[n].model.members.extend(list);
                }
            }
            Op::MembersRemove { ids, .. } => {
                let list = ids.list();
                let r = self.store(n).membership_remove(&list);
                self.expect("membership_remove", code(&r), self.membership_refusal(n));
                if r.is_ok() {
                    for id in list {
                        self.nodes[n].model.members.remove(&id);
                    }
                }
            }
            Op::Branch { .. } => self.branch(n),
            Op::Freeze { .. } => {
                let r = self.store(n).freeze();
                self.expect("freeze", code(&r), refusal.unwrap_or("ok"));
                if r.is_ok() {
                    self.nodes[n].frozen = true;
                }
            }
            Op::Compact { .. } => self.rewrite(n, false, refusal),
            Op::Materialize { .. } => self.rewrite(n, true, refusal),
            Op::Reopen {
                read_only,
                on_close,
                ..
            } => self.reopen(n, read_only, on_close),
            Op::PeekReadOnly { .. } => self.peek(n),
            Op::BuildIndex { .. } => {
                let r = self.store(n).build_index();
                self.expect("build_index", code(&r), refusal.unwrap_or("ok"));
            }
        }
        let node = &mut self.nodes[n];
        if !node.on_close {
            node.published = node.model.clone();
        }
        self.check(n, &touched);
    }

    fn membership_refusal(&self, n: usize) -> &'static str {
        match self.write_refusal(n) {
            Some(code) => code,
            None if self.nodes[n].model.inherited.is_none() => "RVF_E_NOT_A_CHILD",
            None => "ok",
        }
    }

    fn store(&mut self, n: usize) -> &mut RvfStore {
        match self.nodes[n].store.as_mut() {
            Some(s) => s,
            None => panic!("node {n} is closed"),
        }
    }

    fn branch(&mut self, n: usize) {
        if self.nodes.len() >= self.cfg.max_nodes {
            return;
        }
        let path = self.dir.path().join(format!("n{}.rvf", self.nodes.len()));
        let depth = self.nodes[n].depth;
        let r = self.store(n).branch(&path);
        let want = if depth >= 64 {
            "RVF_E_LINEAGE_DEPTH"
        } else {
            "ok"
        };
        self.expect("branch", code(&r), want);
        let Ok(child) = r else { return };
        // Branching publishes the parent's held-back commits first.
        let parent = &mut self.nodes[n];
        parent.published = parent.model.clone();
        let model = parent.model.branch();
        let broken = parent.broken;
        let on_close = parent.on_close && !parent.read_only;
        self.nodes.push(Node {
            path,
            store: Some(child),
            published: model.clone(),
            model,
            parent: Some(n),
            depth: depth + 1,
            frozen: false,
            read_only: false,
            on_close,
            broken,
        });
        let c = self.nodes.len() - 1;
        self.check(c, &[]);
    }

    /// Compaction (or materialization) replaces the file: every descendant pinned a
    /// generation that no longer exists.
    fn rewrite(&mut self, n: usize, materialize: bool, refusal: Option<&'static str>) {
        let store = self.store(n);
        let r = if materialize {
            store.materialize()
        } else {
            store.compact()
        };
        let node = &self.nodes[n];
        // A compaction keeps the parent reference, and checks the new file by opening
        // it: that needs the pinned parent generation, which a broken store lost.
        let want = match refusal {
            Some(code) => code,
            None if node.broken && !materialize => "RVF_E_PARENT_MISMATCH",
            None => "ok",
        };
        self.expect(
            if materialize {
                "materialize"
            } else {
                "compact"
            },
            code(&r),
            want,
        );
        if r.is_err() {
            return;
        }
        let node = &mut self.nodes[n];
        if materialize {
            node.model = materialized(&node.model);
            node.parent = None;
            node.depth = 0;
            node.broken = false;
        }
        node.published = node.model.clone();
        self.break_descendants(n);
    }

    fn break_descendants(&mut self, n: usize) {
        let mut stack = vec![n];
        while let Some(p) = stack.pop() {
            for c in 0..self.nodes.len() {
                if self.nodes[c].parent == Some(p) && !self.nodes[c].broken {
                    self.nodes[c].broken = true;
                    stack.push(c);
                }
            }
        }
    }

    fn reopen(&mut self, n: usize, read_only: bool, on_close: bool) {
        if let Some(store) = self.nodes[n].store.take() {
            let r = store.close();
            self.expect("close", code(&r), "ok");
        }
        let node = &mut self.nodes[n];
        // What the file holds now: everything, since closing published it.
        node.published = node.model.clone();
        let options = OpenOptions {
            read_only,
            durability: if on_close {
                Durability::OnClose
            } else {
                Durability::EveryCommit
            },
            ..OpenOptions::default()
        };
        let r = RvfStore::open_with(&node.path, options);
        let broken = node.broken;
        let got = code(&r);
        if broken {
            if got != "RVF_E_PARENT_MISMATCH" && got != "RVF_E_PARENT_MISSING" {
                self.fail(format!("reopening a store whose parent is gone gave {got}"));
            }
            return;
        }
        self.expect("reopen", got, "ok");
        let node = &mut self.nodes[n];
        node.store = r.ok();
        node.read_only = read_only;
        node.on_close = on_close && !read_only;
    }

    /// A second, read-only handle beside the writer sees the last published commit.
    fn peek(&mut self, n: usize) {
        let node = &self.nodes[n];
        if node.broken {
            return;
        }
        let r = RvfStore::open_readonly(&node.path);
        let Ok(reader) = r else {
            self.fail(format!(
                "read-only open failed: {}",
                r.err().map(|e| e.to_string()).unwrap_or_default()
            ));
        };
        let published = node.published.clone();
        self.check_store(&reader, &published, &[], "second read-only handle");
    }

    fn check(&self, n: usize, touched: &[u64]) {
        let node = &self.nodes[n];
        let Some(store) = &node.store else { return };
        let status = store.status();
        if status.frozen != node.frozen || status.read_only != node.read_only {
            self.fail(format!(
                "node {n}: frozen {} read_only {}, expected {} {}",
                status.frozen, status.read_only, node.frozen, node.read_only
            ));
        }
        if store.lineage_depth() != node.depth {
            self.fail(format!("node {n}: lineage depth {}", store.lineage_depth()));
        }
        self.check_store(store, &node.model, touched, &format!("node {n}"));
    }

    fn check_store(&self, store: &RvfStore, model: &Model, touched: &[u64], label: &str) {
        let visible: Vec<u64> = model
            .rows
            .keys()
            .copied()
            .filter(|&id| model.visible(id))
            .collect();
        if store.len() != visible.len() as u64 {
            self.fail(format!(
                "{label}: {} vectors, expected {}",
                store.len(),
                visible.len()
            ));
        }
        match store.ids() {
            Ok(ids) if ids == visible => {}
            Ok(ids) => self.fail(format!(
                "{label}: id list differs ({} ids, expected {})",
                ids.len(),
                visible.len()
            )),
            Err(e) => self.fail(format!("{label}: ids(): {e}")),
        }
        for &id in visible.iter().chain(touched.iter().take(64)) {
            let got = store
                .get(id)
                .unwrap_or_else(|e| self.fail(format!("{label}: get {id}: {e}")));
            match (got, model.visible(id)) {
                (Some(rec), true) => {
                    let (v, m) = &model.rows[&id];
                    if &rec.vector != v || &rec.metadata != m {
                        self.fail(format!("{label}: get {id} returned other data"));
                    }
                }
                (None, false) => {}
                (got, _) => self.fail(format!("{label}: get {id} gave {:?}", got.map(|r| r.id))),
            }
        }
        let queries: Vec<Vec<f32>> = (0..2).map(|i| random_vector(7_777 + i, 3, DIM)).collect();
        let flat: Vec<f32> = queries.iter().flatten().copied().collect();
        for filter in [None, Some(FilterExpr::eq("tag", MetaValue::Int(1)))] {
            let options = QueryOptions {
                filter: filter.clone(),
                exact: true,
                ..QueryOptions::default()
            };
            // The indexed path: approximate, but only right answers, exactly scored.
            let approx = QueryOptions {
                exact: false,
                ..options.clone()
            };
            for q in &queries {
                let got = store
                    .query(q, 10, &approx)
                    .unwrap_or_else(|e| self.fail(format!("{label}: indexed query: {e}")));
                common::check_answers(store, model, self.metric, q, &got, filter.as_ref(), label);
            }
            let batch = store
                .query_batch_flat(&flat, 10, &options)
                .unwrap_or_else(|e| self.fail(format!("{label}: query_batch: {e}")));
            for (q, b) in queries.iter().zip(&batch) {
                let want = model.query(self.metric, q, 10, filter.as_ref());
                let single = store
                    .query(q, 10, &options)
                    .unwrap_or_else(|e| self.fail(format!("{label}: query: {e}")));
                let got: Vec<(u64, f32)> = single.iter().map(|r| (r.id, r.distance)).collect();
                let got_batch: Vec<(u64, f32)> = b.iter().map(|r| (r.id, r.distance)).collect();
                if got != want || got_batch != want {
                    self.fail(format!(
                        "{label}: query with filter {filter:?}: got {got:?} / batch {got_batch:?}, expected {want:?}"
                    ));
                }
            }
        }
    }

    /// Closes every store (publishing), reopens each that can be, and checks it.
    pub fn finish(mut self) {
        for n in 0..self.nodes.len() {
            if let Some(s) = self.nodes[n].store.take() {
                let r = s.close();
                self.expect("final close", code(&r), "ok");
            }
        }
        for n in 0..self.nodes.len() {
            if self.nodes[n].broken {
                continue;
            }
            let model = self.nodes[n].model.clone();
            let store = RvfStore::open_readonly(&self.nodes[n].path)
                .unwrap_or_else(|e| self.fail(format!("final open of node {n}: {e}")));
            self.check_store(&store, &model, &[], &format!("node {n} after final reopen"));
        }
    }
}
