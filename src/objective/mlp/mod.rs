//! Neural-network loss landscapes: the training loss of a fully connected network (`mlp`) as
//! a function of all its weights and biases, on generated or user data.
//!
//! f(x) = (1/P) Σ_p Σ_o ℓ(ŷ_o(x; in_p), y_po) + (l2/2)|x|², with ℓ = (ŷ − y)²/2 (mse),
//! log(1 + exp(−yŷ)) (logistic) or max(0, 1 − yŷ) (hinge); the parameter order and the network
//! are in [`net`]. The f64 twin gives f, ∇f by backpropagation, H v by the R-operator
//! (forward-over-reverse) and the exact Hessian column by column from H e_i. WGSL twin:
//! shaders/objectives/mlp.wgsl, on the multi-pass engine (one invocation per (walker, sample,
//! unit) or per (walker, parameter)).

mod bound;
mod data;
pub mod net;
#[cfg(test)]
mod tests;

use nalgebra::DMatrix;

use self::net::{Act, Data, Loss, Net, ACTS, LOSSES};
use super::{
    Const, Domain, Entry, F32Error, Minibatch, Objective, Pass, Passes, Wgsl, PARAM_TAIL, SEED,
};
use crate::spec::{Param, Range, SpecError, Values};

/// The most layers (weight matrices) a network may have: the WGSL has one pass function per
/// layer and direction.
pub const MAX_LAYERS: usize = 8;
/// The most units in one layer (and inputs): bounds one invocation's loop over a layer.
pub const MAX_WIDTH: usize = 4096;
/// The most samples: the per-parameter gradient sums loop over them in one invocation.
pub const MAX_SAMPLES: usize = 16384;
/// The most parameters: f sums P losses and N squares in one invocation, which must stay
/// inside the software adapter's loop budget of 65 535 trips (docs/engine-notes.md).
pub const MAX_N: usize = 32768;
/// Scratch floats one walker may use: one walker's scratch must fit a 128 MiB binding.
const MAX_SCRATCH: usize = 1 << 25;
/// The most floats of the params buffer (layer table and data): 2^25 floats = 128 MiB, the
/// storage binding every adapter here allows, less the zero tail.
const MAX_PARAM_FLOATS: usize = (1 << 25) - PARAM_TAIL;
/// Floats of the layer table at the head of the params buffer, per layer.
const HEADER: usize = 6;

const TABLE: &[Param] = &[
    Param::new(
        "widths",
        0.0,
        Range::Text {
            default: "2-8-1",
            form: "D-H1-…-O: 2 to 9 widths, each in 1..=4096",
        },
        "layer widths: D inputs, hidden layers, O outputs",
    ),
    Param::new(
        "act",
        0.0,
        Range::Choice(ACTS),
        "hidden activation (the output layer is linear)",
    ),
    Param::new("bias", 1.0, Range::Int(0, 1), "1: every layer has biases"),
    Param::new(
        "loss",
        0.0,
        Range::Choice(LOSSES),
        "per-output loss; logistic and hinge take labels ±1",
    ),
    Param::new(
        "data",
        0.0,
        Range::Text {
            default: "teacher",
            form: "teacher, xor, spirals, blobs, or the path of a .npy or .csv file",
        },
        "the training set",
    ),
    Param::new(
        "teacher",
        0.0,
        Range::Text {
            default: "same",
            form: "same (the network's widths) or D-…-O",
        },
        "the teacher's widths (data=teacher)",
    ),
    Param::new(
        "samples",
        64.0,
        Range::Int(1, MAX_SAMPLES as i64),
        "P, generated samples (a file gives its own)",
    ),
    Param::new(
        "noise",
        0.1,
        Range::NonNegative,
        "label noise (teacher), input jitter (xor, spirals, blobs)",
    ),
    // The default decay is small against the data term (f ≈ 0.008 at the default landscape's
    // minimum, of which the decay is about a third) but makes the critical points isolated:
    // at l2 = 0 a tanh net's minima run off to |x| of 20 to 100 (saturated units), with five
    // to eleven zero Hessian eigenvalues, and hidden units whose output weight vanishes leave
    // whole families of saddles. README's network-loss walkthrough gives the numbers.
    Param::new(
        "l2",
        1e-3,
        Range::NonNegative,
        "weight decay (l2/2)|x|^2; 0 leaves minima at infinity and families of points",
    ),
    Param::new(
        "skip",
        0.0,
        Range::Int(0, 1),
        "1: identity shortcuts where a layer's widths match",
    ),
    SEED,
];

