"""Reproduction of the kernel-ridge study of Büchel et al. on a simulated HERMES chip.

``python -m sklearn_aimc reproduce`` runs the chip experiments of J. Büchel
et al., "Kernel approximation using analogue in-memory computing", Nature
Machine Intelligence 6 (2024): random features of the RBF kernel (gamma 0.05)
and of the arc-cosine kernel of order 0, sampled as RFF, ORF or SORF with
``s = 2**k d - k`` projections (k = 1 .. 5), a closed-form ridge classifier
(alpha 0.5, intercept) fitted in float on the features, test accuracy and the
kernel-approximation error ``||K - K_hat||_F / ||K||_F`` on the first 1000 test
points.  Every configuration runs with the projection in float (``"ideal"``
device) and on the simulated chip (the ``AnalogCrossbar()`` preset), over
several seeds; one seed draws the projection and programs the chip.

A second study (ours; the paper has no drift experiment) follows a deployment
scenario: the chip is programmed once, the classifier is trained on features
read one second after programming, and the test set is read again and again while the devices drift
(1 s to 1 year), without, with global and with per-column drift compensation.

Each run is :func:`sklearn_aimc.study.evaluate`; this module schedules the
runs over seeds with joblib, records them (``runs.csv``, ``drift.csv``),
summarises them (``summary.md``) and draws the paper-style figures.

The building blocks are :func:`load_split`, :func:`run_study`,
:func:`run_drift_study`, :func:`summarize`, :func:`write_summary`,
:func:`plot_study` and :func:`plot_drift`; :func:`reproduce` chains them and
:func:`main` is the command line.
"""

import argparse
import contextlib
import csv
import functools
import math
import os
import platform
import shlex
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import get_data_home
from sklearn.linear_model import RidgeClassifier
from threadpoolctl import threadpool_info, threadpool_limits

from .crossbar import AnalogCrossbar, check_device
from .datasets import DATASETS, ENV_VAR, load_benchmark
from .exceptions import AnalogClippingWarning
from .kernels import kernel_approximation_error
from .study import KERNELS, evaluate, exact_kernel, n_projections, random_features

__all__ = [
    "DRIFT_COMPENSATIONS",
    "DRIFT_TIMES",
    "METHODS",
    "PAPER_DATASETS",
    "QUICK",
    "RUN_COLUMNS",
    "build_parser",
    "load_split",
    "main",
    "plot_drift",
    "plot_study",
    "read_runs",
    "reproduce",
    "run_drift_study",
    "run_study",
    "summarize",
    "write_summary",
]

#: The six datasets of the paper's chip experiments, in the paper's order.
PAPER_DATASETS = ("ijcnn1", "magic04", "letter", "skin", "eeg", "cod-rna")
#: Projection samplings (random, orthogonal, structured orthogonal features).
METHODS = ("rff", "orf", "sorf")
#: ``s = 2**k d - k`` projections for these k.
KS = (1, 2, 3, 4, 5)
#: RBF parameter of the paper.
GAMMA = 0.05
#: Ridge regularisation of the paper.
ALPHA = 0.5
#: The kernel error uses this many test points.
N_KERNEL_POINTS = 1000
#: Seconds since programming read in the drift study: 1 s, 1 min, 1 h, 1 day,
#: 30 days, 1 year (360 days).
DRIFT_TIMES = (1.0, 60.0, 3600.0, 86400.0, 30 * 86400.0, 360 * 86400.0)
#: Drift-compensation modes of the drift study (None: uncompensated).
DRIFT_COMPENSATIONS = (None, "global", "per_column")
#: The training features of the drift study are read this long after programming.
DRIFT_TRAIN_TIME = 1.0
#: Device presets accepted by ``--device`` (names understood by ``check_device``).
DEVICE_PRESETS = ("hermes", "ideal")
#: Columns of ``runs.csv`` and ``drift.csv``, in order.
RUN_COLUMNS = (
    "dataset",
    "kernel",
    "method",
    "k",
    "s",
    "seed",
    "device",
    "t_inference",
    "drift_compensation",
    "accuracy",
    "kernel_error",
    "seconds",
)
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
#: ``device`` of the float reference runs in the records (the ``"ideal"`` device).
FLOAT_DEVICE = "float"

# Relative cost of a run, for the progress bar's ETA: one output feature of
# one sample (projection, read chain, cos / sin, scoring) against one
# multiply-add of the ridge's Gram matrix (n_train * n_out**2).
_GRAM_COST = 1 / 250


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #
def _resolve_data_home(data_home):
    """The directory ``load_benchmark`` reads, fixed in the parent process.

    joblib workers may outlive a change of the environment, so they get the
    resolved path rather than ``None``.
    """
    if data_home is not None:
        return str(Path(data_home).expanduser())
    if os.environ.get(ENV_VAR):
        return str(Path(os.environ[ENV_VAR]).expanduser())
    return str(Path(get_data_home()) / "sklearn_aimc")


