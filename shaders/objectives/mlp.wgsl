// mlp.wgsl — the training loss of a fully connected network over all its weights and biases,
// evaluated by passes over all running walkers (the multi-pass engine). CPU twin:
// src/objective/mlp/net.rs (Net: forward, backward, gather; the R-operator for H v).
//
// x (slot x) holds every layer's W (out x in, row-major) then b. Host constants: MLP_L
// (layers), MLP_P (samples), MLP_D, MLP_O (inputs, outputs), MLP_S (units of all layers),
// MLP_ACT, MLP_LOSS (indices of net::ACTS, net::LOSSES), MLP_BIAS, MLP_L2, and the offsets in
// params of the inputs (MLP_X) and targets (MLP_Y). params layout (keep in sync with
// Mlp::params), from param_base(w): per layer 6 floats (in, out, offset of W, offset of b,
// first unit, shortcut flag), then the inputs P x D and the targets P x O, row-major.
// Scratch (per walker): blocks A, Z, E, D (a_l, z_l, e_l = df/da_l, D_l = df/dz_l) and their
// R{.} (RA, RZ, RE, RD), each MLP_S units x MLP_P samples, then the P per-sample losses, then
// the data rows of the walker's minibatch (P floats).
// Minibatches (`batch=B`, rules::BATCH): the passes with `mb` evaluate on the walker's B
// samples: sample slot s < B of every block holds data row mlp_row(s) (written by the pass
// mlp_batch_index at the step), and f averages over B. Their grids are those of the full
// batch; invocations of slots s >= B return at once. A walker with B = 0 evaluates the full
// batch in them too.
// Layer passes run over rows r = unit * P + sample; invocations of one workgroup are walkers
// with the same row, so they read the same data at the same time. Every loop of an
// invocation is over one layer's width (<= 4096), the samples (<= 16384) or, in mlp_f, the
// samples and the parameters (<= 32768): inside the software adapter's loop budget.

const MLP_KA: u32 = 0u;
const MLP_KZ: u32 = 1u;
const MLP_KE: u32 = 2u;
const MLP_KD: u32 = 3u;
const MLP_KRA: u32 = 4u;
const MLP_KRZ: u32 = 5u;
const MLP_KRE: u32 = 6u;
const MLP_KRD: u32 = 7u;

// Entry k of layer l's row of the layer table.
fn mlp_h(w: u32, l: u32, k: u32) -> u32 {
    return u32(params[param_base(w) + 6u * l + k]);
}

// Scratch index of block `kind`, unit u (over all layers), sample p.
fn mlp_at(kind: u32, u: u32, p: u32, w: u32) -> u32 {
    return ((kind * MLP_S + u) * MLP_P + p) * walk.stride + w;
}

fn mlp_loss_at(p: u32, w: u32) -> u32 {
    return (8u * MLP_S * MLP_P + p) * walk.stride + w;
}

fn mlp_row_at(s: u32, w: u32) -> u32 {
    return (8u * MLP_S * MLP_P + MLP_P + s) * walk.stride + w;
}

// Walker w's minibatch size (0: full batch).
fn mlp_batch(w: u32) -> u32 {
    return u32(hyper[hp(HP_BATCH, w)]);
}

// Samples of this evaluation: the walker's B in a minibatch pass, else P.
fn mlp_count(w: u32, mb: bool) -> u32 {
    if mb && mlp_batch(w) > 0u {
        return mlp_batch(w);
    }
    return MLP_P;
}

// The data row of sample slot s.
fn mlp_row(s: u32, w: u32, mb: bool) -> u32 {
    if mb && mlp_batch(w) > 0u {
        return u32(scratch[mlp_row_at(s, w)]);
    }
    return s;
}

// Pass (rows P): slot r of the walker's minibatch at this step (rng::minibatch_index).
fn mlp_batch_index(w: u32, r: u32, x: u32, v: u32, out: u32) {
    if r < mlp_batch(w) {
        let t = counters[sc(CT_STEPS, w)];
        scratch[mlp_row_at(r, w)] = f32(minibatch_index(walk.first_walker + w, t, r, MLP_P));
    }
}

// Input i of layer l for sample slot p: the data (l = 0) or a_{l-1} (its units start at prev).
fn mlp_in(l: u32, prev: u32, i: u32, p: u32, w: u32, mb: bool) -> f32 {
    if l == 0u {
        return params[param_base(w) + MLP_X + mlp_row(p, w, mb) * MLP_D + i];
    }
    return scratch[mlp_at(MLP_KA, prev + i, p, w)];
}

// R{input}: 0 for the data.
fn mlp_rin(l: u32, prev: u32, i: u32, p: u32, w: u32) -> f32 {
    if l == 0u {
        return 0.0;
    }
    return scratch[mlp_at(MLP_KRA, prev + i, p, w)];
}

