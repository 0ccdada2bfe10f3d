//! Damaged files: random byte flips and truncations of real stores (a root store with
//! metadata, a branch, and the branch's parent), broken parent references, and forged
//! roots.
//!
//! Every attempt opens the damaged file read-only and as a writer, then gets every id,
//! runs queries, reads the status and (as a writer) ingests. Each call must return `Ok`
//! with exactly the undamaged store's answer, or an error with a stable code; a panic is
//! a failure. The only other `Ok` accepted is the store's previous generation, and only
//! when the damage hit the bytes of the newest root slot (a damaged newest root cannot be
//! told from a torn one, so the store falls back to the older root).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use rvf_format::{
    choose_root, encode_segment, manifest_hash, read_segment, Manifest, RootSlot, SegmentHeader,
    SegmentType,
};
use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{
    FilterExpr, MembershipFilter, MembershipMode, MetaValue, Metadata, OpenOptions, QueryOptions,
    RvfError, RvfOptions, RvfStore, SearchResult, StoreStatus,
};
use tempfile::TempDir;

const DIM: usize = 8;
const SLOT_REGION: usize = 512;
const SLOT_LEN: usize = 128;
const ITERATIONS: u64 = 500;

/// Every code `RvfError::code` can return (crates/rvf-runtime/src/error.rs).
const STABLE_CODES: [&str; 18] = [
    "RVF_E_IO",
    "RVF_E_CORRUPT",
    "RVF_E_TRUNCATED",
    "RVF_E_INTERNAL",
    "RVF_E_INCOMPATIBLE",
    "RVF_E_NOT_A_STORE",
    "RVF_E_EXISTS",
    "RVF_E_NOT_FOUND",
    "RVF_E_LOCKED",
    "RVF_E_INVALID_ARGUMENT",
    "RVF_E_DIMENSION",
    "RVF_E_FROZEN",
    "RVF_E_READ_ONLY",
    "RVF_E_POISONED",
    "RVF_E_NOT_A_CHILD",
    "RVF_E_PARENT_MISSING",
    "RVF_E_PARENT_MISMATCH",
    "RVF_E_LINEAGE_DEPTH",
];

/// Codes a damaged file may produce when opened.
const OPEN_CODES: [&str; 6] = [
    "RVF_E_CORRUPT",
    "RVF_E_TRUNCATED",
    "RVF_E_NOT_A_STORE",
    "RVF_E_INCOMPATIBLE",
    "RVF_E_PARENT_MISSING",
    "RVF_E_PARENT_MISMATCH",
];
/// Codes a store opened from a damaged file may produce afterwards (lazily checked data).
const USE_CODES: [&str; 1] = ["RVF_E_CORRUPT"];

// ---------------------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------------------

fn vector(id: u64, version: u64) -> Vec<f32> {
    common::random_vector(id, version, DIM)
}

fn metadata(id: u64, version: u64) -> Metadata {
    common::sample_metadata(id, version)
}

fn ingest(store: &mut RvfStore, ids: &[u64], version: u64) {
    let vecs: Vec<Vec<f32>> = ids.iter().map(|&i| vector(i, version)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(Vec::as_slice).collect();
    let metas: Vec<Metadata> = ids.iter().map(|&i| metadata(i, version)).collect();
    let r = store.ingest_batch(&refs, ids, Some(&metas)).unwrap();
    assert_eq!(r.rejected, 0);
}

fn range(r: Range<u64>) -> Vec<u64> {
    r.collect()
}

fn opts(metric: DistanceMetric) -> RvfOptions {
    RvfOptions {
        dimension: DIM as u16,
        metric,
        cluster_bytes: 512,
        ..Default::default()
    }
}

/// Deterministic pseudo-random numbers (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------
// Expected answers
// ---------------------------------------------------------------------------------------

/// The ids to get and the queries to run on every store.
struct Probe {
    universe: Vec<u64>,
    queries: Vec<(Vec<f32>, usize, Option<FilterExpr>)>,
}

impl Probe {
    fn new(ids: impl IntoIterator<Item = u64>) -> Probe {
        let mut universe: BTreeSet<u64> = ids.into_iter().collect();
        universe.extend([900, 901, 1 << 40, u64::MAX]);
        let all = universe.len() + 4;
        Probe {
            universe: universe.into_iter().collect(),
            queries: vec![
                (vector(10_001, 0), all, None),
                (
                    vector(10_002, 0),
                    6,
                    Some(FilterExpr::Or(vec![
                        FilterExpr::eq("tag", MetaValue::Int(2)),
                        FilterExpr::eq("fresh", MetaValue::Bool(true)),
                    ])),
                ),
                (vec![0.0; DIM], all, None),
            ],
        }
    }
}

type Record = Option<(Vec<u32>, Option<Metadata>)>;

/// The undamaged answers of one store.
#[derive(Debug, Clone, PartialEq)]
struct Answers {
    status: StoreStatus,
    ids: Vec<u64>,
    records: Vec<Record>,
    results: Vec<Vec<(u64, u32)>>,
    batch: Vec<Vec<(u64, u32)>>,
    membership: Option<MembershipFilter>,
}

fn pairs(r: &[SearchResult]) -> Vec<(u64, u32)> {
    r.iter().map(|r| (r.id, r.distance.to_bits())).collect()
}

fn record(r: rvf_runtime::VectorRecord) -> (Vec<u32>, Option<Metadata>) {
    (r.vector.iter().map(|x| x.to_bits()).collect(), r.metadata)
}

fn batch_queries(probe: &Probe) -> Vec<&[f32]> {
    probe
        .queries
        .iter()
        .filter(|q| q.2.is_none())
        .map(|q| q.0.as_slice())
        .collect()
}

fn batch_options() -> QueryOptions {
    QueryOptions {
        threads: 1,
        ..Default::default()
    }
}

/// Answers of an undamaged store (every call must succeed).
fn answers(s: &RvfStore, probe: &Probe) -> Answers {
    let mut status = s.status();
    status.read_only = false;
    Answers {
        status,
        ids: s.ids().unwrap(),
        records: probe
            .universe
            .iter()
            .map(|&id| s.get(id).unwrap().map(record))
            .collect(),
        results: probe
            .queries
            .iter()
            .map(|(q, k, f)| {
                let o = QueryOptions {
                    filter: f.clone(),
                    ..Default::default()
                };
                pairs(&s.query(q, *k, &o).unwrap())
            })
            .collect(),
        batch: s
            .query_batch(&batch_queries(probe), 5, &batch_options())
            .unwrap()
            .iter()
            .map(|r| pairs(r))
            .collect(),
        membership: s.membership_filter().cloned(),
    }
}

/// Runs a library call, turning a panic into a failure message.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("PANIC in {what}: {msg}")
    })
}