def load_split(name, *, data_home=None, source="local", max_train=None, max_test=None):
    """The paper's split of a benchmark, float32, optionally shortened.

    Calls :func:`sklearn_aimc.datasets.load_benchmark` with ``random_state=0``
    and ``dtype=numpy.float32``: one split (and one z-scoring, on the full
    training part) for every seed of the study.

    Parameters
    ----------
    name : str
        A key of :data:`sklearn_aimc.datasets.DATASETS`.
    data_home : str or path-like, default=None
        Directory of the ``.csv.gz`` files; None uses ``SKLEARN_AIMC_DATA``,
        as :func:`~sklearn_aimc.datasets.load_benchmark` does.
    source : {"local", "auto", "openml"}, default="local"
        Passed to ``load_benchmark``.  The study reads the local files only by
        default: OpenML tables lack the official splits of ijcnn1, cod-rna
        and letter.
    max_train : int, default=None
        Keep at most this many training rows: a random subset (seed 0) in
        the original order.
    max_test : int, default=None
        Keep at most the first ``max_test`` test rows.

    Returns
    -------
    X_train, X_test : ndarray of float32, read-only
    y_train, y_test : ndarray of int64, read-only

    Raises
    ------
    FileNotFoundError
        With ``load_benchmark``'s message (where it looked, how to get the data).
    """
    X_train, X_test, y_train, y_test = load_benchmark(
        name, data_home=data_home, source=source, random_state=0, dtype=np.float32, return_X_y=True
    )
    if max_train is not None and max_train < len(y_train):
        keep = np.sort(np.random.default_rng(0).choice(len(y_train), max_train, replace=False))
        X_train, y_train = X_train[keep], y_train[keep]
    if max_test is not None:
        X_test, y_test = X_test[:max_test], y_test[:max_test]
    arrays = tuple(np.ascontiguousarray(a) for a in (X_train, X_test, y_train, y_test))
    for array in arrays:
        array.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=2)
def _cached_split(name, data_home, source, max_train, max_test):
    """:func:`load_split`, once per process (joblib workers load their own copy)."""
    return load_split(
        name, data_home=data_home, source=source, max_train=max_train, max_test=max_test
    )


# --------------------------------------------------------------------------- #
# Runs
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Config:
    """One (dataset, kernel, method, k) configuration and everything a worker needs."""

    dataset: str
    kernel: str
    method: str
    k: int
    s: int
    data_home: str
    source: str
    max_train: int | None
    max_test: int | None
    device_name: str
    device: AnalogCrossbar
    gamma: float
    alpha: float
    n_kernel_points: int

    def split(self):
        return _cached_split(self.dataset, self.data_home, self.source, self.max_train, self.max_test)

    def label(self):
        return f"{self.dataset} {self.kernel} {self.method} k={self.k} (s={self.s})"


def _row(config, seed, device_name, t_inference, compensation, accuracy, kernel_error, seconds):
    return {
        "dataset": config.dataset,
        "kernel": config.kernel,
        "method": config.method,
        "k": config.k,
        "s": config.s,
        "seed": seed,
        "device": device_name,
        "t_inference": None if t_inference is None else float(t_inference),
        "drift_compensation": compensation,
        "accuracy": float(accuracy),
        "kernel_error": float(kernel_error),
        "seconds": float(seconds),
    }


def _compensation_name(mode):
    return "none" if mode is None else mode


@contextlib.contextmanager
def _one_thread_quietly():
    """One BLAS / OpenMP thread per run, and no clipping warnings.

    One thread: ``n_jobs`` runs use ``n_jobs`` cores (the package's row
    threads follow the BLAS limit), and the numbers cannot depend on
    ``n_jobs``.  The chip's clipping warnings are expected (one-hot features
    of ijcnn1 clip the DAC) and would garble the progress bar.
    """
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalogClippingWarning)
        yield


def _study_task(config, seed):
    """Float and chip run of one configuration and seed (runs in a worker)."""
    X_train, X_test, y_train, y_test = config.split()
    common = dict(
        kernel=config.kernel,
        gamma=config.gamma,
        sampling=config.method,
        n_components=config.s,
        random_state=seed,
        alpha=config.alpha,
        n_kernel_points=config.n_kernel_points,
    )
    chip = config.device
    runs = (
        ("ideal", FLOAT_DEVICE, None, None),
        (clone(chip), config.device_name, chip.t_inference, _compensation_name(chip.drift_compensation)),
    )
    rows = []
    with _one_thread_quietly():
        for device, name, t_inference, compensation in runs:
            result = evaluate(X_train, y_train, X_test, y_test, device=device, **common)
            rows.append(
                _row(config, seed, name, t_inference, compensation,
                     result["accuracy"], result["kernel_error"], result["seconds"])
            )
    return rows


def _preset(device, t_inference=None):
    """The chip of a preset name (or a copy of an AnalogCrossbar), read at ``t_inference``."""
    chip = clone(check_device(device))
    if t_inference is not None:
        chip.set_params(t_inference=float(t_inference))
    return chip


def _device_name(device):
    return device if isinstance(device, str) else "custom"


