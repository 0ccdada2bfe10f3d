//! id → slot map as a stack of immutable layers, so a branch can share its parent's map
//! in O(layers) instead of copying it.
//!
//! Each commit pushes one layer; adjacent layers merge while the newer is at least half
//! the size of the older (size-tiered), which keeps the stack O(log n) deep and the
//! amortised cost per entry O(log n). A branch copies the `Arc`s; the layers it shares
//! become its "base" (the parent as of branch time) and are never merged with its own.

use std::collections::HashMap;
use std::sync::Arc;

type Layer = HashMap<u64, u64, ahash::RandomState>;

/// Marks an id deleted in a layer, hiding older layers' entries.
const TOMBSTONE: u64 = u64::MAX;

#[derive(Debug, Clone, Default)]
pub(crate) struct IdMap {
    layers: Vec<Arc<Layer>>,
    /// How many bottom layers are the inherited parent snapshot.
    base_layers: usize,
    /// No layer holds an id above this (None: no layer holds any). Bulk loads add ids
    /// above every existing one, and the check spares them a hash lookup each.
    upper: Option<u64>,
}

pub(crate) enum Change {
    Set(u64, u64),
    Remove(u64),
}

impl IdMap {
    pub fn from_layer(entries: Layer) -> IdMap {
        IdMap {
            upper: entries.keys().copied().max(),
            layers: vec![Arc::new(entries)],
            base_layers: 0,
        }
    }

    pub fn new_layer(capacity: usize) -> Layer {
        Layer::with_capacity_and_hasher(capacity, Default::default())
    }

    /// A child's map: everything here becomes the inherited base.
    pub fn branch(&self) -> IdMap {
        IdMap {
            layers: self.layers.clone(),
            base_layers: self.layers.len(),
            upper: self.upper,
        }
    }

    pub fn get(&self, id: u64) -> Option<u64> {
        if self.upper.is_none_or(|u| id > u) {
            return None;
        }
        lookup(&self.layers, id)
    }

    /// Where `id` lives in the inherited base (None for a root store or a new id).
    pub fn get_base(&self, id: u64) -> Option<u64> {
        if self.upper.is_none_or(|u| id > u) {
            return None;
        }
        lookup(&self.layers[..self.base_layers.min(self.layers.len())], id)
    }

    /// Calls `visit(id, slot)` once for every id the inherited base maps (its newest
    /// entry; ids the base deleted are skipped).
    pub fn for_each_base(&self, mut visit: impl FnMut(u64, u64)) {
        let base = &self.layers[..self.base_layers.min(self.layers.len())];
        for (depth, layer) in base.iter().enumerate() {
            for (&id, &slot) in layer.iter() {
                // Shadowed by a newer base layer: that one's entry counts instead.
                let newer = &base[depth + 1..];
                if slot == TOMBSTONE || newer.iter().any(|l| l.contains_key(&id)) {
                    continue;
                }
                visit(id, slot);
            }
        }
    }

    pub fn apply(&mut self, changes: impl IntoIterator<Item = Change>) {
        let upper = &mut self.upper;
        let changes = changes.into_iter().inspect(|c| {
            let id = match c {
                Change::Set(id, _) | Change::Remove(id) => *id,
            };
            *upper = Some(upper.map_or(id, |u| u.max(id)));
        });
        let bottom = self.layers.len() == self.base_layers + 1 && self.base_layers == 0;
        // The newest own layer is written in place unless a branch shares it; only then
        // does a write start a new layer.
        if self.layers.len() > self.base_layers {
            if let Some(top) = self.layers.last_mut().and_then(Arc::get_mut) {
                top.reserve(changes.size_hint().0);
                for c in changes {
                    match c {
                        Change::Set(id, slot) => top.insert(id, slot),
                        Change::Remove(id) if bottom => top.remove(&id),
                        Change::Remove(id) => top.insert(id, TOMBSTONE),
                    };
                }
                self.merge_tiers();
                return;
            }
        }
        let mut layer = Layer::with_capacity_and_hasher(changes.size_hint().0, Default::default());
        for c in changes {
            match c {
                Change::Set(id, slot) => layer.insert(id, slot),
                Change::Remove(id) => layer.insert(id, TOMBSTONE),
            };
        }
        if self.layers.len() == self.base_layers && self.base_layers == 0 {
            layer.retain(|_, s| *s != TOMBSTONE);
        }
        if layer.is_empty() {
            return;
        }
        self.layers.push(Arc::new(layer));
        self.merge_tiers();
    }

