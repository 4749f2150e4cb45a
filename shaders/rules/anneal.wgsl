// anneal.wgsl — simulated annealing. Reference: src/rules/anneal.rs. Program: anneal_propose
// (the proposal into SLOT_TRIAL), the objective's value there (into SC_EVAL), anneal_accept.

fn anneal_propose(w: u32, t: u32, lr_scale: f32) {
    let sigma = hyper[hp(HP_STEP, w)] * lr_scale;
    let len2 = gauss_fill(SLOT_TRIAL, w, t, STREAM_PROPOSAL);
    let k = sigma * clip_scale(sigma * sqrt(len2), hyper[hp(HP_CLIP, w)]);
    for (var i = 0u; i < N; i = i + 1u) {
        state[at(SLOT_TRIAL, i, w)] = state[at(SLOT_X, i, w)] + k * state[at(SLOT_TRIAL, i, w)];
    }
    if SPHERE {
        retract(SLOT_TRIAL, w);
    }
}

fn anneal_accept(w: u32, t: u32, lr_scale: f32) {
    let gw = walk.first_walker + w;
    let fy = scalars[sc(SC_EVAL, w)];
    let temp = hyper[hp(HP_T0, w)] * pow(hyper[hp(HP_COOLING, w)], f32(t));
    let u = uniform4(gw, t, 0u, STREAM_ACCEPT).x;
    let df = fy - scalars[sc(SC_F, w)];
    // A non-finite proposal is never accepted (its divergence would only be noise).
    if is_finite(fy) && (df <= 0.0 || u < exp(-df / temp)) {
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(SLOT_X, i, w)] = state[at(SLOT_TRIAL, i, w)];
        }
    }
}

fn rule_may_stop(w: u32, t: u32) -> bool {
    return true;
}