def _configs(datasets, kernels, methods, ks, *, device, t_inference, data_home, source,
             max_train, max_test, gamma, alpha, n_kernel_points):
    chip = _preset(device, t_inference)
    home = _resolve_data_home(data_home)
    for dataset in datasets:
        d = DATASETS[dataset].n_features
        for kernel in kernels:
            for method in methods:
                for k in ks:
                    yield _Config(
                        dataset, kernel, method, int(k), n_projections(d, int(k)), home, source,
                        max_train, max_test, _device_name(device), chip, float(gamma), float(alpha),
                        int(n_kernel_points),
                    )


def _n_outputs(kernel, s):
    return 2 * s if kernel == "rbf" else s


def _study_cost(config, sizes):
    n_train, n_test = sizes[config.dataset]
    m = _n_outputs(config.kernel, config.s)
    return (n_train + n_test) * m + _GRAM_COST * n_train * m * m


def _check_choices(values, allowed, what):
    values = tuple(dict.fromkeys(values))  # drop duplicates, keep the order
    bad = [value for value in values if value not in allowed]
    if bad or not values:
        raise ValueError(f"{what} must be a non-empty subset of {list(allowed)}, got {list(values)}.")
    return values


def _check_ks(ks):
    ks = tuple(dict.fromkeys(int(k) for k in ks))
    if not ks or min(ks) < 1:
        raise ValueError(f"k values must be integers >= 1, got {list(ks)}.")
    return ks


def _sizes(datasets, data_home, source, max_train, max_test):
    """(n_train, n_test) per dataset; loads every dataset, so a missing one fails early."""
    home = _resolve_data_home(data_home)
    sizes = {}
    for dataset in datasets:
        try:
            X_train, X_test, _, _ = _cached_split(dataset, home, source, max_train, max_test)
        except FileNotFoundError:
            # Load again with the caller's data_home: load_benchmark's message
            # then says where the lookup started (argument, environment, default).
            load_split(dataset, data_home=data_home, source=source)
            raise
        sizes[dataset] = (X_train.shape[0], X_test.shape[0])
    return sizes


class _CsvLog:
    """``RUN_COLUMNS`` rows appended to a CSV file and flushed one by one."""

    def __init__(self, path):
        self.path = None if path is None else Path(path)

    def __enter__(self):
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(RUN_COLUMNS)
            self._handle.flush()
        return self

    def write(self, rows):
        if self.path is None:
            return
        for row in rows:
            self._writer.writerow(["" if row[name] is None else row[name] for name in RUN_COLUMNS])
        self._handle.flush()

    def __exit__(self, *exc_info):
        if self.path is not None:
            self._handle.close()
        return False


def read_runs(path):
    """Read ``runs.csv`` or ``drift.csv`` back into the rows that produced it.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    rows : list of dict
        With the types of :func:`run_study` (empty fields become None).
    """
    types = {"k": int, "s": int, "seed": int, "t_inference": float, "accuracy": float,
             "kernel_error": float, "seconds": float}
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            {name: (None if value == "" else types.get(name, str)(value)) for name, value in row.items()}
            for row in csv.DictReader(handle)
        ]


class _Progress:
    """A one-line progress bar on stderr: done / total, elapsed, ETA, current item.

    The ETA weighs every task by an estimated cost.  On a terminal the line
    is redrawn in place; otherwise (logs) a line is written at most every
    ``log_interval`` seconds.
    """

    def __init__(self, title, costs, stream=None, enabled=True, log_interval=30.0):
        self.title = title
        self.costs = np.asarray(costs, dtype=float)
        self.total_cost = float(self.costs.sum()) or 1.0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_interval = log_interval
        self.done = 0
        self.done_cost = 0.0
        self.start = time.perf_counter()
        self._last_draw = -math.inf
        self._width = 0

    def update(self, label):
        self.done_cost += self.costs[self.done]
        self.done += 1
        now = time.perf_counter()
        finished = self.done == len(self.costs)
        interval = 0.2 if self.is_tty else self.log_interval
        if finished or now - self._last_draw >= interval:
            self._draw(label, now, finished)

    def line(self, label, now=None):
        elapsed = (time.perf_counter() if now is None else now) - self.start
        fraction = self.done_cost / self.total_cost
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else math.nan
        return (
            f"{self.title}: {self.done}/{len(self.costs)} ({100 * fraction:.0f}%) "
            f"elapsed {_clock(elapsed)} ETA {_clock(eta)} | {label}"
        )

    def _draw(self, label, now, finished):
        if not self.enabled:
            return
        self._last_draw = now
        text = self.line(label, now)
        if self.is_tty:
            padding = " " * max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + padding + ("\n" if finished else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _clock(seconds):
    if not np.isfinite(seconds):
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _parallel(n_jobs):
    return Parallel(n_jobs=n_jobs, return_as="generator")


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
):
    """Float versus simulated-chip runs of every configuration and seed.

    For every (dataset, kernel, method, k, seed), :func:`sklearn_aimc.study.evaluate`
    runs once with the projection in float (device ``"ideal"``) and once on
    the chip, with ``s = 2**k d - k`` projections.  The seed draws the
    projection and programs the chip; every seed uses the same data split.
    Seeds run in parallel (joblib, one BLAS thread per run), and the rows
    come back in a fixed order, so results do not depend on ``n_jobs``.

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
        Parallel runs (joblib); each uses one core.
    csv_path : str or path-like, default=None
        Write the rows there (``RUN_COLUMNS``), each flushed when its run ends,
        so an interrupted study keeps its finished runs.
    progress : bool, default=True
        Show a progress bar on stderr.

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
    """
    datasets = _check_choices(datasets, tuple(DATASETS), "datasets")
    kernels = _check_choices(kernels, KERNELS, "kernels")
    methods = _check_choices(methods, METHODS, "methods")
    ks = _check_ks(ks)
    n_seeds = _check_positive(n_seeds, "n_seeds")
    sizes = _sizes(datasets, data_home, source, max_train, max_test)
    configs = list(
        _configs(datasets, kernels, methods, ks, device=device, t_inference=t_inference,
                 data_home=data_home, source=source, max_train=max_train, max_test=max_test,
                 gamma=gamma, alpha=alpha, n_kernel_points=n_kernel_points)
    )
    tasks = [(config, seed) for config in configs for seed in range(n_seeds)]
    bar = _Progress("study", [_study_cost(config, sizes) for config, _ in tasks], enabled=progress)
    rows = []
    with _CsvLog(csv_path) as log:
        results = _parallel(n_jobs)(delayed(_study_task)(config, seed) for config, seed in tasks)
        for (config, seed), task_rows in zip(tasks, results):
            log.write(task_rows)
            rows.extend(task_rows)
            bar.update(f"{config.label()} seed {seed}")
    return rows


