// rmsprop.wgsl — RMSprop. Reference: src/rules/rmsprop.rs.

fn rmsprop_step(w: u32, t: u32, lr_scale: f32) {
    let c = clip_scale(scalars[sc(SC_GNORM, w)], hyper[hp(HP_CLIP, w)]);
    let lr = hyper[hp(HP_LR, w)] * lr_scale;
    let alpha = hyper[hp(HP_ALPHA, w)];
    let eps = hyper[hp(HP_EPS, w)];
    for (var i = 0u; i < N; i = i + 1u) {
        let g = c * state[at(SLOT_GRAD, i, w)];
        let v = alpha * state[at(SLOT_OPT1, i, w)] + (1.0 - alpha) * g * g;
        state[at(SLOT_OPT1, i, w)] = v;
        state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] - lr * g / (sqrt(v) + eps);
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