fn mlp_prev(l: u32, w: u32) -> u32 {
    if l == 0u {
        return 0u;
    }
    return mlp_h(w, l - 1u, 4u);
}

fn mlp_sigmoid(z: f32) -> f32 {
    let e = exp(-abs(z));
    let s = 1.0 / (1.0 + e);
    return select(e * s, s, z >= 0.0);
}

fn mlp_softplus(z: f32) -> f32 {
    return max(z, 0.0) + log(1.0 + exp(-abs(z)));
}

// (phi, phi', phi'') of the hidden activation, or of the identity for the output layer.
fn mlp_act(z: f32, last: bool) -> vec3<f32> {
    if last || MLP_ACT == 5u {
        return vec3<f32>(z, 1.0, 0.0);
    }
    switch MLP_ACT {
        case 0u: {
            let e = exp(-2.0 * abs(z));
            let t = sign(z) * (1.0 - e) / (1.0 + e);
            let d = 1.0 - t * t;
            return vec3<f32>(t, d, -2.0 * t * d);
        }
        case 1u: {
            if z > 0.0 {
                return vec3<f32>(z, 1.0, 0.0);
            }
            return vec3<f32>(0.0);
        }
        case 2u: {
            let s = mlp_sigmoid(z);
            return vec3<f32>(mlp_softplus(z), s, s * (1.0 - s));
        }
        case 3u: {
            let s = mlp_sigmoid(z);
            let ds = s * (1.0 - s);
            return vec3<f32>(z * s, s + z * ds, ds * (2.0 + z * (1.0 - 2.0 * s)));
        }
        default: {
            let s = mlp_sigmoid(z);
            let ds = s * (1.0 - s);
            return vec3<f32>(s, ds, ds * (1.0 - 2.0 * s));
        }
    }
}

// (l, dl/dyhat, d2l/dyhat2) of one output.
fn mlp_loss(yh: f32, y: f32) -> vec3<f32> {
    switch MLP_LOSS {
        case 0u: {
            let r = yh - y;
            return vec3<f32>(0.5 * r * r, r, 1.0);
        }
        case 1u: {
            let m = y * yh;
            let s = mlp_sigmoid(-m);
            return vec3<f32>(mlp_softplus(-m), -y * s, y * y * s * (1.0 - s));
        }
        default: {
            let m = 1.0 - y * yh;
            if m > 0.0 {
                return vec3<f32>(m, -y, 0.0);
            }
            return vec3<f32>(0.0);
        }
    }
}

fn mlp_target(p: u32, k: u32, w: u32, mb: bool) -> f32 {
    return params[param_base(w) + MLP_Y + mlp_row(p, w, mb) * MLP_O + k];
}

// Layer l at row r = unit j * P + sample p: z, a (and with hv, R{z} and R{a} along slot v).
fn mlp_fwd(l: u32, w: u32, r: u32, x: u32, v: u32, hv: bool, mb: bool) {
    let inp = mlp_h(w, l, 0u);
    let wo = mlp_h(w, l, 2u);
    let u = mlp_h(w, l, 4u) + r / MLP_P;
    let j = r / MLP_P;
    let p = r % MLP_P;
    if p >= mlp_count(w, mb) {
        return;
    }
    let prev = mlp_prev(l, w);
    var z = 0.0;
    var rz = 0.0;
    if MLP_BIAS == 1u {
        let bo = mlp_h(w, l, 3u) + j;
        z = state[at(x, bo, w)];
        if hv {
            rz = state[at(v, bo, w)];
        }
    }
    let row = wo + j * inp;
    for (var i = 0u; i < inp; i++) {
        let a = mlp_in(l, prev, i, p, w, mb);
        let wji = state[at(x, row + i, w)];
        z += wji * a;
        if hv {
            rz += state[at(v, row + i, w)] * a + wji * mlp_rin(l, prev, i, p, w);
        }
    }
    let f = mlp_act(z, l + 1u == MLP_L);
    var s = 0.0;
    var rs = 0.0;
    if mlp_h(w, l, 5u) == 1u {
        s = mlp_in(l, prev, j, p, w, mb);
        if hv {
            rs = mlp_rin(l, prev, j, p, w);
        }
    }
    scratch[mlp_at(MLP_KZ, u, p, w)] = z;
    scratch[mlp_at(MLP_KA, u, p, w)] = f.x + s;
    if hv {
        scratch[mlp_at(MLP_KRZ, u, p, w)] = rz;
        scratch[mlp_at(MLP_KRA, u, p, w)] = f.y * rz + rs;
    }
}

