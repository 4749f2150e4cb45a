// noisy_step.wgsl — x -= a * g + b * xi, xi ~ N(0, I) from the NOISE stream at (walker, t).
// Shared by sgd.wgsl and langevin.wgsl. Reference: src/rules/noisy_step.rs.

fn noisy_step(w: u32, t: u32, a: f32, b: f32) {
    let gw = walk.first_walker + w;
    for (var blk = 0u; blk < (N + 3u) / 4u; blk = blk + 1u) {
        let z = gauss4(gw, t, blk, STREAM_NOISE);
        for (var j = 0u; j < 4u; j = j + 1u) {
            let i = blk * 4u + j;
            if i < N {
                state[at(SLOT_X, i, w)] = state[at(SLOT_X, i, w)] - a * state[at(SLOT_GRAD, i, w)] - b * z[j];
            }
        }
    }
}
