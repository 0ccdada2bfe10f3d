use std::path::Path;

use rvf_format::SegmentType;

use super::*;
use crate::options::RvfOptions;
use crate::store::RvfStore;

fn store_with_batches(path: &Path, batches: u64) -> RvfStore {
    let opts = RvfOptions {
        dimension: 4,
        cluster_bytes: 256,
        ..RvfOptions::default()
    };
    let mut s = RvfStore::create(path, opts).unwrap();
    for b in 0..batches {
        let ids: Vec<u64> = (b * 10..b * 10 + 10).collect();
        let flat: Vec<f32> = ids
            .iter()
            .flat_map(|&i| [i as f32, 1.0, 2.0, 3.0])
            .collect();
        s.ingest_flat(&flat, &ids, None).unwrap();
    }
    s
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

fn first_of(layout: &FileLayout, ty: SegmentType) -> &SegmentInfo {
    layout
        .segments
        .iter()
        .find(|s| s.header.is_some_and(|h| h.seg_type == ty))
        .unwrap()
}

#[test]
fn a_healthy_file_walks_cleanly_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.rvf");
    store_with_batches(&p, 3).close().unwrap();
    let layout = segments(&p).unwrap();
    assert_eq!(layout.damaged().count(), 0);
    assert!(layout.segments.iter().all(|s| s.checksum_ok && s.committed));
    let end = layout.segments.last().map(|s| s.offset + s.len).unwrap();
    assert_eq!(Some(end), layout.committed_end);
    assert_eq!(layout.roots.iter().filter(|r| r.current).count(), 1);
    let vecs = layout
        .segments
        .iter()
        .filter(|s| s.type_name() == "VEC_SEG");
    assert_eq!(vecs.count(), 3);
    let report = verify(&p).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.files.len(), 1);
    assert!(report.files[0].segments >= 7);
}

#[test]
fn a_flipped_vector_byte_is_found_by_both_walks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.rvf");
    store_with_batches(&p, 2).close().unwrap();
    let vec = first_of(&segments(&p).unwrap(), SegmentType::Vec).offset;
    flip(&p, vec + 64 + 70);
    let layout = segments(&p).unwrap();
    let bad: Vec<_> = layout.damaged().collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].offset, vec);
    assert!(bad[0].problem.as_ref().unwrap().contains("checksum"));
    let report = verify(&p).unwrap();
    assert!(!report.is_ok());
    assert!(report.problems.iter().any(|pr| pr.offset == Some(vec)));
}

#[test]
fn verify_checks_the_index_graphs() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.rvf");
    let mut s = store_with_batches(&p, 3);
    s.build_index().unwrap();
    s.close().unwrap();
    let report = verify(&p).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let graph = first_of(&segments(&p).unwrap(), SegmentType::Index).offset;
    flip(&p, graph + 64 + 40);
    let report = verify(&p).unwrap();
    assert!(
        report.problems.iter().any(|pr| pr.offset == Some(graph)),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_damaged_header_is_skipped_to_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.rvf");
    store_with_batches(&p, 2).close().unwrap();
    let before = segments(&p).unwrap();
    let slot = first_of(&before, SegmentType::Slot);
    flip(&p, slot.offset + 10);
    let after = segments(&p).unwrap();
    let bad: Vec<_> = after.damaged().collect();
    assert_eq!(bad.len(), 1);
    assert!(bad[0].header.is_none());
    assert_eq!(bad[0].len, slot.len);
    assert_eq!(after.segments.len(), before.segments.len());
    assert!(!verify(&p).unwrap().is_ok());
}

#[test]
fn an_uncommitted_tail_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.rvf");
    store_with_batches(&p, 1).close().unwrap();
    let seg = rvf_format::encode_segment(SegmentType::Delta, 99, 9, b"tail");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.extend_from_slice(&seg);
    bytes.extend_from_slice(&[7u8; 100]);
    std::fs::write(&p, bytes).unwrap();
    let layout = segments(&p).unwrap();
    let n = layout.segments.len();
    assert!(!layout.segments[n - 2].committed && layout.segments[n - 2].checksum_ok);
    assert!(!layout.segments[n - 1].committed && layout.segments[n - 1].header.is_none());
    assert!(
        verify(&p).unwrap().is_ok(),
        "the tail is not part of the generation"
    );
}

#[test]
fn foreign_and_truncated_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("t.rvf");
    std::fs::write(&text, "hello, not a store\n").unwrap();
    assert_eq!(verify(&text).unwrap_err().code(), "RVF_E_NOT_A_STORE");
    assert!(segments(&text).unwrap().roots.iter().all(|r| !r.is_valid()));
    let empty = dir.path().join("e.rvf");
    std::fs::write(&empty, "").unwrap();
    assert!(segments(&empty).unwrap().segments.is_empty());
    assert!(verify(&empty).is_err());
    assert!(lineage(&empty).is_err());
    let p = dir.path().join("a.rvf");
    store_with_batches(&p, 2).close().unwrap();
    let len = std::fs::metadata(&p).unwrap().len();
    for cut in [len - 1, len / 2, 1100, 600] {
        let bytes = std::fs::read(&p).unwrap();
        let q = dir.path().join(format!("cut{cut}.rvf"));
        std::fs::write(&q, &bytes[..cut as usize]).unwrap();
        let _ = segments(&q).unwrap();
        match verify(&q) {
            Ok(r) => assert!(!r.is_ok(), "cut at {cut}"),
            Err(e) => assert!(matches!(e.code(), "RVF_E_NOT_A_STORE" | "RVF_E_CORRUPT")),
        }
    }
}

#[test]
fn a_branch_verifies_its_parent_and_reports_its_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("base.rvf");
    let c = dir.path().join("child.rvf");
    let base = store_with_batches(&p, 2);
    let mut child = base.branch(&c).unwrap();
    child.delete(&[3]).unwrap();
    child.ingest_flat(&[9.0; 4], &[500], None).unwrap();
    drop(base);
    child.close().unwrap();
    let report = verify(&c).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.files.len(), 2);
    let tree = lineage(&c).unwrap();
    assert_eq!(tree.len(), 2);
    assert_eq!(tree[1].pinned_epoch, Some(3));
    assert_eq!(tree[1].pinned_vectors, 20);
    assert_eq!(tree[0].pinned_vectors, 20);
    let vec = first_of(&segments(&p).unwrap(), SegmentType::Vec).offset;
    flip(&p, vec + 64 + 64 + 5);
    let report = verify(&c).unwrap();
    assert!(report
        .problems
        .iter()
        .any(|pr| pr.path == p && pr.offset == Some(vec)));
    std::fs::remove_file(&p).unwrap();
    let report = verify(&c).unwrap();
    assert!(report
        .problems
        .iter()
        .any(|pr| pr.detail.contains("RVF_E_PARENT_MISSING")));
}
