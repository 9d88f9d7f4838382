"""Float versus simulated-chip studies of random-feature kernel methods.

The building block is :func:`evaluate`: one run of the protocol of Büchel et
al. (Nature Machine Intelligence 2024) - random features of a kernel computed
with the projection on a device, a closed-form ridge classifier in float on
top, test accuracy and kernel-approximation error.  :func:`demo` runs the
package's main job, ``python -m sklearn_aimc``, on data bundled with
scikit-learn.
"""

import functools
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .cost import estimate_cost, format_cost
from .crossbar import check_device
from .kernel_approx import AnalogArcCosineFeatures, AnalogRandomFourierFeatures
from .kernels import arccos_kernel, kernel_approximation_error
from .ridge import AnalogRidgeClassifier

__all__ = [
    "BUNDLED_DATASETS",
    "READOUTS",
    "demo",
    "evaluate",
    "fit_readout",
    "format_table",
    "n_projections",
    "readout_accuracy",
]

#: Datasets shipped with scikit-learn that the main job can run on (no network).
BUNDLED_DATASETS = {
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
    "wine": load_wine,
}

#: Kernels of the paper's chip experiments.
KERNELS = ("rbf", "arccos")
#: Ridge readouts of :func:`evaluate`: ``"classifier"`` is scikit-learn's
#: RidgeClassifier (targets -1 / +1, the sign decides); ``"regression"`` is the
#: paper's closed-form ridge regression on the {0, 1} labels with prediction
#: ``round(clip(y_hat, 0, 1))``.
READOUTS = ("classifier", "regression")


def n_projections(n_features, k):
    """Projections of the paper's protocol, ``s = 2**k * d - k``.

    Parameters
    ----------
    n_features : int
        Input features ``d``.
    k : int
        Size index (1 .. 5 in the paper).

    Returns
    -------
    s : int

    Examples
    --------
    >>> from sklearn_aimc.study import n_projections
    >>> n_projections(10, 5)
    315
    """
    return 2**k * n_features - k


def random_features(kernel, n_components, *, gamma, sampling, device, random_state):
    """The transformer of ``kernel`` ("rbf" or "arccos", order 0)."""
    if kernel == "rbf":
        return AnalogRandomFourierFeatures(
            n_components, gamma=gamma, sampling=sampling, device=device, random_state=random_state
        )
    if kernel == "arccos":
        return AnalogArcCosineFeatures(
            n_components, order=0, sampling=sampling, device=device, random_state=random_state
        )
    raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")


def fit_readout(phi, y, *, readout="classifier", alpha=0.5):
    """The ridge readout of a protocol, fitted in float on features ``phi``.

    Parameters
    ----------
    phi : ndarray of shape (n_samples, n_features)
        Training features.
    y : ndarray of shape (n_samples,)
        Labels in {0, 1}.
    readout : {"classifier", "regression"}, default="classifier"
        ``"classifier"``: :class:`~sklearn.linear_model.RidgeClassifier`.
        ``"regression"``: :class:`~sklearn.linear_model.Ridge` with the
        closed-form (Cholesky) solver and an unpenalised intercept on the
        {0, 1} targets, as in the paper; see :func:`readout_accuracy`.
    alpha : float, default=0.5
        Ridge regularisation.

    Returns
    -------
    model : RidgeClassifier or Ridge
        Fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.study import fit_readout, readout_accuracy
    >>> phi = np.array([[0.0], [0.2], [0.8], [1.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> model = fit_readout(phi, y, readout="regression", alpha=0.01)
    >>> readout_accuracy(model, phi, y)
    1.0
    """
    if readout == "classifier":
        return RidgeClassifier(alpha=alpha).fit(phi, y)
    if readout == "regression":
        return Ridge(alpha=alpha, solver="cholesky").fit(phi, y)
    raise ValueError(f"readout must be one of {list(READOUTS)}, got {readout!r}.")


