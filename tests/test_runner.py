"""Tests of the studies' execution backends and progress bars (``sklearn_aimc.experiments._runner``).

The dask tests run on small local clusters (one in-process worker, or two
single-threaded worker processes) and need the ``dask`` extra.
"""

import contextlib
import io
import time

import numpy as np
import pytest

from sklearn_aimc.experiments import _runner
from sklearn_aimc.experiments._runner import Executor, clock, run_tasks


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as stderr does in a console."""

    def isatty(self):
        return True


def square(x, y=0):
    return x * x + y


def slow_square(x):
    time.sleep(0.02)
    return x * x


def run_squares(stream, progress=True, executor=None):
    tasks = [(x,) for x in range(5)]
    with contextlib.ExitStack() as stack:
        executor = executor or stack.enter_context(Executor("loky", n_jobs=1))
        return run_tasks(
            slow_square, tasks, costs=[1, 1, 1, 1, 6], labels=[f"x={x}" for x in range(5)],
            desc="squares", executor=executor, progress=progress, stream=stream, mininterval=0,
        )


def test_progress_on_a_terminal_shows_counts_eta_and_summary():
    stream = Terminal()
    assert run_squares(stream) == [0, 1, 4, 9, 16]
    text = stream.getvalue()
    assert "\r" in text  # a bar redrawn in place
    frames = [frame for frame in text.split("\r") if frame.strip()]
    assert any("1/5 runs" in frame for frame in frames)
    last = frames[-1].splitlines()[0]
    assert last.startswith("squares: 100%|") and "5/5 runs" in last and "x=4" in last
    # the ETA weighs tasks by cost: after 4 of 5 runs (cost 4 of 10) the bar is at 40 %
    assert any(" 40%|" in frame and "4/5 runs" in frame for frame in frames)
    assert any("<" in frame and "[" in frame for frame in frames)  # [elapsed<remaining]
    assert text.rstrip().splitlines()[-1].startswith("squares: 5 runs in 00:0")


def test_progress_off_a_terminal_prints_only_the_summary():
    stream = io.StringIO()
    run_squares(stream)
    assert stream.getvalue().splitlines() == [stream.getvalue().strip()]
    assert stream.getvalue().startswith("squares: 5 runs in ")
    assert "\r" not in stream.getvalue() and "%" not in stream.getvalue()


def test_no_progress_prints_nothing():
    for stream in (Terminal(), io.StringIO()):
        run_squares(stream, progress=False)
        assert stream.getvalue() == ""


def test_on_result_sees_results_in_task_order():
    seen = []
    with Executor("loky", n_jobs=2) as executor:
        results = run_tasks(square, [(x,) for x in range(6)], costs=[1] * 6, labels=[""] * 6,
                            desc="t", executor=executor, progress=False,
                            on_result=lambda task, result: seen.append((task, result)))
    assert results == [x * x for x in range(6)]
    assert seen == [((x,), x * x) for x in range(6)]


def test_clock():
    assert clock(0) == "00:00" and clock(61.4) == "01:01" and clock(3725) == "1:02:05"


def test_executor_checks_its_options():
    with pytest.raises(ValueError, match="backend must be one of"):
        Executor("ray")
    with pytest.raises(ValueError, match="needs backend='dask'"):
        Executor("loky", scheduler="tcp://127.0.0.1:8786")
    assert "n_jobs=3" in Executor("loky", n_jobs=3).description()


def test_dask_backend_without_distributed(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed":
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(ImportError, match=r"sklearn-aimc\[dask\]"):
        _runner.import_distributed()


# --------------------------------------------------------------------------- dask
@pytest.fixture(scope="module")
def dask_cluster():
    """An in-process cluster with one single-threaded worker."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        yield cluster


def test_dask_executor_on_a_scheduler_address(dask_cluster):
    tasks = [(x, 1) for x in range(7)]
    with Executor("dask", scheduler=dask_cluster.scheduler_address) as executor:
        assert executor.client is not None
        assert dask_cluster.scheduler_address in executor.description()
        results = list(executor.map(square, tasks))
        # data_of: scattered once per distinct object, passed as the last argument
        shared = np.arange(3)
        with_data = list(executor.map(lambda x, data: int(x + data.sum()), [(x,) for x in range(4)],
                                      data_of=lambda task: shared))
    assert results == [x * x + 1 for x in range(7)]
    assert with_data == [x + 3 for x in range(4)]
    assert executor.client is None  # closed on exit, the cluster itself left running


def test_dask_executor_needs_its_context():
    pytest.importorskip("distributed")
    with pytest.raises(RuntimeError, match="with Executor"):
        list(Executor("dask").map(square, [(1,)]))
