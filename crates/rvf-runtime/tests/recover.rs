//! A file cut short (a lost tail, an interrupted copy): opening it fails with
//! `RVF_E_TRUNCATED`, naming what is missing; `OpenOptions::recover` opens, read-only,
//! the newest generation the file still holds whole, and reports the epochs dropped.

mod common;

use std::path::Path;

use common::{check, random_vector, Model};
use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{OpenOptions, RvfError, RvfOptions, RvfStore};

const DIM: usize = 4;

fn ingest(s: &mut RvfStore, m: &mut Model, ids: std::ops::Range<u64>, version: u64) {
    let flat: Vec<f32> = ids
        .clone()
        .flat_map(|id| random_vector(id, version, DIM))
        .collect();
    let idv: Vec<u64> = ids.clone().collect();
    s.ingest_flat(&flat, &idv, None).unwrap();
    let rows: Vec<_> = ids
        .map(|id| (id, random_vector(id, version, DIM), None))
        .collect();
    m.ingest(&rows);
}

fn recover(path: &Path) -> Result<RvfStore, RvfError> {
    RvfStore::open_with(
        path,
        OpenOptions {
            recover: true,
            ..Default::default()
        },
    )
}

/// A history of commits, each with the file length it committed and its state.
struct History {
    states: Vec<(u64, u64, Model)>, // (epoch, committed end, model)
}

fn build(path: &Path) -> History {
    let mut s = RvfStore::create(
        path,
        RvfOptions {
            dimension: DIM as u16,
            metric: DistanceMetric::L2,
            ..Default::default()
        },
    )
    .unwrap();
    let mut m = Model::default();
    let mut states = vec![(s.epoch(), s.status().file_size, m.clone())];
    for k in 0..12u64 {
        match k % 3 {
            0 | 1 => ingest(&mut s, &mut m, k * 40..k * 40 + 60, k),
            _ => {
                let ids: Vec<u64> = (k * 30..k * 30 + 25).collect();
                s.delete(&ids).unwrap();
                m.delete(&ids);
            }
        }
        states.push((s.epoch(), s.status().file_size, m.clone()));
    }
    s.close().unwrap();
    History { states }
}

#[test]
fn a_file_cut_short_is_refused_clearly_and_recovers_to_the_newest_whole_generation() {
    let dir = tempfile::TempDir::new().unwrap();
    let full = dir.path().join("full.rvf");
    let h = build(&full);
    let bytes = std::fs::read(&full).unwrap();
    let (last_epoch, last_end, last_model) = h.states.last().unwrap().clone();
    assert_eq!(bytes.len() as u64, last_end);

    // Cut at every committed end, one byte before it, and midway between two.
    let mut cuts = Vec::new();
    for w in h.states.windows(2) {
        let (prev_end, end) = (w[0].1, w[1].1);
        cuts.extend([prev_end, prev_end + (end - prev_end) / 2, end - 1]);
    }
    let cut_path = dir.path().join("cut.rvf");
    for cut in cuts {
        std::fs::write(&cut_path, &bytes[..cut as usize]).unwrap();
        // The default: a clear refusal, for writers and readers alike.
        for read_only in [false, true] {
            let r = RvfStore::open_with(
                &cut_path,
                OpenOptions {
                    read_only,
                    ..Default::default()
                },
            );
            match r {
                Err(RvfError::Truncated {
                    epoch,
                    committed_end,
                    file_len,
                    ..
                }) => {
                    assert_eq!(
                        (epoch, committed_end, file_len),
                        (last_epoch, last_end, cut)
                    );
                }
                other => panic!("cut at {cut}: {:?}", other.map(|s| s.epoch())),
            }
        }
        // Recovery: the newest generation whose commit ends within the cut.
        let (epoch, _, model) = h
            .states
            .iter()
            .rev()
            .find(|(_, end, _)| *end <= cut)
            .unwrap();
        let s = recover(&cut_path).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let rec = s.recovery().unwrap();
        assert_eq!(rec.opened_epoch, *epoch, "cut at {cut}");
        assert_eq!(rec.newest_epoch, last_epoch);
        assert_eq!(rec.dropped_epochs(), epoch + 1..=last_epoch);
        assert!(!rec.reasons.is_empty());
        assert!(s.is_read_only());
        check(
            &s,
            model,
            DistanceMetric::L2,
            DIM,
            500,
            &format!("recovered at {cut}"),
        );
        let mut s = s;
        assert_eq!(
            s.delete(&[1]).unwrap_err().code(),
            "RVF_E_READ_ONLY",
            "a recovered store is read-only"
        );
    }

    // A whole file recovers to its newest generation, dropping nothing.
    let s = recover(&full).unwrap();
    assert_eq!(s.recovery().unwrap().dropped_epochs().count(), 0);
    check(&s, &last_model, DistanceMetric::L2, DIM, 500, "whole file");
    // A normal open reports no recovery.
    assert!(RvfStore::open_readonly(&full).unwrap().recovery().is_none());
}

/// A branch reads its parent's pinned generation: a parent cut short after it still
/// serves the branch; cut short before it, the branch refuses with a reason that says so.
#[test]
fn a_branch_of_a_parent_cut_short() {
    let dir = tempfile::TempDir::new().unwrap();
    let ppath = dir.path().join("p.rvf");
    let mut p = RvfStore::create(
        &ppath,
        RvfOptions {
            dimension: DIM as u16,
            ..Default::default()
        },
    )
    .unwrap();
    let mut pm = Model::default();
    ingest(&mut p, &mut pm, 0..100, 0);
    let pinned_end = p.status().file_size;
    let c = p.branch(&dir.path().join("c.rvf")).unwrap();
    let cm = pm.branch();
    drop(c);
    ingest(&mut p, &mut pm, 100..200, 1);
    p.close().unwrap();
    let bytes = std::fs::read(&ppath).unwrap();

    std::fs::write(&ppath, &bytes[..pinned_end as usize + 64]).unwrap();
    let c = RvfStore::open_readonly(&dir.path().join("c.rvf")).unwrap();
    check(
        &c,
        &cm,
        DistanceMetric::L2,
        DIM,
        300,
        "branch of a parent cut after the pin",
    );
    drop(c);

    std::fs::write(&ppath, &bytes[..pinned_end as usize - 1]).unwrap();
    match RvfStore::open_readonly(&dir.path().join("c.rvf")) {
        Err(RvfError::ParentMismatch { reason, .. }) => {
            assert!(reason.contains("cut short"), "{reason}");
        }
        other => panic!("{:?}", other.map(|s| s.epoch())),
    }
}
