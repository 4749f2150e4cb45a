//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use saddlescope::gpu::GpuContext;
use saddlescope::walk::state::Status;
use saddlescope::walk::EndStates;

pub mod cli;
pub mod rule_cases;

/// The adapter every GPU test runs on (CI: Mesa's software Vulkan), opened once per test binary.
pub fn ctx() -> Arc<GpuContext> {
    static CTX: OnceLock<Arc<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::new().unwrap_or_else(|e| {
            panic!("these tests need a wgpu adapter (CI: mesa-vulkan-drivers): {e}")
        })
    })
    .clone()
}

/// Euclidean norm.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// A walker that stopped at a point where its gradient is exactly 0 (a finder with an exact
/// step can land where the gradient rounds to 0, in f32 or in f64, and stop there as
/// converged while the other side, a rounding away, runs on).
pub fn exact_root(e: &EndStates, w: usize) -> bool {
    e.grad_norm[w] == 0.0 && e.status[w] == Status::Converged
}

/// The walkers whose GPU and twin walks part: positions more than 1e-3 of the scale
/// 1 + max|x_i| apart, or a different status or step count — except where one side stopped at
/// an exact root (`exact_root`), a rounding away from where the other runs on.
pub fn walkers_apart(g: &EndStates, c: &EndStates) -> usize {
    let n = g.n;
    (0..g.len())
        .filter(|&w| {
            let d = (0..n)
                .map(|i| (g.x[w * n + i] - c.x[w * n + i]).abs())
                .fold(0.0, f64::max);
            let scale = 1.0 + c.point(w).iter().fold(0f64, |a, b| a.max(b.abs()));
            let same_course = exact_root(g, w)
                || exact_root(c, w)
                || (g.status[w] == c.status[w] && g.steps[w] == c.steps[w]);
            d > 1e-3 * scale || !same_course
        })
        .count()
}

/// Starts for Styblinski–Tang near its lattice of critical points: each coordinate near one of
/// the three roots of 2x^3 - 16x + 2.5 (a minimum at -2.90 or 2.75, a maximum at 0.157),
/// within +-0.4 of it, so the Hessian diag(6x^2 - 16) is indefinite with every |entry| >= 14.
/// Newton-type steps from a near-singular Hessian (a coordinate near +-1.63) are ill-posed:
/// f32 and f64 solve them to different points, and 50 steps later walkers sit at different
/// critical points. From these starts each step is well-conditioned, so a difference is a
/// difference of the kernels.
pub fn lattice_starts(n: usize, walkers: usize, seed: u64) -> Vec<f64> {
    const ROOTS: [f64; 3] = [-2.903534, 0.156731, 2.746803];
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        // xorshift64*: a fixed, portable stream for the test.
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n * walkers)
        .map(|_| ROOTS[(next() * 3.0) as usize % 3] + 0.8 * (next() - 0.5))
        .collect()
}
