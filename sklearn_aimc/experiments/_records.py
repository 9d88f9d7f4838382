"""Records of the studies: the rows of ``runs.csv`` / ``drift.csv`` and the machine they ran on."""

import csv
import os
import platform
from pathlib import Path

from threadpoolctl import threadpool_info

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

_TYPES = {"k": int, "s": int, "seed": int, "t_inference": float, "accuracy": float,
          "kernel_error": float, "seconds": float}


def make_row(config, seed, device_name, t_inference, compensation, accuracy, kernel_error, seconds):
    """One record with the keys of :data:`RUN_COLUMNS`."""
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


class CsvLog:
    """``RUN_COLUMNS`` rows appended to a CSV file and flushed one by one (None: no file)."""

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
        """Append ``rows`` and flush, so an interrupted study keeps its finished runs."""
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
        With the types of :func:`~sklearn_aimc.experiments.kernel_ridge.run_study`
        (empty fields become None).

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import read_runs
    >>> rows = read_runs("benchmarks/results/runs.csv")  # doctest: +SKIP
    >>> rows[0]["dataset"], rows[0]["device"]  # doctest: +SKIP
    ('ijcnn1', 'float')
    """
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            {name: (None if value == "" else _TYPES.get(name, str)(value)) for name, value in row.items()}
            for row in csv.DictReader(handle)
        ]


def machine_info():
    """The machine and the package versions, for the record.

    Returns
    -------
    info : dict of str
        ``platform``, ``processor``, ``python``, ``cpu_count``, ``blas`` and
        ``packages``.

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import machine_info
    >>> sorted(machine_info())
    ['blas', 'cpu_count', 'packages', 'platform', 'processor', 'python']
    """
    from .. import __version__

    versions = {"sklearn-aimc": __version__}
    for module, name in (("numpy", "numpy"), ("scipy", "scipy"), ("sklearn", "scikit-learn"),
                         ("joblib", "joblib"), ("threadpoolctl", "threadpoolctl"),
                         ("matplotlib", "matplotlib"), ("distributed", "distributed")):
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


def load_average_note():
    """The machine's one-minute load average, for the record of a timed run.

    A load above the CPU count means the run shared the machine with other
    jobs, and its times are longer than an idle machine gives.

    Returns
    -------
    note : str

    Examples
    --------
    >>> from sklearn_aimc.experiments._records import load_average_note
    >>> load_average_note().startswith("load average")
    True
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on Windows
        return "load average unknown"
    return f"load average {load:.1f} on {os.cpu_count()} CPUs at the end"
