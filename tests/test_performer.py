"""Tests of the PyTorch Performer (sklearn_aimc.torch.performer) and its numpy inference
(sklearn_aimc.performer), on tiny models: seconds."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_aimc.listops import VOCABULARY, make_listops
from sklearn_aimc.performer import AnalogPerformer, load_weights, save_weights

torch = pytest.importorskip("torch")

from sklearn_aimc.torch.performer import (  # noqa: E402
    PAPER_HARDWARE_NOISE,
    PerformerClassifier,
    export_weights,
    favor_features,
    noisy_projection,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_listops(48, max_depth=3, max_args=4, min_length=5, max_length=30, random_state=0)
    return X.astype(np.int64), y


def _model(n_projections=16, max_length=30, **params):
    torch.set_num_threads(1)
    return PerformerClassifier(len(VOCABULARY), max_length, 10, dim=16, n_heads=2, ffn_dim=32,
                               n_projections=n_projections, **params)


def _torch_logits(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


def test_import_sklearn_aimc_does_not_import_torch():
    code = "import sys, sklearn_aimc, sklearn_aimc.performer, sklearn_aimc.listops; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_favor_features_are_the_formula():
    # phi(x) = exp([W x, -W x] - ||x||^2 / 2), divided by the stabiliser
    # (row max for queries, the max over a sequence's kept keys for keys).
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4)) * 0.7
    W = rng.standard_normal((4, 6))
    mask = np.ones((2, 5), dtype=bool)
    mask[1, 3:] = False
    exponents = np.concatenate([x @ W, -x @ W], axis=-1) - 0.5 * np.sum(x**2, axis=-1, keepdims=True)
    queries = favor_features(torch.from_numpy(x), torch.from_numpy(W), True).numpy()
    assert_allclose(queries, np.exp(exponents - exponents.max(axis=-1, keepdims=True)), rtol=1e-12)
    keys = favor_features(torch.from_numpy(x), torch.from_numpy(W), False, torch.from_numpy(mask)).numpy()
    kept = np.where(mask[:, None, :, None], exponents, -np.inf)
    expected = np.exp(kept - kept.max(axis=(-2, -1), keepdims=True))
    assert_allclose(keys, expected, rtol=1e-12)


@pytest.mark.parametrize("n_projections", [16, 0])
def test_numpy_inference_equals_torch(data, n_projections):
    X, _ = data
    model = _model(n_projections)
    performer = AnalogPerformer(export_weights(model), device="ideal", random_state=1).program(X[:20])
    if n_projections:
        # The numpy model drew its own projections; give them to the torch model.
        with torch.no_grad():
            for layer, attention in zip(model.layers, performer.attentions_):
                W = attention.feature_map_.random_weights_
                layer.attention.projection.copy_(torch.from_numpy(W.astype(np.float32)))
    logits = performer.decision_function(X, batch_size=16)
    assert logits.dtype == np.float32 and logits.shape == (48, 10)
    assert_allclose(logits, _torch_logits(model, X), rtol=1e-4, atol=1e-5)


def test_padding_does_not_change_a_sequence(data):
    X, _ = data
    model = _model()
    padded = np.zeros((1, 30), dtype=np.int64)
    length = int((X[0] != 0).sum())
    padded[0, :length] = X[0, :length]
    assert_allclose(_torch_logits(model, padded), _torch_logits(model, X[:1, :length]), rtol=1e-5, atol=1e-6)
    performer = AnalogPerformer(export_weights(model), device="ideal", random_state=0).program(X)
    assert_allclose(performer.decision_function(padded), performer.decision_function(X[:1, :length]),
                    rtol=1e-5, atol=1e-6)


def test_training_reduces_the_loss(data):
    X, y = data
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    losses = []
    for step in range(30):
        loss = torch.nn.functional.cross_entropy(model(Xt), yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 10 == 9:
            model.redraw_projections()
    # 30 full-batch steps on 48 samples: the training loss falls well below
    # its start (log 10 = 2.30; observed 2.32 -> 1.67).
    assert losses[-1] < losses[0] - 0.3


def test_projections_are_seeded_and_redrawn():
    a, b = _model(random_state=3), _model(random_state=3)
    W = a.layers[0].attention.projection.clone()
    assert torch.equal(W, b.layers[0].attention.projection)
    assert not torch.equal(W, a.layers[1].attention.projection)  # one per layer
    a.redraw_projections()
    assert not torch.equal(W, a.layers[0].attention.projection)
    # Rows ~ N(0, 1) entries: orthogonal blocks of chi-scaled rows (ORF).
    assert W.shape == (8, 16)
    for param_a, param_b in zip(a.parameters(), b.parameters()):
        assert torch.equal(param_a, param_b)


def test_hermes_inference_runs_close_to_float(data):
    X, _ = data
    weights = export_weights(_model())
    in_float = AnalogPerformer(weights, device="ideal", random_state=0).program(X)
    float_logits = in_float.decision_function(X)
    hermes = AnalogPerformer(weights, device="hermes", random_state=0).program(X)
    for a, b in zip(in_float.attentions_, hermes.attentions_):  # one seed, one projection per layer
        assert_array_equal(a.feature_map_.random_weights_, b.feature_map_.random_weights_)
    assert not np.array_equal(hermes.attentions_[0].feature_map_.random_weights_,
                              hermes.attentions_[1].feature_map_.random_weights_)
    hermes_logits = hermes.decision_function(X)
    assert_array_equal(hermes_logits, hermes.decision_function(X))  # same reads, same output
    assert not np.allclose(hermes_logits, float_logits)
    # An untrained tiny model: the logits move by a few percent of their spread (observed 2.1 - 2.8 %,
    # model and chip seeds 0 - 3).
    assert np.linalg.norm(hermes_logits - float_logits) < 0.2 * np.linalg.norm(float_logits - float_logits.mean(0))
    everything = AnalogPerformer(weights, device="hermes", linear_device="hermes", random_state=0).program(X)
    assert len(everything.linears_) == 2 * 6 + 1
    assert everything.predict(X).shape == (48,)


def test_bad_tokens_and_unprogrammed(data):
    X, _ = data
    performer = AnalogPerformer(export_weights(_model()), device="ideal")
    with pytest.raises(ValueError, match="not programmed"):
        performer.predict(X)
    performer.program(X)
    with pytest.raises(ValueError, match="2D integer array"):
        performer.predict(X.astype(float))
    with pytest.raises(ValueError, match="ids in"):
        performer.predict(X + 100)
    with pytest.raises(ValueError, match="at least one token"):
        performer.predict(np.zeros((2, 5), dtype=np.int64))


def test_weights_round_trip(tmp_path, data):
    X, _ = data
    weights = export_weights(_model())
    save_weights(tmp_path / "w.npz", weights)
    loaded = load_weights(tmp_path / "w.npz")
    assert loaded["config"] == weights["config"]
    assert_array_equal(loaded["layers"][1]["ffn2"][0], weights["layers"][1]["ffn2"][0])
    assert_array_equal(loaded["layers"][0]["projection"], weights["layers"][0]["projection"])
    a = AnalogPerformer(weights, device="ideal", random_state=0).program(X)
    b = AnalogPerformer(loaded, device="ideal", random_state=0).program(X)
    assert_array_equal(a.decision_function(X), b.decision_function(X))


def test_noisy_projection_statistics():
    # Output noise 0.1 full-scale input x max|W|, fresh for every output: with
    # x = e_1 (full scale 1, no quantisation error) the rows of one call
    # spread by 0.1 max|W_j|.  Weight noise 0.12 max|W_j|, fresh for every
    # call (one noisy chip per forward pass): without output noise, calls
    # spread by 0.12 max|W_j|.  Standard error of a std estimate from n
    # samples: std / sqrt(2 n); tolerances of 4 of them.
    torch.manual_seed(0)
    W = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.1, -0.4]], dtype=torch.float64)
    w_max = np.array([1.0, 2.0, 0.5])
    x = torch.zeros((20000, 2), dtype=torch.float64)
    x[:, 0] = 1.0
    projected = noisy_projection(x, W, PAPER_HARDWARE_NOISE)
    assert_allclose(projected.std(dim=0).numpy(), 0.1 * w_max, rtol=4 / np.sqrt(2 * 20000))
    calls = torch.cat([noisy_projection(x[:1], W, {"weight": 0.12, "output": 0.0, "input_bits": None})
                       for _ in range(2000)])
    assert_allclose(calls.std(dim=0).numpy(), 0.12 * w_max, rtol=4 / np.sqrt(2 * 2000))
    assert_allclose(calls.mean(dim=0).numpy(), W[0].numpy(), atol=4 * 0.12 * 2 / np.sqrt(2000))
    # 8-bit inputs: 127 levels over the largest magnitude.
    x = torch.linspace(-1, 1, 1001, dtype=torch.float64)[:, None]
    quantised = noisy_projection(x, torch.ones((1, 1), dtype=torch.float64), {"weight": 0.0, "output": 0.0,
                                                                             "input_bits": 8})
    assert torch.allclose(quantised, torch.round(x * 127) / 127)


def test_hardware_noise_only_in_training(data):
    X, _ = data
    model = PerformerClassifier.from_weights(export_weights(_model())).set_hardware_noise()
    model.eval()
    assert_array_equal(_torch_logits(model, X), _torch_logits(model, X))
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(torch.from_numpy(X)), model(torch.from_numpy(X)))
    model.set_hardware_noise(None)
    with torch.no_grad():
        assert torch.equal(model(torch.from_numpy(X)), model(torch.from_numpy(X)))


def test_hardware_noise_is_seeded(data):
    # Hardware-aware training draws its noise from its own generator, not
    # torch's global one: the same seed gives the same noisy forward pass.
    X, _ = data
    weights = export_weights(_model())

    def noisy_logits(seed, global_seed):
        model = PerformerClassifier.from_weights(weights).set_hardware_noise(random_state=seed)
        model.train()
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(global_seed)
            return model(torch.from_numpy(X))

    assert torch.equal(noisy_logits(3, 0), noisy_logits(3, 1))
    assert not torch.equal(noisy_logits(3, 0), noisy_logits(4, 0))


def test_from_weights_reproduces_the_model(data):
    X, _ = data
    model = _model()
    model.eval()
    assert_array_equal(_torch_logits(PerformerClassifier.from_weights(export_weights(model)).eval(), X),
                       _torch_logits(model, X))
