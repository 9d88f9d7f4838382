"""The drift study: accuracy and kernel error of a deployed chip while its devices drift.

Ours, not the paper's (the paper has no drift experiment): the chip is
programmed once, the ridge readout is trained on features read one second
after programming, and the test set is read again and again while the devices
drift (1 s to 1 year), without, with global and with per-column drift
compensation.  :func:`run_drift_study` runs it, :func:`drift_section` and
:func:`plot_drift` report it; ``python -m sklearn_aimc reproduce`` runs it
after the kernel-ridge study (:mod:`sklearn_aimc.experiments.kernel_ridge`),
and ``python -m sklearn_aimc drift`` alone (:func:`main`).
"""

import argparse
import shlex
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from sklearn.base import clone

from ..datasets import DATASETS, ENV_VAR, PROTOCOLS
from ..kernels import kernel_approximation_error
from ..study import KERNELS, exact_kernel, fit_readout, random_features, readout_accuracy
from . import _plotting
from ._common import (
    ALPHA,
    DEVICE_PRESETS,
    GAMMA,
    METHODS,
    N_KERNEL_POINTS,
    check_choices,
    check_ks,
    check_positive,
    chip_description,
    chip_label,
    compensation_name,
    configs,
    n_outputs,
    one_thread_quietly,
)
from ._data import split_sizes
from ._records import CsvLog, make_row
from ._report import markdown_table, pm, stats, summarize, time_label
from ._runner import BACKENDS, Executor, clock, run_tasks

__all__ = [
    "DRIFT_COMPENSATIONS",
    "DRIFT_TIMES",
    "DRIFT_TRAIN_TIME",
    "build_parser",
    "drift_section",
    "main",
    "plot_drift",
    "run_drift_study",
]

#: Seconds since programming read in the drift study: 1 s, 1 min, 1 h, 1 day,
#: 30 days, 1 year (360 days).
DRIFT_TIMES = (1.0, 60.0, 3600.0, 86400.0, 30 * 86400.0, 360 * 86400.0)
#: Drift-compensation modes of the drift study (None: uncompensated).
DRIFT_COMPENSATIONS = (None, "global", "per_column")
#: The training features of the drift study are read this long after programming.
DRIFT_TRAIN_TIME = 1.0

# Relative cost of a run, for the progress bar's ETA (as in kernel_ridge).
_GRAM_COST = 1 / 250


def _drift_task(config, seed, compensation, times, split=None):
    """Program one chip, train at 1 s, read the test set at every time (no refit)."""
    X_train, X_test, y_train, y_test = config.split() if split is None else split
    chip = clone(config.device).set_params(
        t_inference=DRIFT_TRAIN_TIME, drift_compensation=compensation
    )
    rows = []
    with one_thread_quietly():
        features = random_features(
            config.kernel, config.s, gamma=config.gamma, sampling=config.method,
            device=chip, random_state=seed,
        )
        model = fit_readout(features.fit_transform(X_train), y_train, readout=config.readout,
                            alpha=config.alpha)
        points = X_test[: config.n_kernel_points]
        K = exact_kernel(config.kernel, points, config.gamma)
        for t in times:
            start = time.perf_counter()
            features.set_params(device__t_inference=float(t))  # same chip, read later
            phi_test = features.transform(X_test)
            accuracy = readout_accuracy(model, phi_test, y_test)
            phi = phi_test[: config.n_kernel_points]
            error = kernel_approximation_error(K, phi @ phi.T)
            rows.append(
                make_row(config, seed, config.device_name, t, compensation_name(compensation),
                         accuracy, error, time.perf_counter() - start)
            )
    return rows


