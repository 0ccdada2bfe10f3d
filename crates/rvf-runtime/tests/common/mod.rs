//! A brute-force in-memory model of a store, shared by the property tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{FilterExpr, MembershipMode, MetaValue, Metadata, RvfStore, SearchResult};

/// Small integer-valued vectors make exact distance ties common, which exercises the
/// id tie-break.
pub fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 33) % 7) as f32 - 3.0
        })
        .collect()
}

/// A deterministic pseudo-random vector in [-0.5, 0.5)^dim for (id, version).
pub fn random_vector(id: u64, version: u64, dim: usize) -> Vec<f32> {
    let mut x =
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ version.wrapping_mul(0xD1B5_4A32_D192_ED03)) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// Metadata of every field type for a third of the ids (the others get none).
pub fn sample_metadata(id: u64, version: u64) -> Metadata {
    let mut m = Metadata::new();
    if !id.is_multiple_of(3) {
        return m;
    }
    m.insert("tag".into(), MetaValue::Int((id % 5) as i64));
    m.insert("name".into(), MetaValue::Str(format!("v{id}.{version}")));
    if id.is_multiple_of(2) {
        m.insert(
            "score".into(),
            MetaValue::Float(id as f64 / 7.0 + version as f64),
        );
    }
    m.insert("fresh".into(), MetaValue::Bool(version % 2 == 1));
    m
}

pub fn meta(g: Option<i64>) -> Metadata {
    let mut m = Metadata::new();
    if let Some(g) = g {
        m.insert("g".into(), MetaValue::Int(g));
    }
    m
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub rows: BTreeMap<u64, (Vec<f32>, Option<Metadata>)>,
    /// Ids visible in the parent at branch time (branches only).
    pub inherited: Option<BTreeSet<u64>>,
    pub mode: Option<MembershipMode>,
    pub members: BTreeSet<u64>,
}

impl Model {
    pub fn branch(&self) -> Model {
        let visible: BTreeMap<_, _> = self
            .rows
            .iter()
            .filter(|(id, _)| self.visible(**id))
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        Model {
            inherited: Some(visible.keys().copied().collect()),
            rows: visible,
            mode: Some(MembershipMode::Exclude),
            members: BTreeSet::new(),
        }
    }

    pub fn visible(&self, id: u64) -> bool {
        if !self.rows.contains_key(&id) {
            return false;
        }
        match (&self.inherited, self.mode) {
            (Some(inh), Some(mode)) if inh.contains(&id) => match mode {
                MembershipMode::Include => self.members.contains(&id),
                MembershipMode::Exclude => !self.members.contains(&id),
            },
            _ => true,
        }
    }

    pub fn ingest(&mut self, items: &[(u64, Vec<f32>, Option<Metadata>)]) {
        for (id, v, m) in items {
            self.rows
                .insert(*id, (v.clone(), m.clone().filter(|m| !m.is_empty())));
        }
    }

    pub fn delete(&mut self, ids: &[u64]) {
        for id in ids {
            self.rows.remove(id);
        }
    }

    pub fn set_mode(&mut self, mode: MembershipMode) {
        self.mode = Some(mode);
        self.members.clear();
    }

    pub fn query(
        &self,
        metric: DistanceMetric,
        q: &[f32],
        k: usize,
        filter: Option<&FilterExpr>,
    ) -> Vec<(u64, f32)> {
        let mut all: Vec<(u64, f32)> = self
            .rows
            .iter()
            .filter(|(id, _)| self.visible(**id))
            .filter(|(_, (_, m))| filter.is_none_or(|f| f.matches(m.as_ref())))
            .map(|(id, (v, _))| (*id, rvf_runtime::distance(metric, q, v)))
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    pub fn visible_count(&self) -> u64 {
        self.rows.keys().filter(|id| self.visible(**id)).count() as u64
    }
}

/// Properties every answer of a query (indexed or not) has: visible ids, each once,
/// matching the filter, with its exact distance, sorted by (distance, id).
pub fn check_answers(
    store: &RvfStore,
    model: &Model,
    metric: DistanceMetric,
    q: &[f32],
    got: &[SearchResult],
    filter: Option<&FilterExpr>,
    label: &str,
) {
    let _ = store;
    let mut seen = BTreeSet::new();
    for r in got {
        assert!(seen.insert(r.id), "{label}: id {} twice", r.id);
        assert!(model.visible(r.id), "{label}: id {} not visible", r.id);
        let (v, m) = &model.rows[&r.id];
        assert!(
            filter.is_none_or(|f| f.matches(m.as_ref())),
            "{label}: id {} fails the filter",
            r.id
        );
        let d = rvf_runtime::distance(metric, q, v);
        assert_eq!(
            d.to_bits(),
            r.distance.to_bits(),
            "{label}: distance of {}",
            r.id
        );
    }
    assert!(
        got.windows(2)
            .all(|w| (w[0].distance, w[0].id) <= (w[1].distance, w[1].id)),
        "{label}: answers out of order"
    );
}

pub fn pairs(r: &[SearchResult]) -> Vec<(u64, f32)> {
    r.iter().map(|r| (r.id, r.distance)).collect()
}

/// Asserts that `store` answers exactly like `model`: every get, and queries with and
/// without filters, single and batched.
pub fn check(
    store: &RvfStore,
    model: &Model,
    metric: DistanceMetric,
    dim: usize,
    id_range: u64,
    label: &str,
) {
    assert_eq!(
        store.status().total_vectors,
        model.visible_count(),
        "{label}: count"
    );
    for id in 0..id_range {
        let got = store.get(id).unwrap();
        if model.visible(id) {
            let (v, m) = &model.rows[&id];
            let rec = got.unwrap_or_else(|| panic!("{label}: id {id} missing"));
            assert_eq!(&rec.vector, v, "{label}: vector of {id}");
            assert_eq!(&rec.metadata, m, "{label}: metadata of {id}");
        } else {
            assert!(got.is_none(), "{label}: id {id} should be absent");
        }
    }
    let queries: Vec<Vec<f32>> = (0..3).map(|i| vector(10_000 + i, dim)).collect();
    let filters = [
        None,
        Some(FilterExpr::eq("g", MetaValue::Int(1))),
        Some(FilterExpr::Not(Box::new(FilterExpr::eq(
            "g",
            MetaValue::Int(0),
        )))),
    ];
    for f in &filters {
        let opts = rvf_runtime::QueryOptions {
            filter: f.clone(),
            threads: 2,
            exact: true,
            ..Default::default()
        };
        let refs: Vec<&[f32]> = queries.iter().map(|q| q.as_slice()).collect();
        // The default (indexed) path: approximate, but every answer must be one the
        // store shows, matching the filter, at its exact distance, in order.
        let approx = rvf_runtime::QueryOptions {
            exact: false,
            ..opts.clone()
        };
        for q in &queries {
            let got = store.query(q, 7, &approx).unwrap();
            check_answers(store, model, metric, q, &got, f.as_ref(), label);
        }
        let batch = store.query_batch(&refs, 7, &opts).unwrap();
        for (q, b) in queries.iter().zip(batch) {
            let expected = model.query(metric, q, 7, f.as_ref());
            let single = pairs(&store.query(q, 7, &opts).unwrap());
            assert_eq!(single, expected, "{label}: query with filter {f:?}");
            assert_eq!(
                pairs(&b),
                expected,
                "{label}: batch query with filter {f:?}"
            );
        }
    }
}
