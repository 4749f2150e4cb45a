#!/usr/bin/env bash
# Builds saddlescope and runs a real example job: 4096 gradient-norm walkers find the critical
# points of Himmelblau's function (minima, saddles and the maximum) on whatever GPU wgpu finds,
# Mesa's software Vulkan if there is no hardware one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
./target/release/saddlescope devices
./target/release/saddlescope sample --objective himmelblau --optimizer gradnorm:lr=0.0001 \
    --walkers 4096 --steps 20000 --grad-tol 1e-3 --out "outputs/example-himmelblau-$(date -u +%Y%m%d-%H%M%S)"
