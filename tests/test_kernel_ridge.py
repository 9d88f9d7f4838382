"""Tests of the kernel-ridge study, ``python -m sklearn_aimc reproduce``
(:mod:`sklearn_aimc.experiments.kernel_ridge`).

They run on tiny synthetic files in the format of the benchmark datasets,
never on the shared data.
"""

import contextlib
import csv
import io
import sys

import numpy as np
import pytest

from sklearn_aimc import __main__ as cli
from sklearn_aimc.experiments import drift
from sklearn_aimc.experiments import kernel_ridge as rep
from sklearn_aimc.datasets import ENV_VAR

NUMBERS = ["accuracy", "kernel_error"]  # "seconds" differs from run to run
KEYS = [c for c in rep.RUN_COLUMNS if c not in ("accuracy", "kernel_error", "seconds")]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row)) for row in reader]


def numbers(rows):
    return [tuple(row[c] for c in KEYS + NUMBERS) for row in rows]


@pytest.fixture(scope="module")
def data_home(fake_data_home):
    return fake_data_home


@pytest.fixture(scope="module")
def quick_cli(data_home, tmp_path_factory):
    """One quick study through the command line (n_jobs=2, the default)."""
    out = tmp_path_factory.mktemp("cli") / "results"
    stderr = io.StringIO()
    argv = ["reproduce", "--quick", "--data-home", str(data_home), "--output-dir", str(out)]
    with contextlib.redirect_stderr(stderr):
        status = cli.main(argv)
    return {"status": status, "out": out, "stderr": stderr.getvalue()}


def test_cli_quick_runs_csv(quick_cli):
    assert quick_cli["status"] == 0
    header, rows = read_csv(quick_cli["out"] / "runs.csv")
    assert header == list(rep.RUN_COLUMNS)
    # magic04 (d = 10), rbf, rff, k in {1, 2}, 2 seeds, float + chip
    assert len(rows) == 8
    devices = ("float", "hermes")
    expected = {(k, seed, device) for k in ("1", "2") for seed in ("0", "1") for device in devices}
    assert {(r["k"], r["seed"], r["device"]) for r in rows} == expected
    assert {(r["k"], r["s"]) for r in rows} == {("1", "19"), ("2", "38")}
    assert {(r["dataset"], r["kernel"], r["method"]) for r in rows} == {("magic04", "rbf", "rff")}
    for row in rows:
        chip = row["device"] == "hermes"
        assert row["t_inference"] == ("3600.0" if chip else "")
        assert row["drift_compensation"] == ("global" if chip else "")
        assert 0.5 < float(row["accuracy"]) <= 1.0
        assert 0.0 < float(row["kernel_error"]) < 1.0
        assert float(row["seconds"]) > 0
    assert [r["device"] for r in rows[:2]] == ["float", "hermes"]  # float first, then the chip


def test_cli_quick_summary(quick_cli, data_home):
    text = (quick_cli["out"] / "summary.md").read_text(encoding="utf-8")
    command = (
        f"python -m sklearn_aimc reproduce --quick --data-home {data_home} "
        f"--output-dir {quick_cli['out']}"
    )
    assert f"`{command}`" in text
    for heading in ("## Data", "## Largest k: float vs simulated HERMES accuracy",
                    "## All configurations", "### magic04", "## Drift study",
                    "### Accuracy (%)", "### Kernel error", "## Figures"):
        assert heading in text
    for column in ("float acc (%)", "HERMES acc (%)", "drop (pp)", "float K error", "HERMES K error",
                   "RFF float (%)", "RFF HERMES (%)", "1 s", "1 h", "1 year"):
        assert column in text
    for fact in ("Wall time", "Machine", "CPUs", "scikit-learn", "numpy", "n_jobs=2"):
        assert fact in text
    assert "| magic04 | 200 | 200 | 10 |" in text  # 50 % train; validation + test (25 % + 25 %) for testing
    assert "| rbf | rff | 2 | 38 |" in text


