"""Smoke test of the ListOps study (sklearn_aimc.experiments.listops): tiny settings, seconds."""

import csv

import pytest

pytest.importorskip("torch")

from sklearn_aimc.__main__ import main as cli_main  # noqa: E402
from sklearn_aimc.experiments.listops import LISTOPS_COLUMNS, load_listops_split  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")


def test_split_is_deterministic_and_disjoint_in_draw_order():
    a, b = load_listops_split(30, 5, 10), load_listops_split(30, 5, 10)
    for part in ("train", "val", "test"):
        assert (a[part][0] == b[part][0]).all() and (a[part][1] == b[part][1]).all()
    assert [len(a[part][1]) for part in ("train", "val", "test")] == [30, 5, 10]
    assert a["train"][0].shape[1] == a["test"][0].shape[1]  # one padding for all parts


def test_quick_command_writes_results(tmp_path):
    assert cli_main(["attention", "--task", "listops", "--quick", "--output-dir", str(tmp_path)]) == 0
    with open(tmp_path / "listops.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == LISTOPS_COLUMNS
    devices = ("float", "hermes", "hermes-all-linear", "float, hardware-aware", "hermes, hardware-aware")
    assert {(row["seed"], row["device"]) for row in rows} == {(seed, device) for seed in ("0", "1") for device in devices}
    assert all(row["task"] == "listops" and 0 <= float(row["accuracy"]) <= 1 for row in rows)
    summary = (tmp_path / "listops.md").read_text()
    for text in ("Transformer (softmax, same size)", "chance", "Wall time", "--task listops --quick"):
        assert text in summary
    assert (tmp_path / "listops_training.csv").exists()

    # The saved weights evaluate again without training.
    again = tmp_path / "again"
    assert cli_main(["attention", "--task", "listops", "--quick", "--from-weights", str(tmp_path),
                     "--hardware-aware-steps", "0", "--output-dir", str(again)]) == 0
    with open(again / "listops.csv") as stream:
        rows_again = list(csv.DictReader(stream))
    assert [row for row in rows if "hardware-aware" not in row["device"]] == rows_again
    assert "Weights of an earlier run" in (again / "listops.md").read_text()
