//! id → slot map as a stack of immutable layers, so a branch can share its parent's map
//! in O(layers) instead of copying it.
//!
//! Each commit pushes one layer; adjacent layers merge while the newer is at least half
//! the size of the older (size-tiered), which keeps the stack O(log n) deep and the
//! amortised cost per entry O(log n). A branch copies the `Arc`s; the layers it shares
//! become its "base" (the parent as of branch time) and are never merged with its own.
//!
//! A layer is a hash map, or — for the commonest shape, ids that ascend (a bulk load,
//! and the ID_INDEX of a store loaded that way) — two sorted arrays searched by
//! bisection: building one is a copy rather than a hash insert per id, it takes 16
//! bytes an entry, and a bulk load appends each batch to it.

use std::collections::HashMap;
use std::sync::Arc;

type HashLayer = HashMap<u64, u64, ahash::RandomState>;

/// Marks an id deleted in a layer, hiding older layers' entries.
const TOMBSTONE: u64 = u64::MAX;

/// Ids strictly ascending, each with its slot (never a tombstone).
#[derive(Debug, Clone, Default)]
pub(crate) struct SortedLayer {
    ids: Vec<u64>,
    slots: Vec<u64>,
}

#[derive(Debug, Clone)]
pub(crate) enum Layer {
    Hash(HashLayer),
    Sorted(SortedLayer),
}

impl Layer {
    fn get(&self, id: u64) -> Option<u64> {
        match self {
            Layer::Hash(h) => h.get(&id).copied(),
            Layer::Sorted(s) => s.ids.binary_search(&id).ok().map(|i| s.slots[i]),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Layer::Hash(h) => h.len(),
            Layer::Sorted(s) => s.ids.len(),
        }
    }

    pub fn for_each(&self, mut f: impl FnMut(u64, u64)) {
        match self {
            Layer::Hash(h) => h.iter().for_each(|(&id, &slot)| f(id, slot)),
            Layer::Sorted(s) => s
                .ids
                .iter()
                .zip(&s.slots)
                .for_each(|(&id, &slot)| f(id, slot)),
        }
    }

    fn max_id(&self) -> Option<u64> {
        match self {
            Layer::Hash(h) => h.keys().copied().max(),
            Layer::Sorted(s) => s.ids.last().copied(),
        }
    }

    /// The layer as a hash map, for writes that sorted arrays cannot take.
    fn make_hash(&mut self) -> &mut HashLayer {
        if let Layer::Sorted(s) = self {
            let mut h = HashLayer::with_capacity_and_hasher(s.ids.len(), Default::default());
            h.extend(s.ids.iter().copied().zip(s.slots.iter().copied()));
            *self = Layer::Hash(h);
        }
        loop {
            match self {
                Layer::Hash(h) => return h,
                // Not reached: converted above.
                Layer::Sorted(_) => *self = Layer::Hash(HashLayer::default()),
            }
        }
    }
}

/// Builds a layer from (id, slot) pairs: sorted arrays while the ids ascend, a hash map
/// from the first one that does not.
pub(crate) struct LayerBuilder {
    layer: Layer,
}

impl LayerBuilder {
    pub fn with_capacity(n: usize) -> Self {
        LayerBuilder {
            layer: Layer::Sorted(SortedLayer {
                ids: Vec::with_capacity(n),
                slots: Vec::with_capacity(n),
            }),
        }
    }

    pub fn push(&mut self, id: u64, slot: u64) {
        if let Layer::Sorted(s) = &mut self.layer {
            if s.ids.last().is_none_or(|&last| id > last) {
                s.ids.push(id);
                s.slots.push(slot);
                return;
            }
        }
        self.layer.make_hash().insert(id, slot);
    }

