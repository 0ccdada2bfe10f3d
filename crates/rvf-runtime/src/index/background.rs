//! The background builder: one thread at a time builds a graph over vectors that were
//! pending when it started, from its own handles on the mapped files (the store's
//! writer is never held). A finished graph is searched at once and written to the file
//! by the next commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::index::build::{run_job, BuildJob};
use crate::index::graphs::{GraphSource, MemGraph};
use crate::index::ViewGraph;

/// A graph built and not yet written.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub first_slot: u64,
    pub nodes: u32,
    pub graph: Arc<MemGraph>,
}

impl Built {
    pub fn view_graph(&self) -> ViewGraph {
        ViewGraph {
            file: 0,
            first_slot: self.first_slot,
            nodes: self.nodes,
            source: GraphSource::Memory(self.graph.clone()),
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    ready: Mutex<Vec<Built>>,
    running: AtomicBool,
    cancel: AtomicBool,
    /// The last build's error, if it failed (reported by `index_status`'s caller
    /// through `take_error`).
    error: Mutex<Option<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct Background {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::Acquire)
    }

    /// Graphs built and not yet written, as a view searches them.
    pub fn ready_graphs(&self) -> Vec<ViewGraph> {
        lock(&self.shared.ready)
            .iter()
            .map(Built::view_graph)
            .collect()
    }

    pub fn has_ready(&self) -> bool {
        !lock(&self.shared.ready).is_empty()
    }

    /// Takes the finished graphs, to write them.
    pub fn take_ready(&self) -> Vec<Built> {
        std::mem::take(&mut *lock(&self.shared.ready))
    }

    /// Gives back graphs a failed commit could not write.
    pub fn put_back(&self, built: Vec<Built>) {
        let mut ready = lock(&self.shared.ready);
        let mut all = built;
        all.append(&mut ready);
        *ready = all;
    }

    /// Starts building `job` unless a build is running.
    pub fn start(&mut self, job: BuildJob) {
        if self.is_running() {
            return;
        }
        self.join();
        self.shared.running.store(true, Ordering::Release);
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("rvf-index-build".into())
            .spawn(move || {
                let (first_slot, nodes) = (job.first_slot, job.nodes);
                match run_job(&job, &shared.cancel) {
                    Ok(Some(graph)) => lock(&shared.ready).push(Built {
                        first_slot,
                        nodes,
                        graph: Arc::new(graph),
                    }),
                    Ok(None) => {}
                    Err(e) => *lock(&shared.error) = Some(e.to_string()),
                }
                shared.running.store(false, Ordering::Release);
            });
        match spawned {
            Ok(t) => self.thread = Some(t),
            Err(_) => self.shared.running.store(false, Ordering::Release),
        }
    }

    /// Stops a running build and forgets what was built (the slots are about to be
    /// renumbered).
    pub fn discard(&mut self) {
        self.shared.cancel.store(true, Ordering::Release);
        self.join();
        self.shared.cancel.store(false, Ordering::Release);
        lock(&self.shared.ready).clear();
    }

    /// Waits for a running build to finish.
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// The error of the last background build, if it failed.
    pub fn take_error(&self) -> Option<String> {
        lock(&self.shared.error).take()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A store going away stops its build rather than wait for it.
        self.shared.cancel.store(true, Ordering::Release);
        self.join();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
