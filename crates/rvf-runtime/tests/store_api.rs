//! The public API of a root store: create, ingest, query, get, delete, reopen, errors.

mod common;

use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{
    Durability, FilterExpr, MetaValue, Metadata, OpenOptions, QueryOptions, RvfError, RvfOptions,
    RvfStore,
};
use tempfile::TempDir;

fn vec_for(id: u64, dim: usize) -> Vec<f32> {
    common::random_vector(id, 0, dim)
}

fn opts(dim: u16, metric: DistanceMetric) -> RvfOptions {
    RvfOptions {
        dimension: dim,
        metric,
        ..Default::default()
    }
}

fn ingest_range(store: &mut RvfStore, ids: std::ops::Range<u64>, dim: usize) {
    let vecs: Vec<Vec<f32>> = ids.clone().map(|i| vec_for(i, dim)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(|v| v.as_slice()).collect();
    let ids: Vec<u64> = ids.collect();
    let r = store.ingest_batch(&refs, &ids, None).unwrap();
    assert_eq!(r.accepted, ids.len() as u64);
}

fn brute_force(store: &RvfStore, q: &[f32], k: usize, metric: DistanceMetric) -> Vec<(u64, f32)> {
    let mut all: Vec<(u64, f32)> = store
        .ids()
        .unwrap()
        .into_iter()
        .map(|id| {
            let v = store.get(id).unwrap().unwrap().vector;
            (id, rvf_runtime::distance(metric, q, &v))
        })
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

#[test]
fn create_ingest_query_reopen_all_metrics() {
    for metric in [
        DistanceMetric::L2,
        DistanceMetric::InnerProduct,
        DistanceMetric::Cosine,
    ] {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("s.rvf");
        let mut s = RvfStore::create(&path, opts(24, metric)).unwrap();
        ingest_range(&mut s, 0..300, 24);
        ingest_range(&mut s, 300..450, 24);
        let q = vec_for(9999, 24);
        let expected = brute_force(&s, &q, 10, metric);
        let got: Vec<(u64, f32)> = s
            .query(&q, 10, &QueryOptions::default())
            .unwrap()
            .iter()
            .map(|r| (r.id, r.distance))
            .collect();
        assert_eq!(got, expected, "{metric:?}");
        s.close().unwrap();
        let s = RvfStore::open(&path).unwrap();
        assert_eq!(s.metric(), metric);
        assert_eq!(s.status().total_vectors, 450);
        let again: Vec<(u64, f32)> = s
            .query(&q, 10, &QueryOptions::default())
            .unwrap()
            .iter()
            .map(|r| (r.id, r.distance))
            .collect();
        assert_eq!(again, expected);
        let batch = s
            .query_batch(
                &[&q, &vec_for(1, 24)],
                10,
                &QueryOptions {
                    threads: 2,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(batch[0], s.query(&q, 10, &QueryOptions::default()).unwrap());
        assert_eq!(
            batch[1],
            s.query(&vec_for(1, 24), 10, &QueryOptions::default())
                .unwrap()
        );
    }
}

/// Large enough that a batch is cut into many pieces taken by several threads, over
/// runs of uneven sizes with deletes: every thread count gives each query exactly its
/// single-query answer, which is the brute-force answer.
#[test]
fn query_batch_on_any_thread_count_equals_query() {
    for metric in [
        DistanceMetric::L2,
        DistanceMetric::InnerProduct,
        DistanceMetric::Cosine,
    ] {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("s.rvf");
        let mut s = RvfStore::create(&path, opts(20, metric)).unwrap();
        let mut next = 0;
        for len in [1500, 37, 2900, 640, 1111] {
            ingest_range(&mut s, next..next + len, 20);
            next += len;
        }
        let dead: Vec<u64> = (0..next).filter(|i| i % 7 == 3).collect();
        s.delete(&dead).unwrap();
        let queries: Vec<Vec<f32>> = (0..30).map(|i| vec_for(50_000 + i, 20)).collect();
        let refs: Vec<&[f32]> = queries.iter().map(|q| q.as_slice()).collect();
        let single: Vec<_> = refs
            .iter()
            .map(|q| s.query(q, 7, &QueryOptions::default()).unwrap())
            .collect();
        for (q, got) in refs.iter().zip(&single).take(3) {
            let got: Vec<(u64, f32)> = got.iter().map(|r| (r.id, r.distance)).collect();
            assert_eq!(got, brute_force(&s, q, 7, metric), "{metric:?}");
        }
        for threads in [1, 2, 3, 5, 64] {
            let batch = s
                .query_batch(
                    &refs,
                    7,
                    &QueryOptions {
                        threads,
                        ..Default::default()
                    },
                )
                .unwrap();
            assert_eq!(batch, single, "{metric:?}, {threads} threads");
        }
    }
}

#[test]
fn upsert_delete_reingest_and_identity_survive_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("s.rvf");
    let mut s = RvfStore::create(&path, opts(8, DistanceMetric::L2)).unwrap();
    let file_id = *s.file_id();
    ingest_range(&mut s, 0..100, 8);
    let new_v = vec![9.0f32; 8];
    s.ingest_batch(&[&new_v], &[5], None).unwrap();
    assert_eq!(s.delete(&[7, 8, 1000]).unwrap().deleted, 2);
    assert!(s.get(7).unwrap().is_none());
    s.ingest_batch(&[&vec_for(7, 8)], &[7], None).unwrap();
    s.close().unwrap();
    let s = RvfStore::open(&path).unwrap();
    assert_eq!(s.file_id(), &file_id);
    assert_eq!(s.parent_id(), &[0u8; 16]);
    assert!(!s.is_cow_child());
    assert_eq!(s.status().total_vectors, 99);
    assert_eq!(s.get(5).unwrap().unwrap().vector, new_v);
    assert_eq!(s.get(7).unwrap().unwrap().vector, vec_for(7, 8));
    assert!(s.get(8).unwrap().is_none());
    let top = s.query(&new_v, 1, &QueryOptions::default()).unwrap();
    assert_eq!(top[0].id, 5);
    assert_eq!(top[0].distance, 0.0);
}

#[test]
fn metadata_filters_and_delete_by_filter() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("m.rvf");
    let mut s = RvfStore::create(&path, opts(4, DistanceMetric::L2)).unwrap();
    let vecs: Vec<Vec<f32>> = (0..40).map(|i| vec_for(i, 4)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(|v| v.as_slice()).collect();
    let ids: Vec<u64> = (0..40).collect();
    let metas: Vec<Metadata> = (0..40)
        .map(|i| {
            let mut m = Metadata::new();
            m.insert("even".into(), MetaValue::Bool(i % 2 == 0));
            m.insert("n".into(), MetaValue::Int(i as i64));
            m.insert("tag".into(), MetaValue::Str(format!("t{}", i % 3)));
            m
        })
        .collect();
    s.ingest_batch(&refs, &ids, Some(&metas)).unwrap();
    let filter = FilterExpr::And(vec![
        FilterExpr::eq("even", MetaValue::Bool(true)),
        FilterExpr::lt("n", MetaValue::Int(10)),
    ]);
    let r = s
        .query(
            &vec_for(3, 4),
            40,
            &QueryOptions {
                filter: Some(filter),
                ..Default::default()
            },
        )
        .unwrap();
    let mut got: Vec<u64> = r.iter().map(|r| r.id).collect();
    got.sort();
    assert_eq!(got, vec![0, 2, 4, 6, 8]);
    let removed = s
        .delete_by_filter(&FilterExpr::eq("tag", MetaValue::Str("t0".into())))
        .unwrap();
    assert_eq!(removed.deleted, 14);
    s.close().unwrap();
    let s = RvfStore::open(&path).unwrap();
    assert_eq!(s.status().total_vectors, 26);
    assert_eq!(
        s.get(1).unwrap().unwrap().metadata.unwrap()["n"],
        MetaValue::Int(1)
    );
}

#[test]
fn bad_input_is_rejected_clearly() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("e.rvf");
    assert!(matches!(
        RvfStore::create(&path, opts(0, DistanceMetric::L2)),
        Err(RvfError::InvalidArgument(_))
    ));
    let mut s = RvfStore::create(&path, opts(4, DistanceMetric::L2)).unwrap();
    let e = RvfStore::create(&path, opts(4, DistanceMetric::L2)).unwrap_err();
    assert_eq!(e.code(), "RVF_E_EXISTS");
    let good = [1.0f32, 2.0, 3.0, 4.0];
    let short = [1.0f32, 2.0];
    let nan = [f32::NAN, 0.0, 0.0, 0.0];
    let r = s
        .ingest_batch(&[&good, &short, &nan], &[1, 2, 3], None)
        .unwrap();
    assert_eq!((r.accepted, r.rejected), (1, 2));
    assert!(matches!(
        s.ingest_batch(&[&good], &[1, 2], None),
        Err(RvfError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.query(&short, 3, &QueryOptions::default()),
        Err(RvfError::DimensionMismatch {
            expected: 4,
            got: 2
        })
    ));
    let locked = RvfStore::open(&path).unwrap_err();
    assert_eq!(locked.code(), "RVF_E_LOCKED");
    assert!(locked.to_string().contains("e.rvf"));
    let ro = RvfStore::open_readonly(&path).unwrap();
    assert_eq!(ro.status().total_vectors, 1);
    drop(ro);
    let missing = RvfStore::open(&dir.path().join("nope.rvf")).unwrap_err();
    assert_eq!(missing.code(), "RVF_E_NOT_FOUND");
    std::fs::write(dir.path().join("junk.rvf"), b"not a store at all").unwrap();
    let junk = RvfStore::open(&dir.path().join("junk.rvf")).unwrap_err();
    assert_eq!(junk.code(), "RVF_E_NOT_A_STORE");

    // Cluster sizes outside what the reader accepts are refused at create.
    for cluster_bytes in [0, 32, 100, (1 << 24) + 64, u32::MAX - 63] {
        let r = RvfStore::create(
            &dir.path().join(format!("c{cluster_bytes}.rvf")),
            RvfOptions {
                cluster_bytes,
                ..opts(4, DistanceMetric::L2)
            },
        );
        assert_eq!(
            r.unwrap_err().code(),
            "RVF_E_INVALID_ARGUMENT",
            "{cluster_bytes}"
        );
    }
    let big = dir.path().join("big-cluster.rvf");
    let opts_big = RvfOptions {
        cluster_bytes: 1 << 24,
        ..opts(1, DistanceMetric::L2)
    };
    let mut b = RvfStore::create(&big, opts_big).unwrap();
    b.ingest_batch(&[&[1.0]], &[7], None).unwrap();
    let c = b.branch(&dir.path().join("big-branch.rvf")).unwrap();
    assert_eq!(c.cow_stats().unwrap().vectors_per_cluster, 1 << 22);
    drop((b, c));
    let c = RvfStore::open(&dir.path().join("big-branch.rvf")).unwrap();
    assert_eq!(c.len(), 1);

    // Metadata the reader would refuse is refused at ingest.
    for (name, value) in [
        ("n".repeat(1025), MetaValue::Int(1)),
        ("s".into(), MetaValue::Str("x".repeat((1 << 20) + 1))),
    ] {
        let mut m = Metadata::new();
        m.insert(name, value);
        let r = s.ingest_batch(&[&good], &[9], Some(&[m]));
        assert_eq!(r.unwrap_err().code(), "RVF_E_INVALID_ARGUMENT");
    }
}

#[test]
fn readonly_sees_last_commit_while_writer_writes() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("r.rvf");
    let mut w = RvfStore::create(&path, opts(8, DistanceMetric::L2)).unwrap();
    ingest_range(&mut w, 0..10, 8);
    let r1 = RvfStore::open_readonly(&path).unwrap();
    ingest_range(&mut w, 10..20, 8);
    let r2 = RvfStore::open_readonly(&path).unwrap();
    assert_eq!(r1.status().total_vectors, 10);
    assert_eq!(r2.status().total_vectors, 20);
    let mut r2 = r2;
    assert_eq!(r2.delete(&[1]).unwrap_err().code(), "RVF_E_READ_ONLY");
}

#[test]
fn durability_on_close_publishes_at_close() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("b.rvf");
    let mut s = RvfStore::create(
        &path,
        RvfOptions {
            dimension: 8,
            durability: Durability::OnClose,
            ..Default::default()
        },
    )
    .unwrap();
    ingest_range(&mut s, 0..50, 8);
    ingest_range(&mut s, 50..60, 8);
    assert_eq!(
        RvfStore::open_readonly(&path)
            .unwrap()
            .status()
            .total_vectors,
        0
    );
    s.close().unwrap();
    let s = RvfStore::open_with(&path, OpenOptions::default()).unwrap();
    assert_eq!(s.status().total_vectors, 60);
}

#[test]
fn many_commits_checkpoint_and_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("c.rvf");
    let s = RvfStore::create(&path, opts(4, DistanceMetric::L2)).unwrap();
    s.close().unwrap();
    let mut s = RvfStore::open_with(
        &path,
        OpenOptions {
            durability: Durability::OnClose,
            ..Default::default()
        },
    )
    .unwrap();
    ingest_range(&mut s, 0..3000, 4);
    for i in 0..1500u64 {
        s.delete(&[i * 2]).unwrap();
    }
    s.close().unwrap();
    let s = RvfStore::open(&path).unwrap();
    assert_eq!(s.status().total_vectors, 1500);
    assert!(s.get(2).unwrap().is_none());
    assert!(s.get(3).unwrap().is_some());
    assert!(s.status().epoch > 1500);
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RvfStore>();
}