def _check_positive(value, name):
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


# --------------------------------------------------------------------------- #
# Drift study
# --------------------------------------------------------------------------- #
def _drift_task(config, seed, compensation, times):
    """Program one chip, train at 1 s, read the test set at every time (no refit)."""
    X_train, X_test, y_train, y_test = config.split()
    chip = clone(config.device).set_params(
        t_inference=DRIFT_TRAIN_TIME, drift_compensation=compensation
    )
    rows = []
    with _one_thread_quietly():
        features = random_features(
            config.kernel, config.s, gamma=config.gamma, sampling=config.method,
            device=chip, random_state=seed,
        )
        classifier = RidgeClassifier(alpha=config.alpha).fit(features.fit_transform(X_train), y_train)
        points = X_test[: config.n_kernel_points]
        K = exact_kernel(config.kernel, points, config.gamma)
        for t in times:
            start = time.perf_counter()
            features.set_params(device__t_inference=float(t))  # same chip, read later
            phi_test = features.transform(X_test)
            accuracy = classifier.score(phi_test, y_test)
            phi = phi_test[: config.n_kernel_points]
            error = kernel_approximation_error(K, phi @ phi.T)
            rows.append(
                _row(config, seed, config.device_name, t, _compensation_name(compensation),
                     accuracy, error, time.perf_counter() - start)
            )
    return rows


def run_drift_study(
    datasets=PAPER_DATASETS[:2],
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
):
    """Accuracy and kernel error of a deployed chip while its devices drift.

    For every dataset, kernel, seed and drift-compensation mode, the chip is
    programmed once (the same seed gives the same chip in every mode), the
    training features are read ``DRIFT_TRAIN_TIME`` (1 s) after programming
    and the ridge classifier is fitted on them; then the test features are
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
        As in :func:`run_study`.

    Returns
    -------
    rows : list of dict
        One per dataset, kernel, seed, mode and time, with the keys of
        :data:`RUN_COLUMNS`; ``drift_compensation`` is ``"none"``,
        ``"global"`` or ``"per_column"``; ``seconds`` is the time of that
        read (test transform, scoring and kernel error; programming and
        training excluded).
    """
    datasets = _check_choices(datasets, tuple(DATASETS), "datasets")
    kernels = _check_choices(kernels, KERNELS, "kernels")
    _check_choices([method], METHODS, "method")
    compensations = tuple(dict.fromkeys(compensations))
    _check_choices(compensations, DRIFT_COMPENSATIONS, "compensations")
    times = tuple(float(t) for t in times)
    if not times or min(times) < 0:
        raise ValueError(f"times must be a non-empty sequence of seconds >= 0, got {list(times)}.")
    n_seeds = _check_positive(n_seeds, "n_seeds")
    (k,) = _check_ks([k])
    sizes = _sizes(datasets, data_home, source, max_train, max_test)
    configs = list(
        _configs(datasets, kernels, [method], [k], device=device, t_inference=None,
                 data_home=data_home, source=source, max_train=max_train, max_test=max_test,
                 gamma=gamma, alpha=alpha, n_kernel_points=n_kernel_points)
    )
    tasks = [(c, seed, mode) for c in configs for seed in range(n_seeds) for mode in compensations]

    def cost(config):
        n_train, n_test = sizes[config.dataset]
        m = _n_outputs(config.kernel, config.s)
        return n_train * m + _GRAM_COST * n_train * m * m + len(times) * n_test * m

    bar = _Progress("drift", [cost(config) for config, _, _ in tasks], enabled=progress)
    rows = []
    with _CsvLog(csv_path) as log:
        results = _parallel(n_jobs)(
            delayed(_drift_task)(config, seed, mode, times) for config, seed, mode in tasks
        )
        for (config, seed, mode), task_rows in zip(tasks, results):
            log.write(task_rows)
            rows.extend(task_rows)
            bar.update(f"{config.label()} seed {seed} compensation {_compensation_name(mode)}")
    return rows


