"""Tests of the few-shot study (sklearn_aimc.experiments.few_shot) in its quick mode."""

import csv

import numpy as np
import pytest

pytest.importorskip("torch")

from sklearn_aimc.__main__ import main as cli_main  # noqa: E402
from sklearn_aimc.experiments.few_shot import COLUMNS, MODELS, summarize  # noqa: E402


def test_quick_study_on_digits_writes_csv_report_and_figure(tmp_path):
    assert cli_main(["few-shot", "--quick", "--datasets", "digits", "--tasks", "2", "--output-dir",
                     str(tmp_path)]) == 0
    with open(tmp_path / "few_shot.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == COLUMNS
    assert len(rows) == 2 * len(MODELS) * 2  # tasks x models x inner steps (0 and 4)
    assert {row["model"] for row in rows} == set(MODELS)
    assert all(0.0 <= float(row["accuracy"]) <= 1.0 for row in rows)
    zero_steps = [row for row in rows if row["inner_steps"] == "0"]
    assert all(row["device_writes"] == "0" for row in zero_steps)
    chip = [int(row["device_writes"]) for row in rows if row["model"] == "hermes" and row["inner_steps"] == "4"]
    assert all(0 < writes <= 4 * 8 * 5 * 2 for writes in chip)  # steps x channels x ways x devices per weight
    text = (tmp_path / "few_shot.md").read_text()
    assert "Meta-training" in text and "within 2 pp" in text
    assert (tmp_path / "few_shot_inner_steps.png").stat().st_size > 0


def test_summary_interval():
    rows = [dict(dataset="d", model=model, inner_steps=4, accuracy=accuracy, device_writes=10)
            for model in MODELS for accuracy in (0.4, 0.6, 0.5, 0.5)]
    table = summarize(rows)
    assert len(table) == len(MODELS)
    entry = table[0]
    assert entry["accuracy"] == pytest.approx(0.5)
    assert entry["interval"] == pytest.approx(1.96 * np.std([0.4, 0.6, 0.5, 0.5], ddof=1) / 2)
    assert entry["n_tasks"] == 4 and entry["device_writes"] == 10
