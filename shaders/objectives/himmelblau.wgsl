// himmelblau.wgsl — f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2.
// CPU twin: src/objective/classic.rs (Himmelblau).

fn obj_value(src: u32, w: u32) -> f32 {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    let a = x * x + y - 11.0;
    let b = x + y * y - 7.0;
    return a * a + b * b;
}

fn obj_grad(src: u32, w: u32) -> f32 {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    let a = x * x + y - 11.0;
    let b = x + y * y - 7.0;
    state[at(SLOT_GRAD, 0u, w)] = 4.0 * x * a + 2.0 * b;
    state[at(SLOT_GRAD, 1u, w)] = 2.0 * a + 4.0 * y * b;
    return a * a + b * b;
}

fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    let hxx = 12.0 * x * x + 4.0 * y - 42.0;
    let hxy = 4.0 * (x + y);
    let hyy = 4.0 * x + 12.0 * y * y - 26.0;
    let v0 = state[at(v, 0u, w)];
    let v1 = state[at(v, 1u, w)];
    state[at(dst, 0u, w)] = hxx * v0 + hxy * v1;
    state[at(dst, 1u, w)] = hxy * v0 + hyy * v1;
}
