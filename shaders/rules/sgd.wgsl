// sgd.wgsl — gradient plus Gaussian noise. Reference: src/rules/sgd.rs.
// Needs noisy_step.wgsl (the host appends it).

fn sgd_step(w: u32, t: u32, lr_scale: f32) {
    let lr = hyper[hp(HP_LR, w)] * lr_scale;
    let c = clip_scale(scalars[sc(SC_GNORM, w)], hyper[hp(HP_CLIP, w)]);
    noisy_step(w, t, lr * c, lr * hyper[hp(HP_NOISE, w)]);
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