/// The descent `sample --descent auto` runs before a finder on a network loss
/// ([`Objective::finder_descent`]).
pub const FINDER_DESCENT: &str = "adam:lr=0.001..0.03";
/// Its steps.
pub const FINDER_DESCENT_STEPS: u32 = 1000;

pub fn entry() -> Entry {
    Entry {
        name: "mlp",
        summary: "training loss of a fully connected network over all its weights and biases",
        params: TABLE,
        build: |v: &Values| Ok(Box::new(Mlp::new(v)?) as Box<dyn Objective>),
    }
}

/// The network, its loss and its data.
pub struct Mlp {
    spec: String,
    pub(crate) net: Net,
    pub(crate) loss: Loss,
    pub(crate) l2: f64,
    pub(crate) data: Data,
    act: Act,
}

const CONTEXT: &str = "'mlp'";

/// Parses `D-H1-…-O` for key `key`.
fn widths(key: &str, text: &str) -> Result<Vec<usize>, SpecError> {
    let bad = |why: String| SpecError::Spec {
        context: CONTEXT.into(),
        problem: format!(
            "{key}={text}: {why}; valid: D-H1-…-O, 2 to {} widths, each in 1..={MAX_WIDTH} \
             (e.g. 2-8-1)",
            MAX_LAYERS + 1
        ),
    };
    let w: Vec<usize> = text
        .split('-')
        .map(|s| s.trim().parse::<usize>().ok().filter(|&v| v >= 1))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("not a list of positive integers".into()))?;
    if w.len() < 2 || w.len() > MAX_LAYERS + 1 {
        return Err(bad(format!("{} widths", w.len())));
    }
    if let Some(v) = w.iter().find(|&&v| v > MAX_WIDTH) {
        return Err(bad(format!("width {v} is too wide")));
    }
    Ok(w)
}

impl Mlp {
    fn new(v: &Values) -> Result<Self, SpecError> {
        let w = widths("widths", v.text("widths")?)?;
        let act = Act::from_index(v.usize("act")?);
        let loss = Loss::from_index(v.usize("loss")?);
        let bias = v.usize("bias")? == 1;
        let net = Net::new(&w, act, bias, v.usize("skip")? == 1);
        let (d, o) = (net.inputs(), net.outputs());
        let kind = v.text("data")?;
        let data = if data::GENERATED.contains(&kind) {
            let t = match v.text("teacher")? {
                "same" => w.clone(),
                other => widths("teacher", other)?,
            };
            let samples = v.usize("samples")?;
            check_size(&net, samples, "widths", &w)?;
            check_size(&Net::new(&t, act, bias, false), samples, "teacher", &t)?;
            data::generate(
                &data::Request {
                    kind,
                    d,
                    o,
                    samples,
                    noise: v.get("noise")?,
                    seed: v.get("seed")? as u64,
                    signs: loss.needs_signs(),
                    teacher: &t,
                    act,
                    bias,
                },
                CONTEXT,
            )?
        } else {
            data::read(kind, d, o, loss.needs_signs(), CONTEXT)?
        };
        let m = Mlp {
            spec: v.canonical(TABLE),
            net,
            loss,
            l2: v.get("l2")?,
            data,
            act,
        };
        check_size(&m.net, m.data.p, "widths", &w)?;
        Ok(m)
    }

    fn scratch(&self) -> usize {
        scratch_floats(&self.net, self.data.p)
    }

    /// f at x (for the bound and the tests).
    fn value_of(&self, x: &[f64]) -> f64 {
        let t = self.net.forward(&self.data, x, None);
        self.net.loss(&self.data, self.loss, self.l2, x, &t)
    }

