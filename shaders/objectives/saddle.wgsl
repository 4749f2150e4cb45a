// saddle.wgsl — f(x, y) = x^2 - y^2. CPU twin: src/objective/classic.rs (Saddle).

fn obj_value(src: u32, w: u32) -> f32 {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    return x * x - y * y;
}

fn obj_grad(src: u32, w: u32) -> f32 {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    state[at(SLOT_GRAD, 0u, w)] = 2.0 * x;
    state[at(SLOT_GRAD, 1u, w)] = -2.0 * y;
    return x * x - y * y;
}

fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    state[at(dst, 0u, w)] = 2.0 * state[at(v, 0u, w)];
    state[at(dst, 1u, w)] = -2.0 * state[at(v, 1u, w)];
}
