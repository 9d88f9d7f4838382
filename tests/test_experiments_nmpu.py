"""Tests of the NMPU-vs-FP16 study (sklearn_aimc.experiments.nmpu) in quick mode and on tiny settings."""

import csv

import pytest

from sklearn_aimc.__main__ import main as cli_main
from sklearn_aimc.experiments.nmpu import COLUMNS, SETTINGS, run_nmpu, summarize_nmpu


def test_rows_and_summary():
    rows = run_nmpu(("digits",), n_seeds=2, hidden_layer_sizes=(16,), progress=False)
    assert len(rows) == 2 * len(SETTINGS)
    assert all(set(row) == set(COLUMNS) for row in rows)
    (entry,) = summarize_nmpu(rows)
    assert entry["dataset"] == "digits" and entry["n_seeds"] == 2 and entry["hidden"] == "16"
    by = {(row["seed"], row["setting"]): row["accuracy"] for row in rows}
    gaps = [100 * (by[seed, "nmpu"] - by[seed, "fp16"]) for seed in (0, 1)]
    assert entry["nmpu_minus_fp16"][0] == pytest.approx(sum(gaps) / 2)
    for setting in SETTINGS:
        assert 60 < entry[setting][0] <= 100  # a 16-unit MLP learns digits, on the chip too
    # Same seed, same runs: the study is reproducible.
    assert run_nmpu(("digits",), n_seeds=2, hidden_layer_sizes=(16,), progress=False) == rows


def test_quick_command_writes_its_outputs(tmp_path):
    assert cli_main(["nmpu", "--quick", "--quiet", "--output-dir", str(tmp_path)]) == 0
    with open(tmp_path / "nmpu_vs_fp16.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["setting"] for row in rows] == list(SETTINGS)
    text = (tmp_path / "nmpu_vs_fp16.md").read_text()
    assert "NMPU - FP16" in text and "python -m sklearn_aimc nmpu --quick" in text and "CPU time" in text


def test_bad_seeds_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        cli_main(["nmpu", "--seeds", "0", "--output-dir", str(tmp_path)])


def test_resnet_on_digits_runs_every_setting():
    pytest.importorskip("torch")
    rows = run_nmpu(("digits-resnet9",), n_seeds=1, resnet_width=2, resnet_epochs=2, progress=False)
    assert [row["setting"] for row in rows] == list(SETTINGS)
    assert rows[0]["hidden_layer_sizes"] == "ResNet9 width 2"
    assert all(0.0 <= row["accuracy"] <= 1.0 for row in rows)
    assert rows == run_nmpu(("digits-resnet9",), n_seeds=1, resnet_width=2, resnet_epochs=2, progress=False)