    /// The per-layer pass list `func` with its rows, for layers in `order`.
    /// The (gradient, value, H v) passes of one mode: forward passes layer by layer (rows
    /// P x out), the per-sample losses (rows P) and f, then backward passes from the last
    /// layer and the gradient (rows N). H v: the forward and R-forward passes together, the
    /// backward and R-backward ones, then H v (rows N). See shaders/objectives/mlp.wgsl.
    fn passes(&self, names: &Names) -> (Vec<Pass>, Vec<Pass>, Vec<Pass>) {
        let (p, n) = (self.data.p, self.net.n);
        let mut value = self.layer_passes(names.fwd, false);
        value.push(Pass::rows(names.losses, p));
        value.push(Pass::rows(names.f, 1));
        let mut grad = value.clone();
        grad.extend(self.layer_passes(names.bwd, true));
        grad.push(Pass::rows(names.grad, n));
        let mut hvp = self.layer_passes(names.hfwd, false);
        hvp.extend(self.layer_passes(names.hbwd, true));
        hvp.push(Pass::rows(names.hvp, n));
        (grad, value, hvp)
    }

    fn layer_passes(&self, names: &'static [&'static str], rev: bool) -> Vec<Pass> {
        let p = self.data.p;
        let mut v: Vec<Pass> = self
            .net
            .layers
            .iter()
            .enumerate()
            .map(|(l, ly)| Pass::rows(names[l], p * ly.out))
            .collect();
        if rev {
            v.reverse();
        }
        v
    }
}

/// Scratch floats per walker of the WGSL passes: A, Z, E, D and their R{·} (8 blocks of
/// P x Σ out), then the P per-sample losses and the P data rows of a minibatch.
fn scratch_floats(net: &Net, p: usize) -> usize {
    let s: usize = net.layers.iter().map(|l| l.out).sum();
    8 * s * p + 2 * p
}

/// Floats of the params buffer: the layer table, then the data.
fn param_floats(net: &Net, p: usize) -> usize {
    HEADER * net.layers.len() + p * (net.inputs() + net.outputs())
}

/// The GPU path's limits for a network with P samples, checked for every backend (so a spec
/// means the same everywhere) and before any data is generated or read into the network.
fn check_size(net: &Net, p: usize, key: &str, w: &[usize]) -> Result<(), SpecError> {
    let n = net.n;
    let what = format!("'mlp' with {key}={} and P={p} samples", data::join(w));
    let too = |need: String, limit: String, valid: &str| SpecError::TooLarge {
        what: what.clone(),
        need,
        limit,
        valid: valid.into(),
    };
    if n > MAX_N {
        return Err(too(
            format!("N = {n} parameters"),
            format!("{MAX_N} (f sums P losses and N squares in one GPU invocation)"),
            "narrower or fewer layers",
        ));
    }
    if p > MAX_SAMPLES {
        return Err(too(
            format!("{p} samples"),
            format!("{MAX_SAMPLES} (a gradient component sums over P in one invocation)"),
            "a smaller data file",
        ));
    }
    let scratch = scratch_floats(net, p);
    if scratch > MAX_SCRATCH {
        return Err(too(
            format!(
                "8 x P x (sum of the widths after the input) + 2 P = {scratch} scratch floats per walker"
            ),
            format!("2^25 = {MAX_SCRATCH} (128 MiB)"),
            "fewer samples or narrower layers",
        ));
    }
    let floats = param_floats(net, p);
    if floats > MAX_PARAM_FLOATS {
        return Err(too(
            format!("{floats} data floats"),
            format!("{MAX_PARAM_FLOATS} (128 MiB)"),
            "fewer samples",
        ));
    }
    Ok(())
}

/// The pass functions of layers 0..8 with prefix `p` (generated in WGSL by [`wrappers`]).
macro_rules! layer_names {
    ($p:literal) => {
        &[
            concat!($p, "0"),
            concat!($p, "1"),
            concat!($p, "2"),
            concat!($p, "3"),
            concat!($p, "4"),
            concat!($p, "5"),
            concat!($p, "6"),
            concat!($p, "7"),
        ]
    };
}

/// One evaluation mode's pass names: full batch, or the walker's minibatch (`m`).
struct Names {
    fwd: &'static [&'static str],
    bwd: &'static [&'static str],
    hfwd: &'static [&'static str],
    hbwd: &'static [&'static str],
    losses: &'static str,
    f: &'static str,
    grad: &'static str,
    hvp: &'static str,
    /// The `mb` argument of the shader functions.
    mb: bool,
}

