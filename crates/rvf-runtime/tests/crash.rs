use rvf_runtime::*;
use tempfile::TempDir;

#[test]
fn scratch_membership_max() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("p.rvf");
    let mut s = RvfStore::create(
        &p,
        RvfOptions {
            dimension: 2,
            ..Default::default()
        },
    )
    .unwrap();
    s.ingest_batch(&[&[1.0, 2.0]], &[u64::MAX], None).unwrap();
    let mut c = s.branch(&dir.path().join("c.rvf")).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.membership_add(&[u64::MAX])
    }));
    println!(
        "membership_add: {:?}",
        r.as_ref().map(|r| r.as_ref().map_err(|e| e.to_string()))
    );
    drop(c);
    let r = RvfStore::open(&dir.path().join("c.rvf"));
    println!(
        "reopen: {:?}",
        r.as_ref().map(|s| s.len()).map_err(|e| e.to_string())
    );
}

#[test]
fn scratch_onclose_torn() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("p.rvf");
    let mut s = RvfStore::create(
        &p,
        RvfOptions {
            dimension: 2,
            ..Default::default()
        },
    )
    .unwrap();
    s.ingest_batch(&[&[1.0, 2.0]], &[1], None).unwrap();
    drop(s);
    let a = std::fs::read(&p).unwrap();
    let mut s = RvfStore::open_with(
        &p,
        OpenOptions {
            durability: Durability::OnClose,
            ..Default::default()
        },
    )
    .unwrap();
    s.ingest_batch(&[&[1.0, 2.0]], &[2], None).unwrap();
    s.ingest_batch(&[&[1.0, 2.0]], &[3], None).unwrap();
    s.close().unwrap();
    let mut b = std::fs::read(&p).unwrap();
    let diff: Vec<usize> = (0..1024).filter(|&i| a[i] != b[i]).collect();
    println!("root bytes changed: {:?}..{:?}", diff.first(), diff.last());
    b[0] ^= 1; // torn slot 0
    std::fs::write(&p, &b).unwrap();
    let r = RvfStore::open_readonly(&p);
    println!(
        "torn: {:?}",
        r.as_ref()
            .map(|s| (s.epoch(), s.len()))
            .map_err(|e| e.to_string())
    );
}