def run_drift_study(
    datasets=("ijcnn1", "magic04"),
    *,
    kernels=KERNELS,
    method="rff",
    k=5,
    n_seeds=10,
    times=DRIFT_TIMES,
    compensations=DRIFT_COMPENSATIONS,
    device="hermes",
    data_home=None,
    source="local",
    max_train=None,
    max_test=None,
    gamma=GAMMA,
    alpha=ALPHA,
    n_kernel_points=N_KERNEL_POINTS,
    n_jobs=2,
    csv_path=None,
    progress=True,
    protocol="default",
    backend="loky",
    scheduler=None,
    executor=None,
):
    """Accuracy and kernel error of a deployed chip while its devices drift.

    For every dataset, kernel, seed and drift-compensation mode, the chip is
    programmed once (the same seed gives the same chip in every mode), the
    training features are read ``DRIFT_TRAIN_TIME`` (1 s) after programming
    and the ridge readout is fitted on them; then the test features are
    read at each time of ``times`` by setting ``device__t_inference`` on the
    fitted transformer (no reprogramming, no refit), and scored.

    Parameters
    ----------
    datasets : sequence of str, default=("ijcnn1", "magic04")
    kernels : sequence of {"rbf", "arccos"}, default=("rbf", "arccos")
    method : {"rff", "orf", "sorf"}, default="rff"
    k : int, default=5
        ``s = 2**k d - k`` projections.
    n_seeds : int, default=10
    times : sequence of float, default=DRIFT_TIMES
        Seconds since programming of the test reads.
    compensations : sequence of {None, "global", "per_column"}, default=DRIFT_COMPENSATIONS
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Its ``t_inference`` and ``drift_compensation`` are overridden.
    data_home, source, max_train, max_test, gamma, alpha, n_kernel_points, n_jobs, csv_path, progress
        As in :func:`~sklearn_aimc.experiments.kernel_ridge.run_study`.
    protocol, backend, scheduler, executor
        As in :func:`~sklearn_aimc.experiments.kernel_ridge.run_study`.

    Returns
    -------
    rows : list of dict
        One per dataset, kernel, seed, mode and time, with the keys of
        :data:`~sklearn_aimc.experiments.kernel_ridge.RUN_COLUMNS`;
        ``drift_compensation`` is ``"none"``, ``"global"`` or
        ``"per_column"``; ``seconds`` is the time of that read (test
        transform, scoring and kernel error; programming and training
        excluded).

    Examples
    --------
    >>> from sklearn_aimc.experiments.drift import run_drift_study
    >>> rows = run_drift_study(["magic04"], kernels=["rbf"], k=1, n_seeds=1,
    ...                        times=[1.0, 86400.0], data_home="datasets/")  # doctest: +SKIP
    >>> [(r["drift_compensation"], r["t_inference"]) for r in rows][:2]  # doctest: +SKIP
    [('none', 1.0), ('none', 86400.0)]
    """
    datasets = check_choices(datasets, tuple(DATASETS), "datasets")
    kernels = check_choices(kernels, KERNELS, "kernels")
    check_choices([method], METHODS, "method")
    compensations = tuple(dict.fromkeys(compensations))
    check_choices(compensations, DRIFT_COMPENSATIONS, "compensations")
    times = tuple(float(t) for t in times)
    if not times or min(times) < 0:
        raise ValueError(f"times must be a non-empty sequence of seconds >= 0, got {list(times)}.")
    n_seeds = check_positive(n_seeds, "n_seeds")
    (k,) = check_ks([k])
    sizes = split_sizes(datasets, data_home, source, max_train, max_test, protocol)
    chosen = list(
        configs(datasets, kernels, [method], [k], device=device, t_inference=None,
                data_home=data_home, source=source, max_train=max_train, max_test=max_test,
                gamma=gamma, alpha=alpha, n_kernel_points=n_kernel_points, protocol=protocol)
    )
    tasks = [(c, seed, mode, times) for c in chosen for seed in range(n_seeds) for mode in compensations]

    def cost(config):
        n_train, n_test = sizes[config.dataset]
        m = n_outputs(config.kernel, config.s)
        return n_train * m + _GRAM_COST * n_train * m * m + len(times) * n_test * m

    labels = [f"{c.label()} seed {seed} compensation {compensation_name(mode)}"
              for c, seed, mode, _ in tasks]
    running = Executor(backend, n_jobs, scheduler) if executor is None else nullcontext(executor)
    with CsvLog(csv_path) as log, running as running:
        results = run_tasks(
            _drift_task, tasks, costs=[cost(c) for c, *_ in tasks], labels=labels, desc="drift",
            executor=running, data_of=lambda task: task[0].split(), progress=progress,
            on_result=lambda task, task_rows: log.write(task_rows),
        )
    return [row for task_rows in results for row in task_rows]


def summarize_drift(drift_rows):
    """(dataset, kernel, compensation) -> {t: ((acc mean, std), (error mean, std))}."""
    groups = {}
    for row in drift_rows:
        key = (row["dataset"], row["kernel"], row["drift_compensation"])
        groups.setdefault(key, {}).setdefault(row["t_inference"], []).append(row)
    return {
        key: {
            t: (stats([r["accuracy"] for r in runs]), stats([r["kernel_error"] for r in runs]))
            for t, runs in sorted(by_time.items())
        }
        for key, by_time in groups.items()
    }


