//! Whole files through rvf_runtime: the input becomes a file that is opened read-only and
//! as a writer, then queried, read id by id, and (as a writer) written to. Nothing may
//! panic. The first input byte picks how the file is made:
//!
//! * 0 — the input itself is the file;
//! * 1 — a valid store image (a root store or a branch of it) with byte patches from the
//!   input (3 bytes each: offset hi, offset lo, xor);
//! * 2 — a valid store image followed by the input as an uncommitted tail: the file must
//!   open to exactly the store's contents;
//! * 3 — segments from the input (`u8 type, u16 length, payload` records) wrapped with
//!   valid checksums, and a valid root naming the last manifest record. With flag bit 0
//!   (second byte) a manifest's parent reference is pointed at the real base store, so
//!   branches built this way find their parent.
//!
//! Seeds: when `RVF_FUZZ_SEED_DIR` is set, start-up writes seed inputs for every target
//! (taken from real stores) into `$RVF_FUZZ_SEED_DIR/<target>/`.
#![no_main]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rvf_format::layout::{features, DATA_START, FORMAT_VERSION, ROOT_SLOT_LEN};
use rvf_format::{
    encode_segment, manifest_hash, read_segment, Manifest, ParentRef, RootSlot, SegmentHeader,
    SegmentType,
};
use rvf_runtime::{
    FilterExpr, MembershipMode, MetaValue, Metadata, QueryOptions, RvfOptions, RvfStore,
    SearchResult,
};

const DIM: usize = 4;

struct Env {
    dir: PathBuf,
    base: Vec<u8>,
    child: Vec<u8>,
    base_answers: Answers,
    child_answers: Answers,
    /// What a branch of the base store records as its parent.
    parent_ref: ParentRef,
}

#[derive(Debug, PartialEq)]
struct Answers {
    total: u64,
    epoch: u64,
    ids: Vec<u64>,
    hits: Vec<(u64, u32)>,
}

fn vector(id: u64) -> Vec<f32> {
    (0..DIM)
        .map(|j| ((id * 7 + j as u64 * 13) % 17) as f32 / 17.0 - 0.4)
        .collect()
}

/// The query every store is asked (any dimension).
fn query_for(dim: usize) -> Vec<f32> {
    let v = vector(99);
    (0..dim).map(|j| v[j % DIM] + (j / DIM) as f32).collect()
}

fn answers(s: &RvfStore) -> Answers {
    let q = query_for(usize::from(s.dimension()));
    let hits: Vec<SearchResult> = s.query(&q, 1000, &QueryOptions::default()).unwrap();
    Answers {
        total: s.status().total_vectors,
        epoch: s.epoch(),
        ids: s.ids().unwrap(),
        hits: hits.iter().map(|h| (h.id, h.distance.to_bits())).collect(),
    }
}