def test_cli_quick_drift_csv(quick_cli):
    header, rows = read_csv(quick_cli["out"] / "drift.csv")
    assert header == list(rep.RUN_COLUMNS)
    assert len(rows) == 2 * 3 * 3  # seeds x compensation modes x times
    assert {r["drift_compensation"] for r in rows} == {"none", "global", "per_column"}
    assert {float(r["t_inference"]) for r in rows} == {1.0, 3600.0, 360 * 86400.0}
    assert {(r["method"], r["k"], r["device"]) for r in rows} == {("rff", "2", "hermes")}
    # The kernel error depends only on the test read: the deployed chip (global
    # compensation) read at 1 h is the chip of the main study, same seed.
    _, runs = read_csv(quick_cli["out"] / "runs.csv")
    main = {r["seed"]: r["kernel_error"] for r in runs if r["device"] == "hermes" and r["k"] == "2"}
    drift = {r["seed"]: r["kernel_error"] for r in rows
             if r["drift_compensation"] == "global" and float(r["t_inference"]) == 3600.0}
    assert drift == main


def test_cli_quick_progress_off_a_terminal(quick_cli):
    """stderr is not a terminal here: no progress bar, only the one-line summaries."""
    lines = quick_cli["stderr"].splitlines()
    assert "\r" not in quick_cli["stderr"] and "ETA" not in quick_cli["stderr"]
    assert [line.split(" in ")[0] for line in lines[:2]] == ["study: 4 runs", "drift: 6 runs"]
    assert lines[-1].startswith(f"wrote {quick_cli['out']}: 8 study runs, 18 drift reads (")