    fn merge_tiers(&mut self) {
        while self.layers.len() >= self.base_layers + 2 {
            let n = self.layers.len();
            let (older, newer) = (&self.layers[n - 2], &self.layers[n - 1]);
            if newer.len() * 2 < older.len() {
                break;
            }
            let newer = self.layers.pop().unwrap_or_default();
            let older_idx = self.layers.len() - 1;
            let drop_tombstones = older_idx == 0;
            let older = Arc::make_mut(&mut self.layers[older_idx]);
            older.reserve(newer.len());
            for (&id, &slot) in newer.iter() {
                if drop_tombstones && slot == TOMBSTONE {
                    older.remove(&id);
                } else {
                    older.insert(id, slot);
                }
            }
        }
    }

    #[cfg(test)]
    pub fn depth(&self) -> usize {
        self.layers.len()
    }
}

fn lookup(layers: &[Arc<Layer>], id: u64) -> Option<u64> {
    for layer in layers.iter().rev() {
        if let Some(&slot) = layer.get(&id) {
            return (slot != TOMBSTONE).then_some(slot);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap as StdMap;

    #[test]
    fn layers_behave_like_one_map() {
        let mut m = IdMap::default();
        let mut model: StdMap<u64, u64> = StdMap::new();
        let mut x = 1u64;
        let mut branches = Vec::new();
        for step in 0..2000u64 {
            if step % 97 == 0 {
                // A branch freezes the layers it shares, forcing new layers and merges.
                branches.push(m.branch());
            }
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let id = (x >> 40) % 300;
            let changes = if x.is_multiple_of(5) {
                model.remove(&id);
                vec![Change::Remove(id)]
            } else {
                model.insert(id, step);
                vec![Change::Set(id, step)]
            };
            m.apply(changes);
        }
        for id in 0..300 {
            assert_eq!(m.get(id), model.get(&id).copied(), "id {id}");
        }
        assert!(m.depth() <= 16, "depth {}", m.depth());
    }

    #[test]
    fn branch_is_isolated_and_sees_base() {
        let mut parent = IdMap::default();
        parent.apply([Change::Set(1, 10), Change::Set(2, 20)]);
        let mut child = parent.branch();
        parent.apply([Change::Set(1, 11), Change::Remove(2)]);
        child.apply([Change::Set(3, 30), Change::Remove(1)]);
        assert_eq!(parent.get(1), Some(11));
        assert_eq!(parent.get(2), None);
        assert_eq!(child.get(1), None);
        assert_eq!(child.get(2), Some(20));
        assert_eq!(child.get_base(1), Some(10));
        assert_eq!(child.get_base(3), None);
        assert_eq!(parent.get_base(1), None);
        let mut base = Vec::new();
        child.for_each_base(|id, slot| base.push((id, slot)));
        base.sort_unstable();
        assert_eq!(base, vec![(1, 10), (2, 20)]);
    }

    #[test]
    fn base_walk_sees_newest_entries_only() {
        let mut m = IdMap::default();
        m.apply([Change::Set(1, 10), Change::Set(2, 20), Change::Set(3, 30)]);
        let snapshot = m.branch();
        m = snapshot;
        m.apply([Change::Set(1, 11), Change::Remove(2)]);
        let child = m.branch();
        let mut base = Vec::new();
        child.for_each_base(|id, slot| base.push((id, slot)));
        base.sort_unstable();
        assert_eq!(base, vec![(1, 11), (3, 30)]);
    }
}
