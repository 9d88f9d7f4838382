"""Benchmark suite of sklearn-aimc.

Every figure is a ratio against a baseline timed in the same run, on the same
data: the simulator's cost is judged against the float code it imitates.
Times are medians of repeated runs after a warm-up; baseline and candidate
runs alternate, so slow drifts of the machine hit both alike.  Peak memory is
measured with :mod:`tracemalloc` (numpy reports its allocations to it) in
separate runs, as a multiple of the output array.

Usage::

    python benchmarks/run.py                 # the whole suite (about 15 minutes on 2 cores)
    python benchmarks/run.py --quick         # small shapes, a smoke test (about a minute)
    python benchmarks/run.py --only core transform
    python benchmarks/run.py --quiet         # no progress bar (also off when stderr is not a terminal)

Sections: ``core`` (issue targets of the crossbar: programming a 4096 x 4096
matrix, HERMES ``matmul`` of 100000 x 64 against 64 x 4096 vs ``X @ W``, with
peak memory), ``transform`` (AnalogRandomFourierFeatures vs RBFSampler),
``crossbar`` (matmul and programming from 1 to 16 x 16 tiles), ``ridge``
(AnalogRidgeClassifier vs RidgeClassifier), ``memory`` (peak memory of
transform on 1e6 rows), ``scaling`` (time against rows and tiles),
``reprogram`` (partial reprogramming against programming the whole matrix),
``attention`` (AnalogKernelAttention on HERMES vs the same FAVOR+ in float, and
time per token from 1k to 16k tokens, with exact softmax attention).
"""

import argparse
import contextlib
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np
import scipy
import sklearn
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import RidgeClassifier
from threadpoolctl import threadpool_info
from tqdm.auto import tqdm
from tqdm.contrib import DummyTqdmFile

import sklearn_aimc
from sklearn_aimc import AnalogCrossbar, AnalogKernelAttention, AnalogRandomFourierFeatures, AnalogRidgeClassifier
from sklearn_aimc.attention import softmax_attention
from sklearn_aimc.crossbar import _compiled

DTYPES = {"float64": np.float64, "float32": np.float32}
#: The read-outs of this install (the compiled one needs numba, the 'fast' extra).
READ_OUTS = ["compiled", "numpy"] if _compiled.ENABLED else ["numpy"]


def median_times(functions, repeats, clock=time.perf_counter):
    """Median time of each function on ``clock`` (wall time by default; see :func:`run_times`)."""
    return [statistics.median(run) for run in run_times(functions, repeats, clock)]


def run_times(functions, repeats, clock=time.perf_counter):
    """Times on ``clock`` (wall time by default) of the runs of each function, interleaved after one warm-up each.

    Cases faster than a tenth of a second get more runs (up to 50), so that
    millisecond timings are not at the mercy of one slow run.  The order of
    the functions is reversed every other round: on this VM the cost of
    first-touching a large fresh array (the output) follows patterns across
    consecutive allocations (in our measurements it alternated between slow
    and fast), and a fixed order can hand all the slow ones to one side.
    """
    start = time.perf_counter()
    for function in functions:
        function()
    warm_up = time.perf_counter() - start
    repeats = max(repeats, min(50, int(0.5 / max(warm_up, 1e-3))))
    times = [[] for _ in functions]
    for round_index in range(repeats):
        order = list(enumerate(functions))
        for index, function in order if round_index % 2 == 0 else order[::-1]:
            gc.collect()
            start = clock()
            function()
            times[index].append(clock() - start)
    return times


def ratios(runs_float, runs_chip):
    """Median times, ratio of medians and ratio of the fastest runs, formatted."""
    t_float, t_chip = statistics.median(runs_float), statistics.median(runs_chip)
    return [f"{t_float:.3f}", f"{t_chip:.3f}", f"{t_chip / t_float:.2f}x", f"{min(runs_chip) / min(runs_float):.2f}x"]


