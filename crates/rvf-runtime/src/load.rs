//! Opening a file: find the committed root, read the generation's manifest, checkpoint
//! and journal, resolve the parent chain, and build the in-memory view.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rvf_format::layout::{self, DATA_START, MAX_LINEAGE_DEPTH};
use rvf_format::{
    choose_root, decode_membership, decode_slot_bitmap, decode_sorted_set, manifest_hash,
    read_segment, read_segment_of, ByteReader, Delta, FormatError, IdIndex, Manifest, MetricCode,
    RootSlot, RunDesc, RunKind, RunTable, SegRef, SegmentType,
};

use crate::bitset::word_masks;
use crate::bitset::Bitset;
use crate::error::{Result, RvfError};
use crate::idmap::{IdMap, LayerBuilder};
use crate::index::ViewGraph;
use crate::local::{LocalState, MembershipFilter, MembershipMode};
use crate::mmap::MappedFile;
use crate::options::DistanceMetric;
use crate::run::{Run, RunBlock, RunList};
use crate::runmap::RunMap;
use crate::view::{Config, View};

pub(crate) fn metric_from_code(c: MetricCode) -> DistanceMetric {
    match c {
        MetricCode::L2 => DistanceMetric::L2,
        MetricCode::InnerProduct => DistanceMetric::InnerProduct,
        MetricCode::Cosine => DistanceMetric::Cosine,
    }
}

