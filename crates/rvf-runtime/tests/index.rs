//! The ANN index through the store: recall, persistence, writes searchable at once,
//! deletes and upserts, branches sharing their ancestors' graphs, compaction, filters,
//! the background builder, and a store with the index off.

mod common;

use std::path::Path;

use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{
    FilterExpr, IndexOptions, MembershipMode, MetaValue, Metadata, QueryOptions, RvfOptions,
    RvfStore,
};
use tempfile::TempDir;

const DIM: usize = 16;

/// Clustered points spread in a 4-dimensional subspace (low intrinsic dimension, as
/// text embeddings have), plus a little noise.
fn point(i: u64, version: u64) -> Vec<f32> {
    let r = |k: u64| common::random_vector(i * 31 + k, version, DIM);
    let centre = common::random_vector(i % 40, 7_777, DIM);
    let (a, b, c, d) = (r(1), r(2), r(3), r(4));
    (0..DIM)
        .map(|j| centre[j] * 6.0 + a[0] * b[j] * 2.0 + c[1] * d[j] * 2.0 + a[j] * 0.05)
        .collect()
}

fn tagged(i: u64) -> Metadata {
    let mut m = Metadata::new();
    m.insert("pct".into(), MetaValue::Int((i % 100) as i64));
    m
}

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

fn ingest(s: &mut RvfStore, ids: std::ops::Range<u64>, version: u64) {
    let flat: Vec<f32> = ids.clone().flat_map(|i| point(i, version)).collect();
    let idv: Vec<u64> = ids.clone().collect();
    let metas: Vec<Metadata> = ids.map(tagged).collect();
    s.ingest_flat(&flat, &idv, Some(&metas)).unwrap();
}

fn exact() -> QueryOptions {
    QueryOptions {
        exact: true,
        ..Default::default()
    }
}

/// recall@k of the default (indexed) path against the exact scan, over `queries`.
fn recall(s: &RvfStore, queries: &[Vec<f32>], k: usize, options: &QueryOptions) -> f64 {
    let mut hits = 0usize;
    let mut total = 0usize;
    for q in queries {
        let truth = s
            .query(
                q,
                k,
                &QueryOptions {
                    exact: true,
                    ..options.clone()
                },
            )
            .unwrap();
        let got = s.query(q, k, options).unwrap();
        // Every answer is a true one at its exact distance: a hit is an id of the truth.
        hits += got
            .iter()
            .filter(|g| truth.iter().any(|t| t.id == g.id))
            .count();
        total += truth.len();
    }
    hits as f64 / total.max(1) as f64
}

fn queries(n: u64) -> Vec<Vec<f32>> {
    (0..n).map(|i| point(1_000_000 + i, 3)).collect()
}

#[test]
fn recall_at_10_at_the_default_ef_for_every_metric() {
    let dir = TempDir::new().unwrap();
    for metric in [
        DistanceMetric::L2,
        DistanceMetric::InnerProduct,
        DistanceMetric::Cosine,
    ] {
        let path = dir.path().join(format!("{metric:?}.rvf"));
        let mut s = create(&path, metric);
        ingest(&mut s, 0..10_000, 0);
        s.build_index().unwrap();
        let st = s.index_status().unwrap();
        assert_eq!(
            (st.indexed_vectors, st.pending_vectors),
            (10_000, 0),
            "{metric:?}"
        );
        assert!(st.bytes > 0);
        let r = recall(&s, &queries(100), 10, &QueryOptions::default());
        assert!(r >= 0.95, "{metric:?}: recall@10 {r}");
    }
}

/// A store grown in steps holds several graphs; each is searched as broadly as its
/// share of the nodes warrants (`sqrt(share)` of `ef`, never below `k`), which must not
/// cost recall, whatever the shares.
#[test]
fn graphs_of_every_share_keep_recall() {
    let dir = TempDir::new().unwrap();
    // A build absorbs the graph before it unless that one is over 4 times larger.
    for (i, steps) in [vec![8_000u64, 1_500], vec![6_000, 1_400, 300, 60]]
        .into_iter()
        .enumerate()
    {
        let mut s = create(&dir.path().join(format!("{i}.rvf")), DistanceMetric::L2);
        let mut next = 0;
        for n in &steps {
            ingest(&mut s, next..next + n, 0);
            next += n;
            s.build_index().unwrap();
        }
        assert_eq!(s.index_status().unwrap().graphs, steps.len());
        let r = recall(&s, &queries(100), 10, &QueryOptions::default());
        assert!(r >= 0.95, "graphs of {steps:?}: recall@10 {r}");
    }
}

