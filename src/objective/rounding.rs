//! Rounding-error bounds for the GPU's f32 evaluation of an objective, used by the twin check
//! (`gpu::twin_check`) to tell f32 rounding from a wrong result.
//!
//! Model. Additions, subtractions and multiplications in WGSL are correctly rounded (relative
//! error at most u = 2^-24 each). A value computed through a chain of k such operations from
//! terms a_i has, by the probabilistic analysis of Higham and Mary (SIAM J. Sci. Comput. 41,
//! 2019), an error of at most λ√k·u·Σ|a_i| with probability at least 1 − 2k·exp(−λ²/2) when the
//! rounding errors are independent and mean-zero; λ = 8 makes that failure probability below
//! 3e-13·k. The worst-case bound k·u·Σ|a_i| always holds, so [`gamma`] takes the smaller.
//! Transcendental functions carry the WGSL specification's accuracy, which is far looser than
//! most drivers: sin and cos to an absolute 2^-11 on [−π, π] (objectives reduce their arguments
//! there first), exp to 3 + 2|x| ULP.

/// Unit roundoff of f32.
pub const U: f64 = 1.0 / (1u64 << 24) as f64;

/// The WGSL specification's absolute error bound of sin and cos on [−π, π].
pub const TRIG_ABS: f64 = 1.0 / 2048.0;

/// λ of the probabilistic bound.
const LAMBDA: f64 = 8.0;

/// Relative error bound of a chain of `k` correctly rounded operations: u·min(k, λ√k).
pub fn gamma(k: f64) -> f64 {
    U * k.max(1.0).min(LAMBDA * k.max(1.0).sqrt())
}

/// Relative error of WGSL's exp(z): 3 + 2|z| ULP (an ULP is at most 2^-23 of the result).
pub fn exp_rel(z: f64) -> f64 {
    (3.0 + 2.0 * z.abs()) * 2.0 * U
}

/// The Euclidean norm of a vector of per-component bounds.
pub fn norm(v: impl IntoIterator<Item = f64>) -> f64 {
    v.into_iter().map(|a| a * a).sum::<f64>().sqrt()
}
