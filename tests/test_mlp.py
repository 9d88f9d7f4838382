"""AnalogMLPClassifier / AnalogMLPRegressor: float training, every layer on the chip."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_aimc import AnalogCrossbar, AnalogMLPClassifier, AnalogMLPRegressor, estimate_cost

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:1200], y[:1200], X[1200:], y[1200:]


DIGITS_PARAMS = dict(hidden_layer_sizes=(64, 32), max_iter=300, random_state=0)


@pytest.mark.parametrize(
    "params",
    [
        dict(hidden_layer_sizes=(16,), random_state=0, max_iter=50),
        dict(hidden_layer_sizes=(12, 7), activation="identity", solver="lbfgs", random_state=1, max_iter=80),
        dict(hidden_layer_sizes=(10,), solver="sgd", early_stopping=True, random_state=2, max_iter=30),
    ],
)
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_ideal_classifier_equals_scikit_learn(params, task):
    if task == "multilabel":
        X, y = make_multilabel_classification(n_samples=150, n_features=9, n_classes=3, random_state=0)
    else:
        X, y = make_classification(
            n_samples=150, n_features=9, n_informative=5, n_classes=2 if task == "binary" else 4, random_state=0
        )
    analog = AnalogMLPClassifier(**params, device="ideal").fit(X, y)
    exact = MLPClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(analog.predict(X), exact.predict(X))
    np.testing.assert_allclose(analog.predict_proba(X), exact.predict_proba(X), rtol=0, atol=1e-12)
    assert analog.score(X, y) == exact.score(X, y)
    for mine, theirs in zip(analog.coefs_, exact.coefs_):
        np.testing.assert_array_equal(mine, theirs)  # the same float training


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_ideal_regressor_equals_scikit_learn(loss):
    X, y = make_regression(n_samples=120, n_features=6, n_targets=2, random_state=0)
    if loss == "poisson":
        y = np.exp(y / np.abs(y).max())
    params = dict(loss=loss, hidden_layer_sizes=(9, 5), solver="lbfgs", max_iter=60, random_state=0)
    analog = AnalogMLPRegressor(**params, device="ideal").fit(X, y)
    exact = MLPRegressor(**params).fit(X, y)
    np.testing.assert_allclose(analog.predict(X), exact.predict(X), rtol=1e-12, atol=1e-12)


def test_ideal_float32_and_sparse_equal_scikit_learn(digits):
    from scipy import sparse

    X, y, X_test, _ = digits
    params = dict(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    for X_fit, X_eval in ((X.astype(np.float32), X_test.astype(np.float32)), (sparse.csr_matrix(X), X_test)):
        analog = AnalogMLPClassifier(**params, device="ideal").fit(X_fit, y)
        exact = MLPClassifier(**params).fit(X_fit, y)
        np.testing.assert_array_equal(analog.predict(X_eval), exact.predict(X_eval))
        np.testing.assert_allclose(analog.predict_proba(X_eval), exact.predict_proba(X_eval), atol=1e-6)


def _sampling_tolerance(accuracy, n):
    """Three standard errors of a difference of two accuracies measured on ``n`` test rows."""
    return 3 * np.sqrt(2 * accuracy * (1 - accuracy) / n)


@pytest.mark.parametrize("post_processing", ["fixed", "fp16"])
def test_hermes_accuracy_close_to_float_on_digits(digits, post_processing):
    X, y, X_test, y_test = digits
    exact = MLPClassifier(**DIGITS_PARAMS).fit(X, y)
    analog = AnalogMLPClassifier(**DIGITS_PARAMS, device=AnalogCrossbar(post_processing=post_processing)).fit(X, y)
    float_accuracy = exact.score(X_test, y_test)
    assert abs(analog.score(X_test, y_test) - float_accuracy) < _sampling_tolerance(float_accuracy, len(y_test))
    # Really on a noisy chip: the probabilities differ from the float network's.
    assert not np.allclose(analog.predict_proba(X_test), exact.predict_proba(X_test), atol=1e-3)


def test_fp16_and_fixed_post_processing_differ_and_both_run(digits):
    X, y, X_test, _ = digits
    params = dict(hidden_layer_sizes=(32,), max_iter=50, random_state=0)
    outputs = {
        pp: AnalogMLPClassifier(**params, device=AnalogCrossbar(post_processing=pp)).fit(X, y).predict_proba(X_test)
        for pp in ("fixed", "fp16", "float")
    }
    for value in outputs.values():
        assert np.isfinite(value).all()
        np.testing.assert_allclose(value.sum(axis=1), 1.0)
    assert not np.array_equal(outputs["fixed"], outputs["fp16"])
    assert not np.array_equal(outputs["fixed"], outputs["float"])


def test_every_layer_is_a_programmed_crossbar(digits):
    X, y, X_test, _ = digits
    model = AnalogMLPClassifier(hidden_layer_sizes=(20, 12), max_iter=20, random_state=0).fit(X, y)
    assert [(chip.n_inputs, chip.n_outputs) for chip in model.crossbars_] == [(64, 20), (20, 12), (12, 10)]
    hidden = model.crossbars_[0].matmul(X_test)
    assert hidden.min() == 0.0  # the near-memory unit's ReLU
    logits = model.crossbars_[2].matmul(model.crossbars_[1].matmul(hidden))
    assert logits.min() < 0  # no ReLU on the output layer
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(model.predict_proba(X_test), expected / expected.sum(axis=1, keepdims=True))


def test_same_seed_same_chip(digits):
    X, y, X_test, _ = digits
    model = AnalogMLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=3)
    first = clone(model).fit(X, y).predict_proba(X_test)
    np.testing.assert_array_equal(first, clone(model).fit(X, y).predict_proba(X_test))
    other = clone(model).set_params(random_state=4).fit(X, y).predict_proba(X_test)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
def test_activation_that_cannot_run_on_the_chip_raises(activation):
    X, y = make_classification(n_samples=40, random_state=0)
    with pytest.raises(ValueError, match="activation='" + activation):
        AnalogMLPClassifier(activation=activation, max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        AnalogMLPRegressor(activation=activation, max_iter=5).fit(X, y.astype(float))


def test_bad_input_raises():
    X, y = make_classification(n_samples=40, n_features=6, random_state=0)
    with pytest.raises(ValueError, match="device"):
        AnalogMLPClassifier(device="tpu", max_iter=5).fit(X, y)
    model = AnalogMLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :5])
    with pytest.raises(ValueError):
        model.predict(np.full_like(X, np.nan))
    X_before = X.copy()
    model.predict(X)
    np.testing.assert_array_equal(X, X_before)  # the caller's array is left alone


def test_t_inference_reads_the_same_chip_at_another_time(digits):
    X, y, X_test, y_test = digits
    model = AnalogMLPClassifier(**DIGITS_PARAMS).fit(X, y)
    chips = list(model.crossbars_)
    at_hour = model.predict_proba(X_test)
    model.set_params(device__t_inference=3600.0 * 24 * 365)
    at_year = model.predict_proba(X_test)
    assert model.crossbars_ == chips  # no reprogramming
    assert not np.array_equal(at_hour, at_year)
    # Drift compensation keeps the network usable a year later.
    float_accuracy = MLPClassifier(**DIGITS_PARAMS).fit(X, y).score(X_test, y_test)
    assert model.score(X_test, y_test) > float_accuracy - 0.1
    model.set_params(device__adc_bits=6)
    with pytest.raises(ValueError, match="changed since fit"):
        model.predict(X_test)


def test_cost_counts_every_layer(digits):
    X, y, X_test, _ = digits
    model = AnalogMLPClassifier(hidden_layer_sizes=(300, 20), max_iter=5, random_state=0).fit(X, y)
    work = model._cost_work(len(X_test))
    assert [rows for _, rows in work.reads] == [len(X_test)] * 3
    assert sum(chip.n_tiles for chip, _ in work.reads) == 2 + 2 + 1  # 300 outputs take two 256-wide tiles
    assert work.exp == len(X_test) * 10
    table = estimate_cost(model, X_test, as_frame=False)
    total = table["part"].index("total")
    assert table["chip energy (J)"][total] > 0 and table["digital energy (J)"][total] > 0
    double = estimate_cost(model, np.vstack([X_test, X_test]), as_frame=False)
    assert double["chip energy (J)"][total] == pytest.approx(2 * table["chip energy (J)"][total])


def test_warm_start_and_partial_fit_reprogram_the_chips(digits):
    X, y, X_test, _ = digits
    model = AnalogMLPClassifier(hidden_layer_sizes=(16,), solver="sgd", max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.partial_fit(X[:600], y[:600], classes=np.unique(y))
        first = model.crossbars_
        model.partial_fit(X[600:], y[600:])
    assert model.crossbars_ is not first
    np.testing.assert_array_equal(model.crossbars_[0].target_weights, model.coefs_[0])
    assert model.predict(X_test).shape == (len(X_test),)