/// A branch with 1 % of its vectors upserted and indexed in its own graph answers as
/// well as its parent (the bound: within 0.01 recall@10).
#[test]
fn a_branch_with_one_percent_upserted_keeps_its_parents_recall() {
    let dir = TempDir::new().unwrap();
    for metric in [DistanceMetric::L2, DistanceMetric::InnerProduct] {
        let mut p = create(&dir.path().join(format!("p{metric:?}.rvf")), metric);
        ingest(&mut p, 0..10_000, 0);
        p.build_index().unwrap();
        let mut c = p
            .branch(&dir.path().join(format!("c{metric:?}.rvf")))
            .unwrap();
        let ids: Vec<u64> = (0..10_000).step_by(100).collect();
        let flat: Vec<f32> = ids
            .iter()
            .flat_map(|&i| point(i, 0).into_iter().map(|x| x + 0.001))
            .collect();
        c.ingest_flat(&flat, &ids, None).unwrap();
        c.build_index().unwrap();
        assert_eq!(c.index_status().unwrap().pending_vectors, 0);
        let qs = queries(200);
        for ef in [16, 32] {
            let options = QueryOptions {
                ef_search: Some(ef),
                ..Default::default()
            };
            let (rp, rc) = (recall(&p, &qs, 10, &options), recall(&c, &qs, 10, &options));
            assert!(
                rc >= rp - 0.01,
                "{metric:?} ef {ef}: child {rc}, parent {rp}"
            );
        }
    }
}

#[test]
fn the_index_persists_and_new_writes_are_searchable_at_once() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("p.rvf");
    let mut s = create(&path, DistanceMetric::L2);
    ingest(&mut s, 0..6_000, 0);
    s.close().unwrap(); // indexes at close: 6,000 pending is worth a graph
    let qs = queries(30);
    let answers = |s: &RvfStore| -> Vec<_> {
        qs.iter()
            .map(|q| s.query(q, 10, &Default::default()).unwrap())
            .collect()
    };
    let first = answers(&RvfStore::open_readonly(&path).unwrap());
    let mut s = RvfStore::open(&path).unwrap();
    let st = s.index_status().unwrap();
    assert_eq!(
        (st.indexed_vectors, st.pending_vectors, st.graphs),
        (6_000, 0, 1)
    );
    assert_eq!(answers(&s), first, "the graph read back answers as it did");
    // New vectors, pending: found by the scan that runs beside the graph.
    ingest(&mut s, 6_000..6_100, 0);
    assert_eq!(s.index_status().unwrap().pending_vectors, 100);
    for i in [6_000u64, 6_050, 6_099] {
        let hits = s.query(&point(i, 0), 1, &Default::default()).unwrap();
        assert_eq!(hits[0].id, i);
    }
    // Upserts and deletes: the old vectors may still route, never come back.
    ingest(&mut s, 0..500, 9);
    s.delete(&(500..1_000).collect::<Vec<_>>()).unwrap();
    for q in &qs {
        for hit in s.query(q, 20, &Default::default()).unwrap() {
            assert!(!(500..1_000).contains(&hit.id));
            if hit.id < 500 {
                let d = rvf_runtime::distance(DistanceMetric::L2, q, &point(hit.id, 9));
                assert_eq!(
                    d, hit.distance,
                    "an upserted id is scored by its new vector"
                );
            }
        }
    }
    assert!(recall(&s, &qs, 10, &Default::default()) >= 0.95);
}

