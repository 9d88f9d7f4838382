"""The kernel-ridge study of Büchel et al. on a simulated HERMES chip (``reproduce``).

``python -m sklearn_aimc reproduce`` runs the chip experiments of J. Büchel
et al., "Kernel approximation using analogue in-memory computing", Nature
Machine Intelligence 6 (2024): random features of the RBF kernel (gamma 0.05)
and of the arc-cosine kernel of order 0, sampled as RFF, ORF or SORF with
``s = 2**k d - k`` projections (k = 1 .. 5), a closed-form ridge readout
(alpha 0.5, intercept) fitted in float on the features, test accuracy and the
kernel-approximation error ``||K - K_hat||_F / ||K||_F`` on the first 1000 test
points.  Every configuration runs with the projection in float (``"ideal"``
device) and on the simulated chip (the ``AnalogCrossbar()`` preset), over
several seeds; one seed draws the projection and programs the chip.

Two data protocols (``protocol``): ``"default"`` z-scores with the statistics
of the training part and uses scikit-learn's RidgeClassifier; ``"paper"`` is
the paper's own preprocessing and readout (each file z-scored as a whole,
ridge regression on {0, 1} targets, prediction ``round(clip(y, 0, 1))``); see
:ref:`paper-protocol`.

After it, the drift study of :mod:`sklearn_aimc.experiments.drift` runs.  Each
run is :func:`sklearn_aimc.study.evaluate`; this module schedules the runs over
seeds (joblib, or a dask cluster with ``backend="dask"``), records them
(``runs.csv``), summarises them (``summary.md``) and draws the paper-style
figures.  :func:`reproduce` chains the steps and :func:`main` is the command
line.
"""

import argparse
import shlex
import sys
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.base import clone

