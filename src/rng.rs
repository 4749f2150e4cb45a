//! Philox4x32-10 counter-based generator, bit-identical to shaders/rng.wgsl. Randomness is a
//! pure function of (seed, walker id, step, lane block, stream), so results do not depend on
//! chunking, dispatch order or backend.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Independent random streams (counter word 3). The shaders get them as `STREAM_<NAME>`
/// constants generated from [`Stream::ALL`] (`gpu::contract`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Stream {
    Noise = 0,
    Accept = 1,
    Perturb = 2,
    /// Host-side starting points.
    Init = 3,
    Proposal = 4,
    /// Host-side: random landscape parameters.
    Landscape = 5,
    /// Minibatches of a data loss (`batch=B`): see [`minibatch_index`].
    Batch = 6,
}

impl Stream {
    /// Every stream, in code order.
    pub const ALL: [Stream; 7] = [
        Stream::Noise,
        Stream::Accept,
        Stream::Perturb,
        Stream::Init,
        Stream::Proposal,
        Stream::Landscape,
        Stream::Batch,
    ];
    /// The name the shaders know it by, after `STREAM_`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Noise => "NOISE",
            Stream::Accept => "ACCEPT",
            Stream::Perturb => "PERTURB",
            Stream::Init => "INIT",
            Stream::Proposal => "PROPOSAL",
            Stream::Landscape => "LANDSCAPE",
            Stream::Batch => "BATCH",
        }
    }
}

pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for _ in 0..10 {
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// The key for a 64-bit seed.
pub fn key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

pub fn bits(seed: u64, walker: u32, step: u32, block: u32, stream: Stream) -> [u32; 4] {
    philox4x32_10([walker, step, block, stream as u32], key(seed))
}

/// Uniform in [0, 1) from 24 bits (the same value the shader computes, exactly).
pub fn u01(b: u32) -> f64 {
    f64::from(b >> 8) * (1.0 / 16_777_216.0)
}

/// Uniform in (0, 1).
pub fn u01_open(b: u32) -> f64 {
    (f64::from(b >> 8) + 0.5) * (1.0 / 16_777_216.0)
}

pub fn uniform4(seed: u64, walker: u32, step: u32, block: u32, stream: Stream) -> [f64; 4] {
    bits(seed, walker, step, block, stream).map(u01)
}

/// Four standard normals by Box-Muller, as in the shader.
pub fn gauss4(seed: u64, walker: u32, step: u32, block: u32, stream: Stream) -> [f64; 4] {
    let b = bits(seed, walker, step, block, stream);
    let r0 = (-2.0 * u01_open(b[0]).ln()).sqrt();
    let t0 = std::f64::consts::TAU * u01(b[1]);
    let r1 = (-2.0 * u01_open(b[2]).ln()).sqrt();
    let t1 = std::f64::consts::TAU * u01(b[3]);
    [r0 * t0.cos(), r0 * t0.sin(), r1 * t1.cos(), r1 * t1.sin()]
}

/// A vector of `n` standard normals for (walker, step, stream): lane i comes from block i/4.
pub fn gauss_vec(seed: u64, walker: u32, step: u32, stream: Stream, out: &mut [f64]) {
    for (b, chunk) in out.chunks_mut(4).enumerate() {
        let z = gauss4(seed, walker, step, b as u32, stream);
        chunk.copy_from_slice(&z[..chunk.len()]);
    }
}

/// Feistel rounds of the minibatch permutation.
const BATCH_ROUNDS: u32 = 4;

/// Sample `slot` of the minibatch of walker `walker` at step `step` among `p` samples: the
/// batch of size B is slots 0..B of a pseudo-random permutation of 0..p, so its B samples are
/// distinct (drawn without replacement) and each slot is computed on its own (one GPU
/// invocation per slot). The permutation is a balanced Feistel network with 4 rounds on the
/// 2h-bit integers (2^(2h) >= p, h >= 1), whose round function is Philox4x32-10 keyed by the
/// seed with counter (walker, step, round · 2^16 + right half, STREAM_BATCH), walked in cycles
/// until it lands in 0..p (at most a few trips: 2^(2h) < 4p). Bit-identical to
/// `minibatch_index` in shaders/rng.wgsl. `slot < p`, `p <= 2^30`.
pub fn minibatch_index(seed: u64, walker: u32, step: u32, slot: u32, p: u32) -> u32 {
    let h = half_bits(p);
    let mask = (1u32 << h) - 1;
    let mut v = slot;
    loop {
        let (mut l, mut r) = (v >> h, v & mask);
        for round in 0..BATCH_ROUNDS {
            let f = bits(seed, walker, step, (round << 16) | r, Stream::Batch)[0] & mask;
            (l, r) = (r, l ^ f);
        }
        v = (l << h) | r;
        if v < p {
            return v;
        }
    }
}

/// Bits of each half of the minibatch permutation's domain: the least h >= 1 with 4^h >= p.
pub fn half_bits(p: u32) -> u32 {
    let mut h = 1;
    while (1u64 << (2 * h)) < u64::from(p) {
        h += 1;
    }
    h
}

/// The data rows of a minibatch of `b` samples among `p` ([`minibatch_index`] of slots 0..b).
pub fn minibatch(seed: u64, walker: u32, step: u32, b: usize, p: usize) -> Vec<u32> {
    (0..b as u32)
        .map(|s| minibatch_index(seed, walker, step, s, p as u32))
        .collect()
}

/// A sequential source of normals and uniforms for host-side sampling (landscape parameters,
/// starting points): block-indexed Philox under a fixed (seed, id, stream).
pub struct Sampler {
    seed: u64,
    id: u32,
    stream: Stream,
    block: u64,
    buf: [f64; 4],
    used: usize,
    gauss: bool,
}

impl Sampler {
    pub fn new(seed: u64, id: u32, stream: Stream) -> Self {
        Sampler {
            seed,
            id,
            stream,
            block: 0,
            buf: [0.0; 4],
            used: 4,
            gauss: false,
        }
    }
    fn refill(&mut self, gauss: bool) {
        // The 64-bit block index spreads over the step and block counter words.
        let (step, block) = ((self.block >> 32) as u32, self.block as u32);
        self.buf = if gauss {
            gauss4(self.seed, self.id, step, block, self.stream)
        } else {
            uniform4(self.seed, self.id, step, block, self.stream)
        };
        self.block += 1;
        self.used = 0;
        self.gauss = gauss;
    }
    pub fn normal(&mut self) -> f64 {
        if self.used == 4 || !self.gauss {
            self.refill(true);
        }
        self.used += 1;
        self.buf[self.used - 1]
    }
    pub fn uniform(&mut self) -> f64 {
        if self.used == 4 || self.gauss {
            self.refill(false);
        }
        self.used += 1;
        self.buf[self.used - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_matches_random123_known_answers() {
        // Known-answer vectors of Random123 (kat_vectors, philox4x32_10).
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn minibatches_are_distinct_samples_and_every_sample_is_drawn_as_often() {
        for p in [1u32, 2, 3, 5, 16, 17, 100, 256, 1000] {
            // Slots 0..p are a permutation of 0..p.
            let mut all = minibatch(11, 3, 7, p as usize, p as usize);
            all.sort_unstable();
            assert_eq!(all, (0..p).collect::<Vec<_>>(), "p = {p}");
        }
        // Over many (walker, step) keys, each of P samples is in a batch of B with
        // probability B/P: counts within 5 standard deviations of the binomial mean.
        let (p, b, draws) = (40usize, 8usize, 4000u32);
        let mut count = vec![0usize; p];
        for k in 0..draws {
            for i in minibatch(5, k % 50, k / 50, b, p) {
                count[i as usize] += 1;
            }
        }
        let q = b as f64 / p as f64;
        let mean = f64::from(draws) * q;
        let sd = (mean * (1.0 - q)).sqrt();
        for (i, &c) in count.iter().enumerate() {
            assert!(
                (c as f64 - mean).abs() < 5.0 * sd,
                "sample {i}: {c} vs {mean}"
            );
        }
        // Another step draws another batch.
        assert_ne!(minibatch(5, 0, 0, b, p), minibatch(5, 0, 1, b, p));
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut s = Sampler::new(7, 0, Stream::Init);
        let n = 40_000;
        let xs: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "var {var}");
    }
}
