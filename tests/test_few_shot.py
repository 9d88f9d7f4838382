"""AnalogFewShotClassifier: adaptation on the chip (numpy) and, with torch, meta-training."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sklearn_aimc import AnalogFewShotClassifier
from sklearn_aimc.few_shot import batch_norm, stochastic_update
from sklearn_aimc.fixedpoint import FixedPointFormat, quantize


def _weights(channels=6, in_channels=1, n_ways=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "convs": [rng.standard_normal((channels, in_channels if i == 0 else channels, 3, 3)) * 0.3
                  for i in range(4)],
        "readout": rng.uniform(-0.3, 0.3, (channels, n_ways)),
    }


def _task(n_ways=3, n_shots=4, size=12, seed=1):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((n_ways, size, size))
    y = np.repeat(np.arange(n_ways), n_shots)
    return prototypes[y] + 0.2 * rng.standard_normal((y.size, size, size)), y


def _classifier(**params):
    params = {"n_ways": 3, "channels": 6, "random_state": 0, **params}
    return AnalogFewShotClassifier(**params).set_meta_weights(_weights(params["channels"]), (1, 12, 12))


def test_stochastic_update_is_on_the_grid_and_unbiased():
    delta = np.full(200_000, 0.3 / 16)
    rounded = stochastic_update(delta, 1 / 16, random_state=0)
    np.testing.assert_array_equal(rounded * 16, np.round(rounded * 16))
    assert set(np.unique(rounded * 16)) == {0.0, 1.0}
    # Binomial mean of 0.3 / 16: standard error sqrt(0.3 * 0.7 / n) / 16 ~ 6.4e-5.
    assert abs(rounded.mean() - delta[0]) < 4 * np.sqrt(0.21 / delta.size) / 16
    negative = stochastic_update(-delta, 1 / 16, random_state=1)
    assert abs(negative.mean() + delta[0]) < 4 * np.sqrt(0.21 / delta.size) / 16


def test_stochastic_update_is_the_packages_quantize():
    delta = np.random.default_rng(0).normal(0, 0.1, 100)
    expected = quantize(delta * 16, FixedPointFormat(16, 0), rounding="stochastic", random_state=3) / 16
    np.testing.assert_array_equal(stochastic_update(delta, 1 / 16, random_state=3), expected)
    np.testing.assert_array_equal(stochastic_update(delta, None), delta)


def test_batch_norm_normalises_each_channel_over_the_batch():
    x = np.random.default_rng(0).normal(3, 2, (5, 4, 3, 3))
    out = batch_norm(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-5)


def test_only_the_devices_of_changed_weights_are_written():
    X, y = _task()
    clf = _classifier(n_inner_steps=1, inner_lr=0.5).fit(X, y)
    changed = clf.coef_ != _weights()["readout"]
    assert 0 < changed.sum() < changed.size
    written = clf.readout_crossbar_.write_counts().astype(int) - 1
    np.testing.assert_array_equal(written, changed.astype(int))
    fresh = clf.readout_crossbar_.crossbar.program(clf.coef_, calibration_inputs=np.ones((2, 6)), random_state=0)
    devices_per_weight = fresh.counters.device_writes // clf.coef_.size
    assert clf.weight_updates_ == changed.sum()
    assert clf.device_writes_ == changed.sum() * devices_per_weight
    np.testing.assert_array_equal((clf.coef_ - _weights()["readout"]) * 16 % 1, 0)


def test_writes_add_up_over_the_steps():
    X, y = _task()
    clf = _classifier(n_inner_steps=4).fit(X, y)
    written = clf.readout_crossbar_.write_counts().astype(int) - 1
    assert written.sum() == clf.weight_updates_ > 0
    assert written.max() <= 4


def test_float_updates_on_an_ideal_chip_are_plain_maml_adaptation():
    pytest.importorskip("torch")
    from sklearn_aimc.torch.few_shot import maml_adapt

    X, y = _task()
    X_query, _ = _task(seed=2)
    clf = _classifier(device="ideal", update_resolution=None, n_inner_steps=4, inner_lr=0.1).fit(X, y)
    readout, logits = maml_adapt(_weights(), X, y, n_inner_steps=4, inner_lr=0.1, X_query=X_query)
    np.testing.assert_allclose(clf.coef_, readout, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(clf.decision_function(X_query), logits, rtol=1e-9, atol=1e-10)
    assert clf.device_writes_ == 0


def test_fit_is_seeded_and_starts_from_the_meta_learned_state():
    X, y = _task()
    first = _classifier().fit(X, y)
    again = _classifier().fit(X, y)
    np.testing.assert_array_equal(first.coef_, again.coef_)
    X2, y2 = _task(seed=5)
    coef = first.coef_.copy()
    first.fit(X2, y2).fit(X, y)
    np.testing.assert_array_equal(first.coef_, coef)
    proba = first.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert first.score(X, y) == np.mean(first.predict(X) == y)


def test_adaptation_learns_the_task_and_labels_are_kept():
    X, y = _task()
    labels = np.array(["cat", "dog", "emu"])[y]
    before = _classifier(n_inner_steps=0, device="ideal").fit(X, labels).score(X, labels)
    after = _classifier(n_inner_steps=20, inner_lr=0.5, device="ideal").fit(X, labels)
    assert set(after.predict(X)) <= {"cat", "dog", "emu"}
    assert after.score(X, labels) > max(before, 0.5)


def test_reading_later_changes_hermes_outputs_only():
    X, y = _task()
    clf = _classifier().fit(X, y)
    now = clf.decision_function(X)
    clf.set_params(device__t_inference=86_400.0)
    later = clf.decision_function(X)
    assert not np.allclose(now, later)
    clf.set_params(device__adc_bits=4)
    with pytest.raises(ValueError, match="device parameters changed"):
        clf.predict(X)


def test_bad_input_is_refused_clearly():
    X, y = _task()
    with pytest.raises(NotFittedError, match="meta_fit"):
        AnalogFewShotClassifier(n_ways=3).fit(X, y)
    with pytest.raises(ValueError, match="2 classes.*3-way"):
        _classifier().fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="shape"):
        _classifier().fit(X[:, :8, :8], y)
    with pytest.raises(ValueError, match="y_support"):
        _classifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="images"):
        _classifier().fit(X.reshape(len(X), -1), y)
    clf = _classifier().fit(X, y)
    with pytest.raises(ValueError, match="meta_fit saw images"):
        clf.predict(X[:, :8, :8])
    with pytest.raises(ValueError, match="update_resolution"):
        _classifier(update_resolution=-1.0).fit(X, y)
    with pytest.raises(NotFittedError):
        AnalogFewShotClassifier().predict(X)


def test_basic_estimator_conventions():
    clf = _classifier()
    assert clone(clf).get_params() == clf.get_params()
    X, y = _task()
    X_copy = X.copy()
    clf.fit(X, y).predict(X)
    np.testing.assert_array_equal(X, X_copy)
    assert repr(AnalogFewShotClassifier()) == "AnalogFewShotClassifier()"


def test_tiny_end_to_end_meta_train_and_adapt():
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    prototypes = rng.random((10, 12, 12)) > 0.6
    labels = np.repeat(np.arange(10), 12)
    X = prototypes[labels] + 0.3 * rng.standard_normal((labels.size, 12, 12))
    train = labels < 6
    clf = AnalogFewShotClassifier(n_ways=3, n_shots=3, n_queries=3, channels=8, meta_iterations=40,
                                  meta_batch_size=4, outer_lr=1e-2, random_state=0)
    clf.meta_fit(X[train], labels[train])
    assert clf.meta_history_[-10:].mean() < clf.meta_history_[:10].mean()
    test_X, test_y = X[~train], labels[~train]
    support = np.concatenate([np.flatnonzero(test_y == c)[:3] for c in (6, 7, 8)])
    query = np.concatenate([np.flatnonzero(test_y == c)[3:] for c in (6, 7, 8)])
    clf.fit(test_X[support], test_y[support])
    assert clf.score(test_X[query], test_y[query]) > 0.45  # chance: 1/3
    assert 0 < clf.device_writes_ <= 4 * clf.coef_.size * 2


def test_meta_fit_without_torch_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch.") or name.endswith("torch.few_shot"):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    import sys

    monkeypatch.delitem(sys.modules, "sklearn_aimc.torch.few_shot", raising=False)
    X, y = _task()
    with pytest.raises(ImportError, match="torch extra"):
        AnalogFewShotClassifier(n_ways=3).meta_fit(X, y)
