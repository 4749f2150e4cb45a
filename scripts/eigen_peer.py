#!/usr/bin/env python3
"""NumPy's eigvalsh (LAPACK syevd) on the workload of `saddlescope bench --workload eigen`:
P random symmetric (GOE) N x N matrices, eigenvalues only, best of --repeat after one warm-up.
Prints a line in the same format so the two can be compared side by side."""
import argparse
import os
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--dim", type=int, required=True)
ap.add_argument("--points", type=int, required=True)
ap.add_argument("--repeat", type=int, default=3)
a = ap.parse_args()
rng = np.random.default_rng(0)
g = rng.standard_normal((a.points, a.dim, a.dim))
m = (g + np.swapaxes(g, 1, 2)) / np.sqrt(2.0)
best = float("inf")
for i in range(a.repeat + 1):
    t = time.perf_counter()
    np.linalg.eigvalsh(m)
    if i > 0:
        best = min(best, time.perf_counter() - t)
gf = a.points * 4.0 / 3.0 * a.dim**3 / best / 1e9
print(
    f"numpy-eigvalsh eigen points={a.points} N={a.dim} seconds={best:.4f} "
    f"points_per_s={a.points / best:.4e} gflops={gf:.2f} "
    f"blas_threads={os.environ.get('OMP_NUM_THREADS', 'default')}"
)
