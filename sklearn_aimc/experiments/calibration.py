"""Converter calibration against outliers, ``python -m sklearn_aimc calibration``.

The main job's pipeline (random Fourier features of an RBF kernel, gamma 0.05,
``s = 2**3 d - 3`` projections on the simulated HERMES chip, a ridge
classifier in float) on scikit-learn's bundled data sets, split in half
(stratified, one split per seed) and standardised on the training half.  A
fraction of the *training* entries is then set to 1e3 (a sensor glitch), the
test data stays clean; the chip calibrates its converter ranges on the
training data, by the 99.9th percentile (the default) or by the robust MSE
rule (``AnalogCrossbar(calibration="mse")``).  With ``--data-home``, real data
with genuine spikes (EEG eye state) and without (magic04) are added, in the
reproduction study's default protocol.

Writes ``calibration.csv`` (one row per run) and ``calibration.md``.
"""

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ..crossbar import AnalogCrossbar
from ..exceptions import AnalogCalibrationWarning, AnalogClippingWarning
from ..kernel_approx import AnalogRandomFourierFeatures
from ..study import BUNDLED_DATASETS, n_projections
from ._records import machine_info
from ._report import markdown_table, stats
from ._runner import clock, progress_bar

__all__ = ["COLUMNS", "build_parser", "main", "run_calibration", "summarize_calibration"]

#: Fractions of the training entries set to :data:`OUTLIER`.
CONTAMINATIONS = (0.0, 0.002, 0.01)
#: The outliers' value (in standard deviations of the standardised data).
OUTLIER = 1e3
#: Calibration rules compared (``"float"``: the projection in float, the reference).
CALIBRATIONS = ("float", "percentile", "mse")
#: Real data sets added with ``--data-home``.
BENCHMARKS = ("eeg", "magic04")
#: Columns of ``calibration.csv``.
COLUMNS = ("dataset", "contamination", "calibration", "seed", "accuracy", "calibration_warning")
_K, _GAMMA, _ALPHA = 3, 0.05, 0.5
_MAX_TRAIN, _MAX_TEST = 4000, 4000


def _bundled(name, seed):
    X, y = BUNDLED_DATASETS[name](return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=0.5, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _benchmark(name, data_home, seed):
    from ..datasets import load_benchmark

    split = load_benchmark(name, data_home=data_home, random_state=seed)
    X_train, y_train = split.X_train[:_MAX_TRAIN], split.y_train[:_MAX_TRAIN]
    return X_train, split.X_test[:_MAX_TEST], y_train, split.y_test[:_MAX_TEST]


def _contaminate(X, fraction, seed):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < fraction] = OUTLIER
    return X


def _accuracy(X_train, X_test, y_train, y_test, calibration, seed):
    device = "ideal" if calibration == "float" else AnalogCrossbar(calibration=calibration)
    s = n_projections(X_train.shape[1], _K)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AnalogCalibrationWarning)
        warnings.simplefilter("ignore", AnalogClippingWarning)
        features = AnalogRandomFourierFeatures(s, gamma=_GAMMA, device=device, random_state=seed).fit(X_train)
        classifier = RidgeClassifier(alpha=_ALPHA).fit(features.transform(X_train), y_train)
        accuracy = classifier.score(features.transform(X_test), y_test)
    warned = any(issubclass(w.category, AnalogCalibrationWarning) for w in caught)
    return float(accuracy), warned


def run_calibration(n_seeds=10, datasets=tuple(BUNDLED_DATASETS), contaminations=CONTAMINATIONS,
                    data_home=None, progress=True):
    """Every run of the study.

    Parameters
    ----------
    n_seeds : int, default=10
    datasets : sequence of str, default=the bundled data sets
    contaminations : sequence of float, default=(0.0, 0.002, 0.01)
        Applied to the bundled data sets; the real ones run clean.
    data_home : str or None, default=None
        Where the benchmark files are; adds EEG and magic04 when given.
    progress : bool, default=True

    Returns
    -------
    rows : list of dict
        With the keys of :data:`COLUMNS`.
    """
    plans = [(name, fraction, False) for name in datasets for fraction in contaminations]
    if data_home is not None:
        plans += [(name, 0.0, True) for name in BENCHMARKS]
    rows = []
    n_runs = len(plans) * n_seeds * len(CALIBRATIONS)
    with progress_bar("calibration", [1.0] * n_runs, n_runs, progress) as bar:
        for name, fraction, real in plans:
            for seed in range(n_seeds):
                X_train, X_test, y_train, y_test = _benchmark(name, data_home, seed) if real else _bundled(name, seed)
                X_train = _contaminate(X_train, fraction, seed) if fraction else X_train
                for calibration in CALIBRATIONS:
                    accuracy, warned = _accuracy(X_train, X_test, y_train, y_test, calibration, seed)
                    rows.append(dict(dataset=name, contamination=fraction, calibration=calibration, seed=seed,
                                     accuracy=accuracy, calibration_warning=warned))
                    bar.update(1.0)
    return rows


