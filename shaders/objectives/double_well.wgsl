// double_well.wgsl — t(x) = (x^2 - 1)^2, for separable.wgsl.
// CPU twin: src/objective/nd.rs (Term::DoubleWell).

fn sep_term(x: f32) -> vec3<f32> {
    let s = x * x - 1.0;
    return vec3<f32>(s * s, 4.0 * x * s, 12.0 * x * x - 4.0);
}