def readout_accuracy(model, phi, y):
    """Accuracy of a readout of :func:`fit_readout` on features ``phi``.

    A :class:`~sklearn.linear_model.Ridge` regression predicts
    ``round(clip(y_hat, 0, 1))`` (the paper's rule); a classifier its class.

    Parameters
    ----------
    model : RidgeClassifier or Ridge
        From :func:`fit_readout`.
    phi : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Labels in {0, 1}.

    Returns
    -------
    accuracy : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aimc.study import fit_readout, readout_accuracy
    >>> phi, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> readout_accuracy(fit_readout(phi, y), phi, y)
    1.0
    """
    if isinstance(model, RidgeClassifier):
        return float(model.score(phi, y))
    predicted = np.round(np.clip(model.predict(phi), 0.0, 1.0))
    return float(np.mean(predicted == np.asarray(y)))


def exact_kernel(kernel, X, gamma):
    """The kernel matrix that the random features of ``kernel`` approximate."""
    return rbf_kernel(X, gamma=gamma) if kernel == "rbf" else arccos_kernel(X, order=0)


def evaluate(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    kernel="rbf",
    gamma=0.05,
    sampling="rff",
    n_components=100,
    device="ideal",
    random_state=0,
    alpha=0.5,
    n_kernel_points=1000,
    readout="classifier",
):
    """One run of the kernel-approximation protocol.

    Random features of ``kernel`` are computed with the projection on
    ``device`` (fitted on the training part, which also calibrates the chip);
    a ridge classifier (``alpha``, intercept) is fitted in float on the
    training features, as in the paper.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : arrays
        A prepared split (e.g. from :func:`sklearn_aimc.datasets.load_benchmark`).
    kernel : {"rbf", "arccos"}, default="rbf"
        RBF with ``gamma``, or the arc-cosine kernel of order 0.
    gamma : float, default=0.05
        RBF parameter (the paper's value).
    sampling : {"rff", "orf", "sorf"}, default="rff"
    n_components : int, default=100
        Number of projections ``s``.
    device : {"hermes", "ideal"} or AnalogCrossbar, default="ideal"
    random_state : int, default=0
        Seeds the projection and the chip.
    alpha : float, default=0.5
        Ridge regularisation (the paper's value).
    n_kernel_points : int, default=1000
        The kernel error is measured on the first ``n_kernel_points`` test rows.
    readout : {"classifier", "regression"}, default="classifier"
        The ridge readout (:func:`fit_readout`): scikit-learn's
        RidgeClassifier, or the paper's ridge regression on {0, 1} targets
        with prediction ``round(clip(y_hat, 0, 1))``.

    Returns
    -------
    result : dict
        ``accuracy``, ``kernel_error``, ``seconds`` and the chip's work
        ``counters`` (a dict).
    """
    start = time.perf_counter()
    features = random_features(
        kernel, n_components, gamma=gamma, sampling=sampling, device=device, random_state=random_state
    )
    phi_train = features.fit_transform(X_train)
    phi_test = features.transform(X_test)
    model = fit_readout(phi_train, y_train, readout=readout, alpha=alpha)
    accuracy = readout_accuracy(model, phi_test, y_test)
    points = phi_test[:n_kernel_points]
    K = exact_kernel(kernel, X_test[:n_kernel_points], gamma)
    kernel_error = kernel_approximation_error(K, points @ points.T)
    return {
        "accuracy": float(accuracy),
        "kernel_error": float(kernel_error),
        "seconds": time.perf_counter() - start,
        "counters": features.crossbar_.counters.as_dict(),
    }


def load_bundled(name, random_state=0, dtype=np.float32):
    """A bundled scikit-learn dataset, split 50 / 50 (stratified) and z-scored on train."""
    if name not in BUNDLED_DATASETS:
        raise ValueError(f"dataset must be one of {sorted(BUNDLED_DATASETS)}, got {name!r}.")
    X, y = BUNDLED_DATASETS[name](return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=0.5, stratify=y, random_state=random_state
    )
    scaler = StandardScaler().fit(X_train)
    return (
        scaler.transform(X_train).astype(dtype),
        scaler.transform(X_test).astype(dtype),
        y_train,
        y_test,
    )


