"""Multi-layer perceptrons trained in float and run layer by layer on a PCM crossbar.

:class:`AnalogMLPClassifier` and :class:`AnalogMLPRegressor` train exactly
like :class:`~sklearn.neural_network.MLPClassifier` and
:class:`~sklearn.neural_network.MLPRegressor` (they are those estimators, with
the same parameters and solvers), then program every layer onto its own
crossbar: the weights on the devices, the bias (``offset``) and the hidden
layers' ReLU in the crossbar's post-processing unit (the fixed-point
near-memory unit of Ferro et al., ISCAS 2024, or the FP16 unit it replaces),
and the activations between layers quantised by the next crossbar's DAC.
Only the output activation (softmax, logistic or identity) runs digitally.
With ``device="ideal"`` they predict exactly like scikit-learn's MLPs.
"""

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network._base import ACTIVATIONS
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._device_param import DeviceParamMixin, check_device_unchanged
from .cost import Work
from .crossbar import AnalogCrossbar, check_device

__all__ = ["AnalogMLPClassifier", "AnalogMLPRegressor"]

# Hidden activations the near-memory unit applies (a ReLU, or nothing).
CHIP_ACTIVATIONS = ("identity", "relu")


class _AnalogMLPMixin(DeviceParamMixin):
    """Float training by scikit-learn's MLP, chip inference for every layer."""

    def _fit(self, X, y, sample_weight=None, incremental=False):
        if self.activation not in CHIP_ACTIVATIONS:
            raise ValueError(
                f"activation={self.activation!r} cannot run on the chip: the near-memory unit applies only "
                f"{' or '.join(map(repr, CHIP_ACTIVATIONS))} to a layer's output."
            )
        check_device(self.device)
        self._float_forward = True  # the solvers' own scores (early stopping) are float, as in training
        try:
            super()._fit(X, y, sample_weight=sample_weight, incremental=incremental)
        finally:
            self._float_forward = False
        self._program_layers(X, sample_weight)
        return self

    def _program_layers(self, X, sample_weight):
        """Program each layer onto a fresh crossbar, calibrated on its (float) inputs of the training data."""
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        device = check_device(self.device)
        random_state = check_random_state(self.random_state)
        seeds = random_state.randint(np.iinfo(np.int32).max, size=len(self.coefs_))
        hidden = ACTIVATIONS[self.activation]
        crossbars = []
        activation = X.tocsr() if hasattr(X, "tocsr") else X
        for i, (coef, intercept) in enumerate(zip(self.coefs_, self.intercepts_)):
            is_hidden = i < len(self.coefs_) - 1
            chip = device.program(
                coef,
                calibration_inputs=activation,
                random_state=seeds[i],
                calibration_weights=sample_weight,
                offset=intercept,
                relu=is_hidden and self.activation == "relu",
            )
            crossbars.append(chip)
            if is_hidden:
                activation = activation @ coef + intercept
                hidden(activation)
        self.crossbars_ = crossbars

    def _forward_pass_fast(self, X, check_input=True):
        """Output-layer activations: every layer read from its crossbar, the output activation digital."""
        if getattr(self, "_float_forward", False):
            return super()._forward_pass_fast(X, check_input=check_input)
        check_is_fitted(self, "crossbars_")
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        t_inference = check_device_unchanged(self.device, self.crossbars_[0])
        activation = X.tocsr() if hasattr(X, "tocsr") else X
        for chip in self.crossbars_:
            activation = chip.matmul(activation, t_inference=t_inference)
        ACTIVATIONS[self.out_activation_](activation)
        return activation

    def _cost_work(self, n_samples):
        """Work of predicting ``n_samples`` rows, for :func:`sklearn_aimc.estimate_cost`.

        One read of every layer's crossbar (bias and ReLU are in its
        near-memory unit), then the output activation: softmax (an ``exp``,
        a sum and a division per output), logistic (an ``exp``, an addition
        and a division per output), ``exp`` (Poisson loss) or nothing, and for a classifier the
        decision (comparisons).
        """
        check_is_fitted(self, "crossbars_")
        reads = tuple((chip, n_samples) for chip in self.crossbars_)
        n_out = self.crossbars_[-1].n_outputs
        exp = additions = multiplications = 0
        if self.out_activation_ == "softmax":
            exp, additions, multiplications = n_out, 2 * n_out - 1, n_out  # max-shift, sum, normalise
        elif self.out_activation_ == "exp":
            exp = n_out
        elif self.out_activation_ == "logistic":
            exp, additions, multiplications = n_out, n_out, n_out
        if hasattr(self, "classes_"):
            additions += max(1, n_out - 1)
        return Work(
            reads=reads,
            additions=n_samples * additions,
            multiplications=n_samples * multiplications,
            exp=n_samples * exp,
        )


_DEVICE_CONSTRAINT = {"device": [StrOptions({"hermes", "ideal"}), AnalogCrossbar]}

