"""Stuck devices and fault-aware programming, ``python -m sklearn_aimc faults``.

Digits (scikit-learn's bundled 8 x 8 handwritten digits, 1797 images, 10
classes), split in half (stratified, one split per seed) and standardised on
the training half.  A ridge classifier is fitted in float and its readout
programmed on the simulated HERMES chip, whose devices are stuck at SET
(``g_max``) or RESET (0 uS) in a given fraction (``HermesPCM(stuck_set_fraction=...)``),
with and without fault-aware programming (``AnalogCrossbar(fault_compensation=True)``:
a program-and-verify pass re-targets the healthy devices of each faulty
weight).  Two device models of the same chip, both with two devices per
polarity: ``pair``, the HERMES preset's fit of a polarity's two devices as one
conductance (a fault then sticks both devices of a polarity at once), and
``single``, the single-device HERMES fit for each device (a fault sticks one
device, its partner stays healthy).  Two readouts: on the 64 pixels, and on 1000 random Fourier features
computed in float (500 projections of an RBF kernel, gamma 0.01).  Every
accuracy is compared with the same seed's fault-free chip.

Writes ``faults.csv`` (one row per run) and ``faults.md`` (the summary against
the targets: under 2 pp lost at 10 % stuck-SET devices with fault-aware
programming, under 0.3 pp at 1 %).
"""

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ..crossbar import AnalogCrossbar
from ..device import HermesPCM
from ..exceptions import AnalogClippingWarning
from ..kernel_approx import AnalogRandomFourierFeatures
from ..ridge import AnalogRidgeClassifier
from ._records import machine_info
from ._report import markdown_table, stats
from ._runner import clock, progress_bar

__all__ = ["COLUMNS", "build_parser", "main", "run_faults", "summarize_faults"]

#: Readouts of the study: on the pixels, and on float random Fourier features.
READOUTS = ("pixels", "rff")
#: Fault kinds and the PCM parameter each sets.
FAULTS = {"stuck_set": "stuck_set_fraction", "stuck_reset": "stuck_reset_fraction"}
#: Fractions of stuck devices.
FRACTIONS = (0.01, 0.05, 0.1)
#: Device models: the preset's pair fit (faults stick both devices of a polarity), or one fit per device.
DEVICE_MODELS = {"pair": 2, "single": 1}
#: Columns of ``faults.csv``.
COLUMNS = ("readout", "devices", "fault", "fraction", "fault_compensation", "seed", "accuracy", "device_writes")
#: Targets of the study: accuracy lost against the fault-free chip with fault-aware programming.
TARGETS = {0.1: 2.0, 0.01: 0.3}
_ALPHA = 1.0
_PROJECTIONS, _GAMMA = 500, 0.01


def _split(seed):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=0.5, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _features(readout, X_train, X_test, seed):
    if readout == "pixels":
        return X_train, X_test
    rff = AnalogRandomFourierFeatures(_PROJECTIONS, gamma=_GAMMA, device="ideal", random_state=seed).fit(X_train)
    return rff.transform(X_train), rff.transform(X_test)


def _run(F_train, F_test, y_train, y_test, device, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalogClippingWarning)
        classifier = AnalogRidgeClassifier(alpha=_ALPHA, device=device, random_state=seed).fit(F_train, y_train)
        accuracy = classifier.score(F_test, y_test)
    writes = 0 if device == "ideal" else classifier.crossbar_.counters.device_writes
    return float(accuracy), int(writes)


def run_faults(n_seeds=10, fractions=FRACTIONS, readouts=READOUTS, devices=tuple(DEVICE_MODELS), progress=True):
    """Every run of the study.

    Parameters
    ----------
    n_seeds : int, default=10
        Seeds: each draws the split, the features, the faults and the chip.
    fractions : sequence of float, default=(0.01, 0.05, 0.1)
    readouts : sequence of {"pixels", "rff"}, default=both
    devices : sequence of {"pair", "single"}, default=both
    progress : bool, default=True

    Returns
    -------
    rows : list of dict
        With the keys of :data:`COLUMNS`; ``fault`` is ``"float"`` for the
        float readout and ``"none"`` for the fault-free chip.
    """
    plans = [("float", "float", 0.0, False)]
    plans += [(model, "none", 0.0, False) for model in devices]
    plans += [(model, fault, fraction, compensate) for model in devices for fault in FAULTS
              for fraction in fractions for compensate in (False, True)]
    rows = []
    n_runs = len(readouts) * n_seeds * len(plans)
    with progress_bar("faults", [1.0] * n_runs, n_runs, progress) as bar:
        for readout in readouts:
            for seed in range(n_seeds):
                X_train, X_test, y_train, y_test = _split(seed)
                F_train, F_test = _features(readout, X_train, X_test, seed)
                for model, fault, fraction, compensate in plans:
                    if fault == "float":
                        device = "ideal"
                    else:
                        pcm = HermesPCM(DEVICE_MODELS[model], **({FAULTS[fault]: fraction} if fault in FAULTS else {}))
                        device = AnalogCrossbar(pcm=pcm, devices_per_polarity=2, fault_compensation=compensate)
                    accuracy, writes = _run(F_train, F_test, y_train, y_test, device, seed)
                    rows.append(dict(readout=readout, devices=model, fault=fault, fraction=fraction,
                                     fault_compensation=compensate, seed=seed, accuracy=accuracy,
                                     device_writes=writes))
                    bar.update(1.0)
    return rows


