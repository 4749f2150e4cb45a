//! MINRES (Paige & Saunders 1975; the iteration as written by Choi, Paige & Saunders 2011):
//! the minimum-residual solution of H p = b over the growing Krylov space of a symmetric H,
//! which may be indefinite or singular, from Hessian-vector products alone. For singular but
//! consistent systems it converges to the minimum-norm solution; for inconsistent ones to a
//! least-squares solution. The state is split into named vectors and scalars so that the
//! GPU's per-iteration stage (shaders/rules/newton_mr.wgsl) reads line by line like `iterate`.

/// The scalars of the iteration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalars {
    pub beta1: f64,
    pub beta: f64,
    pub oldb: f64,
    pub dbar: f64,
    pub epsln: f64,
    pub phibar: f64,
    pub cs: f64,
    pub sn: f64,
    /// Iterations done.
    pub k: u32,
    /// The residual is small enough, or the Krylov space is exhausted.
    pub done: bool,
}

/// The vectors of the iteration: Lanczos vectors, search directions and the solution.
#[derive(Debug, Clone)]
pub struct Vectors {
    pub r1: Vec<f64>,
    pub r2: Vec<f64>,
    pub v: Vec<f64>,
    pub w: Vec<f64>,
    pub w1: Vec<f64>,
    pub w2: Vec<f64>,
    /// The solution so far.
    pub p: Vec<f64>,
}

/// Starts the iteration for H p = b (p = 0).
pub fn start(b: &[f64]) -> (Scalars, Vectors) {
    let n = b.len();
    let beta1 = b.iter().map(|v| v * v).sum::<f64>().sqrt();
    let z = vec![0.0; n];
    (
        Scalars {
            beta1,
            beta: beta1,
            phibar: beta1,
            cs: -1.0,
            done: beta1 == 0.0,
            ..Scalars::default()
        },
        Vectors {
            r1: b.to_vec(),
            r2: b.to_vec(),
            v: z.clone(),
            w: z.clone(),
            w1: z.clone(),
            w2: z.clone(),
            p: z,
        },
    )
}

/// The next Lanczos vector v = r2 / beta, whose product H v the caller computes.
pub fn next_v(s: &Scalars, x: &mut Vectors) {
    let inv = 1.0 / s.beta;
    for (vi, ri) in x.v.iter_mut().zip(&x.r2) {
        *vi = inv * ri;
    }
}

/// One iteration, given y = H v (overwritten). `rtol`: stop once the residual |b - H p| is at
/// most rtol |b|.
pub fn iterate(s: &mut Scalars, x: &mut Vectors, y: &mut [f64], rtol: f64) {
    if s.done {
        return;
    }
    s.k += 1;
    if s.k >= 2 {
        let c = s.beta / s.oldb;
        for (yi, ri) in y.iter_mut().zip(&x.r1) {
            *yi -= c * ri;
        }
    }
    let alfa: f64 = x.v.iter().zip(y.iter()).map(|(a, b)| a * b).sum();
    let c = alfa / s.beta;
    for (yi, ri) in y.iter_mut().zip(&x.r2) {
        *yi -= c * ri;
    }
    x.r1.copy_from_slice(&x.r2);
    x.r2.copy_from_slice(y);
    s.oldb = s.beta;
    s.beta = x.r2.iter().map(|v| v * v).sum::<f64>().sqrt();
    let oldeps = s.epsln;
    let delta = s.cs * s.dbar + s.sn * alfa;
    let gbar = s.sn * s.dbar - s.cs * alfa;
    s.epsln = s.sn * s.beta;
    s.dbar = -s.cs * s.beta;
    let gamma = (gbar * gbar + s.beta * s.beta)
        .sqrt()
        .max(f64::MIN_POSITIVE);
    s.cs = gbar / gamma;
    s.sn = s.beta / gamma;
    let phi = s.cs * s.phibar;
    s.phibar *= s.sn;
    let inv = 1.0 / gamma;
    for i in 0..x.p.len() {
        let w1 = x.w2[i];
        let w2 = x.w[i];
        let w = (x.v[i] - oldeps * w1 - delta * w2) * inv;
        x.w1[i] = w1;
        x.w2[i] = w2;
        x.w[i] = w;
        x.p[i] += phi * w;
    }
    // Converged, or the Lanczos process broke down (the Krylov space is invariant: the
    // current p is the best there is).
    s.done = s.phibar <= rtol * s.beta1 || s.beta <= 1e-14 * s.beta1;
}

/// Runs at most `iters` iterations of MINRES for H p = b with the product `hv`.
pub fn solve(
    b: &[f64],
    iters: usize,
    rtol: f64,
    mut hv: impl FnMut(&[f64], &mut [f64]),
) -> (Vec<f64>, Scalars) {
    let (mut s, mut x) = start(b);
    let mut y = vec![0.0; b.len()];
    for _ in 0..iters {
        if s.done {
            break;
        }
        next_v(&s, &mut x);
        hv(&x.v, &mut y);
        iterate(&mut s, &mut x, &mut y, rtol);
    }
    (x.p, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, DVector};

    fn residual(h: &DMatrix<f64>, p: &[f64], b: &[f64]) -> f64 {
        (h * DVector::from_column_slice(p) - DVector::from_column_slice(b)).norm()
    }

    #[test]
    fn solves_indefinite_systems_in_n_iterations() {
        let n = 12;
        let mut s = crate::rng::Sampler::new(1, 0, crate::rng::Stream::Init);
        let a = DMatrix::from_fn(n, n, |_, _| s.normal());
        let h = &a + a.transpose();
        let b: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let (p, st) = solve(&b, n + 2, 1e-12, |v, out| {
            out.copy_from_slice((&h * DVector::from_column_slice(v)).as_slice())
        });
        assert!(
            residual(&h, &p, &b) <= 1e-9 * st.beta1,
            "{}",
            residual(&h, &p, &b)
        );
        assert!(st.k as usize <= n + 1);
    }

    #[test]
    fn a_singular_consistent_system_gets_the_minimum_norm_solution() {
        // H = diag(2, -1, 0): b in the range of H; the e3 component of p stays 0.
        let h = DMatrix::from_diagonal(&DVector::from_vec(vec![2.0, -1.0, 0.0]));
        let b = [4.0, 3.0, 0.0];
        let (p, _) = solve(&b, 10, 1e-14, |v, out| {
            out.copy_from_slice((&h * DVector::from_column_slice(v)).as_slice())
        });
        assert!(
            (p[0] - 2.0).abs() < 1e-12 && (p[1] + 3.0).abs() < 1e-12 && p[2] == 0.0,
            "{p:?}"
        );
        let (z, st) = solve(&[0.0; 3], 5, 1e-12, |_, out| out.fill(0.0));
        assert!(z.iter().all(|&v| v == 0.0) && st.done && st.k == 0);
    }
}
