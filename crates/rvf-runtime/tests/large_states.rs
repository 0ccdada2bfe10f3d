//! The large and regular states a user makes with ordinary calls — contiguous id ranges,
//! big sets, deep lineages — written, closed and reopened. A release once refused to
//! open any file holding a deleted range of more than ~180 ids: its reader bounded a
//! range-coded set by the set's encoded size, which ranges compress. Each case here
//! reopens both read-write and read-only and compares with the brute-force model.

mod common;

use std::path::Path;

use common::{check, random_vector, Model};
use rvf_format::{choose_root, read_segment, Manifest, RunKind, RunTable, SegmentType};
use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{Durability, MembershipMode, OpenOptions, RvfError, RvfOptions, RvfStore};
use tempfile::TempDir;

const DIM: usize = 4;

fn create(path: &Path, metric: DistanceMetric) -> RvfStore {
    RvfStore::create(
        path,
        RvfOptions {
            dimension: DIM as u16,
            metric,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Ingests `ids` at `version` into the store and the model.
fn ingest(store: &mut RvfStore, model: &mut Model, ids: std::ops::Range<u64>, version: u64) {
    let flat: Vec<f32> = ids
        .clone()
        .flat_map(|id| random_vector(id, version, DIM))
        .collect();
    let idv: Vec<u64> = ids.clone().collect();
    let r = store.ingest_flat(&flat, &idv, None).unwrap();
    assert_eq!(r.accepted, idv.len() as u64);
    let items: Vec<_> = ids
        .map(|id| (id, random_vector(id, version, DIM), None))
        .collect();
    model.ingest(&items);
}

fn delete(store: &mut RvfStore, model: &mut Model, ids: std::ops::Range<u64>) {
    let idv: Vec<u64> = ids.collect();
    store.delete(&idv).unwrap();
    model.delete(&idv);
}

/// Closes `store`, then checks the file against `model` opened both ways. Ids are
/// probed with `get` up to `id_space`.
fn reopen_and_check(store: RvfStore, model: &Model, metric: DistanceMetric, id_space: u64) {
    let path = store.path().to_path_buf();
    check(&store, model, metric, DIM, id_space, "before close");
    store.close().unwrap();
    for read_only in [false, true] {
        let options = OpenOptions {
            read_only,
            ..Default::default()
        };
        let s = RvfStore::open_with(&path, options)
            .unwrap_or_else(|e| panic!("{} does not reopen: {e}", path.display()));
        check(
            &s,
            model,
            metric,
            DIM,
            id_space,
            &format!("reopened, read_only {read_only}"),
        );
    }
}

#[test]
fn range_delete_in_a_root_store_reopens() {
    let dir = TempDir::new().unwrap();
    let mut s = create(&dir.path().join("a.rvf"), DistanceMetric::L2);
    let mut model = Model::default();
    ingest(&mut s, &mut model, 0..3000, 0);
    delete(&mut s, &mut model, 100..400);
    reopen_and_check(s, &model, DistanceMetric::L2, 3100);
}

#[test]
fn fifty_range_deletes_on_twenty_thousand_vectors_reopen() {
    let dir = TempDir::new().unwrap();
    let mut s = create(&dir.path().join("a.rvf"), DistanceMetric::Cosine);
    let mut model = Model::default();
    ingest(&mut s, &mut model, 0..20_000, 0);
    for k in 0..50 {
        delete(&mut s, &mut model, k * 400..k * 400 + 250);
    }
    reopen_and_check(s, &model, DistanceMetric::Cosine, 20_100);
}

/// A long history: thousands of small commits leave thousands of runs, whose table a
/// reopened store reads in place from the file. Writes after the reopen add runs to it,
/// a checkpoint writes both kinds back, and a branch's slab copies (runs out of slot
/// order) sit over it.
/// The kinds of the runs in the run table of a file's newest checkpoint.
fn checkpoint_run_kinds(path: &Path) -> Vec<RunKind> {
    let bytes = std::fs::read(path).unwrap();
    let root = choose_root(&bytes[..128], &bytes[512..640]).unwrap();
    let (_, p) = read_segment(&bytes, root.manifest_offset, SegmentType::Manifest, true).unwrap();
    let m = Manifest::decode(p).unwrap();
    let (_, p) = read_segment(
        &bytes,
        m.checkpoint_cow_map.offset,
        SegmentType::CowMap,
        true,
    )
    .unwrap();
    RunTable::decode(p)
        .unwrap()
        .iter()
        .map(|d| d.kind)
        .collect()
}

#[test]
fn a_long_history_reopens_keeps_writing_and_branches() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("a.rvf");
    let mut s = RvfStore::create(
        &path,
        RvfOptions {
            dimension: DIM as u16,
            durability: Durability::OnClose,
            index: None,
            // 16 vectors a cluster, so that a child's rewrite copies whole clusters.
            cluster_bytes: 256,
            ..Default::default()
        },
    )
    .unwrap();
    let mut model = Model::default();
    let mut x = 7u64;
    for round in 0..1500u64 {
        ingest(&mut s, &mut model, round * 8..round * 8 + 8, 0);
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let victim = (x >> 33) % (round * 8 + 8);
        s.delete(&[victim]).unwrap();
        model.delete(&[victim]);
    }
    let id_space = 1500 * 8 + 100;
    reopen_and_check(s, &model, DistanceMetric::L2, id_space);

    let mut s = RvfStore::open(&path).unwrap();
    for round in 0..40u64 {
        ingest(
            &mut s,
            &mut model,
            20_000 + round * 5..20_000 + round * 5 + 5,
            1,
        );
        // Upserts of old ids: runs added over the loaded table.
        ingest(&mut s, &mut model, round * 50..round * 50 + 3, 2);
        delete(&mut s, &mut model, round * 60 + 10..round * 60 + 12);
    }
    reopen_and_check(s, &model, DistanceMetric::L2, 20_300);

    let s = RvfStore::open(&path).unwrap();
    let mut c = s.branch(&dir.path().join("c.rvf")).unwrap();
    let mut cm = model.branch();
    // Most of a cluster rewritten: the child copies it (a slab), out of slot order.
    ingest(&mut c, &mut cm, 3000..3600, 3);
    ingest(&mut c, &mut cm, 30_000..30_010, 3);
    delete(&mut c, &mut cm, 100..140);
    let child = c.path().to_path_buf();
    reopen_and_check(c, &cm, DistanceMetric::L2, 30_100);
    let kinds = checkpoint_run_kinds(&child);
    assert!(kinds.contains(&RunKind::SlabCopy) && kinds.contains(&RunKind::Append));
    reopen_and_check(s, &model, DistanceMetric::L2, 20_300);
}

#[test]
fn range_delete_in_a_branch_reopens() {
    let dir = TempDir::new().unwrap();
    let mut p = create(&dir.path().join("p.rvf"), DistanceMetric::InnerProduct);
    let mut pm = Model::default();
    ingest(&mut p, &mut pm, 0..3000, 0);
    let mut c = p.branch(&dir.path().join("c.rvf")).unwrap();
    let mut cm = pm.branch();
    delete(&mut c, &mut cm, 1000..2000);
    reopen_and_check(c, &cm, DistanceMetric::InnerProduct, 3100);
    reopen_and_check(p, &pm, DistanceMetric::InnerProduct, 3100);
}

#[test]
fn membership_ranges_reopen_in_both_modes() {
    let dir = TempDir::new().unwrap();
    let mut p = create(&dir.path().join("p.rvf"), DistanceMetric::L2);
    let mut pm = Model::default();
    ingest(&mut p, &mut pm, 0..3000, 0);
    for mode in [MembershipMode::Include, MembershipMode::Exclude] {
        let mut c = p.branch(&dir.path().join(format!("{mode:?}.rvf"))).unwrap();
        let mut cm = pm.branch();
        c.set_membership_mode(mode).unwrap();
        cm.set_mode(mode);
        let ids: Vec<u64> = (0..3000).collect();
        c.membership_add(&ids).unwrap();
        cm.members.extend(0..3000);
        c.membership_remove(&(200..700).collect::<Vec<_>>())
            .unwrap();
        for id in 200..700 {
            cm.members.remove(&id);
        }
        let expected = match mode {
            MembershipMode::Include => 2500,
            MembershipMode::Exclude => 500,
        };
        assert_eq!(c.membership_filter().unwrap().member_count(), expected);
        reopen_and_check(c, &cm, DistanceMetric::L2, 3100);
        let c = RvfStore::open(&dir.path().join(format!("{mode:?}.rvf"))).unwrap();
        assert_eq!(c.membership_filter().unwrap().member_count(), expected);
    }
}

/// Re-embedding a batch: upserting ids that were ingested together kills a contiguous
/// range of slots. 500 and 10,000 happened to pass before the fix; 600-1,000 did not.
#[test]
fn upserting_a_batch_reopens() {
    for n in [500u64, 600, 800, 1000, 10_000] {
        let dir = TempDir::new().unwrap();
        let mut s = create(&dir.path().join("a.rvf"), DistanceMetric::L2);
        let mut model = Model::default();
        ingest(&mut s, &mut model, 0..12_000, 0);
        ingest(&mut s, &mut model, 1000..1000 + n, 1);
        reopen_and_check(s, &model, DistanceMetric::L2, 12_100);
    }
}

/// `compact` of a branch that excludes a range: the rewrite is checked before it
/// replaces the file, and the result reopens with the filter.
#[test]
fn compacting_a_branch_with_an_excluded_range_reopens() {
    let dir = TempDir::new().unwrap();
    let mut p = create(&dir.path().join("p.rvf"), DistanceMetric::Cosine);
    let mut pm = Model::default();
    ingest(&mut p, &mut pm, 0..3000, 0);
    let mut c = p.branch(&dir.path().join("c.rvf")).unwrap();
    let mut cm = pm.branch();
    c.membership_add(&(100..150).collect::<Vec<_>>()).unwrap();
    cm.members.extend(100..150);
    delete(&mut c, &mut cm, 2000..2500);
    ingest(&mut c, &mut cm, 4000..4100, 1);
    c.compact().unwrap();
    check(&c, &cm, DistanceMetric::Cosine, DIM, 4200, "compacted");
    reopen_and_check(c, &cm, DistanceMetric::Cosine, 4200);
}

/// The largest sets the API makes in one call: a delete of a million consecutive ids
/// (then the rest of the store), and a membership include of a million ids.
#[test]
fn a_million_id_range_delete_and_membership_include_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("big.rvf");
    let mut s = RvfStore::create(
        &path,
        RvfOptions {
            dimension: 1,
            durability: Durability::OnClose,
            // A graph over a million one-dimensional points tests nothing here.
            index: None,
            ..Default::default()
        },
    )
    .unwrap();
    let n = 1_000_000u64;
    let ids: Vec<u64> = (0..n + 10).collect();
    let flat: Vec<f32> = ids.iter().map(|&i| i as f32).collect();
    s.ingest_flat(&flat, &ids, None).unwrap();
    let mut b = s.branch(&dir.path().join("b.rvf")).unwrap();
    b.set_membership_mode(MembershipMode::Include).unwrap();
    b.membership_add(&ids[..n as usize]).unwrap();
    assert_eq!(b.len(), n);
    b.close().unwrap();
    s.delete(&ids[..n as usize]).unwrap();
    assert_eq!(s.len(), 10);
    s.close().unwrap();

    let s = RvfStore::open(&path).unwrap();
    assert_eq!(s.ids().unwrap(), (n..n + 10).collect::<Vec<_>>());
    drop(s);
    // The branch pinned the generation before the delete.
    let b = RvfStore::open_readonly(&dir.path().join("b.rvf")).unwrap();
    assert_eq!(b.len(), n);
    assert_eq!(b.membership_filter().unwrap().member_count(), n);
    assert!(b.get(n - 1).unwrap().is_some() && b.get(n).unwrap().is_none());
    let hits = b.query(&[12_345.2], 3, &Default::default()).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        [12_345, 12_346, 12_344]
    );
}