#[test]
fn branches_search_their_ancestors_graphs() {
    let dir = TempDir::new().unwrap();
    let mut p = create(&dir.path().join("p.rvf"), DistanceMetric::Cosine);
    ingest(&mut p, 0..8_000, 0);
    p.build_index().unwrap();
    let parent_bytes = p.index_status().unwrap().bytes;
    let mut c = p.branch(&dir.path().join("c.rvf")).unwrap();
    let st = c.index_status().unwrap();
    assert_eq!(
        (st.indexed_vectors, st.bytes),
        (8_000, 0),
        "the child copies no graph"
    );
    assert!(std::fs::metadata(c.path()).unwrap().len() < 10_000);
    // 1 % upserted in the child, some deleted, a membership exclusion.
    ingest(&mut c, 0..80, 5);
    c.delete(&(100..150).collect::<Vec<_>>()).unwrap();
    c.membership_add(&(200..300).collect::<Vec<_>>()).unwrap();
    let qs = queries(60);
    assert!(recall(&c, &qs, 10, &Default::default()) >= 0.95);
    for q in &qs {
        for hit in c.query(q, 30, &Default::default()).unwrap() {
            assert!(!(100..150).contains(&hit.id) && !(200..300).contains(&hit.id));
        }
    }
    // The parent's later writes are invisible to the child; a grandchild sees both
    // graphs' vectors through the chain.
    ingest(&mut p, 8_000..8_500, 0);
    let mut g = c.branch(&dir.path().join("g.rvf")).unwrap();
    ingest(&mut g, 9_000..9_200, 0);
    g.build_index().unwrap();
    // The grandparent's graph and the grandchild's own (the child built none).
    let gs = g.index_status().unwrap();
    assert_eq!((gs.indexed_vectors, gs.graphs), (8_200, 2), "{gs:?}");
    assert!(recall(&g, &qs, 10, &Default::default()) >= 0.95);
    for q in &qs {
        for hit in g.query(q, 30, &Default::default()).unwrap() {
            assert!(!(8_000..8_500).contains(&hit.id), "a parent write leaked");
        }
    }
    drop((c, g));
    let g = RvfStore::open_readonly(&dir.path().join("g.rvf")).unwrap();
    assert_eq!(g.index_status().unwrap().graphs, 2);
    assert!(recall(&g, &qs, 10, &Default::default()) >= 0.95);
    assert_eq!(
        p.index_status().unwrap().bytes,
        parent_bytes,
        "the children left the parent alone"
    );
}

#[test]
fn compaction_and_materialization_keep_a_valid_index() {
    let dir = TempDir::new().unwrap();
    let mut s = create(&dir.path().join("s.rvf"), DistanceMetric::L2);
    ingest(&mut s, 0..5_000, 0);
    s.build_index().unwrap();
    s.delete(&(0..2_500).collect::<Vec<_>>()).unwrap();
    s.compact().unwrap();
    let st = s.index_status().unwrap();
    assert_eq!((st.indexed_vectors, st.pending_vectors), (2_500, 0));
    let qs = queries(40);
    assert!(recall(&s, &qs, 10, &Default::default()) >= 0.95);
    let mut c = s.branch(&dir.path().join("c.rvf")).unwrap();
    ingest(&mut c, 10_000..10_300, 0);
    c.materialize().unwrap();
    let st = c.index_status().unwrap();
    assert_eq!((st.indexed_vectors, st.pending_vectors), (2_800, 0));
    assert!(recall(&c, &qs, 10, &Default::default()) >= 0.95);
}

#[test]
fn filters_keep_recall_at_every_selectivity() {
    let dir = TempDir::new().unwrap();
    let mut s = create(&dir.path().join("f.rvf"), DistanceMetric::L2);
    ingest(&mut s, 0..20_000, 0);
    s.build_index().unwrap();
    let qs = queries(40);
    for pct in [50i64, 10, 1] {
        let f = FilterExpr::lt("pct", MetaValue::Int(pct));
        let options = QueryOptions {
            filter: Some(f),
            ..Default::default()
        };
        let r = recall(&s, &qs, 10, &options);
        assert!(r >= 0.95, "{pct} %: recall@10 {r}");
    }
    // A branch showing 10 % of the parent through its membership filter.
    let mut c = s.branch(&dir.path().join("c.rvf")).unwrap();
    c.set_membership_mode(MembershipMode::Include).unwrap();
    c.membership_add(&(0..20_000).step_by(10).collect::<Vec<_>>())
        .unwrap();
    assert!(recall(&c, &qs, 10, &Default::default()) >= 0.95);
}

