"""Ridge readouts fitted in float and evaluated on a PCM crossbar.

:class:`AnalogRidge` and :class:`AnalogRidgeClassifier` solve the ridge problem
with scikit-learn's own solvers (or exactly and incrementally with
``partial_fit``), then program the readout weights onto a simulated crossbar
(``device``): ``predict`` and ``decision_function`` read ``X @ coef_.T`` from
the chip and add the intercept digitally.  With ``device="ideal"`` they equal
:class:`~sklearn.linear_model.Ridge` and
:class:`~sklearn.linear_model.RidgeClassifier`.
"""

from numbers import Real

import numpy as np
import scipy.linalg
from scipy import sparse
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MultiOutputMixin,
    RegressorMixin,
    _fit_context,
)
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._device_param import DeviceParamMixin, check_device_unchanged
from .cost import Work
from .crossbar import AnalogCrossbar, check_device

__all__ = ["AnalogRidge", "AnalogRidgeClassifier"]

# Rows kept from partial_fit batches to calibrate the crossbar's ranges.
_CALIBRATION_ROWS = 1024


class _AnalogRidgeBase(DeviceParamMixin, BaseEstimator):
    """Float ridge fit, crossbar readout, exact streaming fit."""

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "solver": [
            StrOptions({"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga"})
        ],
        "device": [StrOptions({"hermes", "ideal"}), AnalogCrossbar],
        "random_state": ["random_state"],
    }

    def _coefficient_matrix(self):
        """``coef_.T``, of shape (n_features, n_targets): the matrix on the crossbar."""
        return np.ascontiguousarray(np.atleast_2d(self.coef_).T)

    def _program_coefficients(self, calibration_inputs, calibration_weights, random_state):
        """Program ``coef_.T`` onto a fresh crossbar."""
        self.crossbar_ = check_device(self.device).program(
            self._coefficient_matrix(),
            calibration_inputs=calibration_inputs,
            calibration_weights=calibration_weights,
            random_state=random_state,
        )
        self.device_writes_ = self.crossbar_.counters.device_writes
        self._pending_write = False

    def _write_pending_coefficients(self, t_inference):
        """Write the coefficients of the latest ``partial_fit`` batches, at chip time ``t_inference``.

        Only the devices of changed coefficients are rewritten, and the
        converters are recalibrated on the calibration rows; an exact (ideal)
        chip, which holds no devices, is programmed afresh.
        """
        if not getattr(self, "_pending_write", False):
            return
        chip = self.crossbar_
        if chip.crossbar.is_exact:
            self._program_coefficients(self._calibration_rows, self._calibration_weights, None)
            self.device_writes_ = 0
            return
        self.device_writes_ = chip.reprogram(
            self._coefficient_matrix(),
            at=t_inference,
            calibration_inputs=self._calibration_rows,
            calibration_weights=self._calibration_weights,
        )
        self._pending_write = False

    def _readout(self, X):
        """``X @ coef_.T + intercept_`` read from the crossbar, shape (n_samples, n_targets)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        t_inference = check_device_unchanged(self.device, self.crossbar_)
        self._write_pending_coefficients(t_inference)
        scores = self.crossbar_.matmul(X, t_inference=t_inference)
        scores += np.asarray(self.intercept_, dtype=scores.dtype)
        return scores

    def _cost_work(self, n_samples):
        """Work of predicting ``n_samples`` rows, for :func:`sklearn_aimc.estimate_cost`.

        The crossbar read, the intercepts added digitally and, for a
        classifier, the decision (a threshold or an argmax: comparisons).
        """
        check_is_fitted(self)
        additions = self.crossbar_.n_outputs if self.fit_intercept else 0
        if hasattr(self, "classes_"):
            additions += max(1, len(self.classes_) - 1)
        return Work(reads=((self.crossbar_, n_samples),), additions=n_samples * additions)

    # Exact streaming fit -------------------------------------------------------
    def _accumulate(self, X, Y, sample_weight):
        """Add a batch to the sufficient statistics of the ridge problem."""
        if sparse.issparse(X):
            weighted_X = X.multiply(sample_weight[:, None]).tocsr()
        else:
            weighted_X = X * sample_weight[:, None]
        batch = {
            "weight": sample_weight.sum(),
            "x": np.asarray(weighted_X.sum(axis=0)).ravel(),
            "y": sample_weight @ Y,
            "xx": safe_sparse_dot(X.T, weighted_X, dense_output=True),
            "xy": safe_sparse_dot(weighted_X.T, Y, dense_output=True),
        }
        if not hasattr(self, "_statistics"):
            self._statistics = {name: np.zeros_like(value, dtype=np.float64) for name, value in batch.items()}
            self._calibration_rows, self._calibration_weights = X[:0], sample_weight[:0]
        for name, value in batch.items():
            self._statistics[name] += value
        room = _CALIBRATION_ROWS - self._calibration_rows.shape[0]
        if room > 0:
            stack = sparse.vstack if sparse.issparse(X) else np.vstack
            self._calibration_rows = stack([self._calibration_rows, X[:room]])
            self._calibration_weights = np.concatenate([self._calibration_weights, sample_weight[:room]])

    def _solve_statistics(self):
        """Ridge solution from the accumulated statistics: coef (n_targets, n_features), intercept."""
        stats = self._statistics
        if self.fit_intercept:
            mean_x = stats["x"] / stats["weight"]
            mean_y = stats["y"] / stats["weight"]
            gram = stats["xx"] - stats["weight"] * np.outer(mean_x, mean_x)
            cross = stats["xy"] - stats["weight"] * np.outer(mean_x, mean_y)
        else:
            gram, cross = stats["xx"].copy(), stats["xy"]
        gram.flat[:: gram.shape[0] + 1] += self.alpha
        try:
            coef = scipy.linalg.solve(gram, cross, assume_a="pos", overwrite_a=True)
        except scipy.linalg.LinAlgError:
            coef = scipy.linalg.lstsq(gram, cross)[0]
        intercept = mean_y - mean_x @ coef if self.fit_intercept else np.zeros(coef.shape[1])
        return coef.T, intercept

    def _forget_batches(self):
        for name in ("_statistics", "_calibration_rows", "_calibration_weights", "_label_binarizer", "_y_ndim"):
            self.__dict__.pop(name, None)

    def _partial_fit(self, X, Y, sample_weight):
        random_state = check_random_state(self.random_state)
        self._accumulate(X, Y, sample_weight)
        coef, intercept = self._solve_statistics()
        # The shapes scikit-learn's Ridge / RidgeClassifier give after fit.
        coef = coef.astype(X.dtype, copy=False)
        self.coef_ = coef[0] if coef.shape[0] == 1 else coef
        self.intercept_ = intercept.astype(X.dtype, copy=False) if self.fit_intercept else 0.0
        if hasattr(self, "crossbar_") and self.crossbar_.n_inputs == X.shape[1] and (
            self.crossbar_.n_outputs == np.atleast_2d(coef).shape[0]
        ):
            self._pending_write = True  # written at the next prediction, see _write_pending_coefficients
        else:
            self._program_coefficients(self._calibration_rows, self._calibration_weights, random_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class AnalogRidge(MultiOutputMixin, RegressorMixin, _AnalogRidgeBase):
    """Ridge regression whose predictions are read from a PCM crossbar.

    The coefficients are fitted in float by :class:`~sklearn.linear_model.Ridge`
    (or exactly and incrementally by :meth:`partial_fit`) and programmed onto
    ``device``; :meth:`predict` computes ``X @ coef_.T`` on the chip and adds
    ``intercept_`` digitally.

    Parameters
    ----------
    alpha : float, default=1.0
        L2 regularisation strength.
    fit_intercept : bool, default=True
        Whether to fit an intercept (added digitally, not on the crossbar).
    solver : {"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga"}, default="auto"
        Solver of :class:`~sklearn.linear_model.Ridge` used by :meth:`fit`.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Crossbar that holds the readout weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the simulated chip (and the ``"sag"`` / ``"saga"`` solvers).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Fitted (float) weights, as programmed.
    intercept_ : float or ndarray of shape (n_targets,)
        Fitted intercept (0.0 when ``fit_intercept=False``).
    crossbar_ : ProgrammedCrossbar
        The chip holding ``coef_.T`` (after :meth:`partial_fit`, the new
        coefficients are written at the next prediction).
    device_writes_ : int
        Physical PCM devices written by the latest programming or
        reprogramming of the chip.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.linear_model.Ridge : the float estimator.
    AnalogRidgeClassifier : the classifier variant.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn_aimc import AnalogRidge
    >>> X, y = load_diabetes(return_X_y=True)
    >>> analog = AnalogRidge(alpha=0.1, random_state=0).fit(X, y)
    >>> exact = Ridge(alpha=0.1).fit(X, y)
    >>> bool(abs(analog.score(X, y) - exact.score(X, y)) < 0.05)
    True
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, solver="auto", device="hermes", random_state=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.device = device
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the ridge coefficients in float and program them onto the crossbar.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; also calibrates the crossbar's ranges.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Individual weights for each sample.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], multi_output=True, y_numeric=True
        )
        random_state = check_random_state(self.random_state)
        ridge = Ridge(
            alpha=self.alpha, fit_intercept=self.fit_intercept, solver=self.solver, random_state=random_state
        ).fit(X, y, sample_weight=sample_weight)
        self.coef_, self.intercept_ = ridge.coef_, ridge.intercept_
        self._program_coefficients(X, sample_weight, random_state)
        self._forget_batches()
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Add a batch to an exact streaming ridge fit.

        Accumulates ``X^T X``, ``X^T y`` and the (weighted) means, so that after
        any sequence of batches ``coef_`` equals the batch ridge solution on all
        of them (to floating-point rounding): data that does not fit in memory
        can be streamed, e.g. by dask-ml's ``Incremental``.  The first call
        programs the crossbar; later calls leave the new coefficients pending,
        and the next prediction writes the devices of the coefficients that
        changed, at its read time (:meth:`ProgrammedCrossbar.reprogram
        <sklearn_aimc.crossbar.ProgrammedCrossbar.reprogram>`), recalibrating
        the converters on the first 1024 rows seen; ``device_writes_`` then
        counts the devices written.  A call to :meth:`fit` discards the
        accumulated batches.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        first_call = not hasattr(self, "_statistics")
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=True,
            reset=first_call,
        )
        if not first_call and np.ndim(y) != self._y_ndim:
            raise ValueError(f"y has {np.ndim(y)} dimensions; earlier batches had {self._y_ndim}.")
        self._y_ndim = np.ndim(y)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
        self._partial_fit(X, Y, sample_weight)
        if self._y_ndim == 1 and self.fit_intercept:
            self.intercept_ = self.intercept_[0]
        return self

    def predict(self, X):
        """Predict with the readout weights read from the crossbar.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        scores = self._readout(X)
        return scores.ravel() if np.ndim(self.coef_) == 1 else scores


class AnalogRidgeClassifier(ClassifierMixin, _AnalogRidgeBase):
    """Ridge classifier whose decision function is read from a PCM crossbar.

    Like :class:`~sklearn.linear_model.RidgeClassifier`, targets are encoded
    in {-1, 1} and the classifier solves a ridge regression (one target per
    class, one in total for binary problems); :meth:`decision_function`
    computes ``X @ coef_.T`` on ``device`` and adds ``intercept_`` digitally.

    Parameters
    ----------
    alpha : float, default=1.0
        L2 regularisation strength.
    fit_intercept : bool, default=True
        Whether to fit an intercept (added digitally, not on the crossbar).
    class_weight : dict or "balanced", default=None
        Weights of the classes, as in
        :class:`~sklearn.linear_model.RidgeClassifier`.
    solver : {"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga"}, default="auto"
        Solver of :class:`~sklearn.linear_model.RidgeClassifier` used by :meth:`fit`.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        Crossbar that holds the readout weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the simulated chip (and the ``"sag"`` / ``"saga"`` solvers).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
        Fitted (float) weights, as programmed; 1-D for binary problems, as in
        :class:`~sklearn.linear_model.RidgeClassifier`.
    intercept_ : float or ndarray of shape (1,) or (n_classes,)
        Fitted intercepts (0.0 when ``fit_intercept=False``).
    crossbar_ : ProgrammedCrossbar
        The chip holding ``coef_.T`` (after :meth:`partial_fit`, the new
        coefficients are written at the next prediction).
    device_writes_ : int
        Physical PCM devices written by the latest programming or
        reprogramming of the chip.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.linear_model.RidgeClassifier : the float estimator.
    AnalogRidge : the regression variant.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_aimc import AnalogRidgeClassifier
    >>> X, y = load_wine(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), AnalogRidgeClassifier(random_state=0)).fit(X, y)
    >>> clf.classes_.tolist()
    [0, 1, 2]
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    _parameter_constraints = {
        **_AnalogRidgeBase._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        class_weight=None,
        solver="auto",
        device="hermes",
        random_state=None,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.device = device
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the ridge classifier in float and program it onto the crossbar.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; also calibrates the crossbar's ranges.
        y : array-like of shape (n_samples,)
            Target labels (any type scikit-learn accepts).
        sample_weight : float or array-like of shape (n_samples,), default=None
            Individual weights for each sample.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32])
        random_state = check_random_state(self.random_state)
        ridge = RidgeClassifier(
            alpha=self.alpha,
            fit_intercept=self.fit_intercept,
            class_weight=self.class_weight,
            solver=self.solver,
            random_state=random_state,
        ).fit(X, y, sample_weight=sample_weight)
        self.classes_ = ridge.classes_
        self.coef_, self.intercept_ = ridge.coef_, ridge.intercept_
        self._program_coefficients(X, sample_weight, random_state)
        self._forget_batches()
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Add a batch to an exact streaming fit.

        The {-1, 1} target encoding of :class:`~sklearn.linear_model.RidgeClassifier`
        is applied per batch and ``X^T X``, ``X^T Y`` are accumulated, so that
        ``coef_`` always equals the batch solution on every batch seen so far
        (to floating-point rounding).  This is the hook for dask-ml's
        ``Incremental``.  As in :meth:`AnalogRidge.partial_fit`, the first call
        programs the crossbar and the next prediction after a later call
        writes only the devices of changed coefficients (``device_writes_``
        counts them); :meth:`fit` discards the accumulated batches.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All classes; required on the first call unless :meth:`fit` ran
            before (its ``classes_`` are then used).
        sample_weight : float or array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        first_call = not hasattr(self, "_statistics")
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], reset=first_call
        )
        check_classification_targets(y)
        if first_call:
            if classes is None and not hasattr(self, "classes_"):
                raise ValueError("classes must be passed on the first call to partial_fit.")
            if self.class_weight == "balanced":
                raise ValueError(
                    "class_weight='balanced' needs the whole data set; pass a dict of class "
                    "weights to use partial_fit."
                )
            classes = self.classes_ if classes is None else classes
            self._label_binarizer = LabelBinarizer(pos_label=1, neg_label=-1).fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {classes} differ from those of the first call, {self.classes_}.")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels {unseen.tolist()} not in classes {self.classes_.tolist()}.")
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if self.class_weight is not None:
            sample_weight = sample_weight * compute_sample_weight(self.class_weight, y)
        Y = self._label_binarizer.transform(y).astype(np.float64)
        self._partial_fit(X, Y, sample_weight)
        return self

    def decision_function(self, X):
        """Confidence scores read from the crossbar.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Binary problems give one score per sample (positive means
            ``classes_[1]``); otherwise columns follow ``classes_``.
        """
        scores = self._readout(X)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        indices = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[indices]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
