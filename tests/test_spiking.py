"""The LIF network against hand-computed traces, e-prop's update and the quantized on-chip write."""

import numpy as np
import pytest

from sklearn_aimc.spiking import ChipWeights, LIFNetwork, clock_input, eprop_update, quantize_update

ALPHA = np.exp(-1 / 20)


def _one_neuron(w_in, n_steps, **kwargs):
    net = LIFNetwork([[w_in]], [[0.0]], [[1.0]], **kwargs)
    return net, net.run(np.ones((1, n_steps, 1)))


def test_threshold_reset_and_refractory_by_hand():
    net, run = _one_neuron(0.4, 12)
    # hand computation (threshold 0.6, alpha = exp(-1/20), input current 0.4 every step)
    v0 = 0.4
    v1 = ALPHA * v0 + 0.4  # 0.7804 >= 0.6: spike at step 1
    v2 = ALPHA * v1 + 0.4 - 0.6  # reset by subtraction; steps 2..6 refractory
    assert v1 > 0.6 and v0 < 0.6
    np.testing.assert_allclose(run["voltages"][0, :3, 0], [v0, v1, v2])
    spikes = run["spikes"][0, :, 0]
    assert spikes[1] == 1 and spikes[:1].sum() == 0
    assert spikes[2:7].sum() == 0  # refractory for 5 ms although v rises above threshold
    v = v2
    for _ in range(3, 7):
        v = ALPHA * v + 0.4
    assert v > 0.6  # would have fired without the refractory period
    v7 = ALPHA * v + 0.4
    np.testing.assert_allclose(run["voltages"][0, 7, 0], v7)
    assert spikes[7] == 1  # first step after the refractory period
    # pseudo-derivative: 0.3 / 0.6 * max(0, 1 - |v - 0.6| / 0.6), zero while refractory
    np.testing.assert_allclose(run["pseudo_derivatives"][0, 0, 0], 0.5 * (1 - 0.2 / 0.6))
    np.testing.assert_allclose(run["pseudo_derivatives"][0, 2:7, 0], 0.0)
    # readout: y(t) = exp(-1/20) y(t-1) + z(t)
    np.testing.assert_allclose(run["outputs"][0, :3, 0], [0.0, 1.0, ALPHA])
    # trace of the (constant) input: pbar(t) = alpha pbar(t-1) + 1
    np.testing.assert_allclose(run["traces"][0, :3, 0], [1.0, 1 + ALPHA, 1 + ALPHA + ALPHA**2])


def test_recurrent_spike_arrives_one_step_later():
    # neuron 0 driven to fire at step 1 excites neuron 1 at step 2 through W_rec
    net = LIFNetwork([[0.4, 0.0]], [[0.0, 0.7], [0.0, 0.0]], np.eye(2))
    run = net.run(np.ones((1, 4, 1)))
    assert run["spikes"][0, :, 0].tolist()[:2] == [0.0, 1.0]
    assert run["spikes"][0, :, 1].tolist() == [0.0, 0.0, 1.0, 0.0]
    np.testing.assert_allclose(run["voltages"][0, 2, 1], 0.7)


def test_adaptive_threshold_by_hand():
    net = LIFNetwork([[0.7]], [[0.0]], [[1.0]], adaptive=[True], adaptation_strength=1.6, tau_adaptation=0.6,
                     refractory=0.0)
    run = net.run(np.ones((1, 3, 1)))
    rho = np.exp(-1 / 600)
    assert run["spikes"][0, 0, 0] == 1  # 0.7 >= 0.6
    v1 = ALPHA * 0.7 + 0.7 - 0.6
    a1 = (1 - rho) * 1.0
    threshold1 = 0.6 + 1.6 * a1
    np.testing.assert_allclose(run["voltages"][0, 1, 0], v1)
    expected_psi = 0.5 * max(0.0, 1 - abs(v1 - threshold1) / 0.6)
    np.testing.assert_allclose(run["pseudo_derivatives"][0, 1, 0], expected_psi)