    pub fn finish(self) -> Layer {
        self.layer
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct IdMap {
    layers: Vec<Arc<Layer>>,
    /// How many bottom layers are the inherited parent snapshot.
    base_layers: usize,
    /// No layer holds an id above this (None: no layer holds any). Bulk loads add ids
    /// above every existing one, and the check spares them a lookup each.
    upper: Option<u64>,
}

pub(crate) enum Change {
    Set(u64, u64),
    Remove(u64),
}

impl IdMap {
    pub fn from_layer(layer: Layer) -> IdMap {
        IdMap {
            upper: layer.max_id(),
            layers: vec![Arc::new(layer)],
            base_layers: 0,
        }
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
            let newer = &base[depth + 1..];
            layer.for_each(|id, slot| {
                // Shadowed by a newer base layer: that one's entry counts instead.
                if slot != TOMBSTONE && !newer.iter().any(|l| l.get(id).is_some()) {
                    visit(id, slot);
                }
            });
        }
    }

    /// Applies one commit's changes (or a loaded file's own ids on top of its base).
    pub fn apply(&mut self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        // New ids that ascend above every existing one (a bulk load) go to sorted
        // arrays: appended to the newest own layer when it is one, else a new layer.
        let appendable = {
            let mut prev = self.upper;
            changes.iter().all(|c| match c {
                Change::Set(id, _) if prev.is_none_or(|p| *id > p) => {
                    prev = Some(*id);
                    true
                }
                _ => false,
            })
        };
        let own_top = self.layers.len() > self.base_layers;
        if appendable {
            let sorted_top = own_top
                && matches!(
                    self.layers.last_mut().and_then(Arc::get_mut),
                    Some(Layer::Sorted(_))
                );
            if !sorted_top {
                self.layers
                    .push(Arc::new(Layer::Sorted(SortedLayer::default())));
            }
            // The newest layer is now sorted and not shared.
            let Some(Layer::Sorted(layer)) = self.layers.last_mut().and_then(Arc::get_mut) else {
                return;
            };
            layer.ids.reserve(changes.len());
            layer.slots.reserve(changes.len());
            for c in &changes {
                if let Change::Set(id, slot) = *c {
                    layer.ids.push(id);
                    layer.slots.push(slot);
                    self.upper = Some(id);
                }
            }
            self.merge_tiers();
            return;
        }
        for c in &changes {
            let id = match c {
                Change::Set(id, _) | Change::Remove(id) => *id,
            };
            self.upper = Some(self.upper.map_or(id, |u| u.max(id)));
        }
        let bottom = self.layers.len() == self.base_layers + 1 && self.base_layers == 0;
        // The newest own layer is written in place unless a branch shares it; only then
        // does a write start a new layer.
        if own_top {
            if let Some(top) = self.layers.last_mut().and_then(Arc::get_mut) {
                let top = top.make_hash();
                top.reserve(changes.len());
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
        let mut layer = HashLayer::with_capacity_and_hasher(changes.len(), Default::default());
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
        self.layers.push(Arc::new(Layer::Hash(layer)));
        self.merge_tiers();
    }

    fn merge_tiers(&mut self) {
        while self.layers.len() >= self.base_layers + 2 {
            let n = self.layers.len();
            let (older, newer) = (&self.layers[n - 2], &self.layers[n - 1]);
            if newer.len() * 2 < older.len() {
                break;
            }
            let newer = match self.layers.pop() {
                Some(l) => Arc::unwrap_or_clone(l),
                None => break,
            };
            let older_idx = self.layers.len() - 1;
            let drop_tombstones = older_idx == 0;
            let older = Arc::make_mut(&mut self.layers[older_idx]);
            // Sorted arrays whose ids follow each other concatenate.
            if let (Layer::Sorted(o), Layer::Sorted(n)) = (&mut *older, &newer) {
                if n.ids
                    .first()
                    .is_none_or(|&f| o.ids.last().is_none_or(|&l| f > l))
                {
                    o.ids.extend_from_slice(&n.ids);
                    o.slots.extend_from_slice(&n.slots);
                    continue;
                }
            }
            let older = older.make_hash();
            older.reserve(newer.len());
            newer.for_each(|id, slot| {
                if drop_tombstones && slot == TOMBSTONE {
                    older.remove(&id);
                } else {
                    older.insert(id, slot);
                }
            });
        }
    }

    #[cfg(test)]
    pub fn depth(&self) -> usize {
        self.layers.len()
    }
}

fn lookup(layers: &[Arc<Layer>], id: u64) -> Option<u64> {
    for layer in layers.iter().rev() {
        if let Some(slot) = layer.get(id) {
            return (slot != TOMBSTONE).then_some(slot);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap as StdMap;

    fn set(pairs: &[(u64, u64)]) -> Vec<Change> {
        pairs.iter().map(|&(i, s)| Change::Set(i, s)).collect()
    }

    #[test]
    fn layers_behave_like_one_map() {
        let mut m = IdMap::default();
        let mut model: StdMap<u64, u64> = StdMap::new();
        let mut x = 1u64;
        let mut branches = Vec::new();
        let mut next_new = 1_000u64;
        for step in 0..2000u64 {
            if step % 97 == 0 {
                // A branch freezes the layers it shares, forcing new layers and merges.
                branches.push(m.branch());
            }
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let id = (x >> 40) % 300;
            let changes = if step % 13 == 0 {
                // A run of new ascending ids: the sorted path.
                let run: Vec<(u64, u64)> = (0..(x % 7 + 1))
                    .map(|k| (next_new + k * 3, step * 10 + k))
                    .collect();
                next_new += 30;
                for &(i, s) in &run {
                    model.insert(i, s);
                }
                set(&run)
            } else if x.is_multiple_of(5) {
                model.remove(&id);
                vec![Change::Remove(id)]
            } else {
                model.insert(id, step);
                vec![Change::Set(id, step)]
            };
            m.apply(changes);
        }
        for id in (0..300).chain(1_000..next_new + 40) {
            assert_eq!(m.get(id), model.get(&id).copied(), "id {id}");
        }
        assert!(m.depth() <= 16, "depth {}", m.depth());
    }

    #[test]
    fn bulk_loads_stay_sorted_and_concatenate() {
        let mut m = IdMap::default();
        for batch in 0..10u64 {
            let pairs: Vec<(u64, u64)> = (0..1000)
                .map(|k| (batch * 1000 + k, batch * 1000 + k + 5))
                .collect();
            m.apply(set(&pairs));
        }
        assert_eq!(m.depth(), 1);
        assert!(matches!(*m.layers[0], Layer::Sorted(_)));
        assert_eq!(m.get(0), Some(5));
        assert_eq!(m.get(9_999), Some(10_004));
        assert_eq!(m.get(10_000), None);
        // An upsert of an old id turns the layer into a hash map, with the same answers.
        m.apply(set(&[(5, 77)]));
        assert_eq!(
            (m.get(5), m.get(6), m.get(9_999)),
            (Some(77), Some(11), Some(10_004))
        );
    }

    #[test]
    fn builder_switches_to_hashing_when_ids_stop_ascending() {
        let mut b = LayerBuilder::with_capacity(4);
        for (id, slot) in [(1, 10), (5, 50), (9, 90)] {
            b.push(id, slot);
        }
        assert!(matches!(b.layer, Layer::Sorted(_)));
        b.push(3, 30);
        let m = IdMap::from_layer(b.finish());
        assert_eq!(
            (m.get(1), m.get(3), m.get(5), m.get(9), m.get(4)),
            (Some(10), Some(30), Some(50), Some(90), None)
        );
    }

    #[test]
    fn branch_is_isolated_and_sees_base() {
        let mut parent = IdMap::default();
        parent.apply(set(&[(1, 10), (2, 20)]));
        let mut child = parent.branch();
        parent.apply(vec![Change::Set(1, 11), Change::Remove(2)]);
        child.apply(vec![Change::Set(3, 30), Change::Remove(1)]);
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
        m.apply(set(&[(1, 10), (2, 20), (3, 30)]));
        let snapshot = m.branch();
        m = snapshot;
        m.apply(vec![Change::Set(1, 11), Change::Remove(2)]);
        let child = m.branch();
        let mut base = Vec::new();
        child.for_each_base(|id, slot| base.push((id, slot)));
        base.sort_unstable();
        assert_eq!(base, vec![(1, 11), (3, 30)]);
    }
}
