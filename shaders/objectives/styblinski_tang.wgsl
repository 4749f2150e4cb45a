// styblinski_tang.wgsl — t(x) = (x^4 - 16x^2 + 5x) / 2, for separable.wgsl.
// CPU twin: src/objective/nd.rs (Term::StyblinskiTang).

fn sep_term(x: f32) -> vec3<f32> {
    let x2 = x * x;
    return vec3<f32>(0.5 * (x2 * x2 - 16.0 * x2 + 5.0 * x), 2.0 * x2 * x - 16.0 * x + 2.5, 6.0 * x2 - 16.0);
}
