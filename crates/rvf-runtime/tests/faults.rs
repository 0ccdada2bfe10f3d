//! I/O fault injection: every write, fsync/fdatasync, ftruncate and rename that a small
//! workload makes is failed in turn (ENOSPC and EIO alternately), through the
//! `fault-injection` seam of `rvf_runtime::fileio`. For each:
//!
//! * the operation that made the failing call returns an error;
//! * a handle whose write or sync failed is poisoned: its next write returns
//!   `RVF_E_POISONED` (a failed fsync may have dropped dirty pages);
//! * reopening every file afterwards, with no faults, shows exactly the last state whose
//!   commit returned `Ok` (for `Durability::OnClose`, the last successful flush).
//!
//! `sync_file_range` (early writeback, best effort) is failed wholesale instead, and
//! must change nothing. The plan is process-wide, so the tests here hold one lock.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::{random_vector, Model};
use rvf_runtime::faults::{self, Call, FaultPlan};
use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{Durability, OpenOptions, RvfError, RvfOptions, RvfStore};

const DIM: usize = 4;
static FAULTS: Mutex<()> = Mutex::new(());

fn code<T>(r: &Result<T, RvfError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Handle {
    Parent,
    Child,
}

/// The store handles of one run of the workload and the models of what is durable.
struct Run {
    dir: PathBuf,
    parent: Option<RvfStore>,
    child: Option<RvfStore>,
    /// What reopening each file must show.
    durable: [Option<Model>; 2],
    /// The child's state including commits held back by `OnClose`.
    child_pending: Model,
    /// The child handle holds commits back until its flush.
    child_on_close: bool,
    /// ... and holds some now.
    child_held: bool,
    /// Per handle: its last write failed with an I/O error, so it must be poisoned.
    must_poison: [bool; 2],
    /// Per handle: a compaction failed part-way; the next write may find it poisoned.
    may_poison: [bool; 2],
    /// (operation, result code) of every operation, for the failure report.
    results: Vec<(&'static str, &'static str)>,
    /// Per step of the workload: its name, the counted calls made before it began,
    /// and how many entries `results` had then.
    steps: Vec<(&'static str, u64, usize)>,
}

fn path(dir: &Path, h: Handle) -> PathBuf {
    dir.join(match h {
        Handle::Parent => "p.rvf",
        Handle::Child => "c.rvf",
    })
}

fn items(ids: std::ops::Range<u64>, version: u64) -> (Vec<f32>, Vec<u64>) {
    let flat = ids
        .clone()
        .flat_map(|id| random_vector(id, version, DIM))
        .collect();
    (flat, ids.collect())
}

fn model_ingest(m: &mut Model, ids: std::ops::Range<u64>, version: u64) {
    let rows: Vec<_> = ids
        .map(|id| (id, random_vector(id, version, DIM), None))
        .collect();
    m.ingest(&rows);
}

impl Run {
    fn new(dir: &Path) -> Run {
        Run {
            dir: dir.to_path_buf(),
            parent: None,
            child: None,
            durable: [None, None],
            child_pending: Model::default(),
            child_on_close: false,
            child_held: false,
            must_poison: [false; 2],
            may_poison: [false; 2],
            results: Vec::new(),
            steps: Vec::new(),
        }
    }

    fn slot(h: Handle) -> usize {
        h as usize
    }

    /// Records the result of a call that writes on handle `h` (`writes`: it had
    /// something to write; a flush with nothing held back writes nothing) and checks
    /// the poisoning rule.
    fn wrote(&mut self, name: &'static str, h: Handle, got: &'static str, writes: bool) {
        self.results.push((name, got));
        let i = Self::slot(h);
        if self.must_poison[i] && writes {
            assert_eq!(
                got, "RVF_E_POISONED",
                "{name}: a write after a failed write or sync"
            );
        }
        if self.may_poison[i] && got == "RVF_E_POISONED" {
            self.must_poison[i] = true;
        }
        if got == "RVF_E_IO" {
            self.must_poison[i] = true;
        }
    }

    fn step(&mut self, name: &'static str, f: impl FnOnce(&mut Run)) {
        self.steps.push((name, faults::count(), self.results.len()));
        f(self);
    }

    /// The results of the step during which counted call `call` was made.
    fn results_of_step_with(&self, call: u64) -> (&'static str, &[(&'static str, &'static str)]) {
        let k = self.steps.iter().rposition(|s| s.1 <= call).unwrap_or(0);
        let from = self.steps[k].2;
        let to = self.steps.get(k + 1).map_or(self.results.len(), |s| s.2);
        (self.steps[k].0, &self.results[from..to])
    }

    fn ingest(&mut self, h: Handle, ids: std::ops::Range<u64>, version: u64) {
        let (flat, idv) = items(ids.clone(), version);
        let store = match h {
            Handle::Parent => self.parent.as_mut(),
            Handle::Child => self.child.as_mut(),
        };
        let Some(store) = store else { return };
        let r = store.ingest_flat(&flat, &idv, None);
        let got = code(&r);
        self.wrote("ingest", h, got, true);
        if r.is_ok() {
            match h {
                Handle::Parent => {
                    if let Some(m) = self.durable[0].as_mut() {
                        model_ingest(m, ids, version);
                    }
                }
                Handle::Child => {
                    model_ingest(&mut self.child_pending, ids, version);
                    self.child_held = self.child_on_close;
                    if !self.child_on_close {
                        self.durable[1] = Some(self.child_pending.clone());
                    }
                }
            }
        }
    }

    /// The workload: every kind of commit, a branch, a compaction, a materialization,
    /// a reopen that truncates a torn tail, and an `OnClose` bulk load.
    fn workload(&mut self) {
        let ppath = path(&self.dir, Handle::Parent);
        let cpath = path(&self.dir, Handle::Child);
        self.step("create", |run| {
            let r = RvfStore::create(
                &ppath,
                RvfOptions {
                    dimension: DIM as u16,
                    metric: DistanceMetric::L2,
                    ..Default::default()
                },
            );
            run.results.push(("create", code(&r)));
            if let Ok(s) = r {
                run.parent = Some(s);
                run.durable[0] = Some(Model::default());
            }
        });
        self.step("ingest", |run| run.ingest(Handle::Parent, 0..200, 0));
        self.step("delete", |run| {
            let Some(s) = run.parent.as_mut() else { return };
            let ids: Vec<u64> = (50..80).collect();
            let got = code(&s.delete(&ids));
            run.wrote("delete", Handle::Parent, got, true);
            if got == "ok" {
                if let Some(m) = run.durable[0].as_mut() {
                    m.delete(&ids);
                }
            }
        });
        self.step("upsert", |run| run.ingest(Handle::Parent, 100..150, 1));
        self.step("compact", |run| {
            let Some(s) = run.parent.as_mut() else { return };
            let got = code(&s.compact());
            run.results.push(("compact", got));
            run.may_poison[0] |= got != "ok";
        });
        self.step("ingest after compact", |run| {
            run.ingest(Handle::Parent, 200..230, 2)
        });
        self.step("branch", |run| {
            let Some(s) = run.parent.as_ref() else { return };
            let r = s.branch(&cpath);
            run.results.push(("branch", code(&r)));
            if let Ok(c) = r {
                run.child = Some(c);
                let base = run.durable[0].clone().unwrap_or_default();
                run.child_pending = base.branch();
                run.durable[1] = Some(run.child_pending.clone());
            }
        });
        self.step("membership", |run| {
            let Some(c) = run.child.as_mut() else { return };
            let ids: Vec<u64> = (0..40).collect();
            let got = code(&c.membership_add(&ids));
            run.wrote("membership_add", Handle::Child, got, true);
            if got == "ok" {
                run.child_pending.members.extend(ids);
                run.durable[1] = Some(run.child_pending.clone());
            }
        });
        self.step("child delete", |run| {
            let Some(c) = run.child.as_mut() else { return };
            let ids: Vec<u64> = (150..160).collect();
            let got = code(&c.delete(&ids));
            run.wrote("child delete", Handle::Child, got, true);
            if got == "ok" {
                run.child_pending.delete(&ids);
                run.durable[1] = Some(run.child_pending.clone());
            }
        });
        self.step("child ingest", |run| run.ingest(Handle::Child, 500..520, 3));
        self.step("freeze", |run| {
            let Some(s) = run.parent.as_mut() else { return };
            let got = code(&s.freeze());
            run.wrote("freeze", Handle::Parent, got, true);
        });
        // A torn tail past the committed end, as a crash mid-commit leaves it: the next
        // writable open truncates it (ftruncate + fsync).
        self.step("reopen over a torn tail", |run| {
            if let Some(c) = run.child.take() {
                let got = code(&c.close());
                run.results.push(("close child", got));
            }
            if run.durable[1].is_none() {
                return;
            }
            std::fs::OpenOptions::new()
                .append(true)
                .open(&cpath)
                .and_then(|mut f| f.write_all(&[0xAB; 777]))
                .expect("appending a torn tail");
            run.reopen_child(Durability::EveryCommit, "reopen over a torn tail");
        });
        self.step("reopen for a bulk load", |run| {
            if let Some(c) = run.child.take() {
                let got = code(&c.close());
                run.results.push(("close child", got));
            }
            if run.durable[1].is_none() {
                return;
            }
            run.reopen_child(Durability::OnClose, "reopen OnClose");
        });
        self.step("bulk load", |run| {
            run.ingest(Handle::Child, 600..700, 4);
            run.ingest(Handle::Child, 700..800, 5);
        });
        self.step("flush", |run| {
            let Some(c) = run.child.as_mut() else { return };
            let got = code(&c.flush());
            let held = run.child_held;
            run.wrote("flush", Handle::Child, got, held);
            if got == "ok" {
                run.durable[1] = Some(run.child_pending.clone());
                run.child_held = false;
            }
        });
        self.step("materialize", |run| {
            let Some(c) = run.child.as_mut() else { return };
            let got = code(&c.materialize());
            run.results.push(("materialize", got));
            run.may_poison[1] |= got != "ok";
            if got == "ok" {
                // Materialize flushes first and keeps every visible vector.
                run.durable[1] = Some(run.child_pending.clone());
            }
        });
        self.step("ingest after materialize", |run| {
            run.ingest(Handle::Child, 900..910, 6);
        });
        self.step("close", |run| {
            if let Some(c) = run.child.take() {
                let got = code(&c.close());
                run.results.push(("close child", got));
                if got == "ok" {
                    run.durable[1] = Some(run.child_pending.clone());
                }
            }
            if let Some(s) = run.parent.take() {
                let got = code(&s.close());
                run.results.push(("close parent", got));
            }
        });
    }

    fn reopen_child(&mut self, durability: Durability, name: &'static str) {
        let r = RvfStore::open_with(
            &path(&self.dir, Handle::Child),
            OpenOptions {
                durability,
                ..Default::default()
            },
        );
        self.results.push((name, code(&r)));
        if let Ok(c) = r {
            self.child = Some(c);
            self.child_on_close = durability == Durability::OnClose;
            self.child_held = false;
            // A fresh handle: nothing poisoned, nothing held back.
            self.must_poison[1] = false;
            self.may_poison[1] = false;
            self.child_pending = self.durable[1].clone().unwrap_or_default();
        }
    }

    /// Reopens every file with no faults and compares with the durable models.
    fn check_reopened(&self, what: &str) {
        for h in [Handle::Parent, Handle::Child] {
            let p = path(&self.dir, h);
            match &self.durable[Self::slot(h)] {
                None => assert!(
                    !p.exists() || RvfStore::open_readonly(&p).is_err(),
                    "{what}: {h:?} was never committed, yet opens"
                ),
                Some(model) => {
                    let s = RvfStore::open_readonly(&p)
                        .unwrap_or_else(|e| panic!("{what}: {h:?} does not reopen: {e}"));
                    common::check(
                        &s,
                        model,
                        DistanceMetric::L2,
                        DIM,
                        1000,
                        &format!("{what}: {h:?}"),
                    );
                }
            }
        }
    }
}

fn run_workload(plan: FaultPlan) -> (Run, Vec<Call>, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    let mut run = Run::new(dir.path());
    faults::arm(plan);
    run.workload();
    let calls = faults::disarm();
    (run, calls, dir)
}

/// The workload with no faults counts its calls; then each call fails in turn.
#[test]
fn every_failed_write_sync_truncate_or_rename_leaves_the_last_ok_state() {
    let _guard = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
    let (clean, calls, _dir) = run_workload(FaultPlan {
        fail_at: None,
        fail_writeback: false,
        errno: libc::EIO,
    });
    assert!(
        clean
            .results
            .iter()
            .all(|(_, c)| *c == "ok" || *c == "RVF_E_FROZEN"),
        "the workload runs clean without faults: {:?}",
        clean.results
    );
    clean.check_reopened("no faults");
    for kind in [Call::Write, Call::Sync, Call::Truncate, Call::Rename] {
        assert!(calls.contains(&kind), "the workload makes no {kind:?} call");
    }
    for i in 0..calls.len() as u64 {
        let errno = if i % 2 == 0 { libc::ENOSPC } else { libc::EIO };
        let (run, _, _dir) = run_workload(FaultPlan {
            fail_at: Some(i),
            fail_writeback: false,
            errno,
        });
        let what = format!("call {i} ({:?}, errno {errno})", calls[i as usize]);
        // The step that made the call reported it.
        let (step, results) = run.results_of_step_with(i);
        assert!(
            results.iter().any(|(_, c)| *c == "RVF_E_IO"),
            "{what}: step {step:?} did not report the failure: {results:?}"
        );
        run.check_reopened(&format!("{what}, results {:?}", run.results));
    }
}

/// Failing every early-writeback request changes nothing: it is only advice.
#[test]
fn failed_writeback_requests_change_nothing() {
    let _guard = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
    let (run, _, _dir) = run_workload(FaultPlan {
        fail_at: None,
        fail_writeback: true,
        errno: libc::EIO,
    });
    assert!(
        run.results
            .iter()
            .all(|(_, c)| *c == "ok" || *c == "RVF_E_FROZEN"),
        "{:?}",
        run.results
    );
    run.check_reopened("failed writeback");
}
