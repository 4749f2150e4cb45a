// field.wgsl — random-Fourier-feature Gaussian field in a bowl,
// f(x) = mu/2 |x|^2 + sum_m s_m cos(w_m . x + b_m), s_m = sqrt(2/M) a_m, evaluated by passes
// over all running walkers (the multi-pass engine). CPU twin: src/objective/field.rs (Field).
//
// Host constants: FIELD_M (features), FIELD_MU (mu), and the offsets in params of W^T
// (FIELD_T), s (FIELD_S) and b (FIELD_B). params layout (keep in sync with Field::params), from
// param_base(w) (the walker's landscape instance): W, M x N (row m = w_m), then W^T, N x M, then
// s_m, then b_m. Invocations of one workgroup are walkers with the same row, so they read the
// same landscape addresses at the same time.
// scratch rows: m < M holds s_m cos(phase_m) (for f), M + m the coefficient c_m of w_m in the
// output sum (-s_m sin(phase_m) for the gradient, -s_m cos(phase_m) (w_m . v) for H v).
// Loops over N run 4 terms per trip and loops over M 16, so one invocation stays far inside the
// software adapter's loop budget (common.wgsl, loop_guard) for every size the table allows.
//
// The phases (X W^T), the w_m . v (V W^T) and the output sums (C W) are matrix products: each
// such pass NAME also has NAME_b (the walker's operand, term k) and NAME_end (what NAME writes,
// from the sum), from which the GPU builds tiled kernels (src/gpu/tile.rs) for walks on one
// landscape; NAME itself is the per-row kernel's pass.

fn field_sc(k: u32, w: u32) -> u32 {
    return k * walk.stride + w;
}

// sum_i params[base + i] * y_i over the N coordinates of slot y.
fn field_dot(base: u32, y: u32, w: u32) -> f32 {
    var acc = vec4<f32>(0.0);
    var i = 0u;
    loop {
        if i + 4u > N { break; }
        acc += vec4<f32>(params[base + i], params[base + i + 1u], params[base + i + 2u], params[base + i + 3u])
            * vec4<f32>(state[at(y, i, w)], state[at(y, i + 1u, w)], state[at(y, i + 2u, w)], state[at(y, i + 3u, w)]);
        i += 4u;
    }
    var s = (acc.x + acc.y) + (acc.z + acc.w);
    for (; i < N; i++) {
        s += params[base + i] * state[at(y, i, w)];
    }
    return s;
}

// The phase w_m . x + b_m, reduced to [-pi, pi] for cos and sin.
fn field_phase_of(p0: u32, m: u32, x: u32, w: u32) -> f32 {
    let ph = params[p0 + FIELD_B + m] + field_dot(p0 + m * N, x, w);
    return ph - 6.28318530717959 * round(ph * 0.159154943091895);
}

// scratch gets s cos and -s sin of feature r's phase ph (reduced to [-pi, pi]).
fn field_phase_store(w: u32, r: u32, ph: f32) {
    let s = params[param_base(w) + FIELD_S + r];
    scratch[field_sc(r, w)] = s * cos(ph);
    scratch[field_sc(FIELD_M + r, w)] = -s * sin(ph);
}

// Pass (rows M): the phase of feature r at x; scratch gets s cos and -s sin.
fn field_phase(w: u32, r: u32, x: u32, v: u32, out: u32) {
    field_phase_store(w, r, field_phase_of(param_base(w), r, x, w));
}

fn field_phase_b(w: u32, k: u32, x: u32, v: u32) -> f32 {
    return state[at(x, k, w)];
}

fn field_phase_end(w: u32, r: u32, acc: f32, x: u32, v: u32, out: u32) {
    let ph = params[param_base(w) + FIELD_B + r] + acc;
    field_phase_store(w, r, ph - 6.28318530717959 * round(ph * 0.159154943091895));
}

// Pass (rows M), after field_phase at x: the coefficient of w_r in H v,
// -s_r cos(phase_r) (w_r . v) = -scratch[r] (w_r . v).
fn field_vdot(w: u32, r: u32, x: u32, v: u32, out: u32) {
    field_vdot_end(w, r, field_dot(param_base(w) + r * N, v, w), x, v, out);
}

fn field_vdot_b(w: u32, k: u32, x: u32, v: u32) -> f32 {
    return state[at(v, k, w)];
}

fn field_vdot_end(w: u32, r: u32, acc: f32, x: u32, v: u32, out: u32) {
    scratch[field_sc(FIELD_M + r, w)] = -scratch[field_sc(r, w)] * acc;
}

