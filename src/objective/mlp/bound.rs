//! The f32 error bound of the `mlp` WGSL (the twin check's tolerance): a first-order running
//! error analysis of the forward and backward passes, in the model of [`super::super::rounding`].
//! Each dot product of k terms carries γ(k + 2)·Σ|terms| of its own and the propagated errors
//! of its inputs through |W|; each activation adds the WGSL accuracy of the exp and log it is
//! built from (mlp.wgsl computes tanh, σ and softplus from exp(−|z|)); the data and l2 are
//! rounded to f32 (u relative). Where a ReLU or the hinge's kink lies within the error of its
//! argument, the derivative may flip between 0 and 1 and the bound takes the whole term.

use super::net::{Act, Loss};
use super::Mlp;
use crate::objective::rounding::{exp_rel, gamma, norm, U};
use crate::objective::F32Error;

/// WGSL's log on [0.5, 2]: absolute 2^-21.
const LOG_ABS: f64 = 1.0 / (1u64 << 21) as f64;

fn sigmoid_err(z: f64) -> f64 {
    let e = (-z.abs()).exp();
    exp_rel(z.abs()) * e + 3.0 * U
}

fn softplus_err(z: f64) -> f64 {
    let e = (-z.abs()).exp();
    LOG_ABS + exp_rel(z.abs()) * e + 2.0 * U * (z.abs() + 1.0)
}

/// Absolute error of φ(z) as the WGSL computes it.
fn act_err(a: Act, z: f64) -> f64 {
    match a {
        Act::Tanh => {
            let e = (-2.0 * z.abs()).exp();
            2.0 * exp_rel(2.0 * z.abs()) * e + 4.0 * U
        }
        Act::Sigmoid => sigmoid_err(z),
        Act::Softplus => softplus_err(z),
        Act::Swish => z.abs() * sigmoid_err(z) + 2.0 * U * z.abs(),
        Act::Relu | Act::Linear => 0.0,
    }
}

/// Error of φ'(z) given the error `ez` of z.
fn act_d_err(a: Act, z: f64, ez: f64, d2: f64) -> f64 {
    match a {
        Act::Linear => 0.0,
        Act::Relu => {
            if z.abs() <= ez {
                1.0
            } else {
                0.0
            }
        }
        _ => d2.abs() * ez + 4.0 * act_err(a, z) + 4.0 * U * (1.0 + z.abs()),
    }
}

/// Errors of ℓ and ℓ' given the error `e` of ŷ − y (ŷ's and y's together).
fn loss_err(loss: Loss, yhat: f64, y: f64, e: f64) -> (f64, f64) {
    let (l, d1, d2) = loss.eval(yhat, y);
    match loss {
        Loss::Mse => (d1.abs() * e + 2.0 * U * l, e + U * d1.abs()),
        Loss::Logistic => {
            let m = -y * yhat;
            (
                d1.abs() * e + softplus_err(m) + U * m.abs(),
                d2.abs() * e + y.abs() * sigmoid_err(m) + 2.0 * U * d1.abs(),
            )
        }
        Loss::Hinge => {
            let m = 1.0 - y * yhat;
            let flip = if m.abs() <= y.abs() * e + 2.0 * U * (1.0 + (y * yhat).abs()) {
                y.abs()
            } else {
                0.0
            };
            (d1.abs() * e + U * (1.0 + (y * yhat).abs()) + flip * e, flip)
        }
    }
}

/// One sample's forward values and their error bounds, per layer.
struct Forward {
    a: Vec<Vec<f64>>,
    ea: Vec<Vec<f64>>,
    /// φ'(z) and its error.
    d1: Vec<Vec<f64>>,
    ed1: Vec<Vec<f64>>,
}

