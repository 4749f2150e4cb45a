// muller_brown.wgsl — the Mueller-Brown potential,
// f = sum_k A_k exp(a_k dx^2 + b_k dx dy + c_k dy^2), dx = x - x0_k, dy = y - y0_k.
// CPU twin: src/objective/classic.rs (MullerBrown); keep the constants in sync with MB_* there.
// The four terms are unrolled through mb_term (literal arguments), so no array is indexed at
// run time. Values reach ~1e2 in the domain; far outside it the 4th term overflows f32 to +inf,
// which the engine marks diverged.

struct MbTerm {
    e: f32,   // A_k exp(q)
    qx: f32,  // dq/dx
    qy: f32,  // dq/dy
}

fn mb_term(x: f32, y: f32, big_a: f32, a: f32, b: f32, c: f32, x0: f32, y0: f32) -> MbTerm {
    let dx = x - x0;
    let dy = y - y0;
    let q = a * dx * dx + b * dx * dy + c * dy * dy;
    return MbTerm(big_a * exp(q), 2.0 * a * dx + b * dy, b * dx + 2.0 * c * dy);
}

fn mb_terms(x: f32, y: f32) -> array<MbTerm, 4> {
    return array<MbTerm, 4>(
        mb_term(x, y, -200.0, -1.0, 0.0, -10.0, 1.0, 0.0),
        mb_term(x, y, -100.0, -1.0, 0.0, -10.0, 0.0, 0.5),
        mb_term(x, y, -170.0, -6.5, 11.0, -6.5, -0.5, 1.5),
        mb_term(x, y, 15.0, 0.7, 0.6, 0.7, -1.0, 1.0),
    );
}

// The (a_k, b_k, c_k) of the exponents, for the Hessian.
const MB_ABC = array<vec3<f32>, 4>(
    vec3<f32>(-1.0, 0.0, -10.0),
    vec3<f32>(-1.0, 0.0, -10.0),
    vec3<f32>(-6.5, 11.0, -6.5),
    vec3<f32>(0.7, 0.6, 0.7),
);

fn obj_value(src: u32, w: u32) -> f32 {
    var t = mb_terms(state[at(src, 0u, w)], state[at(src, 1u, w)]);
    return t[0].e + t[1].e + t[2].e + t[3].e;
}

fn obj_grad(src: u32, w: u32) -> f32 {
    var t = mb_terms(state[at(src, 0u, w)], state[at(src, 1u, w)]);
    var f = 0.0;
    var gx = 0.0;
    var gy = 0.0;
    for (var k = 0u; k < 4u; k++) {
        f += t[k].e;
        gx += t[k].e * t[k].qx;
        gy += t[k].e * t[k].qy;
    }
    state[at(SLOT_GRAD, 0u, w)] = gx;
    state[at(SLOT_GRAD, 1u, w)] = gy;
    return f;
}

fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    var t = mb_terms(state[at(src, 0u, w)], state[at(src, 1u, w)]);
    var abc = MB_ABC;
    var hxx = 0.0;
    var hxy = 0.0;
    var hyy = 0.0;
    for (var k = 0u; k < 4u; k++) {
        hxx += t[k].e * (t[k].qx * t[k].qx + 2.0 * abc[k].x);
        hxy += t[k].e * (t[k].qx * t[k].qy + abc[k].y);
        hyy += t[k].e * (t[k].qy * t[k].qy + 2.0 * abc[k].z);
    }
    let v0 = state[at(v, 0u, w)];
    let v1 = state[at(v, 1u, w)];
    state[at(dst, 0u, w)] = hxx * v0 + hxy * v1;
    state[at(dst, 1u, w)] = hxy * v0 + hyy * v1;
}