// out_i = mu y_i + sum_m c_m w_{m,i}, with the coefficients c_m in scratch rows M + m.
fn field_apply(w: u32, i: u32, y: u32, out: u32) {
    let base = param_base(w) + FIELD_T + i * FIELD_M;
    var acc = vec4<f32>(0.0);
    var m = 0u;
    loop {
        if m + 16u > FIELD_M { break; }
        let c = FIELD_M + m;
        acc += vec4<f32>(params[base + m], params[base + m + 1u], params[base + m + 2u], params[base + m + 3u])
            * vec4<f32>(scratch[field_sc(c, w)], scratch[field_sc(c + 1u, w)], scratch[field_sc(c + 2u, w)], scratch[field_sc(c + 3u, w)]);
        acc += vec4<f32>(params[base + m + 4u], params[base + m + 5u], params[base + m + 6u], params[base + m + 7u])
            * vec4<f32>(scratch[field_sc(c + 4u, w)], scratch[field_sc(c + 5u, w)], scratch[field_sc(c + 6u, w)], scratch[field_sc(c + 7u, w)]);
        acc += vec4<f32>(params[base + m + 8u], params[base + m + 9u], params[base + m + 10u], params[base + m + 11u])
            * vec4<f32>(scratch[field_sc(c + 8u, w)], scratch[field_sc(c + 9u, w)], scratch[field_sc(c + 10u, w)], scratch[field_sc(c + 11u, w)]);
        acc += vec4<f32>(params[base + m + 12u], params[base + m + 13u], params[base + m + 14u], params[base + m + 15u])
            * vec4<f32>(scratch[field_sc(c + 12u, w)], scratch[field_sc(c + 13u, w)], scratch[field_sc(c + 14u, w)], scratch[field_sc(c + 15u, w)]);
        m += 16u;
    }
    var s = (acc.x + acc.y) + (acc.z + acc.w);
    for (; m < FIELD_M; m++) {
        s += params[base + m] * scratch[field_sc(FIELD_M + m, w)];
    }
    state[at(out, i, w)] = FIELD_MU * state[at(y, i, w)] + s;
}

// Pass (rows N): gradient component r.
fn field_apply_x(w: u32, r: u32, x: u32, v: u32, out: u32) {
    field_apply(w, r, x, out);
}

fn field_apply_x_b(w: u32, k: u32, x: u32, v: u32) -> f32 {
    return scratch[field_sc(FIELD_M + k, w)];
}

fn field_apply_x_end(w: u32, r: u32, acc: f32, x: u32, v: u32, out: u32) {
    state[at(out, r, w)] = FIELD_MU * state[at(x, r, w)] + acc;
}

// Pass (rows N): component r of H v.
fn field_apply_v(w: u32, r: u32, x: u32, v: u32, out: u32) {
    field_apply(w, r, v, out);
}

fn field_apply_v_b(w: u32, k: u32, x: u32, v: u32) -> f32 {
    return scratch[field_sc(FIELD_M + k, w)];
}

fn field_apply_v_end(w: u32, r: u32, acc: f32, x: u32, v: u32, out: u32) {
    state[at(out, r, w)] = FIELD_MU * state[at(v, r, w)] + acc;
}

// Pass (rows 1): f = mu/2 |x|^2 + sum_m s_m cos(phase_m), into SC_EVAL.
fn field_f(w: u32, r: u32, x: u32, v: u32, out: u32) {
    var r2 = 0.0;
    for (var i = 0u; i < N; i++) {
        let xi = state[at(x, i, w)];
        r2 += xi * xi;
    }
    var acc = vec4<f32>(0.0);
    var m = 0u;
    loop {
        if m + 16u > FIELD_M { break; }
        acc += vec4<f32>(scratch[field_sc(m + 0u, w)], scratch[field_sc(m + 1u, w)],
            scratch[field_sc(m + 2u, w)], scratch[field_sc(m + 3u, w)]);
        acc += vec4<f32>(scratch[field_sc(m + 4u, w)], scratch[field_sc(m + 5u, w)],
            scratch[field_sc(m + 6u, w)], scratch[field_sc(m + 7u, w)]);
        acc += vec4<f32>(scratch[field_sc(m + 8u, w)], scratch[field_sc(m + 9u, w)],
            scratch[field_sc(m + 10u, w)], scratch[field_sc(m + 11u, w)]);
        acc += vec4<f32>(scratch[field_sc(m + 12u, w)], scratch[field_sc(m + 13u, w)],
            scratch[field_sc(m + 14u, w)], scratch[field_sc(m + 15u, w)]);
        m += 16u;
    }
    var s = (acc.x + acc.y) + (acc.z + acc.w);
    for (; m < FIELD_M; m++) {
        s += scratch[field_sc(m, w)];
    }
    scalars[sc(SC_EVAL, w)] = 0.5 * FIELD_MU * r2 + s;
}
