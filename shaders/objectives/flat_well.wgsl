// flat_well.wgsl — t(x) = max(|x| - 1, 0)^2, for separable.wgsl.
// CPU twin: src/objective/nd.rs (Term::FlatWell).

fn sep_term(x: f32) -> vec3<f32> {
    let m = max(abs(x) - 1.0, 0.0);
    return vec3<f32>(m * m, 2.0 * m * sign(x), select(0.0, 2.0, m > 0.0));
}
