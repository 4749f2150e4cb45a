// gd.wgsl — gradient descent. Reference: src/rules/gd.rs.

fn gd_step(w: u32, t: u32, lr_scale: f32) {
    let k = hyper[hp(HP_LR, w)] * lr_scale * clip_scale(scalars[sc(SC_GNORM, w)], hyper[hp(HP_CLIP, w)]);
    for (var i = 0u; i < N; i = i + 1u) {
        state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] - k * state[at(SLOT_GRAD, i, w)];
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
