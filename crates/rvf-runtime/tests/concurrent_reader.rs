//! Readers during writes: while a writer in another process makes 1,000 commits to a
//! branch (ingests, upserts, deletes, membership changes and compactions), this process
//! opens the file read-only over and over and queries it. Every state it sees must be
//! the state after some prefix of the writer's operations (replayed here on the
//! brute-force model), its queries must agree with that state, the states must never go
//! back in time, and no open or query may fail.

mod common;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{random_vector, Model};
use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{MembershipMode, QueryOptions, RvfOptions, RvfStore};

const DIM: usize = 4;
const COMMITS: u64 = 1000;
const METRIC: DistanceMetric = DistanceMetric::Cosine;
const ENV_DIR: &str = "RVF_CONCURRENT_WRITER_DIR";

/// One commit of the writer.
#[derive(Debug, Clone)]
enum WriteOp {
    Ingest(std::ops::Range<u64>, u64),
    Delete(std::ops::Range<u64>),
    Mode(MembershipMode),
    MembersAdd(std::ops::Range<u64>),
    MembersRemove(std::ops::Range<u64>),
    Compact,
}

/// The writer's operations, each of which commits (a delete always hits a present id:
/// it follows an ingest of the same range).
fn write_ops() -> Vec<WriteOp> {
    let mut ops = Vec::new();
    let mut k = 0u64;
    while (ops.len() as u64) < COMMITS {
        let base = (k * 37) % 900;
        let op = match k % 10 {
            0..=3 => WriteOp::Ingest(base..base + 1 + k % 40, k),
            4 => WriteOp::Ingest(1000 + k..1001 + k, k),
            5 => WriteOp::Delete(1000 + k - 1..1000 + k),
            6 if k % 20 == 6 => WriteOp::Mode(if k % 40 == 6 {
                MembershipMode::Include
            } else {
                MembershipMode::Exclude
            }),
            6 | 7 => WriteOp::MembersAdd(base..base + 150),
            8 => WriteOp::MembersRemove(base..base + 60),
            _ if k % 100 == 99 => WriteOp::Compact,
            _ => WriteOp::Ingest(base..base + 3, k + 1_000_000),
        };
        ops.push(op);
        k += 1;
    }
    ops
}

fn apply(store: &mut RvfStore, op: &WriteOp) {
    let r = match op {
        WriteOp::Ingest(ids, v) => {
            let flat: Vec<f32> = ids
                .clone()
                .flat_map(|id| random_vector(id, *v, DIM))
                .collect();
            let ids: Vec<u64> = ids.clone().collect();
            store.ingest_flat(&flat, &ids, None).map(|_| ())
        }
        WriteOp::Delete(ids) => store.delete(&ids.clone().collect::<Vec<_>>()).map(|_| ()),
        WriteOp::Mode(m) => store.set_membership_mode(*m),
        WriteOp::MembersAdd(ids) => store.membership_add(&ids.clone().collect::<Vec<_>>()),
        WriteOp::MembersRemove(ids) => store.membership_remove(&ids.clone().collect::<Vec<_>>()),
        WriteOp::Compact => store.compact(),
    };
    r.unwrap_or_else(|e| panic!("writer: {op:?}: {e}"));
}

fn apply_model(m: &mut Model, op: &WriteOp) {
    match op {
        WriteOp::Ingest(ids, v) => {
            let rows: Vec<_> = ids
                .clone()
                .map(|id| (id, random_vector(id, *v, DIM), None))
                .collect();
            m.ingest(&rows);
        }
        WriteOp::Delete(ids) => m.delete(&ids.clone().collect::<Vec<_>>()),
        WriteOp::Mode(mode) => m.set_mode(*mode),
        WriteOp::MembersAdd(ids) => m.members.extend(ids.clone()),
        WriteOp::MembersRemove(ids) => {
            for id in ids.clone() {
                m.members.remove(&id);
            }
        }
        WriteOp::Compact => {}
    }
}

/// A digest of the visible vectors: ids and vector bits, ascending by id.
fn digest(rows: impl Iterator<Item = (u64, Vec<f32>)>) -> u64 {
    let mut h = DefaultHasher::new();
    for (id, v) in rows {
        id.hash(&mut h);
        for x in v {
            x.to_bits().hash(&mut h);
        }
    }
    h.finish()
}