/// The flat-matrix entry points give what their slice-of-slices twins give, and refuse
/// a length that is not a whole number of rows.
#[test]
fn flat_entry_points_match_the_slice_ones() {
    let dir = tempfile::TempDir::new().unwrap();
    let opts = |name: &str| {
        (
            dir.path().join(name),
            RvfOptions {
                dimension: 3,
                metric: DistanceMetric::Cosine,
                ..Default::default()
            },
        )
    };
    let (pa, oa) = opts("a.rvf");
    let (pb, ob) = opts("b.rvf");
    let mut a = RvfStore::create(&pa, oa).unwrap();
    let mut b = RvfStore::create(&pb, ob).unwrap();
    let flat: Vec<f32> = (0..30).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
    let ids: Vec<u64> = (0..10).map(|i| i * 3).collect();
    let rows: Vec<&[f32]> = flat.chunks(3).collect();
    assert_eq!(
        a.ingest_flat(&flat, &ids, None).unwrap().accepted,
        b.ingest_batch(&rows, &ids, None).unwrap().accepted
    );
    assert!(a.ingest_flat(&flat[..29], &ids, None).is_err());
    assert!(a.ingest_flat(&flat, &ids[..9], None).is_err());
    let q = QueryOptions::default();
    let by_rows = b.query_batch(&rows[..4], 3, &q).unwrap();
    assert_eq!(a.query_batch_flat(&flat[..12], 3, &q).unwrap(), by_rows);
    assert!(a.query_batch_flat(&flat[..11], 3, &q).is_err());
    assert_eq!(a.query_batch_flat(&[], 3, &q).unwrap().len(), 0);
}

