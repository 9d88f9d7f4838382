"""The torch twin of the LIF network: the same dynamics as numpy, e-prop against autograd, meta-training."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn_aimc.spiking import LIFNetwork, clock_input, eprop_update  # noqa: E402
from sklearn_aimc.torch.spiking import MetaLearner, export_weights, meta_train, simulate  # noqa: E402


def _tiny(seed=0, n_in=3, n=5):
    rng = np.random.default_rng(seed)
    W = np.vstack([rng.normal(0, 0.5, (n_in, n)), rng.normal(0, 0.3, (n, n))])
    return W, rng.normal(size=(n, 2)), (rng.random((2, 40, n_in)) < 0.4).astype(float)


def test_torch_forward_matches_numpy():
    W, W_out, x = _tiny()
    net = LIFNetwork(W[:3], W[3:], W_out, adaptive=[True, False, True, False, False])
    reference = net.run(x)
    run = simulate(torch.tensor(x), torch.tensor(W), torch.tensor(W_out),
                   adaptive=torch.tensor(net.adaptive), rho=net.rho)
    for key in ["spikes", "pseudo_derivatives", "traces", "outputs"]:
        np.testing.assert_allclose(run[key].detach().numpy(), reference[key], atol=1e-10, err_msg=key)
    assert reference["spikes"].sum() > 5  # the comparison covers spikes and resets


def test_eprop_update_equals_autograd_of_the_local_objective():
    # e-prop's update is the gradient of sum_t L(t) z(t) when gradients do not flow through the recurrent
    # spikes and the reset: sum_t L_j psi_j(t) pbar_i(t) with pbar the low-pass filtered presynaptic trace
    W, W_out, x = _tiny(1)
    rng = np.random.default_rng(5)
    L = rng.normal(size=(2, 40, 5))
    weights = torch.tensor(W, requires_grad=True)
    run = simulate(torch.tensor(x), weights, torch.tensor(W_out), detach_recurrence=True)
    (run["spikes"] * torch.tensor(L)).sum().backward()
    numpy_run = LIFNetwork(W[:3], W[3:], W_out).run(x)
    update = eprop_update(numpy_run, L, learning_rate=1.0).sum(axis=0)
    np.testing.assert_allclose(-update, weights.grad.numpy(), atol=1e-10)
    assert np.abs(update).max() > 1e-3


def test_meta_training_lowers_the_post_update_loss_and_exports():
    from sklearn_aimc.robot_arm import random_trajectories

    held_out = random_trajectories(16, 60, random_state=99)
    initial = MetaLearner(12, 16, random_state=0)(held_out)[1].mean().item()
    model, history = meta_train(12, 16, n_iterations=30, batch_size=8, n_steps=60, lr=1e-2, random_state=0)
    assert len(history) == 30
    assert model(held_out)[1].mean().item() < 0.8 * initial
    weights = export_weights(model)
    assert weights["controller_weights"].shape == (5 + 12, 12)
    assert weights["generator_output"].shape == (16, 12)
    assert weights["generator_adaptive"].sum() == round(0.3 * 16)


def test_model_update_is_eprop_of_the_generator_signals():
    model = MetaLearner(6, 8, random_state=1)
    targets = np.random.default_rng(0).normal(size=(2, 30, 2))
    _, _, update = model(targets)
    w = export_weights(model)
    clock = clock_input(30)[None]
    controller = LIFNetwork(w["controller_weights"][:5], w["controller_weights"][5:], w["controller_output"])
    generator = LIFNetwork(w["generator_weights"][:37], w["generator_weights"][37:], w["generator_output"],
                           threshold=1.3, adaptive=w["generator_adaptive"])
    signals = generator.run(model.generator_inputs(targets).numpy())["outputs"]
    run = controller.run(np.repeat(clock, 2, axis=0))
    np.testing.assert_allclose(update.detach().numpy(), eprop_update(run, signals, model.learning_rate), atol=1e-12)
