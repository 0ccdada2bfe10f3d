//! The state this file itself owns (as opposed to what it inherits): its run table, its
//! dead slots and its membership filter, plus the committed manifest.

use rvf_format::{Delta, IndexMap, Manifest, MembershipModeCode, SegRef};

use crate::bitset::Bitset;
use crate::idset::IdSet;
use crate::run::RunList;

/// Which inherited vectors a branch shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MembershipMode {
    /// Ids in the set are visible; an empty set shows no inherited vector (fail-safe).
    Include,
    /// Ids in the set are hidden; an empty set shows every inherited vector.
    Exclude,
}

impl MembershipMode {
    pub(crate) fn code(self) -> MembershipModeCode {
        match self {
            MembershipMode::Include => MembershipModeCode::Include,
            MembershipMode::Exclude => MembershipModeCode::Exclude,
        }
    }
    pub(crate) fn from_code(c: MembershipModeCode) -> Self {
        match c {
            MembershipModeCode::Include => MembershipMode::Include,
            MembershipModeCode::Exclude => MembershipMode::Exclude,
        }
    }
}

/// A branch's membership filter over the vectors it inherits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipFilter {
    pub(crate) mode: MembershipMode,
    pub(crate) ids: IdSet,
    pub(crate) vector_count: u64,
    pub(crate) member_count: u64,
}

impl MembershipFilter {
    pub(crate) fn new(vector_count: u64) -> Self {
        MembershipFilter {
            mode: MembershipMode::Exclude,
            ids: IdSet::default(),
            vector_count,
            member_count: vector_count,
        }
    }

    pub fn mode(&self) -> MembershipMode {
        self.mode
    }

    /// Inherited vectors the filter lets through.
    pub fn member_count(&self) -> u64 {
        self.member_count
    }

    /// Vectors inherited from the parent (visible in the parent at branch time).
    pub fn vector_count(&self) -> u64 {
        self.vector_count
    }

    /// The ids listed in the filter (included or excluded, depending on the mode).
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.ids.ids()
    }

    /// The listed ids as ascending, disjoint ranges `(first, last)`, inclusive: what the
    /// file stores, and a cheap walk however many ids the ranges cover.
    pub fn id_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ids.spans().map(|s| (s.first, s.last))
    }

    /// Number of ids listed (u128: a range may cover every u64).
    pub fn listed_count(&self) -> u128 {
        self.ids.len()
    }

    pub fn allows(&self, id: u64) -> bool {
        match self.mode {
            MembershipMode::Include => self.ids.contains(id),
            MembershipMode::Exclude => !self.ids.contains(id),
        }
    }

    /// True when the filter hides nothing, so visibility equals liveness.
    pub(crate) fn is_transparent(&self) -> bool {
        self.mode == MembershipMode::Exclude && self.ids.is_empty()
    }

    pub(crate) fn apply(&mut self, delta: &Delta) {
        if let Some(mode) = delta.membership_mode {
            self.mode = MembershipMode::from_code(mode);
            self.ids.clear();
        }
        for &span in &delta.members_added {
            self.ids.insert(span);
        }
        for &span in &delta.members_removed {
            self.ids.remove(span);
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LocalState {
    pub manifest: Manifest,
    pub manifest_ref: SegRef,
    pub manifest_hash: [u8; 32],
    pub runs: RunList,
    pub own_dead: Bitset,
    pub membership: Option<MembershipFilter>,
    /// The index options and the graphs this file holds.
    pub index: IndexMap,
}

impl LocalState {
    /// Number of slots this file has killed (an upper bound of its dead own slots).
    pub fn own_dead_count(&self) -> usize {
        self.own_dead.count_ones() as usize
    }

    /// Applies one journal record (runs, dead slots and membership changes). The
    /// caller has checked that its dead slots lie below the slot count.
    pub fn apply_delta(&mut self, delta: &Delta) {
        for &d in &delta.runs_added {
            self.runs.push(d);
        }
        for span in &delta.dead_slots {
            self.own_dead.set_span(*span);
        }
        if let Some(m) = &mut self.membership {
            m.apply(delta);
        }
    }
}