pub(crate) fn metric_code(m: DistanceMetric) -> MetricCode {
    match m {
        DistanceMetric::L2 => MetricCode::L2,
        DistanceMetric::InnerProduct => MetricCode::InnerProduct,
        DistanceMetric::Cosine => MetricCode::Cosine,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The root slots of a file as found, whether or not the file still holds what they
/// commit.
pub(crate) struct Roots {
    /// The valid slot with the higher epoch.
    pub newest: RootSlot,
    /// The other slot, when it is valid too.
    pub older: Option<RootSlot>,
    pub file_len: u64,
}

/// Reads both root slots of an open file and picks the newest valid one.
pub(crate) fn read_roots(path: &Path, file: &File) -> Result<Roots> {
    let mut buf = vec![0u8; DATA_START as usize];
    let file_len = file
        .metadata()
        .map_err(|e| RvfError::io(path, "reading file metadata", e))?
        .len();
    let n = (file_len.min(DATA_START)) as usize;
    file.read_exact_at(&mut buf[..n], 0)
        .map_err(|e| RvfError::io(path, "reading the root", e))?;
    let a = &buf[layout::ROOT_SLOT_A_OFFSET as usize..];
    let b = &buf[layout::ROOT_SLOT_B_OFFSET as usize..];
    let newest = choose_root(a, b).map_err(|e| RvfError::NotAStore {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    newest
        .check_read_features()
        .map_err(|e| RvfError::Incompatible {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let older = [a, b]
        .into_iter()
        .filter_map(|slot| RootSlot::decode(slot).ok())
        .find(|r| r.epoch < newest.epoch && r.file_id == newest.file_id);
    Ok(Roots {
        newest,
        older,
        file_len,
    })
}

/// Reads the committed root of an open file, which must hold every byte it commits.
pub(crate) fn read_root(path: &Path, file: &File) -> Result<RootSlot> {
    let roots = read_roots(path, file)?;
    let root = roots.newest;
    if root.committed_end > roots.file_len {
        return Err(RvfError::Truncated {
            path: path.to_path_buf(),
            epoch: root.epoch,
            committed_end: root.committed_end,
            file_len: roots.file_len,
        });
    }
    Ok(root)
}

fn fmt_err(path: &Path, offset: u64) -> impl Fn(FormatError) -> RvfError + '_ {
    move |e| match e {
        FormatError::UnsupportedVersion { .. } | FormatError::UnknownFeatures { .. } => {
            RvfError::Incompatible {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }
        }
        other => RvfError::corrupt(path, offset, other),
    }
}

/// Where to look for ancestors.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParentSearch {
    pub search_paths: Vec<PathBuf>,
}

/// A loaded generation: what the file owns and the view it gives.
pub(crate) struct Loaded {
    pub local: LocalState,
    pub view: View,
}

/// Loads the generation whose manifest is `mref` in `file`. `expected_hash` is set when a
/// child pins this generation.
pub(crate) fn load_generation(
    file: Arc<MappedFile>,
    mref: SegRef,
    expected_hash: Option<[u8; 32]>,
    search: &ParentSearch,
    depth: u16,
) -> Result<Loaded> {
    let path = file.path.clone();
    let bytes = file.bytes();
    let err = |off: u64| fmt_err(&path, off);
    let (_, payload) =
        read_segment(bytes, mref.offset, SegmentType::Manifest, true).map_err(err(mref.offset))?;
    let seg_bytes = usize::try_from(mref.offset)
        .ok()
        .zip(usize::try_from(mref.len).ok())
        .and_then(|(s, n)| bytes.get(s..s.checked_add(n)?))
        .ok_or_else(|| RvfError::corrupt(&path, mref.offset, "manifest extends past the file"))?;
    let hash = manifest_hash(seg_bytes);
    if let Some(expected) = expected_hash {
        if expected != hash {
            return Err(RvfError::corrupt(
                &path,
                mref.offset,
                "manifest hash mismatch",
            ));
        }
    }
    let manifest = Manifest::decode(payload).map_err(err(mref.offset))?;
    if manifest.lineage_depth > MAX_LINEAGE_DEPTH || depth > MAX_LINEAGE_DEPTH {
        return Err(RvfError::LineageTooDeep {
            max: MAX_LINEAGE_DEPTH,
        });
    }
    let config = Config {
        dim: manifest.dimension,
        metric: metric_from_code(manifest.metric),
        cluster_bytes: manifest.cluster_bytes,
        vectors_per_cluster: manifest.vectors_per_cluster,
    };
    // Every slot this file allocates costs at least its vector's bytes in the file, so a
    // slot count beyond that is a lie. Inherited slots are bounded the same way in the
    // parent's file, which `open_parent` checks before anything here is decoded, so
    // every slot-indexed allocation below is bounded by the files' sizes.
    let own_slots = manifest.slot_count - manifest.first_local_slot;
    let per_slot = u64::from(manifest.dimension) * 4;
    if own_slots > bytes.len() as u64 / per_slot.max(1) {
        return Err(RvfError::corrupt(
            &path,
            mref.offset,
            format!(
                "slot count {} is impossible for a file of {} bytes",
                manifest.slot_count,
                bytes.len()
            ),
        ));
    }
    let parent = match &manifest.parent {
        Some(pref) => Some(open_parent(
            &path,
            pref,
            manifest.first_local_slot,
            &config,
            search,
            depth,
        )?),
        None => None,
    };
    let slot_limit = manifest.slot_count;

    let index = read_index_map(&file, &manifest)?;
    let mut local = LocalState {
        manifest: manifest.clone(),
        manifest_ref: mref,
        manifest_hash: hash,
        runs: RunList::new(config.dim),
        own_dead: Bitset::default(),
        membership: None,
        index,
    };

    // Checkpoint.
    if !manifest.checkpoint_cow_map.is_none() {
        let off = manifest.checkpoint_cow_map.offset;
        let (_, p) = read_segment(bytes, off, SegmentType::CowMap, true).map_err(err(off))?;
        let table = RunTable::decode(p).map_err(err(off))?;
        // The descriptors stay in the file: the payload follows the segment header,
        // and they follow the payload's count.
        let start = usize::try_from(off)
            .ok()
            .and_then(|o| o.checked_add(layout::SEGMENT_HEADER_LEN + 8))
            .ok_or_else(|| RvfError::corrupt(&path, off, "COW_MAP outside the file"))?;
        let body = start..start.saturating_add(table.body_len());
        local.runs = RunList::loaded(RunBlock::mapped(&file, body, config.dim)?);
    }
    if !manifest.checkpoint_dead_set.is_none() {
        let off = manifest.checkpoint_dead_set.offset;
        let (h, p) = read_segment_of(
            bytes,
            off,
            &[SegmentType::DeadSet, SegmentType::DeadBitmap],
            true,
        )
        .map_err(err(off))?;
        if h.seg_type == SegmentType::DeadBitmap {
            let words = decode_slot_bitmap(p, slot_limit).map_err(err(off))?;
            local.own_dead = Bitset::from_words(words);
        } else {
            let mut r = ByteReader::new(p, "DEAD_SET");
            let own_dead = &mut local.own_dead;
            decode_sorted_set(&mut r, u128::from(slot_limit), |span| {
                own_dead.set_span(span)
            })
            .map_err(err(off))?;
            if !r.is_empty() {
                return Err(RvfError::corrupt(&path, off, "DEAD_SET: trailing bytes"));
            }
        }
    }
    // The ID_INDEX lists the ids of the run table's slots that the checkpoint's own dead
    // set does not name; the journal may kill more, so keep the set it was written with.
    let checkpoint_dead = local.own_dead.clone();
    let checkpoint_runs = local.runs.len();

    if manifest.parent.is_some() {
        let vector_count = parent.as_ref().map_or(0, |p| p.view.visible_count);
        let mut filter = MembershipFilter::new(vector_count);
        if !manifest.checkpoint_membership.is_none() {
            let off = manifest.checkpoint_membership.offset;
            let (_, p) =
                read_segment(bytes, off, SegmentType::Membership, true).map_err(err(off))?;
            let (mode, spans) = decode_membership(p).map_err(err(off))?;
            filter.mode = MembershipMode::from_code(mode);
            for span in spans {
                filter.ids.insert(span);
            }
        }
        local.membership = Some(filter);
    }

    // Journal: newest first on disk; replay oldest first.
    let mut deltas = Vec::new();
    let mut next = manifest.journal_head;
    let mut last_offset = u64::MAX;
    while !next.is_none() {
        if next.offset >= last_offset || deltas.len() as u64 >= manifest.journal_count {
            return Err(RvfError::corrupt(
                &path,
                next.offset,
                "journal chain is malformed",
            ));
        }
        last_offset = next.offset;
        let (_, p) =
            read_segment(bytes, next.offset, SegmentType::Delta, true).map_err(err(next.offset))?;
        let d = Delta::decode(p).map_err(err(next.offset))?;
        if d.dead_slots.last().is_some_and(|s| s.last >= slot_limit) {
            return Err(RvfError::corrupt(
                &path,
                next.offset,
                "journal names a slot beyond the slot count",
            ));
        }
        next = d.prev;
        deltas.push(d);
    }
    if deltas.len() as u64 != manifest.journal_count {
        return Err(RvfError::corrupt(
            &path,
            mref.offset,
            "journal is shorter than the manifest says",
        ));
    }
    for d in deltas.iter().rev() {
        local.apply_delta(d);
    }
    let shape = check_runs(&path, &local.runs, checkpoint_runs, &manifest)?;
    let indexed: u64 = shape
        .checkpoint_stretches
        .iter()
        .map(|&(start, end)| end - start - checkpoint_dead.count_range(start, end - start))
        .sum();
    let mut checkpoint_ids = IdIndex::decode(&[], 0).map_err(err(mref.offset))?;
    if !manifest.checkpoint_id_index.is_none() {
        let off = manifest.checkpoint_id_index.offset;
        let (_, p) = read_segment(bytes, off, SegmentType::IdIndex, true).map_err(err(off))?;
        checkpoint_ids = IdIndex::decode(p, indexed).map_err(err(off))?;
    } else if indexed > 0 {
        return Err(RvfError::corrupt(
            &path,
            mref.offset,
            "checkpoint has runs but no ID_INDEX",
        ));
    }

    let view = build_view(
        file.clone(),
        &local,
        config,
        parent,
        Checkpoint {
            runs: checkpoint_runs,
            stretches: &shape.checkpoint_stretches,
            ids: checkpoint_ids,
            dead: &checkpoint_dead,
        },
        &shape,
    )?;
    Ok(Loaded { local, view })
}

/// The INDEX_MAP of a generation (a file written before the index existed has none: its
/// index is on, with the default options, and has no graphs yet). Each graph must lie
/// in the file and cover only slots the file allocates itself.
fn read_index_map(file: &MappedFile, m: &Manifest) -> Result<rvf_format::IndexMap> {
    if m.index_root.is_none() {
        return Ok(crate::index::default_map());
    }
    let off = m.index_root.offset;
    let err = fmt_err(&file.path, off);
    let (_, p) = read_segment(file.bytes(), off, SegmentType::IndexMap, true).map_err(&err)?;
    let map = rvf_format::IndexMap::decode(p).map_err(&err)?;
    let mut prev_end = m.first_local_slot;
    for g in &map.graphs {
        let in_file = g
            .segment
            .offset
            .checked_add(g.segment.len)
            .is_some_and(|end| end <= file.len() && g.segment.offset >= DATA_START);
        if !in_file || g.first_slot < prev_end || g.end_slot() > m.slot_count {
            return Err(RvfError::corrupt(
                &file.path,
                off,
                "INDEX_MAP: a graph lies outside the file or its slots",
            ));
        }
        prev_end = g.end_slot();
    }
    Ok(map)
}

/// Every run must lie where its kind allows (an append run among this file's own
/// slots, a slab copy on one inherited cluster) and no two runs may share a slot: the
/// writer never produces either, and checking both bounds the work and memory of
/// everything built per slot from the run table by the slot count.
fn check_runs(
    path: &Path,
    runs: &RunList,
    checkpoint_runs: usize,
    m: &Manifest,
) -> Result<RunsShape> {
    let vpc = u64::from(m.vectors_per_cluster);
    let mut shape = RunsShape {
        in_order: true,
        slots: 0,
        checkpoint_stretches: Vec::new(),
    };
    let mut prev: Option<RunDesc> = None;
    for (i, d) in runs.iter().enumerate() {
        let ok = match d.kind {
            RunKind::Append => d.first_slot >= m.first_local_slot && d.end_slot() <= m.slot_count,
            RunKind::SlabCopy => {
                d.first_slot % vpc == 0
                    && d.end_slot() <= m.first_local_slot
                    && d.end_slot() - d.first_slot <= vpc
            }
        };
        if !ok {
            return Err(RvfError::corrupt(
                path,
                d.vec_seg,
                "run lies outside its allowed slot range",
            ));
        }
        shape.in_order &=
            prev.is_none_or(|p| p.end_slot() <= d.first_slot && p.first_slot < d.first_slot);
        shape.slots = shape.slots.saturating_add(u64::from(d.count));
        if i < checkpoint_runs {
            match shape.checkpoint_stretches.last_mut() {
                Some(last) if last.1 == d.first_slot => last.1 = d.end_slot(),
                _ => shape
                    .checkpoint_stretches
                    .push((d.first_slot, d.end_slot())),
            }
        }
        prev = Some(d);
    }
    // Runs in slot order (always, for a root store) were checked pairwise above.
    if shape.in_order {
        return Ok(shape);
    }
    let mut spans: Vec<(u64, u64, u64)> = runs
        .iter()
        .map(|d| (d.first_slot, d.end_slot(), d.vec_seg))
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(RvfError::corrupt(
                path,
                w[1].2,
                "two runs claim the same slots",
            ));
        }
    }
    Ok(shape)
}

/// What [`check_runs`] learns of a file's runs on the way.
struct RunsShape {
    /// Sorted by slot and disjoint.
    in_order: bool,
    /// Slots the runs hold (disjoint, so at most the slot count).
    slots: u64,
    /// The slot ranges of the checkpoint's runs, in table order, each run that starts
    /// where the one before it ended joined to it (a long history of appends is one).
    checkpoint_stretches: Vec<(u64, u64)>,
}

/// What the checkpoint contributes to the id map: the ids of its first `runs` runs'
/// slots, skipping those in `dead`.
struct Checkpoint<'a> {
    runs: usize,
    /// The slot ranges those runs cover (see [`RunsShape`]).
    stretches: &'a [(u64, u64)],
    ids: IdIndex<'a>,
    dead: &'a Bitset,
}

fn build_view(
    file: Arc<MappedFile>,
    local: &LocalState,
    config: Config,
    parent: Option<Loaded>,
    checkpoint: Checkpoint<'_>,
    shape: &RunsShape,
) -> Result<View> {
    let m = &local.manifest;
    let path = file.path.clone();
    let mut view = match parent {
        Some(p) => {
            let mut v = p.view;
            let mut files = vec![file.clone()];
            files.append(&mut v.files);
            let runs = v.runs.inherited();
            let graphs = v.graphs.iter().map(ViewGraph::inherited).collect();
            let dead = Bitset::complement_prefix(&v.visible, v.slot_count);
            let base_visible = Arc::new(v.visible);
            View {
                config,
                files,
                runs,
                dead,
                visible: Bitset::default(),
                visible_count: 0,
                ids: v.ids.branch(),
                slot_count: m.slot_count,
                first_local_slot: m.first_local_slot,
                base_visible: Some(base_visible),
                graphs,
            }
        }
        None => View {
            config,
            files: vec![file.clone()],
            runs: RunMap::default(),
            dead: Bitset::default(),
            visible: Bitset::default(),
            visible_count: 0,
            ids: IdMap::default(),
            slot_count: m.slot_count,
            first_local_slot: 0,
            base_visible: None,
            graphs: Vec::new(),
        },
    };
    view.graphs.extend(
        local
            .index
            .graphs
            .iter()
            .map(|g| ViewGraph::mapped(0, g, false)),
    );
    // A long history leaves thousands of runs; when they are already in order and
    // disjoint (always, for a root store) the map is built in one pass.
    let runs = local.runs.loaded_block().runs(0).chain(
        local
            .runs
            .added()
            .iter()
            .map(|d| Run::single(*d, config.dim, 0)),
    );
    if view.runs.is_empty() && shape.in_order {
        view.runs = RunMap::from_sorted(runs.collect());
    } else {
        for run in runs {
            view.insert_run(run);
        }
    }
    view.dead.or(&local.own_dead);
    // This file's ids: every alive slot of the runs it stores. Runs never overlap each
    // other (a slab copy only covers inherited slots), so each slot has one source: the
    // checkpoint's ID_INDEX, or the SLOT_SEG of a run added by the journal.
    let own_slots = usize::try_from(shape.slots).unwrap_or(usize::MAX);
    let mut layer = LayerBuilder::with_capacity(own_slots.saturating_sub(local.own_dead_count()));
    // The checkpoint's slots a word at a time, over stretches of adjacent runs (a long
    // history of appends is one stretch): the ID_INDEX lists the slots alive at the
    // checkpoint; of those, the ones the journal has not killed since go in.
    let mut index_pos = 0usize;
    for &(start, end) in checkpoint.stretches {
        for (w, mask) in word_masks(start, end) {
            let listed = !checkpoint.dead.word(w) & mask;
            let alive = !view.dead.word(w) & mask;
            let mut bits = listed;
            while bits != 0 {
                let bit = u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                let id = checkpoint.ids.get(index_pos);
                index_pos += 1;
                if alive & (1 << bit) != 0 {
                    layer.push(id, w as u64 * 64 + bit);
                }
            }
        }
    }
    for d in local.runs.iter().skip(checkpoint.runs) {
        let run = Run::single(d, config.dim, 0);
        run.ensure_slots(&file)?;
        let seg = run.slot_seg(&file);
        for (k, s) in (d.first_slot..d.end_slot()).enumerate() {
            if !view.dead.get(s) {
                layer.push(seg.id(k), s);
            }
        }
    }
    let layer = layer.finish();
    if view.base_visible.is_some() {
        let mut changes = Vec::with_capacity(layer.len());
        layer.for_each(|id, s| changes.push(crate::idmap::Change::Set(id, s)));
        view.ids.apply(changes);
    } else {
        view.ids = IdMap::from_layer(layer);
    }
    recompute_visible(&mut view, local.membership.as_ref())?;
    if view.visible_count != m.live_count {
        return Err(RvfError::corrupt(
            &path,
            local.manifest_ref.offset,
            format!(
                "manifest counts {} live vectors, the state has {}",
                m.live_count, view.visible_count
            ),
        ));
    }
    Ok(view)
}

/// Rebuilds `visible` from `dead` and the membership filter.
pub(crate) fn recompute_visible(
    view: &mut View,
    membership: Option<&MembershipFilter>,
) -> Result<()> {
    let filter = membership.filter(|m| !m.is_transparent());
    if filter.is_none() {
        // Without a filter, visible = covered by a run and not dead: word operations.
        // Runs that cover every slot (a root store's always do) need not be walked.
        let covered: u64 = view.runs.values().map(|r| u64::from(r.count)).sum();
        let mut visible = if covered == view.slot_count {
            Bitset::complement_prefix(&view.dead, view.slot_count)
        } else {
            let mut v = Bitset::default();
            for run in view.runs.values() {
                v.set_range(run.first_slot, u64::from(run.count));
            }
            v
        };
        visible.and_not(&view.dead);
        view.visible_count = visible.count_ones();
        view.visible = visible;
        return Ok(());
    }
    let mut visible = Bitset::default();
    let mut count = 0u64;
    for run in view.runs.values() {
        let seg = match filter {
            Some(_) => {
                let file = view.file(run)?;
                run.ensure_slots(file)?;
                Some(run.slot_seg(file))
            }
            None => None,
        };
        for s in run.first_slot..run.end_slot() {
            if view.dead.get(s) {
                continue;
            }
            let shown = match (filter, &seg) {
                (Some(f), Some(seg)) => {
                    let id = seg.id(run.seg_index(s));
                    !view.is_inherited(id) || f.allows(id)
                }
                _ => true,
            };
            if shown {
                visible.set(s);
                count += 1;
            }
        }
    }
    view.visible = visible;
    view.visible_count = count;
    Ok(())
}

/// Finds, checks and loads a child's parent generation.
fn open_parent(
    child: &Path,
    pref: &rvf_format::ParentRef,
    child_first_local: u64,
    config: &Config,
    search: &ParentSearch,
    depth: u16,
) -> Result<Loaded> {
    if depth + 1 > MAX_LINEAGE_DEPTH {
        return Err(RvfError::LineageTooDeep {
            max: MAX_LINEAGE_DEPTH,
        });
    }
    let file_id = hex(&pref.file_id);
    let mut tried = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    let child_dir = child.parent().unwrap_or(Path::new("."));
    if let Some(rel) = path_from_bytes(&pref.relative_path) {
        candidates.push(child_dir.join(rel));
    }
    if let Some(orig) = path_from_bytes(&pref.original_path) {
        candidates.push(orig);
    }
    for sp in &search.search_paths {
        if sp.is_dir() {
            if let Ok(entries) = std::fs::read_dir(sp) {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "rvf"))
                    .collect();
                found.sort();
                candidates.extend(found);
            }
        } else {
            candidates.push(sp.clone());
        }
    }
    let mismatch = |path: &Path, reason: String| RvfError::ParentMismatch {
        child: child.to_path_buf(),
        file_id: file_id.clone(),
        path: path.to_path_buf(),
        reason,
    };
    for cand in candidates {
        if tried.contains(&cand) || cand == child {
            continue;
        }
        tried.push(cand.clone());
        let Ok(f) = File::open(&cand) else { continue };
        let Ok(roots) = read_roots(&cand, &f) else {
            continue;
        };
        let root = roots.newest;
        if root.file_id != pref.file_id {
            continue;
        }
        // A parent that lost its tail still serves the generations that lie entirely
        // within what is left of it.
        let held = root.committed_end.min(roots.file_len);
        let end = pref.manifest.offset.saturating_add(pref.manifest.len);
        if end > held {
            let why = if end > roots.file_len && root.committed_end > roots.file_len {
                format!("the file is cut short ({} of {} committed bytes): it lost the pinned generation (epoch {})", roots.file_len, root.committed_end, pref.epoch)
            } else {
                format!(
                    "its pinned generation (epoch {}) is no longer in the file (compacted or replaced?)",
                    pref.epoch
                )
            };
            return Err(mismatch(&cand, why));
        }
        let mapped = Arc::new(MappedFile::map(&cand, held)?);
        let pinned = usize::try_from(pref.manifest.offset)
            .ok()
            .zip(usize::try_from(pref.manifest.len).ok())
            .and_then(|(s, n)| mapped.bytes().get(s..s.checked_add(n)?));
        if pinned.is_none_or(|b| manifest_hash(b) != pref.manifest_hash) {
            return Err(mismatch(
                &cand,
                format!(
                    "its pinned generation (epoch {}) is no longer in the file: the bytes there do not match the recorded hash (compacted or replaced?)",
                    pref.epoch
                ),
            ));
        }
        let loaded = load_generation(
            mapped,
            pref.manifest,
            Some(pref.manifest_hash),
            search,
            depth + 1,
        )?;
        let vpc = u64::from(config.vectors_per_cluster);
        let expected_first = loaded.view.slot_count.div_ceil(vpc) * vpc;
        if expected_first != child_first_local {
            return Err(RvfError::corrupt_state(
                child,
                "the child's first local slot does not follow its parent's slot count",
            ));
        }
        let pc = loaded.view.config;
        if pc != *config {
            return Err(mismatch(
                &cand,
                "dimension, metric or cluster size differs from the child".into(),
            ));
        }
        if loaded.local.manifest.epoch != pref.epoch {
            return Err(mismatch(&cand, "pinned epoch differs".into()));
        }
        return Ok(loaded);
    }
    Err(RvfError::ParentMissing {
        child: child.to_path_buf(),
        file_id,
        tried,
    })
}

pub(crate) fn path_from_bytes(bytes: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    (!bytes.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

pub(crate) fn path_to_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}
