//! Property tests: random operation sequences on a store and on a branch, checked
//! against a brute-force model (and, for branches, against an independent full copy).

mod common;

use common::{check, meta, vector, Model};
use proptest::prelude::*;
use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{MembershipMode, RvfOptions, RvfStore};
use tempfile::TempDir;

const DIM: usize = 6;
const IDS: u64 = 40;

#[derive(Debug, Clone)]
enum Op {
    Ingest(Vec<(u64, u64, Option<i64>)>),
    Delete(Vec<u64>),
    Reopen,
    Mode(bool),
    MembersAdd(Vec<u64>),
    MembersRemove(Vec<u64>),
    ParentIngest(Vec<(u64, u64)>),
    ParentDelete(Vec<u64>),
}

fn arb_op() -> impl Strategy<Value = Op> {
    let id = 0..IDS;
    prop_oneof![
        4 => proptest::collection::vec((id.clone(), any::<u64>(), proptest::option::of(0i64..3)), 1..12).prop_map(Op::Ingest),
        2 => proptest::collection::vec(id.clone(), 1..8).prop_map(Op::Delete),
        1 => Just(Op::Reopen),
        1 => any::<bool>().prop_map(Op::Mode),
        1 => proptest::collection::vec(id.clone(), 1..8).prop_map(Op::MembersAdd),
        1 => proptest::collection::vec(id.clone(), 1..8).prop_map(Op::MembersRemove),
        1 => proptest::collection::vec((id.clone(), any::<u64>()), 1..6).prop_map(Op::ParentIngest),
        1 => proptest::collection::vec(id, 1..6).prop_map(Op::ParentDelete),
    ]
}

fn metric_of(i: u8) -> DistanceMetric {
    match i % 3 {
        0 => DistanceMetric::L2,
        1 => DistanceMetric::InnerProduct,
        _ => DistanceMetric::Cosine,
    }
}

fn items(raw: &[(u64, u64, Option<i64>)]) -> Vec<(u64, Vec<f32>, Option<rvf_runtime::Metadata>)> {
    raw.iter()
        .map(|&(id, seed, g)| (id, vector(seed, DIM), g.map(|g| meta(Some(g)))))
        .collect()
}

fn ingest(store: &mut RvfStore, items: &[(u64, Vec<f32>, Option<rvf_runtime::Metadata>)]) {
    let refs: Vec<&[f32]> = items.iter().map(|i| i.1.as_slice()).collect();
    let ids: Vec<u64> = items.iter().map(|i| i.0).collect();
    let metas: Vec<rvf_runtime::Metadata> = items
        .iter()
        .map(|i| i.2.clone().unwrap_or_default())
        .collect();
    store.ingest_batch(&refs, &ids, Some(&metas)).unwrap();
}