fn forward(m: &Mlp, x: &[f64], p: usize) -> Forward {
    let data = &m.data;
    let input: Vec<f64> = data.x[p * data.d..(p + 1) * data.d].to_vec();
    let e_input: Vec<f64> = input.iter().map(|v| U * v.abs()).collect();
    let mut f = Forward {
        a: vec![],
        ea: vec![],
        d1: vec![],
        ed1: vec![],
    };
    for (l, ly) in m.net.layers.iter().enumerate() {
        let (ain, ein) = if l == 0 {
            (&input, &e_input)
        } else {
            (&f.a[l - 1], &f.ea[l - 1])
        };
        let k = gamma(ly.inp as f64 + 2.0);
        let (mut a, mut ea, mut d1v, mut ed1) = (vec![], vec![], vec![], vec![]);
        for j in 0..ly.out {
            let row = &x[ly.w + j * ly.inp..ly.w + (j + 1) * ly.inp];
            let b = ly.b.map_or(0.0, |b| x[b + j]);
            let z: f64 = row.iter().zip(ain).map(|(w, a)| w * a).sum::<f64>() + b;
            let mag: f64 = row.iter().zip(ain).map(|(w, a)| (w * a).abs()).sum::<f64>() + b.abs();
            let ez = k * mag + row.iter().zip(ein).map(|(w, e)| w.abs() * e).sum::<f64>();
            let (phi, d1, d2) = ly.act.eval(z);
            let (sk, esk) = if ly.skip {
                (ain[j], ein[j])
            } else {
                (0.0, 0.0)
            };
            a.push(phi + sk);
            ea.push(d1.abs() * ez + act_err(ly.act, z) + esk + U * (phi + sk).abs());
            d1v.push(d1);
            ed1.push(act_d_err(ly.act, z, ez, d2));
        }
        f.a.push(a);
        f.ea.push(ea);
        f.d1.push(d1v);
        f.ed1.push(ed1);
    }
    f
}

/// Bounds of |f_gpu − f| and |∇f_gpu − ∇f| at x.
pub fn f32_error(m: &Mlp, x: &[f64]) -> F32Error {
    let data = &m.data;
    let (pn, o) = (data.p as f64, data.o);
    let layers = &m.net.layers;
    let nl = layers.len();
    let mut ef = 0.0;
    let mut lsum = 0.0;
    let mut eg = vec![0.0; m.net.n];
    let mut mag = vec![0.0; m.net.n];
    for p in 0..data.p {
        let fw = forward(m, x, p);
        // Loss and the last layer's e = ℓ'/P.
        let (mut e, mut ee) = (vec![0.0; o], vec![0.0; o]);
        for k in 0..o {
            let (yh, y) = (fw.a[nl - 1][k], data.y[p * o + k]);
            let (l, d1, _) = m.loss.eval(yh, y);
            let (el, ed) = loss_err(m.loss, yh, y, fw.ea[nl - 1][k] + U * y.abs());
            ef += el / pn;
            lsum += l.abs() / pn;
            e[k] = d1 / pn;
            ee[k] = ed / pn + U * e[k].abs();
        }
        for l in (0..nl).rev() {
            let ly = &layers[l];
            let d: Vec<f64> = (0..ly.out).map(|j| e[j] * fw.d1[l][j]).collect();
            let ed: Vec<f64> = (0..ly.out)
                .map(|j| ee[j] * fw.d1[l][j].abs() + e[j].abs() * fw.ed1[l][j] + U * d[j].abs())
                .collect();
            let input: &[f64] = if l == 0 {
                &data.x[p * data.d..(p + 1) * data.d]
            } else {
                &fw.a[l - 1]
            };
            let e_in: Vec<f64> = if l == 0 {
                input.iter().map(|v| U * v.abs()).collect()
            } else {
                fw.ea[l - 1].clone()
            };
            for j in 0..ly.out {
                for i in 0..ly.inp {
                    let q = ly.w + j * ly.inp + i;
                    eg[q] += ed[j] * input[i].abs() + d[j].abs() * e_in[i];
                    mag[q] += (d[j] * input[i]).abs();
                }
                if let Some(b) = ly.b {
                    eg[b + j] += ed[j];
                    mag[b + j] += d[j].abs();
                }
            }
            if l == 0 {
                break;
            }
            // e of the layer below: W^T D (+ the shortcut's e).
            let k = gamma(ly.out as f64 + 2.0);
            let (mut en, mut een) = (vec![0.0; ly.inp], vec![0.0; ly.inp]);
            for i in 0..ly.inp {
                let (mut s, mut es, mut mg) = (0.0, 0.0, 0.0);
                for j in 0..ly.out {
                    let w = x[ly.w + j * ly.inp + i];
                    s += w * d[j];
                    es += w.abs() * ed[j];
                    mg += (w * d[j]).abs();
                }
                if ly.skip {
                    s += e[i];
                    es += ee[i];
                    mg += e[i].abs();
                }
                en[i] = s;
                een[i] = es + k * mg;
            }
            e = en;
            ee = een;
        }
    }
    let x2: f64 = x.iter().map(|v| v * v).sum();
    let kp = gamma(pn + 2.0);
    let grad = norm(
        eg.iter()
            .zip(&mag)
            .zip(x)
            .map(|((e, mg), xi)| e + kp * (mg + m.l2 * xi.abs()) + U * m.l2 * xi.abs()),
    );
    let f = ef
        + gamma(pn + o as f64 + 2.0) * lsum
        + (gamma(m.net.n as f64 + 3.0) + U) * 0.5 * m.l2 * x2;
    F32Error { f, grad }
}
