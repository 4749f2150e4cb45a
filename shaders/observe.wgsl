// observe.wgsl — what every step does around the rule, shared by both walk engines (the fused
// kernel walk.wgsl and the multi-pass kernels the host generates for batched objectives).
// CPU twin: src/walk/cpu.rs (observe, walk_segment).

// lr(t) / lr for walker w at step t from its schedule rows (lr_factor: schedule.wgsl).
// Twin: rules::schedule::factor_at, called by src/walk/cpu.rs.
fn schedule_at(w: u32, t: u32) -> f32 {
    return lr_factor(
        u32(hyper[hp(HP_SCHEDULE, w)]),
        f32(t),
        hyper[hp(HP_PERIOD, w)],
        hyper[hp(HP_GAMMA, w)],
        hyper[hp(HP_LR_MIN, w)],
        hyper[hp(HP_T_MULT, w)],
    );
}

// With f and the Euclidean gradient at x (in SLOT_GRAD) evaluated: projects the gradient on
// spheres, records |grad|, the escape step, and decides whether the walker stops here.
// Returns the new status.
fn observe_at(w: u32, t: u32, f: f32) -> u32 {
    var bad = !is_finite(f);
    if SPHERE {
        var xg = 0.0;
        for (var i = 0u; i < N; i = i + 1u) {
            xg = xg + state[at(SLOT_X, i, w)] * state[at(SLOT_GRAD, i, w)];
        }
        let radial = xg / f32(N);
        scalars[sc(SC_RADIAL, w)] = radial;
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(SLOT_GRAD, i, w)] = state[at(SLOT_GRAD, i, w)] - radial * state[at(SLOT_X, i, w)];
        }
    }
    var g2 = 0.0;
    var d2 = 0.0;
    for (var i = 0u; i < N; i = i + 1u) {
        let g = state[at(SLOT_GRAD, i, w)];
        let x = state[at(SLOT_X, i, w)];
        let d = x - state[at(SLOT_START, i, w)];
        g2 = g2 + g * g;
        d2 = d2 + d * d;
        bad = bad || !is_finite(x) || abs(x) > walk.bound;
    }
    let gn = sqrt(g2);
    bad = bad || !is_finite(gn);
    scalars[sc(SC_F, w)] = f;
    scalars[sc(SC_GNORM, w)] = gn;
    if t == 0u {
        scalars[sc(SC_F0, w)] = f;
    }
    if counters[sc(CT_ESCAPE, w)] == NO_ESCAPE && !bad {
        let far = walk.escape_radius2 > 0.0 && d2 >= walk.escape_radius2;
        let drop = walk.escape_drop > 0.0 && scalars[sc(SC_F0, w)] - f >= walk.escape_drop;
        if far || drop {
            counters[sc(CT_ESCAPE, w)] = t;
        }
    }
    if bad {
        return DIVERGED;
    }
    let settled = walk.settle_after_escape == 0u || counters[sc(CT_ESCAPE, w)] != NO_ESCAPE;
    if gn <= walk.grad_tol && settled && rule_may_stop(w, t) {
        return CONVERGED;
    }
    if t >= walk.max_steps {
        return MAX_STEPS;
    }
    return RUNNING;
}

// After the rule's last stage: back onto the sphere.
fn end_step(w: u32) {
    if SPHERE {
        retract(SLOT_X, w);
    }
}

// After the minibatch gradient at x (SLOT_GRAD, f in SC_EVAL; rules::BATCH): the rule's step
// sees the minibatch's f and |grad| (clipping, line searches, acceptance tests), not the
// full-batch ones observe_at recorded for the stop tests. Objectives with data are not on
// spheres. Twin: walk::cpu::minibatch_step.
fn minibatch_observe(w: u32) {
    var g2 = 0.0;
    for (var i = 0u; i < N; i = i + 1u) {
        let g = state[at(SLOT_GRAD, i, w)];
        g2 = g2 + g * g;
    }
    scalars[sc(SC_F, w)] = scalars[sc(SC_EVAL, w)];
    scalars[sc(SC_GNORM, w)] = sqrt(g2);
}
