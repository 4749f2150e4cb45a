#!/usr/bin/env bash
# Builds saddlescope and runs a real example job: 16384 newton-mr walkers (the finder with no
# step size) find all nine critical points of Himmelblau's function (4 minima, 4 saddles, the
# maximum) on the GPU wgpu finds, Mesa's software Vulkan if there is no hardware one
# (--backend gpu: auto would take the batched CPU engine over a software adapter).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
./target/release/saddlescope devices
./target/release/saddlescope sample --objective himmelblau --optimizer newton-mr --init uniform:lo=-6,hi=6 \
    --walkers 16384 --backend gpu --out "outputs/example-himmelblau-$(date -u +%Y%m%d-%H%M%S)"