def drift_section(drift_rows, rows=()):
    """The ``## Drift study`` section of ``summary.md`` as a list of lines.

    Parameters
    ----------
    drift_rows : list of dict
        Rows of :func:`run_drift_study`.
    rows : list of dict, default=()
        Rows of the kernel-ridge study, for the float reference column.

    Returns
    -------
    lines : list of str
        Empty when ``drift_rows`` is.

    Examples
    --------
    >>> from sklearn_aimc.experiments.drift import drift_section
    >>> drift_section([])
    []
    """
    if not drift_rows:
        return []
    summary = summarize(list(rows))
    stats_by_key = summarize_drift(drift_rows)
    times = sorted({t for by_time in stats_by_key.values() for t in by_time})
    first = drift_rows[0]
    chip = chip_label(first["device"])
    reference = {(i["dataset"], i["kernel"]): i for i in summary
                 if i["method"] == first["method"] and i["k"] == first["k"]}
    n_seeds = len({row["seed"] for row in drift_rows})
    out = [
        "",
        "## Drift study",
        "",
        f"Deployment scenario: {first['method'].upper()}, k = {first['k']}, {n_seeds} seeds. "
        f"Each seed programs one {chip} chip (the same chip for the three compensation modes); "
        f"the ridge readout is trained once on features read {DRIFT_TRAIN_TIME:g} s after "
        "programming; the test set is then read at each time since programming (no "
        "reprogramming, no retraining). `float` is the float accuracy (or kernel error) of the "
        "main study at the same configuration.",
    ]
    if any(row["kernel"] == "arccos" for row in drift_rows):
        out += [
            "",
            "Arc-cosine features of order 0 depend only on the sign of the projection, which a "
            "positive drift-compensation gain does not change: for that kernel the three modes "
            "give (nearly) the same numbers, and drift acts only through the noise it adds.",
        ]
    for title, index, scale, digits in (("Accuracy (%)", 0, 100, 2), ("Kernel error", 1, 1, 4)):
        header = ["dataset", "kernel", "compensation", "float"] + [time_label(t) for t in times]
        table = []
        for (dataset, kernel, mode), by_time in stats_by_key.items():
            ref = reference.get((dataset, kernel))
            field_name = "float_accuracy" if index == 0 else "float_kernel_error"
            row = [dataset, kernel, mode, "-" if ref is None else pm(ref[field_name], scale, digits)]
            row += [pm(by_time[t][index], scale, digits) if t in by_time else "-" for t in times]
            table.append(row)
        out += ["", f"### {title}", "", markdown_table(header, table)]
    return out


def plot_drift(drift_rows, output_dir, rows=()):
    """``drift_<dataset>.png``: accuracy and kernel error against time since programming.

    One column per kernel; one colour per drift-compensation mode, mean with a
    ± std band over seeds; the float result of the main study (``rows``, same
    method and k) as a grey line when available.

    Parameters
    ----------
    drift_rows : list of dict
        Rows of :func:`run_drift_study`.
    output_dir : str or path-like
    rows : list of dict, default=()
        Rows of :func:`~sklearn_aimc.experiments.kernel_ridge.run_study`, for
        the float reference.

    Returns
    -------
    paths : list of pathlib.Path
        Empty without matplotlib (never an error).

    Examples
    --------
    >>> from sklearn_aimc.experiments.drift import plot_drift
    >>> plot_drift([], "figures/")
    []
    """
    Figure = _plotting.figure_class()
    if Figure is None or not drift_rows:
        return []
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    by_key = summarize_drift(drift_rows)
    first = drift_rows[0]
    reference = {(i["dataset"], i["kernel"]): i for i in summarize(list(rows))
                 if i["method"] == first["method"] and i["k"] == first["k"]}
    chip = chip_label(first["device"])
    paths = []
    for dataset in dict.fromkeys(key[0] for key in by_key):
        kernels = list(dict.fromkeys(key[1] for key in by_key if key[0] == dataset))
        fig = Figure(figsize=(4.2 * len(kernels), 6.4), layout="constrained")
        axes = fig.subplots(2, len(kernels), squeeze=False)
        for column, kernel in enumerate(kernels):
            modes = [key[2] for key in by_key if key[:2] == (dataset, kernel)]
            for color, mode in zip(_plotting.COLORS, modes):
                by_time = by_key[(dataset, kernel, mode)]
                t = np.array(list(by_time))
                for row, scale in ((0, 100), (1, 1)):
                    values = np.array([by_time[time_][row] for time_ in t]) * scale
                    _plotting.band(axes[row, column], t, values[:, 0], values[:, 1], color, "-",
                                   f"{chip}, {mode}")
            ref = reference.get((dataset, kernel))
            if ref is not None:
                line = dict(color="grey", linestyle=":", label="float")
                axes[0, column].axhline(100 * ref["float_accuracy"][0], **line)
                axes[1, column].axhline(ref["float_kernel_error"][0], **line)
            axes[0, column].set_title(f"{dataset}: {kernel}, {first['method'].upper()} k={first['k']}")
            axes[0, column].set_ylabel("test accuracy (%)")
            axes[1, column].set_ylabel("kernel approximation error")
            times = sorted({t for key, by_time in by_key.items() if key[:2] == (dataset, kernel)
                            for t in by_time})
            for ax in axes[:, column]:
                ax.set_xscale("log")
                ax.set_xticks(times, [time_label(t) for t in times], rotation=30)
                ax.xaxis.set_minor_locator(_plotting.null_locator())
                ax.set_xlabel("time since programming")
                ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize="small", title="drift compensation")
        path = output_dir / f"drift_{dataset}.png"
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths


