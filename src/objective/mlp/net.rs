//! The network of the `mlp` objective in f64: layers, activations, losses, the forward and
//! backward passes, and the R-operator (Pearlmutter 1994) for exact Hessian-vector products.
//! WGSL twin: shaders/objectives/mlp.wgsl (the same passes, one invocation per row).
//!
//! The point x is every weight and bias, layer by layer: W_l (out x in, row-major), then b_l
//! (out values, when the network has biases). Layer l computes z_l = W_l a_{l-1} + b_l and
//! a_l = φ_l(z_l) (+ a_{l-1} when it has an identity shortcut), a_{-1} = the input; hidden
//! layers use the activation, the output layer is linear. The loss is
//! f = (1/P) Σ_p Σ_o ℓ(ŷ_po, y_po) + (l2/2)|x|².

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Tanh,
    Relu,
    Softplus,
    Swish,
    Sigmoid,
    Linear,
}

/// The names of [`Act`] in spec order (the WGSL's MLP_ACT is the index).
pub const ACTS: &[&str] = &["tanh", "relu", "softplus", "swish", "sigmoid", "linear"];

/// Per-output loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// ℓ = (ŷ − y)²/2.
    Mse,
    /// ℓ = log(1 + exp(−y ŷ)), labels ±1.
    Logistic,
    /// ℓ = max(0, 1 − y ŷ), labels ±1: exactly flat where every margin exceeds 1.
    Hinge,
}

/// The names of [`Loss`] in spec order (the WGSL's MLP_LOSS is the index).
pub const LOSSES: &[&str] = &["mse", "logistic", "hinge"];

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^z) without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

impl Act {
    pub fn from_index(i: usize) -> Act {
        [
            Act::Tanh,
            Act::Relu,
            Act::Softplus,
            Act::Swish,
            Act::Sigmoid,
            Act::Linear,
        ][i.min(5)]
    }
    /// φ(z), φ'(z), φ''(z).
    pub fn eval(self, z: f64) -> (f64, f64, f64) {
        match self {
            Act::Tanh => {
                let t = z.tanh();
                let d = 1.0 - t * t;
                (t, d, -2.0 * t * d)
            }
            Act::Relu => {
                if z > 0.0 {
                    (z, 1.0, 0.0)
                } else {
                    (0.0, 0.0, 0.0)
                }
            }
            Act::Softplus => {
                let s = sigmoid(z);
                (softplus(z), s, s * (1.0 - s))
            }
            Act::Swish => {
                let s = sigmoid(z);
                let ds = s * (1.0 - s);
                (z * s, s + z * ds, ds * (2.0 + z * (1.0 - 2.0 * s)))
            }
            Act::Sigmoid => {
                let s = sigmoid(z);
                let ds = s * (1.0 - s);
                (s, ds, ds * (1.0 - 2.0 * s))
            }
            Act::Linear => (z, 1.0, 0.0),
        }
    }
}

impl Loss {
    pub fn from_index(i: usize) -> Loss {
        [Loss::Mse, Loss::Logistic, Loss::Hinge][i.min(2)]
    }
    /// ℓ, ∂ℓ/∂ŷ, ∂²ℓ/∂ŷ².
    pub fn eval(self, yhat: f64, y: f64) -> (f64, f64, f64) {
        match self {
            Loss::Mse => {
                let r = yhat - y;
                (0.5 * r * r, r, 1.0)
            }
            Loss::Logistic => {
                let m = y * yhat;
                let s = sigmoid(-m);
                (softplus(-m), -y * s, y * y * s * (1.0 - s))
            }
            Loss::Hinge => {
                let m = 1.0 - y * yhat;
                if m > 0.0 {
                    (m, -y, 0.0)
                } else {
                    (0.0, 0.0, 0.0)
                }
            }
        }
    }
    /// Labels must be ±1 for the margin losses.
    pub fn needs_signs(self) -> bool {
        self != Loss::Mse
    }
}

/// One layer: its shape, where its parameters sit in x, and its activation.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub inp: usize,
    pub out: usize,
    /// Offset of W (out x in, row-major) in x.
    pub w: usize,
    /// Offset of b in x, when the network has biases.
    pub b: Option<usize>,
    /// An identity shortcut a_l = φ(z_l) + a_{l-1} (only where in = out).
    pub skip: bool,
    /// The hidden activation, or `Linear` for the output layer.
    pub act: Act,
}