# --------------------------------------------------------------------------- #
# Summaries
# --------------------------------------------------------------------------- #
def _stats(values, scale=1.0):
    values = np.asarray(values, dtype=float) * scale
    return float(values.mean()), float(values.std())


def summarize(rows):
    """Mean and standard deviation over seeds of every configuration.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`run_study` (float and chip runs).

    Returns
    -------
    summary : list of dict
        One per (dataset, kernel, method, k), in the order of ``rows``, with
        ``dataset, kernel, method, k, s, chip`` (the chip's device name),
        ``n_seeds``, and ``(mean, std)`` pairs: ``float_accuracy``,
        ``chip_accuracy`` (fractions), ``drop`` (float minus chip accuracy,
        paired by seed, in percentage points), ``float_kernel_error`` and
        ``chip_kernel_error``.
    """
    groups = {}
    for row in rows:
        key = (row["dataset"], row["kernel"], row["method"], row["k"])
        group = groups.setdefault(key, {"s": row["s"], "float": {}, "chip": {}, "chip_name": None})
        if row["device"] == FLOAT_DEVICE:
            group["float"][row["seed"]] = row
        else:
            group["chip"][row["seed"]] = row
            group["chip_name"] = row["device"]
    summary = []
    for (dataset, kernel, method, k), group in groups.items():
        seeds = sorted(set(group["float"]) & set(group["chip"]))
        if not seeds:
            continue
        exact = [group["float"][seed] for seed in seeds]
        chip = [group["chip"][seed] for seed in seeds]
        float_acc = np.array([row["accuracy"] for row in exact])
        chip_acc = np.array([row["accuracy"] for row in chip])
        summary.append(
            {
                "dataset": dataset,
                "kernel": kernel,
                "method": method,
                "k": k,
                "s": group["s"],
                "chip": group["chip_name"],
                "n_seeds": len(seeds),
                "float_accuracy": _stats(float_acc),
                "chip_accuracy": _stats(chip_acc),
                "drop": _stats(float_acc - chip_acc, 100.0),
                "float_kernel_error": _stats([row["kernel_error"] for row in exact]),
                "chip_kernel_error": _stats([row["kernel_error"] for row in chip]),
            }
        )
    return summary


def _summarize_drift(drift_rows):
    """(dataset, kernel, compensation) -> {t: ((acc mean, std), (error mean, std))}."""
    groups = {}
    for row in drift_rows:
        key = (row["dataset"], row["kernel"], row["drift_compensation"])
        groups.setdefault(key, {}).setdefault(row["t_inference"], []).append(row)
    return {
        key: {
            t: (_stats([r["accuracy"] for r in runs]), _stats([r["kernel_error"] for r in runs]))
            for t, runs in sorted(by_time.items())
        }
        for key, by_time in groups.items()
    }


def _pm(pair, scale=1.0, digits=2):
    mean, std = pair
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def _chip_label(name):
    return "HERMES" if name == "hermes" else str(name)


