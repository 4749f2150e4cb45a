// monkey_saddle.wgsl — f(x, y) = x^3 - 3xy^2. CPU twin: src/objective/classic.rs (MonkeySaddle).

fn obj_value(src: u32, w: u32) -> f32 {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    return x * x * x - 3.0 * x * y * y;
}

fn obj_grad(src: u32, w: u32) -> f32 {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    state[at(SLOT_GRAD, 0u, w)] = 3.0 * x * x - 3.0 * y * y;
    state[at(SLOT_GRAD, 1u, w)] = -6.0 * x * y;
    return x * x * x - 3.0 * x * y * y;
}

// H = [[6x, -6y], [-6y, -6x]].
fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    let v0 = state[at(v, 0u, w)];
    let v1 = state[at(v, 1u, w)];
    state[at(dst, 0u, w)] = 6.0 * (x * v0 - y * v1);
    state[at(dst, 1u, w)] = -6.0 * (y * v0 + x * v1);
}
