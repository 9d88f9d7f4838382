"""Task-parallel execution shared by the crossbar and the estimators."""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import cpu_count
from sklearn.utils import gen_even_slices
from threadpoolctl import ThreadpoolController

try:  # threadpoolctl >= 3.8: one "controlling" Python thread may change OpenBLAS limits
    from threadpoolctl import OpenBLASController
except ImportError:  # pragma: no cover - older threadpoolctl let every thread set limits
    OpenBLASController = None

__all__ = [
    "PerThread",
    "available_threads",
    "near_equal_bounds",
    "near_equal_slices",
    "row_tasks",
    "run_row_tasks",
    "run_tasks",
    "single_threaded_blas",
]

_pools = {}
_pools_lock = threading.Lock()
_controller = None
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limit = None
_blas_threads_outside = None


def _blas():
    """The BLAS libraries loaded in this process (found once: scanning them is slow)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.select(user_api="blas")


def _blas_thread_count():
    return max((lib["num_threads"] for lib in _blas().info()), default=None)


def _claim_blas_control():
    """Make the calling thread the one that may change OpenBLAS's thread count.

    threadpoolctl 3.8 lets only one Python thread (the first to set a limit,
    while it lives) change the limits of OpenBLAS's process-wide pool, and
    silently ignores the others.  The package takes control for the moment it
    sets or lifts its limit, and gives it back right after.
    """
    if OpenBLASController is not None:
        OpenBLASController.clear_controlling_thread(force=True)


def _release_blas_control():
    if OpenBLASController is not None:
        OpenBLASController.clear_controlling_thread()


@contextlib.contextmanager
def single_threaded_blas():
    """Hold BLAS to one thread while any caller, in any thread, is inside.

    The products of a read must not depend on BLAS's thread count: OpenBLAS
    blocks, and so rounds, a GEMM differently with one thread and with two.
    Limits are process-wide, so a count of the users makes the first one set
    the limit and the last one lift it, whichever threads they run in.
    """
    global _blas_users, _blas_limit, _blas_threads_outside
    with _blas_lock:
        if _blas_users == 0:
            _claim_blas_control()
            _blas_threads_outside = _blas_thread_count()
            _blas_limit = _blas().limit(limits=1)
            _release_blas_control()
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _claim_blas_control()
                _blas_limit.restore_original_limits()
                _release_blas_control()
                _blas_limit = _blas_threads_outside = None


def available_threads():
    """Threads a computation may use: as many as BLAS may use outside the package's reads.

    Inside joblib workers (``GridSearchCV(n_jobs=...)``) BLAS is limited to
    the worker's share of the cores, so nested parallelism does not
    oversubscribe the machine.
    """
    with _blas_lock:
        threads = _blas_threads_outside if _blas_users else _blas_thread_count()
    return cpu_count() if threads is None else max(1, threads)


def near_equal_slices(n, block_size):
    """The fewest near-equal slices of at most ``block_size`` covering ``range(n)``.

    Block sizes differ by at most one, the larger ones first
    (:func:`sklearn.utils.gen_even_slices`).  Used for the tiles of a crossbar
    and for the row tasks of a read.
    """
    n_blocks = max(1, -(-n // block_size))
    if n_blocks == 1:  # the common small read, without gen_even_slices' parameter validation
        return [slice(0, n)]
    return list(gen_even_slices(n, n_blocks))


def near_equal_bounds(n, block_size):
    """Boundaries ``[0, b1, ..., n]`` of :func:`near_equal_slices`, as an int array."""
    slices = near_equal_slices(n, block_size)
    return np.array([0] + [block.stop for block in slices], dtype=np.intp)


def row_tasks(n_rows, task_rows):
    """The fewest near-equal row slices of at most ``task_rows`` rows covering ``n_rows``."""
    return near_equal_slices(n_rows, task_rows)


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


def run_tasks(n_tasks, function):
    """Call ``function(index)`` for every ``index < n_tasks``, in threads.

    With several tasks, BLAS is held to one thread meanwhile (tasks are small,
    and multi-threaded BLAS on small blocks costs more than it gains), so that
    the tasks use the cores; a task that calls this function again runs its
    sub-tasks inline.  A single task runs inline, BLAS left as it is.

    Parameters
    ----------
    n_tasks : int
    function : callable
        Called as ``function(index)``.

    Returns
    -------
    results : list
        In task order.
    """
    if n_tasks <= 1:  # nothing to share the cores with: leave BLAS as it is
        return [function(index) for index in range(n_tasks)]
    n_threads = min(n_tasks, available_threads())
    with single_threaded_blas():
        if n_threads <= 1:
            return [function(index) for index in range(n_tasks)]
        futures = [_pool(n_threads).submit(function, index) for index in range(n_tasks)]
        return [future.result() for future in futures]


def run_row_tasks(n_rows, task_rows, function):
    """Call ``function(rows, task_index)`` on near-equal row slices, in threads.

    The slices depend only on ``n_rows`` and ``task_rows``, never on the
    number of threads (see :func:`run_tasks`).

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
    return run_tasks(len(tasks), lambda index: function(tasks[index], index))
