//! Timing helpers and summary statistics.

use std::time::{Duration, Instant};

/// Runs `f` and returns its result with the wall time it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t0 = Instant::now();
    let out = f();
    (out, t0.elapsed())
}

/// Mean and median of a set of samples, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub mean: f64,
    pub median: f64,
    pub count: usize,
}

impl Summary {
    pub fn of(samples: &[Duration]) -> Summary {
        let secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        Summary::of_secs(&secs)
    }

    pub fn of_secs(samples: &[f64]) -> Summary {
        let count = samples.len();
        if count == 0 {
            return Summary {
                mean: f64::NAN,
                median: f64::NAN,
                count,
            };
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if count % 2 == 1 {
            sorted[count / 2]
        } else {
            (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
        };
        Summary {
            mean: samples.iter().sum::<f64>() / count as f64,
            median,
            count,
        }
    }
}

/// Seconds as a short human figure: `812 µs`, `12.3 ms`, `4.21 s`.
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "n/a".into()
    } else if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// A rate as `1.23 M/s` or `45.6 k/s`.
pub fn fmt_rate(per_sec: f64, unit: &str) -> String {
    if !per_sec.is_finite() {
        "n/a".into()
    } else if per_sec >= 1e6 {
        format!("{:.2} M {unit}/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k {unit}/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.1} {unit}/s")
    }
}

/// Bytes as `51,200 B` below 1 MiB, else `12.3 MiB`.
pub fn fmt_bytes(b: u64) -> String {
    if b < 1 << 20 {
        let s = b.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        format!("{out} B")
    } else if b < 1 << 30 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_formats() {
        let s = Summary::of_secs(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!(s.median, 2.5);
        assert_eq!(s.mean, 4.0);
        assert_eq!(fmt_bytes(51_200), "51,200 B");
        assert_eq!(fmt_bytes(999), "999 B");
        assert_eq!(fmt_secs(0.0123), "12.30 ms");
    }
}
