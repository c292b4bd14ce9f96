#!/usr/bin/env python3
"""Time OpenBLAS SGEMM (through numpy) and metacnn's kernels.Sgemm on the same
shapes in one run, and print GFLOP/s and the ratio metacnn / OpenBLAS.

Run from the repository root (see bench/README.md):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 \
        /usr/bin/python3 bench/sgemm_openblas.py

The shapes mirror sgemmShapes in internal/kernels/gemm_bench_test.go. Both
sides compute C = op(A) op(B) with beta = 0 on float32 row-major operands;
the transposed operand is a transposed view, so numpy hands OpenBLAS the
transpose flag rather than copying. The two sides alternate shape by shape
for several rounds and each reports its best round, which damps noise from
other work on a shared machine.
Options: --no-go times OpenBLAS only; --rounds N; --min-time SECONDS.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

SHAPES = [
    # name, transA, transB, m, n, k
    ("square256", False, False, 256, 256, 256),
    ("square512", False, False, 512, 512, 512),
    ("square1024", False, False, 1024, 1024, 1024),
    ("conv1-fwd", False, False, 32, 3136, 27),
    ("conv2-fwd", False, False, 64, 784, 288),
    ("conv1-dW", False, True, 32, 27, 3136),
    ("conv2-dW", False, True, 64, 288, 784),
    ("conv1-dXcols", True, False, 27, 3136, 32),
    ("conv2-dXcols", True, False, 288, 784, 64),
    ("fc-fwd", False, True, 32, 128, 12544),
    ("fc-dW", True, False, 128, 12544, 32),
    ("fc-dX", False, False, 32, 12544, 128),
]


class OpenBLAS:
    """numpy operands for one shape; call() runs one product."""

    def __init__(self, ta, tb, m, n, k, rng):
        # Store A as k×m when transposed and take the .T view (likewise B).
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        self.a = a.T if ta else a
        self.b = b.T if tb else b
        self.c = np.empty((m, n), dtype=np.float32)

    def call(self):
        np.matmul(self.a, self.b, out=self.c)


def time_openblas_once(ob, min_time):
    """Seconds per call over about min_time of back-to-back calls."""
    ob.call()
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            ob.call()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / iters
        iters = max(iters * 2, int(iters * min_time / max(dt, 1e-9)) + 1)


def build_go(tmp):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    exe = os.path.join(tmp, "kernels.test")
    res = subprocess.run(["go", "test", "-c", "-o", exe, "./internal/kernels"],
                         cwd=repo, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("go test -c failed:\n" + res.stdout + res.stderr)
    return exe


GFLOPS = re.compile(r"([\d.]+) GFLOP/s")


def time_go_once(exe, name, min_time):
    """GFLOP/s of one BenchmarkSgemm sub-benchmark run."""
    res = subprocess.run([exe, "-test.run", "^$", "-test.bench", f"^BenchmarkSgemm$/^{name}$",
                          "-test.benchtime", f"{min_time}s"], capture_output=True, text=True)
    mt = GFLOPS.search(res.stdout)
    if res.returncode != 0 or not mt:
        sys.exit(f"go benchmark {name} failed:\n" + res.stdout + res.stderr)
    return float(mt.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--no-go", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    obs = {name: OpenBLAS(ta, tb, m, n, k, rng) for name, ta, tb, m, n, k in SHAPES}
    blas, gox = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = None if args.no_go else build_go(tmp)
        # Alternate the two sides shape by shape and round by round, so a
        # change in the machine's load hits both alike; keep each best.
        for _ in range(args.rounds):
            for name, ta, tb, m, n, k in SHAPES:
                t = time_openblas_once(obs[name], args.min_time)
                blas[name] = max(blas.get(name, 0.0), 2.0 * m * n * k / t / 1e9)
                if exe:
                    gox[name] = max(gox.get(name, 0.0), time_go_once(exe, name, args.min_time))
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')} "
          f"METACNN_KERNELS={os.environ.get('METACNN_KERNELS', '(auto)')} numpy {np.__version__}")
    print(f"{'shape':<14} {'tA':>2} {'tB':>2} {'m':>5} {'n':>6} {'k':>6} "
          f"{'OpenBLAS':>9} {'metacnn':>9} {'ratio':>6}")
    for name, ta, tb, m, n, k in SHAPES:
        g = gox.get(name)
        gs = f"{g:9.1f}" if g else f"{'-':>9}"
        rs = f"{g / blas[name]:6.2f}" if g else f"{'-':>6}"
        print(f"{name:<14} {'T' if ta else 'N':>2} {'T' if tb else 'N':>2} {m:>5} {n:>6} {k:>6} "
              f"{blas[name]:9.1f} {gs} {rs}")
    print("GFLOP/s = 2mnk / best time per call; ratio = metacnn / OpenBLAS")


if __name__ == "__main__":
    main()
