// gradnorm.wgsl — descent on |grad f|^2 / 2 by Hessian-vector products. Reference:
// src/rules/gradnorm.rs. Program: evaluate H g into SLOT_AUX (Hvp of X, GRAD -> AUX), then
// gradnorm_update.

fn gradnorm_update(w: u32, t: u32, lr_scale: f32) {
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
    var dn2 = 0.0;
    for (var i = 0u; i < N; i = i + 1u) {
        let d = state[at(SLOT_AUX, i, w)];
        dn2 = dn2 + d * d;
    }
    let k = hyper[hp(HP_LR, w)] * lr_scale * clip_scale(sqrt(dn2), hyper[hp(HP_CLIP, w)]);
    for (var i = 0u; i < N; i = i + 1u) {
        state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] - k * state[at(SLOT_AUX, i, w)];
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