def test_batch_matches_single_runs_and_per_sequence_weights():
    rng = np.random.default_rng(1)
    net = LIFNetwork(rng.normal(0, 0.3, (5, 6)), rng.normal(0, 0.1, (6, 6)), rng.normal(size=(6, 2)))
    x = np.repeat(clock_input(50)[None], 3, axis=0)
    batch = net.run(x)
    np.testing.assert_array_equal(batch["spikes"][1:2], net.run(x[1:2])["spikes"])
    same = net.run(x, weights=np.repeat(net.weights[None], 3, axis=0))
    np.testing.assert_allclose(same["outputs"], batch["outputs"])


def test_eprop_update_is_the_sum_of_eligibility_traces():
    rng = np.random.default_rng(2)
    net = LIFNetwork(rng.normal(0, 0.3, (5, 4)), rng.normal(0, 0.1, (4, 4)), rng.normal(size=(4, 2)))
    run = net.run(clock_input(30)[None])
    L = rng.normal(size=(1, 30, 4))
    update = eprop_update(run, L, 1e-2)
    i, j = 6, 2
    expected = -1e-2 * sum(L[0, t, j] * run["pseudo_derivatives"][0, t, j] * run["traces"][0, t, i] for t in range(30))
    np.testing.assert_allclose(update[0, i, j], expected)
    with pytest.raises(ValueError, match="learning_signals"):
        eprop_update(run, L[:, :5], 1e-2)


def test_quantize_update_multiples_and_unbiased():
    q = quantize_update(np.full(20000, 0.3 / 16), 1.0, random_state=0)
    assert set(np.unique(q * 16)) == {0.0, 1.0}
    # stochastic rounding is unbiased: mean 0.3 steps, sampling error sqrt(0.21 / 20000) steps
    assert abs(q.mean() * 16 - 0.3) < 4 * np.sqrt(0.21 / 20000)
    np.testing.assert_array_equal(quantize_update(np.full(5, 0.01), 1.0, random_state=3),
                                  quantize_update(np.full(5, 0.01), 1.0, random_state=3))


def test_quantized_write_touches_only_changed_devices():
    rng = np.random.default_rng(3)
    W = rng.uniform(-0.5, 0.5, (8, 6))
    calibration = (rng.random((64, 8)) < 0.3).astype(float)
    chip = ChipWeights(W, "hermes", weight_range=1.0, calibration_inputs=calibration, random_state=0)
    update = np.zeros_like(W)
    update[[0, 3, 5], [1, 2, 4]] = [2 / 16, -1 / 16, 3 / 16]  # exact multiples: rounding keeps them
    n = chip.write_update(update, at=100.0, random_state=0)
    assert n == 3 * 4  # 2 devices per polarity, 2 polarities per weight (HERMES mapping)
    written = chip.chip.programming_times() == 100.0
    np.testing.assert_array_equal(written, update != 0)
    assert chip.chip.write_counts().max() == 2
    np.testing.assert_allclose(chip.chip.target_weights, W + update)
    assert chip.write_update(np.full_like(W, 1e-9), at=200.0, random_state=0) <= 4  # almost all round to 0
    assert chip.write_update(np.zeros_like(W), at=300.0) == 0


def test_ideal_chip_is_exact_float():
    rng = np.random.default_rng(4)
    net = LIFNetwork(rng.normal(0, 0.3, (5, 6)), rng.normal(0, 0.1, (6, 6)), rng.normal(size=(6, 2)))
    x = clock_input(40)[None]
    chip = ChipWeights(net.weights, "ideal")
    np.testing.assert_allclose(net.run(x, product=chip.product)["outputs"], net.run(x)["outputs"], atol=1e-12)


def test_bad_parameters():
    with pytest.raises(ValueError, match="threshold"):
        LIFNetwork([[1.0]], [[0.0]], [[1.0]], threshold=0)
    with pytest.raises(ValueError, match="recurrent_weights"):
        LIFNetwork([[1.0]], [[0.0, 1.0]], [[1.0]])
    with pytest.raises(ValueError, match="inputs"):
        LIFNetwork([[1.0]], [[0.0]], [[1.0]]).run(np.ones((2, 3)))
    with pytest.raises(ValueError, match="weight_range"):
        ChipWeights(np.eye(2) * 2, "ideal", weight_range=1.0)
