// gradnorm.wgsl — descent on |grad f|^2 / 2 by Hessian-vector products. Reference:
// src/rules/gradnorm.rs. Program: H g into SLOT_AUX (Hvp of X, GRAD -> AUX), gradnorm_direction
// (the tangent direction d on spheres), H d into SLOT_TRIAL (Hvp of X, AUX -> TRIAL), then
// gradnorm_update: lr > 0 steps by lr d; lr = 0 (the default) by the exact line search of the
// local quadratic model, alpha = <g, H d> / |H d|^2.

// d = H g, made tangent on spheres: P (Hess H) g - (x . grad H / N) g.
fn gradnorm_direction(w: u32, t: u32, lr_scale: f32) {
    if SPHERE {
        var xd = 0.0;
        for (var i = 0u; i < N; i = i + 1u) {
            xd = xd + state[at(SLOT_X, i, w)] * state[at(SLOT_AUX, i, w)];
        }
        let radial = scalars[sc(SC_RADIAL, w)];
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(SLOT_AUX, i, w)] = state[at(SLOT_AUX, i, w)] - xd / f32(N) * state[at(SLOT_X, i, w)]
                - radial * state[at(SLOT_GRAD, i, w)];
        }
    }
}

fn gradnorm_update(w: u32, t: u32, lr_scale: f32) {
    var dn2 = 0.0;
    var ghd = 0.0;
    var hd2 = 0.0;
    var xhd = 0.0;
    for (var i = 0u; i < N; i = i + 1u) {
        let d = state[at(SLOT_AUX, i, w)];
        dn2 = dn2 + d * d;
        xhd = xhd + state[at(SLOT_X, i, w)] * state[at(SLOT_TRIAL, i, w)];
    }
    let radial = scalars[sc(SC_RADIAL, w)];
    for (var i = 0u; i < N; i = i + 1u) {
        var hd = state[at(SLOT_TRIAL, i, w)];
        if SPHERE {
            hd = hd - xhd / f32(N) * state[at(SLOT_X, i, w)] - radial * state[at(SLOT_AUX, i, w)];
        }
        ghd = ghd + state[at(SLOT_GRAD, i, w)] * hd;
        hd2 = hd2 + hd * hd;
    }
    var alpha = hyper[hp(HP_LR, w)];
    if alpha == 0.0 {
        alpha = select(0.0, ghd / hd2, hd2 > 0.0);
    }
    let k = alpha * lr_scale * clip_scale(alpha * sqrt(dn2), hyper[hp(HP_CLIP, w)]);
    for (var i = 0u; i < N; i = i + 1u) {
        state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] - k * state[at(SLOT_AUX, i, w)];
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