from ..datasets import DATASETS, ENV_VAR, PROTOCOLS
from ..study import KERNELS, evaluate
from . import _plotting
from ._common import (
    ALPHA,
    DEVICE_PRESETS,
    FLOAT_DEVICE,
    GAMMA,
    KS,
    METHODS,
    N_KERNEL_POINTS,
    READOUTS,
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
from ._data import load_split, split_sizes
from ._records import RUN_COLUMNS, CsvLog, machine_info, make_row, read_runs
from ._report import markdown_table, pm, summarize
from ._runner import BACKENDS, Executor, clock, run_tasks
from .drift import DRIFT_TIMES, drift_section, plot_drift, run_drift_study

__all__ = [
    "FULL",
    "METHODS",
    "PAPER_DATASETS",
    "PAPER_FLOAT_ACCURACY",
    "QUICK",
    "RUN_COLUMNS",
    "best_k_accuracy",
    "build_parser",
    "load_split",
    "machine_info",
    "main",
    "plot_study",
    "read_runs",
    "reproduce",
    "run_study",
    "summarize",
    "write_summary",
]

#: The six datasets of the paper's chip experiments, in the paper's order.
PAPER_DATASETS = ("ijcnn1", "magic04", "letter", "skin", "eeg", "cod-rna")

#: The paper's float accuracies (%), mean over RFF / ORF / SORF of each
#: method's best k, per (kernel, dataset) (Büchel et al. 2024).
PAPER_FLOAT_ACCURACY = {
    ("rbf", "cod-rna"): 96.18,
    ("rbf", "letter"): 92.89,
    ("rbf", "eeg"): 63.73,
    ("rbf", "ijcnn1"): 93.12,
    ("rbf", "skin"): 98.32,
    ("rbf", "magic04"): 86.35,
    ("arccos", "cod-rna"): 93.68,
    ("arccos", "letter"): 83.01,
    ("arccos", "eeg"): 67.92,
    ("arccos", "ijcnn1"): 92.78,
    ("arccos", "skin"): 94.98,
    ("arccos", "magic04"): 81.66,
}

#: Settings of ``--quick`` (a CI smoke test of a few seconds); explicit options win.
QUICK = {
    "datasets": ("magic04",),
    "kernels": ("rbf",),
    "methods": ("rff",),
    "ks": (1, 2),
    "n_seeds": 2,
    "max_train": 2000,
    "max_test": 1000,
    "drift_times": (1.0, 3600.0, 360 * 86400.0),
}

#: Defaults of the full reproduction (the paper's settings).
FULL = {
    "datasets": PAPER_DATASETS,
    "kernels": KERNELS,
    "methods": METHODS,
    "ks": KS,
    "n_seeds": 10,
    "max_train": None,
    "max_test": None,
    "drift_times": DRIFT_TIMES,
}

# Relative cost of a run, for the progress bar's ETA: one output feature of
# one sample (projection, read chain, cos / sin, scoring) against one
# multiply-add of the ridge's Gram matrix (n_train * n_out**2).
_GRAM_COST = 1 / 250


# --------------------------------------------------------------------------- #
# Runs
# --------------------------------------------------------------------------- #
def _study_task(config, seed, split=None):
    """Float and chip run of one configuration and seed (runs in a worker)."""
    X_train, X_test, y_train, y_test = config.split() if split is None else split
    common = dict(
        kernel=config.kernel,
        gamma=config.gamma,
        sampling=config.method,
        n_components=config.s,
        random_state=seed,
        alpha=config.alpha,
        n_kernel_points=config.n_kernel_points,
        readout=config.readout,
    )
    chip = config.device
    runs = (
        ("ideal", FLOAT_DEVICE, None, None),
        (clone(chip), config.device_name, chip.t_inference, compensation_name(chip.drift_compensation)),
    )
    rows = []
    with one_thread_quietly():
        for device, name, t_inference, compensation in runs:
            result = evaluate(X_train, y_train, X_test, y_test, device=device, **common)
            rows.append(
                make_row(config, seed, name, t_inference, compensation,
                         result["accuracy"], result["kernel_error"], result["seconds"])
            )
    return rows


def _study_cost(config, sizes):
    n_train, n_test = sizes[config.dataset]
    m = n_outputs(config.kernel, config.s)
    return (n_train + n_test) * m + _GRAM_COST * n_train * m * m


def run_study(
    datasets=PAPER_DATASETS,
    *,
    kernels=KERNELS,
    methods=METHODS,
    ks=KS,
    n_seeds=10,
    device="hermes",
    t_inference=None,
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
    """Float versus simulated-chip runs of every configuration and seed.

    For every (dataset, kernel, method, k, seed), :func:`sklearn_aimc.study.evaluate`
    runs once with the projection in float (device ``"ideal"``) and once on
    the chip, with ``s = 2**k d - k`` projections.  The seed draws the
    projection and programs the chip; every seed uses the same data split.
    Runs execute in parallel (one BLAS thread each) on joblib's process pool
    or a dask cluster, and the rows come back in a fixed order, so results do
    not depend on ``n_jobs`` or the backend.

    Parameters
    ----------
    datasets : sequence of str, default=PAPER_DATASETS
        Keys of :data:`sklearn_aimc.datasets.DATASETS`.
    kernels : sequence of {"rbf", "arccos"}, default=("rbf", "arccos")
        RBF with ``gamma``, arc-cosine of order 0.
    methods : sequence of {"rff", "orf", "sorf"}, default=METHODS
    ks : sequence of int, default=(1, 2, 3, 4, 5)
    n_seeds : int, default=10
        Seeds ``0 .. n_seeds - 1``.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        The simulated chip (a preset name or a configuration).
    t_inference : float, default=None
        Seconds between programming and the reads; the preset's when None.
    data_home, source, max_train, max_test
        See :func:`load_split`.
    gamma : float, default=0.05
    alpha : float, default=0.5
    n_kernel_points : int, default=1000
    n_jobs : int, default=2
        Parallel runs (joblib), or workers of the dask LocalCluster; each uses
        one core.
    csv_path : str or path-like, default=None
        Write the rows there (``RUN_COLUMNS``), each flushed when its run ends,
        so an interrupted study keeps its finished runs.
    progress : bool, default=True
        A progress bar (counts, ETA) on stderr when it is a terminal, and a
        one-line summary at the end; False prints nothing.
    protocol : {"default", "paper"}, default="default"
        The data preprocessing (:func:`~sklearn_aimc.datasets.load_benchmark`)
        and the readout (:data:`READOUTS`): ``"paper"`` is the paper's own.
    backend : {"loky", "dask"}, default="loky"
        Where runs execute: joblib's process pool, or a dask distributed
        cluster (needs the ``dask`` extra).
    scheduler : str, default=None
        Address of a running dask scheduler (``"tcp://host:8786"``); None
        starts a :class:`~distributed.LocalCluster` of ``n_jobs`` workers.
    executor : Executor, default=None
        An open executor to run on instead (used by :func:`reproduce` to share
        one cluster between the studies); overrides the three options above.

    Returns
    -------
    rows : list of dict
        Two per configuration and seed (float first), with the keys of
        :data:`RUN_COLUMNS`: ``device`` is ``"float"`` for the float runs
        (device ``"ideal"``; their ``t_inference`` and ``drift_compensation``
        are None) and the preset name (``"custom"`` for an AnalogCrossbar)
        for the chip, whose ``drift_compensation`` is ``"none"``,
        ``"global"`` or ``"per_column"``; ``seconds`` is the run's wall time (fit,
        transforms, ridge, kernel error).

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import run_study, summarize
    >>> rows = run_study(["magic04"], kernels=["rbf"], methods=["rff"], ks=[1], n_seeds=2,
    ...                  data_home="datasets/", protocol="paper")  # doctest: +SKIP
    >>> [(row["seed"], row["device"]) for row in rows]  # doctest: +SKIP
    [(0, 'float'), (0, 'hermes'), (1, 'float'), (1, 'hermes')]
    """
    datasets = check_choices(datasets, tuple(DATASETS), "datasets")
    kernels = check_choices(kernels, KERNELS, "kernels")
    methods = check_choices(methods, METHODS, "methods")
    check_choices([protocol], PROTOCOLS, "protocol")
    ks = check_ks(ks)
    n_seeds = check_positive(n_seeds, "n_seeds")
    sizes = split_sizes(datasets, data_home, source, max_train, max_test, protocol)
    chosen = list(
        configs(datasets, kernels, methods, ks, device=device, t_inference=t_inference,
                data_home=data_home, source=source, max_train=max_train, max_test=max_test,
                gamma=gamma, alpha=alpha, n_kernel_points=n_kernel_points, protocol=protocol)
    )
    tasks = [(config, seed) for config in chosen for seed in range(n_seeds)]
    labels = [f"{config.label()} seed {seed}" for config, seed in tasks]
    running = Executor(backend, n_jobs, scheduler) if executor is None else nullcontext(executor)
    with CsvLog(csv_path) as log, running as running:
        results = run_tasks(
            _study_task, tasks, costs=[_study_cost(config, sizes) for config, _ in tasks],
            labels=labels, desc="study", executor=running,
            data_of=lambda task: task[0].split(), progress=progress,
            on_result=lambda task, task_rows: log.write(task_rows),
        )
    return [row for task_rows in results for row in task_rows]


# --------------------------------------------------------------------------- #
# Summaries
# --------------------------------------------------------------------------- #
def best_k_accuracy(summary, dataset, kernel, kind="float"):
    """Mean over the methods of each method's best accuracy over k (the paper's figure).

    Parameters
    ----------
    summary : list of dict
        From :func:`summarize`.
    dataset, kernel : str
    kind : {"float", "chip"}, default="float"

    Returns
    -------
    accuracy : float or None
        In percent; None if the summary has no such configuration.

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import best_k_accuracy
    >>> summary = [dict(dataset="eeg", kernel="rbf", method=m, k=k, float_accuracy=(a, 0.0))
    ...            for m, k, a in [("rff", 1, 0.60), ("rff", 2, 0.64), ("orf", 1, 0.62)]]
    >>> round(best_k_accuracy(summary, "eeg", "rbf"), 6)
    63.0
    """
    best = {}
    for item in summary:
        if (item["dataset"], item["kernel"]) == (dataset, kernel):
            value = item[f"{kind}_accuracy"][0]
            best[item["method"]] = max(best.get(item["method"], -np.inf), value)
    return 100 * float(np.mean(list(best.values()))) if best else None


def _paper_section(summary, chip, protocol):
    pairs = [(dataset, kernel) for kernel in KERNELS for dataset in dict.fromkeys(
        item["dataset"] for item in summary) if (kernel, dataset) in PAPER_FLOAT_ACCURACY]
    pairs = [pair for pair in pairs if best_k_accuracy(summary, *pair) is not None]
    if not pairs:
        return []
    table = []
    for dataset, kernel in pairs:
        ours = best_k_accuracy(summary, dataset, kernel)
        paper = PAPER_FLOAT_ACCURACY[(kernel, dataset)]
        on_chip = best_k_accuracy(summary, dataset, kernel, "chip")
        table.append([dataset, kernel, f"{paper:.2f}", f"{ours:.2f}", f"{ours - paper:+.2f}",
                      "yes" if abs(ours - paper) <= 0.5 else "no", f"{on_chip:.2f}",
                      f"{on_chip - ours:+.2f}"])
    within = sum(row[5] == "yes" for row in table)
    return [
        "",
        "## Against the paper's float figures",
        "",
        f"Protocol `{protocol}`. Accuracy (%) = mean over the methods run of each method's best "
        "k (mean over seeds), the figure the paper reports; within 0.5 pp of the paper's float "
        f"figure in {within} of {len(table)} (dataset, kernel) pairs.",
        "",
        markdown_table(["dataset", "kernel", "paper float", "float", "float - paper (pp)",
                        "within 0.5 pp", chip, f"{chip} - float (pp)"], table),
    ]


def _largest_k_section(summary, chip):
    methods = list(dict.fromkeys(item["method"] for item in summary))
    by_key = {(i["dataset"], i["kernel"], i["method"], i["k"]): i for i in summary}
    header = ["dataset", "kernel", "k", "s"]
    for method in methods:
        header += [f"{method.upper()} float (%)", f"{method.upper()} {chip} (%)"]
    header.append("largest drop (pp)")
    table, drops = [], []
    for dataset, kernel in dict.fromkeys((i["dataset"], i["kernel"]) for i in summary):
        k = max(i["k"] for i in summary if (i["dataset"], i["kernel"]) == (dataset, kernel))
        items = [by_key.get((dataset, kernel, method, k)) for method in methods]
        present = [item for item in items if item is not None]
        row = [dataset, kernel, k, present[0]["s"]]
        for item in items:
            row += (["-", "-"] if item is None else
                    [f"{100 * item['float_accuracy'][0]:.2f}", f"{100 * item['chip_accuracy'][0]:.2f}"])
        worst = max(item["drop"][0] for item in present)
        drops += [item["drop"][0] for item in present]
        row.append(f"{worst:.2f}")
        table.append(row)
    within = sum(drop <= 1.0 for drop in drops)
    return [
        "",
        f"## Largest k: float vs simulated {chip} accuracy",
        "",
        markdown_table(header, table),
        "",
        f"Mean accuracy drop within 1 percentage point (the paper's finding on the chip) in "
        f"{within} of {len(drops)} (dataset, kernel, method) configurations at the largest k.",
    ]


def write_summary(
    path,
    rows,
    drift_rows=(),
    *,
    command="",
    wall_time=None,
    settings=None,
    sizes=None,
    figures=(),
    figure_note=None,
    protocol="default",
):
    """Write ``summary.md``: tables, command line, machine and wall time.

    Parameters
    ----------
    path : str or path-like
    rows : list of dict
        Rows of :func:`run_study`.
    drift_rows : list of dict, default=()
        Rows of :func:`~sklearn_aimc.experiments.drift.run_drift_study` (the
        drift section is left out if empty).
    command : str, default=""
        The command line (or call) that produced the results.
    wall_time : float, default=None
        Seconds the whole reproduction took.
    settings : dict, default=None
        Printed as a list (e.g. kernels, methods, k, seeds, chip).
    sizes : dict, default=None
        ``dataset -> (n_train, n_test)`` of the data used.
    figures : sequence of str, default=()
        File names of the figures, listed at the end.
    figure_note : str, default=None
        Printed instead when no figure was drawn (e.g. no matplotlib).
    protocol : {"default", "paper"}, default="default"
        The data protocol of the rows, named in the comparison with the paper.

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import read_runs, write_summary
    >>> rows = read_runs("results/runs.csv")  # doctest: +SKIP
    >>> write_summary("results/summary.md", rows, command="by hand")  # doctest: +SKIP
    PosixPath('results/summary.md')
    """
    path = Path(path)
    summary = summarize(rows)
    chip = chip_label(summary[0]["chip"]) if summary else "chip"
    machine = machine_info()
    out = [
        f"# Kernel approximation on a simulated {chip} chip: reproduction",
        "",
        "Reproduction of the chip experiments of J. Büchel et al., \"Kernel approximation using "
        "analogue in-memory computing\", Nature Machine Intelligence 6 (2024): random features "
        "(projection on the chip, nonlinearity in float), closed-form ridge readout "
        f"(alpha {ALPHA}, intercept) fitted in float, test accuracy, and the kernel error "
        "||K - K_hat||_F / ||K||_F on the first 1000 test points; mean ± std over seeds "
        "(population std). `float` is the same projection computed exactly.",
        "",
        f"- Command: `{command}`",
        f"- Finished: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')}",
    ]
    if wall_time is not None:
        out.append(f"- Wall time: {clock(wall_time)} ({wall_time:.1f} s)")
    out += [
        f"- Machine: {machine['platform']}, {machine['processor']}, {machine['cpu_count']} CPUs, "
        f"Python {machine['python']}, BLAS {machine['blas']}",
        f"- Packages: {machine['packages']}",
    ]
    for name, value in (settings or {}).items():
        out.append(f"- {name}: {value}")
    if sizes:
        out += ["", "## Data", ""]
        out.append(
            markdown_table(
                ["dataset", "train rows", "test rows", "d"],
                [[name, n_train, n_test, DATASETS[name].n_features]
                 for name, (n_train, n_test) in sizes.items()],
            )
        )
    if summary:
        out += _paper_section(summary, chip, protocol)
        out += _largest_k_section(summary, chip)
        out += ["", "## All configurations", ""]
        header = ["kernel", "method", "k", "s", "float acc (%)", f"{chip} acc (%)", "drop (pp)",
                  "float K error", f"{chip} K error"]
        for dataset in dict.fromkeys(item["dataset"] for item in summary):
            items = [item for item in summary if item["dataset"] == dataset]
            out += [f"### {dataset} (d = {DATASETS[dataset].n_features}, "
                    f"{items[0]['n_seeds']} seeds)", ""]
            out.append(
                markdown_table(
                    header,
                    [[item["kernel"], item["method"], item["k"], item["s"],
                      pm(item["float_accuracy"], 100), pm(item["chip_accuracy"], 100),
                      pm(item["drop"]), pm(item["float_kernel_error"], digits=4),
                      pm(item["chip_kernel_error"], digits=4)] for item in items],
                )
            )
            out.append("")
    out += drift_section(list(drift_rows), rows)
    out += ["", "## Figures", ""]
    if figures:
        out += [f"- [{name}]({name})" for name in figures]
    if figure_note:
        out.append(figure_note)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- #
# Figures
# --------------------------------------------------------------------------- #
def plot_study(rows, output_dir):
    """Paper-style figures, one ``figure_<dataset>.png`` per dataset.

    Per kernel (columns): accuracy and kernel error (rows) against
    ``log2(s / d)``; float solid, chip dashed, one colour per method, mean
    with a ± std band over seeds.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`run_study`.
    output_dir : str or path-like

    Returns
    -------
    paths : list of pathlib.Path
        The files written; empty without matplotlib (never an error).

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import plot_study, read_runs
    >>> plot_study(read_runs("results/runs.csv"), "results/")  # doctest: +SKIP
    [PosixPath('results/figure_ijcnn1.png'), ...]
    """
    Figure = _plotting.figure_class()
    summary = summarize(rows)
    if Figure is None or not summary:
        return []
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    chip = chip_label(summary[0]["chip"])
    paths = []
    for dataset in dict.fromkeys(item["dataset"] for item in summary):
        items = [item for item in summary if item["dataset"] == dataset]
        kernels = list(dict.fromkeys(item["kernel"] for item in items))
        methods = list(dict.fromkeys(item["method"] for item in items))
        d = DATASETS[dataset].n_features
        fig = Figure(figsize=(4.2 * len(kernels), 6.4), layout="constrained")
        axes = fig.subplots(2, len(kernels), squeeze=False)
        for column, kernel in enumerate(kernels):
            for color, method in zip(_plotting.COLORS, methods):
                chosen = sorted((i for i in items if (i["kernel"], i["method"]) == (kernel, method)),
                                key=lambda i: i["k"])
                if not chosen:
                    continue
                x = np.log2([i["s"] / d for i in chosen])
                panels = ((axes[0, column], "accuracy", 100), (axes[1, column], "kernel_error", 1))
                for ax, prefix, scale in panels:
                    for kind, style, name in (("float", "-", "float"), ("chip", "--", chip)):
                        values = np.array([i[f"{kind}_{prefix}"] for i in chosen]) * scale
                        _plotting.band(ax, x, values[:, 0], values[:, 1], color, style,
                                       f"{method.upper()} {name}")
            axes[0, column].set_title(f"{dataset}: {kernel}")
            axes[0, column].set_ylabel("test accuracy (%)")
            axes[1, column].set_ylabel("kernel approximation error")
            axes[1, column].set_yscale("log")
            _plotting.plain_log_axis(axes[1, column].yaxis)
            for ax in axes[:, column]:
                ax.set_xlabel("log2(s / d)")
                ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize="small")
        path = output_dir / f"figure_{dataset}.png"
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- #
# The whole reproduction
# --------------------------------------------------------------------------- #
def _resolve_options(options, quick):
    """Fill the options left None from :data:`FULL`, or :data:`QUICK` when ``quick``."""
    resolved = {key: (value if options.get(key) is None else options[key])
                for key, value in (QUICK if quick else FULL).items()}
    if quick:
        resolved["datasets"] = tuple(resolved["datasets"])[:1]
    return resolved


def _data_description(protocol, source, options):
    readout = {"classifier": "RidgeClassifier (sign of the -1 / +1 regression)",
               "regression": "Ridge regression on {0, 1}, round(clip(y_hat, 0, 1))"}
    scaling = {"default": "z-score with the training part's statistics",
               "paper": "each file z-scored as a whole before splitting"}
    return (
        f"protocol {protocol!r} ({scaling[protocol]}; readout {readout[READOUTS[protocol]]}); "
        f"load_benchmark(random_state=0, dtype=float32, source={source!r}); "
        f"max_train={options['max_train']}, max_test={options['max_test']}"
    )


def reproduce(
    datasets=None,
    *,
    kernels=None,
    methods=None,
    ks=None,
    n_seeds=None,
    device="hermes",
    t_inference=None,
    data_home=None,
    source="local",
    output_dir="reproduce-results",
    n_jobs=2,
    max_train=None,
    max_test=None,
    drift=True,
    drift_times=None,
    quick=False,
    progress=True,
    command=None,
    protocol="default",
    backend="loky",
    scheduler=None,
):
    """Run the study and the drift study; write the CSVs, the summary and the figures.

    Options left None take the paper's values (:data:`FULL`: the six chip
    datasets, both kernels, RFF / ORF / SORF, k = 1 .. 5, 10 seeds, all rows,
    the six drift times), or the values of :data:`QUICK` when ``quick``.

    Parameters
    ----------
    datasets, kernels, methods, ks, n_seeds : default=None
        As in :func:`run_study`.
    device, t_inference, data_home, source, n_jobs
        As in :func:`run_study`.
    output_dir : str or path-like, default="reproduce-results"
        Receives ``runs.csv``, ``drift.csv``, ``summary.md``,
        ``figure_<dataset>.png`` and ``drift_<dataset>.png``.
    max_train, max_test : int, default=None
        See :func:`load_split`.
    drift : bool, default=True
        Run the drift study (:func:`~sklearn_aimc.experiments.drift.run_drift_study`)
        on the first two datasets, at the largest k, with RFF and the study's
        kernels.
    drift_times : sequence of float, default=None
        Times of the drift study (``DRIFT_TIMES``; three in quick mode).
    quick : bool, default=False
        A smoke test of a few seconds with the settings of :data:`QUICK`;
        options given explicitly still apply, but only the first dataset is
        used.
    progress : bool, default=True
        Dataset sizes and progress bars on stderr when it is a terminal, and
        a one-line summary per study and at the end; False prints nothing.
    command : str, default=None
        Recorded in ``summary.md``; the Python call is recorded when None.
    protocol : {"default", "paper"}, default="default"
        The data protocol (:func:`run_study`).
    backend : {"loky", "dask"}, default="loky"
        Where runs execute (:func:`run_study`); one cluster serves both studies.
    scheduler : str, default=None
        Address of a running dask scheduler, with ``backend="dask"``.

    Returns
    -------
    result : dict
        ``rows`` and ``drift_rows`` (lists of dict, see :func:`run_study`),
        ``paths`` (dict of pathlib.Path: ``runs``, ``summary``, ``drift`` when
        run, and the list ``figures``) and ``seconds`` (wall time).

    Raises
    ------
    FileNotFoundError
        If a dataset is missing, with ``load_benchmark``'s message; raised
        before any run starts.

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import reproduce
    >>> result = reproduce(quick=True, data_home="datasets/", protocol="paper",
    ...                    output_dir="quick-results")  # doctest: +SKIP
    >>> sorted(result["paths"])  # doctest: +SKIP
    ['drift', 'figures', 'runs', 'summary']
    """
    start = time.perf_counter()
    given = dict(datasets=datasets, kernels=kernels, methods=methods, ks=ks, n_seeds=n_seeds,
                 max_train=max_train, max_test=max_test, drift_times=drift_times)
    options = _resolve_options(given, quick)
    options["datasets"] = check_choices(options["datasets"], tuple(DATASETS), "datasets")
    options["kernels"] = check_choices(options["kernels"], KERNELS, "kernels")
    options["methods"] = check_choices(options["methods"], METHODS, "methods")
    options["ks"] = check_ks(options["ks"])
    check_choices([protocol], PROTOCOLS, "protocol")
    check_choices([backend], BACKENDS, "backend")
    if command is None:
        shown = {key: value for key, value in given.items() if value is not None}
        shown.update(device=device, t_inference=t_inference, drift=drift, quick=quick,
                     protocol=protocol, backend=backend)
        command = "sklearn_aimc.experiments.kernel_ridge.reproduce(" + ", ".join(
            f"{key}={value!r}" for key, value in shown.items()
        ) + ")"
    datasets = options["datasets"]
    sizes = split_sizes(datasets, data_home, source, options["max_train"], options["max_test"],
                        protocol)
    if progress and sys.stderr.isatty():
        for name, (n_train, n_test) in sizes.items():
            print(f"{name}: {n_train} train / {n_test} test rows, d = {DATASETS[name].n_features}",
                  file=sys.stderr)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"runs": output_dir / "runs.csv", "summary": output_dir / "summary.md"}
    common = dict(data_home=data_home, source=source, max_train=options["max_train"],
                  max_test=options["max_test"], progress=progress, protocol=protocol)
    with Executor(backend, n_jobs, scheduler) as executor:
        rows = run_study(
            datasets, kernels=options["kernels"], methods=options["methods"], ks=options["ks"],
            n_seeds=options["n_seeds"], device=device, t_inference=t_inference,
            csv_path=paths["runs"], executor=executor, **common,
        )
        drift_rows = []
        if drift:
            paths["drift"] = output_dir / "drift.csv"
            drift_rows = run_drift_study(
                datasets[:2], kernels=options["kernels"], method="rff", k=max(options["ks"]),
                n_seeds=options["n_seeds"], times=options["drift_times"], device=device,
                csv_path=paths["drift"], executor=executor, **common,
            )
        parallel = executor.description()
    paths["figures"] = plot_study(rows, output_dir) + plot_drift(drift_rows, output_dir, rows)
    figure_note = _plotting.MATPLOTLIB_NOTE if _plotting.figure_class() is None else None
    if figure_note and progress:
        print(figure_note, file=sys.stderr)
    settings = {
        "Kernels": ", ".join(f"{k} (gamma {GAMMA})" if k == "rbf" else f"{k} (order 0)"
                             for k in options["kernels"]),
        "Methods": ", ".join(method.upper() for method in options["methods"]),
        "k (s = 2^k d - k)": ", ".join(map(str, options["ks"])),
        "Seeds": f"0 .. {options['n_seeds'] - 1}",
        "Chip": chip_description(device, t_inference),
        "Data": _data_description(protocol, source, options),
        "Parallel": parallel,
    }
    seconds = time.perf_counter() - start
    write_summary(
        paths["summary"], rows, drift_rows, command=command, wall_time=seconds, settings=settings,
        sizes=sizes, figures=[path.name for path in paths["figures"]], figure_note=figure_note,
        protocol=protocol,
    )
    if progress:
        print(f"wrote {output_dir}: {len(rows)} study runs, {len(drift_rows)} drift reads "
              f"({clock(seconds)})", file=sys.stderr)
    return {"rows": rows, "drift_rows": drift_rows, "paths": paths, "seconds": seconds}


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-zero integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("n_jobs must not be 0 (use 1 for no parallelism)")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (a number >= 0), got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds (a number >= 0), got {text!r}")
    return value