/// An error is acceptable when its code is stable and in `allowed`, and its message is
/// not empty.
fn check_error(e: &RvfError, allowed: &[&str], what: &str) -> Result<(), String> {
    let code = e.code();
    if !STABLE_CODES.contains(&code) {
        return Err(format!("{what}: unknown error code {code}: {e}"));
    }
    if !allowed.contains(&code) {
        return Err(format!("{what}: unexpected error {code}: {e}"));
    }
    if e.to_string().is_empty() {
        return Err(format!("{what}: empty error message"));
    }
    Ok(())
}

/// Tallies of what the attempts saw, to show the tests exercise both outcomes.
#[derive(Default, Debug)]
struct Tally {
    open_ok: u64,
    open_err: u64,
    older_generation: u64,
    use_err: u64,
    codes: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn err(&mut self, e: &RvfError) {
        *self.codes.entry(e.code()).or_default() += 1;
    }
}

/// Every call on an opened (possibly damaged) store: each answer must equal `want` or
/// be an error with an allowed code.
fn check_store(
    s: &RvfStore,
    want: &Answers,
    probe: &Probe,
    what: &str,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut status = guarded(&format!("{what}: status"), || s.status())?;
    status.read_only = false;
    if status != want.status {
        return Err(format!(
            "{what}: status {status:?} != undamaged {:?}",
            want.status
        ));
    }
    match guarded(&format!("{what}: ids"), || s.ids())? {
        Ok(ids) => {
            if ids != want.ids {
                return Err(format!("{what}: ids differ from the undamaged store"));
            }
        }
        Err(e) => {
            tally.use_err += 1;
            tally.err(&e);
            check_error(&e, &USE_CODES, &format!("{what}: ids"))?;
        }
    }
    let membership = guarded(&format!("{what}: membership"), || {
        s.membership_filter().cloned()
    })?;
    if membership != want.membership {
        return Err(format!("{what}: membership filter differs"));
    }
    for (&id, w) in probe.universe.iter().zip(&want.records) {
        match guarded(&format!("{what}: get({id})"), || s.get(id))? {
            Ok(r) => {
                if r.as_ref().is_some_and(|r| r.id != id) {
                    return Err(format!("{what}: get({id}) returned another id"));
                }
                if r.map(record) != *w {
                    return Err(format!(
                        "{what}: get({id}) differs from the undamaged store"
                    ));
                }
            }
            Err(e) => {
                tally.use_err += 1;
                tally.err(&e);
                check_error(&e, &USE_CODES, &format!("{what}: get({id})"))?;
            }
        }
    }
    for ((q, k, f), w) in probe.queries.iter().zip(&want.results) {
        let o = QueryOptions {
            filter: f.clone(),
            ..Default::default()
        };
        match guarded(&format!("{what}: query"), || s.query(q, *k, &o))? {
            Ok(r) => {
                if pairs(&r) != *w {
                    return Err(format!(
                        "{what}: query (k {k}, filter {f:?}) differs: {:?} != {w:?}",
                        pairs(&r)
                    ));
                }
            }
            Err(e) => {
                tally.use_err += 1;
                tally.err(&e);
                check_error(&e, &USE_CODES, &format!("{what}: query"))?;
            }
        }
    }
    let qs = batch_queries(probe);
    match guarded(&format!("{what}: query_batch"), || {
        s.query_batch(&qs, 5, &batch_options())
    })? {
        Ok(r) => {
            let got: Vec<_> = r.iter().map(|r| pairs(r)).collect();
            if got != want.batch {
                return Err(format!("{what}: query_batch differs"));
            }
        }
        Err(e) => {
            tally.use_err += 1;
            tally.err(&e);
            check_error(&e, &USE_CODES, &format!("{what}: query_batch"))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// Answers of one generation, before and after the ingest every attempt makes.
#[derive(Clone)]
struct Generation {
    before: Answers,
    after_ingest: Answers,
}

/// The batch every writer attempt ingests: two new ids and an upsert.
const EXTRA: [u64; 3] = [900, 901, 5];

fn ingest_extra(s: &mut RvfStore) -> rvf_runtime::Result<rvf_runtime::IngestResult> {
    let vecs: Vec<Vec<f32>> = EXTRA.iter().map(|&i| vector(i, 77)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(Vec::as_slice).collect();
    let metas: Vec<Metadata> = EXTRA.iter().map(|&i| metadata(i, 77)).collect();
    s.ingest_batch(&refs, &EXTRA, Some(&metas))
}

/// A set of files on disk (a store and its ancestors), one of which gets damaged.
struct Fixture {
    _tmp: TempDir,
    dir: PathBuf,
    /// Every file of the fixture with its undamaged bytes.
    files: Vec<(PathBuf, Vec<u8>)>,
    /// Index in `files` of the file that is damaged.
    victim: usize,
    /// The store that is opened (the victim itself, or a branch of it).
    store: PathBuf,
    probe: Probe,
    current: Generation,
    /// The generation the store falls back to when its newest root slot is damaged
    /// (only when the victim is the opened store).
    previous: Option<Generation>,
}

fn lab() -> (TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("rvf-damage-")
        .tempdir_in("/dev/shm")
        .or_else(|_| TempDir::new())
        .unwrap();
    let dir = tmp.path().to_path_buf();
    (tmp, dir)
}

impl Fixture {
    fn restore(&self) {
        for (p, bytes) in &self.files {
            fs::write(p, bytes).unwrap();
        }
    }

    fn victim_bytes(&self) -> &[u8] {
        &self.files[self.victim].1
    }

    fn victim_path(&self) -> &Path {
        &self.files[self.victim].0
    }

    /// Byte range of the victim's newest root slot.
    fn newest_root_slot(&self) -> Range<usize> {
        let b = self.victim_bytes();
        let root = choose_root(&b[..SLOT_LEN], &b[SLOT_REGION..SLOT_REGION + SLOT_LEN]).unwrap();
        let at = root.slot_index as usize * SLOT_REGION;
        at..at + SLOT_LEN
    }

    /// Answers of the store as it is on disk now, then after the attempt's ingest.
    fn generation_on_disk(&self) -> Generation {
        let mut s = RvfStore::open(&self.store).unwrap();
        let before = answers(&s, &self.probe);
        ingest_extra(&mut s).unwrap();
        let after_ingest = answers(&s, &self.probe);
        Generation {
            before,
            after_ingest,
        }
    }

    /// Finishes a fixture whose files are in place: records their bytes and the answers
    /// of the current and (when the victim is the store) the previous generation.
    fn new(
        tmp: TempDir,
        dir: PathBuf,
        names: &[&str],
        victim: &str,
        store: &str,
        probe: Probe,
    ) -> Fixture {
        let files: Vec<(PathBuf, Vec<u8>)> = names
            .iter()
            .map(|n| {
                let p = dir.join(n);
                let b = fs::read(&p).unwrap();
                (p, b)
            })
            .collect();
        let victim = names.iter().position(|n| *n == victim).unwrap();
        let store = dir.join(store);
        let mut fx = Fixture {
            _tmp: tmp,
            dir,
            files,
            victim,
            store,
            probe,
            current: Generation {
                before: answers_placeholder(),
                after_ingest: answers_placeholder(),
            },
            previous: None,
        };
        fx.current = fx.generation_on_disk();
        fx.restore();
        if fx.victim_path() == fx.store {
            let mut older = fx.victim_bytes().to_vec();
            older[fx.newest_root_slot()].fill(0);
            fs::write(fx.victim_path(), &older).unwrap();
            let prev = fx.generation_on_disk();
            assert_eq!(
                prev.before.status.epoch + 1,
                fx.current.before.status.epoch,
                "the previous root names the previous commit"
            );
            assert_ne!(prev.before, fx.current.before);
            fx.previous = Some(prev);
            fx.restore();
        }
        fx
    }
}

fn answers_placeholder() -> Answers {
    Answers {
        status: StoreStatus {
            total_vectors: 0,
            file_size: 0,
            dimension: 0,
            metric: DistanceMetric::L2,
            epoch: 0,
            segment_count: 0,
            dead_bytes: 0,
            read_only: false,
            frozen: false,
            lineage_depth: 0,
            journal_commits: 0,
            checkpoint_bytes: 0,
        },
        ids: Vec::new(),
        records: Vec::new(),
        results: Vec::new(),
        batch: Vec::new(),
        membership: None,
    }
}

/// A root store with metadata and a history: ingests, an upsert, deletes.
fn root_fixture() -> Fixture {
    let (tmp, dir) = lab();
    let mut s = RvfStore::create(&dir.join("r.rvf"), opts(DistanceMetric::Cosine)).unwrap();
    ingest(&mut s, &range(0..40), 0);
    ingest(&mut s, &range(40..64), 0);
    ingest(&mut s, &[3, 4, 30, 50], 1);
    s.delete(&[7, 8, 41]).unwrap();
    ingest(&mut s, &range(64..72), 2);
    drop(s);
    Fixture::new(
        tmp,
        dir,
        &["r.rvf"],
        "r.rvf",
        "r.rvf",
        Probe::new(range(0..72)),
    )
}

/// A root store whose newest commit wrote a checkpoint holding scattered deletes, so its
/// file ends with an ID_INDEX that skips dead slots, a DEAD_BITMAP and the manifest.
fn checkpoint_fixture() -> Fixture {
    let (tmp, dir) = lab();
    let mut s = RvfStore::create(&dir.join("k.rvf"), opts(DistanceMetric::L2)).unwrap();
    for b in 0..12u64 {
        ingest(&mut s, &range(b * 10..b * 10 + 10), 0);
    }
    let scattered: Vec<u64> = (0..120).step_by(3).collect();
    s.delete(&scattered).unwrap();
    // Small commits (each run counts a page of open cost) until one checkpoints.
    let mut next = 120;
    while s.status().journal_commits > 0 {
        ingest(&mut s, &[next], 1);
        next += 1;
    }
    drop(s);
    let bytes = fs::read(dir.join("k.rvf")).unwrap();
    let types: Vec<SegmentType> = segment_offsets(&bytes)
        .iter()
        .map(|(_, h)| h.seg_type)
        .collect();
    assert!(
        types.ends_with(&[
            SegmentType::CowMap,
            SegmentType::IdIndex,
            SegmentType::DeadBitmap,
            SegmentType::Manifest
        ]),
        "the newest commit is a checkpoint with a bitmap dead set: {:?}",
        &types[types.len().saturating_sub(6)..]
    );
    Fixture::new(
        tmp,
        dir,
        &["k.rvf"],
        "k.rvf",
        "k.rvf",
        Probe::new(range(0..next)),
    )
}

/// A parent and its branch: the branch has its own vectors, a copied cluster, deletes of
/// inherited and own ids, and an include-mode membership filter; the parent moved on
/// after the branch. `victim` is "p.rvf" or "c.rvf".
fn branch_fixture(victim: &str) -> Fixture {
    let (tmp, dir) = lab();
    let mut p = RvfStore::create(&dir.join("p.rvf"), opts(DistanceMetric::L2)).unwrap();
    ingest(&mut p, &range(0..48), 0);
    ingest(&mut p, &range(48..64), 0);
    p.delete(&[2, 3]).unwrap();
    let mut c = p.branch(&dir.join("c.rvf")).unwrap();
    ingest(&mut p, &range(100..110), 1);
    p.delete(&[0, 1]).unwrap();
    drop(p);
    ingest(&mut c, &range(500..510), 1);
    // Replacing 10 of the 16 vectors of slots 16..32 copies that cluster.
    ingest(&mut c, &range(16..26), 2);
    c.delete(&[4, 5, 501]).unwrap();
    c.set_membership_mode(MembershipMode::Include).unwrap();
    c.membership_add(&range(0..40)).unwrap();
    c.membership_remove(&[6, 7]).unwrap();
    // Membership deltas of far-apart ids grow the journal past 64 KiB, so the branch
    // holds a checkpoint (run table, dead set, filter) with a journal after it.
    let far: Vec<u64> = (1..=1000u64).map(|i| (i << 50) | i).collect();
    for round in 0.. {
        assert!(round < 40, "no checkpoint");
        if round % 2 == 0 {
            c.membership_add(&far).unwrap();
        } else {
            c.membership_remove(&far).unwrap();
            if manifest_of(&fs::read(c.path()).unwrap()).journal_count <= 1 {
                break;
            }
        }
    }
    ingest(&mut c, &[505, 506, 10, 50], 3);
    assert!(c.cow_stats().unwrap().local_cluster_count >= 2);
    drop(c);
    let m = manifest_of(&fs::read(dir.join("c.rvf")).unwrap());
    assert!(!m.checkpoint_cow_map.is_none() && !m.checkpoint_dead_set.is_none());
    assert!(!m.checkpoint_membership.is_none() && m.journal_count >= 1);
    let ids = range(0..64)
        .into_iter()
        .chain(100..110)
        .chain(500..510)
        .collect::<Vec<_>>();
    Fixture::new(
        tmp,
        dir,
        &["p.rvf", "c.rvf"],
        victim,
        "c.rvf",
        Probe::new(ids),
    )
}

// ---------------------------------------------------------------------------------------
// Attempts
// ---------------------------------------------------------------------------------------

/// Writes `damaged` in place of the victim, then opens the store read-only and as a
/// writer and checks every call. `root_hit`: the damage touched the newest root slot.
fn attempt(
    fx: &Fixture,
    damaged: &[u8],
    root_hit: bool,
    what: &str,
    tally: &mut Tally,
    options: &OpenOptions,
) -> Result<(), String> {
    fx.restore();
    fs::write(fx.victim_path(), damaged).unwrap();
    let pick = |s: &RvfStore, writer: bool| -> Result<&Generation, String> {
        let epoch = s.epoch();
        if epoch == fx.current.before.status.epoch {
            return Ok(&fx.current);
        }
        match &fx.previous {
            Some(p) if root_hit && epoch == p.before.status.epoch => Ok(p),
            _ => Err(format!(
                "{what}: opened (writer: {writer}) at epoch {epoch}, not the undamaged epoch {}",
                fx.current.before.status.epoch
            )),
        }
    };
    let mut ro = options.clone();
    ro.read_only = true;
    match guarded(&format!("{what}: read-only open"), || {
        RvfStore::open_with(&fx.store, ro)
    })? {
        Ok(s) => {
            tally.open_ok += 1;
            let g = pick(&s, false)?;
            if !std::ptr::eq(g, &fx.current) {
                tally.older_generation += 1;
            }
            check_store(
                &s,
                &g.before,
                &fx.probe,
                &format!("{what} (read-only)"),
                tally,
            )?;
        }
        Err(e) => {
            tally.open_err += 1;
            tally.err(&e);
            check_error(&e, &OPEN_CODES, &format!("{what}: read-only open"))?;
        }
    }
    let mut w = options.clone();
    w.read_only = false;
    let mut s = match guarded(&format!("{what}: writer open"), || {
        RvfStore::open_with(&fx.store, w)
    })? {
        Ok(s) => s,
        Err(e) => {
            tally.open_err += 1;
            tally.err(&e);
            return check_error(&e, &OPEN_CODES, &format!("{what}: writer open"));
        }
    };
    tally.open_ok += 1;
    let g = pick(&s, true)?;
    check_store(&s, &g.before, &fx.probe, &format!("{what} (writer)"), tally)?;
    match guarded(&format!("{what}: ingest"), || ingest_extra(&mut s))? {
        Ok(r) => {
            if r.accepted != EXTRA.len() as u64 {
                return Err(format!("{what}: ingest accepted {}", r.accepted));
            }
            check_store(
                &s,
                &g.after_ingest,
                &fx.probe,
                &format!("{what} (after ingest)"),
                tally,
            )?;
            drop(s);
            // The damaged file with the new commit on top reopens to the same answers.
            match guarded(&format!("{what}: reopen after ingest"), || {
                RvfStore::open_readonly(&fx.store)
            })? {
                Ok(s) => check_store(
                    &s,
                    &g.after_ingest,
                    &fx.probe,
                    &format!("{what} (reopened after ingest)"),
                    tally,
                )?,
                Err(e) => {
                    tally.err(&e);
                    check_error(&e, &OPEN_CODES, &format!("{what}: reopen after ingest"))?
                }
            }
        }
        Err(e) => {
            tally.use_err += 1;
            tally.err(&e);
            check_error(&e, &USE_CODES, &format!("{what}: ingest"))?;
        }
    }
    Ok(())
}

/// Offsets of the segments in the committed part of `bytes`.
fn segment_offsets(bytes: &[u8]) -> Vec<(usize, SegmentHeader)> {
    let mut out = Vec::new();
    let mut off = 2 * SLOT_REGION;
    while off < bytes.len() {
        let h = SegmentHeader::decode(&bytes[off..]).unwrap();
        out.push((off, h));
        off += h.total_len() as usize;
    }
    assert_eq!(off, bytes.len());
    out
}

/// Damages a copy of `bytes` at positions chosen by `rng`; returns the damaged bytes and
/// a description of the damage.
fn damage(bytes: &[u8], rng: &mut Rng) -> (Vec<u8>, Vec<usize>, String) {
    let mut out = bytes.to_vec();
    let segs = segment_offsets(bytes);
    let len = bytes.len();
    // Where: anywhere, a root slot, the newest segments, or a segment header.
    let base = match rng.below(4) {
        0 => rng.below(len),
        1 => rng.below(2) * SLOT_REGION + rng.below(SLOT_LEN),
        2 => len - 1 - rng.below(len.min(1024)),
        _ => segs[rng.below(segs.len())].0 + rng.below(64),
    };
    let mut touched = Vec::new();
    let kind = rng.below(4);
    match kind {
        0 => {
            let bit = rng.below(8);
            out[base] ^= 1 << bit;
            touched.push(base);
        }
        1 => {
            out[base] = out[base].wrapping_add(1 + rng.below(255) as u8);
            touched.push(base);
        }
        2 => {
            for _ in 0..1 + rng.below(4) {
                let p = (base + rng.below(16)).min(len - 1);
                out[p] ^= 1 + rng.below(255) as u8;
                touched.push(p);
            }
        }
        _ => {
            let end = (base + 1 + rng.below(64)).min(len);
            for (p, b) in out.iter_mut().enumerate().take(end).skip(base) {
                *b = 0;
                touched.push(p);
            }
        }
    }
    let desc = format!("damage kind {kind} at {base} (bytes {touched:?})");
    (out, touched, desc)
}

fn random_flips(fx: &Fixture, seed: u64, name: &str) {
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let slot = fx.newest_root_slot();
    let mut unchanged = 0;
    for i in 0..ITERATIONS {
        let (damaged, touched, desc) = damage(fx.victim_bytes(), &mut rng);
        if damaged == fx.victim_bytes() {
            unchanged += 1;
        }
        let root_hit = touched.iter().any(|p| slot.contains(p));
        let what = format!("{name} seed {seed:#x} attempt {i}: {desc}");
        if let Err(f) = attempt(
            fx,
            &damaged,
            root_hit,
            &what,
            &mut tally,
            &OpenOptions::default(),
        ) {
            failures.push(f);
        }
    }
    fx.restore();
    eprintln!("{name}: {tally:?}");
    assert!(
        failures.is_empty(),
        "{} of {ITERATIONS} attempts failed:\n{}",
        failures.len(),
        failures[..failures.len().min(15)].join("\n")
    );
    assert!(unchanged < ITERATIONS / 4, "most attempts damage the file");
    assert!(tally.open_err > 0, "some damage is detected at open");
    assert!(
        tally.open_ok > 0,
        "some damage is harmless or detected later"
    );
}

// ---------------------------------------------------------------------------------------
// Random damage
// ---------------------------------------------------------------------------------------

#[test]
fn random_flips_in_a_root_store() {
    let fx = root_fixture();
    random_flips(&fx, 0x5EED_0001, "root store");
}

#[test]
fn random_flips_in_a_checkpointed_store() {
    let fx = checkpoint_fixture();
    random_flips(&fx, 0x5EED_0004, "checkpointed store");
}

#[test]
fn random_flips_in_a_branch() {
    let fx = branch_fixture("c.rvf");
    random_flips(&fx, 0x5EED_0002, "branch");
}

#[test]
fn random_flips_in_a_parent_read_through_its_branch() {
    let fx = branch_fixture("p.rvf");
    random_flips(&fx, 0x5EED_0003, "parent");
}

/// Flips inside the vectors of a run are only found when the run is read: the store
/// opens, and every call touching those vectors fails while the others still answer.
#[test]
fn damaged_vectors_fail_the_calls_that_read_them() {
    let fx = root_fixture();
    let bytes = fx.victim_bytes();
    let (off, h) = segment_offsets(bytes)
        .into_iter()
        .find(|(_, h)| h.seg_type == SegmentType::Vec)
        .unwrap();
    let mut tally = Tally::default();
    let mut damaged = bytes.to_vec();
    damaged[off + 64 + 64 + 5] ^= 0x40;
    assert!(h.payload_len > 70);
    attempt(
        &fx,
        &damaged,
        false,
        "flip in the first VEC_SEG payload",
        &mut tally,
        &OpenOptions::default(),
    )
    .unwrap();
    assert_eq!(tally.open_err, 0, "vectors are checked lazily: {tally:?}");
    assert!(
        tally.codes.get("RVF_E_CORRUPT").copied().unwrap_or(0) > 0,
        "reading the damaged run fails: {tally:?}"
    );
    fx.restore();
    let s = RvfStore::open_readonly(&fx.store).unwrap();
    fs::write(fx.victim_path(), &damaged).unwrap();
    drop(s);
    let s = RvfStore::open_readonly(&fx.store).unwrap();
    let e = s.get(0).unwrap_err();
    assert_eq!(e.code(), "RVF_E_CORRUPT");
    assert!(e.to_string().contains("r.rvf"), "{e}");
    assert!(s.get(50).unwrap().is_some(), "other runs still answer");
    fx.restore();
}

// ---------------------------------------------------------------------------------------
// Truncation and extension
// ---------------------------------------------------------------------------------------

fn truncation_points(bytes: &[u8]) -> Vec<usize> {
    let mut set: BTreeSet<usize> = [0, 1, 8, 127, 128, 511, 512, 600, 640, 1023, 1024].into();
    for (off, h) in segment_offsets(bytes) {
        let end = off + h.total_len() as usize;
        set.extend([off + 1, off + 63, off + 64, off + 65, end - 1, end]);
    }
    set.into_iter().filter(|&c| c < bytes.len()).collect()
}

/// Cuts the victim at every interesting length. A cut store never opens; a branch
/// whose parent is cut opens (with the right answers, which `attempt` checks) exactly
/// when the cut keeps the parent generation it pinned, which ends at `pinned_end`.
fn truncations(fx: &Fixture, name: &str, pinned_end: Option<usize>) {
    let mut tally = Tally::default();
    let bytes = fx.victim_bytes();
    for cut in truncation_points(bytes) {
        let what = format!("{name} cut to {cut} of {} bytes", bytes.len());
        let opened_before = tally.open_ok;
        attempt(
            fx,
            &bytes[..cut],
            false,
            &what,
            &mut tally,
            &OpenOptions::default(),
        )
        .unwrap_or_else(|f| panic!("{f}"));
        let opened = tally.open_ok > opened_before;
        let may_open = pinned_end.is_some_and(|end| cut >= end);
        assert_eq!(opened, may_open, "{what}: opened {opened}: {tally:?}");
    }
    // Bytes after the committed end are an interrupted commit's tail: ignored by
    // readers, dropped by writers.
    let mut longer = bytes.to_vec();
    longer.extend((0..777u32).map(|i| (i * 31 % 251) as u8));
    let mut tally = Tally::default();
    attempt(
        fx,
        &longer,
        false,
        &format!("{name} with a garbage tail"),
        &mut tally,
        &OpenOptions::default(),
    )
    .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(tally.open_ok, 2, "{name}: {tally:?}");
    fx.restore();
}

#[test]
fn truncated_root_store() {
    truncations(&root_fixture(), "root store", None);
}

#[test]
fn truncated_checkpointed_store() {
    truncations(&checkpoint_fixture(), "checkpointed store", None);
}

#[test]
fn truncated_branch() {
    truncations(&branch_fixture("c.rvf"), "branch", None);
}

#[test]
fn truncated_parent() {
    let fx = branch_fixture("p.rvf");
    let child = manifest_of(&fs::read(&fx.store).unwrap());
    let pinned = child.parent.as_ref().unwrap().manifest;
    truncations(&fx, "parent", Some((pinned.offset + pinned.len) as usize));
    // A parent cut short is not a usable parent: the branch reports it missing.
    let bytes = fx.victim_bytes();
    fs::write(fx.victim_path(), &bytes[..bytes.len() / 2]).unwrap();
    let e = RvfStore::open_readonly(&fx.store).unwrap_err();
    assert!(
        ["RVF_E_PARENT_MISSING", "RVF_E_PARENT_MISMATCH"].contains(&e.code()),
        "{e}"
    );
    fx.restore();
}

#[test]
fn files_that_are_not_stores() {
    let (_tmp, dir) = lab();
    let p = dir.join("x.rvf");
    let mut rng = Rng(0xABCD);
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0; 100],
        vec![0; 4096],
        vec![0xFF; 4096],
        (0..5000).map(|_| rng.next() as u8).collect(),
        b"RVFROOT\0 but nothing else".to_vec(),
    ];
    for (i, bytes) in cases.iter().enumerate() {
        fs::write(&p, bytes).unwrap();
        for ro in [true, false] {
            let r = guarded("open", || {
                if ro {
                    RvfStore::open_readonly(&p)
                } else {
                    RvfStore::open(&p)
                }
            })
            .unwrap_or_else(|f| panic!("case {i}: {f}"));
            let e = r.err().unwrap_or_else(|| panic!("case {i} opened"));
            assert_eq!(e.code(), "RVF_E_NOT_A_STORE", "case {i}: {e}");
            assert!(e.to_string().contains("x.rvf"), "{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Forged roots and manifests (valid checksums, wrong content)
// ---------------------------------------------------------------------------------------

fn manifest_of(bytes: &[u8]) -> Manifest {
    let root = newest_root(bytes);
    let (_, p) = read_segment(bytes, root.manifest_offset, SegmentType::Manifest, true).unwrap();
    Manifest::decode(p).unwrap()
}

fn newest_root(bytes: &[u8]) -> RootSlot {
    choose_root(
        &bytes[..SLOT_LEN],
        &bytes[SLOT_REGION..SLOT_REGION + SLOT_LEN],
    )
    .unwrap()
}

/// `bytes` with its newest root slot replaced by `root` (re-encoded, so valid).
fn with_root(bytes: &[u8], root: &RootSlot) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = root.slot_index as usize * SLOT_REGION;
    out[at..at + SLOT_LEN].copy_from_slice(&root.encode());
    out
}

/// Rewrites the newest manifest in place with `edit` applied (same encoded length),
/// with valid checksums and a root that names its new hash.
fn forge_manifest(bytes: &[u8], edit: impl FnOnce(&mut Manifest)) -> Vec<u8> {
    let root = newest_root(bytes);
    let (h, p) = read_segment(bytes, root.manifest_offset, SegmentType::Manifest, true).unwrap();
    let mut m = Manifest::decode(p).unwrap();
    edit(&mut m);
    let payload = m.encode();
    let seg = encode_segment(SegmentType::Manifest, h.segment_id, h.epoch, &payload);
    assert_eq!(
        seg.len() as u64,
        root.manifest_len,
        "forged manifest keeps its size"
    );
    let mut out = bytes.to_vec();
    let at = root.manifest_offset as usize;
    out[at..at + seg.len()].copy_from_slice(&seg);
    let root = RootSlot {
        manifest_hash: manifest_hash(&seg),
        ..root
    };
    with_root(&out, &root)
}

fn open_err(path: &Path, read_only: bool) -> RvfError {
    let r = if read_only {
        RvfStore::open_readonly(path)
    } else {
        RvfStore::open(path)
    };
    match r {
        Ok(s) => panic!(
            "{} opened (read-only: {read_only}) with {} vectors",
            path.display(),
            s.len()
        ),
        Err(e) => e,
    }
}

#[test]
fn forged_roots_are_refused_clearly() {
    let fx = root_fixture();
    let bytes = fx.victim_bytes().to_vec();
    let root = newest_root(&bytes);
    let path = fx.victim_path().to_path_buf();
    let cases: Vec<(&str, RootSlot, [&str; 2])> = vec![
        (
            "committed end past the file",
            RootSlot {
                committed_end: bytes.len() as u64 + 4096,
                ..root
            },
            ["RVF_E_TRUNCATED"; 2],
        ),
        (
            "unknown read feature",
            RootSlot {
                read_features: 1 << 40,
                ..root
            },
            ["RVF_E_INCOMPATIBLE"; 2],
        ),
        (
            "manifest hash of another manifest",
            RootSlot {
                manifest_hash: [7; 32],
                ..root
            },
            ["RVF_E_CORRUPT"; 2],
        ),
        (
            "file id of another file",
            RootSlot {
                file_id: [9; 16],
                ..root
            },
            ["RVF_E_CORRUPT"; 2],
        ),
        (
            "manifest offset at another segment",
            RootSlot {
                manifest_offset: 1024,
                ..root
            },
            ["RVF_E_CORRUPT"; 2],
        ),
    ];
    for (what, forged, codes) in cases {
        fs::write(&path, with_root(&bytes, &forged)).unwrap();
        for (ro, code) in [(true, codes[0]), (false, codes[1])] {
            let e = guarded(what, || open_err(&path, ro)).unwrap_or_else(|f| panic!("{f}"));
            assert_eq!(e.code(), code, "{what} (read-only: {ro}): {e}");
            assert!(e.to_string().contains("r.rvf"), "{what}: {e}");
        }
    }
    // Unknown write features: readable, but a writer refuses the file.
    fs::write(
        &path,
        with_root(
            &bytes,
            &RootSlot {
                write_features: 1 << 3,
                ..root
            },
        ),
    )
    .unwrap();
    let s = RvfStore::open_readonly(&path).unwrap();
    assert_eq!(s.status(), {
        let mut st = fx.current.before.status.clone();
        st.read_only = true;
        st
    });
    drop(s);
    assert_eq!(open_err(&path, false).code(), "RVF_E_INCOMPATIBLE");
    fx.restore();
}

/// Every call on a store that may be in any state: only panics are failures; errors must
/// carry a stable code.
fn exercise(path: &Path, what: &str) -> Result<(), String> {
    let check = |e: &RvfError, op: &str| -> Result<(), String> {
        if STABLE_CODES.contains(&e.code()) {
            Ok(())
        } else {
            Err(format!("{what}: {op}: unknown code {}", e.code()))
        }
    };
    for read_only in [true, false] {
        let op = format!("{what} (read-only: {read_only})");
        let opened = guarded(&format!("{op}: open"), || {
            if read_only {
                RvfStore::open_readonly(path)
            } else {
                RvfStore::open(path)
            }
        })?;
        let mut s = match opened {
            Ok(s) => s,
            Err(e) => {
                check(&e, "open")?;
                continue;
            }
        };
        guarded(&format!("{op}: reads"), || {
            let _ = s.status();
            let _ = s.cow_stats();
            let _ = s.len();
            let ids = s.ids().unwrap_or_default();
            for id in ids.iter().take(100).copied().chain([u64::MAX]) {
                let _ = s.get(id);
            }
            let q = vec![0.25; usize::from(s.dimension())];
            let _ = s.query(&q, 10, &QueryOptions::default());
            let _ = s.query_batch(&[&q, &q], 3, &batch_options());
        })?;
        if read_only {
            continue;
        }
        let results = guarded(&format!("{op}: writes"), || {
            let v = vec![0.5; usize::from(s.dimension())];
            [
                s.ingest_batch(&[&v], &[123_456], None).err(),
                s.delete(&[1, 2]).err(),
                s.freeze().err(),
            ]
        })?;
        for e in results.iter().flatten() {
            check(e, "write")?;
        }
        drop(s);
        if let Err(e) = guarded(&format!("{op}: reopen"), || RvfStore::open_readonly(path))? {
            check(&e, "reopen")?;
        }
    }
    Ok(())
}

/// Manifests whose counters sit at the end of their range, with valid checksums: every
/// call, reads and the arithmetic of the next commit alike, must return a value or an
/// error, never panic or overflow.
#[test]
fn forged_manifest_counters_never_panic() {
    let fx = root_fixture();
    let bytes = fx.victim_bytes().to_vec();
    let cases: Vec<(&str, Edit)> = vec![
        ("epoch", Box::new(|m| m.epoch = u64::MAX)),
        (
            "next_segment_id",
            Box::new(|m| m.next_segment_id = u64::MAX),
        ),
        ("dead_bytes", Box::new(|m| m.dead_bytes = u64::MAX)),
        ("journal_bytes", Box::new(|m| m.journal_bytes = u64::MAX)),
        (
            "checkpoint_bytes",
            Box::new(|m| m.checkpoint_bytes = u64::MAX),
        ),
        ("journal_count", Box::new(|m| m.journal_count = u64::MAX)),
        ("cluster_bytes", Box::new(|m| m.cluster_bytes = u32::MAX)),
        (
            "vectors_per_cluster",
            Box::new(|m| m.vectors_per_cluster = u32::MAX),
        ),
        (
            "prev_manifest",
            Box::new(|m| m.prev_manifest.len = u64::MAX),
        ),
    ];
    let mut failures = Vec::new();
    for (field, edit) in cases {
        fx.restore();
        fs::write(fx.victim_path(), forge_manifest(&bytes, edit)).unwrap();
        if let Err(f) = exercise(
            fx.victim_path(),
            &format!("manifest {field} at its maximum"),
        ) {
            failures.push(f);
        }
    }
    fx.restore();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Parent references
// ---------------------------------------------------------------------------------------

/// Opens the branch read-only and as a writer; both must fail with one of `codes`.
fn expect_branch_error(fx: &Fixture, codes: &[&str], what: &str) -> RvfError {
    let mut last = None;
    for ro in [true, false] {
        let e = guarded(what, || open_err(&fx.store, ro)).unwrap_or_else(|f| panic!("{f}"));
        assert!(
            codes.contains(&e.code()),
            "{what} (read-only: {ro}): unexpected {}: {e}",
            e.code()
        );
        // Errors name the branch, or the ancestor file that is at fault.
        let msg = e.to_string();
        assert!(
            msg.contains("c.rvf") || msg.contains("p.rvf"),
            "{what}: {e}"
        );
        last = Some(e);
    }
    last.unwrap()
}

/// Opens the branch (with `options`) and checks it answers exactly as undamaged.
fn expect_branch_intact(fx: &Fixture, options: &OpenOptions, what: &str) {
    for ro in [true, false] {
        let o = OpenOptions {
            read_only: ro,
            ..options.clone()
        };
        let s = RvfStore::open_with(&fx.store, o)
            .unwrap_or_else(|e| panic!("{what} (read-only: {ro}): {e}"));
        let mut want = fx.current.before.clone();
        let got = answers(&s, &fx.probe);
        // A forged manifest keeps the layout, so even the status is unchanged.
        want.status.read_only = false;
        assert!(got == want, "{what}: answers differ");
    }
}

/// Raw flips in the parent path bytes of the branch's manifest break its checksum.
#[test]
fn flipped_parent_path_bytes_are_detected() {
    let fx = branch_fixture("c.rvf");
    let bytes = fx.victim_bytes().to_vec();
    let root = newest_root(&bytes);
    let (_, p) = read_segment(&bytes, root.manifest_offset, SegmentType::Manifest, true).unwrap();
    let m = Manifest::decode(p).unwrap();
    let parent = m.parent.clone().unwrap();
    assert_eq!(parent.relative_path, b"p.rvf");
    let payload_at = root.manifest_offset as usize + 64;
    let rel_at = payload_at + rvf_format::MANIFEST_FIXED_LEN + 16 + 8 + 16 + 32 + 2;
    let orig_at = rel_at + parent.relative_path.len() + 2;
    assert_eq!(&bytes[rel_at..rel_at + 5], b"p.rvf");
    assert_eq!(
        &bytes[orig_at..orig_at + parent.original_path.len()],
        &parent.original_path[..]
    );
    for (i, at) in [rel_at, rel_at + 4, orig_at, orig_at + 3, rel_at - 2]
        .into_iter()
        .enumerate()
    {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        fx.restore();
        fs::write(fx.victim_path(), &damaged).unwrap();
        let e = expect_branch_error(&fx, &["RVF_E_CORRUPT"], &format!("flip {i} at {at}"));
        assert!(e.to_string().contains("c.rvf"), "{e}");
    }
    fx.restore();
}

/// An edit of a forged manifest.
type Edit = Box<dyn Fn(&mut Manifest)>;

/// Consistently forged parent references (valid checksums): the branch either still
/// finds the same parent (and answers exactly as before) or fails with a parent error.
#[test]
fn forged_parent_references() {
    let fx = branch_fixture("c.rvf");
    let bytes = fx.victim_bytes().to_vec();
    let mangle = |path: &mut Vec<u8>| {
        let last = path.len() - 1;
        path[last - 4] = b'q';
    };
    let cases: Vec<(&str, Edit, Option<&[&str]>)> = vec![
        (
            "relative path names a missing file, original path is right",
            Box::new(move |m| mangle(&mut m.parent.as_mut().unwrap().relative_path)),
            None,
        ),
        (
            "original path names a missing file, relative path is right",
            Box::new(move |m| mangle(&mut m.parent.as_mut().unwrap().original_path)),
            None,
        ),
        (
            "both paths name missing files",
            Box::new(move |m| {
                let p = m.parent.as_mut().unwrap();
                mangle(&mut p.relative_path);
                mangle(&mut p.original_path);
            }),
            Some(&["RVF_E_PARENT_MISSING"]),
        ),
        (
            "another parent file id",
            Box::new(|m| m.parent.as_mut().unwrap().file_id[0] ^= 1),
            Some(&["RVF_E_PARENT_MISSING"]),
        ),
        (
            "another pinned manifest hash",
            Box::new(|m| m.parent.as_mut().unwrap().manifest_hash[5] ^= 1),
            Some(&["RVF_E_PARENT_MISMATCH"]),
        ),
        (
            "another pinned epoch",
            Box::new(|m| m.parent.as_mut().unwrap().epoch += 1),
            Some(&["RVF_E_PARENT_MISMATCH"]),
        ),
        (
            "pinned manifest past the parent's end",
            Box::new(|m| m.parent.as_mut().unwrap().manifest.offset += 1 << 20),
            Some(&["RVF_E_PARENT_MISMATCH"]),
        ),
        (
            "pinned manifest at another offset",
            Box::new(|m| m.parent.as_mut().unwrap().manifest.offset -= 64),
            Some(&["RVF_E_PARENT_MISMATCH", "RVF_E_CORRUPT"]),
        ),
    ];
    for (what, edit, codes) in cases {
        fx.restore();
        fs::write(fx.victim_path(), forge_manifest(&bytes, edit)).unwrap();
        match codes {
            None => expect_branch_intact(&fx, &OpenOptions::default(), what),
            Some(codes) => {
                let e = expect_branch_error(&fx, codes, what);
                if e.code() == "RVF_E_PARENT_MISSING" {
                    assert!(e.to_string().contains("tried"), "{e}");
                }
            }
        }
    }
    // Both paths wrong, but a search path holds the parent: found by its file id.
    fx.restore();
    fs::write(
        fx.victim_path(),
        forge_manifest(&bytes, |m| {
            let p = m.parent.as_mut().unwrap();
            mangle(&mut p.relative_path);
            mangle(&mut p.original_path);
        }),
    )
    .unwrap();
    expect_branch_intact(
        &fx,
        &OpenOptions {
            parent_search_paths: vec![fx.dir.clone()],
            ..Default::default()
        },
        "parent found through a search path",
    );
    fx.restore();
}

/// The file `bytes` as it was before the commit whose manifest lies at `manifest_at`:
/// cut before that commit's segments, with a root naming the previous manifest.
fn parent_before(bytes: &[u8], manifest_at: u64) -> Vec<u8> {
    let (_, p) = read_segment(bytes, manifest_at, SegmentType::Manifest, true).unwrap();
    let pinned = Manifest::decode(p).unwrap();
    let prev = pinned.prev_manifest;
    let (_, p) = read_segment(bytes, prev.offset, SegmentType::Manifest, true).unwrap();
    let m = Manifest::decode(p).unwrap();
    let end = (prev.offset + prev.len) as usize;
    let root = RootSlot {
        format_version: rvf_format::layout::FORMAT_VERSION,
        slot_index: (m.epoch % 2) as u16,
        read_features: 0,
        write_features: 0,
        file_id: m.file_id,
        epoch: m.epoch,
        manifest_offset: prev.offset,
        manifest_len: prev.len,
        committed_end: end as u64,
        manifest_hash: manifest_hash(&bytes[prev.offset as usize..end]),
    };
    let mut out = bytes[..end].to_vec();
    out[..2 * SLOT_REGION].fill(0);
    with_root(&out, &root)
}

/// The parent file replaced by something else.
#[test]
fn replaced_parent_file() {
    let fx = branch_fixture("c.rvf");
    let parent = fx.dir.join("p.rvf");
    let other = fx.dir.join("other.rvf");

    // Another store with the same shape.
    let mut o = RvfStore::create(&other, opts(DistanceMetric::L2)).unwrap();
    ingest(&mut o, &range(0..64), 0);
    drop(o);
    fs::copy(&other, &parent).unwrap();
    let e = expect_branch_error(&fx, &["RVF_E_PARENT_MISSING"], "another store");
    assert!(e.to_string().contains("p.rvf"), "names what it tried: {e}");

    // No parent at all.
    fs::remove_file(&parent).unwrap();
    expect_branch_error(&fx, &["RVF_E_PARENT_MISSING"], "deleted parent");

    // The parent as it was before the generation the branch pins (same file id).
    fx.restore();
    let pristine = fs::read(&parent).unwrap();
    let child_manifest = {
        let b = fx.files[1].1.clone();
        let r = newest_root(&b);
        let (_, p) = read_segment(&b, r.manifest_offset, SegmentType::Manifest, true).unwrap();
        Manifest::decode(p).unwrap()
    };
    let pinned = child_manifest.parent.unwrap();
    let older = parent_before(&pristine, pinned.manifest.offset);
    assert_eq!(newest_root(&older).epoch + 1, pinned.epoch);
    fs::write(&parent, &older).unwrap();
    expect_branch_error(
        &fx,
        &["RVF_E_PARENT_MISMATCH"],
        "parent older than the pinned generation",
    );

    // A copy of the parent that diverged at the pinned generation: same file id, other
    // bytes where the pinned manifest was.
    fx.restore();
    fs::write(&parent, &older).unwrap();
    let mut d = RvfStore::open(&parent).unwrap();
    d.delete(&[10]).unwrap();
    ingest(&mut d, &range(200..216), 9);
    drop(d);
    assert!(fs::read(&parent).unwrap().len() as u64 > pinned.manifest.offset + pinned.manifest.len);
    expect_branch_error(
        &fx,
        &["RVF_E_PARENT_MISMATCH", "RVF_E_CORRUPT"],
        "diverged parent",
    );

    // The parent compacted after the branch: the pinned generation is gone.
    fx.restore();
    let mut c = RvfStore::open(&parent).unwrap();
    c.compact().unwrap();
    drop(c);
    let e = expect_branch_error(&fx, &["RVF_E_PARENT_MISMATCH"], "compacted parent");
    assert!(e.to_string().contains("compacted"), "says why: {e}");

    // The parent moved away: found again through a search path.
    fx.restore();
    let elsewhere = fx.dir.join("moved");
    fs::create_dir(&elsewhere).unwrap();
    fs::rename(&parent, elsewhere.join("renamed.rvf")).unwrap();
    expect_branch_error(&fx, &["RVF_E_PARENT_MISSING"], "moved parent");
    expect_branch_intact(
        &fx,
        &OpenOptions {
            parent_search_paths: vec![elsewhere.clone()],
            ..Default::default()
        },
        "moved parent found through a search path",
    );
    fs::remove_file(elsewhere.join("renamed.rvf")).unwrap();
    fx.restore();
}
