// common.wgsl — bindings, walker-state layout and helpers shared by every kernel.
// WalkUniform and the bindings must match src/gpu/walker.rs (WalkUniform, BINDINGS): the host
// checks every assembled module against them with naga (gpu::contract::check).
//
// The host prepends `const N: u32` (dimension), the generated contract constants (below) and
// the objective's constants, then appends this file, rng.wgsl, schedule.wgsl, the objective,
// the step rule and the kernel (walk.wgsl).
//
// Walker state is structure-of-arrays: element i of vector slot s of walker w (local index
// inside the chunk) lives at state[(s * N + i) * walk.stride + w], so adjacent invocations
// touch adjacent addresses.

struct WalkUniform {
    stride: u32,          // walkers in this chunk: the SoA stride
    first_walker: u32,    // global id of local walker 0 (RNG key, progress)
    segment_steps: u32,   // steps each invocation runs in this dispatch (fused kernel)
    max_steps: u32,       // walkers reaching this many steps stop as max_steps
    grad_tol: f32,        // |grad| <= grad_tol stops as converged (Riemannian on spheres)
    bound: f32,           // |x_i| > bound (or non-finite f, x) stops as diverged
    seed_lo: u32,
    seed_hi: u32,
    escape_radius2: f32,  // > 0: record the first step with |x - x0|^2 >= this (escape studies)
    escape_drop: f32,     // > 0: record the first step with f0 - f >= this
    instance_walkers: u32, // > 0: walkers per landscape instance (see param_base); 0: one landscape
    instance_params: u32,  // floats per instance in params (instances back to back)
    instance_first: u32,   // global id of the first walker of instance 0
    settle_after_escape: u32, // 1: converged only once escaped (CT_ESCAPE set)
    active_count: u32,    // entries of `walkers` (the running walkers) this dispatch covers
    guard_trips: u32,     // trips of the loop guard (2): see loop_guard
}

@group(0) @binding(0) var<uniform> walk: WalkUniform;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> scalars: array<f32>;
@group(0) @binding(4) var<storage, read_write> counters: array<u32>;
@group(0) @binding(5) var<storage, read> hyper: array<f32>;
@group(0) @binding(6) var<storage, read_write> control: array<atomic<u32>>;
// Objective scratch of batched (multi-pass) objectives: scratch[k * walk.stride + w].
@group(0) @binding(7) var<storage, read_write> scratch: array<f32>;
// Local indices of the walkers this dispatch covers (the running ones, compacted by the host
// between submissions, so stopped walkers cost nothing). `active` is reserved in WGSL.
@group(0) @binding(8) var<storage, read> walkers: array<u32>;

// The indices of walker state, the status codes, the control word and the random streams
// (SLOT_*, SLOTS, SC_*, SCALARS, CT_*, COUNTERS, NO_ESCAPE, RUNNING, CONVERGED, MAX_STEPS,
// DIVERGED, CTRL_GUARD, STREAM_*) are not written here: the host generates them from
// src/walk/state.rs, walk::state::Status, gpu::walker and rng::Stream (gpu::contract::consts)
// and puts them at the top of every assembled module.

fn at(slot: u32, i: u32, w: u32) -> u32 {
    return (slot * N + i) * walk.stride + w;
}

fn sc(k: u32, w: u32) -> u32 {
    return k * walk.stride + w;
}

fn hp(k: u32, w: u32) -> u32 {
    return k * walk.stride + w;
}

// Offset of walker w's landscape in params. Several instances of one objective (same N, same
// host constants, different random parameters) can share a dispatch: their parameter blocks lie
// back to back and global walker g walks instance (g - instance_first) / instance_walkers.
// Objectives add this to every params index. CPU twin: walk::cpu::run_instances.
fn param_base(w: u32) -> u32 {
    if walk.instance_walkers == 0u {
        return 0u;
    }
    return ((walk.first_walker + w - walk.instance_first) / walk.instance_walkers) * walk.instance_params;
}

fn is_finite(v: f32) -> bool {
    // Bit test, not `v == v`: drivers may assume no NaN/Inf in float compares.
    return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

// 2 pi x reduced to [-pi, pi] (x - round(x) is exact in f32), where WGSL's sin and cos keep
// their specified accuracy: cos(2 pi x) = cos(turn(x)).
fn turn(x: f32) -> f32 {
    return 6.28318530717959 * (x - round(x));
}

// Gradient-norm clipping factor: min(1, clip / |g|); clip = 0 turns clipping off.
fn clip_scale(gnorm: f32, clip: f32) -> f32 {
    if clip > 0.0 && gnorm > clip {
        return clip / gnorm;
    }
    return 1.0;
}

// Rescales a slot to |v|^2 = N (retraction onto the sphere).
fn retract(slot: u32, w: u32) {
    var r2 = 0.0;
    for (var i = 0u; i < N; i = i + 1u) {
        let v = state[at(slot, i, w)];
        r2 = r2 + v * v;
    }
    if r2 > 0.0 {
        let s = sqrt(f32(N) / r2);
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(slot, i, w)] = state[at(slot, i, w)] * s;
        }
    }
}

// The loop guard. Mesa's llvmpipe (lavapipe, the software Vulkan of CI and of machines without
// a GPU) counts every loop iteration of an invocation against one budget of 65535; once it is
// spent, every loop of that invocation exits after its current iteration and the results are
// silently wrong (docs/engine-notes.md). Every entry point ends with this loop of
// walk.guard_trips (= 2) trips: it runs both trips only if the budget was never exhausted, so a
// short count proves that some earlier loop was cut short, and the host retries or refuses.
// On drivers without such a limit it always passes.
fn loop_guard() {
    var trips = 0u;
    for (var i = 0u; i < walk.guard_trips; i = i + 1u) {
        trips = trips + 1u;
    }
    if trips != walk.guard_trips {
        atomicOr(&control[CTRL_GUARD], 1u);
    }
}

// Test-only fault injection: the host sets FAULT_GRAD != 0 only when the environment variable
// SADDLESCOPE_TEST_FAULT_GRAD is set (tests of the twin check); the gradient is then scaled by
// 1 + FAULT_GRAD wherever an evaluation delivers it. Otherwise this is an empty function.
fn fault_grad(w: u32) {
    if FAULT_GRAD != 0.0 {
        for (var i = 0u; i < N; i = i + 1u) {
            state[at(SLOT_GRAD, i, w)] = state[at(SLOT_GRAD, i, w)] * (1.0 + FAULT_GRAD);
        }
    }
}
