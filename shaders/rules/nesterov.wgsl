// nesterov.wgsl — Nesterov momentum. Reference: src/rules/nesterov.rs.

fn nesterov_step(w: u32, t: u32, lr_scale: f32) {
    let c = clip_scale(scalars[sc(SC_GNORM, w)], hyper[hp(HP_CLIP, w)]);
    let lr = hyper[hp(HP_LR, w)] * lr_scale;
    let beta = hyper[hp(HP_BETA, w)];
    for (var i = 0u; i < N; i = i + 1u) {
        let g = c * state[at(SLOT_GRAD, i, w)];
        let m = beta * state[at(SLOT_OPT0, i, w)] + g;
        state[at(SLOT_OPT0, i, w)] = m;
        state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] - lr * (g + beta * m);
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
