//! Tiled matrix-product kernels for the passes of matrix-shaped objectives (field's phases and
//! gradient, the p-spin's contractions): out(w, r) = end(sum_k A[r, k] B_w(k)) for a tile of
//! walkers x rows per workgroup.
//!
//! The per-row pass kernel (src/gpu/program.rs) gives each invocation one (walker, row) and its
//! whole sum over k, reading A and B from global memory: every walker re-reads A's row and
//! every row re-reads the walker's B. Here a workgroup of 16 x 16 invocations owns a tile of
//! `TW` walkers x `TR` rows; per chunk of `KC` terms it stages A's `TR x KC` block and B's
//! `KC x TW` block in workgroup memory (each element loaded once per tile, not once per
//! output), and each invocation accumulates a `BR x BW` block of outputs in registers, reading
//! `BR + BW` staged values per term for `BR * BW` multiply-adds (register blocking). The
//! chunk's terms are written out, so the only loop is over the K / KC chunks: an invocation
//! makes K / KC loop trips, far inside the software adapter's loop budget (common.wgsl,
//! loop_guard) at every size the params buffer holds.
//!
//! The walkers of a tile are entries of the running-walker list (`walkers`), so a tile spans
//! the running walkers whatever their local indices; walkers past the list's end load their B
//! as zeros and write nothing. A is read at a fixed offset of params: the tiled kernels serve
//! walks on one landscape; a walk with several landscape instances per dispatch uses the
//! per-row kernels (GpuWalk builds the program accordingly).
//!
//! Dispatches with fewer running walkers than a tile holds (the tail of a run to convergence,
//! small runs) would leave a tile mostly empty: they run [`lanes_kernel`], which splits each
//! output's sum over [`LANES`] invocations instead (docs/engine-notes.md).
//!
//! Both kernels compute the same sums in a different order, so their results differ by f32
//! rounding only; tests/gpu_twins.rs holds both to the f64 twin. Each chunk's KC terms are
//! summed on their own and then added to the total (two-level summation): a sum of K terms
//! carries about (KC + K / KC) roundings instead of K, which matters at K = 4096 (field at
//! N = 4096: one running sum was 1.1e-4 of the gradient's scale off the twin, the chunked sums
//! are within the per-row kernel's error).

use crate::objective::{Pass, Tile};

/// Invocations per workgroup along walkers (x) and rows (y).
const LX: usize = 16;
const LY: usize = 16;
/// Outputs per invocation: rows x walkers.
const BR: usize = 4;
const BW: usize = 4;
/// Walkers and rows per workgroup.
pub const TW: usize = LX * BW;
pub const TR: usize = LY * BR;
/// Terms per staged chunk.
const KC: usize = 16;
const INVOCATIONS: usize = LX * LY;

/// Whether pass `p` runs tiled: it is a matrix product with at least 16 rows and 16 terms.
/// Measured on llvmpipe (W = 4096, plain GD, field and pspin3, BENCHMARKS.md): tiled kernels
/// run 1.1-1.4x the per-row ones at N = 16, 1.6-3.5x at N = 32 and 2.3-2.8x at N = 64; below 16
/// rows or terms most of a tile is padding and the per-row sums are short.
pub fn worth_tiling(p: &Pass) -> Option<Tile> {
    p.tile.filter(|t| p.rows >= 16 && t.k >= 16)
}

/// The workgroup arrays the tiled kernels share (declared once per module).
pub fn workgroup_arrays() -> String {
    format!(
        "\n// Staged blocks of the tiled kernels (src/gpu/tile.rs): A as [row][k], B as [k][walker].\n\
         var<workgroup> tile_a: array<f32, {}>;\n\
         var<workgroup> tile_b: array<f32, {}>;\n",
        TR * KC,
        KC * TW
    )
}

