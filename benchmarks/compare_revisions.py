"""Time the read-out of two source trees of sklearn-aimc against the same float baselines.

Each round runs every case once per tree, in a fresh process per tree (the order
reversed every other round), with one BLAS thread, and records CPU time, which a
machine shared with other jobs disturbs less than wall time.  Ratios are taken
against the float baseline of the same process (``X @ W`` for ``matmul``,
:class:`~sklearn.kernel_approximation.RBFSampler` for the random features), so
the two trees are compared by how much they add to the same float work.

Usage (a checkout of an older commit beside the current one)::

    git worktree add /tmp/sklearn-aimc-old <commit>
    python benchmarks/compare_revisions.py --baseline /tmp/sklearn-aimc-old --candidate . --rounds 3
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

CASES = {
    "matmul 20000x64 @ 64x4096": ("matmul", 20_000, 64, 4096),
    "transform 10000x8 -> 512": ("transform", 10_000, 8, 512),
    "transform 10000x64 -> 512": ("transform", 10_000, 64, 512),
    "transform 30000x64 -> 8192": ("transform", 30_000, 64, 8192),
}
DTYPES = ("float32", "float64")

_CHILD = r"""
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.kernel_approximation import RBFSampler
from sklearn_aimc import AnalogCrossbar, AnalogRandomFourierFeatures

kind, n, d, f, dtype = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d)).astype(dtype)

def cpu(function, repeats=3):
    function()
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best

with threadpool_limits(1):
    if kind == "matmul":
        W = rng.standard_normal((d, f)).astype(dtype)
        chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
        chip.matmul(X[:10])
        baseline, candidate = cpu(lambda: X @ W), cpu(lambda: chip.matmul(X))
    else:
        rbf = RBFSampler(n_components=f, gamma=0.05, random_state=0).fit(X)
        hermes = AnalogRandomFourierFeatures(f // 2, gamma=0.05, device="hermes", random_state=0).fit(X)
        baseline, candidate = cpu(lambda: rbf.transform(X)), cpu(lambda: hermes.transform(X))
print(json.dumps([baseline, candidate]))
"""


def run_case(tree, case, dtype, compiled=True):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), OMP_NUM_THREADS="1",
               SKLEARN_AIMC_COMPILED="1" if compiled else "0")
    output = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps([*CASES[case][:1], *CASES[case][1:], dtype])],
        env=env, capture_output=True, text=True, check=True, cwd=os.path.abspath(tree),
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="source tree of the older revision")
    parser.add_argument("--candidate", default=".", help="source tree of the newer revision (default: .)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--read-out", choices=("compiled", "numpy"), default="compiled",
                        help="the crossbar read-out of both trees (compiled needs numba)")
    args = parser.parse_args(argv)
    trees = {"baseline": args.baseline, "candidate": args.candidate}
    ratios = {(case, dtype, name): [] for case in CASES for dtype in DTYPES for name in trees}
    for round_index in range(args.rounds):
        order = list(trees) if round_index % 2 == 0 else list(trees)[::-1]
        for case in CASES:
            for dtype in DTYPES:
                for name in order:
                    float_time, chip_time = run_case(trees[name], case, dtype, args.read_out == "compiled")
                    ratios[case, dtype, name].append(chip_time / float_time)
    print("| case | dtype | baseline tree: chip / float | candidate tree: chip / float |")
    print("|---|---|---|---|")
    for case in CASES:
        for dtype in DTYPES:
            cells = [
                f"{np.median(ratios[case, dtype, name]):.2f}x (runs {min(ratios[case, dtype, name]):.2f}x - "
                f"{max(ratios[case, dtype, name]):.2f}x)"
                for name in trees
            ]
            print(f"| {case} | {dtype} | {cells[0]} | {cells[1]} |")
    print(f"\nMedians over {args.rounds} rounds of the best of 3 CPU times (one thread, {args.read_out} read-out), "
          "each over its own float baseline.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
