// field.wgsl — random-Fourier-feature Gaussian field in a bowl,
// f(x) = mu/2 |x|^2 + sum_m s_m cos(w_m . x + b_m), s_m = sqrt(2/M) a_m.
// CPU twin: src/objective/field.rs (Field).
//
// Host constants: FIELD_M (features), FIELD_STRIDE (= N + 2), FIELD_MU (mu).
// params layout (keep in sync with Field::params): record m at param_base(w) + m * FIELD_STRIDE
// holds [w_{m,0} .. w_{m,N-1}, s_m, b_m] (param_base: the walker's landscape instance). The loop over m is outermost, so all walkers read the same
// record at the same time. x (and v) are loaded into private arrays once and the output is
// accumulated privately and written to state once at the end; dst may alias v.
// Beyond N of about 680 the private arrays exceed the 8 KiB of function memory WGSL
// guarantees; drivers then spill them to scratch memory.

var<private> field_x: array<f32, N>;
var<private> field_v: array<f32, N>;
var<private> field_acc: array<f32, N>;

// Loads x into field_x and returns mu/2 |x|^2.
fn field_load_x(src: u32, w: u32) -> f32 {
    var r2 = 0.0;
    for (var i = 0u; i < N; i++) {
        let x = state[at(src, i, w)];
        field_x[i] = x;
        r2 += x * x;
    }
    return 0.5 * FIELD_MU * r2;
}

// w_m . x + b_m
fn field_phase(base: u32) -> f32 {
    var ph = params[base + N + 1u];
    for (var i = 0u; i < N; i++) {
        ph += params[base + i] * field_x[i];
    }
    return ph;
}

fn obj_value(src: u32, w: u32) -> f32 {
    var f = field_load_x(src, w);
    let p0 = param_base(w);
    for (var m = 0u; m < FIELD_M; m++) {
        let base = p0 + m * FIELD_STRIDE;
        f += params[base + N] * cos(field_phase(base));
    }
    return f;
}

fn obj_grad(src: u32, w: u32) -> f32 {
    var f = field_load_x(src, w);
    for (var i = 0u; i < N; i++) {
        field_acc[i] = FIELD_MU * field_x[i];
    }
    let p0 = param_base(w);
    for (var m = 0u; m < FIELD_M; m++) {
        let base = p0 + m * FIELD_STRIDE;
        let ph = field_phase(base);
        let s = params[base + N];
        f += s * cos(ph);
        let t = -s * sin(ph);
        for (var i = 0u; i < N; i++) {
            field_acc[i] += t * params[base + i];
        }
    }
    for (var i = 0u; i < N; i++) {
        state[at(SLOT_GRAD, i, w)] = field_acc[i];
    }
    return f;
}

// H v = mu v - sum_m s_m cos(phase_m) (w_m . v) w_m.
fn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {
    _ = field_load_x(src, w);
    for (var i = 0u; i < N; i++) {
        let vi = state[at(v, i, w)];
        field_v[i] = vi;
        field_acc[i] = FIELD_MU * vi;
    }
    let p0 = param_base(w);
    for (var m = 0u; m < FIELD_M; m++) {
        let base = p0 + m * FIELD_STRIDE;
        var ph = params[base + N + 1u];
        var wv = 0.0;
        for (var i = 0u; i < N; i++) {
            let wi = params[base + i];
            ph += wi * field_x[i];
            wv += wi * field_v[i];
        }
        let t = -params[base + N] * cos(ph) * wv;
        for (var i = 0u; i < N; i++) {
            field_acc[i] += t * params[base + i];
        }
    }
    for (var i = 0u; i < N; i++) {
        state[at(dst, i, w)] = field_acc[i];
    }
}
