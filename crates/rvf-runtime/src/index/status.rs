//! What `RvfStore::index_status` reports.

use crate::store::RvfStore;

/// The state of a store's ANN index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStatus {
    /// Vectors the graphs this store searches cover (its own and its ancestors').
    pub indexed_vectors: u64,
    /// Visible vectors no graph covers: queries scan them exactly.
    pub pending_vectors: u64,
    /// Bytes of this file's graphs (an ancestor's are counted in its own file).
    pub bytes: u64,
    /// Graphs searched (this file's and its ancestors').
    pub graphs: usize,
    /// Graphs built by this process that the next commit writes to the file.
    pub unwritten_graphs: usize,
    /// A background build is running.
    pub building: bool,
    pub m: usize,
    pub ef_construction: usize,
}

impl RvfStore {
    /// The ANN index's state, or `None` when the store has it turned off.
    pub fn index_status(&self) -> Option<IndexStatus> {
        let settings = self.local.index.settings;
        if !settings.enabled {
            return None;
        }
        let graphs = self.searched_graphs();
        let indexed_vectors = graphs.iter().map(|g| u64::from(g.nodes)).sum();
        let pending_vectors = self
            .pending_pieces(&graphs)
            .iter()
            .map(|&(run, start, count)| {
                self.view
                    .visible
                    .count_range(run.first_slot + start as u64, count as u64)
            })
            .sum();
        Some(IndexStatus {
            indexed_vectors,
            pending_vectors,
            bytes: graphs
                .iter()
                .filter(|g| g.file == 0)
                .map(|g| g.stored_bytes())
                .sum(),
            graphs: graphs.len(),
            unwritten_graphs: graphs
                .iter()
                .filter(|g| matches!(g.source, crate::index::GraphSource::Memory(_)))
                .count(),
            building: self.background.is_running(),
            m: usize::from(settings.m),
            ef_construction: settings.ef_construction as usize,
        })
    }
}