const FULL: Names = Names {
    fwd: layer_names!("mlp_fwd"),
    bwd: layer_names!("mlp_bwd"),
    hfwd: layer_names!("mlp_hfwd"),
    hbwd: layer_names!("mlp_hbwd"),
    losses: "mlp_losses",
    f: "mlp_f",
    grad: "mlp_grad",
    hvp: "mlp_hvp",
    mb: false,
};

const MINI: Names = Names {
    fwd: layer_names!("mlp_mfwd"),
    bwd: layer_names!("mlp_mbwd"),
    hfwd: layer_names!("mlp_mhfwd"),
    hbwd: layer_names!("mlp_mhbwd"),
    losses: "mlp_mlosses",
    f: "mlp_mf",
    grad: "mlp_mgrad",
    hvp: "mlp_mhvp",
    mb: true,
};

/// The WGSL pass functions of `names` for a network of `layers` layers, each a call of the
/// shared function with its layer, direction and mode.
fn wrappers(names: &Names, layers: usize) -> String {
    const SIG: &str = "(w: u32, r: u32, x: u32, v: u32, out: u32)";
    let mb = names.mb;
    let mut s = String::new();
    for l in 0..layers {
        for (f, inner, hv) in [
            (names.fwd[l], "mlp_fwd", false),
            (names.bwd[l], "mlp_bwd", false),
            (names.hfwd[l], "mlp_fwd", true),
            (names.hbwd[l], "mlp_bwd", true),
        ] {
            s.push_str(&format!(
                "fn {f}{SIG} {{ {inner}({l}u, w, r, x, v, {hv}, {mb}); }}\n"
            ));
        }
    }
    s.push_str(&format!(
        "fn {}{SIG} {{ mlp_losses_of(w, r, {mb}); }}\n\
         fn {}{SIG} {{ mlp_f_of(w, x, {mb}); }}\n\
         fn {}{SIG} {{ mlp_gather(w, r, x, v, out, false, {mb}); }}\n\
         fn {}{SIG} {{ mlp_gather(w, r, x, v, out, true, {mb}); }}\n",
        names.losses, names.f, names.grad, names.hvp
    ));
    s
}

