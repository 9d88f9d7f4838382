"""The data of the kernel-ridge studies: one prepared split per dataset and process."""

import functools
import os
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home

from ..datasets import ENV_VAR, PROTOCOLS, load_benchmark


def resolve_data_home(data_home):
    """The directory ``load_benchmark`` reads, fixed in the parent process.

    Workers (joblib, dask) may run in another environment, so they get the
    resolved path rather than ``None``.
    """
    if data_home is not None:
        return str(Path(data_home).expanduser())
    if os.environ.get(ENV_VAR):
        return str(Path(os.environ[ENV_VAR]).expanduser())
    return str(Path(get_data_home()) / "sklearn_aimc")


def load_split(name, *, data_home=None, source="local", max_train=None, max_test=None,
               protocol="default"):
    """The split of a benchmark used by the studies, float32, optionally shortened.

    Calls :func:`sklearn_aimc.datasets.load_benchmark` with ``random_state=0``
    and ``dtype=numpy.float32``: one split (and one z-scoring) for every seed
    of the study.

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
    protocol : {"default", "paper"}, default="default"
        The preprocessing of :func:`~sklearn_aimc.datasets.load_benchmark`.

    Returns
    -------
    X_train, X_test : ndarray of float32, read-only
    y_train, y_test : ndarray of int64, read-only

    Raises
    ------
    FileNotFoundError
        With ``load_benchmark``'s message (where it looked, how to get the data).

    Examples
    --------
    >>> from sklearn_aimc.experiments.kernel_ridge import load_split
    >>> X_train, X_test, y_train, y_test = load_split(
    ...     "magic04", data_home="datasets/", protocol="paper")  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((9510, 10), (9510, 10))
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}.")
    X_train, X_test, y_train, y_test = load_benchmark(
        name, data_home=data_home, source=source, random_state=0, dtype=np.float32,
        return_X_y=True, protocol=protocol,
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
def cached_split(name, data_home, source, max_train, max_test, protocol="default"):
    """:func:`load_split`, once per process (workers load their own copy)."""
    return load_split(name, data_home=data_home, source=source, max_train=max_train,
                      max_test=max_test, protocol=protocol)


def split_sizes(datasets, data_home, source, max_train, max_test, protocol="default"):
    """(n_train, n_test) per dataset; loads every dataset, so a missing one fails early."""
    home = resolve_data_home(data_home)
    sizes = {}
    for dataset in datasets:
        try:
            X_train, X_test, _, _ = cached_split(dataset, home, source, max_train, max_test, protocol)
        except FileNotFoundError:
            # Load again with the caller's data_home: load_benchmark's message
            # then says where the lookup started (argument, environment, default).
            load_split(dataset, data_home=data_home, source=source, protocol=protocol)
            raise
        sizes[dataset] = (X_train.shape[0], X_test.shape[0])
    return sizes
