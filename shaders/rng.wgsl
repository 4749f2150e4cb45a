// rng.wgsl — Philox4x32-10 counter-based generator (Salmon et al., SC'11).
// CPU twin: src/rng.rs. Randomness is a pure function of (seed, walker id, step, lane):
// counter = (global walker id, step, lane block, stream), key = (seed_lo, seed_hi).

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// Streams: keep in sync with src/rng.rs (Stream).
const STREAM_NOISE: u32 = 0u;
const STREAM_ACCEPT: u32 = 1u;
const STREAM_PERTURB: u32 = 2u;
const STREAM_PROPOSAL: u32 = 4u;

// High 32 bits of a 32x32 -> 64 product, from 16-bit halves (WGSL has no 64-bit integers).
fn mulhi32(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let cross = (lo_lo >> 16u) + (hi_lo & 0xffffu) + (lo_hi & 0xffffu);
    return hi_hi + (hi_lo >> 16u) + (lo_hi >> 16u) + (cross >> 16u);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0u; r < 10u; r = r + 1u) {
        let hi0 = mulhi32(PHILOX_M0, c.x);
        let lo0 = PHILOX_M0 * c.x;
        let hi1 = mulhi32(PHILOX_M1, c.z);
        let lo1 = PHILOX_M1 * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
    }
    return c;
}

fn rng_bits(walker: u32, step: u32, block: u32, stream: u32) -> vec4<u32> {
    return philox4x32_10(vec4<u32>(walker, step, block, stream), vec2<u32>(walk.seed_lo, walk.seed_hi));
}

// Uniform in [0, 1) with 24 random bits (exact in f32).
fn u01(bits: u32) -> f32 {
    return f32(bits >> 8u) * 5.9604645e-8;
}

// Uniform in (0, 1): never 0, so log() is finite.
fn u01_open(bits: u32) -> f32 {
    return (f32(bits >> 8u) + 0.5) * 5.9604645e-8;
}

fn uniform4(walker: u32, step: u32, block: u32, stream: u32) -> vec4<f32> {
    let b = rng_bits(walker, step, block, stream);
    return vec4<f32>(u01(b.x), u01(b.y), u01(b.z), u01(b.w));
}

// Four standard normals by Box-Muller on two pairs.
fn gauss4(walker: u32, step: u32, block: u32, stream: u32) -> vec4<f32> {
    let b = rng_bits(walker, step, block, stream);
    let r0 = sqrt(-2.0 * log(u01_open(b.x)));
    let t0 = 6.2831855 * u01(b.y);
    let r1 = sqrt(-2.0 * log(u01_open(b.z)));
    let t1 = 6.2831855 * u01(b.w);
    return vec4<f32>(r0 * cos(t0), r0 * sin(t0), r1 * cos(t1), r1 * sin(t1));
}

// Fills `slot` of walker w with N standard normals for (walker, t, stream) — lane i from block
// i/4, as gauss_vec in src/rng.rs — and returns their squared norm.
fn gauss_fill(slot: u32, w: u32, t: u32, stream: u32) -> f32 {
    let gw = walk.first_walker + w;
    var norm2 = 0.0;
    for (var blk = 0u; blk < (N + 3u) / 4u; blk = blk + 1u) {
        let z = gauss4(gw, t, blk, stream);
        for (var j = 0u; j < 4u; j = j + 1u) {
            let i = blk * 4u + j;
            if i < N {
                norm2 = norm2 + z[j] * z[j];
                state[at(slot, i, w)] = z[j];
            }
        }
    }
    return norm2;
}
