"""Tests of the attention-error study (sklearn_aimc.experiments.attention) on small settings."""

import csv
import importlib.util

import numpy as np
import pytest

from sklearn_aimc.__main__ import main as cli_main
from sklearn_aimc.experiments.attention import (
    ERROR_COLUMNS,
    attention_sequences,
    run_error_study,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")


def test_sequences():
    minilm = attention_sequences("minilm", 14)
    assert len(minilm) == 14 and len({name for name, *_ in minilm}) == 14
    assert minilm[0][0] == "sentence 0 head 0" and minilm[6][0] == "sentence 0 head 7"
    for _, Q, K, V in minilm:
        assert Q.shape == K.shape == V.shape and Q.shape[1] == 32 and Q.dtype == np.float32
    assert len({name for name, *_ in attention_sequences("minilm", 72)}) == 72
    with pytest.raises(ValueError, match="n_sequences"):
        attention_sequences("minilm", 73)
    gaussian = attention_sequences("gaussian", 3)
    assert [Q.shape for _, Q, _, _ in gaussian] == [(21, 32)] * 3
    np.testing.assert_array_equal(gaussian[1][1], attention_sequences("gaussian", 3)[1][1])
    with pytest.raises(ValueError, match="inputs"):
        attention_sequences("bert")


def test_error_study_rows():
    rows = run_error_study(("minilm",), ks=(1, 2), n_seeds=2, n_sequences=3, ablation=True, progress=False)
    # 2 k x 2 seeds x 3 sequences on float and HERMES, plus 5 ablation devices at k = 2.
    assert len(rows) == 2 * 2 * 3 * 2 + 2 * 3 * 5
    assert set(rows[0]) == set(ERROR_COLUMNS)
    assert {row["s"] for row in rows} == {31, 63}
    float_rows = [row for row in rows if row["device"] == "float"]
    hermes_rows = [row for row in rows if row["device"] == "hermes"]
    assert all(0 < row["error"] < 2 for row in rows)
    # Same seed, same projection: the chip changes the error, it does not replace it.
    for f, h in zip(float_rows, hermes_rows):
        assert (f["k"], f["seed"], f["sequence"]) == (h["k"], h["seed"], h["sequence"])
        assert f["error"] != h["error"] and abs(f["error"] - h["error"]) < 0.5 * f["error"]


def test_command_writes_results(tmp_path, capsys):
    assert cli_main(["attention", "--task", "error", "--quick", "--inputs", "gaussian", "--no-ablation",
                     "--output-dir", str(tmp_path)]) == 0
    with open(tmp_path / "attention_error.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 2 * 2 * 4 * 2 and tuple(rows[0]) == ERROR_COLUMNS
    summary = (tmp_path / "attention_error.md").read_text()
    assert "python -m sklearn_aimc attention --task error --quick" in summary
    assert "| 1 | 31 |" in summary and "Wall time" in summary
    # The figure needs matplotlib (the 'plot' extra), which the test extra does not bring.
    assert (tmp_path / "attention_error.png").exists() == (importlib.util.find_spec("matplotlib") is not None)


@pytest.mark.parametrize("argv, message", [
    (["--task", "nope"], "invalid choice"),
    ([], "required: --task"),
    (["--task", "error", "--k", "0"], "expected an integer >= 1"),
])
def test_command_rejects_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["attention", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
