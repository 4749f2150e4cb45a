//! What a run will hold in memory, estimated before anything is allocated, and the memory the
//! machine has for it: a run that cannot fit is a usage error (exit 2) naming the estimate and
//! the limit, instead of an allocation failure (an abort) or a machine that swaps until killed.
//!
//! The estimate counts the arrays that grow with the run (walkers × N × the state every
//! engine keeps, the catalogue's Hessians, pixels, instances); it is a lower bound of what the
//! process uses. The limit is, on Linux, `MemAvailable` of /proc/meminfo, or the cgroup's
//! `memory.max` less its `memory.current` when that is smaller (a container or a Slurm job);
//! where neither can be read it is [`FALLBACK_BYTES`]. `SADDLESCOPE_MEMORY_LIMIT` (bytes, or
//! a number with K, M, G or T for binary units: `512M`, `8G`) sets the limit instead, for
//! shared nodes where the free memory is not one's own.

use crate::spec::SpecError;

/// The variable that sets the memory limit in place of what the machine reports.
pub const LIMIT_ENV: &str = "SADDLESCOPE_MEMORY_LIMIT";

/// The limit where the machine's available memory cannot be read: 8 GiB.
pub const FALLBACK_BYTES: u64 = 8 << 30;

/// Bytes a run will hold, as named parts.
#[derive(Debug, Clone, Default)]
pub struct Estimate {
    parts: Vec<(String, u64)>,
}

impl Estimate {
    pub fn new() -> Self {
        Estimate::default()
    }

    /// `count` items of `bytes` bytes each, named `what` (saturating: an estimate that
    /// overflows u64 is as refused as one that does not).
    pub fn add(&mut self, what: impl Into<String>, count: u64, bytes: u64) -> &mut Self {
        self.parts.push((what.into(), count.saturating_mul(bytes)));
        self
    }

    pub fn total(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |t, (_, b)| t.saturating_add(*b))
    }

    pub fn parts(&self) -> &[(String, u64)] {
        &self.parts
    }

    /// The state of `walkers` walkers in N = `n` dimensions with `slots` vectors each (the
    /// engines' state: position, trial, gradient, scratch, optimizer moments, start and the
    /// rule's own), the starts and end states the host keeps, per-walker scalars, counters,
    /// `hyper` hyperparameter rows and a table row.
    pub fn walkers(&mut self, walkers: u64, n: u64, slots: u64, hyper: u64) -> &mut Self {
        let vector = n.saturating_mul(8);
        self.add(
            format!("walker state ({slots} vectors of N = {n})"),
            walkers,
            vector.saturating_mul(slots),
        );
        self.add("starts and end states", walkers, vector.saturating_mul(2));
        self.add(
            "per-walker scalars, counters, hyperparameters and table rows",
            walkers,
            8 * (crate::walk::state::SCALARS as u64 + hyper)
                + 4 * crate::walk::state::COUNTERS as u64
                + 128,
        )
    }

    /// The critical-point catalogue of `walkers` end states: each polished position, and a
    /// Hessian with its eigen-decomposition's workspace per thread at a time.
    pub fn catalogue(&mut self, walkers: u64, n: u64) -> &mut Self {
        let threads = rayon::current_num_threads() as u64;
        self.add("polished positions", walkers, n.saturating_mul(8))
            .add(
                format!("Hessians being classified ({threads} threads, 3 N x N)"),
                threads.saturating_mul(3),
                n.saturating_mul(n).saturating_mul(8),
            )
    }
}

/// A command's estimate with what sets it and what to change: `what` names the flags (as
/// `--walkers 2147483647 at N = 2`), `valid` the way out (as `fewer --walkers`).
#[derive(Debug, Clone)]
pub struct Need {
    pub what: String,
    pub estimate: Estimate,
    pub valid: String,
}

impl Need {
    /// Refuses the run when it cannot fit ([`check`]).
    pub fn check(&self) -> Result<(), SpecError> {
        check(&self.what, &self.estimate, &self.valid)
    }
}

/// The memory a run may use and where that figure comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Available {
    pub bytes: u64,
    pub source: String,
}

