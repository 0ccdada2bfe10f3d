//! Copy-on-write branches: inheritance, isolation, persistence, lineage, freeze,
//! relocation, missing parents, compaction and disk growth.

mod common;

use std::path::Path;

use common::vector;
use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{MembershipMode, OpenOptions, QueryOptions, RvfOptions, RvfStore};
use tempfile::TempDir;

const DIM: usize = 16;

fn make_parent(path: &Path, n: u64) -> RvfStore {
    let mut s = RvfStore::create(
        path,
        RvfOptions {
            dimension: DIM as u16,
            metric: DistanceMetric::L2,
            ..Default::default()
        },
    )
    .unwrap();
    let vecs: Vec<Vec<f32>> = (0..n).map(|i| vector(i, DIM)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(|v| v.as_slice()).collect();
    let ids: Vec<u64> = (0..n).collect();
    s.ingest_batch(&refs, &ids, None).unwrap();
    s
}

fn top(s: &RvfStore, seed: u64) -> Vec<(u64, f32)> {
    s.query(&vector(seed, DIM), 10, &QueryOptions::default())
        .unwrap()
        .iter()
        .map(|r| (r.id, r.distance))
        .collect()
}

#[test]
fn child_answers_like_parent_across_reopen_and_generations() {
    let dir = TempDir::new().unwrap();
    let parent = make_parent(&dir.path().join("base.rvf"), 500);
    let child = parent.branch(&dir.path().join("child.rvf")).unwrap();
    let grandchild = child.branch(&dir.path().join("gc.rvf")).unwrap();
    for seed in [42, 7, 1234] {
        assert_eq!(top(&child, seed), top(&parent, seed));
        assert_eq!(top(&grandchild, seed), top(&parent, seed));
    }
    let stats = child.cow_stats().unwrap();
    assert_eq!(stats.local_cluster_count, 0);
    assert!(
        child.status().file_size <= 4096,
        "child is {} bytes",
        child.status().file_size
    );
    assert_eq!(child.parent_id(), parent.file_id());
    assert_eq!(grandchild.parent_id(), child.file_id());
    assert_eq!(grandchild.lineage_depth(), 2);
    let expected = top(&parent, 42);
    drop((child, grandchild));
    parent.close().unwrap();
    let child = RvfStore::open(&dir.path().join("child.rvf")).unwrap();
    let grandchild = RvfStore::open_readonly(&dir.path().join("gc.rvf")).unwrap();
    assert_eq!(top(&child, 42), expected);
    assert_eq!(top(&grandchild, 42), expected);
    assert!(child.is_cow_child());
    assert_eq!(child.membership_filter().unwrap().member_count(), 500);
    assert_eq!(child.membership_filter().unwrap().vector_count(), 500);
}

#[test]
fn writes_are_isolated_both_ways() {
    let dir = TempDir::new().unwrap();
    let mut parent = make_parent(&dir.path().join("p.rvf"), 300);
    let mut child = parent.branch(&dir.path().join("c.rvf")).unwrap();
    parent.delete(&[1, 2]).unwrap();
    parent
        .ingest_batch(&[&vector(77_777, DIM)], &[3], None)
        .unwrap();
    child.delete(&[10]).unwrap();
    child
        .ingest_batch(&[&vector(5555, DIM)], &[1000], None)
        .unwrap();
    assert!(child.get(1).unwrap().is_some());
    assert_eq!(child.get(3).unwrap().unwrap().vector, vector(3, DIM));
    assert!(child.get(10).unwrap().is_none());
    assert!(parent.get(10).unwrap().is_some());
    assert!(parent.get(1000).unwrap().is_none());
    assert_eq!(child.status().total_vectors, 300);
    assert_eq!(parent.status().total_vectors, 298);
    // Re-ingesting an id deleted in the child brings it back, as in a standalone store.
    child
        .ingest_batch(&[&vector(10, DIM)], &[10], None)
        .unwrap();
    assert_eq!(child.get(10).unwrap().unwrap().vector, vector(10, DIM));
}

#[test]
fn small_updates_stay_small_and_big_rewrites_copy_one_cluster() {
    let dir = TempDir::new().unwrap();
    let parent = make_parent(&dir.path().join("p.rvf"), 2000);
    let vpc = parent.cow_stats().unwrap().vectors_per_cluster as u64;
    assert_eq!(vpc, 1024);
    // A few updates inside one inherited cluster: stored in one local cluster.
    let mut child = parent.branch(&dir.path().join("c1.rvf")).unwrap();
    let before = child.status().file_size;
    let ids = [3u64, 9, 27];
    let vecs: Vec<Vec<f32>> = ids.iter().map(|i| vector(i + 50_000, DIM)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(|v| v.as_slice()).collect();
    child.ingest_batch(&refs, &ids, None).unwrap();
    assert_eq!(child.cow_stats().unwrap().local_cluster_count, 1);
    let grown = child.status().file_size - before;
    assert!(grown < 4096, "3 updates grew the child by {grown} bytes");
    // Rewriting most of cluster 0 copies that cluster once (a slab copy).
    let mut child2 = parent.branch(&dir.path().join("c2.rvf")).unwrap();
    let ids: Vec<u64> = (0..800).collect();
    let vecs: Vec<Vec<f32>> = ids.iter().map(|i| vector(i + 90_000, DIM)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(|v| v.as_slice()).collect();
    child2.ingest_batch(&refs, &ids, None).unwrap();
    let stats = child2.cow_stats().unwrap();
    assert_eq!(
        stats.local_cluster_count, 1,
        "one copied cluster, no appended one"
    );
    assert_eq!(child2.get(5).unwrap().unwrap().vector, vector(90_005, DIM));
    assert_eq!(child2.get(900).unwrap().unwrap().vector, vector(900, DIM));
    assert_eq!(parent.get(5).unwrap().unwrap().vector, vector(5, DIM));
    let copy_bytes = child2.status().file_size;
    assert!(
        copy_bytes < 2 * 800 * DIM as u64 * 4 + 16 * 1024,
        "slab copy wrote {copy_bytes} bytes"
    );
    child2.close().unwrap();
    let child2 = RvfStore::open(&dir.path().join("c2.rvf")).unwrap();
    assert_eq!(child2.get(5).unwrap().unwrap().vector, vector(90_005, DIM));
    assert_eq!(child2.status().total_vectors, 2000);
}

#[test]
fn membership_filter_modes_persist() {
    let dir = TempDir::new().unwrap();
    let parent = make_parent(&dir.path().join("p.rvf"), 100);
    let mut child = parent.branch(&dir.path().join("c.rvf")).unwrap();
    child
        .ingest_batch(&[&vector(1, DIM)], &[500], None)
        .unwrap();
    child.set_membership_mode(MembershipMode::Include).unwrap();
    // Empty include: no inherited vector is visible; the child's own vector still is.
    assert_eq!(child.status().total_vectors, 1);
    child.membership_add(&[4, 5, 6]).unwrap();
    assert_eq!(child.status().total_vectors, 4);
    let f = child.membership_filter().unwrap();
    assert_eq!(
        (f.mode(), f.member_count(), f.vector_count()),
        (MembershipMode::Include, 3, 100)
    );
    child.close().unwrap();
    let mut child = RvfStore::open(&dir.path().join("c.rvf")).unwrap();
    assert_eq!(child.status().total_vectors, 4);
    assert!(child.get(4).unwrap().is_some() && child.get(7).unwrap().is_none());
    child.set_membership_mode(MembershipMode::Exclude).unwrap();
    child.membership_add(&[1]).unwrap();
    assert_eq!(child.status().total_vectors, 100);
    assert!(child.get(1).unwrap().is_none());
}

#[test]
fn freeze_is_persistent_and_branchable() {
    let dir = TempDir::new().unwrap();
    let mut parent = make_parent(&dir.path().join("p.rvf"), 50);
    parent.freeze().unwrap();
    assert!(parent.cow_stats().unwrap().frozen);
    let e = parent.delete(&[1]).unwrap_err();
    assert_eq!(e.code(), "RVF_E_FROZEN");
    let mut child = parent.branch(&dir.path().join("c.rvf")).unwrap();
    child.delete(&[1]).unwrap();
    parent.close().unwrap();
    let mut parent = RvfStore::open(&dir.path().join("p.rvf")).unwrap();
    assert!(parent.is_frozen());
    assert_eq!(
        parent
            .ingest_batch(&[&vector(1, DIM)], &[1], None)
            .unwrap_err()
            .code(),
        "RVF_E_FROZEN"
    );
    assert_eq!(parent.compact().unwrap_err().code(), "RVF_E_FROZEN");
    assert_eq!(child.status().total_vectors, 49);
}

#[test]
fn relocated_family_opens_and_missing_parent_fails_clearly() {
    let dir = TempDir::new().unwrap();
    let a = dir.path().join("a");
    std::fs::create_dir(&a).unwrap();
    let parent = make_parent(&a.join("p.rvf"), 64);
    let expected = top(&parent, 9);
    let child = parent.branch(&a.join("c.rvf")).unwrap();
    drop(child);
    parent.close().unwrap();
    // Move the whole family: the relative path still finds the parent.
    let b = dir.path().join("b");
    std::fs::rename(&a, &b).unwrap();
    let child = RvfStore::open(&b.join("c.rvf")).unwrap();
    assert_eq!(top(&child, 9), expected);
    drop(child);
    // Move only the parent: not found, with the paths tried in the message...
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::rename(b.join("p.rvf"), elsewhere.join("renamed.rvf")).unwrap();
    let err = RvfStore::open(&b.join("c.rvf")).unwrap_err();
    assert_eq!(err.code(), "RVF_E_PARENT_MISSING");
    assert!(err.to_string().contains("p.rvf"), "{err}");
    // ...until the caller names a directory to search, matched by file id.
    let child = RvfStore::open_with(
        &b.join("c.rvf"),
        OpenOptions {
            parent_search_paths: vec![elsewhere.clone()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(top(&child, 9), expected);
    // Another store in the parent's place is not mistaken for it.
    drop(child);
    make_parent(&b.join("p.rvf"), 64).close().unwrap();
    let err = RvfStore::open(&b.join("c.rvf")).unwrap_err();
    assert_eq!(err.code(), "RVF_E_PARENT_MISSING");
}

#[test]
fn compacting_parent_breaks_child_clearly_and_child_compaction_keeps_it_a_child() {
    let dir = TempDir::new().unwrap();
    let mut parent = make_parent(&dir.path().join("p.rvf"), 300);
    let mut child = parent.branch(&dir.path().join("c.rvf")).unwrap();
    for i in 0..20u64 {
        child
            .ingest_batch(&[&vector(i + 7000, DIM)], &[i * 3], None)
            .unwrap();
    }
    child.delete(&[100, 101]).unwrap();
    let expected = top(&child, 5);
    let ids = child.ids().unwrap();
    child.compact().unwrap();
    assert!(child.is_cow_child());
    assert_eq!(top(&child, 5), expected);
    assert_eq!(child.ids().unwrap(), ids);
    child.close().unwrap();
    let child = RvfStore::open(&dir.path().join("c.rvf")).unwrap();
    assert_eq!(top(&child, 5), expected);
    drop(child);
    // Materialize: the child no longer needs its parent.
    let mut child = RvfStore::open(&dir.path().join("c.rvf")).unwrap();
    let id = *child.file_id();
    child.materialize().unwrap();
    assert!(!child.is_cow_child());
    assert_eq!(child.file_id(), &id);
    child.close().unwrap();
    // Compacting the parent drops the generation a second child pinned.
    let other = parent.branch(&dir.path().join("other.rvf")).unwrap();
    drop(other);
    parent.delete(&[1]).unwrap();
    parent.compact().unwrap();
    assert_eq!(parent.status().total_vectors, 299);
    let err = RvfStore::open(&dir.path().join("other.rvf")).unwrap_err();
    assert_eq!(err.code(), "RVF_E_PARENT_MISMATCH", "{err}");
    let standalone = RvfStore::open(&dir.path().join("c.rvf")).unwrap();
    assert_eq!(top(&standalone, 5), expected);
}

#[test]
fn lineage_depth_is_bounded() {
    let dir = TempDir::new().unwrap();
    let mut current = make_parent(&dir.path().join("g0.rvf"), 4);
    for depth in 1..=64u16 {
        let next = current
            .branch(&dir.path().join(format!("g{depth}.rvf")))
            .unwrap();
        assert_eq!(next.lineage_depth(), depth);
        current = next;
    }
    let err = current
        .branch(&dir.path().join("too_deep.rvf"))
        .unwrap_err();
    assert_eq!(err.code(), "RVF_E_LINEAGE_DEPTH");
    drop(current);
    let reopened = RvfStore::open(&dir.path().join("g64.rvf")).unwrap();
    assert_eq!(reopened.status().total_vectors, 4);
}
