// camel6.wgsl — six-hump camel, f = (4 - 2.1x^2 + x^4/3) x^2 + xy + (-4 + 4y^2) y^2.
// CPU twin: src/objective/classic.rs (Camel6).

fn camel6_f(x: f32, y: f32) -> f32 {
    let x2 = x * x;
    let y2 = y * y;
    return (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (-4.0 + 4.0 * y2) * y2;
}

fn obj_value(src: u32, w: u32) -> f32 {
    return camel6_f(state[at(src, 0u, w)], state[at(src, 1u, w)]);
}

fn obj_grad(src: u32, w: u32) -> f32 {
    let x = state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    let x2 = x * x;
    state[at(SLOT_GRAD, 0u, w)] = 8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y;
    state[at(SLOT_GRAD, 1u, w)] = x - 8.0 * y + 16.0 * y * y * y;
    return camel6_f(x, y);
}

fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    let x2 = state[at(src, 0u, w)] * state[at(src, 0u, w)];
    let y = state[at(src, 1u, w)];
    let hxx = 8.0 - 25.2 * x2 + 10.0 * x2 * x2;
    let hyy = -8.0 + 48.0 * y * y;
    let v0 = state[at(v, 0u, w)];
    let v1 = state[at(v, 1u, w)];
    state[at(dst, 0u, w)] = hxx * v0 + v1;
    state[at(dst, 1u, w)] = v0 + hyy * v1;
}
