"""Tests of the command line, ``python -m sklearn_aimc``."""

import subprocess
import sys

import pytest

from sklearn_aimc.__main__ import build_parser, main

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")


def _table_rows(output):
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["method"])
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(line)
    return lines[start], rows


def test_main_prints_table(capsys):
    assert main(["--seeds", "1", "--k", "1"]) == 0
    output = capsys.readouterr().out
    assert "breast_cancer" in output
    assert "s = 2^1 d - 1 = 59 projections" in output  # d = 30
    header, rows = _table_rows(output)
    assert header.split()[0] == "method"
    assert [row.split()[0] for row in rows] == ["RFF", "ORF", "SORF"]
    for row in rows:
        assert len(row) == len(header)  # aligned table
        # float acc, chip acc, drop, float error, chip error: "mean +- std"
        assert row.count("+-") == 5
        values = [float(token) for token in row.split()[1:] if token != "+-"]
        float_acc, chip_acc = values[0], values[2]
        assert 80 <= float_acc <= 100 and 80 <= chip_acc <= 100
        assert values[4] == pytest.approx(float_acc - chip_acc, abs=0.011)
    assert "core MVMs" in output


def test_main_other_dataset(capsys):
    assert main(["--dataset", "wine", "--seeds", "1", "--k", "1", "--gamma", "0.1"]) == 0
    output = capsys.readouterr().out
    assert "dataset wine" in output and "gamma=0.1" in output
    assert [row.split()[0] for row in _table_rows(output)[1]] == ["RFF", "ORF", "SORF"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--k", "0"], "--k and --seeds must be at least 1"),
        (["--seeds", "0"], "--k and --seeds must be at least 1"),
        (["--seeds", "-3"], "--k and --seeds must be at least 1"),
        (["--k", "two"], "invalid int value"),
        (["--gamma", "x"], "invalid float value"),
        (["--dataset", "iris"], "invalid choice"),
        (["--unknown"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_with_error(argv, message, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "usage:" in captured.err
    assert captured.out == ""


def test_parser_defaults():
    args = build_parser().parse_args([])
    assert (args.dataset, args.k, args.seeds, args.gamma) == ("breast_cancer", 3, 5, 0.05)


def test_help_in_subprocess():
    completed = subprocess.run(
        [sys.executable, "-m", "sklearn_aimc", "--help"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: python -m sklearn_aimc")
    for option in ("--dataset", "--k", "--seeds", "--gamma", "reproduce"):
        assert option in completed.stdout
    assert completed.stderr == ""


def test_bad_argument_in_subprocess():
    completed = subprocess.run(
        [sys.executable, "-m", "sklearn_aimc", "--k", "0"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 2
    assert "--k and --seeds must be at least 1" in completed.stderr


def test_subcommand_registry_dispatches_to_the_study_module(capsys):
    from sklearn_aimc.__main__ import SUBCOMMANDS

    assert SUBCOMMANDS["reproduce"][0] == "sklearn_aimc.experiments.kernel_ridge"
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m sklearn_aimc reproduce")
    assert "--protocol" in out and "--backend" in out and "--quiet" in out


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "'python -m sklearn_aimc reproduce [options]' runs the paper's kernel-ridge chip study" in (
        " ".join(capsys.readouterr().out.split())
    )
