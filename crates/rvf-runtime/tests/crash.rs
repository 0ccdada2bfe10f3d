//! Crash consistency of the commit protocol, checked on real files.
//!
//! A commit appends its segments past the committed end, syncs, then writes the root
//! slot not holding the last published root, and syncs again. For a store whose file is
//! image A before a commit and image B after it, a crash can leave:
//!
//! * A's bytes plus any prefix of B's appended bytes, root still A's → opens to A;
//! * B's appended bytes complete plus a partly written new root slot → opens to A;
//! * the complete new root → opens to B.
//!
//! Each test builds stores with the public API, snapshots their full contents (every
//! id's vector and metadata, query results of several queries and filters, status,
//! membership) before and after one commit, then builds every such crash image in a
//! temporary file and opens it read-only and as a writer (which must truncate the
//! uncommitted tail), comparing with the expected snapshot. A few recovered images also
//! take a new commit and are reopened, so recovery leaves a writable, consistent file.
//!
//! Covered: ingest, upsert, delete, re-ingest, delete by filter, freeze, the first commit
//! of a new store, an `OnClose` flush, branch creation, a branch's own commits (cluster
//! copies, deletes of inherited ids), membership changes, a grandchild, compaction and
//! materialization (rename), and commit boundaries across journal checkpoints.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use rvf_format::{choose_root, read_segment, Manifest, SegmentHeader, SegmentType};
use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{
    Durability, FilterExpr, MembershipFilter, MembershipMode, MetaValue, Metadata, OpenOptions,
    QueryOptions, RvfOptions, RvfStore, SearchResult, StoreStatus,
};
use tempfile::TempDir;

const ROOT_AREA: usize = 1024;
const SLOT_REGION: usize = 512;
const SLOT_LEN: usize = 128;
const DIM: usize = 8;
/// A cluster of 16 vectors of dimension 8, so that branches copy clusters often.
const SMALL_CLUSTER: u32 = 512;
/// Id used by the post-recovery commit; never used otherwise.
const RECOVERY_ID: u64 = 7_000_000;

// ---------------------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------------------

fn vector(id: u64, version: u64) -> Vec<f32> {
    common::random_vector(id, version, DIM)
}

fn metadata(id: u64, version: u64) -> Metadata {
    common::sample_metadata(id, version)
}