// Layer l at row r = unit j * P + sample p: e = df/da and D = df/dz (with hv, R{e}, R{D}).
fn mlp_bwd(l: u32, w: u32, r: u32, x: u32, v: u32, hv: bool, mb: bool) {
    let j = r / MLP_P;
    let p = r % MLP_P;
    let count = mlp_count(w, mb);
    if p >= count {
        return;
    }
    let u = mlp_h(w, l, 4u) + j;
    let pf = f32(count);
    var e = 0.0;
    var re = 0.0;
    if l + 1u == MLP_L {
        let g = mlp_loss(scratch[mlp_at(MLP_KA, u, p, w)], mlp_target(p, j, w, mb));
        e = g.y / pf;
        if hv {
            re = g.z * scratch[mlp_at(MLP_KRA, u, p, w)] / pf;
        }
    } else {
        let n = l + 1u;
        let nin = mlp_h(w, n, 0u);
        let nout = mlp_h(w, n, 1u);
        let nwo = mlp_h(w, n, 2u);
        let nu = mlp_h(w, n, 4u);
        if mlp_h(w, n, 5u) == 1u {
            e = scratch[mlp_at(MLP_KE, nu + j, p, w)];
            if hv {
                re = scratch[mlp_at(MLP_KRE, nu + j, p, w)];
            }
        }
        for (var q = 0u; q < nout; q++) {
            let wi = nwo + q * nin + j;
            let dn = scratch[mlp_at(MLP_KD, nu + q, p, w)];
            let wq = state[at(x, wi, w)];
            e += wq * dn;
            if hv {
                re += state[at(v, wi, w)] * dn + wq * scratch[mlp_at(MLP_KRD, nu + q, p, w)];
            }
        }
    }
    let f = mlp_act(scratch[mlp_at(MLP_KZ, u, p, w)], l + 1u == MLP_L);
    scratch[mlp_at(MLP_KE, u, p, w)] = e;
    scratch[mlp_at(MLP_KD, u, p, w)] = e * f.y;
    if hv {
        scratch[mlp_at(MLP_KRE, u, p, w)] = re;
        scratch[mlp_at(MLP_KRD, u, p, w)] = re * f.y + e * f.z * scratch[mlp_at(MLP_KRZ, u, p, w)];
    }
}

// Component r of the gradient (or, with hv, of H v) into slot out, with the weight decay
// MLP_L2 times component r of slot x (or v).
fn mlp_gather(w: u32, r: u32, x: u32, v: u32, out: u32, hv: bool, mb: bool) {
    let count = mlp_count(w, mb);
    var l = 0u;
    for (var k = 1u; k < MLP_L; k++) {
        if mlp_h(w, k, 2u) <= r {
            l = k;
        }
    }
    let inp = mlp_h(w, l, 0u);
    let wo = mlp_h(w, l, 2u);
    let bo = mlp_h(w, l, 3u);
    let u0 = mlp_h(w, l, 4u);
    let prev = mlp_prev(l, w);
    var g = 0.0;
    if r < bo {
        let j = (r - wo) / inp;
        let i = (r - wo) % inp;
        for (var p = 0u; p < count; p++) {
            let a = mlp_in(l, prev, i, p, w, mb);
            if hv {
                g += scratch[mlp_at(MLP_KRD, u0 + j, p, w)] * a
                    + scratch[mlp_at(MLP_KD, u0 + j, p, w)] * mlp_rin(l, prev, i, p, w);
            } else {
                g += scratch[mlp_at(MLP_KD, u0 + j, p, w)] * a;
            }
        }
    } else {
        let kind = select(MLP_KD, MLP_KRD, hv);
        for (var p = 0u; p < count; p++) {
            g += scratch[mlp_at(kind, u0 + r - bo, p, w)];
        }
    }
    let y = select(x, v, hv);
    state[at(out, r, w)] = g + MLP_L2 * state[at(y, r, w)];
}

// Pass (rows P): the loss of sample r, summed over the outputs.
fn mlp_losses_of(w: u32, r: u32, mb: bool) {
    if r >= mlp_count(w, mb) {
        return;
    }
    let u0 = mlp_h(w, MLP_L - 1u, 4u);
    var s = 0.0;
    for (var k = 0u; k < MLP_O; k++) {
        s += mlp_loss(scratch[mlp_at(MLP_KA, u0 + k, r, w)], mlp_target(r, k, w, mb)).x;
    }
    scratch[mlp_loss_at(r, w)] = s;
}

// Pass (rows 1): f = (1/P) sum of the losses + (l2/2)|x|^2, into SC_EVAL (the minibatch's
// B losses over B with mb).
fn mlp_f_of(w: u32, x: u32, mb: bool) {
    let count = mlp_count(w, mb);
    var s = 0.0;
    for (var p = 0u; p < count; p++) {
        s += scratch[mlp_loss_at(p, w)];
    }
    var q = 0.0;
    for (var i = 0u; i < N; i++) {
        let xi = state[at(x, i, w)];
        q += xi * xi;
    }
    scalars[sc(SC_EVAL, w)] = s / f32(count) + 0.5 * MLP_L2 * q;
}

// The pass functions per layer and direction (mlp_fwd0, …; with minibatches mlp_mfwd0, …)
// are generated by the host for the network's layers (Mlp::wgsl).
