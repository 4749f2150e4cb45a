// pspin.wgsl — spherical p-spin, H(x) = c sum Jsym_{i1..ip} x_{i1}..x_{ip}, c = N^{-(p-1)/2},
// evaluated by passes over all running walkers (the multi-pass engine). CPU twin:
// src/objective/pspin.rs (PSpin). Euclidean value, gradient and Hessian-vector product; the
// engine projects onto the sphere's tangent space and retracts.
//
// Host constants: PSPIN_P (2, 3 or 4), PSPIN_C (c).
// params holds Jsym, N^p row-major, from param_base(w) (the walker's landscape instance; keep
// in sync with PSpin::params), followed by the zero tail every params buffer ends with.
// Component i of grad H = p c Jsym(i, x, .., x) is one invocation (walker, i): the walkers of a
// workgroup share i, so they read the same couplings at the same time. Its innermost sum runs
// 16 terms per loop trip (the last, partial block without a loop: the couplings it reads past
// the row's end are multiplied by zeros), so one invocation makes about N^(p-1) (N/16 + 1)
// loop trips: inside the software adapter's loop budget (common.wgsl, loop_guard) at every
// size the coupling buffer allows. The vectors are read from the walker state directly: a
// private copy of N floats, indexed dynamically, compiles to very slow code on llvmpipe.

fn pspin_p4(b: u32) -> vec4<f32> {
    return vec4<f32>(params[b], params[b + 1u], params[b + 2u], params[b + 3u]);
}

fn pspin_s4(y: u32, k: u32, w: u32) -> vec4<f32> {
    return vec4<f32>(state[at(y, k, w)], state[at(y, k + 1u, w)], state[at(y, k + 2u, w)], state[at(y, k + 3u, w)]);
}

// y_k, or 0 past the end of the vector.
fn pspin_tail(y: u32, k: u32, w: u32) -> f32 {
    return select(0.0, state[at(y, min(k, N - 1u), w)], k < N);
}

fn pspin_t4(y: u32, k: u32, w: u32) -> vec4<f32> {
    return vec4<f32>(pspin_tail(y, k, w), pspin_tail(y, k + 1u, w), pspin_tail(y, k + 2u, w), pspin_tail(y, k + 3u, w));
}

// sum_k Jsym[base + k] y_k over the N coordinates of slot y.
fn pspin_dot(base: u32, y: u32, w: u32) -> f32 {
    var acc = vec4<f32>(0.0);
    let full = N / 16u * 16u;
    for (var k = 0u; k < full; k += 16u) {
        let b = base + k;
        acc += pspin_p4(b) * pspin_s4(y, k, w);
        acc += pspin_p4(b + 4u) * pspin_s4(y, k + 4u, w);
        acc += pspin_p4(b + 8u) * pspin_s4(y, k + 8u, w);
        acc += pspin_p4(b + 12u) * pspin_s4(y, k + 12u, w);
    }
    if full < N {
        let b = base + full;
        acc += pspin_p4(b) * pspin_t4(y, full, w);
        acc += pspin_p4(b + 4u) * pspin_t4(y, full + 4u, w);
        acc += pspin_p4(b + 8u) * pspin_t4(y, full + 8u, w);
        acc += pspin_p4(b + 12u) * pspin_t4(y, full + 12u, w);
    }
    return (acc.x + acc.y) + (acc.z + acc.w);
}

// Jsym(i, x, .., x, y): the p-1 trailing indices contracted, the innermost with y.
fn pspin_row(w: u32, i: u32, x: u32, y: u32) -> f32 {
    let p0 = param_base(w);
    if PSPIN_P == 2u {
        return pspin_dot(p0 + i * N, y, w);
    }
    var acc = 0.0;
    if PSPIN_P == 3u {
        for (var j = 0u; j < N; j++) {
            acc += state[at(x, j, w)] * pspin_dot(p0 + (i * N + j) * N, y, w);
        }
    } else {
        for (var j = 0u; j < N; j++) {
            var inner = 0.0;
            for (var k = 0u; k < N; k++) {
                inner += state[at(x, k, w)] * pspin_dot(p0 + ((i * N + j) * N + k) * N, y, w);
            }
            acc += state[at(x, j, w)] * inner;
        }
    }
    return acc;
}

// Pass (rows N): gradient component r = p c Jsym(r, x, .., x).
fn pspin_grad_rows(w: u32, r: u32, x: u32, v: u32, out: u32) {
    state[at(out, r, w)] = f32(PSPIN_P) * PSPIN_C * pspin_row(w, r, x, x);
}

// Pass (rows 1): H = x . grad H / p (H is homogeneous of degree p), into SC_EVAL.
fn pspin_grad_f(w: u32, r: u32, x: u32, v: u32, out: u32) {
    var s = 0.0;
    for (var i = 0u; i < N; i++) {
        s += state[at(x, i, w)] * state[at(out, i, w)];
    }
    scalars[sc(SC_EVAL, w)] = s / f32(PSPIN_P);
}

// Pass (rows N): row r of the value's contraction, into scratch row r.
fn pspin_value_rows(w: u32, r: u32, x: u32, v: u32, out: u32) {
    scratch[r * walk.stride + w] = pspin_row(w, r, x, x);
}

// Pass (rows 1): H = c sum_i x_i Jsym(i, x, .., x), into SC_EVAL.
fn pspin_value_f(w: u32, r: u32, x: u32, v: u32, out: u32) {
    var s = 0.0;
    for (var i = 0u; i < N; i++) {
        s += state[at(x, i, w)] * scratch[i * walk.stride + w];
    }
    scalars[sc(SC_EVAL, w)] = PSPIN_C * s;
}

// Pass (rows N): component r of (Hess H) v = p (p-1) c Jsym(r, x, .., x, v).
fn pspin_hvp_rows(w: u32, r: u32, x: u32, v: u32, out: u32) {
    state[at(out, r, w)] = f32(PSPIN_P * (PSPIN_P - 1u)) * PSPIN_C * pspin_row(w, r, x, v);
}
