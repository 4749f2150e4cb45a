// pspin.wgsl — spherical p-spin, H(x) = c sum Jsym_{i1..ip} x_{i1}..x_{ip}, c = N^{-(p-1)/2},
// evaluated by passes over all running walkers (the multi-pass engine). CPU twin:
// src/objective/pspin.rs (PSpin). Euclidean value, gradient and Hessian-vector product; the
// engine projects onto the sphere's tangent space and retracts.
//
// Host constants: PSPIN_P (2, 3 or 4), PSPIN_T (T, the number of nondecreasing (p-1)-tuples),
// PSPIN_C (c).
// params holds the packed couplings jt, N x T row-major, from param_base(w) (the walker's
// landscape instance; keep in sync with PSpin::params), followed by the zero tail every params
// buffer ends with: row i, column t is orders(t) Jsym(i, t) for the t-th nondecreasing tuple t
// in lexicographic order, so with the monomials m_t(x) = x_{t_1}..x_{t_{p-1}}
//   grad_i H = p c sum_t jt[i, t] m_t(x),   (Hess H v)_i = p c sum_t jt[i, t] Dm_t(x)[v].
// The tuples that share their first p - 2 indices are consecutive and end with the last index
// running from the previous one to N - 1, so a row is a few nested loops over dot products
// sum_{k >= s} jt[.., k - s] y_k.
//
// Component i of the gradient is one invocation (walker, i): the walkers of a workgroup share
// i, so they read the same couplings at the same time. Each dot product runs 16 terms per loop
// trip (the last, partial block without a loop: the couplings it reads past the run's end are
// multiplied by zeros), so one invocation makes about N (N/32 + 1) loop trips for p = 3 and
// N^2 (N/96 + 1/2) for p = 4 (twice that for H v): inside the software adapter's loop budget
// (common.wgsl, loop_guard) for p = 3 at every size its 128 MiB buffers hold; the guard
// reports the p = 4 sizes that are not. The vectors are read from the walker state directly:
// a private copy of N floats, indexed dynamically, compiles to very slow code on llvmpipe.

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

// sum_{k = s}^{N-1} params[base + k - s] y_k over slot y.
fn pspin_dot(base: u32, s: u32, y: u32, w: u32) -> f32 {
    var acc = vec4<f32>(0.0);
    let len = N - s;
    let full = len / 16u * 16u;
    for (var o = 0u; o < full; o += 16u) {
        let b = base + o;
        let k = s + o;
        acc += pspin_p4(b) * pspin_s4(y, k, w);
        acc += pspin_p4(b + 4u) * pspin_s4(y, k + 4u, w);
        acc += pspin_p4(b + 8u) * pspin_s4(y, k + 8u, w);
        acc += pspin_p4(b + 12u) * pspin_s4(y, k + 12u, w);
    }
    if full < len {
        let b = base + full;
        let k = s + full;
        acc += pspin_p4(b) * pspin_t4(y, k, w);
        acc += pspin_p4(b + 4u) * pspin_t4(y, k + 4u, w);
        acc += pspin_p4(b + 8u) * pspin_t4(y, k + 8u, w);
        acc += pspin_p4(b + 12u) * pspin_t4(y, k + 12u, w);
    }
    return (acc.x + acc.y) + (acc.z + acc.w);
}

// sum_t jt[i, t] m_t(x).
fn pspin_grad_row(w: u32, i: u32, x: u32) -> f32 {
    let base = param_base(w) + i * PSPIN_T;
    if PSPIN_P == 2u {
        return pspin_dot(base, 0u, x, w);
    }
    var acc = 0.0;
    var off = 0u;
    if PSPIN_P == 3u {
        for (var a = 0u; a < N; a++) {
            acc += state[at(x, a, w)] * pspin_dot(base + off, a, x, w);
            off += N - a;
        }
    } else {
        for (var a = 0u; a < N; a++) {
            var inner = 0.0;
            for (var b = a; b < N; b++) {
                inner += state[at(x, b, w)] * pspin_dot(base + off, b, x, w);
                off += N - b;
            }
            acc += state[at(x, a, w)] * inner;
        }
    }
    return acc;
}

// sum_t jt[i, t] Dm_t(x)[v]: the derivative of the monomials along v.
fn pspin_hvp_row(w: u32, i: u32, x: u32, v: u32) -> f32 {
    let base = param_base(w) + i * PSPIN_T;
    if PSPIN_P == 2u {
        return pspin_dot(base, 0u, v, w);
    }
    var acc = 0.0;
    var off = 0u;
    if PSPIN_P == 3u {
        for (var a = 0u; a < N; a++) {
            let b = base + off;
            acc += state[at(x, a, w)] * pspin_dot(b, a, v, w) + state[at(v, a, w)] * pspin_dot(b, a, x, w);
            off += N - a;
        }
    } else {
        for (var a = 0u; a < N; a++) {
            let xa = state[at(x, a, w)];
            let va = state[at(v, a, w)];
            for (var b = a; b < N; b++) {
                let xb = state[at(x, b, w)];
                let vb = state[at(v, b, w)];
                let o = base + off;
                acc += xa * xb * pspin_dot(o, b, v, w) + (va * xb + xa * vb) * pspin_dot(o, b, x, w);
                off += N - b;
            }
        }
    }
    return acc;
}

// Pass (rows N): gradient component r = p c sum_t jt[r, t] m_t(x).
fn pspin_grad_rows(w: u32, r: u32, x: u32, v: u32, out: u32) {
    state[at(out, r, w)] = f32(PSPIN_P) * PSPIN_C * pspin_grad_row(w, r, x);
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
    scratch[r * walk.stride + w] = pspin_grad_row(w, r, x);
}

// Pass (rows 1): H = c sum_i x_i sum_t jt[i, t] m_t(x), into SC_EVAL.
fn pspin_value_f(w: u32, r: u32, x: u32, v: u32, out: u32) {
    var s = 0.0;
    for (var i = 0u; i < N; i++) {
        s += state[at(x, i, w)] * scratch[i * walk.stride + w];
    }
    scalars[sc(SC_EVAL, w)] = PSPIN_C * s;
}

// Pass (rows N): component r of (Hess H) v = p c sum_t jt[r, t] Dm_t(x)[v].
fn pspin_hvp_rows(w: u32, r: u32, x: u32, v: u32, out: u32) {
    state[at(out, r, w)] = f32(PSPIN_P) * PSPIN_C * pspin_hvp_row(w, r, x, v);
}