fn model_digest(m: &Model) -> u64 {
    digest(
        m.rows
            .iter()
            .filter(|(id, _)| m.visible(**id))
            .map(|(id, (v, _))| (*id, v.clone())),
    )
}

fn setup(dir: &Path) -> (PathBuf, Model) {
    let ppath = dir.join("parent.rvf");
    let mut p = RvfStore::create(
        &ppath,
        RvfOptions {
            dimension: DIM as u16,
            metric: METRIC,
            ..Default::default()
        },
    )
    .unwrap();
    let mut pm = Model::default();
    let base = WriteOp::Ingest(0..800, 0);
    apply(&mut p, &base);
    apply_model(&mut pm, &base);
    p.freeze().unwrap();
    let cpath = dir.join("child.rvf");
    p.branch(&cpath).unwrap().close().unwrap();
    (cpath, pm.branch())
}

/// The writer process's body (run by the test below in a child process).
#[test]
#[ignore = "the writer half of readers_in_another_process_see_only_committed_states"]
fn writer_process() {
    let Some(dir) = std::env::var_os(ENV_DIR) else {
        return;
    };
    let mut store = RvfStore::open(&PathBuf::from(dir).join("child.rvf")).unwrap();
    for op in write_ops() {
        apply(&mut store, &op);
    }
    store.close().unwrap();
}

/// What a reader saw in one open: the digest of its state, and whether its queries
/// agreed with a brute-force scan of that same state.
fn observe(path: &Path) -> Result<(u64, u64), String> {
    let s = RvfStore::open_readonly(path).map_err(|e| format!("open: {e}"))?;
    let ids = s.ids().map_err(|e| format!("ids: {e}"))?;
    let mut rows = Vec::with_capacity(ids.len());
    for &id in &ids {
        let rec = s
            .get(id)
            .map_err(|e| format!("get {id}: {e}"))?
            .ok_or_else(|| format!("id {id} listed but not found"))?;
        rows.push((id, rec.vector));
    }
    let q = random_vector(424_242, 0, DIM);
    let hits = s
        .query(&q, 10, &QueryOptions::default())
        .map_err(|e| format!("query: {e}"))?;
    let mut exact: Vec<(u64, f32)> = rows
        .iter()
        .map(|(id, v)| (*id, rvf_runtime::distance(METRIC, &q, v)))
        .collect();
    exact.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    exact.truncate(10);
    let got: Vec<(u64, f32)> = hits.iter().map(|h| (h.id, h.distance)).collect();
    if got != exact {
        return Err(format!(
            "query disagrees with the state it was run on: {got:?} vs {exact:?}"
        ));
    }
    Ok((digest(rows.into_iter()), s.epoch()))
}

#[test]
fn readers_in_another_process_see_only_committed_states() {
    let dir = tempfile::TempDir::new().unwrap();
    let (cpath, mut model) = setup(dir.path());
    // The digest after each prefix of the writer's operations.
    let mut states: HashMap<u64, usize> = HashMap::new();
    states.insert(model_digest(&model), 0);
    for (i, op) in write_ops().iter().enumerate() {
        apply_model(&mut model, op);
        states.entry(model_digest(&model)).or_insert(i + 1);
    }
    let final_digest = model_digest(&model);

    let mut writer = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_process", "--ignored", "--test-threads=1"])
        .env(ENV_DIR, dir.path())
        .spawn()
        .unwrap();
    let mut reads = 0u64;
    let mut last_epoch = 0u64;
    let mut distinct = std::collections::BTreeSet::new();
    loop {
        let done = writer.try_wait().unwrap().is_some();
        let (d, epoch) = observe(&cpath).unwrap_or_else(|e| panic!("read {reads}: {e}"));
        let Some(&prefix) = states.get(&d) else {
            panic!("read {reads} (epoch {epoch}) saw a state that no prefix of the writer's operations gives");
        };
        assert!(
            epoch >= last_epoch,
            "epoch went back from {last_epoch} to {epoch}"
        );
        last_epoch = epoch;
        distinct.insert(prefix);
        reads += 1;
        if done {
            break;
        }
    }
    assert!(
        writer.wait().unwrap().success(),
        "the writer process failed"
    );
    let (d, _) = observe(&cpath).unwrap();
    assert_eq!(d, final_digest, "the final state is the model's");
    // The reader really ran beside the writer: it saw many different states.
    assert!(
        distinct.len() >= 10,
        "only {} distinct states in {reads} reads",
        distinct.len()
    );
}
