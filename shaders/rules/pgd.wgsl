// pgd.wgsl — perturbed gradient descent (Jin et al. 2017). Reference: src/rules/pgd.rs.

fn pgd_quiet(w: u32, t: u32) -> bool {
    let last = counters[sc(CT_RULE0, w)];
    return last == 0u || f32(t - (last - 1u)) >= hyper[hp(HP_T_THRES, w)];
}

fn pgd_step(w: u32, t: u32, lr_scale: f32) {
    let gn = scalars[sc(SC_GNORM, w)];
    if gn <= hyper[hp(HP_G_THRES, w)] && pgd_quiet(w, t) {
        let gw = walk.first_walker + w;
        let nb = (N + 3u) / 4u;
        let norm2 = gauss_fill(SLOT_AUX, w, t, STREAM_PERTURB);
        let u = uniform4(gw, t, nb, STREAM_PERTURB).x;
        let scale = hyper[hp(HP_R, w)] * pow(u, 1.0 / f32(N)) / max(sqrt(norm2), 1e-30);
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] + scale * state[at(SLOT_AUX, i, w)];
        }
        counters[sc(CT_RULE0, w)] = t + 1u;
        scalars[sc(SC_RULE0, w)] = scalars[sc(SC_F, w)];
        return;
    }
    let k = hyper[hp(HP_LR, w)] * lr_scale * clip_scale(gn, hyper[hp(HP_CLIP, w)]);
    for (var i = 0u; i < N; i = i + 1u) {
        state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] - k * state[at(SLOT_GRAD, i, w)];
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return counters[sc(CT_RULE0, w)] != 0u && pgd_quiet(w, t)
        && scalars[sc(SC_RULE0, w)] - scalars[sc(SC_F, w)] < hyper[hp(HP_F_THRES, w)];
}