/// A fully connected network's shape: layers and the parameter count N.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    pub layers: Vec<Layer>,
    pub n: usize,
}

impl Net {
    /// The network of `widths` (D, H1, …, O).
    pub fn new(widths: &[usize], act: Act, bias: bool, skip: bool) -> Net {
        let mut layers = Vec::new();
        let mut off = 0;
        let last = widths.len().saturating_sub(2);
        for (l, pair) in widths.windows(2).enumerate() {
            let (inp, out) = (pair[0], pair[1]);
            let w = off;
            off += inp * out;
            let b = bias.then(|| {
                off += out;
                w + inp * out
            });
            layers.push(Layer {
                inp,
                out,
                w,
                b,
                skip: skip && inp == out,
                act: if l == last { Act::Linear } else { act },
            });
        }
        Net { layers, n: off }
    }
    pub fn inputs(&self) -> usize {
        self.layers.first().map_or(0, |l| l.inp)
    }
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.out)
    }
}

/// Inputs (P x D) and targets (P x O), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub p: usize,
    pub d: usize,
    pub o: usize,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

/// Per-layer P x out arrays of one evaluation (sample-major: [p * out + j]).
pub struct Tape {
    pub z: Vec<Vec<f64>>,
    pub a: Vec<Vec<f64>>,
    /// R{z}, R{a} (empty without a direction).
    pub rz: Vec<Vec<f64>>,
    pub ra: Vec<Vec<f64>>,
}