impl Objective for Mlp {
    fn spec(&self) -> String {
        self.spec.clone()
    }
    fn dim(&self) -> usize {
        self.net.n
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.value_of(x)
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let t = self.net.forward(&self.data, x, None);
        let b = self.net.backward(&self.data, self.loss, x, None, &t);
        for (gi, xi) in g.iter_mut().zip(x) {
            *gi = self.l2 * xi;
        }
        self.net.gather(&self.data, &t, &b, false, g);
        self.net.loss(&self.data, self.loss, self.l2, x, &t)
    }
    /// Column i is H e_i by the R-operator; the result is symmetrised (it is symmetric up to
    /// rounding).
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let n = self.net.n;
        let mut h = DMatrix::zeros(n, n);
        let mut e = vec![0.0; n];
        let mut col = vec![0.0; n];
        for i in 0..n {
            e[i] = 1.0;
            self.hvp(x, &e, &mut col);
            e[i] = 0.0;
            for (j, c) in col.iter().enumerate() {
                h[(j, i)] = *c;
            }
        }
        (&h + h.transpose()) * 0.5
    }
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        let t = self.net.forward(&self.data, x, Some(v));
        let b = self.net.backward(&self.data, self.loss, x, Some(v), &t);
        for (o, vi) in out.iter_mut().zip(v) {
            *o = self.l2 * vi;
        }
        self.net.gather(&self.data, &t, &b, true, out);
    }
    /// Adam with a spread of step sizes over the walkers: walkers with small steps stop early in
    /// training and those with large ones near its end, so the finder that follows starts at
    /// every stage of it and reaches the saddles along the way as well as the minima. Adam's
    /// step is about `lr` per weight whatever the gradient's scale, so one range fits networks
    /// of any size.
    fn finder_descent(&self) -> Option<(&'static str, u32)> {
        Some((FINDER_DESCENT, FINDER_DESCENT_STEPS))
    }
    /// LeCun's uniform initialisation scale: [−a, a] with a = √(3 / the widest fan-in).
    fn domain(&self) -> Domain {
        let fan = self.net.layers.iter().map(|l| l.inp).max().unwrap_or(1);
        let a = (3.0 / fan as f64).sqrt();
        Domain::Box { lo: -a, hi: a }
    }
    fn f32_error(&self, x: &[f64]) -> F32Error {
        bound::f32_error(self, x)
    }
    fn samples(&self) -> usize {
        self.data.p
    }
    /// The same network and loss on the samples `rows` only, in that order (f averages over
    /// them); the spec is the full loss's.
    fn minibatch(&self, rows: &[u32]) -> Option<Box<dyn Objective + '_>> {
        let d = &self.data;
        let mut data = Data {
            p: rows.len(),
            d: d.d,
            o: d.o,
            x: Vec::with_capacity(rows.len() * d.d),
            y: Vec::with_capacity(rows.len() * d.o),
        };
        for &r in rows {
            let r = r as usize;
            data.x.extend_from_slice(&d.x[r * d.d..(r + 1) * d.d]);
            data.y.extend_from_slice(&d.y[r * d.o..(r + 1) * d.o]);
        }
        Some(Box::new(Mlp {
            spec: self.spec.clone(),
            net: self.net.clone(),
            loss: self.loss,
            l2: self.l2,
            data,
            act: self.act,
        }))
    }
    fn saved_arrays(&self) -> Vec<super::SavedArray> {
        let d = &self.data;
        vec![
            super::SavedArray {
                name: "data_inputs.npy",
                shape: vec![d.p, d.d],
                data: d.x.clone(),
            },
            super::SavedArray {
                name: "data_targets.npy",
                shape: vec![d.p, d.o],
                data: d.y.clone(),
            },
        ]
    }
    /// The passes of both modes ([`Mlp::passes`]) and the shader with their generated pass
    /// functions.
    fn wgsl(&self) -> Wgsl {
        let nl = self.net.layers.len();
        let s: usize = self.net.layers.iter().map(|l| l.out).sum();
        let x0 = HEADER * nl;
        let (grad, value, hvp) = self.passes(&FULL);
        let (mgrad, mvalue, mhvp) = self.passes(&MINI);
        let body = format!(
            "{}\n// Generated by Mlp::wgsl.\n{}{}",
            include_str!("../../../shaders/objectives/mlp.wgsl"),
            wrappers(&FULL, nl),
            wrappers(&MINI, nl)
        );
        Wgsl {
            consts: vec![
                Const::U32("MLP_L", nl as u32),
                Const::U32("MLP_P", self.data.p as u32),
                Const::U32("MLP_D", self.data.d as u32),
                Const::U32("MLP_O", self.data.o as u32),
                Const::U32("MLP_S", s as u32),
                Const::U32("MLP_ACT", self.act as u32),
                Const::U32("MLP_LOSS", self.loss as u32),
                Const::U32("MLP_BIAS", u32::from(self.net.layers[0].b.is_some())),
                Const::F32("MLP_L2", self.l2),
                Const::U32("MLP_X", x0 as u32),
                Const::U32("MLP_Y", (x0 + self.data.p * self.data.d) as u32),
            ],
            body: std::borrow::Cow::Owned(body),
            passes: Some(Passes {
                grad,
                value,
                hvp,
                scratch: self.scratch(),
                minibatch: Some(Minibatch {
                    index: Pass::rows("mlp_batch_index", self.data.p),
                    grad: mgrad,
                    value: mvalue,
                    hvp: mhvp,
                }),
            }),
        }
    }
    /// The layer table (per layer: in, out, offset of W in x, offset of b, the layer's first
    /// unit among all layers' units, shortcut flag), then the inputs (P x D) and the targets
    /// (P x O), row-major. Keep in sync with shaders/objectives/mlp.wgsl.
    fn params(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(param_floats(&self.net, self.data.p));
        let mut first = 0;
        for ly in &self.net.layers {
            v.extend([
                ly.inp as f64,
                ly.out as f64,
                ly.w as f64,
                ly.b.unwrap_or(ly.w + ly.inp * ly.out) as f64,
                first as f64,
                f64::from(u8::from(ly.skip)),
            ]);
            first += ly.out;
        }
        v.extend_from_slice(&self.data.x);
        v.extend_from_slice(&self.data.y);
        v
    }
}
