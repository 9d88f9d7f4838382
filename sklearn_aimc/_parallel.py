"""Row-parallel execution shared by the crossbar and the estimators."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from joblib import cpu_count
from threadpoolctl import ThreadpoolController

__all__ = ["available_threads", "row_tasks", "run_row_tasks"]

_pools = {}
_pools_lock = threading.Lock()
_controller = None


def _blas():
    """The BLAS libraries loaded in this process (found once: scanning them is slow)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.select(user_api="blas")


def available_threads():
    """Threads a computation may use: as many as BLAS is allowed.

    Inside joblib workers (``GridSearchCV(n_jobs=...)``) BLAS is limited to
    the worker's share of the cores, so nested parallelism does not
    oversubscribe the machine.
    """
    blas = _blas().info()
    if blas:
        return max(1, max(lib["num_threads"] for lib in blas))
    return cpu_count()


def row_tasks(n_rows, task_rows):
    """The fewest near-equal row slices of at most ``task_rows`` rows covering ``n_rows``."""
    n_tasks = max(1, -(-n_rows // task_rows))
    bounds = [(index * n_rows) // n_tasks for index in range(n_tasks + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


def _pool(n_threads):
    # Persistent pools: starting threads for every call would cost more than a
    # small read.  Keyed by process, since threads do not survive a fork.
    key = (os.getpid(), n_threads)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(n_threads, thread_name_prefix="sklearn-aimc")
        return _pools[key]


def run_row_tasks(n_rows, task_rows, function):
    """Call ``function(rows, task_index)`` on near-equal row slices, in threads.

    The slices depend only on ``n_rows`` and ``task_rows``, never on the
    number of threads, so a task that seeds its randomness from its index
    gives identical results on any machine.  BLAS is held to one thread
    meanwhile (tasks are small, and multi-threaded BLAS on small blocks costs
    more than it gains), so that the tasks use the cores; a task that calls
    this function again runs its sub-tasks inline.

    Parameters
    ----------
    n_rows : int
    task_rows : int
    function : callable
        Called as ``function(rows, task_index)`` with ``rows`` a slice.

    Returns
    -------
    results : list
        In task order.
    """
    tasks = row_tasks(n_rows, task_rows)
    n_threads = min(len(tasks), available_threads()) if len(tasks) > 1 else 1
    with _blas().limit(limits=1):
        if n_threads <= 1:
            return [function(rows, index) for index, rows in enumerate(tasks)]
        futures = [_pool(n_threads).submit(function, rows, index) for index, rows in enumerate(tasks)]
        return [future.result() for future in futures]
