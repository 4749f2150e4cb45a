// newton_mr.wgsl — Newton-MR: H p = -g by MINRES, then a line search on |grad f|^2.
// Reference: src/rules/newton_mr.rs (step) and src/rules/minres.rs (the iteration, line by
// line). Program: nmr_start; min(N, 64) times [H v into SLOT_AUX, nmr_iterate]; H p into
// SLOT_AUX, nmr_search; 8 times [f and grad at SLOT_TRIAL, nmr_try]; nmr_end.
// Own slots: NMR_R1, NMR_R2, NMR_V, NMR_W, NMR_W1, NMR_W2, NMR_P; own scalars: NMR_BETA1 ..
// NMR_DONE (MINRES), NMR_ALPHA, NMR_SLOPE, NMR_OK (line search).

// Armijo's constant and the Lanczos breakdown threshold (f32); the twin's ARMIJO and
// BREAKDOWN_F32, held equal by a test in src/rules/newton_mr.rs.
const NMR_ARMIJO: f32 = 1e-4;
const NMR_BREAKDOWN: f32 = 1e-6;

fn nmr_dot(a: u32, b: u32, w: u32) -> f32 {
    var s = 0.0;
    for (var i = 0u; i < N; i = i + 1u) {
        s = s + state[at(a, i, w)] * state[at(b, i, w)];
    }
    return s;
}

// SLOT_AUX holds the Euclidean H v; on spheres it becomes the Riemannian P (Hess H) v - radial v.
fn nmr_tangent_hv(v: u32, w: u32) {
    if SPHERE {
        let xa = nmr_dot(SLOT_X, SLOT_AUX, w) / f32(N);
        let radial = scalars[sc(SC_RADIAL, w)];
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(SLOT_AUX, i, w)] = state[at(SLOT_AUX, i, w)] - xa * state[at(SLOT_X, i, w)]
                - radial * state[at(v, i, w)];
        }
    }
}

fn nmr_s(k: u32, w: u32) -> f32 {
    return scalars[sc(k, w)];
}

fn nmr_set(k: u32, w: u32, v: f32) {
    scalars[sc(k, w)] = v;
}

// The next Lanczos vector v = r2 / beta (minres::next_v).
fn nmr_next_v(w: u32) {
    if nmr_s(NMR_DONE, w) == 0.0 {
        let inv = 1.0 / nmr_s(NMR_BETA, w);
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(NMR_V, i, w)] = inv * state[at(NMR_R2, i, w)];
        }
    }
}

// minres::start with b = -g.
fn nmr_start(w: u32, t: u32, lr_scale: f32) {
    var b2 = 0.0;
    for (var i = 0u; i < N; i = i + 1u) {
        let b = -state[at(SLOT_GRAD, i, w)];
        state[at(NMR_R1, i, w)] = b;
        state[at(NMR_R2, i, w)] = b;
        state[at(NMR_W, i, w)] = 0.0;
        state[at(NMR_W1, i, w)] = 0.0;
        state[at(NMR_W2, i, w)] = 0.0;
        state[at(NMR_P, i, w)] = 0.0;
        b2 = b2 + b * b;
    }
    let beta1 = sqrt(b2);
    nmr_set(NMR_BETA1, w, beta1);
    nmr_set(NMR_BETA, w, beta1);
    nmr_set(NMR_OLDB, w, 0.0);
    nmr_set(NMR_DBAR, w, 0.0);
    nmr_set(NMR_EPSLN, w, 0.0);
    nmr_set(NMR_PHIBAR, w, beta1);
    nmr_set(NMR_CS, w, -1.0);
    nmr_set(NMR_SN, w, 0.0);
    nmr_set(NMR_K, w, 0.0);
    nmr_set(NMR_DONE, w, select(0.0, 1.0, beta1 == 0.0));
    nmr_next_v(w);
}