_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Neurons of each hidden layer, as in scikit-learn's MLP; each layer
        becomes one programmed crossbar (tiled over as many cores as it needs).
    activation : {"relu", "identity"}, default="relu"
        Hidden-layer activation.  The near-memory unit applies a ReLU or
        nothing; "logistic" and "tanh" (accepted by scikit-learn) raise a
        ValueError at fit.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        Float training solver, as in scikit-learn.
    alpha : float, default=0.0001
        L2 regularisation strength.
    batch_size : int or "auto", default="auto"
        Minibatch size of the stochastic solvers.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule of ``solver="sgd"``.
    learning_rate_init : float, default=0.001
        Initial learning rate (``"sgd"`` and ``"adam"``).
    power_t : float, default=0.5
        Exponent of inverse scaling learning rate.
    max_iter : int, default=200
        Maximum number of iterations (epochs for the stochastic solvers).
    shuffle : bool, default=True
        Whether to shuffle samples in each iteration.
    random_state : int, RandomState instance or None, default=None
        Seeds the float training (weights initialisation, shuffling, the
        validation split) and then the chips (one seed per layer is drawn
        from a fresh generator of this seed).
    tol : float, default=1e-4
        Optimisation tolerance.
    verbose : bool, default=False
        Print progress messages.
    warm_start : bool, default=False
        Reuse the previous solution as initialisation (the chips are
        programmed afresh after every fit).
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for ``solver="sgd"``.
    early_stopping : bool, default=False
        Stop training when the validation score (computed in float) stops
        improving.
    validation_fraction : float, default=0.1
        Share of the training data set aside for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Moment decay rates of ``solver="adam"``.
    epsilon : float, default=1e-8
        Numerical stability constant of ``solver="adam"``.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations of ``solver="lbfgs"``.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Crossbar configuration every layer is programmed on; its
        ``post_processing`` ("fixed": the fixed-point near-memory unit, or
        "fp16") adds the bias and applies the ReLU, its DAC quantises each
        layer's inputs (8 bits on HERMES).
"""

_ATTRIBUTES_DOC = """
    crossbars_ : list of ProgrammedCrossbar
        One programmed chip per layer, holding ``coefs_[i]`` with
        ``intercepts_[i]`` as its near-memory offset (and the ReLU for hidden
        layers).
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, n_iter_, n_layers_, n_outputs_, out_activation_, t_
        As in scikit-learn's MLP (the float, trained network).
    validation_scores_, best_validation_score_ : list of float, float or None
        Float validation scores (with ``early_stopping=True``).
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.
"""

_REFERENCES_DOC = """
    References
    ----------
    .. [1] M. Le Gallo et al., "A 64-core mixed-signal in-memory compute chip
       based on phase-change memory for deep neural network inference",
       Nature Electronics 6, 680-693 (2023).
    .. [2] E. Ferro et al., "A precision-optimized fixed-point near-memory
       digital processing unit for analog in-memory computing", ISCAS 2024.
"""


class AnalogMLPClassifier(_AnalogMLPMixin, MLPClassifier):
    __doc__ = (
        """Multi-layer perceptron classifier trained in float, every layer run on a PCM crossbar.

    Trains as :class:`~sklearn.neural_network.MLPClassifier`; :meth:`predict`,
    :meth:`predict_proba` and :meth:`score` read each layer from its crossbar
    (bias and ReLU in the near-memory unit, 8-bit inputs) and apply the
    output softmax / logistic digitally.
"""
        + _PARAMETERS_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels.
"""
        + _ATTRIBUTES_DOC
        + """
    See Also
    --------
    sklearn.neural_network.MLPClassifier : the float estimator.
    AnalogMLPRegressor : the regressor.
"""
        + _REFERENCES_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn_aimc import AnalogMLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> params = dict(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    >>> chip = AnalogMLPClassifier(**params).fit(X[:1200], y[:1200])
    >>> exact = MLPClassifier(**params).fit(X[:1200], y[:1200])
    >>> bool(abs(chip.score(X[1200:], y[1200:]) - exact.score(X[1200:], y[1200:])) < 0.05)
    True
    >>> ideal = AnalogMLPClassifier(**params, device="ideal").fit(X[:1200], y[:1200])
    >>> bool((ideal.predict(X[1200:]) == exact.predict(X[1200:])).all())
    True
    """
    )

    _parameter_constraints = {**MLPClassifier._parameter_constraints, **_DEVICE_CONSTRAINT}

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="hermes",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
        )
        self.device = device


class AnalogMLPRegressor(_AnalogMLPMixin, MLPRegressor):
    __doc__ = (
        """Multi-layer perceptron regressor trained in float, every layer run on a PCM crossbar.

    Trains as :class:`~sklearn.neural_network.MLPRegressor`; :meth:`predict`
    and :meth:`score` read each layer from its crossbar (bias and ReLU in the
    near-memory unit, 8-bit inputs); the output layer is linear.
"""
        + """
    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        Training loss, as in scikit-learn; with "poisson" the output
        activation is ``exp`` (digital).
"""
        + _PARAMETERS_DOC.replace("    Parameters\n    ----------\n", "", 1)
        + """
    Attributes
    ----------
"""
        + _ATTRIBUTES_DOC
        + """
    See Also
    --------
    sklearn.neural_network.MLPRegressor : the float estimator.
    AnalogMLPClassifier : the classifier.
"""
        + _REFERENCES_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_aimc import AnalogMLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> params = dict(hidden_layer_sizes=(16,), max_iter=1000, learning_rate_init=0.01, random_state=0)
    >>> chip = AnalogMLPRegressor(**params).fit(X, y)
    >>> ideal = AnalogMLPRegressor(**params, device="ideal").fit(X, y)
    >>> bool(abs(chip.score(X, y) - ideal.score(X, y)) < 0.1)
    True
    """
    )

    _parameter_constraints = {**MLPRegressor._parameter_constraints, **_DEVICE_CONSTRAINT}

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="hermes",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss=loss,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
        )
        self.device = device
