"""Row-parallel execution shared by the crossbar and the estimators."""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import cpu_count
from threadpoolctl import ThreadpoolController

__all__ = ["PerThread", "available_threads", "near_equal_bounds", "row_tasks", "run_row_tasks"]

_pools = {}
_pools_lock = threading.Lock()
_controller = None
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limit = None


def _blas():
    """The BLAS libraries loaded in this process (found once: scanning them is slow)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.select(user_api="blas")


@contextlib.contextmanager
def single_threaded_blas():
    """Hold BLAS to one thread while any caller, in any thread, is inside.

    threadpoolctl's limits save and restore a global state, so nested or
    concurrent uses from several threads would restore each other's limits
    in the wrong order; a count of the users makes the first one set the
    limit and the last one lift it.
    """
    global _blas_users, _blas_limit
    with _blas_lock:
        if _blas_users == 0:
            _blas_limit = _blas().limit(limits=1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None


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


def near_equal_bounds(n, block_size):
    """Boundaries of the fewest near-equal blocks of at most ``block_size`` covering ``n``.

    Returns an int array ``[0, b1, ..., n]``; block sizes differ by at most one.
    Used for the tiles of a crossbar and for the row tasks of a read.
    """
    n_blocks = max(1, -(-n // block_size))
    return np.array([(i * n) // n_blocks for i in range(n_blocks + 1)], dtype=np.intp)


def row_tasks(n_rows, task_rows):
    """The fewest near-equal row slices of at most ``task_rows`` rows covering ``n_rows``."""
    bounds = near_equal_bounds(n_rows, task_rows).tolist()
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


class PerThread:
    """One object per thread, made by ``factory`` on first use in that thread.

    Tasks running in the same thread share it, e.g. scratch arrays reused
    from task to task; every object is released with this one.
    """

    def __init__(self, factory):
        self._factory = factory
        self._local = threading.local()

    def get(self):
        """This thread's object."""
        try:
            return self._local.value
        except AttributeError:
            self._local.value = self._factory()
            return self._local.value


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
    with single_threaded_blas():
        if n_threads <= 1:
            return [function(rows, index) for index, rows in enumerate(tasks)]
        futures = [_pool(n_threads).submit(function, rows, index) for index, rows in enumerate(tasks)]
        return [future.result() for future in futures]