def summarize_calibration(rows):
    """Accuracy and accuracy lost against the float projection, per data set, contamination and rule.

    Parameters
    ----------
    rows : list of dict
        The records of :func:`run_calibration`.

    Returns
    -------
    table : list of dict
        ``dataset``, ``contamination``, ``calibration``, ``accuracy`` and
        ``drop`` as (mean, std) in percent, ``warned`` (share of runs that
        warned about a starved range).
    """
    reference = {(row["dataset"], row["contamination"], row["seed"]): row["accuracy"]
                 for row in rows if row["calibration"] == "float"}
    groups = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["contamination"], row["calibration"]), []).append(row)
    return [
        dict(dataset=dataset, contamination=contamination, calibration=calibration,
             accuracy=stats([row["accuracy"] for row in group], 100),
             drop=stats([reference[(dataset, contamination, row["seed"])] - row["accuracy"] for row in group], 100),
             warned=float(np.mean([row["calibration_warning"] for row in group])))
        for (dataset, contamination, calibration), group in groups.items()
    ]


def _markdown(table, n_seeds, seconds, command):
    def pm(pair):
        return f"{pair[0]:.2f} ± {pair[1]:.2f}"

    rows = [[entry["dataset"], f"{entry['contamination']:.1%}", entry["calibration"], pm(entry["accuracy"]),
             "" if entry["calibration"] == "float" else pm(entry["drop"]),
             "" if entry["calibration"] == "float" else f"{entry['warned']:.0%}"] for entry in table]
    return "\n".join([
        "# Converter calibration against outliers", "",
        f"Command: `{command}`  ", f"Wall time: {clock(seconds)}, {n_seeds} seeds.  ",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in machine_info().items()), "",
        f"Test accuracy (%) of RBF random features (s = 2^{_K} d - {_K}, gamma {_GAMMA}) with the projection "
        "in float or on the simulated HERMES chip, and a ridge classifier in float; a share of the "
        f"training entries is set to {OUTLIER:g} (contamination), the test data stays clean. `lost`: "
        "accuracy lost against the float projection of the same seed (pp, mean ± std). `warned`: runs "
        "whose calibration raised an AnalogCalibrationWarning.", "",
        markdown_table(["data set", "contamination", "calibration", "accuracy (%)", "lost (pp)", "warned"],
                       rows), "",
    ]) + "\n"


def build_parser():
    """The parser of ``python -m sklearn_aimc calibration``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_aimc.experiments.calibration import build_parser
    >>> build_parser().parse_args(["--seeds", "3"]).n_seeds
    3
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc calibration",
        description="Percentile and robust MSE calibration of the converters against outliers in the "
                    "calibration data.",
    )
    parser.add_argument("--seeds", type=int, default=10, dest="n_seeds", metavar="N", help="default 10")
    parser.add_argument("--quick", action="store_true", help="2 seeds, breast cancer only")
    parser.add_argument("--data-home", metavar="DIR", help="benchmark files: adds EEG and magic04")
    parser.add_argument("--output-dir", default="calibration-results", metavar="DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    """Run the study; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None

    Returns
    -------
    status : int
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.n_seeds < 1:
        build_parser().error("--seeds must be at least 1")
    start = time.perf_counter()
    options = dict(n_seeds=args.n_seeds, data_home=args.data_home)
    if args.quick:
        options.update(n_seeds=2, datasets=("breast_cancer",))
    rows = run_calibration(progress=not args.quiet, **options)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "calibration.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    command = ("python -m sklearn_aimc calibration " + " ".join(argv)).strip()
    text = _markdown(summarize_calibration(rows), options["n_seeds"], time.perf_counter() - start, command)
    (output / "calibration.md").write_text(text)
    print(text)
    return 0