/// The input of layer l for sample p: a_{l-1}[p, ·] (or the data's row).
fn input<'a>(data: &'a Data, t: &'a [Vec<f64>], l: usize, inp: usize, p: usize) -> &'a [f64] {
    if l == 0 {
        &data.x[p * data.d..(p + 1) * data.d]
    } else {
        &t[l - 1][p * inp..(p + 1) * inp]
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

impl Net {
    /// The forward pass at x and, with `v`, its directional derivative along v (R-forward).
    pub fn forward(&self, data: &Data, x: &[f64], v: Option<&[f64]>) -> Tape {
        let nl = self.layers.len();
        let mut t = Tape {
            z: Vec::with_capacity(nl),
            a: Vec::with_capacity(nl),
            rz: Vec::new(),
            ra: Vec::new(),
        };
        for (l, ly) in self.layers.iter().enumerate() {
            let (inp, out) = (ly.inp, ly.out);
            let mut z = vec![0.0; data.p * out];
            let mut a = vec![0.0; data.p * out];
            let mut rz = vec![0.0; if v.is_some() { data.p * out } else { 0 }];
            let mut ra = rz.clone();
            for p in 0..data.p {
                let ain = input(data, &t.a, l, inp, p);
                for j in 0..out {
                    let row = ly.w + j * inp..ly.w + (j + 1) * inp;
                    let zz = dot(&x[row.clone()], ain) + ly.b.map_or(0.0, |b| x[b + j]);
                    let (f, d1, _) = ly.act.eval(zz);
                    let k = p * out + j;
                    z[k] = zz;
                    a[k] = f + if ly.skip { ain[j] } else { 0.0 };
                    if let Some(v) = v {
                        let mut r = dot(&v[row.clone()], ain) + ly.b.map_or(0.0, |b| v[b + j]);
                        if l > 0 {
                            r += dot(&x[row], input(data, &t.ra, l, inp, p));
                        }
                        rz[k] = r;
                        let rin = if l > 0 && ly.skip {
                            t.ra[l - 1][p * inp + j]
                        } else {
                            0.0
                        };
                        ra[k] = d1 * r + rin;
                    }
                }
            }
            t.z.push(z);
            t.a.push(a);
            if v.is_some() {
                t.rz.push(rz);
                t.ra.push(ra);
            }
        }
        t
    }

    /// f at the tape's point: (1/P) Σ ℓ + (l2/2)|x|².
    pub fn loss(&self, data: &Data, loss: Loss, l2: f64, x: &[f64], t: &Tape) -> f64 {
        let yhat = t.a.last().map_or(&[][..], |a| a.as_slice());
        let s: f64 = yhat
            .iter()
            .zip(&data.y)
            .map(|(&h, &y)| loss.eval(h, y).0)
            .sum();
        s / data.p as f64 + 0.5 * l2 * dot(x, x)
    }

    /// The backward pass: per layer D_l = ∂f/∂z_l (and R{D_l} with the tape's direction).
    pub fn backward(
        &self,
        data: &Data,
        loss: Loss,
        x: &[f64],
        v: Option<&[f64]>,
        t: &Tape,
    ) -> Back {
        let nl = self.layers.len();
        let pf = data.p as f64;
        let mut e_next: Vec<f64> = Vec::new();
        let mut re_next: Vec<f64> = Vec::new();
        let mut d: Vec<Vec<f64>> = vec![Vec::new(); nl];
        let mut rd: Vec<Vec<f64>> = vec![Vec::new(); nl];
        for l in (0..nl).rev() {
            let ly = &self.layers[l];
            let out = ly.out;
            let mut e = vec![0.0; data.p * out];
            let mut re = vec![0.0; if v.is_some() { data.p * out } else { 0 }];
            for p in 0..data.p {
                for j in 0..out {
                    let k = p * out + j;
                    if l + 1 == nl {
                        let (_, d1, d2) = loss.eval(t.a[l][k], data.y[k]);
                        e[k] = d1 / pf;
                        if v.is_some() {
                            re[k] = d2 * t.ra[l][k] / pf;
                        }
                    } else {
                        let nx = &self.layers[l + 1];
                        let mut s = if nx.skip { e_next[p * nx.out + j] } else { 0.0 };
                        let mut r = if nx.skip && v.is_some() {
                            re_next[p * nx.out + j]
                        } else {
                            0.0
                        };
                        for q in 0..nx.out {
                            let wi = nx.w + q * nx.inp + j;
                            let dn = d[l + 1][p * nx.out + q];
                            s += x[wi] * dn;
                            if let Some(v) = v {
                                r += v[wi] * dn + x[wi] * rd[l + 1][p * nx.out + q];
                            }
                        }
                        e[k] = s;
                        if v.is_some() {
                            re[k] = r;
                        }
                    }
                }
            }
            let mut dl = vec![0.0; data.p * out];
            let mut rdl = vec![0.0; re.len()];
            for k in 0..data.p * out {
                let (_, d1, d2) = ly.act.eval(t.z[l][k]);
                dl[k] = e[k] * d1;
                if v.is_some() {
                    rdl[k] = re[k] * d1 + e[k] * d2 * t.rz[l][k];
                }
            }
            d[l] = dl;
            rd[l] = rdl;
            e_next = e;
            re_next = re;
        }
        Back { d, rd }
    }

    /// ∂f/∂x from the backward pass into `g`, without the weight decay (with `r`:
    /// R{∂f/∂x} = H v, from R{D} and R{a}). `g` must start at the decay term l2·x (or l2·v).
    pub fn gather(&self, data: &Data, t: &Tape, b: &Back, r: bool, g: &mut [f64]) {
        for (l, ly) in self.layers.iter().enumerate() {
            let (inp, out) = (ly.inp, ly.out);
            for p in 0..data.p {
                let ain = input(data, &t.a, l, inp, p);
                for j in 0..out {
                    let k = p * out + j;
                    let dd = if r { b.rd[l][k] } else { b.d[l][k] };
                    let row = &mut g[ly.w + j * inp..ly.w + (j + 1) * inp];
                    for (gi, ai) in row.iter_mut().zip(ain) {
                        *gi += dd * ai;
                    }
                    if r && l > 0 {
                        let rin = input(data, &t.ra, l, inp, p);
                        let d0 = b.d[l][k];
                        for (gi, ri) in row.iter_mut().zip(rin) {
                            *gi += d0 * ri;
                        }
                    }
                    if let Some(bo) = ly.b {
                        g[bo + j] += dd;
                    }
                }
            }
        }
    }
}

/// ∂f/∂z per layer (and R{∂f/∂z}).
pub struct Back {
    pub d: Vec<Vec<f64>>,
    pub rd: Vec<Vec<f64>>,
}
