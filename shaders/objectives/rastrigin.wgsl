// rastrigin.wgsl — t(x) = 10 + x^2 - 10 cos(2 pi x), for separable.wgsl.
// CPU twin: src/objective/nd.rs (Term::Rastrigin).

const RASTRIGIN_PI: f32 = 3.14159265358979;

fn sep_term(x: f32) -> vec3<f32> {
    let s = sin(turn(x));
    let c = cos(turn(x));
    return vec3<f32>(
        10.0 + x * x - 10.0 * c,
        2.0 * x + 20.0 * RASTRIGIN_PI * s,
        2.0 + 40.0 * RASTRIGIN_PI * RASTRIGIN_PI * c,
    );
}