def format_table(header, rows):
    """Plain-text table with right-aligned columns and a dashed rule under the header.

    Parameters
    ----------
    header : sequence
        Column titles.
    rows : sequence of sequence
        Cells, converted with ``str``.

    Returns
    -------
    table : str

    Examples
    --------
    >>> from sklearn_aimc.study import format_table
    >>> print(format_table(["method", "acc"], [["RFF", 95.1]]))
    method   acc
    ------  ----
       RFF  95.1
    """
    cells = [list(map(str, header))] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _mean_std(values, scale=1.0, digits=2):
    values = np.asarray(values) * scale
    return f"{values.mean():.{digits}f} +- {values.std():.{digits}f}"


def _plural(count, noun, plural=None):
    """``1 tile``, ``2 tiles``."""
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def demo(dataset="breast_cancer", *, k=3, n_seeds=5, gamma=0.05, device="hermes", print_fn=None,
         progress=True):
    """The main job: float versus simulated-HERMES random-feature classification.

    For RFF, ORF and SORF with ``s = 2**k d - k`` projections of the RBF
    kernel, trains a ridge classifier (alpha 0.5) on features computed in
    float and on the simulated chip, over ``n_seeds`` seeds, and prints test
    accuracy, kernel-approximation error and the chip's work counters, each
    figure with its unit and what it counts.  At the end, a pipeline with both
    the RFF projection and the ridge readout on the chip is fitted once and
    the cost of its predictions on the test rows is printed
    (:func:`sklearn_aimc.estimate_cost`).

    The runs use one BLAS thread: on matrices of a few hundred rows,
    OpenBLAS's threads cost more than they save (on a 2-core VM the main job
    took 10.5 s with two threads and 1.1 - 2.1 s with one, the ridge solves
    accounting for most of the difference).

    Parameters
    ----------
    dataset : {"breast_cancer", "digits", "wine"}, default="breast_cancer"
    k : int, default=3
    n_seeds : int, default=5
    gamma : float, default=0.05
    device : {"hermes", "ideal"} or AnalogCrossbar, default="hermes"
        The simulated chip compared with float.
    print_fn : callable, default=None
        Receives each block of the printout; None prints to stdout, flushed at
        once (so that a piped output shows the header before the runs).
    progress : bool, default=True
        A progress bar (runs done, ETA) on stderr when it is a terminal.

    Returns
    -------
    results : list of dict
        One per (sampling, seed): float and chip accuracy and kernel error.

    Examples
    --------
    >>> from sklearn_aimc.study import demo
    >>> lines = []
    >>> results = demo("wine", k=1, n_seeds=1, print_fn=lines.append, progress=False)
    >>> [run["sampling"] for run in results]
    ['rff', 'orf', 'sorf']
    >>> lines[-1].startswith("total time")
    True
    """
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    print_fn = functools.partial(print, flush=True) if print_fn is None else print_fn
    start = time.perf_counter()
    chip = check_device(device)
    X_train, X_test, y_train, y_test = load_bundled(dataset)
    s = n_projections(X_train.shape[1], k)
    samplings = ("rff", "orf", "sorf")
    n_kernel_points = min(1000, X_test.shape[0])
    pcm = type(chip.pcm).__name__ if not isinstance(chip.pcm, str) else chip.pcm
    print_fn(
        f"sklearn-aimc: RBF random features (gamma={gamma}, s = 2^{k} d - {k} = {s} projections) + "
        f"ridge classifier (alpha=0.5)\ndataset {dataset}: {X_train.shape[0]} train / "
        f"{X_test.shape[0]} test samples, d = {X_train.shape[1]}; {_plural(n_seeds, 'seed')}; "
        f"chip: {pcm} devices, {chip.tile_size}x{chip.tile_size} tiles, {chip.dac_bits}-bit DAC, "
        f"{chip.adc_bits}-bit ADC, read {chip.t_inference:g} s after programming\n"
        f"{_plural(len(samplings) * n_seeds * 2, 'run')} ({len(samplings)} samplings x "
        f"{_plural(n_seeds, 'seed')} x float and chip)...\n"
    )
    results, rows = [], []
    bar = tqdm(total=len(samplings) * n_seeds * 2, desc="main job", unit="run",
               disable=None if progress else True, leave=False)
    with bar, threadpool_limits(limits=1):
        for sampling in samplings:
            runs = []
            for seed in range(n_seeds):
                split = (X_train, y_train, X_test, y_test)
                common = dict(gamma=gamma, sampling=sampling, n_components=s, random_state=seed,
                              n_kernel_points=n_kernel_points)
                exact = evaluate(*split, device="ideal", **common)
                bar.update()
                analog = evaluate(*split, device=chip, **common)
                bar.update()
                runs.append({"sampling": sampling, "seed": seed, "float": exact, "chip": analog})
            results += runs
            accuracy = {kind: [run[kind]["accuracy"] for run in runs] for kind in ("float", "chip")}
            error = {kind: [run[kind]["kernel_error"] for run in runs] for kind in ("float", "chip")}
            drop = np.subtract(accuracy["float"], accuracy["chip"])
            rows.append(
                [
                    sampling.upper(),
                    _mean_std(accuracy["float"], 100),
                    _mean_std(accuracy["chip"], 100),
                    _mean_std(drop, 100),
                    _mean_std(error["float"], digits=3),
                    _mean_std(error["chip"], digits=3),
                ]
            )
    header = ["method", "float acc (%)", "chip acc (%)", "drop (pp)", "float K error", "chip K error"]
    print_fn(format_table(header, rows))
    print_fn(
        f"\nmean +- std over {_plural(n_seeds, 'seed')}; acc: test accuracy; drop: float minus chip "
        f"accuracy, in percentage points (pp); K error: kernel approximation error "
        f"||K - K_hat||_F / ||K||_F of the features against the exact RBF kernel on the first "
        f"{n_kernel_points} test samples (0 is exact)."
    )
    counters = results[-1]["chip"]["counters"]
    reads = counters["input_vectors"] + counters["calibration_vectors"]
    print_fn(
        "\nwork of one chip run (programming, calibration, transform of train and test):\n"
        f"  {_plural(counters['n_tiles'], 'tile')} of {chip.tile_size}x{chip.tile_size} PCM cells\n"
        f"  {_plural(reads, 'input vector')} read: {counters['input_vectors']} samples "
        f"({X_train.shape[0]} train + {X_test.shape[0]} test) + {counters['calibration_vectors']} "
        "calibration reads (input range, drift compensation)\n"
        f"  {_plural(counters['core_mvms'], 'core MVM')} (input vectors read x tiles)\n"
        f"  {counters['adc_conversions']} ADC conversions of sample outputs, "
        f"{counters['clipped_outputs']} of them saturated\n"
        f"  {counters['clipped_inputs']} of {counters['dac_conversions']} DAC inputs clipped to the "
        "calibrated input range\n"
        f"  estimated {counters['energy_joules'] * 1e6:.1f} uJ and "
        f"{counters['latency_seconds'] * 1e3:.2f} ms of HERMES core time (13.4 nJ and 133 ns per "
        "core MVM, Le Gallo et al. 2023)"
    )
    print_fn("\n" + _cost_of_chip_pipeline(chip, s, gamma, X_train, y_train, X_test, y_test))
    print_fn(f"total time {time.perf_counter() - start:.1f} s")
    return results


def _cost_of_chip_pipeline(chip, n_components, gamma, X_train, y_train, X_test, y_test):
    """Fit RFF + ridge readout, both on ``chip``, and describe the cost of predicting ``X_test``."""
    pipeline = make_pipeline(
        AnalogRandomFourierFeatures(n_components, gamma=gamma, device=chip, random_state=0),
        AnalogRidgeClassifier(alpha=0.5, device=chip, random_state=0),
    ).fit(X_train, y_train)
    accuracy = pipeline.score(X_test, y_test)
    features, readout = pipeline[0].crossbar_, pipeline[1].crossbar_
    return (
        f"cost of predicting the {X_test.shape[0]} test rows with RFF (seed 0) and the ridge readout both on "
        f"the chip (test accuracy {accuracy:.2%}; projection {features.n_inputs}x{features.n_outputs} on "
        f"{features.n_tiles} tile(s), readout {readout.n_inputs}x{readout.n_outputs} on {readout.n_tiles}), "
        "against the same work on a digital baseline (8-bit MACs, FP16 scaling, SRAM weight fetches):\n"
        + format_cost(estimate_cost(pipeline, X_test, as_frame=False))
    )