def _time_label(t):
    units = ((360 * 86400, "year"), (86400, "day"), (3600, "h"), (60, "min"), (1, "s"))
    for size, unit in units:
        if t >= size and t % size == 0:
            n = int(t // size)
            if unit in ("year", "day"):
                return f"{n} {unit}" + ("s" if n > 1 else "")
            return f"{n} {unit}"
    return f"{t:g} s"


def machine_info():
    """The machine and the package versions, for the record.

    Returns
    -------
    info : dict of str
    """
    from . import __version__

    versions = {"sklearn-aimc": __version__}
    for module, name in (("numpy", "numpy"), ("scipy", "scipy"), ("sklearn", "scikit-learn"),
                         ("joblib", "joblib"), ("threadpoolctl", "threadpoolctl"),
                         ("matplotlib", "matplotlib")):
        try:
            versions[name] = __import__(module).__version__
        except ImportError:
            versions[name] = "not installed"
    blas = [
        f"{lib.get('internal_api')} {lib.get('version')} ({lib.get('num_threads')} threads)"
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": str(os.cpu_count()),
        "blas": ", ".join(dict.fromkeys(blas)) or "unknown",
        "packages": ", ".join(f"{name} {version}" for name, version in versions.items()),
    }


def _chip_description(device, t_inference):
    chip = _preset(device, t_inference)
    return (
        f"`{_device_name(device)}` preset ({type(chip).__name__}): {chip.tile_size} x {chip.tile_size} "
        f"tiles, pcm={chip.pcm!s}, {chip.devices_per_polarity} devices per polarity, "
        f"DAC {chip.dac_bits} bits, ADC {chip.adc_bits} bits, output noise {chip.output_noise:g}, "
        f"drift compensation {chip.drift_compensation}, read {chip.t_inference:g} s after programming"
    )


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
):
    """Write ``summary.md``: tables, command line, machine and wall time.

    Parameters
    ----------
    path : str or path-like
    rows : list of dict
        Rows of :func:`run_study`.
    drift_rows : list of dict, default=()
        Rows of :func:`run_drift_study` (the drift section is left out if empty).
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

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    summary = summarize(rows)
    chip = _chip_label(summary[0]["chip"]) if summary else "chip"
    machine = machine_info()
    out = [
        f"# Kernel approximation on a simulated {chip} chip: reproduction",
        "",
        "Reproduction of the chip experiments of J. Büchel et al., \"Kernel approximation using "
        "analogue in-memory computing\", Nature Machine Intelligence 6 (2024): random features "
        "(projection on the chip, nonlinearity in float), closed-form ridge classifier "
        f"(alpha {ALPHA}, intercept) fitted in float, test accuracy, and the kernel error "
        "||K - K_hat||_F / ||K||_F on the first 1000 test points; mean ± std over seeds "
        "(population std). `float` is the same projection computed exactly.",
        "",
        f"- Command: `{command}`",
        f"- Finished: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')}",
    ]
    if wall_time is not None:
        out.append(f"- Wall time: {_clock(wall_time)} ({wall_time:.1f} s)")
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
            _markdown_table(
                ["dataset", "train rows", "test rows", "d"],
                [[name, n_train, n_test, DATASETS[name].n_features]
                 for name, (n_train, n_test) in sizes.items()],
            )
        )
    if summary:
        out += _largest_k_section(summary, chip)
        out += ["", "## All configurations", ""]
        header = ["kernel", "method", "k", "s", "float acc (%)", f"{chip} acc (%)", "drop (pp)",
                  "float K error", f"{chip} K error"]
        for dataset in dict.fromkeys(item["dataset"] for item in summary):
            items = [item for item in summary if item["dataset"] == dataset]
            out += [f"### {dataset} (d = {DATASETS[dataset].n_features}, "
                    f"{items[0]['n_seeds']} seeds)", ""]
            out.append(
                _markdown_table(
                    header,
                    [[item["kernel"], item["method"], item["k"], item["s"],
                      _pm(item["float_accuracy"], 100), _pm(item["chip_accuracy"], 100),
                      _pm(item["drop"]), _pm(item["float_kernel_error"], digits=4),
                      _pm(item["chip_kernel_error"], digits=4)] for item in items],
                )
            )
            out.append("")
    if drift_rows:
        out += _drift_section(drift_rows, summary, chip)
    out += ["", "## Figures", ""]
    if figures:
        out += [f"- [{name}]({name})" for name in figures]
    if figure_note:
        out.append(figure_note)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")
    return path


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
        _markdown_table(header, table),
        "",
        f"Mean accuracy drop within 1 percentage point (the paper's finding on the chip) in "
        f"{within} of {len(drops)} (dataset, kernel, method) configurations at the largest k.",
    ]


def _drift_section(drift_rows, summary, chip):
    stats = _summarize_drift(drift_rows)
    times = sorted({t for by_time in stats.values() for t in by_time})
    first = drift_rows[0]
    reference = {(i["dataset"], i["kernel"]): i for i in summary
                 if i["method"] == first["method"] and i["k"] == first["k"]}
    n_seeds = len({row["seed"] for row in drift_rows})
    out = [
        "",
        "## Drift study",
        "",
        f"Deployment scenario: {first['method'].upper()}, k = {first['k']}, {n_seeds} seeds. "
        f"Each seed programs one {chip} chip (the same chip for the three compensation modes); "
        f"the ridge classifier is trained once on features read {DRIFT_TRAIN_TIME:g} s after "
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
        header = ["dataset", "kernel", "compensation", "float"] + [_time_label(t) for t in times]
        table = []
        for (dataset, kernel, mode), by_time in stats.items():
            ref = reference.get((dataset, kernel))
            field_name = "float_accuracy" if index == 0 else "float_kernel_error"
            row = [dataset, kernel, mode, "-" if ref is None else _pm(ref[field_name], scale, digits)]
            row += [_pm(by_time[t][index], scale, digits) if t in by_time else "-" for t in times]
            table.append(row)
        out += ["", f"### {title}", "", _markdown_table(header, table)]
    return out


# --------------------------------------------------------------------------- #
# Figures
# --------------------------------------------------------------------------- #
_MATPLOTLIB_NOTE = (
    "matplotlib is not installed: no figures were drawn "
    "(install it with `pip install sklearn-aimc[plot]`)."
)


def _figure_class():
    """matplotlib's Figure (no pyplot, no backend switch), or None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def _null_locator():
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _plain_log_axis(axis):
    """Log-scale ticks at 1, 2, 3, 5 x 10^n, labelled as plain numbers (0.05, 0.1, 0.2)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _band(ax, x, mean, std, color, linestyle, label):
    ax.plot(x, mean, color=color, linestyle=linestyle, marker="o", markersize=3, label=label)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15, linewidth=0)


_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


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
    """
    Figure = _figure_class()
    summary = summarize(rows)
    if Figure is None or not summary:
        return []
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    chip = _chip_label(summary[0]["chip"])
    paths = []
    for dataset in dict.fromkeys(item["dataset"] for item in summary):
        items = [item for item in summary if item["dataset"] == dataset]
        kernels = list(dict.fromkeys(item["kernel"] for item in items))
        methods = list(dict.fromkeys(item["method"] for item in items))
        d = DATASETS[dataset].n_features
        fig = Figure(figsize=(4.2 * len(kernels), 6.4), layout="constrained")
        axes = fig.subplots(2, len(kernels), squeeze=False)
        for column, kernel in enumerate(kernels):
            for color, method in zip(_COLORS, methods):
                chosen = sorted((i for i in items if (i["kernel"], i["method"]) == (kernel, method)),
                                key=lambda i: i["k"])
                if not chosen:
                    continue
                x = np.log2([i["s"] / d for i in chosen])
                panels = ((axes[0, column], "accuracy", 100), (axes[1, column], "kernel_error", 1))
                for ax, prefix, scale in panels:
                    for kind, style, name in (("float", "-", "float"), ("chip", "--", chip)):
                        stats = np.array([i[f"{kind}_{prefix}"] for i in chosen]) * scale
                        _band(ax, x, stats[:, 0], stats[:, 1], color, style, f"{method.upper()} {name}")
            axes[0, column].set_title(f"{dataset}: {kernel}")
            axes[0, column].set_ylabel("test accuracy (%)")
            axes[1, column].set_ylabel("kernel approximation error")
            axes[1, column].set_yscale("log")
            _plain_log_axis(axes[1, column].yaxis)
            for ax in axes[:, column]:
                ax.set_xlabel("log2(s / d)")
                ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize="small")
        path = output_dir / f"figure_{dataset}.png"
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths


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
        Rows of :func:`run_study`, for the float reference.

    Returns
    -------
    paths : list of pathlib.Path
        Empty without matplotlib (never an error).
    """
    Figure = _figure_class()
    if Figure is None or not drift_rows:
        return []
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stats = _summarize_drift(drift_rows)
    first = drift_rows[0]
    reference = {(i["dataset"], i["kernel"]): i for i in summarize(list(rows))
                 if i["method"] == first["method"] and i["k"] == first["k"]}
    chip = _chip_label(first["device"])
    paths = []
    for dataset in dict.fromkeys(key[0] for key in stats):
        kernels = list(dict.fromkeys(key[1] for key in stats if key[0] == dataset))
        fig = Figure(figsize=(4.2 * len(kernels), 6.4), layout="constrained")
        axes = fig.subplots(2, len(kernels), squeeze=False)
        for column, kernel in enumerate(kernels):
            modes = [key[2] for key in stats if key[:2] == (dataset, kernel)]
            for color, mode in zip(_COLORS, modes):
                by_time = stats[(dataset, kernel, mode)]
                t = np.array(list(by_time))
                for row, scale in ((0, 100), (1, 1)):
                    values = np.array([by_time[time_][row] for time_ in t]) * scale
                    _band(axes[row, column], t, values[:, 0], values[:, 1], color, "-", f"{chip}, {mode}")
            ref = reference.get((dataset, kernel))
            if ref is not None:
                line = dict(color="grey", linestyle=":", label="float")
                axes[0, column].axhline(100 * ref["float_accuracy"][0], **line)
                axes[1, column].axhline(ref["float_kernel_error"][0], **line)
            axes[0, column].set_title(f"{dataset}: {kernel}, {first['method'].upper()} k={first['k']}")
            axes[0, column].set_ylabel("test accuracy (%)")
            axes[1, column].set_ylabel("kernel approximation error")
            times = sorted({t for key, by_time in stats.items() if key[:2] == (dataset, kernel)
                            for t in by_time})
            for ax in axes[:, column]:
                ax.set_xscale("log")
                ax.set_xticks(times, [_time_label(t) for t in times], rotation=30)
                ax.xaxis.set_minor_locator(_null_locator())
                ax.set_xlabel("time since programming")
                ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize="small", title="drift compensation")
        path = output_dir / f"drift_{dataset}.png"
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- #
# The whole reproduction
# --------------------------------------------------------------------------- #
#: Defaults of the full reproduction (the paper's protocol).
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


def _resolve_options(options, quick):
    """Fill the options left None from :data:`FULL`, or :data:`QUICK` when ``quick``."""
    resolved = {key: (value if options.get(key) is None else options[key])
                for key, value in (QUICK if quick else FULL).items()}
    if quick:
        resolved["datasets"] = tuple(resolved["datasets"])[:1]
    return resolved


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
        Run the drift study (:func:`run_drift_study`) on the first two
        datasets, at the largest k, with RFF and the study's kernels.
    drift_times : sequence of float, default=None
        Times of the drift study (:data:`DRIFT_TIMES`; three in quick mode).
    quick : bool, default=False
        A smoke test of a few seconds with the settings of :data:`QUICK`;
        options given explicitly still apply, but only the first dataset is
        used.
    progress : bool, default=True
        Progress bars and notes on stderr.
    command : str, default=None
        Recorded in ``summary.md``; the Python call is recorded when None.

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
    """
    start = time.perf_counter()
    given = dict(datasets=datasets, kernels=kernels, methods=methods, ks=ks, n_seeds=n_seeds,
                 max_train=max_train, max_test=max_test, drift_times=drift_times)
    options = _resolve_options(given, quick)
    options["datasets"] = _check_choices(options["datasets"], tuple(DATASETS), "datasets")
    options["kernels"] = _check_choices(options["kernels"], KERNELS, "kernels")
    options["methods"] = _check_choices(options["methods"], METHODS, "methods")
    options["ks"] = _check_ks(options["ks"])
    if command is None:
        shown = {key: value for key, value in given.items() if value is not None}
        shown.update(device=device, t_inference=t_inference, drift=drift, quick=quick)
        command = "sklearn_aimc.reproduce.reproduce(" + ", ".join(
            f"{key}={value!r}" for key, value in shown.items()
        ) + ")"
    datasets = options["datasets"]
    sizes = _sizes(datasets, data_home, source, options["max_train"], options["max_test"])
    if progress:
        for name, (n_train, n_test) in sizes.items():
            print(f"{name}: {n_train} train / {n_test} test rows, d = {DATASETS[name].n_features}",
                  file=sys.stderr)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    common = dict(data_home=data_home, source=source, max_train=options["max_train"],
                  max_test=options["max_test"], n_jobs=n_jobs, progress=progress)
    paths = {"runs": output_dir / "runs.csv", "summary": output_dir / "summary.md"}
    rows = run_study(
        datasets, kernels=options["kernels"], methods=options["methods"], ks=options["ks"],
        n_seeds=options["n_seeds"], device=device, t_inference=t_inference,
        csv_path=paths["runs"], **common,
    )
    drift_rows = []
    if drift:
        paths["drift"] = output_dir / "drift.csv"
        drift_rows = run_drift_study(
            datasets[:2], kernels=options["kernels"], method="rff", k=max(options["ks"]),
            n_seeds=options["n_seeds"], times=options["drift_times"], device=device,
            csv_path=paths["drift"], **common,
        )
    paths["figures"] = plot_study(rows, output_dir) + plot_drift(drift_rows, output_dir, rows)
    figure_note = _MATPLOTLIB_NOTE if _figure_class() is None else None
    if figure_note and progress:
        print(figure_note, file=sys.stderr)
    settings = {
        "Kernels": ", ".join(f"{k} (gamma {GAMMA})" if k == "rbf" else f"{k} (order 0)"
                             for k in options["kernels"]),
        "Methods": ", ".join(method.upper() for method in options["methods"]),
        "k (s = 2^k d - k)": ", ".join(map(str, options["ks"])),
        "Seeds": f"0 .. {options['n_seeds'] - 1}",
        "Chip": _chip_description(device, t_inference),
        "Data": f"load_benchmark(random_state=0, dtype=float32, source={source!r}); "
                f"max_train={options['max_train']}, max_test={options['max_test']}",
        "Parallel": f"n_jobs={n_jobs} (joblib, one BLAS thread per run)",
    }
    seconds = time.perf_counter() - start
    write_summary(
        paths["summary"], rows, drift_rows, command=command, wall_time=seconds, settings=settings,
        sizes=sizes, figures=[path.name for path in paths["figures"]], figure_note=figure_note,
    )
    if progress:
        print(f"wrote {output_dir} ({_clock(seconds)})", file=sys.stderr)
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
    """The parser of ``python -m sklearn_aimc reproduce``."""
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
    parser.add_argument("--device", choices=DEVICE_PRESETS, default="hermes",
                        help="chip preset (default hermes)")
    parser.add_argument("--t-inference", type=_seconds, metavar="SECONDS",
                        help="read time after programming (default: the preset's, 3600 s)")
    parser.add_argument("--data-home", metavar="DIR",
                        help=f"directory of the .csv.gz files (default: ${ENV_VAR})")
    parser.add_argument("--output-dir", default="reproduce-results", metavar="DIR",
                        help="where results are written (default reproduce-results)")
    parser.add_argument("--n-jobs", type=_n_jobs, default=2, metavar="N",
                        help="parallel runs, one core each (default 2)")
    parser.add_argument("--max-train", type=_positive_int, metavar="N",
                        help="subsample the training part to N rows (seeded; default: all)")
    parser.add_argument("--drift", action=argparse.BooleanOptionalAction, default=True,
                        help="run the drift study (default: on)")
    parser.add_argument("--quick", action="store_true",
                        help="a few-second smoke test: first dataset (magic04), 2000 train / 1000 "
                             "test rows, k 1 2, 2 seeds, rff, rbf, 3 drift times")
    return parser


def main(argv=None):
    """``python -m sklearn_aimc reproduce [options]``; returns the exit status.

    Bad options exit with argparse's message (status 2); a missing dataset
    prints ``load_benchmark``'s message and returns 1.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        reproduce(
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
            command=shlex.join(["python", "-m", "sklearn_aimc", "reproduce", *argv]),
        )
    except FileNotFoundError as exc:
        print(f"python -m sklearn_aimc reproduce: error: {exc}", file=sys.stderr)
        return 1
    return 0
