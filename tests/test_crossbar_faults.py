"""Stuck devices: persistent per chip, and fault-aware programming that re-targets healthy devices."""

import numpy as np
import pytest

from sklearn_aimc import AnalogCrossbar, GenericPCM, HermesPCM
from sklearn_aimc.crossbar.mapping import fault_aware_targets
from sklearn_aimc.device import HEALTHY, STUCK_RESET, STUCK_SET

from crossbar_helpers import gaussian

G = 10.0


def weight(targets):
    """Differential conductance of each weight: sum G+ - sum G-."""
    return targets[:, :, 0].sum(axis=1) - targets[:, :, 1].sum(axis=1)


def realised(targets, faults):
    """What the devices hold: stuck ones at their stuck value, the others at their targets."""
    held = np.where(faults == STUCK_SET, G, np.where(faults == STUCK_RESET, 0.0, targets))
    return weight(held)


@pytest.mark.parametrize(
    "target, faults, expected",
    [
        # (G+, G-) of one modelled device per polarity; the wanted difference is G+ - G-.
        ((3.0, 0.0), (STUCK_SET, HEALTHY), 3.0),  # G- = g_max - 3
        ((0.0, 4.0), (HEALTHY, STUCK_SET), -4.0),  # stuck on the weight's own polarity: exactly 4 below
        ((3.0, 0.0), (HEALTHY, STUCK_SET), 0.0),  # G+ saturates at g_max: 0 is the closest to 3 (was -7)
        ((3.0, 0.0), (STUCK_RESET, HEALTHY), 0.0),  # nothing can be positive any more
        ((3.0, 0.0), (HEALTHY, HEALTHY), 3.0),
    ],
)
def test_one_device_per_polarity(target, faults, expected):
    targets = np.array(target, dtype=np.float32).reshape(1, 1, 2)
    codes = np.array(faults, dtype=np.uint8).reshape(1, 1, 2)
    new, _ = fault_aware_targets(targets, codes, G)
    assert realised(new, codes)[0] == pytest.approx(expected)
    assert ((new >= 0) & (new <= G)).all()


def test_healthy_devices_of_the_same_polarity_take_the_share_of_a_stuck_one():
    targets = np.zeros((1, 2, 2), np.float32)
    targets[0, :, 0] = 4.0  # 8 in total on G+
    faults = np.zeros((1, 2, 2), np.uint8)
    faults[0, 0, 0] = STUCK_RESET
    new, n_retargeted = fault_aware_targets(targets, faults, G)
    assert realised(new, faults)[0] == pytest.approx(8.0)
    assert new[0, 1, 0] == 8.0 and n_retargeted == 1


def test_random_faults_are_compensated_where_reachable():
    rng = np.random.default_rng(0)
    relative = rng.uniform(-1, 1, 5000)
    targets = np.zeros((5000, 2, 2), np.float32)
    targets[:, :, 0] = np.clip(relative, 0, 1)[:, None] * G
    targets[:, :, 1] = np.clip(-relative, 0, 1)[:, None] * G
    faults = rng.choice([HEALTHY, STUCK_RESET, STUCK_SET], p=[0.8, 0.1, 0.1], size=targets.shape).astype(np.uint8)
    new, _ = fault_aware_targets(targets, faults, G)
    wanted, reached = weight(targets.astype(np.float64)), realised(new, faults)
    healthy = (faults == HEALTHY).all(axis=(1, 2))
    np.testing.assert_allclose(reached[healthy], wanted[healthy], atol=1e-5)  # untouched
    before = np.abs(realised(targets, faults) - wanted)
    after = np.abs(reached - wanted)
    assert (after <= before + 1e-5).all()  # never worse
    # Exactly the distance from the target to the interval the healthy devices can reach.
    stuck_set = (faults == STUCK_SET).sum(axis=1) * G  # per polarity
    healthy_count = (faults == HEALTHY).sum(axis=1)
    low = stuck_set[:, 0] - stuck_set[:, 1] - healthy_count[:, 1] * G
    high = stuck_set[:, 0] - stuck_set[:, 1] + healthy_count[:, 0] * G
    np.testing.assert_allclose(after, np.maximum(low - wanted, 0) + np.maximum(wanted - high, 0), atol=1e-5)
    assert after.mean() < 0.5 * before.mean()


def test_faults_are_kept_across_reprogramming():
    W = gaussian((40, 30), 1)
    pcm = HermesPCM(stuck_set_fraction=0.2)
    chip = AnalogCrossbar(pcm=pcm).program(W, calibration_inputs=gaussian((100, 40), 2), random_state=0)
    faults = chip._array.faults.copy()
    assert 0.15 < (faults == STUCK_SET).mean() < 0.25
    chip.reprogram(-W, at=1.0)
    np.testing.assert_array_equal(chip._array.faults, faults)
    np.testing.assert_array_equal(chip._array.g_prog[faults == STUCK_SET], np.float32(pcm.g_max))


@pytest.mark.parametrize("pcm", [HermesPCM(stuck_set_fraction=0.1), GenericPCM(stuck_set_fraction=0.1)],
                         ids=["hermes_pair", "generic_2_per_polarity"])
def test_fault_aware_programming_realises_the_weights_better(pcm):
    W, X = gaussian((64, 40), 3), gaussian((300, 64), 4)
    dpp = 2
    errors, writes = {}, {}
    for compensate in (False, True):
        chip = AnalogCrossbar(pcm=pcm.set_params(prog_noise_scale=0.0, read_noise_scale=0.0, drift_scale=0.0),
                              devices_per_polarity=dpp, output_noise=0.0, fault_compensation=compensate
                              ).program(W, calibration_inputs=X, random_state=0)
        errors[compensate] = np.linalg.norm(chip.effective_weights() - W) / np.linalg.norm(W)
        writes[compensate] = chip.counters.device_writes
    # One modelled device per polarity (the HERMES pair): a weight whose other
    # polarity is stuck at SET cannot be reached; measured 0.34 against 0.98.
    # Two per polarity: the healthy partner takes the share; 0.16 against 0.72.
    assert errors[True] < 0.5 * errors[False]
    assert writes[True] > writes[False] == W.size * 2 * dpp  # verify re-writes are counted