/// A membership set may list ids no vector has, anywhere in the u64 space (the ends
/// included): it is kept as ranges, and when it lists more ids than the branch
/// inherited, counting its members walks the inherited ids instead of the listed ones.
#[test]
fn membership_listing_more_ids_than_exist() {
    let dir = TempDir::new().unwrap();
    let mut p = create(&dir.path().join("p.rvf"), DistanceMetric::L2);
    let mut pm = Model::default();
    ingest(&mut p, &mut pm, 0..500, 0);
    ingest(&mut p, &mut pm, u64::MAX - 5..u64::MAX, 0);
    let mut c = p.branch(&dir.path().join("c.rvf")).unwrap();
    let mut cm = pm.branch();
    c.set_membership_mode(MembershipMode::Exclude).unwrap();
    cm.set_mode(MembershipMode::Exclude);
    // Every inherited id but 7, 8 and 9 is excluded.
    c.membership_add(&[0, 1, 2, 3, 4, 5, 6]).unwrap();
    cm.members.extend(0..7);
    let mut all_above: Vec<u64> = (10..2000).collect();
    all_above.extend(u64::MAX - 10..=u64::MAX);
    c.membership_add(&all_above).unwrap();
    cm.members.extend(all_above.iter().copied());
    assert_eq!(c.len(), 3);
    assert_eq!(c.membership_filter().unwrap().member_count(), 3);
    reopen_and_check(c, &cm, DistanceMetric::L2, 600);
}