fn build_env() -> Env {
    let dir = std::env::temp_dir().join(format!("rvf-fuzz-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let base_path = dir.join("base.rvf");
    let mut s = RvfStore::create(
        &base_path,
        RvfOptions {
            dimension: DIM as u16,
            cluster_bytes: 128,
            ..Default::default()
        },
    )
    .unwrap();
    let ids: Vec<u64> = (0..24).collect();
    let vecs: Vec<Vec<f32>> = ids.iter().map(|&i| vector(i)).collect();
    let refs: Vec<&[f32]> = vecs.iter().map(Vec::as_slice).collect();
    let metas: Vec<Metadata> = ids
        .iter()
        .map(|&i| {
            let mut m = Metadata::new();
            if i % 2 == 0 {
                m.insert("n".into(), MetaValue::Int(i as i64));
                m.insert("s".into(), MetaValue::Str(format!("x{i}")));
            }
            m
        })
        .collect();
    s.ingest_batch(&refs, &ids, Some(&metas)).unwrap();
    s.ingest_batch(&[&vector(100), &vector(3)], &[100, 3], None)
        .unwrap();
    s.delete(&[5, 6]).unwrap();
    let mut c = s.branch(&dir.join("child.rvf")).unwrap();
    drop(s);
    c.ingest_batch(&[&vector(200), &vector(8)], &[200, 8], None)
        .unwrap();
    c.delete(&[9]).unwrap();
    c.set_membership_mode(MembershipMode::Include).unwrap();
    c.membership_add(&[1, 2, 3, 4, 8, 10, 11]).unwrap();
    let child_answers = answers(&c);
    drop(c);
    let base = fs::read(&base_path).unwrap();
    let child = fs::read(dir.join("child.rvf")).unwrap();
    let base_answers = answers(&RvfStore::open_readonly(&base_path).unwrap());
    let parent_ref = manifest_of(&child).parent.unwrap();
    let env = Env {
        dir,
        base,
        child,
        base_answers,
        child_answers,
        parent_ref,
    };
    if let Ok(seed_dir) = std::env::var("RVF_FUZZ_SEED_DIR") {
        write_seeds(&env, Path::new(&seed_dir));
    }
    env
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(build_env)
}

fn manifest_of(bytes: &[u8]) -> Manifest {
    let root = rvf_format::choose_root(&bytes[..128], &bytes[512..640]).unwrap();
    let (_, p) = read_segment(bytes, root.manifest_offset, SegmentType::Manifest, true).unwrap();
    Manifest::decode(p).unwrap()
}

/// The segments of a valid file, in order.
fn segments(bytes: &[u8]) -> Vec<(SegmentType, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = DATA_START as usize;
    while off < bytes.len() {
        let h = SegmentHeader::decode(&bytes[off..]).unwrap();
        let p = &bytes[off + 64..off + 64 + h.payload_len as usize];
        out.push((h.seg_type, p.to_vec()));
        off += h.total_len() as usize;
    }
    out
}

fn structured(flags: u8, segs: &[(SegmentType, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![3, flags];
    for (t, p) in segs {
        out.push(*t as u8);
        out.extend_from_slice(&(p.len() as u16).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn write_seeds(env: &Env, root: &Path) {
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let d = root.join(target);
        let _ = fs::create_dir_all(&d);
        let _ = fs::write(d.join(name), bytes);
    };
    for (name, file) in [("base", &env.base), ("child", &env.child)] {
        let mut raw = vec![0u8];
        raw.extend_from_slice(file);
        put("open_file", &format!("{name}-raw"), &raw);
        put(
            "open_file",
            &format!("{name}-patch"),
            &[1, (name == "child") as u8, 4, 0, 1],
        );
        put(
            "open_file",
            &format!("{name}-tail"),
            &[2, (name == "child") as u8, 0xAB],
        );
        let segs = segments(file);
        put(
            "open_file",
            &format!("{name}-segments"),
            &structured(1, &segs),
        );
        put("root_slot", name, &[&file[..128], &file[512..640]].concat());
        for (i, (t, p)) in segs.iter().enumerate() {
            let target = match t {
                SegmentType::Manifest => "manifest",
                SegmentType::Delta => "delta",
                SegmentType::CowMap => "run_table",
                SegmentType::IdIndex => "id_index",
                SegmentType::Slot => "slot_seg",
                SegmentType::Membership => "membership",
                SegmentType::Vec => "vec_layout",
                _ => "sorted_set",
            };
            let payload = match t {
                SegmentType::Vec => [&(DIM as u16).to_le_bytes()[..], p].concat(),
                SegmentType::IdIndex => {
                    let n = (p.len() / 8) as u16;
                    [&[1u8][..], &n.to_le_bytes(), p].concat()
                }
                SegmentType::DeadSet => [&[0xFF; 8][..], p].concat(),
                _ => p.clone(),
            };
            put(target, &format!("{name}-{i}"), &payload);
            let mut seg = vec![0, 0, *t as u8, 1];
            seg.extend_from_slice(&encode_segment(*t, 1, 1, p));
            put("segment", &format!("{name}-{i}"), &seg);
        }
    }
    let mut meta = Vec::new();
    let mut m = Metadata::new();
    m.insert("a".into(), MetaValue::Int(-3));
    m.insert("b".into(), MetaValue::Float(0.5));
    m.insert("c".into(), MetaValue::Str("hello".into()));
    m.insert("d".into(), MetaValue::Bool(true));
    rvf_format::encode_metadata(&m, &mut meta);
    put("metadata", "all-types", &meta);
    let mut set = vec![0xFFu8; 8];
    rvf_format::encode_sorted_set(&[0, 1, 2, 10, 1000, 1 << 40], &mut set);
    put("sorted_set", "set", &set);
}

/// Builds a file from `u8 type, u16 len, payload` records with valid checksums and root.
fn build_structured(env: &Env, flags: u8, mut rest: &[u8]) -> Vec<u8> {
    let mut file = vec![0u8; DATA_START as usize];
    let mut manifest = None;
    let mut seg_id = 1u64;
    while rest.len() >= 3 {
        let ty = rest[0];
        let len = (u16::from_le_bytes([rest[1], rest[2]]) as usize).min(rest.len() - 3);
        let mut payload = rest[3..3 + len].to_vec();
        rest = &rest[3 + len..];
        let Ok(ty) = SegmentType::from_u8(ty) else {
            continue;
        };
        let mut decoded = None;
        if ty == SegmentType::Manifest {
            if let Ok(mut m) = Manifest::decode(&payload) {
                if flags & 1 == 1 {
                    if let Some(p) = &mut m.parent {
                        *p = env.parent_ref.clone();
                        payload = m.encode();
                    }
                }
                decoded = Some(m);
            }
        }
        let at = file.len() as u64;
        let seg = encode_segment(ty, seg_id, 1, &payload);
        seg_id += 1;
        file.extend_from_slice(&seg);
        if ty == SegmentType::Manifest {
            manifest = Some((at, seg, decoded));
        }
    }
    let Some((at, seg, decoded)) = manifest else {
        return file;
    };
    let (epoch, file_id, child) = decoded.as_ref().map_or((1, [0; 16], false), |m| {
        (m.epoch, m.file_id, m.parent.is_some())
    });
    let committed_end = if flags & 2 == 2 {
        at + seg.len() as u64
    } else {
        file.len() as u64
    };
    let root = RootSlot {
        format_version: FORMAT_VERSION,
        slot_index: (epoch % 2) as u16,
        read_features: if child { features::READ_COW_CHILD } else { 0 },
        write_features: 0,
        file_id,
        epoch,
        manifest_offset: at,
        manifest_len: seg.len() as u64,
        committed_end,
        manifest_hash: manifest_hash(&seg),
    };
    let slot_at = RootSlot::offset_of(root.slot_index) as usize;
    file[slot_at..slot_at + ROOT_SLOT_LEN].copy_from_slice(&root.encode());
    file
}

/// Every call on an opened store; returns its answers when every call succeeded.
fn use_store(s: &mut RvfStore, writer: bool) -> Option<Answers> {
    let status = s.status();
    let dim = usize::from(s.dimension());
    let _ = s.cow_stats();
    let _ = s
        .membership_filter()
        .map(|m| (m.member_count(), m.ids().count()));
    let _ = s.ancestor_paths();
    let ids = s.ids().unwrap_or_default();
    let mut ok = s.ids().is_ok();
    for &id in ids.iter().take(256).chain(&[u64::MAX, 12345]) {
        ok &= s.get(id).is_ok();
    }
    let q = query_for(dim);
    let hits = s.query(&q, 1000, &QueryOptions::default());
    let filter = QueryOptions {
        filter: Some(FilterExpr::Or(vec![
            FilterExpr::ge("n", MetaValue::Int(4)),
            FilterExpr::eq("s", MetaValue::Str("x2".into())),
        ])),
        ..Default::default()
    };
    ok &= s.query(&q, 5, &filter).is_ok();
    let batch = QueryOptions {
        threads: 2,
        ..Default::default()
    };
    ok &= s.query_batch(&[&q, &q], 3, &batch).is_ok();
    let answers = match &hits {
        Ok(h) if ok => Some(Answers {
            total: status.total_vectors,
            epoch: s.epoch(),
            ids: ids.clone(),
            hits: h.iter().map(|h| (h.id, h.distance.to_bits())).collect(),
        }),
        _ => None,
    };
    if writer && dim <= 4096 {
        let v: Vec<f32> = (0..dim).map(|j| j as f32 * 0.25).collect();
        let _ = s.ingest_batch(&[&v, &v], &[7, 1 << 33], None);
        let _ = s.delete(&[1, 2]);
        let _ = s.delete_by_filter(&FilterExpr::eq("n", MetaValue::Int(0)));
        let _ = s.query(&q, 3, &QueryOptions::default());
        if s.is_cow_child() {
            let _ = s.membership_add(&[3, 1 << 20]);
        }
    }
    answers
}

/// Opens `path` read-only, then as a writer (which may write), then read-only again.
fn exercise(path: &Path) -> (Option<Answers>, Option<Answers>) {
    let ro = RvfStore::open_readonly(path)
        .ok()
        .and_then(|mut s| use_store(&mut s, false));
    let w = RvfStore::open(path)
        .ok()
        .and_then(|mut s| use_store(&mut s, true));
    if let Ok(mut s) = RvfStore::open_readonly(path) {
        let _ = use_store(&mut s, false);
    }
    (ro, w)
}

fuzz_target!(
    init: {
        env();
    },
    |data: &[u8]| {
    let env = env();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let path = env.dir.join("input.rvf");
    let pick = |b: Option<&u8>| {
        if b.is_some_and(|b| b & 1 == 1) {
            (&env.child, &env.child_answers)
        } else {
            (&env.base, &env.base_answers)
        }
    };
    match mode % 4 {
        0 => {
            fs::write(&path, rest).unwrap();
            exercise(&path);
        }
        1 => {
            let (image, _) = pick(rest.first());
            let mut bytes = image.clone();
            for p in rest.get(1..).unwrap_or(&[]).chunks_exact(3) {
                let at = usize::from(u16::from_be_bytes([p[0], p[1]])) % bytes.len();
                bytes[at] ^= p[2];
            }
            fs::write(&path, &bytes).unwrap();
            exercise(&path);
        }
        2 => {
            let (image, want) = pick(rest.first());
            let mut bytes = image.clone();
            bytes.extend_from_slice(rest.get(1..).unwrap_or(&[]));
            fs::write(&path, &bytes).unwrap();
            let (ro, w) = exercise(&path);
            assert_eq!(ro.as_ref(), Some(want), "an uncommitted tail changed a read");
            assert_eq!(w.as_ref(), Some(want), "an uncommitted tail changed a write open");
        }
        _ => {
            let flags = rest.first().copied().unwrap_or(0);
            let bytes = build_structured(env, flags, rest.get(1..).unwrap_or(&[]));
            fs::write(&path, &bytes).unwrap();
            exercise(&path);
        }
    }
});