/// The tiled kernel `entry` for pass `p` (a matrix product `t`) on slots (x, v, out); rows
/// beyond `split` tiles go to the grid's z dimension.
pub fn kernel(
    entry: &str,
    p: &Pass,
    t: Tile,
    x: usize,
    v: usize,
    out: usize,
    split: usize,
) -> String {
    let (f, rows, k, a) = (p.func, p.rows, t.k, t.a);
    let mut s = format!(
        "\n@compute @workgroup_size({LX}, {LY})\n\
         fn {entry}(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {{\n\
         \x20   let t = lid.y * {LX}u + lid.x;\n\
         \x20   let w0 = wid.x * {TW}u;\n\
         \x20   let r0 = (wid.y + wid.z * {split}u) * {TR}u;\n\
         \x20   let cols = walk.active_count;\n\
         \x20   // The walker whose B this invocation stages: column t % TW of the tile.\n\
         \x20   let bc = t % {TW}u;\n\
         \x20   let bk = t / {TW}u;\n\
         \x20   let b_ok = w0 + bc < cols;\n\
         \x20   let bw = walkers[min(w0 + bc, max(cols, 1u) - 1u)];\n"
    );
    for i in 0..BR {
        for j in 0..BW {
            s.push_str(&format!("    var acc_{i}_{j} = 0.0;\n"));
        }
    }
    s.push_str(&format!(
        "    for (var k0 = 0u; k0 < {k}u; k0 += {KC}u) {{\n"
    ));
    // Stage A: element e of the TR x KC block is row e / KC, term e % KC.
    for q in 0..(TR * KC).div_ceil(INVOCATIONS) {
        let e = format!("t + {}u", q * INVOCATIONS);
        s.push_str(&format!(
            "        {{\n\
             \x20           let e = {e};\n\
             \x20           let r = r0 + e / {KC}u;\n\
             \x20           let k = k0 + e % {KC}u;\n\
             \x20           tile_a[e] = select(0.0, params[{a}u + min(r, {rm}u) * {k}u + min(k, {km}u)], r < {rows}u && k < {k}u);\n\
             \x20       }}\n",
            rm = rows - 1,
            km = k - 1
        ));
    }
    // Stage B: invocation t stages column bc, terms bk + (INVOCATIONS / TW) q.
    let step = INVOCATIONS / TW;
    for q in 0..KC / step {
        s.push_str(&format!(
            "        {{\n\
             \x20           let kk = bk + {o}u;\n\
             \x20           let k = k0 + kk;\n\
             \x20           tile_b[kk * {TW}u + bc] = select(0.0, {f}_b(bw, min(k, {km}u), {x}u, {v}u), b_ok && k < {k}u);\n\
             \x20       }}\n",
            o = q * step,
            km = k - 1
        ));
    }
    s.push_str("        workgroupBarrier();\n");
    for kk in 0..KC {
        for i in 0..BR {
            s.push_str(&format!(
                "        let a{i}_{kk} = tile_a[(lid.y + {}u) * {KC}u + {kk}u];\n",
                i * LY
            ));
        }
        for j in 0..BW {
            s.push_str(&format!(
                "        let b{j}_{kk} = tile_b[{}u + lid.x + {}u];\n",
                kk * TW,
                j * LX
            ));
        }
        for i in 0..BR {
            for j in 0..BW {
                s.push_str(&if kk == 0 {
                    format!("        var part_{i}_{j} = a{i}_0 * b{j}_0;\n")
                } else {
                    format!("        part_{i}_{j} = fma(a{i}_{kk}, b{j}_{kk}, part_{i}_{j});\n")
                });
            }
        }
    }
    for i in 0..BR {
        for j in 0..BW {
            s.push_str(&format!("        acc_{i}_{j} += part_{i}_{j};\n"));
        }
    }
    s.push_str("        workgroupBarrier();\n    }\n");
    for i in 0..BR {
        for j in 0..BW {
            s.push_str(&format!(
                "    {{\n\
                 \x20       let r = r0 + lid.y + {ri}u;\n\
                 \x20       let c = w0 + lid.x + {cj}u;\n\
                 \x20       if r < {rows}u && c < cols {{\n\
                 \x20           let w = walkers[c];\n\
                 \x20           if counters[sc(CT_STATUS, w)] == RUNNING {{\n\
                 \x20               {f}_end(w, r, acc_{i}_{j}, {x}u, {v}u, {out}u);\n\
                 \x20           }}\n\
                 \x20       }}\n\
                 \x20   }}\n",
                ri = i * LY,
                cj = j * LX
            ));
        }
    }
    s.push_str("    loop_guard();\n}\n");
    s
}