/// A lineage of the greatest depth allowed (64 ancestors), each generation changing a
/// little; the deepest reopens with every change, and one more branch is refused.
#[test]
fn a_lineage_of_depth_64_reopens() {
    let dir = TempDir::new().unwrap();
    let mut store = create(&dir.path().join("b0.rvf"), DistanceMetric::L2);
    let mut model = Model::default();
    ingest(&mut store, &mut model, 0..300, 0);
    for depth in 1..=64u64 {
        let mut child = store
            .branch(&dir.path().join(format!("b{depth}.rvf")))
            .unwrap();
        let mut cm = model.branch();
        ingest(&mut child, &mut cm, depth * 3..depth * 3 + 2, depth);
        delete(&mut child, &mut cm, 200 + depth..201 + depth);
        store.close().unwrap();
        store = child;
        model = cm;
    }
    assert_eq!(store.lineage_depth(), 64);
    assert!(matches!(
        store.branch(&dir.path().join("b65.rvf")),
        Err(RvfError::LineageTooDeep { max: 64 })
    ));
    reopen_and_check(store, &model, DistanceMetric::L2, 320);
}

/// A branch in a deep directory far from its parent: the relative path between them is
/// longer than the 4,096 bytes a manifest records, so only the absolute path is kept,
/// and the branch reopens through it.
#[test]
fn a_branch_whose_relative_path_is_too_long_to_record() {
    let dir = TempDir::new().unwrap();
    let deep = |c: &str, n: usize| {
        let mut p = dir.path().to_path_buf();
        for _ in 0..n {
            p.push(c);
        }
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let pdir = deep("b", 1000);
    let cdir = deep("a", 1300);
    let mut p = create(&pdir.join("p.rvf"), DistanceMetric::L2);
    let mut pm = Model::default();
    ingest(&mut p, &mut pm, 0..50, 0);
    let c = p.branch(&cdir.join("c.rvf")).unwrap();
    let cm = pm.branch();
    reopen_and_check(c, &cm, DistanceMetric::L2, 60);
}
