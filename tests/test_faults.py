"""The fault study (python -m sklearn_aimc faults)."""

import csv

import pytest

from sklearn_aimc.experiments import faults

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")


def test_quick_study_writes_its_records_and_summary(tmp_path):
    assert faults.main(["--quick", "--quiet", "--output-dir", str(tmp_path)]) == 0
    with open(tmp_path / "faults.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(faults.COLUMNS)
    kinds = {(row["devices"], row["fault"], row["fault_compensation"]) for row in rows}
    assert ("float", "float", "False") in kinds and ("single", "stuck_set", "True") in kinds
    assert len(rows) == 2 * (2 + 2 * 2)  # seeds x (float, fault-free, 2 faults x 2 modes)
    summary = (tmp_path / "faults.md").read_text()
    assert "10% stuck SET" in summary and "python -m sklearn_aimc faults --quick" in summary


def test_summary_measures_losses_against_the_fault_free_chip_of_the_same_seed():
    def row(devices, fault, seed, accuracy, compensation=False, fraction=0.1):
        return dict(readout="pixels", devices=devices, fault=fault, fraction=fraction,
                    fault_compensation=compensation, seed=seed, accuracy=accuracy, device_writes=10)

    rows = [row("float", "float", 0, 0.95, fraction=0.0), row("float", "float", 1, 0.97, fraction=0.0),
            row("single", "none", 0, 0.90, fraction=0.0), row("single", "none", 1, 0.96, fraction=0.0),
            row("single", "stuck_set", 0, 0.80), row("single", "stuck_set", 1, 0.92)]
    table = {(entry["devices"], entry["fault"]): entry for entry in faults.summarize_faults(rows)}
    assert table[("single", "stuck_set")]["drop"] == pytest.approx((7.0, 3.0))
    assert table[("single", "none")]["drop"] == (0.0, 0.0)
    assert table[("float", "float")]["accuracy"] == pytest.approx((96.0, 1.0))


def test_bad_arguments():
    with pytest.raises(SystemExit):
        faults.main(["--seeds", "0"])