/// The memory available to this process now (see the module's notes); a value of
/// `SADDLESCOPE_MEMORY_LIMIT` that is not a size is a usage error, not ignored.
pub fn available() -> Result<Available, SpecError> {
    if let Ok(text) = std::env::var(LIMIT_ENV) {
        return match parse_bytes(&text) {
            Some(bytes) => Ok(Available {
                bytes,
                source: format!("{LIMIT_ENV}={text}"),
            }),
            None => Err(SpecError::Invalid(format!(
                "{LIMIT_ENV}={text:?} is not a size; valid: a number of bytes, or a number with \
                 K, M, G or T (binary units), e.g. 512M or 8G"
            ))),
        };
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_available(&t));
    let cgroup = cgroup_free();
    Ok(match (meminfo, cgroup) {
        (Some(m), Some(c)) if c < m => Available {
            bytes: c,
            source: "the cgroup's memory.max less memory.current".into(),
        },
        (Some(m), _) => Available {
            bytes: m,
            source: "MemAvailable in /proc/meminfo".into(),
        },
        (None, Some(c)) => Available {
            bytes: c,
            source: "the cgroup's memory.max less memory.current".into(),
        },
        (None, None) => Available {
            bytes: FALLBACK_BYTES,
            source: format!(
                "no /proc/meminfo: the fallback of {}; set {LIMIT_ENV} to the memory you have",
                show(FALLBACK_BYTES)
            ),
        },
    })
}

/// `MemAvailable:   23758208 kB` of /proc/meminfo, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// A cgroup v2 limit less what the cgroup uses (None without a limit).
fn cgroup_free() -> Option<u64> {
    let read = |f: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).ok();
    let max: u64 = read("memory.max")?.trim().parse().ok()?;
    let current: u64 = read("memory.current")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// `123`, `512M`, `8G`, `1.5T` (binary units; an optional trailing B or iB).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, unit) = match t.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, ' '),
    };
    let scale: f64 = match unit {
        ' ' => 1.0,
        'K' => 1024.0,
        'M' => 1024.0 * 1024.0,
        'G' => 1024.0 * 1024.0 * 1024.0,
        'T' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * scale).min(u64::MAX as f64) as u64)
}

/// Bytes for people: `512 B`, `3.2 MiB`, `96.0 GiB`.
pub fn show(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Refuses `estimate` when it is more than the memory available: a usage error naming `what`
/// (the flags that set the size), the estimate and its largest part, the limit and where it
/// comes from, and `valid` (what to change).
pub fn check(what: &str, estimate: &Estimate, valid: &str) -> Result<(), SpecError> {
    check_against(what, estimate, &available()?, valid)
}

/// [`check`] against a given limit.
pub fn check_against(
    what: &str,
    estimate: &Estimate,
    limit: &Available,
    valid: &str,
) -> Result<(), SpecError> {
    let need = estimate.total();
    if need <= limit.bytes {
        return Ok(());
    }
    let largest = estimate
        .parts()
        .iter()
        .max_by_key(|(_, b)| *b)
        .map(|(w, b)| format!(" (largest part: {w}, {})", show(*b)))
        .unwrap_or_default();
    Err(SpecError::TooLarge {
        what: what.to_string(),
        need: format!("an estimated {} of memory{largest}", show(need)),
        limit: format!("the {} available ({})", show(limit.bytes), limit.source),
        valid: format!("{valid}, or {LIMIT_ENV} if more is free"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_show_in_binary_units() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("512M"), Some(512 << 20));
        assert_eq!(parse_bytes("8GiB"), Some(8 << 30));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("-1G"), None);
        assert_eq!(show(512), "512 B");
        assert_eq!(show(3 << 30), "3.0 GiB");
        assert_eq!(
            mem_available("MemTotal: 10 kB\nMemAvailable:   2048 kB\n"),
            Some(2 << 20)
        );
    }

    #[test]
    fn an_estimate_over_the_limit_is_refused_naming_both() {
        let mut e = Estimate::new();
        e.walkers(u32::MAX as u64 / 2, 2, 7, 0);
        assert!(e.total() > 100 << 30, "{}", e.total());
        let limit = Available {
            bytes: 16 << 30,
            source: "test".into(),
        };
        let msg = check_against("--walkers 2147483647", &e, &limit, "fewer walkers")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("--walkers 2147483647")
                && msg.contains("GiB of memory")
                && msg.contains("16.0 GiB available (test)")
                && msg.contains("fewer walkers"),
            "{msg}"
        );
        let mut small = Estimate::new();
        small.walkers(1000, 2, 7, 0);
        assert!(check_against("w", &small, &limit, "").is_ok());
        // Sizes that overflow u64 saturate and are refused.
        let mut huge = Estimate::new();
        huge.add("x", u64::MAX, 8).add("y", 1, 1);
        assert_eq!(huge.total(), u64::MAX);
        assert!(check_against("w", &huge, &limit, "").is_err());
    }
}
