// pspin.wgsl — spherical p-spin, H(x) = c sum Jsym_{i1..ip} x_{i1}..x_{ip}, c = N^{-(p-1)/2}.
// CPU twin: src/objective/pspin.rs (PSpin). Euclidean value, gradient and Hessian-vector
// product; the step rule projects onto the sphere's tangent space and retracts.
//
// Host constants: PSPIN_P (2, 3 or 4), PSPIN_C (c). params holds Jsym, N^p row-major, from
// param_base(w) (the walker's landscape instance; keep in sync with PSpin::params). Component i of grad H = p c Jsym(i, x, .., x) is one contiguous row
// of the tensor, so the loop over i is outermost and each output is written once; all walkers
// read the same coupling at the same time. x (and v) live in private arrays; dst may alias v.

var<private> pspin_x: array<f32, N>;
var<private> pspin_v: array<f32, N>;
// Start of this walker's coupling tensor in params (set by pspin_load).
var<private> pspin_p0: u32;

fn pspin_load(src: u32, w: u32) {
    pspin_p0 = param_base(w);
    for (var i = 0u; i < N; i++) {
        pspin_x[i] = state[at(src, i, w)];
    }
}

// sum_k Jsym[base + k] y_k, y = v when use_v, else x.
fn pspin_dot(row: u32, use_v: bool) -> f32 {
    let base = pspin_p0 + row;
    var acc = 0.0;
    if use_v {
        for (var k = 0u; k < N; k++) {
            acc += params[base + k] * pspin_v[k];
        }
    } else {
        for (var k = 0u; k < N; k++) {
            acc += params[base + k] * pspin_x[k];
        }
    }
    return acc;
}

// Jsym(i, x, .., x, y): the p-1 trailing indices contracted, the innermost with y.
fn pspin_row(i: u32, use_v: bool) -> f32 {
    if PSPIN_P == 2u {
        return pspin_dot(i * N, use_v);
    }
    var acc = 0.0;
    if PSPIN_P == 3u {
        for (var j = 0u; j < N; j++) {
            acc += pspin_x[j] * pspin_dot((i * N + j) * N, use_v);
        }
    } else {
        for (var j = 0u; j < N; j++) {
            var inner = 0.0;
            for (var k = 0u; k < N; k++) {
                inner += pspin_x[k] * pspin_dot(((i * N + j) * N + k) * N, use_v);
            }
            acc += pspin_x[j] * inner;
        }
    }
    return acc;
}

fn obj_value(src: u32, w: u32) -> f32 {
    pspin_load(src, w);
    var f = 0.0;
    for (var i = 0u; i < N; i++) {
        f += pspin_x[i] * pspin_row(i, false);
    }
    return PSPIN_C * f;
}

// grad H = p c Jsym(x, .., x, .); H = x . grad H / p.
fn obj_grad(src: u32, w: u32) -> f32 {
    pspin_load(src, w);
    let k = f32(PSPIN_P) * PSPIN_C;
    var f = 0.0;
    for (var i = 0u; i < N; i++) {
        let r = pspin_row(i, false);
        f += pspin_x[i] * r;
        state[at(SLOT_GRAD, i, w)] = k * r;
    }
    return PSPIN_C * f;
}

// (Hess H) v = p (p-1) c Jsym(x, .., x, ., v).
fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    pspin_load(src, w);
    for (var i = 0u; i < N; i++) {
        pspin_v[i] = state[at(v, i, w)];
    }
    let k = f32(PSPIN_P * (PSPIN_P - 1u)) * PSPIN_C;
    for (var i = 0u; i < N; i++) {
        state[at(dst, i, w)] = k * pspin_row(i, true);
    }
}