/// Lanes per output of the split-sum kernel and outputs per workgroup (64 invocations).
pub const LANES: usize = 8;
pub const LANE_ROWS: usize = 64 / LANES;
/// Terms per lane per loop trip of the split-sum kernel, at most.
const LANE_UNROLL: usize = 8;

/// Terms per lane per loop trip of the split-sum kernel for `k` terms: [`LANE_UNROLL`], fewer
/// where one trip would cover more than k (at k = 32 a full trip of 64 was half masked).
fn lane_unroll(k: usize) -> usize {
    k.div_ceil(LANES).clamp(1, LANE_UNROLL)
}

/// The split-sum kernel `entry` for pass `p` (a matrix product `t`) on slots (x, v, out), for
/// dispatches with fewer running walkers than fill a tile: a workgroup is one walker (grid x)
/// and [`LANE_ROWS`] rows (grid y, beyond `split` the grid's z), and each output's sum over k
/// is split over [`LANES`] invocations, lane l taking the terms k = l (mod LANES), so lanes
/// read consecutive elements of A's row. With `subgroups` the lanes' partial sums are added
/// by three subgroupShuffleXor steps (an output's 8 lanes are consecutive invocations, inside
/// one subgroup when the subgroup size is a multiple of 8); without, through workgroup memory.
/// Both add the 8 partials as ((0+1)+(2+3))+((4+5)+(6+7)). The per-row kernel gives one
/// invocation a whole sum, so a dispatch with 4 walkers left 60 of every 64 invocations idle.
pub fn lanes_kernel(
    entry: &str,
    p: &Pass,
    t: Tile,
    (x, v, out): (usize, usize, usize),
    split: usize,
    subgroups: bool,
) -> String {
    let (f, rows, k, a) = (p.func, p.rows, t.k, t.a);
    let unroll = lane_unroll(k);
    let (step, km) = (LANES * unroll, k - 1);
    // With subgroups the invocation's place is counted in subgroups (its subgroup, then its
    // place in it), so an output's 8 lanes are one subgroup's invocations 8j..8j+7 whatever
    // order the driver fills subgroups in; 64 is a multiple of every subgroup size of at
    // least 8 (powers of two), so the places are 0..63 once each.
    let (args, place) = if subgroups {
        (
            "@builtin(subgroup_id) sg: u32, @builtin(subgroup_size) sg_size: u32, \
             @builtin(subgroup_invocation_id) sg_lane: u32",
            "sg * sg_size + sg_lane",
        )
    } else {
        ("@builtin(local_invocation_index) li: u32", "li")
    };
    let mut s = format!(
        "\n@compute @workgroup_size(64)\n\
         fn {entry}({args}, @builtin(workgroup_id) wid: vec3<u32>) {{\n\
         \x20   let at = {place};\n\
         \x20   let lane = at % {LANES}u;\n\
         \x20   let r = (wid.y + wid.z * {split}u) * {LANE_ROWS}u + at / {LANES}u;\n\
         \x20   let cols = walk.active_count;\n\
         \x20   let w = walkers[min(wid.x, max(cols, 1u) - 1u)];\n\
         \x20   let run = wid.x < cols && r < {rows}u && counters[sc(CT_STATUS, w)] == RUNNING;\n\
         \x20   var acc = 0.0;\n\
         \x20   if run {{\n\
         \x20       let base = {a}u + r * {k}u;\n\
         \x20       for (var k0 = lane; k0 < {k}u; k0 += {step}u) {{\n"
    );
    for u in 0..unroll {
        s.push_str(&format!(
            "            {{\n\
             \x20               let k = k0 + {o}u;\n\
             \x20               acc = fma(select(0.0, params[base + min(k, {km}u)], k < {k}u), {f}_b(w, min(k, {km}u), {x}u, {v}u), acc);\n\
             \x20           }}\n",
            o = u * LANES
        ));
    }
    s.push_str("        }\n    }\n");
    if subgroups {
        s.push_str(
            "    let s1 = acc + subgroupShuffleXor(acc, 1u);\n\
             \x20   let s2 = s1 + subgroupShuffleXor(s1, 2u);\n\
             \x20   let sum = s2 + subgroupShuffleXor(s2, 4u);\n\
             \x20   if run && lane == 0u {\n",
        );
    } else {
        s.push_str(
            "    lane_sums[at] = acc;\n\
             \x20   workgroupBarrier();\n\
             \x20   if run && lane == 0u {\n\
             \x20       let sum = ((lane_sums[at] + lane_sums[at + 1u]) + (lane_sums[at + 2u] + lane_sums[at + 3u]))\n\
             \x20           + ((lane_sums[at + 4u] + lane_sums[at + 5u]) + (lane_sums[at + 6u] + lane_sums[at + 7u]));\n",
        );
    }
    s.push_str(&format!(
        "        {f}_end(w, r, sum, {x}u, {v}u, {out}u);\n    }}\n    loop_guard();\n}}\n"
    ));
    s
}

