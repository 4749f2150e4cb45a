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
//
// The row passes are also matrix products, rows N x terms T: sum_t jt[i, t] B_w(t) with B the
// monomials m_t(x) (gradient, value) or their derivatives Dm_t(x)[v] (H v). NAME_b forms B
// from the tuple's indices, computed from t (pspin_pair, pspin_triple), and NAME_end writes
// what NAME writes; from these the GPU builds tiled kernels (src/gpu/tile.rs) for walks on one
// landscape.

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

// C(m + 1, 2) and C(m + 2, 3): the pairs and triples (nondecreasing) over m values.
fn pspin_c2(m: u32) -> u32 {
    return m * (m + 1u) / 2u;
}

fn pspin_c3(m: u32) -> u32 {
    return m * (m + 1u) * (m + 2u) / 6u;
}

// The u-th nondecreasing pair (a, b) over 0..n in lexicographic order. With m = n - a values
// left, the pairs from (a, a) to the end number C(m + 1, 2), so r = C(n + 1, 2) - u (the pairs
// from u on) lies in (C(m, 2), C(m + 1, 2)]: m is the ceiling of the root of m (m + 1) / 2 = r,
// estimated in f32 and corrected by one either way in exact integers (the estimate's error is
// far below one: 8 r + 1 < 2^24 for every n the couplings allow). CPU mirror:
// src/objective/pspin.rs, tests::pair_mirror.
fn pspin_pair(u: u32, n: u32) -> vec2<u32> {
    let r = pspin_c2(n) - u;
    var m = u32(ceil((sqrt(f32(8u * r + 1u)) - 1.0) * 0.5));
    m = select(m, m + 1u, pspin_c2(m) < r);
    m = select(m, m - 1u, m > 1u && pspin_c2(m - 1u) >= r);
    let a = n - m;
    return vec2<u32>(a, a + u - (pspin_c2(n) - pspin_c2(m)));
}

// The t-th nondecreasing triple over 0..N: as pspin_pair, with r = T - t in
// (C(m + 1, 3), C(m + 2, 3)] for m = N - a. The estimate floor(cbrt(6 r) - 1.5) is m - 1 or
// m - 2 (m - 3 with f32 rounding): three exact corrections up. The rest is the pair over the
// m values from a on.
fn pspin_triple(t: u32) -> vec3<u32> {
    let r = PSPIN_T - t;
    var m = u32(max(floor(pow(f32(6u * r), 1.0 / 3.0) - 1.5), 0.0));
    m = select(m, m + 1u, pspin_c3(m) < r);
    m = select(m, m + 1u, pspin_c3(m) < r);
    m = select(m, m + 1u, pspin_c3(m) < r);
    let a = N - m;
    let bc = pspin_pair(t - (PSPIN_T - pspin_c3(m)), m);
    return vec3<u32>(a, a + bc.x, a + bc.y);
}

// The monomial m_t(x) = x_{t_1}..x_{t_{p-1}}.
fn pspin_mono(w: u32, t: u32, x: u32) -> f32 {
    if PSPIN_P == 2u {
        return state[at(x, t, w)];
    }
    if PSPIN_P == 3u {
        let ab = pspin_pair(t, N);
        return state[at(x, ab.x, w)] * state[at(x, ab.y, w)];
    }
    let abc = pspin_triple(t);
    return state[at(x, abc.x, w)] * state[at(x, abc.y, w)] * state[at(x, abc.z, w)];
}

// Its derivative along v, Dm_t(x)[v].
fn pspin_dmono(w: u32, t: u32, x: u32, v: u32) -> f32 {
    if PSPIN_P == 2u {
        return state[at(v, t, w)];
    }
    if PSPIN_P == 3u {
        let ab = pspin_pair(t, N);
        return state[at(x, ab.x, w)] * state[at(v, ab.y, w)] + state[at(v, ab.x, w)] * state[at(x, ab.y, w)];
    }
    let abc = pspin_triple(t);
    let xa = state[at(x, abc.x, w)];
    let xb = state[at(x, abc.y, w)];
    let xc = state[at(x, abc.z, w)];
    return xa * xb * state[at(v, abc.z, w)] + (state[at(v, abc.x, w)] * xb + xa * state[at(v, abc.y, w)]) * xc;
}

fn pspin_grad_rows_b(w: u32, k: u32, x: u32, v: u32) -> f32 {
    return pspin_mono(w, k, x);
}

fn pspin_grad_rows_end(w: u32, r: u32, acc: f32, x: u32, v: u32, out: u32) {
    state[at(out, r, w)] = f32(PSPIN_P) * PSPIN_C * acc;
}

fn pspin_value_rows_b(w: u32, k: u32, x: u32, v: u32) -> f32 {
    return pspin_mono(w, k, x);
}

fn pspin_value_rows_end(w: u32, r: u32, acc: f32, x: u32, v: u32, out: u32) {
    scratch[r * walk.stride + w] = acc;
}

fn pspin_hvp_rows_b(w: u32, k: u32, x: u32, v: u32) -> f32 {
    return pspin_dmono(w, k, x, v);
}

fn pspin_hvp_rows_end(w: u32, r: u32, acc: f32, x: u32, v: u32, out: u32) {
    state[at(out, r, w)] = f32(PSPIN_P) * PSPIN_C * acc;
}