def build_parser():
    """The parser of ``python -m sklearn_aimc drift``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_aimc.experiments.drift import build_parser
    >>> build_parser().parse_args(["--datasets", "magic04", "--k", "2"]).k
    2
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc drift",
        description=(
            "Drift study on a simulated HERMES chip: program once, train the ridge readout on "
            "features read 1 s after programming, read the test set again up to a year later "
            "with no, global and per-column drift compensation. Writes drift.csv, summary.md and "
            "drift_<dataset>.png to --output-dir."
        ),
    )
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=["ijcnn1", "magic04"],
                        metavar="NAME", help="datasets (default: ijcnn1 magic04)")
    parser.add_argument("--kernels", nargs="+", choices=list(KERNELS), default=list(KERNELS),
                        help="default: rbf arccos")
    parser.add_argument("--method", choices=METHODS, default="rff", help="default: rff")
    parser.add_argument("--k", type=int, default=5, help="s = 2^k d - k projections (default 5)")
    parser.add_argument("--seeds", type=int, default=10, dest="n_seeds", metavar="N",
                        help="number of seeds (default 10)")
    parser.add_argument("--times", nargs="+", type=float, default=list(DRIFT_TIMES), metavar="SECONDS",
                        help="read times since programming (default: 1 s, 1 min, 1 h, 1 day, "
                             "30 days, 1 year)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="default",
                        help="data preprocessing and readout (see reproduce --help)")
    parser.add_argument("--device", choices=DEVICE_PRESETS, default="hermes",
                        help="chip preset (default hermes)")
    parser.add_argument("--data-home", metavar="DIR",
                        help=f"directory of the .csv.gz files (default: ${ENV_VAR})")
    parser.add_argument("--output-dir", default="drift-results", metavar="DIR",
                        help="where results are written (default drift-results)")
    parser.add_argument("--max-train", type=int, metavar="N",
                        help="subsample the training part to N rows (seeded; default: all)")
    parser.add_argument("--backend", choices=BACKENDS, default="loky",
                        help="joblib's process pool (default) or a dask cluster")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="address of a running dask scheduler (with --backend dask)")
    parser.add_argument("--n-jobs", type=int, default=2, metavar="N",
                        help="parallel runs, one core each (default 2)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar, only the final summary line")
    return parser


def main(argv=None):
    """``python -m sklearn_aimc drift [options]``; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The options; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0, or 1 when a dataset is missing (with ``load_benchmark``'s message);
        bad options exit with argparse's message (status 2).

    Examples
    --------
    >>> from sklearn_aimc.experiments import drift
    >>> drift.main(["--datasets", "magic04", "--data-home", "datasets/"])  # doctest: +SKIP
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.scheduler is not None and args.backend != "dask":
        parser.error("--scheduler needs --backend dask")
    if args.k < 1 or args.n_seeds < 1 or args.n_jobs == 0 or (args.max_train or 1) < 1:
        parser.error("--k, --seeds and --max-train must be at least 1, --n-jobs not 0")
    start = time.perf_counter()
    output_dir = Path(args.output_dir)
    try:
        rows = run_drift_study(
            args.datasets, kernels=args.kernels, method=args.method, k=args.k, n_seeds=args.n_seeds,
            times=args.times, device=args.device, data_home=args.data_home, max_train=args.max_train,
            n_jobs=args.n_jobs, csv_path=output_dir / "drift.csv", progress=not args.quiet,
            protocol=args.protocol, backend=args.backend, scheduler=args.scheduler,
        )
    except (FileNotFoundError, ImportError) as exc:
        print(f"python -m sklearn_aimc drift: error: {exc}", file=sys.stderr)
        return 1
    figures = plot_drift(rows, output_dir)
    seconds = time.perf_counter() - start
    command = shlex.join(["python", "-m", "sklearn_aimc", "drift", *argv])
    lines = [
        "# Drift study on a simulated chip",
        "",
        f"- Command: `{command}`",
        f"- Wall time: {clock(seconds)} ({seconds:.1f} s)",
        f"- Chip: {chip_description(args.device, None)} (read times and compensation set per run)",
        f"- Protocol: {args.protocol}",
    ]
    lines += drift_section(rows)
    lines += ["", "## Figures", ""] + [f"- [{path.name}]({path.name})" for path in figures]
    (output_dir / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {output_dir}: {len(rows)} drift reads ({clock(seconds)})", file=sys.stderr)
    return 0
