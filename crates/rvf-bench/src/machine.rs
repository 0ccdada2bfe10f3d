//! What the report says about the machine: CPU, memory, source revision, and how busy
//! other processes kept the CPUs while we measured.

use std::path::Path;
use std::process::Command;

/// Output of a command, trimmed, when it succeeds.
pub fn shell(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `model name` of the first CPU in /proc/cpuinfo, with its family and model numbers.
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_string())
    };
    let name = field("model name").unwrap_or_else(|| "unknown CPU".into());
    match (field("cpu family"), field("model")) {
        (Some(f), Some(m)) => format!("{name} (family {f}, model {m})"),
        _ => name,
    }
}

pub fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|c| {
            let kb: u64 = c
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.0} GiB RAM", kb as f64 / (1u64 << 20) as f64))
        })
        .unwrap_or_else(|| "RAM unknown".into())
}

pub fn os_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// `git describe`-like revision of the workspace, marked when the tree has changes.
pub fn revision(root: &Path) -> String {
    let dir = root.to_string_lossy();
    let rev = shell("git", &["-C", &dir, "rev-parse", "--short", "HEAD"]);
    let dirty = shell(
        "git",
        &["-C", &dir, "status", "--porcelain", "--", "crates"],
    )
    .is_some_and(|s| !s.is_empty());
    match rev {
        Some(r) if dirty => format!("{r} with uncommitted changes under crates/"),
        Some(r) => r,
        None => "unknown revision".into(),
    }
}

/// Busy CPU time of the whole machine and of this process (with its waited-for
/// children, i.e. the peer), in clock ticks.
#[derive(Clone, Copy)]
pub struct CpuSample {
    machine_busy: u64,
    machine_total: u64,
    ours: u64,
}

impl CpuSample {
    pub fn now() -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal ...
        let idle = cpu.get(3)? + cpu.get(4).copied().unwrap_or(0);
        let total: u64 = cpu.iter().take(8).sum();
        let me = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name: utime is the 14th field overall.
        let rest = me.rsplit_once(')')?.1;
        let f: Vec<u64> = rest
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|x| x.parse().ok())
            .collect();
        Some(CpuSample {
            machine_busy: total - idle,
            machine_total: total,
            ours: f.iter().sum(),
        })
    }

    /// Share of all CPUs that other processes kept busy since `self`, in percent.
    pub fn others_percent(&self, later: &CpuSample) -> f64 {
        let busy = later.machine_busy.saturating_sub(self.machine_busy);
        let ours = later.ours.saturating_sub(self.ours);
        let total = later
            .machine_total
            .saturating_sub(self.machine_total)
            .max(1);
        busy.saturating_sub(ours) as f64 * 100.0 / total as f64
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Waits (at most `max`) until other processes use under 10 % of the CPUs over a
/// 2-second window; returns their last measured share, in percent.
pub fn wait_quiet(max: std::time::Duration) -> f64 {
    let start = std::time::Instant::now();
    loop {
        let Some(a) = CpuSample::now() else {
            return f64::NAN;
        };
        std::thread::sleep(std::time::Duration::from_secs(2));
        let Some(b) = CpuSample::now() else {
            return f64::NAN;
        };
        let busy = a.others_percent(&b);
        if busy < 10.0 || start.elapsed() >= max {
            if busy >= 10.0 {
                crate::progress(format!(
                    "machine still busy ({busy:.0} % used by other processes); measuring anyway"
                ));
            }
            return busy;
        }
        crate::progress(format!(
            "waiting for a quiet machine ({busy:.0} % used by other processes)"
        ));
    }
}

/// How fast one core reads memory that is in no cache: the best of `reps` AVX2 passes
/// (a running minimum, the cheapest work per float) over a 512 MiB array, in GB/s. A
/// 1-thread exact scan cannot beat it, so it puts the single-query rows in proportion.
pub fn stream_read_gbps(reps: usize) -> f64 {
    let floats = 128 << 20;
    let data: Vec<f32> = (0..floats).map(|i| (i % 1021) as f32).collect();
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = std::time::Instant::now();
        std::hint::black_box(rvf_distance::min_of_pairs(&data, &data, |x, _| x));
        best = best.min(t.elapsed().as_secs_f64());
    }
    (floats * 4) as f64 / best / 1e9
}