fn ingest_with(store: &mut RvfStore, ids: &[u64], version: u64, with_meta: bool) {
    let vecs: Vec<Vec<f32>> = ids.iter().map(|&i| vector(i, version)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(Vec::as_slice).collect();
    let metas: Vec<Metadata> = ids
        .iter()
        .map(|&i| {
            if with_meta {
                metadata(i, version)
            } else {
                Metadata::new()
            }
        })
        .collect();
    let distinct: BTreeSet<u64> = ids.iter().copied().collect();
    let r = store.ingest_batch(&refs, ids, Some(&metas)).unwrap();
    assert_eq!(
        (r.accepted, r.rejected),
        (distinct.len() as u64, 0),
        "ingest of {ids:?}"
    );
}

fn ingest(store: &mut RvfStore, ids: &[u64], version: u64) {
    ingest_with(store, ids, version, true);
}

fn range(a: u64, b: u64) -> Vec<u64> {
    (a..b).collect()
}

fn opts(metric: DistanceMetric) -> RvfOptions {
    RvfOptions {
        dimension: DIM as u16,
        metric,
        cluster_bytes: SMALL_CLUSTER,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// Snapshots of a store's full observable state
// ---------------------------------------------------------------------------------------

/// What every snapshot looks at: the ids to `get` and the queries to run.
struct Probe {
    universe: Vec<u64>,
    queries: Vec<Vec<f32>>,
}

impl Probe {
    /// `ids`: every id the test uses; a few never-used ids are added.
    fn new(ids: impl IntoIterator<Item = u64>) -> Probe {
        let mut universe: BTreeSet<u64> = ids.into_iter().collect();
        universe.extend([RECOVERY_ID, 1 << 40, u64::MAX - 1, u64::MAX]);
        Probe {
            universe: universe.into_iter().collect(),
            // A random direction, and the zero vector (every cosine distance is 1, so
            // the order is decided by ids alone).
            queries: vec![vector(10_001, 0), vec![0.0; DIM]],
        }
    }
}

type Record = Option<(Vec<u32>, Option<Metadata>)>;

#[derive(Debug, Clone, PartialEq)]
struct Snap {
    status: StoreStatus,
    file_id: [u8; 16],
    parent_id: [u8; 16],
    ids: Vec<u64>,
    records: Vec<(u64, Record)>,
    results: Vec<Vec<(u64, u32)>>,
    membership: Option<MembershipFilter>,
}

fn pairs(r: &[SearchResult]) -> Vec<(u64, u32)> {
    r.iter().map(|r| (r.id, r.distance.to_bits())).collect()
}

fn filters() -> [Option<FilterExpr>; 3] {
    [
        None,
        Some(FilterExpr::eq("tag", MetaValue::Int(2))),
        Some(FilterExpr::Or(vec![
            FilterExpr::eq("fresh", MetaValue::Bool(true)),
            FilterExpr::Not(Box::new(FilterExpr::ge("score", MetaValue::Float(3.0)))),
        ])),
    ]
}

fn snap(store: &RvfStore, probe: &Probe) -> Snap {
    snap_with(store, probe, true)
}

/// A snapshot; `full: false` runs only the first query (all results, no filter), for
/// checks that repeat a full one on the same image.
fn snap_with(store: &RvfStore, probe: &Probe, full: bool) -> Snap {
    let mut status = store.status();
    status.read_only = false;
    let records = probe
        .universe
        .iter()
        .map(|&id| {
            let r = store
                .get(id)
                .unwrap_or_else(|e| panic!("get({id}) failed: {e}"));
            let r = r.map(|r| {
                assert_eq!(r.id, id);
                (r.vector.iter().map(|x| x.to_bits()).collect(), r.metadata)
            });
            (id, r)
        })
        .collect();
    let all = probe.universe.len() + 4;
    let [none, f1, f2] = filters();
    let mut results = Vec::new();
    for (qi, q) in probe.queries.iter().enumerate() {
        let filtered = if qi % 2 == 0 { (5, &f1) } else { (all, &f2) };
        for (k, filter) in [(all, &none), filtered] {
            let o = QueryOptions {
                filter: filter.clone(),
                ..Default::default()
            };
            let r = store
                .query(q, k, &o)
                .unwrap_or_else(|e| panic!("query failed: {e}"));
            results.push(pairs(&r));
            if !full {
                break;
            }
        }
        if !full {
            break;
        }
    }
    let qs: Vec<&[f32]> = probe.queries.iter().map(Vec::as_slice).collect();
    let qs = if full { &qs[..] } else { &qs[..0] };
    let batch = store
        .query_batch(
            qs,
            7,
            &QueryOptions {
                threads: 1,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("query_batch failed: {e}"));
    for (i, b) in batch.iter().enumerate() {
        let single = &results[i * 2];
        assert_eq!(
            pairs(b),
            single[..single.len().min(7)],
            "query_batch differs from query"
        );
    }
    Snap {
        status,
        file_id: *store.file_id(),
        parent_id: *store.parent_id(),
        ids: store.ids().unwrap_or_else(|e| panic!("ids failed: {e}")),
        records,
        results,
        membership: store.membership_filter().cloned(),
    }
}

/// A short description of how two snapshots differ (the full ones are too long to print).
fn diff(got: &Snap, want: &Snap) -> String {
    if got.status != want.status {
        return format!("status {:?} != expected {:?}", got.status, want.status);
    }
    if got.file_id != want.file_id || got.parent_id != want.parent_id {
        return "file or parent id differs".into();
    }
    if got.ids != want.ids {
        return format!("ids {:?} != expected {:?}", got.ids, want.ids);
    }
    if let Some((g, w)) = got.records.iter().zip(&want.records).find(|(g, w)| g != w) {
        return format!("record {g:?} != expected {w:?}");
    }
    if let Some((i, _)) = got
        .results
        .iter()
        .zip(&want.results)
        .enumerate()
        .find(|(_, (g, w))| g != w)
    {
        return format!(
            "query result #{i} {:?} != expected {:?}",
            got.results[i], want.results[i]
        );
    }
    if got.membership != want.membership {
        return format!(
            "membership {:?} != expected {:?}",
            got.membership, want.membership
        );
    }
    "no difference".into()
}

fn assert_snap(got: &Snap, want: &Snap, what: &str) {
    assert!(got == want, "{what}: {}", diff(got, want));
}

// ---------------------------------------------------------------------------------------
// Crash images
// ---------------------------------------------------------------------------------------

/// A temporary directory holding the stores of one test and its crash images.
struct Lab {
    _tmp: TempDir,
    dir: PathBuf,
    probe: Probe,
}

impl Lab {
    fn new(ids: impl IntoIterator<Item = u64>) -> Lab {
        // tmpfs when there is one: the stores sync on every commit and every writer open.
        let tmp = tempfile::Builder::new()
            .prefix("rvf-crash-")
            .tempdir_in("/dev/shm")
            .or_else(|_| TempDir::new())
            .unwrap();
        let dir = tmp.path().to_path_buf();
        Lab {
            _tmp: tmp,
            dir,
            probe: Probe::new(ids),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Crash images are built beside the stores, so a child's image finds its parent
    /// by the recorded relative path.
    fn image(&self) -> PathBuf {
        self.path("crash-image.rvf")
    }
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).unwrap().len()
}

/// Opens `img` read-only and as a writer; both must show `want`. The read-only open must
/// leave the file alone and the writer open must truncate it to `committed` bytes.
fn expect_opens_to(lab: &Lab, img: &Path, want: &Snap, committed: u64, what: &str) {
    let len = file_len(img);
    let ro = RvfStore::open_readonly(img)
        .unwrap_or_else(|e| panic!("{what}: read-only open failed: {e}"));
    assert!(ro.is_read_only());
    assert_snap(&snap(&ro, &lab.probe), want, &format!("{what} (read-only)"));
    drop(ro);
    assert_eq!(
        file_len(img),
        len,
        "{what}: a read-only open changed the file"
    );
    let w = RvfStore::open(img).unwrap_or_else(|e| panic!("{what}: writer open failed: {e}"));
    assert_eq!(
        file_len(img),
        committed,
        "{what}: the writer open did not drop the uncommitted tail"
    );
    // The read-only open ran every query on this image; the writer runs one of them.
    let light = Snap {
        results: want.results[..1].to_vec(),
        ..want.clone()
    };
    assert_snap(
        &snap_with(&w, &lab.probe, false),
        &light,
        &format!("{what} (writer)"),
    );
}

/// Which of `wants` a read-only open of `img` shows (told apart by epoch).
fn opened_state<'a>(img: &Path, wants: &[&'a Snap], what: &str) -> &'a Snap {
    let ro = RvfStore::open_readonly(img)
        .unwrap_or_else(|e| panic!("{what}: read-only open failed: {e}"));
    let epoch = ro.epoch();
    let epochs: Vec<u64> = wants.iter().map(|w| w.status.epoch).collect();
    wants
        .iter()
        .copied()
        .find(|w| w.status.epoch == epoch)
        .unwrap_or_else(|| panic!("{what}: opened at epoch {epoch}, expected one of {epochs:?}"))
}

/// Opens a recovered image as a writer, commits one more vector, and checks that the
/// file then reopens to exactly what the writer saw.
fn recover_and_write(lab: &Lab, img: &Path, want: &Snap, what: &str) {
    let mut w = RvfStore::open(img).unwrap_or_else(|e| panic!("{what}: writer open failed: {e}"));
    let v = vector(RECOVERY_ID, 1);
    let r = w.ingest_batch(&[&v], &[RECOVERY_ID], None);
    if want.status.frozen {
        assert_eq!(
            r.unwrap_err().code(),
            "RVF_E_FROZEN",
            "{what}: frozen store"
        );
        return;
    }
    r.unwrap_or_else(|e| panic!("{what}: commit after recovery failed: {e}"));
    let live = snap(&w, &lab.probe);
    assert_eq!(
        live.status.total_vectors,
        want.status.total_vectors + 1,
        "{what}"
    );
    assert_eq!(live.status.epoch, want.status.epoch + 1, "{what}");
    drop(w);
    let again = RvfStore::open_readonly(img)
        .unwrap_or_else(|e| panic!("{what}: reopen after the recovery commit failed: {e}"));
    assert_snap(
        &snap(&again, &lab.probe),
        &live,
        &format!("{what}: reopen after the recovery commit"),
    );
    assert_eq!(again.get(RECOVERY_ID).unwrap().unwrap().vector, v, "{what}");
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Cuts {
    /// Every byte position of the appended region.
    Every,
    /// Around each appended segment's boundaries (for large commits).
    Boundaries,
}

fn cut_positions(before: &[u8], after: &[u8], cuts: Cuts) -> Vec<usize> {
    let (lo, hi) = (before.len(), after.len());
    if cuts == Cuts::Every {
        return (lo..=hi).collect();
    }
    let mut set = BTreeSet::from([lo, lo + 1, hi - 1, hi]);
    let mut off = lo;
    while off < hi {
        let h = SegmentHeader::decode(&after[off..]).unwrap();
        let end = off + h.total_len() as usize;
        let mid = off + 64 + (h.payload_len as usize) / 2;
        set.extend([off, off + 1, off + 63, off + 64, mid, end - 1, end]);
        off = end;
    }
    assert_eq!(off, hi, "appended region is a sequence of segments");
    set.into_iter()
        .filter(|&c| (lo..=hi).contains(&c))
        .collect()
}

/// A commit to check: the file and the state before it (A) and after it (B), and the
/// states of any commits between them that were never published (`Durability::OnClose`):
/// a torn root may also expose one of those, but never anything older than A.
struct Commit<'a> {
    before: &'a [u8],
    after: &'a [u8],
    a: &'a Snap,
    b: &'a Snap,
    between: &'a [Snap],
}

/// Checks every crash a commit can leave behind.
fn crash_commit(lab: &Lab, what: &str, commit: &Commit<'_>, cuts: Cuts) {
    let Commit {
        before,
        after,
        a,
        b,
        between,
    } = *commit;
    let (lo, hi) = (before.len(), after.len());
    assert!(hi > lo, "{what}: the commit appended nothing");
    assert_eq!(lo as u64, a.status.file_size, "{what}");
    assert_eq!(hi as u64, b.status.file_size, "{what}");
    assert_eq!(lo % 64, 0, "{what}: committed end is segment aligned");
    assert_eq!(
        &after[ROOT_AREA..lo],
        &before[ROOT_AREA..],
        "{what}: a commit rewrote committed bytes"
    );
    // Exactly one root slot is rewritten, and nothing else in the root area.
    let changed: Vec<usize> = (0..2)
        .filter(|&k| {
            let r = k * SLOT_REGION..k * SLOT_REGION + SLOT_LEN;
            before[r.clone()] != after[r]
        })
        .collect();
    assert_eq!(
        changed.len(),
        1,
        "{what}: root slots rewritten: {changed:?}"
    );
    let slot = changed[0];
    let slot_at = slot * SLOT_REGION;
    for i in 0..ROOT_AREA {
        if before[i] != after[i] {
            assert!(
                (slot_at..slot_at + SLOT_LEN).contains(&i),
                "{what}: root area byte {i} changed outside the new root slot {slot}"
            );
        }
    }
    let img = lab.image();

    // The root was not written: any prefix of the appended bytes.
    let positions = cut_positions(before, after, cuts);
    let samples: BTreeSet<usize> = [positions[0], positions[positions.len() / 2], hi]
        .into_iter()
        .collect();
    let mut image = before.to_vec();
    for &cut in &positions {
        image.truncate(lo);
        image.extend_from_slice(&after[lo..cut]);
        fs::write(&img, &image).unwrap();
        let label = format!(
            "{what}: crash after {} of {} appended bytes",
            cut - lo,
            hi - lo
        );
        expect_opens_to(lab, &img, a, lo as u64, &label);
        if samples.contains(&cut) {
            fs::write(&img, &image).unwrap();
            recover_and_write(lab, &img, a, &label);
        }
    }

    // Appended bytes complete, the new root slot torn: a prefix of it written (in order)
    // or, for devices that reorder, a suffix of it (sampled). Where the torn slot equals
    // the new root (its first bytes — magic, version, file id — rarely change), the
    // commit is complete.
    let new_root = &after[slot_at..slot_at + SLOT_LEN];
    let sampled = [1, 9, 24, 40, 56, 64, 100, 120, 127];
    for p in 0..=SLOT_LEN {
        for suffix in [false, true] {
            let every = cuts == Cuts::Every && !suffix;
            if !(every || sampled.contains(&p) || p == 0 || p == SLOT_LEN) {
                continue;
            }
            if suffix && (p == 0 || p == SLOT_LEN) {
                continue;
            }
            let mut image = after.to_vec();
            let old = if suffix {
                slot_at..slot_at + p
            } else {
                slot_at + p..slot_at + SLOT_LEN
            };
            image[old.clone()].copy_from_slice(&before[old]);
            fs::write(&img, &image).unwrap();
            let label = if suffix {
                format!(
                    "{what}: root slot {slot} torn with only its last {} bytes written",
                    SLOT_LEN - p
                )
            } else {
                format!("{what}: root slot {slot} torn after {p} of {SLOT_LEN} bytes")
            };
            let complete = &image[slot_at..slot_at + SLOT_LEN] == new_root;
            let want = if complete {
                b
            } else if between.is_empty() {
                a
            } else {
                let wants: Vec<&Snap> = std::iter::once(a).chain(between).collect();
                opened_state(&img, &wants, &label)
            };
            expect_opens_to(lab, &img, want, want.status.file_size, &label);
            if p == SLOT_LEN / 2 || p == SLOT_LEN {
                fs::write(&img, &image).unwrap();
                recover_and_write(lab, &img, want, &label);
            }
        }
    }
    let _ = fs::remove_file(&img);
}

/// Runs `op` (one commit) on `store` and checks every crash it can leave.
fn crash_step(
    lab: &Lab,
    store: &mut RvfStore,
    what: &str,
    cuts: Cuts,
    op: impl FnOnce(&mut RvfStore),
) -> Snap {
    let before = fs::read(store.path()).unwrap();
    let a = snap(store, &lab.probe);
    op(store);
    let after = fs::read(store.path()).unwrap();
    let b = snap(store, &lab.probe);
    assert_eq!(b.status.epoch, a.status.epoch + 1, "{what}: one commit");
    assert_ne!(a, b, "{what}: the commit changed nothing observable");
    let commit = Commit {
        before: &before,
        after: &after,
        a: &a,
        b: &b,
        between: &[],
    };
    crash_commit(lab, what, &commit, cuts);
    b
}

/// Ids of the base store.
const BASE: std::ops::Range<u64> = 0..56;

/// A root store of 52 vectors with two ingests, an upsert and a delete behind it (a
/// journal of four records).
fn base_store(lab: &Lab, name: &str, metric: DistanceMetric) -> RvfStore {
    let mut s = RvfStore::create(&lab.path(name), opts(metric)).unwrap();
    ingest(&mut s, &range(0, 36), 0);
    ingest(&mut s, &range(36, 56), 0);
    ingest_with(&mut s, &[4, 30, 31, 50], 1, false);
    assert_eq!(s.delete(&[9, 33, 34, 55]).unwrap().deleted, 4);
    s
}

fn ids_and(extra: &[u64]) -> Vec<u64> {
    BASE.chain(extra.iter().copied()).collect()
}

/// The manifest the committed root of `bytes` names.
fn manifest_of(bytes: &[u8]) -> Manifest {
    let root = choose_root(
        &bytes[..SLOT_LEN],
        &bytes[SLOT_REGION..SLOT_REGION + SLOT_LEN],
    )
    .unwrap();
    let (_, p) = read_segment(bytes, root.manifest_offset, SegmentType::Manifest, true).unwrap();
    Manifest::decode(p).unwrap()
}

// ---------------------------------------------------------------------------------------
// Root store commits
// ---------------------------------------------------------------------------------------

#[test]
fn crash_during_ingest_of_new_ids_all_metrics() {
    for metric in [
        DistanceMetric::L2,
        DistanceMetric::InnerProduct,
        DistanceMetric::Cosine,
    ] {
        let lab = Lab::new(ids_and(&range(100, 106)));
        let mut s = base_store(&lab, "s.rvf", metric);
        crash_step(
            &lab,
            &mut s,
            &format!("{metric:?} ingest"),
            Cuts::Every,
            |s| ingest(s, &range(100, 106), 2),
        );
    }
}

#[test]
fn crash_during_first_commit_of_a_new_store() {
    let lab = Lab::new(range(0, 12));
    let mut s = RvfStore::create(&lab.path("s.rvf"), opts(DistanceMetric::InnerProduct)).unwrap();
    crash_step(&lab, &mut s, "first ingest", Cuts::Every, |s| {
        ingest(s, &range(0, 12), 0)
    });
}

#[test]
fn crash_during_upsert() {
    let lab = Lab::new(ids_and(&[100]));
    let mut s = base_store(&lab, "s.rvf", DistanceMetric::Cosine);
    crash_step(&lab, &mut s, "upsert with metadata", Cuts::Every, |s| {
        ingest(s, &[5, 6, 30, 31, 50, 53, 6, 100], 2)
    });
    crash_step(&lab, &mut s, "upsert dropping metadata", Cuts::Every, |s| {
        ingest_with(s, &[3, 6, 33], 3, false)
    });
}

#[test]
fn crash_during_delete_and_reingest() {
    let lab = Lab::new(ids_and(&[5000]));
    let mut s = base_store(&lab, "s.rvf", DistanceMetric::InnerProduct);
    crash_step(&lab, &mut s, "delete", Cuts::Every, |s| {
        let d = s.delete(&[0, 1, 2, 17, 44, 45, 46, 53, 5000, 9]).unwrap();
        assert_eq!(d.deleted, 8);
    });
    crash_step(&lab, &mut s, "re-ingest of deleted ids", Cuts::Every, |s| {
        ingest(s, &[0, 1, 2, 17, 9], 4)
    });
    crash_step(&lab, &mut s, "delete by filter", Cuts::Every, |s| {
        let d = s
            .delete_by_filter(&FilterExpr::eq("tag", MetaValue::Int(3)))
            .unwrap();
        assert!(d.deleted > 0);
    });
}

#[test]
fn crash_during_freeze() {
    let lab = Lab::new(BASE);
    let mut s = base_store(&lab, "s.rvf", DistanceMetric::Cosine);
    let b = crash_step(&lab, &mut s, "freeze", Cuts::Every, |s| s.freeze().unwrap());
    assert!(b.status.frozen);
    assert_eq!(s.delete(&[1]).unwrap_err().code(), "RVF_E_FROZEN");
}

/// Reopens a store as a bulk loader does: commits are published only by a flush.
fn open_on_close(path: &Path) -> RvfStore {
    RvfStore::open_with(
        path,
        OpenOptions {
            durability: Durability::OnClose,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Opens the lab's base store with `Durability::OnClose`, lets `hold` make commits (it
/// returns the snapshot after each), checks that none was published, flushes, and cuts
/// the flush. Returns the published states before and after.
fn check_on_close_flush(
    lab: &Lab,
    what: &str,
    cuts: Cuts,
    hold: impl FnOnce(&mut RvfStore, &Probe) -> Vec<Snap>,
) -> (Snap, Snap) {
    let path = lab.path("s.rvf");
    base_store(lab, "s.rvf", DistanceMetric::L2)
        .close()
        .unwrap();
    let mut s = open_on_close(&path);
    let before = fs::read(&path).unwrap();
    let a = snap(&s, &lab.probe);
    let between = hold(&mut s, &lab.probe);
    assert_eq!(
        fs::read(&path).unwrap()[..ROOT_AREA],
        before[..ROOT_AREA],
        "{what}: OnClose commits must not publish a root before the flush"
    );
    s.flush().unwrap();
    let after = fs::read(&path).unwrap();
    let b = snap(&s, &lab.probe);
    let commit = Commit {
        before: &before,
        after: &after,
        a: &a,
        b: &b,
        between: &between,
    };
    crash_commit(lab, what, &commit, cuts);
    (a, b)
}

/// With `Durability::OnClose` the commits between two flushes reach the file unpublished;
/// the flush publishes the last one. A crash anywhere before the flush's root write
/// completes must leave the last published state (or, at most, the unpublished commit in
/// between), never an older one.
#[test]
fn crash_during_on_close_flush() {
    let lab = Lab::new(ids_and(&range(100, 106)));
    // Two commits: the flush then writes the same root slot the published root occupies.
    let (a, b) = check_on_close_flush(
        &lab,
        "OnClose flush of two commits",
        Cuts::Every,
        |s, probe| {
            ingest(s, &range(100, 106), 1);
            let between = snap(s, probe);
            assert_eq!(s.delete(&[0, 1, 101]).unwrap().deleted, 3);
            vec![between]
        },
    );
    assert_eq!(b.status.epoch, a.status.epoch + 2);
}

/// Held-back commits whose journal outgrows the checkpoint bound make the flush commit
/// one more generation with a checkpoint before it publishes. A crash anywhere in that
/// flush leaves the last published state; the flushed store reopens with a journal
/// within the bound.
#[test]
fn crash_during_on_close_flush_that_checkpoints() {
    let lab = Lab::new(ids_and(&range(100, 130)));
    let mut held = None;
    let (a, b) = check_on_close_flush(
        &lab,
        "OnClose flush that checkpoints",
        Cuts::Boundaries,
        |s, probe| {
            // Each one-vector commit adds a run, which counts at least a page of open
            // cost: 20 of them exceed the 64 KiB floor of the bound.
            let between = (100..120)
                .map(|id| {
                    ingest(s, &[id], 1);
                    snap(s, probe)
                })
                .collect();
            held = Some(s.status());
            between
        },
    );
    let held = held.unwrap();
    assert!(held.journal_commits >= 20, "no checkpoint before the flush");
    assert_eq!(
        b.status.epoch,
        a.status.epoch + 21,
        "one extra checkpoint generation"
    );
    assert_eq!(b.status.journal_commits, 0);
    assert_eq!(b.status.total_vectors, held.total_vectors);
}

/// Ids at the ends of the u64 range, in vectors and in membership sets, survive a commit
/// and a reopen.
#[test]
fn extreme_ids_commit_and_reopen() {
    let lab = Lab::new([0, 1]);
    let mut p = RvfStore::create(&lab.path("p.rvf"), opts(DistanceMetric::L2)).unwrap();
    ingest(&mut p, &[0, 1, u64::MAX - 1, u64::MAX], 0);
    let want_p = snap(&p, &lab.probe);
    drop(p);
    assert_snap(
        &snap(&RvfStore::open(&lab.path("p.rvf")).unwrap(), &lab.probe),
        &want_p,
        "root store with id u64::MAX",
    );
    let p = RvfStore::open_readonly(&lab.path("p.rvf")).unwrap();
    let mut c = p.branch(&lab.path("c.rvf")).unwrap();
    c.set_membership_mode(MembershipMode::Include).unwrap();
    // Either the set holds u64::MAX, or the id is refused up front; never a commit that
    // cannot be read back.
    match c.membership_add(&[0, u64::MAX - 1, u64::MAX]) {
        Ok(()) => assert_eq!(c.len(), 3),
        Err(e) => {
            assert_eq!(e.code(), "RVF_E_INVALID_ARGUMENT", "{e}");
            c.membership_add(&[0, u64::MAX - 1]).unwrap();
            assert_eq!(c.len(), 2);
        }
    }
    let want_c = snap(&c, &lab.probe);
    drop(c);
    let c = RvfStore::open(&lab.path("c.rvf"))
        .unwrap_or_else(|e| panic!("child with u64::MAX in its membership set: {e}"));
    assert_snap(&snap(&c, &lab.probe), &want_c, "child reopened");
}

// ---------------------------------------------------------------------------------------
// Branches
// ---------------------------------------------------------------------------------------

/// Creating a branch writes the whole child file in one write before one sync: a crash
/// can leave any prefix of it (or, with reordered writes, zeros in place of any suffix).
/// Nothing but the complete file may open, and the parent file is untouched.
#[test]
fn crash_during_branch_creation() {
    let lab = Lab::new(BASE);
    let p = base_store(&lab, "p.rvf", DistanceMetric::L2);
    let parent_bytes = fs::read(p.path()).unwrap();
    let parent_snap = snap(&p, &lab.probe);
    let c = p.branch(&lab.path("c.rvf")).unwrap();
    assert_eq!(
        fs::read(p.path()).unwrap(),
        parent_bytes,
        "branching wrote to the parent"
    );
    let child_bytes = fs::read(c.path()).unwrap();
    let child = snap(&c, &lab.probe);
    assert_eq!(child.records, parent_snap.records);
    assert_eq!(child.results, parent_snap.results);
    assert_eq!(child.status.lineage_depth, 1);
    drop(c);

    let img = lab.image();
    let len = child_bytes.len();
    assert!(
        RvfStore::open_readonly(&img).unwrap_err().code() == "RVF_E_NOT_FOUND",
        "no file yet"
    );
    for cut in 0..=len {
        for zero_filled in [false, true] {
            let mut image = child_bytes[..cut].to_vec();
            if zero_filled {
                image.resize(len, 0);
            }
            let label = format!("branch file cut at {cut} of {len} (zero-filled: {zero_filled})");
            if image == child_bytes {
                fs::write(&img, &image).unwrap();
                expect_opens_to(&lab, &img, &child, len as u64, &label);
                continue;
            }
            if zero_filled && cut == len {
                continue;
            }
            for read_only in [true, false] {
                fs::write(&img, &image).unwrap();
                let r = if read_only {
                    RvfStore::open_readonly(&img)
                } else {
                    RvfStore::open(&img)
                };
                let e = match r {
                    Ok(s) => panic!(
                        "{label}: an incomplete branch file opened (read-only: {read_only}, {} vectors)",
                        s.len()
                    ),
                    Err(e) => e,
                };
                assert!(
                    ["RVF_E_NOT_A_STORE", "RVF_E_CORRUPT", "RVF_E_TRUNCATED"].contains(&e.code()),
                    "{label}: unexpected error {}: {e}",
                    e.code()
                );
            }
        }
    }
    let _ = fs::remove_file(&img);
}

/// A branch whose parent keeps changing: the child's own commits (new ids, upserts of
/// inherited ids that copy whole clusters, deletes of inherited and own ids, re-ingest).
#[test]
fn crash_during_child_commits() {
    let lab = Lab::new(ids_and(&[200, 201, 500, 501, 502, 503]));
    let mut p = base_store(&lab, "p.rvf", DistanceMetric::Cosine);
    let mut c = p.branch(&lab.path("c.rvf")).unwrap();
    // The parent moves on; the child keeps seeing the pinned generation.
    ingest(&mut p, &range(200, 210), 1);
    assert_eq!(p.delete(&[0, 1, 2, 3]).unwrap().deleted, 4);
    drop(p);

    crash_step(&lab, &mut c, "child ingest of new ids", Cuts::Every, |c| {
        ingest(c, &range(500, 504), 1)
    });
    let clusters = c.cow_stats().unwrap().local_cluster_count;
    // Slots 16..32 form one inherited cluster (ids 16..32 of the base store, where 30
    // and 31 were upserted away): replacing 8 of its 14 live vectors copies it whole.
    crash_step(
        &lab,
        &mut c,
        "child upsert copying a cluster",
        Cuts::Every,
        |c| ingest(c, &[16, 17, 18, 19, 20, 21, 22, 23, 7], 2),
    );
    assert!(
        c.cow_stats().unwrap().local_cluster_count > clusters,
        "the upsert copied a cluster"
    );
    crash_step(
        &lab,
        &mut c,
        "child delete of inherited and own ids",
        Cuts::Every,
        |c| {
            assert_eq!(c.delete(&[0, 1, 20, 25, 50, 503, 9]).unwrap().deleted, 6);
        },
    );
    crash_step(
        &lab,
        &mut c,
        "child re-ingest of deleted ids",
        Cuts::Every,
        |c| ingest(c, &[0, 20, 50, 503], 3),
    );
}

/// Membership changes on a branch, then a freeze.
#[test]
fn crash_during_membership_changes() {
    let lab = Lab::new(ids_and(&[600, 601, 602]));
    let p = base_store(&lab, "p.rvf", DistanceMetric::InnerProduct);
    let mut c = p.branch(&lab.path("c.rvf")).unwrap();
    drop(p);
    crash_step(&lab, &mut c, "set include mode", Cuts::Every, |c| {
        c.set_membership_mode(MembershipMode::Include).unwrap()
    });
    crash_step(&lab, &mut c, "membership add", Cuts::Every, |c| {
        c.membership_add(&[1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 50, 51, 77, 120, 1 << 40])
            .unwrap()
    });
    crash_step(&lab, &mut c, "membership remove", Cuts::Every, |c| {
        c.membership_remove(&[3, 4, 120]).unwrap()
    });
    crash_step(
        &lab,
        &mut c,
        "ingest under include mode",
        Cuts::Every,
        |c| {
            // 600.. are new (visible); 10 is listed (visible); 40 is not (stays hidden).
            ingest(c, &[600, 601, 602, 10, 40], 5)
        },
    );
    crash_step(&lab, &mut c, "set exclude mode", Cuts::Every, |c| {
        c.set_membership_mode(MembershipMode::Exclude).unwrap()
    });
    crash_step(&lab, &mut c, "exclude ids", Cuts::Every, |c| {
        c.membership_add(&[5, 6, 7, 601]).unwrap()
    });
    crash_step(&lab, &mut c, "freeze a branch", Cuts::Every, |c| {
        c.freeze().unwrap()
    });
}

/// A branch of a branch (two ancestors beside it).
#[test]
fn crash_during_grandchild_commits() {
    let lab = Lab::new(ids_and(&[600, 601, 602, 603, 700, 701]));
    let p = base_store(&lab, "p.rvf", DistanceMetric::L2);
    let mut c = p.branch(&lab.path("c.rvf")).unwrap();
    drop(p);
    ingest(&mut c, &range(600, 604), 1);
    c.delete(&[5, 6]).unwrap();
    let mut g = c.branch(&lab.path("g.rvf")).unwrap();
    c.delete(&[7, 8]).unwrap();
    drop(c);
    assert_eq!(g.lineage_depth(), 2);
    crash_step(&lab, &mut g, "grandchild ingest", Cuts::Every, |g| {
        ingest(g, &[700, 701, 5, 603], 2)
    });
    crash_step(&lab, &mut g, "grandchild delete", Cuts::Every, |g| {
        assert_eq!(g.delete(&[10, 602, 700]).unwrap().deleted, 3);
    });
    crash_step(&lab, &mut g, "grandchild exclude", Cuts::Every, |g| {
        g.membership_add(&[11, 12, 601]).unwrap()
    });
}

// ---------------------------------------------------------------------------------------
// Compaction
// ---------------------------------------------------------------------------------------

/// What a rewrite must keep: every visible vector, its metadata, and every answer.
#[derive(Debug, PartialEq)]
struct Content<'a> {
    ids: &'a [u64],
    records: &'a [(u64, Record)],
    results: &'a [Vec<(u64, u32)>],
    total: u64,
}

fn content(s: &Snap) -> Content<'_> {
    Content {
        ids: &s.ids,
        records: &s.records,
        results: &s.results,
        total: s.status.total_vectors,
    }
}

/// A rewrite (compaction or materialization) builds the new file beside the old one
/// (`<name>.compact-tmp`), syncs it and renames it over the old one. A crash before the
/// rename leaves the old file and any prefix of the new one beside it: the store opens
/// to its old state, and compacting again succeeds. After the rename it opens to the
/// new file, which holds the same vectors.
fn crash_rewrite(lab: &Lab, store: &mut RvfStore, what: &str, op: impl FnOnce(&mut RvfStore)) {
    let before = fs::read(store.path()).unwrap();
    let a = snap(store, &lab.probe);
    op(store);
    let after = fs::read(store.path()).unwrap();
    let b = snap(store, &lab.probe);
    assert_eq!(
        content(&b),
        content(&a),
        "{what}: the rewrite changed the contents"
    );
    assert_eq!(b.status.epoch, a.status.epoch + 1, "{what}");
    let img = lab.image();
    let mut tmp_name = img.file_name().unwrap().to_os_string();
    tmp_name.push(".compact-tmp");
    let tmp = img.with_file_name(tmp_name);
    assert!(!store
        .path()
        .with_file_name(tmp.file_name().unwrap())
        .exists());
    let mut cuts: BTreeSet<usize> = [0, 1, 511, 512, 640, 1023, after.len()].into();
    let mut off = ROOT_AREA;
    while off < after.len() {
        let h = SegmentHeader::decode(&after[off..]).unwrap();
        let end = off + h.total_len() as usize;
        cuts.extend([
            off,
            off + 1,
            off + 64,
            off + 64 + h.payload_len as usize / 2,
            end - 1,
        ]);
        off = end;
    }
    for (i, &cut) in cuts.iter().enumerate() {
        let label = format!(
            "{what}: crash with {cut} of {} bytes of the new file written",
            after.len()
        );
        fs::write(&img, &before).unwrap();
        fs::write(&tmp, &after[..cut]).unwrap();
        expect_opens_to(lab, &img, &a, before.len() as u64, &label);
        if i % 4 == 0 {
            // The leftover is replaced by the next rewrite.
            fs::write(&img, &before).unwrap();
            let mut w = RvfStore::open(&img).unwrap_or_else(|e| panic!("{label}: {e}"));
            w.compact()
                .unwrap_or_else(|e| panic!("{label}: compacting again: {e}"));
            let again = snap(&w, &lab.probe);
            assert_eq!(content(&again), content(&a), "{label}: compacting again");
            drop(w);
            assert!(!tmp.exists(), "{label}: the leftover was not removed");
        }
    }
    let _ = fs::remove_file(&tmp);
    fs::write(&img, &after).unwrap();
    expect_opens_to(
        lab,
        &img,
        &b,
        after.len() as u64,
        &format!("{what}: renamed"),
    );
    // A complete new file left beside the renamed one changes nothing either.
    fs::write(&img, &after).unwrap();
    fs::write(&tmp, &after).unwrap();
    expect_opens_to(
        lab,
        &img,
        &b,
        after.len() as u64,
        &format!("{what}: renamed, leftover"),
    );
    fs::write(&img, &after).unwrap();
    recover_and_write(lab, &img, &b, &format!("{what}: renamed"));
    let _ = fs::remove_file(&tmp);
    let _ = fs::remove_file(&img);
}

#[test]
fn crash_during_compaction_and_materialization() {
    let lab = Lab::new(ids_and(&[100, 101]));
    let mut s = base_store(&lab, "s.rvf", DistanceMetric::Cosine);
    crash_rewrite(&lab, &mut s, "root store compaction", |s| {
        s.compact().unwrap()
    });

    let p = base_store(&lab, "p.rvf", DistanceMetric::L2);
    let mut c = p.branch(&lab.path("c.rvf")).unwrap();
    drop(p);
    ingest(&mut c, &[100, 101, 7, 16, 17, 18, 19, 20, 21, 22, 23], 1);
    c.delete(&[8, 100]).unwrap();
    c.set_membership_mode(MembershipMode::Exclude).unwrap();
    c.membership_add(&[3, 12]).unwrap();
    // Materialize the grandchild first: compacting its parent drops the generation the
    // grandchild pins.
    let mut m = c.branch(&lab.path("m.rvf")).unwrap();
    crash_rewrite(&lab, &mut m, "branch materialization", |m| {
        m.materialize().unwrap()
    });
    assert!(!m.is_cow_child());
    drop(m);
    crash_rewrite(&lab, &mut c, "branch compaction", |c| c.compact().unwrap());
    assert!(c.is_cow_child());
}

// ---------------------------------------------------------------------------------------
// Many commits: journal and checkpoint
// ---------------------------------------------------------------------------------------

/// Per commit: the root area, the committed length and the state.
struct History {
    roots: Vec<Vec<u8>>,
    lens: Vec<usize>,
    snaps: Vec<Snap>,
    manifests: Vec<Manifest>,
}

impl History {
    fn new() -> History {
        History {
            roots: Vec::new(),
            lens: Vec::new(),
            snaps: Vec::new(),
            manifests: Vec::new(),
        }
    }

    fn record(&mut self, store: &RvfStore, probe: &Probe) {
        let bytes = fs::read(store.path()).unwrap();
        let s = snap(store, probe);
        assert_eq!(bytes.len() as u64, s.status.file_size);
        self.roots.push(bytes[..ROOT_AREA].to_vec());
        self.lens.push(bytes.len());
        self.manifests.push(manifest_of(&bytes));
        self.snaps.push(s);
    }

    /// Commits that replaced the journal by a checkpoint.
    fn checkpoints(&self) -> Vec<usize> {
        (1..self.manifests.len())
            .filter(|&i| {
                self.manifests[i].checkpoint_cow_map != self.manifests[i - 1].checkpoint_cow_map
            })
            .collect()
    }

    /// The file as commit `i` left it, given the final file.
    fn image_at(&self, last: &[u8], i: usize) -> Vec<u8> {
        let mut img = last[..self.lens[i]].to_vec();
        img[..ROOT_AREA].copy_from_slice(&self.roots[i]);
        img
    }

    /// Checks every commit boundary: the final file with commit `i`'s root opens to
    /// commit `i` (the later commits' bytes are an uncommitted tail), and the final file
    /// cut at commit `i`'s end under the final root is refused. Opening as a writer (and
    /// so truncating the tail) is checked on every `writer_every`-th commit and on the
    /// commits listed in `also`.
    fn check_boundaries(
        &self,
        lab: &Lab,
        last: &[u8],
        what: &str,
        writer_every: usize,
        also: &[usize],
    ) {
        let img = lab.image();
        let n = self.lens.len();
        for i in 0..n {
            let mut image = last.to_vec();
            image[..ROOT_AREA].copy_from_slice(&self.roots[i]);
            fs::write(&img, &image).unwrap();
            let label = format!(
                "{what}: commit {i} of {n} (epoch {})",
                self.snaps[i].status.epoch
            );
            if i % writer_every == 0 || i + 1 == n || also.contains(&i) {
                expect_opens_to(lab, &img, &self.snaps[i], self.lens[i] as u64, &label);
            } else {
                let ro = RvfStore::open_readonly(&img)
                    .unwrap_or_else(|e| panic!("{label}: read-only open failed: {e}"));
                assert_snap(&snap(&ro, &lab.probe), &self.snaps[i], &label);
            }
            if i + 1 < n {
                fs::write(&img, &last[..self.lens[i]]).unwrap();
                for e in [
                    RvfStore::open_readonly(&img).err(),
                    RvfStore::open(&img).err(),
                ] {
                    let e = e.unwrap_or_else(|| {
                        panic!("{label}: file cut below the final root's committed end opened")
                    });
                    assert_eq!(e.code(), "RVF_E_TRUNCATED", "{label}: {e}");
                }
            }
        }
        let _ = fs::remove_file(&img);
    }
}

/// Hundreds of small commits on a root store until the journal outgrows 64 KiB and is
/// replaced by a checkpoint (run table and dead set), then more commits on top.
#[test]
fn crash_at_commit_boundaries_across_a_checkpoint() {
    let lab = Lab::new(range(0, 200));
    let path = lab.path("big.rvf");
    let mut s = RvfStore::create(&path, opts(DistanceMetric::L2)).unwrap();
    let mut h = History::new();
    h.record(&s, &lab.probe);
    ingest(&mut s, &range(0, 200), 0);
    h.record(&s, &lab.probe);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut checkpoint_at = None;
    let mut deleted: Vec<u64> = Vec::new();
    // Small commits, each journaling one DELTA of 128 or 192 bytes: upserts of one id,
    // deletes of a few scattered ids, re-ingests of deleted ids.
    for step in 0u64.. {
        assert!(step < 3000, "no checkpoint after 3000 commits");
        match step % 4 {
            0 => {
                let victims: Vec<u64> = (0..6).map(|_| rand(200)).collect();
                let n = s.delete(&victims).unwrap().deleted;
                assert!(n <= 6);
                deleted.extend(victims);
            }
            1 if !deleted.is_empty() => {
                let mut ids = std::mem::take(&mut deleted);
                ids.sort_unstable();
                ids.dedup();
                ingest(&mut s, &ids, step);
            }
            _ => ingest(&mut s, &[rand(200)], step),
        }
        h.record(&s, &lab.probe);
        if checkpoint_at.is_none() {
            checkpoint_at = h.checkpoints().first().copied();
        }
        if checkpoint_at.is_some_and(|c| h.lens.len() > c + 6) {
            break;
        }
    }
    let c = checkpoint_at.unwrap();
    let m = &h.manifests[c];
    assert_eq!(m.journal_count, 0, "a checkpoint empties the journal");
    assert!(
        !m.checkpoint_dead_set.is_none(),
        "the checkpoint holds the dead set"
    );
    // The commit before the checkpoint left the journal just under the 64 KiB trigger.
    assert!(h.manifests[c - 1].journal_bytes > 60 * 1024);
    assert!(
        h.manifests.last().unwrap().journal_count > 0,
        "journal resumed"
    );
    drop(s);
    let last = fs::read(&path).unwrap();
    h.check_boundaries(&lab, &last, "root store", 16, &[c - 1, c, c + 1]);
    // Torn roots and cuts inside the checkpoint commit and the first delta after it.
    for i in [c, c + 1] {
        let commit = Commit {
            before: &h.image_at(&last, i - 1),
            after: &h.image_at(&last, i),
            a: &h.snaps[i - 1],
            b: &h.snaps[i],
            between: &[],
        };
        crash_commit(&lab, &format!("commit {i}"), &commit, Cuts::Boundaries);
    }
}

/// A branch whose membership journal outgrows 64 KiB: the checkpoint then holds its run
/// table, dead set and membership filter. Every byte of the checkpoint commit is cut.
#[test]
fn crash_during_branch_checkpoint() {
    let lab = Lab::new(ids_and(&range(500, 510)));
    let p = base_store(&lab, "p.rvf", DistanceMetric::Cosine);
    let mut c = p.branch(&lab.path("c.rvf")).unwrap();
    drop(p);
    let mut h = History::new();
    h.record(&c, &lab.probe);
    ingest(&mut c, &range(500, 510), 1);
    h.record(&c, &lab.probe);
    c.delete(&[1, 2, 3, 503]).unwrap();
    h.record(&c, &lab.probe);
    c.membership_add(&[7, 8]).unwrap();
    h.record(&c, &lab.probe);
    // Scattered ids far apart cost about ten bytes each in a membership delta. They are
    // added and removed in turn; the commit that crosses the checkpoint trigger is made a
    // removal, so the checkpoint's filter stays small (and every byte of it is cut below).
    let far: Vec<u64> = (1..=1000u64).map(|i| (i << 52) | (i * 7919)).collect();
    let far_delta = rvf_format::Delta {
        members_added: rvf_format::spans_of(&far),
        ..Default::default()
    }
    .encode()
    .len() as u64
        + 64;
    let mut checkpoint_at = None;
    for round in 0..40 {
        let m = h.manifests.last().unwrap();
        // The runtime's checkpoint rule: the journal may reach half the checkpoint.
        let triggers = m.journal_bytes + far_delta > (m.checkpoint_bytes / 2).max(64 * 1024);
        if round % 2 == 0 && !triggers {
            c.membership_add(&far).unwrap();
        } else {
            c.membership_remove(&far).unwrap();
        }
        h.record(&c, &lab.probe);
        if checkpoint_at.is_none() {
            checkpoint_at = h.checkpoints().first().copied();
        }
        if checkpoint_at.is_some_and(|i| h.lens.len() > i + 3 && round % 2 == 1) {
            break;
        }
    }
    let cp = checkpoint_at.expect("membership journal reached a checkpoint");
    let m = &h.manifests[cp];
    assert!(!m.checkpoint_dead_set.is_none());
    assert!(!m.checkpoint_membership.is_none());
    assert_eq!(m.journal_count, 0);
    drop(c);
    let last = fs::read(lab.path("c.rvf")).unwrap();
    h.check_boundaries(&lab, &last, "branch", 1, &[]);
    let commit = Commit {
        before: &h.image_at(&last, cp - 1),
        after: &h.image_at(&last, cp),
        a: &h.snaps[cp - 1],
        b: &h.snaps[cp],
        between: &[],
    };
    crash_commit(&lab, "branch checkpoint commit", &commit, Cuts::Boundaries);
}