def test_cli_quick_figures(quick_cli):
    pytest.importorskip("matplotlib")
    for name in ("figure_magic04.png", "drift_magic04.png"):
        assert (quick_cli["out"] / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"[{name}]({name})" in (quick_cli["out"] / "summary.md").read_text(encoding="utf-8")


def test_api_same_numbers_as_cli_with_one_job(quick_cli, data_home, tmp_path):
    """Same seeds give the same numbers: a second run, through the API and with n_jobs=1."""
    result = rep.reproduce(quick=True, data_home=data_home, output_dir=tmp_path, n_jobs=1, progress=False)
    for name in ("runs.csv", "drift.csv"):
        _, cli_rows = read_csv(quick_cli["out"] / name)
        _, api_rows = read_csv(tmp_path / name)
        assert numbers(api_rows) == numbers(cli_rows)
    # the returned rows are what the CSV holds
    assert rep.read_runs(tmp_path / "runs.csv") == [
        {**row, "seconds": pytest.approx(row["seconds"])} for row in result["rows"]
    ]
    assert rep.read_runs(tmp_path / "drift.csv")[0]["t_inference"] == 1.0
    assert result["paths"]["summary"].is_file()
    assert "sklearn_aimc.experiments.kernel_ridge.reproduce(" in result["paths"]["summary"].read_text(
        encoding="utf-8"
    )


def test_run_study_api(data_home):
    rows = rep.run_study(
        ["magic04"], kernels=["arccos"], methods=["sorf", "orf"], ks=[1], n_seeds=2,
        data_home=data_home, max_train=120, max_test=60, n_jobs=1, progress=False,
    )
    assert isinstance(rows, list) and all(isinstance(row, dict) for row in rows)
    assert [(r["method"], r["seed"], r["device"]) for r in rows] == [
        (method, seed, device)
        for method in ("sorf", "orf")
        for seed in (0, 1)
        for device in ("float", "hermes")
    ]
    assert all(set(row) == set(rep.RUN_COLUMNS) for row in rows)
    summary = rep.summarize(rows)
    assert [(item["method"], item["n_seeds"]) for item in summary] == [("sorf", 2), ("orf", 2)]
    float_acc = [r["accuracy"] for r in rows if r["method"] == "sorf" and r["device"] == "float"]
    chip_acc = [r["accuracy"] for r in rows if r["method"] == "sorf" and r["device"] == "hermes"]
    assert summary[0]["drop"][0] == pytest.approx(100 * (np.mean(float_acc) - np.mean(chip_acc)))


def test_load_split_subsamples(data_home):
    X_train, X_test, y_train, y_test = rep.load_split("magic04", data_home=data_home)
    X_sub, X_head, y_sub, y_head = rep.load_split("magic04", data_home=data_home, max_train=50, max_test=30)
    assert X_train.dtype == np.float32 and X_train.shape == (200, 10) and X_test.shape == (200, 10)
    assert X_sub.shape == (50, 10) and y_sub.shape == (50,)
    assert np.array_equal(X_head, X_test[:30]) and np.array_equal(y_head, y_test[:30])
    rows = {row.tobytes() for row in X_train}
    assert all(row.tobytes() in rows for row in X_sub)  # a subset of the training part
    again = rep.load_split("magic04", data_home=data_home, max_train=50)
    assert np.array_equal(again[0], X_sub)  # seeded
    assert not X_sub.flags.writeable


def test_incremental_csv_keeps_finished_runs(data_home, tmp_path, monkeypatch):
    real = rep.evaluate

    def crash_on_seed_1(*args, **kwargs):
        if kwargs["random_state"] == 1:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(rep, "evaluate", crash_on_seed_1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        rep.run_study(["magic04"], kernels=["rbf"], methods=["rff"], ks=[1], n_seeds=3,
                      data_home=data_home, n_jobs=1, progress=False, csv_path=tmp_path / "runs.csv")
    header, rows = read_csv(tmp_path / "runs.csv")
    assert header == list(rep.RUN_COLUMNS)
    assert [(r["seed"], r["device"]) for r in rows] == [("0", "float"), ("0", "hermes")]


def test_no_matplotlib_gives_a_note(data_home, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = rep.reproduce(quick=True, drift=False, data_home=data_home, output_dir=tmp_path,
                           n_jobs=1, progress=False)
    assert result["paths"]["figures"] == []
    assert not list(tmp_path.glob("*.png"))
    assert not (tmp_path / "drift.csv").exists()
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "matplotlib is not installed" in text and "## Drift study" not in text


def test_missing_dataset_message(tmp_path, capsys):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    out = tmp_path / "results"
    status = cli.main(["reproduce", "--quick", "--data-home", str(empty), "--output-dir", str(out)])
    assert status == 1
    err = capsys.readouterr().err
    assert "local data not found" in err
    assert str(empty / "magic04.csv.gz") in err
    assert ENV_VAR in err  # how to point the loader at the data
    assert not out.exists()  # fails before any run


def test_missing_dataset_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ijcnn1-train.csv.gz"):
        rep.run_study(["ijcnn1"], n_seeds=1, progress=False)


@pytest.mark.parametrize(
    "options",
    [
        ["--k", "0"],
        ["--k", "two"],
        ["--seeds", "0"],
        ["--methods", "nystroem"],
        ["--datasets", "mnist"],
        ["--kernels", "poly"],
        ["--n-jobs", "0"],
        ["--t-inference", "-1"],
        ["--device", "tpu"],
        ["--max-train", "0"],
        ["--unknown"],
    ],
)
def test_bad_options_exit_with_argparse_errors(options, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["reproduce", *options])
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_quick_options_resolution():
    quick = rep._resolve_options({"datasets": ["eeg", "magic04"], "ks": [3]}, quick=True)
    assert quick["datasets"] == ("eeg",)  # only the first dataset
    assert quick["ks"] == [3]  # explicit options win
    assert quick["n_seeds"] == 2 and quick["max_train"] == 2000 and quick["max_test"] == 1000
    assert len(quick["drift_times"]) == 3
    full = rep._resolve_options({}, quick=False)
    assert full["datasets"] == rep.PAPER_DATASETS and full["ks"] == (1, 2, 3, 4, 5)
    assert full["n_seeds"] == 10 and full["drift_times"] == drift.DRIFT_TIMES


def test_default_command_still_runs_the_demo(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "demo", lambda *args, **kwargs: calls.append((args, kwargs)))
    assert cli.main(["--seeds", "2", "--dataset", "wine"]) == 0
    assert calls == [(("wine",), {"k": 3, "n_seeds": 2, "gamma": 0.05})]


# --------------------------------------------------------------------------- progress
class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


SMALL = ["--k", "1", "--seeds", "2", "--max-train", "100", "--no-drift"]


def run_cli(argv, stderr):
    with contextlib.redirect_stderr(stderr):
        return cli.main(argv)


def test_progress_on_a_terminal(data_home, tmp_path):
    stderr = Terminal()
    assert run_cli(["reproduce", "--quick", "--data-home", str(data_home), "--output-dir",
                    str(tmp_path), *SMALL], stderr) == 0
    text = stderr.getvalue()
    assert "magic04: 100 train / 200 test rows, d = 10" in text
    frames = [frame for frame in text.split("\r") if frame.strip()]
    assert any(frame.startswith("study: 100%|") and "2/2 runs" in frame for frame in frames)
    assert "study: 2 runs in " in text
    assert text.rstrip().splitlines()[-1].startswith(f"wrote {tmp_path}: 4 study runs, 0 drift reads")


def test_quiet_on_a_terminal_prints_only_the_final_summary(data_home, tmp_path):
    stderr = Terminal()
    assert run_cli(["reproduce", "--quick", "--quiet", "--data-home", str(data_home),
                    "--output-dir", str(tmp_path), *SMALL], stderr) == 0
    assert stderr.getvalue().splitlines() == [stderr.getvalue().strip()]
    assert stderr.getvalue().startswith(f"wrote {tmp_path}: 4 study runs, 0 drift reads (")


# --------------------------------------------------------------------------- protocol
def test_paper_protocol_runs_and_is_recorded(data_home, tmp_path):
    result = rep.reproduce(quick=True, protocol="paper", data_home=data_home, output_dir=tmp_path,
                           n_jobs=1, progress=False, drift=False)
    text = result["paths"]["summary"].read_text(encoding="utf-8")
    assert "protocol 'paper' (each file z-scored as a whole before splitting" in text
    assert "round(clip(y_hat, 0, 1))" in text
    assert "## Against the paper's float figures" in text and "Protocol `paper`" in text
    assert "| magic04 | rbf | 86.35 |" in text
    # the paper's readout and scaling give other numbers than the default protocol
    default = rep.run_study(["magic04"], kernels=["rbf"], methods=["rff"], ks=[1, 2], n_seeds=2,
                            data_home=data_home, max_train=2000, max_test=1000, n_jobs=1,
                            progress=False)
    assert numbers(result["rows"]) != numbers(default)
    split = rep.load_split("magic04", data_home=data_home, protocol="paper")
    assert split[0].mean(axis=0).std() > 0  # not centred on the training part alone


def test_best_k_accuracy_is_the_mean_over_methods_of_the_best_k(data_home):
    rows = rep.run_study(["magic04"], kernels=["rbf"], methods=["rff", "orf"], ks=[1, 2], n_seeds=2,
                         data_home=data_home, max_train=120, n_jobs=1, progress=False,
                         protocol="paper")
    summary = rep.summarize(rows)
    best = [max(item["float_accuracy"][0] for item in summary if item["method"] == method)
            for method in ("rff", "orf")]
    assert rep.best_k_accuracy(summary, "magic04", "rbf") == pytest.approx(100 * np.mean(best))
    assert rep.best_k_accuracy(summary, "magic04", "arccos") is None


def test_bad_protocol():
    with pytest.raises(ValueError, match="protocol"):
        rep.run_study(["magic04"], protocol="leaky", progress=False)
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--protocol", "leaky"])


# --------------------------------------------------------------------------- dask
def test_dask_local_cluster_gives_the_serial_numbers(quick_cli, data_home, tmp_path):
    """--backend dask (a LocalCluster of 2 worker processes): the CSVs of the loky run, bit for bit."""
    pytest.importorskip("distributed")
    stderr = io.StringIO()
    argv = ["reproduce", "--quick", "--backend", "dask", "--data-home", str(data_home),
            "--output-dir", str(tmp_path)]
    assert run_cli(argv, stderr) == 0, stderr.getvalue()
    for name in ("runs.csv", "drift.csv"):
        _, serial = read_csv(quick_cli["out"] / name)
        _, on_dask = read_csv(tmp_path / name)
        assert numbers(on_dask) == numbers(serial)
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "dask distributed (a LocalCluster of 2 single-threaded workers" in text


def test_dask_scheduler_address(quick_cli, data_home, tmp_path):
    """--scheduler: runs on an existing cluster, whose workers need no data files."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        rows = rep.run_study(["magic04"], kernels=["rbf"], methods=["rff"], ks=[1, 2], n_seeds=2,
                             data_home=data_home, max_train=2000, max_test=1000,
                             backend="dask", scheduler=cluster.scheduler_address, progress=False)
    _, serial = read_csv(quick_cli["out"] / "runs.csv")  # the CSV holds each float's repr
    assert [(r["seed"], r["device"], r["accuracy"], r["kernel_error"]) for r in rows] == [
        (int(r["seed"]), r["device"], float(r["accuracy"]), float(r["kernel_error"])) for r in serial
    ]


def test_scheduler_needs_dask_backend(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["reproduce", "--scheduler", "tcp://127.0.0.1:8786"])
    assert info.value.code == 2
    assert "--scheduler needs --backend dask" in capsys.readouterr().err