// minres::iterate with y = H v in SLOT_AUX.
fn nmr_iterate(w: u32, t: u32, lr_scale: f32) {
    if nmr_s(NMR_DONE, w) != 0.0 {
        return;
    }
    nmr_tangent_hv(NMR_V, w);
    let k = nmr_s(NMR_K, w) + 1.0;
    nmr_set(NMR_K, w, k);
    let beta = nmr_s(NMR_BETA, w);
    if k >= 2.0 {
        let c = beta / nmr_s(NMR_OLDB, w);
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(SLOT_AUX, i, w)] = state[at(SLOT_AUX, i, w)] - c * state[at(NMR_R1, i, w)];
        }
    }
    let alfa = nmr_dot(NMR_V, SLOT_AUX, w);
    let c = alfa / beta;
    var b2 = 0.0;
    for (var i = 0u; i < N; i = i + 1u) {
        let y = state[at(SLOT_AUX, i, w)] - c * state[at(NMR_R2, i, w)];
        state[at(NMR_R1, i, w)] = state[at(NMR_R2, i, w)];
        state[at(NMR_R2, i, w)] = y;
        b2 = b2 + y * y;
    }
    let beta_new = sqrt(b2);
    nmr_set(NMR_OLDB, w, beta);
    nmr_set(NMR_BETA, w, beta_new);
    let oldeps = nmr_s(NMR_EPSLN, w);
    let cs = nmr_s(NMR_CS, w);
    let sn = nmr_s(NMR_SN, w);
    let dbar = nmr_s(NMR_DBAR, w);
    let delta = cs * dbar + sn * alfa;
    let gbar = sn * dbar - cs * alfa;
    nmr_set(NMR_EPSLN, w, sn * beta_new);
    nmr_set(NMR_DBAR, w, -cs * beta_new);
    let gamma = max(sqrt(gbar * gbar + beta_new * beta_new), 1.0e-30);
    let cs_new = gbar / gamma;
    let sn_new = beta_new / gamma;
    nmr_set(NMR_CS, w, cs_new);
    nmr_set(NMR_SN, w, sn_new);
    let phibar = nmr_s(NMR_PHIBAR, w);
    let phi = cs_new * phibar;
    let phibar_new = sn_new * phibar;
    nmr_set(NMR_PHIBAR, w, phibar_new);
    let inv = 1.0 / gamma;
    for (var i = 0u; i < N; i = i + 1u) {
        let w1 = state[at(NMR_W2, i, w)];
        let w2 = state[at(NMR_W, i, w)];
        let wn = (state[at(NMR_V, i, w)] - oldeps * w1 - delta * w2) * inv;
        state[at(NMR_W1, i, w)] = w1;
        state[at(NMR_W2, i, w)] = w2;
        state[at(NMR_W, i, w)] = wn;
        state[at(NMR_P, i, w)] = state[at(NMR_P, i, w)] + phi * wn;
    }
    let beta1 = nmr_s(NMR_BETA1, w);
    let done = phibar_new <= hyper[hp(HP_RTOL, w)] * beta1
        || beta_new <= NMR_BREAKDOWN * beta1
        || k >= hyper[hp(HP_ITERS, w)];
    nmr_set(NMR_DONE, w, select(0.0, 1.0, done));
    nmr_next_v(w);
}

// TRIAL = x + alpha p, retracted on spheres.
fn nmr_trial(w: u32) {
    let alpha = nmr_s(NMR_ALPHA, w);
    for (var i = 0u; i < N; i = i + 1u) {
        state[at(SLOT_TRIAL, i, w)] = state[at(SLOT_X, i, w)] + alpha * state[at(NMR_P, i, w)];
    }
    if SPHERE {
        retract(SLOT_TRIAL, w);
    }
}

// With H p in SLOT_AUX: the slope <H p, g> of |grad|^2 / 2 along p, the first step length.
fn nmr_search(w: u32, t: u32, lr_scale: f32) {
    nmr_tangent_hv(NMR_P, w);
    nmr_set(NMR_SLOPE, w, nmr_dot(SLOT_AUX, SLOT_GRAD, w));
    let pn = sqrt(nmr_dot(NMR_P, NMR_P, w));
    nmr_set(NMR_ALPHA, w, lr_scale * clip_scale(pn, hyper[hp(HP_CLIP, w)]));
    nmr_set(NMR_OK, w, 0.0);
    nmr_trial(w);
}

// With f and the Euclidean gradient at TRIAL evaluated: Armijo's test on |grad f|^2, else the
// next, halved trial.
fn nmr_try(w: u32, t: u32, lr_scale: f32) {
    if nmr_s(NMR_OK, w) != 0.0 {
        return;
    }
    var gt2 = 0.0;
    var radial = 0.0;
    if SPHERE {
        radial = nmr_dot(SLOT_TRIAL, SLOT_GRAD, w) / f32(N);
    }
    for (var i = 0u; i < N; i = i + 1u) {
        let g = state[at(SLOT_GRAD, i, w)] - radial * state[at(SLOT_TRIAL, i, w)];
        gt2 = gt2 + g * g;
    }
    let gn = scalars[sc(SC_GNORM, w)];
    let alpha = nmr_s(NMR_ALPHA, w);
    if gt2 <= gn * gn + 2.0 * NMR_ARMIJO * alpha * nmr_s(NMR_SLOPE, w) {
        nmr_set(NMR_OK, w, 1.0);
        return;
    }
    nmr_set(NMR_ALPHA, w, 0.5 * alpha);
    nmr_trial(w);
}

fn nmr_end(w: u32, t: u32, lr_scale: f32) {
    for (var i = 0u; i < N; i = i + 1u) {
        state[at(SLOT_X, i, w)] = state[at(SLOT_TRIAL, i, w)];
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