#[test]
fn queries_run_while_the_background_builds() {
    let dir = TempDir::new().unwrap();
    let mut s = RvfStore::create(
        &dir.path().join("b.rvf"),
        RvfOptions {
            dimension: 4,
            index: Some(IndexOptions {
                m: 8,
                ef_construction: 40,
                ef_search: None,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let n = 60_000u64;
    let flat: Vec<f32> = (0..n).flat_map(|i| point(i, 0)[..4].to_vec()).collect();
    s.ingest_flat(&flat, &(0..n).collect::<Vec<_>>(), None)
        .unwrap();
    assert!(
        s.index_status().unwrap().building,
        "60,000 pending vectors start a build"
    );
    // Queries go on meanwhile, exact over the pending vectors.
    let mut seen_building = 0;
    for i in 0..2_000u64 {
        let q = &flat[(i as usize % 1000) * 4..(i as usize % 1000) * 4 + 4];
        let hits = s.query(q, 1, &Default::default()).unwrap();
        assert_eq!(hits[0].distance, 0.0);
        seen_building += usize::from(s.index_status().unwrap().building);
        if !s.index_status().unwrap().building {
            break;
        }
    }
    assert!(seen_building > 0);
    // The next commit writes what the background built.
    s.build_index().unwrap();
    let st = s.index_status().unwrap();
    assert_eq!(
        (st.indexed_vectors, st.pending_vectors, st.unwritten_graphs),
        (n, 0, 0)
    );
}

#[test]
fn a_store_with_the_index_off_keeps_it_off() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("off.rvf");
    let mut s = RvfStore::create(
        &path,
        RvfOptions {
            dimension: DIM as u16,
            index: None,
            ..Default::default()
        },
    )
    .unwrap();
    ingest(&mut s, 0..5_000, 0);
    s.build_index().unwrap();
    assert!(s.index_status().is_none());
    s.close().unwrap();
    let s = RvfStore::open(&path).unwrap();
    assert!(s.index_status().is_none());
    let q = point(77, 0);
    assert_eq!(
        s.query(&q, 5, &Default::default()).unwrap(),
        s.query(&q, 5, &exact()).unwrap()
    );
    let c = s.branch(&dir.path().join("c.rvf")).unwrap();
    assert!(c.index_status().is_none(), "branches inherit the setting");
}

/// Cuts the file at every segment boundary (and inside each segment) of an index
/// build's commit: it reopens to the state before the build or after it, and answers
/// exact queries the same either way.
#[test]
fn a_crash_during_an_index_commit_leaves_the_old_index_or_the_new() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.rvf");
    let mut s = create(&path, DistanceMetric::L2);
    ingest(&mut s, 0..3_000, 0);
    drop(s);
    let before = std::fs::read(&path).unwrap();
    let mut s = RvfStore::open(&path).unwrap();
    s.build_index().unwrap();
    drop(s);
    let after = std::fs::read(&path).unwrap();
    assert!(after.len() > before.len());
    let q = point(123, 0);
    let want = RvfStore::open_readonly(&path)
        .unwrap()
        .query(&q, 10, &exact())
        .unwrap();
    let img = dir.path().join("img.rvf");
    let cuts: Vec<usize> = (before.len()..after.len())
        .step_by(997)
        .chain([after.len() - 1])
        .collect();
    for cut in cuts {
        // The tail beyond the old end, and the new root slot only once complete.
        let mut bytes = after[..cut].to_vec();
        bytes[..1024].copy_from_slice(&before[..1024]);
        std::fs::write(&img, &bytes).unwrap();
        let s = RvfStore::open(&img).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(s.query(&q, 10, &exact()).unwrap(), want, "cut {cut}");
        let st = s.index_status().unwrap();
        assert_eq!(
            st.indexed_vectors, 0,
            "cut {cut}: an unpublished graph was used"
        );
    }
    let s = RvfStore::open(&path).unwrap();
    assert_eq!(s.index_status().unwrap().indexed_vectors, 3_000);
    assert_eq!(s.query(&q, 10, &exact()).unwrap(), want);
}
