//! 8-bit scalar quantization: each component maps to `min + code * step`, with `min`
//! and `step` per component, fitted to the vectors of the graph.

use rvf_distance::{dot_u8, l2_u8};

/// The distance a graph is built and searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Squared Euclidean.
    L2,
    /// Negated inner product.
    InnerProduct,
    /// `1 - cos`: the graph holds the codes of unit vectors.
    Cosine,
}

/// Per-component offsets and scales of the codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Sq8 {
    pub mins: Vec<f32>,
    pub steps: Vec<f32>,
}

/// The unit vector of `v` (zero stays zero), for cosine graphs.
pub fn normalized(v: &[f32]) -> Vec<f32> {
    let n = rvf_distance::dot(v, v).sqrt();
    if n > 0.0 {
        v.iter().map(|x| x / n).collect()
    } else {
        v.to_vec()
    }
}

impl Sq8 {
    /// Fits the range of every component over `rows` (a sample is enough).
    pub fn fit<'a>(dim: usize, rows: impl Iterator<Item = &'a [f32]>) -> Sq8 {
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for r in rows {
            for ((l, h), &x) in lo.iter_mut().zip(hi.iter_mut()).zip(r) {
                *l = l.min(x);
                *h = h.max(x);
            }
        }
        let mut mins = Vec::with_capacity(dim);
        let mut steps = Vec::with_capacity(dim);
        for (&l, &h) in lo.iter().zip(&hi) {
            let (l, h) = if l <= h { (l, h) } else { (0.0, 0.0) };
            mins.push(l);
            steps.push(if h > l { (h - l) / 255.0 } else { 0.0 });
        }
        Sq8 { mins, steps }
    }

    /// Codes of `v` into `out` (`out.len() >= dim`; the padding stays zero). Values
    /// outside the fitted range clamp to its ends.
    pub fn encode(&self, v: &[f32], out: &mut [u8]) {
        for (((o, &x), &m), &s) in out.iter_mut().zip(v).zip(&self.mins).zip(&self.steps) {
            *o = if s > 0.0 {
                ((x - m) / s).round().clamp(0.0, 255.0) as u8
            } else {
                0
            };
        }
    }

    /// Squared norm of the vector `codes` decode to.
    pub fn decoded_norm(&self, codes: &[u8]) -> f32 {
        codes
            .iter()
            .zip(&self.mins)
            .zip(&self.steps)
            .map(|((&c, &m), &s)| {
                let x = s.mul_add(f32::from(c), m);
                x * x
            })
            .sum()
    }
}

/// A query made ready for scoring codes. Inner product and cosine score
/// `q . min + sum((q * step)[i] * code[i])`; L2 scores `sum((q - min - step * code)^2)`,
/// which reads nothing but the codes (the expanded form would need each vector's norm
/// too, one more cache miss per vector in a graph larger than the caches).
#[derive(Debug, Clone)]
pub struct Prepared {
    metric: Metric,
    /// Inner product and cosine: `q * step`; L2: `q - min`; per component.
    w: Vec<f32>,
    /// L2: the codes' steps.
    steps: Vec<f32>,
    /// `q . min` (inner product and cosine).
    base: f32,
}

impl Prepared {
    /// Prepares `query` (for cosine, its unit vector is scored).
    pub fn new(metric: Metric, quant: (&[f32], &[f32]), query: &[f32]) -> Prepared {
        let q = match metric {
            Metric::Cosine => normalized(query),
            _ => query.to_vec(),
        };
        let (mins, steps) = quant;
        match metric {
            Metric::L2 => Prepared {
                metric,
                w: q.iter().zip(mins).map(|(x, m)| x - m).collect(),
                steps: steps.to_vec(),
                base: 0.0,
            },
            Metric::InnerProduct | Metric::Cosine => Prepared {
                metric,
                w: q.iter().zip(steps).map(|(x, s)| x * s).collect(),
                steps: Vec::new(),
                base: q.iter().zip(mins).map(|(x, m)| x * m).sum(),
            },
        }
    }

    /// Approximate distance to the vector of `codes`, in the metric's sense: smaller is
    /// closer.
    #[inline]
    pub fn distance(&self, codes: &[u8]) -> f32 {
        match self.metric {
            Metric::L2 => l2_u8(&self.w, &self.steps, codes),
            Metric::InnerProduct => -(self.base + dot_u8(&self.w, codes)),
            Metric::Cosine => 1.0 - (self.base + dot_u8(&self.w, codes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_approximate_the_vectors() {
        let rows: Vec<Vec<f32>> = (0..50)
            .map(|i| {
                (0..16)
                    .map(|d| ((i * 7 + d * 3) % 23) as f32 - 11.0)
                    .collect()
            })
            .collect();
        let q = Sq8::fit(16, rows.iter().map(|r| r.as_slice()));
        let query: Vec<f32> = (0..16).map(|d| d as f32 * 0.3 - 2.0).collect();
        let mut codes = vec![0u8; 32];
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            let p = Prepared::new(metric, (&q.mins, &q.steps), &query);
            for r in &rows {
                let target = match metric {
                    Metric::Cosine => normalized(r),
                    _ => r.clone(),
                };
                let enc = match metric {
                    Metric::Cosine => {
                        let unit: Vec<Vec<f32>> = rows.iter().map(|r| normalized(r)).collect();
                        Sq8::fit(16, unit.iter().map(|r| r.as_slice()))
                    }
                    _ => q.clone(),
                };
                enc.encode(&target, &mut codes);
                let p = match metric {
                    Metric::Cosine => Prepared::new(metric, (&enc.mins, &enc.steps), &query),
                    _ => p.clone(),
                };
                let exact = match metric {
                    Metric::L2 => rvf_distance::l2_sq(&query, r),
                    Metric::InnerProduct => -rvf_distance::dot(&query, r),
                    Metric::Cosine => 1.0 - rvf_distance::dot(&normalized(&query), &normalized(r)),
                };
                let approx = p.distance(&codes);
                // Each component is off by at most half a step: the distance moves by at
                // most what that error vector can move it.
                let e = enc.steps.iter().map(|s| s * s / 4.0).sum::<f32>().sqrt();
                let qn = match metric {
                    Metric::Cosine => 1.0,
                    _ => rvf_distance::dot(&query, &query).sqrt(),
                };
                let xn = rvf_distance::dot(&target, &target).sqrt();
                let bound = 2.0 * (qn + xn) * e + e * e + 1e-4;
                assert!(
                    (approx - exact).abs() <= bound,
                    "{metric:?}: {approx} vs {exact} (bound {bound})"
                );
            }
        }
    }
}
