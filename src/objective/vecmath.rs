//! Elementwise sin and cos written so that a loop over them vectorises: no calls, no branches,
//! only multiplications, additions, a rounding and selects. For the batched CPU engine, whose
//! objectives evaluate millions of phases per step.
//!
//! Every multiply-add is a fused `mul_add` (one rounding): the vectorised kernels that call
//! this are compiled for AVX2/AVX-512 with FMA (`objective::batch`), and the result is the same
//! on a CPU without FMA, where `mul_add` is a correctly rounded library call.
//!
//! Reduction: q = round(x·2/π), r = x − q·π/2 with π/2 split in three parts (Cody & Waite;
//! the constants of fdlibm's `__ieee754_rem_pio2`), exact for |q| < 2^20 (|x| below about
//! 1.6e6). On [−π/4, π/4] the minimax polynomials of fdlibm's `__kernel_sin` and
//! `__kernel_cos` give sin and cos to about one ulp; the quadrant picks and signs them.
//! Measured against the standard library over |x| ≤ 1e3 (tests below): within 2e-16
//! absolute.

#![allow(
    clippy::excessive_precision,
    reason = "the published constants, digit for digit; they round to the f64 meant"
)]

use std::f64::consts::FRAC_2_PI;

const PIO2_1: f64 = 1.570_796_326_734_125_614_17e0;
const PIO2_2: f64 = 6.077_100_506_303_965_976_6e-11;
const PIO2_3: f64 = 2.022_266_248_711_166_455_8e-21;

const S1: f64 = -1.666_666_666_666_663_243_48e-1;
const S2: f64 = 8.333_333_333_322_489_461_24e-3;
const S3: f64 = -1.984_126_982_985_794_931_34e-4;
const S4: f64 = 2.755_731_370_707_006_767_89e-6;
const S5: f64 = -2.505_076_025_340_686_341_95e-8;
const S6: f64 = 1.589_690_995_211_550_102_21e-10;

const C1: f64 = 4.166_666_666_666_660_190_37e-2;
const C2: f64 = -1.388_888_888_887_410_957_49e-3;
const C3: f64 = 2.480_158_728_947_672_941_78e-5;
const C4: f64 = -2.755_731_435_139_066_330_35e-7;
const C5: f64 = 2.087_572_321_298_174_827_9e-9;
const C6: f64 = -1.135_964_755_778_819_482_65e-11;

/// 1.5 * 2^52: adding and subtracting it rounds an f64 of magnitude below 2^51 to the nearest
/// integer (ties to even) with two additions, which vectorise on every x86-64 (`f64::round` is
/// a library call there unless the target has SSE4.1).
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// x rounded to the nearest integer (ties to even), for |x| < 2^51.
#[inline(always)]
pub fn round_fast(x: f64) -> f64 {
    (x + ROUNDER) - ROUNDER
}

/// x rounded to the nearest integer q (as [`round_fast`]) and q mod 4. The shifted sum
/// x + 1.5 * 2^52 holds the integer 1.5 * 2^52 + q in its mantissa, whose two low bits are
/// q mod 4 for negative q too (1.5 * 2^52 is a multiple of 4): a bit mask, where `q as i64`
/// would be a scalar conversion per lane on AVX2 (packed f64-to-i64 needs AVX-512DQ), which
/// kept the whole loop from vectorising there.
#[inline(always)]
fn round_quadrant(x: f64) -> (f64, u64) {
    let shifted = x + ROUNDER;
    (shifted - ROUNDER, shifted.to_bits() & 3)
}

/// (sin x, cos x) for |x| up to about 1.6e6 (beyond, the reduction loses accuracy).
#[inline(always)]
pub fn sin_cos(x: f64) -> (f64, f64) {
    let (q, quadrant) = round_quadrant(x * FRAC_2_PI);
    let r = (-q).mul_add(PIO2_3, (-q).mul_add(PIO2_2, (-q).mul_add(PIO2_1, x)));
    kernel(r, quadrant)
}