def peak_memory(function):
    """Peak bytes allocated while ``function`` runs (its result included)."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, result


def table(header, rows):
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        lines.append("| " + " | ".join(str(c).rjust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def machine():
    blas = [f"{lib['internal_api']} {lib['version']} ({lib['num_threads']} threads)" for lib in threadpool_info()]
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, sklearn-aimc {sklearn_aimc.__version__}; "
        f"BLAS: {', '.join(blas)}; crossbar read-out: {read_out_name()}"
    )


@contextlib.contextmanager
def read_out(kind):
    """Crossbars first read inside use the ``"compiled"`` or the ``"numpy"`` read-out."""
    enabled = _compiled.ENABLED
    _compiled.ENABLED = enabled and kind == "compiled"
    try:
        yield
    finally:
        _compiled.ENABLED = enabled


def read_out_name():
    if _compiled.ENABLED:
        return f"compiled (numba {_compiled.numba.__version__})"
    return "numpy (numba not installed, or SKLEARN_AIMC_COMPILED=0)"


def bench_core(quick, repeats):
    """Issue targets of the crossbar itself, with each read-out this install has."""
    rng = np.random.default_rng(0)
    n_rows, n_in, n_out = (10_000, 64, 1024) if quick else (100_000, 64, 4096)
    rows = []
    for name, dtype in DTYPES.items():
        X = rng.standard_normal((n_rows, n_in)).astype(dtype)
        W = rng.standard_normal((n_in, n_out)).astype(dtype)
        for kind in READ_OUTS:
            with read_out(kind):
                chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
                chip.matmul(X[:10])  # derive the read state outside the timing
            case = f"HERMES matmul {n_rows}x{n_in} @ {n_in}x{n_out}, {kind} read-out"
            runs = run_times([lambda: X @ W, lambda: chip.matmul(X)], repeats)
            peak, Y = peak_memory(lambda: chip.matmul(X))
            rows.append([case, name, *ratios(*runs), f"{peak / Y.nbytes:.2f}x"])
            Y.fill(0)  # touched once: no side pays for fresh pages
            runs = run_times([lambda: np.matmul(X, W, out=Y), lambda: chip.matmul(X, out=Y)], repeats)
            rows.append([case + ", into out=", name, *ratios(*runs), ""])
            del Y
    size = 1024 if quick else 4096
    W = rng.standard_normal((size, size))
    crossbar = AnalogCrossbar()
    (t_program,) = median_times([lambda: crossbar.program(W, random_state=0)], max(1, repeats // 2))
    rows.append([f"program {size}x{size} ({(size // 256) ** 2} tiles)", "float64", "", f"{t_program:.3f}", "", "", ""])
    print(table(["case", "dtype", "X @ W (s)", "chip (s)", "ratio", "best-run ratio", "peak mem / output"], rows))
    print(
        "Times and ratio: medians of interleaved runs.  Best-run ratio: fastest chip run over fastest X @ W run;\n"
        "on this VM first-touching the 1.6-3.3 GB output sometimes costs seconds of system time, which lands\n"
        "on either side at random, and the fastest runs are the ones it spared.  Into out=: both sides write\n"
        "into one preallocated, already touched output (np.matmul(X, W, out=Y) and chip.matmul(X, out=Y)),\n"
        "which measures the computation alone.  Read-outs: compiled (numba, the 'fast' extra) and numpy;\n"
        "both give bit-identical results."
    )


def bench_transform(quick, repeats):
    """AnalogRandomFourierFeatures (ideal, HERMES) vs RBFSampler at equal output size."""
    rng = np.random.default_rng(0)
    grid = [(n, d, f) for n in ((2_000, 10_000) if quick else (10_000, 100_000)) for d in (8, 64)
            for f in ((512, 2048) if quick else (512, 8192))]
    rows = []
    for name, dtype in DTYPES.items():
        for n_rows, n_features, n_out in grid:
            X = rng.standard_normal((n_rows, n_features)).astype(dtype)
            baseline = RBFSampler(n_components=n_out, gamma=0.05, random_state=0).fit(X)
            ideal = AnalogRandomFourierFeatures(n_out // 2, gamma=0.05, device="ideal", random_state=0).fit(X)
            hermes = AnalogRandomFourierFeatures(n_out // 2, gamma=0.05, device="hermes", random_state=0).fit(X)
            t_base, t_ideal, t_hermes = median_times(
                [lambda: baseline.transform(X), lambda: ideal.transform(X), lambda: hermes.transform(X)],
                repeats,
            )
            rows.append([name, n_rows, n_features, n_out, f"{t_base:.3f}", f"{t_ideal / t_base:.2f}x",
                         f"{t_hermes / t_base:.2f}x"])
    print(table(["dtype", "rows", "features", "outputs", "RBFSampler (s)", "ideal / RBF", "HERMES / RBF"], rows))


def bench_crossbar(quick, repeats):
    """matmul and programming from one tile up to 16 x 16 tiles."""
    rng = np.random.default_rng(0)
    n_rows = 2_000 if quick else 10_000
    rows = []
    for tiles in ((1, 2, 4) if quick else (1, 2, 4, 8, 16)):
        size = 256 * tiles
        W = rng.standard_normal((size, size)).astype(np.float32)
        X = rng.standard_normal((n_rows, size)).astype(np.float32)
        crossbar = AnalogCrossbar()
        t_program, t_calibrate = median_times(
            [lambda: crossbar.program(W, random_state=0),
             lambda: crossbar.program(W, random_state=0).calibrate(X)], max(1, repeats // 2))
        chip = crossbar.program(W, calibration_inputs=X, random_state=0)
        chip.matmul(X[:2])
        t_float, t_chip = median_times([lambda: X @ W, lambda: chip.matmul(X)], repeats)
        rows.append([f"{tiles}x{tiles}", f"{size}x{size}", f"{t_program:.3f}", f"{t_calibrate - t_program:.3f}",
                     f"{t_float:.3f}", f"{t_chip:.3f}", f"{t_chip / t_float:.2f}x"])
    print(f"float32, {n_rows} input rows")
    print(table(["tiles", "matrix", "program (s)", "calibrate (s)", "X @ W (s)", "matmul (s)", "ratio"], rows))


def bench_ridge(quick, repeats):
    """AnalogRidgeClassifier fit / predict vs RidgeClassifier on random features."""
    rng = np.random.default_rng(0)
    n_rows, n_features = (5_000, 512) if quick else (50_000, 2048)
    X = rng.standard_normal((n_rows, n_features)).astype(np.float32)
    y = (X[:, :10].sum(axis=1) > 0).astype(int)
    rows = []
    for device in ("ideal", "hermes"):
        baseline = RidgeClassifier(alpha=0.5)
        analog = AnalogRidgeClassifier(alpha=0.5, device=device, random_state=0)
        t_fit_base, t_fit = median_times([lambda: baseline.fit(X, y), lambda: analog.fit(X, y)], repeats)
        t_pred_base, t_pred = median_times([lambda: baseline.predict(X), lambda: analog.predict(X)], repeats)
        rows.append([device, f"{t_fit_base:.3f}", f"{t_fit / t_fit_base:.2f}x", f"{t_pred_base:.3f}",
                     f"{t_pred / t_pred_base:.2f}x"])
    print(f"float32, {n_rows} x {n_features}, binary")
    print(table(["device", "RidgeClassifier fit (s)", "fit ratio", "predict (s)", "predict ratio"], rows))


def bench_memory(quick, repeats):
    """Peak memory of transform against the size of its output."""
    rng = np.random.default_rng(0)
    n_rows = 100_000 if quick else 1_000_000
    rows = []
    for name, dtype in DTYPES.items():
        X = rng.standard_normal((n_rows, 16)).astype(dtype)
        for device in ("ideal", "hermes"):
            features = AnalogRandomFourierFeatures(256, gamma=0.05, device=device, random_state=0).fit(X[:10_000])
            peak, Z = peak_memory(lambda: features.transform(X))
            rows.append([name, device, f"{n_rows}x512", f"{Z.nbytes / 2**20:.0f}", f"{peak / 2**20:.0f}",
                         f"{peak / Z.nbytes:.2f}x"])
            del Z
        peak, Z = peak_memory(lambda: RBFSampler(n_components=512, random_state=0).fit(X[:10]).transform(X))
        rows.append([name, "RBFSampler", f"{n_rows}x512", f"{Z.nbytes / 2**20:.0f}", f"{peak / 2**20:.0f}",
                     f"{peak / Z.nbytes:.2f}x"])
        del Z
    print(table(["dtype", "transform", "output", "output (MiB)", "peak (MiB)", "peak / output"], rows))


def bench_scaling(quick, repeats):
    """Time of a HERMES transform against rows, and of matmul against tiles."""
    rng = np.random.default_rng(0)
    row_counts = (2_500, 5_000, 10_000, 20_000) if quick else (12_500, 25_000, 50_000, 100_000, 200_000)
    X = rng.standard_normal((row_counts[-1], 32)).astype(np.float32)
    features = AnalogRandomFourierFeatures(1024, gamma=0.05, random_state=0).fit(X[:10_000])
    times = median_times([lambda n=n: features.transform(X[:n]) for n in row_counts], repeats)
    slope, intercept = np.polyfit(row_counts, times, 1)
    rows = [[n, f"{t:.3f}", f"{t / n * 1e6:.2f}"] for n, t in zip(row_counts, times)]
    print("HERMES transform, 32 features -> 2048 outputs, float32")
    print(table(["rows", "time (s)", "us per row"], rows))
    residual = np.max(np.abs(np.polyval([slope, intercept], row_counts) - times) / times)
    print(f"linear fit: {slope * 1e6:.2f} us/row + {intercept * 1e3:.1f} ms, max relative residual {residual:.1%}")
    rows = []
    n_rows = 5_000 if quick else 20_000
    X = rng.standard_normal((n_rows, 256)).astype(np.float32)
    for n_col_tiles in (1, 2, 4, 8, 16):
        W = rng.standard_normal((256, 256 * n_col_tiles)).astype(np.float32)
        chip = AnalogCrossbar().program(W, calibration_inputs=X, random_state=0)
        chip.matmul(X[:2])
        (t_chip,) = median_times([lambda: chip.matmul(X)], repeats)
        rows.append([chip.n_tiles, f"{t_chip:.3f}", f"{t_chip / chip.n_tiles * 1e3:.1f}"])
    print(f"\nHERMES matmul of {n_rows} x 256 rows against 256 x (256 * tiles), float32")
    print(table(["tiles", "time (s)", "ms per tile"], rows))


def bench_reprogram(quick, repeats):
    """Partial reprogramming against programming the whole matrix, on the same chip configuration."""
    rng = np.random.default_rng(0)
    size = 512 if quick else 1024
    W = rng.standard_normal((size, size))
    X = rng.standard_normal((1000, size))
    crossbar = AnalogCrossbar()
    rows = []
    for fraction in (0.001, 0.01, 0.1):
        W_new = W.copy()
        changed = rng.random(W.shape) < fraction
        W_new[changed] *= 0.5

        def program():
            return crossbar.program(W, random_state=0)

        def reprogram(chip=crossbar.program(W, calibration_inputs=X, random_state=0)):
            # Alternate between the two matrices so that every call writes the changed weights.
            reprogram.at += 1.0
            chip.reprogram(W_new if reprogram.at % 2 else W, at=reprogram.at)

        reprogram.at = 0.0
        t_program, t_reprogram = median_times([program, reprogram], repeats)
        cpu_program, cpu_reprogram = median_times([program, reprogram], repeats, clock=time.process_time)
        rows.append([f"{size}x{size}", f"{fraction:.1%}", f"{t_program:.3f}", f"{t_reprogram:.4f}",
                     f"{t_reprogram / t_program:.3f}", f"{cpu_reprogram / cpu_program:.3f}"])
    print("program: program() of the whole matrix (tiles in parallel threads); reprogram: reprogram() of the\n"
          "changed weights (one thread); neither calibrates.  CPU ratio: the same on process CPU time.")
    print(table(["matrix", "weights changed", "program (s)", "reprogram (s)", "ratio", "CPU ratio"], rows))


def favor_plus_numpy(Q, K, V, W):
    """Plain numpy FAVOR+ attention of one batch of heads with projection ``W`` (the float baseline)."""
    d = Q.shape[-1]
    scale = Q.dtype.type(d ** -0.25)

    def exponents(X):
        X = X * scale
        P = X @ W
        half_norm = 0.5 * np.einsum("...i,...i->...", X, X)[..., None]
        return np.concatenate([P - half_norm, -P - half_norm], axis=-1)

    Qe, Ke = exponents(Q), exponents(K)
    Qf = np.exp(Qe - Qe.max(axis=-1, keepdims=True))
    Kf = np.exp(Ke - Ke.max(axis=(-2, -1), keepdims=True))
    KV = np.swapaxes(Kf, -1, -2) @ V
    return (Qf @ KV) / (Qf @ Kf.sum(axis=-2)[..., None])


def bench_attention(quick, repeats):
    """AnalogKernelAttention on HERMES vs float FAVOR+ (same W, same shapes); time per token against L."""
    rng = np.random.default_rng(0)
    heads, d, s = 12, 32, 128
    rows = []
    for name, dtype in DTYPES.items():
        for length in ((512, 2048) if quick else (1024, 4096)):
            Q, K, V = (rng.standard_normal((heads, length, d)) * 0.5).astype(dtype), None, None
            K = (rng.standard_normal((heads, length, d)) * 0.5).astype(dtype)
            V = rng.standard_normal((heads, length, d)).astype(dtype)
            calibration = np.vstack([Q.reshape(-1, d), K.reshape(-1, d)])[::7]
            ideal = AnalogKernelAttention(s, device="ideal", random_state=0).fit(calibration)
            hermes = AnalogKernelAttention(s, device="hermes", random_state=0).fit(calibration)
            W = ideal.feature_map_.random_weights_.astype(dtype)
            hermes.attend(Q[:1, :8], K[:1, :8], V[:1, :8])  # derive the read state outside the timing
            runs_plain, runs_ideal, runs_hermes = run_times(
                [lambda: favor_plus_numpy(Q, K, V, W), lambda: ideal.attend(Q, K, V),
                 lambda: hermes.attend(Q, K, V)], repeats)
            rows.append([name, f"{heads} x {length} x {d}", *ratios(runs_ideal, runs_hermes),
                         f"{statistics.median(runs_plain):.3f}",
                         f"{statistics.median(runs_hermes) / statistics.median(runs_plain):.2f}x"])
    print(f"FAVOR+ with s = {s} projections (256 features), batches of heads of dimension {d}")
    print(table(["dtype", "heads x L x d", "ideal attend (s)", "HERMES attend (s)", "HERMES / ideal",
                 "best-run ratio", "plain numpy FAVOR+ (s)", "HERMES / plain"], rows))

    lengths = (1024, 2048, 4096) if quick else (1024, 2048, 4096, 8192, 16384)
    rows = []
    chip = AnalogKernelAttention(s, device="hermes", random_state=0)
    chip.fit(rng.standard_normal((4096, d)).astype(np.float32) * 0.5)
    causal = AnalogKernelAttention(s, device="hermes", causal=True, random_state=0)
    causal.fit(rng.standard_normal((4096, d)).astype(np.float32) * 0.5)
    Q, K, V = (rng.standard_normal((3, lengths[-1], d)) * 0.5).astype(np.float32)
    for length in lengths:
        q, k, v = Q[:length], K[:length], V[:length]
        t_chip, t_causal = median_times([lambda: chip.attend(q, k, v), lambda: causal.attend(q, k, v)], repeats)
        (t_softmax,) = median_times([lambda: softmax_attention(q, k, v)], max(1, repeats // 2))
        rows.append([length, f"{t_chip * 1e3:.1f}", f"{t_chip / length * 1e6:.2f}", f"{t_causal / length * 1e6:.2f}",
                     f"{t_softmax * 1e3:.1f}", f"{t_softmax / length * 1e6:.2f}"])
    print(f"\nOne head, d = {d}, s = {s}, float32, HERMES")
    print(table(["L", "attend (ms)", "attend us / token", "causal us / token", "softmax (ms)",
                 "softmax us / token"], rows))


SECTIONS = {
    "core": bench_core,
    "transform": bench_transform,
    "crossbar": bench_crossbar,
    "ridge": bench_ridge,
    "memory": bench_memory,
    "scaling": bench_scaling,
    "reprogram": bench_reprogram,
    "attention": bench_attention,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes: a smoke test")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="sections to run")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case (default 5, quick 3)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar on stderr (it is also off when stderr is not a terminal)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    sections = list(args.only or SECTIONS)
    print(f"# sklearn-aimc benchmarks ({'quick' if args.quick else 'full'}), {time.strftime('%Y-%m-%d %H:%M')}")
    print(machine())
    suite_start = time.perf_counter()
    # The tables go to stdout through tqdm, so that they do not garble the bar
    # on stderr; the bar counts sections (its ETA assumes sections of equal length).
    bar = tqdm(sections, desc="benchmarks", unit="section", file=sys.stderr,
               disable=True if args.quiet else None)
    with contextlib.redirect_stdout(DummyTqdmFile(sys.stdout)), bar:
        for name in bar:
            bar.set_postfix_str(name)
            print(f"\n## {name}\n")
            start = time.perf_counter()
            SECTIONS[name](args.quick, repeats)
            print(f"({time.perf_counter() - start:.0f} s)")
    print(f"{len(sections)} sections in {time.perf_counter() - suite_start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
