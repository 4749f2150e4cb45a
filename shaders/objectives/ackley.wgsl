// ackley.wgsl — Ackley, f = -a exp(-b r) - exp(sum cos(c x_i) / N) + a + e, r = |x| / sqrt(N),
// a = 20, b = 0.2, c = 2 pi. CPU twin: src/objective/nd.rs (Ackley).
// The cone at x = 0 is written through u = x/|x| (taken as 0 when |x| underflows to 0), so the
// gradient stays finite; in the Hessian r is floored at ACKLEY_R_FLOOR (keep in sync with the
// twin's R_FLOOR), so alpha = a b e^{-br}/(N r) <= 4e12 / N stays well inside the f32 range.
// 2 pi x is reduced to [-pi, pi] before sin and cos (turn, common.wgsl).
// Two passes over x: the sums first, then the output. dst must differ from src and v.

const ACKLEY_A: f32 = 20.0;
const ACKLEY_B: f32 = 0.2;
const ACKLEY_C: f32 = 6.28318530717959;
const ACKLEY_E: f32 = 2.71828182845905;
const ACKLEY_R_FLOOR: f32 = 1e-12;

fn ackley_inv_norm(x2: f32) -> f32 {
    return select(0.0, inverseSqrt(x2), x2 > 0.0);
}

fn obj_value(src: u32, w: u32) -> f32 {
    var x2 = 0.0;
    var cs = 0.0;
    for (var i = 0u; i < N; i++) {
        let x = state[at(src, i, w)];
        x2 += x * x;
        cs += cos(turn(x));
    }
    let nf = f32(N);
    return -ACKLEY_A * exp(-ACKLEY_B * sqrt(x2 / nf)) - exp(cs / nf) + ACKLEY_A + ACKLEY_E;
}

fn obj_grad(src: u32, w: u32) -> f32 {
    var x2 = 0.0;
    var cs = 0.0;
    for (var i = 0u; i < N; i++) {
        let x = state[at(src, i, w)];
        x2 += x * x;
        cs += cos(turn(x));
    }
    let nf = f32(N);
    let e1 = exp(-ACKLEY_B * sqrt(x2 / nf));
    let e2 = exp(cs / nf);
    let k1 = ACKLEY_A * ACKLEY_B * e1 / sqrt(nf) * ackley_inv_norm(x2);
    let k2 = ACKLEY_C * e2 / nf;
    for (var i = 0u; i < N; i++) {
        let x = state[at(src, i, w)];
        state[at(SLOT_GRAD, i, w)] = k1 * x + k2 * sin(turn(x));
    }
    return -ACKLEY_A * e1 - e2 + ACKLEY_A + ACKLEY_E;
}

// H v = alpha (v - (1 + b r) u (u.v)) + (c^2 e2 / N) (cos(cx) * v - sin(cx) (sin(cx).v) / N),
// alpha = a b e1 / (N r), u = x / |x|.
fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    var x2 = 0.0;
    var cs = 0.0;
    var xv = 0.0;
    var sv = 0.0;
    for (var i = 0u; i < N; i++) {
        let x = state[at(src, i, w)];
        let vi = state[at(v, i, w)];
        x2 += x * x;
        cs += cos(turn(x));
        xv += x * vi;
        sv += sin(turn(x)) * vi;
    }
    let nf = f32(N);
    let r = sqrt(x2 / nf);
    let inv = ackley_inv_norm(x2);
    let uv = xv * inv;
    let alpha = ACKLEY_A * ACKLEY_B * exp(-ACKLEY_B * r) / (nf * max(r, ACKLEY_R_FLOOR));
    let radial = alpha * (1.0 + ACKLEY_B * r);
    let k2 = ACKLEY_C * ACKLEY_C * exp(cs / nf) / nf;
    for (var i = 0u; i < N; i++) {
        let x = state[at(src, i, w)];
        let vi = state[at(v, i, w)];
        state[at(dst, i, w)] = alpha * vi - radial * (x * inv) * uv
            + k2 * (cos(turn(x)) * vi - sin(turn(x)) * sv / nf);
    }
}
