// adam.wgsl — Adam with bias correction. Reference: src/rules/adam.rs.

fn adam_step(w: u32, t: u32, lr_scale: f32) {
    let c = clip_scale(scalars[sc(SC_GNORM, w)], hyper[hp(HP_CLIP, w)]);
    let lr = hyper[hp(HP_LR, w)] * lr_scale;
    let b1 = hyper[hp(HP_BETA1, w)];
    let b2 = hyper[hp(HP_BETA2, w)];
    let eps = hyper[hp(HP_EPS, w)];
    let t1 = f32(t) + 1.0;
    let bc1 = 1.0 - pow(b1, t1);
    let bc2 = 1.0 - pow(b2, t1);
    for (var i = 0u; i < N; i = i + 1u) {
        let g = c * state[at(SLOT_GRAD, i, w)];
        let m = b1 * state[at(SLOT_OPT0, i, w)] + (1.0 - b1) * g;
        let v = b2 * state[at(SLOT_OPT1, i, w)] + (1.0 - b2) * g * g;
        state[at(SLOT_OPT0, i, w)] = m;
        state[at(SLOT_OPT1, i, w)] = v;
        state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] - lr * (m / bc1) / (sqrt(v / bc2) + eps);
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
