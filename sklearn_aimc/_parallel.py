"""Row-parallel execution shared by the crossbar and the estimators."""

from joblib import Parallel, cpu_count, delayed
from sklearn.utils import gen_batches
from threadpoolctl import ThreadpoolController, threadpool_limits

__all__ = ["available_threads", "run_row_tasks"]


def available_threads():
    """Threads a computation may use: as many as BLAS is allowed.

    Inside joblib workers (``GridSearchCV(n_jobs=...)``) BLAS is limited to
    the worker's share of the cores, so nested parallelism does not
    oversubscribe the machine.
    """
    blas = ThreadpoolController().select(user_api="blas").info()
    if blas:
        return max(1, max(lib["num_threads"] for lib in blas))
    return cpu_count()


def run_row_tasks(n_rows, task_rows, function):
    """Call ``function(rows, task_index)`` on consecutive row slices, in threads.

    Tasks cover ``range(n_rows)`` in slices of ``task_rows``; results come
    back in task order.  The work a task does must not depend on the thread
    that runs it, so results are identical for any number of threads.  BLAS is
    held to one thread meanwhile, so that the tasks, not BLAS, use the cores.

    Parameters
    ----------
    n_rows : int
    task_rows : int
    function : callable
        Called as ``function(rows, task_index)`` with ``rows`` a slice.

    Returns
    -------
    results : list
    """
    tasks = list(gen_batches(n_rows, task_rows))
    n_threads = min(len(tasks), available_threads())
    if n_threads <= 1:
        return [function(rows, index) for index, rows in enumerate(tasks)]
    with threadpool_limits(limits=1, user_api="blas"):
        return Parallel(n_jobs=n_threads, backend="threading")(
            delayed(function)(rows, index) for index, rows in enumerate(tasks)
        )