/// The workgroup array of the split-sum kernels without subgroups.
pub fn lane_arrays() -> String {
    "\n// Partial sums of the split-sum kernels (src/gpu/tile.rs).\nvar<workgroup> lane_sums: array<f32, 64>;\n".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split-sum kernel's loop, mirrored: lane l takes k0 = l, l + STEP, ... and terms
    /// k0 + u * LANES for u < lane_unroll(K) (those at or past K masked), so the lanes together
    /// take every term once, at K = 33 (partial trips), 32 (one trip, none masked) and 4096.
    #[test]
    fn split_sum_lanes_take_every_term_once() {
        for k in [1, 16, 32, 33, 64, 100, 4096] {
            let unroll = lane_unroll(k);
            let step = LANES * unroll;
            let mut seen = vec![0; k];
            let mut masked = 0;
            for lane in 0..LANES {
                let mut k0 = lane;
                while k0 < k {
                    for u in 0..unroll {
                        if k0 + u * LANES < k {
                            seen[k0 + u * LANES] += 1;
                        } else {
                            masked += 1;
                        }
                    }
                    k0 += step;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "K = {k}");
            // At most one partial trip per lane is masked.
            assert!(masked < LANES * unroll, "K = {k}: {masked} masked");
            if k % step == 0 {
                assert_eq!(masked, 0, "K = {k}");
            }
        }
        let p = Pass::tiled("g", 40, 33, 7);
        let t = p.tile.unwrap();
        let s = lanes_kernel("lanes_g", &p, t, (0, 0, 2), 2048, true);
        let step = LANES * lane_unroll(33);
        assert!(
            s.contains(&format!("k0 += {step}u")) && s.contains("k0 = lane"),
            "{s}"
        );
        assert_eq!(s.matches("let k = k0 + ").count(), lane_unroll(33), "{s}");
        assert_eq!(s.matches("subgroupShuffleXor").count(), 3, "{s}");
    }

    #[test]
    fn small_products_keep_the_per_row_kernel() {
        assert!(worth_tiling(&Pass::rows("f", 256)).is_none());
        assert!(worth_tiling(&Pass::tiled("f", 8, 256, 0)).is_none());
        assert!(worth_tiling(&Pass::tiled("f", 256, 8, 0)).is_none());
        assert_eq!(
            worth_tiling(&Pass::tiled("f", 64, 33, 5)),
            Some(Tile {
                k: 33,
                a: 5,
                split_sum: true
            })
        );
    }

    #[test]
    fn the_kernel_stages_every_element_of_both_blocks_once() {
        let p = Pass::tiled("g", 40, 33, 7);
        let s = kernel("pass_g", &p, p.tile.unwrap(), 0, 0, 2, 2048);
        // A's block: TR x KC elements over INVOCATIONS invocations; B's: KC x TW.
        assert_eq!(s.matches("tile_a[e] =").count(), TR * KC / INVOCATIONS);
        assert_eq!(s.matches("tile_b[kk *").count(), KC * TW / INVOCATIONS);
        assert_eq!(s.matches("fma(").count(), (KC - 1) * BR * BW);
        assert_eq!(s.matches("g_end(w, r").count(), BR * BW);
        assert!(s.contains("params[7u + min(r, 39u) * 33u + min(k, 32u)]"));
        assert!(s.contains("g_b(bw, min(k, 32u), 0u, 0u)"));
        assert_eq!(s.matches("workgroupBarrier()").count(), 2);
    }
}
