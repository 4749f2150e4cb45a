// rosenbrock.wgsl — f = sum_{i<N-1} 100(x_{i+1} - x_i^2)^2 + (1 - x_i)^2.
// CPU twin: src/objective/nd.rs (Rosenbrock). Each gradient / Hessian-vector component needs
// only x_{i-1}, x_i, x_{i+1}: one pass, one write per component. dst must differ from src and v;
// obj_grad's src must not be SLOT_GRAD.

fn obj_value(src: u32, w: u32) -> f32 {
    var f = 0.0;
    for (var i = 0u; i + 1u < N; i++) {
        let x = state[at(src, i, w)];
        let s = state[at(src, i + 1u, w)] - x * x;
        f += 100.0 * s * s + (1.0 - x) * (1.0 - x);
    }
    return f;
}

fn obj_grad(src: u32, w: u32) -> f32 {
    var f = 0.0;
    var prev = 0.0;  // x_{i-1}
    for (var i = 0u; i < N; i++) {
        let x = state[at(src, i, w)];
        var g = 0.0;
        if i > 0u {
            g = 200.0 * (x - prev * prev);
        }
        if i + 1u < N {
            let s = state[at(src, i + 1u, w)] - x * x;
            g += -400.0 * x * s - 2.0 * (1.0 - x);
            f += 100.0 * s * s + (1.0 - x) * (1.0 - x);
        }
        state[at(SLOT_GRAD, i, w)] = g;
        prev = x;
    }
    return f;
}

// H is tridiagonal: H_ii = [i < N-1](1200 x_i^2 - 400 x_{i+1} + 2) + [i > 0] 200,
// H_{i,i+1} = -400 x_i.
fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    for (var i = 0u; i < N; i++) {
        let x = state[at(src, i, w)];
        let vi = state[at(v, i, w)];
        var o = 0.0;
        if i > 0u {
            o += 200.0 * vi - 400.0 * state[at(src, i - 1u, w)] * state[at(v, i - 1u, w)];
        }
        if i + 1u < N {
            o += (1200.0 * x * x - 400.0 * state[at(src, i + 1u, w)] + 2.0) * vi
                - 400.0 * x * state[at(v, i + 1u, w)];
        }
        state[at(dst, i, w)] = o;
    }
}
