"""Tests of sklearn_aimc._parallel: row tasks and per-thread objects."""

import threading

import pytest

from sklearn_aimc._parallel import PerThread, row_tasks, run_row_tasks


def test_per_thread_objects_are_made_once_per_thread():
    made = []

    def factory():
        made.append(threading.get_ident())
        return object()

    per_thread = PerThread(factory)
    mine = per_thread.get()
    assert per_thread.get() is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.extend([per_thread.get(), per_thread.get()]))
    thread.start()
    thread.join()
    assert theirs[0] is theirs[1] is not mine
    assert len(made) == 2 and made[0] != made[1]


@pytest.mark.parametrize("n_rows, task_rows", [(10, 3), (9, 3), (1, 5), (0, 4)])
def test_row_tasks_cover_the_rows_once(n_rows, task_rows):
    tasks = row_tasks(n_rows, task_rows)
    covered = [i for rows in tasks for i in range(rows.start, rows.stop)]
    assert covered == list(range(n_rows))
    assert all(rows.stop - rows.start <= task_rows for rows in tasks)


def test_run_row_tasks_returns_results_in_task_order():
    results = run_row_tasks(100, 7, lambda rows, index: (index, rows.start))
    assert [index for index, _ in results] == list(range(len(results)))
    assert [start for _, start in results] == [rows.start for rows in row_tasks(100, 7)]


def test_blas_is_single_threaded_inside_from_any_thread():
    # threadpoolctl 3.8 ignores limits set by a thread other than its
    # "controlling" one (the first thread that set one, while it lives).
    # The main thread takes control here; a read from another thread must
    # still run its products on one BLAS thread, or their rounding changes.
    from sklearn_aimc._parallel import _blas, single_threaded_blas

    if not _blas().info():
        pytest.skip("no BLAS library found by threadpoolctl")
    with single_threaded_blas():
        pass
    _blas().limit(limits=2)  # a standalone limit from the main thread keeps control here
    seen = []

    def read():
        with single_threaded_blas():
            seen.append(max(lib["num_threads"] for lib in _blas().info()))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == [1]