def build_parser():
    """The parser of ``python -m sklearn_aimc reproduce``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import build_parser
    >>> args = build_parser().parse_args(["--protocol", "paper", "--quick"])
    >>> args.protocol, args.quick, args.backend
    ('paper', True, 'loky')
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc reproduce",
        description=(
            "Reproduce the kernel-ridge chip experiments of Büchel et al. (Nature Machine "
            "Intelligence 2024) on a simulated HERMES chip: float vs chip accuracy and kernel "
            "error for RFF / ORF / SORF features of the RBF and arc-cosine kernels, and a drift "
            "study. Writes runs.csv, drift.csv, summary.md and figures to --output-dir."
        ),
    )
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), metavar="NAME",
                        help=f"datasets (default: {' '.join(PAPER_DATASETS)}; also: covtype)")
    parser.add_argument("--kernels", nargs="+", choices=list(KERNELS),
                        help="rbf (gamma 0.05) and/or arccos (order 0); default both")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), help="default: rff orf sorf")
    parser.add_argument("--k", nargs="+", type=_positive_int, dest="ks", metavar="K",
                        help="s = 2^k d - k projections (default 1 2 3 4 5)")
    parser.add_argument("--seeds", type=_positive_int, dest="n_seeds", metavar="N",
                        help="number of seeds (default 10)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="default",
                        help="data preprocessing and readout: 'default' z-scores with the training "
                             "part's statistics (no test leakage); 'paper' is the paper's own "
                             "(each file z-scored as a whole, ridge regression on {0, 1} with "
                             "round(clip(y, 0, 1)))")
    parser.add_argument("--device", choices=DEVICE_PRESETS, default="hermes",
                        help="chip preset (default hermes)")
    parser.add_argument("--t-inference", type=_seconds, metavar="SECONDS",
                        help="read time after programming (default: the preset's, 3600 s)")
    parser.add_argument("--data-home", metavar="DIR",
                        help=f"directory of the .csv.gz files (default: ${ENV_VAR})")
    parser.add_argument("--output-dir", default="reproduce-results", metavar="DIR",
                        help="where results are written (default reproduce-results)")
    parser.add_argument("--backend", choices=BACKENDS, default="loky",
                        help="where runs execute: joblib's process pool (loky, default) or a dask "
                             "distributed cluster (dask; needs the 'dask' extra)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="address of a running dask scheduler, e.g. tcp://10.0.0.1:8786 "
                             "(with --backend dask; default: start a LocalCluster of --n-jobs "
                             "workers)")
    parser.add_argument("--n-jobs", type=_n_jobs, default=2, metavar="N",
                        help="parallel runs, one core each (default 2)")
    parser.add_argument("--max-train", type=_positive_int, metavar="N",
                        help="subsample the training part to N rows (seeded; default: all)")
    parser.add_argument("--drift", action=argparse.BooleanOptionalAction, default=True,
                        help="run the drift study (default: on)")
    parser.add_argument("--quick", action="store_true",
                        help="a few-second smoke test: first dataset (magic04), 2000 train / 1000 "
                             "test rows, k 1 2, 2 seeds, rff, rbf, 3 drift times")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars, only the final summary line (progress bars "
                             "are also off when stderr is not a terminal)")
    return parser


def main(argv=None):
    """``python -m sklearn_aimc reproduce [options]``; returns the exit status.

    Bad options exit with argparse's message (status 2); a missing dataset
    prints ``load_benchmark``'s message and returns 1.

    Parameters
    ----------
    argv : list of str, default=None
        The options; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int

    Examples
    --------
    >>> from sklearn_aimc.experiments import kernel_ridge
    >>> kernel_ridge.main(["--quick", "--data-home", "datasets/"])  # doctest: +SKIP
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.scheduler is not None and args.backend != "dask":
        parser.error("--scheduler needs --backend dask")
    try:
        result = reproduce(
            args.datasets,
            kernels=args.kernels,
            methods=args.methods,
            ks=args.ks,
            n_seeds=args.n_seeds,
            device=args.device,
            t_inference=args.t_inference,
            data_home=args.data_home,
            output_dir=args.output_dir,
            n_jobs=args.n_jobs,
            max_train=args.max_train,
            drift=args.drift,
            quick=args.quick,
            progress=not args.quiet,
            command=shlex.join(["python", "-m", "sklearn_aimc", "reproduce", *argv]),
            protocol=args.protocol,
            backend=args.backend,
            scheduler=args.scheduler,
        )
    except (FileNotFoundError, ImportError) as exc:
        print(f"python -m sklearn_aimc reproduce: error: {exc}", file=sys.stderr)
        return 1
    if args.quiet:
        print(f"wrote {args.output_dir}: {len(result['rows'])} study runs, "
              f"{len(result['drift_rows'])} drift reads ({clock(result['seconds'])})",
              file=sys.stderr)
    return 0
