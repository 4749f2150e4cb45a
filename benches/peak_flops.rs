//! The cores' peak FMA throughput, measured: per thread, 12 independent chains of 512-bit
//! (AVX-512) or 256-bit (AVX2) fused multiply-adds — enough to hide the FMA latency on two
//! pipes — one thread per core, f32 then f64. BENCHMARKS.md quotes its GFLOP/s as the peak the
//! engine's rates are measured against.
//!
//!     cargo bench --bench peak_flops [-- THREADS]

use std::time::Instant;

const CHAINS: usize = 12;
const ITERS: u64 = 100_000_000;

#[cfg(target_arch = "x86_64")]
mod fma {
    use super::{CHAINS, ITERS};
    use std::arch::x86_64::*;

    /// f32 flops done (2 per lane per FMA) and a sum that keeps the chains alive.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn f32_512() -> (f64, f32) {
        let (b, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut a = [_mm512_set1_ps(1.0); CHAINS];
        for _ in 0..ITERS {
            for v in a.iter_mut() {
                *v = _mm512_fmadd_ps(*v, b, c);
            }
        }
        let s = a.iter().map(|&v| _mm512_reduce_add_ps(v)).sum();
        ((ITERS * CHAINS as u64 * 16 * 2) as f64, s)
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn f64_512() -> (f64, f32) {
        let (b, c) = (_mm512_set1_pd(0.999_999), _mm512_set1_pd(1e-7));
        let mut a = [_mm512_set1_pd(1.0); CHAINS];
        for _ in 0..ITERS {
            for v in a.iter_mut() {
                *v = _mm512_fmadd_pd(*v, b, c);
            }
        }
        let s: f64 = a.iter().map(|&v| _mm512_reduce_add_pd(v)).sum();
        ((ITERS * CHAINS as u64 * 8 * 2) as f64, s as f32)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn f32_256() -> (f64, f32) {
        let (b, c) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut a = [_mm256_set1_ps(1.0); CHAINS];
        for _ in 0..ITERS {
            for v in a.iter_mut() {
                *v = _mm256_fmadd_ps(*v, b, c);
            }
        }
        let mut lanes = [0f32; 8];
        let mut s = 0.0;
        for v in a {
            _mm256_storeu_ps(lanes.as_mut_ptr(), v);
            s += lanes.iter().sum::<f32>();
        }
        ((ITERS * CHAINS as u64 * 8 * 2) as f64, s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn f64_256() -> (f64, f32) {
        let (b, c) = (_mm256_set1_pd(0.999_999), _mm256_set1_pd(1e-7));
        let mut a = [_mm256_set1_pd(1.0); CHAINS];
        for _ in 0..ITERS {
            for v in a.iter_mut() {
                *v = _mm256_fmadd_pd(*v, b, c);
            }
        }
        let mut lanes = [0f64; 4];
        let mut s = 0.0;
        for v in a {
            _mm256_storeu_pd(lanes.as_mut_ptr(), v);
            s += lanes.iter().sum::<f64>();
        }
        ((ITERS * CHAINS as u64 * 4 * 2) as f64, s as f32)
    }
}

/// Runs `kernel` on `threads` threads at once; GFLOP/s over the wall time.
fn measure(threads: usize, kernel: fn() -> (f64, f32)) -> f64 {
    let t = Instant::now();
    let flops: f64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads).map(|_| s.spawn(kernel)).collect();
        hs.into_iter()
            .map(|h| {
                let (f, sum) = h.join().expect("kernel thread");
                std::hint::black_box(sum);
                f
            })
            .sum()
    });
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
        let (name, f32k, f64k): (&str, fn() -> (f64, f32), fn() -> (f64, f32)) =
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                ("AVX-512", || unsafe { fma::f32_512() }, || unsafe { fma::f64_512() })
            } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                ("AVX2", || unsafe { fma::f32_256() }, || unsafe { fma::f64_256() })
            } else {
                println!("no AVX2/FMA: no vector FMA peak to measure");
                return;
            };
        for round in 1..=3 {
            println!(
                "{name}, {threads} threads, round {round}: f32 {:.1} GFLOP/s, f64 {:.1} GFLOP/s",
                measure(threads, f32k),
                measure(threads, f64k)
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    println!("peak_flops measures x86-64 vector FMAs only ({threads} threads here)");
}