/// (sin 2πu, cos 2πu) for u in turns, |u| < 2^50: the reduction is exact in turns (u minus
/// the nearest quarter, q/4, is an f64 without rounding), so only the one product 2π·v rounds
/// — no three-part π/2 as [`sin_cos`] needs for radians.
#[inline(always)]
pub fn sin_cos_turns(u: f64) -> (f64, f64) {
    let (q, quadrant) = round_quadrant(4.0 * u);
    let v = (-0.25f64).mul_add(q, u);
    kernel(std::f64::consts::TAU * v, quadrant)
}

/// sin and cos of r + qπ/2 from r in [−π/4, π/4] and the quadrant q mod 4.
#[inline(always)]
fn kernel(r: f64, quadrant: u64) -> (f64, f64) {
    let z = r * r;
    let z2 = z * z;
    // Estrin's scheme: three independent pairs, then two levels (shorter dependency chains
    // than Horner's, so vector units stay busy).
    let ps = z.mul_add(S2, S1) + z2 * (z.mul_add(S4, S3) + z2 * z.mul_add(S6, S5));
    let pc = z.mul_add(C2, C1) + z2 * (z.mul_add(C4, C3) + z2 * z.mul_add(C6, C5));
    let s = (r * z).mul_add(ps, r);
    let c = z2.mul_add(pc, (-0.5f64).mul_add(z, 1.0));
    // quadrant 0: (s, c), 1: (c, -s), 2: (-s, -c), 3: (-c, s).
    let (a, b) = if quadrant & 1 == 1 { (c, s) } else { (s, c) };
    let sin = if quadrant & 2 == 2 { -a } else { a };
    let cos = if (quadrant + 1) & 2 == 2 { -b } else { b };
    (sin, cos)
}

// f32: the same scheme with single-precision polynomials, for `--precision f32` (twice the
// lanes per vector). The minimax polynomials on [−π/4, π/4] are those of Cephes' `sinf` and
// `cosf` (S. L. Moshier), within about one f32 ulp there. The reduction for radians subtracts
// q·π/2 with π/2 in three parts by fused multiply-adds (the first two have 8 and 11 significant
// bits, so their products with q are exact for |q| below 2^16 and 2^13). Measured against f64
// over |x| ≤ 1e3 (tests below): within f32's epsilon.

const PIO2_1F: f32 = 1.570_312_5;
const PIO2_2F: f32 = 4.837_512_969_970_703_125e-4;
const PIO2_3F: f32 = 7.549_789_954_891_882e-8;

const S1F: f32 = -1.666_665_461_1e-1;
const S2F: f32 = 8.332_160_873_6e-3;
const S3F: f32 = -1.951_529_589_1e-4;

const C1F: f32 = 4.166_664_568_298_827e-2;
const C2F: f32 = -1.388_731_625_493_765e-3;
const C3F: f32 = 2.443_315_711_809_948e-5;

/// 1.5 * 2^23, the f32 [`ROUNDER`]: rounds an f32 of magnitude below 2^22.
const ROUNDER_F32: f32 = 12_582_912.0;

/// [`round_quadrant`] in f32, for |x| < 2^22.
#[inline(always)]
fn round_quadrant_f32(x: f32) -> (f32, u32) {
    let shifted = x + ROUNDER_F32;
    (shifted - ROUNDER_F32, shifted.to_bits() & 3)
}

/// [`sin_cos`] in f32, for |x| up to about 1e5.
#[inline(always)]
pub fn sin_cos_f32(x: f32) -> (f32, f32) {
    let (q, quadrant) = round_quadrant_f32(x * std::f32::consts::FRAC_2_PI);
    let r = (-q).mul_add(PIO2_3F, (-q).mul_add(PIO2_2F, (-q).mul_add(PIO2_1F, x)));
    kernel_f32(r, quadrant)
}

/// [`sin_cos_turns`] in f32, for |u| < 2^20: u minus the nearest quarter is exact in f32 too.
#[inline(always)]
pub fn sin_cos_turns_f32(u: f32) -> (f32, f32) {
    let (q, quadrant) = round_quadrant_f32(4.0 * u);
    let v = (-0.25f32).mul_add(q, u);
    kernel_f32(std::f32::consts::TAU * v, quadrant)
}

