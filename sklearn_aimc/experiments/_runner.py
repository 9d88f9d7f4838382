"""Where the independent runs of a study execute, and the progress bar that follows them.

Backends: ``"loky"`` (joblib's process pool on this machine) and ``"dask"``
(a dask distributed cluster: the one at ``scheduler``, or a
:class:`~distributed.LocalCluster`).  Results come back in task order on both,
so the records, and every number in them, do not depend on the backend or on
the number of workers.
"""

import contextlib
import sys
import time

from joblib import Parallel, delayed
from tqdm.auto import tqdm

#: Execution backends of the studies.
BACKENDS = ("loky", "dask")

_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar:24}| {postfix[0]} [{elapsed}<{remaining}] {postfix[1]}"


def clock(seconds):
    """``mm:ss`` or ``h:mm:ss``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def import_distributed():
    """The ``distributed`` package, or an ImportError saying which extra brings it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "backend='dask' needs dask's distributed scheduler: pip install 'sklearn-aimc[dask]'"
        ) from exc
    return distributed


class Executor:
    """Runs tasks on a backend and yields their results in task order.

    Parameters
    ----------
    backend : {"loky", "dask"}
    n_jobs : int
        Parallel runs of the loky backend; the number of single-threaded
        workers of the LocalCluster that ``"dask"`` starts without a
        ``scheduler``.
    scheduler : str or None
        Address of a running dask scheduler (``"tcp://host:8786"``).
    """

    def __init__(self, backend="loky", n_jobs=2, scheduler=None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}.")
        if scheduler is not None and backend != "dask":
            raise ValueError("scheduler is an address of a dask scheduler: it needs backend='dask'.")
        self.backend, self.n_jobs, self.scheduler = backend, n_jobs, scheduler
        self.client = None
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        if self.backend == "dask":
            distributed = import_distributed()
            if self.scheduler is None:
                n_workers = self.n_jobs if self.n_jobs > 0 else None
                cluster = self._stack.enter_context(distributed.LocalCluster(
                    n_workers=n_workers, threads_per_worker=1, processes=True,
                    dashboard_address=None,
                ))
                self.client = self._stack.enter_context(distributed.Client(cluster))
            else:
                self.client = self._stack.enter_context(distributed.Client(self.scheduler))
        return self

    def __exit__(self, *exc_info):
        self._stack.close()
        self.client = None
        return False

    def description(self):
        """The backend in words, for ``summary.md``."""
        if self.backend == "loky":
            return f"n_jobs={self.n_jobs} (joblib, one BLAS thread per run)"
        where = self.scheduler or f"a LocalCluster of {self.n_jobs} single-threaded workers"
        return f"dask distributed ({where}; one BLAS thread per run)"

    def map(self, function, tasks, data_of=None):
        """Yield ``function(*task)`` for every task, in task order.

        On the dask backend, ``data_of(task)`` (when given) is passed as the
        last argument, scattered to the workers once per distinct object, so
        that remote workers need no data files; the loky workers read the data
        themselves.
        """
        if self.backend == "loky":
            yield from Parallel(n_jobs=self.n_jobs, return_as="generator")(
                delayed(function)(*task) for task in tasks
            )
            return
        if self.client is None:
            raise RuntimeError("Executor.map with backend='dask' needs `with Executor(...)`.")
        columns = [list(column) for column in zip(*tasks)]
        if data_of is not None:
            data = [data_of(task) for task in tasks]
            scattered = {}
            for item in data:
                if id(item) not in scattered:
                    scattered[id(item)] = self.client.scatter(item, broadcast=False, hash=False)
            columns.append([scattered[id(item)] for item in data])
        futures = self.client.map(function, *columns, pure=False)
        try:
            for future in futures:
                yield future.result()
        finally:
            self.client.cancel(futures)


def progress_bar(desc, costs, n_tasks, enabled, stream=None, mininterval=0.5):
    """A tqdm bar over the tasks' estimated costs, showing ``done/total runs`` and an ETA.

    The ETA weighs every task by its cost.  The bar is drawn only on a
    terminal (tqdm's ``disable=None``) and never when ``enabled`` is False.
    """
    return tqdm(
        total=float(sum(costs)) or 1.0,
        desc=desc,
        file=sys.stderr if stream is None else stream,
        disable=None if enabled else True,
        bar_format=_BAR_FORMAT,
        postfix=[f"0/{n_tasks} runs", ""],
        mininterval=mininterval,
        leave=True,
    )


def run_tasks(function, tasks, *, costs, labels, desc, executor, data_of=None, progress=True,
              stream=None, on_result=None, mininterval=0.5):
    """Run every task on ``executor`` with a progress bar; return the results in task order.

    ``on_result(task, result)`` is called as each result arrives (in order),
    e.g. to write it to a CSV file.  With ``progress``, a one-line summary
    (runs and wall time) follows on ``stream`` (stderr), on a terminal or not.
    The bar is redrawn at most every ``mininterval`` seconds.
    """
    stream = sys.stderr if stream is None else stream
    start = time.perf_counter()
    results = []
    with progress_bar(desc, costs, len(tasks), progress, stream, mininterval) as bar:
        for index, result in enumerate(executor.map(function, tasks, data_of)):
            if on_result is not None:
                on_result(tasks[index], result)
            results.append(result)
            if not bar.disable:
                bar.postfix[0] = f"{index + 1}/{len(tasks)} runs"
                bar.postfix[1] = labels[index]
                bar.update(costs[index])
    if progress:
        print(f"{desc}: {len(tasks)} runs in {clock(time.perf_counter() - start)}", file=stream, flush=True)
    return results