/// Applies a batch to the model in the store's order: the last occurrence of an id wins.
fn model_ingest(model: &mut Model, items: &[(u64, Vec<f32>, Option<rvf_runtime::Metadata>)]) {
    model.ingest(items);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A root store behaves like a map plus brute-force k-NN, across reopen.
    #[test]
    fn store_matches_model(metric in 0u8..3, cluster in prop_oneof![Just(64u32), Just(256), Just(65536)],
                           ops in proptest::collection::vec(arb_op(), 1..25)) {
        let metric = metric_of(metric);
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("s.rvf");
        let opts = RvfOptions { dimension: DIM as u16, metric, cluster_bytes: cluster, ..Default::default() };
        let mut store = RvfStore::create(&path, opts).unwrap();
        let mut model = Model::default();
        for op in &ops {
            match op {
                Op::Ingest(raw) => {
                    let it = items(raw);
                    ingest(&mut store, &it);
                    model_ingest(&mut model, &it);
                }
                Op::ParentIngest(raw) => {
                    let it: Vec<_> = raw.iter().map(|&(id, s)| (id, vector(s, DIM), None)).collect();
                    ingest(&mut store, &it);
                    model_ingest(&mut model, &it);
                }
                Op::Delete(ids) | Op::ParentDelete(ids) => {
                    store.delete(ids).unwrap();
                    model.delete(ids);
                }
                Op::Reopen => {
                    store.close().unwrap();
                    store = RvfStore::open(&path).unwrap();
                }
                Op::Mode(_) | Op::MembersAdd(_) | Op::MembersRemove(_) => {
                    prop_assert_eq!(store.membership_add(&[1]).unwrap_err().code(), "RVF_E_NOT_A_CHILD");
                }
            }
        }
        check(&store, &model, metric, DIM, IDS, "store");
        store.close().unwrap();
        let store = RvfStore::open(&path).unwrap();
        check(&store, &model, metric, DIM, IDS, "store after reopen");
    }

    /// branch ≡ copy: a branch answers like an independent full copy of its parent given
    /// the same writes (plus its membership filter), the parent never sees the branch's
    /// writes, and the branch never sees the parent's later writes. A grandchild taken
    /// midway obeys the same rules.
    #[test]
    fn branch_matches_copy(metric in 0u8..3, cluster in prop_oneof![Just(64u32), Just(128), Just(65536)],
                           base in proptest::collection::vec((0..IDS, any::<u64>(), proptest::option::of(0i64..3)), 0..40),
                           ops in proptest::collection::vec(arb_op(), 1..25),
                           grandchild_at in 0usize..25) {
        let metric = metric_of(metric);
        let dir = TempDir::new().unwrap();
        let opts = RvfOptions { dimension: DIM as u16, metric, cluster_bytes: cluster, ..Default::default() };
        let ppath = dir.path().join("parent.rvf");
        let mut parent = RvfStore::create(&ppath, opts.clone()).unwrap();
        let mut pmodel = Model::default();
        let it = items(&base);
        if !it.is_empty() {
            ingest(&mut parent, &it);
            model_ingest(&mut pmodel, &it);
        }
        let cpath = dir.path().join("child.rvf");
        let mut child = parent.branch(&cpath).unwrap();
        let mut cmodel = pmodel.branch();
        // The independent copy: a fresh store holding the parent's vectors.
        let kpath = dir.path().join("copy.rvf");
        let mut copy = RvfStore::create(&kpath, opts.clone()).unwrap();
        let copy_items: Vec<_> = cmodel.rows.iter().map(|(id, (v, m))| (*id, v.clone(), m.clone())).collect();
        if !copy_items.is_empty() {
            ingest(&mut copy, &copy_items);
        }
        let mut grandchild: Option<(RvfStore, Model)> = None;
        for (step, op) in ops.iter().enumerate() {
            if step == grandchild_at && grandchild.is_none() {
                let g = child.branch(&dir.path().join("grandchild.rvf")).unwrap();
                grandchild = Some((g, cmodel.branch()));
            }
            match op {
                Op::Ingest(raw) => {
                    let it = items(raw);
                    ingest(&mut child, &it);
                    ingest(&mut copy, &it);
                    model_ingest(&mut cmodel, &it);
                    if let Some((g, gm)) = &mut grandchild {
                        let it: Vec<_> = it.iter().map(|(id, v, m)| (id + 1, v.clone(), m.clone())).collect();
                        ingest(g, &it);
                        model_ingest(gm, &it);
                    }
                }
                Op::Delete(ids) => {
                    child.delete(ids).unwrap();
                    copy.delete(ids).unwrap();
                    cmodel.delete(ids);
                    if let Some((g, gm)) = &mut grandchild {
                        g.delete(ids).unwrap();
                        gm.delete(ids);
                    }
                }
                Op::Reopen => {
                    child.close().unwrap();
                    child = RvfStore::open(&cpath).unwrap();
                    if let Some((g, gm)) = grandchild.take() {
                        g.close().unwrap();
                        grandchild = Some((RvfStore::open(&dir.path().join("grandchild.rvf")).unwrap(), gm));
                    }
                }
                Op::Mode(include) => {
                    let mode = if *include { MembershipMode::Include } else { MembershipMode::Exclude };
                    child.set_membership_mode(mode).unwrap();
                    cmodel.set_mode(mode);
                }
                Op::MembersAdd(ids) => {
                    child.membership_add(ids).unwrap();
                    cmodel.members.extend(ids.iter().copied());
                }
                Op::MembersRemove(ids) => {
                    child.membership_remove(ids).unwrap();
                    for id in ids {
                        cmodel.members.remove(id);
                    }
                }
                Op::ParentIngest(raw) => {
                    let it: Vec<_> = raw.iter().map(|&(id, s)| (id, vector(s, DIM), None)).collect();
                    ingest(&mut parent, &it);
                    model_ingest(&mut pmodel, &it);
                }
                Op::ParentDelete(ids) => {
                    parent.delete(ids).unwrap();
                    pmodel.delete(ids);
                }
            }
        }
        check(&parent, &pmodel, metric, DIM, IDS, "parent");
        check(&child, &cmodel, metric, DIM, IDS, "child");
        let filter_hides_nothing = cmodel.mode == Some(MembershipMode::Exclude) && cmodel.members.is_empty();
        if filter_hides_nothing {
            let copy_model = Model { rows: cmodel.rows.clone(), ..Model::default() };
            check(&copy, &copy_model, metric, DIM, IDS, "copy");
            for i in 0..3u64 {
                let q = vector(20_000 + i, DIM);
                let o = rvf_runtime::QueryOptions::default();
                prop_assert_eq!(child.query(&q, 9, &o).unwrap(), copy.query(&q, 9, &o).unwrap());
            }
        }
        if let Some((g, gm)) = &grandchild {
            check(g, gm, metric, DIM, IDS + 1, "grandchild");
        }
        drop(grandchild);
        child.close().unwrap();
        parent.close().unwrap();
        let child = RvfStore::open(&cpath).unwrap();
        check(&child, &cmodel, metric, DIM, IDS, "child after reopen");
    }
}
