//! The twin check, run around every GPU walk: before it, f and the gradient of a handful of
//! walkers at their starts on the adapter (with the walk's own kernels) and on the f64 twin;
//! after it, f at those walkers' end states on the twin against the f the GPU reported. A
//! deviation beyond what f32 rounding explains (the objective's [`F32Error`] bound at that
//! point) means the adapter computed something else: the driver, the kernel or the machine is
//! wrong, and the run must not be trusted.
//!
//! The cost is one evaluation kernel sequence for a few walkers and a few twin evaluations:
//! small next to any walk (measured in docs/engine-notes.md).

use std::time::Instant;

use super::{GpuError, GpuWalk};
use crate::objective::{F32Error, Objective};
use crate::walk::state::Status;
use crate::walk::EndStates;

/// Walkers checked per run (at least one per landscape instance).
pub const WALKERS: usize = 8;

/// What the check measured, for the manifest (`twin_check`) and the summary line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TwinReport {
    /// Global indices (within the run) of the walkers checked.
    pub walkers: Vec<usize>,
    /// Largest |f_gpu − f_twin| / |f_twin| at the starts.
    pub max_rel_f: f64,
    /// Largest |∇f_gpu − ∇f_twin| / |∇f_twin| at the starts.
    pub max_rel_grad: f64,
    /// Largest |f_gpu − f_twin| / |f_twin| at the end states (walkers that did not diverge).
    pub end_max_rel_f: f64,
    /// Largest deviation over its f32 bound, at the starts and at the ends; above 1 fails.
    pub max_ratio: f64,
    pub passed: bool,
    pub seconds: f64,
}

impl TwinReport {
    /// One line for the summary: the relative deviations at the starts, and the largest
    /// deviation over its f32 bound at the starts and the ends. (The ends' relative deviation
    /// of f is in the manifest only: at a minimum with f = 0, such as Himmelblau's, any f32
    /// rounding is 100% of f, which says nothing; the bound ratio does.)
    pub fn line(&self) -> String {
        format!(
            "twin check ({} walkers): {} — largest deviation from the f64 twin at the starts: f {:.1e}, grad {:.1e} (relative); at starts and ends {:.2} of the f32 bound",
            self.walkers.len(),
            if self.passed { "passed" } else { "FAILED" },
            self.max_rel_f,
            self.max_rel_grad,
            self.max_ratio
        )
    }
}

/// The walkers to check among `total` split into `instances` equal blocks: the same number
/// from every block, spread evenly inside it.
pub fn pick(total: usize, instances: usize) -> Vec<usize> {
    let instances = instances.max(1);
    let per = total / instances;
    let each = WALKERS.div_ceil(instances).min(per.max(1));
    let mut out = Vec::new();
    for k in 0..instances {
        for j in 0..each {
            out.push(k * per + j * per / each);
        }
    }
    out
}

fn rel(d: f64, scale: f64) -> f64 {
    if d == 0.0 {
        0.0
    } else {
        d / scale.abs().max(f64::MIN_POSITIVE)
    }
}

fn ratio(d: f64, bound: f64) -> f64 {
    if d.is_nan() || bound.is_nan() {
        f64::INFINITY
    } else if d == 0.0 {
        0.0
    } else {
        d / bound.max(f64::MIN_POSITIVE)
    }
}

/// The objective of walker `w` of `total` over the instances.
fn instance<'a>(objs: &[&'a dyn Objective], total: usize, w: usize) -> &'a dyn Objective {
    let per = (total / objs.len()).max(1);
    objs[(w / per).min(objs.len() - 1)]
}

/// The check before the walk: evaluates the picked walkers' starts on the GPU and the twin.
pub fn before(
    gpu: &GpuWalk,
    objs: &[&dyn Objective],
    starts: &[f64],
) -> Result<TwinReport, GpuError> {
    let t0 = Instant::now();
    let n = objs[0].dim();
    let total = starts.len() / n;
    let walkers = pick(total, objs.len());
    // f32 starts: the GPU computes at these, and so does the twin.
    let pts: Vec<f64> = walkers
        .iter()
        .flat_map(|&w| {
            starts[w * n..(w + 1) * n]
                .iter()
                .map(|&v| f64::from(v as f32))
        })
        .collect();
    let out = gpu.eval(&pts, &pts)?;
    let mut r = TwinReport {
        walkers: walkers.clone(),
        max_rel_f: 0.0,
        max_rel_grad: 0.0,
        end_max_rel_f: 0.0,
        max_ratio: 0.0,
        passed: true,
        seconds: 0.0,
    };
    let mut g = vec![0.0; n];
    for (k, &w) in walkers.iter().enumerate() {
        let obj = instance(objs, total, w);
        let x = &pts[k * n..(k + 1) * n];
        let f = obj.gradient(x, &mut g);
        let F32Error { f: ef, grad: eg } = obj.f32_error(x);
        let df = (out.f_grad[k] - f).abs();
        let dg = (0..n)
            .map(|i| (out.grad[k * n + i] - g[i]).powi(2))
            .sum::<f64>()
            .sqrt();
        let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        r.max_rel_f = r.max_rel_f.max(rel(df, f));
        r.max_rel_grad = r.max_rel_grad.max(rel(dg, gn));
        r.max_ratio = r.max_ratio.max(ratio(df, ef)).max(ratio(dg, eg));
    }
    r.passed = r.max_ratio <= 1.0;
    r.seconds = t0.elapsed().as_secs_f64();
    Ok(r)
}

/// The check after the walk: f at the picked walkers' end states on the twin against the f
/// the GPU reported there (walkers that diverged are left out).
pub fn after(r: &mut TwinReport, objs: &[&dyn Objective], ends: &EndStates) {
    let t0 = Instant::now();
    let total = ends.len();
    for &w in &r.walkers {
        if ends.status[w] == Status::Diverged || !ends.f[w].is_finite() {
            continue;
        }
        let obj = instance(objs, total, w);
        let x = ends.point(w);
        let f = obj.value(x);
        let df = (ends.f[w] - f).abs();
        r.end_max_rel_f = r.end_max_rel_f.max(rel(df, f));
        r.max_ratio = r.max_ratio.max(ratio(df, obj.f32_error(x).f));
    }
    r.passed = r.max_ratio <= 1.0;
    r.seconds += t0.elapsed().as_secs_f64();
}

/// The error of a failed check: adapter, objective and the deviation.
pub fn mismatch(adapter: &str, objective: &str, r: &TwinReport) -> GpuError {
    GpuError::TwinMismatch(format!(
        "the GPU walk on '{adapter}' disagrees with the f64 twin on {objective}: deviations \
         up to {:.2} times what f32 rounding explains (relative: f {:.1e}, gradient {:.1e}); \
         the adapter's results are not trustworthy here. Valid: --backend cpu (or auto, which \
         falls back to the twin)",
        r.max_ratio,
        r.max_rel_f.max(r.end_max_rel_f),
        r.max_rel_grad
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_spread_walkers_from_every_instance() {
        assert_eq!(pick(800, 1), [0, 100, 200, 300, 400, 500, 600, 700]);
        assert_eq!(pick(3, 1), [0, 1, 2]);
        let p = pick(40, 20);
        assert_eq!(p.len(), 20);
        assert!(p.iter().enumerate().all(|(k, &w)| w / 2 == k));
        assert_eq!(pick(12, 3), [0, 1, 2, 4, 5, 6, 8, 9, 10]);
    }
}
