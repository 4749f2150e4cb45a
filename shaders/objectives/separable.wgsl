// separable.wgsl — driver for separable objectives f = sum_i t(x_i), appended after a file that
// defines `fn sep_term(x: f32) -> vec3<f32>` returning (t, t', t'').
// CPU twin: src/objective/nd.rs (Separable). The Hessian is diagonal, so obj_hvp may write dst
// in place over v.

fn obj_value(src: u32, w: u32) -> f32 {
    var f = 0.0;
    for (var i = 0u; i < N; i++) {
        f += sep_term(state[at(src, i, w)]).x;
    }
    return f;
}

fn obj_grad(src: u32, w: u32) -> f32 {
    var f = 0.0;
    for (var i = 0u; i < N; i++) {
        let t = sep_term(state[at(src, i, w)]);
        f += t.x;
        state[at(SLOT_GRAD, i, w)] = t.y;
    }
    return f;
}

fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    for (var i = 0u; i < N; i++) {
        state[at(dst, i, w)] = sep_term(state[at(src, i, w)]).z * state[at(v, i, w)];
    }
}
