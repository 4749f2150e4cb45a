//! The cores' peak FMA throughput, measured: per thread, 12 independent chains of 512-bit
//! (AVX-512) or 256-bit (AVX2) fused multiply-adds — enough to hide the FMA latency on two
//! pipes — one thread per core, f32 then f64. BENCHMARKS.md quotes its GFLOP/s as the peak the
//! engine's rates are measured against. Written in `asm!` so that exactly these instructions
//! run, whatever the compiler (and with the crate's minimum Rust version, which predates the
//! AVX-512 intrinsics).
//!
//!     cargo bench --bench peak_flops [-- THREADS]

#[cfg(target_arch = "x86_64")]
mod fma {
    /// Fused multiply-adds per loop trip (12 chains) and trips per call.
    pub const CHAINS: u64 = 12;
    pub const TRIPS: u64 = 100_000_000;

    /// The loop: `$op` on 12 accumulators from two fixed operands, all zeroed first by `$xor`
    /// (no denormals, no dependence between chains).
    macro_rules! kernel {
        ($name:ident, $feature:literal, $op:literal, $r:literal, $xor:literal) => {
            #[target_feature(enable = $feature)]
            pub unsafe fn $name() {
                let mut k = TRIPS;
                std::arch::asm!(
                    concat!($xor, " ", $r, "0, ", $r, "0, ", $r, "0"),
                    concat!("vmovaps ", $r, "1, ", $r, "0"),
                    concat!("vmovaps ", $r, "2, ", $r, "0"),
                    concat!("vmovaps ", $r, "3, ", $r, "0"),
                    concat!("vmovaps ", $r, "4, ", $r, "0"),
                    concat!("vmovaps ", $r, "5, ", $r, "0"),
                    concat!("vmovaps ", $r, "6, ", $r, "0"),
                    concat!("vmovaps ", $r, "7, ", $r, "0"),
                    concat!("vmovaps ", $r, "8, ", $r, "0"),
                    concat!("vmovaps ", $r, "9, ", $r, "0"),
                    concat!("vmovaps ", $r, "10, ", $r, "0"),
                    concat!("vmovaps ", $r, "11, ", $r, "0"),
                    concat!("vmovaps ", $r, "12, ", $r, "0"),
                    concat!("vmovaps ", $r, "13, ", $r, "0"),
                    "2:",
                    concat!($op, " ", $r, "0, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "1, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "2, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "3, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "4, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "5, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "6, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "7, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "8, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "9, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "10, ", $r, "12, ", $r, "13"),
                    concat!($op, " ", $r, "11, ", $r, "12, ", $r, "13"),
                    "dec {k}",
                    "jnz 2b",
                    k = inout(reg) k,
                    out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
                    out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
                    out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
                    out("xmm12") _, out("xmm13") _,
                    options(nostack, nomem),
                );
                let _ = k;
            }
        };
    }

    kernel!(f32_512, "avx512f", "vfmadd213ps", "zmm", "vpxord");
    kernel!(f64_512, "avx512f", "vfmadd213pd", "zmm", "vpxord");
    kernel!(f32_256, "avx2,fma", "vfmadd213ps", "ymm", "vpxor");
    kernel!(f64_256, "avx2,fma", "vfmadd213pd", "ymm", "vpxor");
}

/// Runs `kernel` on `threads` threads at once; GFLOP/s over the wall time, for `lanes` lanes
/// per instruction (2 flops per lane per FMA).
#[cfg(target_arch = "x86_64")]
fn measure(threads: usize, lanes: u64, kernel: fn()) -> f64 {
    let t = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(kernel);
        }
    });
    let flops = (threads as u64 * fma::TRIPS * fma::CHAINS * lanes * 2) as f64;
    flops / t.elapsed().as_secs_f64() / 1e9
}

fn main() {
    // (cargo bench adds its own `--bench` to the arguments.)
    let threads = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    #[cfg(target_arch = "x86_64")]
    {
        type Kernel = fn();
        let (name, width, f32k, f64k): (&str, u64, Kernel, Kernel) =
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                (
                    "AVX-512",
                    16,
                    || unsafe { fma::f32_512() },
                    || unsafe { fma::f64_512() },
                )
            } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                (
                    "AVX2",
                    8,
                    || unsafe { fma::f32_256() },
                    || unsafe { fma::f64_256() },
                )
            } else {
                println!("no AVX2/FMA: no vector FMA peak to measure");
                return;
            };
        for round in 1..=3 {
            println!(
                "{name}, {threads} threads, round {round}: f32 {:.1} GFLOP/s, f64 {:.1} GFLOP/s",
                measure(threads, width, f32k),
                measure(threads, width / 2, f64k)
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    println!("peak_flops measures x86-64 vector FMAs only ({threads} threads here)");
}
