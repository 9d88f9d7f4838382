"""A tiny end-to-end run of the robot-arm study (meta-training needs torch; exported weights do not)."""

import csv

import numpy as np
import pytest

from sklearn_aimc.experiments import robot_arm


def _tiny_weights(seed=0, n=10, n_gen=12):
    rng = np.random.default_rng(seed)
    n_gen_inputs = 5 + 2 * 16
    return {
        "controller_weights": np.vstack([rng.normal(0, 0.3, (5, n)), rng.normal(0, 0.1, (n, n))]),
        "controller_output": rng.normal(0, 0.2, (n, 2)),
        "generator_weights": np.vstack([rng.normal(0, 0.5, (n_gen_inputs, n_gen)), rng.normal(0, 0.1, (n_gen, n_gen))]),
        "generator_output": rng.normal(0, 1.0, (n_gen, n)),
        "generator_adaptive": np.arange(n_gen) < 4,
        "learning_rate": np.array(1e-2),
        "n_clock": np.array(5),
        "n_per_dimension": np.array(16),
    }


def test_study_from_exported_weights(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, **_tiny_weights())
    assert robot_arm.main(["--quick", "--weights", str(path), "--trajectories", "2",
                           "--output-dir", str(tmp_path)]) == 0
    with open(tmp_path / "robot_arm.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == robot_arm.COLUMNS
    assert {(r["model"], r["stage"]) for r in rows} == {(m, s) for m in ("software", "hermes")
                                                         for s in ("before", "after")}
    assert len(rows) == 4 * 2 and all(np.isfinite(float(r["mse"])) for r in rows)
    text = (tmp_path / "robot_arm.md").read_text()
    assert "Command: `python -m sklearn_aimc robot-arm --quick" in text and "Devices written" in text


def test_ideal_chip_equals_software_and_update_changes_the_loss():
    rows, curves = robot_arm.evaluate(_tiny_weights(1), n_trajectories=3, n_steps=40, device="ideal")
    summary = robot_arm.summarize(rows)
    # an exact chip reproduces software before the update; after it, only the 1/16 rounding differs
    assert summary["mean"][("hermes", "before")] == pytest.approx(summary["mean"][("software", "before")])
    np.testing.assert_array_equal(curves["device_writes"], 0)
    assert summary["mean"][("software", "after")] != summary["mean"][("software", "before")]


def test_quick_study_meta_trains(tmp_path):
    pytest.importorskip("torch")
    assert robot_arm.main(["--quick", "--output-dir", str(tmp_path)]) == 0
    assert (tmp_path / "robot_arm_weights.npz").exists()
    assert "meta-training" in (tmp_path / "robot_arm.md").read_text()
