"""Tests of the drift study (:mod:`sklearn_aimc.experiments.drift`, ``python -m sklearn_aimc drift``).

They run on a tiny synthetic magic04 look-alike (``fake_data_home``), never on
the shared data.  The drift study inside ``reproduce`` is tested in
``test_kernel_ridge.py``.
"""

import contextlib
import csv
import io

import pytest

from sklearn_aimc import __main__ as cli
from sklearn_aimc.experiments import drift


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row)) for row in reader]


def run_cli(argv, stderr):
    with contextlib.redirect_stderr(stderr):
        return cli.main(argv)


@pytest.fixture
def data_home(fake_data_home):
    return fake_data_home


def test_run_drift_study_api(data_home):
    rows = drift.run_drift_study(
        ["magic04"], kernels=["rbf"], k=1, n_seeds=1, times=[1.0, 86400.0],
        compensations=[None, "per_column"], data_home=data_home, n_jobs=1, progress=False,
    )
    assert [(r["drift_compensation"], r["t_inference"]) for r in rows] == [
        ("none", 1.0), ("none", 86400.0), ("per_column", 1.0), ("per_column", 86400.0)
    ]


def test_drift_subcommand(data_home, tmp_path):
    stderr = io.StringIO()
    argv = ["drift", "--datasets", "magic04", "--kernels", "rbf", "--k", "1", "--seeds", "1",
            "--times", "1", "86400", "--max-train", "100", "--data-home", str(data_home),
            "--output-dir", str(tmp_path)]
    assert run_cli(argv, stderr) == 0
    _, rows = read_csv(tmp_path / "drift.csv")
    assert [(r["drift_compensation"], r["t_inference"]) for r in rows] == [
        (mode, t) for mode in ("none", "global", "per_column") for t in ("1.0", "86400.0")
    ]
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "`python -m sklearn_aimc drift --datasets magic04" in text and "## Drift study" in text
    assert stderr.getvalue().splitlines()[-1].startswith(f"wrote {tmp_path}: 6 drift reads")


def test_drift_subcommand_errors(tmp_path, capsys):
    assert cli.main(["drift", "--datasets", "magic04", "--data-home", str(tmp_path)]) == 1
    assert "local data not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["drift", "--k", "0"])
    assert info.value.code == 2
