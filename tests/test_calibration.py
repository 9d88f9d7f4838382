"""The calibration study (python -m sklearn_aimc calibration)."""

import csv

import numpy as np
import pytest

from sklearn_aimc.experiments import calibration


def test_quick_study_writes_its_records_and_summary(tmp_path):
    assert calibration.main(["--quick", "--quiet", "--output-dir", str(tmp_path)]) == 0
    with open(tmp_path / "calibration.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(calibration.COLUMNS)
    assert len(rows) == 2 * len(calibration.CONTAMINATIONS) * len(calibration.CALIBRATIONS)
    # The outliers starve the percentile range (and it says so); the robust range copes.
    by = {(row["contamination"], row["calibration"]): row for row in rows if row["seed"] == "0"}
    assert by[("0.002", "percentile")]["calibration_warning"] == "True"
    assert by[("0.002", "mse")]["calibration_warning"] == "False"
    assert float(by[("0.002", "mse")]["accuracy"]) > float(by[("0.002", "percentile")]["accuracy"]) + 0.2
    assert "contamination" in (tmp_path / "calibration.md").read_text()


def test_contamination_sets_the_requested_share_of_entries():
    X = np.zeros((1000, 50))
    contaminated = calibration._contaminate(X, 0.01, seed=0)
    share = np.mean(contaminated == calibration.OUTLIER)
    assert abs(share - 0.01) < 5 * np.sqrt(0.01 * 0.99 / X.size)  # 5 binomial standard errors
    assert not X.any()  # the caller's array is not touched


def test_bad_arguments():
    with pytest.raises(SystemExit):
        calibration.main(["--seeds", "0"])