/// Non-finite values are caught while a batch is written: the batch is then written
/// again without them, in a large (pipelined) batch as in a small one; finite values
/// whose squared norm overflows are kept.
#[test]
fn non_finite_vectors_are_rejected_in_large_batches_too() {
    let dir = TempDir::new().unwrap();
    for (n, dim) in [(50usize, 4usize), (20_000, 128)] {
        let path = dir.path().join(format!("nf-{n}.rvf"));
        let mut s = RvfStore::create(&path, opts(dim as u16, DistanceMetric::L2)).unwrap();
        let mut flat: Vec<f32> = (0..n * dim).map(|i| (i % 97) as f32 * 0.01).collect();
        flat[(n / 2) * dim + 3] = f32::NAN;
        flat[(n - 1) * dim] = f32::NEG_INFINITY;
        flat[7 * dim..8 * dim].fill(1e30); // finite, but its squared norm overflows
        let ids: Vec<u64> = (0..n as u64).collect();
        let r = s.ingest_flat(&flat, &ids, None).unwrap();
        assert_eq!((r.accepted, r.rejected), (n as u64 - 2, 2), "n {n}");
        assert!(s.get((n / 2) as u64).unwrap().is_none());
        assert!(s.get(n as u64 - 1).unwrap().is_none());
        assert_eq!(s.get(7).unwrap().unwrap().vector, vec![1e30; dim]);
        drop(s);
        let s = RvfStore::open(&path).unwrap();
        assert_eq!(s.len(), n as u64 - 2);
        assert_eq!(
            s.get(1).unwrap().unwrap().vector,
            flat[dim..2 * dim].to_vec()
        );
    }
}