def summarize_faults(rows):
    """Mean accuracy and accuracy lost against the same seed's fault-free chip, per configuration.

    Parameters
    ----------
    rows : list of dict
        The records of :func:`run_faults`.

    Returns
    -------
    table : list of dict
        ``readout``, ``fault``, ``fraction``, ``fault_compensation``,
        ``accuracy`` and ``drop`` as (mean, std) in percent, and the mean
        ``device_writes``.
    """
    baseline = {(row["readout"], row["devices"], row["seed"]): row["accuracy"]
                for row in rows if row["fault"] == "none"}
    floats = {(row["readout"], row["seed"]): row["accuracy"] for row in rows if row["fault"] == "float"}
    groups = {}
    for row in rows:
        key = (row["readout"], row["devices"], row["fault"], float(row["fraction"]), bool(row["fault_compensation"]))
        groups.setdefault(key, []).append(row)
    table = []
    for (readout, model, fault, fraction, compensate), group in groups.items():
        reference = floats if fault == "float" else None
        drops = [(reference[(readout, row["seed"])] if reference else baseline[(readout, model, row["seed"])])
                 - row["accuracy"] for row in group]
        table.append(dict(readout=readout, devices=model, fault=fault, fraction=fraction,
                          fault_compensation=compensate,
                          accuracy=stats([row["accuracy"] for row in group], 100), drop=stats(drops, 100),
                          device_writes=float(np.mean([row["device_writes"] for row in group]))))
    return table


def _markdown(table, n_seeds, seconds, command):
    def pm(pair):
        return f"{pair[0]:.2f} ± {pair[1]:.2f}"

    rows = [[entry["readout"], entry["devices"], entry["fault"], f"{entry['fraction']:.0%}",
             "yes" if entry["fault_compensation"] else "no", pm(entry["accuracy"]), pm(entry["drop"]),
             f"{entry['device_writes']:.0f}"] for entry in table]
    lines = [
        "# Stuck devices and fault-aware programming on digits", "",
        f"Command: `{command}`  ", f"Wall time: {clock(seconds)}, {n_seeds} seeds.  ",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in machine_info().items()), "",
        "Accuracy (%) of a ridge readout on the simulated HERMES chip (1 h after programming) and the "
        "accuracy lost against the same seed's fault-free chip (pp, mean ± std over seeds). `float`: the "
        "readout in float.", "",
        markdown_table(["readout", "device model", "fault", "devices stuck", "fault-aware", "accuracy (%)",
                        "lost (pp)", "device writes"], rows), "",
        "Device models (both with two devices per polarity): `pair` is the HERMES preset's fit of a "
        "polarity's two devices as one conductance, so a fault sticks both at once; `single` fits each "
        "device on its own (the single-device HERMES fit), so a fault sticks one device and fault-aware "
        "programming can re-target its partner.", "",
        "## Targets (stuck SET, fault-aware programming)", "",
    ]
    for fraction, target in TARGETS.items():
        for entry in table:
            if entry["fault"] == "stuck_set" and entry["fraction"] == fraction and entry["fault_compensation"]:
                met = "met" if entry["drop"][0] < target else "**not met**"
                lines.append(f"- {entry['readout']} readout, {entry['devices']} devices, {fraction:.0%} stuck SET: "
                             f"{entry['drop'][0]:.2f} pp lost (target under {target} pp): {met}")
    return "\n".join(lines) + "\n"


def build_parser():
    """The parser of ``python -m sklearn_aimc faults``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_aimc.experiments.faults import build_parser
    >>> build_parser().parse_args(["--quick"]).quick
    True
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_aimc faults",
        description="Stuck PCM devices with and without fault-aware programming, ridge readouts on digits.",
    )
    parser.add_argument("--seeds", type=int, default=10, dest="n_seeds", metavar="N", help="default 10")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 10 %% faults, the pixel readout")
    parser.add_argument("--output-dir", default="faults-results", metavar="DIR")
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
    options = (dict(n_seeds=2, fractions=(0.1,), readouts=("pixels",), devices=("single",)) if args.quick
               else dict(n_seeds=args.n_seeds))
    rows = run_faults(progress=not args.quiet, **options)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "faults.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    command = "python -m sklearn_aimc faults " + " ".join(argv)
    text = _markdown(summarize_faults(rows), options["n_seeds"], time.perf_counter() - start, command.strip())
    (output / "faults.md").write_text(text)
    print(text)
    return 0
