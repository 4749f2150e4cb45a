#!/usr/bin/env bash
# The scaling figures of BENCHMARKS.md: walker-steps/s against the number of walkers W (at
# N = 64) and against the dimension N (at W = 4096), for every workload of peer_bench.py, on
# the batched CPU engine (f64 and f32), the GPU adapter and the per-walker twin. Timings
# predicted to take more than 30 s are skipped (bench.csv says so).
#   bash scripts/scaling.sh [OUT] [WORKLOAD...]   (default OUT: outputs/scaling; default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
bin=./target/release/saddlescope
out=${1:-outputs/scaling}
shift || true
workloads=("$@")
[ ${#workloads[@]} -eq 0 ] && workloads=(rastrigin field pspin3)
for w in "${workloads[@]}"; do
  # A rastrigin timing lasts milliseconds, where one scheduling hiccup halves a single
  # timing: best of 5. Field and pspin3 timings last 0.1 s and more: one.
  repeat=1
  [ "$w" = rastrigin ] && repeat=5
  "$bin" bench --workload "$w" --walkers 100,1000,10000,100000,1000000 --dim 64 --steps 10 \
    --repeat "$repeat" --backend cpu,gpu,twin --precision f64,f32 --max-seconds 30 --out "$out/$w-walkers"
  "$bin" bench --workload "$w" --walkers 4096 --dim 8,16,32,64,128,256,512,1024 --steps 10 \
    --repeat "$repeat" --backend cpu,gpu,twin --precision f64,f32 --max-seconds 30 --out "$out/$w-dim"
done