/// [`kernel`] in f32.
#[inline(always)]
fn kernel_f32(r: f32, quadrant: u32) -> (f32, f32) {
    let z = r * r;
    let ps = z.mul_add(z.mul_add(S3F, S2F), S1F);
    let pc = z.mul_add(z.mul_add(C3F, C2F), C1F);
    let s = (r * z).mul_add(ps, r);
    let c = (z * z).mul_add(pc, (-0.5f32).mul_add(z, 1.0));
    let (a, b) = if quadrant & 1 == 1 { (c, s) } else { (s, c) };
    let sin = if quadrant & 2 == 2 { -a } else { a };
    let cos = if (quadrant + 1) & 2 == 2 { -b } else { b };
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Sampler, Stream};

    #[test]
    fn matches_the_standard_library_to_rounding() {
        let mut s = Sampler::new(3, 0, Stream::Init);
        let mut worst = 0f64;
        for k in 0..200_000 {
            let x = match k % 3 {
                0 => (s.uniform() - 0.5) * 8.0,
                1 => (s.uniform() - 0.5) * 2000.0,
                _ => (k as f64 - 1e5) * std::f64::consts::FRAC_PI_4,
            };
            let (a, b) = sin_cos(x);
            worst = worst.max((a - x.sin()).abs()).max((b - x.cos()).abs());
        }
        assert!(worst < 2e-16 * 4.0, "worst absolute error {worst:e}");
        // In turns: against the standard library's sin and cos of 2πu.
        let mut worst = 0f64;
        for k in 0..200_000 {
            let u = match k % 3 {
                0 => s.uniform() - 0.5,
                1 => (s.uniform() - 0.5) * 2000.0,
                _ => (k as f64 - 1e5) / 8.0,
            };
            let (a, b) = sin_cos_turns(u);
            let exact = std::f64::consts::TAU * (u - u.round());
            worst = worst
                .max((a - exact.sin()).abs())
                .max((b - exact.cos()).abs());
        }
        assert!(worst < 2e-16 * 4.0, "turns: worst absolute error {worst:e}");
        assert_eq!(sin_cos_turns(0.25), (1.0, 0.0));
        assert_eq!(sin_cos_turns(-3.0), (0.0, 1.0));
        assert_eq!(sin_cos(0.0), (0.0, 1.0));
        for (x, r) in [
            (0.5, 0.0),
            (1.5, 2.0),
            (-2.5, -2.0),
            (2.4999, 2.0),
            (-7.6, -8.0),
        ] {
            assert_eq!(round_fast(x), r, "{x}");
        }
    }

    #[test]
    fn f32_forms_are_within_a_few_f32_ulps() {
        let mut s = Sampler::new(5, 0, Stream::Init);
        let (mut worst, mut worst_turns) = (0f64, 0f64);
        for k in 0..200_000 {
            // Radians up to 1e3 (field phases at N = 1024 reach a few hundred) and turns up
            // to 1e3 (rastrigin's coordinates).
            let x = match k % 3 {
                0 => (s.uniform() - 0.5) * 8.0,
                1 => (s.uniform() - 0.5) * 2000.0,
                _ => (k as f64 - 1e5) * std::f64::consts::FRAC_PI_4 / 100.0,
            } as f32;
            let (a, b) = sin_cos_f32(x);
            let e = f64::from(x);
            worst = worst
                .max((f64::from(a) - e.sin()).abs())
                .max((f64::from(b) - e.cos()).abs());
            let (a, b) = sin_cos_turns_f32(x);
            let exact = std::f64::consts::TAU * (e - e.round());
            worst_turns = worst_turns
                .max((f64::from(a) - exact.sin()).abs())
                .max((f64::from(b) - exact.cos()).abs());
        }
        // Within about f32's epsilon (1.19e-7) of the exact value of the f32 argument: the
        // polynomial and the rounding of the reduced argument (of 2π·v in turns). Measured
        // 9.1e-8 in radians and 1.03e-7 in turns.
        assert!(worst < 1.5e-7, "radians: worst absolute error {worst:e}");
        assert!(
            worst_turns < 1.5e-7,
            "turns: worst absolute error {worst_turns:e}"
        );
        assert_eq!(sin_cos_turns_f32(0.25), (1.0, 0.0));
        assert_eq!(sin_cos_turns_f32(-3.0), (0.0, 1.0));
        assert_eq!(sin_cos_f32(0.0), (0.0, 1.0));
    }
}
